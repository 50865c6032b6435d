//! The leader screen on both engines: its intake and closings come from the counter's rollups, filled
//! once from the cases already counted and kept up by each count after that, and agree with what
//! the cases hold.

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::moves::MoveInput;
use cityloop_app::overview::Overview;
use cityloop_app::scope::Principal;
use cityloop_app::testing::{demo_app, DemoApp};
use cityloop_app::App;
use cityloop_store::testing::engines;

async fn principal(app: &App, username: &str) -> Principal {
    app.login(username, DEMO_PASSWORD).await.unwrap_or_else(|e| panic!("login {username}: {e}")).principal
}

/// Local midnight (+08:00) `days_ago` days before the demo's Monday, in ms.
fn midnight_ms(demo: &DemoApp, days_ago: i64) -> i64 {
    let today = demo.app.reference().calendar.local_date(demo.app.now());
    let day = today - chrono::Duration::days(days_ago);
    (day.and_hms_opt(0, 0, 0).unwrap() - chrono::Duration::hours(8)).and_utc().timestamp_millis()
}

/// What the cases themselves say about the screen's figures.
async fn truth(demo: &DemoApp) -> (i64, i64, Vec<i64>) {
    let open_states = cityloop_store::dashboard::OPEN_STATES;
    let open = demo.db.query_i64(&format!("select count(*) from cases where state in {open_states}")).await;
    let today =
        demo.db.query_i64(&format!("select count(*) from cases where created_at >= {}", midnight_ms(demo, 0))).await;
    let mut daily = Vec::new();
    for days_ago in (0..cityloop_app::overview::DAILY_DAYS as i64).rev() {
        let (from, to) = (midnight_ms(demo, days_ago), midnight_ms(demo, days_ago - 1));
        daily.push(
            demo.db
                .query_i64(&format!("select count(*) from cases where created_at >= {from} and created_at < {to}"))
                .await,
        );
    }
    (open, today, daily)
}

fn shown(overview: &Overview) -> (i64, i64, Vec<i64>) {
    let mut daily = vec![0; overview.days.len()];
    for (_, counts) in &overview.daily_by_category {
        for (sum, n) in daily.iter_mut().zip(counts) {
            *sum += n;
        }
    }
    (overview.open_total, overview.today_total, daily)
}

/// Closings the rollups hold for one unit, or for all.
async fn closings(demo: &DemoApp, unit: Option<i64>) -> i64 {
    let of_unit = unit.map_or(String::new(), |u| format!(" where unit_id = {u}"));
    demo.db.query_i64(&format!("select cast(coalesce(sum(n), 0) as bigint) from closing_counts{of_unit}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_screen_counts_from_rollups_what_the_cases_hold() {
    for backend in engines() {
        let demo = demo_app(backend, 300, 1024).await;
        let app = &demo.app;
        // The history is counted first: the rollups are filled from the cases once the counter has
        // caught up, and the screen agrees with the cases.
        app.count_evaluation().await.unwrap();
        let before = app.compute_overview().await.unwrap();
        let expected = truth(&demo).await;
        assert!(expected.2.iter().sum::<i64>() > 0, "the demo has recent history: {expected:?}");
        assert_eq!(shown(&before), expected, "open, today and daily intake on {backend:?}");
        let closed_before = closings(&demo, None).await;
        let closed_in_history = demo
            .db
            .query_i64(
                "select count(*) from flow f join cases c on c.id = f.case_id \
                 where f.kind = 'close' and c.unit_id is not null",
            )
            .await;
        assert!(closed_before > 0 && closed_before == closed_in_history, "{closed_before} / {closed_in_history}");

        // Then new requests: four today, one of them handled and closed.
        let operator = principal(app, "operator").await;
        let lead = principal(app, "lead").await;
        let dispatcher = principal(app, "dispatcher").await;
        let mut numbers = Vec::new();
        for n in 0..4 {
            let grid = app.reference().grids[n].clone();
            let input = NewCase {
                channel: "hotline".into(),
                request_type: "complaint".into(),
                title: format!("路灯不亮 {n}"),
                description: "小区门口路灯坏了".into(),
                category: Some("06005".into()),
                location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
                ..NewCase::default()
            };
            numbers.push(app.create_case(&operator, input, None).await.unwrap().case.number);
        }
        let number = &numbers[0];
        app.perform_move(&lead, number, "file", MoveInput::default()).await.unwrap();
        let dispatched = app.perform_move(&dispatcher, number, "dispatch", MoveInput::default()).await.unwrap();
        let unit = app.reference().unit(dispatched.case.unit_id.unwrap()).unwrap().clone();
        let unit_closed_before = closings(&demo, Some(unit.id.0)).await;
        let handler = principal(app, &format!("h-{}", unit.code)).await;
        demo.clock.advance(chrono::Duration::hours(2));
        app.perform_move(&handler, number, "sign", MoveInput::default()).await.unwrap();
        let submit = MoveInput { result: Some("已更换灯泡".into()), ..MoveInput::default() };
        app.perform_move(&handler, number, "submit", submit).await.unwrap();
        let revisit = MoveInput {
            contacted: Some(true),
            solved: Some(true),
            satisfaction: Some("satisfied".into()),
            ..MoveInput::default()
        };
        app.perform_move(&operator, number, "revisit", revisit).await.unwrap();
        app.perform_move(&lead, number, "close", MoveInput::default()).await.unwrap();

        app.count_evaluation().await.unwrap();
        let after = app.compute_overview().await.unwrap();
        assert_eq!(shown(&after), truth(&demo).await, "kept up by the count on {backend:?}");
        assert_eq!(after.today_total, before.today_total + 4);
        assert_eq!(after.open_total, before.open_total + 3);
        assert_eq!(closings(&demo, Some(unit.id.0)).await, unit_closed_before + 1, "the closing counts for its unit");
        assert_eq!(closings(&demo, None).await, closed_before + 1);

        // Counting again adds nothing.
        app.count_evaluation().await.unwrap();
        assert_eq!(shown(&app.compute_overview().await.unwrap()), shown(&after));
    }
}
