//! Webhooks delivered over real HTTP to a receiver on loopback: signed events for the moves of a case,
//! a failed delivery retried after its backoff, a delivery to a refused address and an exhausted one on
//! the dead-letter list, sent again by an administrator.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use chrono::Duration;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use cityloop_app::Clock;

use crate::helpers::TestApp;
use crate::on_every_engine;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Received>>,
    /// `/hook` answers 500 to the first `case.dispatched` delivery.
    dispatched_failed: AtomicBool,
    /// `/fail` answers 503 while this is set.
    failing: AtomicBool,
}

async fn receive(State(r): State<Arc<Receiver>>, uri: Uri, headers: HeaderMap, body: String) -> AxumStatus {
    let headers: HashMap<String, String> = headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-cityloop-") || k.as_str() == "content-type")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let event = headers.get("x-cityloop-event").cloned().unwrap_or_default();
    let path = uri.path().to_string();
    r.got.lock().unwrap().push(Received { path: path.clone(), headers, body });
    match path.as_str() {
        "/fail" if r.failing.load(Ordering::SeqCst) => AxumStatus::SERVICE_UNAVAILABLE,
        "/hook" if event == "case.dispatched" && !r.dispatched_failed.swap(true, Ordering::SeqCst) => {
            AxumStatus::INTERNAL_SERVER_ERROR
        }
        _ => AxumStatus::OK,
    }
}

async fn start_receiver() -> (Arc<Receiver>, u16) {
    let receiver = Arc::new(Receiver { failing: AtomicBool::new(true), ..Receiver::default() });
    let app = axum::Router::new().fallback(receive).with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, port)
}

fn verify(secret: &str, r: &Received) {
    let ts = &r.headers["x-cityloop-timestamp"];
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.headers["x-cityloop-signature"], expected, "signature of {}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
}

