//! The working calendar: which days are worked (weekends, public holidays and the swapped working
//! weekends of 调休), the working hours of a day, and deadline arithmetic in every timing mode.
//!
//! Deadlines are computed in the city's local time (a fixed UTC offset: Chinese cities have no DST) and
//! returned in UTC.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::enums::TimingMode;
use crate::standard::TimeLimit;

/// How far ahead deadline arithmetic looks for working time before giving up; a calendar without
/// any working day in ten years is a configuration error, caught by [`WorkCalendar::validate`].
const MAX_SCAN_DAYS: i64 = 3660;

/// A working period within a day, in local time, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkPeriod {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The city's working calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCalendar {
    /// The city's offset from UTC in seconds (China: +8 h).
    pub utc_offset_secs: i32,
    /// Days off that would otherwise be working days (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are worked (调休).
    pub workdays: BTreeSet<NaiveDate>,
    /// Working hours of a working day, sorted and not overlapping.
    pub periods: Vec<WorkPeriod>,
}

/// Why a calendar cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("working hours must contain at least one period")]
    NoPeriods,
    #[error("working period {0} must start before it ends and after the previous period")]
    BadPeriod(usize),
    #[error("{0} is listed both as a holiday and as a working day")]
    BothHolidayAndWorkday(NaiveDate),
    #[error("UTC offset {0} s is out of range")]
    BadOffset(i32),
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid literal time")
}

impl Default for WorkCalendar {
    /// Beijing time, Monday to Friday, 08:00–12:00 and 14:00–18:00, no holidays.
    fn default() -> Self {
        Self {
            utc_offset_secs: 8 * 3600,
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            periods: vec![
                WorkPeriod { start: hm(8, 0), end: hm(12, 0) },
                WorkPeriod { start: hm(14, 0), end: hm(18, 0) },
            ],
        }
    }
}

impl WorkCalendar {
    /// Checks the calendar is usable for deadline arithmetic.
    pub fn validate(&self) -> Result<(), CalendarError> {
        if FixedOffset::east_opt(self.utc_offset_secs).is_none() {
            return Err(CalendarError::BadOffset(self.utc_offset_secs));
        }
        if self.periods.is_empty() {
            return Err(CalendarError::NoPeriods);
        }
        let mut previous_end: Option<NaiveTime> = None;
        for (i, p) in self.periods.iter().enumerate() {
            if p.start >= p.end || previous_end.is_some_and(|e| p.start < e) {
                return Err(CalendarError::BadPeriod(i));
            }
            previous_end = Some(p.end);
        }
        if let Some(d) = self.holidays.intersection(&self.workdays).next() {
            return Err(CalendarError::BothHolidayAndWorkday(*d));
        }
        Ok(())
    }

