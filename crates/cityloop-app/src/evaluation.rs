//! Evaluation (考核) as a use case: count new flow records into the rollups, and read a period's
//! ranking per indicator with the change against the period before, and the cases behind a number.

use std::collections::{BTreeMap, HashMap, HashSet};

use cityloop_domain::evaluation::{
    date_of_day_number, day_number, part_label_zh, replay, score, volume_metric, Counts, Grade, Indicator, Metric,
    Period,
};
use cityloop_domain::workflow::MoveKind;
use cityloop_domain::{CaseId, Role, UnitId};
use cityloop_store::evaluation::{CountBatch, CountKey, CountSum};
use cityloop_store::{ClosingDay, IntakeDay, OverviewRollups};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// Flow records counted per transaction.
const BATCH: i64 = 5_000;

/// Batches a reader counts before reading (50,000 records); after a bulk import the background counter
/// or the report command catches up with the rest.
pub(crate) const BATCHES_BEFORE_READING: usize = 10;

/// A batch of flow records read and replayed: what adding it moves the cursor over and adds.
struct PreparedCount {
    from: i64,
    to: i64,
    records: usize,
    batch: CountBatch,
}

/// Roles that see every unit's and every person's figures.
const EVALUATORS: &[Role] = crate::scope::CITY_ANALYSTS;

/// One subject's line in a ranking.
#[derive(Debug, Clone, Serialize)]
pub struct RankedRow {
    /// `None` for a subject that carried less than the city's minimum to be ranked
    /// (`evaluation.min_to_rank`): listed after the ranked ones.
    pub rank: Option<usize>,
    pub subject_id: i64,
    pub name: String,
    pub counts: BTreeMap<Metric, i64>,
    /// Each part of the formula as a rate (0–1), `null` where nothing was counted.
    pub parts: BTreeMap<String, Option<f64>>,
    pub total: f64,
    pub grade: Grade,
    pub previous_rank: Option<usize>,
    pub previous_total: Option<f64>,
    /// Points gained (or lost) since the previous period.
    pub change: Option<f64>,
}

/// The ranking of one indicator.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorRanking {
    pub indicator: Indicator,
    pub label: String,
    pub weights: BTreeMap<String, f64>,
    /// The least a subject must carry, in the indicator's first metric, to be ranked (0: every one is).
    pub min_to_rank: u32,
    pub rows: Vec<RankedRow>,
}

/// A period's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    pub period: String,
    /// First and last local day of the period.
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub previous_period: String,
    pub indicators: Vec<IndicatorRanking>,
}

/// Which number to open: a subject's metrics (all of the indicator's when empty) in a period.
#[derive(Debug, Clone)]
pub struct CasesQuery {
    pub period: String,
    pub indicator: String,
    pub subject: i64,
    pub metrics: Vec<String>,
    pub page: i64,
    pub page_size: i64,
}

/// A case behind a number.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationCase {
    pub id: CaseId,
    pub number: String,
    pub title: String,
    pub state: String,
    pub metric: Metric,
    pub metric_label: String,
    pub day: chrono::NaiveDate,
    pub count: i64,
}

/// The cases behind one subject's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationCases {
    pub period: String,
    pub indicator: Indicator,
    pub subject_id: i64,
    pub name: String,
    pub metrics: Vec<Metric>,
    pub total: i64,
    pub cases: Vec<EvaluationCase>,
}

impl App {
    /// The period named `YYYY-MM` under the city's start day.
    pub fn evaluation_period(&self, label: &str) -> Result<Period> {
        Period::parse(label, self.settings.evaluation.period_start_day)
            .ok_or_else(|| AppError::invalid("period", format!("`{label}` is not a month written YYYY-MM")))
    }

    /// The period that is running now.
    pub fn current_evaluation_period(&self) -> Period {
        let today = self.reference().calendar.local_date(self.now());
        Period::containing(today, self.settings.evaluation.period_start_day)
    }

