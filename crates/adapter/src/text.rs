//! Reading the values departments write: dates in their several spellings,
//! months, amounts. Each returns a reason string on failure so the caller can
//! quarantine the row with it.

use chrono::NaiveDate;
use hedui_core::money::{self, Fen};

/// Parses a date written `YYYY-MM-DD`, `YYYYMMDD`, `YYYY/MM/DD` (one- or
/// two-digit month and day allowed with separators) or `YYYY年M月D日`.
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("empty date".into());
    }
    let bad = || format!("not a date: {s:?}");
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::from_ymd_opt(s[0..4].parse().map_err(|_| bad())?, s[4..6].parse().map_err(|_| bad())?, s[6..8].parse().map_err(|_| bad())?)
            .ok_or_else(bad);
    }
    let parts: Vec<&str> = s
        .split(['-', '/', '年', '月', '日', '.'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 4) {
        return Err(bad());
    }
    if parts[0].len() != 4 {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(parts[0].parse().map_err(|_| bad())?, parts[1].parse().map_err(|_| bad())?, parts[2].parse().map_err(|_| bad())?)
        .ok_or_else(bad)
}

/// Parses an optional date: empty → `None`.
pub fn parse_opt_date(raw: &str) -> Result<Option<NaiveDate>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse_date(raw).map(Some)
    }
}

/// Parses `YYYY-MM` into the first day of that month.
pub fn parse_month(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    let (y, m) = s.split_once('-').ok_or_else(|| format!("not a month (YYYY-MM): {s:?}"))?;
    let y: i32 = y.parse().map_err(|_| format!("not a month (YYYY-MM): {s:?}"))?;
    let m: u32 = m.parse().map_err(|_| format!("not a month (YYYY-MM): {s:?}"))?;
    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(|| format!("not a month (YYYY-MM): {s:?}"))
}

/// Parses yuan (thousands separators allowed) into fen.
pub fn parse_yuan(raw: &str) -> Result<Fen, String> {
    money::parse_yuan(raw).map_err(|e| e.to_string())
}

/// Converts an Excel numeric cell holding yuan into fen. The cell is a float
/// by the file format's own choice; it is rounded to the nearest fen at once
/// and never used as a float afterwards.
pub fn excel_number_to_fen(value: f64) -> Result<Fen, String> {
    if !value.is_finite() || value.abs() > 1e13 {
        return Err(format!("amount out of range: {value}"));
    }
    Ok((value * 100.0).round() as Fen)
}

/// Converts an Excel date serial (1900 date system) to a date.
pub fn excel_serial_to_date(serial: f64) -> Result<NaiveDate, String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return Err(format!("not an Excel date: {serial}"));
    }
    // Serial 25569 = 1970-01-01; Excel's fictitious 1900-02-29 lies before 61.
    let base = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid");
    Ok(base + chrono::Duration::days(serial.floor() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates_in_every_spelling() {
        assert_eq!(parse_date("2026-03-05"), Ok(d(2026, 3, 5)));
        assert_eq!(parse_date("20260305"), Ok(d(2026, 3, 5)));
        assert_eq!(parse_date("2026/03/05"), Ok(d(2026, 3, 5)));
        assert_eq!(parse_date("2026/3/5"), Ok(d(2026, 3, 5)));
        assert_eq!(parse_date("2026年3月5日"), Ok(d(2026, 3, 5)));
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("05/03/2026").is_err());
        assert!(parse_date("").is_err());
        assert_eq!(parse_opt_date(" "), Ok(None));
    }

    #[test]
    fn months_and_excel() {
        assert_eq!(parse_month("2025-11"), Ok(d(2025, 11, 1)));
        assert!(parse_month("2025-13").is_err());
        assert_eq!(excel_serial_to_date(46086.0), Ok(d(2026, 3, 5)));
        assert_eq!(excel_number_to_fen(1234.56), Ok(123456));
        assert_eq!(excel_number_to_fen(0.1 + 0.2), Ok(30));
    }
}
