//! Administrators correct the reference data a city runs on: a category's name and case standard,
//! a unit's name, kind and place in the tree.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::on_every_engine;

fn field_names(answer: &Value) -> Vec<&str> {
    answer["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_administrator_changes_a_categorys_standard_and_new_cases_follow_it() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let operator = t.login("operator").await;
        let street_lamps = json!({"name": "路灯不亮", "standard": {
            "limit_amount": 5, "limit_mode": "working_days", "urgency": "urgent",
            "filing_condition": "路灯不亮或损坏", "closing_condition": "路灯恢复照明"}});
        let changed = t.put(&admin, "/api/v1/categories/11001", street_lamps.clone()).await.ok();
        assert_eq!(changed["name"], "路灯不亮");
        assert_eq!(changed["own_standard"], true);
        assert_eq!(changed["standard"]["limit_text"], "5个工作日");
        assert_eq!(changed["standard"]["urgency"], "urgent");
        let (_, lat, lon) = t.first_grid(&operator).await;
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "路灯不亮",
                       "description": "小区门口路灯坏了", "category": "11001",
                       "location": {"lat": lat, "lon": lon}}),
            )
            .await;
        assert_eq!(case["dispatch_preview"]["limit"], "5个工作日", "a new case is given the new limit");

        // Every wrong field at once, and nothing changes.
        let wrong = t
            .put(
                &admin,
                "/api/v1/categories/11001",
                json!({"name": " ", "standard": {"limit_amount": 0, "limit_mode": "fortnights", "urgency": "asap"}}),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_names(&wrong.body), ["name", "limit_mode", "urgency"]);
        let too_long = json!({"name": "路灯不亮", "standard": {"limit_amount": 400, "limit_mode": "calendar_days", "urgency": "normal"}});
        let refused = t.put(&admin, "/api/v1/categories/11001", too_long).await;
        assert_eq!((refused.status, refused.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit_amount")));
        // A leaf with nothing above it to follow keeps a standard of its own.
        let bare = t.put(&admin, "/api/v1/categories/11001", json!({"name": "路灯不亮", "standard": null})).await;
        assert_eq!(bare.body["error"]["field"], "standard", "{}", bare.body);
        let categories = t.get(Some(&admin), "/api/v1/categories").await.ok();
        let lamp = categories.as_array().unwrap().iter().find(|c| c["code"] == "11001").unwrap().clone();
        assert_eq!(lamp["standard"]["limit_text"], "5个工作日", "refused edits leave the category as it was");
        // Two categories of one name under one parent would be one to the category import.
        let sibling = categories
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["parent"] == lamp["parent"] && c["code"] != "11001")
            .expect("a sibling")["name"]
            .clone();
        let twin = t.put(&admin, "/api/v1/categories/11001", json!({"name": sibling, "standard": street_lamps["standard"]})).await;
        assert_eq!(twin.body["error"]["field"], "name");

        // A group's standard that a category below it follows stays until that one has its own.
        let group = lamp["parent"].as_str().unwrap().to_string();
        let group_name = categories.as_array().unwrap().iter().find(|c| c["code"] == group.as_str()).unwrap()["name"].clone();
        let group_standard = json!({"limit_amount": 2, "limit_mode": "working_days", "urgency": "normal"});
        t.put(&admin, &format!("/api/v1/categories/{group}"), json!({"name": group_name, "standard": group_standard}))
            .await
            .ok();
        let follows = t.put(&admin, "/api/v1/categories/11001", json!({"name": "路灯不亮", "standard": null})).await.ok();
        assert_eq!((follows["own_standard"].as_bool(), follows["standard"]["limit_text"].as_str()), (Some(false), Some("2个工作日")));
        let dropped = t.put(&admin, &format!("/api/v1/categories/{group}"), json!({"name": group_name, "standard": null})).await;
        assert_eq!((dropped.status, dropped.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("standard")));

        let renamed = t.put(&admin, "/api/v1/categories/06010", json!({"name": "暴露垃圾（含建筑垃圾）"})).await.ok();
        assert_eq!((renamed["own_standard"].as_bool(), renamed["standard"]["limit_text"].as_str()), (Some(true), Some("4个工作时")));

        let missing = t.put(&admin, "/api/v1/categories/99999", street_lamps.clone()).await;
        assert_eq!((missing.status, missing.error_code()), (StatusCode::NOT_FOUND, "not_found"));
        let not_admin = t.put(&operator, "/api/v1/categories/11001", street_lamps).await;
        assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn an_administrator_renames_and_moves_a_unit_but_not_under_itself() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let units = t.get(Some(&admin), "/api/v1/units").await.ok();
        let units = units.as_array().unwrap();
        let office = units.iter().find(|u| u["kind"] == "street_office").unwrap().clone();
        let code = office["code"].as_str().unwrap();
        let child = units.iter().find(|u| u["parent"] == office["id"]).expect("a unit under the office").clone();
        let parent = units.iter().find(|u| u["id"] == office["parent"]).unwrap()["code"].clone();

        let renamed = t
            .put(
                &admin,
                &format!("/api/v1/units/{code}"),
                json!({"name": "新城街道办事处", "kind": "street_office", "parent": parent, "division": office["division"]}),
            )
            .await
            .ok();
        assert_eq!((renamed["name"].as_str(), renamed["id"].clone()), (Some("新城街道办事处"), office["id"].clone()));
        assert_eq!(renamed["division"], office["division"], "the area stays as sent");
        // Fields left out keep their values; null clears them.
        let named_only = json!({"name": "新城街道", "kind": "street_office"});
        let kept = t.put(&admin, &format!("/api/v1/units/{code}"), named_only).await.ok();
        assert_eq!((kept["parent"].clone(), kept["division"].clone()), (office["parent"].clone(), office["division"].clone()));

        let under_child = t
            .put(
                &admin,
                &format!("/api/v1/units/{code}"),
                json!({"name": "新城街道办事处", "kind": "office", "parent": child["code"], "division": "nowhere"}),
            )
            .await;
        assert_eq!(under_child.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_names(&under_child.body), ["kind", "parent", "division"]);
        let again = t.get(Some(&admin), "/api/v1/units").await.ok();
        let now = again.as_array().unwrap().iter().find(|u| u["code"] == code).unwrap().clone();
        assert_eq!((now["parent"].clone(), now["kind"].clone()), (office["parent"].clone(), office["kind"].clone()));
        let handler = t.login(&format!("h-{code}")).await;
        let refused = t.put(&handler, &format!("/api/v1/units/{code}"), json!({"name": "x", "kind": "street_office"})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn the_dispatch_preview_promises_no_deadline_for_a_category_that_groups_others() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let (grid, _, _) = t.first_grid(&operator).await;
        let heading = t.get(Some(&operator), &format!("/api/v1/dispatch-preview?category=06&grid={grid}")).await.ok();
        assert_eq!((heading["limit"].clone(), heading["deadline"].clone()), (Value::Null, Value::Null), "{heading}");
        let leaf = t.get(Some(&operator), &format!("/api/v1/dispatch-preview?category=11001&grid={grid}")).await.ok();
        assert_eq!(leaf["limit"], "3个工作日");
        assert!(leaf["deadline"].as_str().is_some_and(|d| d.ends_with("+08:00")), "{leaf}");
        // A case taken in under the heading gets no promise either.
        let created = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "街面脏乱",
                       "description": "街面很脏", "category": "06"}),
            )
            .await;
        assert_eq!(created["dispatch_preview"]["deadline"], Value::Null, "{created}");
    })
    .await;
}

