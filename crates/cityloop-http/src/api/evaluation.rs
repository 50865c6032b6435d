//! Evaluation (考核): a period's rankings, the cases behind any number, and the report as a file.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cityloop_app::evaluation::{render_report, CasesQuery, EvaluationCases, EvaluationReport, ReportFormat};
use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::ErrorBody;
use crate::error::Result;
use crate::extract::{ApiQuery, Auth};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/evaluation", get(report))
        .route("/evaluation/cases", get(cases))
        .route("/evaluation/export", get(export))
}

/// Which period.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// `YYYY-MM` (default: the period running now).
    pub period: Option<String>,
    /// For `/evaluation/export`: `csv` (default), `xlsx` or `json`.
    pub format: Option<String>,
}

fn period_label(state: &AppState, period: Option<String>) -> String {
    period.filter(|p| !p.is_empty()).unwrap_or_else(|| state.app.current_evaluation_period().label())
}

/// The rankings of a period: the 12345 三率 and 综合成绩 per unit, and the 数字城管 indicators per
/// department, inspector, operator, shift lead and dispatcher, with grades and the change against the
/// period before. Leaders, shift leads, dispatchers and administrators see every table; a unit's
/// handlers see their own unit's lines.
#[utoipa::path(get, path = "/api/v1/evaluation", tag = "evaluation", params(ReportParams),
    responses((status = 200, description = "`{period, from, to, previous_period, indicators: [{indicator, label, weights, min_to_rank, rows: [{rank (null: not ranked), subject_id, name, counts, parts, total, grade, previous_rank, previous_total, change}]}]}`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Json<EvaluationReport>> {
    let label = period_label(&state, p.period);
    Ok(Json(state.app.evaluation_report(&who, &label).await?))
}

/// The report as a file: CSV (one table per indicator), an Excel workbook (one sheet per indicator)
/// or JSON.
#[utoipa::path(get, path = "/api/v1/evaluation/export", tag = "evaluation", params(ReportParams),
    responses((status = 200, description = "the file, with Content-Disposition"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response> {
    let format = ReportFormat::parse(p.format.as_deref().unwrap_or("csv"))?;
    let label = period_label(&state, p.period);
    let report = state.app.evaluation_report(&who, &label).await?;
    let bytes = render_report(&report, format)?;
    let name = format!("evaluation-{}.{}", report.period, format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// Which number to open.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CasesParams {
    pub period: Option<String>,
    /// `hotline`, `department`, `inspector`, `operator`, `lead` or `dispatcher`.
    pub indicator: String,
    /// The unit id (hotline, department) or user id (the others).
    pub subject: i64,
    /// Metrics to list, comma-separated (default: every metric of the indicator).
    pub metric: Option<String>,
    pub page: Option<i64>,
    /// 1–500, default 50.
    pub page_size: Option<i64>,
}

/// The cases behind one subject's figures in a period, with what each counted for.
#[utoipa::path(get, path = "/api/v1/evaluation/cases", tag = "evaluation", params(CasesParams),
    responses((status = 200, description = "`{period, indicator, subject_id, name, metrics, total, cases: [{id, number, title, state, metric, metric_label, day, count}]}`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn cases(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<CasesParams>,
) -> Result<Json<EvaluationCases>> {
    let label = period_label(&state, p.period);
    let metrics: Vec<String> =
        p.metric.unwrap_or_default().split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect();
    let query = CasesQuery {
        period: label,
        indicator: p.indicator,
        subject: p.subject,
        metrics,
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(50),
    };
    let found = state.app.evaluation_cases(&who, &query).await?;
    Ok(Json(found))
}
