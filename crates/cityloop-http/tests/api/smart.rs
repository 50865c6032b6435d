//! Smart intake over HTTP: classify, duplicates, dispatch hints, the knowledge base and reply checks.

use cityloop_text::{Classifier, LabelledText, TrainOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::on_every_engine;

/// A small model over two of the demo city's categories, installed as the newest version.
pub(crate) async fn install_model(t: &crate::helpers::TestApp) {
    let examples: Vec<LabelledText> = [
        ("08001", "工地夜间施工噪音大，影响休息"),
        ("08001", "凌晨打桩施工扰民"),
        ("08001", "工地机器轰鸣到深夜"),
        ("08001", "夜里工地施工太吵"),
        ("10005", "路口井盖丢失很危险"),
        ("10005", "井盖破损有人差点掉下去"),
        ("10005", "人行道井盖不见了"),
        ("10005", "窨井盖松动车辆经过哐当响"),
    ]
    .iter()
    .map(|(label, text)| LabelledText { label: label.to_string(), text: text.to_string() })
    .collect();
    let model = Classifier::train(&examples, &TrainOptions::default()).unwrap();
    t.app.install_model("file:test", &model.to_bytes()).await.unwrap();
}

#[tokio::test]
async fn classify_answers_with_probabilities_and_words_and_refuses_bad_input() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let none = t.post(Some(&operator), "/api/v1/classify", json!({"text": "井盖丢失"})).await;
        assert_eq!(none.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(none.error_code(), "not_ready");
        assert!(none.body["error"]["message"].as_str().unwrap().contains("classify train"));

        install_model(&t).await;
        let a = t.post(Some(&operator), "/api/v1/classify", json!({"text": "小区门口井盖丢失了", "top": 2})).await.ok();
        assert_eq!(a["suggestions"][0]["category"], "10005", "{a}");
        assert_eq!(a["suggestions"][0]["category_name"], "井盖缺失");
        let p0 = a["suggestions"][0]["probability"].as_f64().unwrap();
        let p1 = a["suggestions"][1]["probability"].as_f64().unwrap();
        assert!(p0 > p1 && (p0 + p1 - 1.0).abs() < 1e-3, "{a}");
        assert!(a["words"].as_array().unwrap().iter().any(|w| w["word"].as_str().unwrap().contains("井盖")), "{a}");

        // Traditional characters read as simplified ones: 井蓋 is the 井盖 the model learnt.
        let traditional = t.post(Some(&operator), "/api/v1/classify", json!({"text": "小區門口井蓋丟失了"})).await.ok();
        assert_eq!(traditional["suggestions"][0]["category"], "10005", "{traditional}");
        assert!(
            traditional["words"].as_array().unwrap().iter().any(|w| w["word"].as_str().unwrap().contains("井盖")),
            "{traditional}"
        );

        // Without a Chinese character the model has nothing to go on: no guess, a person chooses.
        let latin = t.post(Some(&operator), "/api/v1/classify", json!({"text": "street light broken"})).await.ok();
        assert_eq!(
            (latin["suggestions"].as_array().map(Vec::len), latin["words"].as_array().map(Vec::len)),
            (Some(0), Some(0)),
            "{latin}"
        );

        let empty = t.post(Some(&operator), "/api/v1/classify", json!({"text": " "})).await;
        assert_eq!(
            (empty.status, empty.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("text"))
        );
        let typo = t.post(Some(&operator), "/api/v1/classify", json!({"txt": "井盖"})).await;
        assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(t.post(None, "/api/v1/classify", json!({"text": "井盖"})).await.status, StatusCode::UNAUTHORIZED);

        let admin = t.login("admin").await;
        let versions = t.get(Some(&admin), "/api/v1/classifier/versions").await.ok();
        assert_eq!(versions[0]["in_use"], true);
        assert!(versions[0]["created_at"].as_str().unwrap().ends_with("+08:00"), "{versions}");
        assert_eq!(versions[0]["source"], "file:test");
        assert_eq!(t.get(Some(&operator), "/api/v1/classifier/versions").await.status, StatusCode::FORBIDDEN);

        // Intake without a category: the suggestion comes back with the new case.
        let (_, lat, lon) = t.first_grid(&operator).await;
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "井盖丢失",
                "description": "人行道上的井盖不见了", "location": {"lat": lat, "lon": lon}}),
            )
            .await;
        assert_eq!(case["category_suggestion"]["category"], "10005", "{case}");
    })
    .await;
}

