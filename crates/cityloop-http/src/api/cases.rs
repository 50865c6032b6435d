//! `/api/v1/cases`: intake, lists, one case, and the workflow moves.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_app::intake::{NewCase, NewContact, NewLocation};
use cityloop_app::moves::{CaseRef, MoveInput, UnitRef};
use cityloop_app::queries::CaseQuery;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};

use super::dto::{CaseDto, CaseListDto, ErrorBody};
use crate::error::Result;
use crate::extract::{parse_query, ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", post(create).get(list))
        .route("/cases/export", get(export))
        .route("/cases/{id}", get(show))
        .route("/cases/{id}/{move}", post(make_move))
}

/// Where the problem is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationIn {
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
}

/// Who to call back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactIn {
    pub name: String,
    pub phone: String,
}

/// A new case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseRequest {
    /// `hotline, web, app, sms, inspector, sensor, referral, media` (residents: `web, app, sms`;
    /// `hotline`: operators, leads, dispatchers and admins; `open311` is set by the Open311 endpoint).
    pub channel: String,
    /// `consultation, help, complaint, report, suggestion, praise, other`.
    pub request_type: String,
    pub title: String,
    pub description: String,
    /// Category code.
    pub category: Option<String>,
    pub location: Option<LocationIn>,
    /// Grid code, when the place is known by its grid only.
    pub grid: Option<String>,
    pub contact: Option<ContactIn>,
    /// 保密: units never see the contact data.
    pub confidential: Option<bool>,
    /// `normal`, `urgent`, `critical`; defaults to the category's.
    pub urgency: Option<String>,
    /// An address without coordinates: kept, and used to place the case at the community (or
    /// street) it names when neither `location` nor `grid` is given.
    pub address: Option<String>,
    /// Content hashes of attachments uploaded first (photos of the problem).
    pub attachments: Option<Vec<String>>,
}

impl From<CreateCaseRequest> for NewCase {
    fn from(r: CreateCaseRequest) -> Self {
        NewCase {
            channel: r.channel,
            request_type: r.request_type,
            title: r.title,
            description: r.description,
            category: r.category,
            location: r.location.map(|l| NewLocation { lat: l.lat, lon: l.lon, address: l.address }),
            grid: r.grid,
            contact: r.contact.map(|c| NewContact { name: c.name, phone: c.phone }),
            confidential: r.confidential,
            urgency: r.urgency,
            address: r.address,
            attachments: r.attachments.unwrap_or_default(),
            submission: None,
        }
    }
}

/// A unit by id or by code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum UnitRefIn {
    Id(i64),
    Code(String),
}

impl From<UnitRefIn> for UnitRef {
    fn from(u: UnitRefIn) -> Self {
        match u {
            UnitRefIn::Id(i) => UnitRef::Id(i),
            UnitRefIn::Code(c) => UnitRef::Code(c),
        }
    }
}

/// A case by id or by number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CaseRefIn {
    Id(i64),
    Number(String),
}

/// The fields of a move. Each move reads the ones it needs:
/// `file {category?}`, `void {reason}`, `answer {answer, article?}`, `dispatch {unit?, assisting_units?}` (the
/// catalogue's unit when `unit` is left out), `return {reason}`, `extend {hours|days, reason}`,
/// `suspend {until, reason}`, `submit {result}`, `rework {reason}`, `verify {found, note}` (a note is
/// required when the problem is not found), `check {passed, note}`,
/// `revisit {contacted, solved, satisfaction}`, `supervise {level}`, `whistle {units}`, `merge {into}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    pub note: Option<String>,
    /// The version the caller saw.
    pub version: Option<i64>,
    pub reason: Option<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    pub unit: Option<UnitRefIn>,
    pub assisting_units: Option<Vec<UnitRefIn>>,
    pub hours: Option<u32>,
    pub days: Option<u32>,
    /// RFC 3339 time or local date.
    pub until: Option<String>,
    pub result: Option<String>,
    pub passed: Option<bool>,
    /// `verify`: whether the inspector found the problem as reported.
    pub found: Option<bool>,
    pub contacted: Option<bool>,
    pub solved: Option<bool>,
    /// `satisfied`, `basically_satisfied`, `unsatisfied`.
    pub satisfaction: Option<String>,
    /// 1 催办, 2 督办, 3 挂牌督办.
    pub level: Option<u32>,
    pub units: Option<Vec<UnitRefIn>>,
    pub into: Option<CaseRefIn>,
    /// Content hashes from `POST /api/v1/attachments`.
    pub attachments: Option<Vec<String>>,
    /// `answer`: the knowledge-base article answered from (its body is the answer when `answer` is empty).
    pub article: Option<i64>,
}

