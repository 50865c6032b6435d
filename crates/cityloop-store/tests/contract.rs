//! The storage contract: every test runs on SQLite and, when `CITYLOOP_TEST_PG_URL` is set, on
//! PostgreSQL, each on a fresh database.

use std::collections::HashMap;
use std::future::Future;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use cityloop_domain::catalogue::CatalogueRule;
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::workflow::{apply, report_entry, Actor, Move, MoveContext, Relation};
use cityloop_domain::{
    Case, CaseId, CaseStandard, CategoryId, Channel, RequestType, Role, State, TimeLimit, TimingMode, UnitId, UnitKind,
    Urgency, UserId, WorkCalendar,
};
use cityloop_store::evaluation::CountBatch;
use cityloop_store::testing::{engines, fresh, TestDb};
use cityloop_store::{
    BulkCase, CaseFilter, CaseScope, CaseSort, ClosingDay, IntakeDay, MoveWrite, OverviewRollups, StoreError,
};

/// Runs a test body on every configured engine.
async fn on_every_engine<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in engines() {
        test(fresh(backend).await).await;
    }
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn operator() -> Actor {
    // Holds every role, so that the storage tests can drive any move.
    Actor { user_id: Some(UserId(1)), name: "受理员".into(), roles: Role::ALL.to_vec(), unit_id: None }
}

fn new_case(title: &str) -> Case {
    let mut c =
        Case::reported(Channel::Hotline, RequestType::Complaint, title.into(), "描述".into(), Urgency::Normal, t0());
    c.category_id = Some(CategoryId(1));
    c
}

async fn seed(db: &TestDb) -> (UnitId, UnitId) {
    let s = &db.store;
    let city = s.insert_division("990100", "云湖市", DivisionLevel::City, None).await.unwrap();
    s.upsert_category("06010", "暴露垃圾", None, None, Some(true)).await.unwrap();
    let a = s.insert_unit("u-a", "城管局", UnitKind::Department, None, Some(city)).await.unwrap();
    let b = s.insert_unit("u-b", "街道办", UnitKind::StreetOffice, None, Some(city)).await.unwrap();
    (a, b)
}

async fn create(db: &TestDb, title: &str) -> Case {
    let case = new_case(title);
    let flow = report_entry(&case, &operator(), Some(Role::Operator));
    db.store.create_case(&case, &flow, day(), None).await.unwrap().case
}

fn step(case: &Case, mv: Move, at: chrono::DateTime<Utc>) -> cityloop_domain::Outcome {
    let cal = WorkCalendar::default();
    let standard = CaseStandard {
        limit: TimeLimit::new(4, TimingMode::WorkingHours),
        urgency: Urgency::Normal,
        filing_condition: String::new(),
        closing_condition: String::new(),
    };
    let ctx = MoveContext {
        now: at,
        calendar: &cal,
        standard: Some(&standard),
        master: None,
        whistle_report_hours: 1,
        rework_restarts_limit: false,
    };
    apply(case, &mv, &operator(), &Relation::all(), &ctx).unwrap()
}

