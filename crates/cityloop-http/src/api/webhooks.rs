//! Webhooks for other systems (administrators): subscriptions, the delivery log with each attempt, and
//! sending a dead delivery again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset};
use cityloop_app::webhooks::NewWebhook;
use cityloop_app::AppError;
use cityloop_store::{AttemptRow, DeliveryRow, DeliveryState, WebhookRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", delete(disable))
        .route("/webhook-deliveries", get(deliveries))
        .route("/webhook-deliveries/{id}", get(delivery))
        .route("/webhook-deliveries/{id}/retry", post(retry))
}

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where events are POSTed (http or https).
    pub url: String,
    /// Any of `case.created`, `case.dispatched`, `case.state_changed`, `case.overdue`.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Allow a private, loopback or link-local address (an intranet system).
    #[serde(default)]
    pub allow_private: bool,
}

/// A subscription. `secret` signs every delivery (`X-Cityloop-Signature`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret: String,
    pub allow_private: bool,
    pub active: bool,
    pub created_at: DateTime<FixedOffset>,
}

impl WebhookDto {
    fn new(w: WebhookRow, offset: FixedOffset) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events,
            description: w.description,
            secret: w.secret,
            allow_private: w.allow_private,
            active: w.active,
            created_at: w.created_at.with_timezone(&offset),
        }
    }
}

/// One try at sending a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptDto {
    pub at: DateTime<FixedOffset>,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// An event for a subscription, with its attempts when asked for one delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    /// Stable for the event: receivers drop a delivery whose id they have seen.
    pub event_id: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<FixedOffset>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub delivered_at: Option<DateTime<FixedOffset>>,
    /// The JSON body sent.
    pub payload: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptDto>>,
}

impl DeliveryDto {
    fn new(d: DeliveryRow, offset: FixedOffset) -> Self {
        Self {
            next_attempt_at: cityloop_app::webhooks::next_attempt(&d).map(|t| t.with_timezone(&offset)),
            id: d.id,
            webhook_id: d.webhook_id,
            event: d.event,
            event_id: d.event_id,
            state: d.state.as_str().to_string(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at.with_timezone(&offset),
            delivered_at: d.delivered_at.map(|t| t.with_timezone(&offset)),
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            attempt_log: None,
        }
    }
}

impl AttemptDto {
    fn new(a: AttemptRow, offset: FixedOffset) -> Self {
        Self { at: a.at.with_timezone(&offset), status: a.status, error: a.error, duration_ms: a.duration_ms }
    }
}

/// Subscribes a system to events (administrators). Deliveries start with the next event.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "admin", request_body = WebhookRequest,
    responses((status = 201, body = WebhookDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookDto>)> {
    let new = NewWebhook {
        url: body.url,
        events: body.events,
        description: body.description,
        allow_private: body.allow_private,
    };
    let hook = state.app.create_webhook(&who, new).await?;
    Ok((StatusCode::CREATED, Json(WebhookDto::new(hook, state.city_offset()))))
}

/// Every subscription, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "admin",
    responses((status = 200, body = [WebhookDto]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<WebhookDto>>> {
    let offset = state.city_offset();
    Ok(Json(state.app.webhooks(&who).await?.into_iter().map(|w| WebhookDto::new(w, offset)).collect()))
}

/// Stops a subscription; its delivery log stays (administrators).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "admin",
    params(("id" = i64, Path, description = "the subscription")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn disable(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.disable_webhook(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// Only this subscription's deliveries.
    pub webhook: Option<i64>,
    /// `pending`, `delivered` or `dead` (the dead-letter list).
    pub state: Option<String>,
    /// At most this many, newest first (1–1000, default 100).
    pub limit: Option<i64>,
}

/// The delivery log, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/webhook-deliveries", tag = "admin", params(DeliveryParams),
    responses((status = 200, body = [DeliveryDto]), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<DeliveryParams>,
) -> Result<Json<Vec<DeliveryDto>>> {
    let wanted = match p.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            DeliveryState::parse(s)
                .ok_or_else(|| AppError::invalid("state", format!("`{s}` is not one of pending, delivered, dead")))?,
        ),
    };
    let rows = state.app.webhook_deliveries(&who, p.webhook, wanted, p.limit.unwrap_or(100)).await?;
    let offset = state.city_offset();
    Ok(Json(rows.into_iter().map(|d| DeliveryDto::new(d, offset)).collect()))
}

/// One delivery with every attempt (administrators).
#[utoipa::path(get, path = "/api/v1/webhook-deliveries/{id}", tag = "admin",
    params(("id" = i64, Path, description = "the delivery")),
    responses((status = 200, body = DeliveryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delivery(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryDto>> {
    let (d, attempts) = state.app.webhook_delivery(&who, id).await?;
    let offset = state.city_offset();
    let mut dto = DeliveryDto::new(d, offset);
    dto.attempt_log = Some(attempts.into_iter().map(|a| AttemptDto::new(a, offset)).collect());
    Ok(Json(dto))
}

/// Sends a dead delivery again with a fresh set of attempts (administrators).
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{id}/retry", tag = "admin",
    params(("id" = i64, Path, description = "the delivery")),
    responses((status = 202), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn retry(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.retry_delivery(&who, id).await?;
    Ok(StatusCode::ACCEPTED)
}
