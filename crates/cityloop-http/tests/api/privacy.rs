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