#[tokio::test]
async fn migrations_run_twice_without_harm() {
    on_every_engine(|db| async move {
        db.store.migrate().await.unwrap();
        db.store.migrate().await.unwrap();
        assert_eq!(db.store.count_cases().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn case_numbers_are_unique_and_sequential_per_day() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let a = create(&db, "一").await;
        let b = create(&db, "二").await;
        assert_eq!(a.number, "20261123-000001");
        assert_eq!(b.number, "20261123-000002");
        let stored = db.store.get_case(b.id).await.unwrap();
        assert_eq!(stored, b, "what was stored is what is read back");
        assert_eq!(db.store.case_by_number("20261123-000001").await.unwrap().id, a.id);
        let flows = db.store.flows(a.id).await.unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].1.to, State::Reported);
    })
    .await;
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_case() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let case = new_case("重复提交");
        let flow = report_entry(&case, &operator(), Some(Role::Operator));
        let first = db.store.create_case(&case, &flow, day(), Some((1, "key-1"))).await.unwrap();
        let again = db.store.create_case(&case, &flow, day(), Some((1, "key-1"))).await.unwrap();
        let other_user = db.store.create_case(&case, &flow, day(), Some((2, "key-1"))).await.unwrap();
        assert!(!first.replayed && again.replayed && !other_user.replayed);
        assert_eq!(first.case.id, again.case.id);
        assert_ne!(first.case.id, other_user.case.id);
        assert_eq!(db.store.count_cases().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_move_on_a_stale_version_writes_nothing() {
    on_every_engine(|db| async move {
        let (unit, _) = seed(&db).await;
        let case = create(&db, "过期版本").await;
        let filed = step(&case, Move::File { category: None }, t0());
        db.store.commit_move(MoveWrite { expected_version: case.version, outcome: &filed }).await.unwrap();
        // The same move again, based on the old version.
        let again = step(&case, Move::Void { reason: "x".into() }, t0());
        let err =
            db.store.commit_move(MoveWrite { expected_version: case.version, outcome: &again }).await.unwrap_err();
        assert!(matches!(err, StoreError::StaleVersion));
        let stored = db.store.get_case(case.id).await.unwrap();
        assert_eq!((stored.state, stored.version), (State::Registered, 2));
        assert_eq!(db.store.flows(case.id).await.unwrap().len(), 2, "no flow record for the refused move");
        let dispatched = step(&stored, Move::Dispatch { unit, assisting: vec![] }, t0());
        db.store.commit_move(MoveWrite { expected_version: stored.version, outcome: &dispatched }).await.unwrap();
        assert_eq!(db.store.get_case(case.id).await.unwrap().unit_id, Some(unit));
    })
    .await;
}

#[tokio::test]
async fn of_two_concurrent_moves_on_one_case_exactly_one_wins() {
    on_every_engine(|db| async move {
        seed(&db).await;
        for round in 0..5 {
            let case = create(&db, &format!("并发{round}")).await;
            let a = step(&case, Move::File { category: None }, t0());
            let b = step(&case, Move::Void { reason: "无效".into() }, t0());
            let (ra, rb) = tokio::join!(
                db.store.commit_move(MoveWrite { expected_version: case.version, outcome: &a }),
                db.store.commit_move(MoveWrite { expected_version: case.version, outcome: &b }),
            );
            assert!(ra.is_ok() ^ rb.is_ok(), "exactly one wins: {ra:?} {rb:?}");
            let stored = db.store.get_case(case.id).await.unwrap();
            let winner = if ra.is_ok() { &a } else { &b };
            assert_eq!(stored.state, winner.case.state);
            assert_eq!(db.store.flows(case.id).await.unwrap().len(), 2);
        }
    })
    .await;
}

#[tokio::test]
async fn lists_filter_by_scope_state_overdue_text_and_page() {
    on_every_engine(|db| async move {
        let (a, b) = seed(&db).await;
        let mut ids = Vec::new();
        for i in 0..6 {
            let case = create(&db, &format!("路灯{i}")).await;
            let filed = step(&case, Move::File { category: None }, t0());
            db.store.commit_move(MoveWrite { expected_version: 1, outcome: &filed }).await.unwrap();
            let unit = if i % 2 == 0 { a } else { b };
            let assisting = if i == 1 { vec![a] } else { vec![] };
            let d = step(&filed.case, Move::Dispatch { unit, assisting }, t0());
            db.store.commit_move(MoveWrite { expected_version: 2, outcome: &d }).await.unwrap();
            ids.push(case.id);
        }
        let late = t0() + Duration::days(30);
        let mut f = CaseFilter::new(CaseScope::everything(), late);
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 6);
        f.scope = CaseScope { units: vec![a], ..CaseScope::default() };
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 4, "three led by a, one assisted by a");
        f.units = Some(vec![a]);
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 3);
        let mut f = CaseFilter::new(CaseScope::everything(), late);
        f.overdue = Some(true);
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 6);
        f.now = t0();
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 0);
        let mut f = CaseFilter::new(CaseScope::everything(), t0());
        f.text = Some("路灯3".into());
        let found = db.store.list_cases(&f).await.unwrap();
        assert_eq!((found.total, found.items[0].id), (1, ids[3]));
        // Words apart: each must appear, wherever it is.
        f.text = Some(" 3  路灯 ".into());
        let found = db.store.list_cases(&f).await.unwrap();
        assert_eq!((found.total, found.items[0].id), (1, ids[3]));
        f.text = Some("路灯 9".into());
        assert_eq!(db.store.list_cases(&f).await.unwrap().total, 0);
        // A digit typed in full width finds it typed in half width.
        f.text = Some("路灯３".into());
        let found = db.store.list_cases(&f).await.unwrap();
        assert_eq!((found.total, found.items[0].id), (1, ids[3]));
        let mut f = CaseFilter::new(CaseScope::everything(), t0());
        f.states = vec![State::PendingSign];
        f.limit = 4;
        f.offset = 4;
        let page = db.store.list_cases(&f).await.unwrap();
        assert_eq!((page.total, page.items.len()), (6, 2));
        assert_eq!(page.items[1].id, ids[0], "newest first, so the oldest is last");
        let nobody = CaseFilter::new(CaseScope::default(), t0());
        assert_eq!(db.store.list_cases(&nobody).await.unwrap().total, 0);
        // By deadline, a case not yet given one comes after those that have one, on both engines.
        let waiting = create(&db, "未派单").await;
        let mut f = CaseFilter::new(CaseScope::everything(), t0());
        f.sort = CaseSort::DeadlineAsc;
        let by_deadline = db.store.list_cases(&f).await.unwrap();
        assert_eq!(by_deadline.items.len(), 7);
        assert_eq!(by_deadline.items.last().unwrap().id, waiting.id);
        assert!(by_deadline.items[..6].iter().all(|c| c.deadline.is_some()));
    })
    .await;
}

