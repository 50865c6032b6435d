//! The evaluation page (考核): a period's rankings per indicator with grades and the change against
//! the period before; every count opens the cases behind it; the report downloads as Excel or CSV.

use askama::Template;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cityloop_app::evaluation::{render_report, CasesQuery, EvaluationCases, ReportFormat};
use cityloop_app::AppError;
use cityloop_domain::evaluation::part_label_zh;
use serde::Deserialize;

use super::{ctx, render, staff_error_page, Ctx};
use crate::session::{PageQuery, Staff};
use crate::WebState;

/// One cell of a count, linking to its cases.
struct CountCell {
    n: i64,
    href: String,
}

struct Line {
    /// The rank, or a word saying the subject carried too little to be ranked.
    rank: String,
    ranked: bool,
    name: String,
    total: String,
    grade: &'static str,
    change: Option<f64>,
    parts: Vec<String>,
    counts: Vec<CountCell>,
}

struct Table {
    id: &'static str,
    title: String,
    formula: String,
    /// Who is left unranked, when the city sets a minimum.
    unranked_hint: Option<String>,
    part_names: Vec<String>,
    metric_names: Vec<String>,
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "evaluation.html")]
struct EvaluationPage {
    c: Ctx,
    period: String,
    from: String,
    to: String,
    previous: String,
    tables: Vec<Table>,
}

#[derive(Template)]
#[template(path = "evaluation_cases.html")]
struct CasesPage {
    c: Ctx,
    found: EvaluationCases,
    back: String,
}

#[derive(Deserialize)]
pub struct PeriodParam {
    period: Option<String>,
    format: Option<String>,
}

fn period_of(state: &WebState, p: Option<String>) -> String {
    p.filter(|p| !p.is_empty()).unwrap_or_else(|| state.app.current_evaluation_period().label())
}

pub async fn page(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<PeriodParam>) -> Response {
    let t = staff.visit.tr;
    let label = period_of(&state, p.period);
    let report = match state.app.evaluation_report(&staff.who, &label).await {
        Ok(r) => r,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let en = t.is_en();
    let tables = report
        .indicators
        .iter()
        .map(|ranking| {
            let indicator = ranking.indicator;
            let parts = indicator.parts();
            let part_title = |p: &String| if en { p.replace('_', " ") } else { part_label_zh(p).to_string() };
            let formula = parts
                .iter()
                .map(|p| {
                    // A difference is bracketed before it is weighted: (1−返工率) × 30.
                    let title = part_title(p);
                    let title = if title.starts_with("1−") { format!("({title})") } else { title };
                    format!("{title} × {}", ranking.weights.get(p).copied().unwrap_or(0.0))
                })
                .collect::<Vec<_>>()
                .join(" + ");
            let metric_names: Vec<String> = indicator
                .metrics()
                .iter()
                .map(|m| if en { m.as_str().replace('_', " ") } else { m.label_zh().to_string() })
                .collect();
            Table {
                id: indicator.as_str(),
                title: if en { format!("{indicator:?}") } else { ranking.label.clone() },
                formula,
                // The minimum is counted in the indicator's first count.
                unranked_hint: (ranking.min_to_rank > 0).then(|| {
                    t.get("evaluation.unranked_hint")
                        .replace("{n}", &ranking.min_to_rank.to_string())
                        .replace("{metric}", &metric_names[0])
                }),
                part_names: parts.iter().map(part_title).collect(),
                metric_names,
                lines: ranking
                    .rows
                    .iter()
                    .map(|r| Line {
                        rank: r.rank.map_or_else(|| t.get("evaluation.unranked").to_string(), |n| n.to_string()),
                        ranked: r.rank.is_some(),
                        name: r.name.clone(),
                        total: format!("{:.2}", r.total),
                        grade: r.grade.as_str(),
                        change: r.change,
                        parts: parts
                            .iter()
                            .map(|p| {
                                r.parts.get(p).copied().flatten().map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
                            })
                            .collect(),
                        counts: indicator
                            .metrics()
                            .iter()
                            .map(|m| CountCell {
                                n: r.counts.get(m).copied().unwrap_or(0),
                                href: format!(
                                    "/evaluation/cases?period={}&indicator={}&subject={}&metric={}",
                                    report.period,
                                    indicator.as_str(),
                                    r.subject_id,
                                    m.as_str()
                                ),
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect();
    let c = ctx(&staff.visit, Some(&staff.who), "evaluation.title");
    render(
        StatusCode::OK,
        &EvaluationPage {
            c,
            period: report.period.clone(),
            from: report.from.to_string(),
            to: report.to.to_string(),
            previous: report.previous_period.clone(),
            tables,
        },
    )
}

pub async fn export(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<PeriodParam>) -> Response {
    let label = period_of(&state, p.period);
    let made = async {
        let format = ReportFormat::parse(p.format.as_deref().unwrap_or("xlsx"))?;
        let report = state.app.evaluation_report(&staff.who, &label).await?;
        Ok::<_, AppError>((format, report.period.clone(), render_report(&report, format)?))
    }
    .await;
    match made {
        Ok((format, period, bytes)) => (
            [
                (CONTENT_TYPE, format.content_type().to_string()),
                (CONTENT_DISPOSITION, format!("attachment; filename=\"evaluation-{period}.{}\"", format.extension())),
                (CACHE_CONTROL, "no-store".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => staff_error_page(&staff, &e),
    }
}

#[derive(Deserialize)]
pub struct CasesParams {
    period: Option<String>,
    indicator: String,
    subject: i64,
    metric: Option<String>,
    page: Option<i64>,
}

pub async fn cases(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<CasesParams>) -> Response {
    let period = period_of(&state, p.period);
    let query = CasesQuery {
        period: period.clone(),
        indicator: p.indicator,
        subject: p.subject,
        metrics: p.metric.into_iter().filter(|m| !m.is_empty()).collect(),
        page: p.page.unwrap_or(1),
        page_size: 200,
    };
    match state.app.evaluation_cases(&staff.who, &query).await {
        Ok(found) => {
            let c = ctx(&staff.visit, Some(&staff.who), "evaluation.cases_title");
            let back = format!("/evaluation?period={period}#{}", found.indicator.as_str());
            render(StatusCode::OK, &CasesPage { c, found, back })
        }
        Err(e) => staff_error_page(&staff, &e),
    }
}
