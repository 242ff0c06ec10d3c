//! public_security (公安) department adapter: the 户籍 registry and 机动车 vehicles.
//!
//! Reads, from `<inbox>/<folder>/` (DEPARTMENTS.md "public_security"), GBK CSV
//! files with Chinese headers:
//! - `huji_*.csv` → [`RegistryRow`]:
//!   `户号,公民身份号码,姓名,性别,出生日期,与户主关系,人员状态,状态日期,行政区划`
//!   (dates `YYYYMMDD`; 出生日期 and 状态日期 may be empty → `None`);
//! - `jdc_*.csv` → [`Vehicle`]:
//!   `号牌号码,号牌种类,车辆类型,所有人身份号码,所有人姓名,初次登记日期,机动车状态`
//!   (date `YYYY-MM-DD`).
//!
//! Settings (`[sources.public_security]`, `type = "public_security"`), all optional:
//! - `folder` — folder under the inbox; default: the source code (`public_security`);
//! - `encoding` — `gbk` (default) or `utf8`;
//! - `registry_pattern` — default `huji_*.csv`;
//! - `vehicle_pattern` — default `jdc_*.csv`.
//!
//! Both kinds must be delivered (at least one file each, possibly header-only):
//! a registry without its vehicles, or the reverse, would be half a source.
//! IDs and names are carried raw; the other fields are trimmed. Every date is
//! read with [`text::parse_date`] (any spelling). A row with a bad date, an
//! empty 号牌号码, or a 人员状态/机动车状态 outside DEPARTMENTS.md's lists is
//! quarantined; the rest of the file is kept.

use std::path::Path;

use hedui_adapter::files::{list_files, read_text, Table, TextEncoding};
use hedui_adapter::{text, vocab, AuditEvent, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{Origin, RecordKind, Records, RegistryRow, Vehicle};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "public_security";

/// 户籍 columns, in the order they are read.
const REGISTRY_COLUMNS: [&str; 9] = ["户号", "公民身份号码", "姓名", "性别", "出生日期", "与户主关系", "人员状态", "状态日期", "行政区划"];
/// 机动车 columns, in the order they are read.
const VEHICLE_COLUMNS: [&str; 7] = ["号牌号码", "号牌种类", "车辆类型", "所有人身份号码", "所有人姓名", "初次登记日期", "机动车状态"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    folder: Option<String>,
    #[serde(default = "default_encoding")]
    encoding: String,
    #[serde(default = "default_registry_pattern")]
    registry_pattern: String,
    #[serde(default = "default_vehicle_pattern")]
    vehicle_pattern: String,
}

fn default_encoding() -> String {
    "gbk".to_string()
}
fn default_registry_pattern() -> String {
    "huji_*.csv".to_string()
}
fn default_vehicle_pattern() -> String {
    "jdc_*.csv".to_string()
}

/// The public-security source.
#[derive(Debug, Clone)]
pub struct PublicSecurity {
    code: String,
    folder: String,
    encoding: TextEncoding,
    registry_pattern: String,
    vehicle_pattern: String,
}

/// Builds the public-security source from its config.
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(PublicSecurity::from_config(cfg)?))
}

/// Which file set a file belongs to.
#[derive(Clone, Copy)]
enum Kind {
    Registry,
    Vehicle,
}

impl PublicSecurity {
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let s: Settings = cfg.parse()?;
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        let encoding = s.encoding.parse().map_err(|e| SourceError::Config(format!("[sources.{code}] encoding: {e}")))?;
        Ok(PublicSecurity {
            folder: s.folder.unwrap_or_else(|| code.clone()),
            code,
            encoding,
            registry_pattern: s.registry_pattern,
            vehicle_pattern: s.vehicle_pattern,
        })
    }

    fn read_file(&self, cx: &SourceContext, path: &Path, kind: Kind, out: &mut SourceOutput) -> Result<(), SourceError> {
        let text = match read_text(path, self.encoding) {
            Err(SourceError::BadFile { .. }) if self.encoding == TextEncoding::Gbk && looks_like_utf8(path) => return Err(utf8_not_gbk(path)),
            other => other?,
        };
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        cx.audit.record(AuditEvent::new(&self.code, "file_read", file_name));
        out.stats.files += 1;
        let required: &[&str] = match kind {
            Kind::Registry => &REGISTRY_COLUMNS,
            Kind::Vehicle => &VEHICLE_COLUMNS,
        };
        let table = match Table::parse(path, &text, b',', required) {
            // UTF-8 Chinese may also decode as (wrong) GBK without error: name the likely cause.
            Err(SourceError::MissingColumns { .. }) if self.encoding == TextEncoding::Gbk && looks_like_utf8(path) => return Err(utf8_not_gbk(path)),
            other => other?,
        };
        out.stats.rows_read += (table.rows.len() + table.malformed.len()) as u64;
        if table.rows.is_empty() && table.malformed.is_empty() {
            out.notes.push(format!("{}/{} had no data rows", self.code, table.file_name));
        }
        let mut quarantine: Vec<Quarantined> = table
            .malformed
            .iter()
            .map(|(line, why)| Quarantined { file: table.file_name.clone(), line: *line, field: String::new(), raw_value: String::new(), reason: why.clone() })
            .collect();
        for (line, rec) in &table.rows {
            let row = Row { table: &table, line: *line, rec };
            if let Err(q) = row.read(kind, &mut out.records) {
                quarantine.push(q);
            }
        }
        quarantine.sort_by_key(|q| q.line);
        out.quarantine.extend(quarantine);
        Ok(())
    }
}

