//! Cases, their flow records, whistles and supervision notices.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use cityloop_domain::number::{case_number, day_key};
use cityloop_domain::workflow::{Effect, FlowEntry, MoveKind, Outcome};
use cityloop_domain::{
    Case, CaseId, CategoryId, Channel, DivisionId, GridId, RequestType, Role, State, UnitId, UserId,
};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use crate::args::{Arg, Sql};
use crate::contact_crypto::ContactCipher;
use crate::rows::{case_from_row, case_values, from_ms, get_opt_ms, ms, Columns, CASE_COLUMNS};
use crate::{AuditKey, Result, Store, StoreError};
use cityloop_domain::audit::{to_hex, Digest, GENESIS};

/// What [`Store::create_case`] did.
#[derive(Debug, Clone)]
pub struct CreatedCase {
    pub case: Case,
    /// The idempotency key had been used: this is the case created the first time.
    pub replayed: bool,
    /// The id of the report flow record (none when replayed).
    pub flow_id: Option<i64>,
}

/// One new case for [`Store::create_cases`].
#[derive(Debug, Clone)]
pub struct NewCaseWrite {
    pub case: Case,
    pub flow: FlowEntry,
    /// The local day the case is numbered in.
    pub day: NaiveDate,
    /// (user id, key) of an `Idempotency-Key`.
    pub idempotency: Option<(i64, String)>,
}

/// A case written inside a batch transaction, before commit.
enum Staged {
    Created(Box<Case>, i64),
    Replayed(CaseId),
}

/// Whose cases a caller may see: everything, or the union of the listed parts.
#[derive(Debug, Clone, Default)]
pub struct CaseScope {
    pub all: bool,
    /// Cases led or assisted by these units, or to which they were summoned.
    pub units: Vec<UnitId>,
    pub grids: Vec<GridId>,
    pub divisions: Vec<DivisionId>,
    pub reporter: Option<UserId>,
}

impl CaseScope {
    /// No restriction.
    pub fn everything() -> Self {
        Self { all: true, ..Self::default() }
    }
}

/// Orders of a case list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaseSort {
    #[default]
    CreatedDesc,
    CreatedAsc,
    DeadlineAsc,
    UpdatedDesc,
    UpdatedAsc,
    /// By id, for walking every case in batches (with `id_after`).
    IdAsc,
}

/// Filters of a case list; all given filters must hold.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    pub scope: CaseScope,
    pub states: Vec<State>,
    pub categories: Option<Vec<CategoryId>>,
    /// Lead unit among these.
    pub units: Option<Vec<UnitId>>,
    pub grids: Option<Vec<GridId>>,
    pub divisions: Option<Vec<DivisionId>>,
    pub channel: Option<Channel>,
    pub request_type: Option<RequestType>,
    pub overdue: Option<bool>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Only cases changed strictly after this instant (incremental sync).
    pub updated_after: Option<DateTime<Utc>>,
    /// Only cases last changed before this instant.
    pub updated_before: Option<DateTime<Utc>>,
    /// Only the cases with these numbers.
    pub numbers: Option<Vec<String>>,
    /// Only cases with a larger id (keyset paging with `CaseSort::IdAsc`).
    pub id_after: Option<CaseId>,
    /// Only cases with this id or a smaller one (an export's cases as they were when it started).
    pub id_up_to: Option<CaseId>,
    pub text: Option<String>,
    pub phone: Option<String>,
    /// The same number as typed, for cases stored before numbers were stored in one form.
    pub phone_as_typed: Option<String>,
    pub master: Option<CaseId>,
    /// Only open cases this unit was summoned to by a whistle and has not reported in to yet.
    pub summoned: Option<UnitId>,
    /// Only open cases this unit was summoned to and has reported in to.
    pub reported_in: Option<UnitId>,
    /// Only open cases this unit assists (协办).
    pub assisting: Option<UnitId>,
    /// Only cases with (true) or without (false) an extension or suspension request waiting.
    pub pending: Option<bool>,
    /// Only cases whose running clock ends before this instant and that are not overdue yet.
    pub due_before: Option<DateTime<Utc>>,
    /// Only cases sent back for rework at least once.
    pub reworked: bool,
    /// Only what the public list may show: no confidential or voided cases.
    pub public_only: bool,
    /// Count every match (`CaseList::total`); without it `total` is -1 and one row more than
    /// the page is read, so that a pager still knows whether there is a next page.
    pub count_total: bool,
    /// Count at most this many matches (`total` is then `min(matches, limit + 1)`): pages show
    /// "10000+" instead of paying for an exact count of a million rows.
    pub count_limit: Option<i64>,
    pub sort: CaseSort,
    pub limit: i64,
    pub offset: i64,
    /// The instant "overdue" is judged at.
    pub now: DateTime<Utc>,
}

impl CaseFilter {
    /// Everything, newest first, 50 at a time.
    pub fn new(scope: CaseScope, now: DateTime<Utc>) -> Self {
        Self {
            scope,
            states: Vec::new(),
            categories: None,
            units: None,
            grids: None,
            divisions: None,
            channel: None,
            request_type: None,
            overdue: None,
            created_from: None,
            created_to: None,
            updated_after: None,
            updated_before: None,
            numbers: None,
            id_after: None,
            id_up_to: None,
            text: None,
            phone: None,
            phone_as_typed: None,
            master: None,
            summoned: None,
            reported_in: None,
            assisting: None,
            pending: None,
            due_before: None,
            reworked: false,
            public_only: false,
            count_total: true,
            count_limit: None,
            sort: CaseSort::default(),
            limit: 50,
            offset: 0,
            now,
        }
    }
}

/// One page of cases and the number of cases matching.
#[derive(Debug, Clone)]
pub struct CaseList {
    pub items: Vec<Case>,
    pub total: i64,
}

