//! civil_affairs (民政): the roster loader.
//!
//! The roster says who applied and under which authorization; it is read
//! before any department is asked, so it is not a [`hedui_adapter::Source`].
//! [`load_roster`] reads `<dir>/households.csv` and `<dir>/members.csv`
//! (UTF-8, BOM optional; DEPARTMENTS.md "civil_affairs").
//!
//! A roster is all-or-nothing: a batch cannot verify half the applicants. So
//! instead of stopping at the first problem, the loader checks everything and
//! returns a [`RosterError`] listing every problem with its file, line, field,
//! value and what is wrong, for the operator to fix in one pass.
//!
//! Person IDs and names are kept raw (an invalid member ID is a verification
//! finding, `MEMBER_ID_INVALID`, not a roster error). Everything else is
//! trimmed and checked: program `DIBAO`/`TEKUN`, area_type `urban`/`rural`,
//! amounts in yuan (into fen, not negative), whole counts, dates, the four
//! auth fields all filled or all empty (= no authorization), unique
//! household_id, every member's household present in households.csv.
//!
//! ```no_run
//! let roster = hedui_civil_affairs::load_roster(std::path::Path::new("inbox/roster"))
//!     .unwrap_or_else(|e| panic!("{e}"));
//! println!("{} households", roster.households.len());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hedui_adapter::files::{self, DelimitedReader, Row, TextEncoding};
use hedui_adapter::{text, SourceError};
use hedui_core::model::{AreaType, Authorization, FileName, Household, Member, Program, Roster};

/// The roster's households file.
pub const HOUSEHOLDS_FILE: &str = "households.csv";
/// The roster's members file.
pub const MEMBERS_FILE: &str = "members.csv";

const HOUSEHOLD_COLUMNS: [&str; 13] = [
    "household_id",
    "program",
    "county_code",
    "area_type",
    "head_id",
    "declared_monthly_income_yuan",
    "declared_financial_assets_yuan",
    "declared_vehicle_count",
    "declared_property_count",
    "auth_no",
    "auth_signed_date",
    "auth_valid_until",
    "auth_scope",
];
const MEMBER_COLUMNS: [&str; 4] = ["household_id", "id_number", "name", "relation"];
// Indices into HOUSEHOLD_COLUMNS.
const H_ID: usize = 0;
const H_PROGRAM: usize = 1;
const H_COUNTY: usize = 2;
const H_AREA_TYPE: usize = 3;
const H_HEAD_ID: usize = 4;
const H_INCOME: usize = 5;
const H_ASSETS: usize = 6;
const H_VEHICLES: usize = 7;
const H_PROPERTIES: usize = 8;
const H_AUTH_NO: usize = 9;
const H_AUTH_SIGNED: usize = 10;
const H_AUTH_VALID_UNTIL: usize = 11;
const H_AUTH_SCOPE: usize = 12;
/// The authorization's columns, all filled or all empty.
const AUTH_COLUMNS: [usize; 4] = [H_AUTH_NO, H_AUTH_SIGNED, H_AUTH_VALID_UNTIL, H_AUTH_SCOPE];
// Indices into MEMBER_COLUMNS.
const M_HOUSEHOLD_ID: usize = 0;
const M_ID: usize = 1;
const M_NAME: usize = 2;
const M_RELATION: usize = 3;

/// What is wrong, for programs that sort or count problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProblemKind {
    MissingFile,
    /// Not UTF-8, not parseable as CSV, or empty.
    Unreadable,
    MissingColumn,
    /// A row with more or fewer fields than the header.
    MalformedRow,
    /// A required value (household_id) is empty.
    EmptyValue,
    UnknownProgram,
    UnknownAreaType,
    BadDate,
    BadAmount,
    BadCount,
    /// auth_scope is neither `ALL` nor a list of department codes.
    BadScope,
    /// Some auth fields are filled and others empty.
    PartialAuthorization,
    DuplicateHousehold,
    /// A member whose household_id is not in households.csv.
    UnknownHousehold,
}

/// One problem in the roster files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterProblem {
    /// `households.csv` or `members.csv`.
    pub file: String,
    /// 1-based line; 0 for a problem with the whole file.
    pub line: u64,
    /// Column name; empty for a whole-file or whole-row problem.
    pub field: String,
    /// The value as found (may be empty).
    pub value: String,
    pub kind: ProblemKind,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for RosterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, " line {}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ", {} = {:?}", self.field, self.value)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The roster could not be loaded; every problem found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.dir, .problems))]
