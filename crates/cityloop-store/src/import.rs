//! Storage for bulk import: runs with their checkpoint, the source records already imported, and a
//! batch writer that stores hundreds of cases per statement: one parsed statement per table and chunk
//! instead of one per row, which is what makes tens of thousands of rows a second possible.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension;

use chrono::{DateTime, NaiveDate, Utc};
use cityloop_domain::audit::GENESIS;
use cityloop_domain::number::{case_number, day_key};
use cityloop_domain::{Case, CaseId, FlowEntry};
use serde_json::{Map, Value};
use sqlx::{Any, Row, Transaction};

use crate::args::{Arg, Sql};
use crate::cases::{case_columns_without_id, flow_values, link_rows, FLOW_INSERT_COLUMNS};
use crate::contact_crypto::ContactCipher;
use crate::rows::{case_values, ms, Columns};
use crate::{AuditKey, Backend, Result, Store, StoreError};

/// A run of an import, as found or started.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRun {
    pub id: i64,
    /// Records starting before this line are done.
    pub next_line: i64,
    pub imported: i64,
    pub skipped: i64,
    pub rejected: i64,
    /// An interrupted run of the same file was found and goes on.
    pub resumed: bool,
}

/// One case to import: the case (without id or number), its flow records, the day it is numbered in,
/// and the id of the source record.
#[derive(Debug, Clone)]
pub struct ImportedCase {
    pub case: Case,
    pub flows: Vec<FlowEntry>,
    pub day: NaiveDate,
    pub external_id: String,
}

/// A batch of imported cases made into rows where it is read (values converted, JSON written, contacts
/// sealed), so that the transaction storing it only numbers, links and writes them: the reading task
/// has time to spare while the writer is the slower half of a load.
pub struct PreparedImport {
    cases: Vec<PreparedCase>,
}

struct PreparedCase {
    day: NaiveDate,
    /// The case's values, the first two (its id and number) given when stored.
    values: Vec<Arg>,
    /// Its flow records' values, the first (the case id) given when stored, with room for their link.
    flows: Vec<Vec<Arg>>,
    external_id: String,
}

impl PreparedImport {
    /// Makes a batch of imported cases into rows (see [`PreparedImport`]), with room for what is only
    /// known when they are stored, so that storing them allocates nothing more.
    fn prepare(items: Vec<ImportedCase>, contacts: &ContactCipher) -> PreparedImport {
        let cases = items
            .into_iter()
            .map(|item| PreparedCase {
                day: item.day,
                values: std::iter::once(Arg::Int(None)).chain(case_values(&item.case, contacts)).collect(),
                flows: item
                    .flows
                    .iter()
                    .map(|f| {
                        let mut row = flow_values(CaseId(0), f);
                        row.reserve_exact(1);
                        row
                    })
                    .collect(),
                external_id: item.external_id,
            })
            .collect();
        PreparedImport { cases }
    }

    pub fn len(&self) -> usize {
        self.cases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

/// One imported case's rows as stored: numbered, with its id, and its flow records linked.
struct CaseRows {
    id: CaseId,
    case: Vec<Arg>,
    flows: Vec<Vec<Arg>>,
    external_id: String,
}

impl PreparedImport {
    /// The batch's rows with the ids `ids`, each case numbered in its day after the day's last number in
    /// `last` (which it moves on), and the flow records linked.
    fn into_rows<'a>(
        self,
        ids: &'a [CaseId],
        last: &'a mut HashMap<i64, i64>,
        key: Option<&'a AuditKey>,
    ) -> impl Iterator<Item = CaseRows> + 'a {
        self.cases.into_iter().zip(ids).map(move |(mut prepared, id)| {
            let seq = last.entry(day_key(prepared.day)).or_insert(0);
            *seq += 1;
            prepared.values[0] = Arg::from(id.0);
            prepared.values[1] = Arg::from(case_number(prepared.day, *seq));
            for flow in &mut prepared.flows {
                flow[0] = Arg::from(id.0);
            }
            link_rows(key, GENESIS, &mut prepared.flows);
            CaseRows { id: *id, case: prepared.values, flows: prepared.flows, external_id: prepared.external_id }
        })
    }
}

