//! Evaluation (考核): what each move of a case counts for, and the formulas that turn those counts
//! into the 12345 三率 of a unit and the 数字城管 indicators of inspectors, operators, shift leads,
//! dispatchers and departments, with grades A–E.
//!
//! Counting is incremental: [`facts`] replays one case's flow records and says what the new ones
//! add, so a report sums stored counts instead of rescanning cases. The rules for reopened, merged,
//! returned and extended cases are in `docs/evaluation.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use crate::enums::{wire_enum, Role, Satisfaction, State};
use crate::ids::{CaseId, UnitId, UserId};
use crate::workflow::{FlowEntry, MoveKind};
use crate::RequestType;

wire_enum!(
    /// Whom a set of figures evaluates, and by which formula.
    Indicator {
        Hotline = "hotline" / "12345三率",
        Department = "department" / "处置部门",
        Inspector = "inspector" / "监督员",
        Operator = "operator" / "受理员",
        Lead = "lead" / "值班长",
        Dispatcher = "dispatcher" / "派遣员",
    }
);

impl Indicator {
    /// Units are evaluated by these; users by the others.
    pub fn evaluates_units(self) -> bool {
        matches!(self, Indicator::Hotline | Indicator::Department)
    }

    /// The metrics stored for this indicator.
    pub fn metrics(self) -> &'static [Metric] {
        use Metric as M;
        match self {
            Indicator::Hotline => &[M::Revisits, M::Contacted, M::Solved, M::Satisfied, M::BasicallySatisfied],
            Indicator::Department => &[M::Received, M::Handled, M::HandledOnTime, M::Reworked],
            Indicator::Inspector => &[
                M::Reports,
                M::ValidReports,
                M::Missed,
                M::Verifications,
                M::VerifiedOnTime,
                M::Checks,
                M::CheckedOnTime,
            ],
            Indicator::Operator => &[
                M::Accepted,
                M::VerificationRequests,
                M::VerificationRequestsOnTime,
                M::RevisitsMade,
                M::RevisitedOnTime,
            ],
            Indicator::Lead => &[M::Filed, M::FiledOnTime, M::FiledWrongly, M::Closes, M::ClosedOnTime],
            Indicator::Dispatcher => &[M::Dispatched, M::DispatchedOnTime, M::DispatchedWrongly],
        }
    }
}

wire_enum!(
    /// One count kept per subject and day.
    Metric {
        Revisits = "revisits" / "有效回访",
        Contacted = "contacted" / "已联系",
        Solved = "solved" / "已解决",
        Satisfied = "satisfied" / "满意",
        BasicallySatisfied = "basically_satisfied" / "基本满意",
        Received = "received" / "接收任务",
        Handled = "handled" / "处置反馈",
        HandledOnTime = "handled_on_time" / "按期处置",
        Reworked = "reworked" / "返工",
        Reports = "reports" / "上报",
        ValidReports = "valid_reports" / "有效上报",
        Missed = "missed" / "漏报",
        Verifications = "verifications" / "核实",
        VerifiedOnTime = "verified_on_time" / "按时核实",
        Checks = "checks" / "核查",
        CheckedOnTime = "checked_on_time" / "按时核查",
        Accepted = "accepted" / "受理",
        VerificationRequests = "verification_requests" / "核实派遣",
        VerificationRequestsOnTime = "verification_requests_on_time" / "按时核实派遣",
        RevisitsMade = "revisits_made" / "回访",
        RevisitedOnTime = "revisited_on_time" / "按时回访",
        Filed = "filed" / "立案",
        FiledOnTime = "filed_on_time" / "按时立案",
        FiledWrongly = "filed_wrongly" / "立案不准",
        Closes = "closes" / "结案",
        ClosedOnTime = "closed_on_time" / "按时结案",
        Dispatched = "dispatched" / "派遣",
        DispatchedOnTime = "dispatched_on_time" / "按时派遣",
        DispatchedWrongly = "dispatched_wrongly" / "派遣不准",
    }
);

/// Time limits for the on-time rates of the supervision and command centre, in minutes of
/// continuous time from the moment the case reached the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepLimits {
    pub verify_minutes: i64,
    pub check_minutes: i64,
    pub verification_request_minutes: i64,
    pub revisit_minutes: i64,
    pub file_minutes: i64,
    pub dispatch_minutes: i64,
    pub close_minutes: i64,
}

