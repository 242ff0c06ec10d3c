//! 卫健/医保 health adapter: medical visits (就诊费用) and insurance enrollment
//! (参保状态) from the `yiliao_*.xlsx` workbooks in `<inbox>/health/`.
//!
//! Each workbook must hold both sheets. The header row is searched for in the
//! first [`HEADER_SCAN_ROWS`] rows (就诊费用 has a merged title row above its
//! headers, 参保状态 has none), so either layout is read. Columns are found by
//! name, so their order does not matter. `Origin.line` is the 1-based
//! spreadsheet row number, as a user sees it in Excel.
//!
//! Cell quirks handled: dates as Excel date cells, bare serial numbers or
//! text (`2026/03/05`, `2026-03-05`, `2026年3月5日`); amounts as numbers
//! (rounded to the fen at once) or text with thousands separators; 参保年度
//! as a number or text (`2026`, `2026年`, `2026年度`). IDs and names are
//! carried raw (a numeric ID cell is written back as its integer digits).

use std::io::{Read, Seek};
use std::path::Path;

use calamine::{open_workbook, DataRef, Range, Reader, ReaderRef, Xlsx, XlsxError};
use chrono::NaiveDate;
use hedui_adapter::{files, text, AuditEvent, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{format_compact, FileName, InsuranceEnrollment, MedicalVisit, Origin, RecordKind, Text};
use hedui_core::money::Fen;
use serde::Deserialize;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "health";

/// How many rows from the top of a sheet are searched for its header row.
pub const HEADER_SCAN_ROWS: usize = 5;

/// 就诊费用 columns, in the order the parser uses them.
pub const VISIT_COLUMNS: [&str; 7] = ["就诊流水号", "身份证号", "姓名", "就诊日期", "总费用", "统筹支付", "个人自付"];
/// 参保状态 columns.
pub const INSURANCE_COLUMNS: [&str; 5] = ["身份证号", "姓名", "险种", "参保年度", "状态"];

/// Settings under `[sources.health]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HealthSettings {
    /// Folder under the inbox (default `health`).
    pub folder: String,
    /// File name pattern, `*` wildcard (default `yiliao_*.xlsx`).
    pub pattern: String,
    /// Sheet of medical visits (default `就诊费用`).
    pub visits_sheet: String,
    /// Sheet of insurance enrollment (default `参保状态`).
    pub insurance_sheet: String,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            folder: "health".into(),
            pattern: "yiliao_*.xlsx".into(),
            visits_sheet: "就诊费用".into(),
            insurance_sheet: "参保状态".into(),
        }
    }
}

/// The health source.
#[derive(Debug, Clone)]
pub struct HealthSource {
    code: String,
    settings: HealthSettings,
}

/// Builds the health source from its config (see [`HealthSettings`]).
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(HealthSource::new(cfg)?))
}

impl HealthSource {
    pub fn new(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let settings: HealthSettings = cfg.parse()?;
        for (key, value) in [
            ("folder", &settings.folder),
            ("pattern", &settings.pattern),
            ("visits_sheet", &settings.visits_sheet),
            ("insurance_sheet", &settings.insurance_sheet),
        ] {
            if value.trim().is_empty() {
                return Err(SourceError::Config(format!("[sources.{}] {key} must not be empty", cfg.code)));
            }
        }
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        Ok(HealthSource { code, settings })
    }

