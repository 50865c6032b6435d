//! Case standards (立结案标准): what a leaf category promises about filing, closing and time.

use serde::{Deserialize, Serialize};

use crate::enums::{TimingMode, Urgency};

/// A handling time limit: an amount counted in a timing mode. Continuous and working-hour limits
/// count hours; working-day and calendar-day limits count days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeLimit {
    pub amount: u32,
    pub mode: TimingMode,
}

impl TimeLimit {
    pub fn new(amount: u32, mode: TimingMode) -> Self {
        Self { amount, mode }
    }

    /// Whether `amount` counts hours (otherwise days).
    pub fn counts_hours(self) -> bool {
        matches!(self.mode, TimingMode::Continuous | TimingMode::WorkingHours)
    }

    /// A short English description such as "4 working hours" or "1 calendar day".
    pub fn describe_en(self) -> String {
        let unit = match self.mode {
            TimingMode::Continuous => "hour",
            TimingMode::WorkingHours => "working hour",
            TimingMode::WorkingDays => "working day",
            TimingMode::CalendarDays => "calendar day",
        };
        let plural = if self.amount == 1 { "" } else { "s" };
        let continuous = if self.mode == TimingMode::Continuous { " (continuous)" } else { "" };
        format!("{} {unit}{plural}{continuous}", self.amount)
    }

    /// A short Chinese description such as "4个工作时".
    pub fn describe_zh(self) -> String {
        match self.mode {
            TimingMode::Continuous => format!("{}小时(连续计时)", self.amount),
            TimingMode::WorkingHours => format!("{}个工作时", self.amount),
            TimingMode::WorkingDays => format!("{}个工作日", self.amount),
            TimingMode::CalendarDays => format!("{}个自然日", self.amount),
        }
    }
}

/// The standard a leaf category carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseStandard {
    pub limit: TimeLimit,
    pub urgency: Urgency,
    /// 立案条件: when a report of this kind is filed as a case.
    pub filing_condition: String,
    /// 结案条件: what must be true to close it.
    pub closing_condition: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_the_same_in_both_languages() {
        let cases = [
            (TimeLimit::new(2, TimingMode::Continuous), "2小时(连续计时)", "2 hours (continuous)"),
            (TimeLimit::new(1, TimingMode::WorkingHours), "1个工作时", "1 working hour"),
            (TimeLimit::new(3, TimingMode::WorkingDays), "3个工作日", "3 working days"),
            (TimeLimit::new(7, TimingMode::CalendarDays), "7个自然日", "7 calendar days"),
        ];
        for (limit, zh, en) in cases {
            assert_eq!((limit.describe_zh().as_str(), limit.describe_en().as_str()), (zh, en));
        }
    }
}
