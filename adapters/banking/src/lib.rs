//! 金融监管 banking exchange adapter: an asynchronous exchange of files.
//!
//! 1. The engine writes the request `<outbox>/banking/QRY_<batch_id>.txt`
//!    (GBK, `|`-delimited, CRLF, header `查询编号|身份证号|姓名|授权书编号`)
//!    listing exactly the persons of [`SourceContext::requests`].
//! 2. The exchange later leaves responses `<inbox>/banking/RSP_<batch_id>_<seq>.txt`
//!    (GBK, `|`-delimited, CRLF): a header, records, and a trailer
//!    `#END|<record count>`. Every response of the batch is read, in byte-wise
//!    name order, into [`BankBalance`] records.
//!
//! Banking is never half-used: a response without a trailer, with a malformed
//! trailer, with a count that disagrees with its record lines, in UTF-8
//! instead of GBK, or with wrong columns fails the whole source, naming the
//! file. No response for the batch yet → [`SourceError::Unavailable`]. A single
//! bad record (unknown currency, bad amount or date) is quarantined.
//!
//! The request file is rewritten only when its content would change: an
//! identical file already present is left as it is (its mtime too), a
//! different one is replaced atomically (temp file + rename) and a note says so.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use encoding_rs::EncoderResult;
use hedui_adapter::files;
use hedui_adapter::{text, AuditEvent, PersonRequest, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{BankBalance, Currency, FileName, Origin, RecordKind, Text};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "banking";

/// Columns of the request file.
pub const REQUEST_HEADER: [&str; 4] = ["查询编号", "身份证号", "姓名", "授权书编号"];

/// Columns of a response file, in the order the parser uses them.
pub const RESPONSE_COLUMNS: [&str; 9] = ["查询编号", "身份证号", "姓名", "机构名称", "账号", "账户类型", "币种", "余额", "余额日期"];

/// Settings under `[sources.banking]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BankingSettings {
    /// Folder under the inbox where responses arrive (default `banking`).
    pub folder: String,
    /// Folder under the outbox where the request is written (default `banking`).
    pub request_folder: String,
}

impl Default for BankingSettings {
    fn default() -> Self {
        BankingSettings { folder: "banking".into(), request_folder: "banking".into() }
    }
}

/// The banking exchange source.
#[derive(Debug, Clone)]
pub struct BankingSource {
    code: String,
    settings: BankingSettings,
}

/// Builds the banking source from its config (see [`BankingSettings`]).
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(BankingSource::new(cfg)?))
}

impl BankingSource {
    pub fn new(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let settings: BankingSettings = cfg.parse()?;
        if settings.folder.trim().is_empty() || settings.request_folder.trim().is_empty() {
            return Err(SourceError::Config(format!("[sources.{}] folder and request_folder must not be empty", cfg.code)));
        }
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        Ok(BankingSource { code, settings })
    }

