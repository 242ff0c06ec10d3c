//! Finding delivered files, decoding them as they are read, and streaming
//! delimited tables row by row with a header check. Shared by every
//! file-delivered adapter.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use hedui_core::model::{FileName, Origin, Records, Text};

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

// ------------------------------------------------------------- streaming
//
// Files are read as a stream, never whole: raw bytes in CHUNK-sized reads,
// decoded (GBK) or checked (UTF-8) chunk by chunk, parsed by a csv reader into
// one reused record, each row handed to the adapter and dropped. Memory per
// file is a few buffers of CHUNK bytes, whatever the file's size.

/// Size of the raw reads from a file, and of the csv reader's buffer.
pub const CHUNK: usize = 64 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

const NOT_GBK: &str = "not valid GBK text: check the file's encoding";

fn not_utf8(byte: u64) -> String {
    format!("not valid UTF-8 (byte {byte}): is it GBK? set encoding = \"gbk\" for this source")
}

/// Why decoding stopped; carried inside the `io::Error` the csv reader hands back.
#[derive(Debug)]
struct DecodeError(String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A reader that yields a file's text as UTF-8 bytes while it is read:
/// GBK is decoded (GB 18030 decoder, which reads all of GBK), UTF-8 is checked
/// and its BOM dropped. Malformed bytes end the stream with an error whose
/// message is the one whole-file decoding gave (never a silent replacement
/// character); for UTF-8 it names the offset of the first bad byte after the
/// BOM. A character split across two raw reads is carried over: the GBK
/// decoder keeps its state between calls, and UTF-8 is only handed on up to
/// the last complete character.
pub struct DecodingReader<R> {
    inner: R,
    /// `Some` for GBK.
    decoder: Option<encoding_rs::Decoder>,
    buf: Box<[u8]>,
    /// Raw bytes in `start..end` are unread; for UTF-8 those in `start..checked` are checked.
    start: usize,
    checked: usize,
    end: usize,
    eof: bool,
    bom_checked: bool,
    /// The GBK decoder has been flushed (`last`): nothing more to give.
    done: bool,
    /// UTF-8 bytes handed on after the BOM (the offset of an error).
    passed: u64,
    /// Decoded text that did not fit a very small read buffer.
    stash: Vec<u8>,
    stash_pos: usize,
    failed: Option<String>,
}

impl<R: Read> DecodingReader<R> {
    pub fn new(inner: R, encoding: TextEncoding) -> Self {
        Self::with_chunk(inner, encoding, CHUNK)
    }

    /// With raw reads of `chunk` bytes (at least 4; tests use small ones to
    /// split characters at every position).
    pub fn with_chunk(inner: R, encoding: TextEncoding, chunk: usize) -> Self {
        let decoder = match encoding {
            TextEncoding::Utf8 => None,
            TextEncoding::Gbk => Some(encoding_rs::GB18030.new_decoder_without_bom_handling()),
        };
        DecodingReader {
            inner,
            decoder,
            buf: vec![0; chunk.max(4)].into_boxed_slice(),
            start: 0,
            checked: 0,
            end: 0,
            eof: false,
            bom_checked: false,
            done: false,
            passed: 0,
            stash: Vec::new(),
            stash_pos: 0,
            failed: None,
        }
    }

    /// The decoding error that ended the stream, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Reads more raw bytes after moving the unread ones to the front. Only
    /// called with fewer than 4 unread bytes, so there is always room.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.checked -= self.start.min(self.checked);
            self.end -= self.start;
            self.start = 0;
        }
        let n = loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.eof = n == 0;
        self.end += n;
        Ok(())
    }

    fn fail(&mut self, message: String) -> io::Error {
        self.failed = Some(message.clone());
        io::Error::new(io::ErrorKind::InvalidData, DecodeError(message))
    }

    fn read_utf8(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.bom_checked {
            while self.end - self.start < BOM.len() && !self.eof {
                self.fill()?;
            }
            if self.buf[self.start..self.end].starts_with(BOM) {
                self.start += BOM.len();
            }
            self.checked = self.checked.max(self.start);
            self.bom_checked = true;
        }
        loop {
            if self.start < self.checked {
                let n = (self.checked - self.start).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                self.start += n;
                self.passed += n as u64;
                return Ok(n);
            }
            if self.checked < self.end {
                match std::str::from_utf8(&self.buf[self.checked..self.end]) {
                    Ok(_) => self.checked = self.end,
                    Err(e) if e.valid_up_to() > 0 => self.checked += e.valid_up_to(),
                    // A character cut by the end of the read: read on.
                    Err(e) if e.error_len().is_none() && !self.eof => self.fill()?,
                    Err(_) => return Err(self.fail(not_utf8(self.passed))),
                }
            } else if self.eof {
                return Ok(0);
            } else {
                self.fill()?;
            }
        }
    }

    /// Decodes GBK into `dst` (at least 16 bytes: room for any character).
    fn decode_gbk(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done {
                return Ok(0);
            }
            if self.start == self.end && !self.eof {
                self.fill()?;
                continue;
            }
            let last = self.eof;
            let decoder = self.decoder.as_mut().expect("a GBK reader has a decoder");
            let (result, read, written) = decoder.decode_to_utf8_without_replacement(&self.buf[self.start..self.end], dst, last);
            self.start += read;
            match result {
                encoding_rs::DecoderResult::Malformed(..) => return Err(self.fail(NOT_GBK.to_string())),
                encoding_rs::DecoderResult::OutputFull => return Ok(written),
                encoding_rs::DecoderResult::InputEmpty => {
                    self.done = last;
                    if written > 0 {
                        return Ok(written);
                    }
                }
            }
        }
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(message) = &self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, DecodeError(message.clone())));
        }
        if out.is_empty() {
            return Ok(0);
        }
        if self.decoder.is_none() {
            return self.read_utf8(out);
        }
        if self.stash_pos == self.stash.len() && out.len() < 16 {
            let mut tmp = [0u8; 16];
            let n = self.decode_gbk(&mut tmp)?;
            self.stash.clear();
            self.stash.extend_from_slice(&tmp[..n]);
            self.stash_pos = 0;
        }
        if self.stash_pos < self.stash.len() {
            let n = (self.stash.len() - self.stash_pos).min(out.len());
            out[..n].copy_from_slice(&self.stash[self.stash_pos..self.stash_pos + n]);
            self.stash_pos += n;
            return Ok(n);
        }
        self.decode_gbk(out)
    }
}