    /// Reads the flow records after `cursor` (one batch) and replays their cases: what adding them
    /// to the rollups would add. `None` when there is nothing new to count.
    async fn prepare_count(&self, cursor: i64) -> Result<Option<PreparedCount>> {
        let horizon = self.store.transaction_horizon().await?;
        let mut batch = self.store.flows_to_count(cursor, BATCH).await?;
        let ids: Vec<i64> = batch.iter().map(|f| f.id).collect();
        batch.truncate(self.ready_to_take(horizon, "evaluation", cursor, &ids).await?);
        let Some(last) = batch.last().map(|f| f.id) else { return Ok(None) };
        let mut seen = HashSet::new();
        let cases: Vec<CaseId> = batch.iter().map(|f| f.case_id).filter(|c| seen.insert(*c)).collect();
        let histories = self.store.case_histories(&cases, last).await?;
        let reference = self.reference();
        let rules = &self.settings.evaluation;
        let mut counts: HashMap<CountKey, i64> = HashMap::new();
        let reported: HashMap<CaseId, chrono::DateTime<chrono::Utc>> = histories
            .iter()
            .flat_map(|(case, flow)| {
                flow.iter().filter(|(id, f)| *id > cursor && f.kind == MoveKind::Report).map(|(_, f)| (*case, f.at))
            })
            .collect();
        let new_cases: Vec<CaseId> = reported.keys().copied().collect();
        let places: Vec<_> = self
            .store
            .case_places(&new_cases)
            .await?
            .into_iter()
            .filter_map(|p| reported.get(&p.id).map(|at| (p, *at)))
            .collect();
        let mut intake: HashMap<IntakeDay, i64> = HashMap::new();
        for (case, at) in &places {
            let day = day_number(reference.calendar.local_date(*at));
            *intake
                .entry(IntakeDay { day, channel: case.channel.clone(), category_id: case.category_id })
                .or_default() += 1;
        }
        let (areas, signals) = self.intake_counts(&places);
        let mut closings: HashMap<ClosingDay, (i64, i64)> = HashMap::new();
        for case in self.store.case_facts(&cases, |category| reference.patrolled(category)).await? {
            let Some(history) = histories.get(&case.id) else { continue };
            let replayed = replay(&case, history, cursor, rules, &reference.calendar);
            for closing in replayed.closings {
                let day = day_number(reference.calendar.local_date(closing.at));
                let sums = closings.entry(ClosingDay { day, unit_id: closing.unit }).or_default();
                sums.0 += 1;
                sums.1 += closing.minutes;
            }
            for fact in replayed.facts {
                let key = CountKey {
                    day: day_number(reference.calendar.local_date(fact.at)),
                    indicator: fact.indicator,
                    subject: fact.subject,
                    metric: fact.metric,
                    case_id: fact.case,
                };
                *counts.entry(key).or_default() += 1;
            }
        }
        let records = batch.len();
        let batch = CountBatch { counts, areas, intake, closings, signals, at: self.now() };
        Ok(Some(PreparedCount { from: cursor, to: last, records, batch }))
    }

    /// Once the counter has caught up, the leader screen's rollups take in what was counted before they
    /// existed; from then on each batch adds to them.
    async fn fill_overview_rollups(&self) -> Result<()> {
        let overview = self.store.backfill_overview_rollups(self.reference().calendar.utc_offset_secs).await?;
        if overview == OverviewRollups::Filled {
            tracing::info!("the leader screen's rollups were filled from the cases counted so far");
        }
        Ok(())
    }

    /// Counts every flow record there is to count now (on PostgreSQL, up to a gap in the ids that is
    /// still young: see `cursor`).
    pub async fn count_evaluation(&self) -> Result<usize> {
        self.count_evaluation_batches(usize::MAX).await
    }

    /// Counts every waiting flow record, for a command that runs once: a gap in the ids is waited for
    /// while a write that may fill it is running, up to `GAP_WAIT_SECONDS` of real time; what is left
    /// after that is counted by a server.
    pub async fn count_everything(&self) -> Result<usize> {
        crate::cursor::until_settled(
            || self.count_evaluation(),
            || async {
                let cursor = self.store.evaluation_cursor().await?;
                Ok(!self.store.flows_to_count(cursor, 1).await?.is_empty())
            },
        )
        .await
    }

