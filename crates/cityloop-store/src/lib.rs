//! Storage for cityloop on SQLite (the embedded default) or PostgreSQL, chosen by the database URL.
//!
//! One implementation over portable SQL (`$n` placeholders, integer timestamps in milliseconds, JSON
//! text for lists) through sqlx's `Any` driver; the engines differ only in their migrations and in a
//! few statements noted where they are. Every public write is one transaction, and the flow record of
//! a move is written in the same transaction as the case it changes.

pub mod access;
mod args;
pub mod attachments;
pub mod audit;
pub mod backup;
pub mod cases;
pub mod contact_crypto;
pub mod dashboard;
pub mod evaluation;
pub mod import;
pub mod open311;
pub mod reference;
mod rows;
pub mod signals;
pub mod smart;
pub mod testing;
pub mod topics;
pub mod users;
pub mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use cityloop_domain::audit::AuditKey;
pub use contact_crypto::ContactCipher;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use access::{
    AccessAlertRow, AccessEventFilter, AccessEventRow, CaseTexts, ContactViewFilter, ContactViewRow, UserCount,
};
pub use backup::{CopyReport, TableCopy};
pub use cases::{
    BulkCase, CaseFilter, CaseList, CaseScope, CaseSort, CreatedCase, MoveWrite, NewCaseWrite, NoticeRow, WhistleRow,
};
pub use dashboard::{ClosingDay, IntakeDay, OpenCount, OverviewRollups, SavedView, UnitPace};
pub use import::{Checkpoint, ImportRun, ImportedCase, PreparedImport};
pub use open311::{ApiClientRow, Choice, QuestionRow, ReportRecord, ServiceDetailsRow};
pub use reference::{CategoryRow, DivisionRow, GridRow, UnitRow};
pub use smart::{ArticleRow, Bounds, DuplicateCandidate, ModelRow, ReplyCheckRow, ReplySummary, UnitRecord};
pub use users::{ApiTokenRow, LoginFailures, TokenRow, UserRow};
pub use webhooks::{
    AttemptOutcome, AttemptRow, DeliveryRow, DeliveryState, FlowEvent, NewDelivery, NewWebhookRow, WebhookRow,
};

