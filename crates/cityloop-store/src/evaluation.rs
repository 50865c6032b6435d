//! Evaluation rollups: the counts of each subject per day, the cases behind them, and the cursor
//! that says which flow records they include.

use std::collections::HashMap;

use cityloop_domain::evaluation::{CaseFacts, Indicator, Metric};
use cityloop_domain::{CaseId, CategoryId, FlowEntry, RequestType, UnitId, UserId};
use rusqlite::OptionalExtension;
use sqlx::Row;

use crate::args::{Arg, Sql};
use crate::cases::{flow_from_row, multi_insert, FLOW_COLUMNS};
use crate::dashboard::{ClosingDay, IntakeDay};
use crate::import::insert_json_recordset;
use crate::rows::from_ms;
use crate::signals::{signal_args, AreaDay, NewSignal, SIGNAL_INSERT_COLUMNS};
use crate::{Backend, Result, Store, StoreError};

/// Ids per `in (…)` list.
const IDS_PER_QUERY: usize = 400;
/// Rows per multi-row upsert, where SQLite writes through the pool.
const ROWS_PER_STATEMENT: usize = 100;

/// A flow record waiting to be counted.
#[derive(Debug, Clone, Copy)]
pub struct PendingFlow {
    pub id: i64,
    pub case_id: CaseId,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A count to add: `n` more of `metric` for `subject` on `day` (yyyymmdd), because of `case_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountKey {
    pub day: i64,
    pub indicator: Indicator,
    pub subject: i64,
    pub metric: Metric,
    pub case_id: CaseId,
}

/// What one run of the counter adds.
#[derive(Debug, Clone)]
pub struct CountBatch {
    pub counts: HashMap<CountKey, i64>,
    pub areas: HashMap<AreaDay, i64>,
    /// New cases per day, channel and category, for the leader screen.
    pub intake: HashMap<IntakeDay, i64>,
    /// Closings per day and unit: how many, and their minutes from intake summed.
    pub closings: HashMap<ClosingDay, (i64, i64)>,
    pub signals: Vec<NewSignal>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A summed count over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountSum {
    pub indicator: Indicator,
    pub subject: i64,
    pub metric: Metric,
    pub n: i64,
}

/// A case behind a number, with what it counted for.
#[derive(Debug, Clone, PartialEq)]
pub struct FactCase {
    pub case_id: CaseId,
    pub number: String,
    pub title: String,
    pub state: String,
    pub metric: Metric,
    pub day: i64,
    pub n: i64,
}

fn ids_sql(prefix: &str, ids: &[i64], suffix: &str) -> Sql {
    let mut sql = Sql::new(prefix);
    sql.bind_list(ids.iter().copied()).push(suffix);
    sql
}

fn parse_name<T>(what: &str, value: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("evaluation: unknown {what} `{value}`")))
}

impl Store {
    /// The last flow record included in the counts.
    pub async fn evaluation_cursor(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select flow_cursor from eval_progress where id = 1").fetch_one(self.writer()).await?)
    }

    /// Flow records after `cursor`, oldest first.
    pub async fn flows_to_count(&self, cursor: i64, limit: i64) -> Result<Vec<PendingFlow>> {
        let mut sql = Sql::new("select id, case_id, at from flow where id > ");
        sql.bind(cursor).push(" order by id limit ").bind(limit);
        self.fetch_decoded(sql, |r| {
            Ok(PendingFlow { id: r.int("id")?, case_id: CaseId(r.int("case_id")?), at: from_ms(r.int("at")?) })
        })
        .await
    }

    /// The flow of each case up to and including record `up_to`, in order.
    pub async fn case_histories(&self, cases: &[CaseId], up_to: i64) -> Result<HashMap<CaseId, Vec<(i64, FlowEntry)>>> {
        let mut out: HashMap<CaseId, Vec<(i64, FlowEntry)>> = HashMap::new();
        let ids: Vec<i64> = cases.iter().map(|c| c.0).collect();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let mut sql =
                ids_sql(&format!("select id, {FLOW_COLUMNS} from flow where case_id in "), chunk, " and id <= ");
            sql.bind(up_to).push(" order by case_id, id");
            let rows = self.fetch_decoded(sql, |r| Ok((CaseId(r.int("case_id")?), flow_from_row(r)?))).await?;
            for (case_id, record) in rows {
                out.entry(case_id).or_default().push(record);
            }
        }
        Ok(out)
    }

    /// What the evaluation needs to know about cases besides their flow.
    /// `patrolled` says which categories grid inspectors are to find on patrol: only a case of one
    /// has inspectors who missed it.
    pub async fn case_facts(&self, cases: &[CaseId], patrolled: impl Fn(CategoryId) -> bool) -> Result<Vec<CaseFacts>> {
        let ids: Vec<i64> = cases.iter().map(|c| c.0).collect();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = ids_sql(
                "select c.id, c.request_type, c.grid_id, c.category_id, m.unit_id as master_unit from cases c \
                 left join cases m on m.id = c.master_id where c.id in ",
                chunk,
                "",
            );
            let rows = self
                .fetch_decoded(sql, |r| {
                    let kind = r.text("request_type")?;
                    let facts = CaseFacts {
                        id: CaseId(r.int("id")?),
                        request_type: parse_name("request type", &kind, RequestType::parse)?,
                        master_unit: r.opt_int("master_unit")?.map(UnitId),
                        grid_inspectors: Vec::new(),
                    };
                    Ok((facts, r.opt_int("grid_id")?, r.opt_int("category_id")?))
                })
                .await?;
            // Only a case of a patrolled category has inspectors who were to find it.
            let rows: Vec<_> = rows
                .into_iter()
                .map(|(facts, grid, category)| {
                    (facts, grid.filter(|_| category.is_some_and(|c| patrolled(CategoryId(c)))))
                })
                .collect();
            let grids: Vec<i64> = rows.iter().filter_map(|(_, grid)| *grid).collect();
            let mut inspectors: HashMap<i64, Vec<UserId>> = HashMap::new();
            if !grids.is_empty() {
                let sql = ids_sql(
                    "select ug.grid_id, ug.user_id, u.roles from user_grids ug join users u on u.id = ug.user_id \
                     where u.active = 1 and ug.grid_id in ",
                    &grids,
                    " order by ug.user_id",
                );
                let rows = self
                    .fetch_decoded(sql, |r| Ok((r.int("grid_id")?, UserId(r.int("user_id")?), r.text("roles")?)))
                    .await?;
                for (grid, user, roles) in rows {
                    if roles.split(',').any(|role| role == "inspector") {
                        inspectors.entry(grid).or_default().push(user);
                    }
                }
            }
            out.extend(rows.into_iter().map(|(mut facts, grid)| {
                facts.grid_inspectors = grid.and_then(|g| inspectors.get(&g).cloned()).unwrap_or_default();
                facts
            }));
        }
        Ok(out)
    }

    /// Adds counts (for the evaluation, and of new cases per place for the risk signals), stores the
    /// signals the new cases raised at once, and moves the cursor from `from` to `to`, in one
    /// transaction. Returns `false` (adding nothing) when another node moved the cursor first.
    ///
    /// The leader screen's rollups take the batch's intake and closings only once they have been
    /// filled ([`Store::backfill_overview_rollups`]): until then the fill will count these cases
    /// itself. The flag is read under the cursor's row lock, so a fill cannot slip in between.
    pub async fn add_evaluation_counts(&self, from: i64, to: i64, batch: &CountBatch) -> Result<bool> {
        let rows = CountRows::of(batch);
        if let Some(bulk) = &self.bulk {
            // One prepared statement per table on a connection of its own: a batch is some ten
            // thousand small upserts, which cost more through the pool's driver than in SQLite.
            let bulk = bulk.clone();
            return tokio::task::spawn_blocking(move || bulk.write(|tx| rows.add_on_sqlite(tx, from, to)))
                .await
                .map_err(|e| StoreError::Unavailable(format!("counting: {e}")))?;
        }
        let backend = self.backend();
        let mut tx = self.writer().begin().await?;
        let filled: Option<i64> = sqlx::query_scalar(MOVE_CURSOR).bind(to).bind(from).fetch_optional(&mut *tx).await?;
        let Some(filled) = filled else {
            tx.rollback().await?;
            return Ok(false);
        };
        for (upsert, table_rows) in rows.tables(filled != 0) {
            if backend == Backend::Postgres {
                // Each table's rows are distinct on its conflict key (they were summed per key), so one
                // statement may take them all: `on conflict do update` refuses to touch a row twice.
                let columns: Vec<&str> = upsert.columns.split(',').map(str::trim).collect();
                let rows = table_rows.iter().cloned();
                insert_json_recordset(&mut tx, upsert.table, &columns, rows, upsert.on_conflict).await?;
                continue;
            }
            // An in-memory SQLite database has no bulk connection.
            for chunk in table_rows.chunks(ROWS_PER_STATEMENT) {
                let mut sql = multi_insert(upsert.table, upsert.columns, chunk.iter().cloned());
                sql.push(upsert.on_conflict);
                sql.query().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Every count summed over the days `from..to` (yyyymmdd, `to` excluded).
    pub async fn evaluation_sums(&self, from: i64, to: i64) -> Result<Vec<CountSum>> {
        let rows = sqlx::query(
            "select indicator, subject_id, metric, cast(sum(n) as bigint) as n from eval_counts where day >= $1 and day < $2 \
             group by indicator, subject_id, metric",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let indicator: String = r.try_get("indicator")?;
                let metric: String = r.try_get("metric")?;
                Ok(CountSum {
                    indicator: parse_name("indicator", &indicator, Indicator::parse)?,
                    subject: r.try_get("subject_id")?,
                    metric: parse_name("metric", &metric, Metric::parse)?,
                    n: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// One indicator's counts per day over `from..to` (yyyymmdd), for the whole city or only `subjects`:
    /// (day, metric, n).
    pub async fn evaluation_daily_totals(
        &self,
        indicator: Indicator,
        subjects: Option<&[i64]>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Metric, i64)>> {
        let mut sql = Sql::new("select day, metric, cast(sum(n) as bigint) as n from eval_counts where day >= ");
        sql.bind(from).push(" and day < ").bind(to).push(" and indicator = ").bind(indicator.as_str());
        if let Some(subjects) = subjects {
            if subjects.is_empty() {
                return Ok(Vec::new());
            }
            sql.push(" and subject_id in ").bind_list(subjects.iter().copied());
        }
        sql.push(" group by day, metric");
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                let metric: String = r.try_get("metric")?;
                Ok((r.try_get("day")?, parse_name("metric", &metric, Metric::parse)?, r.try_get("n")?))
            })
            .collect()
    }

    /// The cases behind a subject's counts of `metrics` over the days `from..to`, newest day first.
    #[allow(clippy::too_many_arguments)]
    pub async fn evaluation_cases(
        &self,
        indicator: Indicator,
        subject: i64,
        metrics: &[Metric],
        from: i64,
        to: i64,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<FactCase>)> {
        let filtered = |select: &str| {
            let mut sql = Sql::new(select);
            sql.push(" from eval_facts f join cases c on c.id = f.case_id where f.indicator = ")
                .bind(indicator.as_str())
                .push(" and f.subject_id = ")
                .bind(subject)
                .push(" and f.metric in ")
                .bind_list(metrics.iter().map(|m| m.as_str()))
                .push(" and f.day >= ")
                .bind(from)
                .push(" and f.day < ")
                .bind(to);
            sql
        };
        let total: i64 = filtered("select count(*)").query().fetch_one(self.reader()).await?.try_get(0)?;
        let mut sql = filtered("select f.case_id, c.number, c.title, c.state, f.metric, f.day, f.n");
        sql.push(" order by f.day desc, f.case_id desc, f.metric limit ").bind(limit).push(" offset ").bind(offset);
        let rows = sql.query().fetch_all(self.reader()).await?;
        let cases = rows
            .iter()
            .map(|r| {
                let metric: String = r.try_get("metric")?;
                Ok(FactCase {
                    case_id: CaseId(r.try_get("case_id")?),
                    number: r.try_get("number")?,
                    title: r.try_get("title")?,
                    state: r.try_get("state")?,
                    metric: parse_name("metric", &metric, Metric::parse)?,
                    day: r.try_get("day")?,
                    n: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((total, cases))
    }
}

/// Moves the counter's cursor from `$2` to `$1`; returns whether the leader screen's rollups were
/// filled, or no row when the cursor was elsewhere.
const MOVE_CURSOR: &str = "update eval_progress set flow_cursor = $1 where id = 1 and flow_cursor = $2 \
                           returning overview_backfilled";

/// One table a count batch adds to, and how a row already there takes the addition.
struct Upsert {
    table: &'static str,
    columns: &'static str,
    on_conflict: &'static str,
}

const DAY_COUNTS: Upsert = Upsert {
    table: "eval_counts",
    columns: "day, indicator, subject_id, metric, n",
    on_conflict: " on conflict (day, indicator, subject_id, metric) do update set n = eval_counts.n + excluded.n",
};

const CASES_BEHIND: Upsert = Upsert {
    table: "eval_facts",
    columns: "indicator, subject_id, metric, day, case_id, n",
    on_conflict:
        " on conflict (indicator, subject_id, metric, day, case_id) do update set n = eval_facts.n + excluded.n",
};

const AREA_COUNTS: Upsert = Upsert {
    table: "area_counts",
    columns: "area_kind, area_id, category_id, day, n",
    on_conflict: " on conflict (area_kind, area_id, category_id, day) do update set n = area_counts.n + excluded.n",
};

const INTAKE_COUNTS: Upsert = Upsert {
    table: "intake_counts",
    columns: "day, channel, category_id, n",
    on_conflict: " on conflict (day, channel, category_id) do update set n = intake_counts.n + excluded.n",
};

const CLOSING_COUNTS: Upsert = Upsert {
    table: "closing_counts",
    columns: "day, unit_id, n, minutes",
    on_conflict: " on conflict (day, unit_id) do update set n = closing_counts.n + excluded.n, \
                  minutes = closing_counts.minutes + excluded.minutes",
};

const NEW_SIGNALS: Upsert =
    Upsert { table: "signals", columns: SIGNAL_INSERT_COLUMNS, on_conflict: " on conflict (signature) do nothing" };

/// The rows a count batch writes, table by table.
struct CountRows {
    days: Vec<Vec<Arg>>,
    cases: Vec<Vec<Arg>>,
    areas: Vec<Vec<Arg>>,
    intake: Vec<Vec<Arg>>,
    closings: Vec<Vec<Arg>>,
    signals: Vec<Vec<Arg>>,
}

impl CountRows {
    fn of(batch: &CountBatch) -> Self {
        let mut per_day: HashMap<(i64, Indicator, i64, Metric), i64> = HashMap::new();
        for (k, n) in &batch.counts {
            *per_day.entry((k.day, k.indicator, k.subject, k.metric)).or_default() += n;
        }
        Self {
            days: per_day
                .iter()
                .map(|((day, i, s, m), n)| {
                    vec![Arg::from(*day), i.as_str().into(), Arg::from(*s), m.as_str().into(), Arg::from(*n)]
                })
                .collect(),
            cases: batch
                .counts
                .iter()
                .map(|(k, n)| {
                    vec![
                        k.indicator.as_str().into(),
                        Arg::from(k.subject),
                        k.metric.as_str().into(),
                        Arg::from(k.day),
                        Arg::from(k.case_id.0),
                        Arg::from(*n),
                    ]
                })
                .collect(),
            areas: batch
                .areas
                .iter()
                .map(|(a, n)| {
                    vec![
                        a.kind.as_str().into(),
                        Arg::from(a.area_id),
                        Arg::from(a.category_id),
                        Arg::from(a.day),
                        Arg::from(*n),
                    ]
                })
                .collect(),
            intake: batch
                .intake
                .iter()
                .map(|(k, n)| {
                    let category = k.category_id.map_or(0, |c| c.0);
                    vec![Arg::from(k.day), k.channel.clone().into(), Arg::from(category), Arg::from(*n)]
                })
                .collect(),
            closings: batch
                .closings
                .iter()
                .map(|(k, (n, minutes))| {
                    vec![Arg::from(k.day), Arg::from(k.unit_id.0), Arg::from(*n), Arg::from(*minutes)]
                })
                .collect(),
            signals: batch.signals.iter().map(|s| signal_args(s, batch.at)).collect(),
        }
    }

    /// The tables to add to, with their rows; the leader screen's two only when `overview` (they
    /// have been filled).
    fn tables(&self, overview: bool) -> Vec<(&'static Upsert, &[Vec<Arg>])> {
        let mut tables: Vec<(&'static Upsert, &[Vec<Arg>])> = vec![
            (&DAY_COUNTS, &self.days),
            (&CASES_BEHIND, &self.cases),
            (&AREA_COUNTS, &self.areas),
            (&NEW_SIGNALS, &self.signals),
        ];
        if overview {
            tables.extend([(&INTAKE_COUNTS, self.intake.as_slice()), (&CLOSING_COUNTS, self.closings.as_slice())]);
        }
        tables
    }

    /// Moves the cursor from `from` to `to` and adds the rows, in `tx`; false (nothing written) when
    /// the cursor was not at `from`: another node counted these records.
    fn add_on_sqlite(&self, tx: &rusqlite::Transaction<'_>, from: i64, to: i64) -> Result<bool> {
        let filled: Option<i64> = tx
            .query_row(&MOVE_CURSOR.replace("$1", "?1").replace("$2", "?2"), [to, from], |row| row.get(0))
            .optional()?;
        let Some(filled) = filled else { return Ok(false) };
        for (upsert, rows) in self.tables(filled != 0) {
            let placeholders = vec!["?"; upsert.columns.split(',').count()].join(", ");
            let mut statement = tx.prepare_cached(&format!(
                "insert into {} ({}) values ({placeholders}){}",
                upsert.table, upsert.columns, upsert.on_conflict
            ))?;
            for row in rows {
                statement.execute(rusqlite::params_from_iter(row.iter()))?;
            }
        }
        Ok(true)
    }
}
