//! The record of residents' contact data shown in clear (administrators).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use cityloop_app::access::{AccessEventQuery, ContactViewQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/contact-views", get(list))
        .route("/access-alerts", get(alerts))
        .route("/access-events", get(events))
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
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// `case` (opened the case), `list` (a list, queue or search), `move` (the answer to their move),
    /// `intake` (the answer to the intake that entered it).
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
    let offset = state.city_offset();
    let items = rows
        .into_iter()
        .map(|r| ContactViewDto {
            id: r.id,
            username: r.username,
            case_number: r.case_number,
            at: r.at.with_timezone(&offset),
            purpose: r.purpose,
        })
        .collect();
    Ok(Json(ContactViewPage { items, total }))
}

/// An alert about unusual access.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessAlertDto {
    pub id: i64,
    /// `contact_views`: far more residents' contact data shown than the user's own daily average;
    /// `bulk_export`: far more cases exported; `login_addresses`: sign-ins from many addresses;
    /// `forbidden`: many requests refused.
    pub kind: String,
    pub username: String,
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// The day's measure so far: cases shown or exported, addresses, refused requests.
    pub count: i64,
    /// The user's daily average before that day.
    pub baseline: f64,
    pub raised_at: chrono::DateTime<chrono::FixedOffset>,
    pub updated_at: chrono::DateTime<chrono::FixedOffset>,
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
    let offset = state.city_offset();
    Ok(Json(
        alerts
            .into_iter()
            .map(|a| AccessAlertDto {
                records: {
                    let (list, query) = cityloop_app::access::alert_records(&a);
                    format!("/api/v1/{list}?{query}")
                },
                id: a.id,
                kind: a.kind,
                username: a.username,
                day: a.day,
                count: a.count,
                baseline: a.baseline,
                raised_at: a.raised_at.with_timezone(&offset),
                updated_at: a.updated_at.with_timezone(&offset),
            })
            .collect(),
    ))
}

/// Which events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccessEventParams {
    /// `export`, `login` or `forbidden`.
    pub kind: Option<String>,
    /// The user.
    pub user: Option<String>,
    /// From this time (RFC 3339) or local date.
    pub from: Option<String>,
    /// Before this time, or up to the end of this local date.
    pub to: Option<String>,
    pub page: Option<i64>,
    /// 1 to 500 (default 100).
    pub page_size: Option<i64>,
}

/// One event the unusual-access watch counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEventDto {
    pub id: i64,
    /// `export` (amount: cases exported), `login` (a sign-in) or `forbidden` (a refused request).
    pub kind: String,
    pub username: String,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    /// The client's address, where known.
    pub address: Option<String>,
    /// What was exported (format and filters) or asked for (method and path).
    pub detail: String,
    pub amount: i64,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEventPage {
    pub items: Vec<AccessEventDto>,
    pub total: i64,
}

/// Exports, sign-ins and refused requests of signed-in users, as the unusual-access watch counts
/// them (administrators).
#[utoipa::path(get, path = "/api/v1/access-events", tag = "admin", params(AccessEventParams),
    responses((status = 200, body = AccessEventPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<AccessEventParams>,
) -> Result<Json<AccessEventPage>> {
    let q = AccessEventQuery {
        kind: p.kind,
        username: p.user,
        from: p.from,
        to: p.to,
        page: p.page,
        page_size: p.page_size,
    };
    let (rows, total) = state.app.access_events(&who, &q).await?;
    let offset = state.city_offset();
    let items = rows
        .into_iter()
        .map(|r| AccessEventDto {
            id: r.id,
            kind: r.kind,
            username: r.username,
            at: r.at.with_timezone(&offset),
            address: r.address,
            detail: r.detail,
            amount: r.amount,
        })
        .collect();
    Ok(Json(AccessEventPage { items, total }))
}