/// One data row of a 户籍 or 机动车 file.
struct Row<'a> {
    table: &'a Table,
    line: u64,
    rec: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The raw cell under `header` (checked present at parse).
    fn cell(&self, header: &str) -> &str {
        self.rec.get(self.table.col(header)).unwrap_or("")
    }

    /// The trimmed cell under `header`.
    fn text(&self, header: &str) -> String {
        self.cell(header).trim().to_string()
    }

    /// Parses the cell under `header`, or quarantines the row naming it.
    fn parse<T>(&self, header: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Quarantined> {
        let raw = self.cell(header);
        f(raw).map_err(|reason| Quarantined { file: self.table.file_name.clone(), line: self.line, field: header.to_string(), raw_value: raw.to_string(), reason })
    }

    /// Appends the row's record, fields read in the model's order.
    fn read(&self, kind: Kind, records: &mut Records) -> Result<(), Quarantined> {
        let origin = Origin::new(self.table.file_name.clone(), self.line);
        match kind {
            Kind::Registry => records.registry.push(RegistryRow {
                origin,
                household_no: self.text("户号"),
                id_raw: self.cell("公民身份号码").to_string(),
                name: self.cell("姓名").to_string(),
                gender: self.text("性别"),
                birth_date: self.parse("出生日期", text::parse_opt_date)?,
                relation: self.text("与户主关系"),
                status: self.parse("人员状态", |v| vocab::one_of(v, vocab::REGISTRY_STATUS))?,
                status_date: self.parse("状态日期", text::parse_opt_date)?,
                region: self.text("行政区划"),
            }),
            Kind::Vehicle => records.vehicles.push(Vehicle {
                origin,
                plate: self.parse("号牌号码", non_empty)?,
                plate_kind: self.text("号牌种类"),
                vehicle_type: self.text("车辆类型"),
                owner_id_raw: self.cell("所有人身份号码").to_string(),
                owner_name: self.cell("所有人姓名").to_string(),
                first_registered: self.parse("初次登记日期", text::parse_date)?,
                status: self.parse("机动车状态", |v| vocab::one_of(v, vocab::VEHICLE_STATUS))?,
            }),
        }
        Ok(())
    }
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

/// A record key must not be empty.
fn non_empty(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() {
        Err("empty record key".to_string())
    } else {
        Ok(v.to_string())
    }
}

#[async_trait::async_trait]
impl Source for PublicSecurity {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::Registry, RecordKind::Vehicle]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let dir = cx.inbox.join(&self.folder);
        let registry = list_files(&dir, &self.registry_pattern)?;
        let vehicles = list_files(&dir, &self.vehicle_pattern)?;
        let missing: Vec<&str> = [(&registry, &self.registry_pattern), (&vehicles, &self.vehicle_pattern)]
            .iter()
            .filter(|(files, _)| files.is_empty())
            .map(|(_, p)| p.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "{}: no file matches {} — the public-security delivery is incomplete; put it there or disable the source",
                dir.display(),
                missing.join(" nor ")
            )));
        }
        let total = (registry.len() + vehicles.len()) as u64;
        let mut out = SourceOutput::default();
        let all = registry.iter().map(|p| (p, Kind::Registry)).chain(vehicles.iter().map(|p| (p, Kind::Vehicle)));
        for (i, (path, kind)) in all.enumerate() {
            self.read_file(cx, path, kind, &mut out)?;
            cx.progress.update(&self.code, i as u64 + 1, total);
        }
        Ok(out)
    }
}