async fn subscribe(t: &TestApp, admin: &str, url: String, events: Value, allow_private: bool) -> Value {
    let a = t
        .post(Some(admin), "/api/v1/webhooks", json!({"url": url, "events": events, "allow_private": allow_private}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    a.body
}

async fn deliveries(t: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    t.get(Some(admin), &format!("/api/v1/webhook-deliveries?{query}")).await.ok().as_array().unwrap().clone()
}

#[tokio::test]
async fn events_are_signed_retried_and_dead_lettered() {
    on_every_engine(|t| async move {
        let (receiver, port) = start_receiver().await;
        let admin = t.login("admin").await;
        let operator = t.login("operator").await;

        // Only administrators subscribe; a loopback address needs their explicit leave; events are checked.
        let hook_url = format!("http://127.0.0.1:{port}/hook");
        let a = t.post(Some(&operator), "/api/v1/webhooks", json!({"url": hook_url, "events": ["case.created"]})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let a = t.post(Some(&admin), "/api/v1/webhooks", json!({"url": hook_url, "events": ["case.created"]})).await;
        assert_eq!(
            (a.status, a.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("url")),
            "{}",
            a.body
        );
        let a = t
            .post(
                Some(&admin),
                "/api/v1/webhooks",
                json!({"url": hook_url, "events": ["case.closed-ish"], "allow_private": true}),
            )
            .await;
        assert_eq!((a.status, a.body["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("events")));

        let all = json!(["case.created", "case.dispatched", "case.state_changed", "case.overdue"]);
        let hook = subscribe(&t, &admin, hook_url, all, true).await;
        let secret = hook["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        // A name is resolved at delivery: `localhost` is loopback and this subscription may not go there.
        let guarded =
            subscribe(&t, &admin, format!("http://localhost:{port}/guarded"), json!(["case.created"]), false).await;
        let failing =
            subscribe(&t, &admin, format!("http://127.0.0.1:{port}/fail"), json!(["case.created"]), true).await;

        let (_, lat, lon) = t.first_grid(&operator).await;
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "complaint", "title": "垃圾清运不及时",
                "description": "小区门口垃圾三天没人清运", "category": "06005", "location": {"lat": lat, "lon": lon},
                "contact": {"name": "王女士", "phone": "13800138000"}}),
            )
            .await;
        let id = case["id"].as_i64().unwrap();
        t.must(&t.login("lead").await, id, "file", json!({})).await;
        t.must(&t.login("dispatcher").await, id, "dispatch", json!({})).await;

        let step = t.app.run_webhooks_once().await.unwrap();
        // /hook: created, filed (state), dispatched + state; /guarded and /fail: created.
        assert_eq!(step.queued, 6, "{step:?}");
        assert_eq!((step.delivered, step.retried, step.dead), (3, 2, 1), "{step:?}");

        let got = receiver.got.lock().unwrap().clone();
        assert!(got.iter().all(|r| r.path != "/guarded"), "nothing reaches a refused address");
        let to_hook: Vec<&Received> = got.iter().filter(|r| r.path == "/hook").collect();
        assert_eq!(to_hook.len(), 4);
        for r in &to_hook {
            verify(&secret, r);
            assert!(!r.body.contains("13800138000") && !r.body.contains("王女士"), "no contact data: {}", r.body);
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(body["case"]["number"], case["number"]);
            assert_eq!(body["type"].as_str(), r.headers.get("x-cityloop-event").map(String::as_str));
            assert_eq!(body["id"].as_str(), r.headers.get("x-cityloop-delivery").map(String::as_str));
        }
        let created = to_hook.iter().find(|r| r.headers["x-cityloop-event"] == "case.created").unwrap();
        let created: Value = serde_json::from_str(&created.body).unwrap();
        assert_eq!(created["case"]["category"]["code"], "06005");
        assert_eq!(
            (created["move"]["kind"].as_str(), created["move"]["to"].as_str()),
            (Some("report"), Some("reported"))
        );

        // The failed dispatch event waits for its backoff (30 s), then goes again with the same id.
        let pending = deliveries(&t, &admin, &format!("webhook={}&state=pending", hook["id"])).await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!((pending[0]["event"].as_str(), pending[0]["attempts"].as_i64()), (Some("case.dispatched"), Some(1)));
        assert_eq!(pending[0]["last_status"], 500);
        assert_eq!(t.app.run_webhooks_once().await.unwrap().delivered, 0, "not before its time");
        t.clock.advance(Duration::seconds(31));
        assert_eq!(t.app.run_webhooks_once().await.unwrap().delivered, 1);
        let dispatched: Vec<Received> = receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == "/hook" && r.headers["x-cityloop-event"] == "case.dispatched")
            .cloned()
            .collect();
        assert_eq!(dispatched.len(), 2);
        assert_eq!(dispatched[0].headers["x-cityloop-delivery"], dispatched[1].headers["x-cityloop-delivery"]);
        verify(&secret, &dispatched[1]);

        // The refused address is dead at once, with the reason in the log.
        let dead = deliveries(&t, &admin, &format!("webhook={}&state=dead", guarded["id"])).await;
        assert_eq!(dead.len(), 1);
        assert!(dead[0]["last_error"].as_str().unwrap().contains("private, loopback"), "{}", dead[0]);

        // The failing receiver: retried with growing waits until the last attempt, then dead.
        for _ in 0..12 {
            t.clock.advance(Duration::hours(7));
            t.app.run_webhooks_once().await.unwrap();
        }
        // Days have passed: sign in again.
        let (admin, operator) = (t.login("admin").await, t.login("operator").await);
        let dead = deliveries(&t, &admin, &format!("webhook={}&state=dead", failing["id"])).await;
        assert_eq!((dead.len(), dead[0]["attempts"].as_i64()), (1, Some(10)), "{dead:?}");
        let delivery = dead[0]["id"].as_i64().unwrap();
        let one = t.get(Some(&admin), &format!("/api/v1/webhook-deliveries/{delivery}")).await.ok();
        let log = one["attempt_log"].as_array().unwrap();
        assert_eq!(log.len(), 10);
        assert!(log.iter().all(|a| a["status"] == 503));

        // An administrator sends it again once the receiver is back.
        receiver.failing.store(false, Ordering::SeqCst);
        let a = t.post(Some(&operator), &format!("/api/v1/webhook-deliveries/{delivery}/retry"), json!({})).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let a = t.post(Some(&admin), &format!("/api/v1/webhook-deliveries/{delivery}/retry"), json!({})).await;
        assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
        assert_eq!(t.app.run_webhooks_once().await.unwrap().delivered, 1);
        let one = t.get(Some(&admin), &format!("/api/v1/webhook-deliveries/{delivery}")).await.ok();
        assert_eq!((one["state"].as_str(), one["last_status"].as_i64()), (Some("delivered"), Some(200)));
        assert_eq!(one["attempt_log"].as_array().unwrap().len(), 11);
        let a = t.post(Some(&admin), &format!("/api/v1/webhook-deliveries/{delivery}/retry"), json!({})).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "only dead deliveries are sent again");

        // A stopped subscription gets no more events.
        let stop = t
            .client
            .delete(t.url(&format!("/api/v1/webhooks/{}", hook["id"])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(stop.status(), StatusCode::NO_CONTENT);
        t.must(
            &t.login(&t.handler_of(&t.get(Some(&admin), &format!("/api/v1/cases/{id}")).await.ok())).await,
            id,
            "sign",
            json!({}),
        )
        .await;
        assert_eq!(t.app.run_webhooks_once().await.unwrap().queued, 0);

        // Two nodes: a delivery leased by one is not taken by the other, and only the holder records it.
        receiver.failing.store(true, Ordering::SeqCst);
        let stop = t
            .client
            .delete(t.url(&format!("/api/v1/webhooks/{}", guarded["id"])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(stop.status(), StatusCode::NO_CONTENT);
        t.create(
            &operator,
            json!({"channel": "hotline", "request_type": "consultation", "title": "咨询停车收费",
            "description": "小区停车怎么收费", "location": {"lat": lat, "lon": lon}}),
        )
        .await;
        assert_eq!(t.app.queue_webhook_events().await.unwrap(), 1, "only /fail still listens to case.created");
        let waiting = deliveries(&t, &admin, &format!("webhook={}&state=pending", failing["id"])).await;
        let waiting_id = waiting[0]["id"].as_i64().unwrap();
        let now = t.clock.now();
        let held = t.app.store.lease_delivery(waiting_id, now, now + Duration::seconds(60), "node-a").await.unwrap();
        assert_eq!(held, Some(0));
        assert_eq!(
            t.app.store.lease_delivery(waiting_id, now, now + Duration::seconds(60), "node-b").await.unwrap(),
            None
        );
        assert_eq!(t.app.send_due_webhooks().await.unwrap(), Default::default(), "held by node a");
        let attempt = cityloop_store::AttemptRow {
            delivery_id: waiting_id,
            at: now,
            status: Some(200),
            error: None,
            duration_ms: 1,
        };
        let moved =
            t.app.store.record_attempt(&attempt, &cityloop_store::AttemptOutcome::Delivered, "node-b").await.unwrap();
        assert!(!moved, "only the holder of the lease moves the delivery on");
        // Its lease runs out; the subscription is stopped: the waiting delivery becomes a dead letter
        // that cannot be sent again, and blocks nothing.
        t.clock.advance(Duration::seconds(61));
        let stop = t
            .client
            .delete(t.url(&format!("/api/v1/webhooks/{}", failing["id"])))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(stop.status(), StatusCode::NO_CONTENT);
        let one = t.get(Some(&admin), &format!("/api/v1/webhook-deliveries/{waiting_id}")).await.ok();
        assert_eq!(
            (one["state"].as_str(), one["last_error"].as_str()),
            (Some("dead"), Some("the subscription was stopped"))
        );
        let a = t.post(Some(&admin), &format!("/api/v1/webhook-deliveries/{waiting_id}/retry"), json!({})).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert_eq!(t.app.send_due_webhooks().await.unwrap(), Default::default());

        let a = t.get(Some(&admin), "/api/v1/webhook-deliveries?state=lost").await;
        assert_eq!((a.status, a.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
    })
    .await;
}

#[tokio::test]
async fn a_risk_signal_is_sent_once_signed_to_the_systems_that_asked_for_it() {
    on_every_engine(|t| async move {
        let (receiver, port) = start_receiver().await;
        let admin = t.login("admin").await;
        let signals =
            subscribe(&t, &admin, format!("http://127.0.0.1:{port}/signals"), json!(["signal.raised"]), true).await;
        subscribe(&t, &admin, format!("http://127.0.0.1:{port}/cases"), json!(["case.created"]), true).await;
        let operator = t.login("operator").await;
        let case = t
            .create(
                &operator,
                json!({"channel": "hotline", "request_type": "help", "title": "楼上有人要跳楼",
                "description": "邻居站在楼顶说不想活了", "category": "06005",
                "contact": {"name": "王先生", "phone": "13912345678"}}),
            )
            .await;
        t.app.count_evaluation().await.unwrap();
        t.app.run_webhooks_once().await.unwrap();
        t.app.run_webhooks_once().await.unwrap();

        let got = receiver.got.lock().unwrap().clone();
        let to_signals: Vec<&Received> = got.iter().filter(|r| r.path == "/signals").collect();
        assert_eq!(to_signals.len(), 1, "{got:?}");
        verify(signals["secret"].as_str().unwrap(), to_signals[0]);
        let body: Value = serde_json::from_str(&to_signals[0].body).unwrap();
        assert_eq!(
            (body["type"].as_str(), body["signal"]["kind"].as_str()),
            (Some("signal.raised"), Some("watch_word"))
        );
        assert_eq!(body["signal"]["word"], "跳楼、不想活");
        assert!(case["number"].is_string());
        assert!(!to_signals[0].body.contains("13912345678") && !to_signals[0].body.contains("王先生"));
        assert!(got.iter().filter(|r| r.path == "/cases").all(|r| r.headers["x-cityloop-event"] == "case.created"));
    })
    .await;
}
