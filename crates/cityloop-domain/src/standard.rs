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