/// A master case taken through to closing with a second case merged into it: (master, merged, unit).
async fn merge_and_close(db: &TestDb) -> (Case, Case, UnitId) {
    let (unit, _) = seed(db).await;
    let master = create(db, "主案件").await;
    let mut child = new_case("重复案件");
    child.location = Some(cityloop_domain::Location { lat: 30.25, lon: 120.16, address: None });
    let flow = report_entry(&child, &operator(), Some(Role::Operator));
    let child = db.store.create_case(&child, &flow, day(), None).await.unwrap().case;
    let cal = WorkCalendar::default();
    let ctx = MoveContext {
        now: t0(),
        calendar: &cal,
        standard: None,
        master: Some(&master),
        whistle_report_hours: 1,
        rework_restarts_limit: false,
    };
    let merged = apply(&child, &Move::Merge { into: master.id }, &operator(), &Relation::all(), &ctx).unwrap();
    db.store.commit_move(MoveWrite { expected_version: 1, outcome: &merged }).await.unwrap();
    let mut m = master.clone();
    for mv in [
        Move::File { category: None },
        Move::Dispatch { unit, assisting: vec![] },
        Move::Sign,
        Move::Submit { result: "已处理".into() },
        Move::Check { passed: true, note: String::new() },
        Move::Close,
    ] {
        let out = step(&m, mv, t0());
        db.store.commit_move(MoveWrite { expected_version: m.version, outcome: &out }).await.unwrap();
        m = out.case;
    }
    (m, db.store.get_case(child.id).await.unwrap(), unit)
}

#[tokio::test]
async fn closing_a_master_closes_its_merged_cases_with_a_flow_record() {
    on_every_engine(|db| async move {
        let (master, child, _) = merge_and_close(&db).await;
        assert_eq!((child.state, child.master_id), (State::Closed, Some(master.id)));
        let last = db.store.flows(child.id).await.unwrap().pop().unwrap().1;
        assert_eq!(last.kind.as_str(), "close-with-master");
    })
    .await;
}

/// The counter reads through a connection of its own on SQLite: it must see what the pages see.
#[tokio::test]
async fn the_counter_reads_flows_and_cases_as_the_pages_do() {
    on_every_engine(|db| async move {
        let (master, child, unit) = merge_and_close(&db).await;
        let ids = [master.id, child.id];
        let histories = db.store.case_histories(&ids, i64::MAX).await.unwrap();
        for id in ids {
            assert_eq!(histories[&id], db.store.flows(id).await.unwrap(), "{:?}", db.backend());
        }
        let first_of_master = histories[&master.id][0].0;
        let up_to = db.store.case_histories(&[master.id], first_of_master).await.unwrap();
        assert_eq!(up_to[&master.id].len(), 1, "records after `up_to` are left out");

        let pending = db.store.flows_to_count(0, 1000).await.unwrap();
        let mut all: Vec<i64> = histories.values().flatten().map(|(id, _)| *id).collect();
        all.sort_unstable();
        assert_eq!(pending.iter().map(|p| p.id).collect::<Vec<_>>(), all);
        assert_eq!(
            db.store.flows_to_count(all[2], 2).await.unwrap().iter().map(|p| p.id).collect::<Vec<_>>(),
            all[3..5]
        );

        let facts = db.store.case_facts(&ids, |_| true).await.unwrap();
        let child_facts = facts.iter().find(|f| f.id == child.id).unwrap();
        assert_eq!((child_facts.request_type, child_facts.master_unit), (RequestType::Complaint, Some(unit)));
        assert_eq!(facts.iter().find(|f| f.id == master.id).unwrap().master_unit, None);

        let places = db.store.case_places(&[child.id]).await.unwrap();
        assert_eq!(places.len(), 1);
        assert_eq!(places[0].location, Some((30.25, 120.16)));
        assert_eq!((places[0].category_id, places[0].text.as_str()), (Some(CategoryId(1)), "重复案件\n描述"));
    })
    .await;
}