    /// Reads every workbook of the folder (blocking).
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
            match read_workbook(path, &self.settings, &mut out) {
                Ok(()) => cx.audit.record(AuditEvent::new(&self.code, "file_read", name)),
                Err(e) => {
                    let mut event = AuditEvent::new(&self.code, "file_read", name);
                    event.outcome = "error: file refused".into();
                    cx.audit.record(event);
                    return Err(e);
                }
            }
            out.stats.files += 1;
            cx.progress.update(&self.code, i as u64 + 1, total);
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Source for HealthSource {
    fn code(&self) -> &str {
        &self.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::MedicalVisit, RecordKind::InsuranceEnrollment]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        // calamine is blocking: keep it off the async workers.
        let this = self.clone();
        let cx = cx.clone();
        tokio::task::spawn_blocking(move || this.read_all(&cx))
            .await
            .map_err(|e| SourceError::Unavailable(format!("health reader crashed: {e}")))?
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn bad_file(path: &Path, message: impl Into<String>) -> SourceError {
    SourceError::BadFile { path: path.to_path_buf(), message: message.into() }
}

/// Reads one workbook into `out`. Both sheets must exist with all their
/// columns, or the whole file (and so the source) is refused.
///
/// Each sheet is streamed cell by cell ([`Xlsx::worksheet_cells_reader`]):
/// one row's cells are held at a time, never the sheet. Rows are expected in
/// ascending order, as every spreadsheet writer stores them; a sheet whose
/// rows are not is read again whole ([`ReaderRef::worksheet_range_ref`]),
/// with the same result.
pub fn read_workbook(path: &Path, settings: &HealthSettings, out: &mut SourceOutput) -> Result<(), SourceError> {
    let mut book: Xlsx<_> = open_workbook(path)
        .map_err(|e| bad_file(path, format!("cannot open as an .xlsx workbook ({e}); ask the department to re-export it as .xlsx")))?;
    let names = book.sheet_names();
    let missing: Vec<&str> = [settings.visits_sheet.as_str(), settings.insurance_sheet.as_str()]
        .into_iter()
        .filter(|s| !names.iter().any(|n| n == s))
        .collect();
    if !missing.is_empty() {
        return Err(bad_file(
            path,
            format!("missing sheet(s) {missing:?} (sheets found: {names:?}); set visits_sheet / insurance_sheet if the department renamed them"),
        ));
    }
    let file: FileName = file_name(path).into();
    let mark = Mark::of(out);
    match read_sheets(&mut book, path, settings, &file, out, true) {
        Err(SheetError::OutOfOrder) => {
            mark.reset(out);
            read_sheets(&mut book, path, settings, &file, out, false).map_err(SheetError::into_source_error)
        }
        other => other.map_err(SheetError::into_source_error),
    }
}

/// Both sheets into `out`, streamed or (`stream = false`) each read whole.
///
/// Errors come in the order of a whole read of both sheets before either
/// header is looked at: a sheet unreadable anywhere (visits, then
/// insurance), then a header not found (visits, then insurance). So a
/// visits sheet refused on its header is still read to its end, and the
/// insurance sheet after it, before the header error is reported.
fn read_sheets<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    path: &Path,
    settings: &HealthSettings,
    file: &FileName,
    out: &mut SourceOutput,
    stream: bool,
) -> Result<(), SheetError> {
    let visits = read_sheet(book, path, &settings.visits_sheet, &VISIT_COLUMNS, stream, &mut |line, cells| {
        out.stats.rows_read += 1;
        match parse_visit(file, line, cells) {
            Ok(v) => out.records.medical_visits.push(v),
            Err(q) => out.quarantine.push(q),
        }
    });
    match visits {
        Err(SheetError::Header(e)) => {
            return match read_sheet(book, path, &settings.insurance_sheet, &INSURANCE_COLUMNS, stream, &mut |_, _| {}) {
                Err(SheetError::Header(_)) | Ok(()) => Err(SheetError::Header(e)),
                Err(other) => Err(other),
            };
        }
        other => other?,
    }
    read_sheet(book, path, &settings.insurance_sheet, &INSURANCE_COLUMNS, stream, &mut |line, cells| {
        out.stats.rows_read += 1;
        match parse_enrollment(file, line, cells) {
            Ok(e) => out.records.insurance.push(e),
            Err(q) => out.quarantine.push(q),
        }
    })
}

/// Why a sheet was not read.
enum SheetError {
    /// The sheet's XML is unreadable.
    Unreadable(SourceError),
    /// No header row with every required column (the sheet was read to its end).
    Header(SourceError),
    /// The rows are not in ascending order: read the sheet whole instead.
    OutOfOrder,
}

impl SheetError {
    fn into_source_error(self) -> SourceError {
        match self {
            SheetError::Unreadable(e) | SheetError::Header(e) => e,
            SheetError::OutOfOrder => unreachable!("only a streamed read finds rows out of order"),
        }
    }
}

/// How much of `out` there was before a workbook, to take back a streamed read.
struct Mark {
    visits: usize,
    insurance: usize,
    quarantine: usize,
    rows_read: u64,
}

impl Mark {
    fn of(out: &SourceOutput) -> Mark {
        Mark { visits: out.records.medical_visits.len(), insurance: out.records.insurance.len(), quarantine: out.quarantine.len(), rows_read: out.stats.rows_read }
    }
    fn reset(&self, out: &mut SourceOutput) {
        out.records.medical_visits.truncate(self.visits);
        out.records.insurance.truncate(self.insurance);
        out.quarantine.truncate(self.quarantine);
        out.stats.rows_read = self.rows_read;
    }
}

/// Reads one sheet, handing `each` every non-blank data row below its header
/// with its 1-based spreadsheet row number and its required cells (in
/// `required` order).
fn read_sheet<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    path: &Path,
    sheet: &str,
    required: &[&str],
    stream: bool,
    each: &mut dyn FnMut(u64, &[DataRef]),
) -> Result<(), SheetError> {
    let unreadable = |e: XlsxError| SheetError::Unreadable(bad_file(path, format!("sheet {sheet:?} unreadable: {e}")));
    if !stream {
        let range = book.worksheet_range_ref(sheet).map_err(unreadable)?;
        let located = Sheet::locate(path, sheet, &range, required).map_err(SheetError::Header)?;
        let mut cells: Vec<DataRef> = Vec::with_capacity(required.len());
        for (line, row) in located.data_rows(&range) {
            cells.clear();
            cells.extend(located.cols.iter().map(|&c| row.get(c).cloned().unwrap_or(DataRef::Empty)));
            each(line, &cells);
        }
        return Ok(());
    }
    let mut reader = match book.worksheet_cells_reader(sheet) {
        Ok(r) => Some(r),
        // What a whole read makes of it: an empty sheet.
        Err(XlsxError::NotAWorksheet(_)) => None,
        Err(e) => return Err(unreadable(e)),
    };
    let mut scan = HeaderScan::new(required);
    // Once the header is found: the column of each required cell, and the
    // cells of the row being read.
    let mut cols: Option<Vec<u32>> = None;
    let mut cells: Vec<DataRef> = vec![DataRef::Empty; required.len()];
    let mut row: Option<u32> = None;
    let mut blank = true;
    let mut header_error: Option<SourceError> = None;
    loop {
        let cell = match reader.as_mut() {
            Some(r) => r.next_cell().map_err(unreadable)?,
            None => None,
        };
        let pos = cell.as_ref().map(|c| c.get_position());
        // A new row (or the end): finish the row before.
        if let Some(r) = row.filter(|r| pos.is_none_or(|(p, _)| p != *r)) {
            if pos.is_some_and(|(p, _)| p < r) {
                return Err(SheetError::OutOfOrder);
            }
            match &cols {
                Some(_) => {
                    if !blank {
                        each(r as u64 + 1, &cells);
                    }
                    cells.iter_mut().for_each(|c| *c = DataRef::Empty);
                }
                None if header_error.is_none() => {
                    if let Some(found) = scan.row_done(r) {
                        cols = Some(found);
                    }
                }
                None => {}
            }
            blank = true;
        }
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        let value = cell.get_value();
        row = Some(r);
        if cols.is_none() && header_error.is_none() {
            if *value == DataRef::Empty && !scan.started() {
                continue;
            }
            // Past the rows where the header may be: the sheet is refused,
            // but read on in case it is unreadable further down.
            if scan.past(r) {
                header_error = Some(scan.error(path, sheet));
                continue;
            }
            scan.cell(r, c, value);
            continue;
        }
        if let Some(cols) = &cols {
            blank &= cell_is_blank(value);
            if let Some(k) = cols.iter().position(|&col| col == c) {
                cells[k] = value.clone();
            }
        }
    }
    if cols.is_some() {
        return Ok(());
    }
    Err(SheetError::Header(header_error.unwrap_or_else(|| scan.error(path, sheet))))
}

