//! Page handlers by area, and what they share: the page frame (title, navigation by role,
//! language switch, CSRF token), error pages, and case rows formatted for tables.

pub mod access;
pub mod account;
pub mod admin;
pub mod auth;
pub mod cases;
pub mod desk;
pub mod evaluation;
pub mod inspector;
pub mod intake;
pub mod leader;
pub mod portal;
pub mod signals;
pub mod smart;
pub mod topics;

use std::collections::HashMap;

use indexmap::IndexMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use cityloop_app::queries::CaseSummary;
use cityloop_app::{AppError, FieldError, Principal, Reference};
use cityloop_domain::enums::Labelled;
use cityloop_domain::workflow::MoveKind;
use cityloop_domain::{Case, PendingRequest, Role, State as CaseState, TimeLimit};
use cityloop_store::UnitRow;
use serde::Deserialize;

use crate::i18n::{field_message, translated_message, Tr};
use crate::session::{Staff, Visit};
use crate::WebState;

/// A link of the navigation bar.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What the page frame needs.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub t: Tr,
    pub title: String,
    pub user: Option<String>,
    pub nav: Vec<NavItem>,
    pub csrf: String,
    pub path: String,
    pub lang_href: String,
    /// Extra classes on `<body>` (the leader's large screen, the narrow inspector page).
    pub body_class: &'static str,
    pub asset_version: &'static str,
    /// A message at the top of the page, after a successful action.
    pub flash: Option<String>,
    /// Field errors of the form shown, by field name.
    /// Field errors in the order they were found (the form's order), for the summary at the top.
    pub errors: IndexMap<String, String>,
    /// The form's own label of a field where it is not the common one (`field.<name>`), for the
    /// error summary.
    pub labels: HashMap<String, String>,
    /// Values of the form shown after an error.
    pub values: HashMap<String, String>,
    pub refresh_secs: Option<u32>,
    /// Basemap tile URL template for the maps, empty for none.
    pub basemap: String,
    /// A fresh key for a form that creates a case, so that sending it twice (a double click, a
    /// reload, without the page's script too) creates one case.
    pub form_key: String,
}

impl Ctx {
    /// The error of a field, if any.
    pub fn err(&self, field: &str) -> String {
        self.errors.get(field).cloned().unwrap_or_default()
    }

    /// A form value to refill, or the default given.
    pub fn val(&self, field: &str, default: &str) -> String {
        self.values.get(field).cloned().unwrap_or_else(|| default.to_string())
    }

    /// Whether a refilled form had this value selected.
    pub fn sel(&self, field: &str, value: &str, default: &str) -> bool {
        self.val(field, default) == value
    }

    /// Whether a refilled form had this box ticked, among the boxes of one name.
    pub fn ticked(&self, field: &str, value: &str) -> bool {
        self.values.get(&format!("{field}[]")).is_some_and(|all| all.lines().any(|v| v == value))
    }

