//! The demo city on a fresh database, for the tests of the surfaces (API, pages): a clock the test
//! moves, attachments in a temporary directory, and the database dropped afterwards.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cityloop_store::testing::{fresh, TestDb};
use cityloop_store::Backend;

use crate::demo::DemoOptions;
use crate::{App, AppSettings, ManualClock};

/// Monday 2026-11-23 09:00 in the city (UTC+8): a working day at the start of working hours.
pub fn monday_9am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).single().unwrap_or_default()
}

/// An application over the demo city; the database and files live as long as it.
pub struct DemoApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub db: TestDb,
    pub files: tempfile::TempDir,
}

/// The demo city with `cases` cases of history, on a fresh database of `backend`, at Monday 09:00.
/// Panics when the database cannot be prepared: it is for tests.
pub async fn demo_app(backend: Backend, cases: usize, max_attachment_bytes: usize) -> DemoApp {
    demo_app_with(backend, cases, max_attachment_bytes, |_| {}).await
}

/// As [`demo_app`], with settings of the test's own.
pub async fn demo_app_with(
    backend: Backend,
    cases: usize,
    max_attachment_bytes: usize,
    adjust: impl FnOnce(&mut AppSettings),
) -> DemoApp {
    let db = fresh(backend).await;
    let files = tempfile::tempdir().expect("a temporary directory");
    let clock = Arc::new(ManualClock::new(monday_9am()));
    let mut settings = AppSettings {
        attachments_dir: files.path().join("attachments"),
        max_attachment_bytes,
        ..AppSettings::default()
    };
    adjust(&mut settings);
    let app = App::new(db.store.clone(), settings, clock.clone()).await.expect("the application");
    app.load_demo(&DemoOptions { cases, ..DemoOptions::default() }).await.expect("the demo city");
    DemoApp { app, clock, db, files }
}
