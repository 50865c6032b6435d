//! The case list with filters and saved views, and the case page: details, map, attachments,
//! deadline, the timeline of flow records, and each allowed move as a button with the form it needs.

use indexmap::IndexMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use cityloop_app::moves::{CaseRef, MoveInput, UnitRef};
use cityloop_app::queries::{CaseQuery, CaseView};
use cityloop_app::{AppError, Principal, Reference};
use cityloop_domain::workflow::MoveKind;
use cityloop_domain::{Channel, RequestType, Revisit, Satisfaction, State as CaseState, UnitId, UnitKind};
use cityloop_store::SavedView;
use serde::Deserialize;

use super::{
    catalogue_unit, category_options, count_label, ctx, enum_options, fileable_category_options, form_errors,
    long_time, pending_text, render, short_time, staff_error_page, state_class, summary_rows, unit_options, CaseRow,
    Ctx, Options, COUNT_LIMIT,
};
use crate::i18n::Tr;
use crate::session::{parse_page_query, FormInput, PageId, PageQuery, Staff};
use crate::svg::Point;
use crate::WebState;

#[derive(Template)]
#[template(path = "cases.html")]
struct ListPage {
    c: Ctx,
    rows: Vec<CaseRow>,
    total: String,
    page: i64,
    pages: String,
    has_next: bool,
    prev_href: String,
    next_href: String,
    query: String,
    views: Vec<SavedView>,
    states: Options,
    categories: Options,
    units: Options,
    channels: Options,
    request_types: Options,
    sorts: Options,
    /// Only staff who call residents back search by phone.
    phone_filter: bool,
    /// Filters of the address that the form has no field for (a desk queue's "due within 24
    /// hours"): sent again with the form, and named above it.
    kept_filters: Vec<(String, String, String)>,
}

/// The list's filters that reach it only through an address, with how each is named.
const ADDRESS_ONLY_FILTERS: &[(&str, &str)] = &[
    ("grid", "field.grid"),
    ("division", "field.division"),
    ("pending", "filter.pending"),
    ("due_within_hours", "filter.due_within_hours"),
    ("reworked", "filter.reworked"),
    ("master", "filter.master"),
    ("summoned", "filter.summoned"),
    ("reported_in", "filter.reported_in"),
    ("assisting", "filter.assisting"),
];

fn page_href(raw: &str, page: i64) -> String {
    format!("/cases?{}", replace_pairs(raw, |k| k == "page", &[("page", &page.to_string())]))
}

/// A query string without the pairs whose key `drop` names, and with `add` at its end.
fn replace_pairs(query: &str, drop: impl Fn(&str) -> bool, add: &[(&str, &str)]) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| !drop(k)) {
        pairs.append_pair(&key, &value);
    }
    pairs.extend_pairs(add);
    pairs.finish()
}

/// The query string without empty fields, as saved in a view.
fn clean_query(raw: &str) -> String {
    filled_fields(raw, |k| k != "page")
}

/// The fields of a query string that hold a value and that `keep` keeps: a filter form sends every
/// field, and an empty one (全部) means no filter on it.
fn filled_fields(raw: &str, keep: impl Fn(&str) -> bool) -> String {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_bytes()).into_owned().filter(|(k, v)| !v.trim().is_empty() && keep(k)).collect();
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