    /// The error of a field as markup to place next to it (escaped here, empty when none).
    pub fn error_html(&self, field: &str) -> String {
        match self.errors.get(field) {
            Some(e) => format!(
                r#"<span class="field-error" id="err-{}" role="alert">{}</span>"#,
                crate::escape_html(field),
                crate::escape_html(e)
            ),
            None => String::new(),
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Every error of the form, named by its field, for the summary at the top of the page: some
    /// errors belong to no visible field (a point outside the city on a map, a file's line).
    pub fn error_summary(&self) -> Vec<String> {
        let fields = self.errors.keys();
        let colon = if self.t.is_en() { ": " } else { "：" };
        fields
            .into_iter()
            .map(|field| match self.labels.get(field).map(String::as_str).or(self.t.find(&format!("field.{field}"))) {
                Some(label) => format!("{label}{colon}{}", self.errors[field]),
                None if field.contains(':') => format!("{field}{colon}{}", self.errors[field]),
                None => self.errors[field].clone(),
            })
            .collect()
    }
}

/// Navigation for a principal's roles, in the order a user reaches for them.
fn nav_for(who: Option<&Principal>, t: &Tr, path: &str) -> Vec<NavItem> {
    let mut items: Vec<(&'static str, &'static str)> = Vec::new();
    if let Some(who) = who {
        let has = |r: Role| who.has(r) || who.has(Role::Admin);
        if has(Role::Operator) {
            items.push(("/intake", "nav.intake"));
        }
        if has(Role::Dispatcher) {
            items.push(("/desk", "nav.desk"));
        }
        if who.has_any(&[Role::Handler, Role::Coordinator]) {
            items.push(("/inbox", "nav.inbox"));
        }
        if who.has(Role::Inspector) {
            items.push(("/inspector", "nav.inspector"));
        }
        items.push(("/cases", "nav.cases"));
        if who.has_any(&[Role::Leader, Role::Lead, Role::Dispatcher, Role::Admin]) {
            items.push(("/replies", "nav.replies"));
            items.push(("/leader", "nav.leader"));
        }
        if who.has_any(&[Role::Leader, Role::Lead, Role::Dispatcher, Role::Admin, Role::Handler]) {
            items.push(("/evaluation", "nav.evaluation"));
        }
        if who.has_any(&[Role::Leader, Role::Lead, Role::Dispatcher, Role::Admin]) {
            items.push(("/signals", "nav.signals"));
            items.push(("/topics", "nav.topics"));
        }
        if who.has(Role::Admin) {
            items.push(("/admin", "nav.admin"));
        }
    }
    items.push(("/portal", "nav.portal"));
    let current = path.split('?').next().unwrap_or(path);
    items
        .into_iter()
        .map(|(href, key)| NavItem {
            href,
            label: t.get(key),
            active: current == href || (href != "/" && current.starts_with(&format!("{href}/"))),
        })
        .collect()
}

/// The frame of a page.
pub fn ctx(visit: &Visit, who: Option<&Principal>, title_key: &str) -> Ctx {
    let next: String = form_urlencoded::byte_serialize(visit.path.as_bytes()).collect();
    let other = if visit.tr.is_en() { "zh" } else { "en" };
    Ctx {
        t: visit.tr,
        title: visit.tr.get(title_key).to_string(),
        user: who.map(|w| w.user.name.clone()),
        nav: nav_for(who, &visit.tr, &visit.path),
        csrf: visit.csrf.clone(),
        path: visit.path.clone(),
        lang_href: format!("/lang/{other}?next={next}"),
        body_class: "",
        asset_version: crate::asset_version(),
        flash: None,
        errors: IndexMap::new(),
        labels: HashMap::new(),
        values: HashMap::new(),
        refresh_secs: None,
        basemap: visit.basemap.clone(),
        form_key: {
            use rand::RngCore;
            let mut bytes = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        },
    }
}

/// Renders a template into a response.
pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Ctx,
    heading: String,
    message: String,
}

/// A page with one message (errors without a form to show them next to).
pub fn message_page(t: &Tr, status: StatusCode, message: &str) -> Response {
    message_page_for(&visitor(t), None, status, message)
}

/// A visit with nothing known but the language, for pages answered without a session.
fn visitor(t: &Tr) -> Visit {
    Visit { tr: *t, csrf: String::new(), path: "/".into(), session: None, basemap: String::new() }
}

/// A message page with the signed-in user's navigation, so that an error does not strand them.
fn message_page_for(visit: &Visit, who: Option<&Principal>, status: StatusCode, message: &str) -> Response {
    let t = visit.tr;
    let mut c = ctx(visit, who, "common.error");
    c.title = format!("{} {}", status.as_u16(), t.get("common.error"));
    render(status, &MessagePage { c, heading: t.get("common.error").to_string(), message: message.to_string() })
}

/// The page for an error of a use case, shown to a signed-in member of staff.
pub fn staff_error_page(staff: &Staff, e: &AppError) -> Response {
    error_page_for(&staff.visit, Some(&staff.who), e)
}

/// The page for an error of a use case.
pub fn error_page(t: &Tr, e: &AppError) -> Response {
    error_page_for(&visitor(t), None, e)
}

/// The page for an address that is no page (a mistyped link), in the visitor's language.
pub fn no_such_page(headers: &axum::http::HeaderMap) -> Response {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    let lang =
        jar.get(crate::session::LANG_COOKIE).map(|c| crate::i18n::Lang::from_code(c.value())).unwrap_or_default();
    error_page(&Tr { lang }, &AppError::NotFound("page".into()))
}

fn error_page_for(visit: &Visit, who: Option<&Principal>, e: &AppError) -> Response {
    match error_answer(&visit.tr, e) {
        Some((status, message)) => message_page_for(visit, who, status, &message),
        None => Redirect::to("/login").into_response(),
    }
}

/// The status and the message, in the interface's language, of a use case's error; `None` when the
/// user must sign in (again).
pub fn error_answer(t: &Tr, e: &AppError) -> Option<(StatusCode, String)> {
    Some(match e {
        AppError::Unauthorized(_) | AppError::SecondFactorRequired(_) => return None,
        AppError::Forbidden(m) => {
            let message = match translated_message(t, m) {
                Some(why) => format!("{} ({why})", t.get("error.forbidden")),
                None => t.get("error.forbidden").to_string(),
            };
            (StatusCode::FORBIDDEN, message)
        }
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, t.get("error.not_found").to_string()),
        AppError::StaleVersion { .. } => (StatusCode::CONFLICT, t.get("case.stale").to_string()),
        AppError::Invalid { .. } | AppError::InvalidFields(_) => {
            let colon = if t.is_en() { ": " } else { "：" };
            let each: Vec<String> = e
                .field_errors()
                .iter()
                .map(|f| {
                    // A page's address parameters are named in the page's language where they have a
                    // name: their own, or the name of the form field that sends them.
                    let name = t
                        .find(&format!("param.{}", f.field))
                        .or_else(|| t.find(&format!("field.{}", f.field)))
                        .unwrap_or(f.field.as_str());
                    format!("{name}{colon}{}", field_message(t, &f.message))
                })
                .collect();
            (StatusCode::UNPROCESSABLE_ENTITY, each.join("; "))
        }
        AppError::IllegalMove { kind, state, allowed, reason } => {
            (StatusCode::CONFLICT, illegal_move_message(t, *kind, *state, reason, allowed))
        }
        AppError::Duplicate(m) => (StatusCode::CONFLICT, field_message(t, m)),
        AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
        AppError::TooManyAttempts { message, .. } => (StatusCode::TOO_MANY_REQUESTS, message.clone()),
        AppError::NotReady(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
        AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, t.get("error.unavailable").to_string()),
        AppError::Internal(m) => {
            tracing::error!(error = %m, "page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, t.get("common.error").to_string())
        }
    })
}

/// A move the case's state does not allow, in the interface's language, with what can be done instead.
fn illegal_move_message(t: &Tr, kind: MoveKind, state: CaseState, reason: &str, allowed: &[MoveKind]) -> String {
    // The rule that stands in the way, where it has words in the page's language; else the state.
    let why = crate::i18n::translated_message(t, reason)
        .filter(|_| !reason.is_empty() && !reason.contains("applies only to cases that are"))
        .unwrap_or_else(|| format!("{} ({})", t.get("error.illegal_move"), t.label(state)));
    let mut message = format!("{} · {why}", t.move_label(kind));
    if !allowed.is_empty() {
        let moves: Vec<String> = allowed.iter().map(|k| t.move_label(*k)).collect();
        message.push_str(&format!(" · {}: {}", t.get("error.allowed_moves"), moves.join(" / ")));
    }
    message
}

/// The field errors of a use-case error, for the form that caused it; `None` for other errors.
pub fn form_errors(t: &Tr, e: &AppError) -> Option<IndexMap<String, String>> {
    let errors = e.field_errors();
    if errors.is_empty() {
        return None;
    }
    // Nested API names (`contact.phone`) are the form's flat names; a file's line (`notes.md:3`) stays
    // as it is. The first error of a field is the one shown beside it.
    let mut marked = IndexMap::new();
    for FieldError { field, message } in errors {
        let name = match field.contains(':') {
            true => field.clone(),
            false => field.rsplit('.').next().unwrap_or(&field).to_string(),
        };
        marked.entry(name).or_insert_with(|| field_message(t, &message));
    }
    Some(marked)
}

/// Which move a queue page's row action made, from the `done` and `case` its address was given.
#[derive(Debug, Default, Deserialize)]
pub struct MoveDone {
    pub done: Option<String>,
    pub case: Option<String>,
}

impl MoveDone {
    /// What to tell the user: "签收 · 已完成 · 20261206-000012".
    pub fn flash(&self, t: &Tr) -> Option<String> {
        let kind = self.done.as_deref().and_then(MoveKind::parse)?;
        let case = self.case.as_deref().filter(|n| cityloop_domain::number::looks_like_case_number(n));
        Some(match case {
            Some(number) => format!("{} · {} · {number}", t.move_label(kind), t.get("common.done")),
            None => format!("{} · {}", t.move_label(kind), t.get("common.done")),
        })
    }
}

/// Local time of the city, as `MM-DD HH:MM`.
pub fn short_time(reference: &Reference, t: DateTime<Utc>) -> String {
    t.with_timezone(&reference.calendar.offset()).format("%m-%d %H:%M").to_string()
}

/// Local time of the city, as `YYYY-MM-DD HH:MM`.
pub fn long_time(reference: &Reference, t: DateTime<Utc>) -> String {
    t.with_timezone(&reference.calendar.offset()).format("%Y-%m-%d %H:%M").to_string()
}

/// A case as a row of a table.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub number: String,
    pub title: String,
    pub state: String,
    pub state_class: &'static str,
    pub category: String,
    pub unit: String,
    pub grid: String,
    pub channel: String,
    pub created: String,
    pub deadline: String,
    pub overdue: bool,
    pub contact: String,
    pub suggested_unit: String,
    /// What waits on a decision: the unit's request (extension or suspension) or its reason for
    /// returning the case, shown on the queues that decide it.
    pub request: String,
    /// The version the row was read at: a move from the row is refused if the case changed since.
    pub version: i64,
    /// Inline moves offered on this row.
    pub moves: Vec<RowMove>,
}

