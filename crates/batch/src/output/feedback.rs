//! Feedback files for departments: `feedback/<department>.csv` (UTF-8 with BOM)
//! and `.xlsx`, that department's rows only (data minimization: no other
//! department's amounts or records).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use hedui_core::rules::Discrepancy;
use rust_xlsxwriter::{Format, Workbook};

pub const HEADER: [&str; 7] = ["序号", "问题代码", "问题说明", "身份证号", "姓名", "记录标识", "详情"];

/// One feedback row, as written.
fn row(i: usize, d: &Discrepancy) -> [String; 7] {
    [
        (i + 1).to_string(),
        d.code.as_str().to_string(),
        d.code.description_zh().to_string(),
        d.person_id.clone(),
        d.name.clone(),
        d.record_ref.clone(),
        d.detail.clone(),
    ]
}

/// Writes one CSV + XLSX pair per department that has at least one row.
pub fn write_all(dir: &Path, discrepancies: &[Discrepancy]) -> io::Result<()> {
    let mut by_dept: BTreeMap<&str, Vec<&Discrepancy>> = BTreeMap::new();
    for d in discrepancies {
        by_dept.entry(d.department.as_str()).or_default().push(d);
    }
    std::fs::create_dir_all(dir)?;
    for (dept, rows) in by_dept {
        let rows: Vec<[String; 7]> = rows.iter().enumerate().map(|(i, d)| row(i, d)).collect();
        write_csv(&dir.join(format!("{dept}.csv")), &rows)?;
        write_xlsx(&dir.join(format!("{dept}.xlsx")), dept, &rows).map_err(io::Error::other)?;
    }
    Ok(())
}

fn write_csv(path: &Path, rows: &[[String; 7]]) -> io::Result<()> {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut bytes);
        w.write_record(HEADER)?;
        for r in rows {
            w.write_record(r)?;
        }
        w.flush()?;
    }
    std::fs::write(path, bytes)
}

fn write_xlsx(path: &Path, dept: &str, rows: &[[String; 7]]) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("问题清单")?;
    let bold = Format::new().set_bold().set_background_color(rust_xlsxwriter::Color::RGB(0xDDEBF7));
    // Widths that fit: the longest cell per column, CJK characters counted double.
    let mut widths = HEADER.map(display_width);
    for r in rows {
        for (c, v) in r.iter().enumerate() {
            widths[c] = widths[c].max(display_width(v));
        }
    }
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
        ws.set_column_width(c as u16, (widths[c] as f64 + 2.0).min(80.0))?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            // Every cell as text: an ID must never become a number in Excel.
            ws.write_string((i + 1) as u32, c as u16, v)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, rows.len() as u32, (HEADER.len() - 1) as u16)?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_title(&format!("hedui feedback: {dept}")));
    wb.save(path)
}

fn display_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) > 0x2E7F { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hedui_core::rules::DiscrepancyCode;

    fn d(dept: &str, code: DiscrepancyCode, person: &str) -> Discrepancy {
        Discrepancy { department: dept.into(), code, person_id: person.into(), record_ref: "R1".into(), household_id: "H1".into(), detail: "详情".into(), name: "张三".into() }
    }

    #[test]
    fn each_department_gets_only_its_own_rows_with_bom_and_chinese_headers() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![d("health", DiscrepancyCode::NAME_MISMATCH, "A"), d("banking", DiscrepancyCode::ID_INVALID, "B"), d("health", DiscrepancyCode::ID_INVALID, "C")];
        write_all(dir.path(), &rows).unwrap();
        let health = std::fs::read(dir.path().join("health.csv")).unwrap();
        assert!(health.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(health[3..].to_vec()).unwrap();
        assert!(text.starts_with("序号,问题代码,问题说明,身份证号,姓名,记录标识,详情\r\n"));
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains(",B,"));
        assert!(dir.path().join("health.xlsx").metadata().unwrap().len() > 1000);
        assert!(dir.path().join("banking.csv").exists());
        assert!(!dir.path().join("civil_affairs.csv").exists());
    }
}