#[tokio::test]
async fn an_administrator_moves_a_handler_to_another_unit_and_their_next_request_sees_it() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let handler = t.login("h-990101001-office").await;
        let before = t.get(Some(&handler), "/api/v1/auth/me").await.ok();
        let units = t.get(Some(&admin), "/api/v1/units").await.ok();
        let other = units
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["kind"] == "street_office" && u["id"] != before["unit"])
            .expect("another street office")
            .clone();
        let path = "/api/v1/users/h-990101001-office";
        let moved =
            t.put(&admin, path, json!({"name": "王处置", "roles": ["handler"], "unit": other["code"]})).await.ok();
        assert_eq!((moved["name"].as_str(), moved["unit"].clone()), (Some("王处置"), other["id"].clone()), "{moved}");
        let after = t.get(Some(&handler), "/api/v1/auth/me").await.ok();
        assert_eq!(after["unit"], other["id"], "the session sees the new unit at once: {after}");
        // A handler belongs to a unit; an administrator keeps their own admin role; unknown users are 404.
        let unitless = t.put(&admin, path, json!({"name": "王处置", "roles": ["handler"], "unit": null})).await;
        assert_eq!((unitless.status, field_names(&unitless.body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["unit"]));
        let own = t.put(&admin, "/api/v1/users/admin", json!({"name": "管理员", "roles": ["operator"]})).await;
        assert_eq!((own.status, field_names(&own.body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["roles"]));
        let nobody = t.put(&admin, "/api/v1/users/nobody", json!({"name": "x", "roles": ["leader"]})).await;
        assert_eq!(nobody.status, StatusCode::NOT_FOUND);
        let inspector =
            t.put(&admin, "/api/v1/users/inspector1", json!({"name": "监督员1", "roles": ["inspector"]})).await.ok();
        assert!(!inspector["grids"].as_array().unwrap().is_empty(), "grids left out are kept: {inspector}");
        // An inspector works in grids, a coordinator in their unit's area: neither is made without them.
        let gridless = t
            .put(&admin, "/api/v1/users/inspector1", json!({"name": "监督员1", "roles": ["inspector"], "grids": []}))
            .await;
        assert_eq!((gridless.status, field_names(&gridless.body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["grids"]));
        let department = units.as_array().unwrap().iter().find(|u| u["kind"] == "department").unwrap().clone();
        let code = department["code"].as_str().unwrap();
        let arealess = json!({"name": department["name"], "kind": "department", "division": null});
        t.put(&admin, &format!("/api/v1/units/{code}"), arealess).await.ok();
        let adrift = json!({"username": "c-adrift", "password": "a-long-password-1", "name": "协调员",
            "roles": ["coordinator"], "unit": code});
        let adrift = t.post(Some(&admin), "/api/v1/users", adrift).await;
        assert_eq!((adrift.status, field_names(&adrift.body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["unit"]));
        let unchanged = t.get(Some(&admin), "/api/v1/users").await.ok();
        assert!(!unchanged.to_string().contains("c-adrift"), "nothing is stored for a refused account");
        // Nor does a street office with a coordinator lose its area.
        let office = json!({"name": "街道办事处", "kind": "street_office", "division": null});
        let kept = t.put(&admin, "/api/v1/units/990101001-office", office).await;
        assert_eq!((kept.status, field_names(&kept.body)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["division"]));
        let still = t.get(Some(&admin), "/api/v1/units").await.ok();
        let office = still.as_array().unwrap().iter().find(|u| u["code"] == "990101001-office").unwrap().clone();
        assert!(office["division"].is_string(), "{office}");
    })
    .await;
}