/// The search for a header row among the first [`HEADER_SCAN_ROWS`] rows
/// from the first row with a cell, streamed.
struct HeaderScan<'r> {
    required: &'r [&'r str],
    /// The first row with a non-empty cell.
    top: Option<u32>,
    /// The texts of the row being scanned, by column.
    texts: Vec<String>,
    /// The candidate with the most matches, to say what is missing.
    best: Option<(usize, Vec<String>)>,
}

impl<'r> HeaderScan<'r> {
    fn new(required: &'r [&'r str]) -> Self {
        HeaderScan { required, top: None, texts: Vec::new(), best: None }
    }

    fn started(&self) -> bool {
        self.top.is_some()
    }

    /// Whether row `r` is below the rows the header may be on.
    fn past(&self, r: u32) -> bool {
        self.top.is_some_and(|top| r as usize >= top as usize + HEADER_SCAN_ROWS)
    }

    fn cell(&mut self, r: u32, c: u32, value: &DataRef) {
        self.top.get_or_insert(r);
        let c = c as usize;
        if self.texts.len() <= c {
            self.texts.resize(c + 1, String::new());
        }
        self.texts[c] = cell_text(value).trim().to_string();
    }

    /// Row `r` is complete: the column of each required header if it holds them all.
    fn row_done(&mut self, r: u32) -> Option<Vec<u32>> {
        if self.top.is_none() || self.past(r) {
            return None;
        }
        let texts = std::mem::take(&mut self.texts);
        let cols: Vec<Option<usize>> = self.required.iter().map(|h| texts.iter().position(|t| t == h)).collect();
        if cols.iter().all(Option::is_some) {
            return Some(cols.into_iter().flatten().map(|c| c as u32).collect());
        }
        let matches = cols.iter().filter(|c| c.is_some()).count();
        if matches > 0 && self.best.as_ref().is_none_or(|(m, _)| matches > *m) {
            self.best = Some((matches, texts.into_iter().filter(|t| !t.is_empty()).collect()));
        }
        None
    }

    fn error(&self, path: &Path, sheet: &str) -> SourceError {
        header_error(path, sheet, self.required, self.best.as_ref().map(|(_, found)| found.as_slice()))
    }
}

