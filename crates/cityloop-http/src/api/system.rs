//! `/healthz` and `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// Liveness and database reachability: 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200), (status = 503)))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.app.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": format!("{:?}", state.app.store.backend()).to_lowercase() })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" })))
        }
    }
}

/// Counters in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP cityloop_http_requests_total HTTP requests answered, by status class.");
    let _ = writeln!(out, "# TYPE cityloop_http_requests_total counter");
    for (class, v) in [("2xx", &m.requests_2xx), ("4xx", &m.requests_4xx), ("5xx", &m.requests_5xx)] {
        let _ = writeln!(out, "cityloop_http_requests_total{{class=\"{class}\"}} {}", v.load(Ordering::Relaxed));
    }
    let _ = writeln!(out, "# HELP cityloop_http_request_duration_seconds_sum Total time spent answering requests.");
    let _ = writeln!(out, "# TYPE cityloop_http_request_duration_seconds_sum counter");
    let _ = writeln!(
        out,
        "cityloop_http_request_duration_seconds_sum {}",
        m.duration_us.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "# HELP cityloop_cases_created_total Cases created through this node.");
    let _ = writeln!(out, "# TYPE cityloop_cases_created_total counter");
    let _ = writeln!(out, "cityloop_cases_created_total {}", m.cases_created.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP cityloop_moves_total Workflow moves made through this node.");
    let _ = writeln!(out, "# TYPE cityloop_moves_total counter");
    let _ = writeln!(out, "cityloop_moves_total {}", m.moves.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP cityloop_uptime_seconds Seconds since this node started.");
    let _ = writeln!(out, "# TYPE cityloop_uptime_seconds gauge");
    let _ = writeln!(out, "cityloop_uptime_seconds {}", state.started.elapsed().as_secs());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