/// A unit summoned by a whistle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhistleRow {
    pub unit_id: UnitId,
    pub summoned_at: DateTime<Utc>,
    pub report_by: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// The columns of a [`NoticeRow`] and where they come from; the caller adds the `where`.
const NOTICES_FROM: &str = "select n.id, n.case_id, c.number as case_number, n.unit_id, c.unit_id as case_unit_id, \
     n.level, n.overdue, n.message, n.note, n.created_at from notices n join cases c on c.id = n.case_id";

/// A supervision notice (催办/督办, or overdue warning).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeRow {
    pub id: i64,
    pub case_id: CaseId,
    pub case_number: String,
    /// The unit the notice was sent to (none before dispatch).
    pub unit_id: Option<UnitId>,
    /// The unit that leads the case now.
    pub case_unit_id: Option<UnitId>,
    pub level: u32,
    pub overdue: bool,
    /// In Chinese, as sent; `case_number`, `level` and `overdue` say the same for other languages.
    pub message: String,
    /// What the supervisor asks of the unit, in their words.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A stored move: what the caller read and what it wants to write.
#[derive(Debug, Clone)]
pub struct MoveWrite<'a> {
    pub expected_version: i64,
    pub outcome: &'a Outcome,
}

/// A case and its history, for bulk loading (the demo city).
#[derive(Debug, Clone)]
pub struct BulkCase {
    pub case: Case,
    pub flows: Vec<FlowEntry>,
    pub effects: Vec<(DateTime<Utc>, Effect)>,
}

/// Rows per multi-row insert when bulk loading (see [`Store::bulk_insert_cases`]).
const BULK_CASES_PER_STATEMENT: usize = 4;
const BULK_ROWS_PER_STATEMENT: usize = 16;

pub(crate) const FLOW_COLUMNS: &str =
    "case_id, kind, from_state, to_state, actor_id, actor_name, role, unit_id, at, note, attachments, data";

/// The columns a flow record is written with: its values and its link (see `crate::audit`).
pub(crate) const FLOW_INSERT_COLUMNS: &str =
    "case_id, kind, from_state, to_state, actor_id, actor_name, role, unit_id, at, note, attachments, data, link";

/// Appends each row's link, chained from `previous` (for a new case, `GENESIS`); with no key, no link.
pub(crate) fn link_rows(key: Option<&AuditKey>, previous: Digest, rows: &mut [Vec<Arg>]) {
    let mut previous = previous;
    for row in rows {
        let link = key.map(|k| {
            previous = k.link(&previous, &crate::audit::audit_values(row));
            to_hex(&previous)
        });
        row.push(Arg::Text(link));
    }
}

/// The rows of a new case's flow, each linked to the one before.
pub(crate) fn new_case_flow_rows(key: Option<&AuditKey>, case_id: CaseId, flows: &[FlowEntry]) -> Vec<Vec<Arg>> {
    let mut rows: Vec<Vec<Arg>> = flows.iter().map(|f| flow_values(case_id, f)).collect();
    link_rows(key, GENESIS, &mut rows);
    rows
}

pub(crate) fn flow_values(case_id: CaseId, f: &FlowEntry) -> Vec<Arg> {
    vec![
        case_id.0.into(),
        f.kind.as_str().into(),
        f.from.map(|s| s.as_str().to_string()).into(),
        f.to.as_str().into(),
        f.actor_id.map(|u| u.0).into(),
        f.actor_name.clone().into(),
        f.role.map(|r| r.as_str().to_string()).into(),
        f.unit_id.map(|u| u.0).into(),
        ms(f.at).into(),
        f.note.clone().into(),
        serde_json::to_string(&f.attachments).unwrap_or_else(|_| "[]".into()).into(),
        // Into a buffer directly: `Display` writes through a formatter, which costs more.
        serde_json::to_string(&f.data).unwrap_or_else(|_| "null".into()).into(),
    ]
}

pub(crate) fn flow_from_row<R: Columns + ?Sized>(r: &R) -> Result<(i64, FlowEntry)> {
    let kind = r.text("kind")?;
    let to = r.text("to_state")?;
    let from = r.opt_text("from_state")?;
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("flow record: unknown {what} `{v}`"));
    let role = r.opt_text("role")?;
    Ok((
        r.int("id")?,
        FlowEntry {
            kind: MoveKind::parse(&kind).ok_or_else(|| corrupt("move", &kind))?,
            from: from.map(|f| State::parse(&f).ok_or_else(|| corrupt("state", &f))).transpose()?,
            to: State::parse(&to).ok_or_else(|| corrupt("state", &to))?,
            actor_id: r.opt_int("actor_id")?.map(UserId),
            actor_name: r.text("actor_name")?,
            role: role.as_deref().and_then(Role::parse),
            unit_id: r.opt_int("unit_id")?.map(UnitId),
            at: from_ms(r.int("at")?),
            note: r.opt_text("note")?,
            attachments: serde_json::from_str(&r.text("attachments")?).unwrap_or_default(),
            data: serde_json::from_str(&r.text("data")?).unwrap_or_default(),
        },
    ))
}

pub(crate) fn case_columns_without_id() -> Vec<&'static str> {
    CASE_COLUMNS.split(',').map(str::trim).filter(|c| *c != "id").collect()
}

/// `insert into TABLE (cols) values (…), (…)` for rows of values.
pub(crate) fn multi_insert(table: &str, columns: &str, rows: impl IntoIterator<Item = Vec<Arg>>) -> Sql {
    let mut sql = Sql::new(&format!("insert into {table} ({columns}) values "));
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_list(row);
    }
    sql
}

