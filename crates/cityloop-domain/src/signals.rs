//! Risk signals (风险预警): what the week's cases say before anyone is asked.
//!
//! * concentrated (集中性): many cases of one category in one grid or street within the window;
//! * rising (趋势性): a category in a street growing beyond its normal weekly variation;
//! * emerging (苗头性): a category new to a street, and watch words (threats, crowds, fire, self-harm,
//!   wage arrears…) that raise a signal with the first case.
//!
//! The functions here decide from counts the caller gathered; they keep no state and do no IO.

use serde::{Deserialize, Serialize};

use crate::enums::wire_enum;

wire_enum!(
    /// The kind of a risk.
    SignalKind {
        Concentrated = "concentrated" / "集中性",
        Rising = "rising" / "趋势性",
        Emerging = "emerging" / "苗头性",
        WatchWord = "watch_word" / "敏感词",
    }
);

/// What a city tunes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalRules {
    /// How often each node scans the counts (minutes).
    pub scan_minutes: u32,
    /// Days a concentrated signal looks back over.
    pub window_days: u32,
    /// Cases of one category in one grid within the window that make a concentration.
    pub concentrated_grid_min: i64,
    /// … and in one street.
    pub concentrated_street_min: i64,
    /// The resolution of the hexagonal index cases are also counted in (H3; 9 is cells of about
    /// 0.1 km², the size of a unit grid).
    pub hex_resolution: u8,
    /// … and at least this many times the average of the places of its kind (grids or streets).
    pub concentration_ratio: f64,
    /// Density clustering (DBSCAN) of the window's located cases of each category: cases within this
    /// many metres of each other belong together; a cluster needs `concentrated_grid_min` cases.
    pub cluster_radius_m: f64,
    /// Hot problems: cases of the window whose words have at least this cosine are about one problem
    /// (see `cityloop hotspots`); a problem needs `concentrated_grid_min` cases.
    pub text_min_similarity: f32,
    /// Signals of each kind kept per scan for each way of finding them (grids, streets, H3 cells,
    /// density clusters, hot problems), highest score first, so that the list stays one a person reads.
    pub max_per_scan: usize,
    /// Weeks of history a rising signal compares the last week with.
    pub baseline_weeks: usize,
    /// The last week must reach this many cases …
    pub rising_min: i64,
    /// … and lie this many standard deviations above the weekly mean.
    pub rising_sigmas: f64,
    /// Cases in the last week of a category the street has not seen in the baseline weeks.
    pub emerging_min: i64,
    /// Words that raise a signal with the first case that contains one.
    pub watch_words: Vec<String>,
}

