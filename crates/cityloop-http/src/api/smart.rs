//! Smart intake: the classifier, duplicate lookup, dispatch hints, the knowledge base and reply checks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cityloop_app::classify::ClassifyOutcome;
use cityloop_app::duplicates::{DuplicateMatch, DuplicateQuery};
use cityloop_app::knowledge::{ArticleHit, ArticleInput, ImportOutcome};
use cityloop_app::AppError;
use cityloop_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{DuplicateDto, ErrorBody};
use crate::error::Result;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/classify", post(classify))
        .route("/classifier/versions", get(versions))
        .route("/duplicates", post(duplicates))
        .route("/cases/{number}/duplicates", get(case_duplicates))
        .route("/cases/{number}/dispatch-hints", get(dispatch_hints))
        .route("/cases/{number}/reply-check", get(reply_check))
        .route("/reply-checks/units", get(reply_summary))
        .route("/knowledge", get(search_articles).post(create_article))
        .route("/knowledge/import", post(import_articles))
        .route("/knowledge/{id}", get(show_article).put(update_article).delete(delete_article))
}

/// Text to classify.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    pub text: String,
    /// How many categories to return (default 3).
    pub top: Option<usize>,
}

/// The most likely categories with calibrated probabilities, and the words that drove the decision.
#[utoipa::path(post, path = "/api/v1/classify", tag = "smart", request_body = ClassifyRequest,
    responses((status = 200, description = "`{model_version, suggestions: [{label, probability, category, category_name}], words: [{word, weight}]}`"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "no model trained yet")),
    security(("bearer" = [])))]
pub async fn classify(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<ClassifyRequest>,
) -> Result<Json<ClassifyOutcome>> {
    Ok(Json(state.app.classify(&who, &body.text, body.top.unwrap_or(3))?))
}

/// A stored classifier version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelVersionDto {
    pub version: i64,
    pub created_at: String,
    pub source: String,
    pub documents: i64,
    pub labels: i64,
    /// Held-out scores as JSON (null for models trained elsewhere).
    pub metrics: serde_json::Value,
    /// The version this node predicts with.
    pub in_use: bool,
}

/// The classifier versions, newest first.
#[utoipa::path(get, path = "/api/v1/classifier/versions", tag = "smart",
    responses((status = 200, body = [ModelVersionDto]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn versions(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<ModelVersionDto>>> {
    if !who.has(Role::Admin) {
        return Err(AppError::Forbidden("only admins see classifier versions".into()).into());
    }
    let in_use = state.app.model().map(|m| m.version);
    let rows = state.app.store.list_models().await.map_err(AppError::from)?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ModelVersionDto {
                in_use: Some(r.version) == in_use,
                version: r.version,
                created_at: r.created_at.with_timezone(&state.city_offset()).to_rfc3339(),
                source: r.source,
                documents: r.documents,
                labels: r.labels,
                metrics: serde_json::from_str(&r.metrics).unwrap_or_default(),
            })
            .collect(),
    ))
}

/// What an operator has typed: text, and where available category, coordinates or grid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub grid: Option<String>,
}

