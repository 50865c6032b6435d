//! Risk signals from real intake: a concentration in a grid, a problem new to the street, a watch
//! word, what a scan finds again, and who may see them.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_every_engine;

fn of_kind<'a>(signals: &'a Value, kind: &str) -> Vec<&'a Value> {
    signals.as_array().unwrap().iter().filter(|s| s["kind"] == kind).collect()
}

#[tokio::test]
async fn cases_piling_up_in_a_grid_and_a_watch_word_raise_signals_with_their_cases() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        let mut numbers = Vec::new();
        for i in 0..5 {
            let case = t
                .create(&operator, json!({"channel": "hotline", "request_type": "complaint", "title": format!("垃圾满溢{i}"),
                    "description": "小区垃圾桶满了没人清运", "category": "06005", "location": {"lat": lat, "lon": lon}}))
                .await;
            numbers.push(case["number"].as_str().unwrap().to_string());
            t.clock.advance(Duration::minutes(30));
        }
        let warned = t
            .create(&operator, json!({"channel": "hotline", "request_type": "help", "title": "讨要工资",
                "description": "工地老板拖欠工资半年，工友们说要去围堵项目部", "category": "06005"}))
            .await;

        let leader = t.login("leader").await;
        // The watch word needs no scan: it is raised when the case is counted.
        let before_scan = t.get(Some(&leader), "/api/v1/signals").await.ok();
        let words = of_kind(&before_scan, "watch_word");
        assert_eq!(words.len(), 1, "{before_scan}");
        assert_eq!(words[0]["word"], "围堵、拖欠工资");
        assert!(words[0]["explanation_en"].as_str().unwrap().contains("watch words 围堵, 拖欠工资"), "{before_scan}");
        let id = words[0]["id"].as_i64().unwrap();
        let one = t.get(Some(&leader), &format!("/api/v1/signals/{id}")).await.ok();
        assert_eq!(one["cases"][0]["number"], warned["number"]);

        let scan = t.post(Some(&leader), "/api/v1/signals/scan", json!({})).await.ok();
        assert!(scan["raised"].as_u64().unwrap() >= 2, "{scan}");
        let signals = t.get(Some(&leader), "/api/v1/signals?kind=concentrated").await.ok();
        let grid = signals.as_array().unwrap().iter().find(|s| s["place"].as_str().is_some_and(|p| p.starts_with("网格"))).expect("a grid signal");
        // Five where a grid has under one on average: five times the (at least one) average, threshold 3×.
        let score = (grid["score"].as_f64().unwrap() * 100.0).round() / 100.0;
        assert_eq!((grid["case_count"].as_i64(), score), (Some(5), 66.67), "{grid}");
        // Written in English as well, for the English interface; the numbers are the same.
        assert!(grid["title_en"].as_str().unwrap().starts_with("Grid "), "{grid}");
        let english = grid["explanation_en"].as_str().unwrap();
        assert!(english.contains(": 5 cases of “") && english.contains("per grid"), "{grid}");
        let hex = signals.as_array().unwrap().iter().find(|s| s["place"].as_str().is_some_and(|p| p.starts_with("六边形"))).expect("a hex cell signal");
        // Density clustering finds the same five wherever grid and cell borders lie.
        let spot = signals.as_array().unwrap().iter().find(|s| s["place"].as_str().is_some_and(|p| p.starts_with("密集点"))).expect("a density cluster");
        let clustered = t.get(Some(&leader), &format!("/api/v1/signals/{}", spot["id"])).await.ok();
        assert_eq!((spot["case_count"].as_i64(), clustered["cases"].as_array().unwrap().len()), (Some(5), 5), "{spot}");
        // The five say the same thing: one hot problem, whoever reads it sees its words and cases.
        let hot = signals.as_array().unwrap().iter().find(|s| s["title"].as_str().unwrap().starts_with("热点问题")).expect("a hot problem");
        assert_eq!((hot["case_count"].as_i64(), hot["place"].clone()), (Some(5), Value::Null), "{hot}");
        assert!(hot["title"].as_str().unwrap().contains("垃圾"), "{hot}");
        assert!(hot["title_en"].as_str().unwrap().starts_with("Hot problem · "), "{hot}");
        let in_cell = t.get(Some(&leader), &format!("/api/v1/signals/{}", hex["id"])).await.ok();
        assert_eq!(in_cell["cases"].as_array().unwrap().len(), 5, "the five cases share one H3 cell: {in_cell}");
        let detail = t.get(Some(&leader), &format!("/api/v1/signals/{}", grid["id"])).await.ok();
        let behind: Vec<&str> = detail["cases"].as_array().unwrap().iter().map(|c| c["number"].as_str().unwrap()).collect();
        for n in &numbers {
            assert!(behind.contains(&n.as_str()), "{n} is behind the signal");
        }
        let emerging = t.get(Some(&leader), "/api/v1/signals?kind=emerging").await.ok();
        assert!(!emerging.as_array().unwrap().is_empty(), "垃圾 is new to the street: {emerging}");

        // A second scan finds the same signals again and raises nothing new, the next day too: a
        // concentration that goes on is one signal, whose window moves on.
        let again = t.post(Some(&leader), "/api/v1/signals/scan", json!({})).await.ok();
        assert_eq!(again["raised"], 0);
        t.clock.advance(Duration::days(1));
        let (leader, operator) = (t.login("leader").await, t.login("operator").await);
        let next_day = t.post(Some(&leader), "/api/v1/signals/scan", json!({})).await.ok();
        assert_eq!(next_day["raised"], 0, "{next_day}");
        let moved = t.get(Some(&leader), &format!("/api/v1/signals/{}", grid["id"])).await.ok();
        assert_eq!((moved["from"].clone(), moved["case_count"].as_i64()), (grid["from"].clone(), Some(5)));
        assert_ne!(moved["to"], grid["to"], "the window reaches the new day");
        assert_eq!(moved["actions"], json!(["topic", "dismissed"]), "what a leader may do with it");

        // Acting on a signal.
        let path = format!("/api/v1/signals/{}/state", grid["id"]);
        assert_eq!(t.post(Some(&leader), &path, json!({"state": "task"})).await.status, StatusCode::FORBIDDEN);
        let dispatcher = t.login("dispatcher").await;
        let marked = t.post(Some(&dispatcher), &path, json!({"state": "task"})).await.ok();
        assert_eq!((marked["state"].as_str(), marked["supervised"].as_u64()), (Some("task"), Some(5)));
        let supervised = t.get(Some(&leader), &format!("/api/v1/cases/{}", numbers[0])).await.ok();
        assert_eq!(supervised["supervision_level"], 2, "{supervised}");
        let twice = t.post(Some(&dispatcher), &path, json!({"state": "task"})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "a task is opened once: {}", twice.body);
        let reopened = t.post(Some(&dispatcher), &path, json!({"state": "open"})).await;
        assert_eq!(reopened.status, StatusCode::CONFLICT, "a task stays a task: {}", reopened.body);
        let by_dispatcher = t.post(Some(&dispatcher), &path, json!({"state": "topic"})).await;
        assert_eq!(by_dispatcher.status, StatusCode::FORBIDDEN, "topics are a leader's decision");
        // One click takes an emerging problem up as the month's topic.
        let emerging_id = emerging[0]["id"].as_i64().unwrap();
        let topic = t.post(Some(&leader), &format!("/api/v1/signals/{emerging_id}/state"), json!({"state": "topic"})).await.ok();
        assert_eq!(topic["state"], "topic");
        let topics = t.get(Some(&leader), "/api/v1/topics").await.ok();
        assert_eq!((topics[0]["signal_id"].as_i64(), topics[0]["category_code"].as_str()), (Some(emerging_id), Some("06005")));
        let tasks = t.get(Some(&leader), "/api/v1/signals?state=task").await.ok();
        assert_eq!(tasks.as_array().unwrap().len(), 1);

        assert_eq!(t.get(Some(&operator), "/api/v1/signals").await.status, StatusCode::FORBIDDEN);
        let bad = t.get(Some(&leader), "/api/v1/signals?kind=panic").await;
        assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")));
        let bad = t.post(Some(&leader), &format!("/api/v1/signals/{id}/state"), json!({"state": "solved"})).await;
        assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("state")));
        assert_eq!(t.get(Some(&leader), "/api/v1/signals/999999").await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

/// Cases of one category in one place, week after week (the clock ends in the last week).
async fn weeks_of_cases(t: &TestApp, lat: f64, lon: f64, categories: &[&str], per_week: [usize; 9]) {
    for (week, n) in per_week.iter().enumerate() {
        if week > 0 {
            t.clock.advance(Duration::days(7));
        }
        let operator = t.login("operator").await;
        for category in categories {
            for i in 0..*n {
                let body = json!({"channel": "hotline", "request_type": "complaint", "title": format!("第{week}周{i}"),
                    "description": "请处理", "category": category, "location": {"lat": lat, "lon": lon}});
                t.create(&operator, body).await;
            }
        }
    }
}

/// A rise that the same weeks a year earlier show as well is the season, not a risk.
#[tokio::test]
async fn a_rise_the_season_brings_every_year_raises_no_signal() {
    on_every_engine(|t| async move {
        let (_, lat, lon) = t.first_grid(&t.login("operator").await).await;
        // A year ago: 5 a week, then three times as many.
        weeks_of_cases(&t, lat, lon, &["06005"], [5, 5, 5, 5, 5, 5, 5, 5, 15]).await;
        t.clock.advance(Duration::days(364 - 56));
        // This year: 2 a week, then 12, for that category and for one without a year of history.
        // Alone it would be a rise of seven standard deviations.
        weeks_of_cases(&t, lat, lon, &["06005", "10005"], [2, 2, 2, 2, 2, 2, 2, 2, 12]).await;
        t.clock.advance(Duration::days(6));
        let leader = t.login("leader").await;
        t.post(Some(&leader), "/api/v1/signals/scan", json!({})).await.ok();
        let rising = t.get(Some(&leader), "/api/v1/signals?kind=rising").await.ok();
        let categories: Vec<&str> =
            rising.as_array().unwrap().iter().map(|s| s["category"].as_str().unwrap()).collect();
        assert_eq!(categories, ["井盖缺失"], "the season explains the one that rose last year too: {rising}");
    })
    .await;
}

/// Five cases saying the same thing, on the day the clock shows.
async fn five_alike(t: &TestApp, day: i64) {
    let operator = t.login("operator").await;
    for i in 0..5 {
        let body = json!({"channel": "hotline", "request_type": "complaint",
            "title": format!("滨河苑小区门口夜市油烟扰民{day}{i}"), "description": "滨河苑门口夜市烧烤油烟太大，晚上没法开窗"});
        t.create(&operator, body).await;
    }
}

/// Scans, and gives the hot problems as (id, cases).
async fn hot_problems(t: &TestApp) -> Vec<(i64, i64)> {
    let leader = t.login("leader").await;
    t.post(Some(&leader), "/api/v1/signals/scan", json!({})).await.ok();
    let all = t.get(Some(&leader), "/api/v1/signals?kind=concentrated").await.ok();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["title"].as_str().unwrap().starts_with("热点问题"))
        .map(|s| (s["id"].as_i64().unwrap(), s["case_count"].as_i64().unwrap()))
        .collect()
}

/// A hot problem that goes on while its first cases leave the window is still one signal.
#[tokio::test]
async fn a_hot_problem_stays_one_signal_as_its_window_moves_on() {
    on_every_engine(|t| async move {
        five_alike(&t, 0).await;
        let first = hot_problems(&t).await;
        assert_eq!(first.len(), 1, "{first:?}");
        t.clock.advance(Duration::days(4));
        five_alike(&t, 4).await;
        assert_eq!(hot_problems(&t).await, [(first[0].0, 10)]);
        // Day 8: the first five have left the seven-day window; the problem goes on.
        t.clock.advance(Duration::days(4));
        assert_eq!(hot_problems(&t).await, [(first[0].0, 5)], "the same signal");
    })
    .await;
}
