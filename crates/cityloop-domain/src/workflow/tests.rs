use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::enums::{Channel, RequestType, Satisfaction, Urgency};

fn t0() -> DateTime<Utc> {
    // Monday 2026-11-23 09:00 in Beijing.
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()
}

fn actor(role: Role) -> Actor {
    Actor {
        user_id: Some(UserId(role as i64 + 1)),
        name: role.label_zh().into(),
        roles: vec![role],
        unit_id: Some(UnitId(7)),
    }
}

fn standard(amount: u32, mode: TimingMode) -> CaseStandard {
    CaseStandard {
        limit: TimeLimit::new(amount, mode),
        urgency: Urgency::Normal,
        filing_condition: String::new(),
        closing_condition: String::new(),
    }
}

fn new_case(kind: RequestType) -> Case {
    let mut c =
        Case::reported(Channel::Hotline, kind, "路灯不亮".into(), "小区门口路灯坏了".into(), Urgency::Normal, t0());
    c.id = CaseId(1);
    c.category_id = Some(CategoryId(3));
    c.grid_id = Some(crate::GridId(5));
    c
}

struct Runner {
    calendar: WorkCalendar,
    standard: CaseStandard,
    now: DateTime<Utc>,
    case: Case,
    rework_restarts_limit: bool,
}

impl Runner {
    fn new(kind: RequestType) -> Self {
        Self {
            calendar: WorkCalendar::default(),
            standard: standard(4, TimingMode::WorkingHours),
            now: t0(),
            case: new_case(kind),
            rework_restarts_limit: false,
        }
    }

    fn try_move(&mut self, role: Role, mv: Move) -> Result<Outcome, MoveError> {
        apply(&self.case, &mv, &actor(role), &Relation::all(), &self.context())
    }

    fn step(&mut self, role: Role, mv: Move) -> Outcome {
        let out = self.try_move(role, mv).expect("move applies");
        assert_eq!(out.case.version, self.case.version + 1);
        assert_eq!(out.flow.from, Some(self.case.state));
        assert_eq!(out.flow.to, out.case.state);
        assert_eq!(out.flow.role, Some(role));
        self.case = out.case.clone();
        out
    }

    fn later(&mut self, hours: i64) {
        self.now += Duration::hours(hours);
    }

    /// The background job's move, when the deadline has passed.
    fn mark_overdue(&mut self) -> Result<(), MoveError> {
        let ctx = MoveContext { standard: None, ..self.context() };
        self.case = apply(&self.case, &Move::Overdue, &Actor::system(), &Relation::default(), &ctx)?.case;
        Ok(())
    }

    fn context(&self) -> MoveContext<'_> {
        MoveContext {
            now: self.now,
            calendar: &self.calendar,
            standard: Some(&self.standard),
            master: None,
            whistle_report_hours: 1,
            rework_restarts_limit: self.rework_restarts_limit,
        }
    }
}

