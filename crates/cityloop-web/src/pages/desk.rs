//! The dispatcher desk (cases to dispatch, return, extension and suspension requests, overdue and
//! due-soon cases, supervision notices, bulk dispatch) and the unit inbox (to sign, in hand, due
//! soon, overdue, returned for rework).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cityloop_app::moves::{MoveInput, UnitRef};
use cityloop_app::queries::CaseQuery;
use cityloop_app::AppError;
use cityloop_domain::Role;
use serde::Deserialize;

use super::{ctx, error_page, render, short_time, summary_rows, unit_options, CaseRow, Ctx, Options};
use crate::session::{FormInput, Staff};
use crate::WebState;

/// One queue of a desk.
pub struct Queue {
    pub id: &'static str,
    pub title: String,
    pub rows: Vec<CaseRow>,
    pub total: i64,
    pub more_href: String,
    /// Inline moves offered on each row (kind, label).
    pub actions: Vec<(&'static str, String)>,
}

async fn queue(
    state: &WebState,
    staff: &Staff,
    id: &'static str,
    title_key: &str,
    query: &str,
    actions: &[cityloop_domain::workflow::MoveKind],
) -> Result<Queue, AppError> {
    let t = staff.visit.tr;
    let mut q: CaseQuery = serde_urlencoded::from_str(query).map_err(|e| AppError::Internal(e.to_string()))?;
    q.page_size = Some(20);
    let page = state.app.list_cases(&staff.who, &q).await?;
    let reference = state.app.reference();
    Ok(Queue {
        id,
        title: t.get(title_key).to_string(),
        rows: summary_rows(&t, &reference, &page.items),
        total: page.total,
        more_href: format!("/cases?{query}"),
        actions: actions.iter().map(|k| (k.as_str(), t.move_label(*k))).collect(),
    })
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    c: Ctx,
    to_dispatch: Queue,
    queues: Vec<Queue>,
    notices: Vec<(String, String, String)>,
    units: Options,
}

#[derive(Deserialize)]
pub struct DeskParams {
    dispatched: Option<usize>,
    failed: Option<usize>,
}

pub async fn desk(State(state): State<WebState>, staff: Staff, Query(p): Query<DeskParams>) -> Response {
    use cityloop_domain::workflow::MoveKind as K;
    let t = staff.visit.tr;
    if !staff.who.has_any(&[Role::Dispatcher, Role::Admin]) {
        return error_page(&t, &AppError::Forbidden("the desk is for dispatchers".into()));
    }
    let result = async {
        let mut to_dispatch =
            queue(&state, &staff, "to-dispatch", "desk.to_dispatch", "state=registered&sort=created_asc", &[]).await?;
        let reference = state.app.reference();
        // Each row shows where the catalogue would send it, which is where bulk dispatch sends it.
        let q = CaseQuery {
            state: Some("registered".into()),
            sort: Some("created_asc".into()),
            page_size: Some(20),
            ..CaseQuery::default()
        };
        let page = state.app.list_cases(&staff.who, &q).await?;
        for (row, s) in to_dispatch.rows.iter_mut().zip(&page.items) {
            let preview = state.app.dispatch_preview(s.case.category_id, s.case.division_id).await?;
            row.suggested_unit =
                preview.unit.and_then(|u| reference.unit(u)).map(|u| u.name.clone()).unwrap_or_default();
        }
        let queues = vec![
            queue(
                &state,
                &staff,
                "returns",
                "desk.returns",
                "state=return_review&sort=created_asc",
                &[K::ApproveReturn, K::RejectReturn],
            )
            .await?,
            queue(&state, &staff, "requests", "desk.requests", "state=handling&pending=true&sort=updated_desc", &[])
                .await?,
            queue(&state, &staff, "overdue", "desk.overdue", "overdue=true&sort=deadline", &[K::Supervise]).await?,
            queue(&state, &staff, "due-soon", "desk.due_soon", "due_within_hours=24&sort=deadline", &[K::Supervise])
                .await?,
        ];
        let notices = state
            .app
            .store
            .notices(None, None, 15)
            .await?
            .into_iter()
            .map(|n| {
                (
                    short_time(&reference, n.created_at),
                    n.unit_id.and_then(|u| reference.unit(u)).map(|u| u.name.clone()).unwrap_or_default(),
                    n.message,
                )
            })
            .collect();
        Ok::<_, AppError>((to_dispatch, queues, notices))
    }
    .await;
    match result {
        Ok((to_dispatch, queues, notices)) => {
            let mut c = ctx(&staff.visit, Some(&staff.who), "desk.title");
            c.body_class = "wide";
            if let Some(n) = p.dispatched {
                c.flash = Some(format!(
                    "{} {n} · {} {}",
                    t.get("desk.dispatched"),
                    t.get("desk.failed"),
                    p.failed.unwrap_or(0)
                ));
            }
            let units = unit_options(&state.app.reference(), "");
            render(StatusCode::OK, &DeskPage { c, to_dispatch, queues, notices, units })
        }
        Err(e) => error_page(&t, &e),
    }
}

/// Dispatches the ticked cases: to the unit chosen, or each where the catalogue sends it.
pub async fn bulk_dispatch(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let unit = form.get("unit").map(UnitRef::Code);
    let mut dispatched = 0;
    let mut failed = 0;
    for number in form.all("case") {
        let input = MoveInput { unit: unit.clone(), ..MoveInput::default() };
        match state.app.perform_move(&staff.who, &number, "dispatch", input).await {
            Ok(_) => dispatched += 1,
            Err(e) => {
                tracing::info!(case = %number, error = %e, "bulk dispatch skipped a case");
                failed += 1;
            }
        }
    }
    axum::response::IntoResponse::into_response(axum::response::Redirect::to(&format!(
        "/desk?dispatched={dispatched}&failed={failed}"
    )))
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    c: Ctx,
    queues: Vec<Queue>,
}

pub async fn inbox(State(state): State<WebState>, staff: Staff) -> Response {
    use cityloop_domain::workflow::MoveKind as K;
    let t = staff.visit.tr;
    if !staff.who.has_any(&[Role::Handler, Role::Coordinator]) {
        return error_page(&t, &AppError::Forbidden("the inbox is for units".into()));
    }
    let unit = staff.who.user.unit_id.map(|u| u.0.to_string()).unwrap_or_default();
    let own = |rest: &str| format!("unit={unit}&{rest}");
    let result = async {
        Ok::<_, AppError>(vec![
            queue(&state, &staff, "to-sign", "inbox.to_sign", &own("state=pending_sign&sort=deadline"), &[K::Sign])
                .await?,
            queue(&state, &staff, "overdue", "inbox.overdue", &own("overdue=true&sort=deadline"), &[]).await?,
            queue(&state, &staff, "due-soon", "inbox.due_soon", &own("due_within_hours=24&sort=deadline"), &[]).await?,
            queue(&state, &staff, "rework", "inbox.rework", &own("state=handling&reworked=true&sort=deadline"), &[])
                .await?,
            queue(&state, &staff, "in-hand", "inbox.in_hand", &own("state=handling,suspended&sort=deadline"), &[])
                .await?,
        ])
    }
    .await;
    match result {
        Ok(queues) => {
            let mut c = ctx(&staff.visit, Some(&staff.who), "inbox.title");
            c.body_class = "wide";
            render(StatusCode::OK, &InboxPage { c, queues })
        }
        Err(e) => error_page(&t, &e),
    }
}
