//! The resident portal, without an account: report a problem with a photo and a place, follow a
//! request by its number and phone, rate the outcome after closure, and the public map and list
//! of requests with personal data removed (no names, phones or addresses; places rounded).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::moves::MoveInput;
use cityloop_app::portal::TrackedCase;
use cityloop_app::AppError;
use cityloop_domain::workflow::{resident_view, MoveKind};
use cityloop_domain::{RequestType, Satisfaction};
use serde::Deserialize;

use super::cases::{timeline, TimelineItem};
use super::{ctx, enum_options, error_page, form_errors, render, short_time, state_class, Ctx, Options};
use crate::i18n::field_message;
use crate::session::{FormInput, PageQuery, Staff, Visit};
use crate::svg::Point;
use crate::WebState;

/// Request types a resident chooses from.
const RESIDENT_TYPES: &[RequestType] = &[
    RequestType::Complaint,
    RequestType::Help,
    RequestType::Consultation,
    RequestType::Suggestion,
    RequestType::Report,
    RequestType::Praise,
];

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    c: Ctx,
    types: Options,
    map: String,
    submitted: Option<String>,
}

#[derive(Deserialize)]
pub struct SubmittedParam {
    submitted: Option<String>,
}

fn home_page(state: &WebState, mut c: Ctx, submitted: Option<String>, status: StatusCode) -> Response {
    let t = c.t;
    if let Some(n) = &submitted {
        c.flash = Some(format!("{} {n}", t.get("portal.submitted")));
    }
    c.body_class = "portal";
    // The resident's words for the fields the staff call otherwise, in the error summary too.
    c.labels.insert("phone".into(), t.get("field.contact_phone").into());
    c.labels.insert("file".into(), t.get("field.photo").into());
    let types = enum_options(&t, RESIDENT_TYPES, &c.val("request_type", "complaint"));
    render(status, &HomePage { types, map: state.map().picker("portal-map", &[]), submitted, c })
}

pub async fn home(State(state): State<WebState>, visit: Visit, PageQuery(q): PageQuery<SubmittedParam>) -> Response {
    let c = ctx(&visit, None, "portal.title");
    let submitted = q.submitted.filter(|n| cityloop_domain::number::looks_like_case_number(n));
    home_page(&state, c, submitted, StatusCode::OK)
}

