//! The grid inspector's phone page: report a problem with a photo and the phone's position, the
//! verification and on-site check tasks of the inspector's grids, and a map of those grids.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::queries::CaseQuery;
use cityloop_app::AppError;
use cityloop_domain::Role;
use serde::Deserialize;

use super::{
    count_label, ctx, fileable_category_options, form_errors, render, staff_error_page, state_class, summary_rows,
    CaseRow, Ctx, Options,
};
use crate::session::{FormInput, PageQuery, Staff};
use crate::svg::Point;
use crate::WebState;

/// Tasks listed per kind on the phone page; the case list shows the rest.
const TASKS_SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "inspector.html")]
struct InspectorPage {
    c: Ctx,
    categories: Options,
    grids: Options,
    verify: Vec<CaseRow>,
    check: Vec<CaseRow>,
    verify_total: String,
    check_total: String,
    verify_more: bool,
    check_more: bool,
    map: String,
    reported: Option<String>,
    verify_label: String,
}

#[derive(Deserialize)]
pub struct ReportedParam {
    reported: Option<String>,
    done: Option<String>,
    case: Option<String>,
}

async fn inspector_page(
    state: &WebState,
    staff: &Staff,
    mut c: Ctx,
    reported: Option<String>,
    status: StatusCode,
) -> Response {
    let t = c.t;
    let reference = state.app.reference();
    let tasks = |s: &str| CaseQuery {
        state: Some(s.into()),
        sort: Some("created_asc".into()),
        page_size: Some(TASKS_SHOWN),
        ..CaseQuery::default()
    };
    let (to_verify, to_check) = (tasks("verifying"), tasks("feedback"));
    let (verify, check) = match tokio::try_join!(
        state.app.list_cases_without_contact(&staff.who, &to_verify),
        state.app.list_cases_without_contact(&staff.who, &to_check),
    ) {
        Ok(v) => v,
        Err(e) => return staff_error_page(staff, &e),
    };
    let mine = &staff.who.user.grids;
    let in_my_grids = |s: &&cityloop_app::queries::CaseSummary| s.case.grid_id.is_some_and(|g| mine.contains(&g));
    let verify_items: Vec<_> = verify.items.iter().filter(in_my_grids).cloned().collect();
    let check_items: Vec<_> = check.items.iter().filter(in_my_grids).cloned().collect();
    let points: Vec<Point> = verify_items
        .iter()
        .chain(&check_items)
        .filter_map(|s| {
            s.case.location.as_ref().map(|l| Point {
                lat: l.lat,
                lon: l.lon,
                class: state_class(s.case.state),
                title: format!("{} {}", s.case.number, s.case.title),
                href: Some(format!("/cases/{}", s.case.number)),
            })
        })
        .collect();
    let map = state.map().grids("my-grids", mine, &points);
    let grids: Options = mine
        .iter()
        .filter_map(|g| reference.grid(*g))
        .map(|g| (g.code.clone(), format!("{} {}", g.code, g.name), c.val("grid", "") == g.code))
        .collect();
    if let Some(n) = &reported {
        c.flash = Some(format!("{} {n}", t.get("inspector.reported")));
    }
    c.body_class = "narrow-page";
    render(
        status,
        &InspectorPage {
            categories: fileable_category_options(&reference, &c.val("category", "")),
            grids,
            verify: summary_rows(&t, &reference, &verify_items),
            check: summary_rows(&t, &reference, &check_items),
            verify_total: count_label(verify.total),
            check_total: count_label(check.total),
            verify_more: verify.total > TASKS_SHOWN,
            check_more: check.total > TASKS_SHOWN,
            map,
            reported,
            verify_label: t.get("inspector.verify_found").to_string(),
            c,
        },
    )
}

pub async fn page(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<ReportedParam>) -> Response {
    if !staff.who.has(Role::Inspector) {
        return staff_error_page(&staff, &AppError::Forbidden("this page is for grid inspectors".into()));
    }
    let mut c = ctx(&staff.visit, Some(&staff.who), "inspector.title");
    c.flash = super::MoveDone { done: q.done, case: q.case }.flash(&staff.visit.tr);
    let reported = q.reported.filter(|n| cityloop_domain::number::looks_like_case_number(n));
    inspector_page(&state, &staff, c, reported, StatusCode::OK).await
}

pub async fn report(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let t = staff.visit.tr;
    if !staff.who.has(Role::Inspector) {
        return staff_error_page(&staff, &AppError::Forbidden("this page is for grid inspectors".into()));
    }
    let outcome = async {
        let mut input = super::intake::new_case_from(&form, "inspector")?;
        input.channel = "inspector".into();
        input.request_type = "report".into();
        // The phone's position decides the grid; the grid field is a fallback. A position outside
        // the inspector's own grids is refused by intake.
        if input.location.is_some() {
            input.grid = None;
        }
        for upload in form.uploads() {
            // A photo refused (too large, not a picture) is marked beside the photo, the report kept.
            let stored = state.app.store_attachment(&staff.who, &upload.file_name, &upload.bytes).await;
            let stored = stored.map_err(|e| match e {
                AppError::Invalid { message, .. } | AppError::TooLarge(message) => {
                    AppError::Invalid { field: "file".into(), message }
                }
                e => e,
            })?;
            input.attachments.push(stored.hash);
        }
        state.app.create_case(&staff.who, input, form.get("form_key").as_deref()).await
    }
    .await;
    match outcome {
        Ok(created) => Redirect::to(&format!("/inspector?reported={}", created.case.number)).into_response(),
        Err(e) => {
            // A place outside one's grids is refused, shown beside the grid field with what was typed.
            let (status, e) = match e {
                AppError::Forbidden(why) => (StatusCode::FORBIDDEN, AppError::invalid("grid", why)),
                e => (StatusCode::UNPROCESSABLE_ENTITY, e),
            };
            match form_errors(&t, &e) {
                Some(errors) => {
                    let mut c = ctx(&staff.visit, Some(&staff.who), "inspector.title");
                    c.errors = errors;
                    c.values = form.values();
                    inspector_page(&state, &staff, c, None, status).await
                }
                None => staff_error_page(&staff, &e),
            }
        }
    }
}