/// Passes text through to the csv reader, dropping the first `skip` lines and
/// noting where the line breaks it passes on are, so that a record's line can
/// be told from its byte offset.
///
/// `csv::Position::line()` is wrong for CRLF files (the `\n` of a record's
/// `\r\n` is only consumed with the next record, which is then numbered one
/// line too early), so the line is recomputed from the record's byte offset:
/// skip the line breaks the offset may still point at, then count the `\n`s
/// before it. Only the breaks the csv reader has read ahead of its current
/// record are kept (a buffer's worth), not the file's.
struct LineTracker<R> {
    inner: R,
    /// Lines still to drop, and whether the text ended before they were.
    skip: u64,
    short: bool,
    /// Bytes passed on so far.
    offset: u64,
    /// Offsets of the `\r` and `\n` passed on and not yet behind a record:
    /// `offset << 1 | is_newline`.
    breaks: VecDeque<u64>,
    /// `\n`s behind the last record looked up.
    newlines: u64,
}

impl<R: Read> LineTracker<R> {
    fn new(inner: R, skip: u64) -> Self {
        LineTracker { inner, skip, short: false, offset: 0, breaks: VecDeque::new(), newlines: 0 }
    }

    /// 1-based line of the record whose position reports byte offset `byte`
    /// (offsets only grow from one record to the next).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = byte;
        while let Some(&b) = self.breaks.front() {
            let at = b >> 1;
            if at < start || at == start {
                // Before the record, or a line break its offset still points at.
                if at == start {
                    start += 1;
                }
                self.newlines += b & 1;
                self.breaks.pop_front();
            } else {
                break;
            }
        }
        self.newlines + 1
    }
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            let mut from = 0;
            if self.skip > 0 {
                if n == 0 {
                    self.short = true;
                    return Ok(0);
                }
                while self.skip > 0 {
                    match memchr::memchr(b'\n', &buf[from..n]) {
                        Some(i) => {
                            from += i + 1;
                            self.skip -= 1;
                        }
                        None => {
                            from = n;
                            break;
                        }
                    }
                }
                if from == n {
                    continue;
                }
                buf.copy_within(from..n, 0);
            }
            let n = n - from;
            for i in memchr::memchr2_iter(b'\n', b'\r', &buf[..n]) {
                self.breaks.push_back(((self.offset + i as u64) << 1) | u64::from(buf[i] == b'\n'));
            }
            self.offset += n as u64;
            return Ok(n);
        }
    }
}

