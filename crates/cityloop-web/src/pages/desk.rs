//! The dispatcher desk (cases to dispatch, return, extension and suspension requests, overdue and
//! due-soon cases, supervision notices, bulk dispatch) and the unit inbox (to sign, in hand, due
//! soon, overdue, returned for rework).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cityloop_app::moves::{MoveInput, UnitRef};
use cityloop_app::queries::{CaseQuery, CaseSummary};
use cityloop_app::AppError;
use cityloop_domain::workflow::{MoveKind, MAX_SUPERVISION_LEVEL};
use cityloop_domain::{Case, Role, State as CaseState, UnitId};
use serde::Deserialize;

use super::{
    catalogue_unit, count_label, ctx, pending_moves, render, short_time, staff_error_page, summary_rows, unit_options,
    CaseRow, Ctx, MoveDone, Options, RowMove,
};
use crate::i18n::Tr;
use crate::session::{FormInput, PageQuery, Staff};
use crate::WebState;

/// One queue of a desk.
pub struct Queue {
    pub id: &'static str,
    pub title: String,
    pub rows: Vec<CaseRow>,
    pub total: String,
    pub more_href: String,
}

/// A queue to show: its id, title key, case-list query and inline moves.
type QueueSpec<'a> = (&'static str, &'static str, String, &'a [MoveKind]);

async fn queue(
    state: &WebState,
    staff: &Staff,
    (id, title_key, query, actions): QueueSpec<'_>,
) -> Result<(Queue, Vec<CaseSummary>), AppError> {
    let t = staff.visit.tr;
    let mut q: CaseQuery =
        serde_urlencoded::from_str(&query.replace("%00", "")).map_err(|e| AppError::Internal(e.to_string()))?;
    q.page_size = Some(20);
    let page = state.app.list_cases_without_contact(&staff.who, &q).await?;
    let reference = state.app.reference();
    let mut rows = summary_rows(&t, &reference, &page.items);
    // Whoever decides a return reads the unit's reason on the row, and answers a request from it.
    let returned: Vec<_> =
        page.items.iter().filter(|s| s.case.state == CaseState::ReturnReview).map(|s| s.case.id).collect();
    let reasons = state.app.store.latest_notes(&returned, MoveKind::Return).await?;
    for (row, s) in rows.iter_mut().zip(&page.items) {
        if let Some(reason) = reasons.get(&s.case.id) {
            row.request = format!("{}: {reason}", t.move_label(MoveKind::Return));
        }
        row.moves = row_moves(&t, &s.case, actions);
    }
    let queue = Queue {
        id,
        title: t.get(title_key).to_string(),
        rows,
        total: count_label(page.total),
        more_href: format!("/cases?{query}"),
    };
    Ok((queue, page.items))
}

/// The moves of a queue as one row offers them: those that answer a request only for the request
/// the row holds, and supervision one level above the case's (催办, then 督办, then 挂牌督办).
fn row_moves(t: &Tr, case: &Case, kinds: &[MoveKind]) -> Vec<RowMove> {
    use MoveKind as K;
    let pending = pending_moves(case.pending.as_ref());
    kinds
        .iter()
        .filter(|k| {
            !matches!(k, K::ApproveExtension | K::RejectExtension | K::ApproveSuspension | K::RejectSuspension)
                || pending.contains(k)
        })
        .map(|&k| match k {
            K::Supervise => {
                let level = (case.supervision_level + 1).min(MAX_SUPERVISION_LEVEL);
                RowMove { kind: k.as_str(), label: t.get(&format!("level.{level}")).to_string(), level: Some(level) }
            }
            _ => RowMove { kind: k.as_str(), label: t.move_label(k), level: None },
        })
        .collect()
}

/// Several queues at once: each is its own query on the reader pool.
async fn queues(state: &WebState, staff: &Staff, specs: Vec<QueueSpec<'_>>) -> Result<Vec<Queue>, AppError> {
    let all = futures_util::future::try_join_all(specs.into_iter().map(|spec| queue(state, staff, spec))).await?;
    Ok(all.into_iter().map(|(q, _)| q).collect())
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    c: Ctx,
    to_dispatch: Queue,
    queues: Vec<Queue>,
    notices: Vec<Notice>,
    units: Options,
    /// Administrators see the desk; only dispatchers dispatch from it.
    can_dispatch: bool,
}

#[derive(Deserialize)]
pub struct DeskParams {
    dispatched: Option<usize>,
    failed: Option<usize>,
    done: Option<String>,
    case: Option<String>,
}

pub async fn desk(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<DeskParams>) -> Response {
    let t = staff.visit.tr;
    if !staff.who.has_any(&[Role::Dispatcher, Role::Admin]) {
        return staff_error_page(&staff, &AppError::Forbidden("the desk is for dispatchers".into()));
    }
    let mut said = Said { flash: MoveDone { done: p.done, case: p.case }.flash(&t), errors: Vec::new() };
    if p.dispatched == Some(0) && p.failed == Some(0) {
        said.errors.push(("_form".into(), t.get("desk.none_ticked").to_string()));
    } else if let Some(n) = p.dispatched {
        said.flash =
            Some(format!("{} {n} · {} {}", t.get("desk.dispatched"), t.get("desk.failed"), p.failed.unwrap_or(0)));
    }
    desk_page(&state, &staff, said).await
}