/// How far a batch brings its run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpoint {
    pub next_line: i64,
    pub skipped: i64,
    pub rejected: i64,
}

fn json_value(arg: Arg) -> Value {
    match arg {
        Arg::Int(v) => v.map_or(Value::Null, Value::from),
        Arg::Real(v) => v.filter(|f| f.is_finite()).map_or(Value::Null, Value::from),
        Arg::Text(v) => v.map_or(Value::Null, Value::from),
    }
}

/// Most bind parameters in one SQLite statement (SQLite allows 32,766).
const SQLITE_MAX_PARAMS: usize = 30_000;

/// Inserts many rows with few statements. SQLite: multi-row `values` lists with anonymous `?`
/// parameters, which SQLite binds by position (numbered `$N` parameters are looked up by name, at a cost
/// that grows with the square of their number). PostgreSQL: the whole batch as one JSON parameter
/// expanded by `json_populate_recordset`.
async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Arg>>,
) -> Result<()> {
    let list = columns.join(", ");
    match backend {
        Backend::Sqlite => {
            let per_statement = (SQLITE_MAX_PARAMS / columns.len()).max(1);
            let row_marks = format!("({})", vec!["?"; columns.len()].join(", "));
            let mut rows = rows.peekable();
            while rows.peek().is_some() {
                let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_statement).collect();
                let marks = vec![row_marks.as_str(); chunk.len()].join(", ");
                let sql = Sql {
                    text: format!("insert into {table} ({list}) values {marks}"),
                    args: chunk.into_iter().flatten().collect(),
                };
                sql.query().execute(&mut **tx).await?;
            }
        }
        Backend::Postgres => insert_json_recordset(tx, table, columns, rows, "").await?,
    }
    Ok(())
}