/// Open cases that look like the same problem, best first (at most five).
#[utoipa::path(post, path = "/api/v1/duplicates", tag = "smart", request_body = DuplicateRequest,
    responses((status = 200, body = [DuplicateDto]),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn duplicates(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<DuplicateRequest>,
) -> Result<Json<Vec<DuplicateDto>>> {
    let query = DuplicateQuery {
        title: body.title,
        description: body.description,
        category: body.category,
        lat: body.lat,
        lon: body.lon,
        grid: body.grid,
        exclude: None,
    };
    Ok(Json(answer(&state, state.app.find_duplicates(&who, &query).await?)))
}

fn answer(state: &AppState, found: Vec<DuplicateMatch>) -> Vec<DuplicateDto> {
    let reference = state.app.reference();
    found.into_iter().map(|m| DuplicateDto::new(&reference, m)).collect()
}

/// Open cases that look like the same problem as this case.
#[utoipa::path(get, path = "/api/v1/cases/{number}/duplicates", tag = "smart",
    params(("number" = String, Path)),
    responses((status = 200, body = [DuplicateDto]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn case_duplicates(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(number): Path<String>,
) -> Result<Json<Vec<DuplicateDto>>> {
    Ok(Json(answer(&state, state.app.duplicates_of_case(&who, &number).await?)))
}

/// Where the catalogue sends the case and, where it is silent or names several units, who handled such
/// cases before without a return; each with its reason.
#[utoipa::path(get, path = "/api/v1/cases/{number}/dispatch-hints", tag = "smart",
    params(("number" = String, Path)),
    responses((status = 200, description = "`[{unit, unit_name, source: catalogue|history, reason}]`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn dispatch_hints(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(number): Path<String>,
) -> Result<Json<Vec<cityloop_app::dispatch_hint::DispatchHint>>> {
    Ok(Json(state.app.dispatch_hints_for_case(&who, &number).await?))
}

/// The latest reply check of the case's submitted result (404 before a result is submitted).
#[utoipa::path(get, path = "/api/v1/cases/{number}/reply-check", tag = "smart",
    params(("number" = String, Path)),
    responses((status = 200, description = "`{score, relevance, findings: [{code, passed, message}], checked_at}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reply_check(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(number): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let check =
        state.app.reply_check_of_case(&who, &number).await?.ok_or_else(|| AppError::NotFound("reply check".into()))?;
    Ok(Json(check))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SummaryParams {
    /// Period in days, counted back from now (default 30).
    pub days: Option<i64>,
}

/// Reply scores per unit, weakest first.
#[utoipa::path(get, path = "/api/v1/reply-checks/units", tag = "smart", params(SummaryParams),
    responses((status = 200, description = "`[{unit, unit_name, replies, average_score, weak}]`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reply_summary(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<SummaryParams>,
) -> Result<Json<Vec<cityloop_app::replies::UnitReplies>>> {
    Ok(Json(state.app.reply_summary(&who, p.days.unwrap_or(30)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words to look for (Chinese is split into words).
    pub q: String,
    pub limit: Option<usize>,
}

/// Searches the knowledge base.
#[utoipa::path(get, path = "/api/v1/knowledge", tag = "smart", params(SearchParams),
    responses((status = 200, description = "`[{id, title, excerpt, category, score, matched}]`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn search_articles(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Vec<ArticleHit>>> {
    Ok(Json(state.app.search_knowledge(&who, &p.q, p.limit.unwrap_or(10))?))
}

/// A knowledge-base article.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticleDto {
    #[serde(default)]
    pub id: i64,
    pub title: String,
    pub body: String,
    /// Category code.
    pub category: Option<String>,
    #[serde(default)]
    pub tags: String,
}

impl From<cityloop_store::ArticleRow> for ArticleDto {
    fn from(a: cityloop_store::ArticleRow) -> Self {
        ArticleDto { id: a.id, title: a.title, body: a.body, category: a.category_code, tags: a.tags }
    }
}

impl From<ArticleDto> for ArticleInput {
    fn from(a: ArticleDto) -> Self {
        ArticleInput { title: a.title, body: a.body, category: a.category, tags: a.tags }
    }
}

#[utoipa::path(get, path = "/api/v1/knowledge/{id}", tag = "smart", params(("id" = i64, Path)),
    responses((status = 200, body = ArticleDto), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn show_article(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ArticleDto>> {
    Ok(Json(state.app.article(&who, id)?.into()))
}

/// Adds an article (admins).
#[utoipa::path(post, path = "/api/v1/knowledge", tag = "smart", request_body = ArticleDto,
    responses((status = 201, body = ArticleDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create_article(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<ArticleDto>,
) -> Result<(StatusCode, Json<ArticleDto>)> {
    let id = state.app.create_article(Some(&who), &ArticleInput::from(body)).await?;
    Ok((StatusCode::CREATED, Json(state.app.article(&who, id)?.into())))
}

/// Changes an article (admins).
#[utoipa::path(put, path = "/api/v1/knowledge/{id}", tag = "smart", params(("id" = i64, Path)), request_body = ArticleDto,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn update_article(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ArticleDto>,
) -> Result<StatusCode> {
    state.app.update_article(Some(&who), id, &ArticleInput::from(body)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an article (admins).
#[utoipa::path(delete, path = "/api/v1/knowledge/{id}", tag = "smart", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_article(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.delete_article(Some(&who), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportParams {
    /// The file's name: `.md` / `.markdown` is read as Markdown (one `# ` heading per article), anything else as CSV (`title,body[,category][,tags]`).
    pub file: String,
}

/// Imports articles from a CSV or Markdown body (admins); nothing is stored if any article is bad.
#[utoipa::path(post, path = "/api/v1/knowledge/import", tag = "smart", params(ImportParams),
    responses((status = 200, description = "`{imported}`"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn import_articles(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<ImportParams>,
    body: Bytes,
) -> Result<Json<ImportOutcome>> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::invalid("body", "is not UTF-8 text"))?;
    if text.contains('\0') {
        return Err(AppError::invalid("body", "contains a NUL character").into());
    }
    Ok(Json(state.app.import_articles(Some(&who), &p.file, text).await?))
}