/// A move made from a queue's row without opening the case.
#[derive(Debug, Clone)]
pub struct RowMove {
    pub kind: &'static str,
    pub label: String,
    /// The supervision level a 督办 button asks for.
    pub level: Option<u32>,
}

/// CSS class of a state (its colour).
pub fn state_class(s: CaseState) -> &'static str {
    match s {
        CaseState::Reported | CaseState::Verifying => "st-new",
        CaseState::Registered | CaseState::ReturnReview => "st-dispatch",
        CaseState::PendingSign | CaseState::Handling | CaseState::Suspended => "st-work",
        CaseState::Feedback | CaseState::ClosePending => "st-check",
        CaseState::Closed | CaseState::Merged => "st-done",
        CaseState::Voided => "st-void",
    }
}

pub fn case_row(t: &Tr, reference: &Reference, case: &Case, overdue: bool, contact: String) -> CaseRow {
    CaseRow {
        number: case.number.clone(),
        title: case.title.clone(),
        state: t.label(case.state),
        state_class: state_class(case.state),
        category: case.category_id.and_then(|c| reference.category(c)).map(|c| c.name.clone()).unwrap_or_default(),
        unit: case.unit_id.and_then(|u| reference.unit(u)).map(|u| u.name.clone()).unwrap_or_default(),
        grid: case.grid_id.and_then(|g| reference.grid(g)).map(|g| g.code.clone()).unwrap_or_default(),
        channel: t.label(case.channel),
        created: short_time(reference, case.created_at),
        deadline: case.deadline.map(|d| short_time(reference, d)).unwrap_or_default(),
        overdue,
        contact,
        suggested_unit: String::new(),
        request: case.pending.as_ref().map(|p| pending_text(t, reference, case, p)).unwrap_or_default(),
        version: case.version,
        moves: Vec::new(),
    }
}

