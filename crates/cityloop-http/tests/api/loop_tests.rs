//! The closed loop through the API, with every flow record and deadline checked.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::moves;
use crate::{on_every_engine, on_every_engine_with};

#[tokio::test]
async fn the_hotline_loop_runs_from_intake_to_reopen() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        let dispatcher = t.login("dispatcher").await;
        let (grid, lat, lon) = t.first_grid(&operator).await;

        // Intake: 路灯不亮 has a standard of 3 working days and the catalogue names 住建局.
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "小区门口路灯不亮",
                       "description": "一排路灯已经一周不亮了", "category": "11001",
                       "location": {"lat": lat, "lon": lon, "address": "湖滨路1号"},
                       "contact": {"name": "张三丰", "phone": "13812341234"}}),
            )
            .await;
        let id = case["id"].as_i64().unwrap();
        assert_eq!(case["state"], "reported");
        assert_eq!(case["version"], 1);
        assert_eq!(case["grid"], grid.as_str());
        assert!(case["number"].as_str().unwrap().starts_with("20261123-"));
        assert_eq!(case["contact"]["phone"], "13812341234", "operators see contact data in clear");
        assert_eq!(case["dispatch_preview"]["limit"], "3个工作日");
        assert_eq!(case["dispatch_preview"]["deadline"], "2026-11-26T18:00:00+08:00");
        assert_eq!(moves(&case), ["report"]);

        let filed = t.must(&lead, id, "file", json!({"version": 1})).await;
        assert_eq!((filed["state"].as_str(), filed["version"].as_i64()), (Some("registered"), Some(2)));
        let dispatched = t.must(&dispatcher, id, "dispatch", json!({})).await;
        assert_eq!(dispatched["state"], "pending_sign");
        assert_eq!(dispatched["unit"], case["dispatch_preview"]["unit"]);
        assert_eq!(dispatched["deadline"], "2026-11-26T18:00:00+08:00");
        let first_unit = dispatched["unit"].clone();

        let handler = t.login(&t.handler_of(&dispatched)).await;
        let seen_by_unit = t.get(Some(&handler), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(seen_by_unit["contact"]["phone"], "138****1234", "units see masked contact data");
        assert_eq!(seen_by_unit["allowed_moves"], json!(["sign", "return", "escalate", "comment"]));
        t.must(&handler, id, "sign", json!({})).await;
        let returned = t.must(&handler, id, "return", json!({"reason": "路灯归街道管理"})).await;
        assert_eq!((returned["state"].as_str(), returned["returns"].as_u64()), (Some("return_review"), Some(1)));
        t.must(&dispatcher, id, "approve-return", json!({})).await;

        // Re-dispatch to the street office an hour later; the first receiver stays on record.
        t.clock.advance(Duration::hours(1));
        let units = t.get(Some(&operator), "/api/v1/units").await.ok();
        let office = units.as_array().unwrap().iter().find(|u| u["kind"] == "street_office").unwrap()["id"].clone();
        let again = t.must(&dispatcher, id, "dispatch", json!({"unit": office})).await;
        assert_eq!((again["unit"].clone(), again["first_unit"].clone()), (office.clone(), first_unit));
        assert_eq!(again["deadline"], "2026-11-26T18:00:00+08:00");
        let office_handler = t.login(&t.handler_of(&again)).await;
        t.must(&office_handler, id, "sign", json!({})).await;

        // Extensions: at most the original limit, approved by the dispatcher.
        let too_long = t.act(&office_handler, id, "extend", json!({"days": 4, "reason": "需协调"})).await;
        assert_eq!(
            (too_long.status, too_long.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("days"))
        );
        let asked = t.must(&office_handler, id, "extend", json!({"days": 2, "reason": "需协调供电部门"})).await;
        assert_eq!(asked["pending"]["kind"], "extension");
        assert_eq!(asked["deadline"], "2026-11-26T18:00:00+08:00", "not moved before approval");
        let extended = t.must(&dispatcher, id, "approve-extension", json!({})).await;
        assert_eq!(extended["deadline"], "2026-11-30T18:00:00+08:00");
        assert_eq!(extended["extensions"], 1);

        t.clock.advance(Duration::hours(3));
        t.must(&office_handler, id, "submit", json!({"result": "已更换灯泡"})).await;
        let reworked = t.must(&dispatcher, id, "rework", json!({"reason": "未附照片"})).await;
        assert_eq!((reworked["state"].as_str(), reworked["reworks"].as_u64()), (Some("handling"), Some(1)));
        t.must(&office_handler, id, "submit", json!({"result": "已更换灯泡, 附现场照片"})).await;
        let revisited = t
            .must(
                &operator,
                id,
                "revisit",
                json!({"contacted": true, "solved": true, "satisfaction": "basically_satisfied"}),
            )
            .await;
        assert_eq!(revisited["state"], "close_pending");
        assert_eq!(revisited["revisit"]["satisfaction"], "basically_satisfied");
        let closed = t.must(&lead, id, "close", json!({})).await;
        assert_eq!(closed["state"], "closed");
        assert!(closed["closed_at"].is_string());

        // The resident calls again the next day: reopened with a fresh deadline.
        t.clock.advance(Duration::days(1));
        let operator = t.login("operator").await; // yesterday's token has expired
        let reopened = t.must(&operator, id, "reopen", json!({"note": "市民反映仍有两盏不亮"})).await;
        assert_eq!((reopened["state"].as_str(), reopened["reopens"].as_u64()), (Some("handling"), Some(1)));
        assert_eq!(reopened["deadline"], "2026-11-27T18:00:00+08:00");

        assert_eq!(
            moves(&reopened),
            [
                "report",
                "file",
                "dispatch",
                "sign",
                "return",
                "approve-return",
                "dispatch",
                "sign",
                "extend",
                "approve-extension",
                "submit",
                "rework",
                "submit",
                "revisit",
                "close",
                "reopen"
            ]
        );
        let flow = reopened["flow"].as_array().unwrap();
        let roles: Vec<&str> = flow.iter().map(|f| f["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            [
                "operator",
                "lead",
                "dispatcher",
                "handler",
                "handler",
                "dispatcher",
                "dispatcher",
                "handler",
                "handler",
                "dispatcher",
                "handler",
                "dispatcher",
                "handler",
                "operator",
                "lead",
                "operator"
            ]
        );
        for pair in flow.windows(2) {
            assert_eq!(pair[0]["to"], pair[1]["from"], "each record starts where the last ended");
            assert!(pair[0]["at"].as_str() <= pair[1]["at"].as_str() || pair[0]["at"] == pair[1]["at"]);
        }
        assert_eq!(flow[4]["note"], "路灯归街道管理");
        assert_eq!(flow[4]["unit"], dispatched["unit"], "the record names the unit that returned it");
        assert_eq!(flow[15]["note"], "市民反映仍有两盏不亮");
        assert_eq!(reopened["version"], 16);
    })
    .await;
}

