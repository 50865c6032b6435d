//! The operator workbench (受理): one screen to take a call. The caller's earlier requests and the
//! dispatch preview are small fragments the page script fetches as the operator types; without the
//! script the form still saves and the preview shows on the case page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cityloop_app::intake::{NewCase, NewContact, NewLocation};
use cityloop_app::moves::{CaseRef, MoveInput};
use cityloop_app::queries::CaseQuery;
use cityloop_app::AppError;
use cityloop_domain::{CategoryId, RequestType, Role, Urgency};
use serde::Deserialize;

use super::{
    category_options, ctx, enum_options, error_page, form_errors, long_time, render, staff_error_page, summary_rows,
    CaseRow, Ctx, Options,
};
use crate::session::{FormInput, PageQuery, Staff};
use crate::WebState;

#[derive(Template)]
#[template(path = "intake.html")]
struct Workbench {
    c: Ctx,
    categories: Options,
    request_types: Options,
    channels: Options,
    urgencies: Options,
    map: String,
    created: Option<String>,
}

#[derive(Deserialize)]
pub struct CreatedParams {
    created: Option<String>,
    answered: Option<String>,
    /// The case the new one was merged into.
    merged: Option<String>,
}

fn forbidden_unless_operator(staff: &Staff) -> Option<Response> {
    (!staff.who.has_any(&[Role::Operator, Role::Admin]))
        .then(|| staff_error_page(staff, &AppError::Forbidden("the workbench is for operators".into())))
}

fn workbench_view(state: &WebState, staff: &Staff, c: Ctx, created: Option<String>) -> Workbench {
    let reference = state.app.reference();
    let t = c.t;
    let map = state.map().picker("intake-map", &[]);
    Workbench {
        categories: category_options(&reference, &c.val("category", "")),
        request_types: enum_options(&t, RequestType::ALL, &c.val("request_type", "complaint")),
        channels: enum_options(&t, &cityloop_app::intake::channels_for(&staff.who), &c.val("channel", "hotline")),
        urgencies: enum_options(&t, Urgency::ALL, &c.val("urgency", "")),
        map,
        created,
        c,
    }
}

async fn workbench_page(state: &WebState, staff: &Staff, q: CreatedParams) -> Response {
    let mut c = ctx(&staff.visit, Some(&staff.who), "intake.title");
    c.body_class = "wide";
    let answered = q.answered.is_some();
    let created = q.created.or(q.answered).filter(|n| cityloop_domain::number::looks_like_case_number(n));
    if let Some(n) = &created {
        let key = if answered { "intake.answered" } else { "intake.created" };
        let mut flash = format!("{} {n}", c.t.get(key));
        if let Some(master) = q.merged.as_deref().filter(|m| cityloop_domain::number::looks_like_case_number(m)) {
            flash.push_str(&format!(" · {} {master}", c.t.get("intake.merged")));
        }
        c.flash = Some(flash);
    }
    render(StatusCode::OK, &workbench_view(state, staff, c, created))
}

pub async fn workbench(
    State(state): State<WebState>,
    staff: Staff,
    PageQuery(q): PageQuery<CreatedParams>,
) -> Response {
    if let Some(r) = forbidden_unless_operator(&staff) {
        return r;
    }
    workbench_page(&state, &staff, q).await
}

/// Reads the workbench form into a new case.
pub fn new_case_from(form: &FormInput, channel_default: &str) -> Result<NewCase, AppError> {
    let coordinate = |name: &str| -> Result<Option<f64>, AppError> {
        form.get(name).map(|v| v.parse::<f64>().map_err(|_| AppError::invalid(name, "must be a number"))).transpose()
    };
    let location = match (coordinate("lat")?, coordinate("lon")?) {
        (Some(lat), Some(lon)) => Some(NewLocation { lat, lon, address: form.get("address") }),
        (None, None) => None,
        // Half a point is no place: dropping it would file the request as if none was given.
        (Some(_), None) => return Err(AppError::invalid("lon", "is required with the latitude")),
        (None, Some(_)) => return Err(AppError::invalid("lat", "is required with the longitude")),
    };
    let contact = match (form.get("name"), form.get("phone")) {
        (None, None) => None,
        (name, phone) => Some(NewContact { name: name.unwrap_or_default(), phone: phone.unwrap_or_default() }),
    };
    Ok(NewCase {
        channel: form.get("channel").unwrap_or_else(|| channel_default.to_string()),
        request_type: form.get("request_type").unwrap_or_else(|| "complaint".into()),
        title: form.get("title").unwrap_or_default(),
        description: form.get("description").unwrap_or_default(),
        category: form.get("category"),
        location,
        grid: form.get("grid"),
        contact,
        confidential: Some(form.get("confidential").is_some()),
        urgency: form.get("urgency"),
        address: form.get("address"),
        attachments: Vec::new(),
        submission: None,
    })
}

