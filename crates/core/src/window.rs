//! Dates of a batch (POLICY §1): the as-of date D, the income window, the
//! academic year, and "after D".

use chrono::{Datelike, NaiveDate};

/// The first day of `date`'s month shifted by `months` (may be negative).
pub fn month_start_shifted(date: NaiveDate, months: i32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).expect("first of month")
}

/// The batch's dates, computed once from D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchDates {
    pub as_of: NaiveDate,
    /// First month of the income window (12 full months before D's month).
    pub window_start: NaiveDate,
    /// Last month of the window (first day of that month).
    pub window_end: NaiveDate,
}

impl BatchDates {
    pub fn new(as_of: NaiveDate) -> Self {
        BatchDates { as_of, window_start: month_start_shifted(as_of, -12), window_end: month_start_shifted(as_of, -1) }
    }

    /// `YYYYMMDD`
    pub fn batch_id(&self) -> String {
        self.as_of.format("%Y%m%d").to_string()
    }

    /// Whether a date's month lies in the window.
    pub fn in_window(&self, date: NaiveDate) -> bool {
        let m = month_start_shifted(date, 0);
        m >= self.window_start && m <= self.window_end
    }

    /// A month-dated item is after D when its month starts after D.
    pub fn month_after_as_of(&self, month: NaiveDate) -> bool {
        month_start_shifted(month, 0) > self.as_of
    }

    /// The academic year in force on D, `YYYY-YYYY+1`, starting 1 September.
    pub fn academic_year(&self) -> String {
        let y = if self.as_of.month() >= 9 { self.as_of.year() } else { self.as_of.year() - 1 };
        format!("{}-{}", y, y + 1)
    }

    /// `2025-11..2026-10`
    pub fn window_label(&self) -> String {
        format!("{}..{}", self.window_start.format("%Y-%m"), self.window_end.format("%Y-%m"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn window_is_the_twelve_full_months_before_the_month_of_d() {
        let b = BatchDates::new(d("2026-11-26"));
        assert_eq!(b.window_start, d("2025-11-01"));
        assert_eq!(b.window_end, d("2026-10-01"));
        assert!(b.in_window(d("2025-11-30")));
        assert!(b.in_window(d("2026-10-31")));
        assert!(!b.in_window(d("2026-11-01")));
        assert!(!b.in_window(d("2025-10-31")));
        assert_eq!(BatchDates::new(d("2026-01-05")).window_start, d("2025-01-01"));
        assert_eq!(BatchDates::new(d("2026-01-05")).window_end, d("2025-12-01"));
        assert_eq!(b.batch_id(), "20261126");
    }

    #[test]
    fn month_after_d_and_academic_year() {
        let b = BatchDates::new(d("2026-11-26"));
        assert!(!b.month_after_as_of(d("2026-11-01")));
        assert!(b.month_after_as_of(d("2026-12-01")));
        assert_eq!(b.academic_year(), "2026-2027");
        assert_eq!(BatchDates::new(d("2026-08-31")).academic_year(), "2025-2026");
        assert_eq!(BatchDates::new(d("2026-09-01")).academic_year(), "2026-2027");
    }
}
