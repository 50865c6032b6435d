//! Open311 GeoReport v2 in cityloop's terms: services are the leaf categories, a service definition
//! lists the category's extra questions, a posted request becomes a case on the `open311` channel
//! through the ordinary intake, and the request list is the public list with personal data removed.
//! Formats (JSON, XML) and the spec's error shape belong to the HTTP surface.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cityloop_domain::masking::{mask_numbers_in_text, mask_resident_text};
use cityloop_domain::open311::{extended_status, extended_status_of, status_in, update_intent, UpdateIntent};
use cityloop_domain::workflow::{Actor, Move, MoveKind, Relation};
use cityloop_domain::{Case, CaseId, CategoryId, Channel, DivisionId, Role};
use cityloop_store::{
    ApiClientRow, CaseFilter, CaseScope, CaseSort, Choice, QuestionRow, ReportRecord, ServiceDetailsRow,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, FieldErrors, Result};
use crate::intake::{NewCase, NewContact, NewLocation};
use crate::scope::Principal;
use crate::App;

/// Open311's datatypes of a service attribute.
pub const DATATYPES: &[&str] = &["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"];
/// Most requests one list answer holds (the spec's limit).
pub const MAX_PAGE_SIZE: i64 = 1000;
/// The window a request list covers when no dates are given (the spec's default).
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// Longest description the spec allows.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// One jurisdiction of a server that hosts several: the `jurisdiction_id` clients send, and the code
/// of the division (a city, or a district) whose requests it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionSetting {
    pub id: String,
    pub division: String,
}

/// The part of the platform a `jurisdiction_id` names: its divisions, all levels down.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction {
    pub id: String,
    pub divisions: Vec<DivisionId>,
}

impl Jurisdiction {
    fn covers(&self, division: Option<DivisionId>) -> bool {
        division.is_some_and(|d| self.divisions.contains(&d))
    }
}

/// A service as residents' apps list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// Whether the service has a definition with questions.
    pub metadata: bool,
    pub keywords: String,
    pub group: String,
}

/// An extra question of a service, as the spec's `attribute`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub code: String,
    #[serde(default = "yes")]
    pub variable: bool,
    pub datatype: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub datatype_description: String,
    pub order: i64,
    pub description: String,
    #[serde(default)]
    pub values: Vec<Choice>,
}

fn yes() -> bool {
    true
}

/// A service's definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

/// What an admin sets for a category's service: description, keywords and questions.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ServiceSetup {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub keywords: String,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

/// A request posted by a client application, as read from the form.
#[derive(Debug, Clone, Default)]
pub struct PostedRequest {
    pub service_code: String,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub address_id: Option<String>,
    /// `attribute[CODE]` (one value) or `attribute[CODE][]` (several), in the order sent.
    pub attributes: Vec<(String, String)>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub media_url: Option<String>,
    /// A photo sent with the request (the multipart field `media`): its file name and bytes.
    pub media: Option<(String, Vec<u8>)>,
    /// The jurisdiction named, if it is one part of the server: the request must lie inside it.
    pub jurisdiction: Option<Jurisdiction>,
}

/// The answer to a posted request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostedAnswer {
    pub service_request_id: String,
    pub service_notice: String,
}

/// Filters of the request list (the spec's, and the common extensions).
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Overrides every other filter.
    pub service_request_ids: Vec<String>,
    pub service_codes: Vec<String>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    /// `open`, `closed`, or both when empty.
    pub statuses: Vec<String>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// Only the requests of this part of the server.
    pub jurisdiction: Option<Jurisdiction>,
}

/// A request as the public sees it: no contact data, the place given down to its community, the
/// coordinates rounded to about 100 m, phone-like numbers in the text masked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicRequest {
    pub service_request_id: String,
    pub status: &'static str,
    /// FixMyStreet's finer status.
    pub extended_status: &'static str,
    pub status_notes: Option<String>,
    pub service_name: Option<String>,
    pub service_code: Option<String>,
    pub description: String,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_datetime: DateTime<Utc>,
    pub updated_datetime: DateTime<Utc>,
    pub expected_datetime: Option<DateTime<Utc>>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<String>,
}

/// One step of a request as the public sees it (FixMyStreet's `request_update`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicUpdate {
    pub update_id: String,
    pub service_request_id: String,
    pub status: &'static str,
    pub extended_status: &'static str,
    pub updated_datetime: DateTime<Utc>,
    pub description: String,
    /// The cityloop move behind the update.
    pub external_status_code: String,
}