#[test]
fn the_hotline_loop_runs_from_intake_to_reopen() {
    let mut r = Runner::new(RequestType::Complaint);
    r.step(Role::Lead, Move::File { category: None });
    assert_eq!(r.case.state, S::Registered);
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![UnitId(8)] });
    assert_eq!(r.case.state, S::PendingSign);
    // 4 working hours from Monday 09:00: 14:00 after lunch... 09-12 = 3 h, 14-15 = 1 h.
    assert_eq!(r.case.deadline, Some(Utc.with_ymd_and_hms(2026, 11, 23, 7, 0, 0).unwrap()));
    let out = r.step(Role::Handler, Move::Return { reason: "不属于本单位职责".into() });
    assert_eq!(out.flow.note.as_deref(), Some("不属于本单位职责"));
    r.step(Role::Dispatcher, Move::ApproveReturn);
    assert_eq!((r.case.state, r.case.unit_id, r.case.deadline), (S::Registered, None, None));
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(9), assisting: vec![] });
    assert_eq!(r.case.first_unit_id, Some(UnitId(7)), "first-receiver responsibility stays with the first unit");
    r.step(Role::Handler, Move::Sign);
    let before = r.case.deadline.unwrap();
    r.step(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(2), reason: "需协调物业".into() });
    assert_eq!(r.case.deadline, Some(before), "the deadline moves only when approved");
    r.step(Role::Dispatcher, Move::ApproveExtension);
    assert_eq!(r.case.deadline, Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()));
    assert_eq!(r.case.extensions, 1);
    r.later(2);
    let first = r.step(Role::Handler, Move::Submit { result: "已更换灯泡".into() });
    r.step(Role::Dispatcher, Move::Rework { reason: "照片不清楚".into() });
    assert_eq!((r.case.state, r.case.reworks), (S::Handling, 1));
    let second = r.step(Role::Handler, Move::Submit { result: "已更换灯泡, 附照片".into() });
    // Each record keeps the result it carried: the one sent back stays in the history.
    assert_eq!(
        (first.flow.note.as_deref(), second.flow.note.as_deref()),
        (Some("已更换灯泡"), Some("已更换灯泡, 附照片"))
    );
    assert_eq!(r.case.result.as_deref(), Some("已更换灯泡, 附照片"));
    // A resident who was not reached said neither that it is solved nor how satisfied they are.
    let unreached = |solved, satisfaction| Move::Revisit(Revisit { contacted: false, solved, satisfaction });
    let said_solved = r.try_move(Role::Operator, unreached(true, Satisfaction::Unsatisfied)).unwrap_err();
    assert!(matches!(said_solved, MoveError::Invalid { field: "solved", .. }), "{said_solved:?}");
    let said_satisfied = r.try_move(Role::Operator, unreached(false, Satisfaction::BasicallySatisfied)).unwrap_err();
    assert!(matches!(said_satisfied, MoveError::Invalid { field: "satisfaction", .. }), "{said_satisfied:?}");
    assert_eq!(r.case.state, S::Feedback);
    let revisit = Revisit { contacted: true, solved: true, satisfaction: Satisfaction::Satisfied };
    r.step(Role::Operator, Move::Revisit(revisit));
    assert_eq!(r.case.state, S::ClosePending);
    assert_eq!(r.case.standing_result(), Some("已更换灯泡, 附照片"));
    let out = r.step(Role::Lead, Move::Close);
    assert_eq!(out.effects, vec![Effect::CloseMerged]);
    assert_eq!(r.case.closed_at, Some(r.now));
    r.later(24);
    r.step(Role::Operator, Move::Reopen { reason: String::new() });
    assert_eq!((r.case.state, r.case.reopens, r.case.closed_at, r.case.revisit), (S::Handling, 1, None, None));
    assert_eq!(r.case.standing_result(), None, "the last attempt's result no longer stands");
    assert!(r.case.deadline.unwrap() > r.now);
}

#[test]
fn the_inspector_path_verifies_and_checks_on_site() {
    let mut r = Runner::new(RequestType::Report);
    r.step(Role::Operator, Move::RequestVerification);
    let not_found = Move::Verify { found: false, note: " ".into() };
    assert!(
        matches!(r.try_move(Role::Inspector, not_found), Err(MoveError::Invalid { field: "note", .. })),
        "not found says why"
    );
    r.step(Role::Inspector, Move::Verify { found: true, note: String::new() });
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.step(Role::Handler, Move::Sign);
    r.step(Role::Handler, Move::Submit { result: "已清理".into() });
    // A failed check tells the unit what is left to do.
    let unexplained = r.try_move(Role::Inspector, Move::Check { passed: false, note: " ".into() }).unwrap_err();
    assert!(matches!(unexplained, MoveError::Invalid { field: "note", .. }), "{unexplained:?}");
    let failed = r.step(Role::Inspector, Move::Check { passed: false, note: "仍有残留".into() });
    assert_eq!(failed.flow.note.as_deref(), Some("仍有残留"));
    assert_eq!((r.case.state, r.case.reworks), (S::Handling, 1));
    r.step(Role::Handler, Move::Submit { result: "已彻底清理".into() });
    r.step(Role::Inspector, Move::Check { passed: true, note: String::new() });
    r.step(Role::Lead, Move::Close);
    assert_eq!(r.case.state, S::Closed);
}

