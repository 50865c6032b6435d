use chrono::TimeZone;

use super::*;
use crate::workflow::{apply, report_entry, Actor, Move, MoveContext, Relation};
use crate::{Case, CaseStandard, Channel, Revisit, TimeLimit, Urgency, WorkCalendar};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 12, 1, 0, 0).unwrap()
}

fn person(id: i64, role: Role) -> Actor {
    Actor { user_id: Some(UserId(id)), name: format!("u{id}"), roles: vec![role], unit_id: Some(UnitId(100 + id)) }
}

/// A case driven through real moves, keeping its flow with ids.
struct Story {
    case: Case,
    now: DateTime<Utc>,
    flow: Vec<(i64, FlowEntry)>,
    calendar: WorkCalendar,
    rework_restarts_limit: bool,
}

impl Story {
    fn reported_by(id: i64, role: Role) -> Self {
        let mut case = Case::reported(
            Channel::Hotline,
            RequestType::Complaint,
            "噪音".into(),
            "夜间施工噪音".into(),
            Urgency::Normal,
            t0(),
        );
        case.id = CaseId(1);
        case.category_id = Some(crate::CategoryId(3));
        let entry = report_entry(&case, &person(id, role), Some(role));
        Self {
            case,
            now: t0(),
            flow: vec![(1, entry)],
            calendar: WorkCalendar::default(),
            rework_restarts_limit: false,
        }
    }

    fn after(&mut self, minutes: i64) -> &mut Self {
        self.now += Duration::minutes(minutes);
        self
    }

    fn make(&mut self, who: i64, role: Role, mv: Move) -> &mut Self {
        let standard = CaseStandard {
            limit: TimeLimit::new(3, crate::TimingMode::CalendarDays),
            urgency: Urgency::Normal,
            filing_condition: String::new(),
            closing_condition: String::new(),
        };
        let ctx = MoveContext {
            now: self.now,
            calendar: &self.calendar,
            standard: Some(&standard),
            master: None,
            whistle_report_hours: 1,
            rework_restarts_limit: self.rework_restarts_limit,
        };
        let out = apply(&self.case, &mv, &person(who, role), &Relation::all(), &ctx).expect("move applies");
        self.case = out.case;
        self.flow.push((self.flow.len() as i64 + 1, out.flow));
        self
    }

    fn facts(&self, after: i64) -> Vec<(Indicator, i64, Metric)> {
        let info = CaseFacts {
            id: self.case.id,
            request_type: self.case.request_type,
            master_unit: None,
            grid_inspectors: vec![UserId(9)],
        };
        let mut out: Vec<_> = facts(&info, &self.flow, after, &EvaluationRules::default(), &self.calendar)
            .into_iter()
            .map(|f| (f.indicator, f.subject, f.metric))
            .collect();
        out.sort();
        out
    }
}

fn revisit(contacted: bool, solved: bool, satisfaction: Satisfaction) -> Move {
    Move::Revisit(Revisit { contacted, solved, satisfaction })
}

