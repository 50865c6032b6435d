//! Reference and administration resources: units, categories, divisions, grids, the dispatch
//! catalogue, the calendar, users, supervision notices and the dispatch preview.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use cityloop_app::admin::{CalendarDay, CategoryEdit, Change, NewRule, NewUser, StandardInput, UnitEdit, UserEdit};
use cityloop_app::moves::{CaseRef, UnitRef};
use cityloop_app::{AppError, Reference};
use cityloop_domain::Role;
use cityloop_store::{CategoryRow, UnitRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::UserDto;
use super::cases::UnitRefIn;
use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/units", get(units))
        .route("/units/{code}", put(update_unit))
        .route("/categories", get(categories))
        .route("/categories/{code}", put(update_category))
        .route("/divisions", get(divisions))
        .route("/grids", get(grids))
        .route("/catalogue", get(catalogue).post(put_rule))
        .route("/catalogue/{id}", delete(delete_rule))
        .route("/calendar", get(calendar))
        .route("/calendar/days", put(set_day))
        .route("/users", get(users).post(add_user))
        .route("/users/{username}", put(update_user))
        .route("/notices", get(notices))
        .route("/dispatch-preview", get(dispatch_preview))
}

/// A handling unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `government, department, street_office, community, utility, center`.
    pub kind: String,
    pub parent: Option<i64>,
    /// Division code.
    pub division: Option<String>,
}

/// Lists the units (a tree through `parent`).
#[utoipa::path(get, path = "/api/v1/units", tag = "reference", responses((status = 200, body = [UnitDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn units(State(state): State<AppState>, Auth(_): Auth) -> Json<Vec<UnitDto>> {
    let r = state.app.reference();
    Json(r.units.iter().map(|u| unit_dto(&r, u)).collect())
}

fn unit_dto(r: &Reference, u: &UnitRow) -> UnitDto {
    UnitDto {
        id: u.id.0,
        code: u.code.clone(),
        name: u.name.clone(),
        kind: u.kind.as_str().into(),
        parent: u.parent_id.map(|p| p.0),
        division: u.division_id.and_then(|d| r.division(d)).map(|d| d.code.clone()),
    }
}

/// What may change about a unit: everything but its code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitRequest {
    pub name: String,
    /// `government, department, street_office, community, utility, center`.
    pub kind: String,
    /// Left out: unchanged; `null`: a unit at the top.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<UnitRefIn>)]
    pub parent: Option<Option<UnitRefIn>>,
    /// Division code of the area the unit serves. Left out: unchanged; `null`: none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub division: Option<Option<String>>,
}

/// A field that may be left out (`None`: keep what is there), sent as `null` (`Some(None)`: clear
/// it) or given: a request that names only what it changes loses nothing else.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What a field read by `present` asks of the edit.
fn change<T>(field: Option<Option<T>>) -> Change<T> {
    field.map_or(Change::Keep, Change::from)
}

/// Changes a unit's name, kind, parent or area (admins). Its cases, users and rules stay with it.
#[utoipa::path(put, path = "/api/v1/units/{code}", tag = "admin", params(("code" = String, Path)), request_body = UnitRequest,
    responses((status = 200, body = UnitDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_unit(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<UnitRequest>,
) -> Result<Json<UnitDto>> {
    let edit = UnitEdit {
        name: body.name,
        kind: body.kind,
        parent: change(body.parent.map(|given| given.map(UnitRef::from))),
        division: change(body.division),
    };
    state.app.update_unit(&who, &code, edit).await?;
    let r = state.app.reference();
    let unit = r.unit_by_code(&code).ok_or_else(|| AppError::NotFound(format!("unit `{code}`")))?;
    Ok(Json(unit_dto(&r, unit)))
}

/// A case standard.
#[derive(Debug, Serialize, ToSchema)]
pub struct StandardDto {
    pub limit_amount: u32,
    /// `continuous` (hours), `working_hours`, `working_days`, `calendar_days`.
    pub limit_mode: String,
    pub limit_text: String,
    pub urgency: String,
    pub filing_condition: String,
    pub closing_condition: String,
}

/// A category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Parent code.
    pub parent: Option<String>,
    pub leaf: bool,
    /// Whether the standard is the category's own rather than one above it.
    pub own_standard: bool,
    /// The standard that applies (the category's own or inherited).
    pub standard: Option<StandardDto>,
    /// Grid inspectors are to find its problems on patrol, as it or a category above it is marked: a
    /// case of it filed from another source is a missed report (漏报) of its grid's inspectors.
    pub patrolled: bool,
    /// Whether the category itself is marked so (rather than one above it).
    pub own_patrolled: bool,
}

/// Lists the category tree with case standards.
#[utoipa::path(get, path = "/api/v1/categories", tag = "reference", responses((status = 200, body = [CategoryDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn categories(State(state): State<AppState>, Auth(_): Auth) -> Json<Vec<CategoryDto>> {
    let r = state.app.reference();
    Json(r.categories.iter().map(|c| category_dto(&r, c)).collect())
}