#[tokio::test]
async fn whistles_and_notices_are_recorded_with_the_move() {
    on_every_engine(|db| async move {
        let (a, b) = seed(&db).await;
        let case = create(&db, "吹哨").await;
        let filed = step(&case, Move::File { category: None }, t0());
        db.store.commit_move(MoveWrite { expected_version: 1, outcome: &filed }).await.unwrap();
        let whistle = step(&filed.case, Move::Whistle { units: vec![a, b] }, t0());
        db.store.commit_move(MoveWrite { expected_version: 2, outcome: &whistle }).await.unwrap();
        let ws = db.store.whistles(case.id).await.unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws[0].report_by, t0() + Duration::hours(1));
        let handler =
            Actor { user_id: Some(UserId(9)), name: "处置员".into(), roles: vec![Role::Handler], unit_id: Some(b) };
        let cal = WorkCalendar::default();
        let ctx = MoveContext {
            now: t0(),
            calendar: &cal,
            standard: None,
            master: None,
            whistle_report_hours: 1,
            rework_restarts_limit: false,
        };
        let report = apply(&whistle.case, &Move::ReportIn, &handler, &Relation::all(), &ctx).unwrap();
        db.store.commit_move(MoveWrite { expected_version: 3, outcome: &report }).await.unwrap();
        let ws = db.store.whistles(case.id).await.unwrap();
        assert!(ws.iter().find(|w| w.unit_id == b).unwrap().reported_at.is_some());
        assert!(ws.iter().find(|w| w.unit_id == a).unwrap().reported_at.is_none());
        let mut supervise = step(&report.case, Move::Supervise { level: 2 }, t0());
        supervise.flow.note = Some(" 周五前报处置方案 ".into());
        db.store.commit_move(MoveWrite { expected_version: 4, outcome: &supervise }).await.unwrap();
        let notices = db.store.notices(Some(case.id), None, 10).await.unwrap();
        assert_eq!((notices.len(), notices[0].level, notices[0].overdue), (1, 2, false));
        assert_eq!(notices[0].note.as_deref(), Some("周五前报处置方案"), "what the supervisor asks travels with it");
        assert_eq!(notices[0].case_number, case.number, "a notice names its case for any language");
    })
    .await;
}

#[tokio::test]
async fn reference_data_round_trips_and_catalogue_rules_replace_each_other() {
    on_every_engine(|db| async move {
        let (a, b) = seed(&db).await;
        let s = &db.store;
        let cat = s.list_categories().await.unwrap()[0].id;
        let rule = CatalogueRule { id: 0, category_id: cat, division_id: None, lead_unit: a, assisting_units: vec![b] };
        s.put_catalogue_rule(&rule).await.unwrap();
        s.put_catalogue_rule(&CatalogueRule { lead_unit: b, assisting_units: vec![], ..rule.clone() }).await.unwrap();
        let rules = s.list_catalogue().await.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].lead_unit, b);
        assert!(matches!(s.delete_catalogue_rule(9999).await, Err(StoreError::NotFound)));
        let holiday = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        s.set_calendar_day(holiday, Some("holiday"), "国庆").await.unwrap();
        let cal = s.load_calendar().await.unwrap();
        assert!(!cal.is_working_day(holiday));
        s.set_calendar_day(holiday, None, "").await.unwrap();
        assert!(s.load_calendar().await.unwrap().holidays.is_empty());
        let dup = s.insert_unit("u-a", "重复", UnitKind::Department, None, None).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))));
        // The tree never gets a loop, whatever the caller checked before.
        s.update_unit(b, "街道办", UnitKind::StreetOffice, Some(a), None).await.unwrap();
        let under_itself = s.update_unit(a, "城管局", UnitKind::Department, Some(b), None).await;
        assert!(matches!(under_itself, Err(StoreError::Invalid(_))), "{under_itself:?}");
        let itself = s.update_unit(a, "城管局", UnitKind::Department, Some(a), None).await;
        assert!(matches!(itself, Err(StoreError::Invalid(_))), "{itself:?}");
        let units = s.list_units().await.unwrap();
        let parent_of = |u: UnitId| units.iter().find(|r| r.id == u).unwrap().parent_id;
        assert_eq!((parent_of(a), parent_of(b)), (None, Some(a)), "the refused moves changed nothing");
        let user = s.insert_user("alice", "Alice", "hash", &[Role::Handler], Some(a), &[], t0()).await.unwrap();
        let loaded = s.user_by_username("alice").await.unwrap().unwrap();
        assert_eq!((loaded.id, loaded.roles.clone(), loaded.unit_id), (user, vec![Role::Handler], Some(a)));
        s.insert_token("h1", user, t0(), t0() + Duration::hours(1)).await.unwrap();
        assert!(s.revoke_token("h1", t0()).await.unwrap());
        assert!(s.token("h1").await.unwrap().unwrap().revoked);
    })
    .await;
}

