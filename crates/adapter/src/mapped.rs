//! The generic, configuration-driven file adapter (`type = "mapped_file"`).
//!
//! A department that delivers a delimited text file of flat rows can be added
//! without code: the configuration names the files, their encoding and
//! delimiter, the line of the header, which canonical record each row becomes,
//! which source column feeds each canonical field, and how source values map
//! to canonical ones. For example (see `config/sources/*.mapped.toml`):
//!
//! ```toml
//! [sources.disability]
//! type = "mapped_file"
//! pattern = "canlian_*.csv"
//! record = "disability_cert"
//! [sources.disability.columns]
//! certificate_no = "残疾证号"
//! level = "残疾等级"
//! # …
//! [sources.disability.value_maps.level]
//! "一级" = "1"
//! ```
//!
//! Settings ([`MappedConfig`]): `folder` (default: the source code, under the
//! inbox), `pattern` (required), `encoding` (`utf8` | `gbk`, default utf8),
//! `delimiter` (default `,`), `header_row` (1-based line of the header, lines
//! above skipped, default 1), `record` (required, [`MappedRecord`]), `columns`
//! (canonical field → source header), `value_maps` (canonical field → {source
//! value → canonical value}), `date_formats` (chrono formats tried in order;
//! default: every spelling [`crate::text::parse_date`] knows), `amount_unit`
//! (`yuan` | `wan_yuan` | `fen`, default yuan).
//!
//! Reading a value: the cell is looked up (trimmed) in the field's value map;
//! a hit replaces it, a miss keeps it. IDs and names are then carried raw
//! (untrimmed, as the model requires); every other field is trimmed and parsed
//! by the field's type. The canonical checks are the coded adapters' own
//! (closed vocabularies of [`crate::vocab`], levels 1–4, non-negative areas,
//! non-empty record keys), so a mapping of a coded department's file gives
//! exactly the coded adapter's records.
//!
//! Configuration errors are all collected into one [`SourceError::Config`]; a
//! file lacking mapped columns fails the source listing every missing column
//! with its canonical field; a bad value quarantines its row naming the
//! canonical field and the source header.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use hedui_core::model::{FileName, Text, 
    BankBalance, BusinessRole, Currency, DisabilityCert, InsuranceEnrollment, MedicalVisit, Origin, Property, RecordKind, Records, RegistryRow,
    Vehicle,
};
use hedui_core::money::{self, Fen};
use serde::{Deserialize, Deserializer};

use crate::files::{self, list_files, DelimitedReader, TextEncoding};
use crate::{text, vocab, AuditEvent, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "mapped_file";

/// Which canonical record each row becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedRecord {
    DisabilityCert,
    Property,
    Registry,
    Vehicle,
    MedicalVisit,
    InsuranceEnrollment,
    BusinessRole,
    BankBalance,
}

impl MappedRecord {
    /// The configuration spelling (`disability_cert` …).
    pub fn name(self) -> &'static str {
        match self {
            MappedRecord::DisabilityCert => "disability_cert",
            MappedRecord::Property => "property",
            MappedRecord::Registry => "registry",
            MappedRecord::Vehicle => "vehicle",
            MappedRecord::MedicalVisit => "medical_visit",
            MappedRecord::InsuranceEnrollment => "insurance_enrollment",
            MappedRecord::BusinessRole => "business_role",
            MappedRecord::BankBalance => "bank_balance",
        }
    }

    /// The canonical kind yielded (as a static slice for [`Source::kinds`]).
    pub fn kinds(self) -> &'static [RecordKind] {
        match self {
            MappedRecord::DisabilityCert => &[RecordKind::DisabilityCert],
            MappedRecord::Property => &[RecordKind::Property],
            MappedRecord::Registry => &[RecordKind::Registry],
            MappedRecord::Vehicle => &[RecordKind::Vehicle],
            MappedRecord::MedicalVisit => &[RecordKind::MedicalVisit],
            MappedRecord::InsuranceEnrollment => &[RecordKind::InsuranceEnrollment],
            MappedRecord::BusinessRole => &[RecordKind::BusinessRole],
            MappedRecord::BankBalance => &[RecordKind::BankBalance],
        }
    }

    /// The canonical fields a mapping may name, in the record's field order.
    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            MappedRecord::DisabilityCert => DISABILITY_FIELDS,
            MappedRecord::Property => PROPERTY_FIELDS,
            MappedRecord::Registry => REGISTRY_FIELDS,
            MappedRecord::Vehicle => VEHICLE_FIELDS,
            MappedRecord::MedicalVisit => MEDICAL_FIELDS,
            MappedRecord::InsuranceEnrollment => INSURANCE_FIELDS,
            MappedRecord::BusinessRole => BUSINESS_FIELDS,
            MappedRecord::BankBalance => BANK_FIELDS,
        }
    }
}