/// What became of a workbench form.
enum Saved {
    Created(String),
    Answered(String),
    /// Saved and merged into the case it names.
    Merged(String, String),
    /// Saved, but the merge into the chosen case was refused.
    MergeRefused(String),
}

pub async fn create(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = forbidden_unless_operator(&staff) {
        return r;
    }
    let t = staff.visit.tr;
    let answer = form.get("answer");
    let wants_answer = form.get("action").as_deref() == Some("answer");
    let article = form.get("article").and_then(|a| a.parse::<i64>().ok());
    let result = async {
        let input = new_case_from(&form, "hotline")?;
        if wants_answer {
            // Checked before the case exists, so that a refused answer leaves no case behind. An
            // article chosen with no words of the operator's own is the answer, as in the API.
            match article {
                None if answer.is_none() => return Err(AppError::invalid("answer", "is required")),
                Some(id) => {
                    if let Err(AppError::NotFound(_)) = state.app.article(&staff.who, id) {
                        return Err(AppError::invalid("article", "no such article"));
                    }
                }
                None => {}
            }
            if !RequestType::parse(&input.request_type).is_some_and(|r| r.can_be_answered_directly()) {
                return Err(AppError::invalid(
                    "request_type",
                    "only consultations, praise, suggestions and other requests can be answered directly",
                ));
            }
            if !staff.who.has(Role::Operator) {
                return Err(AppError::Forbidden("only operators answer directly".into()));
            }
        }
        let created = state.app.create_case(&staff.who, input, form.get("form_key").as_deref()).await?;
        if wants_answer && !created.replayed {
            let input = MoveInput { answer: answer.clone(), article, ..MoveInput::default() };
            if let Err(e) = state.app.perform_move(&staff.who, &created.case.number, "answer", input).await {
                // The case is saved; its page shows what happened and what can be done next.
                tracing::warn!(case = %created.case.number, error = %e, "direct answer refused after intake");
                return Ok(Saved::Created(created.case.number));
            }
        }
        if let Some(master) = form.get("merge_into").filter(|m| !m.is_empty() && !wants_answer && !created.replayed) {
            let input = MoveInput { into: Some(CaseRef::Number(master.clone())), ..MoveInput::default() };
            if let Err(e) = state.app.perform_move(&staff.who, &created.case.number, "merge", input).await {
                // The case is saved but not merged: its page says so and offers the merge again.
                tracing::warn!(case = %created.case.number, error = %e, "merge refused after intake");
                return Ok(Saved::MergeRefused(created.case.number));
            }
            return Ok(Saved::Merged(created.case.number, master));
        }
        Ok(if wants_answer { Saved::Answered(created.case.number) } else { Saved::Created(created.case.number) })
    }
    .await;
    match result {
        Ok(Saved::Created(number)) => Redirect::to(&format!("/intake?created={number}")).into_response(),
        Ok(Saved::Answered(number)) => Redirect::to(&format!("/intake?answered={number}")).into_response(),
        Ok(Saved::Merged(number, master)) => {
            let query = serde_urlencoded::to_string([("created", number), ("merged", master)]).unwrap_or_default();
            Redirect::to(&format!("/intake?{query}")).into_response()
        }
        Ok(Saved::MergeRefused(number)) => Redirect::to(&format!("/cases/{number}?failed=merge")).into_response(),
        Err(e) => match form_errors(&t, &e) {
            Some(errors) => {
                let mut c = ctx(&staff.visit, Some(&staff.who), "intake.title");
                c.body_class = "wide";
                c.errors = errors;
                c.values = form.values();
                render(StatusCode::UNPROCESSABLE_ENTITY, &workbench_view(&state, &staff, c, None))
            }
            None => staff_error_page(&staff, &e),
        },
    }
}

#[derive(Template)]
#[template(path = "intake_caller.html")]
struct CallerHistory {
    c: Ctx,
    rows: Vec<CaseRow>,
    total: i64,
}

#[derive(Deserialize)]
pub struct PhoneParam {
    phone: Option<String>,
}