#[tokio::test]
async fn numbering_continues_after_a_bulk_load() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let mut items = Vec::new();
        for i in 1..=3 {
            let mut c = new_case("历史");
            c.number = format!("20261123-{i:06}");
            let flow = report_entry(&c, &operator(), Some(Role::Operator));
            items.push(BulkCase { case: c, flows: vec![flow], effects: vec![] });
        }
        let ids = db.store.bulk_insert_cases(&items).await.unwrap();
        assert_eq!(ids, vec![CaseId(1), CaseId(2), CaseId(3)]);
        let next = create(&db, "新案件").await;
        assert_eq!((next.id, next.number.as_str()), (CaseId(4), "20261123-000004"));
        assert_eq!(db.store.flows(CaseId(2)).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn dashboard_counts_queue_filters_and_saved_views_agree_on_both_engines() {
    on_every_engine(|db| async move {
        let (unit_a, _) = seed(&db).await;
        let s = &db.store;
        let mut items = Vec::new();
        // Five cases over two days: two closed by unit A, one overdue in hand, one with an
        // extension request waiting, one reworked and still open.
        for i in 0..5i64 {
            let mut c = new_case(&format!("案件{i}"));
            c.number = format!("20261123-{:06}", i + 1);
            c.created_at = t0() - Duration::days(i % 2) - Duration::hours(i);
            c.updated_at = c.created_at;
            c.unit_id = Some(unit_a);
            c.deadline = Some(t0() + Duration::hours(4));
            c.channel = if i % 2 == 0 { Channel::Hotline } else { Channel::Web };
            match i {
                0 | 1 => {
                    c.state = State::Closed;
                    c.closed_at = Some(c.created_at + Duration::hours(10));
                }
                2 => {
                    c.state = State::Handling;
                    c.deadline = Some(t0() - Duration::hours(1));
                }
                3 => {
                    c.state = State::Handling;
                    c.pending = Some(cityloop_domain::PendingRequest::Extension { amount: 2, reason: "等待".into() });
                    c.confidential = true;
                }
                _ => {
                    c.state = State::Handling;
                    c.reworks = 1;
                }
            }
            let report = report_entry(&c, &operator(), Some(Role::Operator));
            let mut flows = vec![report.clone()];
            if let Some(at) = c.closed_at {
                let kind = cityloop_domain::MoveKind::Close;
                flows.push(cityloop_domain::FlowEntry {
                    kind,
                    from: Some(State::ClosePending),
                    to: State::Closed,
                    at,
                    ..report
                });
            }
            items.push(BulkCase { case: c, flows, effects: vec![] });
        }
        s.bulk_insert_cases(&items).await.unwrap();

        let open = s.open_counts(t0()).await.unwrap();
        assert_eq!(open.iter().map(|o| o.open).sum::<i64>(), 3);
        assert_eq!(open.iter().map(|o| o.overdue).sum::<i64>(), 1);

        // The leader screen's rollups are filled from the cases once the counter has caught up.
        let china = 8 * 3600;
        assert_eq!(s.backfill_overview_rollups(china).await.unwrap(), OverviewRollups::Waiting);
        assert!(s.daily_intake(0, 99_999_999).await.unwrap().is_empty());
        let flows = s.flows_to_count(0, 100).await.unwrap();
        let last = flows.last().map(|f| f.id).unwrap();
        let nothing = CountBatch {
            counts: HashMap::new(),
            areas: HashMap::new(),
            intake: HashMap::new(),
            closings: HashMap::new(),
            signals: Vec::new(),
            at: t0(),
        };
        // A count before the fill leaves these rollups to it, which counts the same cases.
        let early = CountBatch {
            intake: HashMap::from([(IntakeDay { day: 20261123, channel: "web".into(), category_id: None }, 7)]),
            closings: HashMap::from([(ClosingDay { day: 20261123, unit_id: unit_a }, (5, 60))]),
            ..nothing.clone()
        };
        assert!(s.add_evaluation_counts(0, last, &early).await.unwrap());
        assert!(s.daily_intake(0, 99_999_999).await.unwrap().is_empty());
        assert_eq!(s.backfill_overview_rollups(china).await.unwrap(), OverviewRollups::Filled);
        assert_eq!(s.backfill_overview_rollups(china).await.unwrap(), OverviewRollups::Kept, "once");
        let mut intake = s.daily_intake(20261123, 20261124).await.unwrap();
        intake.sort_by_key(|(k, _)| k.channel.clone());
        let category = intake.first().and_then(|(k, _)| k.category_id);
        assert_eq!(
            intake,
            vec![(IntakeDay { day: 20261123, channel: "hotline".into(), category_id: category }, 3)],
            "the web cases came in the local day before"
        );
        assert_eq!(s.daily_intake(20261120, 20261124).await.unwrap().iter().map(|(_, n)| n).sum::<i64>(), 5);
        let pace = s.unit_pace(20261101, 20261124, t0()).await.unwrap();
        assert_eq!(pace.len(), 1);
        assert_eq!((pace[0].closed, pace[0].overdue_now), (2, 1));
        assert!((pace[0].mean_hours - 10.0).abs() < 1e-6, "{}", pace[0].mean_hours);

        // Then each count adds to them.
        let more = CountBatch {
            intake: HashMap::from([(IntakeDay { day: 20261123, channel: "web".into(), category_id: None }, 2)]),
            closings: HashMap::from([(ClosingDay { day: 20261123, unit_id: unit_a }, (1, 30 * 60))]),
            ..nothing
        };
        assert!(s.add_evaluation_counts(last, last + 1, &more).await.unwrap());
        assert!(s.add_evaluation_counts(last + 1, last + 2, &more).await.unwrap());
        let today = s.daily_intake(20261123, 20261124).await.unwrap();
        assert!(
            today.contains(&(IntakeDay { day: 20261123, channel: "web".into(), category_id: None }, 4)),
            "{today:?}"
        );
        let pace = s.unit_pace(20261101, 20261124, t0()).await.unwrap();
        assert_eq!(pace[0].closed, 4);
        assert!((pace[0].mean_hours - 20.0).abs() < 1e-6, "(2 × 10 h + 2 × 30 h) / 4: {}", pace[0].mean_hours);

        let count = |f: CaseFilter| async move { s.list_cases(&f).await.unwrap().total };
        let base = || CaseFilter::new(CaseScope::everything(), t0());
        assert_eq!(count(CaseFilter { pending: Some(true), ..base() }).await, 1);
        assert_eq!(count(CaseFilter { reworked: true, ..base() }).await, 1);
        assert_eq!(count(CaseFilter { due_before: Some(t0() + Duration::hours(5)), ..base() }).await, 2);
        assert_eq!(count(CaseFilter { public_only: true, ..base() }).await, 4);
        assert_eq!(
            count(CaseFilter { count_limit: Some(2), ..base() }).await,
            3,
            "counted up to the limit and one more"
        );
        assert_eq!(count(CaseFilter { count_limit: Some(10), ..base() }).await, 5);
        // A unit's own filter inside its scope (its inbox) and the same filter over the whole city agree;
        // another unit's filter inside that scope finds nothing.
        let unit_scope = || CaseScope { all: false, units: vec![unit_a], ..CaseScope::default() };
        let in_hand = |scope: CaseScope, unit| CaseFilter {
            scope,
            units: Some(vec![unit]),
            states: vec![State::Handling],
            ..CaseFilter::new(CaseScope::everything(), t0())
        };
        assert_eq!(count(in_hand(unit_scope(), unit_a)).await, 3);
        assert_eq!(count(in_hand(CaseScope::everything(), unit_a)).await, 3);
        assert_eq!(count(in_hand(unit_scope(), UnitId(unit_a.0 + 1000))).await, 0);

        let user = s.insert_user("lead", "值班长", "hash", &[Role::Lead], None, &[], t0()).await.unwrap();
        s.save_view(user, "超期", "overdue=true", t0()).await.unwrap();
        s.save_view(user, "超期", "overdue=true&sort=deadline", t0()).await.unwrap();
        let views = s.saved_views(user).await.unwrap();
        assert_eq!(views.len(), 1, "a name is saved once");
        assert_eq!(views[0].query, "overdue=true&sort=deadline");
        assert!(!s.delete_view(UserId(user.0 + 1), views[0].id).await.unwrap(), "another user's view stays");
        assert!(s.delete_view(user, views[0].id).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn text_search_ignores_the_case_and_width_of_latin_letters_and_finds_wildcards_as_such_on_both_engines() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let ktv = create(&db, "楼下KTV噪音").await;
        let wide = create(&db, "３号楼Ａ座漏水").await;
        create(&db, "楼下饭店噪音").await;
        let percent = create(&db, "水费涨了50%").await;
        let underscore = create(&db, "网站账号a_b登录不了").await;
        let searches = [
            ("50%", percent.id),
            ("a_b", underscore.id),
            ("ktv", ktv.id),
            ("KTV", ktv.id),
            ("Ktv 噪音", ktv.id),
            ("ＫＴＶ", ktv.id),
            ("ｋｔｖ", ktv.id),
            ("a座", wide.id),
            ("Ａ座", wide.id),
            ("ａ座", wide.id),
            ("3号楼", wide.id),
        ];
        for (q, id) in searches {
            let mut f = CaseFilter::new(CaseScope::everything(), t0());
            f.text = Some(q.into());
            let found = db.store.list_cases(&f).await.unwrap();
            let ids: Vec<_> = found.items.iter().map(|c| c.id).collect();
            assert_eq!(ids, vec![id], "{:?}: `{q}`", db.store.backend());
        }
        // `%` and `_` are characters to find, not wildcards that match every case.
        for q in ["%", "_", "a%b"] {
            let mut f = CaseFilter::new(CaseScope::everything(), t0());
            f.text = Some(q.into());
            let found: Vec<_> = db.store.list_cases(&f).await.unwrap().items.iter().map(|c| c.id).collect();
            let wanted = match q {
                "%" => vec![percent.id],
                "_" => vec![underscore.id],
                _ => vec![],
            };
            assert_eq!(found, wanted, "{:?}: `{q}`", db.store.backend());
        }
    })
    .await;
}

#[tokio::test]
async fn a_signal_found_again_keeps_its_title_and_gets_one_in_english_if_it_had_none() {
    on_every_engine(|db| async move {
        let signal = cityloop_store::signals::NewSignal {
            kind: cityloop_domain::signals::SignalKind::Concentrated,
            signature: "concentrated:grid:1:1:20000".into(),
            score: 60.0,
            title: "网格 1 · 暴露垃圾".into(),
            explanation: "共 5 件".into(),
            title_en: "Grid 1 · 暴露垃圾".into(),
            explanation_en: "5 cases".into(),
            category_id: None,
            area: None,
            word: None,
            day_from: 20000,
            day_to: 20000,
            cases: Vec::new(),
            case_count: 5,
        };
        let (id, new) = db.store.upsert_signal(&signal, t0()).await.unwrap();
        assert!(new);
        // As a signal stored before English was written beside the Chinese.
        db.execute_behind_the_platform(&format!(
            "update signals set title_en = null, explanation_en = null where id = {id}"
        ))
        .await;
        let later = cityloop_store::signals::NewSignal {
            title: "另一个标题".into(),
            title_en: "Another title".into(),
            explanation_en: "6 cases".into(),
            case_count: 6,
            ..signal.clone()
        };
        assert_eq!(db.store.upsert_signal(&later, t0()).await.unwrap(), (id, false));
        let stored = db.store.get_signal(id).await.unwrap().signal;
        assert_eq!((stored.title.as_str(), stored.title_en.as_str()), ("网格 1 · 暴露垃圾", "Another title"));
        assert_eq!((stored.explanation_en.as_str(), stored.case_count), ("6 cases", 6));
        // Once it has one, a refresh keeps it, as it keeps the Chinese title.
        let again = cityloop_store::signals::NewSignal { title_en: "A third title".into(), ..later };
        db.store.upsert_signal(&again, t0()).await.unwrap();
        assert_eq!(db.store.get_signal(id).await.unwrap().signal.title_en, "Another title");
    })
    .await;
}

#[tokio::test]
async fn a_waiting_mark_without_its_upload_record_does_not_stop_the_sweep() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let s = &db.store;
        let (orphan, waiting) = ("c".repeat(64), "d".repeat(64));
        let marked_at = (t0() - Duration::hours(2)).timestamp_millis();
        db.execute_behind_the_platform(&format!(
            "insert into pending_uploads (hash, uploaded_at) values ('{orphan}', {marked_at})"
        ))
        .await;
        s.insert_attachment(&waiting, "image/png", 10, "photo.png", Some(UserId(1)), t0()).await.unwrap();
        let later = t0() + Duration::hours(1);
        let removed_files = std::sync::Mutex::new(Vec::new());
        let remove = |hash: &str| {
            removed_files.lock().unwrap().push(hash.to_string());
            Ok(())
        };
        // One at a time: the orphaned mark, the oldest, comes first and is dropped with its file; then the
        // upload goes.
        assert!(s.sweep_unattached_uploads(later, 1, remove).await.unwrap().is_empty());
        assert_eq!(*removed_files.lock().unwrap(), vec![orphan.clone()]);
        assert_eq!(s.sweep_unattached_uploads(later, 1, remove).await.unwrap(), vec![waiting.clone()]);
        assert_eq!(db.query_i64("select count(*) from pending_uploads").await, 0);
    })
    .await;
}

