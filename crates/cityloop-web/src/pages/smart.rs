//! Smart-intake fragments and pages: category suggestions, similar open cases and knowledge-base answers on
//! the operator workbench (fetched as the operator types), the panels of the case page (dispatch hints,
//! duplicates, reply check) and the reply-check summary per unit.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cityloop_app::duplicates::{DuplicateMatch, DuplicateQuery};
use cityloop_app::queries::CaseView;
use cityloop_domain::workflow::MoveKind;
use serde::Deserialize;

use super::{ctx, render, staff_error_page, Ctx};
use crate::escape_html as esc;
use crate::i18n::Tr;
use crate::session::{PageQuery, Staff};
use crate::WebState;

/// What the operator has typed so far.
#[derive(Deserialize, Default)]
pub struct Typed {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    category: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    grid: Option<String>,
}

impl Typed {
    fn text(&self) -> String {
        format!("{}\n{}", self.title.trim(), self.description.trim())
    }
}

fn fragment(html: String) -> Response {
    Html(html).into_response()
}

fn muted(t: &Tr, key: &str) -> Response {
    fragment(format!(r#"<p class="muted">{}</p>"#, t.get(key)))
}

/// The classifier's top categories, each a button that fills the category field.
pub async fn suggest(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<Typed>) -> Response {
    let t = staff.visit.tr;
    if q.text().trim().chars().count() < 4 {
        return muted(&t, "intake.type_more");
    }
    let outcome = match state.app.classify(&staff.who, &q.text(), 3) {
        Ok(o) => o,
        Err(cityloop_app::AppError::NotReady(_)) => return muted(&t, "intake.no_model"),
        Err(e) => return staff_error_page(&staff, &e),
    };
    if outcome.suggestions.is_empty() {
        return muted(&t, "intake.no_suggestion");
    }
    let mut html = String::from(r#"<ul class="suggestions" id="category-suggestions">"#);
    // Beyond the first, a choice under half a percent is noise, not an alternative.
    let worth_showing = outcome.suggestions.iter().enumerate().filter(|(i, s)| *i == 0 || s.probability >= 0.005);
    for (_, s) in worth_showing {
        let percent = (s.probability * 100.0).round();
        match (&s.category, &s.category_name) {
            (Some(code), Some(name)) => html.push_str(&format!(
                r#"<li><button type="button" class="link use-category" data-code="{}">{} {}</button> <span class="muted">{percent}%</span></li>"#,
                esc(code),
                esc(code),
                esc(name)
            )),
            _ => html.push_str(&format!(r#"<li>{} <span class="muted">{percent}%</span></li>"#, esc(&s.label))),
        }
    }
    html.push_str("</ul>");
    if !outcome.words.is_empty() {
        let words: Vec<String> = outcome.words.iter().map(|w| format!("<mark>{}</mark>", esc(&w.word))).collect();
        html.push_str(&format!(r#"<p class="why">{}: {}</p>"#, t.get("intake.because"), words.join(" ")));
    }
    fragment(html)
}

/// Open cases about the same problem, each with a choice to merge the new case into it.
pub async fn similar(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<Typed>) -> Response {
    let t = staff.visit.tr;
    if q.text().trim().chars().count() < 4 {
        return muted(&t, "intake.type_more");
    }
    let query = DuplicateQuery {
        title: q.title.clone(),
        description: q.description.clone(),
        category: q.category.clone().filter(|c| !c.is_empty()),
        lat: q.lat,
        lon: q.lon,
        grid: q.grid.clone().filter(|g| !g.trim().is_empty()),
        exclude: None,
    };
    match state.app.find_duplicates(&staff.who, &query).await {
        Ok(found) if found.is_empty() => muted(&t, "intake.no_similar"),
        Ok(found) => {
            let mut html = String::from(r#"<ul class="similar" id="similar-cases">"#);
            for m in &found {
                html.push_str(&format!(
                    r#"<li><label class="check"><input type="radio" name="merge_into" value="{n}"> {merge}</label> <a href="/cases/{n}" target="_blank">{n}</a> {title} <span class="muted">{why}</span></li>"#,
                    n = esc(&m.number),
                    merge = t.get("intake.merge_into"),
                    title = esc(&m.title),
                    why = esc(&similarity_note(&t, m)),
                ));
            }
            html.push_str(&format!(
                r#"<li><label class="check"><input type="radio" name="merge_into" value="" checked> {}</label></li></ul>"#,
                t.get("intake.not_duplicate")
            ));
            fragment(html)
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}

fn similarity_note(t: &Tr, m: &DuplicateMatch) -> String {
    let mut note = format!("{} {:.0}%", t.get("intake.alike"), m.similarity * 100.0);
    if let Some(d) = m.distance_m {
        note.push_str(&format!(" · {d:.0} m"));
    }
    if m.same_category {
        note.push_str(&format!(" · {}", t.get("intake.same_category")));
    }
    note
}

/// Knowledge-base articles for the text, each a button that puts the article into the answer.
pub async fn knowledge(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<Typed>) -> Response {
    let t = staff.visit.tr;
    if q.text().trim().chars().count() < 2 {
        return muted(&t, "intake.type_more");
    }
    match state.app.search_knowledge(&staff.who, &q.text(), 3) {
        Ok(hits) if hits.is_empty() => muted(&t, "intake.no_articles"),
        Ok(hits) => {
            let mut html = String::from(r#"<ul class="articles" id="knowledge-hits">"#);
            // An article far below the best matched only some common word of the description.
            let best = hits[0].score;
            for hit in hits.iter().filter(|h| h.score >= best * 0.5) {
                let body = state.app.article(&staff.who, hit.id).map(|a| a.body).unwrap_or_default();
                html.push_str(&format!(
                    r#"<li><b>{title}</b><p class="muted">{excerpt}…</p><p class="why">{because}: {words}</p><button type="button" class="small use-article" data-article="{id}" data-body="{body}">{label}</button></li>"#,
                    title = esc(&hit.title),
                    excerpt = esc(&hit.excerpt),
                    because = t.get("intake.matched"),
                    words = hit.matched.iter().map(|w| format!("<mark>{}</mark>", esc(w))).collect::<Vec<_>>().join(" "),
                    id = hit.id,
                    body = esc(&body),
                    label = t.get("intake.use_article"),
                ));
            }
            html.push_str("</ul>");
            fragment(html)
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}

/// The smart panels of a case page: dispatch hints while the case waits for dispatch, open duplicates
/// while it can be merged, and the check of the unit's reply once one was submitted.
pub async fn case_panels(state: &WebState, staff_roles: &cityloop_app::Principal, t: &Tr, view: &CaseView) -> String {
    let case = &view.case;
    let mut html = String::new();
    if view.allowed_moves.contains(&MoveKind::Dispatch) {
        let returned = cityloop_app::dispatch_hint::units_that_returned(&view.flow);
        if let Ok(hints) = state.app.dispatch_hints_after_returns(case.category_id, case.division_id, &returned).await {
            if !hints.is_empty() {
                html.push_str(&format!(
                    r#"<section class="card" id="dispatch-hints"><h2>{}</h2><ul>"#,
                    t.get("case.dispatch_hints")
                ));
                for h in &hints {
                    html.push_str(&format!(
                        r#"<li><b class="hint-unit">{}</b> <span class="tag">{}</span><br><span class="muted">{}</span></li>"#,
                        esc(&h.unit_name),
                        t.get(if h.source == "history" { "case.hint_history" } else { "case.hint_catalogue" }),
                        esc(if t.is_en() { &h.reason_en } else { &h.reason })
                    ));
                }
                html.push_str("</ul></section>");
            }
        }
    }
    if view.allowed_moves.contains(&MoveKind::Merge) {
        if let Ok(found) = state.app.duplicates_of_case(staff_roles, &case.number).await {
            if !found.is_empty() {
                html.push_str(&format!(
                    r#"<section class="card" id="case-duplicates"><h2>{}</h2><ul>"#,
                    t.get("intake.similar")
                ));
                for m in &found {
                    html.push_str(&format!(
                        r#"<li><a href="/cases/{n}">{n}</a> {title} <span class="muted">{why}</span></li>"#,
                        n = esc(&m.number),
                        title = esc(&m.title),
                        why = esc(&similarity_note(t, m))
                    ));
                }
                html.push_str("</ul></section>");
            }
        }
    }
    if staff_roles.has_any(cityloop_app::replies::CHECK_READERS) {
        if let Ok(Some(check)) = state.app.reply_check_of_case(staff_roles, &case.number).await {
            let score = check.get("score").and_then(|s| s.as_i64()).unwrap_or(0);
            let class = if score >= 80 {
                "good"
            } else if score >= 60 {
                "fair"
            } else {
                "weak"
            };
            html.push_str(&format!(
                r#"<section class="card" id="reply-check"><h2>{} <span class="score {class}" id="reply-score">{score}</span></h2><ul class="findings">"#,
                t.get("case.reply_check")
            ));
            for f in check.get("findings").and_then(|f| f.as_array()).into_iter().flatten() {
                let passed = f.get("passed").and_then(|p| p.as_bool()).unwrap_or(false);
                // Checks stored before the English text was kept have only the Chinese one.
                let english = f.get("message_en").and_then(|m| m.as_str()).filter(|_| t.is_en());
                html.push_str(&format!(
                    r#"<li class="{}">{} {}</li>"#,
                    if passed { "pass" } else { "fail" },
                    if passed { "✓" } else { "✗" },
                    esc(english.or_else(|| f.get("message").and_then(|m| m.as_str())).unwrap_or(""))
                ));
            }
            html.push_str("</ul></section>");
        }
    }
    html
}

#[derive(Template)]
#[template(path = "replies.html")]
struct RepliesPage {
    c: Ctx,
    days: i64,
    rows: Vec<(String, i64, String, i64)>,
}

#[derive(Deserialize)]
pub struct DaysParam {
    days: Option<i64>,
}

/// Reply checks summarised per unit (weakest first).
pub async fn replies(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<DaysParam>) -> Response {
    let days = q.days.unwrap_or(30);
    match state.app.reply_summary(&staff.who, days).await {
        Ok(units) => {
            let c = ctx(&staff.visit, Some(&staff.who), "replies.title");
            let rows = units
                .into_iter()
                .map(|u| (u.unit_name, u.replies, format!("{:.1}", u.average_score), u.weak))
                .collect();
            render(StatusCode::OK, &RepliesPage { c, days, rows })
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}
