//! The two formats of GeoReport v2. JSON mirrors the XML mechanically: a root collection becomes a bare
//! array; XML has no namespace and names each element of a collection after its parent
//! (`<services><service>…`). Dates are ISO 8601 with the city's offset.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use cityloop_app::open311::{Attribute, PostedAnswer, PublicRequest, PublicUpdate, Service, ServiceDefinition};
use cityloop_app::AppError;
use cityloop_store::Choice;
use serde::Serialize;

/// The format a path asks for by its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `requests.json` into `("requests", Json)`; no suffix means JSON.
    pub fn split(file: &str) -> Result<(&str, Format), Open311Error> {
        match file.rsplit_once('.') {
            Some((name, "json")) => Ok((name, Format::Json)),
            Some((name, "xml")) => Ok((name, Format::Xml)),
            Some((_, other)) => Err(Open311Error::new(
                StatusCode::BAD_REQUEST,
                format!("unknown format `{other}`: use .json or .xml"),
                Format::Json,
            )),
            None => Ok((file, Format::Json)),
        }
    }
}

/// An answer in the spec's error format: `[{code, description}]` or `<errors><error>…`.
#[derive(Debug)]
pub struct Open311Error {
    pub status: StatusCode,
    pub description: String,
    /// Further errors of the same request (several fields at fault), each an error of its own.
    pub more: Vec<String>,
    pub format: Format,
}

impl Open311Error {
    pub fn new(status: StatusCode, description: impl Into<String>, format: Format) -> Self {
        Self { status, description: description.into(), more: Vec::new(), format }
    }

    /// A use-case error in Open311's terms: a bad key is 403, anything unknown 404, any other
    /// fault of the caller 400.
    pub fn from_app(e: AppError, format: Format) -> Self {
        let status = match &e {
            AppError::Unauthorized(_) | AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) | AppError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", format);
            }
            _ => StatusCode::BAD_REQUEST,
        };
        // Fields named as the request named them, not as the platform's own API does; one error each.
        let mut descriptions: Vec<String> =
            e.field_errors().iter().map(|f| format!("{}: {}", open311_field(&f.field), f.message)).collect();
        if descriptions.is_empty() {
            descriptions.push(e.to_string());
        }
        let description = descriptions.remove(0);
        Self { more: descriptions, ..Self::new(status, description, format) }
    }
}

/// The Open311 parameter behind one of the platform's field names.
fn open311_field(field: &str) -> &str {
    match field {
        "location.lat" => "lat",
        "location.lon" => "long",
        "location" => "lat/long",
        "grid" => "address_id",
        "address" | "location.address" => "address_string",
        "category" => "service_code",
        "text" | "note" => "description",
        "contact.phone" => "phone",
        "contact.name" => "first_name/last_name",
        field => field,
    }
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    code: u16,
    description: &'a str,
}

#[derive(Serialize)]
struct Errors<'a> {
    error: Vec<ErrorItem<'a>>,
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let code = self.status.as_u16();
        let items: Vec<ErrorItem> = std::iter::once(&self.description)
            .chain(&self.more)
            .map(|description| ErrorItem { code, description })
            .collect();
        let mut response = match self.format {
            Format::Json => render_json(&items),
            Format::Xml => render_xml("errors", &Errors { error: items }),
        };
        *response.status_mut() = self.status;
        response
    }
}

fn render_json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "open311 json");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// An XML document of `value` under `root`.
pub fn xml_document<T: Serialize>(root: &str, value: &T) -> Result<String, quick_xml::SeError> {
    let body = quick_xml::se::to_string_with_root(root, value)?;
    // XML 1.0 has no place for control characters a resident may have pasted into a text (the C1
    // ones it only discourages; parsers differ), nor for U+FFFE and U+FFFF.
    let body = body.replace(|c: char| !is_xml_char(c) || (c.is_control() && !matches!(c, '\t' | '\n' | '\r')), "");
    Ok(format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}"))
}

/// Whether XML 1.0 allows a character in a document (its `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn render_xml<T: Serialize>(root: &str, value: &T) -> Response {
    match xml_document(root, value) {
        Ok(body) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "open311 xml");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A collection: a bare array in JSON, `<root><item>…</item></root>` in XML.
pub fn render_list<T: Serialize>(format: Format, root: &str, items: Vec<T>) -> Response {
    #[derive(Serialize)]
    struct Wrapped<T> {
        #[serde(rename = "$value")]
        items: Vec<T>,
    }
    match format {
        Format::Json => render_json(&items),
        Format::Xml => render_xml(root, &Wrapped { items }),
    }
}

/// An object: the same shape in both formats.
pub fn render_object<T: Serialize>(format: Format, root: &str, value: &T) -> Response {
    match format {
        Format::Json => render_json(value),
        Format::Xml => render_xml(root, value),
    }
}