impl From<MoveRequest> for MoveInput {
    fn from(r: MoveRequest) -> Self {
        let units = |v: Option<Vec<UnitRefIn>>| v.map(|v| v.into_iter().map(UnitRef::from).collect());
        MoveInput {
            note: r.note,
            version: r.version,
            reason: r.reason,
            answer: r.answer,
            category: r.category,
            unit: r.unit.map(UnitRef::from),
            assisting_units: units(r.assisting_units),
            hours: r.hours,
            days: r.days,
            until: r.until,
            result: r.result,
            passed: r.passed,
            found: r.found,
            contacted: r.contacted,
            solved: r.solved,
            satisfaction: r.satisfaction,
            level: r.level,
            units: units(r.units),
            into: r.into.map(|c| match c {
                CaseRefIn::Id(i) => CaseRef::Id(i),
                CaseRefIn::Number(n) => CaseRef::Number(n),
            }),
            attachments: r.attachments,
            article: r.article,
            origin: None,
        }
    }
}

/// Filters of the case list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseListParams {
    /// One state or several separated by commas.
    pub state: Option<String>,
    /// Category code (with its sub-categories).
    pub category: Option<String>,
    /// Lead unit id or code (with its sub-units).
    pub unit: Option<String>,
    /// Grid code.
    pub grid: Option<String>,
    /// Division code (with the divisions below it).
    pub division: Option<String>,
    pub channel: Option<String>,
    pub request_type: Option<String>,
    pub overdue: Option<bool>,
    /// RFC 3339 or date, inclusive.
    pub created_from: Option<String>,
    /// RFC 3339 or date (a date includes that whole day).
    pub created_to: Option<String>,
    /// Text in title or description, or a case number.
    pub q: Option<String>,
    /// Caller's phone: their earlier requests.
    pub phone: Option<String>,
    /// Cases merged into this case id.
    pub master: Option<i64>,
    /// Open cases this unit (id or code) was summoned to by a whistle and has not reported in to yet.
    pub summoned: Option<String>,
    /// Open cases this unit (id or code) was summoned to and has reported in to (followed until done).
    pub reported_in: Option<String>,
    /// Open cases this unit (id or code) assists (协办).
    pub assisting: Option<String>,
    /// Cases with (true) or without (false) an extension or suspension request waiting.
    pub pending: Option<bool>,
    /// Cases due within this many hours and not overdue yet (1–2160).
    pub due_within_hours: Option<i64>,
    /// Cases sent back for rework at least once.
    pub reworked: Option<bool>,
    /// `created_desc` (default), `created_asc`, `deadline`, `updated_desc`.
    pub sort: Option<String>,
    pub page: Option<i64>,
    /// 1–500, default 50.
    pub page_size: Option<i64>,
}

impl From<CaseListParams> for CaseQuery {
    fn from(p: CaseListParams) -> Self {
        CaseQuery {
            state: p.state,
            category: p.category,
            unit: p.unit,
            grid: p.grid,
            division: p.division,
            channel: p.channel,
            request_type: p.request_type,
            overdue: p.overdue,
            created_from: p.created_from,
            created_to: p.created_to,
            q: p.q,
            phone: p.phone,
            master: p.master,
            summoned: p.summoned,
            reported_in: p.reported_in,
            assisting: p.assisting,
            pending: p.pending,
            due_within_hours: p.due_within_hours,
            reworked: p.reworked,
            sort: p.sort,
            page: p.page,
            page_size: p.page_size,
            count_limit: None,
        }
    }
}