impl Default for StepLimits {
    fn default() -> Self {
        Self {
            verify_minutes: 60,
            check_minutes: 120,
            verification_request_minutes: 30,
            revisit_minutes: 48 * 60,
            file_minutes: 30,
            dispatch_minutes: 30,
            close_minutes: 60,
        }
    }
}

/// The weights of one formula, in points out of 100.
pub type Weights = BTreeMap<String, f64>;

/// Everything about evaluation a city decides for itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationRules {
    /// The day of the month a period starts on: 1 for calendar months, 19 for "the 19th to the 18th".
    pub period_start_day: u32,
    /// Request types whose revisits count (有效回访).
    pub revisit_request_types: Vec<RequestType>,
    /// Whether the revisit of a case merged into another counts, for the master case's unit.
    pub count_merged_revisits: bool,
    /// The weight of 基本满意 in 满意率.
    pub basically_satisfied_factor: f64,
    pub limits: StepLimits,
    /// Weights per indicator and part (see [`Indicator::parts`]).
    pub weights: BTreeMap<Indicator, Weights>,
    /// The least a subject must have carried in a period to be ranked, per indicator, counted in the
    /// indicator's first metric (valid revisits, tasks received, reports, requests taken, filings,
    /// dispatches): a unit with one revisit, well answered, does not rank above one with fifty.
    /// Subjects with less are listed after the ranked ones, without a rank. None by default.
    pub min_to_rank: BTreeMap<Indicator, u32>,
}

impl Default for EvaluationRules {
    fn default() -> Self {
        Self {
            period_start_day: 1,
            revisit_request_types: RequestType::ALL.to_vec(),
            count_merged_revisits: true,
            basically_satisfied_factor: 0.9,
            limits: StepLimits::default(),
            weights: Indicator::ALL.iter().map(|i| (*i, i.default_weights())).collect(),
            min_to_rank: BTreeMap::new(),
        }
    }
}

impl Indicator {
    /// The parts of the formula in order, with their default weights in points (domain.md).
    fn part_table(self) -> &'static [(&'static str, f64)] {
        match self {
            Indicator::Hotline => &[("response_rate", 10.0), ("solution_rate", 50.0), ("satisfaction_rate", 40.0)],
            Indicator::Department => {
                &[("volume", 10.0), ("handling_rate", 30.0), ("on_time_rate", 30.0), ("rework_free_rate", 30.0)]
            }
            Indicator::Inspector => &[
                ("valid_report_rate", 40.0),
                ("not_missed_rate", 20.0),
                ("verify_on_time_rate", 20.0),
                ("check_on_time_rate", 20.0),
            ],
            Indicator::Operator => {
                &[("volume", 25.0), ("verification_request_on_time_rate", 40.0), ("revisit_on_time_rate", 35.0)]
            }
            Indicator::Lead => {
                &[("file_on_time_rate", 25.0), ("file_accuracy_rate", 40.0), ("close_on_time_rate", 35.0)]
            }
            Indicator::Dispatcher => {
                &[("volume", 20.0), ("dispatch_on_time_rate", 40.0), ("dispatch_accuracy_rate", 40.0)]
            }
        }
    }

    /// The default weight of each part.
    pub fn default_weights(self) -> Weights {
        self.part_table().iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    /// The names of the formula's parts, in the formula's order.
    pub fn parts(self) -> Vec<String> {
        self.part_table().iter().map(|(k, _)| k.to_string()).collect()
    }
}

/// The Chinese name of a formula part.
pub fn part_label_zh(part: &str) -> &'static str {
    match part {
        "response_rate" => "响应率",
        "solution_rate" => "解决率",
        "satisfaction_rate" => "满意率",
        "volume" => "工作量",
        "handling_rate" => "处置率",
        "on_time_rate" => "按期处置率",
        "rework_free_rate" => "1−返工率",
        "valid_report_rate" => "有效上报率",
        "not_missed_rate" => "1−漏报率",
        "verify_on_time_rate" => "按时核实率",
        "check_on_time_rate" => "按时核查率",
        "verification_request_on_time_rate" => "按时核实派遣率",
        "revisit_on_time_rate" => "按时回访率",
        "file_on_time_rate" => "按时立案率",
        "file_accuracy_rate" => "准确立案率",
        "close_on_time_rate" => "按时结案率",
        "dispatch_on_time_rate" => "按时派遣率",
        "dispatch_accuracy_rate" => "准确派遣率",
        _ => "",
    }
}

