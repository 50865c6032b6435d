//! Background jobs on both engines never act twice: two nodes running them at the same moment over one
//! database, and a node started again afterwards, mark each late case overdue once, send one notice
//! for it, and count each flow record once for the evaluation.

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::moves::MoveInput;
use cityloop_app::testing::demo_app;
use cityloop_app::{App, AppSettings};
use cityloop_store::testing::engines;
use cityloop_store::{DbOptions, Store};

/// Another node: its own connections to the same database, its own application state.
async fn another_node(url: &str, clock: std::sync::Arc<cityloop_app::clock::ManualClock>) -> App {
    let store = Store::open(&DbOptions { max_connections: 3, ..DbOptions::new(url) }).await.unwrap();
    App::new(store, AppSettings::default(), clock).await.unwrap()
}

/// The evaluation rollups, in a stable order.
async fn rollups(db: &cityloop_store::testing::TestDb) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "select count(*) from eval_counts",
        "select cast(coalesce(sum(n), 0) as bigint) from eval_counts",
        "select cast(coalesce(sum(n * (day % 97 + 1)), 0) as bigint) from eval_counts",
        "select cast(coalesce(sum(n * (subject_id % 89 + 1)), 0) as bigint) from eval_facts",
        "select count(*) from eval_facts",
    ] {
        out.push(db.query_i64(sql).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_and_a_restarted_one_never_act_twice() {
    for backend in engines() {
        let demo = demo_app(backend, 300, 1024).await;
        let (a, b) = (&demo.app, &another_node(&demo.db.url, demo.clock.clone()).await);
        // Forty fresh requests, and a month on: they and the open cases of the history are late.
        let operator = a.login("operator", DEMO_PASSWORD).await.unwrap().principal;
        let lead = a.login("lead", DEMO_PASSWORD).await.unwrap().principal;
        let dispatcher = a.login("dispatcher", DEMO_PASSWORD).await.unwrap().principal;
        for n in 0..40 {
            let grid = a.reference().grids[n].clone();
            let input = NewCase {
                channel: "hotline".into(),
                request_type: "complaint".into(),
                title: format!("垃圾未清运 {n}"),
                description: "小区垃圾桶满了没人清运".into(),
                category: Some("06005".into()),
                location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
                ..NewCase::default()
            };
            let number = a.create_case(&operator, input, None).await.unwrap().case.number;
            a.perform_move(&lead, &number, "file", MoveInput::default()).await.unwrap();
            a.perform_move(&dispatcher, &number, "dispatch", MoveInput::default()).await.unwrap();
        }
        demo.clock.advance(chrono::Duration::days(30));
        let overdue_records = "select count(*) from flow where kind = 'overdue'";
        let before = demo.db.query_i64(overdue_records).await;
        let (ra, rb) = tokio::join!(a.run_jobs_once(), b.run_jobs_once());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let marked = (ra.marked_overdue + rb.marked_overdue) as i64;
        assert!(marked >= 40, "{backend:?}: {ra:?} {rb:?}");
        let db = &demo.db;
        assert_eq!(db.query_i64(overdue_records).await - before, marked);
        let twice = "select count(*) from (select case_id from flow where kind = 'overdue' \
                     group by case_id having count(*) > 1) d";
        assert_eq!(db.query_i64(twice).await, 0, "{backend:?}: a case marked overdue twice");
        let notices = "select count(*) from (select case_id from notices group by case_id having count(*) > 1) d";
        assert_eq!(db.query_i64(notices).await, 0, "{backend:?}: a case noticed twice");

        // A node started again finds nothing left to do.
        let restarted = another_node(&db.url, demo.clock.clone()).await;
        assert_eq!(restarted.run_jobs_once().await.unwrap().marked_overdue, 0);

        // Counting for the evaluation on both nodes at once gives what one node alone gives.
        let (ca, cb) = tokio::join!(a.count_evaluation(), b.count_evaluation());
        assert!(ca.unwrap() + cb.unwrap() > 0);
        assert_eq!(restarted.count_evaluation().await.unwrap(), 0, "everything was counted once already");
        let counted_together = rollups(db).await;
        for reset in ["delete from eval_counts", "delete from eval_facts", "update eval_progress set flow_cursor = 0"] {
            db.execute_behind_the_platform(reset).await;
        }
        restarted.count_evaluation().await.unwrap();
        assert_eq!(rollups(db).await, counted_together, "{backend:?}: two counters counted something twice");
    }
}