pub async fn submit(
    State(state): State<WebState>,
    visit: Visit,
    signed_in: Option<Staff>,
    form: FormInput,
) -> Response {
    let t = visit.tr;
    // Every required field left empty is marked at once, not one per try.
    let missing: Vec<&str> = ["title", "description", "phone"].into_iter().filter(|f| form.get(f).is_none()).collect();
    if !missing.is_empty() {
        let mut c = ctx(&visit, None, "portal.title");
        c.errors = missing.iter().map(|f| (f.to_string(), field_message(&t, "is required"))).collect();
        c.values = form.values();
        return home_page(&state, c, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let outcome = async {
        let mut input = super::intake::new_case_from(&form, "web")?;
        if !RESIDENT_TYPES.iter().any(|r| r.as_str() == input.request_type) {
            return Err(AppError::invalid("request_type", "choose one of the listed types"));
        }
        // Residents choose no category or grid code: the operators classify, the map places.
        input.category = None;
        input.grid = None;
        input.urgency = None;
        let account = signed_in.as_ref().map(|s| &s.who);
        for upload in form.uploads() {
            // A photo too large is the form's error, shown beside the photo with the rest kept.
            let stored = state.app.store_portal_attachment(account, &upload.file_name, &upload.bytes).await;
            let stored = stored.map_err(|e| match e {
                AppError::TooLarge(message) => AppError::invalid("file", message),
                other => other,
            })?;
            input.attachments.push(stored.hash);
        }
        state.app.create_portal_case(account, input, form.get("form_key").as_deref()).await
    }
    .await;
    match outcome {
        Ok(created) => Redirect::to(&format!("/portal?submitted={}", created.case.number)).into_response(),
        Err(e) => match form_errors(&t, &e) {
            Some(errors) => {
                let mut c = ctx(&visit, None, "portal.title");
                c.errors = errors;
                // A resident knows no grid codes: an address the city cannot place asks for the map instead.
                let unplaced =
                    e.field_errors().iter().any(|f| f.field == "address" && f.message.starts_with("names no known"));
                if unplaced {
                    c.errors.insert("address".into(), t.get("portal.address_unknown").into());
                }
                c.values = form.values();
                home_page(&state, c, None, StatusCode::UNPROCESSABLE_ENTITY)
            }
            None => error_page(&t, &e),
        },
    }
}

#[derive(Template)]
#[template(path = "portal/track.html")]
struct TrackPage {
    c: Ctx,
    found: Option<Tracked>,
    not_found: bool,
    satisfactions: Options,
}

/// A followed request as the portal shows it.
struct Tracked {
    number: String,
    phone: String,
    title: String,
    state: String,
    state_class: &'static str,
    result: String,
    timeline: Vec<TimelineItem>,
    can_rate: bool,
    can_reopen: bool,
    /// The number and state of the case a merged request is handled with.
    master: Option<(String, String)>,
}

fn tracked(state: &WebState, c: &Ctx, found: &TrackedCase, phone: &str) -> Tracked {
    let reference = state.app.reference();
    let flow = resident_view(&found.flow);
    let mut items = timeline(&c.t, &reference, &flow);
    for i in &mut items {
        // The portal is not signed in: no names at all, not even the resident's own.
        i.actor.clear();
        i.role.clear();
        i.unit.clear();
    }
    Tracked {
        number: found.case.number.clone(),
        phone: phone.to_string(),
        title: found.case.title.clone(),
        state: c.t.label(found.case.state),
        state_class: state_class(found.case.state),
        result: found.case.standing_result().unwrap_or_default().to_string(),
        timeline: items,
        can_rate: found.can_rate,
        can_reopen: found.can_reopen,
        master: found.master.as_ref().map(|(number, state)| (number.clone(), c.t.label(*state))),
    }
}

fn track_page(
    state: &WebState,
    mut c: Ctx,
    found: Option<(&TrackedCase, &str)>,
    not_found: bool,
    status: StatusCode,
) -> Response {
    c.body_class = "portal";
    let t = c.t;
    let found = found.map(|(f, phone)| tracked(state, &c, f, phone));
    // Nothing is chosen for the resident: a click on 提交 alone must not record 满意, 已解决.
    let satisfactions = enum_options(&t, Satisfaction::ALL, &c.val("satisfaction", ""));
    render(status, &TrackPage { c, found, not_found, satisfactions })
}

pub async fn track_form(State(state): State<WebState>, visit: Visit) -> Response {
    track_page(&state, ctx(&visit, None, "portal.track"), None, false, StatusCode::OK)
}

pub async fn track(State(state): State<WebState>, visit: Visit, form: FormInput) -> Response {
    let number = form.get("number").unwrap_or_default();
    let phone = form.get("phone").unwrap_or_default();
    let mut c = ctx(&visit, None, "portal.track");
    c.values = form.values();
    match state.app.track_case(&number, &phone).await {
        Ok(found) => track_page(&state, c, Some((&found, &phone)), false, StatusCode::OK),
        Err(AppError::NotFound(_)) => track_page(&state, c, None, true, StatusCode::NOT_FOUND),
        Err(e) => error_page(&visit.tr, &e),
    }
}

async fn resident_move(state: &WebState, visit: &Visit, form: &FormInput, kind: MoveKind) -> Response {
    let number = form.get("number").unwrap_or_default();
    let phone = form.get("phone").unwrap_or_default();
    let outcome = match kind {
        MoveKind::Rate => {
            let input = MoveInput {
                solved: form.get("solved").map(|v| v == "true"),
                satisfaction: form.get("satisfaction"),
                note: form.get("note"),
                ..MoveInput::default()
            };
            state.app.rate_as_resident(&number, &phone, &input).await
        }
        _ => state.app.reopen_as_resident(&number, &phone, &form.get("reason").unwrap_or_default()).await,
    };
    let mut c = ctx(visit, None, "portal.track");
    c.values = form.values();
    match outcome {
        Ok(found) => {
            c.flash =
                Some(visit.tr.get(if kind == MoveKind::Rate { "portal.rated" } else { "portal.reopened" }).to_string());
            track_page(state, c, Some((&found, &phone)), false, StatusCode::OK)
        }
        Err(AppError::NotFound(_)) => track_page(state, c, None, true, StatusCode::NOT_FOUND),
        Err(e) => match (form_errors(&visit.tr, &e), state.app.track_case(&number, &phone).await) {
            (Some(errors), Ok(found)) => {
                c.errors = errors;
                c.labels.insert("note".into(), visit.tr.get("field.comment").into());
                track_page(state, c, Some((&found, &phone)), false, StatusCode::UNPROCESSABLE_ENTITY)
            }
            // Sent twice (a double click, a second tab, a reload): the request has moved on, and the
            // resident sees where it is now rather than the staff's account of the refused move.
            (None, Ok(found)) if matches!(e, AppError::IllegalMove { .. } | AppError::StaleVersion { .. }) => {
                c.flash = Some(visit.tr.get("portal.already_done").to_string());
                track_page(state, c, Some((&found, &phone)), false, StatusCode::CONFLICT)
            }
            _ => error_page(&visit.tr, &e),
        },
    }
}

pub async fn rate(State(state): State<WebState>, visit: Visit, form: FormInput) -> Response {
    resident_move(&state, &visit, &form, MoveKind::Rate).await
}

pub async fn reopen(State(state): State<WebState>, visit: Visit, form: FormInput) -> Response {
    resident_move(&state, &visit, &form, MoveKind::Reopen).await
}

#[derive(Template)]
#[template(path = "portal/requests.html")]
struct PublicList {
    c: Ctx,
    rows: Vec<PublicRow>,
    map: String,
    page: i64,
    has_more: bool,
}

struct PublicRow {
    number: String,
    title: String,
    category: String,
    place: String,
    state: String,
    state_class: &'static str,
    created: String,
}

#[derive(Deserialize)]
pub struct PageParam {
    /// Read leniently: a visitor's mistyped address (`?page=abc`) shows the first page.
    page: Option<String>,
}

/// Rounds a coordinate to three decimals (about 100 m), so that a marker does not point at a home.
fn coarse(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub async fn public_list(State(state): State<WebState>, visit: Visit, PageQuery(p): PageQuery<PageParam>) -> Response {
    let t = visit.tr;
    let page = p.page.and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(1);
    let list = match state.app.public_cases(page, 50).await {
        Ok(l) => l,
        Err(e) => return error_page(&t, &e),
    };
    let reference = state.app.reference();
    let rows = list
        .items
        .iter()
        .map(|case| PublicRow {
            number: case.number.clone(),
            title: case.title.clone(),
            category: case.category_id.and_then(|c| reference.category(c)).map(|c| c.name.clone()).unwrap_or_default(),
            place: case.division_id.and_then(|d| reference.division(d)).map(|d| d.name.clone()).unwrap_or_default(),
            state: t.label(case.state),
            state_class: state_class(case.state),
            created: short_time(&reference, case.created_at),
        })
        .collect();
    let points: Vec<Point> = list
        .items
        .iter()
        .filter_map(|case| {
            case.location.as_ref().map(|l| Point {
                lat: coarse(l.lat),
                lon: coarse(l.lon),
                class: state_class(case.state),
                title: case.title.clone(),
                href: None,
            })
        })
        .collect();
    let mut c = ctx(&visit, None, "portal.public");
    c.body_class = "portal";
    let map = state.map().picker("public-map", &points);
    render(StatusCode::OK, &PublicList { map, rows, page: list.page, has_more: list.has_more, c })
}
