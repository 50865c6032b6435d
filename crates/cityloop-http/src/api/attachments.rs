//! `/api/v1/attachments`: upload evidence (raw body; JPEG, PNG, GIF, WebP or PDF, checked by
//! content) and read it back. Moves refer to uploads by their content hash.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::Auth;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/attachments", post(upload)).route("/attachments/{hash}", get(download))
}

/// A stored attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentDto {
    /// SHA-256 of the content: pass it in a move's `attachments`.
    pub hash: String,
    pub content_type: String,
    pub size: usize,
}

/// Uploads a file as the raw request body; `X-File-Name` names it.
#[utoipa::path(post, path = "/api/v1/attachments", tag = "attachments",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentDto), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(who): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentDto>)> {
    let name = headers.get("x-file-name").and_then(|v| v.to_str().ok()).unwrap_or("upload");
    let stored = state.app.store_attachment(&who, name, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentDto { hash: stored.hash, content_type: stored.content_type, size: stored.size }),
    ))
}

/// Reads an attachment: for the user who uploaded it and those who may see a case that holds it.
#[utoipa::path(get, path = "/api/v1/attachments/{hash}", tag = "attachments", params(("hash" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(hash): Path<String>,
) -> Result<impl IntoResponse> {
    let (content_type, bytes) = state.app.read_attachment_for(&who, &hash).await?;
    Ok(([(CONTENT_TYPE, content_type)], bytes))
}