/// Why a setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RulesError {
    pub field: String,
    pub message: String,
}

impl EvaluationRules {
    /// Checks the settings a city wrote.
    pub fn validate(&self) -> Result<(), RulesError> {
        let err = |field: &str, message: String| Err(RulesError { field: field.into(), message });
        if !(1..=28).contains(&self.period_start_day) {
            return err("evaluation.period_start_day", "must be 1 to 28".into());
        }
        if !(0.0..=1.0).contains(&self.basically_satisfied_factor) {
            return err("evaluation.basically_satisfied_factor", "must be between 0 and 1".into());
        }
        for (indicator, weights) in &self.weights {
            let parts = indicator.parts();
            for (part, w) in weights {
                if !parts.contains(part) {
                    return err(
                        &format!("evaluation.weights.{}.{part}", indicator.as_str()),
                        format!("is not a part of this formula; the parts are {}", parts.join(", ")),
                    );
                }
                if !w.is_finite() || *w < 0.0 {
                    return err(&format!("evaluation.weights.{}.{part}", indicator.as_str()), "must be ≥ 0".into());
                }
            }
            if weights.values().sum::<f64>() <= 0.0 {
                return err(&format!("evaluation.weights.{}", indicator.as_str()), "must not all be 0".into());
            }
        }
        Ok(())
    }

    /// The weight of each part of `indicator`'s formula under these rules.
    pub fn weights(&self, indicator: Indicator) -> Weights {
        let mut w = indicator.default_weights();
        if let Some(own) = self.weights.get(&indicator) {
            // Parts a city leaves out keep no weight: its table replaces the default one.
            w = w.into_keys().map(|k| (k.clone(), own.get(&k).copied().unwrap_or(0.0))).collect();
        }
        w
    }

    /// The least a subject must carry to be ranked by `indicator` (0: no minimum).
    pub fn least_to_rank(&self, indicator: Indicator) -> u32 {
        self.min_to_rank.get(&indicator).copied().unwrap_or(0)
    }

    /// Whether a subject with these counts has carried enough in the period to be ranked.
    pub fn carries_enough(&self, indicator: Indicator, counts: &Counts) -> bool {
        counts.get(&indicator.metrics()[0]).copied().unwrap_or(0) >= i64::from(self.least_to_rank(indicator))
    }
}

/// A month of evaluation: `label` is `YYYY-MM`, the days are `start..end` (local dates, end excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub year: i32,
    pub month: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The period named `YYYY-MM`. With a start day d > 1 it runs from the d-th of the month before to
    /// the (d−1)-th of the month named, so that the month's ranking is ready at its end.
    pub fn parse(label: &str, start_day: u32) -> Option<Self> {
        let (y, m) = label.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        // Years a platform can have records of, and whose neighbouring months read as YYYY-MM too.
        let year: i32 = y.parse().ok()?;
        if !(1000..=9998).contains(&year) {
            return None;
        }
        Self::of_month(year, m.parse().ok()?, start_day)
    }

    pub fn of_month(year: i32, month: u32, start_day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || !(1..=28).contains(&start_day) {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let (start, end) = if start_day == 1 {
            (first, first.checked_add_months(chrono::Months::new(1))?)
        } else {
            let end = NaiveDate::from_ymd_opt(year, month, start_day)?;
            (end.checked_sub_months(chrono::Months::new(1))?, end)
        };
        Some(Self { year, month, start, end })
    }

    /// The period a local date falls in.
    pub fn containing(day: NaiveDate, start_day: u32) -> Self {
        let this = Self::of_month(day.year(), day.month(), start_day).expect("valid month");
        if day >= this.end {
            this.next()
        } else {
            this
        }
    }

    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn previous(&self) -> Self {
        let start_day = self.start_day();
        let (y, m) = if self.month == 1 { (self.year - 1, 12) } else { (self.year, self.month - 1) };
        Self::of_month(y, m, start_day).expect("valid month")
    }

    pub fn next(&self) -> Self {
        let start_day = self.start_day();
        let (y, m) = if self.month == 12 { (self.year + 1, 1) } else { (self.year, self.month + 1) };
        Self::of_month(y, m, start_day).expect("valid month")
    }

    fn start_day(&self) -> u32 {
        self.start.day()
    }

    /// The last day in the period.
    pub fn last_day(&self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.end)
    }
}

