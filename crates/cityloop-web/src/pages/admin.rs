//! Admin pages: units, users and roles, categories with case standards, the dispatch catalogue
//! with its "which unit would get this?" tester, grids (GeoJSON upload, map preview), divisions
//! and the holiday calendar, the knowledge base, the classifier, and webhooks with their delivery log.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::admin::{
    CalendarDay, CategoryEdit, Change, NewRule, NewUnit, NewUser, StandardInput, UnitEdit, UserEdit,
};
use cityloop_app::moves::UnitRef;
use cityloop_app::AppError;
use cityloop_domain::{Role, TimingMode, UnitKind, Urgency};
use serde::Deserialize;

use super::{
    category_options, ctx, division_options, enum_options, error_page, form_errors, indented, long_time, render,
    staff_error_page, tree_order, unit_options, Ctx, Options,
};
use crate::i18n::field_message;
use crate::session::{FormInput, PageId, PageQuery, Staff};
use crate::WebState;

/// The admin sections, for the tab bar.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("/admin/units", "admin.units"),
    ("/admin/users", "admin.users"),
    ("/admin/categories", "admin.categories"),
    ("/admin/catalogue", "admin.catalogue"),
    ("/admin/grids", "admin.grids"),
    ("/admin/divisions", "admin.divisions"),
    ("/admin/calendar", "admin.calendar"),
    ("/admin/knowledge", "admin.knowledge"),
    ("/admin/classifier", "admin.classifier"),
    ("/admin/webhooks", "admin.webhooks"),
    ("/admin/access", "admin.access"),
];

/// A table: headers and rows of cells.
pub struct Table {
    pub id: &'static str,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// A delete form per row (action path), when rows can be deleted.
    pub delete: Vec<String>,
    /// The page that edits each row, linked from its first cell, when rows can be edited.
    pub edit: Vec<String>,
}

/// A row of a table as the template shows it.
pub struct Line<'a> {
    pub cells: &'a [String],
    pub edit: &'a str,
    pub delete: &'a str,
}

impl Table {
    /// Each row with its edit page and delete action (empty when there is none).
    pub fn lines(&self) -> Vec<Line<'_>> {
        fn at(paths: &[String], i: usize) -> &str {
            paths.get(i).map_or("", String::as_str)
        }
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| Line { cells: r.as_slice(), edit: at(&self.edit, i), delete: at(&self.delete, i) })
            .collect()
    }
}

/// The record a section's form edits instead of adding one.
pub struct Editing {
    /// Where the form is sent.
    pub action: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "admin/page.html")]
struct AdminPage {
    c: Ctx,
    tabs: Vec<(&'static str, &'static str, bool)>,
    heading: String,
    /// Which form block the template shows.
    section: &'static str,
    table: Table,
    map: String,
    units: Options,
    categories: Options,
    divisions: Options,
    kinds: Options,
    roles: Options,
    tester: Option<String>,
    notes: Vec<String>,
    editing: Option<Editing>,
    modes: Options,
    urgencies: Options,
}

/// Column headers in the interface language.
fn headers(t: &crate::i18n::Tr, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| t.get(k).to_string()).collect()
}

/// The text of the uploaded file of a form.
fn uploaded_text<'a>(form: &'a FormInput, what: &str) -> Result<(&'a str, &'a str), AppError> {
    let upload = form.uploads().next().ok_or_else(|| AppError::invalid("file", "is required"))?;
    let text =
        std::str::from_utf8(&upload.bytes).map_err(|_| AppError::invalid("file", format!("must be UTF-8 {what}")))?;
    Ok((&upload.file_name, text))
}

pub(crate) fn admin_only(staff: &Staff) -> Option<Response> {
    (!staff.who.has(Role::Admin)).then(|| staff_error_page(staff, &AppError::Forbidden("administrators only".into())))
}

fn page(state: &WebState, staff: &Staff, section: &'static str, table: Table) -> AdminPage {
    let reference = state.app.reference();
    let mut c = ctx(&staff.visit, Some(&staff.who), "admin.title");
    c.body_class = "wide";
    let t = c.t;
    let current = format!("/admin/{section}");
    AdminPage {
        tabs: SECTIONS.iter().map(|(href, key)| (*href, t.get(key), *href == current)).collect(),
        heading: SECTIONS
            .iter()
            .find(|(h, _)| *h == current)
            .map_or_else(|| t.get("admin.title").to_string(), |(_, k)| t.get(k).to_string()),
        section,
        table,
        map: String::new(),
        units: unit_options(&reference, ""),
        categories: category_options(&reference, ""),
        divisions: division_options(&reference, ""),
        kinds: enum_options(&t, UnitKind::ALL, "department"),
        roles: enum_options(&t, Role::ALL, ""),
        tester: None,
        notes: Vec::new(),
        editing: None,
        modes: enum_options(&t, TimingMode::ALL, ""),
        urgencies: enum_options(&t, Urgency::ALL, ""),
        c,
    }
}

/// After a failed post: the field errors and the form's values into the page context, and the
/// status to answer with; an error that belongs to no field comes back for an error page.
fn refill<'e>(c: &mut Ctx, failed: Option<(&'e AppError, &FormInput)>) -> Result<StatusCode, &'e AppError> {
    let Some((e, form)) = failed else { return Ok(StatusCode::OK) };
    match form_errors(&c.t, e) {
        Some(errors) => {
            c.errors = errors;
            c.values = form.values();
            Ok(StatusCode::UNPROCESSABLE_ENTITY)
        }
        None => Err(e),
    }
}

