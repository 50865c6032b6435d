//! The access watch for administrators: alerts about unusual access, and the records behind them —
//! who was shown residents' contact data, exports, sign-ins and refused requests.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use cityloop_app::access::{alert_records, AccessEventQuery, ContactViewQuery};
use cityloop_app::AppError;
use serde::{Deserialize, Serialize};

use super::admin::{admin_only, SECTIONS};
use super::{ctx, long_time, render, staff_error_page, Ctx};
use crate::session::{PageQuery, Staff};
use crate::WebState;

/// Which records to show under the alerts: `list` is `contact-views` (the default) or `access-events`.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct RecordsQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    list: String,
    kind: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// From 1.
    page: Option<i64>,
}

/// Records per page of the access watch.
const RECORDS_PER_PAGE: i64 = 100;

impl RecordsQuery {
    /// The address of another page of the same records.
    fn page_href(&self, page: i64) -> String {
        let query = RecordsQuery { page: Some(page), ..self.clone() };
        format!("/admin/access?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
    }
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
    page: i64,
    pages: i64,
    prev_href: String,
    next_href: String,
}

pub async fn page(State(state): State<WebState>, staff: Staff, PageQuery(q): PageQuery<RecordsQuery>) -> Response {
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
    // A page below the first is refused by the use case, as the API refuses it.
    let page = q.page.unwrap_or(1);
    let (prev_href, next_href) = (q.page_href(page - 1), q.page_href(page + 1));
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
            page_size: Some(RECORDS_PER_PAGE),
            page: Some(page),
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
            page_size: Some(RECORDS_PER_PAGE),
            page: Some(page),
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
        page,
        pages: (total + RECORDS_PER_PAGE - 1) / RECORDS_PER_PAGE,
        prev_href,
        next_href,
        c,
    })
}
