//! Readable case numbers: `YYYYMMDD-NNNNNN`, the local date of intake and that day's sequence.
//! They sort by day, and within a day by arrival.

use chrono::{Datelike, NaiveDate};

/// Formats a case number from the local intake date and the day's sequence (1-based).
pub fn case_number(day: NaiveDate, sequence: i64) -> String {
    format!("{:04}{:02}{:02}-{sequence:06}", day.year(), day.month(), day.day())
}

/// The day key used for the per-day counter, e.g. `20261121`.
pub fn day_key(day: NaiveDate) -> i64 {
    // Arithmetic, not formatting and parsing: a bulk import numbers hundreds of thousands of cases.
    i64::from(day.year()) * 10_000 + i64::from(day.month()) * 100 + i64::from(day.day())
}

/// Whether a string has the shape of a case number.
pub fn looks_like_case_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 15 && b[8] == b'-' && b[..8].iter().all(u8::is_ascii_digit) && b[9..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_zero_padded_and_sort_by_day_then_sequence() {
        let a = case_number(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(), 123);
        assert_eq!(a, "20261121-000123");
        let b = case_number(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(), 1200);
        let c = case_number(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), 1);
        assert!(a < b && b < c);
        assert!(looks_like_case_number(&a));
        assert!(!looks_like_case_number("12345"));
        assert_eq!(day_key(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()), 20260102);
        assert_eq!(day_key(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()), 20261231);
        assert_eq!(case_number(NaiveDate::from_ymd_opt(987, 3, 4).unwrap(), 7), "09870304-000007");
    }
}