    /// Writes the request, then reads the responses (blocking).
    fn exchange(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let mut out = SourceOutput::default();
        let request = write_request(&cx.outbox.join(&self.settings.request_folder), &cx.batch_id, &cx.requests)?;
        let mut event = AuditEvent::new(&self.code, "request_file_written", request.file_name.clone());
        event.persons = cx.requests.len() as u64;
        event.auth_nos = cx.requests.iter().map(|p| p.auth_no.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        event.outcome = match request.action {
            RequestAction::Written => "ok".into(),
            RequestAction::Unchanged => "ok: identical file already present, left as is".into(),
            RequestAction::Replaced => "ok: replaced a different earlier request".into(),
        };
        cx.audit.record(event);
        out.stats.requests = 1;
        if request.action == RequestAction::Replaced {
            out.notes.push(format!(
                "{} already existed with different content (the roster or authorizations changed since it was written); it was replaced",
                request.file_name
            ));
        }

        let dir = cx.inbox.join(&self.settings.folder);
        let batch_pattern = format!("RSP_{}_*.txt", cx.batch_id);
        let (mine, others) = if dir.is_dir() {
            files::list_files(&dir, "RSP_*.txt")?.into_iter().partition(|p| files::glob_match(&batch_pattern, &file_name(p)))
        } else {
            (Vec::new(), Vec::new())
        };
        for other in &others {
            out.notes.push(format!("ignored {}: not a response to batch {}", file_name(other), cx.batch_id));
        }
        if mine.is_empty() {
            let ignored = if others.is_empty() {
                String::new()
            } else {
                format!("; responses to other batches ignored: {}", others.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", "))
            };
            return Err(SourceError::Unavailable(format!(
                "no banking response for batch {} yet (no {} in {}{ignored}); the request {} was written to {}, run again once the exchange has answered",
                cx.batch_id,
                batch_pattern,
                dir.display(),
                request.file_name,
                request.path.parent().map(|p| p.display().to_string()).unwrap_or_default(),
            )));
        }
        let total = mine.len() as u64;
        for (i, path) in mine.iter().enumerate() {
            let result = read_response(path, &mut out);
            let mut event = AuditEvent::new(&self.code, "file_read", file_name(path));
            if result.is_err() {
                event.outcome = "error: incomplete or unreadable response".into();
            }
            cx.audit.record(event);
            result?;
            out.stats.files += 1;
            cx.progress.update(&self.code, i as u64 + 1, total);
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Source for BankingSource {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::BankBalance]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let this = self.clone();
        let cx = cx.clone();
        tokio::task::spawn_blocking(move || this.exchange(&cx))
            .await
            .map_err(|e| SourceError::Unavailable(format!("banking exchange crashed: {e}")))?
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn bad_file(path: &Path, message: impl Into<String>) -> SourceError {
    SourceError::BadFile { path: path.to_path_buf(), message: message.into() }
}

// ---------------------------------------------------------------- request

/// What happened to the request file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestAction {
    /// There was none: written.
    Written,
    /// An identical one was already there: left untouched.
    Unchanged,
    /// A different one was there: replaced atomically.
    Replaced,
}

/// The request file written (or found) for a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFile {
    pub path: PathBuf,
    pub file_name: String,
    pub action: RequestAction,
}

/// The request file's bytes: GBK, CRLF after every line, one line a person
/// with 查询编号 `Q<batch_id><7-digit sequence>` in the given order.
pub fn request_bytes(batch_id: &str, persons: &[PersonRequest]) -> Vec<u8> {
    let mut text = String::with_capacity(64 * (persons.len() + 1));
    text.push_str(&REQUEST_HEADER.join("|"));
    text.push_str("\r\n");
    for (i, p) in persons.iter().enumerate() {
        let fields = [format!("Q{batch_id}{:07}", i + 1), field(&p.id), field(&p.name), field(&p.auth_no)];
        text.push_str(&fields.join("|"));
        text.push_str("\r\n");
    }
    encode_gbk(&text)
}

/// A value made safe for a `|`-delimited line: a `|` or line break inside it
/// would shift the columns, so it becomes a space.
fn field(value: &str) -> String {
    value.chars().map(|c| if c == '|' || c == '\r' || c == '\n' { ' ' } else { c }).collect()
}

/// Encodes text as GBK; a character GBK cannot hold becomes `?`, as the
/// exchange itself does (encoding_rs would otherwise write `&#NNNN;`).
pub fn encode_gbk(text: &str) -> Vec<u8> {
    let mut encoder = encoding_rs::GBK.new_encoder();
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4096];
    let mut rest = text;
    loop {
        let (result, read, written) = encoder.encode_from_utf8_without_replacement(rest, &mut buf, true);
        out.extend_from_slice(&buf[..written]);
        rest = &rest[read..];
        match result {
            EncoderResult::InputEmpty => return out,
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
}

/// Writes `QRY_<batch_id>.txt` into `dir` (created if missing) for `persons`.
/// An identical existing file is left alone; a different one is replaced
/// through a temp file and a rename, so the exchange never sees half a request.
pub fn write_request(dir: &Path, batch_id: &str, persons: &[PersonRequest]) -> Result<RequestFile, SourceError> {
    let file_name = format!("QRY_{batch_id}.txt");
    let path = dir.join(&file_name);
    let bytes = request_bytes(batch_id, persons);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| SourceError::Io { path: p, source: e }
    };
    let action = match fs::read(&path) {
        Ok(existing) if existing == bytes => return Ok(RequestFile { path, file_name, action: RequestAction::Unchanged }),
        Ok(_) => RequestAction::Replaced,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RequestAction::Written,
        Err(e) => return Err(io(&path)(e)),
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(".{file_name}.tmp"));
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, &path)) {
        let _ = fs::remove_file(&tmp);
        return Err(io(&path)(e));
    }
    Ok(RequestFile { path, file_name, action })
}

// --------------------------------------------------------------- responses

/// Parses one response file's bytes into `out` (records, quarantine,
/// `rows_read`). The file must be GBK, have the response columns, and end
/// with a trailer whose count equals its record lines; otherwise nothing of
/// it is used and the error names the file. Reads the bytes line by line
/// exactly as [`read_response`] reads a file.
pub fn parse_response(path: &Path, bytes: &[u8], out: &mut SourceOutput) -> Result<(), SourceError> {
    read_lines(path, bytes, out)
}