    /// Counts one batch of waiting flow records; returns how many were counted (0 when there is
    /// nothing new, or another node counted them first).
    pub async fn count_evaluation_once(&self) -> Result<usize> {
        self.count_evaluation_batches(1).await
    }

    /// Counts at most `at_most` batches of waiting flow records. The next batch is read and replayed
    /// while the last one is written, so that the two overlap on different connections (on a SQLite
    /// file they take turns on the store's own connection, and nothing is gained or lost).
    pub(crate) async fn count_evaluation_batches(&self, at_most: usize) -> Result<usize> {
        let (mut total, mut caught_up) = (0, false);
        let mut next =
            if at_most > 0 { self.prepare_count(self.store.evaluation_cursor().await?).await? } else { None };
        for counted in 1..=at_most {
            let Some(prepared) = next.take() else {
                caught_up = true;
                break;
            };
            let (to, records) = (prepared.to, prepared.records);
            let full = records == BATCH as usize;
            let adding = self.store.add_evaluation_counts(prepared.from, to, &prepared.batch);
            let (added, following) = if full && counted < at_most {
                let (added, following) = tokio::join!(adding, self.prepare_count(to));
                (added?, following)
            } else {
                (adding.await?, Ok(None))
            };
            if added {
                total += records;
            }
            // Not added: another node counted these records, and what was read after them is stale.
            if !added || !full {
                caught_up = true;
                break;
            }
            next = following?;
        }
        if caught_up {
            // Caught up: the leader screen's rollups can be filled now rather than at the next count.
            self.fill_overview_rollups().await?;
        }
        Ok(total)
    }

    fn evaluator_scope(&self, who: &Principal) -> Result<Option<Vec<UnitId>>> {
        if who.has_any(EVALUATORS) {
            Ok(None)
        } else if who.has(Role::Handler) && !who.unit_subtree.is_empty() {
            Ok(Some(who.unit_subtree.clone()))
        } else {
            Err(AppError::Forbidden("evaluation results are for leaders, shift leads, dispatchers and units".into()))
        }
    }

    async fn subject_names(&self, users: bool) -> Result<HashMap<i64, String>> {
        if users {
            Ok(self.store.list_users().await?.into_iter().map(|u| (u.id.0, u.name)).collect())
        } else {
            let reference = self.reference();
            Ok(reference.units.iter().map(|u| (u.id.0, u.name.clone())).collect())
        }
    }

    fn rank(&self, indicator: Indicator, sums: &[CountSum]) -> Vec<(i64, Counts, cityloop_domain::evaluation::Score)> {
        let mut per_subject: BTreeMap<i64, Counts> = BTreeMap::new();
        for s in sums.iter().filter(|s| s.indicator == indicator) {
            *per_subject.entry(s.subject).or_default().entry(s.metric).or_default() += s.n;
        }
        let volume_max = volume_metric(indicator)
            .map(|m| per_subject.values().map(|c| c.get(&m).copied().unwrap_or(0)).max().unwrap_or(0))
            .unwrap_or(0);
        let mut rows: Vec<_> = per_subject
            .into_iter()
            .map(|(subject, counts)| {
                let s = score(indicator, &counts, volume_max, &self.settings.evaluation);
                (subject, counts, s)
            })
            .collect();
        // The ranked first, then those that carried too little to be ranked; best first within each;
        // between equal scores, the one that carried more (the first metric) first.
        let rules = &self.settings.evaluation;
        let weight = |c: &Counts| c.get(&indicator.metrics()[0]).copied().unwrap_or(0);
        rows.sort_by(|a, b| {
            (rules.carries_enough(indicator, &b.1).cmp(&rules.carries_enough(indicator, &a.1)))
                .then(b.2.total.total_cmp(&a.2.total))
                .then(weight(&b.1).cmp(&weight(&a.1)))
                .then(a.0.cmp(&b.0))
        });
        rows
    }