    /// The city's time zone.
    pub fn offset(&self) -> FixedOffset {
        FixedOffset::east_opt(self.utc_offset_secs).unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).expect("+8"))
    }

    /// The instant a local date begins.
    pub fn local_midnight(&self, d: NaiveDate) -> DateTime<Utc> {
        let start = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        start.and_local_timezone(self.offset()).single().map_or_else(|| start.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// The local calendar date of an instant.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.offset()).date_naive()
    }

    /// Whether a local date is worked.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.holidays.contains(&d) {
            return false;
        }
        if self.workdays.contains(&d) {
            return true;
        }
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Working seconds in one working day.
    pub fn working_seconds_per_day(&self) -> i64 {
        self.periods.iter().map(|p| (p.end - p.start).num_seconds()).sum()
    }

    fn at_local(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        self.offset()
            .from_local_datetime(&d.and_time(t))
            .single()
            .expect("fixed offsets have exactly one local time")
            .with_timezone(&Utc)
    }

    /// The deadline for `limit` starting at `from`.
    ///
    /// * continuous: `amount` hours of wall-clock time, holidays included;
    /// * calendar days: `amount` × 24 hours;
    /// * working hours: `amount` hours counted only inside working periods of working days;
    /// * working days: the day of receipt does not count; the deadline is the end of the last working
    ///   period of the `amount`-th working day after it (the usual reading of "N个工作日内").
    pub fn deadline(&self, from: DateTime<Utc>, limit: TimeLimit) -> DateTime<Utc> {
        let amount = i64::from(limit.amount);
        match limit.mode {
            TimingMode::Continuous => from + Duration::hours(amount),
            TimingMode::CalendarDays => from + Duration::days(amount),
            TimingMode::WorkingHours => self.add_working_seconds(from, amount * 3600),
            TimingMode::WorkingDays => self.add_working_days(from, amount),
        }
    }

    fn add_working_days(&self, from: DateTime<Utc>, days: i64) -> DateTime<Utc> {
        let last_period_end = self.periods.last().map_or_else(|| hm(18, 0), |p| p.end);
        let mut d = self.local_date(from);
        let mut counted = 0;
        let mut scanned = 0;
        while counted < days && scanned < MAX_SCAN_DAYS {
            d = d.succ_opt().unwrap_or(d);
            scanned += 1;
            if self.is_working_day(d) {
                counted += 1;
            }
        }
        if days == 0 {
            return from;
        }
        self.at_local(d, last_period_end)
    }

    /// Adds `secs` seconds of working time to `from`.
    pub fn add_working_seconds(&self, from: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        if secs <= 0 {
            return from;
        }
        let mut remaining = secs;
        let mut day = self.local_date(from);
        for _ in 0..MAX_SCAN_DAYS {
            if self.is_working_day(day) {
                for p in &self.periods {
                    let start = self.at_local(day, p.start).max(from);
                    let end = self.at_local(day, p.end);
                    if end <= start {
                        continue;
                    }
                    let available = (end - start).num_seconds();
                    if available >= remaining {
                        return start + Duration::seconds(remaining);
                    }
                    remaining -= available;
                }
            }
            day = day.succ_opt().unwrap_or(day);
        }
        // Unreachable with a validated calendar; fall back to wall-clock time rather than panic.
        from + Duration::seconds(secs)
    }

    /// Seconds of working time between two instants (zero if `to <= from`).
    pub fn working_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let last = self.local_date(to);
        let mut day = self.local_date(from);
        while day <= last {
            if self.is_working_day(day) {
                for p in &self.periods {
                    let start = self.at_local(day, p.start).max(from);
                    let end = self.at_local(day, p.end).min(to);
                    if end > start {
                        total += (end - start).num_seconds();
                    }
                }
            }
            day = match day.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }
        total
    }

    /// Where a deadline moves when the clock was stopped from `paused_at` to `resumed_at` (挂账):
    /// the time that was left at the pause, counted in the limit's mode, starts again at the resume.
    pub fn resume_deadline(
        &self,
        mode: TimingMode,
        deadline: DateTime<Utc>,
        paused_at: DateTime<Utc>,
        resumed_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        match mode {
            TimingMode::Continuous | TimingMode::CalendarDays => {
                resumed_at + (deadline - paused_at).max(Duration::zero())
            }
            TimingMode::WorkingHours | TimingMode::WorkingDays => {
                let left = self.working_seconds_between(paused_at, deadline);
                self.add_working_seconds(resumed_at, left)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn local(cal: &WorkCalendar, s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        cal.offset().from_local_datetime(&naive).unwrap().with_timezone(&Utc)
    }

    fn show(cal: &WorkCalendar, t: DateTime<Utc>) -> String {
        t.with_timezone(&cal.offset()).format("%Y-%m-%d %H:%M").to_string()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// National Day 2026: Oct 1–7 off, with Saturday Oct 10 worked (an illustrative 调休 pattern).
    fn national_day() -> WorkCalendar {
        let mut cal = WorkCalendar::default();
        for day in 1..=7 {
            cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 10, day).unwrap());
        }
        cal.workdays.insert(d("2026-10-10"));
        cal
    }

    #[test]
    fn continuous_clock_runs_through_nights_and_holidays() {
        let cal = national_day();
        let t = local(&cal, "2026-09-30 23:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(2, TimingMode::Continuous))), "2026-10-01 01:00");
    }

    #[test]
    fn calendar_days_ignore_the_calendar() {
        let cal = national_day();
        let t = local(&cal, "2026-09-30 10:15");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(7, TimingMode::CalendarDays))), "2026-10-07 10:15");
    }

    #[test]
    fn working_hours_skip_lunch_nights_and_weekends() {
        let cal = WorkCalendar::default();
        // Friday 2026-11-20 at 11:00: 1 h before lunch, 4 h in the afternoon, then Monday.
        let t = local(&cal, "2026-11-20 11:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(4, TimingMode::WorkingHours))), "2026-11-20 17:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(6, TimingMode::WorkingHours))), "2026-11-23 09:00");
        // Received during lunch: the clock starts at 14:00.
        let lunch = local(&cal, "2026-11-20 12:30");
        assert_eq!(show(&cal, cal.deadline(lunch, TimeLimit::new(2, TimingMode::WorkingHours))), "2026-11-20 16:00");
        // Received on a Sunday evening: Monday morning.
        let sunday = local(&cal, "2026-11-22 20:00");
        assert_eq!(show(&cal, cal.deadline(sunday, TimeLimit::new(4, TimingMode::WorkingHours))), "2026-11-23 12:00");
    }

    #[test]
    fn working_days_skip_holidays_and_count_swapped_weekends() {
        let cal = national_day();
        // Received Wednesday Sep 30: working days after it are Oct 8 (Thu), 9 (Fri), 10 (Sat, swapped), 12 (Mon).
        let t = local(&cal, "2026-09-30 09:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(1, TimingMode::WorkingDays))), "2026-10-08 18:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(3, TimingMode::WorkingDays))), "2026-10-10 18:00");
        assert_eq!(show(&cal, cal.deadline(t, TimeLimit::new(4, TimingMode::WorkingDays))), "2026-10-12 18:00");
    }

    #[test]
    fn working_seconds_between_counts_only_working_periods() {
        let cal = WorkCalendar::default();
        let from = local(&cal, "2026-11-20 11:00");
        let to = local(&cal, "2026-11-23 09:00");
        assert_eq!(cal.working_seconds_between(from, to), 6 * 3600);
        assert_eq!(cal.working_seconds_between(to, from), 0);
    }

    #[test]
    fn a_suspension_gives_back_the_time_that_was_left() {
        let cal = WorkCalendar::default();
        let deadline = local(&cal, "2026-11-20 17:00");
        let paused = local(&cal, "2026-11-20 15:00"); // 2 working hours left
        let resumed = local(&cal, "2026-11-25 11:00");
        let moved = cal.resume_deadline(TimingMode::WorkingHours, deadline, paused, resumed);
        assert_eq!(show(&cal, moved), "2026-11-25 15:00");
        let moved = cal.resume_deadline(TimingMode::Continuous, deadline, paused, resumed);
        assert_eq!(show(&cal, moved), "2026-11-25 13:00");
    }

    #[test]
    fn validation_rejects_unusable_calendars() {
        let mut cal = WorkCalendar { periods: vec![], ..WorkCalendar::default() };
        assert_eq!(cal.validate(), Err(CalendarError::NoPeriods));
        cal.periods = vec![WorkPeriod { start: hm(12, 0), end: hm(8, 0) }];
        assert_eq!(cal.validate(), Err(CalendarError::BadPeriod(0)));
        let mut cal = national_day();
        cal.workdays.insert(d("2026-10-01"));
        assert_eq!(cal.validate(), Err(CalendarError::BothHolidayAndWorkday(d("2026-10-01"))));
        assert_eq!(national_day().validate(), Ok(()));
    }

    proptest! {
        #[test]
        fn adding_working_time_then_measuring_it_gives_it_back(start in 0i64..(400 * 86400), secs in 1i64..(200 * 3600)) {
            let cal = national_day();
            let from = local(&cal, "2026-01-01 00:00") + Duration::seconds(start);
            let end = cal.add_working_seconds(from, secs);
            prop_assert!(end > from);
            prop_assert_eq!(cal.working_seconds_between(from, end), secs);
        }

        #[test]
        fn deadlines_never_come_before_their_start(start in 0i64..(400 * 86400), amount in 0u32..40, mode in 0usize..4) {
            let cal = national_day();
            let from = local(&cal, "2026-01-01 00:00") + Duration::seconds(start);
            let limit = TimeLimit::new(amount, TimingMode::ALL[mode]);
            prop_assert!(cal.deadline(from, limit) >= from);
        }
    }
}