#[test]
fn a_move_in_the_wrong_state_lists_the_allowed_moves() {
    let mut r = Runner::new(RequestType::Complaint);
    let err = r.try_move(Role::Lead, Move::Close).unwrap_err();
    match err {
        MoveError::Illegal { kind, state, allowed, .. } => {
            assert_eq!((kind, state), (MoveKind::Close, S::Reported));
            assert_eq!(
                allowed,
                vec![
                    MoveKind::RequestVerification,
                    MoveKind::File,
                    MoveKind::Void,
                    MoveKind::Supervise,
                    MoveKind::Comment
                ]
            );
        }
        other => panic!("expected an illegal move, got {other:?}"),
    }
}

#[test]
fn a_case_without_a_grid_is_not_sent_to_an_inspector_to_verify() {
    let mut r = Runner::new(RequestType::Complaint);
    r.case.grid_id = None;
    let refused = r.try_move(Role::Operator, Move::RequestVerification).unwrap_err();
    assert!(matches!(refused, MoveError::Illegal { .. }), "{refused:?}");
    let allowed = allowed_moves(&r.case, &actor(Role::Operator), &Relation::all());
    assert!(!allowed.contains(&MoveKind::RequestVerification), "{allowed:?}");
}

#[test]
fn units_working_beside_the_lead_note_what_they_did() {
    let r = Runner::new(RequestType::Complaint);
    let ctx = MoveContext { standard: None, ..r.context() };
    let remark = Move::Comment { text: "已派人到现场配合".into() };
    let as_unit = |rel: Relation| apply(&r.case, &remark, &actor(Role::Handler), &rel, &ctx);
    assert!(as_unit(Relation { assisting: true, ..Relation::default() }).is_ok(), "an assisting unit");
    assert!(as_unit(Relation { joined: true, ..Relation::default() }).is_ok(), "a unit that reported in");
    let summoned = as_unit(Relation { summoned: true, ..Relation::default() }).unwrap_err();
    assert!(matches!(summoned, MoveError::Forbidden { .. }), "reporting in comes first: {summoned:?}");
    assert!(matches!(as_unit(Relation::default()), Err(MoveError::Forbidden { .. })));
}

#[test]
fn a_role_that_never_makes_a_move_is_forbidden() {
    let mut r = Runner::new(RequestType::Complaint);
    assert!(matches!(r.try_move(Role::Handler, Move::File { category: None }), Err(MoveError::Forbidden { .. })));
    assert!(matches!(r.try_move(Role::Leader, Move::Supervise { level: 1 }), Err(MoveError::Forbidden { .. })));
}

#[test]
fn a_handler_outside_the_unit_cannot_sign() {
    let r = Runner {
        case: Case { state: S::PendingSign, unit_id: Some(UnitId(1)), ..new_case(RequestType::Complaint) },
        ..Runner::new(RequestType::Complaint)
    };
    let ctx = MoveContext { standard: None, ..r.context() };
    let rel = Relation { in_unit: false, ..Relation::default() };
    let err = apply(&r.case, &Move::Sign, &actor(Role::Handler), &rel, &ctx).unwrap_err();
    assert!(matches!(err, MoveError::Forbidden { kind: MoveKind::Sign, .. }));
}

