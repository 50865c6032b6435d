//! Storage of the tamper evidence (see `cityloop_domain::audit`): the links written with the flow
//! records, the seals, and the walks over them that a check makes.

use chrono::{DateTime, Utc};
use cityloop_domain::audit::{from_hex, to_hex, AuditKey, Digest, LinkCheck, Value, GENESIS};
use cityloop_domain::CaseId;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::args::Arg;
use crate::cases::FLOW_COLUMNS;
use crate::rows::{from_ms, ms};
use crate::{Result, Store};

/// The values of a row as they are bound, for hashing.
pub(crate) fn audit_values(row: &[Arg]) -> Vec<Value<'_>> {
    row.iter()
        .map(|arg| match arg {
            Arg::Int(Some(v)) => Value::Int(*v),
            Arg::Real(Some(v)) => Value::Real(*v),
            Arg::Text(Some(v)) => Value::Text(v),
            Arg::Int(None) | Arg::Real(None) | Arg::Text(None) => Value::Null,
        })
        .collect()
}

/// A stored flow record's values read back as they were bound (`cases::flow_values`, column for
/// column). Everything is read as nullable, so that a value set to null by hand is a finding, not an error.
fn stored_flow_values(r: &AnyRow) -> Result<Vec<Arg>> {
    let int = |c: &str| r.try_get::<Option<i64>, _>(c).map(Arg::Int);
    let text = |c: &str| r.try_get::<Option<String>, _>(c).map(Arg::Text);
    Ok(vec![
        int("case_id")?,
        text("kind")?,
        text("from_state")?,
        text("to_state")?,
        int("actor_id")?,
        text("actor_name")?,
        text("role")?,
        int("unit_id")?,
        int("at")?,
        text("note")?,
        text("attachments")?,
        text("data")?,
    ])
}

/// The link of a case's last linked record (`GENESIS` for a case without one).
pub(crate) async fn last_link(tx: &mut Transaction<'_, Any>, case_id: CaseId) -> Result<Digest> {
    let link: Option<String> =
        sqlx::query_scalar("select link from flow where case_id = $1 and link is not null order by id desc limit 1")
            .bind(case_id.0)
            .fetch_optional(&mut **tx)
            .await?;
    // A garbled link is a finding for the check; the next record chains from the start.
    Ok(link.as_deref().and_then(from_hex).unwrap_or(GENESIS))
}

/// A seal: the flow records with ids after the previous seal's `last_flow_id` up to its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub id: i64,
    pub last_flow_id: i64,
    pub records: i64,
    /// Hex text of the root.
    pub root: String,
    pub sealed_at: DateTime<Utc>,
}

fn seal_from_row(r: &AnyRow) -> Result<Seal> {
    Ok(Seal {
        id: r.try_get("id")?,
        last_flow_id: r.try_get("last_flow_id")?,
        records: r.try_get("records")?,
        root: r.try_get("root")?,
        sealed_at: from_ms(r.try_get("sealed_at")?),
    })
}

const SEAL_COLUMNS: &str = "id, last_flow_id, records, root, sealed_at";

impl Store {
    /// The key new flow records are linked with (`None`: written unlinked, to measure what linking costs).
    pub(crate) fn links(&self) -> Option<&AuditKey> {
        self.links.as_deref()
    }

    /// The key the chains are checked and sealed with.
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// This store writing flow records without links: only for measuring what linking costs (the
    /// records it writes are findings for `audit verify`).
    pub fn without_links(&self) -> Store {
        Store { links: None, ..self.clone() }
    }

    /// Links the records stored before links existed, once (the first node to open the database after
    /// the migration does it; another doing it at the same time, or a pass after one that was killed, writes
    /// the same links).
    pub(crate) async fn link_legacy_flows(&self) -> Result<u64> {
        let (up_to, done): (i64, i64) =
            sqlx::query_as("select legacy_up_to, legacy_linked from audit_progress where id = 1")
                .fetch_one(self.writer())
                .await?;
        if done != 0 {
            return Ok(0);
        }
        let mut linked = 0;
        let mut after = (0i64, 0i64);
        // Legacy records come before any linked one in their case: each case's chain starts at
        // GENESIS, so that a second pass (another node, or a pass killed halfway) writes the same links.
        let mut previous: Option<(i64, Digest)> = None;
        loop {
            let mut tx = self.writer().begin().await?;
            let rows = sqlx::query(&format!(
                "select id, {FLOW_COLUMNS} from flow where id <= $1 and (case_id > $2 or (case_id = $2 and id > $3)) \
                 order by case_id, id limit 2000"
            ))
            .bind(up_to)
            .bind(after.0)
            .bind(after.1)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = rows.last() else { break };
            after = (last.try_get("case_id")?, last.try_get("id")?);
            for row in &rows {
                let (id, case_id): (i64, i64) = (row.try_get("id")?, row.try_get("case_id")?);
                let from = match previous {
                    Some((case, link)) if case == case_id => link,
                    _ => GENESIS,
                };
                let link = self.audit_key.link(&from, &audit_values(&stored_flow_values(row)?));
                sqlx::query("update flow set link = $1 where id = $2")
                    .bind(to_hex(&link))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                previous = Some((case_id, link));
                linked += 1;
            }
            tx.commit().await?;
        }
        sqlx::query("update audit_progress set legacy_linked = 1 where id = 1").execute(self.writer()).await?;
        Ok(linked)
    }