/// Reads one response file into `out` as a stream, line by line from a
/// buffered reader (see [`parse_response`] for what is checked). Only this
/// file's parsed records are held until its trailer checks out.
pub fn read_response(path: &Path, out: &mut SourceOutput) -> Result<(), SourceError> {
    let file = File::open(path).map_err(|e| SourceError::Io { path: path.to_path_buf(), source: e })?;
    read_lines(path, BufReader::with_capacity(files::CHUNK, file), out)
}

/// What is known of a response's encoding from the lines read so far.
///
/// A GBK file with the Chinese header is never valid UTF-8 (its lead bytes
/// are UTF-8 continuation bytes), so valid non-ASCII UTF-8 means the exchange
/// sent the wrong encoding — GBK decoding would only give mojibake. Lines end
/// at `\n`, which is never inside a UTF-8 or GBK character, so the file is
/// valid UTF-8 (or GBK) exactly when each of its lines is.
struct Encoding {
    bom: bool,
    utf8: bool,
    non_ascii: bool,
    gbk: bool,
}

impl Encoding {
    /// Notes one raw line (its UTF-8-ness; the BOM on the first).
    fn see(&mut self, raw: &[u8], first: bool) {
        self.bom |= first && raw.starts_with(b"\xEF\xBB\xBF");
        if !raw.is_ascii() {
            self.non_ascii = true;
            self.utf8 = self.utf8 && std::str::from_utf8(raw).is_ok();
        }
    }

    /// The whole file's verdict, in the order whole-file checks gave it: UTF-8 first, then GBK.
    fn error(&self, path: &Path) -> Option<SourceError> {
        if self.bom || (self.non_ascii && self.utf8) {
            return Some(bad_file(path, "encoded in UTF-8, but banking responses must be GBK: ask the exchange to resend the file in GBK"));
        }
        if !self.gbk {
            return Some(SourceError::BadFile { path: path.to_path_buf(), message: "not valid GBK text: check the file's encoding".into() });
        }
        None
    }
}

/// Decodes one raw line of GBK into `text` (cleared first); `false` if malformed.
fn decode_line(raw: &[u8], text: &mut String) -> bool {
    text.clear();
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    text.reserve(decoder.max_utf8_buffer_length_without_replacement(raw.len()).unwrap_or(raw.len() * 3));
    let (result, _) = decoder.decode_to_string_without_replacement(raw, text, true);
    result == encoding_rs::DecoderResult::InputEmpty
}

fn read_lines(path: &Path, mut reader: impl BufRead, out: &mut SourceOutput) -> Result<(), SourceError> {
    let io_error = |e| SourceError::Io { path: path.to_path_buf(), source: e };
    let file: FileName = file_name(path).into();
    let mut enc = Encoding { bom: false, utf8: true, non_ascii: false, gbk: true };
    let mut raw: Vec<u8> = Vec::with_capacity(256);
    let mut text = String::with_capacity(256);
    let mut line_no: u64 = 0;

    let mut cols: Option<Columns> = None;
    let mut trailer: Option<u64> = None;
    let mut record_lines: u64 = 0;
    let mut records = Vec::new();
    let mut quarantine = Vec::new();
    // The first problem found; the rest of the file is then only checked for
    // its encoding, whose errors come first (as when it was decoded whole).
    let mut refused: Option<SourceError> = None;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw).map_err(io_error)? == 0 {
            break;
        }
        line_no += 1;
        enc.see(&raw, line_no == 1);
        if !enc.gbk || !decode_line(&raw, &mut text) {
            enc.gbk = false;
            continue;
        }
        if refused.is_some() {
            continue;
        }
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if trailer.is_some() {
            refused = Some(bad_file(path, format!("line {line_no}: data after the trailer #END — the file is malformed; banking is unavailable for this batch")));
            continue;
        }
        let Some(cols) = &cols else {
            match header_columns(path, line) {
                Ok(c) => cols = Some(c),
                Err(e) => refused = Some(e),
            }
            continue;
        };
        if let Some(rest) = line.trim().strip_prefix("#END") {
            let count = rest.strip_prefix('|').map(str::trim).filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
            match count.and_then(|c| c.parse::<u64>().ok()) {
                Some(count) => trailer = Some(count),
                None => {
                    refused = Some(bad_file(path, format!("line {line_no}: malformed trailer {line:?}, expected #END|<record count>; banking is unavailable for this batch")))
                }
            }
            continue;
        }
        record_lines += 1;
        match parse_record(&file, line_no, line, cols) {
            Ok(r) => records.push(r),
            Err(q) => quarantine.push(q),
        }
    }
    if let Some(e) = enc.error(path).or(refused) {
        return Err(e);
    }
    if cols.is_none() {
        return Err(bad_file(path, "empty file: no header line"));
    }
    match trailer {
        None => Err(bad_file(
            path,
            "incomplete: no trailer #END|<record count> (the exchange may still be writing it); banking is unavailable for this batch until the complete file arrives",
        )),
        Some(count) if count != record_lines => Err(bad_file(
            path,
            format!("incomplete: the trailer announces {count} records but the file holds {record_lines}; banking is unavailable for this batch until the exchange resends it"),
        )),
        Some(_) => {
            out.stats.rows_read += record_lines;
            // Handed over, not copied, when nothing is there yet: one file's
            // records are not held twice.
            if out.records.bank_balances.is_empty() {
                out.records.bank_balances = records;
            } else {
                out.records.bank_balances.append(&mut records);
            }
            out.quarantine.append(&mut quarantine);
            Ok(())
        }
    }
}