/// A unit's request waiting for the dispatcher, in words: what it asks and why.
pub fn pending_text(t: &Tr, reference: &Reference, case: &Case, pending: &PendingRequest) -> String {
    match pending {
        PendingRequest::Extension { amount, reason } => {
            // The amount counts the case's own limit units (hours or days).
            let added = case.limit.map_or_else(|| amount.to_string(), |l| t.limit(TimeLimit::new(*amount, l.mode)));
            format!("{} +{added}: {reason}", t.move_label(MoveKind::Extend))
        }
        PendingRequest::Suspension { until, reason } => {
            format!("{} → {}: {reason}", t.move_label(MoveKind::Suspend), long_time(reference, *until))
        }
    }
}

/// The moves that decide a case's pending request.
pub fn pending_moves(pending: Option<&PendingRequest>) -> &'static [MoveKind] {
    match pending {
        Some(PendingRequest::Extension { .. }) => &[MoveKind::ApproveExtension, MoveKind::RejectExtension],
        Some(PendingRequest::Suspension { .. }) => &[MoveKind::ApproveSuspension, MoveKind::RejectSuspension],
        None => &[],
    }
}

pub fn summary_rows(t: &Tr, reference: &Reference, items: &[CaseSummary]) -> Vec<CaseRow> {
    items
        .iter()
        .map(|s| {
            let contact = s.contact.as_ref().map(|c| format!("{} {}", c.name, c.phone)).unwrap_or_default();
            case_row(t, reference, &s.case, s.overdue, contact)
        })
        .collect()
}