#[test]
fn extensions_are_limited_to_two_each_at_most_the_original_limit() {
    let mut r = Runner::new(RequestType::Complaint);
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.step(Role::Handler, Move::Sign);
    let too_long = r.try_move(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(5), reason: "x".into() });
    assert!(matches!(too_long, Err(MoveError::Invalid { field: "hours", .. })));
    let days = r.try_move(Role::Handler, Move::Extend { amount: ExtensionAmount::Days(1), reason: "x".into() });
    assert!(
        matches!(days, Err(MoveError::Invalid { field: "days", .. })),
        "1 working day = 8 working hours > 4, told at the days asked for"
    );
    let no_reason = r.try_move(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(1), reason: " ".into() });
    assert!(matches!(no_reason, Err(MoveError::Invalid { field: "reason", .. })));
    for _ in 0..2 {
        r.step(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(4), reason: "x".into() });
        r.step(Role::Dispatcher, Move::ApproveExtension);
    }
    let third = r.try_move(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(1), reason: "x".into() });
    assert!(matches!(third, Err(MoveError::Illegal { .. })));
    assert!(!allowed_moves(&r.case, &actor(Role::Handler), &Relation::all()).contains(&MoveKind::Extend));
}

#[test]
fn a_suspension_is_allowed_once_and_gives_back_the_time_left() {
    let mut r = Runner::new(RequestType::Complaint);
    r.standard = standard(2, TimingMode::Continuous);
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.step(Role::Handler, Move::Sign);
    let until = r.now + Duration::days(3);
    assert!(matches!(
        r.try_move(Role::Handler, Move::Suspend { until: r.now, reason: "x".into() }),
        Err(MoveError::Invalid { field: "until", .. })
    ));
    let far = r.now + Duration::days(MAX_SUSPENSION_DAYS + 1);
    assert!(matches!(
        r.try_move(Role::Handler, Move::Suspend { until: far, reason: "x".into() }),
        Err(MoveError::Invalid { field: "until", .. })
    ));
    r.step(Role::Handler, Move::Suspend { until, reason: "等待施工许可".into() });
    r.later(1);
    r.step(Role::Dispatcher, Move::ApproveSuspension);
    assert_eq!(r.case.state, S::Suspended);
    r.later(72);
    r.step(Role::Dispatcher, Move::Resume);
    // One hour was left when the clock stopped.
    assert_eq!(r.case.deadline, Some(r.now + Duration::hours(1)));
    let again = r.try_move(Role::Handler, Move::Suspend { until: r.now + Duration::days(1), reason: "x".into() });
    assert!(matches!(again, Err(MoveError::Illegal { .. })));
}

#[test]
fn consultations_are_answered_directly_but_complaints_are_not() {
    let mut r = Runner::new(RequestType::Consultation);
    let answered = r.step(Role::Operator, Move::Answer { answer: "办理地点在区政务服务中心".into() });
    assert_eq!(r.case.state, S::Closed);
    assert_eq!(answered.flow.note.as_deref(), Some("办理地点在区政务服务中心"), "the record keeps the answer");
    let mut r = Runner::new(RequestType::Complaint);
    assert!(matches!(r.try_move(Role::Operator, Move::Answer { answer: "x".into() }), Err(MoveError::Illegal { .. })));
}

#[test]
fn merging_needs_an_open_master_and_the_merged_case_closes_with_it() {
    let r = Runner::new(RequestType::Complaint);
    let mut master = new_case(RequestType::Complaint);
    master.id = CaseId(2);
    master.number = "20261123-000002".into();
    let ctx = MoveContext { standard: None, master: Some(&master), ..r.context() };
    let out = apply(&r.case, &Move::Merge { into: CaseId(2) }, &actor(Role::Operator), &Relation::all(), &ctx).unwrap();
    assert_eq!((out.case.state, out.case.master_id), (S::Merged, Some(CaseId(2))));
    let closed = apply(&out.case, &Move::CloseWithMaster, &Actor::system(), &Relation::default(), &ctx).unwrap();
    assert_eq!(closed.case.state, S::Closed);
    assert!(matches!(
        apply(&closed.case, &Move::Reopen { reason: String::new() }, &actor(Role::Operator), &Relation::all(), &ctx),
        Err(MoveError::Illegal { .. })
    ));

    let self_ctx = MoveContext { master: Some(&r.case), ..ctx };
    assert!(matches!(
        apply(&r.case, &Move::Merge { into: CaseId(1) }, &actor(Role::Operator), &Relation::all(), &self_ctx),
        Err(MoveError::Invalid { field: "into", .. })
    ));
}

