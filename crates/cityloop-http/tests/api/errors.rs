//! Every kind of bad input gets a clear error with the right status, and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_every_engine;

fn complaint() -> serde_json::Value {
    json!({"channel": "hotline", "request_type": "complaint", "title": "噪音", "description": "楼下商铺音响太吵"})
}

#[tokio::test]
async fn requests_without_valid_credentials_are_refused_with_401() {
    on_every_engine(|t| async move {
        assert_eq!(t.get(None, "/api/v1/cases").await.status, StatusCode::UNAUTHORIZED);
        let bad = t.get(Some("not-a-token"), "/api/v1/cases").await;
        assert_eq!((bad.status, bad.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
        let wrong =
            t.post(None, "/api/v1/auth/login", json!({"username": "operator", "password": "wrong-password"})).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let nobody =
            t.post(None, "/api/v1/auth/login", json!({"username": "nobody", "password": "cityloop-demo"})).await;
        assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.body["error"]["message"], nobody.body["error"]["message"], "no hint which was wrong");

        // Logging out revokes the token.
        let token = t.login("operator").await;
        assert_eq!(t.get(Some(&token), "/api/v1/auth/me").await.ok()["username"], "operator");
        let out = t.client.post(t.url("/api/v1/auth/logout")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::NO_CONTENT);
        assert_eq!(t.get(Some(&token), "/api/v1/cases").await.status, StatusCode::UNAUTHORIZED);

        // Tokens expire.
        let token = t.login("operator").await;
        t.clock.advance(chrono::Duration::hours(13));
        let expired = t.get(Some(&token), "/api/v1/cases").await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert!(expired.body["error"]["message"].as_str().unwrap().contains("expired"));
    })
    .await;
}

#[tokio::test]
async fn an_unknown_address_is_a_page_for_a_browser_and_json_for_a_program() {
    let t = crate::helpers::spawn_app(cityloop_store::Backend::Sqlite).await;
    let browse =
        |path: &'static str| t.client.get(t.url(path)).header("accept", "text/html,application/xhtml+xml").send();
    let page = browse("/portal/xyz").await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("<html lang=\"zh-CN\">"));
    for (path, accept) in [("/api/v1/nothing", "text/html"), ("/api", "text/html"), ("/portal/xyz", "application/json")]
    {
        let r = t.client.get(t.url(path)).header("accept", accept).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}

#[tokio::test]
async fn malformed_bodies_get_400_and_invalid_values_get_422_naming_the_field() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let raw = |body: &'static str, content_type: &'static str| {
            t.client.post(t.url("/api/v1/cases")).bearer_auth(&operator).header("content-type", content_type).body(body).send()
        };
        let not_json = raw("{title:", "application/json").await.unwrap();
        assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = not_json.json().await.unwrap();
        assert_eq!(body["error"]["code"], "malformed");
        assert_eq!(raw("{}", "text/plain").await.unwrap().status(), StatusCode::BAD_REQUEST);
        assert_eq!(raw("", "application/json").await.unwrap().status(), StatusCode::BAD_REQUEST);

        let cases: &[(serde_json::Value, &str)] = &[
            (json!({"channel": "fax", "request_type": "complaint", "title": "x", "description": "y"}), "channel"),
            (json!({"channel": "open311", "request_type": "complaint", "title": "x", "description": "y"}), "channel"),
            (json!({"channel": "web", "request_type": "rant", "title": "x", "description": "y"}), "request_type"),
            (json!({"channel": "web", "request_type": "complaint", "title": " ", "description": "y"}), "title"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x"}), "description"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "location": {"lat": 30.2}}), "location.lon"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "category": "99999"}), "category"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "location": {"lat": 91, "lon": 0}}), "location.lat"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "location": {"lat": "north", "lon": 0}}), "location.lat"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "location": {"lat": 0.0, "lon": 0.0}}), "location"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "location": {"lat": 39.9, "lon": 116.4}}), "location"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "contact": {"name": "张三", "phone": "call me"}}), "contact.phone"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "grid": "123"}), "grid"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x".repeat(201), "description": "y"}), "title"),
            (json!({"channel": "web", "request_type": "complaint", "title": "x", "description": "y", "colour": "red"}), ""),
        ];
        for (body, field) in cases {
            let a = t.post(Some(&operator), "/api/v1/cases", body.clone()).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {}", a.body);
            assert_eq!(a.error_code(), "invalid");
            if !field.is_empty() {
                assert_eq!(a.body["error"]["field"], *field, "{body} -> {}", a.body);
            }
        }
        // The request's own fields are checked together: one answer names every one that is wrong.
        let empty = json!({"channel": "fax", "request_type": "complaint", "title": " ", "description": ""});
        let refused = t.post(Some(&operator), "/api/v1/cases", empty).await;
        let fields: Vec<&str> =
            refused.body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!((refused.status, fields), (StatusCode::UNPROCESSABLE_ENTITY, vec!["channel", "title", "description"]));
        // A call is recorded by the hotline's staff, not by a grid inspector.
        let inspector = t.login("inspector1").await;
        let call = json!({"channel": "hotline", "request_type": "complaint", "title": "x", "description": "y"});
        let refused = t.post(Some(&inspector), "/api/v1/cases", call).await;
        assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("channel")));
        // What an inspector finds is counted as found on patrol, not as a resident's report.
        let as_app = json!({"channel": "app", "request_type": "complaint", "title": "x", "description": "y"});
        let refused = t.post(Some(&inspector), "/api/v1/cases", as_app).await;
        assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("channel")));
        // An inspector's report without any place says so, rather than that it lies outside their grids.
        let found = json!({"channel": "inspector", "request_type": "complaint", "title": "井盖缺失", "description": "路口井盖缺失"});
        let unplaced = t.post(Some(&inspector), "/api/v1/cases", found).await;
        assert_eq!((unplaced.status, unplaced.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("location")));
        // It is filed as it stands, so it names a category a case is filed under, not a group of them.
        let grouped = json!({"channel": "inspector", "request_type": "complaint", "title": "垃圾", "description": "路边垃圾",
            "category": "06", "location": {"lat": 30.201, "lon": 120.101}});
        let refused = t.post(Some(&inspector), "/api/v1/cases", grouped).await;
        assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("category")));
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("has no case standard"), "{}", refused.body);
        let list = t.get(Some(&operator), "/api/v1/cases?state=nonsense").await;
        assert_eq!((list.status, list.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("state")));
        let list = t.get(Some(&operator), "/api/v1/cases?page_size=100000").await;
        assert_eq!(list.status, StatusCode::UNPROCESSABLE_ENTITY);
        let list = t.get(Some(&operator), "/api/v1/cases?overdue=maybe").await;
        assert_eq!((list.status, list.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("overdue")));
        assert_eq!(t.get(Some(&operator), "/api/v1/cases").await.ok()["total"], 0, "nothing was created");
    })
    .await;
}