    /// Feeds up to `limit` records after `after` (case id, record id), in case order, to `check`, and
    /// returns where to go on from (`None`: all checked).
    pub async fn check_flow_links(
        &self,
        check: &mut LinkCheck,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Option<(i64, i64)>> {
        let rows = sqlx::query(&format!(
            "select id, link, {FLOW_COLUMNS} from flow where case_id > $1 or (case_id = $1 and id > $2) \
             order by case_id, id limit $3"
        ))
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        let mut next = None;
        for row in &rows {
            let (id, case_id): (i64, i64) = (row.try_get("id")?, row.try_get("case_id")?);
            let values = stored_flow_values(row)?;
            let link: Option<String> = row.try_get("link")?;
            check.push(case_id, id, &audit_values(&values), link.as_deref());
            next = Some((case_id, id));
        }
        Ok(if (rows.len() as i64) < limit { None } else { next })
    }

    /// The ids and links of the records with ids in (`after`, `up_to`], in id order, at most `limit`.
    /// A missing or garbled link reads as `GENESIS` (the check reports it).
    pub async fn flow_links(&self, after: i64, up_to: i64, limit: i64) -> Result<Vec<(i64, Digest)>> {
        let rows = sqlx::query("select id, link from flow where id > $1 and id <= $2 order by id limit $3")
            .bind(after)
            .bind(up_to)
            .bind(limit)
            .fetch_all(self.writer())
            .await?;
        rows.iter()
            .map(|r| {
                let link: Option<String> = r.try_get(1)?;
                Ok((r.try_get(0)?, link.as_deref().and_then(from_hex).unwrap_or(GENESIS)))
            })
            .collect()
    }

    /// How many flow records have ids after `after`.
    pub async fn flows_after(&self, after: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from flow where id > $1").bind(after).fetch_one(self.writer()).await?)
    }

    /// The last seal.
    pub async fn last_seal(&self) -> Result<Option<Seal>> {
        let row = sqlx::query(&format!("select {SEAL_COLUMNS} from audit_seals order by id desc limit 1"))
            .fetch_optional(self.writer())
            .await?;
        row.as_ref().map(seal_from_row).transpose()
    }

    /// The last seal made at or before `at`.
    pub async fn seal_made_by(&self, at: DateTime<Utc>) -> Result<Option<Seal>> {
        let row = sqlx::query(&format!(
            "select {SEAL_COLUMNS} from audit_seals where sealed_at <= $1 order by id desc limit 1"
        ))
        .bind(ms(at))
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(seal_from_row).transpose()
    }

    /// The seal numbered `id`.
    pub async fn seal(&self, id: i64) -> Result<Option<Seal>> {
        let row = sqlx::query(&format!("select {SEAL_COLUMNS} from audit_seals where id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(seal_from_row).transpose()
    }

    /// Up to `limit` seals after seal `after`, in order.
    pub async fn seals(&self, after: i64, limit: i64) -> Result<Vec<Seal>> {
        let rows = sqlx::query(&format!("select {SEAL_COLUMNS} from audit_seals where id > $1 order by id limit $2"))
            .bind(after)
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(seal_from_row).collect()
    }

    /// Stores the next seal. `false` (storing nothing) when another node stored that seal first.
    pub async fn add_seal(&self, seal: &Seal) -> Result<bool> {
        let done = sqlx::query(
            "insert into audit_seals (id, last_flow_id, records, root, sealed_at) values ($1, $2, $3, $4, $5) \
             on conflict (id) do nothing",
        )
        .bind(seal.id)
        .bind(seal.last_flow_id)
        .bind(seal.records)
        .bind(seal.root.clone())
        .bind(ms(seal.sealed_at))
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The hex text of a root, as a seal stores it.
pub fn root_text(root: &Digest) -> String {
    to_hex(root)
}
