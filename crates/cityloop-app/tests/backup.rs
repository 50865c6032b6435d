//! Backups on both engines: taken while cases keep coming in, they restore into an empty database of
//! either engine whole (every table, every row) and consistent (each case with all its records, the
//! tamper-evidence chains intact), and the restored city goes on working.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::testing::demo_app;
use cityloop_app::{App, AppSettings};
use cityloop_store::testing::{engines, fresh};

fn hotline_case(app: &App, n: usize) -> NewCase {
    let grid = app.reference().grids[n % 100].clone();
    NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: format!("路灯不亮 {n}"),
        description: "小区门口路灯坏了好几天".into(),
        category: Some("11001".into()),
        location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
        ..NewCase::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_intake_restores_into_either_engine_whole_and_consistent() {
    for source in engines() {
        let demo = demo_app(source, 60, 1024).await;
        let operator = demo.app.login("operator", DEMO_PASSWORD).await.unwrap().principal;

        // Intake goes on while the backup is taken.
        let (stop, created) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let writer = {
            let (app, stop, created) = (demo.app.clone(), stop.clone(), created.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = created.load(Ordering::SeqCst);
                    app.create_case(&operator, hotline_case(&app, n), None).await.unwrap();
                    created.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        while created.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("city.backup");
        let backup = demo.db.store.backup_to(&file).await.unwrap();
        stop.store(true, Ordering::SeqCst);
        writer.await.unwrap();
        let cases_in_backup = backup.tables.iter().find(|t| t.table == "cases").unwrap().rows as i64;
        assert!(cases_in_backup >= 61, "{backup:?}");
        let cases_now = demo.db.query_i64("select count(*) from cases").await;
        assert!(cases_now >= cases_in_backup, "{source:?}: {cases_now} now, {cases_in_backup} in the backup");
        let refused = demo.db.store.backup_to(&file).await.unwrap_err();
        assert!(refused.to_string().contains("never overwrites"), "{refused}");

        for target in engines() {
            let db = fresh(target).await;
            let restored = db.store.restore_from(&file).await.unwrap();
            assert_eq!(restored, backup, "{source:?} → {target:?}: every table, every row");
            assert_eq!(db.query_i64("select count(*) from cases").await, cases_in_backup);
            let orphans = "select count(*) from cases c where not exists (select 1 from flow f where f.case_id = c.id)";
            assert_eq!(db.query_i64(orphans).await, 0, "each case with its records");

            let app = App::new(db.store.clone(), AppSettings::default(), demo.clock.clone()).await.unwrap();
            let audit = app.verify_audit(&[]).await.unwrap();
            assert!(audit.is_clean(), "{source:?} → {target:?}: {:?}", audit.findings);
            assert_eq!(audit.cases as i64, cases_in_backup);
            // The restored city goes on: its people sign in and new cases get fresh ids and numbers.
            let operator = app.login("operator", DEMO_PASSWORD).await.unwrap().principal;
            let highest = db.query_i64("select max(id) from cases").await;
            let next = app.create_case(&operator, hotline_case(&app, 1_000), None).await.unwrap().case;
            assert!(next.id.0 > highest, "{} after {highest}", next.id.0);
            assert_eq!(db.query_i64("select count(*) from cases").await, cases_in_backup + 1);
            assert!(app.verify_audit(&[]).await.unwrap().is_clean());

            // A database that already holds a city is never overwritten.
            let refused = db.store.restore_from(&file).await.unwrap_err();
            assert!(refused.to_string().contains("restore into a new, empty database"), "{refused}");
            assert_eq!(db.query_i64("select count(*) from cases").await, cases_in_backup + 1);
        }
    }
}