/// Renders a section, refilling its form and showing field errors after a failed post.
fn respond(mut p: AdminPage, failed: Option<(&AppError, &FormInput)>) -> Response {
    if p.section != "users" {
        // A unit's, a division's or a category's name, not a person's.
        p.c.labels.insert("name".into(), p.c.t.get("field.entity_name").into());
    }
    if p.section == "categories" {
        // The standard's fields, named in the error summary as on the form.
        for (field, key) in [
            ("limit_amount", "field.limit"),
            ("limit_mode", "admin.limit_mode"),
            ("standard", "admin.standard"),
            ("filing_condition", "admin.filing_condition"),
            ("closing_condition", "admin.closing_condition"),
        ] {
            p.c.labels.insert(field.into(), p.c.t.get(key).into());
        }
    }
    match refill(&mut p.c, failed) {
        Ok(status) => render(status, &p),
        Err(e) => error_page(&p.c.t, e),
    }
}

pub async fn index(staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    Redirect::to("/admin/units").into_response()
}

fn units_table(state: &WebState, staff: &Staff) -> Table {
    let reference = state.app.reference();
    let t = staff.visit.tr;
    Table {
        id: "units",
        headers: headers(&t, &["field.code", "field.entity_name", "field.kind", "field.parent", "field.division"]),
        rows: reference
            .units
            .iter()
            .map(|u| {
                vec![
                    u.code.clone(),
                    u.name.clone(),
                    t.label(u.kind),
                    u.parent_id.and_then(|p| reference.unit(p)).map(|p| p.name.clone()).unwrap_or_default(),
                    u.division_id.and_then(|d| reference.division(d)).map(|d| d.name.clone()).unwrap_or_default(),
                ]
            })
            .collect(),
        delete: Vec::new(),
        edit: reference.units.iter().map(|u| format!("/admin/units/{}", u.code)).collect(),
    }
}

pub async fn units(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    respond(page(&state, &staff, "units", units_table(&state, &staff)), None)
}

/// The unit page with the unit's form filled in from what it is now.
pub async fn edit_unit_page(State(state): State<WebState>, staff: Staff, Path(code): Path<String>) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let reference = state.app.reference();
    let Some(unit) = reference.unit_by_code(&code) else {
        return staff_error_page(&staff, &AppError::NotFound(format!("unit `{code}`")));
    };
    let mut p = page(&state, &staff, "units", units_table(&state, &staff));
    p.editing = Some(editing(&p, &code, &unit.name));
    let parent = unit.parent_id.and_then(|u| reference.unit(u)).map(|u| u.code.clone());
    let division = unit.division_id.and_then(|d| reference.division(d)).map(|d| d.code.clone());
    p.c.values = HashMap::from([
        ("name".to_string(), unit.name.clone()),
        ("kind".to_string(), unit.kind.as_str().to_string()),
        ("parent".to_string(), parent.unwrap_or_default()),
        ("division".to_string(), division.unwrap_or_default()),
    ]);
    respond(p, None)
}

/// Saves a unit's name, kind, parent and area.
pub async fn edit_unit(
    State(state): State<WebState>,
    staff: Staff,
    Path(code): Path<String>,
    form: FormInput,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let edit = UnitEdit {
        name: form.get("name").unwrap_or_default(),
        kind: form.get("kind").unwrap_or_default(),
        parent: form.get("parent").map(UnitRef::Code).into(),
        division: form.get("division").into(),
    };
    let outcome = state.app.update_unit(&staff.who, &code, edit).await;
    let name = state.app.reference().unit_by_code(&code).map(|u| u.name.clone()).unwrap_or_default();
    edit_answer(page(&state, &staff, "units", units_table(&state, &staff)), outcome, &form, &code, &name)
}

/// The form of the record `code` of a section, titled with its name.
fn editing(p: &AdminPage, code: &str, name: &str) -> Editing {
    Editing { action: format!("/admin/{}/{code}", p.section), title: format!("{} {name}", p.c.t.get("admin.edit")) }
}

/// The section after an edit was sent: saved, or its form again with the errors marked.
fn edit_answer(mut p: AdminPage, outcome: Result<(), AppError>, form: &FormInput, code: &str, name: &str) -> Response {
    match outcome {
        Ok(()) => {
            p.c.flash = Some(format!("{} {code}", p.c.t.get("admin.saved")));
            respond(p, None)
        }
        Err(e) => {
            p.editing = Some(editing(&p, code, name));
            respond(p, Some((&e, form)))
        }
    }
}

pub async fn add_unit(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let input = NewUnit {
        code: form.get("code").unwrap_or_default(),
        name: form.get("name").unwrap_or_default(),
        kind: form.get("kind").unwrap_or_default(),
        parent: form.get("parent").map(UnitRef::Code),
        division: form.get("division"),
    };
    match state.app.add_unit(&staff.who, input).await {
        Ok(_) => Redirect::to("/admin/units").into_response(),
        Err(e) => respond(page(&state, &staff, "units", units_table(&state, &staff)), Some((&e, &form))),
    }
}

/// Grids listed by code in the user table; more are counted.
const MAX_LISTED_GRIDS: usize = 3;

