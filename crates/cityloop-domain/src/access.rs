//! Unusual access (异常流量监测): when a user's reads of residents' contact data stand out against
//! their own history.

use serde::{Deserialize, Serialize};

/// When a day's count of contact data shown to one user is unusual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessRules {
    /// Days of history a user's baseline is the daily average of.
    pub baseline_days: i64,
    /// A day is unusual at this many times the baseline…
    pub factor: f64,
    /// …and at no fewer than this many cases (so that a new user's first busy day is not an alarm).
    pub min_cases: i64,
}

impl Default for AccessRules {
    fn default() -> Self {
        Self { baseline_days: 28, factor: 5.0, min_cases: 200 }
    }
}

impl AccessRules {
    /// The user's daily average over the baseline days, from the total seen in them.
    pub fn baseline(&self, total_in_baseline_days: i64) -> f64 {
        total_in_baseline_days as f64 / self.baseline_days.max(1) as f64
    }

    /// Whether `today` (cases shown so far today) is unusual against `baseline`.
    pub fn is_unusual(&self, today: i64, baseline: f64) -> bool {
        today >= self.min_cases && today as f64 >= self.factor * baseline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_far_above_the_users_own_average_is_unusual() {
        let rules = AccessRules::default();
        let usual = rules.baseline(28 * 100);
        assert_eq!(usual, 100.0);
        assert!(!rules.is_unusual(450, usual), "a busy day");
        assert!(rules.is_unusual(500, usual));
    }

    #[test]
    fn a_new_user_alarms_only_past_the_minimum() {
        let rules = AccessRules::default();
        assert!(!rules.is_unusual(199, 0.0));
        assert!(rules.is_unusual(200, 0.0));
    }
}