/// The caller's earlier requests, as a fragment.
pub async fn caller_history(
    State(state): State<WebState>,
    staff: Staff,
    PageQuery(q): PageQuery<PhoneParam>,
) -> Response {
    if let Some(r) = forbidden_unless_operator(&staff) {
        return r;
    }
    let c = ctx(&staff.visit, Some(&staff.who), "intake.history");
    let phone = q.phone.unwrap_or_default();
    if phone.trim().len() < 3 {
        return render(StatusCode::OK, &CallerHistory { c, rows: vec![], total: 0 });
    }
    let query = CaseQuery { phone: Some(phone), page_size: Some(10), ..CaseQuery::default() };
    match state.app.list_cases_without_contact(&staff.who, &query).await {
        Ok(page) => {
            let reference = state.app.reference();
            let rows = summary_rows(&c.t, &reference, &page.items);
            render(StatusCode::OK, &CallerHistory { c, rows, total: page.total })
        }
        Err(e) => error_page(&c.t, &e),
    }
}

#[derive(Deserialize)]
pub struct PreviewParams {
    category: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    grid: Option<String>,
    address: Option<String>,
}

/// Where the catalogue would send the case and by when, as a fragment.
pub async fn preview(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<PreviewParams>) -> Response {
    let t = staff.visit.tr;
    let reference = state.app.reference();
    let grid = match (q.lat, q.lon) {
        (Some(lat), Some(lon)) => reference.locate(lat, lon),
        _ => None,
    }
    .or_else(|| q.grid.as_deref().and_then(|g| reference.grid_by_code(g.trim())));
    let by_address = match grid {
        Some(_) => None,
        None => q.address.as_deref().and_then(|a| reference.locate_address(a)),
    };
    let grid = grid.or(by_address.map(|(_, g)| g));
    let unknown_grid = grid.is_none() && q.grid.as_deref().is_some_and(|g| !g.trim().is_empty());
    let category: Option<CategoryId> = q.category.as_deref().and_then(|c| reference.category_by_code(c)).map(|c| c.id);
    let preview = match state.app.dispatch_preview(category, grid.and_then(|g| g.division_id)).await {
        Ok(p) => p,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let esc = crate::escape_html;
    let mut html = String::new();
    if let Some((division, _)) = by_address {
        html.push_str(&format!(
            r#"<p id="preview-address">{} <b>{}</b></p>"#,
            t.get("intake.by_address"),
            esc(&division.name)
        ));
    }
    if unknown_grid {
        html.push_str(&format!(r#"<p id="preview-grid" class="field-error">{}</p>"#, t.get("intake.unknown_grid")));
    }
    if let Some(g) = grid {
        html.push_str(&format!(
            r#"<p id="preview-grid" data-grid="{}">{} <b>{}</b> {}</p>"#,
            esc(&g.code),
            t.get("intake.located"),
            esc(&g.code),
            esc(&g.name)
        ));
    }
    let unit = preview.unit.and_then(|u| reference.unit(u));
    match unit {
        Some(u) => {
            html.push_str(&format!(r#"<p>{}: <b id="preview-unit">{}</b></p>"#, t.get("field.unit"), esc(&u.name)))
        }
        // Catalogue rules name units by area: until the case is placed, the lead unit is not known.
        None if grid.is_none() => {
            html.push_str(&format!(r#"<p id="preview-unit" class="muted">{}</p>"#, t.get("intake.needs_place")))
        }
        None => html.push_str(&format!(r#"<p id="preview-unit" class="muted">{}</p>"#, t.get("intake.no_rule"))),
    }
    let assisting: Vec<String> =
        preview.assisting_units.iter().filter_map(|u| reference.unit(*u)).map(|u| esc(&u.name)).collect();
    if !assisting.is_empty() {
        html.push_str(&format!("<p>{}: {}</p>", t.get("field.assisting"), assisting.join("、")));
    }
    match (category, preview.known_deadline()) {
        (Some(_), Some((limit, deadline))) => html.push_str(&format!(
            r#"<p>{}: <b id="preview-deadline">{}</b> <span class="muted">({})</span></p>"#,
            t.get("field.deadline"),
            long_time(&reference, deadline),
            esc(&t.limit(limit))
        )),
        // The time limit comes with the case standard, and a case is filed under a category that has
        // one: a group of categories is narrowed down at filing, when the limit is known.
        (Some(_), None) => {
            html.push_str(&format!(r#"<p id="preview-deadline" class="muted">{}</p>"#, t.get("intake.needs_standard")))
        }
        (None, _) => {
            html.push_str(&format!(r#"<p id="preview-deadline" class="muted">{}</p>"#, t.get("intake.needs_category")))
        }
    }
    Html(html).into_response()
}
