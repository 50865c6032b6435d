//! The city at a glance (一屏观全城): today's intake, what is open and overdue by channel and
//! district, open cases per grid, daily volume by category, the slowest units, and this period's
//! 12345 ranking and 三率 trend. Several nodes and many screens ask for it every minute, so each node
//! computes it at most once per [`OVERVIEW_TTL`] and serves the same snapshot in between; an older
//! snapshot is served while a fresh one is computed in the background.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::evaluation::{day_number, Indicator};
use cityloop_domain::{CategoryId, Channel, DivisionId, GridId, Role};
use std::sync::Arc;

use crate::error::{AppError, Result};
use crate::evaluation::{HotlineRates, RankedRow, BATCHES_BEFORE_READING};
use crate::scope::Principal;
use crate::App;

/// How long one computed overview is served.
pub const OVERVIEW_TTL: Duration = Duration::from_secs(15);
/// Days of daily volume shown.
pub const DAILY_DAYS: u64 = 14;
/// Days over which units' pace is measured: the cases they closed in these days.
const PACE_DAYS: u64 = 30;

/// Evaluation periods in the screen's 三率 trend.
pub const TREND_PERIODS: usize = 6;

/// Roles that see the whole-city screen.
const OVERVIEW_ROLES: &[Role] = &[Role::Leader, Role::Admin, Role::Lead, Role::Dispatcher];

/// What a row of open cases counts: the page names it in its own language.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowOf {
    Channel(Channel),
    UnknownChannel,
    /// A district, or none (cases not placed in one).
    District(Option<DivisionId>),
}

/// Open and overdue counts of one row (a channel or a district).
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRow {
    pub of: RowOf,
    /// The Chinese name (a channel's label, a district's name, or 未定位).
    pub label: String,
    pub open: i64,
    pub overdue: i64,
}

/// One unit's pace.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowUnit {
    pub unit: String,
    pub closed: i64,
    pub mean_hours: f64,
    pub overdue_now: i64,
}

/// The whole-city overview at one moment.
#[derive(Debug, Clone)]
pub struct Overview {
    pub computed_at: DateTime<Utc>,
    pub today_total: i64,
    pub today_by_channel: Vec<(Channel, i64)>,
    pub open_total: i64,
    pub overdue_total: i64,
    pub open_by_channel: Vec<OpenRow>,
    pub open_by_district: Vec<OpenRow>,
    pub open_by_grid: HashMap<GridId, i64>,
    /// Local days, oldest first.
    pub days: Vec<NaiveDate>,
    /// Top-level categories with a count per day of `days`, largest first.
    pub daily_by_category: Vec<(String, Vec<i64>)>,
    pub slowest_units: Vec<SlowUnit>,
    /// The evaluation period running now (`2026-11`), and its 12345 ranking of the units, best first.
    pub period: String,
    pub hotline_ranking: Vec<RankedRow>,
    /// The city's 三率 over the last [`TREND_PERIODS`] periods, oldest first.
    pub hotline_trend: Vec<HotlineRates>,
}

/// The per-node cache of the last overview, and whether a refresh is running.
#[derive(Default)]
pub struct OverviewCache {
    last: Mutex<Option<(Instant, Arc<Overview>)>>,
    refreshing: AtomicBool,
}

