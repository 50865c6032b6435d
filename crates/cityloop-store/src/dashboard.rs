//! Counts for the leader screen and saved case-list views. Intake and closings come from rollups the
//! evaluation counter keeps per day; what is open now comes from an index of the open cases alone. So
//! the screen costs a few days of rollups and one scan of the work in hand, never of the history.

use chrono::{DateTime, Utc};
use cityloop_domain::{CategoryId, DivisionId, GridId, UnitId, UserId};
use sqlx::Row;

use crate::args::Sql;
use crate::rows::ms;
use crate::{Backend, Result, Store};

macro_rules! open_states {
    () => {
        "('reported', 'verifying', 'registered', 'pending_sign', 'return_review', 'handling', 'suspended', 'feedback', 'close_pending')"
    };
}

/// States in which a case still needs someone's work.
pub const OPEN_STATES: &str = open_states!();

/// The filter for open cases that the indexes of open cases (`cases_open_by_grid`,
/// `cases_open_overview`) serve. On SQLite those indexes say "not closed, voided or merged" with `<>`
/// (SQLite evaluates an `in` list anew for every row of an index it builds), and a query must carry an
/// index's own terms to use it; `state in (…)` stays so that a query can still seek by state.
pub const OPEN_CASES: &str =
    concat!("state in ", open_states!(), " and state <> 'closed' and state <> 'voided' and state <> 'merged'");

/// Open cases of one channel in one grid.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCount {
    pub channel: String,
    pub grid_id: Option<GridId>,
    pub division_id: Option<DivisionId>,
    pub open: i64,
    pub overdue: i64,
}

/// New cases of one channel and category on one local day (yyyymmdd), as the counter saw them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IntakeDay {
    pub day: i64,
    pub channel: String,
    pub category_id: Option<CategoryId>,
}

/// Closings of one unit on one local day (yyyymmdd): how many, and their minutes from intake summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClosingDay {
    pub day: i64,
    pub unit_id: UnitId,
}

/// Whether the counter keeps the leader screen's rollups (see `backfill_overview_rollups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverviewRollups {
    /// Kept since before this call.
    Kept,
    /// Filled just now from the cases; kept from now on.
    Filled,
    /// Not kept yet: the counter has records to count before they can be filled.
    Waiting,
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

impl Store {
    /// Open and overdue cases by channel and grid.
    pub async fn open_counts(&self, now: DateTime<Utc>) -> Result<Vec<OpenCount>> {
        let rows = sqlx::query(&format!(
            "select channel, grid_id, division_id, count(*), \
             sum(case when state in ('pending_sign', 'handling') and deadline < $1 then 1 else 0 end) \
             from cases where {OPEN_CASES} group by channel, grid_id, division_id"
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

    /// New cases per local day, channel and category over the days `from..to` (yyyymmdd).
    pub async fn daily_intake(&self, from: i64, to: i64) -> Result<Vec<(IntakeDay, i64)>> {
        let mut sql = Sql::new("select day, channel, category_id, n from intake_counts where day >= ");
        sql.bind(from).push(" and day < ").bind(to);
        self.fetch_decoded(sql, |r| {
            let category = r.int("category_id")?;
            let day = IntakeDay {
                day: r.int("day")?,
                channel: r.text("channel")?,
                category_id: (category != 0).then_some(CategoryId(category)),
            };
            Ok((day, r.int("n")?))
        })
        .await
    }

    /// Per unit: the cases it closed over the days `from..to` (yyyymmdd) and their mean time from
    /// intake, and the unit's overdue cases now.
    pub async fn unit_pace(&self, from: i64, to: i64, now: DateTime<Utc>) -> Result<Vec<UnitPace>> {
        let mut sql = Sql::new(
            "select unit_id, cast(sum(n) as bigint) as n, cast(sum(minutes) as bigint) as minutes \
             from closing_counts where day >= ",
        );
        sql.bind(from).push(" and day < ").bind(to).push(" group by unit_id");
        let closed =
            self.fetch_decoded(sql, |r| Ok((UnitId(r.int("unit_id")?), r.int("n")?, r.int("minutes")?))).await?;
        // Spelled with the open cases' filter so that their index serves it.
        let mut sql = Sql::new(&format!(
            "select unit_id, count(*) as n from cases where {OPEN_CASES} \
             and state in ('pending_sign', 'handling') and deadline < "
        ));
        sql.bind(ms(now)).push(" and unit_id is not null group by unit_id");
        let overdue = self.fetch_decoded(sql, |r| Ok((UnitId(r.int("unit_id")?), r.int("n")?))).await?;
        let mut out: Vec<UnitPace> = closed
            .into_iter()
            .map(|(unit_id, closed, minutes)| UnitPace {
                unit_id,
                closed,
                mean_hours: if closed > 0 { minutes as f64 / closed as f64 / 60.0 } else { 0.0 },
                overdue_now: 0,
            })
            .collect();
        for (unit, n) in overdue {
            match out.iter_mut().find(|p| p.unit_id == unit) {
                Some(p) => p.overdue_now = n,
                None => out.push(UnitPace { unit_id: unit, closed: 0, mean_hours: 0.0, overdue_now: n }),
            }
        }
        Ok(out)
    }

    /// Fills the leader screen's rollups, once, with what the counter counted before they existed:
    /// every case reported, and every closing (under the unit the case has now, which is the one
    /// that closed it unless it was reopened and sent elsewhere). That is exact only when the counter
    /// has caught up with the flow records, so until then nothing is filled and the counter leaves
    /// these rollups alone (`Waiting`). Local days start `utc_offset_secs` after UTC midnight.
    pub async fn backfill_overview_rollups(&self, utc_offset_secs: i32) -> Result<OverviewRollups> {
        let filled: i64 = sqlx::query_scalar("select overview_backfilled from eval_progress where id = 1")
            .fetch_one(self.writer())
            .await?;
        if filled != 0 {
            return Ok(OverviewRollups::Kept);
        }
        let offset_ms = i64::from(utc_offset_secs) * 1000;
        let day = |column: &str| match self.backend() {
            Backend::Sqlite => format!("cast(strftime('%Y%m%d', ({column} + $1) / 1000, 'unixepoch') as integer)"),
            Backend::Postgres => format!(
                "cast(to_char(to_timestamp(({column} + $1) / 1000.0) at time zone 'UTC', 'YYYYMMDD') as bigint)"
            ),
        };
        let mut tx = self.writer().begin().await?;
        // The flag's row is the cursor's: taking it holds off another node's counting until this commits.
        let first =
            sqlx::query("update eval_progress set overview_backfilled = 1 where id = 1 and overview_backfilled = 0")
                .execute(&mut *tx)
                .await?;
        if first.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(OverviewRollups::Kept);
        }
        let waiting: Option<i64> = sqlx::query_scalar(
            "select f.id from flow f where f.id > (select flow_cursor from eval_progress where id = 1) limit 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        if waiting.is_some() {
            tx.rollback().await?;
            return Ok(OverviewRollups::Waiting);
        }
        sqlx::query(&format!(
            "insert into intake_counts (day, channel, category_id, n) \
             select {}, channel, coalesce(category_id, 0), count(*) from cases group by 1, 2, 3",
            day("created_at")
        ))
        .bind(offset_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "insert into closing_counts (day, unit_id, n, minutes) \
             select {}, c.unit_id, count(*), cast(sum((f.at - c.created_at) / 60000) as bigint) \
             from flow f join cases c on c.id = f.case_id \
             where f.kind = 'close' and c.unit_id is not null group by 1, 2",
            day("f.at")
        ))
        .bind(offset_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OverviewRollups::Filled)
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