/// A delimited file read as a stream: its header (the first non-blank line),
/// then its data rows one at a time in one reused record, each with its
/// 1-based line in the file. Blank lines are skipped.
pub struct DelimitedReader<R: Read = File> {
    path: PathBuf,
    csv: csv::Reader<LineTracker<DecodingReader<R>>>,
    record: csv::StringRecord,
    /// Field count of the header, once read.
    width: usize,
}

impl DelimitedReader<File> {
    /// Opens `path` (a missing or unreadable file is an I/O error).
    pub fn open(path: &Path, encoding: TextEncoding, delimiter: u8) -> Result<Self, SourceError> {
        Self::open_skipping(path, encoding, delimiter, 0)
    }

    /// Opens `path`, dropping its first `skip_lines` lines (a title above the
    /// header); line numbers count from the header.
    pub fn open_skipping(path: &Path, encoding: TextEncoding, delimiter: u8, skip_lines: u64) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::Io { path: path.to_path_buf(), source: e })?;
        Ok(Self::from_reader(path, DecodingReader::new(file, encoding), delimiter, skip_lines))
    }
}

impl<R: Read> DelimitedReader<R> {
    /// Reads from `text` (`path` only names the file in errors).
    pub fn from_reader(path: &Path, text: DecodingReader<R>, delimiter: u8, skip_lines: u64) -> Self {
        let csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(CHUNK)
            .from_reader(LineTracker::new(text, skip_lines));
        DelimitedReader { path: path.to_path_buf(), csv, record: csv::StringRecord::new(), width: 0 }
    }

    /// The next non-blank record into `self.record`, with its line.
    fn next_record(&mut self) -> Result<Option<u64>, SourceError> {
        loop {
            match self.csv.read_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.error(e)),
            }
            // Every record is looked up, blank ones too, so that the line
            // breaks behind it are let go.
            let line = self.record.position().map(|p| self.csv.get_mut().line_at(p.byte())).unwrap_or(0);
            if !self.record.iter().all(|f| f.trim().is_empty()) {
                return Ok(Some(line));
            }
        }
    }

    fn error(&self, e: csv::Error) -> SourceError {
        let path = self.path.to_path_buf();
        let text = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(io) => match io.get_ref().and_then(|inner| inner.downcast_ref::<DecodeError>()) {
                Some(d) => SourceError::BadFile { path, message: d.0.clone() },
                None => SourceError::Io { path, source: io },
            },
            _ => SourceError::BadFile { path, message: format!("cannot parse: {text}") },
        }
    }

    /// The header's names, trimmed (a stray BOM dropped); `None` for a file
    /// without a non-blank line.
    pub fn header(&mut self) -> Result<Option<Vec<String>>, SourceError> {
        if self.next_record()?.is_none() {
            return Ok(None);
        }
        let headers: Vec<String> = self.record.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect();
        self.width = headers.len();
        Ok(Some(headers))
    }

    /// The next data row with its line: the record, or — for a row whose
    /// field count differs from the header's — why it is refused.
    pub fn next_row(&mut self) -> Result<Option<(u64, Result<&csv::StringRecord, String>)>, SourceError> {
        let Some(line) = self.next_record()? else { return Ok(None) };
        if self.record.len() != self.width {
            return Ok(Some((line, Err(format!("{} fields, header has {}", self.record.len(), self.width)))));
        }
        Ok(Some((line, Ok(&self.record))))
    }

    /// Reads the rest of the file unused. When a file is refused on its
    /// header, this lets a decoding error further on be reported instead, as
    /// when files were decoded whole before their header was looked at.
    pub fn drain(&mut self) -> Result<(), SourceError> {
        while self.next_record()?.is_some() {}
        Ok(())
    }

    /// Whether reading stopped on malformed text (not on an I/O error).
    pub fn decode_failed(&self) -> bool {
        self.csv.get_ref().inner.failure().is_some()
    }

    /// Whether the file ended before the lines to skip did.
    pub fn short_of_lines(&self) -> bool {
        self.csv.get_ref().short
    }
}

