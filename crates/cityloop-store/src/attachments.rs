//! Attachments: the uploaded files' records, which cases hold them, who uploaded them, and the uploads
//! still waiting for a case (removed by the background jobs when they wait too long).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use cityloop_domain::{CaseId, UserId};
use sqlx::{Any, Row, Transaction};

use crate::args::Sql;
use crate::cases::multi_insert;
use crate::rows::ms;
use crate::{Backend, Result, Store, StoreError};

/// Records that a case holds these files, in the transaction that writes its flow record. A file must
/// still be known: on PostgreSQL its row is locked (`for key share`) so that the sweep of unattached
/// uploads cannot remove it before this commits; on SQLite the single writer does the same.
pub(crate) async fn give_case_attachments(
    tx: &mut Transaction<'_, Any>,
    case_id: CaseId,
    hashes: &[String],
) -> Result<()> {
    let wanted: Vec<String> = hashes.iter().collect::<BTreeSet<_>>().into_iter().cloned().collect();
    let lock = if tx.backend_name() == "PostgreSQL" { " for key share" } else { "" };
    let known: HashSet<String> =
        select_hashes(tx, "select hash from attachments where hash in ", &wanted, lock).await?.into_iter().collect();
    if let Some(missing) = wanted.iter().find(|h| !known.contains(*h)) {
        return Err(StoreError::UnknownAttachment(missing.clone()));
    }
    let rows = wanted.iter().map(|hash| vec![hash.clone().into(), case_id.0.into()]);
    let mut sql = multi_insert("case_attachments", "hash, case_id", rows);
    sql.push(" on conflict do nothing");
    sql.query().execute(&mut **tx).await?;
    let mut sql = Sql::new("delete from pending_uploads where hash in ");
    sql.bind_list(wanted.iter().cloned());
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// The hashes a query ending in `hash in ` returns for `hashes`, with `suffix` (a lock clause) after
/// the list.
async fn select_hashes(
    tx: &mut Transaction<'_, Any>,
    query: &str,
    hashes: &[String],
    suffix: &str,
) -> Result<Vec<String>> {
    let mut sql = Sql::new(query);
    sql.bind_list(hashes.iter().cloned()).push(suffix);
    let rows = sql.query().fetch_all(&mut **tx).await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<_, _>>()?)
}

/// Removes an attachment's file through `remove_file`; one already gone is fine (a sweep whose commit
/// failed removed it).
fn remove_unless_gone(remove_file: &impl Fn(&str) -> std::io::Result<()>, hash: &str) -> Result<()> {
    match remove_file(hash) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!("removing the file of attachment {hash}: {e}"))),
    }
}

