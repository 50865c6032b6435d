//! Administration of what other systems use: Open311 client applications with their API keys, each
//! service's description, keywords and extra questions, and API tokens for departments' own systems.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use cityloop_app::open311::{ServiceDefinition, ServiceSetup};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-clients", get(list_clients).post(register_client))
        .route("/api-clients/{id}", delete(revoke_client))
        .route("/services/{code}", put(set_service))
        .route("/api-tokens", get(list_tokens).post(create_token))
        .route("/api-tokens/{id}", delete(revoke_token))
}

/// An API token to issue for another system acting as a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The account the system acts as (e.g. a unit's handler account).
    pub username: String,
    /// What the token is for (the system's name).
    pub name: String,
    /// Days the token lives (1 to 730).
    pub days: i64,
    /// Makes it a data recipient's token: a case-list query string (e.g. `category=06&created_from=2026-01-01`)
    /// its exports are always held to; it may then only `GET /api/v1/cases/export`, without residents'
    /// contact data.
    #[serde(default)]
    pub export_filter: Option<String>,
}

/// An API token; `token` only in the answer that issues it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenDto {
    pub id: String,
    pub username: String,
    pub name: String,
    pub expires_at: chrono::DateTime<chrono::FixedOffset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// A data recipient's token: the filter its exports are held to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Issues an API token for a department's own system, shown once (admins). The system sends it as
/// `Authorization: Bearer <token>` and may do what the account may do (sign, ask for more time, submit).
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "open311", request_body = TokenRequest,
    responses((status = 201, body = TokenDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenDto>)> {
    // An empty filter is a filter that names nothing (a 422), not a token without one.
    let t =
        state.app.create_api_token(&who, &body.username, &body.name, body.days, body.export_filter.as_deref()).await?;
    let dto = TokenDto {
        id: t.id,
        username: t.username,
        name: t.label,
        expires_at: t.expires_at.with_timezone(&state.city_offset()),
        created_at: None,
        revoked_at: None,
        export_filter: t.export_filter,
        token: Some(t.token),
    };
    Ok((StatusCode::CREATED, Json(dto)))
}

/// The API tokens, without the tokens (admins).
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "open311",
    responses((status = 200, body = [TokenDto]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_tokens(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<TokenDto>>> {
    let tokens = state.app.api_tokens(&who).await?;
    let offset = state.city_offset();
    Ok(Json(
        tokens
            .into_iter()
            .map(|(id, t)| TokenDto {
                id,
                username: t.username,
                name: t.label,
                expires_at: t.expires_at.with_timezone(&offset),
                created_at: Some(t.created_at.with_timezone(&offset)),
                revoked_at: t.revoked_at.map(|at| at.with_timezone(&offset)),
                export_filter: t.export_filter,
                token: None,
            })
            .collect(),
    ))
}

/// Revokes an API token (admins).
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "open311",
    params(("id" = String, Path, description = "the token's id (`tok_…`)")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.app.revoke_api_token(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A client application to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    pub name: String,
    /// Who runs the application (an address to reach them).
    #[serde(default)]
    pub contact: String,
}

/// A client application; `api_key` only in the answer that registers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientDto {
    pub id: i64,
    pub name: String,
    pub contact: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub revoked_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl ClientDto {
    fn new(c: cityloop_store::ApiClientRow, offset: chrono::FixedOffset) -> Self {
        Self {
            id: c.id,
            name: c.name,
            contact: c.contact,
            created_at: c.created_at.with_timezone(&offset),
            revoked_at: c.revoked_at.map(|at| at.with_timezone(&offset)),
            api_key: None,
        }
    }
}

/// Registers a client application and shows its API key once (admins).
#[utoipa::path(post, path = "/api/v1/api-clients", tag = "open311", request_body = ClientRequest,
    responses((status = 201, body = ClientDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn register_client(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(body): ApiJson<ClientRequest>,
) -> Result<(StatusCode, Json<ClientDto>)> {
    let registered = state.app.register_api_client(&who, &body.name, &body.contact).await?;
    let mut dto = ClientDto::new(registered.client, state.city_offset());
    dto.api_key = Some(registered.api_key);
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Every client application, without keys (admins).
#[utoipa::path(get, path = "/api/v1/api-clients", tag = "open311",
    responses((status = 200, body = [ClientDto]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_clients(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<ClientDto>>> {
    let offset = state.city_offset();
    Ok(Json(state.app.api_clients(&who).await?.into_iter().map(|c| ClientDto::new(c, offset)).collect()))
}

/// Revokes a client's key; its requests stay (admins).
#[utoipa::path(delete, path = "/api/v1/api-clients/{id}", tag = "open311",
    params(("id" = i64, Path, description = "the client application")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_client(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.revoke_api_client(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a service's description, keywords and extra questions (`attributes` as in an Open311 service
/// definition); answers with the new definition (admins).
#[utoipa::path(put, path = "/api/v1/services/{code}", tag = "open311",
    params(("code" = String, Path, description = "the service (category) code")),
    request_body(content = serde_json::Value, description = "`{description, keywords, attributes: [{code, datatype, required, variable, order, description, datatype_description, values: [{key, name}]}]}`"),
    responses((status = 200, description = "the service definition"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_service(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(code): Path<String>,
    ApiJson(setup): ApiJson<ServiceSetup>,
) -> Result<Json<ServiceDefinition>> {
    Ok(Json(state.app.set_service(&who, &code, setup).await?))
}