/// Where each response column is, and how many fields a record line must have.
struct Columns {
    index: Vec<usize>,
    width: usize,
}

/// Checks the header line and returns the index of each response column.
fn header_columns(path: &Path, line: &str) -> Result<Columns, SourceError> {
    let found: Vec<String> = line.split('|').map(|h| h.trim().to_string()).collect();
    let missing: Vec<String> = RESPONSE_COLUMNS.iter().filter(|c| !found.iter().any(|f| f == *c)).map(|c| c.to_string()).collect();
    if !missing.is_empty() {
        return Err(SourceError::MissingColumns { path: path.to_path_buf(), missing, found });
    }
    let index = RESPONSE_COLUMNS.iter().map(|c| found.iter().position(|f| f == c).expect("checked above")).collect();
    Ok(Columns { index, width: found.len() })
}

/// 币种: `CNY`/`人民币`, `USD`/`美元`.
pub fn parse_currency(raw: &str) -> Result<Currency, String> {
    match raw.trim() {
        c if c.eq_ignore_ascii_case("CNY") || c == "人民币" => Ok(Currency::Cny),
        c if c.eq_ignore_ascii_case("USD") || c == "美元" => Ok(Currency::Usd),
        c => Err(format!("unknown currency {c:?} (expected CNY/人民币 or USD/美元)")),
    }
}

fn parse_record(file: &FileName, line_no: u64, line: &str, cols: &Columns) -> Result<BankBalance, Quarantined> {
    let fields: Vec<&str> = line.split('|').collect();
    let width = cols.width;
    if fields.len() != width {
        return Err(Quarantined {
            file: file.to_string(),
            line: line_no,
            field: String::new(),
            raw_value: line.to_string(),
            reason: format!("{} fields, the header has {}", fields.len(), width),
        });
    }
    let at = |k: usize| fields[cols.index[k]];
    let q = |k: usize| {
        move |reason: String| Quarantined { file: file.to_string(), line: line_no, field: RESPONSE_COLUMNS[k].to_string(), raw_value: at(k).to_string(), reason }
    };
    let required = |k: usize| {
        let v = at(k).trim();
        if v.is_empty() {
            Err(q(k)(format!("required field {} is empty", RESPONSE_COLUMNS[k])))
        } else {
            Ok(Text::from(v))
        }
    };
    Ok(BankBalance {
        origin: Origin::new(file.clone(), line_no),
        // ID and name raw (a `?` in a name stands for a character GBK lacks).
        id_raw: at(1).into(),
        name: at(2).into(),
        institution: required(3)?,
        account: required(4)?,
        account_type: at(5).trim().into(),
        currency: parse_currency(at(6)).map_err(q(6))?,
        balance_cents: text::parse_yuan(at(7)).map_err(q(7))?,
        balance_date: text::parse_date(at(8)).map_err(q(8))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, name: &str, auth: &str) -> PersonRequest {
        PersonRequest { id: id.into(), name: name.into(), auth_no: auth.into(), age: 40 }
    }

    #[test]
    fn request_lines_are_gbk_crlf_with_sequenced_query_numbers() {
        let bytes = request_bytes("20261126", &[person("520103198109051534", "张三", "SQ001"), person("52011119930618260X", "李𠀋|四", "SQ002")]);
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad);
        assert_eq!(
            text,
            "查询编号|身份证号|姓名|授权书编号\r\nQ202611260000001|520103198109051534|张三|SQ001\r\nQ202611260000002|52011119930618260X|李? 四|SQ002\r\n"
        );
    }

    #[test]
    fn currencies() {
        assert_eq!(parse_currency("CNY"), Ok(Currency::Cny));
        assert_eq!(parse_currency("人民币"), Ok(Currency::Cny));
        assert_eq!(parse_currency(" usd "), Ok(Currency::Usd));
        assert_eq!(parse_currency("美元"), Ok(Currency::Usd));
        assert!(parse_currency("EUR").is_err());
    }
}
