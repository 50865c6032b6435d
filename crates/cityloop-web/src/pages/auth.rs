//! Staff login and logout, and the language switch.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use cityloop_app::access::RequestWatch;
use serde::Deserialize;

use super::{ctx, home_of, local_path, render, Ctx};
use crate::i18n::Lang;
use crate::session::{clear_session_cookie, lang_cookie, session_cookie, FormInput, PageQuery, Visit};
use crate::WebState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    next: String,
    failed: bool,
    /// The password was right and the account asks for its one-time code.
    needs_code: bool,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(LOCATION, location.to_string())]).into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        res.headers_mut().append(SET_COOKIE, c);
    }
    res
}

pub async fn login_form(visit: Visit, PageQuery(q): PageQuery<NextParam>) -> Response {
    let c = ctx(&visit, None, "login.title");
    render(
        StatusCode::OK,
        &LoginPage { c, next: local_path(q.next.as_deref()).unwrap_or_default(), failed: false, needs_code: false },
    )
}

pub async fn login(
    State(state): State<WebState>,
    watch: Option<Extension<RequestWatch>>,
    visit: Visit,
    form: FormInput,
) -> Response {
    let username = form.get("username").unwrap_or_default();
    let password = form.fields.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default();
    let next = local_path(form.get("next").as_deref());
    let code = form.get("code");
    match state.app.login_with_code(&username, &password, code.as_deref()).await {
        Ok(login) => {
            if let Some(Extension(watch)) = watch {
                watch.signed_in(&login.principal.user);
            }
            let home = home_of(&login.principal).to_string();
            see_other(&next.unwrap_or(home), Some(session_cookie(&login.token)))
        }
        Err(
            e @ (cityloop_app::AppError::Unauthorized(_)
            | cityloop_app::AppError::Invalid { .. }
            | cityloop_app::AppError::SecondFactorRequired(_)),
        ) => {
            let mut c = ctx(&visit, None, "login.title");
            c.values.insert("username".into(), username);
            let needs_code = matches!(e, cityloop_app::AppError::SecondFactorRequired(_));
            let page = LoginPage { c, next: next.unwrap_or_default(), failed: !needs_code, needs_code };
            render(StatusCode::UNAUTHORIZED, &page)
        }
        Err(e) => super::error_page(&visit.tr, &e),
    }
}

pub async fn logout(State(state): State<WebState>, visit: Visit, _form: FormInput) -> Response {
    if let Some(token) = &visit.session {
        // Signing out of an already expired session is not an error.
        let _ = state.app.logout(token).await;
    }
    see_other("/login", Some(clear_session_cookie()))
}

pub async fn switch_language(Path(code): Path<String>, PageQuery(q): PageQuery<NextParam>) -> Response {
    let next = local_path(q.next.as_deref()).unwrap_or_else(|| "/".into());
    see_other(&next, Some(lang_cookie(Lang::from_code(&code))))
}
