//! Risk signals: concentrated, rising and emerging problems and watch words, with the cases behind them.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_app::signals::{ScanReport, SignalView};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signals", get(list))
        .route("/signals/scan", post(scan))
        .route("/signals/{id}", get(show))
        .route("/signals/{id}/state", post(set_state))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SignalParams {
    /// `open`, `task`, `topic` or `dismissed`.
    pub state: Option<String>,
    /// `concentrated`, `rising`, `emerging` or `watch_word`.
    pub kind: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

/// Signals, newest first and highest score first within a day (leaders, shift leads, dispatchers,
/// administrators).
#[utoipa::path(get, path = "/api/v1/signals", tag = "signals", params(SignalParams),
    responses((status = 200, description = "`[{id, kind, kind_label, score, title, explanation, title_en, explanation_en, category, place, word, from, to, case_count, state, created_at}]`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<SignalParams>,
) -> Result<Json<Vec<SignalView>>> {
    let found = state
        .app
        .signals(
            &who,
            p.state.as_deref().filter(|s| !s.is_empty()),
            p.kind.as_deref().filter(|k| !k.is_empty()),
            p.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(found))
}

/// One signal with the cases behind it.
#[utoipa::path(get, path = "/api/v1/signals/{id}", tag = "signals",
    params(("id" = i64, Path, description = "the signal")),
    responses((status = 200, description = "the signal with `cases: [{id, number, title, state}]`"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<Json<SignalView>> {
    Ok(Json(state.app.signal(&who, id).await?))
}

/// Scans the counts now (each node also scans every `signals.scan_minutes`).
#[utoipa::path(post, path = "/api/v1/signals/scan", tag = "signals",
    responses((status = 200, description = "`{raised, refreshed}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn scan(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<ScanReport>> {
    // Anyone who may read signals may ask for a fresh look.
    state.app.signals(&who, None, None, 1).await?;
    Ok(Json(state.app.scan_signals().await?))
}

/// What was done with a signal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateRequest {
    /// `open`, `task` (a supervision task was opened), `topic` (taken up as 每月一题) or `dismissed`.
    pub state: String,
}

/// Marks what was done with a signal.
#[utoipa::path(post, path = "/api/v1/signals/{id}/state", tag = "signals", request_body = StateRequest,
    params(("id" = i64, Path, description = "the signal")),
    responses((status = 200, description = "the signal"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_state(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<StateRequest>,
) -> Result<Json<SignalView>> {
    Ok(Json(state.app.set_signal_state(&who, id, &body.state).await?))
}