impl Store {
    /// Records an upload (the same content is recorded once) and marks it as waiting for a case. The
    /// waiting mark comes first: if the background sweep holds this content's rows, the upload waits for
    /// it and records the content again afterwards, and the caller writes the file after this returns.
    pub async fn insert_attachment(
        &self,
        hash: &str,
        content_type: &str,
        size: usize,
        file_name: &str,
        uploaded_by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "insert into pending_uploads (hash, uploaded_at) values ($1, $2) \
             on conflict (hash) do update set uploaded_at = excluded.uploaded_at",
        )
        .bind(hash)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into attachments (hash, content_type, size, file_name, uploaded_by, created_at) values ($1, $2, $3, $4, $5, $6) \
             on conflict (hash) do nothing",
        )
        .bind(hash)
        .bind(content_type)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(file_name)
        .bind(uploaded_by.map(|u| u.0))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if let Some(user) = uploaded_by {
            sqlx::query("insert into attachment_uploads (hash, user_id) values ($1, $2) on conflict do nothing")
                .bind(hash)
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes uploads that no case holds and that were last uploaded before `uploaded_before`, at most
    /// `limit` of them, and returns their hashes. `remove_file` deletes a file; it is called while the
    /// rows are held, so that an upload of the same content waits and then writes the file again.
    /// Rows a concurrent upload or move holds are left for the next run.
    pub async fn sweep_unattached_uploads(
        &self,
        uploaded_before: DateTime<Utc>,
        limit: i64,
        remove_file: impl Fn(&str) -> std::io::Result<()> + Send + Sync,
    ) -> Result<Vec<String>> {
        // SQLite has one writer, so the transaction alone keeps uploads and moves out; PostgreSQL locks rows.
        let lock = if self.backend() == Backend::Postgres { " for update skip locked" } else { "" };
        let mut tx = self.writer().begin().await?;
        let waiting: Vec<String> = sqlx::query_scalar(&format!(
            "select hash from pending_uploads where uploaded_at < $1 order by uploaded_at limit $2{lock}"
        ))
        .bind(ms(uploaded_before))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if waiting.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // A mark whose upload record is gone (removed behind the platform, or a restore of an older
        // copy) is dropped with its file, which nothing refers to: left, such marks would fill every
        // batch and the sweep would go no further.
        let orphaned = select_hashes(
            &mut tx,
            "select hash from pending_uploads p where not exists (select 1 from attachments a where a.hash = p.hash) \
             and hash in ",
            &waiting,
            "",
        )
        .await?;
        if !orphaned.is_empty() {
            for hash in &orphaned {
                remove_unless_gone(&remove_file, hash)?;
            }
            let mut sql = Sql::new("delete from pending_uploads where hash in ");
            sql.bind_list(orphaned.iter().cloned());
            sql.query().execute(&mut *tx).await?;
        }
        let held = select_hashes(&mut tx, "select hash from attachments where hash in ", &waiting, lock).await?;
        if held.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        // Read once the rows are held: a move that gave a case one of these files before is seen here.
        let on_cases: HashSet<String> =
            select_hashes(&mut tx, "select distinct hash from case_attachments where hash in ", &held, "")
                .await?
                .into_iter()
                .collect();
        let unattached: Vec<String> = held.iter().filter(|h| !on_cases.contains(*h)).cloned().collect();
        for hash in &unattached {
            remove_unless_gone(&remove_file, hash)?;
        }
        let mut sql = Sql::new("delete from pending_uploads where hash in ");
        sql.bind_list(held.iter().cloned());
        sql.query().execute(&mut *tx).await?;
        if !unattached.is_empty() {
            for table in ["attachment_uploads", "attachments"] {
                let mut sql = Sql::new(&format!("delete from {table} where hash in "));
                sql.bind_list(unattached.iter().cloned());
                sql.query().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(unattached)
    }

    /// Whether `user` uploaded an attachment, and the cases that hold it (at most `limit`); `None`
    /// for an unknown one.
    pub async fn attachment_holders(
        &self,
        hash: &str,
        user: UserId,
        limit: i64,
    ) -> Result<Option<(bool, Vec<CaseId>)>> {
        if !self.attachment_exists(hash).await? {
            return Ok(None);
        }
        let uploaded: Option<i64> =
            sqlx::query_scalar("select user_id from attachment_uploads where hash = $1 and user_id = $2")
                .bind(hash)
                .bind(user.0)
                .fetch_optional(self.reader())
                .await?;
        let cases: Vec<i64> =
            sqlx::query_scalar("select case_id from case_attachments where hash = $1 order by case_id limit $2")
                .bind(hash)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
        Ok(Some((uploaded.is_some(), cases.into_iter().map(CaseId).collect())))
    }

    /// Whether an attachment may go on a case: `user` uploaded it, or the case holds it already
    /// (`user` `None`: the platform, a resident's portal or a client application, which attach only
    /// what they have just uploaded).
    pub async fn attachment_usable(&self, hash: &str, user: Option<UserId>, case: Option<CaseId>) -> Result<bool> {
        let Some(user) = user else { return self.attachment_exists(hash).await };
        let found: Option<i64> = sqlx::query_scalar(
            "select 1 from attachment_uploads where hash = $1 and user_id = $2 \
             union all select 1 from case_attachments where hash = $1 and case_id = $3 limit 1",
        )
        .bind(hash)
        .bind(user.0)
        .bind(case.map_or(0, |c| c.0))
        .fetch_optional(self.reader())
        .await?;
        Ok(found.is_some())
    }

    /// Whether an attachment is known.
    pub async fn attachment_exists(&self, hash: &str) -> Result<bool> {
        Ok(self.attachment_type(hash).await?.is_some())
    }

    /// The content type of a known attachment.
    pub async fn attachment_type(&self, hash: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("select content_type from attachments where hash = $1")
            .bind(hash)
            .fetch_optional(self.reader())
            .await?)
    }

    /// The content types of known attachments, by hash.
    pub async fn attachment_types(&self, hashes: &[String]) -> Result<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in hashes.chunks(400) {
            let mut sql = Sql::new("select hash, content_type from attachments where hash in ");
            sql.bind_list(chunk.iter().cloned());
            for r in sql.query().fetch_all(self.reader()).await? {
                out.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok(out)
    }
}
