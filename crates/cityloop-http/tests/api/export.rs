//! Exporting a case list through the API: the list's filters and the caller's scope, every format,
//! no residents' contact data, and clear errors.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_every_engine;

/// The export of `query` as `token`: status, the `X-Case-Count` header and the body.
async fn export(t: &TestApp, token: &str, query: &str) -> (StatusCode, Option<u64>, Vec<u8>) {
    let r = t.client.get(t.url(&format!("/api/v1/cases/export?{query}"))).bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let count = r.headers().get("x-case-count").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, count, r.bytes().await.unwrap().to_vec())
}

async fn total(t: &TestApp, token: &str, query: &str) -> u64 {
    t.get(Some(token), &format!("/api/v1/cases?{query}")).await.ok()["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_case_list_exports_with_its_filters_and_the_callers_scope() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        // A resident can begin a title with what a spreadsheet runs as a formula.
        for title in ["路灯不亮", "井盖缺失", "=HYPERLINK(\"http://x.example\",\"噪音扰民\")"] {
            t.create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": title,
                "description": format!("{title}，请处理"), "location": {"lat": lat, "lon": lon},
                "contact": {"name": "李先生", "phone": "13700001111"}}),
            )
            .await;
        }
        let (_, dispatched) = t.dispatched_complaint("06005", "垃圾满溢", "垃圾桶满了没人清运").await;
        let dispatcher = t.login("dispatcher").await;

        let (status, count, body) = export(&t, &dispatcher, "format=csv").await;
        assert_eq!(status, StatusCode::OK);
        let all = total(&t, &dispatcher, "").await;
        assert_eq!((count, all), (Some(4), 4));
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with('\u{feff}'), "Excel reads the byte-order mark");
        assert_eq!(text.lines().count(), 5, "a header and four cases: {text}");
        assert!(!text.contains("13700001111") && !text.contains("李先生"), "no contact data");
        assert!(text.contains("'=HYPERLINK("), "a formula-like cell is written as text: {text}");
        assert!(!text.contains(",=HYPERLINK(") && !text.contains(",\"=HYPERLINK("), "{text}");

        // The list's filters hold.
        let (_, count, body) = export(&t, &dispatcher, "format=geojson&state=pending_sign").await;
        let geo: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            geo["features"].as_array().unwrap().len() as u64,
            total(&t, &dispatcher, "state=pending_sign").await
        );
        assert_eq!(count, Some(1));

        // A unit's handler exports only the unit's cases.
        let handler = t.login(&t.handler_of(&dispatched)).await;
        let (status, count, _) = export(&t, &handler, "format=open311-csv").await;
        assert_eq!((status, count), (StatusCode::OK, Some(total(&t, &handler, "").await)));
        assert_eq!(count, Some(1));

        let (status, _, body) = export(&t, &dispatcher, "format=xlsx&category=06005").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with(b"PK"), "an XLSX file is a zip");

        for (query, field) in [
            ("", "format"),
            ("format=pdf", "format"),
            ("format=csv&state=lost", "state"),
            ("format=csv&colour=red", "colour"),
        ] {
            let (status, _, body) = export(&t, &dispatcher, query).await;
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
            assert_eq!(body["error"]["field"].as_str(), Some(field), "{query}: {body}");
        }
        let r = t.client.get(t.url("/api/v1/cases/export?format=csv")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}