/// Which engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the engine from the URL scheme; anything else is refused.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// A URL with its password replaced, safe for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Storage errors, mapped once from sqlx's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated (e.g. a username or code already taken).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The case changed since the caller read it.
    #[error("the case was changed by someone else; reload it and try again")]
    StaleVersion,
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Text the database cannot hold.
    #[error("a value cannot be stored: {0}")]
    Invalid(String),
    /// A case was to hold a file that is not (or no longer) stored.
    #[error("unknown attachment `{0}`; upload it again")]
    UnknownAttachment(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// An error of the SQLite connection bulk loads use.
    #[error("database error: {0}")]
    Bulk(#[from] rusqlite::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(db.message().to_string()),
            // Text PostgreSQL cannot hold (a NUL character): bad input, should any reach the database
            // past the surfaces' own checks.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                StoreError::Invalid(db.message().to_string())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    /// Connections for reads (PostgreSQL: the whole pool).
    pub max_connections: u32,
    /// SQLite `synchronous`: `NORMAL` survives a crash of the process (the WAL is on disk); `FULL`
    /// also survives a power cut, at the price of an fsync per commit.
    pub sqlite_synchronous: String,
    /// The key the flow records' links and seals are hashed with (docs/audit.md).
    pub audit_key: AuditKey,
    /// The keys residents' contact data is encrypted with (none: stored in clear).
    pub contact_cipher: ContactCipher,
    /// How long a request waits for a PostgreSQL connection before it is answered 503 (while the
    /// server cannot be reached, for instance).
    pub acquire_timeout: Duration,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            sqlite_synchronous: "NORMAL".into(),
            audit_key: AuditKey::new(cityloop_domain::audit::DEFAULT_KEY),
            contact_cipher: ContactCipher::default(),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The store: a writer pool and a reader pool (the same pool on PostgreSQL).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    /// SQLite: the database file and the connection bulk loads write through (opened on first use).
    bulk: Option<Arc<import::BulkConnection>>,
    /// The key flow records are linked with; `None` writes them unlinked (only to measure the cost).
    links: Option<Arc<AuditKey>>,
    audit_key: Arc<AuditKey>,
    /// How contact data is written and read.
    contacts: Arc<ContactCipher>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// SQLite page cache of the writer connection (and of the store's own connection), in KiB.
pub(crate) const WRITER_CACHE_KIB: u32 = 65_536;
/// Bytes the write-ahead log file is cut back to when it starts over (SQLite `journal_size_limit`).
pub(crate) const WAL_SIZE_LIMIT: i64 = 64 << 20;
/// The settings of every connection to a SQLite file, with a page cache of `cache_kib`. A log that a bulk
/// load grew is cut back when it starts over.
pub(crate) fn sqlite_pragmas(synchronous: &str, cache_kib: u32) -> String {
    format!(
        "pragma journal_mode = wal; pragma synchronous = {synchronous}; pragma busy_timeout = 10000; \
         pragma foreign_keys = on; {} pragma journal_size_limit = {WAL_SIZE_LIMIT};",
        sqlite_memory_pragmas(cache_kib)
    )
}

/// How a SQLite connection uses memory: a page cache of `cache_kib`, temporary data in memory, the file
/// read through the page cache rather than mapped, no sorting threads.
pub(crate) fn sqlite_memory_pragmas(cache_kib: u32) -> String {
    format!("pragma cache_size = -{cache_kib}; pragma temp_store = memory; pragma mmap_size = 0; pragma threads = 0;")
}

/// Closes `pool` and returns once none of its connections is open. `Pool::close` can return with one
/// still open (sqlx issue 3217): a connection whose return to the pool was under way lands among the
/// idle ones after their last drain, or one still in use is not waited for. Closing again drains the
/// idle ones; the pool offers no event for its last connection, so one in use is looked for again after
/// a growing pause, and after `CLOSE_PATIENCE` the store is left with a warning rather than hang.
async fn close_pool(pool: &AnyPool) {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    pool.close().await;
    while pool.size() > 0 {
        if started.elapsed() > CLOSE_PATIENCE {
            tracing::warn!(open = pool.size(), "database connections still in use when the store closed");
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
        pool.close().await;
    }
}

/// How long closing the store waits for connections still in use.
const CLOSE_PATIENCE: Duration = Duration::from_secs(30);

/// SQLite page cache of each reader connection, in KiB.
const READER_CACHE_KIB: u32 = 8_192;

impl Store {
    /// Connects without migrating.
    pub async fn connect(options: &DbOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url)?;
        match backend {
            Backend::Sqlite => {
                let url = sqlite_url_with_create(&options.url);
                let connect = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
                let sync = match options.sqlite_synchronous.to_ascii_uppercase().as_str() {
                    "FULL" => "FULL",
                    "OFF" => "OFF",
                    _ => "NORMAL",
                };
                // Page cache per connection, in KiB: the writer's holds the pages every write touches;
                // readers share the operating system's cache of the file, so a small one each keeps
                // the server's memory bounded however many there are.
                let pool = |max: u32, cache_kib: u32| {
                    let pragmas = sqlite_pragmas(sync, cache_kib);
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(move |conn, _| {
                            let pragmas = pragmas.clone();
                            Box::pin(async move {
                                conn.execute(pragmas.as_str()).await?;
                                Ok(())
                            })
                        })
                        .connect_with(connect.clone())
                };
                // SQLite has one writer at a time: one writer connection queues writes in-process
                // instead of spinning on SQLITE_BUSY.
                let write = pool(1, WRITER_CACHE_KIB).await?;
                let read = pool(options.max_connections.max(1), READER_CACHE_KIB).await?;
                let file = sqlx::sqlite::SqliteConnectOptions::from_str(&url)?.get_filename().to_path_buf();
                let bulk = (!url.contains(":memory:") && !url.contains("mode=memory"))
                    .then(|| Arc::new(import::BulkConnection::new(file, sync)));
                let key = Arc::new(options.audit_key.clone());
                let contacts = Arc::new(options.contact_cipher.clone());
                Ok(Self { backend, write, read, bulk, links: Some(key.clone()), audit_key: key, contacts })
            }
            Backend::Postgres => {
                let connect = AnyConnectOptions::from_str(&options.url)?.disable_statement_logging();
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?;
                let key = Arc::new(options.audit_key.clone());
                Ok(Self {
                    backend,
                    write: pool.clone(),
                    read: pool,
                    bulk: None,
                    links: Some(key.clone()),
                    audit_key: key,
                    contacts: Arc::new(options.contact_cipher.clone()),
                })
            }
        }
    }

    /// Connects, brings the schema up to date, and builds any indexes an interrupted import set aside.
    pub async fn open(options: &DbOptions) -> Result<Self> {
        let store = Self::connect(options).await?;
        // An import killed halfway may have left indexes set aside: built again before any migration
        // that might touch them.
        if store.has_deferred_indexes_table().await? {
            store.restore_deferred_indexes(Some(chrono::Utc::now())).await?;
        }
        store.migrate().await?;
        store.link_legacy_flows().await?;
        Ok(store)
    }

    /// Runs the embedded migrations of the engine.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.write).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&self.write).await?,
        }
        Ok(())
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes SQLite's bulk connection (waits for its last checkpoint) and the pools (waits for
    /// connections in use, up to `CLOSE_PATIENCE`).
    pub async fn close(&self) {
        if let Some(bulk) = self.bulk.clone() {
            let _ = tokio::task::spawn_blocking(move || bulk.close()).await;
        }
        // The writer last, and alone: SQLite takes its log into the file and removes it when the last
        // connection closes, which two closing at once may both leave to the other.
        close_pool(&self.read).await;
        close_pool(&self.write).await;
    }

    /// What PostgreSQL knows now of the transactions that may still write: `None` on SQLite, where
    /// writers take turns. Readers that follow ids behind a cursor ask before each read (see
    /// `Horizon`).
    pub async fn transaction_horizon(&self) -> Result<Option<Horizon>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        // As text: the `Any` driver does not decode `xid8`.
        let xmin: String =
            sqlx::query_scalar("select pg_snapshot_xmin(pg_current_snapshot())::text").fetch_one(&self.write).await?;
        Ok(Some(Horizon { oldest_running: transaction_number(&xmin)? }))
    }

    /// A transaction id given out now, in a transaction of its own (PostgreSQL): every transaction
    /// that began writing before this call holds a lower one.
    pub async fn new_transaction_id(&self) -> Result<u64> {
        let id: String = sqlx::query_scalar("select pg_current_xact_id()::text").fetch_one(&self.write).await?;
        transaction_number(&id)
    }

    /// Begins a write that holds a transaction id from its start (PostgreSQL), for a write whose first
    /// statement takes a value of a followed table's sequence (see [`Horizon`]).
    pub(crate) async fn begin_holding_id(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.write.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("select pg_current_xact_id()::text").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read
    }

    pub(crate) fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// The rows of `sql`, each decoded by `decode`, as the writer sees them. On a SQLite file they are
    /// read through the store's own connection: the pool's driver hands every row over from a worker
    /// thread and converts every value for the `Any` layer, which costs several times SQLite's own
    /// reading when a read goes through hundreds of thousands of rows (counting, the density scan).
    pub(crate) async fn fetch_decoded<T: Send + 'static>(
        &self,
        sql: args::Sql,
        decode: fn(&dyn rows::Columns) -> Result<T>,
    ) -> Result<Vec<T>> {
        let sql = sql.for_backend(self.backend);
        if let Some(bulk) = &self.bulk {
            let bulk = bulk.clone();
            return tokio::task::spawn_blocking(move || bulk.read(&sql, decode))
                .await
                .map_err(|e| StoreError::Unavailable(format!("reading: {e}")))?;
        }
        let rows = sql.query().fetch_all(self.writer()).await?;
        rows.iter().map(|r| decode(r)).collect()
    }
}