/// PostgreSQL: inserts the rows as one JSON parameter expanded by `json_populate_recordset`, followed by
/// `on_conflict` (empty, or an `on conflict …` clause). One statement and one parameter however many
/// rows: binding thousands of values one by one costs more than PostgreSQL's own work.
pub(crate) async fn insert_json_recordset(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Vec<Arg>>,
    on_conflict: &str,
) -> Result<()> {
    let objects: Vec<Value> = rows
        .map(|values| {
            let map: Map<String, Value> =
                columns.iter().zip(values).map(|(c, v)| ((*c).to_string(), json_value(v))).collect();
            Value::Object(map)
        })
        .collect();
    if objects.is_empty() {
        return Ok(());
    }
    let list = columns.join(", ");
    let sql = format!(
        "insert into {table} ({list}) select {list} from json_populate_recordset(null::{table}, $1::json){on_conflict}"
    );
    sqlx::query(&sql).bind(Value::Array(objects).to_string()).execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// Finds the interrupted run of this file (same source and content) or starts a new one.
    pub async fn open_import_run(
        &self,
        source: &str,
        file_name: &str,
        file_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ImportRun> {
        let found = sqlx::query(
            "select id, next_line, imported, skipped, rejected from import_runs \
             where source = $1 and file_hash = $2 and finished_at is null order by id desc limit 1",
        )
        .bind(source.to_string())
        .bind(file_hash.to_string())
        .fetch_optional(self.writer())
        .await?;
        if let Some(r) = found {
            return Ok(ImportRun {
                id: r.try_get(0)?,
                next_line: r.try_get(1)?,
                imported: r.try_get(2)?,
                skipped: r.try_get(3)?,
                rejected: r.try_get(4)?,
                resumed: true,
            });
        }
        let row = sqlx::query(
            "insert into import_runs (source, file_name, file_hash, started_at) values ($1, $2, $3, $4) returning id",
        )
        .bind(source.to_string())
        .bind(file_name.to_string())
        .bind(file_hash.to_string())
        .bind(ms(now))
        .fetch_one(self.writer())
        .await?;
        Ok(ImportRun { id: row.try_get(0)?, next_line: 0, imported: 0, skipped: 0, rejected: 0, resumed: false })
    }

    /// Marks a run finished.
    pub async fn finish_import_run(&self, run: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("update import_runs set finished_at = $1 where id = $2")
            .bind(ms(now))
            .bind(run)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Which of these source ids were imported before.
    pub async fn imported_external_ids(&self, source: &str, ids: &[String]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new("select external_id from import_sources where source = ");
            sql.bind(source).push(" and external_id in ").bind_list(chunk.iter().cloned());
            for r in sql.for_backend(self.backend()).query().fetch_all(self.writer()).await? {
                found.insert(r.try_get(0)?);
            }
        }
        Ok(found)
    }

    /// Makes a batch of imported cases into rows (see [`PreparedImport`]); CPU work only.
    pub fn prepare_import(&self, items: Vec<ImportedCase>) -> PreparedImport {
        PreparedImport::prepare(items, &self.contacts)
    }

    /// Stores a batch of imported cases with their flow records and source ids, numbers them in their
    /// days, and moves the run's checkpoint, all in one transaction: an interrupted import leaves either
    /// the whole batch or none of it.
    pub async fn import_batch(
        &self,
        run: i64,
        source: &str,
        batch: PreparedImport,
        checkpoint: Checkpoint,
    ) -> Result<Vec<CaseId>> {
        if let Some(bulk) = &self.bulk {
            let (bulk, source, key) = (bulk.clone(), source.to_string(), self.links.clone());
            return tokio::task::spawn_blocking(move || {
                bulk.write(|tx| BulkConnection::import_batch(tx, run, &source, batch, checkpoint, key.as_deref()))
            })
            .await
            .map_err(|e| StoreError::Unavailable(format!("bulk load: {e}")))?;
        }
        let count = batch.len() as i64;
        let mut tx = self.writer().begin().await?;
        let max_id: Option<i64> = sqlx::query_scalar("select max(id) from cases").fetch_one(&mut *tx).await?;
        let first = max_id.unwrap_or(0) + 1;
        let ids: Vec<CaseId> = (0..batch.len()).map(|i| CaseId(first + i as i64)).collect();

        // Numbers: each day goes on from its last number.
        let days: HashSet<i64> = batch.cases.iter().map(|c| day_key(c.day)).collect();
        let mut last: HashMap<i64, i64> = HashMap::new();
        for chunk in days.iter().copied().collect::<Vec<_>>().chunks(500) {
            let mut sql = Sql::new("select day, last from case_numbers where day in ");
            sql.bind_list(chunk.iter().copied());
            for r in sql.query().fetch_all(&mut *tx).await? {
                last.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        // Rows are numbered and linked in one pass with no await: a future that holds these iterators
        // across one is not `Send`.
        let key = self.links();
        let mut case_rows = Vec::with_capacity(batch.len());
        let mut flow_rows = Vec::new();
        let mut source_rows = Vec::with_capacity(batch.len());
        for rows in batch.into_rows(&ids, &mut last, key) {
            source_rows.push(vec![Arg::from(source), Arg::from(rows.external_id), Arg::from(rows.id.0)]);
            case_rows.push(rows.case);
            flow_rows.extend(rows.flows);
        }
        let mut case_columns = vec!["id"];
        case_columns.extend(case_columns_without_id());
        let backend = self.backend();
        insert_rows(&mut tx, backend, "cases", &case_columns, case_rows.into_iter()).await?;
        let flow_columns: Vec<&str> = FLOW_INSERT_COLUMNS.split(',').map(str::trim).collect();
        insert_rows(&mut tx, backend, "flow", &flow_columns, flow_rows.into_iter()).await?;
        insert_rows(&mut tx, backend, "import_sources", &["source", "external_id", "case_id"], source_rows.into_iter())
            .await?;

        // One statement for all days (five years of history are some 1,800 days in a batch).
        let days: Vec<(i64, i64)> = last.into_iter().collect();
        for chunk in days.chunks(1000) {
            let mut sql = Sql::new("insert into case_numbers (day, last) values ");
            for (i, (day, seq)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind_list([*day, *seq]);
            }
            sql.push(
                " on conflict (day) do update set \
                 last = case when excluded.last > case_numbers.last then excluded.last else case_numbers.last end",
            );
            sql.query().execute(&mut *tx).await?;
        }
        if backend == Backend::Postgres && count > 0 {
            // Explicit ids bypass the identity sequence; move it past them.
            sqlx::query("select setval(pg_get_serial_sequence('cases', 'id'), (select max(id) from cases))")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "update import_runs set next_line = $1, imported = imported + $2, skipped = skipped + $3, \
             rejected = rejected + $4 where id = $5",
        )
        .bind(checkpoint.next_line)
        .bind(count)
        .bind(checkpoint.skipped)
        .bind(checkpoint.rejected)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }
}

/// Tables whose secondary indexes a large first load sets aside.
const DEFERRABLE_TABLES: &[&str] = &["cases", "flow"];

impl Store {
    /// Sets the secondary indexes of the case and flow tables aside (SQLite), keeping the statements
    /// that build them again in `deferred_indexes` with a lease until `held_until`, in one transaction.
    /// A large import into an almost empty city then writes each row once instead of into seventeen
    /// B-trees, and builds the indexes once at the end. Returns how many are set aside now (with those a
    /// killed load left, which this one takes over); on PostgreSQL, where other nodes keep serving, none.
    pub async fn defer_case_indexes(&self, held_until: DateTime<Utc>) -> Result<usize> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let mut tx = self.writer().begin().await?;
        let mut sql =
            Sql::new("select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in ");
        sql.bind_list(DEFERRABLE_TABLES.iter().copied());
        let indexes: Vec<(String, String)> = sql
            .query()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        for (name, definition) in &indexes {
            sqlx::query("insert into deferred_indexes (name, definition, held_until) values ($1, $2, $3)")
                .bind(name)
                .bind(definition)
                .bind(ms(held_until))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("drop index \"{name}\"")).execute(&mut *tx).await?;
        }
        // Indexes a killed load left aside are this load's to build again too.
        sqlx::query("update deferred_indexes set held_until = $1").bind(ms(held_until)).execute(&mut *tx).await?;
        let set_aside: i64 = sqlx::query_scalar("select count(*) from deferred_indexes").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(set_aside as usize)
    }

    /// Moves the lease of the indexes a running load has set aside on.
    pub async fn renew_deferred_indexes(&self, held_until: DateTime<Utc>) -> Result<()> {
        sqlx::query("update deferred_indexes set held_until = $1").bind(ms(held_until)).execute(self.writer()).await?;
        Ok(())
    }

    /// Builds indexes set aside by [`Store::defer_case_indexes`] again: all of them (the load that set
    /// them aside, at its end), or only those whose lease lapsed before `lapsed_before` (a load that
    /// was killed). Each is claimed by deleting its record and built in the same transaction, so two
    /// nodes never build one twice and an interruption loses none. Returns how many were built.
    pub async fn restore_deferred_indexes(&self, lapsed_before: Option<DateTime<Utc>>) -> Result<usize> {
        let deferred: Vec<(String, String)> =
            sqlx::query("select name, definition from deferred_indexes order by name")
                .fetch_all(self.writer())
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_>>()?;
        if deferred.is_empty() || self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let built = async {
            let mut built = 0;
            for (name, definition) in &deferred {
                // The writer is taken for one index at a time, so that a running server's writes go on
                // between them. The build's settings stay on it until the last is built: mapping the
                // file again for each index would cost as much as the map saves.
                let mut conn = self.writer().acquire().await?;
                sqlx::query(&index_build_pragmas()).execute(&mut *conn).await?;
                built += usize::from(build_claimed_index(&mut conn, name, definition, lapsed_before).await?);
            }
            Ok::<usize, StoreError>(built)
        }
        .await;
        let mut conn = self.writer().acquire().await?;
        // Back to the pool writer's own settings.
        sqlx::query(&crate::sqlite_memory_pragmas(crate::WRITER_CACHE_KIB)).execute(&mut *conn).await?;
        built
    }

    /// Whether the store has a table of set-aside indexes yet (before the migrations of a new file).
    pub(crate) async fn has_deferred_indexes_table(&self) -> Result<bool> {
        if self.backend != Backend::Sqlite {
            return Ok(false);
        }
        let n: i64 =
            sqlx::query_scalar("select count(*) from sqlite_master where type = 'table' and name = 'deferred_indexes'")
                .fetch_one(self.writer())
                .await?;
        Ok(n > 0)
    }
}

/// The settings of the connection that builds set-aside indexes, where most of a first load's time on
/// one core goes (each build scans a table, sorts its keys and writes the B-tree):
/// * the file is read through a memory map (as much of it as SQLite's compile-time cap allows), in place
///   instead of copied into the page cache;
/// * the sort uses helper threads, which SQLite allows only when it may spill to temporary files (in the
///   first writable of `SQLITE_TMPDIR`, `TMPDIR`, `/var/tmp`, `/usr/tmp`, `/tmp` and the working
///   directory) and starts only for runs larger than the page cache: so the cache is small, and each
///   megabyte of keys is sorted on another core while the table is read on.
///
/// Together about a sixth less time than the pool's settings.
fn index_build_pragmas() -> String {
    let helpers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    format!(
        "pragma mmap_size = {}; pragma threads = {helpers}; pragma temp_store = file; pragma cache_size = -1024;",
        1_i64 << 33
    )
}

/// Claims the set-aside index `name` and builds it on `conn`, in one transaction; false if another
/// node has claimed it (or its lease has not lapsed before `lapsed_before`).
async fn build_claimed_index(
    conn: &mut sqlx::pool::PoolConnection<Any>,
    name: &str,
    definition: &str,
    lapsed_before: Option<DateTime<Utc>>,
) -> Result<bool> {
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    let claimed = match lapsed_before {
        Some(t) => {
            sqlx::query("delete from deferred_indexes where name = $1 and held_until < $2")
                .bind(name)
                .bind(ms(t))
                .execute(&mut *tx)
                .await?
        }
        None => sqlx::query("delete from deferred_indexes where name = $1").bind(name).execute(&mut *tx).await?,
    };
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(&if_not_exists(definition)).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// `create index …` as `create index if not exists …`, so that building an index a migration has made
/// again meanwhile is harmless.
fn if_not_exists(definition: &str) -> String {
    let lower = definition.to_ascii_lowercase();
    for prefix in ["create unique index ", "create index "] {
        if lower.starts_with(prefix) && !lower[prefix.len()..].starts_with("if not exists") {
            return format!("{}if not exists {}", &definition[..prefix.len()], &definition[prefix.len()..]);
        }
    }
    definition.to_string()
}

impl Store {
    /// The names of the secondary indexes of the case and flow tables, sorted.
    pub async fn case_index_names(&self) -> Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "select name from sqlite_master where type = 'index' and sql is not null \
                 and tbl_name in ('cases', 'flow') order by name"
            }
            Backend::Postgres => {
                "select indexname::text from pg_indexes where schemaname = current_schema() \
                 and tablename in ('cases', 'flow') and indexname not like '%_pkey' order by indexname"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_all(self.reader()).await?)
    }
}