#[tokio::test]
async fn the_inspector_path_verifies_and_checks_on_site() {
    on_every_engine(|t| async move {
        let citizen = t.login("citizen").await;
        let operator = t.login("operator").await;
        let inspector = t.login("inspector1").await;
        let lead = t.login("lead").await;
        let dispatcher = t.login("dispatcher").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        let case = t
            .create(
                &citizen,
                json!({"channel": "app", "request_type": "complaint", "title": "垃圾堆积",
                       "description": "路边垃圾好几天没清理", "location": {"lat": lat, "lon": lon}}),
            )
            .await;
        let id = case["id"].as_i64().unwrap();
        t.must(&operator, id, "request-verification", json!({})).await;
        // A finding is stated, never assumed; one that does not bear the report out says what was found.
        let unstated = t.act(&inspector, id, "verify", json!({"note": "现场看了"})).await;
        assert_eq!(
            (unstated.status, unstated.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("found"))
        );
        let bare = t.act(&inspector, id, "verify", json!({"found": false})).await;
        assert_eq!(
            (bare.status, bare.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
        );
        let verified = t.must(&inspector, id, "verify", json!({"found": true, "note": "现场属实"})).await;
        assert_eq!(verified["state"], "reported");
        let flow = verified["flow"].as_array().expect("the case's flow");
        let finding = flow.iter().find(|f| f["move"] == "verify").expect("the finding").clone();
        assert_eq!((finding["data"]["found"].as_bool(), finding["note"].as_str()), (Some(true), Some("现场属实")));
        let filed = t.must(&lead, id, "file", json!({"category": "06010"})).await;
        assert_eq!(filed["category"], "06010");
        let dispatched = t.must(&dispatcher, id, "dispatch", json!({})).await;
        // 4 working hours from Monday 09:00: three before lunch, one after.
        assert_eq!(dispatched["deadline"], "2026-11-23T15:00:00+08:00");
        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, id, "sign", json!({})).await;
        t.must(&handler, id, "submit", json!({"result": "已清理"})).await;
        // A failed check says what is left to do: the unit gets the case back with it.
        let unexplained = t.act(&inspector, id, "check", json!({"passed": false, "note": " "})).await;
        assert_eq!(
            (unexplained.status, unexplained.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
        );
        let failed = t.must(&inspector, id, "check", json!({"passed": false, "note": "仍有残留"})).await;
        assert_eq!((failed["state"].as_str(), failed["reworks"].as_u64()), (Some("handling"), Some(1)));
        t.must(&handler, id, "submit", json!({"result": "已彻底清理"})).await;
        let passed = t.must(&inspector, id, "check", json!({"passed": true})).await;
        assert_eq!(passed["state"], "close_pending");
        let closed = t.must(&lead, id, "close", json!({})).await;
        assert_eq!(
            moves(&closed),
            [
                "report",
                "request-verification",
                "verify",
                "file",
                "dispatch",
                "sign",
                "submit",
                "check",
                "submit",
                "check",
                "close"
            ]
        );
        // The resident sees their own case, another resident does not.
        assert_eq!(t.get(Some(&citizen), &format!("/api/v1/cases/{id}")).await.status, StatusCode::OK);
        let other = t.login("citizen2").await;
        assert_eq!(t.get(Some(&other), &format!("/api/v1/cases/{id}")).await.status, StatusCode::NOT_FOUND);
        let list = t.get(Some(&other), "/api/v1/cases").await.ok();
        assert_eq!(list["total"], 0);
    })
    .await;
}

#[tokio::test]
async fn the_background_job_marks_overdue_cases_once_and_issues_a_notice() {
    on_every_engine(|t| async move {
        let dispatcher = t.login("dispatcher").await;
        let (id, d) = t.dispatched_complaint("10005", "井盖缺失", "路口井盖不见了").await;
        assert_eq!(d["deadline"], "2026-11-23T11:00:00+08:00", "2 hours, continuous");
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 0);
        t.clock.advance(Duration::hours(3));
        let listed = t.get(Some(&dispatcher), "/api/v1/cases?overdue=true").await.ok();
        assert_eq!(listed["total"], 1);
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 1);
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 0, "never twice");
        let now = t.get(Some(&dispatcher), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(now["overdue"], true);
        assert_eq!(now["overdue_at"], "2026-11-23T12:00:00+08:00");
        let last = now["flow"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["move"].as_str(), last["actor"].as_str()), (Some("overdue"), Some("系统")));
        let notices = t.get(Some(&dispatcher), &format!("/api/v1/notices?case={id}")).await.ok();
        assert_eq!(notices.as_array().unwrap().len(), 1);
        assert_eq!(notices[0]["overdue"], true);
        let handler = t.login(&t.handler_of(&now)).await;
        let theirs = t.get(Some(&handler), "/api/v1/notices").await.ok();
        assert_eq!(theirs.as_array().unwrap().len(), 1, "the unit sees its notice");
    })
    .await;
}