fn category_dto(r: &Reference, c: &CategoryRow) -> CategoryDto {
    CategoryDto {
        id: c.id.0,
        code: c.code.clone(),
        name: c.name.clone(),
        parent: c.parent_id.and_then(|p| r.category(p)).map(|p| p.code.clone()),
        leaf: r.is_leaf(c.id),
        own_standard: c.standard.is_some(),
        standard: r.standard(c.id).map(|s| StandardDto {
            limit_amount: s.limit.amount,
            limit_mode: s.limit.mode.as_str().into(),
            limit_text: s.limit.describe_zh(),
            urgency: s.urgency.as_str().into(),
            filing_condition: s.filing_condition.clone(),
            closing_condition: s.closing_condition.clone(),
        }),
        patrolled: r.patrolled(c.id),
        own_patrolled: c.patrolled,
    }
}

/// A case standard to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandardRequest {
    pub limit_amount: u32,
    /// `continuous` (hours), `working_hours`, `working_days`, `calendar_days`.
    pub limit_mode: String,
    /// `normal, urgent, critical`.
    pub urgency: String,
    #[serde(default)]
    pub filing_condition: String,
    #[serde(default)]
    pub closing_condition: String,
}

/// What may change about a category: its name and its own standard.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    pub name: String,
    /// Left out: unchanged; `null`: the category follows the standard of the nearest category above
    /// it that has one.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<StandardRequest>)]
    pub standard: Option<Option<StandardRequest>>,
    /// Marks the category (and those below it) as found by grid inspectors on patrol, for 漏报.
    /// Left out: unchanged.
    #[serde(default)]
    pub patrolled: Option<bool>,
}

/// Renames a category or sets its case standard (admins). Cases already dispatched keep their
/// deadlines; the new limit applies from the next dispatch.
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "admin", params(("code" = String, Path)), request_body = CategoryRequest,
    responses((status = 200, body = CategoryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_category(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<CategoryRequest>,
) -> Result<Json<CategoryDto>> {
    let standard = change(body.standard.map(|given| {
        given.map(|s| StandardInput {
            limit_amount: s.limit_amount,
            limit_mode: s.limit_mode,
            urgency: s.urgency,
            filing_condition: s.filing_condition,
            closing_condition: s.closing_condition,
        })
    }));
    let edit = CategoryEdit { name: body.name, standard, patrolled: body.patrolled };
    state.app.update_category(&who, &code, edit).await?;
    let r = state.app.reference();
    let category = r.category_by_code(&code).ok_or_else(|| AppError::NotFound(format!("category `{code}`")))?;
    Ok(Json(category_dto(&r, category)))
}

/// A division.
#[derive(Debug, Serialize, ToSchema)]
pub struct DivisionDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `city, district, street, community`.
    pub level: String,
    pub parent: Option<String>,
}

/// Lists the divisions.
#[utoipa::path(get, path = "/api/v1/divisions", tag = "reference", responses((status = 200, body = [DivisionDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn divisions(State(state): State<AppState>, Auth(_): Auth) -> Json<Vec<DivisionDto>> {
    let r = state.app.reference();
    Json(
        r.divisions
            .iter()
            .map(|d| DivisionDto {
                id: d.id.0,
                code: d.code.clone(),
                name: d.name.clone(),
                level: d.level.as_str().into(),
                parent: d.parent_id.and_then(|p| r.division(p)).map(|p| p.code.clone()),
            })
            .collect(),
    )
}