/// One canonical field a mapping can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Canonical field name (the model's field name).
    pub name: &'static str,
    /// May be left out of `columns` (the field is then `None`).
    pub optional: bool,
    /// What the value must be, for error messages and docs.
    pub about: &'static str,
}

const fn f(name: &'static str, about: &'static str) -> FieldSpec {
    FieldSpec { name, optional: false, about }
}
const fn opt(name: &'static str, about: &'static str) -> FieldSpec {
    FieldSpec { name, optional: true, about }
}

const ID: &str = "ID, carried raw";
const NAME: &str = "name, carried raw";
const KEY: &str = "text, not empty";
const TEXT: &str = "text";
const DATE: &str = "date";
const OPT_DATE: &str = "date or empty";
const MONEY: &str = "amount in amount_unit";

const DISABILITY_FIELDS: &[FieldSpec] = &[
    f("certificate_no", KEY),
    f("id_raw", ID),
    f("name", NAME),
    f("category", "视力/听力/言语/肢体/智力/精神/多重"),
    f("level", "1..4 (map 一级 → 1)"),
    f("valid_until", DATE),
    f("living_subsidy", "true/false (map 是 → true)"),
    f("care_subsidy", "true/false (map 是 → true)"),
];
const PROPERTY_FIELDS: &[FieldSpec] = &[
    f("certificate_no", KEY),
    f("owner_id_raw", ID),
    f("owner_name", NAME),
    f("sharing", "单独所有/共同共有/按份共有"),
    f("usage", "住宅/商业/办公/工业/其他"),
    f("area_centi_m2", "area in m², up to 2 decimals"),
    f("registered", DATE),
    f("status", "现势/注销/查封"),
];
const REGISTRY_FIELDS: &[FieldSpec] = &[
    f("household_no", TEXT),
    f("id_raw", ID),
    f("name", NAME),
    f("gender", TEXT),
    opt("birth_date", OPT_DATE),
    f("relation", TEXT),
    f("status", "正常/死亡/服刑/迁出"),
    opt("status_date", OPT_DATE),
    f("region", TEXT),
];
const VEHICLE_FIELDS: &[FieldSpec] = &[
    f("plate", KEY),
    f("plate_kind", TEXT),
    f("vehicle_type", TEXT),
    f("owner_id_raw", ID),
    f("owner_name", NAME),
    f("first_registered", DATE),
    f("status", "正常/注销/报废/查封"),
];
const MEDICAL_FIELDS: &[FieldSpec] = &[
    f("serial", KEY),
    f("id_raw", ID),
    f("name", NAME),
    f("visit_date", DATE),
    f("total_fen", MONEY),
    f("pooled_fen", MONEY),
    f("self_paid_fen", MONEY),
];
const INSURANCE_FIELDS: &[FieldSpec] = &[
    f("id_raw", ID),
    f("name", NAME),
    f("insurance_type", "职工医保/城乡居民医保"),
    f("year", "year YYYY"),
    f("status", "参保/停保/终止"),
];
const BUSINESS_FIELDS: &[FieldSpec] = &[
    f("uscc", KEY),
    f("entity_name", TEXT),
    f("entity_type", "企业/个体工商户"),
    f("status", "存续/注销/吊销"),
    opt("registered_capital_fen", "amount in amount_unit, or empty = unknown"),
    f("person_id_raw", ID),
    f("person_name", NAME),
    f("role", "法定代表人/股东/经营者"),
    f("established", DATE),
];
const BANK_FIELDS: &[FieldSpec] = &[
    f("id_raw", ID),
    f("name", NAME),
    f("institution", TEXT),
    f("account", KEY),
    f("account_type", "活期存款/定期存款/理财产品/证券资产"),
    f("currency", "CNY/USD (map 人民币 → CNY)"),
    f("balance_cents", MONEY),
    f("balance_date", DATE),
];

/// Unit of the amount columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountUnit {
    /// Yuan with up to 2 decimals (thousands separators allowed).
    #[default]
    Yuan,
    /// 万元 with up to 4 decimals.
    WanYuan,
    /// Whole fen.
    Fen,
}

