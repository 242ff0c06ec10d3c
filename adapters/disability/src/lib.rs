//! disability (残联) department adapter: disability certificates.
//!
//! Reads `<inbox>/<folder>/canlian_*.csv` (UTF-8, BOM optional; DEPARTMENTS.md
//! "disability") into [`DisabilityCert`] records:
//! `残疾证号,身份证号,姓名,残疾类别,残疾等级,有效期至,困难残疾人生活补贴,重度残疾人护理补贴`.
//!
//! Settings (`[sources.disability]`, `type = "disability"`), all optional:
//! - `folder` — folder under the inbox; default: the source code (`disability`);
//! - `pattern` — default `canlian_*.csv`;
//! - `encoding` — `utf8` (default) or `gbk`.
//!
//! IDs and names are carried raw; the other fields are trimmed. 等级 is
//! `一级`…`四级` or `1`…`4`; the subsidies are `是`/`否`. A row with any other
//! level or subsidy value, a bad 有效期至, an empty 残疾证号 or a 类别 outside
//! DEPARTMENTS.md's list is quarantined; the rest of the file is kept.

use std::path::Path;

use hedui_adapter::files::{list_files, non_empty, read_table, Row, TextEncoding};
use hedui_adapter::{text, vocab, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{DisabilityCert, RecordKind};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "disability";

/// The columns of a 残联 file, in the order they are read.
const COLUMNS: [&str; 8] = ["残疾证号", "身份证号", "姓名", "残疾类别", "残疾等级", "有效期至", "困难残疾人生活补贴", "重度残疾人护理补贴"];

/// Indices into [`COLUMNS`].
const CERTIFICATE_NO: usize = 0;
const ID: usize = 1;
const NAME: usize = 2;
const CATEGORY: usize = 3;
const LEVEL: usize = 4;
const VALID_UNTIL: usize = 5;
const LIVING_SUBSIDY: usize = 6;
const CARE_SUBSIDY: usize = 7;

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
    "canlian_*.csv".to_string()
}
fn default_encoding() -> String {
    "utf8".to_string()
}

/// The disability source.
#[derive(Debug, Clone)]
pub struct Disability {
    code: String,
    folder: String,
    pattern: String,
    encoding: TextEncoding,
}

/// Builds the disability source from its config.
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(Disability::from_config(cfg)?))
}

impl Disability {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let s: Settings = cfg.parse()?;
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        let encoding = s.encoding.parse().map_err(|e| SourceError::Config(format!("[sources.{code}] encoding: {e}")))?;
        Ok(Disability { folder: s.folder.unwrap_or_else(|| code.clone()), code, pattern: s.pattern, encoding })
    }

    fn read_file(&self, cx: &SourceContext, path: &Path, out: &mut SourceOutput) -> Result<(), SourceError> {
        read_table(cx, &self.code, path, self.encoding, b',', &COLUMNS, out, |row, records| {
            records.disability.push(certificate(row)?);
            Ok(())
        })
    }
}

/// A 残联 row as a record, fields read in the model's order.
fn certificate(row: &Row) -> Result<DisabilityCert, Quarantined> {
    Ok(DisabilityCert {
        origin: row.origin(),
        certificate_no: row.parse(CERTIFICATE_NO, non_empty)?,
        id_raw: row.cell(ID).into(),
        name: row.cell(NAME).into(),
        category: row.parse(CATEGORY, |v| vocab::one_of(v, vocab::DISABILITY_CATEGORY))?,
        level: row.parse(LEVEL, parse_level)?,
        valid_until: row.parse(VALID_UNTIL, text::parse_date)?,
        living_subsidy: row.parse(LIVING_SUBSIDY, parse_yes_no)?,
        care_subsidy: row.parse(CARE_SUBSIDY, parse_yes_no)?,
    })
}



/// 残疾等级: `一级`…`四级` or `1`…`4`.
pub fn parse_level(raw: &str) -> Result<u8, String> {
    match raw.trim() {
        "一级" | "1" => Ok(1),
        "二级" | "2" => Ok(2),
        "三级" | "3" => Ok(3),
        "四级" | "4" => Ok(4),
        other => Err(format!("not a disability level: {other:?} (expected 一级…四级 or 1…4)")),
    }
}

/// A subsidy flag: `是` → true, `否` → false, anything else refused.
pub fn parse_yes_no(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "是" => Ok(true),
        "否" => Ok(false),
        other => Err(format!("not 是/否: {other:?}")),
    }
}

#[async_trait::async_trait]
impl Source for Disability {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::DisabilityCert]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let dir = cx.inbox.join(&self.folder);
        let files = list_files(&dir, &self.pattern)?;
        if files.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "{}: no file matches {:?} — the disability delivery is missing; put it there or disable the source",
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