/// A centroid.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// A unit grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct GridDto {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Community code.
    pub community: Option<String>,
    pub community_name: Option<String>,
    pub centroid: LatLon,
    /// GeoJSON geometry (only with `?geometry=true`).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geometry: Option<serde_json::Value>,
}

/// Options of the grid list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GridParams {
    /// Include each grid's polygon.
    pub geometry: Option<bool>,
}

/// Lists the unit grids with their community and centroid.
#[utoipa::path(get, path = "/api/v1/grids", tag = "reference", params(GridParams), responses((status = 200, body = [GridDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn grids(
    State(state): State<AppState>,
    Auth(_): Auth,
    ApiQuery(p): ApiQuery<GridParams>,
) -> Result<Json<Vec<GridDto>>> {
    let r = state.app.reference();
    let shapes = if p.geometry.unwrap_or(false) { Some(state.app.store.list_grids().await?) } else { None };
    Ok(Json(
        r.grids
            .iter()
            .map(|g| {
                let community = g.division_id.and_then(|d| r.division(d));
                GridDto {
                    id: g.id.0,
                    code: g.code.clone(),
                    name: g.name.clone(),
                    community: community.map(|d| d.code.clone()),
                    community_name: community.map(|d| d.name.clone()),
                    centroid: LatLon { lat: g.centroid_lat, lon: g.centroid_lon },
                    geometry: shapes
                        .as_ref()
                        .and_then(|s| s.iter().find(|row| row.id == g.id))
                        .and_then(|row| serde_json::from_str(&row.geometry).ok()),
                }
            })
            .collect(),
    ))
}

/// A catalogue rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleDto {
    pub id: i64,
    /// Category code.
    pub category: String,
    /// Division code; none: city-wide.
    pub division: Option<String>,
    pub lead_unit: i64,
    pub lead_unit_name: Option<String>,
    pub assisting_units: Vec<i64>,
}

fn rule_dto(r: &cityloop_app::Reference, rule: &cityloop_domain::catalogue::CatalogueRule) -> RuleDto {
    RuleDto {
        id: rule.id,
        category: r.category(rule.category_id).map(|c| c.code.clone()).unwrap_or_default(),
        division: rule.division_id.and_then(|d| r.division(d)).map(|d| d.code.clone()),
        lead_unit: rule.lead_unit.0,
        lead_unit_name: r.unit(rule.lead_unit).map(|u| u.name.clone()),
        assisting_units: rule.assisting_units.iter().map(|u| u.0).collect(),
    }
}

/// Lists the dispatch catalogue.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "reference", responses((status = 200, body = [RuleDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn catalogue(State(state): State<AppState>, Auth(_): Auth) -> Result<Json<Vec<RuleDto>>> {
    let r = state.app.reference();
    Ok(Json(state.app.store.list_catalogue().await?.iter().map(|rule| rule_dto(&r, rule)).collect()))
}

/// A catalogue rule to add (replaces the rule for the same category and division).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    pub category: String,
    pub division: Option<String>,
    pub lead_unit: UnitRefIn,
    pub assisting_units: Option<Vec<UnitRefIn>>,
}

/// Adds or replaces a catalogue rule (admins).
#[utoipa::path(post, path = "/api/v1/catalogue", tag = "admin", request_body = RuleRequest,
    responses((status = 201, body = RuleDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn put_rule(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<RuleRequest>,
) -> Result<(StatusCode, Json<RuleDto>)> {
    let rule = state
        .app
        .put_catalogue_rule(
            &who,
            NewRule {
                category: body.category,
                division: body.division,
                lead_unit: body.lead_unit.into(),
                assisting_units: body.assisting_units.map(|v| v.into_iter().map(UnitRef::from).collect()),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(rule_dto(&state.app.reference(), &rule))))
}

/// Removes a catalogue rule (admins).
#[utoipa::path(delete, path = "/api/v1/catalogue/{id}", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_rule(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.delete_catalogue_rule(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A working period.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodDto {
    pub start: String,
    pub end: String,
}

/// A special day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayDto {
    pub day: String,
    /// `holiday` or `workday` (a swapped working weekend day).
    pub kind: String,
    pub note: String,
}

