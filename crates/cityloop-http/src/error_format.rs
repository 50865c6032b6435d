//! The router's own refusals in the error format of the API (`{"error": {"code", "message"}}`) or of
//! Open311 (`[{code, description}]`, or XML for a `.xml` address).

use axum::body::to_bytes;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::open311::wire::{Format, Open311Error};

/// The longest text of a refusal that is carried over into the message.
const MAX_CARRIED_TEXT: usize = 4096;

/// The same refusal, status and headers kept, with a body in the format `path` answers in.
pub(crate) async fn rewrite(path: &str, method: &Method, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_CARRIED_TEXT).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    let (code, message) = match parts.status {
        // The router adds the `Allow` header after this layer has run.
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{path} does not take {method}: the Allow header names the methods it takes"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large".to_owned()),
        status => {
            let text = text.ok().filter(|t| !t.is_empty());
            let code = if status == StatusCode::BAD_REQUEST { "malformed" } else { "refused" };
            (code, text.unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned()))
        }
    };
    let mut answer = if path.starts_with("/open311/") {
        let format = if path.ends_with(".xml") { Format::Xml } else { Format::Json };
        Open311Error::new(parts.status, message, format).into_response()
    } else {
        (parts.status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
    };
    for (name, value) in
        parts.headers.iter().filter(|(name, _)| **name != header::CONTENT_TYPE && **name != header::CONTENT_LENGTH)
    {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}
