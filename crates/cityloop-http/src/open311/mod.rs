//! Open311 GeoReport v2 at `/open311/v2`: discovery, services and their definitions, posting and
//! reading requests, and FixMyStreet's `servicerequestupdates`, in JSON and XML, with the spec's errors. Accepts the quirks of real clients: the
//! singular `service/{code}` path, `api_key` in the query string of a POST, an empty `jurisdiction_id`, a photo in a multipart form.

pub mod wire;

use axum::body::Bytes;
use std::convert::Infallible;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use cityloop_app::open311::{Jurisdiction, PostedRequest, PostedUpdate, RequestQuery};

use crate::state::AppState;
use wire::{
    render_definition, render_list, render_object, Format, Open311Error, PostedOut, PostedUpdateOut, RequestOut,
    ServiceOut, UpdateOut,
};

type Answer = Result<Response, Open311Error>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{file}", get(root_get).post(root_post))
        .route("/services/{file}", get(definition))
        .route("/service/{file}", get(definition))
        .route("/requests/{file}", get(one_request))
        .route("/tokens/{file}", get(token))
        .route("/requests/{id}/media/{hash}", get(media))
}

/// Parameters of a query string or form body, in order (list answers may repeat a name).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Self {
        // A NUL character has no place in a text (and PostgreSQL cannot store one).
        let clean = |s: std::borrow::Cow<'_, str>| s.replace('\0', "");
        Params(form_urlencoded::parse(raw).map(|(k, v)| (clean(k), clean(v))).collect())
    }

    /// The first non-empty value of a name; an empty value counts as absent, as the spec says (a client
    /// may send `api_key=` in the query and the key in the body).
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).find(|v| !v.is_empty())
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    /// A comma list (`service_code=a,b`), over every occurrence of the name.
    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

fn bad(format: Format, description: impl Into<String>) -> Open311Error {
    Open311Error::new(StatusCode::BAD_REQUEST, description, format)
}

/// The part of the server `jurisdiction_id` names: `None` (the whole server) when it is absent, empty
/// or the server's own; 404 for one not served here.
fn jurisdiction(state: &AppState, params: &Params, format: Format) -> Result<Option<Jurisdiction>, Open311Error> {
    state.app.open311_jurisdiction(params.get("jurisdiction_id")).map_err(|e| Open311Error::from_app(e, format))
}

fn city_offset(state: &AppState) -> FixedOffset {
    let seconds = state.app.reference().calendar.utc_offset_secs;
    FixedOffset::east_opt(seconds).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// A date filter: ISO 8601 with a zone, or a plain date (midnight in the city).
fn date_param(
    params: &Params,
    name: &str,
    offset: FixedOffset,
    format: Format,
) -> Result<Option<DateTime<Utc>>, Open311Error> {
    let Some(v) = params.get(name) else { return Ok(None) };
    // A `+` of an offset sent unencoded arrives as a space.
    let repaired = v.replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&repaired) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    // A plain date is a day in the city; as an upper bound it includes that day.
    let whole_day = matches!(name, "end_date" | "updated_before");
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .map(|d| if whole_day { d.succ_opt().unwrap_or(d) } else { d })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(offset).single())
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| bad(format, format!("{name}: `{v}` is not an ISO 8601 date such as 2026-11-21T09:30:00+08:00")))
}

fn number_param(params: &Params, name: &str, format: Format) -> Result<Option<i64>, Open311Error> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(format, format!("{name}: `{v}` is not a positive whole number")))
        })
        .transpose()
}

/// A page size the list can give: asking for more than a page holds is refused, not cut short.
fn page_size_param(params: &Params, format: Format) -> Result<Option<i64>, Open311Error> {
    let size = number_param(params, "page_size", format)?;
    match size {
        Some(n) if n > cityloop_app::open311::MAX_PAGE_SIZE => Err(bad(
            format,
            format!("page_size: `{n}` is more than {} requests a page", cityloop_app::open311::MAX_PAGE_SIZE),
        )),
        _ => Ok(size),
    }
}

async fn root_get(State(state): State<AppState>, Path(file): Path<String>, RawQuery(query): RawQuery) -> Answer {
    let (name, format) = Format::split(&file)?;
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let jurisdiction = jurisdiction(&state, &params, format)?;
    match name {
        "discovery" => Ok(discovery(&state, format)),
        "services" => {
            let services = state.app.open311_services().await.map_err(|e| Open311Error::from_app(e, format))?;
            Ok(render_list(format, "services", services.into_iter().map(ServiceOut::from).collect()))
        }
        "requests" => list_requests(&state, &params, jurisdiction, format).await,
        "servicerequestupdates" => {
            let offset = city_offset(&state);
            let from = date_param(&params, "start_date", offset, format)?;
            let to = date_param(&params, "end_date", offset, format)?;
            let updates = state
                .app
                .open311_updates(from, to, jurisdiction)
                .await
                .map_err(|e| Open311Error::from_app(e, format))?;
            let out = updates.into_iter().map(|u| UpdateOut::new(u, offset)).collect();
            Ok(render_list(format, "service_request_updates", out))
        }
        _ => Err(Open311Error::new(StatusCode::NOT_FOUND, format!("no such call `{name}`"), format)),
    }
}