/// The error for a file without a non-blank line.
pub fn no_header(path: &Path) -> SourceError {
    SourceError::BadFile { path: path.to_path_buf(), message: "empty file: no header line".into() }
}

/// Where each of `required` is among `headers` (first match), or the names
/// that are missing.
pub fn column_indices(headers: &[String], required: &[&str]) -> Result<Vec<usize>, Vec<String>> {
    let missing: Vec<String> = required.iter().filter(|r| !headers.iter().any(|h| h == *r)).map(|s| s.to_string()).collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(required.iter().map(|r| headers.iter().position(|h| h == r).expect("checked above")).collect())
}

/// The file name of `path`, as records cite it.
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// One data row of a delimited file, read field by field into a canonical
/// record. Columns are addressed by their index in the adapter's column list
/// (looked up in the header once per file).
pub struct Row<'a> {
    /// The file's name, shared by all its records.
    pub file: &'a FileName,
    /// 1-based line in the file.
    pub line: u64,
    pub rec: &'a csv::StringRecord,
    /// Index in the file of each of `names`.
    pub cols: &'a [usize],
    /// The adapter's column list.
    pub names: &'a [&'a str],
}

impl Row<'_> {
    /// Where the row came from.
    pub fn origin(&self) -> Origin {
        Origin { file: self.file.clone(), line: self.line }
    }

    /// The raw cell of column `k` (an index into the column list).
    pub fn cell(&self, k: usize) -> &str {
        self.rec.get(self.cols[k]).unwrap_or("")
    }

    /// The trimmed cell of column `k`.
    pub fn text(&self, k: usize) -> Text {
        Text::from(self.cell(k).trim())
    }

    /// Parses the cell of column `k`, or quarantines the row naming the field.
    pub fn parse<T>(&self, k: usize, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Quarantined> {
        let raw = self.cell(k);
        f(raw).map_err(|reason| Quarantined { file: self.file.to_string(), line: self.line, field: self.names[k].to_string(), raw_value: raw.to_string(), reason })
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

/// Reads one delimited file of a file-delivered source as a stream: checks
/// its `columns`, hands each data row to `read` (which pushes records into
/// `out.records`), quarantines the rows it refuses and rows of the wrong
/// width — in line order, as they come — counts the file and its rows, notes
/// an empty file and records the audit line. A GBK source handed a UTF-8
/// file is told so (it would otherwise decode as garbage or "missing
/// columns").
///
/// A file that fails part-way (malformed text deep in it) fails the source:
/// the records already pushed are dropped with the source's output. Its
/// audit line is written once the file decoded cleanly, as it was when the
/// file was decoded whole first: at the end, or when its header is refused.
#[allow(clippy::too_many_arguments)]
pub fn read_table(
    cx: &SourceContext,
    code: &str,
    path: &Path,
    encoding: TextEncoding,
    delimiter: u8,
    columns: &[&str],
    out: &mut SourceOutput,
    mut read: impl FnMut(&Row, &mut Records) -> Result<(), Quarantined>,
) -> Result<(), SourceError> {
    let mut reader = DelimitedReader::open(path, encoding, delimiter)?;
    let utf8_instead_of_gbk = || encoding == TextEncoding::Gbk && looks_like_utf8(path);
    let reading = |reader: &DelimitedReader, e: SourceError| if reader.decode_failed() && utf8_instead_of_gbk() { utf8_not_gbk(path) } else { e };
    let name = file_name(path);
    let file_read = |out: &mut SourceOutput| {
        cx.audit.record(AuditEvent::new(code, "file_read", name.clone()));
        out.stats.files += 1;
    };

    let headers = match reader.header() {
        Ok(Some(h)) => h,
        Ok(None) => {
            file_read(out);
            return Err(no_header(path));
        }
        Err(e) => return Err(reading(&reader, e)),
    };
    let cols = match column_indices(&headers, columns) {
        Ok(cols) => cols,
        Err(missing) => {
            reader.drain().map_err(|e| reading(&reader, e))?;
            file_read(out);
            if utf8_instead_of_gbk() {
                return Err(utf8_not_gbk(path));
            }
            return Err(SourceError::MissingColumns { path: path.to_path_buf(), missing, found: headers });
        }
    };

    let file: FileName = FileName::from(name.as_str());
    let mut rows: u64 = 0;
    loop {
        let (line, rec) = match reader.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(reading(&reader, e)),
        };
        rows += 1;
        let refused = match rec {
            Ok(rec) => read(&Row { file: &file, line, rec, cols: &cols, names: columns }, &mut out.records).err(),
            Err(why) => Some(Quarantined { file: name.clone(), line, field: String::new(), raw_value: String::new(), reason: why }),
        };
        out.quarantine.extend(refused);
    }
    file_read(out);
    out.stats.rows_read += rows;
    if rows == 0 {
        out.notes.push(format!("{code}/{name} had no data rows"));
    }
    Ok(())
}

/// Whether the file is non-ASCII text that is valid UTF-8 (read in chunks).
pub fn looks_like_utf8(path: &Path) -> bool {
    let Ok(mut file) = File::open(path) else { return false };
    let mut buf = vec![0u8; CHUNK];
    // Bytes of a character cut by the end of the previous read.
    let mut carry = 0;
    let mut non_ascii = false;
    loop {
        let n = match file.read(&mut buf[carry..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        let end = carry + n;
        if n == 0 {
            return carry == 0 && non_ascii;
        }
        non_ascii |= !buf[..end].is_ascii();
        let valid = match std::str::from_utf8(&buf[..end]) {
            Ok(_) => end,
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return false,
        };
        buf.copy_within(valid..end, 0);
        carry = end - valid;
    }
}

/// The error for a UTF-8 file where GBK is expected.
pub fn utf8_not_gbk(path: &Path) -> SourceError {
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

    /// A reader that hands out at most `step` bytes a call.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn decode_all(bytes: &[u8], encoding: TextEncoding, chunk: usize, step: usize) -> Result<String, String> {
        let mut text = Vec::new();
        let mut r = DecodingReader::with_chunk(Trickle(bytes, step), encoding, chunk);
        match r.read_to_end(&mut text) {
            Ok(_) => Ok(String::from_utf8(text).expect("the reader yields UTF-8")),
            Err(e) => Err(e.to_string()),
        }
    }

    type Rows = Vec<(u64, Result<Vec<String>, String>)>;

    /// Header and rows (line, fields or why refused) of a delimited text.
    fn read_all<R: Read>(mut r: DelimitedReader<R>) -> Result<(Vec<String>, Rows), SourceError> {
        let header = r.header()?.ok_or_else(|| no_header(Path::new("t.csv")))?;
        let mut rows = Vec::new();
        while let Some((line, rec)) = r.next_row()? {
            rows.push((line, rec.map(|rec| rec.iter().map(str::to_string).collect())));
        }
        Ok((header, rows))
    }

    fn table(bytes: &[u8], encoding: TextEncoding, chunk: usize, step: usize) -> Result<(Vec<String>, Rows), SourceError> {
        read_all(DelimitedReader::from_reader(Path::new("t.csv"), DecodingReader::with_chunk(Trickle(bytes, step), encoding, chunk), b',', 0))
    }

    fn lines(rows: &Rows) -> Vec<u64> {
        rows.iter().map(|(l, _)| *l).collect()
    }

    #[test]
    fn files_sort_bytewise_and_missing_columns_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["jdc_9.csv", "jdc_10.csv", "jdc_01.csv"] {
            std::fs::write(dir.path().join(n), "a,b\n1,2\n").unwrap();
        }
        let names: Vec<String> = list_files(dir.path(), "jdc_*.csv").unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["jdc_01.csv", "jdc_10.csv", "jdc_9.csv"]);
        let headers = vec!["a".to_string(), "b".to_string()];
        assert_eq!(column_indices(&headers, &["a", "c", "d"]), Err(vec!["c".to_string(), "d".to_string()]));
        assert_eq!(column_indices(&headers, &["b", "a"]), Ok(vec![1, 0]));
        assert!(matches!(list_files(&dir.path().join("nope"), "*"), Err(SourceError::MissingFolder { .. })));
    }

    #[test]
    fn lines_are_counted_for_lf_and_crlf_in_any_read_size() {
        let lf = "h,a\nr1,1\n\nr2,2\n\"x\ny\",3\nr4,4\n";
        let crlf = "h,a\r\nr1,1\r\n\r\nr2,2\r\n\"x\r\ny\",3\r\nr4,4";
        for text in [lf, crlf, "\n\n h , a \n,\nr1,1\n\n\nr2,2\n\"x\n\ny\",3\nr4,4\n\n"] {
            let expected: Vec<u64> = if text.starts_with('\n') { vec![5, 8, 9, 12] } else { vec![2, 4, 5, 7] };
            for (chunk, step) in [(CHUNK, usize::MAX), (4, 1), (5, 3), (7, 2), (16, 16)] {
                let (header, rows) = table(text.as_bytes(), TextEncoding::Utf8, chunk, step).unwrap();
                assert_eq!(header, ["h", "a"]);
                assert_eq!(lines(&rows), expected, "{text:?} chunk {chunk} step {step}");
                let cells: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r.unwrap()).collect();
                assert_eq!(cells[2][0].replace('\r', ""), if text.contains("\n\ny") { "x\n\ny" } else { "x\ny" });
            }
        }
    }

    #[test]
    fn wrong_widths_are_refused_with_their_line() {
        let (_, rows) = table(b"a,b\r\n1,2\r\n1,2,3\r\n\r\n4\r\n5,6\r\n", TextEncoding::Utf8, CHUNK, usize::MAX).unwrap();
        assert_eq!(lines(&rows), [2, 3, 5, 6]);
        assert_eq!(rows[1].1, Err("3 fields, header has 2".to_string()));
        assert_eq!(rows[2].1, Err("1 fields, header has 2".to_string()));
    }

    /// 200,000 rows (many times the reader's buffers): a bad row far in
    /// keeps its exact line, for LF and CRLF, with blank lines and quoted
    /// line breaks before it.
    #[test]
    fn lines_stay_exact_deep_into_a_large_file() {
        for eol in ["\n", "\r\n"] {
            let mut text = format!("号,名{eol}");
            let mut line = 1u64;
            let mut bad_line = 0;
            for i in 0..200_000u64 {
                match i {
                    1_000 => {
                        text.push_str(&format!("\"多{eol}行\",张三{eol}"));
                        line += 2;
                    }
                    5_000 | 150_000 => {
                        text.push_str(eol);
                        line += 1;
                    }
                    180_000 => {
                        text.push_str(&format!("{i},李四,多余{eol}"));
                        line += 1;
                        bad_line = line;
                    }
                    _ => {
                        text.push_str(&format!("{i},王五{eol}"));
                        line += 1;
                    }
                }
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("big.csv");
            std::fs::write(&path, text.as_bytes()).unwrap();
            let (_, rows) = read_all(DelimitedReader::open(&path, TextEncoding::Utf8, b',').unwrap()).unwrap();
            assert_eq!(rows.len(), 199_998);
            let bad: Vec<&(u64, Result<Vec<String>, String>)> = rows.iter().filter(|(_, r)| r.is_err()).collect();
            assert_eq!(bad.len(), 1);
            assert_eq!(bad[0].0, bad_line, "{eol:?}");
            assert_eq!(rows.last().unwrap().0, line, "{eol:?}");
            // The same through GBK.
            let (gbk, _, _) = encoding_rs::GBK.encode(&text);
            std::fs::write(&path, &gbk).unwrap();
            let (_, rows) = read_all(DelimitedReader::open(&path, TextEncoding::Gbk, b',').unwrap()).unwrap();
            assert_eq!(rows.iter().find(|(_, r)| r.is_err()).unwrap().0, bad_line);
            assert_eq!(rows[1000].1.as_ref().unwrap()[0].replace('\r', ""), "多\n行");
        }
    }

    #[test]
    fn gbk_characters_cut_by_a_read_are_decoded() {
        let text = "户号,姓名\n1,张三\n2,欧阳𠀋\n3,李四\n".repeat(3);
        let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
        for chunk in 4..12 {
            for step in [1, 2, 3, usize::MAX] {
                assert_eq!(decode_all(&gbk, TextEncoding::Gbk, chunk, step).unwrap(), text, "chunk {chunk} step {step}");
            }
        }
        // A 2-byte character across the edge of a full-size read.
        let mut bytes = vec![b'a'; CHUNK - 1];
        bytes.extend_from_slice(&gbk);
        let decoded = decode_all(&bytes, TextEncoding::Gbk, CHUNK, usize::MAX).unwrap();
        assert_eq!(&decoded[CHUNK - 1..], text);
        // UTF-8 likewise, its BOM dropped.
        let mut utf8 = BOM.to_vec();
        utf8.extend_from_slice(text.as_bytes());
        for chunk in 4..12 {
            assert_eq!(decode_all(&utf8, TextEncoding::Utf8, chunk, 1).unwrap(), text);
        }
        let mut bytes = vec![b'a'; CHUNK - 1];
        bytes.extend_from_slice(text.as_bytes());
        assert_eq!(&decode_all(&bytes, TextEncoding::Utf8, CHUNK, usize::MAX).unwrap()[CHUNK - 1..], text);
    }

    #[test]
    fn malformed_text_deep_in_a_file_fails_it() {
        let good = "户号,姓名\n".to_string() + &"1,张三\n".repeat(50_000);
        let mut gbk = encoding_rs::GBK.encode(&good).0.into_owned();
        gbk.extend_from_slice(b"2,\x81,\n3,x\n");
        let err = table(&gbk, TextEncoding::Gbk, CHUNK, usize::MAX).err().unwrap();
        assert!(err.to_string().contains(NOT_GBK), "{err}");
        // A lead byte at the very end, with nothing to complete it.
        gbk.truncate(gbk.len() - 9);
        gbk.push(0x81);
        assert!(decode_all(&gbk, TextEncoding::Gbk, CHUNK, usize::MAX).is_err());

        // UTF-8: the error names the offset of the bad byte (after the BOM), as String::from_utf8 did.
        let mut utf8 = BOM.to_vec();
        utf8.extend_from_slice(good.as_bytes());
        utf8.extend_from_slice(b"2,\xE5\xBC,\n");
        let offset = std::str::from_utf8(&utf8[3..]).unwrap_err().valid_up_to();
        for (chunk, step) in [(CHUNK, usize::MAX), (7, 5)] {
            let err = table(&utf8, TextEncoding::Utf8, chunk, step).err().unwrap();
            assert_eq!(err.to_string(), format!("t.csv: {}", not_utf8(offset as u64)));
        }
        // A character cut by the end of the file.
        utf8.truncate(utf8.len() - 2);
        let err = decode_all(&utf8, TextEncoding::Utf8, CHUNK, usize::MAX).unwrap_err();
        assert_eq!(err, not_utf8(offset as u64));
    }

    #[test]
    fn gbk_is_decoded_and_utf8_mistakes_named() {
        let (bytes, _, _) = encoding_rs::GBK.encode("户号,姓名\n1,张三\n");
        assert!(decode_all(&bytes, TextEncoding::Gbk, CHUNK, usize::MAX).unwrap().contains("张三"));
        let err = decode_all(&bytes, TextEncoding::Utf8, CHUNK, usize::MAX).unwrap_err();
        assert!(err.contains("GBK"), "{err}");
        assert_eq!(decode_all("\u{feff}a".as_bytes(), TextEncoding::Utf8, CHUNK, usize::MAX).unwrap(), "a");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.csv");
        std::fs::write(&path, "户号,姓名\n1,张三\n").unwrap();
        assert!(looks_like_utf8(&path));
        std::fs::write(&path, &bytes).unwrap();
        assert!(!looks_like_utf8(&path));
        std::fs::write(&path, "a,b\n").unwrap();
        assert!(!looks_like_utf8(&path));
    }

    #[test]
    fn lines_above_the_header_are_skipped() {
        let text = "title\r\nmore\r\nh,a\r\n1,2\r\n";
        let r = DelimitedReader::from_reader(Path::new("t.csv"), DecodingReader::with_chunk(Trickle(text.as_bytes(), 3), TextEncoding::Utf8, 8), b',', 2);
        let (header, rows) = read_all(r).unwrap();
        assert_eq!(header, ["h", "a"]);
        assert_eq!(lines(&rows), [2]);
        let mut r = DelimitedReader::from_reader(Path::new("t.csv"), DecodingReader::new(Trickle(b"title\n", 3), TextEncoding::Utf8), b',', 2);
        assert!(r.header().unwrap().is_none());
        assert!(r.short_of_lines());
    }
}