/// A local date as stored in the rollups: `yyyymmdd`.
pub fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}

/// The local date a stored `yyyymmdd` stands for.
pub fn date_of_day_number(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt((n / 10_000) as i32, (n / 100 % 100) as u32, (n % 100) as u32).unwrap_or_default()
}

/// One count: `metric` of `subject` (a unit or user id, as the indicator says) grew by one at `at`
/// because of `case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub indicator: Indicator,
    pub subject: i64,
    pub metric: Metric,
    pub case: CaseId,
    pub at: DateTime<Utc>,
}

/// What the replay needs to know about a case besides its flow records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub id: CaseId,
    pub request_type: RequestType,
    /// For a merged case: the lead unit of the master case, which handles it.
    pub master_unit: Option<UnitId>,
    /// The inspectors who were to find the case on patrol, for 漏报: those of its grid, when its
    /// category is one they patrol for.
    pub grid_inspectors: Vec<UserId>,
}

/// What the replay has learnt from the flow so far.
#[derive(Default)]
struct Replay {
    state_since: Option<DateTime<Utc>>,
    unit: Option<UnitId>,
    deadline: Option<DateTime<Utc>>,
    reporter: Option<(UserId, bool)>,
    filer: Option<UserId>,
    dispatcher: Option<UserId>,
    revisited: bool,
    /// When the last revisit counted was made, if it did not reach the resident: their own rating
    /// still counts.
    unreached_at: Option<DateTime<Utc>>,
    /// An operator has been credited with taking the request in (once per case).
    accepted: bool,
    /// The current filing has been counted as wrong (once per filing, however many returns follow).
    filing_faulted: bool,
    /// The case came from another system's records, with the unit that handled it.
    imported: bool,
}

fn unit_in(data: &serde_json::Value, key: &str) -> Option<UnitId> {
    data.get(key).and_then(|v| v.as_i64()).map(UnitId)
}

fn time_in(data: &serde_json::Value, key: &str) -> Option<DateTime<Utc>> {
    data.get(key).and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// A case closed by the unit that handled it, and how long it took from intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closing {
    pub unit: UnitId,
    pub at: DateTime<Utc>,
    pub minutes: i64,
}

/// What the flow records with ids above some id add to the rollups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replayed {
    pub facts: Vec<Fact>,
    pub closings: Vec<Closing>,
}

/// The facts that the flow records with ids above `after` add. `history` is the case's whole flow so
/// far, in order, with ids.
pub fn facts(
    case: &CaseFacts,
    history: &[(i64, FlowEntry)],
    after: i64,
    rules: &EvaluationRules,
    calendar: &WorkCalendar,
) -> Vec<Fact> {
    replay(case, history, after, rules, calendar).facts
}