fn discovery(state: &AppState, format: Format) -> Response {
    #[derive(serde::Serialize)]
    struct Formats {
        format: Vec<&'static str>,
    }
    #[derive(serde::Serialize)]
    struct Endpoint {
        specification: &'static str,
        url: String,
        changeset: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        formats: serde_json::Value,
    }
    #[derive(serde::Serialize)]
    struct Discovery {
        changeset: &'static str,
        contact: String,
        key_service: String,
        endpoints: serde_json::Value,
    }
    let settings = &state.app.settings;
    let endpoint = Endpoint {
        specification: "http://wiki.open311.org/GeoReport_v2",
        url: format!("{}/open311/v2", settings.public_url.trim_end_matches('/')),
        changeset: "2026-11-22T00:00:00Z",
        kind: "production",
        formats: serde_json::Value::Null,
    };
    let mimes = vec!["application/json", "text/xml"];
    let body = match format {
        Format::Json => {
            let mut e = serde_json::to_value(&endpoint).unwrap_or_default();
            e["formats"] = serde_json::json!(mimes);
            Discovery {
                changeset: endpoint.changeset,
                contact: settings.open311_contact.clone(),
                key_service: settings.open311_key_service.clone(),
                endpoints: serde_json::json!([e]),
            }
        }
        Format::Xml => {
            let mut e = serde_json::to_value(&endpoint).unwrap_or_default();
            e["formats"] = serde_json::to_value(Formats { format: mimes }).unwrap_or_default();
            Discovery {
                changeset: endpoint.changeset,
                contact: settings.open311_contact.clone(),
                key_service: settings.open311_key_service.clone(),
                endpoints: serde_json::json!({ "endpoint": [e] }),
            }
        }
    };
    render_object(format, "discovery", &body)
}

async fn list_requests(
    state: &AppState,
    params: &Params,
    jurisdiction: Option<Jurisdiction>,
    format: Format,
) -> Answer {
    let offset = city_offset(state);
    let statuses = params.list("status");
    if let Some(s) = statuses.iter().find(|s| *s != "open" && *s != "closed") {
        return Err(bad(format, format!("status: `{s}` is not open or closed")));
    }
    let query = RequestQuery {
        service_request_ids: params.list("service_request_id"),
        service_codes: params.list("service_code"),
        start_date: date_param(params, "start_date", offset, format)?,
        end_date: date_param(params, "end_date", offset, format)?,
        statuses,
        updated_after: date_param(params, "updated_after", offset, format)?,
        updated_before: date_param(params, "updated_before", offset, format)?,
        page: number_param(params, "page", format)?,
        page_size: page_size_param(params, format)?,
        jurisdiction,
    };
    let requests = state.app.open311_requests(&query).await.map_err(|e| Open311Error::from_app(e, format))?;
    Ok(render_list(format, "service_requests", requests.into_iter().map(|r| RequestOut::new(r, offset)).collect()))
}

async fn one_request(State(state): State<AppState>, Path(file): Path<String>, RawQuery(query): RawQuery) -> Answer {
    let (id, format) = Format::split(&file)?;
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let jurisdiction = jurisdiction(&state, &params, format)?;
    let request = state.app.open311_request(id, jurisdiction).await.map_err(|e| Open311Error::from_app(e, format))?;
    // A single request is answered as a one-element list, as clients expect.
    Ok(render_list(format, "service_requests", vec![RequestOut::new(request, city_offset(&state))]))
}

async fn definition(State(state): State<AppState>, Path(file): Path<String>, RawQuery(query): RawQuery) -> Answer {
    let (code, format) = Format::split(&file)?;
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    // One catalogue serves every jurisdiction.
    jurisdiction(&state, &params, format)?;
    let d = state.app.open311_definition(code).await.map_err(|e| Open311Error::from_app(e, format))?;
    Ok(render_definition(format, d))
}