#[tokio::test]
async fn a_case_given_a_new_deadline_is_marked_overdue_again_when_that_one_passes_too() {
    on_every_engine(|t| async move {
        let (operator, lead) = (t.login("operator").await, t.login("lead").await);
        let (id, d) = t.dispatched_complaint("10005", "井盖缺失", "路口井盖不见了").await;
        let handler = t.login(&t.handler_of(&d)).await;
        t.clock.advance(Duration::hours(3));
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 1);
        t.must(&handler, id, "sign", json!({})).await;
        t.must(&handler, id, "submit", json!({"result": "已补装井盖"})).await;
        let unsolved = json!({"contacted": true, "solved": false, "satisfaction": "unsatisfied"});
        t.must(&operator, id, "revisit", unsolved).await;
        t.must(&lead, id, "close", json!({})).await;
        // 重办: two more hours from now, a deadline nobody has missed yet.
        let reopened = t.must(&operator, id, "reopen", json!({"reason": "井盖又被偷了"})).await;
        assert_eq!((reopened["overdue"].as_bool(), reopened["overdue_at"].is_null()), (Some(false), true));
        assert_eq!(reopened["deadline"], "2026-11-23T14:00:00+08:00");
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 0);
        t.clock.advance(Duration::hours(3));
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 1, "the second deadline is missed too");
        assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 0, "once per deadline");
        let now = t.get(Some(&lead), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(now["overdue_at"], "2026-11-23T15:00:00+08:00");
        assert_eq!(moves(&now).iter().filter(|m| *m == "overdue").count(), 2, "the flow keeps the first");
        let notices = t.get(Some(&handler), &format!("/api/v1/notices?case={id}")).await.ok();
        let overdue = notices.as_array().unwrap().iter().filter(|n| n["overdue"] == true).count();
        assert_eq!(overdue, 2, "the unit hears of each");
    })
    .await;
}

