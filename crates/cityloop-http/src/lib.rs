//! cityloop's HTTP surface: the JSON API under `/api/v1` (described by `/api/v1/openapi.json`),
//! `/healthz` and `/metrics`, and the web pages of `cityloop-web`. A library with [`serve`], so that tests and the binary start the same
//! server.

pub mod api;
pub mod error;
mod error_format;
pub mod extract;
pub mod limits;
pub mod open311;
pub mod openapi;
pub mod state;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cityloop_app::access::RequestWatch;
use cityloop_app::{App, AppError};
use tokio::net::TcpListener;
use utoipa::OpenApi;

pub use cityloop_web::WebSettings;
pub use state::AppState;

/// Largest JSON body accepted; attachments have their own limit.
pub(crate) const MAX_JSON_BYTES: usize = 1024 * 1024;

async fn openapi_json() -> impl IntoResponse {
    Json(openapi::ApiDoc::openapi())
}

/// An address nothing answers: the API's error, with the headers of every machine answer.
async fn not_found(req: Request) -> Response {
    // A browser following a mistyped link gets a page; programs, and anything under the API, JSON.
    let path = req.uri().path();
    let machine_path = ["/api", "/open311"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let wants_page = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page && !machine_path {
        return cityloop_web::pages::no_such_page(req.headers());
    }
    let mut response = error::ApiError::from(AppError::NotFound("route".into())).into_response();
    set_machine_headers(response.headers_mut());
    response
}

/// Counts answers by status class, logs each request once, and records for the unusual-access watch
/// the sign-ins and the refusals of signed-in callers.
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let address = state.limits.client_ip(&req).to_string();
    let watch = RequestWatch::default();
    req.extensions_mut().insert(watch.clone());
    let response = next.run(req).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    state.metrics.count_status(status, micros);
    if let Err(e) = watch.record(&state.app, &address, method.as_str(), &path, status).await {
        tracing::warn!(error = %e, "an access event could not be recorded");
    }
    if path == "/healthz" || path == "/metrics" {
        tracing::debug!(%method, %path, status, micros, "request");
    } else {
        tracing::info!(%method, %path, status, micros, "request");
    }
    response
}

/// Headers of every machine answer: never sniffed or framed, and (unless the answer says otherwise)
/// never kept by a browser or proxy, for answers carry residents' personal data. Refusals the router
/// makes before any handler runs are put in the caller's error format first.
async fn machine_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let mut response = next.run(req).await;
    if is_bare_refusal(&response) {
        response = error_format::rewrite(&path, &method, response).await;
    }
    set_machine_headers(response.headers_mut());
    response
}

/// A refusal without a body in a machine format: axum's own answers to a body over the limit, a path
/// parameter that is not a number, or a method the address does not take, are plain text or empty.
fn is_bare_refusal(response: &Response) -> bool {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    (status.is_client_error() || status.is_server_error())
        && (content_type.is_empty() || content_type.starts_with("text/plain"))
}

fn set_machine_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The whole router: the API, the system endpoints and the web pages.
pub fn router(state: AppState, web: WebSettings) -> Router {
    let attachment_limit = state.app.settings.max_attachment_bytes + 64 * 1024;
    let api = api::router().route("/openapi.json", get(openapi_json)).layer(DefaultBodyLimit::max(MAX_JSON_BYTES));
    let uploads = api::attachments::router().layer(DefaultBodyLimit::max(attachment_limit));
    // Open311 requests may carry a photo.
    let open311 = open311::router().layer(DefaultBodyLimit::max(attachment_limit));
    let machine = Router::new()
        .nest("/api/v1", uploads.merge(api))
        .nest("/open311/v2", open311)
        .merge(api::system::router())
        .layer(middleware::from_fn(machine_headers))
        .with_state(state.clone());
    Router::new()
        .merge(machine)
        .merge(cityloop_web::router(state.app.clone(), web))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), limits::limit_public_posts))
        .layer(middleware::from_fn_with_state(state, observe))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    web: WebSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(app);
    // The peer's address, for the rate limits of public posts.
    let service = router(state, web).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).with_graceful_shutdown(shutdown).await
}
