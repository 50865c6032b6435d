//! The access watch for administrators: alerts about unusual access, and the records behind them —
//! who was shown residents' contact data, exports, sign-ins and refused requests.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use cityloop_app::access::{alert_records, AccessEventQuery, ContactViewQuery};
use cityloop_app::AppError;
use serde::Deserialize;

use super::admin::{admin_only, SECTIONS};
use super::{ctx, long_time, render, staff_error_page, Ctx};
use crate::session::Staff;
use crate::WebState;

/// Which records to show under the alerts: `list` is `contact-views` (the default) or `access-events`.
#[derive(Debug, Default, Deserialize)]
pub struct RecordsQuery {
    #[serde(default)]
    list: String,
    kind: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

struct AlertLine {
    kind: String,
    username: String,
    day: String,
    count: i64,
    baseline: String,
    raised_at: String,
    records: String,
}

#[derive(Template)]
#[template(path = "admin/access.html")]
struct AccessPage {
    c: Ctx,
    tabs: Vec<(&'static str, &'static str, bool)>,
    alerts: Vec<AlertLine>,
    /// The records shown: a heading, column headers and rows, and how many match in all.
    heading: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    total: i64,
}

pub async fn page(State(state): State<WebState>, staff: Staff, Query(q): Query<RecordsQuery>) -> Response {
    if let Some(r) = admin_only(&staff) {
        return r;
    }
    match access_page(&state, &staff, q).await {
        Ok(p) => render(axum::http::StatusCode::OK, &p),
        Err(e) => staff_error_page(&staff, &e),
    }
}

async fn access_page(state: &WebState, staff: &Staff, q: RecordsQuery) -> Result<AccessPage, AppError> {
    let reference = state.app.reference();
    let mut c = ctx(&staff.visit, Some(&staff.who), "admin.title");
    c.body_class = "wide";
    let t = c.t;
    let alerts = state
        .app
        .access_alerts(&staff.who)
        .await?
        .into_iter()
        .map(|a| {
            let (list, query) = alert_records(&a);
            AlertLine {
                kind: t.get(&format!("access.alert.{}", a.kind)).to_string(),
                records: format!("/admin/access?list={list}&{query}"),
                username: a.username,
                day: a.day,
                count: a.count,
                baseline: format!("{:.1}", a.baseline),
                raised_at: long_time(&reference, a.raised_at),
            }
        })
        .collect();
    let (heading, headers, rows, total) = if q.list == "access-events" {
        let query = AccessEventQuery {
            kind: q.kind,
            username: q.user,
            from: q.from,
            to: q.to,
            page_size: Some(500),
            page: None,
        };
        let (events, total) = state.app.access_events(&staff.who, &query).await?;
        let rows = events
            .into_iter()
            .map(|e| {
                vec![
                    long_time(&reference, e.at),
                    e.username,
                    t.get(&format!("access.event.{}", e.kind)).to_string(),
                    e.address.unwrap_or_default(),
                    e.detail,
                    e.amount.to_string(),
                ]
            })
            .collect();
        let headers =
            vec!["field.time", "field.username", "field.kind", "access.address", "access.detail", "access.amount"];
        ("access.events", headers, rows, total)
    } else {
        let query = ContactViewQuery {
            username: q.user,
            case_number: None,
            from: q.from,
            to: q.to,
            page_size: Some(500),
            page: None,
        };
        let (views, total) = state.app.contact_views(&staff.who, &query).await?;
        let rows = views
            .into_iter()
            .map(|v| {
                vec![
                    long_time(&reference, v.at),
                    v.username,
                    v.case_number.unwrap_or_default(),
                    t.get(&format!("access.purpose.{}", v.purpose)).to_string(),
                ]
            })
            .collect();
        ("access.views", vec!["field.time", "field.username", "field.number", "access.purpose"], rows, total)
    };
    Ok(AccessPage {
        tabs: SECTIONS.iter().map(|(href, key)| (*href, t.get(key), *href == "/admin/access")).collect(),
        alerts,
        heading,
        headers,
        rows,
        total,
        c,
    })
}