/// The settings of a `mapped_file` source (everything under
/// `[sources.<code>]` except `type` and `enabled`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappedConfig {
    /// Folder under the inbox; default: the source code.
    #[serde(default)]
    pub folder: Option<String>,
    /// File name pattern (`*` wildcards), e.g. `canlian_*.csv`.
    pub pattern: String,
    #[serde(default = "default_encoding", deserialize_with = "de_encoding")]
    pub encoding: TextEncoding,
    /// One character; default `,`.
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// 1-based line of the header; the lines above are skipped. Default 1.
    #[serde(default = "default_header_row", deserialize_with = "de_number")]
    pub header_row: u64,
    pub record: MappedRecord,
    /// Canonical field → source column header.
    pub columns: BTreeMap<String, String>,
    /// Canonical field → { source value → canonical value }.
    #[serde(default)]
    pub value_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// chrono formats (`%Y%m%d` …) tried in order; empty = [`text::parse_date`].
    #[serde(default)]
    pub date_formats: Vec<String>,
    #[serde(default)]
    pub amount_unit: AmountUnit,
}

fn default_encoding() -> TextEncoding {
    TextEncoding::Utf8
}
fn default_delimiter() -> String {
    ",".to_string()
}
fn default_header_row() -> u64 {
    1
}

fn de_encoding<'de, D: Deserializer<'de>>(d: D) -> Result<TextEncoding, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// A number, or a numeric string (environment overrides arrive as strings).
fn de_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Str(String),
    }
    match N::deserialize(d)? {
        N::Num(n) => Ok(n),
        N::Str(s) => s.trim().parse().map_err(|_| serde::de::Error::custom(format!("not a line number: {s:?}"))),
    }
}

/// A `mapped_file` source, its configuration checked.
#[derive(Debug, Clone)]
pub struct MappedSource {
    code: String,
    folder: String,
    pattern: String,
    encoding: TextEncoding,
    delimiter: u8,
    header_row: u64,
    record: MappedRecord,
    /// (canonical field, source header), in the record's field order.
    columns: Vec<(&'static str, String)>,
    value_maps: BTreeMap<String, BTreeMap<String, String>>,
    date_formats: Vec<String>,
    amount_unit: AmountUnit,
}

/// Builds a `mapped_file` source from its config (the registry's factory).
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(MappedSource::from_config(cfg)?))
}

impl MappedSource {
    /// Reads and checks the settings, reporting every problem at once.
    pub fn from_config(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let c: MappedConfig = cfg.parse()?;
        let mut errors: Vec<String> = Vec::new();
        let specs = c.record.fields();
        let known = || specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");

        for field in c.columns.keys() {
            if !specs.iter().any(|s| s.name == field) {
                errors.push(format!("columns.{field}: {} has no field {field:?} (fields: {})", c.record.name(), known()));
            }
        }
        for (field, header) in &c.columns {
            if header.trim().is_empty() {
                errors.push(format!("columns.{field}: empty column header"));
            }
        }
        for s in specs.iter().filter(|s| !s.optional && !c.columns.contains_key(s.name)) {
            errors.push(format!("columns.{}: required for {} ({}) — name the source column that holds it", s.name, c.record.name(), s.about));
        }
        for field in c.value_maps.keys() {
            if !specs.iter().any(|s| s.name == field) {
                errors.push(format!("value_maps.{field}: {} has no field {field:?} (fields: {})", c.record.name(), known()));
            }
        }
        let delimiter = match c.delimiter.as_str() {
            "tab" | "\\t" => Some(b'\t'),
            d if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            d => {
                errors.push(format!("delimiter: {d:?} must be a single ASCII character (\",\", \"|\", \"\\t\" …)"));
                None
            }
        };
        if c.header_row == 0 {
            errors.push("header_row: lines are counted from 1".to_string());
        }
        for fmt in &c.date_formats {
            let bad = chrono::format::StrftimeItems::new(fmt).any(|i| matches!(i, chrono::format::Item::Error));
            if bad || fmt.trim().is_empty() {
                errors.push(format!("date_formats: {fmt:?} is not a valid chrono format (e.g. \"%Y%m%d\")"));
            }
        }
        if c.pattern.trim().is_empty() {
            errors.push("pattern: empty (e.g. \"canlian_*.csv\")".to_string());
        }
        let folder = c.folder.clone().unwrap_or_else(|| cfg.code.clone());
        if folder.trim().is_empty() {
            errors.push("folder: not set and the source has no code to default to".to_string());
        }
        if !errors.is_empty() {
            return Err(SourceError::Config(format!("[sources.{}] (mapped_file): {}", cfg.code, errors.join("; "))));
        }

        let columns = specs.iter().filter_map(|s| c.columns.get(s.name).map(|h| (s.name, h.trim().to_string()))).collect();
        Ok(MappedSource {
            code: cfg.code.clone(),
            folder,
            pattern: c.pattern,
            encoding: c.encoding,
            delimiter: delimiter.expect("checked above"),
            header_row: c.header_row,
            record: c.record,
            columns,
            value_maps: c.value_maps,
            date_formats: c.date_formats,
            amount_unit: c.amount_unit,
        })
    }

