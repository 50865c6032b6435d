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
                       "description": "三单元楼道堆满杂物, 消防通道堵塞, 我是王小明, 有事打我电话13900001111", "category": "06001",
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
        // A number typed into the text is contact data as well, shown as the contact is.
        assert!(opened["description"].as_str().unwrap().ends_with("13900001111"), "{opened}");
        assert!(masked["description"].as_str().unwrap().ends_with("139****1111"), "{masked}");
        // So is the resident's name, where they sign their request.
        assert!(opened["description"].as_str().unwrap().contains("我是王小明"), "{opened}");
        assert!(masked["description"].as_str().unwrap().contains("我是王**"), "{masked}");
        let theirs = t.get(Some(&handler), "/api/v1/cases?page_size=50").await.ok();
        let row = theirs["items"].as_array().unwrap().iter().find(|c| c["id"] == id).expect("the unit's case").clone();
        assert!(!row.to_string().contains("13900001111") && !row.to_string().contains("王小明"), "{row}");
        // And in the bulk channel: an export carries them as the caller sees contacts.
        let export = |token: String| {
            let url = t.url(&format!("/api/v1/cases/export?format=csv&q={}", "楼道堆放杂物"));
            let client = t.client.clone();
            async move { client.get(url).bearer_auth(token).send().await.unwrap().text().await.unwrap() }
        };
        let (units, dispatchers) = (export(handler.clone()).await, export(dispatcher.clone()).await);
        assert!(units.contains("139****1111") && !units.contains("13900001111"), "{units}");
        assert!(units.contains("我是王**") && !units.contains("王小明"), "{units}");
        assert!(dispatchers.contains("13900001111"), "{dispatchers}");
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
                ("operator".to_string(), "intake".to_string()),
            ],
            "newest first; the unit's masked view is not a showing in clear"
        );
        assert_eq!(page["total"], 5);
        assert!(
            page["items"][0]["at"].as_str().unwrap().ends_with("+08:00")
                && page["items"][0]["case_number"] == number.as_str()
        );

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
    let rules =
        cityloop_domain::access::AccessRules { baseline_days: 28, factor: 5.0, min_cases: 3, ..Default::default() };
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

/// Creates `n` located hotline cases in category `category` with residents' phones, as the operator.
async fn hotline_cases(t: &crate::TestApp, category: &str, n: usize) {
    let operator = t.login("operator").await;
    let (_, lat, lon) = t.first_grid(&operator).await;
    for i in 0..n {
        t.create(
            &operator,
            json!({"channel": "hotline", "request_type": "complaint", "title": format!("问题{i}"),
                   "description": "回电13912345678", "category": category, "location": {"lat": lat, "lon": lon},
                   "contact": {"name": "赵六", "phone": format!("1370000{category}{i}")}}),
        )
        .await;
    }
}