pub struct RosterError {
    /// The roster folder.
    pub dir: PathBuf,
    /// In file order (households.csv first), then line, then column order.
    pub problems: Vec<RosterProblem>,
}

fn render(dir: &Path, problems: &[RosterProblem]) -> String {
    let mut s = format!("roster {} has {} problem(s); fix them all and run again:", dir.display(), problems.len());
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

/// Collects problems while reading.
struct Problems(Vec<RosterProblem>);

impl Problems {
    fn add(&mut self, file: &str, line: u64, field: &str, value: &str, kind: ProblemKind, message: impl Into<String>) {
        self.0.push(RosterProblem { file: file.to_string(), line, field: field.to_string(), value: value.to_string(), kind, message: message.into() });
    }
}

/// Reads and checks the roster in `dir`. Each file is read as a stream,
/// row by row (see [`hedui_adapter::files`]).
pub fn load_roster(dir: &Path) -> Result<Roster, RosterError> {
    let mut problems = Problems(Vec::new());
    let mut roster = Roster::default();
    // household_id → first line, for duplicates and member checks. Rows with
    // other problems still count as present so their members are not flagged.
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    let households_read = read_file(dir, HOUSEHOLDS_FILE, &HOUSEHOLD_COLUMNS, &mut problems, |row, problems| {
        if let Some(h) = household(row, &mut known, problems) {
            roster.households.push(h);
        }
    });
    read_file(dir, MEMBERS_FILE, &MEMBER_COLUMNS, &mut problems, |row, problems| {
        let line = row.line;
        let household_id = row.cell(M_HOUSEHOLD_ID).trim().to_string();
        if household_id.is_empty() {
            problems.add(MEMBERS_FILE, line, "household_id", "", ProblemKind::EmptyValue, "empty household_id");
            return;
        }
        // Without a readable households.csv every member would be "unknown": say nothing.
        if households_read && !known.contains_key(&household_id) {
            problems.add(MEMBERS_FILE, line, "household_id", row.cell(M_HOUSEHOLD_ID), ProblemKind::UnknownHousehold, "no such household in households.csv");
            return;
        }
        roster.members.push(Member {
            line,
            household_id,
            id_raw: row.cell(M_ID).into(),
            name: row.cell(M_NAME).into(),
            relation: row.cell(M_RELATION).trim().to_string(),
        });
    });

    if problems.0.is_empty() {
        Ok(roster)
    } else {
        // Households first, then members; by line, then in the order found.
        let mut list = problems.0;
        list.sort_by_key(|p| (p.file != HOUSEHOLDS_FILE, p.line));
        Err(RosterError { dir: dir.to_path_buf(), problems: list })
    }
}

/// Reads one roster file, handing each well-formed row to `each`; `false`
/// (with the file's problem recorded) when it cannot be used. A file that
/// fails part-way (bad UTF-8 deep in it) keeps only that problem: what its
/// earlier rows reported is taken back, as when files were decoded whole.
fn read_file(dir: &Path, name: &str, columns: &[&str], problems: &mut Problems, mut each: impl FnMut(&Row, &mut Problems)) -> bool {
    let path = dir.join(name);
    if !path.is_file() {
        problems.add(name, 0, "", "", ProblemKind::MissingFile, format!("file not found: {}", path.display()));
        return false;
    }
    let before = problems.0.len();
    let mut read = || -> Result<(), SourceError> {
        let mut reader = DelimitedReader::open(&path, TextEncoding::Utf8, b',')?;
        let headers = reader.header()?.ok_or_else(|| files::no_header(&path))?;
        let cols = match files::column_indices(&headers, columns) {
            Ok(cols) => cols,
            Err(missing) => {
                reader.drain()?;
                return Err(SourceError::MissingColumns { path: path.clone(), missing, found: headers });
            }
        };
        let file: FileName = name.into();
        while let Some((line, rec)) = reader.next_row()? {
            match rec {
                Ok(rec) => each(&Row { file: &file, line, rec, cols: &cols, names: columns }, problems),
                Err(why) => problems.add(name, line, "", "", ProblemKind::MalformedRow, format!("malformed row: {why}")),
            }
        }
        Ok(())
    };
    let result = read();
    let Err(e) = result else { return true };
    problems.0.truncate(before);
    match e {
        SourceError::MissingColumns { missing, found, .. } => {
            for m in missing {
                problems.add(name, 1, &m, "", ProblemKind::MissingColumn, format!("missing column (the header has: {})", found.join(",")));
            }
        }
        SourceError::BadFile { message, .. } => problems.add(name, 0, "", "", ProblemKind::Unreadable, message),
        e => problems.add(name, 0, "", "", ProblemKind::Unreadable, e.to_string()),
    }
    false
}

/// Reads a household row, recording every problem in it; `None` if any.
fn household(row: &Row, known: &mut BTreeMap<String, u64>, problems: &mut Problems) -> Option<Household> {
    const F: &str = HOUSEHOLDS_FILE;
    let line = row.line;
    let before = problems.0.len();
    let mut bad = |k: usize, kind: ProblemKind, message: String| problems.add(F, line, HOUSEHOLD_COLUMNS[k], row.cell(k), kind, message);

    let household_id = row.cell(H_ID).trim().to_string();
    if household_id.is_empty() {
        bad(H_ID, ProblemKind::EmptyValue, "empty household_id".into());
    } else if let Some(first) = known.get(&household_id) {
        bad(H_ID, ProblemKind::DuplicateHousehold, format!("duplicate household_id (first on line {first})"));
    } else {
        known.insert(household_id.clone(), line);
    }
    let program = Program::parse(row.cell(H_PROGRAM));
    if program.is_none() {
        bad(H_PROGRAM, ProblemKind::UnknownProgram, "unknown program (expected DIBAO or TEKUN)".into());
    }
    let area_type = AreaType::parse(row.cell(H_AREA_TYPE));
    if area_type.is_none() {
        bad(H_AREA_TYPE, ProblemKind::UnknownAreaType, "unknown area_type (expected urban or rural)".into());
    }
    let mut amount = |field: usize| match hedui_core::money::parse_yuan(row.cell(field)) {
        Ok(fen) if fen >= 0 => Some(fen),
        Ok(_) => {
            bad(field, ProblemKind::BadAmount, "negative amount".into());
            None
        }
        Err(e) => {
            bad(field, ProblemKind::BadAmount, format!("not an amount in yuan: {e}"));
            None
        }
    };
    let income = amount(H_INCOME);
    let assets = amount(H_ASSETS);
    let mut count = |field: usize| match row.cell(field).trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            bad(field, ProblemKind::BadCount, "not a whole number ≥ 0".into());
            None
        }
    };
    let vehicles = count(H_VEHICLES);
    let properties = count(H_PROPERTIES);

    // The authorization: all four fields or none.
    let empty: Vec<usize> = AUTH_COLUMNS.iter().copied().filter(|c| row.cell(*c).trim().is_empty()).collect();
    let mut authorization = None;
    if empty.len() < AUTH_COLUMNS.len() {
        for &field in &empty {
            bad(field, ProblemKind::PartialAuthorization, "empty while other auth fields are filled: fill all four auth fields, or none for no authorization".into());
        }
        let mut date = |field: usize| {
            let raw = row.cell(field);
            if raw.trim().is_empty() {
                return None; // reported above as a partial authorization
            }
            text::parse_date(raw).map_err(|e| bad(field, ProblemKind::BadDate, format!("{e} (expected YYYY-MM-DD)"))).ok()
        };
        let signed = date(H_AUTH_SIGNED);
        let valid_until = date(H_AUTH_VALID_UNTIL);
        let scope = match row.cell(H_AUTH_SCOPE).trim() {
            "" => None,
            "ALL" => Some(None),
            list => {
                let codes: Vec<String> = list.split('|').map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect();
                if codes.is_empty() {
                    bad(H_AUTH_SCOPE, ProblemKind::BadScope, "expected ALL or department codes joined by |".into());
                    None
                } else {
                    Some(Some(codes))
                }
            }
        };
        if let (Some(signed), Some(valid_until), Some(scope)) = (signed, valid_until, scope) {
            authorization = Some(Authorization { number: row.cell(H_AUTH_NO).trim().to_string(), signed, valid_until, scope });
        }
    }

    if problems.0.len() > before {
        return None;
    }
    Some(Household {
        line,
        household_id,
        program: program?,
        county_code: row.cell(H_COUNTY).trim().to_string(),
        area_type: area_type?,
        head_id_raw: row.cell(H_HEAD_ID).into(),
        declared_monthly_income_fen: income?,
        declared_financial_assets_fen: assets?,
        declared_vehicle_count: vehicles?,
        declared_property_count: properties?,
        authorization,
    })
}
