//! Evaluation over real moves: the 12345 三率 and 综合成绩 per unit, the people's indicators, the
//! ranking against the period before, the cases behind a number, the files, and who may see what.

use chrono::Duration;
use cityloop_store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::{on_every_engine, on_every_engine_with};

/// Takes a dispatched complaint through handling to a revisit with the given outcome and closes it.
async fn handled_and_revisited(t: &TestApp, category: &str, outcome: Value) -> Value {
    let (id, dispatched) = t.dispatched_complaint(category, "垃圾满溢", "小区门口垃圾桶满了没人清运").await;
    let handler = t.login(&t.handler_of(&dispatched)).await;
    t.must(&handler, id, "sign", json!({})).await;
    t.must(&handler, id, "submit", json!({"result": "已清运并消毒"})).await;
    t.must(&t.login("operator").await, id, "revisit", outcome).await;
    t.must(&t.login("lead").await, id, "close", json!({})).await
}

/// November's evaluation file in `format`, as `token` downloads it.
async fn november_file(t: &TestApp, token: &str, format: &str) -> reqwest::Response {
    let url = t.url(&format!("/api/v1/evaluation/export?period=2026-11&format={format}"));
    t.client.get(url).bearer_auth(token).send().await.unwrap()
}

fn ranking<'a>(report: &'a Value, indicator: &str) -> &'a Vec<Value> {
    let tables = report["indicators"].as_array().unwrap();
    tables.iter().find(|i| i["indicator"] == indicator).unwrap_or_else(|| panic!("no {indicator} in {report}"))["rows"]
        .as_array()
        .unwrap()
}

fn row<'a>(rows: &'a [Value], subject: &Value) -> &'a Value {
    rows.iter().find(|r| r["subject_id"] == *subject).unwrap_or_else(|| panic!("no line for {subject}"))
}

