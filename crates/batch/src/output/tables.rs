//! `verdicts.csv`, `discrepancies.csv`, `quarantine.csv`, `explanations.jsonl`.
//! Byte-identical for identical inputs: rows come sorted from the engine and
//! nothing here depends on time or hash order.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use hedui_adapter::Quarantined;
use hedui_core::money::Yuan;
use hedui_core::rules::{Discrepancy, Explanation, Verdict};

pub const VERDICT_HEADER: [&str; 12] = [
    "household_id",
    "program",
    "county_code",
    "area_type",
    "verdict",
    "reason_codes",
    "counted_members",
    "standard_monthly_yuan",
    "gross_income_12m_yuan",
    "medical_deduction_yuan",
    "net_income_12m_yuan",
    "financial_assets_yuan",
];

pub const DISCREPANCY_HEADER: [&str; 6] = ["code", "department", "household_id", "person_id", "record_ref", "detail"];

fn amount(v: Option<i64>) -> String {
    v.map(|f| Yuan(f).to_string()).unwrap_or_default()
}

fn csv_writer(path: &Path, bom: bool) -> io::Result<csv::Writer<BufWriter<std::fs::File>>> {
    let mut f = BufWriter::new(std::fs::File::create(path)?);
    if bom {
        f.write_all(b"\xEF\xBB\xBF")?;
    }
    Ok(csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(f))
}

pub fn write_verdicts(path: &Path, verdicts: &[Verdict]) -> io::Result<()> {
    let mut w = csv_writer(path, false)?;
    w.write_record(VERDICT_HEADER)?;
    for v in verdicts {
        w.write_record([
            v.household_id.as_str(),
            &v.program,
            &v.county_code,
            &v.area_type,
            v.verdict.as_str(),
            &v.reason_codes(),
            &v.counted_members.to_string(),
            &amount(v.standard_monthly_fen),
            &amount(v.gross_income_12m_fen),
            &amount(v.medical_deduction_fen),
            &amount(v.net_income_12m_fen),
            &amount(v.financial_assets_fen),
        ])?;
    }
    w.flush()
}

pub fn write_discrepancies(path: &Path, rows: &[Discrepancy]) -> io::Result<()> {
    let mut w = csv_writer(path, false)?;
    w.write_record(DISCREPANCY_HEADER)?;
    for d in rows {
        w.write_record([d.code.as_str(), &d.department, &d.household_id, &d.person_id, &d.record_ref, &d.detail])?;
    }
    w.flush()
}

pub fn write_quarantine(path: &Path, rows: &[(String, Quarantined)]) -> io::Result<()> {
    let mut w = csv_writer(path, true)?;
    w.write_record(["source", "file", "line", "field", "raw_value", "reason"])?;
    for (code, q) in rows {
        w.write_record([code.as_str(), &q.file, &q.line.to_string(), &q.field, &q.raw_value, &q.reason])?;
    }
    w.flush()
}

pub fn write_explanations(path: &Path, rows: &[Explanation]) -> io::Result<()> {
    let mut f = BufWriter::new(std::fs::File::create(path)?);
    for e in rows {
        serde_json::to_writer(&mut f, e).map_err(io::Error::other)?;
        f.write_all(b"\n")?;
    }
    f.flush()
}
