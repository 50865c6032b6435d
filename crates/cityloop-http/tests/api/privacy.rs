//! Residents' contact data: who is shown it in clear, and the record of each showing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_every_engine;

fn views(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["username"].as_str().unwrap().to_string(), v["purpose"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn every_showing_of_contact_data_in_clear_is_recorded_and_masked_views_are_not() {
    on_every_engine(|t| async move {
        let (operator, lead, dispatcher, admin) =
            (t.login("operator").await, t.login("lead").await, t.login("dispatcher").await, t.login("admin").await);
        let (_, lat, lon) = t.first_grid(&operator).await;
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "楼道堆放杂物",
                       "description": "三单元楼道堆满杂物, 消防通道堵塞", "category": "06001",
                       "location": {"lat": lat, "lon": lon}, "contact": {"name": "王小明", "phone": "13812345678"}}),
            )
            .await;
        let (id, number) = (case["id"].as_i64().unwrap(), case["number"].as_str().unwrap().to_string());
        t.must(&lead, id, "file", json!({})).await;
        let dispatched = t.must(&dispatcher, id, "dispatch", json!({})).await;
        assert_eq!(dispatched["contact"]["phone"], "13812345678", "a dispatcher calls residents back");

        let opened = t.get(Some(&operator), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(opened["contact"]["phone"], "13812345678");
        let handler = t.login(&t.handler_of(&dispatched)).await;
        let masked = t.get(Some(&handler), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(masked["contact"]["phone"], "138****5678", "a unit sees the contact masked");
        let listed = t.get(Some(&dispatcher), "/api/v1/cases?page_size=5").await.ok();
        assert!(listed["items"].as_array().unwrap().iter().any(|c| c["id"] == id), "{listed}");

        let page = t.get(Some(&admin), &format!("/api/v1/contact-views?case={number}")).await.ok();
        assert_eq!(
            views(&page),
            vec![
                ("dispatcher".to_string(), "list".to_string()),
                ("operator".to_string(), "case".to_string()),
                ("dispatcher".to_string(), "move".to_string()),
                ("lead".to_string(), "move".to_string()),
            ],
            "newest first; the unit's masked view is not a showing in clear"
        );
        assert_eq!(page["total"], 4);
        assert!(page["items"][0]["at"].is_string() && page["items"][0]["case_number"] == number.as_str());

        // Listing shows every case's contact: one record per case shown.
        let mine = t.get(Some(&admin), "/api/v1/contact-views?user=dispatcher&page_size=500").await.ok();
        let shown_in_list =
            listed["items"].as_array().unwrap().iter().filter(|c| c["contact"]["phone"].is_string()).count();
        assert_eq!(mine["items"].as_array().unwrap().iter().filter(|v| v["purpose"] == "list").count(), shown_in_list);
        assert!(views(&mine).iter().all(|(u, _)| u == "dispatcher"));

        // Administrators only; wrong filters are named.
        assert_eq!(t.get(Some(&operator), "/api/v1/contact-views").await.status, StatusCode::FORBIDDEN);
        for (query, field) in
            [("user=nobody", "user"), ("case=nope", "case"), ("page_size=0", "page_size"), ("from=yesterday", "from")]
        {
            let bad = t.get(Some(&admin), &format!("/api/v1/contact-views?{query}")).await;
            assert_eq!(
                (bad.status, bad.body["error"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
                "{query}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_user_shown_far_more_contact_data_than_usual_raises_an_alert_with_the_records_behind_it() {
    let rules = cityloop_domain::access::AccessRules { baseline_days: 28, factor: 5.0, min_cases: 3 };
    crate::on_every_engine_with(
        move |s| s.access = rules,
        |t| async move {
            let (operator, dispatcher, admin) =
                (t.login("operator").await, t.login("dispatcher").await, t.login("admin").await);
            let (_, lat, lon) = t.first_grid(&operator).await;
            for (i, title) in ["路灯不亮", "井盖松动", "树枝挡路", "占道经营"].iter().enumerate() {
                t.create(
                    &operator,
                    json!({"channel": "hotline", "request_type": "complaint", "title": title, "description": title,
                           "category": "06001", "location": {"lat": lat, "lon": lon},
                           "contact": {"name": "李四", "phone": format!("1391234000{i}")}}),
                )
                .await;
            }
            // The operator opens one case; the dispatcher reads a list of all four.
            let listed = t.get(Some(&dispatcher), "/api/v1/cases?page_size=10").await.ok();
            let first = listed["items"][0]["id"].as_i64().unwrap();
            t.get(Some(&operator), &format!("/api/v1/cases/{first}")).await.ok();
            assert_eq!(
                t.app.watch_access().await.unwrap(),
                1,
                "the dispatcher only: the operator is under the minimum"
            );
            assert_eq!(t.app.watch_access().await.unwrap(), 1, "looked at again: the same alert, brought up to date");

            let alerts = t.get(Some(&admin), "/api/v1/access-alerts").await.ok();
            let alerts = alerts.as_array().unwrap();
            assert_eq!(alerts.len(), 1, "{alerts:?}");
            assert_eq!(
                (alerts[0]["kind"].as_str(), alerts[0]["username"].as_str()),
                (Some("contact_views"), Some("dispatcher"))
            );
            assert_eq!((alerts[0]["count"].as_i64(), alerts[0]["baseline"].as_f64()), (Some(4), Some(0.0)));
            let records = t.get(Some(&admin), alerts[0]["records"].as_str().unwrap()).await.ok();
            assert_eq!(records["total"], 4, "the records behind the alert: {records}");
            assert_eq!(t.get(Some(&dispatcher), "/api/v1/access-alerts").await.status, StatusCode::FORBIDDEN);

            // Four weeks of such days make them the dispatcher's usual.
            for _ in 0..28 {
                t.clock.advance(chrono::Duration::days(1));
                let dispatcher = t.login("dispatcher").await;
                t.get(Some(&dispatcher), "/api/v1/cases?page_size=10").await.ok();
            }
            let alerted = t.app.watch_access().await.unwrap();
            assert_eq!(alerted, 0, "4 a day against an average of 4 is not unusual");
        },
    )
    .await;
}
