//! The real binary against a fresh database holding the demo city without history, for the tests that
//! kill it.

use std::process::Stdio;

use cityloop_store::testing::{fresh, TestDb};
use cityloop_store::Backend;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cityloop");

/// `cityloop` with an empty settings file and attachments in `files`.
pub fn command(files: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("CITYLOOP_ATTACHMENTS__DIR", files).env("RUST_LOG", "warn").arg("--config").arg(files.join("none.toml"));
    c
}

/// A fresh database of `backend` with the demo city (no cases), and a directory for the binary's files.
pub async fn demo_city(backend: Backend) -> (TestDb, tempfile::TempDir) {
    let db = fresh(backend).await;
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("none.toml"), "").unwrap();
    let seeded = command(files.path())
        .args(["demo", "--cases", "0", "--database", &db.url])
        .stdout(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(seeded.success());
    (db, files)
}