/// A sheet without its header row: what is missing from the likeliest row,
/// or that none looks like a header.
fn header_error(path: &Path, sheet: &str, required: &[&str], best: Option<&[String]>) -> SourceError {
    match best {
        // Only a row that looks like a header is quoted (a data row could hold IDs).
        Some(found) => {
            let missing: Vec<&str> = required.iter().copied().filter(|r| !found.iter().any(|f| f == r)).collect();
            bad_file(path, format!("sheet {sheet:?}: missing columns {missing:?} (found {found:?})"))
        }
        None => bad_file(path, format!("sheet {sheet:?}: no header row with {required:?} in its first {HEADER_SCAN_ROWS} rows")),
    }
}

/// Where a sheet's header row is and which column holds each required field
/// (a sheet read whole).
struct Sheet {
    /// Absolute (0-based) row index of the first data row.
    first_data_row: usize,
    /// Absolute (0-based) row index of the range's first row.
    range_top: usize,
    /// Relative column index of each required column, in `required` order.
    cols: Vec<usize>,
}

impl Sheet {
    /// Finds the first row among the top [`HEADER_SCAN_ROWS`] that holds every
    /// required header.
    fn locate(path: &Path, sheet: &str, range: &Range<DataRef>, required: &[&str]) -> Result<Sheet, SourceError> {
        let range_top = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        // The candidate with the most matches, to say what is missing.
        let mut best: Option<(usize, Vec<String>)> = None;
        for (i, row) in range.rows().take(HEADER_SCAN_ROWS).enumerate() {
            let texts: Vec<String> = row.iter().map(|c| cell_text(c).trim().to_string()).collect();
            let cols: Vec<Option<usize>> = required.iter().map(|r| texts.iter().position(|t| t == r)).collect();
            if cols.iter().all(Option::is_some) {
                return Ok(Sheet { first_data_row: range_top + i + 1, range_top, cols: cols.into_iter().flatten().collect() });
            }
            let matches = cols.iter().filter(|c| c.is_some()).count();
            if matches > 0 && best.as_ref().is_none_or(|(m, _)| matches > *m) {
                best = Some((matches, texts.into_iter().filter(|t| !t.is_empty()).collect()));
            }
        }
        Err(header_error(path, sheet, required, best.as_ref().map(|(_, found)| found.as_slice())))
    }

    /// Non-empty data rows with their 1-based spreadsheet row numbers.
    fn data_rows<'r, 'a>(&self, range: &'r Range<DataRef<'a>>) -> impl Iterator<Item = (u64, &'r [DataRef<'a>])> + 'r {
        let (top, first) = (self.range_top, self.first_data_row);
        range
            .rows()
            .enumerate()
            .map(move |(i, row)| ((top + i) as u64 + 1, i + top, row))
            .filter(move |(_, abs, row)| *abs >= first && !row.iter().all(cell_is_blank))
            .map(|(line, _, row)| (line, row))
    }
}

/// A cell as text: strings as they are, integral numbers without `.0`.
fn cell_text(c: &DataRef) -> Text {
    match c {
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Text::from(s.as_str()),
        DataRef::SharedString(s) => Text::from(*s),
        DataRef::Int(i) => format_compact!("{i}"),
        DataRef::Float(f) => float_text(*f),
        DataRef::DateTime(d) => float_text(d.as_f64()),
        DataRef::Bool(b) => format_compact!("{b}"),
        DataRef::Error(e) => format_compact!("#{e:?}"),
        DataRef::Empty => Text::default(),
    }
}

