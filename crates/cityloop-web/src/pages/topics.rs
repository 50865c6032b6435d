//! The 每月一题 page: the period's candidate problems, adopting one with a lead unit and a goal, and
//! the adopted topics with their cases month by month.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cityloop_app::topics::{AdoptTopic, TopicCandidate, TopicView};
use cityloop_domain::Role;
use serde::Deserialize;

use super::{ctx, render, staff_error_page, Ctx};
use crate::session::{FormInput, PageQuery, Staff};
use crate::WebState;

#[derive(Template)]
#[template(path = "topics.html")]
struct TopicsPage {
    c: Ctx,
    period: String,
    candidates: Vec<TopicCandidate>,
    topics: Vec<TopicView>,
    units: Vec<(String, String)>,
    can_adopt: bool,
}

#[derive(Deserialize)]
pub struct PeriodParam {
    period: Option<String>,
}

fn pct(v: &Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

pub async fn page(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<PeriodParam>) -> Response {
    let period = p.period.filter(|p| !p.is_empty()).unwrap_or_else(|| state.app.current_evaluation_period().label());
    let (candidates, topics) =
        match (state.app.topic_candidates(&staff.who, &period).await, state.app.topics(&staff.who).await) {
            (Ok(c), Ok(t)) => (c, t),
            (Err(e), _) | (_, Err(e)) => return staff_error_page(&staff, &e),
        };
    let units = state.app.reference().units.iter().map(|u| (u.code.clone(), u.name.clone())).collect();
    let can_adopt = staff.who.has_any(&[Role::Admin, Role::Leader]);
    let c = ctx(&staff.visit, Some(&staff.who), "topics.title");
    render(StatusCode::OK, &TopicsPage { c, period, candidates, topics, units, can_adopt })
}

pub async fn adopt(State(state): State<WebState>, staff: Staff, form: FormInput) -> Response {
    let period = form.get("period").unwrap_or_default();
    let req = AdoptTopic {
        period: Some(period.clone()),
        category: form.get("category").unwrap_or_default(),
        title: form.get("title"),
        lead_unit: form.get("lead_unit"),
        goal: form.get("goal").unwrap_or_default(),
        signal_id: None,
    };
    match state.app.adopt_topic(&staff.who, req).await {
        Ok(_) => Redirect::to(&format!("/topics?period={period}#adopted")).into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

impl TopicsPage {
    fn rate(&self, v: &Option<f64>) -> String {
        pct(v)
    }
}