/// Writes one flow record after the case's others. The case row is already updated in `tx`, which
/// holds it, so no other record of the case can come in between.
async fn insert_flow(
    tx: &mut Transaction<'_, Any>,
    key: Option<&AuditKey>,
    case_id: CaseId,
    f: &FlowEntry,
) -> Result<i64> {
    let previous = match key {
        Some(_) => crate::audit::last_link(tx, case_id).await?,
        None => GENESIS,
    };
    insert_flow_after(tx, key, previous, case_id, f).await
}

/// Writes one flow record linked to `previous` (a new case's first record: `GENESIS`).
async fn insert_flow_after(
    tx: &mut Transaction<'_, Any>,
    key: Option<&AuditKey>,
    previous: Digest,
    case_id: CaseId,
    f: &FlowEntry,
) -> Result<i64> {
    let mut rows = [flow_values(case_id, f)];
    link_rows(key, previous, &mut rows);
    let mut sql = multi_insert("flow", FLOW_INSERT_COLUMNS, rows);
    sql.push(" returning id");
    let id = sql.query().fetch_one(&mut **tx).await?.try_get(0)?;
    if !f.attachments.is_empty() {
        crate::attachments::give_case_attachments(tx, case_id, &f.attachments).await?;
    }
    Ok(id)
}

async fn replace_assists(tx: &mut Transaction<'_, Any>, case: &Case) -> Result<()> {
    sqlx::query("delete from case_assists where case_id = $1").bind(case.id.0).execute(&mut **tx).await?;
    if !case.assisting_units.is_empty() {
        let rows = case
            .assisting_units
            .iter()
            .map(|u| vec![Arg::from(case.id.0), Arg::from(u.0), Arg::from(case.state.as_str())]);
        multi_insert("case_assists", "case_id, unit_id, state", rows).query().execute(&mut **tx).await?;
    }
    Ok(())
}

fn notice_message(case: &Case, level: u32, overdue: bool) -> String {
    if overdue {
        format!("案件 {} 已超过处置时限", case.number)
    } else {
        let word = match level {
            1 => "催办",
            2 => "督办",
            _ => "挂牌督办",
        };
        format!("案件 {} {}", case.number, word)
    }
}

