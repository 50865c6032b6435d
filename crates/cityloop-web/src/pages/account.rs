//! The signed-in user's own account: their password, changed with the current one, and two-step
//! sign-in, turned on with a code from an authenticator app and off with a current code.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::AppError;

use super::{ctx, error_page, form_errors, render, staff_error_page, Ctx};
use crate::session::{FormInput, Staff};
use crate::WebState;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Ctx,
    username: String,
    on: bool,
    /// A secret being set up: base32 and its `otpauth://` address.
    setup: Option<(String, String)>,
}

fn page(staff: &Staff, on: bool, setup: Option<(String, String)>) -> AccountPage {
    let mut c = ctx(&staff.visit, Some(&staff.who), "account.title");
    // Here it is the account's own password, not the first one an administrator gives.
    c.labels.insert("password".into(), c.t.get("login.password").into());
    AccountPage { username: staff.who.user.username.clone(), on, setup, c }
}

pub async fn change_password(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let current = form.get("current_password").unwrap_or_default();
    let new = form.get("new_password").unwrap_or_default();
    let on = staff.who.user.totp_secret.is_some();
    if form.get("new_password") != form.get("new_password_again") {
        let e = AppError::invalid("new_password_again", "does not match the new password");
        return refused(page(&staff, on, None), &e);
    }
    match state.app.change_own_password(&staff.who, &current, &new, staff.visit.session.as_deref()).await {
        Ok(()) => {
            let mut p = page(&staff, on, None);
            p.c.flash = Some(p.c.t.get("account.password_changed").to_string());
            render(StatusCode::OK, &p)
        }
        Err(e @ AppError::Invalid { .. }) => refused(page(&staff, on, None), &e),
        Err(e) => staff_error_page(&staff, &e),
    }
}

/// The page again with the form's error next to its field.
fn refused(mut p: AccountPage, e: &AppError) -> Response {
    match form_errors(&p.c.t, e) {
        Some(errors) => {
            p.c.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        None => error_page(&p.c.t, e),
    }
}

pub async fn show(staff: Staff) -> Response {
    let on = staff.who.user.totp_secret.is_some();
    render(StatusCode::OK, &page(&staff, on, None))
}

pub async fn start(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let password = form.get("password").unwrap_or_default();
    match state.app.set_up_totp(&staff.who, &password).await {
        Ok(s) => render(StatusCode::OK, &page(&staff, false, Some((s.secret, s.otpauth_url)))),
        Err(e @ cityloop_app::AppError::Invalid { .. }) => refused(page(&staff, false, None), &e),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn confirm(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let code = form.get("code").unwrap_or_default();
    match state.app.confirm_totp(&staff.who, &code, staff.visit.session.as_deref()).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => {
            // The same secret, shown again beside the error.
            let pending = state.app.store.get_user(staff.who.user.id).await.ok().and_then(|u| u.totp_pending);
            let setup = pending.and_then(|secret| {
                let url = cityloop_app::two_factor::otpauth_url(&secret, &staff.who.user.username).ok()?;
                Some((secret, url))
            });
            refused(page(&staff, false, setup), &e)
        }
    }
}

pub async fn turn_off(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let code = form.get("code").unwrap_or_default();
    match state.app.turn_off_totp(&staff.who, &code).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => refused(page(&staff, true, None), &e),
    }
}