/// The working calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDto {
    pub utc_offset: String,
    pub working_hours: Vec<PeriodDto>,
    pub days: Vec<DayDto>,
}

/// The working calendar: time zone, working hours, holidays and swapped working days.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "reference", responses((status = 200, body = CalendarDto), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn calendar(State(state): State<AppState>, Auth(_): Auth) -> Result<Json<CalendarDto>> {
    let r = state.app.reference();
    let days = state.app.store.calendar_notes().await?;
    Ok(Json(CalendarDto {
        utc_offset: r.calendar.offset().to_string(),
        working_hours: r
            .calendar
            .periods
            .iter()
            .map(|p| PeriodDto { start: p.start.format("%H:%M").to_string(), end: p.end.format("%H:%M").to_string() })
            .collect(),
        days: days.into_iter().map(|(day, kind, note)| DayDto { day, kind, note }).collect(),
    }))
}

/// A day to mark.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayRequest {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `holiday`, `workday` or `normal` (clears the day).
    pub kind: String,
    pub note: Option<String>,
}

/// Marks a holiday or swapped working day (admins).
#[utoipa::path(put, path = "/api/v1/calendar/days", tag = "admin", request_body = DayRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_day(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<DayRequest>,
) -> Result<StatusCode> {
    state.app.set_calendar_day(&who, CalendarDay { day: body.day, kind: body.kind, note: body.note }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the users (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", responses((status = 200, body = [UserDto]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn users(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<UserDto>>> {
    if !who.has(Role::Admin) {
        return Err(AppError::Forbidden("administrators only".into()).into());
    }
    let users = state.app.store.list_users().await?;
    Ok(Json(users.iter().map(|u| UserDto::new(&state, u)).collect()))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    pub username: String,
    /// At least 8 characters; stored as an argon2id hash.
    pub password: String,
    pub name: String,
    /// `admin, operator, lead, dispatcher, handler, inspector, coordinator, leader, citizen, recipient`.
    pub roles: Vec<String>,
    /// Unit id or code (handlers and coordinators need one).
    pub unit: Option<UnitRefIn>,
    /// Grid codes (inspectors).
    pub grids: Option<Vec<String>>,
}

/// Adds a user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = UserRequest,
    responses((status = 201, body = UserDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn add_user(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<UserRequest>,
) -> Result<(StatusCode, Json<UserDto>)> {
    let user = state
        .app
        .add_user(
            Some(&who),
            NewUser {
                username: body.username,
                password: body.password,
                name: body.name,
                roles: body.roles,
                unit: body.unit.map(UnitRef::from),
                grids: body.grids,
            },
        )
        .await?;
    state.app.reload_reference().await?;
    Ok((StatusCode::CREATED, Json(UserDto::new(&state, &user))))
}

/// What may change about an account: everything but its username and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEditRequest {
    pub name: String,
    /// `admin, operator, lead, dispatcher, handler, inspector, coordinator, leader, citizen, recipient`.
    pub roles: Vec<String>,
    /// Unit id or code. Left out: unchanged; `null`: none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<UnitRefIn>)]
    pub unit: Option<Option<UnitRefIn>>,
    /// Grid codes (inspectors). Left out: unchanged; `null` or `[]`: none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub grids: Option<Option<Vec<String>>>,
}

/// Changes an account's name, roles, unit or grids (admins): someone moves to another unit or takes
/// other grids, and keeps their history. An administrator cannot take away their own admin role.
#[utoipa::path(put, path = "/api/v1/users/{username}", tag = "admin", params(("username" = String, Path)), request_body = UserEditRequest,
    responses((status = 200, body = UserDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<UserEditRequest>,
) -> Result<Json<UserDto>> {
    let edit = UserEdit {
        name: body.name,
        roles: body.roles,
        unit: change(body.unit.map(|given| given.map(UnitRef::from))),
        grids: change(body.grids),
    };
    let user = state.app.update_user(&who, &username, edit).await?;
    Ok(Json(UserDto::new(&state, &user)))
}

/// A supervision notice.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeDto {
    pub id: i64,
    pub case: i64,
    pub case_number: String,
    pub unit: Option<i64>,
    pub level: u32,
    pub overdue: bool,
    pub message: String,
    /// What the supervisor asks of the unit, in their words.
    pub note: Option<String>,
    pub created_at: String,
}

/// Options of the notice list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoticeParams {
    /// Only this case's notices: its id or its number.
    pub case: Option<String>,
    pub limit: Option<i64>,
}

/// Supervision notices: a unit's staff see their units', city-level staff all.
#[utoipa::path(get, path = "/api/v1/notices", tag = "cases", params(NoticeParams), responses((status = 200, body = [NoticeDto]), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn notices(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<NoticeParams>,
) -> Result<Json<Vec<NoticeDto>>> {
    let city_wide = who.case_scope().all;
    if !city_wide && who.unit_subtree.is_empty() {
        return Ok(Json(vec![]));
    }
    let units = if city_wide { None } else { Some(who.unit_subtree.as_slice()) };
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let case = match p.case.as_deref() {
        // A case the caller may not see is not found, as if it did not exist.
        Some(key) => Some(state.app.visible_case(&who, &CaseRef::Number(key.to_string())).await?.0.id),
        None => None,
    };
    let rows = state.app.store.notices(case, units, limit).await?;
    let offset = state.app.reference().calendar.offset();
    Ok(Json(
        rows.into_iter()
            .map(|n| NoticeDto {
                id: n.id,
                case: n.case_id.0,
                case_number: n.case_number,
                unit: n.unit_id.map(|u| u.0),
                level: n.level,
                overdue: n.overdue,
                message: n.message,
                note: n.note,
                created_at: n.created_at.with_timezone(&offset).to_rfc3339(),
            })
            .collect(),
    ))
}

/// Where a case would go.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// Category code.
    pub category: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Grid code (instead of lat/lon).
    pub grid: Option<String>,
}

