//! API tokens for departments' own systems: issued by admins, used like a login, revoked at once.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_every_engine;

#[tokio::test]
async fn a_department_system_signs_and_submits_its_cases_with_an_api_token() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let (id, dispatched) = t.dispatched_complaint("06001", "路面有油污", "小区门口路面大片油污").await;
        let account = t.handler_of(&dispatched);

        let issued = t
            .post(
                Some(&admin),
                "/api/v1/api-tokens",
                json!({"username": account, "name": "城管局业务系统", "days": 365}),
            )
            .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
        let token = issued.body["token"].as_str().unwrap().to_string();
        let token_id = issued.body["id"].as_str().unwrap().to_string();
        assert!(token.starts_with("cl_"));

        // The system works its case as the unit's account does.
        t.must(&token, id, "sign", json!({})).await;
        let submitted = t.must(&token, id, "submit", json!({"result": "已清洗路面"})).await;
        assert_eq!(submitted["state"], "feedback");
        let last = submitted["flow"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["move"].as_str(), last["role"].as_str()), (Some("submit"), Some("handler")), "{last}");
        assert!(last["actor_id"].is_i64(), "recorded as the account it acts for");

        let listed = t.get(Some(&admin), "/api/v1/api-tokens").await.ok();
        let entry = listed.as_array().unwrap().iter().find(|e| e["id"] == token_id.as_str()).expect("listed");
        assert!(entry.get("token").is_none(), "the token is shown once: {entry}");
        assert_eq!(entry["name"], "城管局业务系统");
        for time in [&issued.body["expires_at"], &entry["expires_at"], &entry["created_at"]] {
            assert!(time.as_str().unwrap().ends_with("+08:00"), "in the city's offset: {time}");
        }

        // Only admins issue tokens; wrong input is named.
        let operator = t.login("operator").await;
        let refused =
            t.post(Some(&operator), "/api/v1/api-tokens", json!({"username": account, "name": "x", "days": 1})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let long =
            t.post(Some(&admin), "/api/v1/api-tokens", json!({"username": account, "name": "x", "days": 5000})).await;
        assert_eq!(
            (long.status, long.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("days"))
        );
        let nobody =
            t.post(Some(&admin), "/api/v1/api-tokens", json!({"username": "nobody", "name": "x", "days": 1})).await;
        assert_eq!(nobody.body["error"]["field"], "username");

        // Revoked: refused at once.
        let revoked =
            t.client.delete(t.url(&format!("/api/v1/api-tokens/{token_id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        assert_eq!(t.get(Some(&token), &format!("/api/v1/cases/{id}")).await.status, StatusCode::UNAUTHORIZED);
        let again =
            t.client.delete(t.url(&format!("/api/v1/api-tokens/{token_id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NO_CONTENT, "revoking twice is what was asked for");
        let unknown =
            t.client.delete(t.url("/api/v1/api-tokens/tok_nothing")).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn repeated_failed_logins_lock_the_username_for_a_while_on_every_node() {
    on_every_engine(|t| async move {
        let attempt = |username: &'static str, password: &'static str| {
            let t = &t;
            async move { t.post(None, "/api/v1/auth/login", json!({"username": username, "password": password})).await }
        };
        let right = cityloop_app::demo::DEMO_PASSWORD;
        for _ in 0..4 {
            assert_eq!(attempt("operator", "guess").await.status, StatusCode::UNAUTHORIZED);
        }
        // A success in between forgets the failures.
        assert_eq!(attempt("operator", right).await.status, StatusCode::OK);
        for _ in 0..4 {
            assert_eq!(attempt("operator", "guess").await.status, StatusCode::UNAUTHORIZED);
        }
        let locked = attempt("operator", "guess").await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
        assert_eq!(locked.body["error"]["code"], "too_many_attempts");
        assert_eq!(locked.body["error"]["retry_after_seconds"], 15 * 60);
        let raw = t
            .client
            .post(t.url("/api/v1/auth/login"))
            .json(&json!({"username": "operator", "password": "guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("900"));
        // Locked: even the right password is refused, on another node over the same database too.
        assert_eq!(attempt("operator", right).await.status, StatusCode::TOO_MANY_REQUESTS);
        let other_node =
            cityloop_app::App::new(t.app.store.clone(), Default::default(), t.clock.clone()).await.unwrap();
        assert!(matches!(
            other_node.login("operator", right).await,
            Err(cityloop_app::AppError::TooManyAttempts { .. })
        ));
        // Other accounts are untouched; a username that does not exist locks the same way.
        assert_eq!(attempt("dispatcher", right).await.status, StatusCode::OK);
        for _ in 0..4 {
            assert_eq!(attempt("nobody-here", "guess").await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(attempt("nobody-here", "guess").await.status, StatusCode::TOO_MANY_REQUESTS);

        t.clock.advance(chrono::Duration::minutes(15));
        assert_eq!(attempt("operator", right).await.status, StatusCode::OK, "the lock ends by itself");
    })
    .await;
}

#[tokio::test]
async fn an_address_posting_faster_than_its_allowance_is_told_to_wait() {
    crate::on_every_engine_with(
        |s| s.public_posts_per_minute = 3,
        |t| async move {
            let login = || t.post(None, "/api/v1/auth/login", json!({"username": "operator", "password": "guess"}));
            for _ in 0..3 {
                assert_eq!(login().await.status, StatusCode::UNAUTHORIZED);
            }
            let limited = t
                .client
                .post(t.url("/open311/v2/requests.json"))
                .form(&[("api_key", "cityloop-demo-key"), ("service_code", "06001")])
                .send()
                .await
                .unwrap();
            assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
            let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=20).contains(&wait), "{wait}");
            let body: serde_json::Value = limited.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
            assert_eq!(login().await.status, StatusCode::TOO_MANY_REQUESTS, "the sign-in form shares the allowance");
            // Reading and signed-in work are not limited.
            assert_eq!(t.get(None, "/open311/v2/services.json").await.status, StatusCode::OK);
            let admin = t.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().token;
            assert_eq!(t.get(Some(&admin), "/api/v1/cases").await.status, StatusCode::OK);
        },
    )
    .await;
}

#[tokio::test]
async fn two_step_sign_in_asks_for_a_fresh_one_time_code_once_it_is_on() {
    use cityloop_app::two_factor::current_code;
    on_every_engine(|t| async move {
        let operator = t.login("operator").await;
        let sign_in = |code: Option<String>| {
            let t = &t;
            async move {
                let body = json!({"username": "operator", "password": cityloop_app::demo::DEMO_PASSWORD, "code": code});
                t.post(None, "/api/v1/auth/login", body).await
            }
        };
        // The password is asked again: a session alone cannot put a phone on the account.
        let colleague = t.login("operator2").await;
        let wrong = t.post(Some(&colleague), "/api/v1/auth/totp", json!({"password": "not it"})).await;
        assert_eq!(
            (wrong.status, wrong.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
        );
        assert_eq!(
            t.post(Some(&colleague), "/api/v1/auth/totp", json!({})).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let setup =
            t.post(Some(&operator), "/api/v1/auth/totp", json!({"password": cityloop_app::demo::DEMO_PASSWORD})).await;
        assert_eq!(setup.status, StatusCode::CREATED, "{}", setup.body);
        let secret = setup.body["secret"].as_str().unwrap().to_string();
        assert!(setup.body["otpauth_url"].as_str().unwrap().contains(&format!("secret={secret}")));
        // Not on until a code from the secret is confirmed.
        assert_eq!(t.get(Some(&operator), "/api/v1/auth/me").await.ok()["totp"], false);
        assert_eq!(sign_in(None).await.status, StatusCode::OK);
        let wrong = t.post(Some(&operator), "/api/v1/auth/totp/confirm", json!({"code": "000000"})).await;
        assert_eq!(
            (wrong.status, wrong.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("code"))
        );
        let elsewhere = t.login("operator").await;
        let code = current_code(&secret, t.app.now()).unwrap();
        let confirmed = t.post(Some(&operator), "/api/v1/auth/totp/confirm", json!({"code": code})).await;
        assert_eq!(confirmed.status, StatusCode::NO_CONTENT, "{}", confirmed.body);
        assert_eq!(t.get(Some(&operator), "/api/v1/auth/me").await.ok()["totp"], true);
        // A sign-in made with the password alone ends; the one that turned it on goes on.
        assert_eq!(t.get(Some(&elsewhere), "/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);

        // The password alone is not enough any more; a wrong code and a used one are refused.
        let needs = sign_in(None).await;
        assert_eq!((needs.status, needs.error_code()), (StatusCode::UNAUTHORIZED, "totp_required"));
        assert_eq!(sign_in(Some("123456".into())).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(sign_in(Some(code.clone())).await.status, StatusCode::UNAUTHORIZED, "the confirming code, again");
        t.clock.advance(chrono::Duration::seconds(30));
        let fresh = current_code(&secret, t.app.now()).unwrap();
        assert_eq!(sign_in(Some(fresh.clone())).await.status, StatusCode::OK);
        assert_eq!(sign_in(Some(fresh)).await.status, StatusCode::UNAUTHORIZED, "a code is good once");
        let again =
            t.post(Some(&operator), "/api/v1/auth/totp", json!({"password": cityloop_app::demo::DEMO_PASSWORD})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        // Turned off with a current code; or, for a lost phone, by an administrator.
        t.clock.advance(chrono::Duration::seconds(30));
        let off = json!({"code": current_code(&secret, t.app.now()).unwrap()});
        assert_eq!(t.post(Some(&operator), "/api/v1/auth/totp/off", off).await.status, StatusCode::NO_CONTENT);
        assert_eq!(sign_in(None).await.status, StatusCode::OK);
        let secret = t
            .post(Some(&operator), "/api/v1/auth/totp", json!({"password": cityloop_app::demo::DEMO_PASSWORD}))
            .await
            .body["secret"]
            .as_str()
            .unwrap()
            .to_string();
        t.clock.advance(chrono::Duration::seconds(30));
        let code = current_code(&secret, t.app.now()).unwrap();
        t.post(Some(&operator), "/api/v1/auth/totp/confirm", json!({"code": code})).await;
        assert_eq!(sign_in(None).await.error_code(), "totp_required");
        let reset = |token: String| t.client.delete(t.url("/api/v1/users/operator/totp")).bearer_auth(token).send();
        assert_eq!(reset(t.login("dispatcher").await).await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(reset(t.login("admin").await).await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(sign_in(None).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_password_is_changed_by_its_owner_reset_by_an_administrator_and_a_closed_account_signs_in_no_more() {
    on_every_engine(|t| async move {
        let login = |user: &'static str, password: &'static str| {
            let t = &t;
            async move { t.post(None, "/api/v1/auth/login", json!({"username": user, "password": password})).await }
        };
        let operator = t.login("operator").await;
        let elsewhere = t.login("operator").await;
        // The owner changes it with the current one; their other sign-ins end, this one goes on.
        let wrong = json!({"current_password": "not-it-at-all", "new_password": "新的密码-2026"});
        let refused = t.post(Some(&operator), "/api/v1/auth/password", wrong).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"))
        );
        let blank = json!({"current_password": cityloop_app::demo::DEMO_PASSWORD, "new_password": "          "});
        let refused = t.post(Some(&operator), "/api/v1/auth/password", blank).await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("new_password"))
        );
        let change = json!({"current_password": cityloop_app::demo::DEMO_PASSWORD, "new_password": "新的密码-2026"});
        assert_eq!(t.post(Some(&operator), "/api/v1/auth/password", change).await.status, StatusCode::NO_CONTENT);
        assert_eq!(t.get(Some(&operator), "/api/v1/auth/me").await.status, StatusCode::OK, "this sign-in goes on");
        assert_eq!(t.get(Some(&elsewhere), "/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(login("operator", cityloop_app::demo::DEMO_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(login("operator", "新的密码-2026").await.status, StatusCode::OK);

        // An administrator sets a new one for someone who forgot theirs; only administrators may.
        let admin = t.login("admin").await;
        let reset = json!({"password": "临时密码-0001"});
        assert_eq!(
            t.put(&operator, "/api/v1/users/operator2/password", reset.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.put(&admin, "/api/v1/users/operator2/password", reset.clone()).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(login("operator2", "临时密码-0001").await.status, StatusCode::OK);
        assert_eq!(t.put(&admin, "/api/v1/users/nobody/password", reset).await.status, StatusCode::NOT_FOUND);

        // Someone leaves: the account is closed, its sign-ins stop at once, and it can be opened again.
        let dispatcher = t.login("dispatcher").await;
        let close = json!({"active": false});
        assert_eq!(
            t.put(&admin, "/api/v1/users/dispatcher/active", close.clone()).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(t.get(Some(&dispatcher), "/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(login("dispatcher", cityloop_app::demo::DEMO_PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        let users = t.get(Some(&admin), "/api/v1/users").await.ok();
        let listed = users.as_array().unwrap().iter().find(|u| u["username"] == "dispatcher").unwrap().clone();
        assert_eq!(listed["active"], false);
        let own = t.put(&admin, "/api/v1/users/admin/active", close).await;
        assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "an administrator keeps their own account");
        assert_eq!(
            t.put(&admin, "/api/v1/users/dispatcher/active", json!({"active": true})).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(login("dispatcher", cityloop_app::demo::DEMO_PASSWORD).await.status, StatusCode::OK);
    })
    .await;
}