#[tokio::test]
async fn a_city_that_restarts_the_limit_on_rework_gives_the_unit_a_new_deadline() {
    on_every_engine_with(
        |s| s.rework_restarts_limit = true,
        |t| async move {
            let dispatcher = t.login("dispatcher").await;
            let (id, d) = t.dispatched_complaint("10005", "井盖缺失", "路口井盖不见了").await;
            let handler = t.login(&t.handler_of(&d)).await;
            t.must(&handler, id, "sign", json!({})).await;
            t.clock.advance(Duration::hours(3));
            assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 1);
            t.must(&handler, id, "submit", json!({"result": "已补装井盖"})).await;
            let reworked = t.must(&dispatcher, id, "rework", json!({"reason": "未附照片"})).await;
            assert_eq!(reworked["deadline"], "2026-11-23T14:00:00+08:00", "2 hours from the rework");
            assert_eq!((reworked["overdue"].as_bool(), reworked["overdue_at"].is_null()), (Some(false), true));
            let record = reworked["flow"].as_array().unwrap().last().unwrap().clone();
            assert_eq!((record["move"].as_str(), record["note"].as_str()), (Some("rework"), Some("未附照片")));
            assert_eq!(record["data"]["deadline"], "2026-11-23T06:00:00Z", "as recorded, in UTC");
            t.clock.advance(Duration::hours(3));
            assert_eq!(t.app.run_jobs_once().await.unwrap().marked_overdue, 1, "the new deadline is watched");
        },
    )
    .await;
}

