//! Finding and decoding delivered files, and reading delimited tables with a
//! header check. Shared by every file-delivered adapter.

use std::path::{Path, PathBuf};

use hedui_core::model::Text;

use crate::{AuditEvent, Quarantined, SourceContext, SourceError, SourceOutput};

/// Text encoding of a delivered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// UTF-8, with or without a BOM.
    Utf8,
    /// GBK (GB 18030 decoder, which reads all of GBK).
    Gbk,
}

impl std::str::FromStr for TextEncoding {
    type Err = String;
    /// Reads a config value: `utf8`/`utf-8` or `gbk`/`gb18030`, any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(TextEncoding::Utf8),
            "gbk" | "gb18030" | "gb2312" => Ok(TextEncoding::Gbk),
            other => Err(format!("unknown encoding {other:?} (expected \"utf8\" or \"gbk\")")),
        }
    }
}

/// Files in `dir` whose name matches `pattern` (`*` matches any run of
/// characters), sorted by name byte-wise — the delivery order of POLICY §8.
pub fn list_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::MissingFolder { path: dir.to_path_buf() });
    }
    let entries = std::fs::read_dir(dir).map_err(|e| SourceError::Io { path: dir.to_path_buf(), source: e })?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SourceError::Io { path: dir.to_path_buf(), source: e })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if glob_match(pattern, name) && entry.path().is_file() {
            out.push(entry.path());
        }
    }
    out.sort_by(|a, b| a.file_name().map(|n| n.as_encoded_bytes()).cmp(&b.file_name().map(|n| n.as_encoded_bytes())));
    Ok(out)
}

/// `*`-only glob match.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Reads and decodes a whole file. Malformed bytes fail the file (never a
/// silent replacement character): a file in the wrong encoding is refused
/// with a message that says which encoding was expected.
pub fn read_text(path: &Path, encoding: TextEncoding) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::Io { path: path.to_path_buf(), source: e })?;
    decode(path, &bytes, encoding)
}

/// Decodes bytes as `encoding`, dropping a UTF-8 BOM.
pub fn decode(path: &Path, bytes: &[u8], encoding: TextEncoding) -> Result<String, SourceError> {
    match encoding {
        TextEncoding::Utf8 => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            String::from_utf8(body.to_vec()).map_err(|e| SourceError::BadFile {
                path: path.to_path_buf(),
                message: format!("not valid UTF-8 (byte {}): is it GBK? set encoding = \"gbk\" for this source", e.utf8_error().valid_up_to()),
            })
        }
        TextEncoding::Gbk => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                return Err(SourceError::BadFile { path: path.to_path_buf(), message: "not valid GBK text: check the file's encoding".into() });
            }
            Ok(text.into_owned())
        }
    }
}

/// A delimited table read from a decoded file: header and data rows with their
/// 1-based line numbers (the header is line 1).
pub struct Table {
    pub path: PathBuf,
    pub file_name: String,
    pub headers: Vec<String>,
    pub rows: Vec<(u64, csv::StringRecord)>,
    /// Rows whose field count differs from the header, with the line and a reason.
    pub malformed: Vec<(u64, String)>,
}

impl Table {
    /// Parses `text` with `delimiter`; the first non-empty line is the header.
    /// Every name in `required` must be present or the file is refused with
    /// the full list of missing columns.
    pub fn parse(path: &Path, text: &str, delimiter: u8, required: &[&str]) -> Result<Table, SourceError> {
        let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut headers: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        let mut malformed = Vec::new();
        let mut lines = LineCounter::new(text.as_bytes());
        for result in reader.records() {
            let record = result.map_err(|e| SourceError::BadFile { path: path.to_path_buf(), message: format!("cannot parse: {e}") })?;
            let line = record.position().map(|p| lines.line_at(p.byte())).unwrap_or(0);
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            match &headers {
                None => headers = Some(record.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect()),
                Some(h) => {
                    if record.len() != h.len() {
                        malformed.push((line, format!("{} fields, header has {}", record.len(), h.len())));
                    } else {
                        rows.push((line, record));
                    }
                }
            }
        }
        let headers = headers.ok_or_else(|| SourceError::BadFile { path: path.to_path_buf(), message: "empty file: no header line".into() })?;
        let missing: Vec<String> = required.iter().filter(|r| !headers.iter().any(|h| h == *r)).map(|s| s.to_string()).collect();
        if !missing.is_empty() {
            return Err(SourceError::MissingColumns { path: path.to_path_buf(), missing, found: headers });
        }
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Table { path: path.to_path_buf(), file_name, headers, rows, malformed })
    }

    /// Index of a column (present: checked by [`Table::parse`]).
    pub fn col(&self, name: &str) -> usize {
        self.headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name} checked at parse"))
    }
}