/// What a PostgreSQL snapshot (`pg_current_snapshot()`) says of running transactions: every
/// transaction whose id is below `oldest_running` has ended.
///
/// Ids from a sequence can commit out of order, so a reader that sees id 12 but not 11 cannot tell a
/// write still running from one rolled back. Every writer of a followed table holds a transaction id
/// before it takes a sequence value (its first statement writes another row, or it asks for one), so
/// the writer of 11 holds an id below one given out after the read that found the gap
/// ([`Store::new_transaction_id`]). Once a later snapshot's `oldest_running` has reached that id, the
/// writer has ended, and a read after that snapshot that still misses 11 shows it will never come.
/// (A snapshot's upper bound, `xmax`, is no such id: a transaction that began after the last one to
/// end may be running above it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Horizon {
    pub oldest_running: u64,
}

fn transaction_number(text: &str) -> Result<u64> {
    text.parse::<u64>().map_err(|_| StoreError::Corrupt(format!("transaction id `{text}`")))
}

/// sqlx opens SQLite files read-write but does not create them unless asked.
fn sqlite_url_with_create(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_scheme_selects_the_engine() {
        assert_eq!(Backend::from_url("sqlite://data/cityloop.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(
            matches!(Backend::from_url("mysql://root:secret@h/db"), Err(StoreError::UnsupportedUrl(u)) if u == "mysql://root:***@h/db")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://alice:pw@host:5432/db"), "postgres://alice:***@host:5432/db");
        assert_eq!(redact_url("postgres://alice@host/db"), "postgres://alice@host/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    /// A command closes the store right after its last query, while the pools may still be taking that
    /// query's connection back: the log must be gone once `close` returns, every time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_right_after_the_last_query_leaves_no_log_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..200 {
            let file = dir.path().join(format!("c{round}.db"));
            let store = Store::connect(&DbOptions::new(format!("sqlite://{}", file.display()))).await.unwrap();
            sqlx::query("create table t (x integer)").execute(store.writer()).await.unwrap();
            sqlx::query("insert into t (x) values (1)").execute(store.writer()).await.unwrap();
            let reads = (0..4).map(|_| store.ping());
            for read in futures_util::future::join_all(reads).await {
                read.unwrap();
            }
            store.close().await;
            let log = dir.path().join(format!("c{round}.db-wal"));
            assert!(!log.exists(), "round {round}: {} is left", log.display());
        }
    }
}
