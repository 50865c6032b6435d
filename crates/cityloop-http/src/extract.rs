//! Extractors whose rejections use the API's error format: JSON bodies and query strings that name
//! the offending field, and the bearer-token principal.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::Method;
use cityloop_app::access::RequestWatch;
use cityloop_app::{AppError, Principal};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Where a data recipient's token may go.
const EXPORT_PATH: &str = "/api/v1/cases/export";

/// The signed-in caller, from `Authorization: Bearer <token>`.
pub struct Auth(pub Principal);

/// The raw bearer token of a request, if any.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("log in first: send Authorization: Bearer <token>"))?;
        let who = state.app.authenticate(token).await?;
        if let Some(watch) = parts.extensions.get::<RequestWatch>() {
            watch.caller(&who.user);
        }
        // A data recipient reads nothing but exports (the path as sent, before nesting).
        let path = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.path(), |u| u.0.path());
        if who.exports_only() && !(parts.method == Method::GET && path == EXPORT_PATH) {
            return Err(ApiError::App(AppError::Forbidden(format!(
                "a data recipient may only export cases (GET {EXPORT_PATH})"
            ))));
        }
        Ok(Auth(who))
    }
}

/// A JSON body; a body that is not JSON is a 400, JSON of the wrong shape a 422 naming the field.
pub struct ApiJson<T>(pub T);

/// Reads JSON bytes into `T`, naming the path of the first bad field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // No text may hold a NUL character (PostgreSQL cannot store one): found by its escape, then named.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(field) = field_with_nul(&value, "") {
                return Err(ApiError::App(AppError::invalid(field, "contains a NUL character")));
            }
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::malformed(format!("the body is not valid JSON: {inner}")))
            } else {
                let message = inner.to_string();
                let path = if path == "." { String::new() } else { path };
                Err(ApiError::App(match missing_field(&path, &message) {
                    Some(field) => cityloop_app::AppError::invalid(field, "is required"),
                    None => cityloop_app::AppError::invalid(path, message),
                }))
            }
        }
    }
}

/// The field serde's "missing field `x`" names, under the object at `path` it was missing from.
fn missing_field(path: &str, message: &str) -> Option<String> {
    let (name, _) = message.strip_prefix("missing field `")?.split_once('`')?;
    Some(if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") })
}

/// Refuses a body that does not say it is JSON.
pub fn require_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::malformed("send the body as JSON with Content-Type: application/json"))
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_json_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::App(cityloop_app::AppError::TooLarge("the request body is too large".into()))
            } else {
                ApiError::malformed(format!("could not read the body: {e}"))
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::malformed("the body is empty; send a JSON object"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// A query string; unknown values are a 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// The path of the first string (or key) in `value` that holds a NUL character.
fn field_with_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    let here = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        serde_json::Value::String(s) => {
            s.contains('\0').then(|| if path.is_empty() { "body".into() } else { path.into() })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| field_with_nul(v, &format!("{}[{i}]", if path.is_empty() { "body" } else { path }))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(here(&k.replace('\0', "")))
            } else {
                field_with_nul(v, &here(k))
            }
        }),
        _ => None,
    }
}

/// Reads a query string; unknown or unreadable values are a 422 naming the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some((key, _)) = form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::App(AppError::invalid(key.replace('\0', ""), "contains a NUL character")));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::App(cityloop_app::AppError::invalid(
            if path == "." { "query".to_string() } else { path },
            e.into_inner().to_string(),
        ))
    })
}
