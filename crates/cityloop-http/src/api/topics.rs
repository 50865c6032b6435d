//! 每月一题: the month's candidate problems, and the topics adopted with how they have gone since.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use cityloop_app::topics::{AdoptTopic, TopicCandidate, TopicView};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/topics", get(list).post(adopt)).route("/topics/candidates", get(candidates))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// `YYYY-MM` (default: the period running now).
    pub period: Option<String>,
}

/// The period's hardest frequent problems per category: volume, unsolved and unsatisfied shares at
/// the revisit, callers who came back, and a score (leaders, shift leads, dispatchers, administrators).
#[utoipa::path(get, path = "/api/v1/topics/candidates", tag = "evaluation", params(PeriodParams),
    responses((status = 200, description = "`[{rank, category_code, category, score, cases, revisits, unsolved_rate, unsatisfied_rate, repeat_callers, adopted}]`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn candidates(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<PeriodParams>,
) -> Result<Json<Vec<TopicCandidate>>> {
    let label = p.period.filter(|p| !p.is_empty()).unwrap_or_else(|| state.app.current_evaluation_period().label());
    Ok(Json(state.app.topic_candidates(&who, &label).await?))
}

/// The adopted topics, newest first, each with its cases per month since adoption.
#[utoipa::path(get, path = "/api/v1/topics", tag = "evaluation",
    responses((status = 200, description = "`[{id, period, title, category_code, category, lead_unit, goal, baseline, months: [{period, cases}], change_percent, signal_id}]`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<TopicView>>> {
    Ok(Json(state.app.topics(&who).await?))
}

/// Adopts a category as a topic (leaders, administrators): `{period?, category, title?, lead_unit?, goal?}`.
#[utoipa::path(post, path = "/api/v1/topics", tag = "evaluation",
    request_body(content = serde_json::Value, description = "`{period?, category, title?, lead_unit?, goal?}`"),
    responses((status = 201, description = "the topic"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn adopt(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<AdoptTopic>,
) -> Result<(StatusCode, Json<TopicView>)> {
    Ok((StatusCode::CREATED, Json(state.app.adopt_topic(&who, body).await?)))
}