/// 1-based line numbers of record starts, counted from the bytes.
///
/// `csv::Position::line()` is wrong for CRLF files (the `\n` of a record's
/// `\r\n` is only consumed with the next record, which is then numbered one
/// line too early), so the line is recomputed from the record's byte offset:
/// skip the line breaks the offset may still point at, then count `\n`s.
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Offset up to which newlines were counted, and how many there were.
    pos: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter { bytes, pos: 0, newlines: 0 }
    }

    /// Line of the record whose position reports byte offset `byte`
    /// (offsets only grow from one record to the next).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = (byte as usize).min(self.bytes.len());
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.pos {
            self.newlines += self.bytes[self.pos..start].iter().filter(|b| **b == b'\n').count() as u64;
            self.pos = start;
        }
        self.newlines + 1
    }
}

/// One data row of a [`Table`], read field by field into a canonical record.
pub struct Row<'a> {
    pub table: &'a Table,
    /// 1-based line in the file.
    pub line: u64,
    pub rec: &'a csv::StringRecord,
}

impl Row<'_> {
    /// Where the row came from.
    pub fn origin(&self) -> hedui_core::model::Origin {
        hedui_core::model::Origin::new(self.table.file_name.clone(), self.line)
    }

    /// The raw cell under `header` (checked present by [`Table::parse`]).
    pub fn cell(&self, header: &str) -> &str {
        self.rec.get(self.table.col(header)).unwrap_or("")
    }

    /// The trimmed cell under `header`.
    pub fn text(&self, header: &str) -> Text {
        Text::from(self.cell(header).trim())
    }

    /// Parses the cell under `header`, or quarantines the row naming the field.
    pub fn parse<T>(&self, header: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Quarantined> {
        let raw = self.cell(header);
        f(raw).map_err(|reason| Quarantined { file: self.table.file_name.clone(), line: self.line, field: header.to_string(), raw_value: raw.to_string(), reason })
    }
}

/// A record key must not be empty.
pub fn non_empty(v: &str) -> Result<Text, String> {
    let v = v.trim();
    if v.is_empty() {
        Err("empty record key".to_string())
    } else {
        Ok(Text::from(v))
    }
}

