//! Unusual access (异常流量监测): when a user's reads of residents' contact data, exports, sign-in
//! addresses or refused requests stand out against their own history.

use serde::{Deserialize, Serialize};

/// An event the unusual-access watch counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessEventKind {
    Export,
    Login,
    Forbidden,
}

impl AccessEventKind {
    pub const ALL: [AccessEventKind; 3] = [Self::Export, Self::Login, Self::Forbidden];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Login => "login",
            Self::Forbidden => "forbidden",
        }
    }
}

/// What the watch looks at, each counted per user and local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Cases whose contact data the user was shown in clear.
    ContactViews,
    /// Cases the user exported.
    Exports,
    /// Distinct client addresses the user signed in from.
    LoginAddresses,
    /// The user's requests that were refused (403).
    Forbidden,
}

impl Watched {
    pub const ALL: [Watched; 4] = [Self::ContactViews, Self::Exports, Self::LoginAddresses, Self::Forbidden];

    /// The kind of the alert an unusual day raises.
    pub fn alert_kind(self) -> &'static str {
        match self {
            Self::ContactViews => "contact_views",
            Self::Exports => "bulk_export",
            Self::LoginAddresses => "login_addresses",
            Self::Forbidden => "forbidden",
        }
    }

    /// The kind of the recorded events it counts (contact views have their own record).
    pub fn event_kind(self) -> Option<AccessEventKind> {
        match self {
            Self::ContactViews => None,
            Self::Exports => Some(AccessEventKind::Export),
            Self::LoginAddresses => Some(AccessEventKind::Login),
            Self::Forbidden => Some(AccessEventKind::Forbidden),
        }
    }
}

/// When a user's day is unusual: at `factor` times their own daily average, and at no fewer than a
/// minimum per thing watched (so that a new user's first busy day is not an alarm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessRules {
    /// Days of history a user's baseline is the daily average of.
    pub baseline_days: i64,
    /// A day is unusual at this many times the baseline…
    pub factor: f64,
    /// …and at no fewer than this many cases' contact data shown…
    pub min_cases: i64,
    /// …cases exported (a bulk export)…
    pub min_exported_cases: i64,
    /// …addresses signed in from…
    pub min_login_addresses: i64,
    /// …or requests refused.
    pub min_forbidden: i64,
}

impl Default for AccessRules {
    fn default() -> Self {
        Self {
            baseline_days: 28,
            factor: 5.0,
            min_cases: 200,
            min_exported_cases: 5_000,
            min_login_addresses: 4,
            min_forbidden: 20,
        }
    }
}

impl AccessRules {
    /// The user's daily average over the baseline days, from the total seen in them.
    pub fn baseline(&self, total_in_baseline_days: i64) -> f64 {
        total_in_baseline_days as f64 / self.baseline_days.max(1) as f64
    }

    /// The fewest of `what` in a day that can be unusual.
    pub fn minimum(&self, what: Watched) -> i64 {
        match what {
            Watched::ContactViews => self.min_cases,
            Watched::Exports => self.min_exported_cases,
            Watched::LoginAddresses => self.min_login_addresses,
            Watched::Forbidden => self.min_forbidden,
        }
    }

    /// Whether `today` (so far today) of `what` is unusual against `baseline`.
    pub fn is_unusual(&self, what: Watched, today: i64, baseline: f64) -> bool {
        today >= self.minimum(what) && today as f64 >= self.factor * baseline
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
        assert!(!rules.is_unusual(Watched::ContactViews, 450, usual), "a busy day");
        assert!(rules.is_unusual(Watched::ContactViews, 500, usual));
    }

    #[test]
    fn each_thing_watched_has_its_own_minimum() {
        let rules = AccessRules::default();
        assert!(!rules.is_unusual(Watched::Exports, 4_999, 0.0));
        assert!(rules.is_unusual(Watched::Exports, 5_000, 0.0));
        assert!(!rules.is_unusual(Watched::Exports, 20_000, 5_000.0), "a recipient's usual daily export");
        assert!(rules.is_unusual(Watched::LoginAddresses, 4, 0.1));
        assert!(!rules.is_unusual(Watched::Forbidden, 19, 0.0));
        assert_eq!(Watched::ALL.map(Watched::alert_kind).len(), 4);
    }

    #[test]
    fn a_new_user_alarms_only_past_the_minimum() {
        let rules = AccessRules::default();
        assert!(!rules.is_unusual(Watched::ContactViews, 199, 0.0));
        assert!(rules.is_unusual(Watched::ContactViews, 200, 0.0));
    }
}