#[test]
fn a_hotline_case_counts_for_each_person_and_unit_that_worked_on_it() {
    use Indicator as I;
    use Metric as M;
    let mut s = Story::reported_by(1, Role::Operator);
    s.after(10).make(2, Role::Lead, Move::File { category: None });
    s.after(60).make(3, Role::Dispatcher, Move::Dispatch { unit: UnitId(50), assisting: vec![] });
    s.after(30).make(4, Role::Handler, Move::Sign);
    s.after(60).make(4, Role::Handler, Move::Submit { result: "已停工".into() });
    s.after(30).make(1, Role::Operator, revisit(true, true, Satisfaction::BasicallySatisfied));
    s.after(5).make(2, Role::Lead, Move::Close);
    assert_eq!(
        s.facts(0),
        vec![
            (I::Hotline, 50, M::Revisits),
            (I::Hotline, 50, M::Contacted),
            (I::Hotline, 50, M::Solved),
            (I::Hotline, 50, M::BasicallySatisfied),
            (I::Department, 50, M::Received),
            (I::Department, 50, M::Handled),
            (I::Department, 50, M::HandledOnTime),
            (I::Inspector, 9, M::Missed),
            (I::Operator, 1, M::Accepted),
            (I::Operator, 1, M::RevisitsMade),
            (I::Operator, 1, M::RevisitedOnTime),
            (I::Lead, 2, M::Filed),
            (I::Lead, 2, M::FiledOnTime),
            (I::Lead, 2, M::Closes),
            (I::Lead, 2, M::ClosedOnTime),
            (I::Dispatcher, 3, M::Dispatched),
        ],
        "dispatching an hour after filing is late (limit 30 minutes)"
    );
    // Only what the records after the cursor add.
    assert_eq!(s.facts(6), vec![(I::Lead, 2, M::Closes), (I::Lead, 2, M::ClosedOnTime)]);
}

#[test]
fn a_result_after_rework_is_timed_against_the_restarted_limit_where_the_city_restarts_it() {
    for restarts in [false, true] {
        let mut s = Story::reported_by(1, Role::Operator);
        s.rework_restarts_limit = restarts;
        s.make(2, Role::Lead, Move::File { category: None });
        s.make(3, Role::Dispatcher, Move::Dispatch { unit: UnitId(50), assisting: vec![] });
        s.make(4, Role::Handler, Move::Sign);
        // The limit is 3 days: the first result is late, the second comes 2 days after the rework.
        s.after(4 * 24 * 60).make(4, Role::Handler, Move::Submit { result: "已处理".into() });
        s.after(60).make(3, Role::Dispatcher, Move::Rework { reason: "未处理到位".into() });
        s.after(2 * 24 * 60).make(4, Role::Handler, Move::Submit { result: "已彻底处理".into() });
        let on_time = s.facts(0).iter().filter(|f| **f == (Indicator::Department, 50, Metric::HandledOnTime)).count();
        assert_eq!(on_time, usize::from(restarts), "restarts: {restarts}");
    }
}

#[test]
fn returns_reworks_and_reopens_count_against_the_ones_who_caused_them() {
    use Indicator as I;
    use Metric as M;
    let mut s = Story::reported_by(5, Role::Inspector);
    s.make(2, Role::Lead, Move::File { category: None });
    s.make(3, Role::Dispatcher, Move::Dispatch { unit: UnitId(50), assisting: vec![] });
    s.make(4, Role::Handler, Move::Return { reason: "非本单位".into() });
    let before_redispatch = s.flow.len() as i64;
    s.make(3, Role::Dispatcher, Move::ApproveReturn);
    s.make(6, Role::Dispatcher, Move::Dispatch { unit: UnitId(60), assisting: vec![] });
    s.make(7, Role::Handler, Move::Sign);
    s.make(7, Role::Handler, Move::Submit { result: "处理".into() });
    s.make(5, Role::Inspector, Move::Check { passed: false, note: "仍有残留".into() });
    s.make(7, Role::Handler, Move::Submit { result: "再处理".into() });
    s.make(1, Role::Operator, revisit(true, false, Satisfaction::Unsatisfied));
    s.make(2, Role::Lead, Move::Close);
    s.make(1, Role::Operator, Move::Reopen { reason: String::new() });
    let mut later = s.facts(before_redispatch);
    later.retain(|(i, _, _)| matches!(i, I::Department | I::Hotline | I::Dispatcher | I::Lead | I::Inspector));
    let count = |subject: i64, metric: Metric| later.iter().filter(|f| f.1 == subject && f.2 == metric).count();
    assert_eq!(count(3, M::DispatchedWrongly), 1, "the approved return counts against the first dispatcher");
    assert_eq!(count(2, M::FiledWrongly), 1);
    assert_eq!(count(60, M::Received), 2, "the reopened case is received again by its unit");
    assert_eq!((count(60, M::Handled), count(60, M::Reworked)), (2, 1));
    assert_eq!((count(60, M::Revisits), count(60, M::Solved)), (1, 0));
    assert_eq!(count(50, M::Handled), 0);
    assert_eq!((count(5, M::Checks), count(5, M::CheckedOnTime)), (1, 1));
    let all = s.facts(0);
    assert!(all.contains(&(I::Inspector, 5, M::Reports)) && all.contains(&(I::Inspector, 5, M::ValidReports)));
    assert!(!all.iter().any(|f| f.2 == M::Missed), "an inspector's own report is not missed");
}