#[tokio::test]
async fn uploads_no_case_holds_are_swept_and_a_swept_one_cannot_be_given_to_a_case() {
    on_every_engine(|db| async move {
        seed(&db).await;
        let s = &db.store;
        let (on_case, waiting) = ("a".repeat(64), "b".repeat(64));
        for hash in [&on_case, &waiting] {
            s.insert_attachment(hash, "image/png", 10, "photo.png", Some(UserId(1)), t0()).await.unwrap();
        }
        let case = new_case("路灯不亮");
        let mut flow = report_entry(&case, &operator(), Some(Role::Operator));
        flow.attachments = vec![on_case.clone(), on_case.clone()];
        s.create_case(&case, &flow, day(), None).await.unwrap();

        // Uploads younger than the limit stay; of the older ones, only the one no case holds goes.
        let removed_files = std::sync::Mutex::new(Vec::new());
        let remove = |hash: &str| {
            removed_files.lock().unwrap().push(hash.to_string());
            Ok(())
        };
        assert!(s.sweep_unattached_uploads(t0(), 100, remove).await.unwrap().is_empty());
        let swept = s.sweep_unattached_uploads(t0() + Duration::hours(1), 100, remove).await.unwrap();
        assert_eq!(swept, vec![waiting.clone()]);
        assert_eq!(*removed_files.lock().unwrap(), vec![waiting.clone()]);
        assert!(s.attachment_exists(&on_case).await.unwrap());
        assert!(!s.attachment_exists(&waiting).await.unwrap());

        // A case that was to hold the swept file is refused whole, with the file named.
        let cases = db.query_i64("select count(*) from cases").await;
        let case = new_case("又一张照片");
        let mut flow = report_entry(&case, &operator(), Some(Role::Operator));
        flow.attachments = vec![on_case.clone(), waiting.clone()];
        match s.create_case(&case, &flow, day(), None).await {
            Err(StoreError::UnknownAttachment(hash)) => assert_eq!(hash, waiting),
            other => panic!("{:?}: expected an unknown attachment, got {other:?}", s.backend()),
        }
        assert_eq!(db.query_i64("select count(*) from cases").await, cases);

        // The file on a case uploaded again and left waiting: the sweep keeps the file, drops the wait.
        s.insert_attachment(&on_case, "image/png", 10, "photo.png", Some(UserId(2)), t0()).await.unwrap();
        removed_files.lock().unwrap().clear();
        assert!(s.sweep_unattached_uploads(t0() + Duration::hours(1), 100, remove).await.unwrap().is_empty());
        assert!(removed_files.lock().unwrap().is_empty());
        assert!(s.attachment_exists(&on_case).await.unwrap());
        assert_eq!(db.query_i64("select count(*) from pending_uploads").await, 0);
    })
    .await;
}