    /// Competition ranks (1, 2, 2, 4) over rows sorted as [`Self::rank`] sorts them: equal scores
    /// share a rank, and the rows of subjects that carried too little to be ranked have none.
    fn ranks(
        &self,
        indicator: Indicator,
        rows: &[(i64, Counts, cityloop_domain::evaluation::Score)],
    ) -> Vec<Option<usize>> {
        let mut out: Vec<Option<usize>> = Vec::new();
        let mut last: Option<f64> = None;
        for (i, (_, counts, score)) in rows.iter().enumerate() {
            if !self.settings.evaluation.carries_enough(indicator, counts) {
                out.push(None);
                continue;
            }
            let rank = if last == Some(score.total) { out[i - 1] } else { Some(i + 1) };
            out.push(rank);
            last = Some(score.total);
        }
        out
    }

    /// The rankings of a period, with the change against the period before.
    pub async fn evaluation_report(&self, who: &Principal, label: &str) -> Result<EvaluationReport> {
        let only_units = self.evaluator_scope(who)?;
        let period = self.evaluation_period(label)?;
        self.count_evaluation_batches(BATCHES_BEFORE_READING).await?;
        self.evaluation_report_within(only_units, period).await
    }

    /// The whole city's rankings (the command line, run by the platform's operators), after counting
    /// everything there is to count.
    pub async fn city_evaluation_report(&self, label: &str) -> Result<EvaluationReport> {
        let period = self.evaluation_period(label)?;
        self.count_everything().await?;
        self.evaluation_report_within(None, period).await
    }

    pub(crate) async fn evaluation_report_within(
        &self,
        only_units: Option<Vec<UnitId>>,
        period: Period,
    ) -> Result<EvaluationReport> {
        let previous = period.previous();
        let sums = self.store.evaluation_sums(day_number(period.start), day_number(period.end)).await?;
        let before = self.store.evaluation_sums(day_number(previous.start), day_number(previous.end)).await?;
        let units = self.subject_names(false).await?;
        let users = self.subject_names(true).await?;
        let mut indicators = Vec::new();
        for &indicator in Indicator::ALL {
            if only_units.is_some() && !indicator.evaluates_units() {
                continue;
            }
            let names = if indicator.evaluates_units() { &units } else { &users };
            let earlier_rows = self.rank(indicator, &before);
            let earlier_ranks = self.ranks(indicator, &earlier_rows);
            let earlier: HashMap<i64, (Option<usize>, f64)> = earlier_rows
                .into_iter()
                .zip(earlier_ranks)
                .map(|((subject, _, s), rank)| (subject, (rank, s.total)))
                .collect();
            let ranked = self.rank(indicator, &sums);
            let ranks = self.ranks(indicator, &ranked);
            let rows = ranked
                .into_iter()
                .zip(ranks)
                .map(|((subject, counts, s), rank)| {
                    let prior = earlier.get(&subject);
                    RankedRow {
                        rank,
                        subject_id: subject,
                        name: names.get(&subject).cloned().unwrap_or_else(|| format!("#{subject}")),
                        counts,
                        parts: s.parts,
                        total: s.total,
                        grade: s.grade,
                        previous_rank: prior.and_then(|p| p.0),
                        previous_total: prior.map(|p| p.1),
                        change: prior.map(|p| ((s.total - p.1) * 100.0).round() / 100.0),
                    }
                })
                .filter(|r| only_units.as_ref().is_none_or(|mine| mine.contains(&UnitId(r.subject_id))))
                .collect();
            let weights = self.settings.evaluation.weights(indicator);
            let min_to_rank = self.settings.evaluation.least_to_rank(indicator);
            indicators.push(IndicatorRanking {
                indicator,
                label: indicator.label_zh().into(),
                weights,
                min_to_rank,
                rows,
            });
        }
        Ok(EvaluationReport {
            period: period.label(),
            from: period.start,
            to: period.last_day(),
            previous_period: previous.label(),
            indicators,
        })
    }

    /// The city's 三率 over the last `periods` periods, oldest first: (period, 响应率, 解决率, 满意率).
    pub async fn hotline_trend(&self, who: &Principal, periods: usize) -> Result<Vec<HotlineRates>> {
        // A unit's people see their own units' rates, the city's analysts the whole city's.
        let units: Option<Vec<i64>> = self.evaluator_scope(who)?.map(|u| u.iter().map(|u| u.0).collect());
        self.hotline_trend_within(units, periods).await
    }

