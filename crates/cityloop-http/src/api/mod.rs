//! The JSON API under `/api/v1`.

pub mod access;
pub mod attachments;
pub mod auth;
pub mod cases;
pub mod clients;
pub mod dto;
pub mod evaluation;
pub mod reference;
pub mod signals;
pub mod smart;
pub mod system;
pub mod topics;
pub mod webhooks;

use axum::Router;

use crate::state::AppState;

/// Every `/api/v1` route except uploads, which the caller mounts with their own body limit.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(cases::router())
        .merge(reference::router())
        .merge(smart::router())
        .merge(access::router())
        .merge(clients::router())
        .merge(webhooks::router())
        .merge(evaluation::router())
        .merge(signals::router())
        .merge(topics::router())
}