#[test]
fn imported_history_counts_for_the_unit_that_handled_it_against_its_due_date() {
    let imported = |due_hours: i64, closed_hours: i64| {
        let report = FlowEntry {
            kind: MoveKind::Report,
            from: None,
            to: State::Reported,
            actor_id: None,
            actor_name: "导入 import · baltimore311".into(),
            role: None,
            unit_id: None,
            at: t0(),
            note: None,
            attachments: Vec::new(),
            data: serde_json::json!({"import": {"source": "baltimore311", "id": "14-1", "unit": 50,
                "deadline": t0() + Duration::hours(due_hours)}}),
        };
        let close = FlowEntry {
            kind: MoveKind::Close,
            from: Some(State::Reported),
            to: State::Closed,
            at: t0() + Duration::hours(closed_hours),
            unit_id: Some(UnitId(50)),
            data: serde_json::json!({"import": true}),
            ..report.clone()
        };
        let info = CaseFacts {
            id: CaseId(7),
            request_type: RequestType::Complaint,
            master_unit: None,
            grid_inspectors: vec![UserId(9)],
        };
        let mut out: Vec<Metric> =
            facts(&info, &[(1, report), (2, close)], 0, &EvaluationRules::default(), &WorkCalendar::default())
                .into_iter()
                .filter(|f| f.indicator == Indicator::Department && f.subject == 50)
                .map(|f| f.metric)
                .collect();
        out.sort();
        out
    };
    assert_eq!(imported(48, 30), [Metric::Received, Metric::Handled, Metric::HandledOnTime]);
    assert_eq!(imported(24, 30), [Metric::Received, Metric::Handled], "closed after it was due");
}

#[test]
fn a_filing_is_wrong_once_however_many_returns_follow_it() {
    let mut s = Story::reported_by(5, Role::Inspector);
    s.make(2, Role::Lead, Move::File { category: None });
    for (dispatcher, unit) in [(3, 50), (6, 60)] {
        s.make(dispatcher, Role::Dispatcher, Move::Dispatch { unit: UnitId(unit), assisting: vec![] });
        s.make(4, Role::Handler, Move::Return { reason: "非本单位".into() });
        s.make(dispatcher, Role::Dispatcher, Move::ApproveReturn);
    }
    let all = s.facts(0);
    let count = |subject: i64, metric: Metric| all.iter().filter(|f| f.1 == subject && f.2 == metric).count();
    assert_eq!((count(2, Metric::Filed), count(2, Metric::FiledWrongly)), (1, 1), "the rate cannot go below 0");
    assert_eq!((count(3, Metric::DispatchedWrongly), count(6, Metric::DispatchedWrongly)), (1, 1));
}

#[test]
fn an_operator_who_takes_a_call_and_answers_it_accepted_one_request() {
    let mut s = Story::reported_by(1, Role::Operator);
    s.case.request_type = RequestType::Consultation;
    s.after(3).make(1, Role::Operator, Move::Answer { answer: "周一至周五办理".into() });
    let accepted = s.facts(0).iter().filter(|f| f.2 == Metric::Accepted).count();
    assert_eq!(accepted, 1);
}

