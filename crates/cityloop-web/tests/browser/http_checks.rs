//! What the pages promise at the HTTP level, checked without a browser: redirects to the login,
//! security headers, CSRF refusals, the portal's answers and the language cookie.

use cityloop_app::intake::{NewCase, NewContact};
use cityloop_store::Backend;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::harness::spawn_site;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The visitor cookie a page sets and the CSRF token of its first form.
async fn visitor(base: &str, path: &str) -> (String, String) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("cl_anon="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a visitor cookie");
    let html = r.text().await.unwrap();
    let token = html.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (cookie, token)
}

#[tokio::test]
async fn staff_pages_send_visitors_to_the_login_and_pages_carry_security_headers() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let r = client().get(format!("{}/intake", site.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login?next=%2Fintake");
    let r = client().get(format!("{}/login", site.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cookie = h.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).find(|c| c.starts_with("cl_anon=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

#[tokio::test]
async fn a_login_needs_the_forms_csrf_token_and_then_sets_an_httponly_session() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let (cookie, token) = visitor(&site.base, "/login").await;
    let post = |csrf: String| {
        client()
            .post(format!("{}/login", site.base))
            .header("cookie", cookie.clone())
            .form(&[
                ("username", "operator"),
                ("password", cityloop_app::demo::DEMO_PASSWORD),
                ("_csrf", csrf.as_str()),
            ])
            .send()
    };
    let refused = post("0".repeat(32)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get_all(SET_COOKIE).iter().all(|c| !c.to_str().unwrap().starts_with("cl_session")));
    let missing = client()
        .post(format!("{}/login", site.base))
        .header("cookie", cookie.clone())
        .form(&[("username", "operator")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let ok = post(token).await.unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()[LOCATION], "/intake");
    let session = ok
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("cl_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
}

#[tokio::test]
async fn the_portal_answers_a_wrong_phone_like_an_unknown_number() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let input = NewCase {
        request_type: "complaint".into(),
        title: "楼道灯坏了".into(),
        description: "三单元楼道灯不亮".into(),
        contact: Some(NewContact { name: "李四".into(), phone: "13912345678".into() }),
        ..NewCase::default()
    };
    let number = site.app.create_public_case(input, None).await.unwrap().case.number;
    let (cookie, token) = visitor(&site.base, "/portal/track").await;
    let track = |number: String, phone: &'static str| {
        client()
            .post(format!("{}/portal/track", site.base))
            .header("cookie", cookie.clone())
            .form(&[("number", number.as_str()), ("phone", phone), ("_csrf", token.as_str())])
            .send()
    };
    let right = track(number.clone(), "139-1234-5678").await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let page = right.text().await.unwrap();
    assert!(page.contains("楼道灯坏了") && !page.contains("李四"), "the resident's page shows no personal data back");
    let wrong = track(number, "13900000000").await.unwrap();
    let unknown = track("20991231-000001".into(), "13912345678").await.unwrap();
    assert_eq!((wrong.status(), unknown.status()), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    let (w, u) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert!(w.contains("未找到") && u.contains("未找到"));
    assert!(!w.contains("楼道灯坏了"));
}

#[tokio::test]
async fn the_portal_marks_every_empty_required_field_at_once() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let (cookie, token) = visitor(&site.base, "/portal").await;
    let sent = client()
        .post(format!("{}/portal", site.base))
        .header("cookie", cookie)
        .form(&[
            ("request_type", "complaint"),
            ("title", " "),
            ("description", ""),
            ("phone", ""),
            ("_csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    for field in ["title", "description", "phone"] {
        assert!(page.contains(&format!("id=\"err-{field}\"")), "{field} is marked");
    }
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0);
}

#[tokio::test]
async fn the_language_switch_keeps_the_page_and_speaks_english() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let r = client().get(format!("{}/lang/en?next=%2Fportal%2Ftrack", site.base)).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/portal/track");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let page = client()
        .get(format!("{}/portal/track", site.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"en\">") && page.contains("Follow a request"));
    let off_site = client().get(format!("{}/lang/en?next=//evil.example/", site.base)).send().await.unwrap();
    assert_eq!(off_site.headers()[LOCATION], "/", "only local pages are followed");
}

#[tokio::test]
async fn only_staff_who_call_residents_back_look_callers_up_by_phone() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let by_phone = cityloop_app::queries::CaseQuery { phone: Some("13912345678".into()), ..Default::default() };
    let operator = login("operator").await.unwrap();
    assert!(site.app.list_cases(&operator.principal, &by_phone).await.is_ok());
    let unit = login("h-990101-cg").await.unwrap();
    let refused = site.app.list_cases(&unit.principal, &by_phone).await;
    assert!(matches!(refused, Err(cityloop_app::AppError::Forbidden(_))), "{refused:?}");
    // Nor through the workbench's caller fragment.
    let r = client()
        .get(format!("{}/intake/caller?phone=13912345678", site.base))
        .header("cookie", format!("cl_session={}", unit.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_case_list_downloads_as_a_file_in_the_viewers_scope() {
    let site = spawn_site(Backend::Sqlite, 40).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let download = |token: String, query: &'static str| {
        let base = site.base.clone();
        async move {
            client()
                .get(format!("{base}/cases/export?{query}"))
                .header("cookie", format!("cl_session={token}"))
                .send()
                .await
                .unwrap()
        }
    };
    let dispatcher = login("dispatcher").await.unwrap();
    let r = download(dispatcher.token.clone(), "format=csv&state=closed").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"cases-"));
    let text = r.text().await.unwrap();
    let closed = cityloop_app::queries::CaseQuery { state: Some("closed".into()), ..Default::default() };
    let listed = site.app.list_cases(&dispatcher.principal, &closed).await.unwrap().total;
    assert!(listed > 0);
    assert_eq!(text.lines().count() as i64, listed + 1, "a header and every closed case");
    let r = download(dispatcher.token.clone(), "format=pdf").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