/// Reads one delimited file of a file-delivered source: decodes it, records
/// the audit line, checks the columns, counts its rows, notes an empty file
/// and quarantines rows whose field count is wrong. A GBK source handed a
/// UTF-8 file is told so (it would otherwise decode as garbage or "missing
/// columns").
pub fn read_table(cx: &SourceContext, code: &str, path: &Path, encoding: TextEncoding, delimiter: u8, required: &[&str], out: &mut SourceOutput) -> Result<Table, SourceError> {
    let utf8_instead_of_gbk = || encoding == TextEncoding::Gbk && looks_like_utf8(path);
    let text = match read_text(path, encoding) {
        Err(SourceError::BadFile { .. }) if utf8_instead_of_gbk() => return Err(utf8_not_gbk(path)),
        other => other?,
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    cx.audit.record(AuditEvent::new(code, "file_read", file_name));
    out.stats.files += 1;
    let table = match Table::parse(path, &text, delimiter, required) {
        Err(SourceError::MissingColumns { .. }) if utf8_instead_of_gbk() => return Err(utf8_not_gbk(path)),
        other => other?,
    };
    out.stats.rows_read += (table.rows.len() + table.malformed.len()) as u64;
    if table.rows.is_empty() && table.malformed.is_empty() {
        out.notes.push(format!("{code}/{} had no data rows", table.file_name));
    }
    Ok(table)
}

/// Turns every row of `table` into records with `read` (which pushes them into
/// `out.records`); rows it refuses, and rows of the wrong width, are
/// quarantined in line order.
pub fn read_rows(table: &Table, out: &mut SourceOutput, mut read: impl FnMut(&Row, &mut hedui_core::model::Records) -> Result<(), Quarantined>) {
    let mut quarantine: Vec<Quarantined> = table
        .malformed
        .iter()
        .map(|(line, why)| Quarantined { file: table.file_name.clone(), line: *line, field: String::new(), raw_value: String::new(), reason: why.clone() })
        .collect();
    for (line, rec) in &table.rows {
        let row = Row { table, line: *line, rec };
        if let Err(q) = read(&row, &mut out.records) {
            quarantine.push(q);
        }
    }
    quarantine.sort_by_key(|q| q.line);
    out.quarantine.extend(quarantine);
}

/// Whether the file is non-ASCII text that is valid UTF-8.
fn looks_like_utf8(path: &Path) -> bool {
    std::fs::read(path).map(|b| !b.is_ascii() && std::str::from_utf8(&b).is_ok()).unwrap_or(false)
}

/// The error for a UTF-8 file where GBK is expected.
fn utf8_not_gbk(path: &Path) -> SourceError {
    SourceError::BadFile {
        path: path.to_path_buf(),
        message: "not GBK text: the file is UTF-8 — ask the department for GBK, or set encoding = \"utf8\" for this source".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("huji_*.csv", "huji_01.csv"));
        assert!(!glob_match("huji_*.csv", "jdc_01.csv"));
        assert!(glob_match("RSP_20261126_*.txt", "RSP_20261126_002.txt"));
        assert!(!glob_match("RSP_20261126_*.txt", "RSP_20261125_001.txt"));
        assert!(glob_match("*.jsonl", "a.jsonl"));
    }

    #[test]
    fn files_sort_bytewise_and_missing_columns_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["jdc_9.csv", "jdc_10.csv", "jdc_01.csv"] {
            std::fs::write(dir.path().join(n), "a,b\n1,2\n").unwrap();
        }
        let names: Vec<String> = list_files(dir.path(), "jdc_*.csv").unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["jdc_01.csv", "jdc_10.csv", "jdc_9.csv"]);
        let err = Table::parse(Path::new("x.csv"), "a,b\n1,2\n", b',', &["a", "c", "d"]).err().unwrap();
        assert!(err.to_string().contains("\"c\", \"d\""), "{err}");
        assert!(matches!(list_files(&dir.path().join("nope"), "*"), Err(SourceError::MissingFolder { .. })));
    }

    #[test]
    fn lines_are_counted_for_lf_and_crlf() {
        for text in ["h,a\nr1,1\n\nr2,2\n\"x\ny\",3\nr4,4\n", "h,a\r\nr1,1\r\n\r\nr2,2\r\n\"x\r\ny\",3\r\nr4,4"] {
            let t = Table::parse(Path::new("t.csv"), text, b',', &["h"]).unwrap();
            let lines: Vec<u64> = t.rows.iter().map(|(l, _)| *l).collect();
            assert_eq!(lines, [2, 4, 5, 7], "{text:?}");
        }
    }

    #[test]
    fn gbk_is_decoded_and_utf8_mistakes_named() {
        let (bytes, _, _) = encoding_rs::GBK.encode("户号,姓名\n1,张三\n");
        let text = decode(Path::new("h.csv"), &bytes, TextEncoding::Gbk).unwrap();
        assert!(text.contains("张三"));
        let err = decode(Path::new("h.csv"), &bytes, TextEncoding::Utf8).err().unwrap();
        assert!(err.to_string().contains("GBK"), "{err}");
        assert_eq!(decode(Path::new("b.csv"), "\u{feff}a".as_bytes(), TextEncoding::Utf8).unwrap(), "a");
    }
}