#[tokio::test]
async fn whistles_summon_units_and_merged_cases_close_with_their_master() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        let dispatcher = t.login("dispatcher").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        let body = json!({"channel": "hotline", "request_type": "complaint", "title": "工地夜间施工",
                          "description": "半夜打桩", "category": "08001", "location": {"lat": lat, "lon": lon}});
        let master = t.create(&operator, body.clone()).await;
        let dup = t.create(&operator, body).await;
        let (m, d) = (master["id"].as_i64().unwrap(), dup["id"].as_i64().unwrap());
        let merged = t.must(&operator, d, "merge", json!({"into": master["number"]})).await;
        assert_eq!((merged["state"].as_str(), merged["master"].as_i64()), (Some("merged"), Some(m)));

        t.must(&lead, m, "file", json!({})).await;
        let dispatched = t.must(&dispatcher, m, "dispatch", json!({})).await;
        // The street coordinator of the case's street summons two departments.
        let division = dispatched["division"].as_str().unwrap();
        let street = &division[..9];
        let coordinator = t.login(&format!("c-{street}-office")).await;
        let units = t.get(Some(&operator), "/api/v1/units").await.ok();
        let depts: Vec<_> = units
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["kind"] == "department" && u["code"].as_str().unwrap().starts_with(&division[..6]))
            .take(2)
            .map(|u| u["code"].as_str().unwrap().to_string())
            .collect();
        let whistled = t.must(&coordinator, m, "whistle", json!({"units": depts})).await;
        let whistles = whistled["whistles"].as_array().unwrap();
        assert_eq!(whistles.len(), 2);
        assert_eq!(whistles[0]["report_by"], "2026-11-23T10:00:00+08:00");
        let summoned = t.login(&format!("h-{}", depts[1])).await;
        let seen = t.get(Some(&summoned), &format!("/api/v1/cases/{m}")).await.ok();
        assert_eq!(seen["allowed_moves"], json!(["report-in"]));
        let reported = t.must(&summoned, m, "report-in", json!({})).await;
        assert!(reported["whistles"].as_array().unwrap().iter().any(|w| w["reported_at"].is_string()));
        let again = t.act(&summoned, m, "report-in", json!({})).await;
        assert_eq!((again.status, again.error_code()), (StatusCode::CONFLICT, "duplicate"), "{}", again.body);
        // The unit still to report in finds the case among its summonses; the one that did, no longer.
        let waiting = |code: String| {
            let t = &t;
            let operator = &operator;
            async move { t.get(Some(operator), &format!("/api/v1/cases?summoned={code}")).await.ok()["total"].clone() }
        };
        assert_eq!((waiting(depts[0].clone()).await, waiting(depts[1].clone()).await), (json!(1), json!(0)));
        // The one that did follows the case until it is done.
        let following = |code: String| {
            let t = &t;
            let operator = &operator;
            async move { t.get(Some(operator), &format!("/api/v1/cases?reported_in={code}")).await.ok()["total"].clone() }
        };
        assert_eq!((following(depts[0].clone()).await, following(depts[1].clone()).await), (json!(0), json!(1)));
        let own = t.get(Some(&summoned), &format!("/api/v1/cases?reported_in={}", depts[1])).await.ok();
        assert_eq!(own["items"][0]["number"], seen["number"], "{own}");
        // It notes what it did, where the lead unit and the desk read it.
        let noted = t.must(&summoned, m, "comment", json!({"note": "已派执法队员到现场"})).await;
        assert_eq!(noted["state"], seen["state"], "{noted}");
        // Whistling again summons no one afresh: the report-in and the limits stand.
        t.must(&coordinator, m, "whistle", json!({"units": depts})).await;
        let after = t.get(Some(&operator), &format!("/api/v1/cases/{m}")).await.ok();
        let whistles = after["whistles"].as_array().unwrap();
        assert!(whistles.iter().all(|w| w["report_by"] == "2026-11-23T10:00:00+08:00"), "{whistles:?}");
        assert_eq!(whistles.iter().filter(|w| w["reported_at"].is_string()).count(), 1);
        // The lead unit handles the case already.
        let lead_unit = dispatched["unit"].clone();
        let refused = t.act(&coordinator, m, "whistle", json!({"units": [lead_unit]})).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("units"))
        );

        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, m, "sign", json!({})).await;
        t.must(&handler, m, "submit", json!({"result": "已责令停工"})).await;
        t.must(&operator, m, "revisit", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"})).await;
        t.must(&lead, m, "close", json!({})).await;
        let child = t.get(Some(&operator), &format!("/api/v1/cases/{d}")).await.ok();
        assert_eq!(child["state"], "closed");
        assert_eq!(moves(&child), ["report", "merge", "close-with-master"]);
        // Each resident is still called back.
        let revisited = t
            .must(&operator, d, "revisit", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
            .await;
        assert_eq!(revisited["state"], "closed");
        let again = t
            .act(&operator, d, "revisit", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"}))
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let kids = t.get(Some(&operator), &format!("/api/v1/cases?master={m}")).await.ok();
        assert_eq!(kids["total"], 1);
    })
    .await;
}