#[tokio::test]
async fn illegal_moves_forbidden_roles_unknown_cases_and_stale_versions_are_told_apart() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        let dispatcher = t.login("dispatcher").await;
        let case = t.create(&operator, complaint()).await;
        let id = case["id"].as_i64().unwrap();

        let illegal = t.act(&lead, id, "close", json!({})).await;
        assert_eq!((illegal.status, illegal.error_code()), (StatusCode::CONFLICT, "illegal_move"));
        assert_eq!(
            illegal.body["error"]["allowed_moves"],
            // No request-verification: the case has no grid for an inspector to verify in.
            json!(["file", "void", "supervise", "comment"])
        );
        assert_eq!(illegal.body["error"]["state"], "reported");

        let forbidden = t.act(&dispatcher, id, "file", json!({})).await;
        assert_eq!((forbidden.status, forbidden.error_code()), (StatusCode::FORBIDDEN, "forbidden"));
        let leader = t.login("leader").await;
        assert_eq!(t.post(Some(&leader), "/api/v1/cases", complaint()).await.status, StatusCode::FORBIDDEN);
        assert_eq!(t.get(Some(&operator), "/api/v1/users").await.status, StatusCode::FORBIDDEN);

        assert_eq!(t.act(&lead, id, "teleport", json!({})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.get(Some(&lead), "/api/v1/cases/999999").await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.get(Some(&lead), "/api/v1/cases/20991231-000001").await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.get(Some(&lead), "/api/v1/nowhere").await.status, StatusCode::NOT_FOUND);

        let stale = t.act(&lead, id, "file", json!({"version": 7})).await;
        assert_eq!((stale.status, stale.error_code()), (StatusCode::CONFLICT, "stale_version"));
        assert_eq!(stale.body["error"]["current_version"], 1);

        let missing = t.act(&lead, id, "void", json!({})).await;
        assert_eq!(
            (missing.status, missing.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
        );
        let wrong_type = t.act(&lead, id, "file", json!({"version": "one"})).await;
        assert_eq!(
            (wrong_type.status, wrong_type.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("version"))
        );

        // A handler of another unit cannot even see a dispatched case: 404, not 403.
        t.must(&lead, id, "file", json!({"category": "31002"})).await;
        let units = t.get(Some(&operator), "/api/v1/units").await.ok();
        let some_unit = units.as_array().unwrap().iter().find(|u| u["kind"] == "department").unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string();
        t.must(&dispatcher, id, "dispatch", json!({"unit": some_unit})).await;
        let bad_unit = t.act(&dispatcher, id, "supervise", json!({"level": 9})).await;
        assert_eq!(
            (bad_unit.status, bad_unit.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("level"))
        );
        let stranger = t.login("h-990104-jy").await;
        assert_eq!(t.get(Some(&stranger), &format!("/api/v1/cases/{id}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(t.act(&stranger, id, "sign", json!({})).await.status, StatusCode::NOT_FOUND);
        let theirs = t.get(Some(&stranger), "/api/v1/cases").await.ok();
        assert_eq!(theirs["total"], 0);

        let after = t.get(Some(&lead), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(after["flow"].as_array().unwrap().len(), 3, "refused moves left no trace");
    })
    .await;
}

#[tokio::test]
async fn move_texts_are_bounded_and_a_reopen_keeps_its_reason() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        let case = t.create(&operator, complaint()).await;
        let id = case["id"].as_i64().unwrap();
        let refused: &[(&str, serde_json::Value, &str)] = &[
            ("void", json!({"reason": "长".repeat(4001)}), "reason"),
            ("void", json!({"reason": "重复", "note": "长".repeat(2001)}), "note"),
            ("comment", json!({}), "note"),
            ("comment", json!({"note": "长".repeat(2001)}), "note"),
        ];
        for (mv, body, field) in refused {
            let who = if *mv == "void" { &lead } else { &operator };
            let a = t.act(who, id, mv, body.clone()).await;
            assert_eq!(
                (a.status, a.body["error"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(*field)),
                "{mv} -> {}",
                a.body
            );
        }
        let after = t.get(Some(&operator), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(after["flow"].as_array().unwrap().len(), 1, "refused moves left no trace");
        t.must(&lead, id, "void", json!({"reason": "长".repeat(4000)})).await;

        let asked = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "consultation", "title": "咨询", "description": "居住证怎么办"}),
            )
            .await;
        let asked = asked["id"].as_i64().unwrap();
        t.must(&operator, asked, "answer", json!({"answer": "携带身份证到街道便民服务中心办理"})).await;
        let long = t.act(&operator, asked, "reopen", json!({"reason": "长".repeat(1001)})).await;
        assert_eq!(long.body["error"]["field"], "reason", "{}", long.body);
        let reopened = t.must(&operator, asked, "reopen", json!({"reason": "还要问办理时间"})).await;
        let flow = reopened["flow"].as_array().unwrap();
        assert_eq!(flow.last().unwrap()["note"], "还要问办理时间", "{reopened}");
    })
    .await;
}

