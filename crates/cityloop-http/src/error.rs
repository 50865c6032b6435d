//! The one error type of the JSON API: `{"error": {"code", "message", …}}` with the right status.
//! Faults of ours (5xx) say nothing about their cause; the cause is logged.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cityloop_app::AppError;
use serde_json::json;

/// An API error: a use-case error, or a request that could not be read at all.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// 400: not JSON, wrong content type, unreadable parameters.
    Malformed(String),
}

/// Result type of handlers.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<cityloop_store::StoreError> for ApiError {
    fn from(e: cityloop_store::StoreError) -> Self {
        ApiError::App(e.into())
    }
}

impl ApiError {
    /// 400: the request could not be read at all.
    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError::Malformed(message.into())
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::App(AppError::Unauthorized(message.into()))
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        let ApiError::App(e) = self else {
            return StatusCode::BAD_REQUEST;
        };
        match e {
            AppError::Unauthorized(_) | AppError::SecondFactorRequired(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::IllegalMove { .. } | AppError::StaleVersion { .. } | AppError::Duplicate(_) => {
                StatusCode::CONFLICT
            }
            AppError::Invalid { .. } | AppError::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let e = match self {
            ApiError::Malformed(m) => {
                return (status, Json(json!({ "error": { "code": "malformed", "message": m } }))).into_response();
            }
            ApiError::App(e) => e,
        };
        let body = match &e {
            AppError::Unauthorized(m) => json!({ "code": "unauthorized", "message": m }),
            AppError::SecondFactorRequired(m) => json!({ "code": "totp_required", "message": m }),
            AppError::Forbidden(m) => json!({ "code": "forbidden", "message": m }),
            AppError::NotFound(what) => {
                json!({ "code": "not_found", "message": format!("{what} not found") })
            }
            AppError::IllegalMove { kind, state, reason, allowed } => json!({
                "code": "illegal_move",
                "message": e.to_string(),
                "move": kind,
                "state": state,
                "reason": reason,
                "allowed_moves": allowed,
            }),
            AppError::StaleVersion { current } => json!({
                "code": "stale_version",
                "message": e.to_string(),
                "current_version": current,
            }),
            AppError::Duplicate(m) => json!({ "code": "duplicate", "message": m }),
            // `field` names the first; `fields` every one found, for a form that marks them all.
            AppError::Invalid { .. } | AppError::InvalidFields(_) => {
                let fields = e.field_errors();
                json!({
                    "code": "invalid",
                    "message": e.to_string(),
                    "field": fields.first().map(|f| f.field.as_str()),
                    "fields": fields,
                })
            }
            AppError::TooLarge(m) => json!({ "code": "too_large", "message": m }),
            AppError::TooManyAttempts { message, retry_after_seconds } => {
                json!({ "code": "too_many_attempts", "message": message, "retry_after_seconds": retry_after_seconds })
            }
            AppError::NotReady(m) => json!({ "code": "not_ready", "message": m }),
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                json!({ "code": "unavailable", "message": "the service is temporarily unavailable; try again shortly" })
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                json!({ "code": "internal", "message": "internal error" })
            }
        };
        let mut response = (status, Json(json!({ "error": body }))).into_response();
        if let AppError::TooManyAttempts { retry_after_seconds, .. } = &e {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_seconds).into());
        }
        if status == StatusCode::UNAUTHORIZED {
            if let Ok(v) = "Bearer".parse() {
                response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}