/// The text of a string cell (inline or shared).
fn cell_str<'c>(c: &'c DataRef) -> Option<&'c str> {
    match c {
        DataRef::String(s) => Some(s),
        DataRef::SharedString(s) => Some(s),
        _ => None,
    }
}

/// Whether a cell holds nothing but white space (without building its text).
fn cell_is_blank(c: &DataRef) -> bool {
    match c {
        DataRef::Empty => true,
        other => cell_str(other).is_some_and(|s| s.trim().is_empty()),
    }
}

fn float_text(f: f64) -> Text {
    if f.fract() == 0.0 && f.abs() < 1e17 {
        format_compact!("{f:.0}")
    } else {
        format_compact!("{f}")
    }
}

/// A date cell: an Excel date, a bare serial, an 8-digit `YYYYMMDD` number or text.
fn cell_date(c: &DataRef) -> Result<NaiveDate, String> {
    if let Some(s) = cell_str(c) {
        // ISO cells may carry a time: `2026-03-05T00:00:00`.
        return text::parse_date(s.split('T').next().unwrap_or(s));
    }
    match c {
        DataRef::DateTime(d) if d.is_datetime() && d.as_f64() >= 0.0 => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(y as i32, m as u32, day as u32).ok_or_else(|| format!("not a real date: Excel serial {}", d.as_f64()))
        }
        DataRef::DateTime(d) => Err(format!("not a date (a duration or time cell): {}", d.as_f64())),
        DataRef::Float(f) => number_date(*f),
        DataRef::Int(i) => number_date(*i as f64),
        DataRef::DateTimeIso(s) => text::parse_date(s.split('T').next().unwrap_or(s)),
        DataRef::Empty => Err("empty date".into()),
        other => Err(format!("not a date: {}", cell_text(other))),
    }
}

fn number_date(f: f64) -> Result<NaiveDate, String> {
    if f.fract() == 0.0 && (19_000_101.0..=99_991_231.0).contains(&f) {
        text::parse_date(&format!("{f:.0}"))
    } else {
        text::excel_serial_to_date(f)
    }
}

/// An amount cell in yuan → fen.
fn cell_fen(c: &DataRef) -> Result<Fen, String> {
    if let Some(s) = cell_str(c) {
        return text::parse_yuan(s);
    }
    match c {
        DataRef::Float(f) => text::excel_number_to_fen(*f),
        DataRef::Int(i) => i.checked_mul(100).ok_or_else(|| format!("amount out of range: {i}")),
        DataRef::Empty => Err("empty amount".into()),
        DataRef::DateTime(_) | DataRef::DateTimeIso(_) => Err("a date where an amount is expected".into()),
        other => Err(format!("not an amount: {}", cell_text(other))),
    }
}

/// 参保年度: `2026`, `2026.0`, `"2026"`, `"2026年"`, `"2026年度"`.
fn cell_year(c: &DataRef) -> Result<i32, String> {
    let bad = || format!("not a year: {:?}", cell_text(c));
    let year: i64 = match c {
        DataRef::Int(i) => *i,
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e6 => *f as i64,
        DataRef::String(_) | DataRef::SharedString(_) => {
            let s = cell_str(c).unwrap_or_default();
            let s = s.trim();
            let s = s.strip_suffix("年度").or_else(|| s.strip_suffix('年')).unwrap_or(s).trim();
            if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())?
        }
        DataRef::Empty => return Err("empty year".into()),
        _ => return Err(bad()),
    };
    if (1900..=9999).contains(&year) {
        Ok(year as i32)
    } else {
        Err(bad())
    }
}

/// A key/label cell: trimmed text that must not be empty.
fn cell_required(c: &DataRef) -> Result<Text, String> {
    let t = cell_text(c);
    let t = if t.trim().len() == t.len() { t } else { Text::from(t.trim()) };
    if t.is_empty() {
        Err("required field is empty".into())
    } else {
        Ok(t)
    }
}

fn quarantine(file: &str, line: u64, field: &str, cell: &DataRef, reason: String) -> Quarantined {
    Quarantined { file: file.to_string(), line, field: field.to_string(), raw_value: cell_text(cell).into(), reason }
}