impl App {
    /// The overview, from this node's cache when it is fresh.
    pub async fn overview(&self, who: &Principal) -> Result<Arc<Overview>> {
        if !who.has_any(OVERVIEW_ROLES) {
            return Err(AppError::Forbidden("the city overview is for leaders, leads and dispatchers".into()));
        }
        let cache = &self.overview_cache;
        let last = cache.last.lock().ok().and_then(|c| c.clone());
        match last {
            Some((at, cached)) if at.elapsed() < OVERVIEW_TTL => Ok(cached),
            Some((_, stale)) => {
                // Serve the last snapshot and refresh it once in the background, so that no
                // screen waits for the counts.
                if !cache.refreshing.swap(true, Ordering::AcqRel) {
                    let app = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = app.refresh_overview().await {
                            tracing::warn!(error = %e, "refreshing the city overview failed");
                        }
                        app.overview_cache.refreshing.store(false, Ordering::Release);
                    });
                }
                Ok(stale)
            }
            None => self.refresh_overview().await,
        }
    }

    async fn refresh_overview(&self) -> Result<Arc<Overview>> {
        let fresh = Arc::new(self.compute_overview().await?);
        if let Ok(mut c) = self.overview_cache.last.lock() {
            *c = Some((Instant::now(), Arc::clone(&fresh)));
        }
        Ok(fresh)
    }

    /// Computes the overview from the store, bypassing the cache.
    pub async fn compute_overview(&self) -> Result<Overview> {
        let reference = self.reference();
        let now = self.now();
        let today = reference.calendar.local_date(now);
        let first_day = today.checked_sub_days(Days::new(DAILY_DAYS - 1)).unwrap_or(today);
        let pace_from = today.checked_sub_days(Days::new(PACE_DAYS - 1)).unwrap_or(today);
        let tomorrow = day_number(today.succ_opt().unwrap_or(today));

        // Intake, closings, the ranking and the trend come from the counter's rollups, so what was
        // done since its last tick is counted first, as a report does; what is open now comes from
        // the index of open cases.
        self.count_evaluation_batches(BATCHES_BEFORE_READING).await?;
        let period = self.current_evaluation_period();
        let (intake, open, pace) = tokio::try_join!(
            self.store.daily_intake(day_number(first_day), tomorrow),
            self.store.open_counts(now),
            self.store.unit_pace(day_number(pace_from), tomorrow, now),
        )?;
        // The screen stays up without them: a part that cannot be read shows empty.
        let label = period.label();
        let (report, trend) =
            tokio::join!(self.evaluation_report_within(None, period), self.hotline_trend_within(None, TREND_PERIODS),);
        let hotline_ranking = match report {
            Ok(report) => report
                .indicators
                .into_iter()
                .find(|i| i.indicator == Indicator::Hotline)
                .map(|i| i.rows)
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "the leader screen's ranking could not be read");
                Vec::new()
            }
        };
        let hotline_trend = trend.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the leader screen's 三率 trend could not be read");
            Vec::new()
        });

        let mut today_by_channel: HashMap<Channel, i64> = HashMap::new();
        for (key, n) in intake.iter().filter(|(key, _)| key.day == day_number(today)) {
            if let Some(channel) = Channel::parse(&key.channel) {
                *today_by_channel.entry(channel).or_default() += n;
            }
        }
        let mut today_by_channel: Vec<(Channel, i64)> = today_by_channel.into_iter().collect();
        today_by_channel.sort_by_key(|c| (std::cmp::Reverse(c.1), c.0.as_str()));

        // Districts: walk each community up to its district.
        let district_of = |d: Option<DivisionId>| -> Option<DivisionId> {
            let mut cur = d?;
            loop {
                let row = reference.division(cur)?;
                if row.level == DivisionLevel::District {
                    return Some(cur);
                }
                cur = row.parent_id?;
            }
        };
        let mut by_channel: HashMap<String, (i64, i64)> = HashMap::new();
        let mut by_district: HashMap<Option<DivisionId>, (i64, i64)> = HashMap::new();
        let mut open_by_grid: HashMap<GridId, i64> = HashMap::new();
        for row in &open {
            let e = by_channel.entry(row.channel.clone()).or_default();
            e.0 += row.open;
            e.1 += row.overdue;
            let e = by_district.entry(district_of(row.division_id)).or_default();
            e.0 += row.open;
            e.1 += row.overdue;
            if let Some(g) = row.grid_id {
                *open_by_grid.entry(g).or_default() += row.open;
            }
        }
        let sorted = |rows: Vec<OpenRow>| {
            let mut rows = rows;
            rows.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.label.cmp(&b.label)));
            rows
        };
        let open_by_channel = sorted(
            by_channel
                .into_iter()
                .map(|(c, (open, overdue))| match Channel::parse(&c) {
                    Some(channel) => {
                        OpenRow { of: RowOf::Channel(channel), label: channel.label_zh().to_string(), open, overdue }
                    }
                    // A name stored by something other than the platform is shown as it is.
                    None => OpenRow { of: RowOf::UnknownChannel, label: c, open, overdue },
                })
                .collect(),
        );
        let open_by_district = sorted(
            by_district
                .into_iter()
                .map(|(d, (open, overdue))| OpenRow {
                    of: RowOf::District(d),
                    label: d.and_then(|d| reference.division(d)).map_or("未定位".to_string(), |d| d.name.clone()),
                    open,
                    overdue,
                })
                .collect(),
        );

        let days: Vec<NaiveDate> = (0..DAILY_DAYS).filter_map(|i| first_day.checked_add_days(Days::new(i))).collect();
        let root_of = |c: Option<CategoryId>| -> String {
            c.map(|c| reference.category_chain(c))
                .and_then(|chain| chain.last().copied())
                .and_then(|root| reference.category(root))
                .map_or("未分类".to_string(), |c| c.name.clone())
        };
        let mut per_category: HashMap<String, Vec<i64>> = HashMap::new();
        for (key, n) in &intake {
            let Some(i) = days.iter().position(|x| day_number(*x) == key.day) else { continue };
            per_category.entry(root_of(key.category_id)).or_insert_with(|| vec![0; days.len()])[i] += n;
        }
        let mut daily_by_category: Vec<(String, Vec<i64>)> = per_category.into_iter().collect();
        daily_by_category.sort_by(|a, b| b.1.iter().sum::<i64>().cmp(&a.1.iter().sum::<i64>()).then(a.0.cmp(&b.0)));

        let mut slowest_units: Vec<SlowUnit> = pace
            .iter()
            .map(|p| SlowUnit {
                unit: reference.unit(p.unit_id).map_or_else(|| p.unit_id.0.to_string(), |u| u.name.clone()),
                closed: p.closed,
                mean_hours: p.mean_hours,
                overdue_now: p.overdue_now,
            })
            .collect();
        slowest_units.sort_by(|a, b| {
            b.overdue_now.cmp(&a.overdue_now).then(b.mean_hours.total_cmp(&a.mean_hours)).then(a.unit.cmp(&b.unit))
        });
        slowest_units.truncate(10);

        Ok(Overview {
            computed_at: now,
            today_total: today_by_channel.iter().map(|(_, n)| n).sum(),
            today_by_channel,
            open_total: open_by_channel.iter().map(|r| r.open).sum(),
            overdue_total: open_by_channel.iter().map(|r| r.overdue).sum(),
            open_by_channel,
            open_by_district,
            open_by_grid,
            days,
            daily_by_category,
            slowest_units,
            period: label,
            hotline_ranking,
            hotline_trend,
        })
    }
}