async fn list_page(state: &WebState, staff: &Staff, raw: &str, c: Ctx) -> Response {
    let t = c.t;
    // A NUL character has no place in a filter (and PostgreSQL cannot compare with one).
    let mut q: CaseQuery = match parse_page_query(&filled_fields(&raw.replace("%00", ""), |_| true)) {
        Ok(q) => q,
        Err(e) => return staff_error_page(staff, &e),
    };
    q.count_limit = Some(COUNT_LIMIT);
    let page = match state.app.list_cases_without_contact(&staff.who, &q).await {
        Ok(p) => p,
        Err(e) => return staff_error_page(staff, &e),
    };
    let views = state.app.saved_views(&staff.who).await.unwrap_or_default();
    let reference = state.app.reference();
    let pages = ((page.total + page.page_size - 1) / page.page_size.max(1)).max(1);
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    let mut c = c;
    for (k, val) in form_urlencoded::parse(raw.as_bytes()).into_owned() {
        c.values.insert(k, val);
    }
    let mut states: Options =
        CaseState::ALL.iter().map(|s| (s.as_str().to_string(), t.label(*s), v(&q.state) == s.as_str())).collect();
    // Several states at once (a start page's own filter) are shown as one choice, so that the form
    // says what the list holds and sends it again.
    let several = v(&q.state);
    if several.contains(',') {
        let labels: Vec<String> = several
            .split(',')
            .filter_map(|name| CaseState::ALL.iter().find(|s| s.as_str() == name.trim()))
            .map(|s| t.label(*s))
            .collect();
        states.insert(0, (several.clone(), labels.join(" / "), true));
    }
    render(
        StatusCode::OK,
        &ListPage {
            rows: summary_rows(&t, &reference, &page.items),
            phone_filter: staff.who.works_with_contacts(),
            kept_filters: ADDRESS_ONLY_FILTERS
                .iter()
                .filter_map(|(name, label)| {
                    let value = c.values.get(*name).filter(|v| !v.trim().is_empty())?;
                    let named = match value.as_str() {
                        "true" => t.get(label).to_string(),
                        "false" => format!("{}: {}", t.get(label), t.get("common.no")),
                        _ if t.get(label).contains("{}") => t.get(label).replace("{}", value),
                        _ => format!("{} {value}", t.get(label)),
                    };
                    Some((name.to_string(), value.clone(), named))
                })
                .collect(),
            total: count_label(page.total),
            page: page.page,
            pages: if page.total > COUNT_LIMIT { format!("{pages}+") } else { pages.to_string() },
            has_next: page.page < pages,
            prev_href: page_href(raw, (page.page - 1).max(1)),
            next_href: page_href(raw, page.page + 1),
            query: clean_query(raw),
            views,
            states,
            categories: category_options(&reference, &v(&q.category)),
            units: unit_options(&reference, &v(&q.unit)),
            channels: enum_options(&t, Channel::ALL, &v(&q.channel)),
            request_types: enum_options(&t, RequestType::ALL, &v(&q.request_type)),
            sorts: ["created_desc", "created_asc", "deadline", "updated_desc"]
                .iter()
                .map(|s| (s.to_string(), t.get(&format!("sort.{s}")).to_string(), v(&q.sort) == *s))
                .collect(),
            c,
        },
    )
}

pub async fn list(State(state): State<WebState>, staff: Staff, RawQuery(raw): RawQuery) -> Response {
    let mut c = ctx(&staff.visit, Some(&staff.who), "cases.title");
    c.body_class = "wide";
    list_page(&state, &staff, raw.as_deref().unwrap_or_default(), c).await
}