    /// Reads one file into `out`, as a stream (see [`crate::files`]): rows
    /// are turned into records one at a time.
    fn read_file(&self, cx: &SourceContext, path: &std::path::Path, out: &mut SourceOutput) -> Result<(), SourceError> {
        let skip = self.header_row - 1;
        let mut reader = DelimitedReader::open_skipping(path, self.encoding, self.delimiter, skip)?;
        let file_name = files::file_name(path);
        // The audit line is written once the file decoded cleanly (at the end,
        // or when its header is refused), as when it was decoded whole first.
        let file_read = |out: &mut SourceOutput| {
            cx.audit.record(AuditEvent::new(&self.code, "file_read", file_name.clone()));
            out.stats.files += 1;
        };

        let Some(headers) = reader.header()? else {
            file_read(out);
            if reader.short_of_lines() {
                return Err(SourceError::BadFile {
                    path: path.to_path_buf(),
                    message: format!("header_row = {} but the file has fewer lines: check header_row for this source", self.header_row),
                });
            }
            return Err(files::no_header(path));
        };
        let missing: Vec<String> =
            self.columns.iter().filter(|(_, h)| !headers.iter().any(|x| x == h)).map(|(f, h)| format!("{h} (for {f})")).collect();
        if !missing.is_empty() {
            reader.drain()?;
            file_read(out);
            return Err(SourceError::MissingColumns { path: path.to_path_buf(), missing, found: headers });
        }
        let index: Vec<(&'static str, &str, usize)> =
            self.columns.iter().map(|(f, h)| (*f, h.as_str(), headers.iter().position(|x| x == h).expect("checked above"))).collect();

        let file: FileName = FileName::from(file_name.as_str());
        let mut rows: u64 = 0;
        while let Some((line, rec)) = reader.next_row()? {
            rows += 1;
            let line = line + skip;
            let refused = match rec {
                Ok(rec) => {
                    let row = Row { src: self, index: &index, rec, origin: Origin { file: file.clone(), line } };
                    row.build(&mut out.records).err().map(|bad| Quarantined {
                        file: file_name.clone(),
                        line,
                        field: format!("{} ({})", bad.field, bad.header),
                        raw_value: bad.raw,
                        reason: bad.reason,
                    })
                }
                Err(why) => Some(Quarantined { file: file_name.clone(), line, field: String::new(), raw_value: String::new(), reason: why }),
            };
            out.quarantine.extend(refused);
        }
        file_read(out);
        out.stats.rows_read += rows;
        if rows == 0 {
            out.notes.push(format!("{}/{file_name} had no data rows", self.code));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Source for MappedSource {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        self.record.kinds()
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let dir = cx.inbox.join(&self.folder);
        let files = list_files(&dir, &self.pattern)?;
        if files.is_empty() {
            return Err(SourceError::Unavailable(format!(
                "{}: no file matches {:?} — the delivery is missing; put it there or disable the source",
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

/// Why a value could not be read.
struct Bad {
    field: &'static str,
    header: String,
    raw: String,
    reason: String,
}

/// One data row seen through the mapping.
struct Row<'a> {
    src: &'a MappedSource,
    /// (canonical field, source header, column index)
    index: &'a [(&'static str, &'a str, usize)],
    rec: &'a csv::StringRecord,
    origin: Origin,
}

impl Row<'_> {
    /// (header, raw cell) of a mapped field; `None` when it is not mapped.
    fn cell(&self, field: &'static str) -> Option<(&str, &str)> {
        self.index.iter().find(|(f, _, _)| *f == field).map(|(_, h, i)| (*h, self.rec.get(*i).unwrap_or("")))
    }

    /// The value after the field's value map (trimmed, or raw when `keep_raw`
    /// and no map entry applies), with the header and raw cell for errors.
    fn value(&self, field: &'static str, keep_raw: bool) -> Option<(String, &str, &str)> {
        let (header, raw) = self.cell(field)?;
        let mapped = self.src.value_maps.get(field).and_then(|m| m.get(raw.trim()));
        let v = match mapped {
            Some(m) => m.clone(),
            None if keep_raw => raw.to_string(),
            None => raw.trim().to_string(),
        };
        Some((v, header, raw))
    }

    /// Reads a required field with `parse`.
    fn get<T>(&self, field: &'static str, keep_raw: bool, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Bad> {
        let (v, header, raw) = self.value(field, keep_raw).expect("required fields are mapped (checked at config)");
        parse(&v).map_err(|reason| Bad { field, header: header.to_string(), raw: raw.to_string(), reason })
    }

    /// Reads an optional field: unmapped or empty → `None`.
    fn get_opt<T>(&self, field: &'static str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, Bad> {
        match self.value(field, false) {
            None => Ok(None),
            Some((v, _, _)) if v.is_empty() => Ok(None),
            Some(_) => self.get(field, false, parse).map(Some),
        }
    }

    fn raw(&self, field: &'static str) -> Result<Text, Bad> {
        self.get(field, true, |v| Ok(Text::from(v)))
    }
    fn text(&self, field: &'static str) -> Result<Text, Bad> {
        self.get(field, false, |v| Ok(Text::from(v)))
    }
    fn key(&self, field: &'static str) -> Result<Text, Bad> {
        self.get(field, false, |v| if v.is_empty() { Err("empty record key".to_string()) } else { Ok(Text::from(v)) })
    }
    fn one_of(&self, field: &'static str, allowed: &[&str]) -> Result<Text, Bad> {
        self.get(field, false, |v| vocab::one_of(v, allowed))
    }
    fn date(&self, field: &'static str) -> Result<NaiveDate, Bad> {
        self.get(field, false, |v| self.parse_date(v))
    }
    fn opt_date(&self, field: &'static str) -> Result<Option<NaiveDate>, Bad> {
        self.get_opt(field, |v| self.parse_date(v))
    }
    fn money(&self, field: &'static str) -> Result<Fen, Bad> {
        self.get(field, false, |v| self.parse_amount(v))
    }
    fn opt_money(&self, field: &'static str) -> Result<Option<Fen>, Bad> {
        self.get_opt(field, |v| self.parse_amount(v))
    }
    fn area(&self, field: &'static str) -> Result<i64, Bad> {
        self.get(field, false, parse_area)
    }
    fn level(&self, field: &'static str) -> Result<u8, Bad> {
        self.get(field, false, |v| match v.parse::<u8>() {
            Ok(n @ 1..=4) => Ok(n),
            _ => Err(format!("not a disability level 1–4: {v:?}")),
        })
    }
    fn yes_no(&self, field: &'static str) -> Result<bool, Bad> {
        self.get(field, false, |v| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("not a yes/no value: {v:?} (map the department's values to true/false in value_maps.{field})")),
        })
    }
    fn year(&self, field: &'static str) -> Result<i32, Bad> {
        self.get(field, false, |v| match v.parse::<i32>() {
            Ok(y) if v.len() == 4 => Ok(y),
            _ => Err(format!("not a year (YYYY): {v:?}")),
        })
    }
    fn currency(&self, field: &'static str) -> Result<Currency, Bad> {
        self.get(field, false, |v| match v {
            "CNY" => Ok(Currency::Cny),
            "USD" => Ok(Currency::Usd),
            _ => Err(format!("unknown currency {v:?} (expected CNY/USD; map others in value_maps.{field})")),
        })
    }

    fn parse_date(&self, v: &str) -> Result<NaiveDate, String> {
        if self.src.date_formats.is_empty() {
            return text::parse_date(v);
        }
        self.src
            .date_formats
            .iter()
            .find_map(|fmt| NaiveDate::parse_from_str(v, fmt).ok())
            .ok_or_else(|| format!("not a date in the formats {:?}: {v:?}", self.src.date_formats))
    }

    fn parse_amount(&self, v: &str) -> Result<Fen, String> {
        let r = match self.src.amount_unit {
            AmountUnit::Yuan => money::parse_yuan(v),
            AmountUnit::WanYuan => money::parse_wan_yuan(v),
            AmountUnit::Fen => money::parse_scaled(v, 0),
        };
        r.map_err(|e| e.to_string())
    }

    /// Builds the configured record, field by field in the model's order
    /// (the first bad field quarantines the row), and appends it.
    fn build(&self, r: &mut Records) -> Result<(), Bad> {
        let origin = self.origin.clone();
        match self.src.record {
            MappedRecord::DisabilityCert => r.disability.push(DisabilityCert {
                origin,
                certificate_no: self.key("certificate_no")?,
                id_raw: self.raw("id_raw")?,
                name: self.raw("name")?,
                category: self.one_of("category", vocab::DISABILITY_CATEGORY)?,
                level: self.level("level")?,
                valid_until: self.date("valid_until")?,
                living_subsidy: self.yes_no("living_subsidy")?,
                care_subsidy: self.yes_no("care_subsidy")?,
            }),
            MappedRecord::Property => r.properties.push(Property {
                origin,
                certificate_no: self.key("certificate_no")?,
                owner_id_raw: self.raw("owner_id_raw")?,
                owner_name: self.raw("owner_name")?,
                sharing: self.one_of("sharing", vocab::PROPERTY_SHARING)?,
                usage: self.one_of("usage", vocab::PROPERTY_USAGE)?,
                area_centi_m2: self.area("area_centi_m2")?,
                registered: self.date("registered")?,
                status: self.one_of("status", vocab::PROPERTY_STATUS)?,
            }),
            MappedRecord::Registry => r.registry.push(RegistryRow {
                origin,
                household_no: self.text("household_no")?,
                id_raw: self.raw("id_raw")?,
                name: self.raw("name")?,
                gender: self.text("gender")?,
                birth_date: self.opt_date("birth_date")?,
                relation: self.text("relation")?,
                status: self.one_of("status", vocab::REGISTRY_STATUS)?,
                status_date: self.opt_date("status_date")?,
                region: self.text("region")?,
            }),
            MappedRecord::Vehicle => r.vehicles.push(Vehicle {
                origin,
                plate: self.key("plate")?,
                plate_kind: self.text("plate_kind")?,
                vehicle_type: self.text("vehicle_type")?,
                owner_id_raw: self.raw("owner_id_raw")?,
                owner_name: self.raw("owner_name")?,
                first_registered: self.date("first_registered")?,
                status: self.one_of("status", vocab::VEHICLE_STATUS)?,
            }),
            MappedRecord::MedicalVisit => r.medical_visits.push(MedicalVisit {
                origin,
                serial: self.key("serial")?,
                id_raw: self.raw("id_raw")?,
                name: self.raw("name")?,
                visit_date: self.date("visit_date")?,
                total_fen: self.money("total_fen")?,
                pooled_fen: self.money("pooled_fen")?,
                self_paid_fen: self.money("self_paid_fen")?,
            }),
            MappedRecord::InsuranceEnrollment => r.insurance.push(InsuranceEnrollment {
                origin,
                id_raw: self.raw("id_raw")?,
                name: self.raw("name")?,
                insurance_type: self.one_of("insurance_type", vocab::INSURANCE_TYPE)?,
                year: self.year("year")?,
                status: self.one_of("status", vocab::INSURANCE_STATUS)?,
            }),
            MappedRecord::BusinessRole => r.business.push(BusinessRole {
                origin,
                uscc: self.key("uscc")?,
                entity_name: self.text("entity_name")?,
                entity_type: self.one_of("entity_type", vocab::ENTITY_TYPE)?,
                status: self.one_of("status", vocab::BUSINESS_STATUS)?,
                registered_capital_fen: self.opt_money("registered_capital_fen")?,
                person_id_raw: self.raw("person_id_raw")?,
                person_name: self.raw("person_name")?,
                role: self.one_of("role", vocab::BUSINESS_ROLE)?,
                established: self.date("established")?,
            }),
            MappedRecord::BankBalance => r.bank_balances.push(BankBalance {
                origin,
                id_raw: self.raw("id_raw")?,
                name: self.raw("name")?,
                institution: self.text("institution")?,
                account: self.key("account")?,
                account_type: self.one_of("account_type", vocab::ACCOUNT_TYPE)?,
                currency: self.currency("currency")?,
                balance_cents: self.money("balance_cents")?,
                balance_date: self.date("balance_date")?,
            }),
        }
        Ok(())
    }
}

/// 建筑面积 in m² (up to 2 decimals) → hundredths of m², exactly; never negative.
pub fn parse_area(v: &str) -> Result<i64, String> {
    match money::parse_scaled(v, 2) {
        Ok(a) if a < 0 => Err(format!("negative area: {:?}", v.trim())),
        Ok(a) => Ok(a),
        Err(money::MoneyError::TooPrecise { raw, .. }) => Err(format!("more than 2 decimals of m²: {raw:?}")),
        Err(money::MoneyError::Empty) => Err("empty area".to_string()),
        Err(_) => Err(format!("not an area in m²: {:?}", v.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{check_source_compliance, test_context};
    use serde_json::json;

    fn config(code: &str, settings: serde_json::Value) -> SourceConfig {
        let settings = settings.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        SourceConfig { code: code.to_string(), kind: TYPE_NAME.to_string(), enabled: true, settings }
    }

    fn fixtures() -> std::path::PathBuf {
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/mapped")).to_path_buf()
    }

    #[test]
    fn config_errors_are_all_reported() {
        let cfg = config(
            "gjj",
            json!({
                "pattern": "*.csv", "record": "bank_balance", "delimiter": "||", "header_row": 0,
                "columns": {"id_raw": "证件号", "acount": "账号"},
                "value_maps": {"curency": {"人民币": "CNY"}},
                "date_formats": ["%Y-%Q"]
            }),
        );
        let err = MappedSource::from_config(&cfg).unwrap_err().to_string();
        for part in [
            "columns.acount: bank_balance has no field",
            "columns.name: required",
            "columns.account: required",
            "columns.balance_date: required",
            "value_maps.curency",
            "delimiter",
            "header_row",
            "date_formats: \"%Y-%Q\"",
        ] {
            assert!(err.contains(part), "missing {part:?} in: {err}");
        }
        let err = MappedSource::from_config(&config("x", json!({"pattern": "*", "record": "property", "columns": {}, "colums": {}})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("colums"), "{err}");
        let err = MappedSource::from_config(&config("x", json!({"pattern": "*", "record": "pension", "columns": {}}))).unwrap_err().to_string();
        assert!(err.contains("pension"), "{err}");
    }

    #[test]
    fn areas_are_exact() {
        assert_eq!(parse_area("113.67"), Ok(11367));
        assert_eq!(parse_area("88"), Ok(8800));
        assert_eq!(parse_area("1,024.5"), Ok(102450));
        assert!(parse_area("-3").unwrap_err().contains("negative"));
        assert!(parse_area("12.345").unwrap_err().contains("2 decimals"));
        assert!(parse_area("约90").unwrap_err().contains("not an area"));
    }

    /// A provident-fund (公积金) deposit file: GBK, `|`-delimited, a title
    /// line above the header, dates as `YYYY.MM.DD`, amounts in yuan, its own
    /// words for account type and currency — read into `bank_balance` from
    /// configuration alone.
    fn provident_fund() -> SourceConfig {
        config(
            "provident_fund",
            json!({
                "folder": "provident_fund",
                "pattern": "gjj_*.txt",
                "encoding": "gbk",
                "delimiter": "|",
                "header_row": 2,
                "record": "bank_balance",
                "date_formats": ["%Y.%m.%d", "%Y%m%d"],
                "amount_unit": "yuan",
                "columns": {
                    "id_raw": "证件号码", "name": "职工姓名", "institution": "管理中心",
                    "account": "个人账号", "account_type": "账户性质", "currency": "币种",
                    "balance_cents": "账户余额", "balance_date": "结息日期"
                },
                "value_maps": {
                    "account_type": {"住房公积金": "活期存款"},
                    "currency": {"人民币": "CNY"}
                }
            }),
        )
    }

    #[tokio::test]
    async fn a_new_department_from_config_alone() {
        let source = factory(&provident_fund()).unwrap();
        let cx = test_context(&fixtures());
        let out = check_source_compliance(source.as_ref(), &cx).await;
        let b = &out.records.bank_balances;
        assert_eq!(b.len(), 2, "{:?}", out.quarantine);
        assert_eq!(b[0].origin, Origin::new("gjj_202611.txt", 3));
        assert_eq!(b[0].id_raw, " 520102197511033632");
        assert_eq!(b[0].name, "闵磊涛");
        assert_eq!(b[0].institution, "贵阳市住房公积金管理中心");
        assert_eq!(b[0].account_type, "活期存款");
        assert_eq!(b[0].currency, Currency::Cny);
        assert_eq!(b[0].balance_cents, 1_234_567);
        assert_eq!(b[0].balance_date, NaiveDate::from_ymd_opt(2026, 10, 31).unwrap());
        assert_eq!(b[1].balance_date, NaiveDate::from_ymd_opt(2026, 9, 30).unwrap());
        assert_eq!(out.stats.rows_read, 4);
        let q: Vec<(u64, &str, &str)> = out.quarantine.iter().map(|q| (q.line, q.field.as_str(), q.raw_value.as_str())).collect();
        assert_eq!(q, [(5, "balance_cents (账户余额)", "12,3x.00"), (6, "currency (币种)", "港币")]);
        assert!(out.quarantine[1].reason.contains("value_maps.currency"), "{}", out.quarantine[1].reason);
    }

    #[tokio::test]
    async fn missing_columns_are_all_named_with_their_fields() {
        let mut cfg = provident_fund();
        cfg.settings.insert("header_row".into(), json!("1")); // the title line is not the header
        let source = factory(&cfg).unwrap();
        let err = source.fetch(&test_context(&fixtures())).await.unwrap_err();
        let SourceError::MissingColumns { path, missing, .. } = &err else { panic!("{err}") };
        assert!(path.ends_with("gjj_202611.txt"));
        assert_eq!(missing.len(), 8, "{missing:?}");
        assert!(missing.contains(&"证件号码 (for id_raw)".to_string()), "{missing:?}");
    }

    #[tokio::test]
    async fn no_matching_file_makes_the_source_unavailable() {
        let mut cfg = provident_fund();
        cfg.settings.insert("pattern".into(), json!("nothing_*.txt"));
        let err = factory(&cfg).unwrap().fetch(&test_context(&fixtures())).await.unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("nothing_*.txt"), "{err}");
    }

    #[tokio::test]
    async fn wrong_encoding_fails_the_file() {
        let mut cfg = provident_fund();
        cfg.settings.insert("encoding".into(), json!("utf8"));
        let err = factory(&cfg).unwrap().fetch(&test_context(&fixtures())).await.unwrap_err();
        assert!(err.to_string().contains("gjj_202611.txt") && err.to_string().contains("GBK"), "{err}");
    }

    /// Every supported kind builds from a row (the field names of the specs
    /// and of the builder agree).
    #[tokio::test]
    async fn every_kind_builds_from_its_fields() {
        let samples: &[(MappedRecord, &[&str])] = &[
            (MappedRecord::DisabilityCert, &["C1", "id", "n", "肢体", "2", "2030-01-01", "true", "false"]),
            (MappedRecord::Property, &["P1", "id", "n", "单独所有", "住宅", "90.5", "2020-01-01", "现势"]),
            (MappedRecord::Registry, &["H1", "id", "n", "男", "19800101", "户主", "正常", "", "520102"]),
            (MappedRecord::Vehicle, &["贵A1", "02", "K33", "id", "n", "2020-01-01", "正常"]),
            (MappedRecord::MedicalVisit, &["S1", "id", "n", "2026/03/05", "1,000.00", "600", "400.5"]),
            (MappedRecord::InsuranceEnrollment, &["id", "n", "职工医保", "2026", "参保"]),
            (MappedRecord::BusinessRole, &["U1", "E", "企业", "存续", "", "id", "n", "股东", "2020-01-01"]),
            (MappedRecord::BankBalance, &["id", "n", "I", "A1", "活期存款", "USD", "10.01", "20261031"]),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (kind, values) in samples {
            let specs = kind.fields();
            assert_eq!(specs.len(), values.len(), "{kind:?}");
            let folder = dir.path().join(kind.name());
            std::fs::create_dir_all(&folder).unwrap();
            let headers: Vec<String> = specs.iter().map(|s| format!("H_{}", s.name)).collect();
            std::fs::write(folder.join("a.csv"), format!("{}\n{}\n", headers.join(","), values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(","))).unwrap();
            let columns: serde_json::Map<String, serde_json::Value> = specs.iter().map(|s| (s.name.to_string(), json!(format!("H_{}", s.name)))).collect();
            let cfg = config(kind.name(), json!({"pattern": "*.csv", "record": kind.name(), "columns": columns}));
            let source = factory(&cfg).unwrap();
            let out = check_source_compliance(source.as_ref(), &test_context(dir.path())).await;
            assert!(out.quarantine.is_empty(), "{kind:?}: {:?}", out.quarantine);
            assert_eq!(out.records.len(), 1, "{kind:?}");
        }
    }
}
