//! 市场监管 (工商) market-regulation adapter: business roles from the JSON Lines
//! files in `<inbox>/market_regulation/` → [`BusinessRole`].
//!
//! One JSON object a line:
//! `{"uscc","entity_name","entity_type","status","registered_capital_wan",
//! "person_id","person_name","role","established"}`. A line that is not valid
//! JSON, lacks a required field or holds a bad date / capital is quarantined
//! with its file and line number and skipped — never fatal. Blank lines are
//! skipped and not counted as rows. A file that is not UTF-8 is refused.
//!
//! Files are read line by line into one reused buffer, so memory does not
//! grow with the file.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use hedui_adapter::{files, text, AuditEvent, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{BusinessRole, FileName, Origin, RecordKind, Text};
use hedui_core::money;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "market_regulation";

/// Fields every line must carry (`registered_capital_wan` may be absent or empty = unknown).
pub const REQUIRED_FIELDS: [&str; 8] = ["uscc", "entity_name", "entity_type", "status", "person_id", "person_name", "role", "established"];

/// A quarantined line's raw value is cut to this many characters.
const RAW_VALUE_MAX_CHARS: usize = 300;

/// Settings under `[sources.market_regulation]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MarketSettings {
    /// Folder under the inbox (default `market_regulation`).
    pub folder: String,
    /// File name pattern, `*` wildcard (default `*.jsonl`).
    pub pattern: String,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings { folder: "market_regulation".into(), pattern: "*.jsonl".into() }
    }
}

/// The market-regulation source.
#[derive(Debug, Clone)]
pub struct MarketSource {
    code: String,
    settings: MarketSettings,
}

/// Builds the market-regulation source from its config (see [`MarketSettings`]).
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(MarketSource::new(cfg)?))
}

impl MarketSource {
    pub fn new(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let settings: MarketSettings = cfg.parse()?;
        if settings.folder.trim().is_empty() || settings.pattern.trim().is_empty() {
            return Err(SourceError::Config(format!("[sources.{}] folder and pattern must not be empty", cfg.code)));
        }
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        Ok(MarketSource { code, settings })
    }

    fn read_all(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let dir = cx.inbox.join(&self.settings.folder);
        let paths = files::list_files(&dir, &self.settings.pattern)?;
        let mut out = SourceOutput::default();
        if paths.is_empty() {
            out.notes.push(format!("{}: no file matches {}", dir.display(), self.settings.pattern));
        }
        let total = paths.len() as u64;
        for (i, path) in paths.iter().enumerate() {
            let name = file_name(path);
            let result = read_file(path, &mut out);
            let mut event = AuditEvent::new(&self.code, "file_read", name);
            if result.is_err() {
                event.outcome = "error: file refused".into();
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
impl Source for MarketSource {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::BusinessRole]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let this = self.clone();
        let cx = cx.clone();
        tokio::task::spawn_blocking(move || this.read_all(&cx))
            .await
            .map_err(|e| SourceError::Unavailable(format!("market_regulation reader crashed: {e}")))?
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reads one JSONL file into `out`: records, quarantined lines and counts.
/// Fails only when the file cannot be read or is not UTF-8.
pub fn read_file(path: &Path, out: &mut SourceOutput) -> Result<(), SourceError> {
    let file = File::open(path).map_err(|e| SourceError::Io { path: path.to_path_buf(), source: e })?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let name: FileName = file_name(path).into();
    let mut buf = String::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        let n = reader.read_line(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                SourceError::BadFile {
                    path: path.to_path_buf(),
                    message: format!("not valid UTF-8 at line {}: the department must deliver UTF-8 JSON Lines", line_no + 1),
                }
            } else {
                SourceError::Io { path: path.to_path_buf(), source: e }
            }
        })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let mut line = buf.trim_end_matches(['\n', '\r']);
        if line_no == 1 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.trim().is_empty() {
            continue;
        }
        out.stats.rows_read += 1;
        match parse_line(&name, line_no, line) {
            Ok(role) => out.records.business.push(role),
            Err(q) => out.quarantine.push(q),
        }
    }
    Ok(())
}

/// One line as delivered. Strings borrow from the line when they hold no escapes.
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, default)]
    uscc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    entity_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    entity_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(default)]
    registered_capital_wan: Option<Capital>,
    #[serde(borrow, default)]
    person_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    person_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    established: Option<Cow<'a, str>>,
}

/// `registered_capital_wan` as written: normally a string, sometimes a bare number.
struct Capital(String);

