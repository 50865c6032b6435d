//! The leader screen (一屏观全城): today's intake, open and overdue cases by channel and district,
//! grids shaded by open cases, daily volume by category and the slowest units. It refreshes
//! itself every minute; `?big=1` is the large-screen mode for the command centre's wall.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cityloop_app::overview::{OpenRow, RowOf, SlowUnit};
use cityloop_app::signals::SignalView;
use serde::Deserialize;

use super::{ctx, long_time, render, staff_error_page, Ctx};
use crate::i18n::Tr;
use crate::session::{PageQuery, Staff};
use crate::svg::stacked_bars;
use crate::WebState;

/// Categories drawn in the chart; the rest are summed as one.
const CHART_SERIES: usize = 7;

#[derive(Template)]
#[template(path = "leader.html")]
struct LeaderPage {
    c: Ctx,
    big: bool,
    as_of: String,
    today_total: i64,
    today_by_channel: Vec<(String, i64)>,
    open_total: i64,
    overdue_total: i64,
    by_channel: Vec<OpenRow>,
    by_district: Vec<OpenRow>,
    map: String,
    chart: String,
    legend: Vec<(usize, String, i64)>,
    slowest: Vec<SlowUnit>,
    signals: Vec<SignalView>,
    period: String,
    /// The hotline ranking's head and tail: (rank, unit, score, grade).
    best: Vec<(usize, String, String, &'static str)>,
    worst: Vec<(usize, String, String, &'static str)>,
    trend: Vec<(String, i64, String, String, String)>,
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
}

#[derive(Deserialize)]
pub struct ScreenParams {
    big: Option<String>,
}

/// A row named in the interface's language; districts keep their names as entered.
fn in_language(t: &Tr, row: &OpenRow) -> OpenRow {
    let label = match row.of {
        RowOf::Channel(channel) => t.label(channel),
        RowOf::District(None) => t.get("leader.unplaced").to_string(),
        RowOf::District(Some(_)) | RowOf::UnknownChannel => row.label.clone(),
    };
    OpenRow { label, ..row.clone() }
}

pub async fn screen(State(state): State<WebState>, staff: Staff, PageQuery(p): PageQuery<ScreenParams>) -> Response {
    let t = staff.visit.tr;
    let overview = match state.app.overview(&staff.who).await {
        Ok(o) => o,
        Err(e) => return staff_error_page(&staff, &e),
    };
    let reference = state.app.reference();
    // The screen stays up when a part of it cannot be read; each part shows empty instead.
    let signals = state.app.signals(&staff.who, Some("open"), None, 6).await.unwrap_or_default();
    let ranking: Vec<(usize, String, String, &'static str)> = overview
        .hotline_ranking
        .iter()
        .filter_map(|r| Some((r.rank?, r.name.clone(), format!("{:.1}", r.total), r.grade.as_str())))
        .collect();
    let best: Vec<_> = ranking.iter().take(5).cloned().collect();
    let worst: Vec<_> = ranking.iter().skip(5).rev().take(3).rev().cloned().collect();
    let trend = overview
        .hotline_trend
        .iter()
        .map(|t| (t.period.clone(), t.revisits, pct(t.response_rate), pct(t.solution_rate), pct(t.satisfaction_rate)))
        .collect();
    let big = p.big.is_some_and(|b| b == "1");
    let mut c = ctx(&staff.visit, Some(&staff.who), "leader.title");
    c.body_class = if big { "big" } else { "wide" };
    c.refresh_secs = Some(60);
    // Every category while they fit the palette; past that the smallest share one "other" series, so
    // that a named category (突发事件, say) is never shown as "other" on its own.
    let all = overview.daily_by_category.len();
    let named = if all <= CHART_SERIES + 1 { all } else { CHART_SERIES };
    let mut series: Vec<(String, Vec<i64>)> = overview.daily_by_category.iter().take(named).cloned().collect();
    if all > named {
        let mut rest = vec![0; overview.days.len()];
        for (_, counts) in overview.daily_by_category.iter().skip(named) {
            for (i, n) in counts.iter().enumerate() {
                rest[i] += n;
            }
        }
        series.push((if t.is_en() { "Other" } else { "其他" }.to_string(), rest));
    }
    let days: Vec<String> = overview.days.iter().map(|d| d.format("%m-%d").to_string()).collect();
    let legend =
        series.iter().enumerate().map(|(i, (name, counts))| (i % 8, name.clone(), counts.iter().sum())).collect();
    render(
        StatusCode::OK,
        &LeaderPage {
            big,
            as_of: long_time(&reference, overview.computed_at),
            today_total: overview.today_total,
            today_by_channel: overview.today_by_channel.iter().map(|(ch, n)| (t.label(*ch), *n)).collect(),
            open_total: overview.open_total,
            overdue_total: overview.overdue_total,
            by_channel: overview.open_by_channel.iter().map(|r| in_language(&t, r)).collect(),
            by_district: overview.open_by_district.iter().map(|r| in_language(&t, r)).collect(),
            map: state.map().shaded("grid-map", &overview.open_by_grid, &[]),
            chart: stacked_bars("daily-chart", &days, &series),
            legend,
            slowest: overview.slowest_units.clone(),
            signals,
            period: overview.period.clone(),
            best,
            worst,
            trend,
            c,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityloop_domain::{Channel, DivisionId};

    #[test]
    fn rows_are_named_in_the_interfaces_language_and_districts_as_entered() {
        let row = |of: RowOf, label: &str| OpenRow { of, label: label.into(), open: 3, overdue: 1 };
        let en = Tr { lang: crate::i18n::Lang::En };
        assert_eq!(in_language(&en, &row(RowOf::Channel(Channel::Sms), "短信")).label, "SMS");
        assert_eq!(in_language(&en, &row(RowOf::District(None), "未定位")).label, "No district");
        assert_eq!(in_language(&en, &row(RowOf::District(Some(DivisionId(4))), "西湖区")).label, "西湖区");
        let zh = Tr::default();
        assert_eq!(in_language(&zh, &row(RowOf::Channel(Channel::Hotline), "热线电话")).label, "热线电话");
    }
}