/// The catalogue's answer for a category and place, and the deadline if dispatched now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewDto {
    pub unit: Option<i64>,
    pub unit_name: Option<String>,
    pub assisting_units: Vec<i64>,
    pub grid: Option<String>,
    /// The case standard's limit; null for a category without a standard (one that groups others: the
    /// limit follows the category chosen at filing).
    pub limit: Option<String>,
    pub deadline: Option<String>,
}

/// Which unit would get this? The dispatch preview of the catalogue.
#[utoipa::path(get, path = "/api/v1/dispatch-preview", tag = "cases", params(PreviewParams),
    responses((status = 200, body = PreviewDto), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn dispatch_preview(
    State(state): State<AppState>,
    Auth(_): Auth,
    ApiQuery(p): ApiQuery<PreviewParams>,
) -> Result<Json<PreviewDto>> {
    let r = state.app.reference();
    let category = r
        .category_by_code(&p.category)
        .ok_or_else(|| AppError::invalid("category", format!("unknown category `{}`", p.category)))?;
    let grid = match (&p.grid, p.lat, p.lon) {
        (Some(code), _, _) => {
            Some(r.grid_by_code(code).ok_or_else(|| AppError::invalid("grid", format!("unknown grid `{code}`")))?)
        }
        (None, Some(lat), Some(lon)) => {
            cityloop_app::intake::check_coordinates(lat, lon)?;
            r.locate(lat, lon)
        }
        _ => None,
    };
    let preview = state.app.dispatch_preview(Some(category.id), grid.and_then(|g| g.division_id)).await?;
    Ok(Json(PreviewDto {
        unit: preview.unit.map(|u| u.0),
        unit_name: preview.unit.and_then(|u| r.unit(u)).map(|u| u.name.clone()),
        assisting_units: preview.assisting_units.iter().map(|u| u.0).collect(),
        grid: grid.map(|g| g.code.clone()),
        limit: preview.known_deadline().map(|(limit, _)| limit.describe_zh()),
        deadline: preview.known_deadline().map(|(_, d)| d.with_timezone(&r.calendar.offset()).to_rfc3339()),
    }))
}