/// An update a client application posts for a resident (FixMyStreet's POST servicerequestupdates).
#[derive(Debug, Clone, Default)]
pub struct PostedUpdate {
    pub service_request_id: String,
    /// The client's own id of the update (logged beside ours).
    pub update_id: Option<String>,
    /// `OPEN`/`REOPEN` asks for a closed request to be handled again; anything else is a comment.
    pub status: String,
    pub description: Option<String>,
    /// The jurisdiction named, if it is one part of the server: the request must be one of its own.
    pub jurisdiction: Option<Jurisdiction>,
}

/// The moves the public follows, and what each says.
const PUBLIC_MOVES: &[(MoveKind, &str)] = &[
    (MoveKind::Report, "已受理 received"),
    (MoveKind::File, "已立案 registered"),
    (MoveKind::Dispatch, "已派遣至承办单位 sent to the responsible unit"),
    (MoveKind::Sign, "承办单位已签收 accepted by the unit"),
    (MoveKind::Escalate, "已提级办理 escalated"),
    (MoveKind::Submit, "承办单位已反馈处理结果 the unit reported its result"),
    (MoveKind::Answer, "已答复 answered"),
    (MoveKind::Close, "已结案 closed"),
    (MoveKind::Reopen, "已重新办理 reopened"),
    (MoveKind::Merge, "与相同诉求合并办理 merged with the same request"),
    (MoveKind::CloseWithMaster, "随主诉求结案 closed with the request it was merged into"),
    (MoveKind::Comment, ""),
];

/// Channels on which residents write the request text themselves, for the platform to read.
const RESIDENT_WRITTEN: &[Channel] = &[Channel::Web, Channel::App, Channel::Open311];

/// Most request ids one list query may name.
pub const MAX_IDS: usize = 1000;

/// Most updates one answer holds.
pub const MAX_UPDATES: i64 = 1000;

/// A registered client application and, once, its key.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client: ApiClientRow,
    pub api_key: String,
}

/// The key hash kept in the database; the key itself is never stored.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// Rounds a coordinate to three decimals (about 100 m), so that a public marker does not point at a home.
pub fn coarse(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A name from Open311's given and family names: a Chinese name is written family name first and
/// without a space (王 + 明 → 王明), others given name first (Jane Doe).
fn full_name(first: Option<&str>, last: Option<&str>) -> String {
    let chinese = [first, last].into_iter().flatten().any(|part| part.chars().any(cityloop_text::normalize::is_han));
    let parts = if chinese { [last, first] } else { [first, last] };
    parts.into_iter().flatten().collect::<Vec<_>>().join(if chinese { "" } else { " " })
}

fn check_attribute(a: &Attribute) -> Result<()> {
    let field = |f: &str| format!("attributes[{}].{f}", a.code);
    if a.code.trim().is_empty() || a.code.len() > 100 || a.code.contains(['[', ']']) {
        return Err(AppError::invalid("attributes.code", "must be 1 to 100 characters without brackets"));
    }
    if !DATATYPES.contains(&a.datatype.as_str()) {
        return Err(AppError::invalid(field("datatype"), format!("must be one of: {}", DATATYPES.join(", "))));
    }
    if a.order < 1 {
        return Err(AppError::invalid(field("order"), "must be a positive integer"));
    }
    if a.description.trim().is_empty() {
        return Err(AppError::invalid(field("description"), "is required"));
    }
    let is_list = a.datatype.ends_with("valuelist");
    if is_list && a.values.is_empty() {
        return Err(AppError::invalid(field("values"), "a list question needs at least one value"));
    }
    let mut keys = std::collections::HashSet::new();
    if let Some(c) =
        a.values.iter().find(|c| c.key.trim().is_empty() || c.name.trim().is_empty() || !keys.insert(c.key.trim()))
    {
        return Err(AppError::invalid(
            field("values"),
            format!("each value needs its own non-empty key and a name (`{}`)", c.key),
        ));
    }
    if !is_list && !a.values.is_empty() {
        return Err(AppError::invalid(field("values"), "only list questions have values"));
    }
    Ok(())
}

/// Checks one answer against its question; returns the answer as stored.
fn check_answer(q: &QuestionRow, values: &[&str]) -> Result<serde_json::Value> {
    let field = format!("attribute[{}]", q.code);
    let keys: Vec<&str> = q.choices.iter().map(|c| c.key.as_str()).collect();
    let one = || -> Result<&str> {
        match values {
            [v] => Ok(v),
            _ => Err(AppError::invalid(&field, "takes one value")),
        }
    };
    Ok(match q.datatype.as_str() {
        "number" => {
            let v = one()?;
            let n: f64 = v.trim().parse().map_err(|_| AppError::invalid(&field, format!("`{v}` is not a number")))?;
            serde_json::json!(n)
        }
        "datetime" => {
            let v = one()?;
            DateTime::parse_from_rfc3339(v.trim())
                .map_err(|_| AppError::invalid(&field, format!("`{v}` is not an ISO 8601 date and time")))?;
            serde_json::json!(v.trim())
        }
        "singlevaluelist" => {
            let v = one()?;
            if !keys.contains(&v) {
                return Err(AppError::invalid(&field, format!("`{v}` is not one of: {}", keys.join(", "))));
            }
            serde_json::json!(v)
        }
        "multivaluelist" => {
            if let Some(v) = values.iter().find(|v| !keys.contains(v)) {
                return Err(AppError::invalid(&field, format!("`{v}` is not one of: {}", keys.join(", "))));
            }
            serde_json::json!(values)
        }
        _ => {
            let v = one()?;
            if v.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(AppError::invalid(&field, format!("is longer than {MAX_DESCRIPTION_CHARS} characters")));
            }
            serde_json::json!(v)
        }
    })
}