impl<'de> Deserialize<'de> for Capital {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Capital;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("registered_capital_wan as a string or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Capital, E> {
                Ok(Capital(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Capital, E> {
                Ok(Capital(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Capital, E> {
                Ok(Capital(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Capital, E> {
                // Shortest round-trip form: 12.3456 prints as "12.3456".
                Ok(Capital(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

fn quarantine(file: &str, line: u64, field: &str, raw: &str, reason: String) -> Quarantined {
    let raw_value = if raw.chars().count() > RAW_VALUE_MAX_CHARS {
        let cut: String = raw.chars().take(RAW_VALUE_MAX_CHARS).collect();
        format!("{cut}…")
    } else {
        raw.to_string()
    };
    Quarantined { file: file.to_string(), line, field: field.to_string(), raw_value, reason }
}

/// Parses one non-blank line into a record, or says why it is quarantined.
pub fn parse_line(file: &FileName, line_no: u64, line: &str) -> Result<BusinessRole, Quarantined> {
    let raw: RawLine = serde_json::from_str(line).map_err(|e| diagnose(file, line_no, line, &e))?;
    let required = |field: &'static str, v: Option<Cow<'_, str>>| -> Result<Text, Quarantined> {
        match v {
            Some(s) if !s.trim().is_empty() => Ok(Text::from(s.as_ref())),
            Some(s) => Err(quarantine(file, line_no, field, &s, format!("required field {field} is empty"))),
            None => Err(quarantine(file, line_no, field, "", format!("required field {field} is missing"))),
        }
    };
    // IDs and names raw; labels and keys trimmed.
    let person_id_raw = required("person_id", raw.person_id)?;
    let person_name = required("person_name", raw.person_name)?;
    let uscc = Text::from(required("uscc", raw.uscc)?.trim());
    let entity_name = Text::from(required("entity_name", raw.entity_name)?.trim());
    let entity_type = Text::from(required("entity_type", raw.entity_type)?.trim());
    let status = Text::from(required("status", raw.status)?.trim());
    let role = Text::from(required("role", raw.role)?.trim());
    let established_raw = required("established", raw.established)?;
    let established =
        text::parse_date(&established_raw).map_err(|reason| quarantine(file, line_no, "established", &established_raw, reason))?;
    let registered_capital_fen = match raw.registered_capital_wan {
        None => None,
        Some(Capital(s)) if s.trim().is_empty() => None,
        Some(Capital(s)) => Some(
            money::parse_wan_yuan(&s)
                .map_err(|e| quarantine(file, line_no, "registered_capital_wan", &s, format!("bad registered capital (万元): {e}")))?,
        ),
    };
    Ok(BusinessRole {
        origin: Origin::new(file.clone(), line_no),
        uscc,
        entity_name,
        entity_type,
        status,
        registered_capital_fen,
        person_id_raw,
        person_name,
        role,
        established,
    })
}

/// Explains why a line did not deserialize: invalid JSON, not an object, or
/// which field has the wrong type (the fast typed parse does not say).
fn diagnose(file: &str, line_no: u64, line: &str, typed_error: &serde_json::Error) -> Quarantined {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return quarantine(file, line_no, "", line, format!("not valid JSON: {e}")),
    };
    let Some(object) = value.as_object() else {
        return quarantine(file, line_no, "", line, "not a JSON object".into());
    };
    for field in REQUIRED_FIELDS.iter().chain(["registered_capital_wan"].iter()) {
        match object.get(*field) {
            None | Some(serde_json::Value::Null | serde_json::Value::String(_)) => {}
            Some(serde_json::Value::Number(_)) if *field == "registered_capital_wan" => {}
            Some(other) => {
                return quarantine(file, line_no, field, &other.to_string(), format!("field {field} must be a string"));
            }
        }
    }
    quarantine(file, line_no, "", line, format!("cannot read the line: {typed_error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"uscc": "915252K9E4A0000096", "entity_name": "凯里恒通便利店", "entity_type": "个体工商户", "status": "存续", "registered_capital_wan": "12.3456", "person_id": " 52050219800511680x", "person_name": "林红颖", "role": "经营者", "established": "2022-08-08"}"#;

    #[test]
    fn parses_a_line_keeping_ids_raw() {
        let r = parse_line(&"a.jsonl".into(), 3, GOOD).unwrap();
        assert_eq!(r.person_id_raw, " 52050219800511680x");
        assert_eq!(r.registered_capital_fen, Some(12_345_600));
        assert_eq!(r.origin, Origin::new("a.jsonl", 3));
        assert_eq!(r.established, chrono::NaiveDate::from_ymd_opt(2022, 8, 8).unwrap());
    }

    #[test]
    fn capital_empty_absent_null_or_number() {
        let empty = GOOD.replace("\"12.3456\"", "\"\"");
        assert_eq!(parse_line(&"a".into(), 1, &empty).unwrap().registered_capital_fen, None);
        let null = GOOD.replace("\"12.3456\"", "null");
        assert_eq!(parse_line(&"a".into(), 1, &null).unwrap().registered_capital_fen, None);
        let number = GOOD.replace("\"12.3456\"", "50");
        assert_eq!(parse_line(&"a".into(), 1, &number).unwrap().registered_capital_fen, Some(50_000_000));
        let absent = GOOD.replace("\"registered_capital_wan\": \"12.3456\", ", "");
        assert_eq!(parse_line(&"a".into(), 1, &absent).unwrap().registered_capital_fen, None);
    }

    #[test]
    fn bad_lines_say_why() {
        let q = parse_line(&"a".into(), 2, r#"{"uscc": "x", "status": "存续""#).unwrap_err();
        assert!(q.reason.starts_with("not valid JSON"), "{q:?}");
        let q = parse_line(&"a".into(), 2, "[1,2]").unwrap_err();
        assert_eq!(q.reason, "not a JSON object");
        let q = parse_line(&"a".into(), 2, &GOOD.replace("\"role\": \"经营者\"", "\"role\": 3")).unwrap_err();
        assert_eq!((q.field.as_str(), q.reason.as_str()), ("role", "field role must be a string"));
        let q = parse_line(&"a".into(), 2, &GOOD.replace("\"12.3456\"", "\"12.34567\"")).unwrap_err();
        assert_eq!(q.field, "registered_capital_wan");
        let q = parse_line(&"a".into(), 2, &GOOD.replace("2022-08-08", "2022-13-08")).unwrap_err();
        assert_eq!((q.field.as_str(), q.raw_value.as_str()), ("established", "2022-13-08"));
        let q = parse_line(&"a".into(), 2, &GOOD.replace("\"uscc\": \"915252K9E4A0000096\", ", "")).unwrap_err();
        assert_eq!(q.reason, "required field uscc is missing");
    }
}