#[tokio::test]
async fn duplicates_follow_their_master_when_it_is_merged_on_or_voided() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        let (_, lat, lon) = t.first_grid(&operator).await;
        let body = json!({"channel": "hotline", "request_type": "complaint", "title": "路边垃圾成堆",
                          "description": "路边垃圾没人清", "category": "06010", "location": {"lat": lat, "lon": lon}});
        let mut ids = Vec::new();
        for _ in 0..5 {
            let case = t.create(&operator, body.clone()).await;
            ids.push((case["id"].as_i64().unwrap(), case["number"].as_str().unwrap().to_string()));
        }
        let (a, b, c, d, e) = (&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]);
        // B joins A, then A joins C: B now waits on C, and says so.
        t.must(&operator, b.0, "merge", json!({"into": a.1})).await;
        t.must(&operator, a.0, "merge", json!({"into": c.1})).await;
        let followed = t.get(Some(&operator), &format!("/api/v1/cases/{}", b.0)).await.ok();
        assert_eq!((followed["state"].as_str(), followed["master"].as_i64()), (Some("merged"), Some(c.0)));
        assert_eq!(moves(&followed), ["report", "merge", "merge"]);
        let kids = t.get(Some(&operator), &format!("/api/v1/cases?master={}", c.0)).await.ok();
        assert_eq!(kids["total"], 2, "both wait on C");
        // E joins D, and D is voided as a false report: E is the same report, voided with it.
        t.must(&operator, e.0, "merge", json!({"into": d.1})).await;
        t.must(&lead, d.0, "void", json!({"reason": "误报"})).await;
        let voided = t.get(Some(&operator), &format!("/api/v1/cases/{}", e.0)).await.ok();
        assert_eq!(voided["state"], "voided");
        assert_eq!(moves(&voided), ["report", "merge", "close-with-master"]);
        let left = t.get(Some(&operator), "/api/v1/cases?state=merged").await.ok();
        let stranded: Vec<&str> = left["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["master"].as_i64() != Some(c.0))
            .map(|i| i["number"].as_str().unwrap())
            .collect();
        assert!(stranded.is_empty(), "no duplicate waits on a case that will not close: {stranded:?}");
    })
    .await;
}

