//! What the API sends: its own shapes, built from use-case results (never database rows).

use chrono::{DateTime, FixedOffset, Utc};
use cityloop_app::queries::{CaseSummary, CaseView};
use cityloop_app::Reference;
use cityloop_domain::workflow::FlowEntry;
use cityloop_domain::{Case, PendingRequest};
use serde::Serialize;
use utoipa::ToSchema;

/// Times are shown in the city's local offset.
fn local(reference: &Reference, t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&reference.calendar.offset())
}

fn opt_local(reference: &Reference, t: Option<DateTime<Utc>>) -> Option<DateTime<FixedOffset>> {
    t.map(|t| local(reference, t))
}

/// An open case that may be about the same problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateDto {
    pub case_id: i64,
    pub number: String,
    pub title: String,
    pub state: String,
    pub created_at: DateTime<FixedOffset>,
    /// Text similarity (Jaccard of character bigrams), 0 to 1.
    pub similarity: f32,
    pub distance_m: Option<f64>,
    pub same_category: bool,
    /// Ranking score: similarity, lowered with distance, raised for the same category.
    pub score: f32,
}

impl DuplicateDto {
    pub fn new(reference: &Reference, m: cityloop_app::duplicates::DuplicateMatch) -> Self {
        Self {
            case_id: m.case_id,
            number: m.number,
            title: m.title,
            state: m.state,
            created_at: local(reference, m.created_at),
            similarity: m.similarity,
            distance_m: m.distance_m,
            same_category: m.same_category,
            score: m.score,
        }
    }
}

/// A place.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationDto {
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
}

/// Contact data, masked or hidden by role.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactDto {
    pub name: String,
    pub phone: String,
}

/// The revisit outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisitDto {
    pub contacted: bool,
    pub solved: bool,
    /// `satisfied`, `basically_satisfied` or `unsatisfied`.
    pub satisfaction: String,
}

/// A request waiting for the dispatcher.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingDto {
    /// `extension` or `suspension`.
    pub kind: String,
    pub reason: String,
    /// Extension: amount in the units of the case's limit.
    pub amount: Option<u32>,
    /// Suspension: until when.
    pub until: Option<DateTime<FixedOffset>>,
}

/// One flow record.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowDto {
    pub id: i64,
    /// The move, e.g. `dispatch`.
    #[serde(rename = "move")]
    pub kind: String,
    pub from: Option<String>,
    pub to: String,
    /// The actor's display name (`系统` for the platform).
    pub actor: String,
    pub actor_id: Option<i64>,
    pub role: Option<String>,
    /// The actor's unit id.
    pub unit: Option<i64>,
    pub at: DateTime<FixedOffset>,
    pub note: Option<String>,
    pub attachments: Vec<String>,
    /// The move's own fields.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl FlowDto {
    pub fn new(reference: &Reference, id: i64, f: &FlowEntry) -> Self {
        Self {
            id,
            kind: f.kind.as_str().into(),
            from: f.from.map(|s| s.as_str().into()),
            to: f.to.as_str().into(),
            actor: f.actor_name.clone(),
            actor_id: f.actor_id.map(|u| u.0),
            role: f.role.map(|r| r.as_str().into()),
            unit: f.unit_id.map(|u| u.0),
            at: local(reference, f.at),
            note: f.note.clone(),
            attachments: f.attachments.clone(),
            data: f.data.clone(),
        }
    }
}

/// A unit summoned by a whistle.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhistleDto {
    pub unit: i64,
    pub unit_name: Option<String>,
    pub summoned_at: DateTime<FixedOffset>,
    pub report_by: DateTime<FixedOffset>,
    pub reported_at: Option<DateTime<FixedOffset>>,
}

/// A case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDto {
    pub id: i64,
    /// Readable number, `YYYYMMDD-NNNNNN`.
    pub number: String,
    pub state: String,
    pub state_label: String,
    /// Send it back with a move to refuse the move if the case changed meanwhile.
    pub version: i64,
    pub channel: String,
    pub request_type: String,
    pub title: String,
    pub description: String,
    /// Category code.
    pub category: Option<String>,
    pub category_name: Option<String>,
    pub urgency: String,
    pub location: Option<LocationDto>,
    /// Grid code.
    pub grid: Option<String>,
    /// Division (community) code.
    pub division: Option<String>,
    pub division_name: Option<String>,
    /// Lead unit id.
    pub unit: Option<i64>,
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    pub assisting_units: Vec<i64>,
    /// 首办: the first unit that received the case.
    pub first_unit: Option<i64>,
    pub contact: Option<ContactDto>,
    pub confidential: bool,
    pub deadline: Option<DateTime<FixedOffset>>,
    /// Past the deadline now, while the clock runs.
    pub overdue: bool,
    /// When it first went overdue.
    pub overdue_at: Option<DateTime<FixedOffset>>,
    pub extensions: u32,
    pub suspensions: u32,
    pub suspended_until: Option<DateTime<FixedOffset>>,
    pub pending: Option<PendingDto>,
    pub returns: u32,
    pub reworks: u32,
    pub reopens: u32,
    pub supervision_level: u32,
    pub escalations: u32,
    /// The master case id, for a merged case.
    pub master: Option<i64>,
    pub result: Option<String>,
    pub revisit: Option<RevisitDto>,
    /// The resident has rated the outcome (`rate`).
    pub rated: bool,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    /// History, oldest first (only on single-case reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<Vec<FlowDto>>,
    /// Moves the caller may make now (only on single-case reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_moves: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whistles: Option<Vec<WhistleDto>>,
}