fn parse_visit(file: &FileName, line: u64, cells: &[DataRef]) -> Result<MedicalVisit, Quarantined> {
    let at = |k: usize| &cells[k];
    let q = |k: usize| move |reason: String| quarantine(file, line, VISIT_COLUMNS[k], at(k), reason);
    Ok(MedicalVisit {
        origin: Origin { file: file.clone(), line },
        serial: cell_required(at(0)).map_err(q(0))?,
        id_raw: cell_text(at(1)),
        name: cell_text(at(2)),
        visit_date: cell_date(at(3)).map_err(q(3))?,
        total_fen: cell_fen(at(4)).map_err(q(4))?,
        pooled_fen: cell_fen(at(5)).map_err(q(5))?,
        self_paid_fen: cell_fen(at(6)).map_err(q(6))?,
    })
}

fn parse_enrollment(file: &FileName, line: u64, cells: &[DataRef]) -> Result<InsuranceEnrollment, Quarantined> {
    let at = |k: usize| &cells[k];
    let q = |k: usize| move |reason: String| quarantine(file, line, INSURANCE_COLUMNS[k], at(k), reason);
    Ok(InsuranceEnrollment {
        origin: Origin { file: file.clone(), line },
        id_raw: cell_text(at(0)),
        name: cell_text(at(1)),
        insurance_type: cell_required(at(2)).map_err(q(2))?,
        year: cell_year(at(3)).map_err(q(3))?,
        status: cell_required(at(4)).map_err(q(4))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_from_every_cell_kind() {
        let excel = calamine::ExcelDateTime::new(46086.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_date(&DataRef::DateTime(excel)), Ok(d(2026, 3, 5)));
        let excel_1904 = calamine::ExcelDateTime::new(44624.0, calamine::ExcelDateTimeType::DateTime, true);
        assert_eq!(cell_date(&DataRef::DateTime(excel_1904)), Ok(d(2026, 3, 5)));
        assert_eq!(cell_date(&DataRef::Float(46086.0)), Ok(d(2026, 3, 5)));
        assert_eq!(cell_date(&DataRef::Int(20260305)), Ok(d(2026, 3, 5)));
        assert_eq!(cell_date(&DataRef::String("2026年3月5日".into())), Ok(d(2026, 3, 5)));
        assert_eq!(cell_date(&DataRef::DateTimeIso("2026-03-05T00:00:00".into())), Ok(d(2026, 3, 5)));
        assert!(cell_date(&DataRef::String("2026-02-30".into())).is_err());
        assert!(cell_date(&DataRef::Empty).is_err());
    }

    #[test]
    fn amounts_and_years() {
        assert_eq!(cell_fen(&DataRef::Float(0.1 + 0.2)), Ok(30));
        assert_eq!(cell_fen(&DataRef::Int(12)), Ok(1200));
        assert_eq!(cell_fen(&DataRef::String("7,257.20".into())), Ok(725_720));
        assert!(cell_fen(&DataRef::String("12元".into())).is_err());
        assert_eq!(cell_year(&DataRef::Float(2026.0)), Ok(2026));
        assert_eq!(cell_year(&DataRef::String(" 2026年度".into())), Ok(2026));
        assert!(cell_year(&DataRef::String("26".into())).is_err());
        assert_eq!(cell_text(&DataRef::Float(522722880623064.0)), "522722880623064");
    }

    /// The streamed read (cell by cell) and the whole read (`Range`) agree
    /// on every fixture workbook: records, quarantine, counts and errors.
    #[test]
    fn streamed_and_whole_reads_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/health");
        let mut books = Vec::new();
        for dir in [root.clone(), root.join("missing_column"), root.join("missing_sheet"), root.join("not_xlsx")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "xlsx") {
                    books.push(path);
                }
            }
        }
        assert!(books.len() >= 3, "{books:?}");
        let settings = HealthSettings::default();
        for path in books {
            let read = |stream: bool| {
                let mut out = SourceOutput::default();
                let result = (|| -> Result<(), SourceError> {
                    let mut book: Xlsx<_> = open_workbook(&path).map_err(|e| bad_file(&path, format!("{e}")))?;
                    let file: FileName = file_name(&path).into();
                    read_sheets(&mut book, &path, &settings, &file, &mut out, stream).map_err(SheetError::into_source_error)
                })();
                (result.map_err(|e| e.to_string()), format!("{:?}", out.records), out.quarantine, out.stats)
            };
            assert_eq!(read(true), read(false), "{}", path.display());
        }
    }
}