fn parse_coordinate(field: &str, v: &str) -> Result<f64> {
    v.trim().parse::<f64>().map_err(|_| AppError::invalid(field, format!("`{v}` is not a number")))
}

/// The title of a case posted without one: the first line of the description, shortened.
fn title_from(description: &str, service_name: &str) -> String {
    let first =
        mask_numbers_in_text(description.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(service_name));
    let first = first.as_str();
    let short: String = first.chars().take(40).collect();
    if short.chars().count() < first.chars().count() {
        format!("{short}…")
    } else {
        short
    }
}

impl App {
    /// Registers a client application (admins); the key is returned once and stored only as a hash.
    pub async fn register_api_client(&self, who: &Principal, name: &str, contact: &str) -> Result<RegisteredClient> {
        crate::admin::require_admin(Some(who))?;
        let api_key = hex::encode(rand::random::<[u8; 24]>());
        self.register_api_client_with_key(name, contact, &api_key).await
    }

    /// Registers a client under a given key (the demo city's published key).
    pub async fn register_api_client_with_key(&self, name: &str, contact: &str, key: &str) -> Result<RegisteredClient> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        let id = self.store.insert_api_client(name, &key_hash(key), contact.trim(), self.now()).await?;
        let client = ApiClientRow {
            id,
            name: name.to_string(),
            contact: contact.trim().to_string(),
            created_at: self.now(),
            revoked_at: None,
        };
        Ok(RegisteredClient { client, api_key: key.to_string() })
    }

    /// Every client application (admins).
    pub async fn api_clients(&self, who: &Principal) -> Result<Vec<ApiClientRow>> {
        crate::admin::require_admin(Some(who))?;
        Ok(self.store.list_api_clients().await?)
    }

    /// Revokes a client's key (admins).
    pub async fn revoke_api_client(&self, who: &Principal, id: i64) -> Result<()> {
        crate::admin::require_admin(Some(who))?;
        self.store.revoke_api_client(id, self.now()).await.map_err(|_| AppError::NotFound("client application".into()))
    }

    /// The client holding a key; a missing, unknown or revoked key is refused.
    pub async fn api_client_by_key(&self, key: Option<&str>) -> Result<ApiClientRow> {
        let key = key.map(str::trim).filter(|k| !k.is_empty()).ok_or_else(|| {
            AppError::Forbidden("api_key is required to post requests: ask the city for a key".into())
        })?;
        match self.store.api_client_by_key_hash(&key_hash(key)).await? {
            Some(c) if c.revoked_at.is_none() => Ok(c),
            Some(_) => Err(AppError::Forbidden("this api_key has been revoked".into())),
            None => Err(AppError::Forbidden("unknown api_key".into())),
        }
    }

    /// The services: the leaf categories, each with its top-level category as group.
    pub async fn open311_services(&self) -> Result<Vec<Service>> {
        let reference = self.reference();
        let details = self.store.list_service_details().await?;
        let questions = self.store.list_service_questions().await?;
        let mut out = Vec::new();
        for c in reference.categories.iter().filter(|c| reference.is_leaf(c.id)) {
            let top =
                reference.category_chain(c.id).last().and_then(|t| reference.category(*t)).map(|t| t.name.clone());
            let d = details.iter().find(|d| d.category_id == c.id);
            out.push(Service {
                service_code: c.code.clone(),
                service_name: c.name.clone(),
                description: d
                    .map(|d| d.description.clone())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| c.name.clone()),
                metadata: questions.iter().any(|q| q.category_id == c.id),
                keywords: d.map(|d| d.keywords.clone()).unwrap_or_default(),
                group: top.unwrap_or_default(),
            });
        }
        out.sort_by(|a, b| a.service_code.cmp(&b.service_code));
        Ok(out)
    }

    fn service_category(&self, code: &str) -> Result<CategoryId> {
        let reference = self.reference();
        reference
            .category_by_code(code.trim())
            .filter(|c| reference.is_leaf(c.id))
            .map(|c| c.id)
            .ok_or_else(|| AppError::NotFound(format!("service `{}`", code.trim())))
    }

    async fn questions_of(&self, category: CategoryId) -> Result<Vec<QuestionRow>> {
        let mut all = self.store.list_service_questions().await?;
        all.retain(|q| q.category_id == category);
        Ok(all)
    }

    /// A service's definition: its extra questions in order.
    pub async fn open311_definition(&self, code: &str) -> Result<ServiceDefinition> {
        let category = self.service_category(code)?;
        let attributes = self
            .questions_of(category)
            .await?
            .into_iter()
            .map(|q| Attribute {
                code: q.code,
                variable: q.variable,
                datatype: q.datatype,
                required: q.required,
                datatype_description: q.datatype_description,
                order: q.position,
                description: q.description,
                values: q.choices,
            })
            .collect();
        Ok(ServiceDefinition { service_code: code.trim().to_string(), attributes })
    }

    /// Sets a category's description, keywords and extra questions (admins).
    pub async fn set_service(&self, who: &Principal, code: &str, setup: ServiceSetup) -> Result<ServiceDefinition> {
        crate::admin::require_admin(Some(who))?;
        self.save_service(code, setup).await
    }

    pub(crate) async fn save_service(&self, code: &str, setup: ServiceSetup) -> Result<ServiceDefinition> {
        let category = self.service_category(code)?;
        let mut seen = std::collections::HashSet::new();
        for a in &setup.attributes {
            check_attribute(a)?;
            if !seen.insert(a.code.trim().to_string()) {
                return Err(AppError::invalid("attributes.code", format!("`{}` appears twice", a.code)));
            }
        }
        let mut orders: Vec<i64> = setup.attributes.iter().map(|a| a.order).collect();
        orders.sort_unstable();
        if orders.windows(2).any(|w| w[0] == w[1]) {
            return Err(AppError::invalid("attributes.order", "each question needs its own order"));
        }
        let details = ServiceDetailsRow {
            category_id: category,
            description: setup.description.trim().to_string(),
            keywords: setup.keywords.trim().to_string(),
        };
        let questions: Vec<QuestionRow> = setup
            .attributes
            .iter()
            .map(|a| QuestionRow {
                category_id: category,
                code: a.code.trim().to_string(),
                datatype: a.datatype.clone(),
                required: a.required && a.variable,
                variable: a.variable,
                description: a.description.trim().to_string(),
                datatype_description: a.datatype_description.trim().to_string(),
                position: a.order,
                choices: a.values.clone(),
            })
            .collect();
        self.store.replace_service(&details, &questions).await?;
        self.open311_definition(code).await
    }

    /// The part of the server a `jurisdiction_id` names: `None` for the whole of it (no id, an empty one,
    /// or the server's own `open311.jurisdiction_id`), a configured jurisdiction's divisions, or not found.
    pub fn open311_jurisdiction(&self, id: Option<&str>) -> Result<Option<Jurisdiction>> {
        let Some(id) = id.map(str::trim).filter(|id| !id.is_empty()) else { return Ok(None) };
        let settings = &self.settings;
        if id == settings.open311_jurisdiction {
            return Ok(None);
        }
        let Some(configured) = settings.open311_jurisdictions.iter().find(|j| j.id == id) else {
            let served: Vec<String> = std::iter::once(&settings.open311_jurisdiction)
                .chain(settings.open311_jurisdictions.iter().map(|j| &j.id))
                .map(|j| format!("`{j}`"))
                .collect();
            return Err(AppError::NotFound(format!(
                // Read as "jurisdiction `x` (…) not found".
                "jurisdiction `{id}` (this server serves {})",
                served.join(", ")
            )));
        };
        let reference = self.reference();
        let division = reference.division_by_code(&configured.division).ok_or_else(|| {
            AppError::NotFound(format!(
                "jurisdiction `{id}` covers division `{}`, which this platform does not hold",
                configured.division
            ))
        })?;
        Ok(Some(Jurisdiction { id: configured.id.clone(), divisions: reference.division_subtree(division.id) }))
    }

    /// Creates a case from a client application's request, through the ordinary intake.
    pub async fn open311_post(&self, client: &ApiClientRow, posted: PostedRequest) -> Result<PostedAnswer> {
        // The parameters are checked together, so that a client learns every one at fault at once.
        let mut errors = FieldErrors::default();
        let category = match posted.service_code.trim() {
            "" => {
                errors.refuse("service_code", "is required");
                None
            }
            code => errors.keep(self.service_category(code))?,
        };
        let reference = self.reference();
        let mut answers = serde_json::Map::new();
        let questions = match category {
            Some(category) => self.questions_of(category).await?,
            None => Vec::new(),
        };
        for q in questions.iter().filter(|q| q.variable) {
            let values: Vec<&str> = posted
                .attributes
                .iter()
                .filter(|(code, v)| *code == q.code && !v.trim().is_empty())
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() {
                if q.required {
                    errors.refuse(&format!("attribute[{}]", q.code), "is required");
                }
                continue;
            }
            if let Some(answer) = errors.keep(check_answer(q, &values))? {
                answers.insert(q.code.clone(), answer);
            }
        }
        let description = non_empty(&posted.description).unwrap_or_default().to_string();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.refuse("description", &format!("is longer than {MAX_DESCRIPTION_CHARS} characters"));
        }
        let address = non_empty(&posted.address_string).map(str::to_string);
        let location = match (non_empty(&posted.lat), non_empty(&posted.long)) {
            (Some(lat), Some(lon)) => {
                let lat = errors.keep(parse_coordinate("lat", lat))?;
                let lon = errors.keep(parse_coordinate("long", lon))?;
                lat.zip(lon).map(|(lat, lon)| NewLocation { lat, lon, address: address.clone() })
            }
            (None, None) => None,
            _ => {
                errors.refuse("lat", "lat and long go together");
                None
            }
        };
        // An address id names a grid: the only addressable places cityloop keeps.
        let grid = non_empty(&posted.address_id).map(str::to_string);
        if let Some(code) = grid.as_deref().filter(|code| reference.grid_by_code(code).is_none()) {
            errors.refuse("address_id", &format!("unknown grid `{code}`"));
        }
        let no_place = [&posted.lat, &posted.long, &posted.address_string, &posted.address_id];
        if no_place.iter().all(|v| non_empty(v).is_none()) {
            errors.refuse("lat", "a location is required: lat and long, address_string or address_id");
        }
        errors.finish()?;
        let Some(category) = category else {
            return Err(AppError::Internal("a service code was neither read nor refused".into()));
        };
        let service_name = reference.category(category).map(|c| c.name.clone()).unwrap_or_default();
        if let Some(j) = &posted.jurisdiction {
            // Placed as the intake will place it: the grid named, else the point's grid, else the central
            // grid of the community or street the address names (an address that names none is the
            // intake's own error).
            let division = match (&grid, &location) {
                (Some(code), _) => Some(
                    reference
                        .grid_by_code(code)
                        .ok_or_else(|| AppError::invalid("address_id", format!("unknown grid `{code}`")))?
                        .division_id,
                ),
                (None, Some(l)) => Some(reference.locate(l.lat, l.lon).and_then(|g| g.division_id)),
                (None, None) => {
                    address.as_deref().and_then(|a| reference.locate_address(a)).map(|(_, g)| g.division_id)
                }
            };
            if division.is_some_and(|d| !j.covers(d)) {
                return Err(AppError::invalid(
                    "jurisdiction_id",
                    format!("the request's location lies outside jurisdiction `{}`", j.id),
                ));
            }
        }
        let name = full_name(non_empty(&posted.first_name), non_empty(&posted.last_name));
        let contact = non_empty(&posted.phone).map(|phone| NewContact { name: name.clone(), phone: phone.to_string() });
        // A photo is checked by its content (images and PDF only) and kept with the report.
        let attachments = match &posted.media {
            Some((file_name, bytes)) => vec![
                self.store_public_attachment(file_name, bytes)
                    .await
                    .map_err(|e| match e {
                        AppError::Invalid { message, .. } => AppError::invalid("media", message),
                        other => other,
                    })?
                    .hash,
            ],
            None => Vec::new(),
        };
        let submission = serde_json::json!({
            "client": client.id,
            "client_name": client.name,
            "attributes": answers,
            "media_url": non_empty(&posted.media_url),
        });
        let input = NewCase {
            channel: Channel::Open311.as_str().to_string(),
            request_type: "help".into(),
            title: title_from(&description, &service_name),
            description: if description.is_empty() { service_name.clone() } else { description },
            category: Some(posted.service_code.trim().to_string()),
            location,
            grid,
            contact,
            address: if non_empty(&posted.lat).is_none() { address } else { None },
            submission: Some(submission),
            attachments,
            ..NewCase::default()
        };
        let actor = Actor {
            user_id: None,
            name: format!("Open311 · {}", client.name),
            roles: vec![Role::Citizen],
            unit_id: None,
        };
        let created = self.create_client_case(actor, input).await?;
        let deadline = created.preview.deadline;
        let local = reference.calendar.local_date(deadline);
        Ok(PostedAnswer {
            service_request_id: created.case.number,
            service_notice: format!("已受理，预计 {local} 前处理 (expected by {local})"),
        })
    }

    /// The public request list with the spec's filters; newest first.
    pub async fn open311_requests(&self, q: &RequestQuery) -> Result<Vec<PublicRequest>> {
        let mut f = CaseFilter::new(CaseScope::everything(), self.now());
        f.public_only = true;
        f.count_total = false;
        f.sort = CaseSort::CreatedDesc;
        let page_size = q.page_size.unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
        let page = q.page.unwrap_or(1).max(1);
        f.limit = page_size;
        f.offset = (page - 1).saturating_mul(page_size);
        if q.service_request_ids.len() > MAX_IDS {
            return Err(AppError::invalid("service_request_id", format!("names more than {MAX_IDS} requests")));
        }
        if !q.service_request_ids.is_empty() {
            f.numbers = Some(q.service_request_ids.clone());
        } else {
            let reference = self.reference();
            if !q.service_codes.is_empty() {
                let mut ids = Vec::new();
                for code in &q.service_codes {
                    let c = reference
                        .category_by_code(code.trim())
                        .ok_or_else(|| AppError::NotFound(format!("service `{}`", code.trim())))?;
                    ids.extend(reference.category_subtree(c.id));
                }
                f.categories = Some(ids);
            }
            let sync = q.updated_after.is_some() || q.updated_before.is_some();
            // Without any dates the list covers the last 90 days, as the spec says.
            if q.start_date.is_none() && q.end_date.is_none() && !sync {
                f.created_from = Some(self.now() - chrono::Duration::days(DEFAULT_WINDOW_DAYS));
            }
            f.created_from = q.start_date.or(f.created_from);
            f.created_to = q.end_date;
            f.updated_after = q.updated_after;
            f.updated_before = q.updated_before;
            if sync {
                // Oldest change first, so that a client paging through a sync misses nothing that changes meanwhile.
                f.sort = CaseSort::UpdatedAsc;
            }
            match (q.statuses.iter().any(|s| s == "open"), q.statuses.iter().any(|s| s == "closed")) {
                (true, false) => {
                    f.states = cityloop_domain::State::ALL.iter().copied().filter(|s| !s.is_terminal()).collect()
                }
                (false, true) => {
                    f.states = cityloop_domain::State::ALL.iter().copied().filter(|s| s.is_terminal()).collect()
                }
                _ => {}
            }
        }
        f.divisions = q.jurisdiction.as_ref().map(|j| j.divisions.clone());
        let mut items = self.store.list_cases(&f).await?.items;
        items.truncate(page_size as usize);
        self.public_requests(items).await
    }

    /// One request by its number (within a jurisdiction, if one is named).
    pub async fn open311_request(&self, id: &str, jurisdiction: Option<Jurisdiction>) -> Result<PublicRequest> {
        let q =
            RequestQuery { service_request_ids: vec![id.trim().to_string()], jurisdiction, ..RequestQuery::default() };
        self.open311_requests(&q).await?.pop().ok_or_else(|| AppError::NotFound(format!("request `{}`", id.trim())))
    }

    /// What happened to public requests in `[from, to)` (default: the last day), oldest first: the steps
    /// the public follows, and residents' own comments; staff remarks stay internal.
    pub async fn open311_updates(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        jurisdiction: Option<Jurisdiction>,
    ) -> Result<Vec<PublicUpdate>> {
        let to = to.unwrap_or_else(|| self.now() + chrono::Duration::seconds(1));
        let from = from.unwrap_or(to - chrono::Duration::days(1));
        let kinds: Vec<&str> = PUBLIC_MOVES.iter().map(|(k, _)| k.as_str()).collect();
        let divisions = jurisdiction.map(|j| j.divisions);
        let flows = self.store.public_flows(&kinds, from, to, divisions.as_deref(), MAX_UPDATES + 1).await?;
        let style = self.settings.open311_status_style;
        if flows.len() as i64 > MAX_UPDATES {
            return Err(AppError::invalid(
                "start_date",
                format!("more than {MAX_UPDATES} updates in the window: ask for a shorter one (start_date, end_date)"),
            ));
        }
        Ok(flows
            .into_iter()
            .filter(|(_, f, _)| f.kind != MoveKind::Comment || f.role == Some(Role::Citizen))
            .map(|(number, f, id)| {
                let said = PUBLIC_MOVES.iter().find(|(k, _)| *k == f.kind).map_or("", |(_, d)| *d);
                let description = match f.kind {
                    MoveKind::Comment => mask_numbers_in_text(f.note.as_deref().unwrap_or_default()),
                    _ => said.to_string(),
                };
                let extended = match f.kind {
                    MoveKind::CloseWithMaster => "DUPLICATE",
                    kind => extended_status_of(f.to, kind != MoveKind::Answer, kind == MoveKind::Reopen),
                };
                PublicUpdate {
                    update_id: id.to_string(),
                    service_request_id: number,
                    status: status_in(style, f.to, extended),
                    extended_status: extended,
                    updated_datetime: f.at,
                    description,
                    external_status_code: f.kind.as_str().to_string(),
                }
            })
            .collect())
    }

    /// A resident's update through the client application that posted the request: a comment, or, with
    /// `REOPEN` on a closed request, a reopening. Returns the id of the update; an update posted again
    /// with the same client `update_id` answers the first one's id and changes nothing.
    pub async fn open311_post_update(&self, client: &ApiClientRow, posted: PostedUpdate) -> Result<String> {
        let number = posted.service_request_id.trim();
        if number.is_empty() {
            return Err(AppError::invalid("service_request_id", "is required"));
        }
        let intent = update_intent(&posted.status)
            .ok_or_else(|| AppError::invalid("status", format!("`{}` is not a FixMyStreet status", posted.status)))?;
        let not_found = || AppError::NotFound(format!("request `{number}`"));
        let case = self.store.case_by_number(number).await.map_err(|_| not_found())?;
        if case.confidential || case.state == cityloop_domain::State::Voided {
            return Err(not_found());
        }
        if posted.jurisdiction.as_ref().is_some_and(|j| !j.covers(case.division_id)) {
            return Err(not_found());
        }
        let report = self.store.report_records(&[case.id]).await?;
        let posted_by = report.get(&case.id).and_then(|r| r.data["submission"]["client"].as_i64());
        if posted_by != Some(client.id) {
            return Err(AppError::Forbidden("only the application that posted a request can update it".into()));
        }
        if non_empty(&posted.update_id).is_some_and(|id| id.chars().count() > 100) {
            return Err(AppError::invalid("update_id", "must be at most 100 characters"));
        }
        // The client's own id of the update makes posting it again harmless: the first answer is repeated.
        let client_update =
            non_empty(&posted.update_id).map(|id| serde_json::json!({ "client": client.id, "update_id": id }));
        if let Some(key) = &client_update {
            let flows = self.store.flows(case.id).await?;
            if let Some((id, _)) =
                flows.iter().find(|(_, f)| f.data.get("origin").and_then(|o| o.get("open311")) == Some(key))
            {
                return Ok(id.to_string());
            }
        }
        let text = non_empty(&posted.description).map(str::to_string);
        let actor = Actor {
            user_id: None,
            name: format!("Open311 · {}", client.name),
            roles: vec![Role::Citizen],
            unit_id: None,
        };
        let relation = Relation { is_reporter: true, ..Relation::default() };
        let mut input = crate::moves::MoveInput {
            note: text.clone(),
            origin: client_update.map(|key| serde_json::json!({ "open311": key })),
            ..Default::default()
        };
        let mv = match intent {
            UpdateIntent::Reopen if case.state == cityloop_domain::State::Closed => {
                Move::Reopen { reason: String::new() }
            }
            _ => {
                input.note = None;
                Move::Comment { text: text.clone().unwrap_or_default() }
            }
        };
        self.apply_and_store(&case, &mv, &actor, relation, &input).await?;
        let flows = self.store.flows(case.id).await?;
        let (id, _) = flows.last().ok_or_else(|| AppError::Internal("no flow record after an update".into()))?;
        Ok(id.to_string())
    }

    async fn public_requests(&self, cases: Vec<Case>) -> Result<Vec<PublicRequest>> {
        let ids: Vec<_> = cases.iter().map(|c| c.id).collect();
        let reports = self.store.report_records(&ids).await?;
        let photos = self.published_photos(&cases, &reports).await?;
        let reference = self.reference();
        let style = self.settings.open311_status_style;
        Ok(cases
            .into_iter()
            .map(|c| {
                let category = c.category_id.and_then(|id| reference.category(id));
                let report = reports.get(&c.id);
                // The photo a resident sent with the request, else the address of one their app keeps.
                let media_url = photos
                    .get(&c.id)
                    .map(|hash| self.open311_media_url(&c.number, hash))
                    .or_else(|| report.and_then(|r| r.data["submission"]["media_url"].as_str()).map(str::to_string));
                // Residents wrote web, app and Open311 requests for the platform to read; what a caller
                // told the hotline, an inspector's notes and the unit's reply to them are shown by title only.
                let resident_written = RESIDENT_WRITTEN.contains(&c.channel);
                let extended = extended_status(&c);
                let name = c.contact.as_ref().map(|k| k.name.as_str());
                PublicRequest {
                    service_request_id: c.number.clone(),
                    status: status_in(style, c.state, extended),
                    extended_status: extended,
                    status_notes: c.standing_result().filter(|_| resident_written).map(|r| mask_resident_text(r, name)),
                    service_name: category.map(|k| k.name.clone()),
                    service_code: category.map(|k| k.code.clone()),
                    description: mask_resident_text(if resident_written { &c.description } else { &c.title }, name),
                    agency_responsible: c.unit_id.and_then(|u| reference.unit(u)).map(|u| u.name.clone()),
                    service_notice: None,
                    requested_datetime: c.created_at,
                    updated_datetime: c.updated_at,
                    expected_datetime: if c.state.is_terminal() { None } else { c.deadline },
                    address: c.division_id.and_then(|d| reference.division(d)).map(|d| d.name.clone()),
                    address_id: c.grid_id.and_then(|g| reference.grid(g)).map(|g| g.code.clone()),
                    lat: c.location.as_ref().map(|l| coarse(l.lat)),
                    long: c.location.as_ref().map(|l| coarse(l.lon)),
                    media_url,
                }
            })
            .collect())
    }

    /// The address of a published photo.
    fn open311_media_url(&self, number: &str, hash: &str) -> String {
        format!("{}/open311/v2/requests/{number}/media/{hash}", self.settings.public_url.trim_end_matches('/'))
    }

    /// The first photo (JPEG, PNG, WebP or GIF) each resident-written public request came in with.
    async fn published_photos(
        &self,
        cases: &[Case],
        reports: &HashMap<CaseId, ReportRecord>,
    ) -> Result<HashMap<CaseId, String>> {
        let candidates: Vec<(CaseId, &[String])> = cases
            .iter()
            .filter(|c| publishes_photos(c))
            .filter_map(|c| reports.get(&c.id).map(|r| (c.id, r.attachments.as_slice())))
            .filter(|(_, hashes)| !hashes.is_empty())
            .collect();
        let hashes: Vec<String> = candidates.iter().flat_map(|(_, h)| h.iter().cloned()).collect();
        let types = self.store.attachment_types(&hashes).await?;
        let is_image = |hash: &String| types.get(hash).is_some_and(|t| PUBLISHED_PHOTO_TYPES.contains(&t.as_str()));
        Ok(candidates
            .into_iter()
            .filter_map(|(id, hashes)| hashes.iter().find(|h| is_image(h)).map(|h| (id, h.clone())))
            .collect())
    }

    /// A photo published with a public request: only one the resident sent with it, only a JPEG, PNG, WebP or GIF,
    /// and without its metadata (a phone's photo carries the GPS position of where it was taken).
    pub async fn open311_media(&self, number: &str, hash: &str) -> Result<(String, Vec<u8>)> {
        let not_found = || AppError::NotFound(format!("photo `{hash}` of request `{number}`"));
        let case = self.store.case_by_number(number.trim()).await.map_err(|_| not_found())?;
        if !publishes_photos(&case) {
            return Err(not_found());
        }
        let reports = self.store.report_records(&[case.id]).await?;
        if !reports.get(&case.id).is_some_and(|r| r.attachments.iter().any(|h| h == hash)) {
            return Err(not_found());
        }
        let (content_type, bytes) = self.read_attachment(hash).await?;
        let published = crate::attachments::photo_without_metadata(&content_type, &bytes).ok_or_else(not_found)?;
        Ok((content_type, published))
    }
}

/// The photos published: those whose metadata is removed before they go out.
const PUBLISHED_PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Photos are published with requests the public may see that residents wrote themselves (what the
/// hotline or an inspector photographed may show people and their homes, and stays with staff).
fn publishes_photos(case: &Case) -> bool {
    !case.confidential && case.state != cityloop_domain::State::Voided && RESIDENT_WRITTEN.contains(&case.channel)
}

#[cfg(test)]
mod tests {
    use super::full_name;

    #[test]
    fn a_chinese_name_is_family_name_first_and_others_given_name_first() {
        assert_eq!(full_name(Some("明"), Some("王")), "王明");
        assert_eq!(full_name(Some("Jane"), Some("Doe")), "Jane Doe");
        assert_eq!(full_name(None, Some("王")), "王");
        assert_eq!(full_name(Some("Jane"), None), "Jane");
        assert_eq!(full_name(None, None), "");
    }
}