async fn apply_effects(
    tx: &mut Transaction<'_, Any>,
    key: Option<&AuditKey>,
    case: &Case,
    flow: &FlowEntry,
    effects: &[Effect],
) -> Result<()> {
    for effect in effects {
        match effect {
            Effect::Notice { level, overdue } => {
                sqlx::query(
                    "insert into notices (case_id, unit_id, level, overdue, message, note, created_at) values ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(case.id.0)
                .bind(case.unit_id.map(|u| u.0))
                .bind(i64::from(*level))
                .bind(i64::from(*overdue))
                .bind(notice_message(case, *level, *overdue))
                .bind(flow.note.as_deref().map(str::trim).filter(|n| !n.is_empty()))
                .bind(ms(flow.at))
                .execute(&mut **tx)
                .await?;
            }
            Effect::Summon { units, report_by } => {
                for unit in units {
                    sqlx::query(
                        // A unit summoned before keeps its summons: its limit and its report-in stand.
                        "insert into whistles (case_id, unit_id, summoned_at, report_by, state) values ($1, $2, $3, $4, $5) \
                         on conflict (case_id, unit_id) do nothing",
                    )
                    .bind(case.id.0)
                    .bind(unit.0)
                    .bind(ms(flow.at))
                    .bind(ms(*report_by))
                    .bind(case.state.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
            }
            Effect::ReportedIn { unit } => {
                sqlx::query(
                    "update whistles set reported_at = $1 where case_id = $2 and unit_id = $3 and reported_at is null",
                )
                .bind(ms(flow.at))
                .bind(case.id.0)
                .bind(unit.0)
                .execute(&mut **tx)
                .await?;
            }
            Effect::CloseMerged | Effect::VoidMerged => {
                let (end, note) = match effect {
                    Effect::VoidMerged => (State::Voided, format!("随主案件 {} 作废", case.number)),
                    _ => (State::Closed, format!("随主案件 {} 结案", case.number)),
                };
                let at = ms(flow.at);
                // Closed first: the update holds the merged cases' rows, so that no other record of
                // theirs can come between their last one and the record written here.
                let mut merged: Vec<i64> = sqlx::query_scalar(
                    "update cases set state = $1, closed_at = $2, updated_at = $2, version = version + 1 \
                     where master_id = $3 and state = 'merged' returning id",
                )
                .bind(end.as_str())
                .bind(at)
                .bind(case.id.0)
                .fetch_all(&mut **tx)
                .await?;
                merged.sort_unstable();
                let closing = FlowEntry {
                    kind: MoveKind::CloseWithMaster,
                    from: Some(State::Merged),
                    to: end,
                    actor_id: flow.actor_id,
                    actor_name: flow.actor_name.clone(),
                    role: None,
                    unit_id: None,
                    at: flow.at,
                    note: Some(note),
                    attachments: Vec::new(),
                    data: serde_json::Value::Null,
                };
                for id in merged {
                    insert_flow(tx, key, CaseId(id), &closing).await?;
                }
                for link in ["case_assists", "whistles"] {
                    sqlx::query(&format!(
                        "update {link} set state = $1 where case_id in (select id from cases where master_id = $2 and state = $1)"
                    ))
                    .bind(end.as_str())
                    .bind(case.id.0)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            Effect::RepointMerged { into, number } => {
                let mut merged: Vec<i64> = sqlx::query_scalar(
                    "update cases set master_id = $1, updated_at = $2, version = version + 1 \
                     where master_id = $3 and state = 'merged' returning id",
                )
                .bind(into.0)
                .bind(ms(flow.at))
                .bind(case.id.0)
                .fetch_all(&mut **tx)
                .await?;
                merged.sort_unstable();
                let following = FlowEntry {
                    kind: MoveKind::Merge,
                    from: Some(State::Merged),
                    to: State::Merged,
                    actor_id: flow.actor_id,
                    actor_name: flow.actor_name.clone(),
                    role: flow.role,
                    unit_id: flow.unit_id,
                    at: flow.at,
                    note: Some(format!("随主案件 {} 并入 {number}", case.number)),
                    attachments: Vec::new(),
                    data: serde_json::json!({ "into": into, "master_number": number }),
                };
                for id in merged {
                    insert_flow(tx, key, CaseId(id), &following).await?;
                }
            }
        }
    }
    Ok(())
}

async fn stage(
    tx: &mut Transaction<'_, Any>,
    key: Option<&AuditKey>,
    contacts: &ContactCipher,
    w: &NewCaseWrite,
) -> Result<Staged> {
    if let Some((user, key)) = &w.idempotency {
        let existing: Option<i64> =
            sqlx::query_scalar("select case_id from idempotency_keys where user_id = $1 and key = $2")
                .bind(*user)
                .bind(key.clone())
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(id) = existing {
            return Ok(Staged::Replayed(CaseId(id)));
        }
    }
    let seq: i64 = sqlx::query_scalar(
        "insert into case_numbers (day, last) values ($1, 1) \
         on conflict (day) do update set last = case_numbers.last + 1 returning last",
    )
    .bind(day_key(w.day))
    .fetch_one(&mut **tx)
    .await?;
    let mut stored = w.case.clone();
    stored.number = case_number(w.day, seq);
    let columns = case_columns_without_id();
    let mut sql = Sql::new(&format!("insert into cases ({}) values ", columns.join(", ")));
    sql.bind_list(case_values(&stored, contacts)).push(" returning id");
    let id: i64 = sql.query().fetch_one(&mut **tx).await?.try_get(0)?;
    stored.id = CaseId(id);
    // A new case: its first record follows nothing.
    let flow_id = insert_flow_after(tx, key, GENESIS, stored.id, &w.flow).await?;
    if let Some((user, key)) = &w.idempotency {
        sqlx::query("insert into idempotency_keys (user_id, key, case_id, created_at) values ($1, $2, $3, $4)")
            .bind(*user)
            .bind(key.clone())
            .bind(id)
            .bind(ms(w.case.created_at))
            .execute(&mut **tx)
            .await?;
    }
    Ok(Staged::Created(Box::new(stored), flow_id))
}

impl Store {
    /// Stores several new cases in one transaction (group commit: one commit, and on SQLite one
    /// write of the shared index pages, for many cases). Each result is that case's own: if the
    /// transaction fails, every case is tried again on its own, so one bad case cannot fail the others.
    pub async fn create_cases(&self, writes: &[NewCaseWrite]) -> Vec<Result<CreatedCase>> {
        if writes.len() == 1 {
            let w = &writes[0];
            return vec![
                self.create_case(&w.case, &w.flow, w.day, w.idempotency.as_ref().map(|(u, k)| (*u, k.as_str()))).await,
            ];
        }
        match self.try_batch(writes).await {
            Ok(created) => created.into_iter().map(Ok).collect(),
            Err(_) => {
                let mut out = Vec::with_capacity(writes.len());
                for w in writes {
                    out.push(
                        self.create_case(
                            &w.case,
                            &w.flow,
                            w.day,
                            w.idempotency.as_ref().map(|(u, k)| (*u, k.as_str())),
                        )
                        .await,
                    );
                }
                out
            }
        }
    }

    async fn try_batch(&self, writes: &[NewCaseWrite]) -> Result<Vec<CreatedCase>> {
        let mut tx = self.writer().begin().await?;
        let mut staged = Vec::with_capacity(writes.len());
        for w in writes {
            staged.push(stage(&mut tx, self.links(), &self.contacts, w).await?);
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(staged.len());
        for s in staged {
            out.push(match s {
                Staged::Created(case, flow_id) => CreatedCase { case: *case, replayed: false, flow_id: Some(flow_id) },
                Staged::Replayed(id) => CreatedCase { case: self.get_case(id).await?, replayed: true, flow_id: None },
            });
        }
        Ok(out)
    }

    /// Stores a new case with its first flow record, numbering it within its local day. With an
    /// idempotency key already used by the same user, returns the first case and creates nothing.
    pub async fn create_case(
        &self,
        case: &Case,
        flow: &FlowEntry,
        day: NaiveDate,
        idempotency: Option<(i64, &str)>,
    ) -> Result<CreatedCase> {
        let write = NewCaseWrite {
            case: case.clone(),
            flow: flow.clone(),
            day,
            idempotency: idempotency.map(|(u, k)| (u, k.to_string())),
        };
        let mut tx = self.writer().begin().await?;
        match stage(&mut tx, self.links(), &self.contacts, &write).await {
            Ok(Staged::Created(stored, flow_id)) => {
                tx.commit().await?;
                Ok(CreatedCase { case: *stored, replayed: false, flow_id: Some(flow_id) })
            }
            Ok(Staged::Replayed(id)) => {
                tx.rollback().await?;
                Ok(CreatedCase { case: self.get_case(id).await?, replayed: true, flow_id: None })
            }
            Err(StoreError::Duplicate(m)) => {
                tx.rollback().await?;
                // Another node stored the same idempotency key meanwhile: return its case.
                let Some((user, key)) = idempotency else { return Err(StoreError::Duplicate(m)) };
                let id: i64 =
                    sqlx::query_scalar("select case_id from idempotency_keys where user_id = $1 and key = $2")
                        .bind(user)
                        .bind(key)
                        .fetch_one(self.writer())
                        .await?;
                Ok(CreatedCase { case: self.get_case(CaseId(id)).await?, replayed: true, flow_id: None })
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the outcome of a move if the case is still at the version the move was based on.
    pub async fn commit_move(&self, write: MoveWrite<'_>) -> Result<()> {
        let out = write.outcome;
        let case = &out.case;
        let mut tx = self.writer().begin().await?;
        let columns = case_columns_without_id();
        let mut sql = Sql::new("update cases set ");
        for (i, (col, value)) in columns.iter().zip(case_values(case, &self.contacts)).enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(col).push(" = ").bind(value);
        }
        sql.push(" where id = ").bind(case.id.0).push(" and version = ").bind(write.expected_version);
        let done = sql.query().execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar("select id from cases where id = $1")
                .bind(case.id.0)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Err(if exists.is_some() { StoreError::StaleVersion } else { StoreError::NotFound });
        }
        if let (MoveKind::Merge, Some(master)) = (out.flow.kind, case.master_id) {
            // The master must still be open and not merged itself when this commits: touching its row
            // (without changing it) waits for (PostgreSQL) or comes after (SQLite) a move of the master
            // being written, so two merges crossing each other (A into C while B into A) cannot leave B
            // behind a merged case.
            let open = sqlx::query(
                "update cases set updated_at = updated_at where id = $1 and master_id is null \
                 and state not in ('closed', 'voided', 'merged')",
            )
            .bind(master.0)
            .execute(&mut *tx)
            .await?;
            if open.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(StoreError::StaleVersion);
            }
        }
        insert_flow(&mut tx, self.links(), case.id, &out.flow).await?;
        if matches!(out.flow.kind, MoveKind::Dispatch | MoveKind::ApproveReturn) {
            replace_assists(&mut tx, case).await?;
        } else if out.flow.from != Some(out.flow.to) {
            for link in ["case_assists", "whistles"] {
                sqlx::query(&format!("update {link} set state = $1 where case_id = $2"))
                    .bind(case.state.as_str())
                    .bind(case.id.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        apply_effects(&mut tx, self.links(), case, &out.flow, &out.effects).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A case by id.
    pub async fn get_case(&self, id: CaseId) -> Result<Case> {
        let row = sqlx::query(&format!("select {CASE_COLUMNS} from cases where id = $1"))
            .bind(id.0)
            .fetch_one(self.reader())
            .await?;
        case_from_row(&row, &self.contacts)
    }

    /// A case by its readable number.
    pub async fn case_by_number(&self, number: &str) -> Result<Case> {
        let row = sqlx::query(&format!("select {CASE_COLUMNS} from cases where number = $1"))
            .bind(number)
            .fetch_one(self.reader())
            .await?;
        case_from_row(&row, &self.contacts)
    }

    /// The flow records of a case, oldest first, with their ids.
    pub async fn flows(&self, case: CaseId) -> Result<Vec<(i64, FlowEntry)>> {
        let rows = sqlx::query(&format!("select id, {FLOW_COLUMNS} from flow where case_id = $1 order by id"))
            .bind(case.0)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(flow_from_row).collect()
    }

    /// The note of each case's latest move of one kind, by case: the reason a unit gave for returning
    /// a case, where the dispatcher decides on it.
    pub async fn latest_notes(&self, cases: &[CaseId], kind: MoveKind) -> Result<HashMap<CaseId, String>> {
        if cases.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new("select case_id, note from flow where kind = ");
        sql.bind(kind.as_str()).push(" and note is not null and case_id in ").bind_list(cases.iter().map(|c| c.0));
        sql.push(" order by id");
        let rows = sql.query().fetch_all(self.reader()).await?;
        // Later records come last and replace earlier ones.
        let mut notes = HashMap::new();
        for r in &rows {
            notes.insert(CaseId(r.int("case_id")?), r.text("note")?);
        }
        Ok(notes)
    }

    /// The units summoned to a case.
    pub async fn whistles(&self, case: CaseId) -> Result<Vec<WhistleRow>> {
        let rows = sqlx::query(
            "select unit_id, summoned_at, report_by, reported_at from whistles where case_id = $1 order by id",
        )
        .bind(case.0)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WhistleRow {
                    unit_id: UnitId(r.try_get("unit_id")?),
                    summoned_at: from_ms(r.try_get("summoned_at")?),
                    report_by: from_ms(r.try_get("report_by")?),
                    reported_at: get_opt_ms(r, "reported_at")?,
                })
            })
            .collect()
    }

    /// Supervision notices, newest first: of one case, or of some units, or all.
    pub async fn notices(&self, case: Option<CaseId>, units: Option<&[UnitId]>, limit: i64) -> Result<Vec<NoticeRow>> {
        let mut sql = Sql::new(&format!("{NOTICES_FROM} where 1 = 1"));
        if let Some(c) = case {
            sql.push(" and n.case_id = ").bind(c.0);
        }
        if let Some(units) = units {
            sql.push(" and n.unit_id in ").bind_list(units.iter().map(|u| u.0));
        }
        sql.push(" order by n.id desc limit ").bind(limit);
        self.notice_rows(&sql).await
    }

    /// The supervision notices of cases still open, newest first: what the dispatch desk follows up
    /// (a notice of a case not yet dispatched is the desk's own to answer).
    pub async fn open_notices(&self, limit: i64) -> Result<Vec<NoticeRow>> {
        let mut sql = Sql::new(&format!("{NOTICES_FROM} where c.state not in ('closed', 'voided', 'merged')"));
        sql.push(" order by n.id desc limit ").bind(limit);
        self.notice_rows(&sql).await
    }

    /// The supervision notices a unit still has to answer: of open cases it leads now (a notice
    /// stays behind when its case is returned and sent elsewhere, or closed), newest first.
    pub async fn open_notices_of(&self, units: &[UnitId], limit: i64) -> Result<Vec<NoticeRow>> {
        let mut sql = Sql::new(&format!("{NOTICES_FROM} where c.state in ('pending_sign', 'handling', 'suspended')"));
        sql.push(" and c.unit_id in ").bind_list(units.iter().map(|u| u.0));
        sql.push(" and n.unit_id = c.unit_id order by n.id desc limit ").bind(limit);
        self.notice_rows(&sql).await
    }

    async fn notice_rows(&self, sql: &Sql) -> Result<Vec<NoticeRow>> {
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                Ok(NoticeRow {
                    id: r.try_get("id")?,
                    case_id: CaseId(r.try_get("case_id")?),
                    case_number: r.try_get("case_number")?,
                    unit_id: r.try_get::<Option<i64>, _>("unit_id")?.map(UnitId),
                    case_unit_id: r.try_get::<Option<i64>, _>("case_unit_id")?.map(UnitId),
                    level: u32::try_from(r.try_get::<i64, _>("level")?).unwrap_or(0),
                    overdue: r.try_get::<i64, _>("overdue")? != 0,
                    message: r.try_get("message")?,
                    note: r.try_get("note")?,
                    created_at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// A page of cases and the count of all that match.
    pub async fn list_cases(&self, f: &CaseFilter) -> Result<CaseList> {
        let mut where_ = Sql::new(" where 1 = 1");
        push_filters(&mut where_, f, &self.contacts);
        let total: i64 = if f.count_total {
            let mut count = match f.count_limit {
                Some(_) => Sql::new("select count(*) from (select 1 from cases"),
                None => Sql::new("select count(*) from cases"),
            };
            count.push(&where_.text);
            count.args = where_.args.clone();
            if let Some(limit) = f.count_limit {
                count.push(" limit ").bind(limit.saturating_add(1)).push(") capped");
            }
            count.query().fetch_one(self.reader()).await?.try_get(0)?
        } else {
            -1
        };

        let mut page = Sql::new(&format!("select {CASE_COLUMNS} from cases"));
        page.push(&where_.text);
        page.args = where_.args;
        page.push(match f.sort {
            CaseSort::CreatedDesc => " order by created_at desc, id desc",
            CaseSort::CreatedAsc => " order by created_at, id",
            // Spelled out: SQLite puts NULL first by default, PostgreSQL last.
            CaseSort::DeadlineAsc => " order by deadline nulls last, id",
            CaseSort::UpdatedDesc => " order by updated_at desc, id desc",
            CaseSort::UpdatedAsc => " order by updated_at, id",
            CaseSort::IdAsc => " order by id",
        });
        let limit = if f.count_total { f.limit } else { f.limit + 1 };
        page.push(" limit ").bind(limit).push(" offset ").bind(f.offset);
        let rows = page.query().fetch_all(self.reader()).await?;
        let items = rows.iter().map(|r| case_from_row(r, &self.contacts)).collect::<Result<Vec<_>>>()?;
        Ok(CaseList { items, total })
    }

    /// Cases whose deadline has passed while their clock runs and that are not yet marked overdue.
    pub async fn cases_to_mark_overdue(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Case>> {
        let rows = sqlx::query(&format!(
            "select {CASE_COLUMNS} from cases where state in ('pending_sign', 'handling') and deadline < $1 \
             and overdue_at is null order by deadline limit $2"
        ))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| case_from_row(r, &self.contacts)).collect()
    }

    /// Suspended cases whose suspension has run out.
    pub async fn cases_to_resume(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Case>> {
        let rows = sqlx::query(&format!(
            "select {CASE_COLUMNS} from cases where state = 'suspended' and suspended_until <= $1 order by suspended_until limit $2"
        ))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| case_from_row(r, &self.contacts)).collect()
    }

    /// Number of cases stored.
    pub async fn count_cases(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from cases").fetch_one(self.reader()).await?)
    }

    /// The highest case id (0 with no cases).
    pub async fn last_case_id(&self) -> Result<CaseId> {
        let id: Option<i64> = sqlx::query_scalar("select max(id) from cases").fetch_one(self.reader()).await?;
        Ok(CaseId(id.unwrap_or(0)))
    }

    /// Loads many finished histories at once (the demo city), numbering nothing: the cases carry
    /// their numbers, and the day counters are moved past them.
    pub async fn bulk_insert_cases(&self, items: &[BulkCase]) -> Result<Vec<CaseId>> {
        let mut tx = self.writer().begin().await?;
        let max_id: Option<i64> = sqlx::query_scalar("select max(id) from cases").fetch_one(&mut *tx).await?;
        let first = max_id.unwrap_or(0) + 1;
        let ids: Vec<CaseId> = (0..items.len()).map(|i| CaseId(first + i as i64)).collect();
        let mut columns = vec!["id"];
        columns.extend(case_columns_without_id());
        let columns = columns.join(", ");
        // Small statements: SQLite looks bind parameters up by name in a list, so a statement's cost
        // grows with the square of its parameter count.
        for (chunk_no, chunk) in items.chunks(BULK_CASES_PER_STATEMENT).enumerate() {
            let rows = chunk.iter().enumerate().map(|(i, b)| {
                let mut v = vec![Arg::from(ids[chunk_no * BULK_CASES_PER_STATEMENT + i].0)];
                v.extend(case_values(&b.case, &self.contacts));
                v
            });
            multi_insert("cases", &columns, rows).for_backend(self.backend()).query().execute(&mut *tx).await?;
        }
        let key = self.links();
        let flows: Vec<Vec<Arg>> =
            items.iter().zip(&ids).flat_map(|(b, id)| new_case_flow_rows(key, *id, &b.flows)).collect();
        for chunk in flows.chunks(BULK_ROWS_PER_STATEMENT) {
            let sql = multi_insert("flow", FLOW_INSERT_COLUMNS, chunk.iter().cloned()).for_backend(self.backend());
            sql.query().execute(&mut *tx).await?;
        }
        let assists: Vec<Vec<Arg>> = items
            .iter()
            .zip(&ids)
            .flat_map(|(b, id)| {
                b.case
                    .assisting_units
                    .iter()
                    .map(move |u| vec![Arg::from(id.0), Arg::from(u.0), Arg::from(b.case.state.as_str())])
            })
            .collect();
        for chunk in assists.chunks(BULK_ROWS_PER_STATEMENT) {
            multi_insert("case_assists", "case_id, unit_id, state", chunk.iter().cloned())
                .for_backend(self.backend())
                .query()
                .execute(&mut *tx)
                .await?;
        }
        for (b, id) in items.iter().zip(&ids) {
            if b.effects.is_empty() {
                continue;
            }
            let mut case = b.case.clone();
            case.id = *id;
            for (at, effect) in &b.effects {
                let flow = FlowEntry { at: *at, ..b.flows.last().cloned().unwrap_or_else(|| empty_flow(*at)) };
                apply_effects(&mut tx, self.links(), &case, &flow, std::slice::from_ref(effect)).await?;
            }
        }
        let mut last_by_day: HashMap<i64, i64> = HashMap::new();
        for b in items {
            if let Some((day, seq)) = b.case.number.split_once('-') {
                if let (Ok(day), Ok(seq)) = (day.parse::<i64>(), seq.parse::<i64>()) {
                    let e = last_by_day.entry(day).or_insert(0);
                    *e = (*e).max(seq);
                }
            }
        }
        for (day, last) in last_by_day {
            sqlx::query(
                "insert into case_numbers (day, last) values ($1, $2) on conflict (day) do update set \
                 last = case when excluded.last > case_numbers.last then excluded.last else case_numbers.last end",
            )
            .bind(day)
            .bind(last)
            .execute(&mut *tx)
            .await?;
        }
        if self.backend() == crate::Backend::Postgres {
            // Explicit ids bypass the identity sequence; move it past them.
            sqlx::query("select setval(pg_get_serial_sequence('cases', 'id'), (select max(id) from cases))")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Refreshes the planner's statistics after a bulk load (PostgreSQL plans a freshly loaded
    /// table as if it were empty until it is analysed; SQLite plans well without).
    pub async fn analyze_after_bulk_load(&self) -> Result<()> {
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("analyze").execute(self.writer()).await?;
        }
        Ok(())
    }

    /// The last sequence number used on a day (0 if none).
    pub async fn last_case_sequence(&self, day: NaiveDate) -> Result<i64> {
        let last: Option<i64> = sqlx::query_scalar("select last from case_numbers where day = $1")
            .bind(day_key(day))
            .fetch_optional(self.reader())
            .await?;
        Ok(last.unwrap_or(0))
    }
}

fn empty_flow(at: DateTime<Utc>) -> FlowEntry {
    FlowEntry {
        kind: MoveKind::Report,
        from: None,
        to: State::Reported,
        actor_id: None,
        actor_name: String::new(),
        role: None,
        unit_id: None,
        at,
        note: None,
        attachments: Vec::new(),
        data: serde_json::Value::Null,
    }
}

/// Words of a text search beyond these are ignored (each adds two pattern matches per case).
const MAX_SEARCH_WORDS: usize = 8;

fn push_filters(sql: &mut Sql, f: &CaseFilter, contacts: &ContactCipher) {
    let s = &f.scope;
    // A filter on units of the scope's own (a unit's inbox) is stricter than the scope: its cases are
    // in the scope's first part, so the filter alone is the query, served by the unit's own index.
    let within_own_units =
        f.units.as_ref().is_some_and(|units| !units.is_empty() && units.iter().all(|u| s.units.contains(u)));
    let restricted = !s.all && !within_own_units;
    if restricted {
        // One `id in (… union …)` rather than ORs, so that each part uses its own index; the state
        // filter goes into the parts over `cases` too, so that they stay small on a large table.
        let mut states: Vec<&str> = f.states.iter().map(|s| s.as_str()).collect();
        if states.is_empty() && (f.overdue == Some(true) || f.due_before.is_some()) {
            states = vec!["pending_sign", "handling"];
        }
        let with_states = |p: &mut Sql| {
            if !states.is_empty() {
                p.push(" and state in ").bind_list(states.iter().copied());
            }
        };
        let mut parts: Vec<Sql> = Vec::new();
        let part = |text: &str| Sql::new(text);
        if !s.units.is_empty() {
            let units = || s.units.iter().map(|u| u.0);
            let mut p = part("select id from cases where unit_id in ");
            p.bind_list(units());
            with_states(&mut p);
            parts.push(p);
            for link in ["case_assists", "whistles"] {
                let mut p = part(&format!("select case_id from {link} where unit_id in "));
                p.bind_list(units());
                with_states(&mut p);
                parts.push(p);
            }
        }
        if !s.grids.is_empty() {
            let mut p = part("select id from cases where grid_id in ");
            p.bind_list(s.grids.iter().map(|g| g.0));
            with_states(&mut p);
            parts.push(p);
        }
        if !s.divisions.is_empty() {
            let mut p = part("select id from cases where division_id in ");
            p.bind_list(s.divisions.iter().map(|d| d.0));
            with_states(&mut p);
            parts.push(p);
        }
        if let Some(r) = s.reporter {
            let mut p = part("select id from cases where reporter_id = ");
            p.bind(r.0);
            with_states(&mut p);
            parts.push(p);
        }
        if parts.is_empty() {
            sql.push(" and 1 = 0");
        } else {
            sql.push(" and id in (");
            for (i, p) in parts.into_iter().enumerate() {
                if i > 0 {
                    sql.push(" union ");
                }
                sql.append(p);
            }
            sql.push(")");
        }
    }
    if !f.states.is_empty() {
        // Within a restricted scope the ids are few: `state || ''` keeps the planner from scanning
        // the state index instead of looking those ids up.
        sql.push(if restricted { " and state || '' in " } else { " and state in " });
        sql.bind_list(f.states.iter().map(|s| s.as_str()));
    }
    // Within a restricted scope, `column + 0` likewise keeps these filters from choosing an index
    // that walks all of a unit's history instead of the scope's few ids.
    let column = |name: &str| if restricted { format!(" and {name} + 0 in ") } else { format!(" and {name} in ") };
    if let Some(c) = &f.categories {
        sql.push(&column("category_id")).bind_list(c.iter().map(|c| c.0));
    }
    if let Some(u) = &f.units {
        sql.push(&column("unit_id")).bind_list(u.iter().map(|u| u.0));
    }
    if let Some(g) = &f.grids {
        sql.push(&column("grid_id")).bind_list(g.iter().map(|g| g.0));
    }
    if let Some(d) = &f.divisions {
        sql.push(&column("division_id")).bind_list(d.iter().map(|d| d.0));
    }
    if let Some(c) = f.channel {
        sql.push(" and channel = ").bind(c.as_str());
    }
    if let Some(t) = f.request_type {
        sql.push(" and request_type = ").bind(t.as_str());
    }
    match f.overdue {
        Some(true) => {
            let state = if restricted { " and state || ''" } else { " and state" };
            sql.push(state).push(" in ('pending_sign', 'handling') and deadline < ").bind(ms(f.now));
        }
        Some(false) => {
            sql.push(" and not (state in ('pending_sign', 'handling') and deadline is not null and deadline < ")
                .bind(ms(f.now))
                .push(")");
        }
        None => {}
    }
    if let Some(t) = f.created_from {
        sql.push(" and created_at >= ").bind(ms(t));
    }
    if let Some(t) = f.created_to {
        sql.push(" and created_at < ").bind(ms(t));
    }
    if let Some(t) = f.updated_after {
        sql.push(" and updated_at > ").bind(ms(t));
    }
    if let Some(t) = f.updated_before {
        sql.push(" and updated_at < ").bind(ms(t));
    }
    if let Some(id) = f.id_after {
        sql.push(" and id > ").bind(id.0);
    }
    if let Some(id) = f.id_up_to {
        sql.push(" and id <= ").bind(id.0);
    }
    if let Some(numbers) = &f.numbers {
        if numbers.is_empty() {
            sql.push(" and 1 = 0");
        } else {
            sql.push(" and number in ").bind_list(numbers.iter().cloned());
        }
    }
    if let Some(text) = &f.text {
        if cityloop_domain::number::looks_like_case_number(text) {
            // A case number is looked up by its unique index, not searched for in the texts.
            sql.push(" and number = ").bind(text.clone());
        } else {
            // Every word must appear, each in the title or the description (`灯 坏` finds 路灯坏了),
            // in half or full width (`3号楼` finds ３号楼) and in either case (`ktv` finds KTV: SQLite's
            // `like` ignores the case of Latin letters, PostgreSQL's does not, so both compare ASCII in
            // lower case; full-width letters come in both cases from `width_forms`).
            for word in text.split_whitespace().take(MAX_SEARCH_WORDS) {
                for (i, form) in cityloop_domain::width::width_forms(word).into_iter().enumerate() {
                    // `%` and `_` are searched for as themselves (50%, a_b), not as wildcards; `!` escapes
                    // them (a backslash literal would depend on PostgreSQL's string settings).
                    let escaped = form.to_ascii_lowercase().replace('!', "!!").replace('%', "!%").replace('_', "!_");
                    let pattern = format!("%{escaped}%");
                    sql.push(if i == 0 { " and (lower(title) like " } else { " or lower(title) like " })
                        .bind(pattern.clone())
                        .push(" escape '!' or lower(description) like ")
                        .bind(pattern)
                        .push(" escape '!'");
                }
                sql.push(")");
            }
        }
    }
    if let Some(p) = &f.phone {
        // In clear, or under the current or an earlier key (until a rotation has re-encrypted every row).
        let mut forms = contacts.stored_forms("contact_phone", p);
        if let Some(typed) = f.phone_as_typed.as_deref().filter(|t| *t != p) {
            forms.extend(contacts.stored_forms("contact_phone", typed));
        }
        sql.push(" and contact_phone in ").bind_list(forms);
    }
    if let Some(m) = f.master {
        sql.push(" and master_id = ").bind(m.0);
    }
    // The links keep a copy of the case's state, so that these are ranges of their unit's index.
    if let Some(u) = f.summoned {
        sql.push(" and id in (select case_id from whistles where unit_id = ")
            .bind(u.0)
            .push(" and reported_at is null and state not in ('closed', 'voided', 'merged'))");
    }
    if let Some(u) = f.reported_in {
        sql.push(" and id in (select case_id from whistles where unit_id = ")
            .bind(u.0)
            .push(" and reported_at is not null and state not in ('closed', 'voided', 'merged'))");
    }
    if let Some(u) = f.assisting {
        sql.push(" and id in (select case_id from case_assists where unit_id = ")
            .bind(u.0)
            .push(" and state not in ('closed', 'voided', 'merged'))");
    }
    if let Some(waiting) = f.pending {
        sql.push(if waiting { " and pending is not null" } else { " and pending is null" });
    }
    if let Some(t) = f.due_before {
        sql.push(" and state in ('pending_sign', 'handling') and deadline >= ").bind(ms(f.now));
        sql.push(" and deadline < ").bind(ms(t));
    }
    if f.reworked {
        sql.push(" and reworks > 0");
    }
    if f.public_only {
        sql.push(" and confidential = 0 and state <> 'voided'");
    }
}