impl Default for SignalRules {
    fn default() -> Self {
        Self {
            scan_minutes: 10,
            window_days: 7,
            concentrated_grid_min: 5,
            concentrated_street_min: 15,
            hex_resolution: 9,
            concentration_ratio: 3.0,
            cluster_radius_m: 150.0,
            text_min_similarity: 0.4,
            max_per_scan: 20,
            baseline_weeks: 8,
            rising_min: 10,
            rising_sigmas: 3.0,
            emerging_min: 3,
            watch_words: [
                "跳楼",
                "自杀",
                "轻生",
                "不想活",
                "割腕",
                "煤气泄漏",
                "燃气泄漏",
                "着火",
                "起火",
                "火灾",
                "爆炸",
                "坍塌",
                "聚集",
                "围堵",
                "堵路",
                "上访",
                "讨薪",
                "欠薪",
                "拖欠工资",
                "农民工工资",
                "报复",
                "同归于尽",
                "砍人",
                "持刀",
                "家暴",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Why a setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SignalRulesError {
    pub field: &'static str,
    pub message: &'static str,
}

impl SignalRules {
    pub fn validate(&self) -> Result<(), SignalRulesError> {
        let err = |field, message| Err(SignalRulesError { field, message });
        if !(1..=1440).contains(&self.scan_minutes) {
            return err("signals.scan_minutes", "must be 1 to 1440");
        }
        if !(1..=31).contains(&self.window_days) {
            return err("signals.window_days", "must be 1 to 31");
        }
        if self.concentrated_grid_min < 2 || self.concentrated_street_min < 2 {
            return err("signals.concentrated_grid_min", "and concentrated_street_min must be at least 2");
        }
        if !(5..=12).contains(&self.hex_resolution) {
            return err("signals.hex_resolution", "must be 5 to 12");
        }
        if !(self.concentration_ratio.is_finite() && self.concentration_ratio >= 1.0) {
            return err("signals.concentration_ratio", "must be at least 1");
        }
        if !(self.cluster_radius_m.is_finite() && (10.0..=2000.0).contains(&self.cluster_radius_m)) {
            return err("signals.cluster_radius_m", "must be 10 to 2000 metres");
        }
        if !(self.text_min_similarity.is_finite() && (0.1..=0.95).contains(&self.text_min_similarity)) {
            return err("signals.text_min_similarity", "must be 0.1 to 0.95");
        }
        if !(1..=500).contains(&self.max_per_scan) {
            return err("signals.max_per_scan", "must be 1 to 500");
        }
        if !(2..=52).contains(&self.baseline_weeks) {
            return err("signals.baseline_weeks", "must be 2 to 52");
        }
        if self.rising_min < 1 || self.emerging_min < 1 {
            return err("signals.rising_min", "and emerging_min must be at least 1");
        }
        if !(self.rising_sigmas.is_finite() && self.rising_sigmas > 0.0) {
            return err("signals.rising_sigmas", "must be above 0");
        }
        if self.watch_words.iter().any(|w| w.trim().is_empty()) {
            return err("signals.watch_words", "must not contain an empty word");
        }
        Ok(())
    }
}

/// The watch words a text contains, in the order of the list.
pub fn watch_words_in<'a>(text: &str, words: &'a [String]) -> Vec<&'a str> {
    words.iter().map(|w| w.trim()).filter(|w| !w.is_empty() && text.contains(*w)).collect()
}

/// A concentration: `count` cases in one place where the places of its kind have `average` each.
/// It takes at least `min` cases and `ratio` times the average; the score is 50 at that ratio and
/// reaches 100 at three times it.
pub fn concentration_score(count: i64, min: i64, average: f64, ratio: f64) -> Option<f64> {
    // Fewer than one case per place on average still counts as one: a single case is never a crowd.
    let times = count as f64 / average.max(1.0);
    (count >= min && times >= ratio).then(|| (50.0 + 25.0 * (times / ratio - 1.0)).min(100.0))
}

/// The verdict on one category in one street from its weekly counts, oldest first, the last being the
/// week just ended. Weekly sums carry every weekday once, so the weekly rhythm of calls does not
/// alarm; the baseline's own spread sets how much growth is normal for this category and street.
#[derive(Debug, Clone, PartialEq)]
pub enum Trend {
    /// Growing beyond normal: last week, the baseline mean and standard deviation, and a score.
    Rising {
        last: i64,
        mean: f64,
        sd: f64,
        score: f64,
    },
    /// Not seen in the baseline weeks, now `last` times.
    Emerging {
        last: i64,
        score: f64,
    },
    Normal,
}

/// How much busier the season makes the last week than the weeks before it: the same weeks a year
/// earlier, city-wide for the category (`last_year` ends with the week a year before the last one).
/// 1 when last year is too quiet to tell (under `SEASON_MIN_MEAN` a week in its baseline).
pub fn seasonal_factor(last_year: &[i64]) -> f64 {
    let Some((&same_week, before)) = last_year.split_last() else { return 1.0 };
    if before.is_empty() {
        return 1.0;
    }
    let mean = before.iter().sum::<i64>() as f64 / before.len() as f64;
    if mean < SEASON_MIN_MEAN {
        return 1.0;
    }
    (same_week as f64 / mean).clamp(0.25, 4.0)
}

/// A baseline week of last year below this many cases says nothing about the season.
pub const SEASON_MIN_MEAN: f64 = 5.0;

/// The last of `weeks` against the ones before it. `season` (see [`seasonal_factor`]) scales what
/// the baseline leads one to expect, so that heating in November or flooding in the rainy season is
/// not news every year.
pub fn trend(weeks: &[i64], season: f64, rules: &SignalRules) -> Trend {
    let Some((&last, baseline)) = weeks.split_last() else { return Trend::Normal };
    if baseline.is_empty() {
        return Trend::Normal;
    }
    let n = baseline.len() as f64;
    let season = if season.is_finite() && season > 0.0 { season } else { 1.0 };
    let mean = baseline.iter().sum::<i64>() as f64 / n * season;
    if baseline.iter().all(|w| *w == 0) {
        return if last >= rules.emerging_min {
            Trend::Emerging { last, score: (50.0 + 10.0 * (last - rules.emerging_min) as f64).min(100.0) }
        } else {
            Trend::Normal
        };
    }
    let plain_mean = mean / season;
    let var = baseline.iter().map(|w| (*w as f64 - plain_mean).powi(2)).sum::<f64>() / n;
    // Counts are Poisson-like: a quiet baseline still allows √mean of noise, and at least one case.
    let sd = (var.sqrt() * season).max(mean.sqrt()).max(1.0);
    let sigmas = (last as f64 - mean) / sd;
    if last >= rules.rising_min && sigmas >= rules.rising_sigmas {
        Trend::Rising { last, mean, sd, score: (50.0 + 10.0 * (sigmas - rules.rising_sigmas)).min(100.0) }
    } else {
        Trend::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_words_are_found_in_order_of_the_list() {
        let rules = SignalRules::default();
        assert_eq!(watch_words_in("老板拖欠工资三个月，工人准备去围堵", &rules.watch_words), ["围堵", "拖欠工资"]);
        assert!(watch_words_in("路灯不亮", &rules.watch_words).is_empty());
    }

    #[test]
    fn a_concentration_is_many_cases_against_the_average_place() {
        assert_eq!(concentration_score(4, 5, 0.2, 3.0), None, "too few to be a crowd");
        // 5 where places have under one each: counted against one, five times it.
        assert_eq!(concentration_score(5, 5, 0.2, 3.0), Some(50.0 + 25.0 * (5.0 / 3.0 - 1.0)));
        assert_eq!(concentration_score(12, 5, 4.0, 3.0), Some(50.0));
        assert_eq!(concentration_score(24, 5, 4.0, 3.0), Some(75.0));
        assert_eq!(concentration_score(11, 5, 4.0, 3.0), None, "a busy category is busy everywhere");
        assert_eq!(concentration_score(200, 5, 4.0, 3.0), Some(100.0));
    }

    #[test]
    fn growth_beyond_the_weekly_spread_rises_and_noise_does_not() {
        let rules = SignalRules::default();
        // Steady around 10 a week, then 30.
        assert!(matches!(trend(&[9, 11, 10, 12, 8, 10, 11, 9, 30], 1.0, &rules), Trend::Rising { last: 30, .. }));
        // A noisy category: 30 is within its normal swings.
        assert_eq!(trend(&[2, 25, 4, 28, 3, 30, 5, 27, 30], 1.0, &rules), Trend::Normal);
        // Too few cases to alarm, however steep.
        assert_eq!(trend(&[0, 1, 0, 1, 0, 0, 1, 0, 6], 1.0, &rules), Trend::Normal);
        // New to the street.
        assert!(matches!(trend(&[0, 0, 0, 0, 0, 0, 0, 0, 4], 1.0, &rules), Trend::Emerging { last: 4, .. }));
        assert_eq!(trend(&[0, 0, 0, 0, 0, 0, 0, 0, 2], 1.0, &rules), Trend::Normal);
    }

    #[test]
    fn a_rise_the_season_brings_every_year_is_not_news() {
        let rules = SignalRules::default();
        // Heating: last year the same week tripled against the eight before it, city-wide.
        let season = seasonal_factor(&[40, 42, 38, 41, 39, 40, 43, 37, 120]);
        assert_eq!(season, 3.0);
        let street = [9, 11, 10, 12, 8, 10, 11, 9, 30];
        assert_eq!(trend(&street, season, &rules), Trend::Normal, "30 is what the season brings");
        // Five times the weeks before is more than the season explains.
        assert!(matches!(trend(&[9, 11, 10, 12, 8, 10, 11, 9, 50], season, &rules), Trend::Rising { .. }));
        // A quiet last year tells nothing; no last year at all neither.
        assert_eq!(seasonal_factor(&[1, 0, 2, 1, 0, 1, 1, 0, 9]), 1.0);
        assert_eq!(seasonal_factor(&[]), 1.0);
        assert!(matches!(trend(&street, seasonal_factor(&[]), &rules), Trend::Rising { .. }));
    }

    #[test]
    fn senseless_rules_are_refused() {
        let rules = SignalRules { baseline_weeks: 1, ..SignalRules::default() };
        assert_eq!(rules.validate().unwrap_err().field, "signals.baseline_weeks");
        assert!(SignalRules::default().validate().is_ok());
    }
}