/// On PostgreSQL, where several nodes sweep and move at once: an upload that a transaction not yet
/// committed is giving to a case (it holds the file's row, as a move does) is passed over by the
/// sweep without waiting, and stays once that transaction commits.
#[tokio::test]
async fn the_sweep_passes_over_an_upload_a_case_is_being_given_on_postgres() {
    use sqlx::{Connection, Row};
    if !engines().contains(&cityloop_store::Backend::Postgres) {
        return;
    }
    let db = fresh(cityloop_store::Backend::Postgres).await;
    seed(&db).await;
    let s = &db.store;
    let hash = "c".repeat(64);
    s.insert_attachment(&hash, "image/jpeg", 10, "井盖.jpg", Some(UserId(1)), t0()).await.unwrap();
    let case = create(&db, "井盖缺失").await;

    let mut mover = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut giving = mover.begin().await.unwrap();
    let held = sqlx::query("select hash from attachments where hash = $1 for key share")
        .bind(&hash)
        .fetch_one(&mut *giving)
        .await
        .unwrap();
    assert_eq!(held.get::<String, _>(0), hash);
    let later = t0() + Duration::hours(1);
    let sweep = s.sweep_unattached_uploads(later, 100, |_| panic!("a file held by a move was removed"));
    let swept = tokio::time::timeout(std::time::Duration::from_secs(60), sweep)
        .await
        .expect("the sweep waited for the move instead of passing over its upload")
        .unwrap();
    assert!(swept.is_empty());
    sqlx::query("insert into case_attachments (hash, case_id) values ($1, $2)")
        .bind(&hash)
        .bind(case.id.0)
        .execute(&mut *giving)
        .await
        .unwrap();
    sqlx::query("delete from pending_uploads where hash = $1").bind(&hash).execute(&mut *giving).await.unwrap();
    giving.commit().await.unwrap();

    assert!(s
        .sweep_unattached_uploads(later, 100, |_| panic!("a file on a case was removed"))
        .await
        .unwrap()
        .is_empty());
    assert!(s.attachment_exists(&hash).await.unwrap());
}
