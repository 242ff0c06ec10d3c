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

use hedui_adapter::files::{list_files, non_empty, read_table, Row, TextEncoding};
use hedui_adapter::{text, vocab, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{RecordKind, RegistryRow, Vehicle};
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "public_security";

/// 户籍 columns, in the order they are read.
const REGISTRY_COLUMNS: [&str; 9] = ["户号", "公民身份号码", "姓名", "性别", "出生日期", "与户主关系", "人员状态", "状态日期", "行政区划"];
/// 机动车 columns, in the order they are read.
const VEHICLE_COLUMNS: [&str; 7] = ["号牌号码", "号牌种类", "车辆类型", "所有人身份号码", "所有人姓名", "初次登记日期", "机动车状态"];

/// Indices into [`REGISTRY_COLUMNS`].
const R_HOUSEHOLD_NO: usize = 0;
const R_ID: usize = 1;
const R_NAME: usize = 2;
const R_GENDER: usize = 3;
const R_BIRTH: usize = 4;
const R_RELATION: usize = 5;
const R_STATUS: usize = 6;
const R_STATUS_DATE: usize = 7;
const R_REGION: usize = 8;
/// Indices into [`VEHICLE_COLUMNS`].
const V_PLATE: usize = 0;
const V_PLATE_KIND: usize = 1;
const V_TYPE: usize = 2;
const V_OWNER_ID: usize = 3;
const V_OWNER_NAME: usize = 4;
const V_FIRST_REGISTERED: usize = 5;
const V_STATUS: usize = 6;

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
        let required: &[&str] = match kind {
            Kind::Registry => &REGISTRY_COLUMNS,
            Kind::Vehicle => &VEHICLE_COLUMNS,
        };
        read_table(cx, &self.code, path, self.encoding, b',', required, out, |row, records| {
            match kind {
                Kind::Registry => records.registry.push(registry_row(row)?),
                Kind::Vehicle => records.vehicles.push(vehicle(row)?),
            }
            Ok(())
        })
    }
}

/// A 户籍 row as a record, fields read in the model's order.
fn registry_row(row: &Row) -> Result<RegistryRow, Quarantined> {
    Ok(RegistryRow {
        origin: row.origin(),
        household_no: row.text(R_HOUSEHOLD_NO),
        id_raw: row.cell(R_ID).into(),
        name: row.cell(R_NAME).into(),
        gender: row.text(R_GENDER),
        birth_date: row.parse(R_BIRTH, text::parse_opt_date)?,
        relation: row.text(R_RELATION),
        status: row.parse(R_STATUS, |v| vocab::one_of(v, vocab::REGISTRY_STATUS))?,
        status_date: row.parse(R_STATUS_DATE, text::parse_opt_date)?,
        region: row.text(R_REGION),
    })
}

/// A 机动车 row as a record.
fn vehicle(row: &Row) -> Result<Vehicle, Quarantined> {
    Ok(Vehicle {
        origin: row.origin(),
        plate: row.parse(V_PLATE, non_empty)?,
        plate_kind: row.text(V_PLATE_KIND),
        vehicle_type: row.text(V_TYPE),
        owner_id_raw: row.cell(V_OWNER_ID).into(),
        owner_name: row.cell(V_OWNER_NAME).into(),
        first_registered: row.parse(V_FIRST_REGISTERED, text::parse_date)?,
        status: row.parse(V_STATUS, |v| vocab::one_of(v, vocab::VEHICLE_STATUS))?,
    })
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