#[test]
fn a_whistle_summons_units_with_a_report_in_deadline() {
    let mut r = Runner::new(RequestType::Complaint);
    r.step(Role::Lead, Move::File { category: None });
    let out = r.step(Role::Coordinator, Move::Whistle { units: vec![UnitId(3), UnitId(4), UnitId(3)] });
    assert_eq!(
        out.effects,
        vec![Effect::Summon { units: vec![UnitId(3), UnitId(4)], report_by: r.now + Duration::hours(1) }]
    );
    let out = r.step(Role::Handler, Move::ReportIn);
    assert_eq!(out.effects, vec![Effect::ReportedIn { unit: UnitId(7) }]);
}

#[test]
fn only_the_platform_marks_a_case_overdue() {
    let mut r = Runner::new(RequestType::Complaint);
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.later(30);
    assert!(matches!(r.try_move(Role::Dispatcher, Move::Overdue), Err(MoveError::Forbidden { .. })));
    let ctx = MoveContext { standard: None, ..r.context() };
    let out = apply(&r.case, &Move::Overdue, &Actor::system(), &Relation::default(), &ctx).unwrap();
    assert_eq!(out.case.overdue_at, Some(r.now));
    assert!(apply(&out.case, &Move::Overdue, &Actor::system(), &Relation::default(), &ctx).is_err(), "never twice");
}

#[test]
fn each_new_deadline_is_watched_anew_and_one_already_past_is_not() {
    let mut r = Runner::new(RequestType::Complaint);
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.later(8);
    r.mark_overdue().unwrap();
    // The unit was the wrong one: the right one gets its own limit, and its own overdue marking.
    r.step(Role::Handler, Move::Return { reason: "不属于本单位职责".into() });
    r.step(Role::Dispatcher, Move::ApproveReturn);
    assert_eq!((r.case.deadline, r.case.overdue_at), (None, None), "back with the dispatcher, no deadline");
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(9), assisting: vec![] });
    assert_eq!(r.case.overdue_at, None);
    assert!(r.mark_overdue().is_err(), "the new deadline has not passed");
    r.later(30);
    r.mark_overdue().unwrap();
    assert_eq!(r.case.overdue_at, Some(r.now));
    // An extension that still ends in the past leaves the marking as it is.
    r.step(Role::Handler, Move::Sign);
    r.step(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(1), reason: "需协调物业".into() });
    r.step(Role::Dispatcher, Move::ApproveExtension);
    assert!(r.case.deadline.unwrap() < r.now);
    assert_eq!(r.case.overdue_at, Some(r.now));
    // Closed and reopened (重办): a new deadline ahead, watched again.
    r.step(Role::Handler, Move::Submit { result: "已处理".into() });
    let revisit = Revisit { contacted: true, solved: false, satisfaction: Satisfaction::Unsatisfied };
    r.step(Role::Operator, Move::Revisit(revisit));
    r.step(Role::Lead, Move::Close);
    r.later(1);
    r.step(Role::Operator, Move::Reopen { reason: "问题仍在".into() });
    assert_eq!(r.case.overdue_at, None);
    r.later(30);
    r.mark_overdue().unwrap();
}