/// A photo a resident sent with a public request (its `media_url`).
async fn media(State(state): State<AppState>, Path((id, hash)): Path<(String, String)>, headers: HeaderMap) -> Answer {
    let (content_type, bytes) =
        state.app.open311_media(&id, &hash).await.map_err(|e| Open311Error::from_app(e, Format::Json))?;
    // The bytes under a hash never change, but a request that is voided takes its photo down: caches
    // must ask again each time, and are told when what they hold is still good.
    let tag = format!("\"{hash}\"");
    let cache = [(CACHE_CONTROL, "no-cache".to_string()), (ETAG, tag.clone())];
    if if_none_match(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, [(CONTENT_TYPE, content_type)], bytes).into_response())
}

/// Whether a conditional request's `If-None-Match` names `tag` (or `*`); weak tags compare by value.
fn if_none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers.get_all(IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag
    })
}

/// Requests become cases at once, so no token is ever handed out; any token is unknown.
async fn token(Path(file): Path<String>) -> Answer {
    let (token, format) = Format::split(&file)?;
    Err(Open311Error::new(
        StatusCode::NOT_FOUND,
        format!("token `{token}` not found: this server answers a POST with the service_request_id itself"),
        format,
    ))
}

async fn root_post(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (name, format) = Format::split(&file)?;
    if name != "requests" && name != "servicerequestupdates" {
        return Err(Open311Error::new(StatusCode::NOT_FOUND, format!("no such call `{name}`"), format));
    }
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
    let kind = content_type.to_ascii_lowercase();
    // The query string and the body together: some clients put api_key and jurisdiction_id in the query.
    let mut params = Params::parse(query.unwrap_or_default().as_bytes());
    let mut media = None;
    if kind.starts_with("multipart/form-data") {
        // Clients that upload a photo send the fields and the photo (`media`) as a multipart form. The
        // body is already read (within the route's limit); the boundary is case-sensitive.
        let boundary =
            multer::parse_boundary(content_type).map_err(|e| bad(format, format!("not a multipart form: {e}")))?;
        let mut form =
            multer::Multipart::new(futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) }), boundary);
        let unreadable = |e: multer::Error| bad(format, format!("the multipart form cannot be read: {e}"));
        while let Some(field) = form.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "media" {
                let file_name = field.file_name().unwrap_or("media").to_string();
                let bytes = field.bytes().await.map_err(unreadable)?;
                // An empty file input sends an empty part: no photo.
                if !bytes.is_empty() {
                    media = Some((file_name, bytes.to_vec()));
                }
            } else {
                params.0.push((name, field.text().await.map_err(unreadable)?));
            }
        }
    } else if kind.is_empty() || kind.starts_with("application/x-www-form-urlencoded") {
        // Only a photo needs a large body.
        if body.len() > crate::MAX_JSON_BYTES {
            return Err(Open311Error::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the form is larger than {} bytes", crate::MAX_JSON_BYTES),
                format,
            ));
        }
        params.0.extend(Params::parse(&body).0);
    } else {
        return Err(bad(format, "send the request as application/x-www-form-urlencoded or multipart/form-data"));
    }
    let jurisdiction = jurisdiction(&state, &params, format)?;
    let client =
        state.app.api_client_by_key(params.get("api_key")).await.map_err(|e| Open311Error::from_app(e, format))?;
    if name == "servicerequestupdates" {
        if media.is_some() {
            return Err(bad(format, "media: photos go with requests, not with updates"));
        }
        let update = PostedUpdate {
            service_request_id: params.owned("service_request_id").unwrap_or_default(),
            update_id: params.owned("update_id"),
            status: params.owned("status").unwrap_or_default(),
            description: params.owned("description"),
            jurisdiction: jurisdiction.clone(),
        };
        let id = state.app.open311_post_update(&client, update).await.map_err(|e| Open311Error::from_app(e, format))?;
        return Ok(render_list(format, "service_request_updates", vec![PostedUpdateOut { update_id: id }]));
    }
    let attributes = params
        .0
        .iter()
        .filter_map(|(k, v)| {
            let code = k.strip_prefix("attribute[")?;
            let code = code.strip_suffix("][]").or_else(|| code.strip_suffix(']'))?;
            Some((code.to_string(), v.clone()))
        })
        .collect();
    let posted = PostedRequest {
        service_code: params.owned("service_code").unwrap_or_default(),
        lat: params.owned("lat"),
        long: params.owned("long"),
        address_string: params.owned("address_string"),
        address_id: params.owned("address_id"),
        attributes,
        first_name: params.owned("first_name"),
        last_name: params.owned("last_name"),
        phone: params.owned("phone"),
        description: params.owned("description"),
        media_url: params.owned("media_url"),
        media,
        jurisdiction,
    };
    let answer = state.app.open311_post(&client, posted).await.map_err(|e| Open311Error::from_app(e, format))?;
    state.metrics.cases_created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(render_list(format, "service_requests", vec![PostedOut::from(answer)]))
}