/// A date as the spec writes it: ISO 8601 with the city's offset.
pub fn iso(at: DateTime<Utc>, offset: FixedOffset) -> String {
    at.with_timezone(&offset).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `<service>` of the list.
#[derive(Serialize)]
#[serde(rename = "service")]
pub struct ServiceOut {
    service_code: String,
    service_name: String,
    description: String,
    metadata: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    keywords: String,
    group: String,
}

impl From<Service> for ServiceOut {
    fn from(s: Service) -> Self {
        Self {
            service_code: s.service_code,
            service_name: s.service_name,
            description: s.description,
            metadata: s.metadata,
            // A request becomes a case at once: its id is in the answer to the POST.
            kind: "realtime",
            keywords: s.keywords,
            group: s.group,
        }
    }
}

#[derive(Serialize)]
struct ValueOut {
    key: String,
    name: String,
}

#[derive(Serialize)]
struct ValuesXml {
    value: Vec<ValueOut>,
}

#[derive(Serialize)]
struct AttributeOut {
    variable: bool,
    code: String,
    datatype: String,
    required: bool,
    datatype_description: String,
    order: i64,
    description: String,
}

#[derive(Serialize)]
struct AttributeJson {
    #[serde(flatten)]
    common: AttributeOut,
    values: Vec<ValueOut>,
}

#[derive(Serialize)]
struct AttributeXml {
    #[serde(flatten)]
    common: AttributeOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<ValuesXml>,
}

fn values(choices: Vec<Choice>) -> Vec<ValueOut> {
    choices.into_iter().map(|c| ValueOut { key: c.key, name: c.name }).collect()
}

fn attribute_common(a: &Attribute) -> AttributeOut {
    AttributeOut {
        variable: a.variable,
        code: a.code.clone(),
        datatype: a.datatype.clone(),
        required: a.required,
        datatype_description: a.datatype_description.clone(),
        order: a.order,
        description: a.description.clone(),
    }
}

/// `service_definition` in either format (XML wraps the lists: `<attributes><attribute>`, `<values><value>`).
pub fn render_definition(format: Format, d: ServiceDefinition) -> Response {
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Json {
                service_code: String,
                attributes: Vec<AttributeJson>,
            }
            let attributes = d
                .attributes
                .into_iter()
                .map(|a| AttributeJson { common: attribute_common(&a), values: values(a.values) })
                .collect();
            render_json(&Json { service_code: d.service_code, attributes })
        }
        Format::Xml => {
            #[derive(Serialize)]
            struct Attributes {
                attribute: Vec<AttributeXml>,
            }
            #[derive(Serialize)]
            struct Xml {
                service_code: String,
                attributes: Attributes,
            }
            let attribute = d
                .attributes
                .into_iter()
                .map(|a| {
                    let common = attribute_common(&a);
                    let list = values(a.values);
                    AttributeXml { common, values: (!list.is_empty()).then_some(ValuesXml { value: list }) }
                })
                .collect();
            render_xml(
                "service_definition",
                &Xml { service_code: d.service_code, attributes: Attributes { attribute } },
            )
        }
    }
}

/// `<request>` of a list: every field of the spec, empty when cityloop has no value (clients read fields
/// by name).
#[derive(Serialize)]
#[serde(rename = "request")]
pub struct RequestOut {
    service_request_id: String,
    status: &'static str,
    /// FixMyStreet's finer status.
    extended_status: &'static str,
    status_notes: Option<String>,
    service_name: Option<String>,
    service_code: Option<String>,
    description: String,
    agency_responsible: Option<String>,
    service_notice: Option<String>,
    requested_datetime: String,
    updated_datetime: String,
    expected_datetime: Option<String>,
    address: Option<String>,
    address_id: Option<String>,
    /// Cityloop keeps no postal codes.
    zipcode: Option<String>,
    lat: Option<f64>,
    long: Option<f64>,
    media_url: Option<String>,
}

impl RequestOut {
    pub fn new(r: PublicRequest, offset: FixedOffset) -> Self {
        Self {
            service_request_id: r.service_request_id,
            status: r.status,
            extended_status: r.extended_status,
            status_notes: r.status_notes,
            service_name: r.service_name,
            service_code: r.service_code,
            description: r.description,
            agency_responsible: r.agency_responsible,
            service_notice: r.service_notice,
            requested_datetime: iso(r.requested_datetime, offset),
            updated_datetime: iso(r.updated_datetime, offset),
            expected_datetime: r.expected_datetime.map(|d| iso(d, offset)),
            address: r.address,
            address_id: r.address_id,
            zipcode: None,
            lat: r.lat,
            long: r.long,
            media_url: r.media_url,
        }
    }
}

/// The answer to a POST: `[{service_request_id, service_notice}]`.
#[derive(Serialize)]
#[serde(rename = "request")]
pub struct PostedOut {
    service_request_id: String,
    service_notice: String,
}

impl From<PostedAnswer> for PostedOut {
    fn from(a: PostedAnswer) -> Self {
        Self { service_request_id: a.service_request_id, service_notice: a.service_notice }
    }
}

/// `<request_update>` of FixMyStreet's `servicerequestupdates`.
#[derive(Serialize)]
#[serde(rename = "request_update")]
pub struct UpdateOut {
    update_id: String,
    service_request_id: String,
    status: &'static str,
    extended_status: &'static str,
    updated_datetime: String,
    description: String,
    external_status_code: String,
}

impl UpdateOut {
    pub fn new(u: PublicUpdate, offset: FixedOffset) -> Self {
        Self {
            update_id: u.update_id,
            service_request_id: u.service_request_id,
            status: u.status,
            extended_status: u.extended_status,
            updated_datetime: iso(u.updated_datetime, offset),
            description: u.description,
            external_status_code: u.external_status_code,
        }
    }
}

/// The answer to a posted update: `[{update_id}]`.
#[derive(Serialize)]
#[serde(rename = "request_update")]
pub struct PostedUpdateOut {
    pub update_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityloop_app::FieldError;

    #[tokio::test]
    async fn several_fields_at_fault_are_an_error_each_named_as_the_request_names_them() {
        let fault = |field: &str, message: &str| FieldError { field: field.into(), message: message.into() };
        let e = AppError::InvalidFields(vec![
            fault("location.lat", "must be a latitude"),
            fault("description", "is required"),
        ]);
        let response = Open311Error::from_app(e, Format::Json).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let items: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            items,
            serde_json::json!([
                {"code": 400, "description": "lat: must be a latitude"},
                {"code": 400, "description": "description: is required"}
            ])
        );
    }
}