/// A path of this site to go to after a form, or `None`: it must start with one `/`, and hold no
/// backslash, space or control character (browsers drop tabs and newlines, which would turn
/// `/\t/evil.example` into `//evil.example`).
pub fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    let ok = next.starts_with('/')
        && !matches!(next.chars().nth(1), Some('/' | '\\'))
        && !next.chars().any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    ok.then(|| next.to_string())
}

/// The unit the dispatch catalogue names for a case: the desk's suggestion and the dispatch form's
/// default, and where dispatching without a unit sends it.
pub async fn catalogue_unit(state: &WebState, case: &Case) -> Result<Option<UnitRow>, AppError> {
    let preview = state.app.dispatch_preview(case.category_id, case.division_id).await?;
    Ok(preview.unit.and_then(|u| state.app.reference().unit(u).cloned()))
}

/// The page a user starts on, by role.
pub fn home_of(who: &Principal) -> &'static str {
    if who.has(Role::Admin) {
        "/admin"
    } else if who.has(Role::Operator) {
        "/intake"
    } else if who.has(Role::Dispatcher) {
        "/desk"
    } else if who.has_any(&[Role::Handler, Role::Coordinator]) {
        "/inbox"
    } else if who.has(Role::Inspector) {
        "/inspector"
    } else if who.has(Role::Leader) {
        "/leader"
    } else if who.has(Role::Lead) {
        "/cases?state=reported,close_pending"
    } else {
        "/cases"
    }
}

/// `/`: staff go to their own start page, everyone else to the resident portal.
pub async fn home(State(_state): State<WebState>, staff: Option<Staff>) -> Response {
    match staff {
        Some(s) => Redirect::to(home_of(&s.who)).into_response(),
        None => Redirect::to("/portal").into_response(),
    }
}

/// Lists on pages count at most this many matches and show "10000+" beyond.
pub const COUNT_LIMIT: i64 = 10_000;

/// A count as shown: exact up to [`COUNT_LIMIT`], then "10000+".
pub fn count_label(total: i64) -> String {
    if total > COUNT_LIMIT {
        format!("{COUNT_LIMIT}+")
    } else {
        total.to_string()
    }
}

/// Select options: (value, label, selected).
pub type Options = Vec<(String, String, bool)>;

/// The items of a tree depth first (each parent before its children, siblings in stored order),
/// with their depth.
pub fn tree_order<T, K: PartialEq + Copy>(
    items: &[T],
    id: impl Fn(&T) -> K,
    parent: impl Fn(&T) -> Option<K>,
) -> Vec<(&T, usize)> {
    let parent = &parent;
    let children = |of: Option<K>| items.iter().filter(move |t| parent(t) == of).rev();
    let mut out = Vec::with_capacity(items.len());
    // A stack of items still to visit; children are pushed reversed so that they pop in order.
    let mut pending: Vec<(&T, usize)> = children(None).map(|t| (t, 0)).collect();
    while let Some((item, depth)) = pending.pop() {
        out.push((item, depth));
        pending.extend(children(Some(id(item))).map(|t| (t, depth + 1)));
    }
    out
}

/// An indented label for a tree item.
pub fn indented(depth: usize, code: &str, name: &str) -> String {
    format!("{}{code} {name}", "\u{3000}".repeat(depth))
}

/// Options of the category tree, leaves indented under their parents.
pub fn category_options(reference: &Reference, selected: &str) -> Options {
    tree_order(&reference.categories, |c| c.id, |c| c.parent_id)
        .into_iter()
        .map(|(c, depth)| (c.code.clone(), indented(depth, &c.code, &c.name), c.code == selected))
        .collect()
}