#[tokio::test]
async fn units_are_ranked_by_the_hotline_formula_and_every_number_opens_to_its_cases() {
    on_every_engine(|t| async move {
        let good =
            handled_and_revisited(&t, "06005", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
                .await;
        let partly = handled_and_revisited(
            &t,
            "06005",
            json!({"contacted": true, "solved": false, "satisfaction": "basically_satisfied"}),
        )
        .await;
        let poor = handled_and_revisited(
            &t,
            "10005",
            json!({"contacted": false, "solved": false, "satisfaction": "unsatisfied"}),
        )
        .await;
        let (unit, other) = (good["unit"].clone(), poor["unit"].clone());
        assert_eq!(partly["unit"], unit);
        assert_ne!(unit, other, "the two categories go to different units");

        let leader = t.login("leader").await;
        let report = t.get(Some(&leader), "/api/v1/evaluation").await.ok();
        assert_eq!((report["period"].as_str(), report["from"].as_str()), (Some("2026-11"), Some("2026-11-01")));
        let hotline = ranking(&report, "hotline");
        let first = row(hotline, &unit);
        assert_eq!(
            first["counts"],
            json!({"revisits": 2, "contacted": 2, "solved": 1, "satisfied": 1, "basically_satisfied": 1})
        );
        // 10 × 1 + 50 × 0.5 + 40 × (1 + 0.9 × 1) / 2
        assert_eq!(
            (first["total"].as_f64(), first["grade"].as_str(), first["rank"].as_u64()),
            (Some(73.0), Some("C"), Some(1))
        );
        let last = row(hotline, &other);
        assert_eq!(
            (last["total"].as_f64(), last["grade"].as_str(), last["rank"].as_u64()),
            (Some(0.0), Some("E"), Some(2))
        );
        let department = row(ranking(&report, "department"), &unit);
        assert_eq!(department["counts"], json!({"received": 2, "handled": 2, "handled_on_time": 2}));
        let leads = ranking(&report, "lead");
        assert_eq!(leads.len(), 1);
        assert_eq!((leads[0]["counts"]["filed"].as_i64(), leads[0]["counts"]["closes"].as_i64()), (Some(3), Some(3)));
        assert_eq!(ranking(&report, "operator")[0]["counts"]["revisits_made"], 3);

        // Reading again counts nothing twice.
        let again = t.get(Some(&leader), "/api/v1/evaluation?period=2026-11").await.ok();
        assert_eq!(row(ranking(&again, "hotline"), &unit)["counts"], first["counts"]);

        // The cases behind 解决率: the revisits and which of them were solved.
        let path = format!("/api/v1/evaluation/cases?period=2026-11&indicator=hotline&subject={unit}&metric=solved");
        let solved = t.get(Some(&leader), &path).await.ok();
        assert_eq!(solved["total"], 1);
        assert_eq!(solved["cases"][0]["number"], good["number"]);
        let path = format!("/api/v1/evaluation/cases?period=2026-11&indicator=hotline&subject={unit}&metric=revisits");
        let revisited: Vec<Value> = t.get(Some(&leader), &path).await.ok()["cases"].as_array().unwrap().clone();
        let mut numbers: Vec<&str> = revisited.iter().map(|c| c["number"].as_str().unwrap()).collect();
        numbers.sort();
        let mut expected = vec![good["number"].as_str().unwrap(), partly["number"].as_str().unwrap()];
        expected.sort();
        assert_eq!(numbers, expected);

        // Next month: the unit does well, and the change against November shows.
        t.clock.advance(Duration::days(32));
        handled_and_revisited(&t, "06005", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
            .await;
        let leader = t.login("leader").await;
        let december = t.get(Some(&leader), "/api/v1/evaluation").await.ok();
        assert_eq!(
            (december["period"].as_str(), december["previous_period"].as_str()),
            (Some("2026-12"), Some("2026-11"))
        );
        let now = row(ranking(&december, "hotline"), &unit);
        assert_eq!(
            (
                now["total"].as_f64(),
                now["previous_total"].as_f64(),
                now["change"].as_f64(),
                now["previous_rank"].as_u64()
            ),
            (Some(100.0), Some(73.0), Some(27.0), Some(1))
        );

        // Files.
        let csv = november_file(&t, &leader, "csv").await;
        assert_eq!(csv.status(), StatusCode::OK);
        assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("evaluation-2026-11.csv"));
        let text = csv.text().await.unwrap();
        assert!(text.contains("综合成绩") && text.contains("73.00"), "{text}");
        let xlsx = november_file(&t, &leader, "xlsx").await;
        assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
    })
    .await;
}

#[tokio::test]
async fn a_unit_with_fewer_revisits_than_the_citys_minimum_is_listed_last_without_a_rank() {
    let at_least_two = |s: &mut cityloop_app::AppSettings| {
        s.evaluation.min_to_rank.insert(cityloop_domain::evaluation::Indicator::Hotline, 2);
    };
    on_every_engine_with(at_least_two, |t| async move {
        let partly = json!({"contacted": true, "solved": false, "satisfaction": "basically_satisfied"});
        let busy = handled_and_revisited(&t, "06005", partly.clone()).await["unit"].clone();
        handled_and_revisited(&t, "06005", partly).await;
        let perfect = json!({"contacted": true, "solved": true, "satisfaction": "satisfied"});
        let quiet = handled_and_revisited(&t, "10005", perfect).await["unit"].clone();
        assert_ne!(busy, quiet, "the two categories go to different units");

        let leader = t.login("leader").await;
        let report = t.get(Some(&leader), "/api/v1/evaluation?period=2026-11").await.ok();
        let table = report["indicators"].as_array().unwrap().iter().find(|i| i["indicator"] == "hotline").unwrap();
        assert_eq!(table["min_to_rank"], 2);
        // One perfect revisit scores 100 against 46 (10 + 0 + 40 × 0.9), and still comes after two.
        let lines: Vec<(Value, Value, Value)> = ranking(&report, "hotline")
            .iter()
            .map(|r| (r["subject_id"].clone(), r["rank"].clone(), r["total"].clone()))
            .collect();
        assert_eq!(lines, [(busy.clone(), json!(1), json!(46.0)), (quiet.clone(), Value::Null, json!(100.0))]);
        // Departments have no minimum here: the quiet unit ranks among them.
        assert!(ranking(&report, "department").iter().all(|r| r["rank"].is_u64()));

        let csv = november_file(&t, &leader, "csv").await.text().await.unwrap();
        let quiet_line = csv
            .lines()
            .find(|l| l.starts_with("12345") && l.contains(&format!(",{quiet},")))
            .unwrap_or_else(|| panic!("{csv}"));
        assert!(quiet_line.contains(",未排名,"), "{quiet_line}");
    })
    .await;
}

#[tokio::test]
async fn a_unit_sees_its_own_lines_and_bad_questions_get_field_errors() {
    on_every_engine(|t| async move {
        let mine =
            handled_and_revisited(&t, "06005", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
                .await;
        let theirs =
            handled_and_revisited(&t, "10005", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
                .await;
        let handler = t.login(&t.handler_of(&mine)).await;
        let report = t.get(Some(&handler), "/api/v1/evaluation").await.ok();
        let tables: Vec<&str> =
            report["indicators"].as_array().unwrap().iter().map(|i| i["indicator"].as_str().unwrap()).collect();
        assert_eq!(tables, ["hotline", "department"]);
        let hotline = ranking(&report, "hotline");
        assert_eq!(hotline.len(), 1);
        assert_eq!(hotline[0]["subject_id"], mine["unit"]);
        let other = t
            .get(Some(&handler), &format!("/api/v1/evaluation/cases?indicator=hotline&subject={}", theirs["unit"]))
            .await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let own = t
            .get(Some(&handler), &format!("/api/v1/evaluation/cases?indicator=hotline&subject={}", mine["unit"]))
            .await;
        assert_eq!(own.ok()["total"], 4, "one case counted as revisited, contacted, solved and satisfied");
        // The trend of the 三率 on the leader screen is the unit's own for its people: one revisit, not two.
        let who = t.app.authenticate(&handler).await.unwrap();
        let trend = t.app.hotline_trend(&who, 2).await.unwrap();
        assert_eq!(trend.iter().map(|p| p.revisits).sum::<i64>(), 1);
        let city = t.app.hotline_trend(&t.app.authenticate(&t.login("leader").await).await.unwrap(), 2).await.unwrap();
        assert_eq!(city.iter().map(|p| p.revisits).sum::<i64>(), 2);

        let operator = t.login("operator").await;
        assert_eq!(t.get(Some(&operator), "/api/v1/evaluation").await.status, StatusCode::FORBIDDEN);
        assert_eq!(t.get(None, "/api/v1/evaluation").await.status, StatusCode::UNAUTHORIZED);
        let leader = t.login("leader").await;
        for (query, field) in [
            ("/api/v1/evaluation?period=2026-13", "period"),
            ("/api/v1/evaluation?period=11-2026", "period"),
            ("/api/v1/evaluation/export?format=pdf", "format"),
            ("/api/v1/evaluation/cases?indicator=mayor&subject=1", "indicator"),
            ("/api/v1/evaluation/cases?indicator=hotline&subject=1&metric=filed", "metric"),
            ("/api/v1/evaluation/cases?indicator=hotline&subject=1&page_size=0", "page_size"),
            ("/api/v1/evaluation/cases?indicator=hotline&subject=1&page=9223372036854775807&page_size=500", "page"),
            ("/api/v1/evaluation/cases?indicator=hotline&subject=1&page=0", "page"),
        ] {
            let a = t.get(Some(&leader), query).await;
            assert_eq!(
                (a.status, a.body["error"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
                "{query}: {}",
                a.body
            );
        }
        // A unit or a user the city does not know has no cases to show, rather than an empty list.
        for query in ["indicator=hotline&subject=99999", "indicator=inspector&subject=99999"] {
            let a = t.get(Some(&leader), &format!("/api/v1/evaluation/cases?{query}")).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{query}: {}", a.body);
        }
    })
    .await;
}

/// On PostgreSQL a move that took a lower flow id can commit after one that took a higher id. The
/// counter waits for it however long it takes, and passes an id that never fills once every write that
/// could have held it has ended.
/// (SQLite writers take turns, so there a visible id means every lower one is visible.)
#[tokio::test]
async fn the_counter_never_passes_a_flow_record_that_is_still_being_written() {
    use sqlx::Connection;
    if !cityloop_store::testing::engines().contains(&Backend::Postgres) {
        return;
    }
    let t = spawn_app(Backend::Postgres).await;
    let (id, _) = t.dispatched_complaint("06005", "垃圾满溢", "小区门口垃圾桶满了没人清运").await;
    t.app.count_evaluation().await.unwrap();
    let counted = t.app.store.evaluation_cursor().await.unwrap();

    let handler =
        t.login(&t.handler_of(&t.get(Some(&t.login("admin").await), &format!("/api/v1/cases/{id}")).await.ok())).await;
    // Two writers: the one that began first will take the higher flow id and commit first, so the
    // slow one, holding the lower id, holds the newer transaction (above the snapshot's upper bound
    // while the first is the last to have ended).
    let mut first = sqlx::PgConnection::connect(t.database_url()).await.unwrap();
    let mut quick = first.begin().await.unwrap();
    sqlx::query("select pg_current_xact_id()").execute(&mut *quick).await.unwrap();
    let mut slow = sqlx::PgConnection::connect(t.database_url()).await.unwrap();
    let mut held = slow.begin().await.unwrap();
    sqlx::query("select pg_current_xact_id()").execute(&mut *held).await.unwrap();
    let copy = "insert into flow (case_id, kind, to_state, actor_name, at) \
                select case_id, 'comment', to_state, actor_name, at from flow where id = $1 returning id";
    let held_id: i64 = sqlx::query_scalar(copy).bind(counted).fetch_one(&mut *held).await.unwrap();
    assert_eq!(held_id, counted + 1);
    let quick_id: i64 = sqlx::query_scalar(copy).bind(counted).fetch_one(&mut *quick).await.unwrap();
    quick.commit().await.unwrap();
    // However old it gets, the counter stops before the held id, even with nothing committed since.
    for _ in 0..3 {
        t.clock.advance(Duration::hours(1));
        t.app.count_evaluation().await.unwrap();
        assert_eq!(t.app.store.evaluation_cursor().await.unwrap(), counted, "the cursor waits at the open id");
    }
    held.commit().await.unwrap();
    t.must(&handler, id, "sign", json!({})).await;
    t.app.count_evaluation().await.unwrap();
    let after_commit = t.app.store.evaluation_cursor().await.unwrap();
    assert!(after_commit > quick_id, "all of them counted once the slow one commits");

    // An id taken and never used (a rolled-back insert) holds the counter only until the writes that
    // were running when it was found have ended.
    let lost: i64 =
        sqlx::query_scalar("select nextval(pg_get_serial_sequence('flow', 'id'))").fetch_one(&mut slow).await.unwrap();
    t.must(&handler, id, "submit", json!({"result": "已清运"})).await;
    t.app.count_evaluation().await.unwrap();
    assert_eq!(t.app.store.evaluation_cursor().await.unwrap(), lost - 1);
    t.app.count_everything().await.unwrap();
    assert_eq!(t.app.store.evaluation_cursor().await.unwrap(), lost + 1, "the submit is counted after the wait");
}

#[tokio::test]
async fn a_case_is_missed_by_the_grids_inspectors_only_in_categories_they_patrol_for() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let categories = t.get(Some(&admin), "/api/v1/categories").await.ok();
        let category = |code: &str| categories.as_array().unwrap().iter().find(|c| c["code"] == code).unwrap().clone();
        let marks = |c: Value| (c["patrolled"].as_bool(), c["own_patrolled"].as_bool());
        // City management is marked at its first level, and the categories below follow; public
        // services (31) come from residents only.
        assert_eq!(marks(category("06")), (Some(true), Some(true)));
        assert_eq!(marks(category("06010")), (Some(true), Some(false)));
        assert_eq!(marks(category("31002")), (Some(false), Some(false)));

        let users = t.get(Some(&admin), "/api/v1/users").await.ok();
        let inspector = users.as_array().unwrap().iter().find(|u| u["username"] == "inspector1").unwrap()["id"].clone();
        let leader = t.login("leader").await;
        let missed = || async {
            let path = format!("/api/v1/evaluation/cases?indicator=inspector&subject={inspector}&metric=missed");
            let listed = t.get(Some(&leader), &path).await.ok();
            let numbers: Vec<String> =
                listed["cases"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap().to_string()).collect();
            numbers
        };

        // Both taken in on the hotline in inspector1's grid and filed.
        let (_, garbage) = t.dispatched_complaint("06010", "暴露垃圾", "路边垃圾堆了好几天没人清").await;
        let (_, noise) = t.dispatched_complaint("31002", "噪音扰民", "楼下饭店油烟机噪音太大").await;
        assert_eq!(missed().await, [garbage["number"].as_str().unwrap()]);

        // Marking public services for patrol counts their cases filed from then on.
        let marked = t.put(&admin, "/api/v1/categories/31", json!({"name": "民生服务", "patrolled": true})).await.ok();
        assert_eq!(marks(marked), (Some(true), Some(true)));
        let renamed = t.put(&admin, "/api/v1/categories/31", json!({"name": "民生服务类"})).await.ok();
        assert_eq!(renamed["own_patrolled"], true, "left out, the mark stays");
        let (_, later) = t.dispatched_complaint("31002", "噪音扰民", "装修噪音从早到晚").await;
        let mut expected = vec![garbage["number"].as_str().unwrap(), later["number"].as_str().unwrap()];
        expected.sort();
        let mut now = missed().await;
        now.sort();
        assert_eq!(now, expected, "{} was filed before the mark", noise["number"]);
    })
    .await;
}
