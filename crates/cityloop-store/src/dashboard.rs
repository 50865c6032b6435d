//! Counts for the leader screen and saved case-list views. Each count is one grouped query over an
//! index range (state, creation time), so the screen costs a few scans of the open cases, never of
//! the whole history.

use chrono::{DateTime, Utc};
use cityloop_domain::{CategoryId, DivisionId, GridId, UnitId, UserId};
use sqlx::Row;

use crate::rows::ms;
use crate::{Result, Store};

/// States in which a case still needs someone's work.
pub const OPEN_STATES: &str =
    "('reported', 'verifying', 'registered', 'pending_sign', 'return_review', 'handling', 'suspended', 'feedback', 'close_pending')";

/// Open cases of one channel in one grid.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCount {
    pub channel: String,
    pub grid_id: Option<GridId>,
    pub division_id: Option<DivisionId>,
    pub open: i64,
    pub overdue: i64,
}

/// Cases of one category created on one local day (days counted from the Unix epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyCount {
    pub day: i64,
    pub category_id: Option<CategoryId>,
    pub count: i64,
}

/// How one unit handled the cases it closed recently, and what it has overdue now.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitPace {
    pub unit_id: UnitId,
    pub closed: i64,
    /// Mean hours from intake to closing of the cases closed.
    pub mean_hours: f64,
    pub overdue_now: i64,
}

/// A user's named case-list filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The query string of the case list.
    pub query: String,
}

const DAY_MS: i64 = 86_400_000;

impl Store {
    /// Cases created since an instant, by channel.
    pub async fn intake_by_channel(&self, since: DateTime<Utc>) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("select channel, count(*) from cases where created_at >= $1 group by channel")
            .bind(ms(since))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Open and overdue cases by channel and grid.
    pub async fn open_counts(&self, now: DateTime<Utc>) -> Result<Vec<OpenCount>> {
        let rows = sqlx::query(&format!(
            "select channel, grid_id, division_id, count(*), \
             sum(case when state in ('pending_sign', 'handling') and deadline < $1 then 1 else 0 end) \
             from cases where state in {OPEN_STATES} group by channel, grid_id, division_id"
        ))
        .bind(ms(now))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OpenCount {
                    channel: r.try_get(0)?,
                    grid_id: r.try_get::<Option<i64>, _>(1)?.map(GridId),
                    division_id: r.try_get::<Option<i64>, _>(2)?.map(DivisionId),
                    open: r.try_get(3)?,
                    overdue: r.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Cases per local day and category since an instant; `utc_offset_secs` places the day boundary.
    pub async fn daily_by_category(&self, since: DateTime<Utc>, utc_offset_secs: i32) -> Result<Vec<DailyCount>> {
        let rows = sqlx::query(
            "select (created_at + $1) / $2 as day, category_id, count(*) from cases where created_at >= $3 \
             group by 1, 2",
        )
        .bind(i64::from(utc_offset_secs) * 1000)
        .bind(DAY_MS)
        .bind(ms(since))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DailyCount {
                    day: r.try_get(0)?,
                    category_id: r.try_get::<Option<i64>, _>(1)?.map(CategoryId),
                    count: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Per unit: cases created since `since` and closed, their mean time to close, and the unit's
    /// overdue cases now.
    pub async fn unit_pace(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<UnitPace>> {
        let closed = sqlx::query(
            "select unit_id, count(*), cast(avg(closed_at - created_at) as double precision) from cases \
             where state = 'closed' and created_at >= $1 and unit_id is not null group by unit_id",
        )
        .bind(ms(since))
        .fetch_all(self.reader())
        .await?;
        let overdue = sqlx::query(
            "select unit_id, count(*) from cases where state in ('pending_sign', 'handling') and deadline < $1 \
             and unit_id is not null group by unit_id",
        )
        .bind(ms(now))
        .fetch_all(self.reader())
        .await?;
        let mut out: Vec<UnitPace> = Vec::new();
        for r in &closed {
            let mean_ms: Option<f64> = r.try_get(2)?;
            out.push(UnitPace {
                unit_id: UnitId(r.try_get(0)?),
                closed: r.try_get(1)?,
                mean_hours: mean_ms.unwrap_or(0.0) / 3_600_000.0,
                overdue_now: 0,
            });
        }
        for r in &overdue {
            let unit = UnitId(r.try_get(0)?);
            let n: i64 = r.try_get(1)?;
            match out.iter_mut().find(|p| p.unit_id == unit) {
                Some(p) => p.overdue_now = n,
                None => out.push(UnitPace { unit_id: unit, closed: 0, mean_hours: 0.0, overdue_now: n }),
            }
        }
        Ok(out)
    }

    /// A user's saved views, by name.
    pub async fn saved_views(&self, user: UserId) -> Result<Vec<SavedView>> {
        let rows = sqlx::query("select id, name, query from saved_views where user_id = $1 order by name")
            .bind(user.0)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(|r| Ok(SavedView { id: r.try_get(0)?, name: r.try_get(1)?, query: r.try_get(2)? })).collect()
    }

    /// Saves a view under a name, replacing the user's view of that name.
    pub async fn save_view(&self, user: UserId, name: &str, query: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "insert into saved_views (user_id, name, query, created_at) values ($1, $2, $3, $4) \
             on conflict (user_id, name) do update set query = excluded.query",
        )
        .bind(user.0)
        .bind(name.to_string())
        .bind(query.to_string())
        .bind(ms(now))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Deletes one of a user's views; another user's view is left alone.
    pub async fn delete_view(&self, user: UserId, id: i64) -> Result<bool> {
        let done = sqlx::query("delete from saved_views where id = $1 and user_id = $2")
            .bind(id)
            .bind(user.0)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