#[tokio::test]
async fn the_routers_own_refusals_come_in_the_error_format_of_the_api_or_of_open311() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let read = |r: reqwest::Response| async move {
            let status = r.status();
            let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
            let content_type = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
            let body = r.text().await.unwrap();
            (status, allow, content_type.unwrap_or_default(), body)
        };
        let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();

        // A path parameter that is not a number.
        let (status, _, kind, body) =
            read(t.client.get(t.url("/api/v1/knowledge/abc")).bearer_auth(&operator).send().await.unwrap()).await;
        assert_eq!((status, kind.as_str()), (StatusCode::BAD_REQUEST, "application/json"), "{body}");
        assert_eq!(json(&body)["error"]["code"], "malformed");
        assert!(json(&body)["error"]["message"].as_str().unwrap().contains("abc"), "{body}");

        // A method the address does not take: 405 with the methods it does take.
        let (status, allow, kind, body) =
            read(t.client.delete(t.url("/api/v1/cases")).bearer_auth(&operator).send().await.unwrap()).await;
        assert_eq!((status, kind.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "application/json"), "{body}");
        assert_eq!(json(&body)["error"]["code"], "method_not_allowed");
        let allow = allow.expect("the Allow header is kept");
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert!(json(&body)["error"]["message"].as_str().unwrap().contains("DELETE"), "{body}");

        // An upload over the limit, before the handler reads it.
        let huge = [b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; 600 * 1024]].concat();
        let (status, _, kind, body) = read(
            t.client
                .post(t.url("/api/v1/attachments"))
                .bearer_auth(&operator)
                .header("x-file-name", "big.png")
                .body(huge.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, kind.as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "application/json"), "{body}");
        assert_eq!(json(&body)["error"]["code"], "too_large");

        // Open311 answers in its own format, JSON or XML as the address asks.
        let (status, _, kind, body) = read(
            t.client
                .post(t.url("/open311/v2/requests.json"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(huge.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert!(kind.starts_with("application/json"), "{kind}");
        assert_eq!(json(&body)[0]["code"], 413, "{body}");
        let (status, _, kind, body) =
            read(t.client.delete(t.url("/open311/v2/requests.xml")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(kind.contains("xml") && body.contains("<code>405</code>"), "{kind} {body}");
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_get_413_and_uploads_are_checked_by_content() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let mut big = complaint();
        big["description"] = json!("很".repeat(600_000));
        let a = t.post(Some(&operator), "/api/v1/cases", big).await;
        assert_eq!((a.status, a.error_code()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));

        let upload = |bytes: Vec<u8>| {
            t.client
                .post(t.url("/api/v1/attachments"))
                .bearer_auth(&operator)
                .header("x-file-name", "photo.png")
                .body(bytes)
                .send()
        };
        let png = b"\x89PNG\r\n\x1a\n0000".to_vec();
        let ok = upload(png.clone()).await.unwrap();
        assert_eq!(ok.status(), StatusCode::CREATED);
        let stored: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(stored["content_type"], "image/png");
        let again: serde_json::Value = upload(png).await.unwrap().json().await.unwrap();
        assert_eq!(again["hash"], stored["hash"], "stored by content hash");
        let html = upload(b"<html><script>alert(1)</script>".to_vec()).await.unwrap();
        assert_eq!(html.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let huge = upload([b"\x89PNG\r\n\x1a\n".to_vec(), vec![0; 400 * 1024]].concat()).await.unwrap();
        assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let back = t
            .client
            .get(t.url(&format!("/api/v1/attachments/{}", stored["hash"].as_str().unwrap())))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        assert_eq!(back.headers()["content-type"], "image/png");

        // Evidence on a move must have been uploaded first.
        let lead = t.login("lead").await;
        let case = t.create(&operator, complaint()).await;
        let id = case["id"].as_i64().unwrap();
        let unknown = t.act(&lead, id, "void", json!({"reason": "重复", "attachments": ["0".repeat(64)]})).await;
        assert_eq!(
            (unknown.status, unknown.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("attachments"))
        );
        // And uploaded by the one who makes the move: a colleague's file is not theirs to attach.
        let colleagues = t.act(&lead, id, "void", json!({"reason": "重复", "attachments": [stored["hash"]]})).await;
        assert_eq!(colleagues.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", colleagues.body);
        let own = t
            .client
            .post(t.url("/api/v1/attachments"))
            .bearer_auth(&lead)
            .header("x-file-name", "photo.png")
            .body(b"\x89PNG\r\n\x1a\n0000".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), StatusCode::CREATED);
        let voided = t.must(&lead, id, "void", json!({"reason": "重复", "attachments": [stored["hash"]]})).await;
        assert_eq!(voided["flow"][1]["attachments"], json!([stored["hash"]]));
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_health_and_metrics_are_served() {
    on_every_engine(|t| async move {
        let doc = t.get(None, "/api/v1/openapi.json").await.ok();
        for path in [
            "/api/v1/auth/login",
            "/api/v1/cases",
            "/api/v1/cases/{id}",
            "/api/v1/cases/{id}/{move}",
            "/api/v1/grids",
            "/api/v1/users",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is described");
        }
        assert!(doc["components"]["schemas"]["CreateCaseRequest"].is_object());
        assert!(
            doc["components"]["schemas"]["ErrorDetail"]["properties"]["fields"].is_object(),
            "every field at fault"
        );
        // Every `{parameter}` of every path is declared, so that clients and fuzzers generated from
        // the document can fill it in.
        for (path, operations) in doc["paths"].as_object().unwrap() {
            let named: Vec<&str> = path.split('{').skip(1).filter_map(|p| p.split('}').next()).collect();
            for (method, operation) in operations.as_object().unwrap() {
                let declared: Vec<&str> = operation["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                for name in &named {
                    assert!(declared.contains(name), "{method} {path}: `{name}` is not declared");
                }
            }
        }
        assert_eq!(t.get(None, "/healthz").await.ok()["status"], "ok");
        let metrics = t.client.get(t.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("cityloop_http_requests_total{class=\"2xx\"}"));
        let admin = t.login("admin").await;
        let grids = t.get(Some(&admin), "/api/v1/grids").await.ok();
        assert_eq!(grids.as_array().unwrap().len(), 512);
        assert!(grids[0]["community"].as_str().unwrap().len() == 12);
        let created = t
            .post(
                Some(&admin),
                "/api/v1/users",
                json!({"username": "newop", "password": "long-password", "name": "新受理员", "roles": ["operator"]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let dup = t
            .post(
                Some(&admin),
                "/api/v1/users",
                json!({"username": "newop", "password": "long-password", "name": "x", "roles": ["operator"]}),
            )
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        let bad_role = t
            .post(
                Some(&admin),
                "/api/v1/users",
                json!({"username": "x1x", "password": "long-password", "name": "x", "roles": ["king"]}),
            )
            .await;
        assert_eq!(
            (bad_role.status, bad_role.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("roles"))
        );
        // Every wrong field is named in one answer, in the form's order.
        let all_wrong = t
            .post(
                Some(&admin),
                "/api/v1/users",
                json!({"username": "x", "password": "short", "name": " ", "roles": ["handler"]}),
            )
            .await;
        let fields: Vec<&str> = all_wrong.body["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            (all_wrong.status, fields),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["username", "password", "name", "unit"])
        );
        assert_eq!(all_wrong.body["error"]["field"], "username");
        let login =
            t.post(None, "/api/v1/auth/login", json!({"username": "newop", "password": "long-password"})).await.ok();
        assert_eq!(login["user"]["roles"], json!(["operator"]));
    })
    .await;
}

#[tokio::test]
async fn machine_answers_are_never_sniffed_framed_or_kept() {
    crate::on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        // An address nothing answers is a machine answer too (its JSON error).
        for path in ["/api/v1/cases", "/api/v1/cases/999999", "/open311/v2/services.json", "/api/v1/no-such-thing"] {
            let answer = t.client.get(t.url(path)).bearer_auth(&operator).send().await.unwrap();
            let h = answer.headers();
            assert_eq!(h.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{path}");
            assert_eq!(h.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{path}");
            assert_eq!(h.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_nul_character_is_refused_by_name_on_every_engine() {
    // PostgreSQL cannot store U+0000; no engine is asked to.
    on_every_engine(|t| async move {
        let citizen = t.login("citizen").await;
        let case = json!({"channel": "app", "request_type": "complaint", "title": "路灯\u{0}不亮", "description": "路灯不亮",
                          "category": "06010", "address": "江城街道江城北社区学院路220号"});
        let refused = t.post(Some(&citizen), "/api/v1/cases", case).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("title")),
            "{}",
            refused.body
        );
        let listed = t.get(Some(&citizen), "/api/v1/cases?q=%00").await;
        assert_eq!((listed.status, listed.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("q")));
        let login = t.post(None, "/api/v1/auth/login", json!({"username": "a\u{0}", "password": "x"})).await;
        assert_eq!(login.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", login.body);
        assert_eq!(t.app.store.count_cases().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn cases_with_and_without_a_location_follow_each_other_on_every_connection() {
    // A null coordinate first on a connection once left its prepared insert unable to take a real one
    // on PostgreSQL.
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        // Just north of the city's last grid: near enough to be the city's, in no grid.
        let north = t.app.reference().grids.iter().map(|g| g.centroid_lat).fold(f64::MIN, f64::max) + 0.03;
        // Two cases a round over a pool of three connections: each connection sees both kinds first.
        for round in 0..6 {
            for located in [false, true] {
                let mut case = json!({"channel": "hotline", "request_type": "consultation", "title": "咨询",
                                      "description": format!("咨询公积金 {round}")});
                if located {
                    // In a grid, and just outside every grid.
                    let (lat, lon) = if round % 2 == 0 { (lat, lon) } else { (north, lon) };
                    case["location"] = json!({"lat": lat, "lon": lon});
                }
                let created = t.post(Some(&operator), "/api/v1/cases", case).await;
                assert_eq!(created.status, StatusCode::CREATED, "round {round}, located {located}: {}", created.body);
                if located && round % 2 == 1 {
                    assert!(created.body["grid"].is_null(), "{}", created.body);
                }
            }
        }
    })
    .await;
}