#[tokio::test]
async fn a_retried_submission_with_the_same_idempotency_key_returns_the_first_case() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let body = json!({"channel": "hotline", "request_type": "consultation", "title": "咨询", "description": "居住证怎么办"});
        let send = || {
            t.client.post(t.url("/api/v1/cases")).bearer_auth(&operator).header("Idempotency-Key", "call-42").json(&body).send()
        };
        let first = send().await.unwrap();
        assert_eq!(first.status(), StatusCode::CREATED);
        let first: serde_json::Value = first.json().await.unwrap();
        let second = send().await.unwrap();
        assert_eq!(second.status(), StatusCode::CREATED);
        assert_eq!(second.headers()["idempotent-replayed"], "true");
        let second: serde_json::Value = second.json().await.unwrap();
        assert_eq!(first["id"], second["id"]);
        assert_eq!((&first["created_at"], &first["flow"]), (&second["created_at"], &second["flow"]), "the same answer");
        // The same key for another request is a mistake of the caller's, not a replay.
        let mut other = body.clone();
        other["title"] = json!("咨询社保");
        let reused = t
            .client
            .post(t.url("/api/v1/cases"))
            .bearer_auth(&operator)
            .header("Idempotency-Key", "call-42")
            .json(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let reused: serde_json::Value = reused.json().await.unwrap();
        assert_eq!(reused["error"]["field"], "Idempotency-Key", "{reused}");
        let all = t.get(Some(&operator), "/api/v1/cases").await.ok();
        assert_eq!(all["total"], 1);
        // Answered on the spot.
        let answered = t.must(&operator, first["id"].as_i64().unwrap(), "answer", json!({"answer": "携带身份证到街道便民服务中心办理"})).await;
        assert_eq!((answered["state"].as_str(), answered["result"].as_str()), (Some("closed"), Some("携带身份证到街道便民服务中心办理")));
    })
    .await;
}

#[tokio::test]
async fn of_two_clerks_acting_at_once_one_wins_and_the_other_gets_a_conflict() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let lead = t.login("lead").await;
        for round in 0..4 {
            let case = t
                .create(&operator, json!({"channel": "web", "request_type": "complaint", "title": format!("并发{round}"), "description": "x", "category": "31002"}))
                .await;
            let id = case["id"].as_i64().unwrap();
            let (a, b) = tokio::join!(
                t.act(&lead, id, "file", json!({"version": 1})),
                t.act(&lead, id, "void", json!({"version": 1, "reason": "重复"})),
            );
            let mut statuses = [a.status.as_u16(), b.status.as_u16()];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "{} / {}", a.body, b.body);
            let loser = if a.status == StatusCode::CONFLICT { &a } else { &b };
            assert!(["stale_version", "illegal_move"].contains(&loser.error_code()));
            let now = t.get(Some(&lead), &format!("/api/v1/cases/{id}")).await.ok();
            assert_eq!(now["version"], 2);
            assert_eq!(now["flow"].as_array().unwrap().len(), 2, "exactly one move recorded");
        }
        // Remarks sent without a version claim no state of the case: each is recorded.
        let case = t.create(&operator, json!({"channel": "web", "request_type": "complaint", "title": "并发备注", "description": "x"})).await;
        let id = case["id"].as_i64().unwrap();
        let remarks = (0..8).map(|i| t.act(&lead, id, "comment", json!({"note": format!("备注{i}")})));
        for answer in futures_util::future::join_all(remarks).await {
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
        let now = t.get(Some(&lead), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(now["flow"].as_array().unwrap().len(), 9, "the report and eight remarks");
    })
    .await;
}

