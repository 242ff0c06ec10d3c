//! housing (住建/不动产) department adapter: property certificates.
//!
//! Reads `<inbox>/<folder>/budongchan_*.csv` (UTF-8 with BOM; DEPARTMENTS.md
//! "housing") into [`Property`] records, one per certificate and owner:
//! `不动产权证号,权利人证件号,权利人姓名,共有情况,用途,建筑面积,登记日期,状态`.
//!
//! Settings (`[sources.housing]`, `type = "housing"`), all optional:
//! - `folder` — folder under the inbox; default: the source code (`housing`);
//! - `pattern` — default `budongchan_*.csv`;
//! - `encoding` — `utf8` (default; a BOM is optional) or `gbk`.
//!
//! IDs and names are carried raw; the other fields are trimmed. 建筑面积 is
//! kept exactly in hundredths of m². A row with a bad area or date, an empty
//! certificate number, or a 共有情况/用途/状态 outside DEPARTMENTS.md's lists
//! is quarantined; the rest of the file is kept.

use std::path::Path;

use hedui_adapter::files::{list_files, non_empty, read_table, Row, TextEncoding};
use hedui_adapter::{text, vocab, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{Property, RecordKind};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "housing";

/// The columns of a 不动产 file, in the order they are read.
const COLUMNS: [&str; 8] = ["不动产权证号", "权利人证件号", "权利人姓名", "共有情况", "用途", "建筑面积", "登记日期", "状态"];

/// Indices into [`COLUMNS`].
const CERTIFICATE_NO: usize = 0;
const OWNER_ID: usize = 1;
const OWNER_NAME: usize = 2;
const SHARING: usize = 3;
const USAGE: usize = 4;
const AREA: usize = 5;
const REGISTERED: usize = 6;
const STATUS: usize = 7;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    folder: Option<String>,
    #[serde(default = "default_pattern")]
    pattern: String,
    #[serde(default = "default_encoding")]
    encoding: String,
}

fn default_pattern() -> String {
    "budongchan_*.csv".to_string()
}
fn default_encoding() -> String {
    "utf8".to_string()
}

/// The housing source.
#[derive(Debug, Clone)]
pub struct Housing {
    code: String,
    folder: String,
    pattern: String,
    encoding: TextEncoding,
}

/// Builds the housing source from its config.
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(Housing::from_config(cfg)?))
}

impl Housing {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let s: Settings = cfg.parse()?;
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        let encoding = s.encoding.parse().map_err(|e| SourceError::Config(format!("[sources.{code}] encoding: {e}")))?;
        Ok(Housing { folder: s.folder.unwrap_or_else(|| code.clone()), code, pattern: s.pattern, encoding })
    }

    fn read_file(&self, cx: &SourceContext, path: &Path, out: &mut SourceOutput) -> Result<(), SourceError> {
        read_table(cx, &self.code, path, self.encoding, b',', &COLUMNS, out, |row, records| {
            records.properties.push(property(row)?);
            Ok(())
        })
    }
}

/// A 不动产 row as a record, fields read in the model's order.
fn property(row: &Row) -> Result<Property, Quarantined> {
    Ok(Property {
        origin: row.origin(),
        certificate_no: row.parse(CERTIFICATE_NO, non_empty)?,
        owner_id_raw: row.cell(OWNER_ID).into(),
        owner_name: row.cell(OWNER_NAME).into(),
        sharing: row.parse(SHARING, |v| vocab::one_of(v, vocab::PROPERTY_SHARING))?,
        usage: row.parse(USAGE, |v| vocab::one_of(v, vocab::PROPERTY_USAGE))?,
        area_centi_m2: row.parse(AREA, parse_area)?,
        registered: row.parse(REGISTERED, text::parse_date)?,
        status: row.parse(STATUS, |v| vocab::one_of(v, vocab::PROPERTY_STATUS))?,
    })
}


/// 建筑面积 in m² (up to 2 decimals) → hundredths of m², exactly; never negative.
pub fn parse_area(raw: &str) -> Result<i64, String> {
    use hedui_core::money::{parse_scaled, MoneyError};
    match parse_scaled(raw, 2) {
        Ok(a) if a < 0 => Err(format!("negative area: {:?}", raw.trim())),
        Ok(a) => Ok(a),
        Err(MoneyError::TooPrecise { raw, .. }) => Err(format!("more than 2 decimals of m²: {raw:?}")),
        Err(MoneyError::Empty) => Err("empty area".to_string()),
        Err(_) => Err(format!("not an area in m²: {:?}", raw.trim())),
    }
}

#[async_trait::async_trait]
impl Source for Housing {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::Property]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let dir = cx.inbox.join(&self.folder);
        let files = list_files(&dir, &self.pattern)?;
        if files.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "{}: no file matches {:?} — the housing delivery is missing; put it there or disable the source",
                dir.display(),
                self.pattern
            )));
        }
        let mut out = SourceOutput::default();
        for (i, path) in files.iter().enumerate() {
            self.read_file(cx, path, &mut out)?;
            cx.progress.update(&self.code, i as u64 + 1, files.len() as u64);
        }
        Ok(out)
    }
}