/// A complaint handled by unit 50, revisited by the hotline with `call`, closed, then rated by its
/// resident.
/// A complaint handled by unit 50, revisited by `call` `minutes.0` after it was reported, closed, and
/// rated by the resident `minutes.1` after the call.
fn revisited_then_rated(call: Move, minutes: (i64, i64), solved: bool, satisfaction: Satisfaction) -> Story {
    let mut s = Story::reported_by(1, Role::Operator);
    s.make(2, Role::Lead, Move::File { category: None });
    s.make(3, Role::Dispatcher, Move::Dispatch { unit: UnitId(50), assisting: vec![] });
    s.make(4, Role::Handler, Move::Sign);
    s.make(4, Role::Handler, Move::Submit { result: "已处理".into() });
    s.after(minutes.0).make(1, Role::Operator, call);
    s.make(2, Role::Lead, Move::Close);
    s.after(minutes.1).make(0, Role::Citizen, Move::Rate { solved, satisfaction, comment: String::new() });
    s
}

/// How many times `metric` counts for unit 50's hotline indicator.
fn hotline_count(s: &Story, metric: Metric) -> usize {
    s.facts(0).into_iter().filter(|f| f.0 == Indicator::Hotline && f.1 == 50 && f.2 == metric).count()
}

#[test]
fn a_rating_stands_for_the_revisit_only_when_the_hotline_did_not_call() {
    let called = revisit(true, true, Satisfaction::Satisfied);
    let s = revisited_then_rated(called, (0, 0), false, Satisfaction::Unsatisfied);
    assert_eq!(hotline_count(&s, Metric::Revisits), 1);
}

#[test]
fn a_rating_answers_a_revisit_that_did_not_reach_the_resident() {
    use Metric as M;
    let unreached = || revisit(false, false, Satisfaction::Unsatisfied);
    let counts = |s: &Story| {
        let n = |metric| hotline_count(s, metric);
        (n(M::Revisits), n(M::Contacted), n(M::Solved), n(M::BasicallySatisfied), n(M::Satisfied))
    };
    // Within the call's period (October) the answer is that revisit's: one revisit, contacted.
    let s = revisited_then_rated(unreached(), (0, 60), true, Satisfaction::BasicallySatisfied);
    assert_eq!(counts(&s), (1, 1, 1, 1, 0));
    assert_eq!(
        s.case.revisit,
        Some(Revisit { contacted: true, solved: true, satisfaction: Satisfaction::BasicallySatisfied })
    );
    // In a later period the call stays as it was in its own (which may be over), and the answer counts
    // in the period it comes in.
    let s = revisited_then_rated(unreached(), (0, 30 * 24 * 60), true, Satisfaction::BasicallySatisfied);
    assert_eq!(counts(&s), (2, 1, 1, 1, 0));
    // Periods are the city's local days: a call at 00:30 on 1 November (16:30 UTC on 31 October) and a
    // rating at 10:00 that day are one period.
    let midnight_past = (19 * 24 + 15) * 60 + 30;
    let s = revisited_then_rated(unreached(), (midnight_past, 9 * 60 + 30), true, Satisfaction::Satisfied);
    assert_eq!(counts(&s), (1, 1, 1, 0, 1));
}

#[test]
fn periods_run_from_the_configured_day() {
    let p = Period::parse("2026-10", 19).unwrap();
    assert_eq!(
        (p.start, p.last_day()),
        (NaiveDate::from_ymd_opt(2026, 9, 19).unwrap(), NaiveDate::from_ymd_opt(2026, 10, 18).unwrap())
    );
    assert_eq!(p.previous().label(), "2026-09");
    assert_eq!(Period::parse("2026-01", 19).unwrap().start, NaiveDate::from_ymd_opt(2025, 12, 19).unwrap());
    assert_eq!(Period::containing(NaiveDate::from_ymd_opt(2026, 10, 19).unwrap(), 19).label(), "2026-11");
    assert_eq!(Period::containing(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(), 19).label(), "2027-01");
    let calendar = Period::parse("2026-02", 1).unwrap();
    assert_eq!((calendar.start.day(), calendar.end), (1, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()));
    for bad in ["2026-13", "26-10", "2026-1", "x", "0000-01", "9999-12", "-001-12"] {
        assert_eq!(Period::parse(bad, 1), None, "{bad}");
    }
}