impl CaseDto {
    fn base(reference: &Reference, c: &Case, contact: Option<cityloop_domain::Contact>, overdue: bool) -> Self {
        let category = c.category_id.and_then(|id| reference.category(id));
        let unit = c.unit_id.and_then(|id| reference.unit(id));
        let division = c.division_id.and_then(|id| reference.division(id));
        Self {
            id: c.id.0,
            number: c.number.clone(),
            state: c.state.as_str().into(),
            state_label: c.state.label_zh().into(),
            version: c.version,
            channel: c.channel.as_str().into(),
            request_type: c.request_type.as_str().into(),
            title: c.title.clone(),
            description: c.description.clone(),
            category: category.map(|x| x.code.clone()),
            category_name: category.map(|x| x.name.clone()),
            urgency: c.urgency.as_str().into(),
            location: c.location.as_ref().map(|l| LocationDto { lat: l.lat, lon: l.lon, address: l.address.clone() }),
            grid: c.grid_id.and_then(|g| reference.grid(g)).map(|g| g.code.clone()),
            division: division.map(|d| d.code.clone()),
            division_name: division.map(|d| d.name.clone()),
            unit: c.unit_id.map(|u| u.0),
            unit_code: unit.map(|u| u.code.clone()),
            unit_name: unit.map(|u| u.name.clone()),
            assisting_units: c.assisting_units.iter().map(|u| u.0).collect(),
            first_unit: c.first_unit_id.map(|u| u.0),
            contact: contact.map(|x| ContactDto { name: x.name, phone: x.phone }),
            confidential: c.confidential,
            deadline: opt_local(reference, c.deadline),
            overdue,
            overdue_at: opt_local(reference, c.overdue_at),
            extensions: c.extensions,
            suspensions: c.suspensions,
            suspended_until: opt_local(reference, c.suspended_until),
            pending: c.pending.as_ref().map(|p| match p {
                PendingRequest::Extension { amount, reason } => {
                    PendingDto { kind: "extension".into(), reason: reason.clone(), amount: Some(*amount), until: None }
                }
                PendingRequest::Suspension { until, reason } => PendingDto {
                    kind: "suspension".into(),
                    reason: reason.clone(),
                    amount: None,
                    until: Some(local(reference, *until)),
                },
            }),
            returns: c.returns,
            reworks: c.reworks,
            reopens: c.reopens,
            supervision_level: c.supervision_level,
            escalations: c.escalations,
            master: c.master_id.map(|m| m.0),
            result: c.result.clone(),
            revisit: c.revisit.map(|r| RevisitDto {
                contacted: r.contacted,
                solved: r.solved,
                satisfaction: r.satisfaction.as_str().into(),
            }),
            rated: c.rated,
            created_at: local(reference, c.created_at),
            updated_at: local(reference, c.updated_at),
            closed_at: opt_local(reference, c.closed_at),
            flow: None,
            allowed_moves: None,
            whistles: None,
        }
    }

    /// A case in a list.
    pub fn summary(reference: &Reference, s: CaseSummary) -> Self {
        Self::base(reference, &s.case, s.contact, s.overdue)
    }

    /// A case with its history and the caller's moves.
    pub fn full(reference: &Reference, v: CaseView) -> Self {
        let mut dto = Self::base(reference, &v.case, v.contact, v.overdue);
        dto.flow = Some(v.flow.iter().map(|(id, f)| FlowDto::new(reference, *id, f)).collect());
        dto.allowed_moves = Some(v.allowed_moves.iter().map(|m| m.as_str().to_string()).collect());
        dto.whistles = Some(
            v.whistles
                .iter()
                .map(|w| WhistleDto {
                    unit: w.unit_id.0,
                    unit_name: reference.unit(w.unit_id).map(|u| u.name.clone()),
                    summoned_at: local(reference, w.summoned_at),
                    report_by: local(reference, w.report_by),
                    reported_at: opt_local(reference, w.reported_at),
                })
                .collect(),
        );
        dto
    }
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseListDto {
    pub items: Vec<CaseDto>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// The error body of every failed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// One field at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub message: String,
}

/// Details of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `malformed`, `unauthorized`, `forbidden`, `not_found`, `illegal_move`, `stale_version`,
    /// `duplicate`, `invalid`, `too_large`, `unavailable`, `internal`.
    pub code: String,
    pub message: String,
    /// For `invalid`: the (first) field at fault.
    pub field: Option<String>,
    /// For `invalid`: every field at fault, in the request's order (the fields of a new case or a new
    /// user are checked together).
    pub fields: Option<Vec<FieldErrorDoc>>,
    /// For `illegal_move`: what the caller may do instead.
    pub allowed_moves: Option<Vec<String>>,
    /// For `stale_version`.
    pub current_version: Option<i64>,
}