#[tokio::test]
async fn a_data_recipients_token_exports_its_own_filter_without_contact_data_and_does_nothing_else() {
    on_every_engine(|t| async move {
        hotline_cases(&t, "06001", 3).await;
        hotline_cases(&t, "06005", 2).await;
        let admin = t.login("admin").await;
        let issue = |filter: &str| {
            let body = json!({"username": "leader", "name": "统计局", "days": 30, "export_filter": filter});
            let (t, admin) = (&t, admin.clone());
            async move { t.post(Some(&admin), "/api/v1/api-tokens", body).await }
        };
        let refused_filters = [
            ("bogus=1", "not a filter"),
            ("page=2", "paging"),
            ("category=nope", "no such category"),
            ("phone=13700000600", "a resident's phone"),
            ("category=", "names nothing"),
            ("", "empty"),
            ("  ", "blank"),
        ];
        for (filter, why) in refused_filters {
            let refused = issue(filter).await;
            assert_eq!(
                (refused.status, refused.body["error"]["field"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("export_filter")),
                "{why}: {}",
                refused.body
            );
        }
        let issued = issue("category=06001").await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
        let token = issued.body["token"].as_str().unwrap().to_string();
        let listed = t.get(Some(&admin), "/api/v1/api-tokens").await.ok();
        assert_eq!(listed[0]["export_filter"], "category=06001");

        // Its exports hold the filter's cases whatever it asks for, without residents' contact data.
        let export = |query: &str| {
            let url = t.url(&format!("/api/v1/cases/export?{query}"));
            t.client.get(url).bearer_auth(&token).send()
        };
        for query in ["format=csv", "format=csv&category=06005", "format=csv&category=06"] {
            let file = export(query).await.unwrap();
            assert_eq!(file.status(), StatusCode::OK, "{query}");
            assert_eq!(file.headers()["x-case-count"], "3", "{query}");
            let text = file.text().await.unwrap();
            assert!(!text.contains("137000006001"), "no phone in the file");
            assert!(text.contains("回电139****5678") && !text.contains("13912345678"), "{text}");
        }
        // Filters that could tell who reported what are closed to it.
        for query in ["format=csv&phone=137000006001", "format=csv&q=1370000"] {
            assert_eq!(export(query).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        }
        // Anything else is refused, on the API and the pages.
        for path in ["/api/v1/cases", "/api/v1/auth/me", "/api/v1/access-alerts"] {
            let refused = t.get(Some(&token), path).await;
            assert_eq!((refused.status, refused.error_code()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
        }
        let page = t.client.get(t.url("/cases")).header("cookie", format!("cl_session={token}")).send().await;
        assert_eq!(page.unwrap().status(), StatusCode::FORBIDDEN);
        // The export was counted for the watch.
        let events = t.get(Some(&admin), "/api/v1/access-events?kind=export&user=leader").await.ok();
        assert_eq!(events["total"], 3, "the three exports, not the refused ones");
        assert_eq!(events["items"][0]["amount"], 3);
        // Revoked, it opens nothing.
        let id = listed[0]["id"].as_str().unwrap();
        let revoked = t.client.delete(t.url(&format!("/api/v1/api-tokens/{id}"))).bearer_auth(&admin).send().await;
        assert_eq!(revoked.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(export("format=csv").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn bulk_exports_sign_ins_from_many_addresses_and_repeated_refusals_raise_alerts() {
    let rules = cityloop_domain::access::AccessRules {
        min_exported_cases: 4,
        min_login_addresses: 3,
        min_forbidden: 3,
        ..Default::default()
    };
    crate::on_every_engine_with(
        move |s| {
            s.access = rules;
            s.client_ip_header = Some("x-forwarded-for".into());
        },
        |t| async move {
            hotline_cases(&t, "06001", 4).await;
            let sign_in = |address: &'static str| {
                let t = &t;
                async move {
                    let answer = t
                        .client
                        .post(t.url("/api/v1/auth/login"))
                        .header("x-forwarded-for", address)
                        .json(&json!({"username": "dispatcher", "password": cityloop_app::demo::DEMO_PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(answer.status(), StatusCode::OK);
                    answer.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
                }
            };
            // The dispatcher signs in from three addresses, is refused three times and exports four cases.
            let dispatcher = sign_in("10.0.0.1").await;
            sign_in("10.0.0.2").await;
            sign_in("10.0.0.1").await;
            assert_eq!(t.app.watch_access().await.unwrap(), 0, "two addresses, nothing refused or exported");
            sign_in("10.0.0.3").await;
            for _ in 0..3 {
                assert_eq!(t.get(Some(&dispatcher), "/api/v1/contact-views").await.status, StatusCode::FORBIDDEN);
            }
            let file = t.client.get(t.url("/api/v1/cases/export?format=csv")).bearer_auth(&dispatcher).send().await;
            assert_eq!(file.unwrap().headers()["x-case-count"], "4");
            assert_eq!(t.app.watch_access().await.unwrap(), 3);

            let admin = t.login("admin").await;
            let alerts = t.get(Some(&admin), "/api/v1/access-alerts").await.ok();
            let mut kinds: Vec<(String, i64)> = alerts
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["kind"].as_str().unwrap().to_string(), a["count"].as_i64().unwrap()))
                .collect();
            kinds.sort();
            assert_eq!(
                kinds,
                vec![("bulk_export".into(), 4), ("forbidden".into(), 3), ("login_addresses".into(), 3)],
                "{alerts}"
            );
            for alert in alerts.as_array().unwrap() {
                let records = t.get(Some(&admin), alert["records"].as_str().unwrap()).await.ok();
                let expected = match alert["kind"].as_str().unwrap() {
                    "login_addresses" => 4,
                    "forbidden" => 3,
                    _ => 1,
                };
                assert_eq!(records["total"], expected, "{alert}: {records}");
                assert!(records["items"].as_array().unwrap().iter().all(|e| e["username"] == "dispatcher"));
            }
            let refused = t.get(Some(&admin), "/api/v1/access-events?kind=forbidden").await.ok();
            assert_eq!(refused["items"][0]["detail"], "GET /api/v1/contact-views");
            assert_eq!(refused["items"][0]["address"], "127.0.0.1", "sent without the proxy's header");
            let bad = t.get(Some(&admin), "/api/v1/access-events?kind=reads").await;
            assert_eq!(bad.body["error"]["field"], "kind");

            // Four weeks of signing in from the same three addresses every day make three usual.
            for _ in 0..28 {
                t.clock.advance(chrono::Duration::days(1));
                for address in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
                    sign_in(address).await;
                }
            }
            assert_eq!(t.app.watch_access().await.unwrap(), 0, "three addresses a day against a usual three");
        },
    )
    .await;
}

#[tokio::test]
async fn a_file_goes_only_to_who_uploaded_it_or_may_see_a_case_holding_it_and_residents_see_no_staff_remarks() {
    on_every_engine(|t| async move {
        let (operator, citizen, citizen2) =
            (t.login("operator").await, t.login("citizen").await, t.login("citizen2").await);
        let upload = |token: String, bytes: &'static [u8]| {
            let req = t.client.post(t.url("/api/v1/attachments")).bearer_auth(token).header("X-File-Name", "p.png");
            async move {
                req.body(bytes).send().await.unwrap().json::<Value>().await.unwrap()["hash"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        let (_, lat, lon) = t.first_grid(&operator).await;
        let report = |token: String| {
            let body = json!({"channel": "app", "request_type": "complaint", "title": "路灯不亮",
                              "description": "小区东门路灯坏了一周", "location": {"lat": lat, "lon": lon}});
            let t = &t;
            async move { t.create(&token, body).await["id"].as_i64().unwrap() }
        };
        let (mine, theirs) = (report(citizen.clone()).await, report(citizen2.clone()).await);
        const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\nstreet lamp";
        let photo = upload(operator.clone(), PHOTO).await;
        t.must(&operator, mine, "comment", json!({"note": "这人常打电话, 注意语气", "attachments": [photo]})).await;

        let file =
            |token: String| t.client.get(t.url(&format!("/api/v1/attachments/{photo}"))).bearer_auth(token).send();
        assert_eq!(file(citizen.clone()).await.unwrap().status(), StatusCode::OK, "on a case of theirs");
        assert_eq!(file(citizen2.clone()).await.unwrap().status(), StatusCode::NOT_FOUND, "on no case of theirs");
        // Knowing the hash does not put the file on one's own case.
        let borrowed = t.act(&citizen2, theirs, "comment", json!({"note": "同样的问题", "attachments": [photo]})).await;
        assert_eq!(
            (borrowed.status, borrowed.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("attachments"))
        );
        // Holding the same bytes is another matter: an upload of one's own is one's own.
        assert_eq!(upload(citizen2.clone(), PHOTO).await, photo);
        assert_eq!(file(citizen2.clone()).await.unwrap().status(), StatusCode::OK);
        t.must(&citizen2, theirs, "comment", json!({"note": "同样的问题", "attachments": [photo]})).await;

        // The resident sees their request's steps, not the staff's remarks about them.
        let seen = t.get(Some(&citizen), &format!("/api/v1/cases/{mine}")).await.ok();
        let flow = seen["flow"].as_array().unwrap();
        assert!(!seen.to_string().contains("常打电话"), "{seen}");
        assert_eq!(flow.len(), 1, "only their report: {seen}");
        let staff_view = t.get(Some(&operator), &format!("/api/v1/cases/{mine}")).await.ok();
        assert!(staff_view.to_string().contains("常打电话"));
    })
    .await;
}