#[test]
fn the_hotline_score_follows_the_district_formula() {
    let counts: Counts = [
        (Metric::Revisits, 10),
        (Metric::Contacted, 9),
        (Metric::Solved, 8),
        (Metric::Satisfied, 6),
        (Metric::BasicallySatisfied, 2),
    ]
    .into();
    let s = score(Indicator::Hotline, &counts, 0, &EvaluationRules::default());
    // 0.1 × 0.9 + 0.5 × 0.8 + 0.4 × (6 + 0.9 × 2) / 10 = 0.09 + 0.40 + 0.312
    assert_eq!(s.total, 80.2);
    assert_eq!(s.grade, Grade::B);
    assert_eq!(s.parts["satisfaction_rate"], Some(0.78));
}

#[test]
fn parts_without_counts_leave_the_total_and_weights_are_settings() {
    let counts: Counts =
        [(Metric::Received, 5), (Metric::Handled, 4), (Metric::HandledOnTime, 4), (Metric::Reworked, 1)].into();
    let rules = EvaluationRules::default();
    let s = score(Indicator::Department, &counts, 10, &rules);
    // 10 × 0.5 + 30 × 0.8 + 30 × 1 + 30 × 0.75
    assert_eq!(s.total, 81.5);
    let lead = score(Indicator::Lead, &[(Metric::Filed, 4), (Metric::FiledOnTime, 2)].into(), 0, &rules);
    // Only filing counted: (25 × 0.5 + 40 × 1) / 65
    assert_eq!((lead.total, lead.parts["close_on_time_rate"]), (80.77, None));
    let mut own = rules.clone();
    own.weights.insert(Indicator::Department, [("handling_rate".to_string(), 100.0)].into());
    assert_eq!(score(Indicator::Department, &counts, 10, &own).total, 80.0);
    own.weights.insert(Indicator::Department, [("speed".to_string(), 100.0)].into());
    assert_eq!(own.validate().unwrap_err().field, "evaluation.weights.department.speed");
}

#[test]
fn grades_have_the_standard_boundaries() {
    let grades: Vec<_> = [95.0, 90.0, 89.99, 75.0, 60.0, 40.0, 39.9].iter().map(|t| Grade::of(*t).as_str()).collect();
    assert_eq!(grades, ["A", "A", "B", "B", "C", "D", "E"]);
}

#[test]
fn a_closing_counts_for_the_unit_that_handled_it_last_with_the_time_since_intake() {
    let mut s = Story::reported_by(1, Role::Operator);
    s.after(10).make(2, Role::Lead, Move::File { category: None });
    s.after(20).make(3, Role::Dispatcher, Move::Dispatch { unit: UnitId(50), assisting: vec![] });
    s.after(30).make(4, Role::Handler, Move::Sign);
    s.after(60).make(4, Role::Handler, Move::Submit { result: "已停工".into() });
    s.after(30).make(1, Role::Operator, revisit(true, true, Satisfaction::Satisfied));
    s.after(5).make(2, Role::Lead, Move::Close);
    let info =
        CaseFacts { id: s.case.id, request_type: s.case.request_type, master_unit: None, grid_inspectors: vec![] };
    let rules = EvaluationRules::default();
    let all = replay(&info, &s.flow, 0, &rules, &s.calendar).closings;
    assert_eq!(all, vec![Closing { unit: UnitId(50), at: s.now, minutes: 155 }]);
    let before_close = s.flow.len() as i64 - 1;
    assert_eq!(
        replay(&info, &s.flow, before_close, &rules, &s.calendar).closings.len(),
        1,
        "the closing record is new"
    );
    assert!(replay(&info, &s.flow, before_close + 1, &rules, &s.calendar).closings.is_empty(), "counted once");
}
