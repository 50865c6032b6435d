//! Tamper evidence on both engines: records edited, deleted, inserted and reordered directly in the
//! database are found, as are seals and exported roots changed afterwards; untouched records check clean.

use cityloop_app::audit::{AuditReport, ExportedRoot};
use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::moves::MoveInput;
use cityloop_app::testing::{demo_app, DemoApp};
use cityloop_app::{App, Principal};
use cityloop_domain::audit::FindingKind;
use cityloop_store::testing::engines;

async fn principal(app: &App, username: &str) -> Principal {
    app.login(username, DEMO_PASSWORD).await.unwrap_or_else(|e| panic!("login {username}: {e}")).principal
}

/// A case taken in at the hotline and moved twice, so that records are linked one at a time too
/// (the demo history is written in bulk). Its number.
async fn a_case_moved_through_the_workflow(app: &App) -> String {
    let (operator, lead, dispatcher) =
        (principal(app, "operator").await, principal(app, "lead").await, principal(app, "dispatcher").await);
    let grid = app.reference().grids[10].clone();
    let input = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "解放路工地夜间施工噪音大".into(),
        description: "解放路工地晚上十一点以后还在施工, 周边居民无法休息。".into(),
        category: Some("08001".into()),
        location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
        ..NewCase::default()
    };
    let case = app.create_case(&operator, input, None).await.unwrap().case;
    app.perform_move(&lead, &case.number, "file", MoveInput::default()).await.unwrap();
    app.perform_move(&dispatcher, &case.number, "dispatch", MoveInput::default()).await.unwrap();
    case.number
}

fn kinds(report: &AuditReport) -> Vec<(FindingKind, i64)> {
    report.findings.iter().map(|f| (f.kind, f.flow_id)).collect()
}

async fn sealed_demo(backend: cityloop_store::Backend) -> (DemoApp, i64) {
    let demo = demo_app(backend, 40, 1024).await;
    let number = a_case_moved_through_the_workflow(&demo.app).await;
    assert!(!number.is_empty());
    let records = demo.db.query_i64("select count(*) from flow").await;
    assert_eq!(demo.app.seal_audit().await.unwrap() as i64, records, "every record sealed");
    (demo, records)
}