/// Creates a case (受理). With an `Idempotency-Key` header, a retried submission returns the
/// first case (header `Idempotent-Replayed: true`) instead of creating a second.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = CreateCaseRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses((status = 201, body = CaseDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreateCaseRequest>,
) -> Result<impl IntoResponse> {
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str().map_err(|_| crate::error::ApiError::malformed("Idempotency-Key must be ASCII"))?.to_string(),
        ),
        None => None,
    };
    let created = state.app.create_case(&who, body.into(), key.as_deref()).await?;
    if !created.replayed {
        state.metrics.cases_created.fetch_add(1, Ordering::Relaxed);
    }
    let view = match created.view {
        Some(view) => view,
        None => state.app.case_view(&who, &CaseRef::Id(created.case.id.0)).await?,
    };
    let reference = state.app.reference();
    let mut dto = serde_json::to_value(CaseDto::full(&reference, view)).unwrap_or_default();
    if let Some(obj) = dto.as_object_mut() {
        obj.insert(
            "dispatch_preview".into(),
            serde_json::json!({
                "unit": created.preview.unit.map(|u| u.0),
                "unit_name": created.preview.unit.and_then(|u| reference.unit(u)).map(|u| u.name.clone()),
                "assisting_units": created.preview.assisting_units.iter().map(|u| u.0).collect::<Vec<_>>(),
                "limit": created.preview.known_deadline().map(|(limit, _)| limit.describe_zh()),
                "deadline": created.preview.known_deadline().map(|(_, d)| d.with_timezone(&reference.calendar.offset())),
            }),
        );
        obj.insert("category_suggestion".into(), serde_json::to_value(&created.suggestion).unwrap_or_default());
    }
    let mut response = (StatusCode::CREATED, Json(dto)).into_response();
    if created.replayed {
        if let Ok(v) = "true".parse() {
            response.headers_mut().insert("idempotent-replayed", v);
        }
    }
    Ok(response)
}

/// Lists the cases the caller may see.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(CaseListParams),
    responses((status = 200, body = CaseListDto), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(params): ApiQuery<CaseListParams>,
) -> Result<Json<CaseListDto>> {
    let page = state.app.list_cases(&who, &params.into()).await?;
    let reference = state.app.reference();
    Ok(Json(CaseListDto {
        items: page.items.into_iter().map(|s| CaseDto::summary(&reference, s)).collect(),
        total: page.total,
        page: page.page,
        page_size: page.page_size,
    }))
}

/// The caller's case list as a file: `format` (csv, xlsx, geojson, open311-csv or ngsi-ld) with the
/// filters of the case list and the same scope, every matching case (at most 100,000) as it is when
/// the export starts, without residents' contact data. The file is streamed as it is written.
#[utoipa::path(get, path = "/api/v1/cases/export", tag = "cases",
    params(("format" = String, Query, description = "csv, xlsx, geojson, open311-csv or ngsi-ld"), CaseListParams),
    responses((status = 200, description = "the file; `X-Case-Count` tells how many cases it holds"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(State(state): State<AppState>, Auth(who): Auth, RawQuery(raw): RawQuery) -> Result<Response> {
    let (format, rest) = cityloop_app::export::split_export_query(&who, raw.as_deref().unwrap_or_default())?;
    let params: CaseListParams = parse_query(&rest)?;
    let export = state.app.export_case_list(&who, &params.into(), format).await?;
    let name = state.app.export_file_name(format);
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (HeaderName::from_static("x-case-count"), export.count.to_string()),
        ],
        axum::body::Body::from_stream(export.into_stream()),
    )
        .into_response())
}

/// One case with its flow records and the caller's allowed moves. Cases outside the caller's
/// scope answer 404.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "case id or number")),
    responses((status = 200, body = CaseDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> Result<Json<CaseDto>> {
    let view = state.app.case_view(&who, &CaseRef::Number(id)).await?;
    Ok(Json(CaseDto::full(&state.app.reference(), view)))
}

/// Makes a workflow move. 409 `illegal_move` (with `allowed_moves`) when the move does not apply
/// now, 409 `stale_version` when `version` is not the current one or another move won the race.
#[utoipa::path(post, path = "/api/v1/cases/{id}/{move}", tag = "cases", request_body = MoveRequest,
    params(("id" = String, Path, description = "case id or number"),
        ("move" = String, Path, description = "request-verification, verify, answer, file, void, dispatch, sign, return, approve-return, reject-return, extend, approve-extension, reject-extension, suspend, approve-suspension, reject-suspension, resume, submit, rework, check, revisit, rate, close, reopen, supervise, escalate, whistle, report-in, merge, comment")),
    responses((status = 200, body = CaseDto), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn make_move(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<CaseDto>> {
    // Moves without fields (sign, close, …) may be sent without a body.
    let input: MoveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MoveRequest::default()
    } else {
        crate::extract::require_json_content_type(&headers)?;
        crate::extract::parse_json(&body)?
    };
    let view = state.app.perform_move(&who, &id, &kind, input.into()).await?;
    state.metrics.moves.fetch_add(1, Ordering::Relaxed);
    Ok(Json(CaseDto::full(&state.app.reference(), view)))
}
