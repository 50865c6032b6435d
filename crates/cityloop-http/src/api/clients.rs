//! Administration of what Open311 clients see: client applications with their API keys, and each
//! service's description, keywords and extra questions.

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
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

impl From<cityloop_store::ApiClientRow> for ClientDto {
    fn from(c: cityloop_store::ApiClientRow) -> Self {
        Self {
            id: c.id,
            name: c.name,
            contact: c.contact,
            created_at: c.created_at,
            revoked_at: c.revoked_at,
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
    let mut dto = ClientDto::from(registered.client);
    dto.api_key = Some(registered.api_key);
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Every client application, without keys (admins).
#[utoipa::path(get, path = "/api/v1/api-clients", tag = "open311",
    responses((status = 200, body = [ClientDto]), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_clients(State(state): State<AppState>, Auth(who): Auth) -> Result<Json<Vec<ClientDto>>> {
    Ok(Json(state.app.api_clients(&who).await?.into_iter().map(ClientDto::from).collect()))
}

/// Revokes a client's key; its requests stay (admins).
#[utoipa::path(delete, path = "/api/v1/api-clients/{id}", tag = "open311",
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn revoke_client(State(state): State<AppState>, Auth(who): Auth, Path(id): Path<i64>) -> Result<StatusCode> {
    state.app.revoke_api_client(&who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a service's description, keywords and extra questions (`attributes` as in an Open311 service
/// definition); answers with the new definition (admins).
#[utoipa::path(put, path = "/api/v1/services/{code}", tag = "open311",
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