/// The facts, and the closings of a handling unit's case, that the flow records with ids above `after`
/// add. `history` is the case's whole flow so far, in order, with ids; `calendar` places them in
/// periods by the city's local date.
pub fn replay(
    case: &CaseFacts,
    history: &[(i64, FlowEntry)],
    after: i64,
    rules: &EvaluationRules,
    calendar: &WorkCalendar,
) -> Replayed {
    let period_of = |at: DateTime<Utc>| Period::containing(calendar.local_date(at), rules.period_start_day);
    let mut out = Vec::new();
    let mut closings = Vec::new();
    let reported_at = history.first().map(|(_, f)| f.at);
    let mut r = Replay::default();
    let limits = &rules.limits;
    for (id, f) in history {
        let new = *id > after;
        let mut count = |indicator: Indicator, subject: Option<i64>, metric: Metric, yes: bool| {
            if let (true, true, Some(subject)) = (new, yes, subject) {
                out.push(Fact { indicator, subject, metric, case: case.id, at: f.at });
            }
        };
        let in_time = |minutes: i64| r.state_since.is_none_or(|since| f.at - since <= Duration::minutes(minutes));
        let actor = f.actor_id.map(|u| u.0);
        use Indicator as I;
        use Metric as M;
        // A move that set the deadline recorded it (an extension, a resumption, a reopening, a limit
        // restarted on rework): the next result is timed against it.
        if let Some(deadline) = time_in(&f.data, "deadline") {
            r.deadline = Some(deadline);
        }
        match f.kind {
            MoveKind::Report => {
                let by_inspector = f.role == Some(Role::Inspector);
                r.reporter = f.actor_id.map(|u| (u, by_inspector));
                count(I::Inspector, actor, M::Reports, by_inspector);
                r.accepted = f.role == Some(Role::Operator);
                count(I::Operator, actor, M::Accepted, r.accepted);
                // Imported history: received by the unit the source names, due when the source says.
                if let Some(import) = f.data.get("import").filter(|i| i.get("unit").is_some()) {
                    r.unit = unit_in(import, "unit");
                    r.deadline = time_in(import, "deadline");
                    r.imported = true;
                    count(I::Department, r.unit.map(|u| u.0), M::Received, true);
                }
            }
            // A request taken in by an operator and answered at once is one acceptance, not two.
            MoveKind::Answer => {
                count(I::Operator, actor, M::Accepted, !r.accepted);
                r.accepted = true;
            }
            MoveKind::RequestVerification => {
                count(I::Operator, actor, M::VerificationRequests, f.role == Some(Role::Operator));
                let on_time = in_time(limits.verification_request_minutes);
                count(I::Operator, actor, M::VerificationRequestsOnTime, f.role == Some(Role::Operator) && on_time);
            }
            MoveKind::Verify => {
                count(I::Inspector, actor, M::Verifications, true);
                count(I::Inspector, actor, M::VerifiedOnTime, in_time(limits.verify_minutes));
            }
            MoveKind::File => {
                r.filer = f.actor_id;
                r.filing_faulted = false;
                count(I::Lead, actor, M::Filed, true);
                count(I::Lead, actor, M::FiledOnTime, in_time(limits.file_minutes));
                match r.reporter {
                    Some((reporter, true)) => count(I::Inspector, Some(reporter.0), M::ValidReports, true),
                    _ => {
                        for inspector in &case.grid_inspectors {
                            count(I::Inspector, Some(inspector.0), M::Missed, true);
                        }
                    }
                }
            }
            MoveKind::Dispatch => {
                r.dispatcher = f.actor_id;
                r.unit = unit_in(&f.data, "unit");
                r.deadline = time_in(&f.data, "deadline");
                count(I::Dispatcher, actor, M::Dispatched, true);
                count(I::Dispatcher, actor, M::DispatchedOnTime, in_time(limits.dispatch_minutes));
                count(I::Department, r.unit.map(|u| u.0), M::Received, true);
            }
            MoveKind::Escalate => {
                r.unit = unit_in(&f.data, "to_unit");
                count(I::Department, r.unit.map(|u| u.0), M::Received, true);
            }
            MoveKind::ApproveReturn => {
                count(I::Dispatcher, r.dispatcher.map(|u| u.0), M::DispatchedWrongly, true);
                count(I::Lead, r.filer.map(|u| u.0), M::FiledWrongly, !r.filing_faulted);
                r.filing_faulted = true;
                r.unit = None;
                r.deadline = None;
            }
            MoveKind::Submit => {
                let unit = r.unit.map(|u| u.0);
                count(I::Department, unit, M::Handled, true);
                count(I::Department, unit, M::HandledOnTime, r.deadline.is_none_or(|d| f.at <= d));
            }
            MoveKind::Rework => count(I::Department, r.unit.map(|u| u.0), M::Reworked, true),
            MoveKind::Check => {
                count(I::Inspector, actor, M::Checks, true);
                count(I::Inspector, actor, M::CheckedOnTime, in_time(limits.check_minutes));
                let passed = f.data.get("passed").and_then(|v| v.as_bool()).unwrap_or(true);
                count(I::Department, r.unit.map(|u| u.0), M::Reworked, !passed);
            }
            MoveKind::Revisit | MoveKind::Rate => {
                if f.kind == MoveKind::Revisit {
                    count(I::Operator, actor, M::RevisitsMade, true);
                    // A merged case is revisited after its master closes: no step clock to hold to.
                    let on_time = f.from != Some(State::Feedback) || in_time(limits.revisit_minutes);
                    count(I::Operator, actor, M::RevisitedOnTime, on_time);
                }
                // The resident's own rating stands for the revisit when the hotline has not called. When
                // the hotline called and did not reach them, the rating (or a second call) answers it.
                // In the call's period that is one revisit, as the call counted nothing but itself; in a
                // later period the answer counts on its own and the call stays as recorded (its period
                // may be over).
                if f.kind == MoveKind::Revisit || !r.revisited || r.unreached_at.is_some() {
                    r.revisited = true;
                    let answers_call = r.unreached_at.is_some_and(|call| period_of(call) == period_of(f.at));
                    let merged = f.from == Some(State::Merged) || (r.unit.is_none() && case.master_unit.is_some());
                    let unit = if merged { case.master_unit.filter(|_| rules.count_merged_revisits) } else { r.unit };
                    let valid = rules.revisit_request_types.contains(&case.request_type);
                    let contacted = f.data.get("contacted").and_then(|v| v.as_bool()).unwrap_or(true);
                    r.unreached_at = (!contacted).then_some(f.at);
                    let solved = f.data.get("solved").and_then(|v| v.as_bool()).unwrap_or(false);
                    let satisfaction = f
                        .data
                        .get("satisfaction")
                        .and_then(|v| v.as_str())
                        .and_then(Satisfaction::parse)
                        .unwrap_or(Satisfaction::Unsatisfied);
                    let unit = unit.filter(|_| valid).map(|u| u.0);
                    count(I::Hotline, unit, M::Revisits, !answers_call);
                    count(I::Hotline, unit, M::Contacted, contacted);
                    // A resident not reached said nothing: a revisit recorded before that was refused
                    // counts as neither solved nor satisfied.
                    count(I::Hotline, unit, M::Solved, contacted && solved);
                    count(I::Hotline, unit, M::Satisfied, contacted && satisfaction == Satisfaction::Satisfied);
                    count(
                        I::Hotline,
                        unit,
                        M::BasicallySatisfied,
                        contacted && satisfaction == Satisfaction::BasicallySatisfied,
                    );
                }
            }
            MoveKind::Close => {
                // An imported record's closing is its unit's handling (no submit was recorded).
                if r.imported && f.data.get("import").is_some() {
                    let unit = r.unit.map(|u| u.0);
                    count(I::Department, unit, M::Handled, true);
                    count(I::Department, unit, M::HandledOnTime, r.deadline.is_none_or(|d| f.at <= d));
                }
                count(I::Lead, actor, M::Closes, true);
                count(I::Lead, actor, M::ClosedOnTime, in_time(limits.close_minutes));
                if let (true, Some(unit), Some(since)) = (new, r.unit, reported_at) {
                    closings.push(Closing { unit, at: f.at, minutes: (f.at - since).num_minutes() });
                }
            }
            MoveKind::Reopen => {
                r.revisited = false;
                r.unreached_at = None;
                count(I::Department, r.unit.map(|u| u.0), M::Received, r.unit.is_some());
            }
            _ => {}
        }
        if f.from != Some(f.to) {
            r.state_since = Some(f.at);
        }
    }
    Replayed { facts: out, closings }
}

