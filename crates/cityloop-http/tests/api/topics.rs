//! 每月一题: a frequent problem left unsolved tops the candidates, a leader adopts it with a lead unit
//! and a goal, and its volume is followed month by month.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_every_engine;

/// `n` complaints of a category from the same few callers.
async fn complaints(t: &TestApp, category: &str, n: usize) -> Vec<Value> {
    let operator = t.login("operator").await;
    let (_, lat, lon) = t.first_grid(&operator).await;
    let mut out = Vec::new();
    for i in 0..n {
        let phone = format!("1391234000{}", i % 3);
        out.push(
            t.create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "夜间施工噪音",
                "description": "工地夜里十二点还在施工", "category": category, "location": {"lat": lat, "lon": lon},
                "contact": {"name": "李女士", "phone": phone}}),
            )
            .await,
        );
    }
    out
}

#[tokio::test]
async fn the_hardest_frequent_problem_is_proposed_adopted_and_followed() {
    on_every_engine(|t| async move {
        let noisy = complaints(&t, "08001", 12).await;
        complaints(&t, "06005", 10).await;
        // Two of the noise complaints were handled and revisited unsolved.
        for case in noisy.iter().take(2) {
            let id = case["id"].as_i64().unwrap();
            t.must(&t.login("lead").await, id, "file", json!({})).await;
            let dispatched = t.must(&t.login("dispatcher").await, id, "dispatch", json!({})).await;
            let handler = t.login(&t.handler_of(&dispatched)).await;
            t.must(&handler, id, "sign", json!({})).await;
            t.must(&handler, id, "submit", json!({"result": "已要求工地停工"})).await;
            t.must(
                &t.login("operator").await,
                id,
                "revisit",
                json!({"contacted": true, "solved": false, "satisfaction": "unsatisfied"}),
            )
            .await;
        }
        let leader = t.login("leader").await;
        let candidates = t.get(Some(&leader), "/api/v1/topics/candidates").await.ok();
        assert_eq!(candidates[0]["category_code"], "08001", "{candidates}");
        assert_eq!(
            (
                candidates[0]["cases"].as_i64(),
                candidates[0]["unsolved_rate"].as_f64(),
                candidates[0]["repeat_callers"].as_i64()
            ),
            (Some(12), Some(1.0), Some(3))
        );
        assert_eq!(candidates[1]["category_code"], "06005");

        let unit = t.get(Some(&leader), "/api/v1/units").await.ok()[0]["code"].as_str().unwrap().to_string();
        let adopted = t
            .post(
                Some(&leader),
                "/api/v1/topics",
                json!({"category": "08001", "lead_unit": unit, "goal": "夜间施工投诉下降三成"}),
            )
            .await;
        assert_eq!(adopted.status, StatusCode::CREATED, "{}", adopted.body);
        assert_eq!((adopted.body["baseline"].as_i64(), adopted.body["period"].as_str()), (Some(12), Some("2026-11")));
        let again = t.post(Some(&leader), "/api/v1/topics", json!({"category": "08001"})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let candidates = t.get(Some(&leader), "/api/v1/topics/candidates").await.ok();
        assert_eq!(candidates[0]["adopted"], true);

        // November goes on after the adoption: the whole month is the baseline. December is quieter;
        // in January the whole of December is in.
        complaints(&t, "08001", 4).await;
        t.clock.advance(Duration::days(10));
        complaints(&t, "08001", 3).await;
        t.clock.advance(Duration::days(40));
        let leader = t.login("leader").await;
        let topics = t.get(Some(&leader), "/api/v1/topics").await.ok();
        let months: Vec<(String, i64)> = topics[0]["months"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["period"].as_str().unwrap().to_string(), m["cases"].as_i64().unwrap()))
            .collect();
        assert_eq!(months, [("2026-11".to_string(), 16), ("2026-12".to_string(), 3), ("2027-01".to_string(), 0)]);
        assert_eq!((topics[0]["baseline"].as_i64(), topics[0]["change_percent"].as_f64()), (Some(16), Some(-81.3)));

        let dispatcher = t.login("dispatcher").await;
        assert_eq!(
            t.post(Some(&dispatcher), "/api/v1/topics", json!({"category": "06005"})).await.status,
            StatusCode::FORBIDDEN
        );
        for (body, field) in [
            (json!({"category": "99999"}), "category"),
            (json!({"category": "06005", "lead_unit": "nobody"}), "lead_unit"),
            (json!({"category": "06005", "period": "2026-13"}), "period"),
        ] {
            let a = t.post(Some(&leader), "/api/v1/topics", body).await;
            assert_eq!((a.status, a.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)));
        }
        // A group of categories counts the cases of every category in it (06 市容环境 holds 06005).
        let group = t.post(Some(&leader), "/api/v1/topics", json!({"category": "06", "period": "2026-11"})).await;
        assert_eq!((group.status, group.body["baseline"].as_i64()), (StatusCode::CREATED, Some(10)), "{}", group.body);
    })
    .await;
}
