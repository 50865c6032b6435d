//! The risk-signal page (风险预警): open signals, highest first, each with its explanation and the
//! cases behind it; a signal is marked as taken up as a supervision task or a topic, or dismissed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::signals::SignalView;
use serde::Deserialize;

use super::{ctx, render, staff_error_page, Ctx};
use crate::session::{FormInput, PageId, PageQuery, Staff};
use crate::WebState;

#[derive(Template)]
#[template(path = "signals.html")]
struct SignalsPage {
    c: Ctx,
    state: String,
    signals: Vec<SignalView>,
    open: Option<SignalView>,
}

#[derive(Deserialize)]
pub struct SignalsParams {
    state: Option<String>,
    open: Option<i64>,
}

pub async fn page(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<SignalsParams>) -> Response {
    let wanted = p.state.filter(|s| !s.is_empty()).unwrap_or_else(|| "open".into());
    let signals = match state.app.signals(&staff.who, Some(&wanted), None, 200).await {
        Ok(s) => s,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let open = match p.open {
        Some(id) => match state.app.signal(&staff.who, id).await {
            Ok(s) => Some(s),
            Err(e) => return staff_error_page(&staff, &e),
        },
        None => None,
    };
    let c = ctx(&staff.visit, Some(&staff.who), "signals.title");
    render(StatusCode::OK, &SignalsPage { c, state: wanted, signals, open })
}

pub async fn scan(State(state): State<WebState>, staff: Staff, _form: FormInput) -> Response {
    if let Err(e) = state.app.signals(&staff.who, None, None, 1).await {
        return staff_error_page(&staff, &e);
    }
    match state.app.scan_signals().await {
        Ok(_) => Redirect::to("/signals").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn mark(State(state): State<WebState>, staff: Staff, PageId(id): PageId, form: FormInput) -> Response {
    let to = form.get("state").unwrap_or_default();
    match state.app.set_signal_state(&staff.who, id, &to).await {
        Ok(_) => Redirect::to(&format!("/signals?open={id}&state={to}")).into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}