async fn users_table(state: &WebState, staff: &Staff) -> Result<Table, AppError> {
    let reference = state.app.reference();
    let t = staff.visit.tr;
    let users = state.app.store.list_users().await?;
    Ok(Table {
        id: "users",
        headers: headers(
            &t,
            &["field.username", "field.name", "field.roles", "field.unit", "field.grids", "field.state"],
        ),
        rows: users
            .iter()
            .map(|u| {
                vec![
                    u.username.clone(),
                    u.name.clone(),
                    u.roles.iter().map(|r| t.label(*r)).collect::<Vec<_>>().join("、"),
                    u.unit_id.and_then(|x| reference.unit(x)).map(|x| x.name.clone()).unwrap_or_default(),
                    // An inspector may keep a hundred grids: past a few, the count keeps the table readable.
                    if u.grids.len() > MAX_LISTED_GRIDS {
                        format!("{} {}", u.grids.len(), t.get("admin.grid_count"))
                    } else {
                        u.grids
                            .iter()
                            .filter_map(|g| reference.grid(*g))
                            .map(|g| g.code.clone())
                            .collect::<Vec<_>>()
                            .join(" ")
                    },
                    t.get(if u.active { "admin.account_open" } else { "admin.account_closed" }).to_string(),
                ]
            })
            .collect(),
        delete: Vec::new(),
        edit: users.iter().map(|u| format!("/admin/users/{}", u.username)).collect(),
    })
}

/// The users page with an account's form filled in from what it is now.
pub async fn edit_user_page(State(state): State<WebState>, staff: Staff, Path(username): Path<String>) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let reference = state.app.reference();
    let found = async { Ok::<_, AppError>(state.app.store.user_by_username(&username).await?) };
    let (user, table) = match tokio::try_join!(found, users_table(&state, &staff)) {
        Ok((Some(user), table)) => (user, table),
        Ok((None, _)) => return staff_error_page(&staff, &AppError::NotFound(format!("user `{username}`"))),
        Err(e) => return staff_error_page(&staff, &e),
    };
    let mut p = page(&state, &staff, "users", table);
    p.editing = Some(editing(&p, &username, &user.name));
    let unit = user.unit_id.and_then(|u| reference.unit(u)).map(|u| u.code.clone());
    let grids: Vec<String> = user.grids.iter().filter_map(|g| reference.grid(*g)).map(|g| g.code.clone()).collect();
    p.c.values = HashMap::from([
        ("name".to_string(), user.name.clone()),
        ("unit".to_string(), unit.unwrap_or_default()),
        ("grids".to_string(), grids.join(" ")),
        ("roles[]".to_string(), user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n")),
    ]);
    respond(p, None)
}

/// Saves an account's name, roles, unit and grids.
pub async fn edit_user(
    State(state): State<WebState>,
    staff: Staff,
    Path(username): Path<String>,
    form: FormInput,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let edit = UserEdit {
        name: form.get("name").unwrap_or_default(),
        roles: form.all("roles"),
        unit: form.get("unit").map(UnitRef::Code).into(),
        grids: Change::Set(grid_codes(&form)),
    };
    let outcome = state.app.update_user(&staff.who, &username, edit).await.map(|_| ());
    match users_table(&state, &staff).await {
        Ok(table) => edit_answer(page(&state, &staff, "users", table), outcome, &form, &username, &username),
        Err(e) => staff_error_page(&staff, &e),
    }
}

