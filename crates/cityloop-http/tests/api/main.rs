//! Black-box tests of the JSON API over real HTTP on loopback, on SQLite and (when configured)
//! PostgreSQL.

mod admin_edits;
mod errors;
mod evaluation;
mod export;
mod fuzz;
mod helpers;
mod loop_tests;
mod open311;
mod outage;
mod permissions;
mod privacy;
mod signals;
mod smart;
mod tokens;
mod topics;
mod webhooks;

use std::future::Future;

use cityloop_store::testing::engines;
use helpers::{spawn_app, TestApp};

/// Runs a test body against a fresh server on every configured engine.
pub async fn on_every_engine<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in engines() {
        test(spawn_app(backend).await).await;
    }
}

/// As [`on_every_engine`], with settings of the test's own.
pub async fn on_every_engine_with<F, Fut>(adjust: impl Fn(&mut cityloop_app::AppSettings), test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in engines() {
        test(helpers::spawn_app_with(backend, &adjust).await).await;
    }
}