#[tokio::test]
async fn untouched_records_check_clean_and_each_kind_of_tampering_is_found() {
    for backend in engines() {
        let (demo, records) = sealed_demo(backend).await;
        let (app, db) = (&demo.app, &demo.db);
        let clean = app.verify_audit(&[]).await.unwrap();
        assert!(clean.is_clean(), "{:?}", clean.findings);
        assert_eq!((clean.records as i64, clean.unsealed), (records, 0));
        assert!(clean.cases >= 41 && clean.seals >= 1, "{clean:?}");
        let case_of = |id: i64| format!("select case_id from flow where id = {id}");

        // Edited: a record's note rewritten.
        let edited = db.query_i64("select min(id) from flow where note is not null").await;
        db.execute_behind_the_platform(&format!("update flow set note = note || '（已改）' where id = {edited}")).await;
        assert_eq!(kinds(&app.verify_audit(&[]).await.unwrap()), vec![(FindingKind::Altered, edited)], "{backend:?}");
        db.execute_behind_the_platform(&format!(
            "update flow set note = substr(note, 1, length(note) - 4) where id = {edited}"
        ))
        .await;
        assert!(app.verify_audit(&[]).await.unwrap().is_clean(), "put back, it checks clean again");

        // Reordered: two records of one case swap places (their ids).
        let case = db
            .query_i64("select case_id from flow group by case_id having count(*) >= 3 order by case_id limit 1")
            .await;
        let first = db.query_i64(&format!("select min(id) from flow where case_id = {case}")).await;
        let second = db.query_i64(&format!("select min(id) from flow where case_id = {case} and id > {first}")).await;
        for sql in [
            format!("update flow set id = -1 where id = {first}"),
            format!("update flow set id = {first} where id = {second}"),
            format!("update flow set id = {second} where id = -1"),
        ] {
            db.execute_behind_the_platform(&sql).await;
        }
        // Both swapped records sit after the wrong predecessor, and so does the record after them; the
        // seal holds the ids with other links.
        let found = app.verify_audit(&[]).await.unwrap();
        let third = db.query_i64(&format!("select min(id) from flow where case_id = {case} and id > {second}")).await;
        assert_eq!(
            kinds(&found),
            vec![
                (FindingKind::Altered, first),
                (FindingKind::Altered, second),
                (FindingKind::Altered, third),
                (FindingKind::SealBroken, records)
            ],
            "{backend:?}"
        );
        assert!(found.findings[..3].iter().all(|f| f.case_id == Some(case)));
        for sql in [
            format!("update flow set id = -1 where id = {first}"),
            format!("update flow set id = {first} where id = {second}"),
            format!("update flow set id = {second} where id = -1"),
        ] {
            db.execute_behind_the_platform(&sql).await;
        }
        assert!(app.verify_audit(&[]).await.unwrap().is_clean());

        // Deleted: a case's last record (no later record of the case notices; the seal does).
        let last = db.query_i64(&format!("select max(id) from flow where case_id = {case}")).await;
        let before = db.query_i64(&format!("select count(*) from flow where case_id = {case}")).await;
        db.execute_behind_the_platform(&format!("create table flow_kept as select * from flow where id = {last}"))
            .await;
        db.execute_behind_the_platform(&format!("delete from flow where id = {last}")).await;
        let found = app.verify_audit(&[]).await.unwrap();
        assert_eq!(found.findings.len(), 1, "{:?}", found.findings);
        assert_eq!((found.findings[0].kind, found.findings[0].seal_id), (FindingKind::Deleted, Some(1)));
        // …and a record in the middle of a case: the next one no longer follows.
        let middle = db.query_i64(&format!("select min(id) from flow where case_id = {case}")).await;
        db.execute_behind_the_platform(&format!("insert into flow_kept select * from flow where id = {middle}")).await;
        db.execute_behind_the_platform(&format!("delete from flow where id = {middle}")).await;
        let next = db.query_i64(&format!("select min(id) from flow where case_id = {case}")).await;
        let found = kinds(&app.verify_audit(&[]).await.unwrap());
        assert!(found.contains(&(FindingKind::Altered, next)), "{found:?}");
        db.execute_behind_the_platform("insert into flow select * from flow_kept").await;
        db.execute_behind_the_platform("drop table flow_kept").await;
        assert_eq!(db.query_i64(&format!("select count(*) from flow where case_id = {case}")).await, before);
        assert!(app.verify_audit(&[]).await.unwrap().is_clean(), "restored, it checks clean again");
        assert_eq!(db.query_i64(&case_of(last)).await, case);

        // Inserted: a copy of a case's last record written after it (a second closing, say), unlinked
        // and with the copied link; both are found even before they are sealed.
        let copy_columns =
            "case_id, kind, from_state, to_state, actor_id, actor_name, role, unit_id, at, note, attachments, data";
        db.execute_behind_the_platform(&format!(
            "insert into flow ({copy_columns}, link) select {copy_columns}, link from flow where id = {last}"
        ))
        .await;
        db.execute_behind_the_platform(&format!(
            "insert into flow ({copy_columns}) select {copy_columns} from flow where id = {last}"
        ))
        .await;
        let found = app.verify_audit(&[]).await.unwrap();
        let copied = db.query_i64(&format!("select max(id) from flow where case_id = {case}")).await;
        assert_eq!(found.unsealed, 2);
        assert_eq!(
            kinds(&found),
            vec![(FindingKind::Altered, copied - 1), (FindingKind::Unlinked, copied)],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn seals_and_exported_roots_catch_a_chain_rewritten_or_records_slipped_into_a_sealed_range() {
    for backend in engines() {
        let demo = demo_app(backend, 40, 1024).await;
        let (app, db) = (&demo.app, &demo.db);
        // Ids lost to rolled-back writes leave a gap (here: the last record moved on by five ids).
        db.execute_behind_the_platform("update flow set id = id + 5 where id = (select max(id) from flow)").await;
        if backend == cityloop_store::Backend::Postgres {
            db.query_i64("select setval(pg_get_serial_sequence('flow', 'id'), (select max(id) from flow))").await;
        }
        let records = db.query_i64("select count(*) from flow").await;
        // On PostgreSQL a gap may still fill (a write that has not committed yet): sealing waits for it.
        let first = app.seal_audit().await.unwrap() as i64;
        assert!(first == records || (backend == cityloop_store::Backend::Postgres && first == records - 1), "{first}");
        // A later run (a seal is found by when it was made).
        demo.clock.advance(chrono::Duration::seconds(60));
        assert_eq!(first + app.seal_everything().await.unwrap() as i64, records, "a gap that never fills is passed");

        let root: ExportedRoot = app.audit_root(None).await.unwrap().expect("a seal");
        // Sealed in two runs, a minute apart, when the gap held the first: the earlier run's seal
        // is the last made before the later one.
        let in_two_runs = first < records;
        assert_eq!(
            app.audit_root(Some(root.sealed_at - chrono::Duration::seconds(1))).await.unwrap().map(|r| r.seal),
            in_two_runs.then_some(root.seal - 1)
        );
        assert_eq!(app.audit_root(Some(root.sealed_at)).await.unwrap().as_ref(), Some(&root));
        let clean = app.verify_audit(std::slice::from_ref(&root)).await.unwrap();
        assert!(clean.is_clean() && clean.roots_checked == 1, "{clean:?}");

        // New records are linked to the sealed ones and sealed after them.
        let number = a_case_moved_through_the_workflow(app).await;
        assert!(!number.is_empty());
        assert_eq!(app.seal_audit().await.unwrap(), 3);
        let later = app.audit_root(None).await.unwrap().unwrap();
        assert_eq!(later.seal, root.seal + 1);
        assert!(app.verify_audit(&[root.clone(), later.clone()]).await.unwrap().is_clean());

        // A seal's root rewritten: that seal no longer follows from its records, nor the next from it,
        // and the exported root differs.
        db.execute_behind_the_platform(&format!(
            "update audit_seals set root = '{}' where id = {}",
            "0".repeat(64),
            root.seal
        ))
        .await;
        let found = app.verify_audit(std::slice::from_ref(&root)).await.unwrap();
        assert_eq!(
            found.findings.iter().map(|f| (f.kind, f.seal_id)).collect::<Vec<_>>(),
            vec![
                (FindingKind::SealBroken, Some(root.seal)),
                (FindingKind::SealBroken, Some(later.seal)),
                (FindingKind::RootChanged, Some(root.seal))
            ]
        );
        db.execute_behind_the_platform(&format!(
            "update audit_seals set root = '{}' where id = {}",
            root.root, root.seal
        ))
        .await;
        assert!(app.verify_audit(&[root.clone(), later.clone()]).await.unwrap().is_clean());

        // A record slipped into the gap, a copy of another with its link.
        let moved = root.last_flow_id;
        let columns =
            "case_id, kind, from_state, to_state, actor_id, actor_name, role, unit_id, at, note, attachments, data, link";
        db.execute_behind_the_platform(&format!(
            "insert into flow (id, {columns}) select {}, {columns} from flow where id = {moved}",
            moved - 1
        ))
        .await;
        let found = app.verify_audit(&[]).await.unwrap();
        let kinds: Vec<(FindingKind, i64)> = found.findings.iter().map(|f| (f.kind, f.flow_id)).collect();
        assert!(kinds.contains(&(FindingKind::Inserted, moved)), "{:?}", found.findings);
        assert!(kinds.iter().any(|(k, _)| *k == FindingKind::Altered), "{:?}", found.findings);
    }
}

#[tokio::test]
async fn records_stored_before_links_existed_are_linked_once_when_the_database_is_opened() {
    for backend in engines() {
        let demo = demo_app(backend, 20, 1024).await;
        let db = &demo.db;
        // As the database was before the migration that brought links: records without one.
        let records = db.query_i64("select count(*) from flow").await;
        db.execute_behind_the_platform("update flow set link = null").await;
        db.execute_behind_the_platform(
            "update audit_progress set legacy_up_to = (select max(id) from flow), legacy_linked = 0",
        )
        .await;
        let unlinked = demo.app.verify_audit(&[]).await.unwrap();
        assert_eq!(unlinked.findings.len() as i64, records);
        assert!(unlinked.findings.iter().all(|f| f.kind == FindingKind::Unlinked));

        let reopened = cityloop_store::Store::open(&cityloop_store::DbOptions::new(&db.url)).await.unwrap();
        assert_eq!(db.query_i64("select count(*) from flow where link is null").await, 0);
        let app = App::new(reopened, Default::default(), demo.clock.clone()).await.unwrap();
        let report = app.verify_audit(&[]).await.unwrap();
        assert!(report.is_clean(), "{:?}", report.findings);
        // A second pass (another node at the same time, or after a pass that was killed) writes the same links.
        db.execute_behind_the_platform("update audit_progress set legacy_linked = 0").await;
        cityloop_store::Store::open(&cityloop_store::DbOptions::new(&db.url)).await.unwrap();
        let again = app.verify_audit(&[]).await.unwrap();
        assert!(again.is_clean(), "{:?}", again.findings);
        // Once: a record unlinked afterwards stays a finding, however often the database is opened.
        db.execute_behind_the_platform("update flow set link = null where id = 3").await;
        cityloop_store::Store::open(&cityloop_store::DbOptions::new(&db.url)).await.unwrap();
        let found = kinds(&app.verify_audit(&[]).await.unwrap());
        assert_eq!(
            found.iter().filter(|(k, _)| *k == FindingKind::Unlinked).collect::<Vec<_>>(),
            vec![&(FindingKind::Unlinked, 3)]
        );
    }
}