/// SQLite's bulk loads go through a connection of their own with prepared statements, one row each:
/// binding hundreds of thousands of values through the pool's driver (values converted and copied per
/// statement, parameters looked up by name) costs more than SQLite's own work.
pub(crate) struct BulkConnection {
    file: PathBuf,
    /// SQLite `synchronous`, as on the pool's connections.
    synchronous: &'static str,
    connection: Mutex<Option<rusqlite::Connection>>,
    checkpointer: Arc<Checkpointer>,
}

/// Copies what the bulk connection wrote to the write-ahead log into the database file, on a thread
/// of its own, while the next batch is written. Left to the writing connection (SQLite's automatic
/// checkpoint at commit), the copy and its `fsync`s were a seventh of the writer's time during a load,
/// with the other core idle. A passive checkpoint neither waits for nor blocks the writer.
struct Checkpointer {
    file: PathBuf,
    running: AtomicBool,
    /// A write committed since the running checkpoint began: it goes round once more.
    requested: AtomicBool,
    /// The thread of the last checkpoint started, waited for when the store closes.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl BulkConnection {
    pub(crate) fn new(file: PathBuf, synchronous: &'static str) -> Self {
        let checkpointer = Arc::new(Checkpointer {
            file: file.clone(),
            running: AtomicBool::new(false),
            requested: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        Self { file, synchronous, connection: Mutex::new(None), checkpointer }
    }

    /// Opens the connection with the pool writer's settings. It leaves checkpoints to the
    /// [`Checkpointer`].
    fn open(&self) -> Result<rusqlite::Connection> {
        let connection = rusqlite::Connection::open(&self.file)?;
        connection.execute_batch(&crate::sqlite_pragmas(self.synchronous, crate::WRITER_CACHE_KIB))?;
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(connection)
    }

    /// Closes the connection once the last checkpoint is done, so that the log is taken in and, with
    /// the store's other connections, removed.
    pub(crate) fn close(&self) {
        self.checkpointer.wait();
        if let Ok(mut connection) = self.connection.lock() {
            connection.take();
        }
    }

    /// Runs `use_it` on this connection (blocking), opened on first use.
    fn with_connection<T>(&self, use_it: impl FnOnce(&mut rusqlite::Connection) -> Result<T>) -> Result<T> {
        let mut guard = self
            .connection
            .lock()
            .map_err(|_| StoreError::Unavailable("bulk connection: an earlier use failed".into()))?;
        if guard.is_none() {
            *guard = Some(self.open()?);
        }
        let Some(connection) = guard.as_mut() else { return Err(StoreError::Unavailable("bulk connection".into())) };
        use_it(connection)
    }

    /// Runs `write` in one transaction on this connection (blocking), committed when it succeeds.
    pub(crate) fn write<T>(&self, write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        self.with_connection(|connection| {
            let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = write(&tx)?;
            tx.commit()?;
            Checkpointer::start(&self.checkpointer);
            Ok(out)
        })
    }

    /// The rows of `sql` on this connection (blocking), each decoded by `decode`.
    pub(crate) fn read<T>(&self, sql: &Sql, decode: impl Fn(&dyn Columns) -> Result<T>) -> Result<Vec<T>> {
        self.with_connection(|connection| {
            let mut statement = connection.prepare_cached(&sql.text)?;
            let mut rows = statement.query(rusqlite::params_from_iter(sql.args.iter()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(decode(row)?);
            }
            Ok(out)
        })
    }

    /// As [`Store::import_batch`], in `tx` of this connection.
    fn import_batch(
        tx: &rusqlite::Transaction<'_>,
        run: i64,
        source: &str,
        batch: PreparedImport,
        checkpoint: Checkpoint,
        key: Option<&AuditKey>,
    ) -> Result<Vec<CaseId>> {
        let max_id: Option<i64> = tx.query_row("select max(id) from cases", [], |r| r.get(0))?;
        let first = max_id.unwrap_or(0) + 1;
        let ids: Vec<CaseId> = (0..batch.len()).map(|i| CaseId(first + i as i64)).collect();

        // Numbers: each day goes on from its last number.
        let mut last: HashMap<i64, i64> = HashMap::new();
        {
            let mut stmt = tx.prepare_cached("select last from case_numbers where day = ?")?;
            for day in batch.cases.iter().map(|c| day_key(c.day)).collect::<HashSet<_>>() {
                let found: Option<i64> = stmt.query_row([day], |r| r.get(0)).optional()?;
                last.insert(day, found.unwrap_or(0));
            }
        }
        let mut case_columns = vec!["id"];
        case_columns.extend(case_columns_without_id());
        let mut cases = tx.prepare_cached(&insert_one("cases", &case_columns))?;
        let flow_columns: Vec<&str> = FLOW_INSERT_COLUMNS.split(',').map(str::trim).collect();
        let mut flows = tx.prepare_cached(&insert_one("flow", &flow_columns))?;
        let mut sources =
            tx.prepare_cached("insert into import_sources (source, external_id, case_id) values (?, ?, ?)")?;
        let count = batch.len() as i64;
        for rows in batch.into_rows(&ids, &mut last, key) {
            cases.execute(rusqlite::params_from_iter(rows.case.iter()))?;
            for row in rows.flows {
                flows.execute(rusqlite::params_from_iter(row.iter()))?;
            }
            sources.execute(rusqlite::params![source, rows.external_id, rows.id.0])?;
        }
        drop((cases, flows, sources));
        {
            let mut stmt = tx.prepare_cached(
                "insert into case_numbers (day, last) values (?, ?) on conflict (day) do update set \
                 last = case when excluded.last > case_numbers.last then excluded.last else case_numbers.last end",
            )?;
            for (day, seq) in &last {
                stmt.execute([day, seq])?;
            }
        }
        tx.execute(
            "update import_runs set next_line = ?, imported = imported + ?, skipped = skipped + ?, \
             rejected = rejected + ? where id = ?",
            rusqlite::params![checkpoint.next_line, count, checkpoint.skipped, checkpoint.rejected, run],
        )?;
        Ok(ids)
    }
}

impl Checkpointer {
    /// Starts a passive checkpoint on another thread, or asks the running one to go round once more.
    fn start(this: &Arc<Checkpointer>) {
        this.requested.store(true, Ordering::Release);
        // Held while a thread is started and kept, so that the one kept is the last one started.
        let mut last = this.thread.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if this.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let checkpointer = Arc::clone(this);
        let thread = std::thread::spawn(move || loop {
            let this = &checkpointer;
            this.requested.store(false, Ordering::Release);
            if let Err(e) = this.checkpoint() {
                // The pool's connections checkpoint at their next commit.
                tracing::warn!(error = %e, "write-ahead log checkpoint after a bulk write failed");
            }
            this.running.store(false, Ordering::Release);
            // A write that came meanwhile either found this thread running (and is taken in now) or
            // started a thread of its own.
            if !this.requested.load(Ordering::Acquire) || this.running.swap(true, Ordering::AcqRel) {
                break;
            }
        });
        *last = Some(thread);
    }

    /// Waits for the last checkpoint started.
    fn wait(&self) {
        let last = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = last {
            let _ = thread.join();
        }
    }

    /// Checkpoints through a connection of its own, opened for it (a few a second at most) so that
    /// none stays open on a file a restore may replace.
    fn checkpoint(&self) -> Result<()> {
        let connection = rusqlite::Connection::open(&self.file)?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// `insert into TABLE (COLUMNS) values (?, …)` for one row.
fn insert_one(table: &str, columns: &[&str]) -> String {
    format!("insert into {table} ({}) values ({})", columns.join(", "), vec!["?"; columns.len()].join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in WAL mode with one table, and the bulk connection that writes to it.
    fn bulk_file(dir: &std::path::Path) -> (PathBuf, BulkConnection) {
        let file = dir.join("bulk.db");
        let setup = rusqlite::Connection::open(&file).unwrap();
        setup.query_row("pragma journal_mode = wal", [], |_| Ok(())).unwrap();
        setup.execute_batch("create table t (id integer primary key, body text not null)").unwrap();
        drop(setup);
        (file.clone(), BulkConnection::new(file, "NORMAL"))
    }

    /// The settings of the pool's writer connection that an index build changes.
    async fn build_settings(store: &Store) -> Vec<i64> {
        let mut values = Vec::new();
        for pragma in ["mmap_size", "threads", "temp_store", "cache_size"] {
            values.push(sqlx::query_scalar(&format!("pragma {pragma}")).fetch_one(store.writer()).await.unwrap());
        }
        values
    }

    #[tokio::test]
    async fn the_connection_that_builds_indexes_gets_its_own_settings_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = Store::open(&crate::DbOptions::new(url)).await.unwrap();
        let indexes = store.case_index_names().await.unwrap();
        let before = build_settings(&store).await;
        assert_eq!(before, [0, 0, 2, -i64::from(crate::WRITER_CACHE_KIB)], "mmap off, no helpers, temp in memory");

        // The build's own settings are valid SQLite: each reads back as set.
        let mut conn = store.writer().acquire().await.unwrap();
        sqlx::query(&index_build_pragmas()).execute(&mut *conn).await.unwrap();
        let threads: i64 = sqlx::query_scalar("pragma threads").fetch_one(&mut *conn).await.unwrap();
        let temp: i64 = sqlx::query_scalar("pragma temp_store").fetch_one(&mut *conn).await.unwrap();
        assert!(threads >= 1 && temp == 1, "threads {threads}, temp_store {temp}");
        drop(conn);

        assert_eq!(store.defer_case_indexes(Utc::now()).await.unwrap(), indexes.len());
        assert_eq!(store.restore_deferred_indexes(None).await.unwrap(), indexes.len());
        assert_eq!(store.case_index_names().await.unwrap(), indexes);
        assert_eq!(build_settings(&store).await, before);

        // A build that fails leaves its index set aside, and the connection's settings restored.
        sqlx::query("insert into deferred_indexes (name, definition, held_until) values ('broken', $1, 0)")
            .bind("create index broken on no_such_table(x)")
            .execute(store.writer())
            .await
            .unwrap();
        assert!(store.restore_deferred_indexes(None).await.is_err());
        assert_eq!(build_settings(&store).await, before);
        let left: i64 = sqlx::query_scalar("select count(*) from deferred_indexes where name = 'broken'")
            .fetch_one(store.writer())
            .await
            .unwrap();
        assert_eq!(left, 1);
        store.close().await;
    }

    fn size(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    #[test]
    fn bulk_writes_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let (file, bulk) = bulk_file(dir.path());
        let wal = dir.path().join("bulk.db-wal");
        let body = "工单".repeat(500);
        for batch in 0..40 {
            bulk.write(|tx| {
                let mut insert = tx.prepare_cached("insert into t (body) values (?)")?;
                for _ in 0..250 {
                    insert.execute([&body])?;
                }
                Ok(())
            })
            .unwrap();
            // The next batch starts the log over once the checkpoint has taken this one in.
            bulk.checkpointer.wait();
            assert!(size(&wal) < 8 << 20, "batch {batch}: the log grows to {} bytes", size(&wal));
        }
        // About 15 MB written, all of it in the database file while the connection is still open.
        assert!(size(&file) > 14 << 20, "the database file has {} bytes", size(&file));
        bulk.close();
        let check = rusqlite::Connection::open(&file).unwrap();
        let rows: i64 = check.query_row("select count(*) from t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 10_000);
    }
}