/// Options of the categories a case can be filed under (those with a case standard), under their
/// parents as headings that cannot be chosen (an empty value): what an inspector reports with and a
/// shift lead files under.
pub fn fileable_category_options(reference: &Reference, selected: &str) -> Options {
    let fileable = |id| reference.standard(id).is_some();
    // A heading is shown only when something below it can be chosen.
    let shown: std::collections::HashSet<_> =
        reference.categories.iter().filter(|c| fileable(c.id)).flat_map(|c| reference.category_chain(c.id)).collect();
    tree_order(&reference.categories, |c| c.id, |c| c.parent_id)
        .into_iter()
        .filter(|(c, _)| shown.contains(&c.id))
        .map(|(c, depth)| {
            // A heading is never the choice: a case under a group shows "—" until a category is chosen.
            let value = if fileable(c.id) { c.code.clone() } else { String::new() };
            (value, indented(depth, &c.code, &c.name), fileable(c.id) && c.code == selected)
        })
        .collect()
}

/// Options of the division tree, indented.
pub fn division_options(reference: &Reference, selected: &str) -> Options {
    tree_order(&reference.divisions, |d| d.id, |d| d.parent_id)
        .into_iter()
        .map(|(d, depth)| (d.code.clone(), indented(depth, &d.code, &d.name), d.code == selected))
        .collect()
}

/// Options of the units, by name.
pub fn unit_options(reference: &Reference, selected: &str) -> Options {
    let mut units: Vec<_> = reference.units.iter().collect();
    units.sort_by(|a, b| a.code.cmp(&b.code));
    units.into_iter().map(|u| (u.code.clone(), format!("{} {}", u.name, u.code), u.code == selected)).collect()
}

/// Options of an enumeration, labelled in the interface language.
pub fn enum_options<T: Labelled>(t: &Tr, all: &[T], selected: &str) -> Options {
    all.iter().map(|v| (v.wire().to_string(), t.label(*v), v.wire() == selected)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_lists_each_parent_before_its_children_in_stored_order() {
        // (id, parent)
        let items = [(1, None), (2, Some(1)), (3, None), (4, Some(2)), (5, Some(1)), (6, Some(3))];
        let order: Vec<(i32, usize)> =
            tree_order(&items, |i| i.0, |i| i.1).into_iter().map(|(i, depth)| (i.0, depth)).collect();
        assert_eq!(order, vec![(1, 0), (2, 1), (4, 2), (5, 1), (3, 0), (6, 1)]);
    }

    #[test]
    fn a_move_the_state_does_not_allow_is_told_in_the_interfaces_language() {
        let zh = Tr::default();
        let by_state = "close applies only to cases that are close_pending";
        let message = illegal_move_message(
            &zh,
            MoveKind::Close,
            CaseState::Reported,
            by_state,
            &[MoveKind::File, MoveKind::Void],
        );
        assert_eq!(message, "结案 · 工单当前状态下不能执行此操作 (已上报) · 现在可以: 立案 / 作废");
        // A rule other than the state is said as it is: 处置中 is the state a suspension needs.
        let waiting = "a request is already waiting for the dispatcher";
        let message = illegal_move_message(&zh, MoveKind::Suspend, CaseState::Handling, waiting, &[MoveKind::Submit]);
        assert_eq!(message, "申请挂账 · 已有一项申请等待派遣员审批 · 现在可以: 提交办理结果");
        let done = MoveDone { done: Some("sign".into()), case: Some("20261206-000012".into()) };
        assert_eq!(done.flash(&zh).as_deref(), Some("签收 · 已完成 · 20261206-000012"));
        let forged = MoveDone { done: Some("sign".into()), case: Some("<b>".into()) };
        assert_eq!(forged.flash(&zh).as_deref(), Some("签收 · 已完成"), "only a case number is repeated");
    }

    #[test]
    fn only_paths_of_this_site_are_followed() {
        assert_eq!(local_path(Some("/cases?x=1")).as_deref(), Some("/cases?x=1"));
        for bad in ["//evil.example/", "/\\evil", "/\t/evil.example", "/ok\n", "https://evil.example/", "/a b"] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
    }
}