/// The grid codes typed into a user form, split at commas and spaces.
fn grid_codes(form: &FormInput) -> Vec<String> {
    form.get("grids")
        .map(|g| g.split([',', ' ', '，']).filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// An administrator looks after an existing account: a new password for someone who forgot theirs,
/// or the account closed (someone left) or opened again.
pub async fn account_action(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let username = form.get("account").unwrap_or_default();
    let op = form.get("op").unwrap_or_default();
    let outcome = match op.as_str() {
        "reset" => {
            let password = form.fields.iter().find(|(k, _)| k == "new_password").map(|(_, v)| v.clone());
            state.app.reset_password(Some(&staff.who), &username, &password.unwrap_or_default()).await
        }
        "close" | "open" => state.app.set_account_open(Some(&staff.who), &username, op == "open").await,
        _ => Err(AppError::invalid("op", "is one of reset, close, open")),
    };
    // This form's fields are named apart from the new-user form's beside it.
    let outcome = outcome.map_err(|e| match e {
        AppError::Invalid { field, message } if field == "password" => {
            AppError::Invalid { field: "new_password".into(), message }
        }
        AppError::Invalid { field, message } if field == "username" => {
            AppError::Invalid { field: "account".into(), message }
        }
        AppError::NotFound(_) => AppError::invalid("account", format!("unknown user `{username}`")),
        e => e,
    });
    match users_table(&state, &staff).await {
        Ok(table) => {
            let mut p = page(&state, &staff, "users", table);
            match outcome {
                Ok(()) => {
                    let done = match op.as_str() {
                        "reset" => "admin.password_reset",
                        "close" => "admin.account_closed",
                        _ => "admin.account_open",
                    };
                    p.c.flash = Some(format!("{username}: {}", p.c.t.get(done)));
                    respond(p, None)
                }
                Err(e) => respond(p, Some((&e, &form))),
            }
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn users(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match users_table(&state, &staff).await {
        Ok(table) => respond(page(&state, &staff, "users", table), None),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn add_user(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let grids = grid_codes(&form);
    let input = NewUser {
        username: form.get("username").unwrap_or_default(),
        password: form.fields.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default(),
        name: form.get("name").unwrap_or_default(),
        roles: form.all("roles"),
        unit: form.get("unit").map(UnitRef::Code),
        grids: (!grids.is_empty()).then_some(grids),
    };
    match state.app.add_user(Some(&staff.who), input).await {
        Ok(_) => Redirect::to("/admin/users").into_response(),
        Err(e) => {
            // A name already taken is shown next to the name, with the form kept.
            let e = match e {
                AppError::Duplicate(message) => AppError::Invalid { field: "username".into(), message },
                e => e,
            };
            match users_table(&state, &staff).await {
                Ok(table) => respond(page(&state, &staff, "users", table), Some((&e, &form))),
                Err(e2) => staff_error_page(&staff, &e2),
            }
        }
    }
}

fn categories_table(state: &WebState, staff: &Staff) -> Table {
    let reference = state.app.reference();
    let t = staff.visit.tr;
    let ordered = tree_order(&reference.categories, |c| c.id, |c| c.parent_id);
    let rows = ordered
        .iter()
        .map(|&(c, depth)| {
            let s = c.standard.as_ref();
            vec![
                c.code.clone(),
                format!("{}{}", "\u{3000}".repeat(depth), c.name),
                s.map(|s| t.limit(s.limit)).unwrap_or_default(),
                s.map(|s| t.label(s.urgency)).unwrap_or_default(),
                s.map(|s| format!("{} / {}", s.filing_condition, s.closing_condition)).unwrap_or_default(),
                if reference.patrolled(c.id) { t.get("admin.patrolled_yes").to_string() } else { String::new() },
            ]
        })
        .collect();
    Table {
        id: "categories",
        headers: headers(
            &t,
            &[
                "field.code",
                "field.entity_name",
                "field.limit",
                "field.urgency",
                "admin.standard",
                "admin.patrolled_column",
            ],
        ),
        rows,
        delete: Vec::new(),
        edit: ordered.iter().map(|(c, _)| format!("/admin/categories/{}", c.code)).collect(),
    }
}

pub async fn categories(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    respond(page(&state, &staff, "categories", categories_table(&state, &staff)), None)
}

/// The category page with the category's form filled in: its name, and its own standard or, when it
/// follows the one above it, that one's values to start from.
pub async fn edit_category_page(State(state): State<WebState>, staff: Staff, Path(code): Path<String>) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let reference = state.app.reference();
    let Some(category) = reference.category_by_code(&code) else {
        return staff_error_page(&staff, &AppError::NotFound(format!("category `{code}`")));
    };
    let mut p = page(&state, &staff, "categories", categories_table(&state, &staff));
    p.editing = Some(editing(&p, &code, &category.name));
    let mut values = HashMap::from([("name".to_string(), category.name.clone())]);
    if category.standard.is_none() {
        values.insert("inherit".into(), "1".into());
    }
    if category.patrolled {
        values.insert("patrolled".into(), "1".into());
    } else if reference.patrolled(category.id) {
        values.insert("patrolled_above".into(), "1".into());
    }
    if let Some(s) = reference.standard(category.id) {
        values.extend([
            ("limit_amount".to_string(), s.limit.amount.to_string()),
            ("limit_mode".to_string(), s.limit.mode.as_str().to_string()),
            ("urgency".to_string(), s.urgency.as_str().to_string()),
            ("filing_condition".to_string(), s.filing_condition.clone()),
            ("closing_condition".to_string(), s.closing_condition.clone()),
        ]);
    }
    p.c.values = values;
    respond(p, None)
}

/// Saves a category's name and standard.
pub async fn edit_category(
    State(state): State<WebState>,
    staff: Staff,
    Path(code): Path<String>,
    form: FormInput,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    // An amount that is no number is sent as 0, which the use case refuses whatever else is wrong,
    // so that every wrong field is marked at once; its mark here says what was wrong with it.
    let amount = super::cases::number(&form, "limit_amount")
        .and_then(|n| n.ok_or_else(|| AppError::invalid("limit_amount", "is required")));
    let standard = form.get("inherit").is_none().then(|| StandardInput {
        limit_amount: *amount.as_ref().unwrap_or(&0),
        limit_mode: form.get("limit_mode").unwrap_or_default(),
        urgency: form.get("urgency").unwrap_or_default(),
        filing_condition: form.get("filing_condition").unwrap_or_default(),
        closing_condition: form.get("closing_condition").unwrap_or_default(),
    });
    let wrong_amount = if standard.is_some() { amount.err() } else { None };
    let edit = CategoryEdit {
        name: form.get("name").unwrap_or_default(),
        standard: standard.into(),
        patrolled: Some(form.get("patrolled").is_some()),
    };
    let outcome = match (state.app.update_category(&staff.who, &code, edit).await, wrong_amount) {
        (Err(e), Some(amount_error)) if !e.field_errors().is_empty() => {
            let others = e.field_errors().into_iter().filter(|f| f.field != "limit_amount");
            Err(AppError::InvalidFields(amount_error.field_errors().into_iter().chain(others).collect()))
        }
        (outcome, _) => outcome,
    };
    let name = state.app.reference().category_by_code(&code).map(|c| c.name.clone()).unwrap_or_default();
    edit_answer(page(&state, &staff, "categories", categories_table(&state, &staff)), outcome, &form, &code, &name)
}

pub async fn import_categories(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let outcome = async {
        let (file_name, text) = uploaded_text(&form, "text")?;
        let report = state.app.import_categories_csv(file_name, text).await?;
        state.app.reload_reference().await?;
        Ok::<_, AppError>(report)
    }
    .await;
    let mut p = page(&state, &staff, "categories", categories_table(&state, &staff));
    match outcome {
        Ok(report) => {
            let t = p.c.t;
            p.c.flash = Some(format!(
                "{} {} · {} {}",
                t.get("admin.imported"),
                report.created_or_updated,
                t.get("admin.already_present"),
                report.already_present
            ));
            respond(p, None)
        }
        Err(e) => respond(p, Some((&e, &form))),
    }
}

fn catalogue_table(state: &WebState, staff: &Staff) -> Table {
    let reference = state.app.reference();
    let t = staff.visit.tr;
    let unit = |u| reference.unit(u).map(|u| u.name.clone()).unwrap_or_default();
    Table {
        id: "catalogue",
        headers: headers(&t, &["field.category", "field.division", "field.unit", "field.assisting"]),
        rows: reference
            .catalogue
            .iter()
            .map(|r| {
                vec![
                    reference.category(r.category_id).map(|c| format!("{} {}", c.code, c.name)).unwrap_or_default(),
                    r.division_id
                        .and_then(|d| reference.division(d))
                        .map(|d| d.name.clone())
                        .unwrap_or_else(|| t.get("admin.city_wide").to_string()),
                    unit(r.lead_unit),
                    r.assisting_units.iter().map(|u| unit(*u)).collect::<Vec<_>>().join("、"),
                ]
            })
            .collect(),
        delete: reference.catalogue.iter().map(|r| format!("/admin/catalogue/{}/delete", r.id)).collect(),
        edit: Vec::new(),
    }
}

#[derive(Deserialize)]
pub struct TesterParams {
    category: Option<String>,
    division: Option<String>,
    grid: Option<String>,
}

pub async fn catalogue(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<TesterParams>) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let mut p = page(&state, &staff, "catalogue", catalogue_table(&state, &staff));
    let reference = state.app.reference();
    // The tester's choices stay chosen, also when the answer is an error.
    p.categories = category_options(&reference, q.category.as_deref().unwrap_or_default());
    p.divisions = division_options(&reference, q.division.as_deref().unwrap_or_default());
    if let Some(code) = q.category.as_deref().filter(|c| !c.is_empty()) {
        let t = p.c.t;
        p.c.values = HashMap::from([
            ("t_category".to_string(), code.to_string()),
            ("t_division".to_string(), q.division.clone().unwrap_or_default()),
            ("t_grid".to_string(), q.grid.clone().unwrap_or_default()),
        ]);
        let Some(category) = reference.category_by_code(code) else {
            p.c.errors.insert("t_category".into(), field_message(&t, &format!("unknown category `{code}`")));
            return respond(p, None);
        };
        let division =
            match (q.grid.as_deref().filter(|g| !g.is_empty()), q.division.as_deref().filter(|d| !d.is_empty())) {
                (Some(g), _) => match reference.grid_by_code(g.trim()) {
                    Some(grid) => grid.division_id,
                    None => {
                        p.c.errors.insert("t_grid".into(), field_message(&t, &format!("unknown grid `{}`", g.trim())));
                        return respond(p, None);
                    }
                },
                (None, Some(d)) => match reference.division_by_code(d) {
                    Some(division) => Some(division.id),
                    None => {
                        // The select offers only known divisions; an address typed by hand may not.
                        p.c.errors.insert("t_division".into(), field_message(&t, &format!("unknown division `{d}`")));
                        return respond(p, None);
                    }
                },
                _ => None,
            };
        match state.app.dispatch_preview(Some(category.id), division).await {
            Ok(preview) => {
                let unit = preview
                    .unit
                    .and_then(|u| reference.unit(u))
                    .map_or_else(|| t.get("intake.no_rule").to_string(), |u| format!("{} ({})", u.name, u.code));
                let assisting: Vec<String> =
                    preview.assisting_units.iter().filter_map(|u| reference.unit(*u)).map(|u| u.name.clone()).collect();
                let deadline = match preview.known_deadline() {
                    Some((limit, at)) => {
                        format!("{} {} ({})", t.get("field.deadline"), long_time(&reference, at), t.limit(limit))
                    }
                    None => t.get("intake.needs_standard").to_string(),
                };
                p.tester = Some(format!(
                    "{unit}{}{} · {deadline}",
                    if assisting.is_empty() { "" } else { " + " },
                    assisting.join("、"),
                ));
            }
            Err(e) => return staff_error_page(&staff, &e),
        }
    }
    respond(p, None)
}

pub async fn add_rule(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(refused) = admin_only(&staff) {
        return refused;
    }
    let before = state.app.reference();
    let outcome = async {
        let lead = form.get("lead_unit").ok_or_else(|| AppError::invalid("lead_unit", "is required"))?;
        let assisting = form.all("assisting_units");
        let input = NewRule {
            category: form.get("category").unwrap_or_default(),
            division: form.get("division"),
            lead_unit: UnitRef::Code(lead),
            assisting_units: (!assisting.is_empty()).then(|| assisting.into_iter().map(UnitRef::Code).collect()),
        };
        state.app.put_catalogue_rule(&staff.who, input).await
    }
    .await;
    match outcome {
        Ok(rule) => {
            // A rule for the same category and area takes the place of the one there: say so, naming
            // where cases went until now.
            let replaced = before
                .catalogue
                .iter()
                .find(|r| r.category_id == rule.category_id && r.division_id == rule.division_id)
                .and_then(|r| before.unit(r.lead_unit));
            let mut p = page(&state, &staff, "catalogue", catalogue_table(&state, &staff));
            p.c.flash = Some(match replaced {
                Some(unit) => p.c.t.get("admin.rule_replaced").replace("{}", &unit.name),
                None => p.c.t.get("admin.rule_added").to_string(),
            });
            respond(p, None)
        }
        Err(e) => respond(page(&state, &staff, "catalogue", catalogue_table(&state, &staff)), Some((&e, &form))),
    }
}

pub async fn delete_rule(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    _form: FormInput,
) -> Response {
    match state.app.delete_catalogue_rule(&staff.who, id).await {
        Ok(()) => Redirect::to("/admin/catalogue").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

fn grids_table(state: &WebState, staff: &Staff) -> Table {
    let reference = state.app.reference();
    let t = staff.visit.tr;
    Table {
        id: "grids",
        headers: headers(&t, &["field.code", "field.entity_name", "field.division"]),
        rows: reference
            .grids
            .iter()
            .map(|g| {
                vec![
                    g.code.clone(),
                    g.name.clone(),
                    g.division_id.and_then(|d| reference.division(d)).map(|d| d.name.clone()).unwrap_or_default(),
                ]
            })
            .collect(),
        delete: Vec::new(),
        edit: Vec::new(),
    }
}

fn grids_page(state: &WebState, staff: &Staff) -> AdminPage {
    let mut p = page(state, staff, "grids", grids_table(state, staff));
    p.map = state.map().shaded("grids-map", &HashMap::new(), &[]);
    p
}

pub async fn grids(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    respond(grids_page(&state, &staff), None)
}

pub async fn upload_grids(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let outcome = async {
        let upload = form.uploads().next().ok_or_else(|| AppError::invalid("file", "is required"))?;
        let text =
            std::str::from_utf8(&upload.bytes).map_err(|_| AppError::invalid("file", "must be UTF-8 GeoJSON"))?;
        let report = state.app.import_grids_geojson(text).await?;
        state.app.reload_reference().await?;
        Ok::<_, AppError>(report.created_or_updated)
    }
    .await;
    match outcome {
        Ok(n) => {
            let mut p = grids_page(&state, &staff);
            p.c.flash = Some(format!("{} {n}", p.c.t.get("admin.imported")));
            respond(p, None)
        }
        Err(e) => respond(grids_page(&state, &staff), Some((&e, &form))),
    }
}

pub async fn divisions(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let reference = state.app.reference();
    let t = staff.visit.tr;
    let rows = tree_order(&reference.divisions, |d| d.id, |d| d.parent_id)
        .into_iter()
        .map(|(d, depth)| {
            let units = reference.units.iter().filter(|u| u.division_id == Some(d.id)).count();
            let grids = reference.grids.iter().filter(|g| g.division_id == Some(d.id)).count();
            vec![indented(depth, &d.code, &d.name), t.label(d.level), units.to_string(), grids.to_string()]
        })
        .collect();
    let table = Table {
        id: "divisions",
        headers: headers(&t, &["field.entity_name", "field.level_div", "admin.units", "admin.grids"]),
        rows,
        delete: Vec::new(),
        edit: Vec::new(),
    };
    respond(page(&state, &staff, "divisions", table), None)
}

async fn calendar_page(state: &WebState, staff: &Staff) -> Result<AdminPage, AppError> {
    let t = staff.visit.tr;
    let notes = state.app.store.calendar_notes().await?;
    let reference = state.app.reference();
    let table = Table {
        id: "calendar",
        headers: vec![
            t.get("field.date").to_string(),
            t.get("field.day_kind").to_string(),
            t.get("field.note").to_string(),
        ],
        rows: notes
            .into_iter()
            .map(|(day, kind, note)| {
                let kind = match kind.as_str() {
                    "holiday" => t.get("admin.holiday").to_string(),
                    "workday" => t.get("admin.workday").to_string(),
                    other => other.to_string(),
                };
                vec![day, kind, note]
            })
            .collect(),
        delete: Vec::new(),
        edit: Vec::new(),
    };
    let mut p = page(state, staff, "calendar", table);
    p.notes = reference
        .calendar
        .periods
        .iter()
        .map(|period| format!("{}–{}", period.start.format("%H:%M"), period.end.format("%H:%M")))
        .collect();
    Ok(p)
}

pub async fn calendar(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match calendar_page(&state, &staff).await {
        Ok(p) => respond(p, None),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn set_day(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let input = CalendarDay {
        day: form.get("day").unwrap_or_default(),
        kind: form.get("kind").unwrap_or_default(),
        note: form.get("note"),
    };
    let outcome = state.app.set_calendar_day(&staff.who, input).await;
    match (outcome, calendar_page(&state, &staff).await) {
        (Ok(()), _) => Redirect::to("/admin/calendar").into_response(),
        (Err(e), Ok(p)) => respond(p, Some((&e, &form))),
        (Err(e), Err(_)) => staff_error_page(&staff, &e),
    }
}

fn knowledge_page(state: &WebState, staff: &Staff) -> AdminPage {
    let t = staff.visit.tr;
    let reference = state.app.reference();
    let articles = state.app.articles();
    let table = Table {
        id: "articles",
        headers: headers(&t, &["field.title", "field.category", "field.body"]),
        rows: articles
            .iter()
            .map(|a| {
                let category = a.category_code.as_deref().and_then(|c| reference.category_by_code(c));
                vec![
                    a.title.clone(),
                    category.map_or_else(String::new, |c| format!("{} {}", c.code, c.name)),
                    a.body.chars().take(60).collect(),
                ]
            })
            .collect(),
        delete: articles.iter().map(|a| format!("/admin/knowledge/{}/delete", a.id)).collect(),
        edit: articles.iter().map(|a| format!("/admin/knowledge/{}", a.id)).collect(),
    };
    page(state, staff, "knowledge", table)
}

pub async fn knowledge(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    respond(knowledge_page(&state, &staff), None)
}

/// An article as its form sends it.
fn article_input(form: &FormInput) -> cityloop_app::knowledge::ArticleInput {
    cityloop_app::knowledge::ArticleInput {
        title: form.get("title").unwrap_or_default(),
        body: form.get("body").unwrap_or_default(),
        category: form.get("category"),
        tags: form.get("tags").unwrap_or_default(),
    }
}

/// The knowledge page with an article's form filled in, to correct it where operators read it.
pub async fn edit_article_page(State(state): State<WebState>, staff: Staff, PageId(id): PageId) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let article = match state.app.article(&staff.who, id) {
        Ok(article) => article,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let mut p = knowledge_page(&state, &staff);
    p.editing = Some(editing(&p, &id.to_string(), &article.title));
    p.c.values = HashMap::from([
        ("title".to_string(), article.title),
        ("body".to_string(), article.body),
        ("category".to_string(), article.category_code.unwrap_or_default()),
        ("tags".to_string(), article.tags),
    ]);
    respond(p, None)
}

/// Saves an article's title, text, category and tags.
pub async fn edit_article(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    form: FormInput,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let outcome = state.app.update_article(Some(&staff.who), id, &article_input(&form)).await;
    let title = state.app.article(&staff.who, id).map(|a| a.title).unwrap_or_default();
    edit_answer(knowledge_page(&state, &staff), outcome, &form, &id.to_string(), &title)
}

pub async fn add_article(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match state.app.create_article(Some(&staff.who), &article_input(&form)).await {
        Ok(_) => Redirect::to("/admin/knowledge").into_response(),
        Err(e) => respond(knowledge_page(&state, &staff), Some((&e, &form))),
    }
}

pub async fn import_articles(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let outcome = async {
        let (name, text) = uploaded_text(&form, "CSV or Markdown")?;
        state.app.import_articles(Some(&staff.who), name, text).await.map_err(|e| match e {
            // A bad row is named as `FILE:LINE: field`; the form shows it under the file input.
            AppError::Invalid { field, message } if field != "file" => {
                AppError::invalid("file", format!("{field}: {message}"))
            }
            other => other,
        })
    }
    .await;
    match outcome {
        Ok(report) => {
            let mut p = knowledge_page(&state, &staff);
            p.c.flash = Some(format!("{} {}", p.c.t.get("admin.imported"), report.imported));
            respond(p, None)
        }
        Err(e) => respond(knowledge_page(&state, &staff), Some((&e, &form))),
    }
}

pub async fn delete_article(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    _form: FormInput,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match state.app.delete_article(Some(&staff.who), id).await {
        Ok(()) => Redirect::to("/admin/knowledge").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

async fn classifier_page(state: &WebState, staff: &Staff) -> Result<AdminPage, AppError> {
    let t = staff.visit.tr;
    let in_use = state.app.model().map(|m| m.version);
    let versions = state.app.store.list_models().await?;
    let reference = state.app.reference();
    let table = Table {
        id: "classifier-versions",
        headers: headers(
            &t,
            &["admin.version", "field.created_at", "admin.source", "admin.documents", "admin.labels", "admin.macro_f1"],
        ),
        rows: versions
            .iter()
            .map(|v| {
                let f1 = serde_json::from_str::<serde_json::Value>(&v.metrics)
                    .ok()
                    .and_then(|m| m.get("macro_f1").and_then(|f| f.as_f64()))
                    .map_or_else(|| "—".to_string(), |f| format!("{f:.3}"));
                let mark = if Some(v.version) == in_use { " ✓" } else { "" };
                vec![
                    format!("{}{mark}", v.version),
                    long_time(&reference, v.created_at),
                    v.source.clone(),
                    v.documents.to_string(),
                    v.labels.to_string(),
                    f1,
                ]
            })
            .collect(),
        delete: Vec::new(),
        edit: Vec::new(),
    };
    let mut p = page(state, staff, "classifier", table);
    p.notes = vec![
        format!("{}: {}", t.get("admin.in_use"), in_use.map_or_else(|| "—".to_string(), |v| v.to_string())),
        format!("{}: {:.2}", t.get("admin.threshold"), state.app.settings.auto_category_threshold),
    ];
    Ok(p)
}

pub async fn classifier(State(state): State<WebState>, staff: Staff) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match classifier_page(&state, &staff).await {
        Ok(p) => respond(p, None),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn train_classifier(State(state): State<WebState>, staff: Staff, _form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let outcome = state.app.train_model_from_cases(42).await;
    match (outcome, classifier_page(&state, &staff).await) {
        (Ok(trained), Ok(mut p)) => {
            p.c.flash = Some(format!("{} {}", p.c.t.get("admin.trained"), trained.version));
            respond(p, None)
        }
        (Err(e), Ok(mut p)) => {
            p.c.flash = Some(format!("{}: {e}", p.c.t.get("common.error")));
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        (_, Err(e)) => staff_error_page(&staff, &e),
    }
}

/// A subscription as a row.
struct HookLine {
    id: i64,
    url: String,
    description: String,
    events: String,
    secret: String,
    allow_private: bool,
    active: bool,
}

/// A delivery as a row.
struct DeliveryLine {
    id: i64,
    webhook_id: i64,
    event: String,
    case_number: String,
    state: &'static str,
    state_label: &'static str,
    attempts: i64,
    last: String,
    next: String,
    /// A dead delivery is sent again only while its webhook is active (a stopped one refuses it).
    retryable: bool,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    c: Ctx,
    tabs: Vec<(&'static str, &'static str, bool)>,
    hooks: Vec<HookLine>,
    deliveries: Vec<DeliveryLine>,
    /// State filters: value, label, chosen.
    filters: Vec<(&'static str, &'static str, bool)>,
    events: &'static [&'static str],
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveryFilter {
    #[serde(default)]
    state: String,
}

async fn webhooks_page(state: &WebState, staff: &Staff, filter: &str) -> Result<WebhooksPage, AppError> {
    use cityloop_store::DeliveryState;
    let reference = state.app.reference();
    let mut c = ctx(&staff.visit, Some(&staff.who), "admin.title");
    c.body_class = "wide";
    let t = c.t;
    let wanted = DeliveryState::parse(filter);
    let hooks = state.app.webhooks(&staff.who).await?;
    let rows = state.app.webhook_deliveries(&staff.who, None, wanted, 200).await?;
    let mut numbers = HashMap::new();
    for id in rows.iter().filter_map(|d| d.case_id) {
        if let std::collections::hash_map::Entry::Vacant(slot) = numbers.entry(id) {
            slot.insert(state.app.store.get_case(id).await.map(|case| case.number).unwrap_or_default());
        }
    }
    let state_label = |s: DeliveryState| match s {
        DeliveryState::Pending => t.get("webhooks.pending"),
        DeliveryState::Delivered => t.get("webhooks.delivered"),
        DeliveryState::Dead => t.get("webhooks.dead"),
    };
    let active: std::collections::HashSet<i64> = hooks.iter().filter(|h| h.active).map(|h| h.id).collect();
    Ok(WebhooksPage {
        tabs: SECTIONS.iter().map(|(href, key)| (*href, t.get(key), *href == "/admin/webhooks")).collect(),
        hooks: hooks
            .into_iter()
            .map(|h| HookLine {
                id: h.id,
                url: h.url,
                description: h.description,
                events: h.events.join(", "),
                secret: h.secret,
                allow_private: h.allow_private,
                active: h.active,
            })
            .collect(),
        deliveries: rows
            .into_iter()
            .map(|d| DeliveryLine {
                id: d.id,
                webhook_id: d.webhook_id,
                case_number: d.case_id.and_then(|id| numbers.get(&id).cloned()).unwrap_or_default(),
                state: d.state.as_str(),
                state_label: state_label(d.state),
                attempts: d.attempts,
                last: match (d.last_status, &d.last_error) {
                    (_, Some(e)) => e.clone(),
                    (Some(status), None) => status.to_string(),
                    (None, None) => String::new(),
                },
                next: cityloop_app::webhooks::next_attempt(&d).map(|at| long_time(&reference, at)).unwrap_or_default(),
                retryable: d.state == DeliveryState::Dead && active.contains(&d.webhook_id),
                event: d.event,
            })
            .collect(),
        filters: [
            ("", "webhooks.all"),
            ("pending", "webhooks.pending"),
            ("delivered", "webhooks.delivered"),
            ("dead", "webhooks.dead"),
        ]
        .into_iter()
        .map(|(v, key)| (v, t.get(key), wanted.map_or("", DeliveryState::as_str) == v))
        .collect(),
        events: cityloop_app::webhooks::EVENTS,
        c,
    })
}

fn webhooks_respond(mut p: WebhooksPage, failed: Option<(&AppError, &FormInput)>) -> Response {
    match refill(&mut p.c, failed) {
        Ok(status) => render(status, &p),
        Err(e) => error_page(&p.c.t, e),
    }
}

pub async fn webhooks(
    State(state): State<WebState>,
    staff: Staff,
    PageQuery(filter): PageQuery<DeliveryFilter>,
) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match webhooks_page(&state, &staff, &filter.state).await {
        Ok(p) => webhooks_respond(p, None),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn add_webhook(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    let new = cityloop_app::webhooks::NewWebhook {
        url: form.get("url").unwrap_or_default(),
        events: form.all("events"),
        description: form.get("note").unwrap_or_default(),
        allow_private: form.get("allow_private").is_some(),
    };
    // The form calls the description a note (备注), as the page labels it.
    let outcome = state.app.create_webhook(&staff.who, new).await.map_err(|e| match e {
        AppError::Invalid { field, message } if field == "description" => {
            AppError::Invalid { field: "note".into(), message }
        }
        e => e,
    });
    match (outcome, webhooks_page(&state, &staff, "").await) {
        (Ok(_), _) => Redirect::to("/admin/webhooks").into_response(),
        (Err(e), Ok(p)) => webhooks_respond(p, Some((&e, &form))),
        (Err(e), Err(_)) => staff_error_page(&staff, &e),
    }
}

pub async fn disable_webhook(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    _form: FormInput,
) -> Response {
    match state.app.disable_webhook(&staff.who, id).await {
        Ok(()) => Redirect::to("/admin/webhooks").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

pub async fn retry_delivery(
    State(state): State<WebState>,
    staff: Staff,
    PageId(id): PageId,
    _form: FormInput,
) -> Response {
    match state.app.retry_delivery(&staff.who, id).await {
        Ok(()) => Redirect::to("/admin/webhooks?state=pending").into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}