#[test]
fn rework_keeps_the_deadline_unless_the_city_restarts_the_limit() {
    for restarts in [false, true] {
        let mut r = Runner::new(RequestType::Complaint);
        r.rework_restarts_limit = restarts;
        r.step(Role::Lead, Move::File { category: None });
        r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
        let first = r.case.deadline.unwrap();
        r.step(Role::Handler, Move::Sign);
        r.later(8);
        r.mark_overdue().unwrap();
        r.step(Role::Handler, Move::Submit { result: "已处理".into() });
        let sent_back = r.step(Role::Dispatcher, Move::Rework { reason: "照片不清楚".into() });
        // Sent back on Monday at 17:00: one working hour that day, three on Tuesday from 08:00.
        let restarted = Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap();
        if restarts {
            assert_eq!(r.case.deadline, Some(restarted));
            assert_eq!(sent_back.flow.data["deadline"], serde_json::json!(restarted));
            assert_eq!(r.case.overdue_at, None, "the new deadline is ahead");
        } else {
            assert_eq!(r.case.deadline, Some(first));
            assert_eq!(sent_back.flow.data, serde_json::Value::Null);
            assert!(r.case.overdue_at.is_some());
        }
        // A failed check sends the result back in the same way.
        r.step(Role::Handler, Move::Submit { result: "已处理, 附照片".into() });
        r.later(24);
        let failed = r.step(Role::Inspector, Move::Check { passed: false, note: "仍有积水".into() });
        assert_eq!(failed.flow.data["passed"], false);
        let expected = if restarts { Some(r.calendar.deadline(r.now, r.standard.limit)) } else { Some(first) };
        assert_eq!(r.case.deadline, expected);
        assert_eq!(failed.flow.data.get("deadline").is_some(), restarts);
        assert_eq!(r.case.overdue_at.is_none(), restarts);
    }
}

#[test]
fn a_restarted_limit_never_takes_away_time_an_extension_gave() {
    let mut r = Runner::new(RequestType::Complaint);
    r.rework_restarts_limit = true;
    r.step(Role::Lead, Move::File { category: None });
    r.step(Role::Dispatcher, Move::Dispatch { unit: UnitId(7), assisting: vec![] });
    r.step(Role::Handler, Move::Sign);
    r.step(Role::Handler, Move::Extend { amount: ExtensionAmount::Hours(4), reason: "需协调物业".into() });
    r.step(Role::Dispatcher, Move::ApproveExtension);
    // Monday 09:00 + 4 + 4 working hours: Tuesday 09:00; sent back at 10:00, the limit alone gives 16:00.
    let extended = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
    assert_eq!(r.case.deadline, Some(extended));
    r.later(1);
    r.step(Role::Handler, Move::Submit { result: "已处理".into() });
    r.step(Role::Dispatcher, Move::Rework { reason: "照片不清楚".into() });
    assert_eq!(r.case.deadline, Some(extended));
}

/// Any move, with plausible fields, made by someone holding every role.
fn any_move() -> impl Strategy<Value = Move> {
    let reason = Just("原因".to_string());
    prop_oneof![
        Just(Move::RequestVerification),
        any::<bool>().prop_map(|found| Move::Verify { found, note: "现场查看".into() }),
        Just(Move::Answer { answer: "答复".into() }),
        Just(Move::File { category: None }),
        reason.clone().prop_map(|reason| Move::Void { reason }),
        (1i64..4).prop_map(|u| Move::Dispatch { unit: UnitId(u), assisting: vec![UnitId(9)] }),
        Just(Move::Sign),
        reason.clone().prop_map(|reason| Move::Return { reason }),
        Just(Move::ApproveReturn),
        Just(Move::RejectReturn),
        (1u32..6).prop_map(|h| Move::Extend { amount: ExtensionAmount::Hours(h), reason: "x".into() }),
        Just(Move::ApproveExtension),
        Just(Move::RejectExtension),
        (1i64..100)
            .prop_map(|h| Move::Suspend { until: t0() + Duration::days(400) + Duration::hours(h), reason: "x".into() }),
        Just(Move::ApproveSuspension),
        Just(Move::RejectSuspension),
        Just(Move::Resume),
        Just(Move::Submit { result: "结果".into() }),
        reason.clone().prop_map(|reason| Move::Rework { reason }),
        (any::<bool>(), reason).prop_map(|(passed, note)| Move::Check { passed, note }),
        (any::<bool>(), any::<bool>(), 0usize..3).prop_map(|(contacted, solved, s)| Move::Revisit(Revisit {
            contacted,
            solved,
            satisfaction: Satisfaction::ALL[s]
        })),
        Just(Move::Close),
        (any::<bool>(), 0usize..3).prop_map(|(solved, s)| Move::Rate {
            solved,
            satisfaction: Satisfaction::ALL[s],
            comment: "评价".into()
        }),
        Just(Move::Reopen { reason: String::new() }),
        (0u32..5).prop_map(|level| Move::Supervise { level }),
        Just(Move::Escalate { to: UnitId(1) }),
        Just(Move::Whistle { units: vec![UnitId(2)] }),
        Just(Move::ReportIn),
        Just(Move::Overdue),
        Just(Move::Comment { text: "补充说明".into() }),
    ]
}