/// What the desk says above its queues: the outcome of the last action and what went wrong, by key.
struct Said {
    flash: Option<String>,
    errors: Vec<(String, String)>,
}

async fn desk_page(state: &WebState, staff: &Staff, said: Said) -> Response {
    use MoveKind as K;
    let state = state.clone();
    let t = staff.visit.tr;
    let result = async {
        let to_dispatch_spec =
            ("to-dispatch", "desk.to_dispatch", "state=registered&sort=created_asc".to_string(), &[][..]);
        let others = vec![
            (
                "returns",
                "desk.returns",
                "state=return_review&sort=created_asc".to_string(),
                &[K::ApproveReturn, K::RejectReturn][..],
            ),
            (
                "requests",
                "desk.requests",
                "state=handling&pending=true&sort=updated_desc".to_string(),
                &[K::ApproveExtension, K::RejectExtension, K::ApproveSuspension, K::RejectSuspension][..],
            ),
            ("overdue", "desk.overdue", "overdue=true&sort=deadline".to_string(), &[K::Supervise][..]),
            ("due-soon", "desk.due_soon", "due_within_hours=24&sort=deadline".to_string(), &[K::Supervise][..]),
        ];
        let ((mut to_dispatch, items), queues) =
            tokio::try_join!(queue(&state, staff, to_dispatch_spec), queues(&state, staff, others))?;
        // Each row shows where the catalogue would send it, which is where bulk dispatch sends it.
        for (row, s) in to_dispatch.rows.iter_mut().zip(&items) {
            let unit = catalogue_unit(&state, &s.case).await?;
            let returned = state.app.returned_units(&s.case).await?;
            row.suggested_unit = match unit {
                // The unit gave it back: bulk dispatch leaves the case for a person to send elsewhere.
                Some(u) if returned.iter().any(|r| r.unit == u.id) => {
                    format!("{} {}", u.name, t.get("desk.returned_by_it"))
                }
                Some(u) => u.name,
                None => String::new(),
            };
        }
        let notices = notices(&state, &t, None).await?;
        Ok::<_, AppError>((to_dispatch, queues, notices))
    }
    .await;
    match result {
        Ok((to_dispatch, queues, notices)) => {
            // Shown in answer to a bulk dispatch too: its links and row forms come back to the desk.
            let desk = crate::session::Visit { path: "/desk".into(), ..staff.visit.clone() };
            let mut c = ctx(&desk, Some(&staff.who), "desk.title");
            c.body_class = "wide";
            c.flash = said.flash;
            c.errors.extend(said.errors);
            let units = unit_options(&state.app.reference(), "");
            render(
                StatusCode::OK,
                &DeskPage { c, to_dispatch, queues, notices, units, can_dispatch: staff.who.has(Role::Dispatcher) },
            )
        }
        Err(e) => staff_error_page(staff, &e),
    }
}

/// A supervision notice as a queue shows it.
pub struct Notice {
    pub time: String,
    pub number: String,
    pub unit: String,
    pub text: String,
    /// What the supervisor asks of the unit.
    pub note: Option<String>,
}

/// The latest supervision notices: for the desk, those of open cases; for a unit's inbox, those of
/// the open cases it leads.
async fn notices(state: &WebState, t: &Tr, unit: Option<&[UnitId]>) -> Result<Vec<Notice>, AppError> {
    let reference = state.app.reference();
    let rows = match unit {
        None => state.app.store.open_notices(15).await?,
        Some(units) => state.app.store.open_notices_of(units, 15).await?,
    };
    Ok(rows
        .into_iter()
        .map(|n| Notice {
            time: short_time(&reference, n.created_at),
            // A notice sent before dispatch names the unit the case went to since, if it has gone.
            unit: match n.unit_id.or(n.case_unit_id) {
                Some(u) => reference.unit(u).map(|u| u.name.clone()).unwrap_or_default(),
                None => t.get("desk.notice_undispatched").to_string(),
            },
            text: notice_text(t, &n),
            note: n.note,
            number: n.case_number,
        })
        .collect())
}

/// A notice in the interface's language: the stored message is the Chinese one sent to the unit.
fn notice_text(t: &Tr, n: &cityloop_store::cases::NoticeRow) -> String {
    if !t.is_en() {
        return n.message.clone();
    }
    let number = &n.case_number;
    match (n.overdue, n.level) {
        (true, _) => format!("Case {number} is past its deadline"),
        (false, 1) => format!("Case {number}: urged"),
        (false, 2) => format!("Case {number}: supervised"),
        (false, _) => format!("Case {number}: supervised under a public listing"),
    }
}