#[tokio::test]
async fn suspensions_resume_by_themselves_and_cases_can_be_supervised_and_escalated() {
    on_every_engine(|t| async move {
        let dispatcher = t.login("dispatcher").await;
        let (id, d) = t.dispatched_complaint("08003", "违章搭建", "楼顶搭彩钢房").await;
        let handler = t.login(&t.handler_of(&d)).await;
        t.must(&handler, id, "sign", json!({})).await;
        let before = d["deadline"].as_str().unwrap().to_string();

        let supervised = t.must(&dispatcher, id, "supervise", json!({"level": 2})).await;
        assert_eq!(supervised["supervision_level"], 2);
        let notices = t.get(Some(&handler), &format!("/api/v1/notices?case={id}")).await.ok();
        assert_eq!((notices[0]["level"].as_u64(), notices[0]["overdue"].as_bool()), (Some(2), Some(false)));
        // The case's number, as staff read it, names it as well; an unknown one is not found.
        let number = d["number"].as_str().unwrap();
        let by_number = t.get(Some(&handler), &format!("/api/v1/notices?case={number}")).await.ok();
        assert_eq!(by_number, notices);
        let unknown = t.get(Some(&handler), "/api/v1/notices?case=20990101-000001").await;
        assert_eq!(unknown.status, reqwest::StatusCode::NOT_FOUND);
        // Another unit cannot tell whether the case exists.
        let elsewhere = t.login("h-990102001-office").await;
        assert_ne!(d["unit_code"], "990102001-office");
        let hidden = t.get(Some(&elsewhere), &format!("/api/v1/notices?case={number}")).await;
        assert_eq!(hidden.status, reqwest::StatusCode::NOT_FOUND, "{}", hidden.body);

        t.must(&handler, id, "suspend", json!({"until": "2026-11-30", "reason": "等待规划部门认定"})).await;
        let suspended = t.must(&dispatcher, id, "approve-suspension", json!({})).await;
        assert_eq!(suspended["state"], "suspended");
        assert_eq!(suspended["suspended_until"], "2026-11-30T00:00:00+08:00");
        assert_eq!(t.app.run_jobs_once().await.unwrap().resumed, 0, "not before its date");
        t.clock.advance(Duration::days(7)); // Monday 2026-11-30 09:00
        assert_eq!(t.app.run_jobs_once().await.unwrap().resumed, 1);
        let dispatcher = t.login("dispatcher").await;
        let resumed = t.get(Some(&dispatcher), &format!("/api/v1/cases/{id}")).await.ok();
        assert_eq!(resumed["state"], "handling");
        assert_eq!(moves(&resumed).last().map(String::as_str), Some("resume"));
        assert!(resumed["deadline"].as_str().unwrap() > before.as_str(), "the time left is given back");
        let again = t.act(&dispatcher, id, "approve-suspension", json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        // Escalation hands the case to the unit above, which must sign it.
        let handler = t.login(&t.handler_of(&d)).await;
        let escalated = t.must(&handler, id, "escalate", json!({"note": "需区政府协调"})).await;
        assert_eq!((escalated["state"].as_str(), escalated["escalations"].as_u64()), (Some("pending_sign"), Some(1)));
        assert!(escalated["unit_code"].as_str().unwrap().ends_with("-gov"));
        assert_eq!(
            t.get(Some(&handler), &format!("/api/v1/cases/{id}")).await.status,
            StatusCode::NOT_FOUND,
            "no longer theirs"
        );
    })
    .await;
}

#[tokio::test]
async fn an_address_without_coordinates_places_the_case_in_its_community() {
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let reference = t.app.reference();
        let community = reference
            .divisions
            .iter()
            .find(|d| d.level == cityloop_domain::enums::DivisionLevel::Community)
            .expect("a community")
            .clone();
        let body = json!({"channel": "hotline", "request_type": "complaint", "title": "井盖松动",
                          "description": "人行道井盖松动", "category": "11001",
                          "address": format!("{}文三路281号", community.name)});
        let case = t.create(&operator, body).await;
        let grid = reference.grid_by_code(case["grid"].as_str().expect("a grid")).unwrap();
        assert_eq!(grid.division_id, Some(community.id), "placed in the community the address names");
        assert!(case["location"]["address"].as_str().unwrap().contains("文三路281号"));
        assert_eq!(case["flow"][0]["data"]["placed_by_address"], community.name.as_str());

        let unknown = t
            .post(
                Some(&operator),
                "/api/v1/cases",
                json!({"channel": "hotline", "request_type": "complaint", "title": "井盖松动",
                       "description": "人行道井盖松动", "address": "火星殖民地一号"}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.body["error"]["field"], "address");
    })
    .await;
}