/// What must hold of every case, whatever happened to it.
fn check_invariants(c: &Case) -> Result<(), TestCaseError> {
    let handled = matches!(
        c.state,
        S::PendingSign | S::Handling | S::Suspended | S::Feedback | S::ClosePending | S::ReturnReview
    );
    if handled {
        prop_assert!(c.unit_id.is_some(), "a case in {:?} has a unit", c.state);
        prop_assert!(c.deadline.is_some(), "a case in {:?} has a deadline", c.state);
    }
    prop_assert_eq!(c.state == S::Suspended, c.suspended_at.is_some());
    prop_assert!(c.overdue_at.is_none() || c.deadline.is_some(), "an overdue marking belongs to a deadline");
    prop_assert!(c.pending.is_none() || c.state == S::Handling, "requests wait only while handling");
    prop_assert!(c.extensions <= MAX_EXTENSIONS && c.suspensions <= MAX_SUSPENSIONS);
    prop_assert_eq!(matches!(c.state, S::Closed | S::Voided), c.closed_at.is_some());
    prop_assert!(c.supervision_level <= MAX_SUPERVISION_LEVEL);
    prop_assert!(c.unit_id.is_none() || c.first_unit_id.is_some());
    if let Some(u) = c.unit_id {
        prop_assert!(!c.assisting_units.contains(&u) || c.escalations > 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No sequence of moves, by anyone, at any pace, reaches an inconsistent case; every applied move
    /// bumps the version by one and is recorded from the old state to the new.
    #[test]
    fn no_sequence_of_moves_reaches_an_inconsistent_case(
        moves in proptest::collection::vec((any_move(), 0i64..30), 1..60),
        kind in 0usize..7,
        rework_restarts_limit in any::<bool>(),
    ) {
        let calendar = WorkCalendar::default();
        let std = standard(4, TimingMode::WorkingHours);
        let mut case = new_case(RequestType::ALL[kind]);
        let mut now = t0();
        let mut everyone = actor(Role::Admin);
        everyone.roles = Role::ALL.to_vec();
        for (mv, hours) in moves {
            now += Duration::hours(hours);
            let ctx = MoveContext {
                now, calendar: &calendar, standard: Some(&std), master: None,
                whistle_report_hours: 1, rework_restarts_limit,
            };
            let who = if mv.kind().is_system() { Actor::system() } else { everyone.clone() };
            match apply(&case, &mv, &who, &Relation::all(), &ctx) {
                Ok(out) => {
                    prop_assert_eq!(out.case.version, case.version + 1);
                    prop_assert_eq!(out.flow.from, Some(case.state));
                    prop_assert_eq!(out.flow.to, out.case.state);
                    prop_assert!(mv.kind().is_system() || allowed_moves(&case, &who, &Relation::all()).contains(&mv.kind()));
                    case = out.case;
                }
                Err(MoveError::Illegal { allowed, .. }) => {
                    prop_assert!(!allowed.contains(&mv.kind()) || precondition(mv.kind(), &case).is_err());
                }
                Err(_) => {}
            }
            check_invariants(&case)?;
        }
    }
}

#[test]
fn a_resident_sees_the_steps_and_their_own_doings_but_not_the_staff_or_their_remarks() {
    let at = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
    let entry = |kind: MoveKind, role: Option<Role>, note: &str, data: serde_json::Value| FlowEntry {
        kind,
        from: None,
        to: State::Handling,
        actor_id: Some(UserId(7)),
        actor_name: "某人".into(),
        role,
        unit_id: Some(UnitId(3)),
        at,
        note: Some(note.into()),
        attachments: vec!["ab".repeat(32)],
        data,
    };
    let flow: Vec<(i64, FlowEntry)> = [
        entry(MoveKind::Report, Some(Role::Citizen), "路灯不亮", serde_json::json!({"spam": {"score": 10}})),
        entry(MoveKind::Sign, Some(Role::Handler), "先拖两天", serde_json::json!({})),
        entry(MoveKind::Comment, Some(Role::Operator), "这人常打电话", serde_json::json!({})),
        entry(MoveKind::Comment, Some(Role::Citizen), "还是不亮", serde_json::json!({})),
        entry(MoveKind::Submit, Some(Role::Handler), "已更换灯泡", serde_json::json!({"reply_check": 80})),
        entry(MoveKind::Rate, Some(Role::Citizen), "谢谢", serde_json::json!({"satisfaction": "satisfied"})),
        entry(MoveKind::Revisit, Some(Role::Operator), "回访记录", serde_json::json!({"solved": true})),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, f)| (i as i64, f))
    .collect();
    let seen = resident_view(&flow);
    let kinds: Vec<(i64, MoveKind)> = seen.iter().map(|(id, f)| (*id, f.kind)).collect();
    assert_eq!(
        kinds,
        [
            (0, MoveKind::Report),
            (1, MoveKind::Sign),
            (3, MoveKind::Comment),
            (4, MoveKind::Submit),
            (5, MoveKind::Rate),
            (6, MoveKind::Revisit)
        ],
        "the staff's remarks are left out"
    );
    // A revisit keeps the resident's own answers, not the operator's record of the call.
    let revisit = &seen.last().unwrap().1;
    assert_eq!((revisit.data.get("solved"), revisit.note.as_deref()), (Some(&serde_json::json!(true)), None));
    // A result sent back for rework is left unsaid; the one that stood is read.
    let mut reworked = flow.clone();
    reworked.insert(5, (40, entry(MoveKind::Rework, Some(Role::Dispatcher), "照片不清楚", serde_json::json!({}))));
    reworked.insert(6, (41, entry(MoveKind::Submit, Some(Role::Handler), "已更换灯泡并拍照", serde_json::json!({}))));
    let notes: Vec<Option<String>> =
        resident_view(&reworked).into_iter().filter(|(_, f)| f.kind == MoveKind::Submit).map(|(_, f)| f.note).collect();
    assert_eq!(notes, [None, Some("已更换灯泡并拍照".to_string())]);
    let by_id = |id: i64| &seen.iter().find(|(i, _)| *i == id).unwrap().1;
    let sign = by_id(1);
    assert_eq!((sign.actor_id, sign.actor_name.as_str(), sign.role, sign.unit_id), (None, "", None, None));
    assert_eq!((sign.note.as_deref(), sign.attachments.len(), &sign.data), (None, 0, &serde_json::Value::Null));
    let submit = by_id(4);
    assert_eq!((submit.note.as_deref(), submit.actor_name.as_str()), (Some("已更换灯泡"), ""), "the result, not who");
    assert_eq!((submit.attachments.len(), &submit.data), (1, &serde_json::Value::Null));
    assert_eq!((by_id(3).note.as_deref(), by_id(3).attachments.len()), (Some("还是不亮"), 1), "their own comment");
    assert_eq!(by_id(5).data["satisfaction"], "satisfied", "their own rating");
    assert_eq!((by_id(0).note.as_deref(), &by_id(0).data), (Some("路灯不亮"), &serde_json::Value::Null));
}