/// The case list as a file, with the list's filters and the viewer's scope.
pub async fn export(State(state): State<WebState>, staff: Staff, RawQuery(raw): RawQuery) -> Response {
    let exported = async {
        let (format, rest) = cityloop_app::export::split_export_query(&staff.who, raw.as_deref().unwrap_or_default())?;
        let q: CaseQuery = parse_page_query(&filled_fields(&rest, |_| true))?;
        let export = state.app.export_case_list(&staff.who, &q, format).await?;
        Ok::<_, AppError>((format, export))
    }
    .await;
    match exported {
        Ok((format, export)) => {
            let name = state.app.export_file_name(format);
            (
                [
                    (CONTENT_TYPE, format.content_type().to_string()),
                    (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                    (CACHE_CONTROL, "no-store".to_string()),
                ],
                axum::body::Body::from_stream(export.into_stream()),
            )
                .into_response()
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn save_view(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let name = form.get("name").unwrap_or_default();
    let query = form.get("query").unwrap_or_default();
    match state.app.save_view(&staff.who, &name, &query).await {
        Ok(()) => Redirect::to(&format!("/cases?{query}")).into_response(),
        Err(e) => match form_errors(&staff.visit.tr, &e) {
            Some(errors) => {
                let mut c = ctx(&staff.visit, Some(&staff.who), "cases.title");
                c.body_class = "wide";
                c.errors = errors;
                c.labels.insert("name".into(), c.t.get("cases.view_name").into());
                let mut res = list_page(&state, &staff, &query, c).await;
                *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                res
            }
            None => staff_error_page(&staff, &e),
        },
    }
}

pub async fn delete_view(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    _form: FormInput,
) -> Response {
    match state.app.delete_view(&staff.who, id).await {
        Ok(()) => Redirect::to("/cases").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

/// One input of a move's form.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `number`, `date`, `select`, `multi`, `file`.
    pub kind: &'static str,
    pub options: Options,
    pub required: bool,
    /// A select starts with an empty choice ("—") instead of its first option.
    pub blank: bool,
    pub value: String,
    pub error: String,
}

/// A move as a button with its form.
#[derive(Debug, Clone)]
pub struct MoveForm {
    pub kind: &'static str,
    pub label: String,
    pub fields: Vec<Field>,
    pub multipart: bool,
    pub open: bool,
    /// Moves that end or undo work get a quieter button.
    pub danger: bool,
}

/// 是/否 with neither chosen.
fn yes_or_no(t: &Tr) -> Options {
    vec![("true".into(), t.get("common.yes").into(), false), ("false".into(), t.get("common.no").into(), false)]
}

/// The form of one move for one case.
pub fn move_form(
    t: &Tr,
    reference: &Reference,
    view: &CaseView,
    kind: MoveKind,
    suggested_unit: Option<&str>,
) -> MoveForm {
    let case = &view.case;
    let field = |name: &'static str, key: &str, kind: &'static str, required: bool| Field {
        name,
        label: t.get(key).to_string(),
        kind,
        options: Vec::new(),
        required,
        blank: false,
        value: String::new(),
        error: String::new(),
    };
    let with_options = |mut f: Field, options: Options| {
        f.blank = f.kind == "select" && !options.iter().any(|o| o.2);
        f.options = options;
        f
    };
    let note = field("note", "field.note", "text", false);
    let reason = field("reason", "field.reason", "textarea", true);
    let photos = field("photos", "field.photo", "file", false);
    // A resident's answers are never chosen for them: every choice starts blank.
    let satisfaction = |required: bool| {
        with_options(
            field("satisfaction", "field.satisfaction", "select", required),
            enum_options(t, Satisfaction::ALL, ""),
        )
    };

    let fields = match kind {
        MoveKind::Answer => vec![field("answer", "field.answer", "textarea", true)],
        MoveKind::File => vec![
            with_options(
                field("category", "field.category", "select", false),
                fileable_category_options(
                    reference,
                    &case.category_id.and_then(|c| reference.category(c)).map(|c| c.code.clone()).unwrap_or_default(),
                ),
            ),
            note,
        ],
        MoveKind::Void | MoveKind::Return | MoveKind::Rework => vec![reason],
        MoveKind::Dispatch => vec![
            with_options(
                field("unit", "field.unit", "select", true),
                unit_options(reference, suggested_unit.unwrap_or_default()),
            ),
            with_options(field("assisting_units", "field.assisting", "multi", false), unit_options(reference, "")),
            note,
        ],
        MoveKind::Extend => {
            let hours = case.limit.is_some_and(|l| l.counts_hours());
            let mut amount = if hours {
                field("hours", "field.hours", "number", true)
            } else {
                field("days", "field.days", "number", true)
            };
            amount.value = "1".into();
            vec![amount, reason]
        }
        MoveKind::Suspend => vec![field("until", "field.until", "date", true), reason],
        MoveKind::Submit => vec![field("result", "field.result", "textarea", true), photos],
        MoveKind::Verify => {
            // Nothing is chosen for the inspector: a finding is stated, never a default.
            let findings = vec![
                ("true".into(), t.get("verify.found").into(), false),
                ("false".into(), t.get("verify.not_found").into(), false),
            ];
            vec![with_options(field("found", "field.found", "select", true), findings), note, photos]
        }
        MoveKind::Check => {
            // An on-site check passes or fails; 是/否 would not say which.
            let verdicts = vec![
                ("true".into(), t.get("check.passed").into(), true),
                ("false".into(), t.get("check.failed").into(), false),
            ];
            vec![with_options(field("passed", "field.passed", "select", true), verdicts), note, photos]
        }
        // A resident not reached gave no answers: the others are asked for only when they were.
        MoveKind::Revisit => vec![
            with_options(field("contacted", "field.contacted", "select", true), yes_or_no(t)),
            with_options(field("solved", "field.solved", "select", false), yes_or_no(t)),
            satisfaction(false),
            note,
        ],
        MoveKind::Rate => vec![
            with_options(field("solved", "field.solved", "select", true), yes_or_no(t)),
            satisfaction(true),
            field("note", "field.comment", "textarea", false),
        ],
        MoveKind::Comment => vec![field("note", "field.note", "textarea", true)],
        MoveKind::Supervise => vec![
            with_options(
                field("level", "field.level", "select", true),
                (1..=3).map(|l| (l.to_string(), t.get(&format!("level.{l}")).to_string(), l == 1)).collect(),
            ),
            note,
        ],
        MoveKind::Whistle => {
            let departments: Options = reference
                .units
                .iter()
                // The lead unit handles the case already: it is not summoned to it.
                .filter(|u| matches!(u.kind, UnitKind::Department | UnitKind::Utility) && Some(u.id) != case.unit_id)
                .map(|u| (u.code.clone(), u.name.clone(), false))
                .collect();
            vec![with_options(field("units", "field.units", "multi", true), departments), note]
        }
        MoveKind::Merge => vec![field("into", "field.into", "text", true), note],
        _ => vec![note],
    };
    MoveForm {
        kind: kind.as_str(),
        label: t.move_label(kind),
        multipart: fields.iter().any(|f| f.kind == "file"),
        fields,
        open: false,
        danger: matches!(
            kind,
            MoveKind::Void
                | MoveKind::Return
                | MoveKind::Rework
                | MoveKind::RejectReturn
                | MoveKind::RejectExtension
                | MoveKind::RejectSuspension
        ),
    }
}

/// One flow record on the timeline.
pub struct TimelineItem {
    pub at: String,
    pub label: String,
    pub actor: String,
    pub role: String,
    pub unit: String,
    pub states: String,
    pub note: String,
    pub deadline: String,
    /// Where the move sent the case (a dispatch's units, an escalation's, a whistle's summoned).
    pub target: String,
    /// The case a merge joined this one to.
    pub master: String,
    /// What a revisit or a resident's rating found: satisfaction and whether it was solved.
    pub outcome: String,
    pub attachments: Vec<String>,
}

/// Who made a move; the platform's jobs and residents without an account in the interface's language.
fn actor_name(t: &Tr, f: &cityloop_domain::workflow::FlowEntry) -> String {
    use cityloop_domain::workflow::{RESIDENT_ACTOR_NAME, SYSTEM_ACTOR_NAME};
    match (f.actor_id, f.actor_name.as_str()) {
        (None, SYSTEM_ACTOR_NAME) => t.get("actor.system").to_string(),
        (None, RESIDENT_ACTOR_NAME) => t.get("actor.resident").to_string(),
        _ => f.actor_name.clone(),
    }
}

pub fn timeline(
    t: &Tr,
    reference: &Reference,
    flow: &[(i64, cityloop_domain::workflow::FlowEntry)],
) -> Vec<TimelineItem> {
    flow.iter()
        .map(|(_, f)| TimelineItem {
            at: long_time(reference, f.at),
            label: t.move_label(f.kind),
            actor: actor_name(t, f),
            // A resident's move is made as 市民 in the role of 市民: named once.
            role: match (f.actor_id, f.actor_name.as_str(), f.role) {
                (None, cityloop_domain::workflow::RESIDENT_ACTOR_NAME, _) => String::new(),
                (_, _, role) => role.map(|r| t.label(r)).filter(|role| *role != actor_name(t, f)).unwrap_or_default(),
            },
            unit: f.unit_id.and_then(|u| reference.unit(u)).map(|u| u.name.clone()).unwrap_or_default(),
            states: match f.from {
                Some(from) if from != f.to => format!("{} → {}", t.label(from), t.label(f.to)),
                Some(_) => String::new(),
                None => t.label(f.to),
            },
            note: f.note.clone().unwrap_or_default(),
            // A move that set the deadline (dispatch, an approved extension, a resumption, a restarted
            // limit on rework) says it.
            deadline: f
                .data
                .get("deadline")
                .and_then(|d| d.as_str())
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                .map(|d| format!("{} → {}", t.get("field.deadline"), long_time(reference, d.with_timezone(&Utc))))
                .unwrap_or_default(),
            target: move_target(t, reference, f),
            master: match f.kind {
                MoveKind::Merge => f.data.get("master_number").and_then(|n| n.as_str()).unwrap_or_default().to_string(),
                _ => String::new(),
            },
            // A rating is the resident's own word: no call to reach them.
            outcome: match f.kind {
                MoveKind::Verify => match f.data.get("found").and_then(|v| v.as_bool()) {
                    Some(found) => t.get(if found { "verify.found" } else { "verify.not_found" }).to_string(),
                    None => String::new(),
                },
                _ => revisit_outcome(f).map(|r| revisit_text(t, &r, f.kind == MoveKind::Revisit)).unwrap_or_default(),
            },
            attachments: f.attachments.clone(),
        })
        .collect()
}

/// What a revisit or a resident's rating recorded (a rating reached the resident, who gave it).
fn revisit_outcome(f: &cityloop_domain::workflow::FlowEntry) -> Option<Revisit> {
    if !matches!(f.kind, MoveKind::Revisit | MoveKind::Rate) {
        return None;
    }
    Some(Revisit {
        contacted: f.data.get("contacted").and_then(|v| v.as_bool()).unwrap_or(true),
        solved: f.data.get("solved")?.as_bool()?,
        satisfaction: serde_json::from_value(f.data.get("satisfaction")?.clone()).ok()?,
    })
}

/// A revisit's outcome in words: satisfaction, solved or not, and (for a call) that it reached them.
fn revisit_text(t: &Tr, r: &Revisit, by_call: bool) -> String {
    if !r.contacted {
        return t.get("case.not_contacted").to_string();
    }
    let solved = t.get(if r.solved { "common.yes" } else { "common.no" });
    let mut text = format!("{} · {} {solved}", t.label(r.satisfaction), t.get("field.solved"));
    if by_call {
        text.push_str(&format!(" · {}", t.get("field.contacted")));
    }
    text
}

/// The units a dispatch, an escalation or a whistle sent the case to, as the timeline names them.
fn move_target(t: &Tr, reference: &Reference, f: &cityloop_domain::workflow::FlowEntry) -> String {
    let name = |v: &serde_json::Value| v.as_i64().and_then(|id| reference.unit(UnitId(id))).map(|u| u.name.clone());
    let names = |key: &str| {
        let units = f.data.get(key).and_then(|v| v.as_array()).map(|a| a.iter().filter_map(name).collect::<Vec<_>>());
        units.unwrap_or_default().join("、")
    };
    let to = match f.kind {
        MoveKind::Dispatch => {
            let lead = f.data.get("unit").and_then(name).unwrap_or_default();
            match names("assisting_units") {
                assisting if assisting.is_empty() => lead,
                assisting => format!("{lead} · {} {assisting}", t.get("field.assisting")),
            }
        }
        MoveKind::Escalate => f.data.get("to_unit").and_then(name).unwrap_or_default(),
        MoveKind::Whistle => names("units"),
        _ => String::new(),
    };
    if to.is_empty() {
        to
    } else {
        format!("→ {to}")
    }
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: Ctx,
    number: String,
    version: i64,
    title: String,
    description: String,
    state: String,
    state_class: &'static str,
    overdue: bool,
    details: Vec<(String, String)>,
    contact: String,
    contact_hidden: bool,
    timeline: Vec<TimelineItem>,
    forms: Vec<MoveForm>,
    whistles: Vec<(String, String, String)>,
    attachments: Vec<String>,
    map: String,
    /// Dispatch hints, duplicates and the reply check, rendered by the smart-intake module.
    smart: String,
}

/// The approved extensions and the resumptions after a suspension that moved the current deadline:
/// those since the last move that set it from the limit (a dispatch, a return sent out again, a
/// reopening, a restarted limit on rework), which start it afresh.
fn moves_since_the_deadline_was_set(flow: &[(i64, cityloop_domain::workflow::FlowEntry)]) -> (usize, usize) {
    let mut counts = (0, 0);
    for (_, f) in flow.iter().filter(|(_, f)| f.data.get("deadline").is_some()) {
        match f.kind {
            MoveKind::ApproveExtension => counts.0 += 1,
            MoveKind::Resume => counts.1 += 1,
            _ => counts = (0, 0),
        }
    }
    counts
}

fn case_details(t: &Tr, reference: &Reference, view: &CaseView) -> Vec<(String, String)> {
    let case = &view.case;
    let unit_name = |u: cityloop_domain::UnitId| reference.unit(u).map(|u| u.name.clone()).unwrap_or_default();
    let mut d = vec![
        (t.get("field.request_type").to_string(), t.label(case.request_type)),
        (t.get("field.channel").to_string(), t.label(case.channel)),
        (
            t.get("field.category").to_string(),
            case.category_id
                .and_then(|c| reference.category(c))
                .map(|c| format!("{} {}", c.code, c.name))
                .unwrap_or_default(),
        ),
        (t.get("field.urgency").to_string(), t.label(case.urgency)),
        (t.get("field.unit").to_string(), case.unit_id.map(unit_name).unwrap_or_default()),
        (
            t.get("field.assisting").to_string(),
            case.assisting_units.iter().map(|u| unit_name(*u)).collect::<Vec<_>>().join("、"),
        ),
        (t.get("case.first_unit").to_string(), case.first_unit_id.map(unit_name).unwrap_or_default()),
        (
            t.get("field.grid").to_string(),
            case.grid_id.and_then(|g| reference.grid(g)).map(|g| format!("{} {}", g.code, g.name)).unwrap_or_default(),
        ),
        (
            t.get("field.division").to_string(),
            case.division_id.and_then(|d| reference.division(d)).map(|d| d.name.clone()).unwrap_or_default(),
        ),
        (
            t.get("field.address").to_string(),
            case.location.as_ref().and_then(|l| l.address.clone()).unwrap_or_default(),
        ),
        (t.get("field.created").to_string(), long_time(reference, case.created_at)),
        (
            t.get("field.deadline").to_string(),
            match (case.deadline, case.limit) {
                // After an extension or a suspension the deadline no longer follows from the limit alone.
                (Some(d), Some(l)) => {
                    let mut why = vec![t.limit(l)];
                    let (extended, suspended) = moves_since_the_deadline_was_set(&view.flow);
                    for (times, key) in [(extended, "case.extended_times"), (suspended, "case.suspended_times")] {
                        if times > 0 {
                            why.push(t.get(key).replace("{}", &times.to_string()));
                        }
                    }
                    format!("{} ({})", long_time(reference, d), why.join(" · "))
                }
                (Some(d), None) => long_time(reference, d),
                _ => String::new(),
            },
        ),
    ];
    if let (CaseState::Suspended, Some(until)) = (case.state, case.suspended_until) {
        // The deadline is set afresh when the clock starts again.
        d.push((t.get("case.suspended_until").to_string(), long_time(reference, until)));
    }
    if let Some(p) = &case.pending {
        d.push((t.get("case.pending").to_string(), pending_text(t, reference, case, p)));
    }
    if let Some(r) = case.revisit {
        d.push((t.get("case.revisit").to_string(), revisit_text(t, &r, true)));
    }
    if let Some(result) = &case.result {
        // Sent back for rework or reopened, the unit works on the case again: the result on record
        // is the one that was not accepted, not the case's answer.
        let again = matches!(case.state, CaseState::PendingSign | CaseState::Handling | CaseState::Suspended);
        let label = if again { "case.result_before" } else { "field.result" };
        d.push((t.get(label).to_string(), result.clone()));
    }
    d.retain(|(_, v)| !v.is_empty());
    d
}

async fn case_page(
    state: &WebState,
    who: &Principal,
    view: CaseView,
    mut c: Ctx,
    failed: Option<(&str, &FormInput)>,
) -> Response {
    let t = c.t;
    let reference = state.app.reference();
    let case = &view.case;
    let suggested = match view.allowed_moves.contains(&MoveKind::Dispatch) {
        true => catalogue_unit(state, case).await.ok().flatten().map(|u| u.code),
        false => None,
    };
    let mut forms: Vec<MoveForm> =
        view.allowed_moves.iter().map(|k| move_form(&t, &reference, &view, *k, suggested.as_deref())).collect();
    if let Some((kind, form)) = failed {
        for f in forms.iter_mut().filter(|f| f.kind == kind) {
            f.open = true;
            for field in &mut f.fields {
                field.error = c.err(field.name);
                c.labels.insert(field.name.to_string(), field.label.clone());
                // As sent, blank too: a field emptied is not drawn again with its default.
                if let Some((_, v)) = form.fields.iter().find(|(k, _)| k == field.name) {
                    field.value = v.clone();
                }
            }
        }
    }
    let attachments: Vec<String> = view.flow.iter().flat_map(|(_, f)| f.attachments.iter().cloned()).collect();
    let points: Vec<Point> = case
        .location
        .as_ref()
        .map(|l| Point {
            lat: l.lat,
            lon: l.lon,
            class: state_class(case.state),
            title: case.title.clone(),
            href: None,
        })
        .into_iter()
        .collect();
    let map = if case.location.is_some() {
        let grids: Vec<_> = case.grid_id.into_iter().collect();
        state.map().grids("case-map", &grids, &points)
    } else {
        String::new()
    };
    c.title = format!("{} {}", case.number, case.title);
    c.body_class = "wide";
    let whistles = view
        .whistles
        .iter()
        .map(|w| {
            (
                reference.unit(w.unit_id).map(|u| u.name.clone()).unwrap_or_default(),
                long_time(&reference, w.report_by),
                w.reported_at.map_or_else(
                    || t.get("case.waiting").to_string(),
                    |at| format!("{} {}", t.get("case.reported_in"), short_time(&reference, at)),
                ),
            )
        })
        .collect();
    let (contact, contact_hidden) = match &view.contact {
        Some(ct) => (format!("{} {}", ct.name, ct.phone), false),
        None => (String::new(), case.confidential && case.contact.is_some()),
    };
    let status = if failed.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let smart = super::smart::case_panels(state, who, &t, &view).await;
    render(
        status,
        &CasePage {
            number: case.number.clone(),
            version: case.version,
            title: case.title.clone(),
            description: case.description.clone(),
            state: t.label(case.state),
            state_class: state_class(case.state),
            overdue: view.overdue,
            details: case_details(&t, &reference, &view),
            contact,
            contact_hidden,
            timeline: timeline(&t, &reference, &view.flow),
            forms,
            whistles,
            attachments,
            map,
            smart,
            c,
        },
    )
}

#[derive(Deserialize)]
pub struct DoneParam {
    done: Option<String>,
    /// A move asked for elsewhere that was refused (the merge chosen on the workbench).
    failed: Option<String>,
}

pub async fn show(
    State(state): State<WebState>,
    staff: Staff,
    Path(number): Path<String>,
    PageQuery(q): PageQuery<DoneParam>,
) -> Response {
    let t = staff.visit.tr;
    let view = match state.app.case_view(&staff.who, &CaseRef::Number(number)).await {
        Ok(v) => v,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let mut c = ctx(&staff.visit, Some(&staff.who), "case.details");
    if let Some(kind) = q.done.as_deref().and_then(MoveKind::parse) {
        c.flash = Some(format!("{} · {}", t.move_label(kind), t.get("common.done")));
    }
    if let Some(kind) = q.failed.as_deref().and_then(MoveKind::parse) {
        c.flash = Some(format!("{} · {}", t.move_label(kind), t.get("case.move_refused")));
    }
    case_page(&state, &staff.who, view, c, None).await
}

fn flag(form: &FormInput, name: &str) -> Option<bool> {
    form.get(name).map(|v| matches!(v.as_str(), "true" | "on" | "1" | "yes"))
}

/// A whole number of a form. One too large or below zero is held at the nearest end of the range, so
/// that the use case says which range it must lie in rather than the form that it is not a number.
pub fn number(form: &FormInput, name: &str) -> Result<Option<u32>, AppError> {
    form.get(name)
        .map(|v| match v.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) if v.parse::<i128>().is_ok() => Ok(if v.starts_with('-') { 0 } else { u32::MAX }),
            Err(_) => Err(AppError::invalid(name, "must be a whole number")),
        })
        .transpose()
}

/// An extension's amount: its form holds one field, hours or days by the case's limit, so a blank one
/// is marked there rather than told as "give either hours or days".
fn amount(form: &FormInput, name: &str) -> Result<Option<u32>, AppError> {
    match number(form, name)? {
        None if form.fields.iter().any(|(k, _)| k == name) => Err(AppError::invalid(name, "is required")),
        given => Ok(given),
    }
}

/// Reads a move's form into the use case's input; uploaded photos are stored first.
pub async fn move_input(state: &WebState, who: &Principal, form: &FormInput) -> Result<MoveInput, AppError> {
    let mut attachments = Vec::new();
    for upload in form.uploads() {
        // A refused file is shown next to the form's photo field.
        let stored = state.app.store_attachment(who, &upload.file_name, &upload.bytes).await.map_err(|e| match e {
            AppError::Invalid { message, .. } | AppError::TooLarge(message) => {
                AppError::Invalid { field: "photos".into(), message }
            }
            e => e,
        })?;
        attachments.push(stored.hash);
    }
    let units = |name: &str| {
        let all = form.all(name);
        (!all.is_empty()).then(|| all.into_iter().map(UnitRef::Code).collect::<Vec<_>>())
    };
    let unreached = flag(form, "contacted") == Some(false);
    Ok(MoveInput {
        note: form.get("note"),
        version: form.get("version").and_then(|v| v.parse().ok()),
        reason: form.get("reason"),
        answer: form.get("answer"),
        category: form.get("category"),
        unit: form.get("unit").map(UnitRef::Code),
        assisting_units: units("assisting_units"),
        hours: amount(form, "hours")?,
        days: amount(form, "days")?,
        until: form.get("until"),
        result: form.get("result"),
        passed: flag(form, "passed"),
        found: flag(form, "found"),
        contacted: flag(form, "contacted"),
        // A resident not reached said nothing: the form's other answers (their defaults) are moot.
        solved: if unreached { Some(false) } else { flag(form, "solved") },
        satisfaction: if unreached { Some("unsatisfied".into()) } else { form.get("satisfaction") },
        level: number(form, "level")?,
        units: units("units"),
        into: form.get("into").map(CaseRef::Number),
        attachments: (!attachments.is_empty()).then_some(attachments),
        article: form
            .get("article")
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().map_err(|_| AppError::invalid("article", "must be an article id")))
            .transpose()?,
        origin: None,
    })
}

/// Where to go after a move: a local `back` path given by the form (told which move was made on
/// which case, to say so), or the case page.
fn after_move(form: &FormInput, number: &str, kind: &str) -> String {
    match super::local_path(form.get("back").as_deref()) {
        Some(back) => {
            // The page may still say what was done before (a move, a bulk dispatch): say only this.
            let (path, query) = back.split_once('?').unwrap_or((back.as_str(), ""));
            let earlier = |k: &str| matches!(k, "done" | "case" | "dispatched" | "failed");
            format!("{path}?{}", replace_pairs(query, earlier, &[("done", kind), ("case", number)]))
        }
        None => format!("/cases/{number}?done={kind}"),
    }
}

pub async fn make_move(
    State(state): State<WebState>,
    staff: Staff,
    Path((number, kind)): Path<(String, String)>,
    form: FormInput,
) -> Response {
    let t = staff.visit.tr;
    let outcome = async {
        let input = move_input(&state, &staff.who, &form).await?;
        state.app.perform_move(&staff.who, &number, &kind, input).await
    }
    .await;
    match outcome {
        Ok(_) => {
            let mut to = after_move(&form, &number, &kind);
            // A move that hands the case on (escalating it, say) may leave it out of the user's sight:
            // back to their own queue, which says what was done, rather than to a page they may not see.
            if to.starts_with("/cases/")
                && state.app.visible_case(&staff.who, &CaseRef::Number(number.clone())).await.is_err()
            {
                to = match super::home_of(&staff.who) {
                    "/inbox" => format!("/inbox?done={kind}&case={number}"),
                    home => home.to_string(),
                };
            }
            Redirect::to(&to).into_response()
        }
        Err(e) => {
            let view = match state.app.case_view(&staff.who, &CaseRef::Number(number.clone())).await {
                Ok(v) => v,
                Err(_) => return staff_error_page(&staff, &e),
            };
            let mut c = ctx(&staff.visit, Some(&staff.who), "case.details");
            match form_errors(&t, &e) {
                Some(errors) => {
                    c.errors = errors;
                    case_page(&state, &staff.who, view, c, Some((kind.as_str(), &form))).await
                }
                None => {
                    let Some((status, message)) = super::error_answer(&t, &e) else {
                        return staff_error_page(&staff, &e);
                    };
                    // Shown in the error summary at the top, not as a success banner.
                    c.errors = IndexMap::from([("_move".to_string(), message)]);
                    let mut res = case_page(&state, &staff.who, view, c, None).await;
                    *res.status_mut() = status;
                    res
                }
            }
        }
    }
}

/// An attachment, for the user who uploaded it and those who may see a case that holds it.
pub async fn attachment(State(state): State<WebState>, staff: Staff, Path(hash): Path<String>) -> Response {
    match state.app.read_attachment_for(&staff.who, &hash).await {
        Ok((content_type, bytes)) => {
            ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "private, max-age=86400".to_string())], bytes)
                .into_response()
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}