/// The counts of one subject over a period.
pub type Counts = BTreeMap<Metric, i64>;

/// One subject's evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Each part as a rate from 0 to 1 (`None` where the subject had nothing to count).
    pub parts: BTreeMap<String, Option<f64>>,
    /// Out of 100.
    pub total: f64,
    pub grade: Grade,
}

wire_enum!(
    /// 等级 from the total score.
    Grade {
        A = "A" / "优秀",
        B = "B" / "良好",
        C = "C" / "合格",
        D = "D" / "基本合格",
        E = "E" / "不合格",
    }
);

impl Grade {
    /// A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below.
    pub fn of(total: f64) -> Self {
        match total {
            t if t >= 90.0 => Grade::A,
            t if t >= 75.0 => Grade::B,
            t if t >= 60.0 => Grade::C,
            t if t >= 40.0 => Grade::D,
            _ => Grade::E,
        }
    }
}

/// `num / den` as a rate from 0 to 1, `None` when there is nothing to count.
pub fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| (num as f64 / den as f64).clamp(0.0, 1.0))
}

/// The formula of `indicator` over one subject's counts. `volume_max` is the largest volume among
/// the subjects ranked together (the volume score is a share of it). Parts without anything to count
/// leave the total, whose weights are then scaled back to 100.
pub fn score(indicator: Indicator, counts: &Counts, volume_max: i64, rules: &EvaluationRules) -> Score {
    let n = |m: Metric| counts.get(&m).copied().unwrap_or(0);
    use Metric as M;
    let volume = |m: Metric| rate(n(m), volume_max);
    let parts: Vec<(&str, Option<f64>)> = match indicator {
        Indicator::Hotline => {
            let revisits = n(M::Revisits);
            let satisfied = n(M::Satisfied) as f64 + rules.basically_satisfied_factor * n(M::BasicallySatisfied) as f64;
            vec![
                ("response_rate", rate(n(M::Contacted), revisits)),
                ("solution_rate", rate(n(M::Solved), revisits)),
                ("satisfaction_rate", (revisits > 0).then(|| (satisfied / revisits as f64).clamp(0.0, 1.0))),
            ]
        }
        Indicator::Department => vec![
            ("volume", volume(M::Received)),
            ("handling_rate", rate(n(M::Handled), n(M::Received))),
            ("on_time_rate", rate(n(M::HandledOnTime), n(M::Handled))),
            ("rework_free_rate", rate(n(M::Handled) - n(M::Reworked), n(M::Handled))),
        ],
        Indicator::Inspector => vec![
            ("valid_report_rate", rate(n(M::ValidReports), n(M::Reports))),
            ("not_missed_rate", rate(n(M::ValidReports), n(M::ValidReports) + n(M::Missed))),
            ("verify_on_time_rate", rate(n(M::VerifiedOnTime), n(M::Verifications))),
            ("check_on_time_rate", rate(n(M::CheckedOnTime), n(M::Checks))),
        ],
        Indicator::Operator => vec![
            ("volume", volume(M::Accepted)),
            ("verification_request_on_time_rate", rate(n(M::VerificationRequestsOnTime), n(M::VerificationRequests))),
            ("revisit_on_time_rate", rate(n(M::RevisitedOnTime), n(M::RevisitsMade))),
        ],
        Indicator::Lead => vec![
            ("file_on_time_rate", rate(n(M::FiledOnTime), n(M::Filed))),
            ("file_accuracy_rate", rate(n(M::Filed) - n(M::FiledWrongly), n(M::Filed))),
            ("close_on_time_rate", rate(n(M::ClosedOnTime), n(M::Closes))),
        ],
        Indicator::Dispatcher => vec![
            ("volume", volume(M::Dispatched)),
            ("dispatch_on_time_rate", rate(n(M::DispatchedOnTime), n(M::Dispatched))),
            ("dispatch_accuracy_rate", rate(n(M::Dispatched) - n(M::DispatchedWrongly), n(M::Dispatched))),
        ],
    };
    let weights = rules.weights(indicator);
    let (mut sum, mut weight) = (0.0, 0.0);
    for (part, value) in &parts {
        let w = weights.get(*part).copied().unwrap_or(0.0);
        if let Some(v) = value {
            sum += w * v;
            weight += w;
        }
    }
    let total = if weight > 0.0 { (sum / weight * 100.0 * 100.0).round() / 100.0 } else { 0.0 };
    Score { parts: parts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), total, grade: Grade::of(total) }
}

/// The metric whose size ranks subjects by volume, if the formula has a volume part.
pub fn volume_metric(indicator: Indicator) -> Option<Metric> {
    match indicator {
        Indicator::Department => Some(Metric::Received),
        Indicator::Operator => Some(Metric::Accepted),
        Indicator::Dispatcher => Some(Metric::Dispatched),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