    /// The 三率 of `units` (all of them: the city) over the last `periods` periods, oldest first.
    pub(crate) async fn hotline_trend_within(
        &self,
        units: Option<Vec<i64>>,
        periods: usize,
    ) -> Result<Vec<HotlineRates>> {
        let mut list = vec![self.current_evaluation_period()];
        while list.len() < periods.max(1) {
            let earliest = list[list.len() - 1].previous();
            list.push(earliest);
        }
        list.reverse();
        let totals = self
            .store
            .evaluation_daily_totals(
                Indicator::Hotline,
                units.as_deref(),
                day_number(list[0].start),
                day_number(list[list.len() - 1].end),
            )
            .await?;
        Ok(list
            .iter()
            .map(|p| {
                let mut counts = Counts::new();
                for (day, metric, n) in &totals {
                    if *day >= day_number(p.start) && *day < day_number(p.end) {
                        *counts.entry(*metric).or_default() += n;
                    }
                }
                let s = score(Indicator::Hotline, &counts, 0, &self.settings.evaluation);
                HotlineRates {
                    period: p.label(),
                    revisits: counts.get(&Metric::Revisits).copied().unwrap_or(0),
                    response_rate: s.parts.get("response_rate").copied().flatten(),
                    solution_rate: s.parts.get("solution_rate").copied().flatten(),
                    satisfaction_rate: s.parts.get("satisfaction_rate").copied().flatten(),
                }
            })
            .collect())
    }

