//! Fresh databases for tests, on both engines.
//!
//! SQLite always runs (a file in a temporary directory). PostgreSQL runs when
//! `CITYLOOP_TEST_PG_URL` names a server (e.g. `postgres://root@127.0.0.1:5432/test`): each test gets its
//! own database, dropped when the test ends. Without the variable the PostgreSQL half is skipped with a
//! message, unless `CITYLOOP_TEST_PG_REQUIRED=1`, which turns the skip into a failure (CI sets it).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Backend, DbOptions, Store};

/// Environment variable with the PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "CITYLOOP_TEST_PG_URL";
/// Environment variable that makes a missing PostgreSQL server a failure.
pub const PG_REQUIRED_VAR: &str = "CITYLOOP_TEST_PG_REQUIRED";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that lives as long as the value.
pub struct TestDb {
    pub store: Store,
    /// The URL a server process can be pointed at.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    /// The engine.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Runs a statement behind the platform's back, as someone with access to the database could
    /// (for the tests of tamper evidence); the rows it changed.
    pub async fn execute_behind_the_platform(&self, sql: &str) -> u64 {
        use sqlx::Executor;
        let done = self.store.writer().execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        done.rows_affected()
    }

    /// The first column of the first row of a query, behind the platform's back.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(self.store.writer()).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// The engines to run a test on: SQLite, and PostgreSQL when configured.
pub fn engines() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => out.push(Backend::Postgres),
        _ => {
            assert!(
                std::env::var(PG_REQUIRED_VAR).map_or(true, |v| v != "1"),
                "{PG_REQUIRED_VAR}=1 but {PG_URL_VAR} is not set: the PostgreSQL tests cannot be skipped here"
            );
            eprintln!("note: {PG_URL_VAR} is not set; PostgreSQL tests skipped (SQLite only)");
        }
    }
    out
}

/// A migrated, empty database on an engine.
pub async fn fresh(backend: Backend) -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            let store = Store::open(&DbOptions::new(&url)).await.expect("open sqlite");
            TestDb { store, url, _dir: Some(dir), pg_drop: None }
        }
        Backend::Postgres => {
            let admin = std::env::var(PG_URL_VAR).expect("PostgreSQL URL");
            let name =
                format!("cityloop_t{}_{}_{}", std::process::id(), n, chrono::Utc::now().timestamp_micros() % 1_000_000);
            let admin_store =
                Store::connect(&DbOptions::new(&admin)).await.expect("connect to the PostgreSQL test server");
            sqlx::query(&format!("create database {name}"))
                .execute(admin_store.writer())
                .await
                .expect("create test database");
            admin_store.close().await;
            let url = replace_db_name(&admin, &name);
            // Small pools: many tests run at once against one server with a connection limit.
            let options = DbOptions { max_connections: 3, ..DbOptions::new(&url) };
            let store = Store::open(&options).await.expect("open postgres");
            TestDb { store, url, _dir: None, pg_drop: Some((admin, name)) }
        }
    }
}

/// Swaps the database name at the end of a PostgreSQL URL.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg_drop.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which is blocked meanwhile: do the clean-up on a thread
        // with its own runtime, and never touch this store's connections there (they belong to the
        // blocked runtime). `with (force)` ends them on the server side.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = Store::connect(&DbOptions { max_connections: 2, ..DbOptions::new(&admin) }).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(admin.writer())
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_in_the_url() {
        assert_eq!(replace_db_name("postgres://root@127.0.0.1:5432/test", "x"), "postgres://root@127.0.0.1:5432/x");
        assert_eq!(replace_db_name("postgres://u:p@h/test?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(replace_db_name("postgres://h", "x"), "postgres://h/x");
    }
}