#[tokio::test]
async fn duplicates_hints_and_reply_checks_over_http() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let dispatcher = t.login("dispatcher").await;
        let (id, dispatched) = t.dispatched_complaint("08001", "工地夜间施工噪音大", "工地晚上十一点以后还在施工, 噪音很大").await;
        let number = dispatched["number"].as_str().unwrap().to_string();
        let (grid, lat, lon) = t.first_grid(&operator).await;

        let found = t
            .post(Some(&operator), "/api/v1/duplicates",
                json!({"title": "工地夜间施工噪音", "description": "晚上十一点以后工地还在施工", "category": "08001", "lat": lat, "lon": lon}))
            .await
            .ok();
        assert_eq!(found[0]["number"], number.as_str(), "{found}");
        assert!(found[0]["created_at"].as_str().unwrap().ends_with("+08:00"), "{found}");
        let by_grid = t.post(Some(&operator), "/api/v1/duplicates", json!({"title": "工地夜间施工噪音", "grid": grid})).await.ok();
        assert_eq!(by_grid[0]["number"], number.as_str());
        let half = t.post(Some(&operator), "/api/v1/duplicates", json!({"title": "噪音", "lat": 30.2})).await;
        assert_eq!((half.status, half.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("lon")));
        let bad = t.post(Some(&operator), "/api/v1/duplicates", json!({"title": "x", "grid": "nope"})).await;
        assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("grid")));
        let citizen = t.login("citizen").await;
        assert_eq!(t.post(Some(&citizen), "/api/v1/duplicates", json!({"title": "噪音"})).await.status, StatusCode::FORBIDDEN);

        let hints = t.get(Some(&dispatcher), &format!("/api/v1/cases/{number}/dispatch-hints")).await.ok();
        assert_eq!(hints[0]["source"], "catalogue", "{hints}");

        let check = t.get(Some(&dispatcher), &format!("/api/v1/cases/{number}/reply-check")).await;
        assert_eq!(check.status, StatusCode::NOT_FOUND, "no reply yet");
        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, id, "sign", json!({})).await;
        t.must(&handler, id, "submit", json!({"result": "您好，您的留言已收悉，感谢您的支持！"})).await;
        let check = t.get(Some(&dispatcher), &format!("/api/v1/cases/{number}/reply-check")).await.ok();
        // Units and residents do not read the hotline's internal scores or hints.
        for path in [format!("/api/v1/cases/{number}/reply-check"), format!("/api/v1/cases/{number}/dispatch-hints")] {
            assert_eq!(t.get(Some(&handler), &path).await.status, StatusCode::FORBIDDEN, "{path}");
        }
        assert!(check["score"].as_i64().unwrap() <= 40, "{check}");
        let failed: Vec<&str> = check["findings"].as_array().unwrap().iter()
            .filter(|f| f["passed"] == false).map(|f| f["code"].as_str().unwrap()).collect();
        assert!(failed.contains(&"template"), "{check}");
        let units = t.get(Some(&dispatcher), "/api/v1/reply-checks/units?days=7").await.ok();
        let refused = t.get(Some(&dispatcher), "/api/v1/reply-checks/units?days=0").await;
        assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("days")));
        assert_eq!(units[0]["unit"], dispatched["unit"], "{units}");
        assert_eq!(units[0]["weak"], 1);
    })
    .await;
}

#[tokio::test]
async fn the_knowledge_base_over_http() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let admin = t.login("admin").await;
        let hits =
            t.get(Some(&operator), "/api/v1/knowledge?q=%E5%85%AC%E7%A7%AF%E9%87%91%E6%8F%90%E5%8F%96").await.ok();
        assert_eq!(hits[0]["title"], "住房公积金提取条件和办理流程", "{hits}");

        let article =
            json!({"title": "养犬登记", "body": "到辖区派出所办理养犬登记证。", "category": null, "tags": ""});
        assert_eq!(t.post(Some(&operator), "/api/v1/knowledge", article.clone()).await.status, StatusCode::FORBIDDEN);
        let created = t.post(Some(&admin), "/api/v1/knowledge", article).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let id = created.body["id"].as_i64().unwrap();
        let put = t
            .client
            .put(t.url(&format!("/api/v1/knowledge/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"title": "养犬登记证", "body": "携带身份证到派出所办理。"}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::NO_CONTENT);
        assert_eq!(t.get(Some(&operator), &format!("/api/v1/knowledge/{id}")).await.ok()["title"], "养犬登记证");
        let bad_category =
            t.post(Some(&admin), "/api/v1/knowledge", json!({"title": "x", "body": "y", "category": "99999"})).await;
        assert_eq!(bad_category.body["error"]["field"], "category");

        let import = t
            .client
            .post(t.url("/api/v1/knowledge/import?file=kb.csv"))
            .bearer_auth(&admin)
            .body("title,body\n好的,正文\n坏的,\n")
            .send()
            .await
            .unwrap();
        assert_eq!(import.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = import.json().await.unwrap();
        assert_eq!(body["error"]["field"], "kb.csv:3: body");
        let import = t
            .client
            .post(t.url("/api/v1/knowledge/import?file=kb.md"))
            .bearer_auth(&admin)
            .body("# 好的\n正文一\n# 也好\n正文二\n")
            .send()
            .await
            .unwrap();
        assert_eq!(import.json::<serde_json::Value>().await.unwrap()["imported"], 2);

        let delete =
            t.client.delete(t.url(&format!("/api/v1/knowledge/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(delete.status(), StatusCode::NO_CONTENT);
        assert_eq!(t.get(Some(&operator), &format!("/api/v1/knowledge/{id}")).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn a_unit_that_returned_a_case_is_not_sent_it_again_by_default() {
    on_every_engine(|t| async move {
        let dispatcher = t.login("dispatcher").await;
        let (id, dispatched) =
            t.dispatched_complaint("08001", "工地夜间施工噪音大", "工地晚上十一点以后还在施工").await;
        let number = dispatched["number"].as_str().unwrap().to_string();
        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, id, "return", json!({"reason": "不属于本单位职责"})).await;
        t.must(&dispatcher, id, "approve-return", json!({})).await;
        let again = t.act(&dispatcher, id, "dispatch", json!({})).await;
        assert_eq!(
            (again.status, again.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("unit"))
        );
        assert!(again.body["error"]["message"].as_str().unwrap().contains("不属于本单位职责"), "{}", again.body);
        let hints = t.get(Some(&dispatcher), &format!("/api/v1/cases/{number}/dispatch-hints")).await.ok();
        let hints = hints.as_array().unwrap();
        assert_eq!(hints[0]["unit"], dispatched["unit"]);
        assert!(hints[0]["reason"].as_str().unwrap().contains("已退回本案：不属于本单位职责"), "{hints:?}");
        assert!(hints[1..].iter().all(|h| h["unit"] != dispatched["unit"]), "{hints:?}");
    })
    .await;
}