    /// The cases behind a subject's numbers in a period: every metric of the indicator, or the ones named.
    pub async fn evaluation_cases(&self, who: &Principal, q: &CasesQuery) -> Result<EvaluationCases> {
        let (label, indicator, subject, metrics, page, page_size) =
            (q.period.as_str(), q.indicator.as_str(), q.subject, &q.metrics, q.page, q.page_size);
        let only_units = self.evaluator_scope(who)?;
        let period = self.evaluation_period(label)?;
        let indicator = Indicator::parse(indicator).ok_or_else(|| {
            AppError::invalid("indicator", format!("must be one of: {}", Indicator::wire_names().join(", ")))
        })?;
        if let Some(mine) = &only_units {
            if !indicator.evaluates_units() || !mine.contains(&UnitId(subject)) {
                return Err(AppError::Forbidden("a unit sees the cases behind its own figures only".into()));
            }
        }
        let chosen: Vec<Metric> = if metrics.is_empty() {
            indicator.metrics().to_vec()
        } else {
            metrics
                .iter()
                .map(|m| {
                    Metric::parse(m).filter(|m| indicator.metrics().contains(m)).ok_or_else(|| {
                        let names: Vec<_> = indicator.metrics().iter().map(|m| m.as_str()).collect();
                        AppError::invalid(
                            "metric",
                            format!(
                                "`{m}` is not counted for `{}`; use one of: {}",
                                indicator.as_str(),
                                names.join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<_>>()?
        };
        if !(1..=500).contains(&page_size) {
            return Err(AppError::invalid("page_size", "must be 1 to 500"));
        }
        let offset = (page >= 1).then(|| (page - 1).checked_mul(page_size)).flatten();
        let Some(offset) = offset else {
            return Err(AppError::invalid("page", "must be a page number from 1"));
        };
        self.count_evaluation_batches(BATCHES_BEFORE_READING).await?;
        let (total, rows) = self
            .store
            .evaluation_cases(
                indicator,
                subject,
                &chosen,
                day_number(period.start),
                day_number(period.end),
                page_size,
                offset,
            )
            .await?;
        let names = self.subject_names(!indicator.evaluates_units()).await?;
        let name = match names.get(&subject) {
            Some(name) => name.clone(),
            // A subject no longer known by name who has counted cases is still shown by number.
            None if total > 0 => format!("#{subject}"),
            None => {
                let kind = if indicator.evaluates_units() { "unit" } else { "user" };
                return Err(AppError::NotFound(format!("{kind} {subject}")));
            }
        };
        Ok(EvaluationCases {
            period: period.label(),
            indicator,
            subject_id: subject,
            name,
            metrics: chosen,
            total,
            cases: rows
                .into_iter()
                .map(|r| EvaluationCase {
                    id: r.case_id,
                    number: r.number,
                    // Numbers typed into the title are contact data, shown as the contact is.
                    title: if who.works_with_contacts() {
                        r.title
                    } else {
                        cityloop_domain::masking::mask_numbers_in_text(&r.title)
                    },
                    state: r.state,
                    metric: r.metric,
                    metric_label: r.metric.label_zh().into(),
                    day: date_of_day_number(r.day),
                    count: r.n,
                })
                .collect(),
        })
    }
}

/// The city's 三率 in one period.
#[derive(Debug, Clone, Serialize)]
pub struct HotlineRates {
    pub period: String,
    pub revisits: i64,
    pub response_rate: Option<f64>,
    pub solution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
}

/// How a report is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Xlsx,
}

impl ReportFormat {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            _ => Err(AppError::invalid("format", format!("`{s}` is not one of json, csv, xlsx"))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}", v * 100.0)).unwrap_or_default()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The rank cell of a subject that carried too little to be ranked.
const UNRANKED_ZH: &str = "未排名";

/// The header and lines of one indicator's table: rank, subject, score, grade, the change, then
/// each part (in %) and each count.
fn indicator_table(ranking: &IndicatorRanking) -> (Vec<String>, Vec<Vec<String>>) {
    let parts = ranking.indicator.parts();
    let metrics = ranking.indicator.metrics();
    let mut header: Vec<String> =
        ["指标", "排名", "对象编号", "对象", "综合成绩", "等级", "上期排名", "上期成绩", "变化"]
            .map(String::from)
            .to_vec();
    header.extend(parts.iter().map(|p| format!("{} (%)", part_label_zh(p))));
    header.extend(metrics.iter().map(|m| m.label_zh().to_string()));
    let rows = ranking
        .rows
        .iter()
        .map(|r| {
            let mut line = vec![
                ranking.label.clone(),
                r.rank.map_or_else(|| UNRANKED_ZH.to_string(), |rank| rank.to_string()),
                r.subject_id.to_string(),
                r.name.clone(),
                format!("{:.2}", r.total),
                r.grade.as_str().to_string(),
                opt(r.previous_rank),
                opt(r.previous_total),
                opt(r.change),
            ];
            line.extend(parts.iter().map(|p| percent(r.parts.get(p).copied().flatten())));
            line.extend(metrics.iter().map(|m| r.counts.get(m).copied().unwrap_or(0).to_string()));
            line
        })
        .collect();
    (header, rows)
}

/// Writes a report as JSON, as CSV (one table after another, each with its header) or as an Excel
/// workbook (one sheet per indicator).
pub fn render_report(report: &EvaluationReport, format: ReportFormat) -> Result<Vec<u8>> {
    use crate::export::{csv_bytes, io};
    match format {
        ReportFormat::Json => serde_json::to_vec_pretty(report).map_err(io),
        ReportFormat::Csv => {
            let mut out = b"\xEF\xBB\xBF".to_vec(); // Excel reads UTF-8 CSV by its byte-order mark.
            for ranking in &report.indicators {
                let (header, rows) = indicator_table(ranking);
                // Tables differ in width; the csv writer wants one width per file, so each is written alone.
                out.extend(csv_bytes(std::iter::once(header).chain(rows))?);
            }
            Ok(out)
        }
        ReportFormat::Xlsx => {
            let mut book = rust_xlsxwriter::Workbook::new();
            for ranking in &report.indicators {
                let sheet = book.add_worksheet();
                sheet.set_name(format!("{} {}", report.period, ranking.label)).map_err(io)?;
                let (header, rows) = indicator_table(ranking);
                for (row_no, line) in std::iter::once(&header).chain(rows.iter()).enumerate() {
                    for (col, value) in line.iter().enumerate() {
                        let (r, c) = (row_no as u32, col as u16);
                        match value.parse::<f64>() {
                            Ok(n) if row_no > 0 && col != 2 => sheet.write_number(r, c, n).map_err(io)?,
                            _ => sheet.write_string(r, c, value).map_err(io)?,
                        };
                    }
                }
            }
            book.save_to_buffer().map_err(io)
        }
    }
}