/// Dispatches the ticked cases: to the unit chosen, or each where the catalogue sends it.
pub async fn bulk_dispatch(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if !staff.who.has(Role::Dispatcher) {
        return staff_error_page(&staff, &AppError::Forbidden("dispatching is for dispatchers".into()));
    }
    let t = staff.visit.tr;
    let unit = form.get("unit").map(UnitRef::Code);
    let mut dispatched = 0;
    let mut failed = Vec::new();
    let mut ticked = form.all("case");
    let mut seen = std::collections::HashSet::new();
    ticked.retain(|number| seen.insert(number.clone()));
    for number in ticked {
        // Each row carries the version it was read at: a case changed since is not sent blind.
        let version = form.get(&format!("v-{number}")).and_then(|v| v.parse().ok());
        let input = MoveInput { unit: unit.clone(), version, ..MoveInput::default() };
        match state.app.perform_move(&staff.who, &number, "dispatch", input).await {
            Ok(_) => dispatched += 1,
            Err(e) => {
                tracing::info!(case = %number, error = %e, "bulk dispatch skipped a case");
                let why = super::error_answer(&t, &e).map(|(_, message)| message).unwrap_or_else(|| e.to_string());
                failed.push((format!("_case-{number}"), format!("{number} · {why}")));
            }
        }
    }
    if failed.is_empty() {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(&format!(
            "/desk?dispatched={dispatched}&failed=0"
        )));
    }
    // The cases left behind are named with the reason, on the desk that still lists them.
    let mut errors = vec![("_form".to_string(), format!("{} {}", t.get("desk.failed"), failed.len()))];
    errors.extend(failed);
    let said = Said { flash: (dispatched > 0).then(|| format!("{} {dispatched}", t.get("desk.dispatched"))), errors };
    desk_page(&state, &staff, said).await
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Ctx,
    queues: Vec<Queue>,
    /// Supervision of the unit's cases (催办, 督办, overdue): what the unit must answer first.
    notices: Option<Vec<Notice>>,
}

pub async fn inbox(State(state): State<WebState>, staff: Staff, PageQuery(done): PageQuery<MoveDone>) -> Response {
    use MoveKind as K;
    let t = staff.visit.tr;
    if !staff.who.has_any(&[Role::Handler, Role::Coordinator]) {
        return staff_error_page(&staff, &AppError::Forbidden("the inbox is for units".into()));
    }
    // By code, as the case list's unit filter names it, so that the list's form keeps it.
    let reference = state.app.reference();
    let unit = staff.who.user.unit_id.and_then(|u| reference.unit(u)).map(|u| u.code.clone()).unwrap_or_default();
    let own = |rest: &str| format!("unit={unit}&{rest}");
    // A street's coordinator follows its cases; the unit's handlers accept them.
    let sign: &[MoveKind] = if staff.who.has(Role::Handler) { &[K::Sign] } else { &[] };
    let mut specs = vec![("to-sign", "inbox.to_sign", own("state=pending_sign&sort=deadline"), sign)];
    if !unit.is_empty() {
        // Summoned by a street's whistle: report in within the hour.
        specs.push(("summoned", "inbox.summoned", format!("summoned={unit}&sort=deadline"), &[K::ReportIn][..]));
        // Having reported in, the unit stays with the case until it is done (报到 is not the end).
        specs.push(("reported-in", "inbox.reported_in", format!("reported_in={unit}&sort=deadline"), &[][..]));
    }
    specs.extend([
        ("overdue", "inbox.overdue", own("overdue=true&sort=deadline"), &[][..]),
        ("due-soon", "inbox.due_soon", own("due_within_hours=24&sort=deadline"), &[][..]),
        ("rework", "inbox.rework", own("state=handling&reworked=true&sort=deadline"), &[][..]),
        ("in-hand", "inbox.in_hand", own("state=handling,suspended&sort=deadline"), &[][..]),
    ]);
    if !unit.is_empty() {
        specs.push(("assisting", "inbox.assisting", format!("assisting={unit}&sort=deadline"), &[][..]));
    }
    // A street's coordinator also follows what its street's residents are waiting on, whoever handles
    // it: the cases it may summon departments to (吹哨报到).
    let street = staff.who.user.unit_id.and_then(|u| reference.unit(u)).and_then(|u| u.division_id);
    if let (true, Some(street)) = (staff.who.has(Role::Coordinator), street.and_then(|d| reference.division(d))) {
        let open = format!("division={}&state=pending_sign,handling,suspended&sort=deadline", street.code);
        specs.push(("street", "inbox.street", open, &[][..]));
    }
    let own_unit = staff.who.user.unit_id.map(|u| [u]);
    let unit_notices = async {
        match &own_unit {
            Some(unit) => notices(&state, &t, Some(unit)).await.map(Some),
            None => Ok(None),
        }
    };
    let result = tokio::try_join!(queues(&state, &staff, specs), unit_notices);
    match result {
        Ok((queues, notices)) => {
            let mut c = ctx(&staff.visit, Some(&staff.who), "inbox.title");
            c.body_class = "wide";
            c.flash = done.flash(&t);
            render(StatusCode::OK, &InboxPage { c, queues, notices })
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}
