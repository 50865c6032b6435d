//! The record of residents' contact data shown in clear (administrators).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cityloop_app::access::ContactViewQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/contact-views", get(list)).route("/access-alerts", get(alerts))
}

/// Which records.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactViewParams {
    /// The user who was shown contact data.
    pub user: Option<String>,
    /// The case (its number).
    pub case: Option<String>,
    /// From this time (RFC 3339) or local date.
    pub from: Option<String>,
    /// Before this time, or up to the end of this local date.
    pub to: Option<String>,
    pub page: Option<i64>,
    /// 1 to 500 (default 100).
    pub page_size: Option<i64>,
}

/// One showing of a case's contact data to a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactViewDto {
    pub id: i64,
    pub username: String,
    pub case_number: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `case` (opened the case), `list` (a list, queue or search), `move` (the answer to their move).
    pub purpose: String,
}

/// A page of records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactViewPage {
    pub items: Vec<ContactViewDto>,
    pub total: i64,
}

/// Who was shown which resident's contact data in clear, when, and doing what (administrators).
#[utoipa::path(get, path = "/api/v1/contact-views", tag = "admin", params(ContactViewParams),
    responses((status = 200, body = ContactViewPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<ContactViewParams>,
) -> Result<Json<ContactViewPage>> {
    let q = ContactViewQuery {
        username: p.user,
        case_number: p.case,
        from: p.from,
        to: p.to,
        page: p.page,
        page_size: p.page_size,
    };
    let (rows, total) = state.app.contact_views(&who, &q).await?;
    let items = rows
        .into_iter()
        .map(|r| ContactViewDto {
            id: r.id,
            username: r.username,
            case_number: r.case_number,
            at: r.at,
            purpose: r.purpose,
        })
        .collect();
    Ok(Json(ContactViewPage { items, total }))
}

/// An alert about unusual access.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessAlertDto {
    pub id: i64,
    /// `contact_views`: far more residents' contact data shown than the user's own daily average.
    pub kind: String,
    pub username: String,
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// Cases shown that day (so far).
    pub count: i64,
    /// The user's daily average before that day.
    pub baseline: f64,
    pub raised_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The records behind the alert (`GET` it).
    pub records: String,
}

/// Alerts about unusual access, newest first, each with the address of the records behind it
/// (administrators).
#[utoipa::path(get, path = "/api/v1/access-alerts", tag = "admin",
    responses((status = 200, body = [AccessAlertDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn alerts(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<AccessAlertDto>>> {
    let alerts = state.app.access_alerts(&who).await?;
    Ok(Json(
        alerts
            .into_iter()
            .map(|a| AccessAlertDto {
                records: format!(
                    "/api/v1/contact-views?user={}&from={}&to={}&page_size=500",
                    form_urlencoded::byte_serialize(a.username.as_bytes()).collect::<String>(),
                    a.day,
                    a.day
                ),
                id: a.id,
                kind: a.kind,
                username: a.username,
                day: a.day,
                count: a.count,
                baseline: a.baseline,
                raised_at: a.raised_at,
                updated_at: a.updated_at,
            })
            .collect(),
    ))
}
