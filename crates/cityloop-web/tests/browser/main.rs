//! End-to-end tests in headless Chromium, through the web pages alone: the whole loop from a call
//! to the resident's rating, the inspector's phone page, the catalogue tester, form errors, CSRF,
//! and every page at desktop and phone width without console errors (screenshots under
//! `target/screenshots`).

mod harness;
mod http_checks;

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::moves::CaseRef;
use cityloop_domain::{Role, Satisfaction, State};
use cityloop_store::Backend;
use harness::{browser_available, engines, photo_file, spawn_site, Browser, Driver, Site};

async fn case_state(site: &Site, number: &str) -> cityloop_domain::Case {
    site.app.store.case_by_number(number).await.expect("the case")
}

/// The username of a unit's demo handler.
async fn handler_of(site: &Site, number: &str) -> String {
    let case = case_state(site, number).await;
    let unit = site.app.reference().unit(case.unit_id.expect("a unit")).expect("unit").code.clone();
    format!("h-{unit}")
}

/// The demo inspector whose grids hold the case.
async fn inspector_of(site: &Site, number: &str) -> String {
    let grid = case_state(site, number).await.grid_id.expect("a grid");
    let users = site.app.store.list_users().await.unwrap();
    users
        .into_iter()
        .find(|u| u.roles.contains(&Role::Inspector) && u.grids.contains(&grid))
        .expect("an inspector")
        .username
}

async fn open_case(b: &mut Browser, number: &str) {
    b.goto(&format!("/cases/{number}")).await;
    assert_eq!(b.text("#case-number").await, number);
}

/// Opens a move's form on the case page, lets `fill` complete it, and submits it.
async fn make_move(b: &mut Browser, number: &str, kind: &str) {
    open_case(b, number).await;
    b.press(&format!("#open-{kind}")).await;
}

async fn submit_move(b: &mut Browser, kind: &str) {
    b.click(&format!("#do-{kind}")).await;
    let flash = b.text("#flash").await;
    assert!(flash.contains("已完成"), "the {kind} move did not go through: {flash}");
}

async fn whole_loop(backend: Backend) {
    let site = spawn_site(backend, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    let files = tempfile::tempdir().unwrap();
    let tag = format!("{backend:?}").to_lowercase();

    // An operator takes the call on the workbench.
    b.login("operator").await;
    assert!(b.client.current_url().await.unwrap().path().ends_with("/intake"));
    b.fill("#phone", "13800138000").await;
    b.fill("#name", "张三").await;
    b.fill("#title", "小区门口垃圾堆积").await;
    b.fill("#description", "云湖小区东门外垃圾堆积三天无人清运，气味很大。").await;
    b.fill("#category-search", "暴露垃圾").await;
    assert_eq!(b.eval("return document.querySelector('#category').value").await, "06010", "search picks the category");
    b.find("#intake-map").await.click().await.unwrap();
    assert!(
        !b.eval("return document.querySelector('#lat').value").await.as_str().unwrap().is_empty(),
        "a map click places it"
    );
    let unit = b.text("#preview-unit").await;
    assert!(!unit.is_empty(), "the dispatch preview names a unit before saving");
    b.text("#preview-grid").await;
    b.screenshot(&format!("loop-{tag}-01-intake-filled")).await;
    b.click("#save").await;
    let number = b.text("#created-number").await;
    assert!(cityloop_domain::number::looks_like_case_number(&number), "{number}");
    let case = case_state(&site, &number).await;
    assert_eq!(case.state, State::Reported);
    assert!(case.grid_id.is_some() && case.category_id.is_some());

    // The same caller calls again: the earlier request shows at once.
    b.fill("#phone", "13800138000").await;
    let history = b.text("#caller-list").await;
    assert!(history.contains(&number), "caller history: {history}");
    b.screenshot(&format!("loop-{tag}-02-caller-history")).await;

    // The shift lead files it.
    b.login("lead").await;
    make_move(&mut b, &number, "file").await;
    submit_move(&mut b, "file").await;
    assert_eq!(case_state(&site, &number).await.state, State::Registered);

    // The dispatcher dispatches it from the desk (bulk dispatch, catalogue unit).
    b.login("dispatcher").await;
    b.goto("/desk").await;
    b.press(&format!("input[name=case][value='{number}']")).await;
    b.screenshot(&format!("loop-{tag}-03-desk")).await;
    b.click("#bulk-dispatch-button").await;
    assert!(b.text("#flash").await.contains('1'));
    assert_eq!(case_state(&site, &number).await.state, State::PendingSign);

    // The unit signs from its inbox and asks for more time.
    let handler = handler_of(&site, &number).await;
    b.login(&handler).await;
    b.goto("/inbox").await;
    b.screenshot(&format!("loop-{tag}-04-inbox")).await;
    b.click(&format!("button[data-move=sign][data-case='{number}']")).await;
    assert_eq!(case_state(&site, &number).await.state, State::Handling);
    assert_eq!(b.text("#flash").await, format!("签收 · 已完成 · {number}"), "the inbox says what was done");
    make_move(&mut b, &number, "extend").await;
    let amount = if b.exists("#move-extend input[name=hours]").await {
        "#move-extend input[name=hours]"
    } else {
        "#move-extend input[name=days]"
    };
    b.fill(amount, "2").await;
    b.fill("#move-extend textarea[name=reason]", "需协调环卫车辆").await;
    submit_move(&mut b, "extend").await;
    assert!(case_state(&site, &number).await.pending.is_some());

    // The dispatcher approves the extension.
    b.login("dispatcher").await;
    make_move(&mut b, &number, "approve-extension").await;
    submit_move(&mut b, "approve-extension").await;
    let extended = case_state(&site, &number).await;
    assert_eq!((extended.extensions, extended.pending.is_none()), (1, true));
    let new_deadline = extended.deadline.unwrap().with_timezone(&site.app.reference().calendar.offset());
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains(&format!("处置时限 → {}", new_deadline.format("%Y-%m-%d %H:%M"))),
        "the approval says the new deadline: {timeline}"
    );
    let details = b.text(".details").await;
    assert!(details.contains("已延期 1 次"), "the deadline says it was extended: {details}");

    // The unit submits its result with a photo.
    b.login(&handler).await;
    make_move(&mut b, &number, "submit").await;
    b.fill("#move-submit textarea[name=result]", "已清运垃圾并冲洗地面。").await;
    let photo = photo_file(files.path());
    b.find("#move-submit input[type=file]").await.send_keys(&photo.display().to_string()).await.unwrap();
    submit_move(&mut b, "submit").await;
    assert_eq!(case_state(&site, &number).await.state, State::Feedback);
    assert!(b.exists("#attachments img").await, "the photo shows on the case page");

    // The inspector of the grid checks on site.
    let inspector = inspector_of(&site, &number).await;
    b.login(&inspector).await;
    b.goto("/inspector").await;
    b.click(&format!("#check-tasks a[href='/cases/{number}']")).await;
    b.press("#open-check").await;
    b.select("#move-check select[name=passed]", "true").await;
    submit_move(&mut b, "check").await;
    assert_eq!(case_state(&site, &number).await.state, State::ClosePending);

    // The lead closes it.
    b.login("lead").await;
    make_move(&mut b, &number, "close").await;
    submit_move(&mut b, "close").await;
    assert_eq!(case_state(&site, &number).await.state, State::Closed);
    b.screenshot(&format!("loop-{tag}-05-closed-case")).await;

    // The resident follows it on the portal and rates it.
    b.logout().await;
    b.goto("/portal/track").await;
    b.fill("#track-number", &number).await;
    b.fill("#track-phone", "138 0013 8000").await;
    b.click("#track-submit").await;
    assert_eq!(b.text("#tracked-state").await, "已结案");
    // Nothing is answered for the resident: the form cannot be sent before they answer.
    let sendable = "return document.getElementById('rate-form').checkValidity();";
    assert_eq!(b.eval(sendable).await, serde_json::Value::Bool(false), "no answer is chosen for the resident");
    b.press("#sat-basically_satisfied").await;
    b.press("#solved-yes").await;
    b.fill("#rate-note", "处理及时").await;
    assert_eq!(b.eval(sendable).await, serde_json::Value::Bool(true));
    b.click("#rate-submit").await;
    assert!(b.text("#flash").await.contains("感谢"));
    assert!(!b.exists("#rate-form").await, "a case is rated once");
    let outcome = b.text("#tracked .timeline li:last-child .outcome").await;
    assert!(outcome.contains("基本满意") && outcome.contains("是"), "the rating as given: {outcome}");
    b.screenshot(&format!("loop-{tag}-06-rated")).await;
    let rated = case_state(&site, &number).await;
    assert!(rated.rated);
    assert_eq!(
        rated.revisit.map(|r| r.satisfaction),
        Some(Satisfaction::BasicallySatisfied),
        "the rating is the revisit"
    );
    // Sent again (a second tab, a reload): the resident sees where the request is now, not a refusal
    // written for staff.
    let rating =
        [("number", number.as_str()), ("phone", "13800138000"), ("satisfaction", "satisfied"), ("solved", "true")];
    let again = http_checks::post_as_visitor(&site.base, "/portal/track", "/portal/rate", &rating).await;
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    let page = again.text().await.unwrap();
    assert!(page.contains("进度已更新") && page.contains("id=\"tracked-state\">已结案"), "{page}");
    assert!(!page.contains("现在可以"), "no list of staff moves");
    let flow = site.app.store.flows(rated.id).await.unwrap();
    let kinds: Vec<&str> = flow.iter().map(|(_, f)| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["report", "file", "dispatch", "sign", "extend", "approve-extension", "submit", "check", "close", "rate"],
        "every step was a recorded move"
    );
    // The staff read the rating on the case's record, and the resident is named once.
    b.login("operator").await;
    b.goto(&format!("/cases/{number}")).await;
    let rating = b.text("#timeline li:last-child").await;
    assert!(rating.contains("基本满意") && rating.contains("处理及时"), "{rating}");
    assert!(!rating.contains("市民 · 市民"), "{rating}");
    // Not satisfied after all: the resident asks for it to be handled again and says why.
    let reopen = [("number", number.as_str()), ("phone", "13800138000"), ("reason", "晚上路灯还是不亮")];
    let reopened = http_checks::post_as_visitor(&site.base, "/portal/track", "/portal/reopen", &reopen).await;
    assert_eq!(reopened.status(), reqwest::StatusCode::OK);
    let flow = site.app.store.flows(rated.id).await.unwrap();
    let (_, last) = flow.last().unwrap();
    assert_eq!((last.kind.as_str(), last.note.as_deref()), ("reopen", Some("晚上路灯还是不亮")));

    b.finish().await;
}

/// Smart intake on the workbench: suggestions as the text is typed, a similar open case to merge into,
/// and a knowledge-base answer recorded with the consultation.
async fn smart_workbench(backend: Backend) {
    let site = spawn_site(backend, 300).await;
    assert!(site.app.model().is_some(), "the demo trains a classifier");
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let grid = site.app.reference().grids[30].clone();
    let earlier = site
        .app
        .create_case(
            &operator,
            cityloop_app::intake::NewCase {
                channel: "hotline".into(),
                request_type: "complaint".into(),
                title: "解放路工地夜间施工噪音大".into(),
                description: "解放路工地晚上十一点以后还在施工, 机器轰鸣声很大".into(),
                category: Some("08001".into()),
                location: Some(cityloop_app::intake::NewLocation {
                    lat: grid.centroid_lat,
                    lon: grid.centroid_lon,
                    address: None,
                }),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .case;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    let tag = format!("{backend:?}").to_lowercase();
    b.login("operator").await;
    b.fill("#phone", "13700001111").await;
    b.fill("#title", "解放路工地半夜施工噪音").await;
    b.fill("#description", "解放路工地晚上十一点以后还在施工, 吵得睡不着").await;
    b.click_fragment("#category-suggestions .use-category[data-code='08001']").await;
    assert_eq!(
        b.eval("return document.querySelector('#category').value").await,
        "08001",
        "a suggestion fills the field"
    );
    assert!(!b.text("#suggestions .why").await.is_empty(), "the words behind the suggestion are shown");
    b.eval(&format!(
        "const f = document.querySelector('#intake-form'); f.elements.lat.value = '{}'; f.elements.lon.value = '{}'; \
         f.elements.lat.dispatchEvent(new Event('change', {{bubbles: true}})); return 1",
        grid.centroid_lat, grid.centroid_lon
    ))
    .await;
    b.click_fragment(&format!("#similar-cases input[name=merge_into][value='{}']", earlier.number)).await;
    b.screenshot(&format!("smart-{tag}-workbench")).await;
    b.click("#save").await;
    let number = b.text("#created-number").await;
    let merged = case_state(&site, &number).await;
    assert_eq!(merged.state, State::Merged, "merged into the open case the operator chose");
    assert_eq!(merged.master_id, Some(earlier.id));
    assert!(
        b.text("#flash").await.ends_with(&format!("已并入 {}", earlier.number)),
        "the operator is told of the merge"
    );

    // A consultation answered from the knowledge base.
    b.goto("/intake").await;
    let channels = b.eval("return [...document.querySelectorAll('#channel option')].map(o => o.value)").await;
    let channels: Vec<&str> = channels.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(channels.contains(&"hotline") && !channels.contains(&"open311"), "channels offered: {channels:?}");
    b.select("#request_type", "consultation").await;
    b.fill("#title", "咨询公积金提取").await;
    b.fill("#description", "租房可以提取住房公积金吗, 要带什么材料").await;
    b.click_fragment("#knowledge-hits .use-article").await;
    assert!(b.eval("return document.querySelector('#answer').value").await.as_str().unwrap().contains("公积金"));
    b.click("#answer-button").await;
    let number = b.text("#created-number").await;
    let answered = case_state(&site, &number).await;
    assert_eq!(answered.state, State::Closed);
    let flow = site.app.store.flows(answered.id).await.unwrap();
    let article = &flow.last().unwrap().1.data["article"];
    assert!(article.as_i64().is_some(), "the article answered from is recorded: {flow:?}");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workbench_suggests_finds_duplicates_and_answers_from_the_knowledge_base() {
    if !browser_available() {
        return;
    }
    for backend in engines() {
        smart_workbench(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_loop_runs_through_the_pages() {
    if !browser_available() {
        return;
    }
    for backend in engines() {
        whole_loop(backend).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_reports_from_a_phone_at_360_px() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 360, 740).await;
    let files = tempfile::tempdir().unwrap();
    b.login("inspector1").await;
    assert!(b.client.current_url().await.unwrap().path().ends_with("/inspector"));
    assert!(b.horizontal_overflow().await <= 0, "the page fits 360 px");
    b.fill("#title", "人行道井盖缺失").await;
    b.fill("#description", "人行道井盖缺失，有行人跌落危险。").await;
    let grid = b.eval("return document.querySelector('#grid option:nth-child(2)').value").await;
    b.select("#grid", grid.as_str().unwrap()).await;
    b.find("#photo").await.send_keys(&photo_file(files.path()).display().to_string()).await.unwrap();
    b.screenshot("inspector-report-360").await;
    b.click("#report-submit").await;
    let number = b.text("#reported-number").await;
    let case = case_state(&site, &number).await;
    assert_eq!(case.channel, cityloop_domain::Channel::Inspector);
    assert!(case.reporter_id.is_some());
    let flow = site.app.store.flows(case.id).await.unwrap();
    assert_eq!(flow[0].1.attachments.len(), 1, "the photo is kept with the report");
    assert!(b.horizontal_overflow().await <= 0);
    b.screenshot("inspector-reported-360").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_tester_names_the_unit() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let reference = site.app.reference();
    let rule = reference.catalogue.iter().find(|r| r.division_id.is_some()).expect("a district rule").clone();
    let category = reference.category(rule.category_id).unwrap().code.clone();
    let division = reference.division(rule.division_id.unwrap()).unwrap().code.clone();
    let expected = site.app.dispatch_preview(Some(rule.category_id), rule.division_id).await.unwrap();
    let unit_name = reference.unit(expected.unit.unwrap()).unwrap().name.clone();

    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("admin").await;
    b.goto("/admin/catalogue").await;
    b.select("#t-category", &category).await;
    b.select("#t-division", &division).await;
    b.click("#tester-submit").await;
    let result = b.text("#tester-result").await;
    assert!(result.contains(&unit_name), "tester said `{result}`, the catalogue says {unit_name}");
    b.screenshot("admin-catalogue-tester").await;

    // A rule is deleted only once the administrator says yes to the question.
    let rules = site.app.store.list_catalogue().await.unwrap().len();
    let delete = "table form[data-confirm] button";
    b.click_and_answer(delete, false).await;
    assert_eq!(site.app.store.list_catalogue().await.unwrap().len(), rules, "said no: nothing deleted");
    b.click_and_answer(delete, true).await;
    assert_eq!(site.app.store.list_catalogue().await.unwrap().len(), rules - 1, "said yes: one rule fewer");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_subscribes_a_system_and_sends_a_dead_letter_again() {
    if !browser_available() {
        return;
    }
    // A receiver on loopback that is down until told otherwise.
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let status = up.clone();
    let receiver = axum::Router::new().fallback(move || {
        let up = status.load(std::sync::atomic::Ordering::SeqCst);
        async move {
            if up {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cityloop-events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let site = spawn_site(Backend::Sqlite, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("admin").await;
    b.goto("/admin/webhooks").await;
    b.fill("#webhook-url", &url).await;
    b.press("input[name=events][value='case.created']").await;
    b.expect_status(422);
    b.click("#add-webhook").await;
    assert!(b.text("#err-url").await.contains("127.0.0.1"), "a loopback address needs the administrator's leave");
    let kept = b.eval("return document.querySelector(\"input[name=events][value='case.created']\").checked").await;
    assert_eq!(kept, serde_json::Value::Bool(true), "the form shown again keeps its ticks");
    b.press("input[name=allow_private]").await;
    b.click("#add-webhook").await;
    assert!(b.text("#webhooks").await.contains(&url));

    // A case comes in; the receiver is down, so every attempt fails until the delivery is dead.
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let case = cityloop_app::intake::NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "井盖缺失".into(),
        description: "路口井盖丢失，夜间危险".into(),
        grid: Some(site.app.reference().grids[0].code.clone()),
        ..Default::default()
    };
    let created = site.app.create_case(&operator, case, None).await.unwrap();
    for _ in 0..12 {
        site.clock.advance(chrono::Duration::hours(7));
        site.app.run_webhooks_once().await.unwrap();
    }
    b.login("admin").await;
    b.goto("/admin/webhooks?state=dead").await;
    let log = b.text("#deliveries").await;
    assert!(log.contains(&created.case.number) && log.contains("503"), "{log}");
    b.screenshot("admin-webhooks-dead-letter").await;

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    b.click("#deliveries tr.delivery-dead button").await;
    assert!(b.exists("#deliveries tr.delivery-pending").await, "the delivery is pending again");
    assert_eq!(site.app.run_webhooks_once().await.unwrap().delivered, 1);
    b.goto("/admin/webhooks?state=delivered").await;
    assert!(b.text("#deliveries").await.contains(&created.case.number));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_turns_on_two_step_sign_in_and_then_signs_in_with_a_code() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("operator").await;
    b.click("#account-link").await;
    // The password first: a session alone cannot put a phone on the account.
    b.fill("#totp-password", "wrong password").await;
    b.expect_status(422);
    b.click("#totp-start-submit").await;
    assert!(b.exists("#err-password").await);
    b.fill("#totp-password", DEMO_PASSWORD).await;
    b.click("#totp-start-submit").await;
    let secret = b.text("#totp-secret").await;
    assert!(b.find("#totp-link").await.attr("href").await.unwrap().unwrap().starts_with("otpauth://totp/"));
    // A wrong code is named next to its field and changes nothing.
    b.fill("#confirm-code", "000000").await;
    b.expect_status(422);
    b.click("#totp-confirm-submit").await;
    assert!(b.exists("#err-code").await);
    b.fill("#confirm-code", &cityloop_app::two_factor::current_code(&secret, site.app.now()).unwrap()).await;
    b.click("#totp-confirm-submit").await;
    assert!(b.exists("#totp-off").await, "two-step sign-in is on");
    b.screenshot("account-two-step-on").await;

    // The password alone now asks for the code; with a fresh one the clerk is in.
    b.logout().await;
    b.goto("/login").await;
    b.fill("#username", "operator").await;
    b.fill("#password", cityloop_app::demo::DEMO_PASSWORD).await;
    b.expect_status(401);
    b.click("#login-submit").await;
    assert!(b.exists("#login-needs-code").await);
    site.clock.advance(chrono::Duration::seconds(30));
    b.fill("#password", cityloop_app::demo::DEMO_PASSWORD).await;
    b.fill("#code", &cityloop_app::two_factor::current_code(&secret, site.app.now()).unwrap()).await;
    b.click("#login-submit").await;
    assert!(b.exists("#logout").await, "signed in with the code");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_reads_an_access_alert_and_the_records_behind_it() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    // The operator is refused twenty times today: the watch's minimum for refusals.
    let operator = site.app.store.user_by_username("operator").await.unwrap().unwrap();
    for _ in 0..20 {
        let refused = cityloop_domain::access::AccessEventKind::Forbidden;
        site.app.record_access_event(&operator, refused, Some("10.1.2.3"), "GET /admin/users", 1).await.unwrap();
    }
    assert_eq!(site.app.watch_access().await.unwrap(), 1);

    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("admin").await;
    b.goto("/admin/access").await;
    let alerts = b.text("#access-alerts").await;
    assert!(alerts.contains("多次越权请求") && alerts.contains("operator") && alerts.contains("20"), "{alerts}");
    b.click("#access-alerts a.records").await;
    assert_eq!(b.text("#records-total").await, "20");
    let records = b.text("#access-records").await;
    assert!(records.contains("10.1.2.3") && records.contains("GET /admin/users"), "{records}");
    b.screenshot("admin-access-records").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_reads_the_months_ranking_and_opens_the_cases_behind_a_number() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 400).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("leader").await;
    b.goto("/evaluation?period=2026-10").await;
    assert_eq!(b.text("#period-range").await, "2026-10-01 – 2026-10-31");
    let first = b.find("#ranking-hotline tbody tr").await;
    let unit = first.find(fantoccini::Locator::Css("td.subject")).await.unwrap().text().await.unwrap();
    let grade = first.find(fantoccini::Locator::Css("td.grade")).await.unwrap().text().await.unwrap();
    assert!(["A", "B", "C", "D", "E"].contains(&grade.as_str()), "{grade}");
    // The first count of the best unit is its valid revisits; the link lists exactly those cases.
    let link = first.find(fantoccini::Locator::Css("a[href*='metric=revisits']")).await.unwrap();
    let revisits: usize = link.text().await.unwrap().parse().unwrap();
    b.screenshot("evaluation-ranking").await;
    link.click().await.unwrap();
    b.wait_ready().await;
    assert!(b.text("#drill-summary").await.contains(&unit));
    let rows = b.client.find_all(fantoccini::Locator::Css("#evaluation-cases tbody tr")).await.unwrap();
    assert_eq!(rows.len(), revisits);
    // In English, what each case was counted as is said in English.
    let drill = b.client.current_url().await.unwrap();
    let back = format!("{}?{}", drill.path(), drill.query().unwrap_or_default());
    let next = serde_urlencoded::to_string([("next", back.as_str())]).unwrap();
    b.goto(&format!("/lang/en?{next}")).await;
    let counted = b.text("#evaluation-cases tbody tr td:nth-child(3)").await;
    assert!(!counted.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{counted}");
    b.goto(&format!("/lang/zh?{next}")).await;
    b.click("#evaluation-cases tbody tr a").await;
    assert!(b.exists("main#main").await);
    b.goto("/evaluation?period=2026-10").await;
    let href = b.find("#download-xlsx").await.attr("href").await.unwrap().unwrap();
    assert_eq!(href, "/evaluation/export?period=2026-10&format=xlsx");
    // The leader screen carries the month's ranking and six months of 三率.
    b.goto("/leader").await;
    let trend = b.client.find_all(fantoccini::Locator::Css("#leader-trend tbody tr")).await.unwrap();
    assert_eq!(trend.len(), 6);
    assert!(b.text("#leader-trend").await.contains("2026-10"));
    assert!(b.exists("#leader-ranking tr").await, "this month's ranking is on the screen");

    // The large screen fits one 1920×1080 display: no scrolling, and no table cut off by its card.
    b.client.set_window_size(1920, 1080).await.unwrap();
    let chrome = 1080 - b.eval("return window.innerHeight").await.as_i64().unwrap();
    b.client.set_window_size(1920, (1080 + chrome) as u32).await.unwrap();
    b.goto("/leader?big=1").await;
    assert_eq!(b.eval("return [window.innerWidth, window.innerHeight]").await, serde_json::json!([1920, 1080]));
    b.screenshot("leader-big-1920x1080").await;
    let height = b.eval("return document.documentElement.scrollHeight").await.as_i64().unwrap();
    assert!(height <= 1080, "the large screen is {height} px tall");
    // Neither the screen nor any of its panels hides what does not fit.
    let cut = b
        .eval(
            "return [document.querySelector('main'), ...document.querySelectorAll('main .card')] \
               .filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1) \
               .map(e => (e.querySelector('h2') || e).textContent.trim().slice(0, 20))",
        )
        .await;
    assert_eq!(cut, serde_json::json!([]), "cut off");
    // On a laptop the screen flows and scrolls rather than cutting its tables off, in both languages.
    b.client.set_window_size(1366, (900 + chrome) as u32).await.unwrap();
    for lang in ["en", "zh"] {
        b.goto(&format!("/lang/{lang}?next=%2Fleader%3Fbig%3D1")).await;
        b.screenshot(&format!("leader-big-1366x900-{lang}")).await;
        let cut = b
            .eval(
                "return [...document.querySelectorAll('main .card')] \
                   .filter(e => e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1) \
                   .map(e => (e.querySelector('h2') || e).textContent.trim().slice(0, 20))",
            )
            .await;
        assert_eq!(cut, serde_json::json!([]), "cut off at 1366×900 ({lang})");
    }
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_word_shows_on_the_signal_page_and_is_turned_into_a_supervision_task() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let case = cityloop_app::intake::NewCase {
        channel: "hotline".into(),
        request_type: "help".into(),
        title: "楼道有煤气味".into(),
        description: "三单元楼道里煤气泄漏的味道很重，担心爆炸".into(),
        grid: Some(site.app.reference().grids[0].code.clone()),
        ..Default::default()
    };
    let created = site.app.create_case(&operator, case, None).await.unwrap();
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("dispatcher").await;
    b.goto("/signals").await;
    let row = b.text("#signals tr.signal-watch_word").await;
    assert!(row.contains("煤气泄漏") && row.contains("爆炸"), "{row}");
    // The English interface explains it in English; the words found are the resident's own.
    b.click("#lang-switch").await;
    let row = b.text("#signals tr.signal-watch_word").await;
    assert!(row.starts_with("Watch word") && row.contains("contains the watch words 煤气泄漏"), "{row}");
    b.click("#lang-switch").await;
    b.click("#signals tr.signal-watch_word a").await;
    assert!(b.text("#signal-cases").await.contains(&created.case.number));
    b.screenshot("signals-watch-word").await;
    assert!(!b.exists("#to-topic").await, "topics are a leader's decision: no button for a dispatcher");
    b.click("#to-task").await;
    assert!(b.text("#signal-detail").await.contains("已转督办"));
    assert!(!b.exists("#to-task").await, "a task is opened once");
    assert_eq!(case_state(&site, &created.case.number).await.supervision_level, 2, "the case is under 督办");
    b.goto("/signals").await;
    assert!(b.exists("#no-signals").await, "no open signal is left");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_adopts_the_months_hardest_problem_as_a_topic() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    for i in 0..12 {
        let case = cityloop_app::intake::NewCase {
            channel: "hotline".into(),
            request_type: "complaint".into(),
            title: format!("夜间施工噪音 {i}"),
            description: "工地夜里还在施工".into(),
            category: Some("08001".into()),
            grid: Some(site.app.reference().grids[0].code.clone()),
            ..Default::default()
        };
        site.app.create_case(&operator, case, None).await.unwrap();
    }
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("leader").await;
    b.goto("/topics").await;
    let first = b.find("#topic-candidates tr.candidate").await;
    assert_eq!(first.attr("data-category").await.unwrap().as_deref(), Some("08001"));
    let unit = site.app.reference().units[0].code.clone();
    b.select("#topic-candidates tr.candidate select[name=lead_unit]", &unit).await;
    b.fill("#topic-candidates tr.candidate input[name=goal]", "夜间施工投诉下降三成").await;
    b.click("#topic-candidates tr.candidate form.adopt button").await;
    let adopted = b.text("#topics").await;
    assert!(adopted.contains("夜间施工投诉下降三成") && adopted.contains(": 12"), "{adopted}");
    b.screenshot("topics-adopted").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_error_shows_next_to_its_field_saves_nothing_and_an_address_places_the_fix() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    b.login("operator").await;
    // A caller's number that is no number: marked under it, the row's fields still in line.
    b.fill("#phone", "call me").await;
    b.fill("#title", "路灯不亮").await;
    b.fill("#description", "路灯不亮").await;
    b.expect_status(422);
    b.click("#save").await;
    assert!(b.exists("#err-phone").await, "the number is marked");
    let tops = b
        .eval("return ['#phone', '#name', '#channel'].map(s => document.querySelector(s).getBoundingClientRect().top)")
        .await;
    let tops: Vec<f64> = tops.as_array().unwrap().iter().filter_map(|v| v.as_f64()).collect();
    assert!(tops.len() == 3 && tops.iter().all(|t| (t - tops[0]).abs() < 1.0), "fields out of line: {tops:?}");
    b.fill("#phone", "13900001111").await;
    b.fill("#title", "").await;
    b.expect_status(422);
    b.click("#save").await;
    assert_eq!(b.text("#err-title").await, "必填");
    let error_field =
        b.eval("return document.querySelector('#err-title').closest('label').querySelector('input').id").await;
    assert_eq!(error_field, "title", "the error sits next to its field");
    assert_eq!(
        b.eval("return document.querySelector('#description').value").await,
        "路灯不亮",
        "what was typed is kept"
    );
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0, "nothing was saved");
    b.screenshot("intake-form-error").await;

    // Corrected, and placed by an address alone: the preview names the community before saving.
    let community = site
        .app
        .reference()
        .divisions
        .iter()
        .find(|d| d.level == cityloop_domain::enums::DivisionLevel::Community)
        .unwrap()
        .clone();
    b.fill("#title", "路灯不亮").await;
    b.fill("#address", &format!("{}文三路281号", community.name)).await;
    b.fill("#grid", "").await;
    assert_eq!(b.text("#preview-address b").await, community.name);
    b.click("#save").await;
    let number = b.text("#created-number").await;
    let grid = case_state(&site, &number).await.grid_id.unwrap();
    assert_eq!(site.app.reference().grid(grid).unwrap().division_id, Some(community.id));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_list_filters_from_its_form_and_keeps_a_start_pages_states() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 200).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    // The lead starts on the cases waiting for filing or closing: the form says so.
    b.login("lead").await;
    assert_eq!(b.eval("return document.querySelector('#f-state').value").await, "reported,close_pending");
    let waiting = b.text("#total").await;
    b.click("#filter-submit").await;
    assert_eq!(b.text("#total").await, waiting, "the form sends the start page's states again");

    // A word and the other fields left on 全部 (sent empty).
    b.fill("#q", "路灯").await;
    b.select("#f-state", "").await;
    b.click("#filter-submit").await;
    let titles = b
        .eval("return [...document.querySelectorAll('table.cases tbody tr td:nth-child(2)')].map(td => td.textContent)")
        .await;
    let titles = titles.as_array().unwrap();
    assert!(!titles.is_empty(), "the demo city has street-light cases");
    assert!(titles.iter().any(|t| t.as_str().unwrap().contains("路灯")), "{titles:?}");
    assert_eq!(b.eval("return new URL(location.href).searchParams.get('overdue')").await, "", "sent empty");
    b.screenshot("case-list-search").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_a_forged_csrf_token_is_refused() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let reference = site.app.reference();
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let input = cityloop_app::intake::NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "噪音扰民".into(),
        description: "夜间施工噪音".into(),
        category: Some("08001".into()),
        grid: Some(reference.grids[0].code.clone()),
        ..Default::default()
    };
    let number = site.app.create_case(&operator, input, None).await.unwrap().case.number;

    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    // A login form whose token was tampered with signs nobody in.
    b.goto("/login").await;
    b.fill("#username", "lead").await;
    b.fill("#password", cityloop_app::demo::DEMO_PASSWORD).await;
    b.eval("document.querySelector('#login-form [name=_csrf]').value = 'forged'; return 1;").await;
    b.expect_status(403);
    b.click("#login-submit").await;
    assert!(b.text("#message").await.contains("页面已过期"));
    assert!(!b.exists("#logout").await);
    // A move whose token was tampered with changes nothing.
    b.login("lead").await;
    make_move(&mut b, &number, "file").await;
    b.eval("document.querySelector('#move-file [name=_csrf]').value = 'forged'; return 1;").await;
    b.expect_status(403);
    b.click("#do-file").await;
    assert!(b.text("#message").await.contains("页面已过期"));
    assert_eq!(case_state(&site, &number).await.state, State::Reported);
    let view = site.app.case_view(&operator, &CaseRef::Number(number)).await.unwrap();
    assert_eq!(view.flow.len(), 1, "no flow record was written");
    b.finish().await;
}

/// Every page, as the role that uses it, at desktop and phone width, in Chinese and once in English.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_at_both_widths_without_console_errors() {
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 300).await;
    let any_case = site
        .app
        .store
        .list_cases(&cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), site.app.now()))
        .await
        .unwrap();
    let number = any_case.items.iter().find(|c| c.state == State::Handling).expect("a case in hand").number.clone();
    let handler = handler_of(&site, &number).await;
    // A pasted link and a long run without spaces, as residents send them.
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let long_text = cityloop_app::intake::NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "噪".repeat(20) + &"X".repeat(60),
        description: format!("见链接 https://example.com/{}", "a".repeat(150)),
        ..Default::default()
    };
    let long = site.app.create_case(&operator, long_text, None).await.unwrap().case.number;
    let pages: Vec<(Option<&str>, String, &str)> = vec![
        (None, "/login".into(), "login"),
        (None, "/portal".into(), "portal-submit"),
        (None, "/portal/track".into(), "portal-track"),
        (None, "/portal/requests".into(), "portal-public"),
        (Some("operator"), "/intake".into(), "intake"),
        (Some("operator"), "/cases".into(), "cases"),
        (Some("operator"), format!("/cases/{number}"), "case"),
        (Some("operator"), format!("/cases/{long}"), "case-long-text"),
        (Some("dispatcher"), "/desk".into(), "desk"),
        (Some(handler.as_str()), "/inbox".into(), "inbox"),
        (Some(handler.as_str()), format!("/cases/{number}"), "case-handler"),
        (Some("inspector1"), "/inspector".into(), "inspector"),
        (Some("leader"), "/leader".into(), "leader"),
        (Some("leader"), "/leader?big=1".into(), "leader-big"),
        (Some("leader"), "/evaluation?period=2026-10".into(), "evaluation"),
        (Some("leader"), "/signals".into(), "signals"),
        (Some("leader"), "/topics".into(), "topics"),
        (Some("admin"), "/admin/units".into(), "admin-units"),
        (Some("admin"), "/admin/users".into(), "admin-users"),
        (Some("admin"), "/admin/categories".into(), "admin-categories"),
        (Some("admin"), "/admin/categories/11001".into(), "admin-category-edit"),
        (Some("admin"), "/admin/units/990101001-office".into(), "admin-unit-edit"),
        (Some("admin"), "/admin/users/inspector1".into(), "admin-user-edit"),
        (Some("admin"), "/admin/catalogue".into(), "admin-catalogue"),
        (Some("admin"), "/admin/grids".into(), "admin-grids"),
        (Some("admin"), "/admin/divisions".into(), "admin-divisions"),
        (Some("admin"), "/admin/calendar".into(), "admin-calendar"),
        (Some("admin"), "/admin/knowledge".into(), "admin-knowledge"),
        (Some("admin"), "/admin/classifier".into(), "admin-classifier"),
        (Some("admin"), "/admin/webhooks".into(), "admin-webhooks"),
        (Some("admin"), "/admin/access".into(), "admin-access"),
        (Some("operator"), "/account".into(), "account"),
        (Some("dispatcher"), "/replies".into(), "replies"),
        (Some("citizen"), "/cases".into(), "citizen-cases"),
    ];
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 1366, 900).await;
    let mut signed_in: Option<&str> = None;
    for (user, path, name) in &pages {
        if *user != signed_in {
            match user {
                Some(u) => b.login(u).await,
                None => b.logout().await,
            }
            signed_in = *user;
        }
        b.client.set_window_size(1366, 900).await.unwrap();
        b.goto(path).await;
        assert!(b.exists("main#main").await, "{path} rendered no page: {}", b.client.source().await.unwrap());
        assert!(!b.exists("#message").await, "{path} showed an error: {}", b.text("#message").await);
        b.screenshot(&format!("page-{name}-desktop")).await;
        b.client.set_window_size(360, 740).await.unwrap();
        b.goto(path).await;
        b.screenshot(&format!("page-{name}-360")).await;
        let phone_sized = matches!(
            *name,
            "inspector" | "portal-submit" | "portal-track" | "portal-public" | "login" | "case-long-text" | "account"
        );
        // Wide tables scroll inside their cards; the page itself keeps to the phone's width.
        if phone_sized || name.starts_with("admin-") {
            assert!(b.horizontal_overflow().await <= 0, "{path} is wider than 360 px");
        }
    }
    // The English interface.
    b.client.set_window_size(1366, 900).await.unwrap();
    b.click("#lang-switch").await;
    assert_eq!(b.eval("return document.documentElement.lang").await, "en");
    assert!(b.text("h1").await.contains("Cases"));
    b.screenshot("page-citizen-cases-english").await;
    // The longest navigation (an administrator's) stays on one line in English too.
    b.login("admin").await;
    b.goto("/admin/units").await;
    assert_eq!(b.eval("return document.documentElement.lang").await, "en");
    let lines =
        b.eval("return new Set([...document.querySelectorAll('header.top nav a')].map(a => a.offsetTop)).size").await;
    assert_eq!(lines, 1, "the navigation wraps");
    // The public list on a phone, with English's longer headings and states.
    b.logout().await;
    b.client.set_window_size(360, 740).await.unwrap();
    b.goto("/portal/requests").await;
    b.screenshot("page-portal-public-360-english").await;
    assert!(b.horizontal_overflow().await <= 0, "the public list is wider than 360 px in English");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_zooms_the_portal_map_with_two_fingers_without_placing_a_point() {
    use fantoccini::actions::{InputSource, PointerAction, TouchActions};
    if !browser_available() {
        return;
    }
    let site = spawn_site(Backend::Sqlite, 0).await;
    let driver = Driver::start();
    let mut b = Browser::open(&driver, &site.base, 390, 844).await;
    b.goto("/portal").await;
    let width = "return document.querySelector('svg.map').viewBox.baseVal.width";
    let before = b.eval(width).await.as_f64().unwrap();
    let centre = b
        .eval(
            "const m = document.querySelector('svg.map'); m.scrollIntoView({block: 'center'}); \
             const r = m.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]",
        )
        .await;
    let (x, y) = (centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap());
    let finger = |id: &str, dir: f64| {
        let step = std::time::Duration::from_millis(150);
        TouchActions::new(id.into())
            .then(PointerAction::MoveTo { duration: None, x: x + dir * 15.0, y })
            .then(PointerAction::Down { button: 0 })
            .then(PointerAction::MoveTo { duration: Some(step), x: x + dir * 60.0, y })
            .then(PointerAction::MoveTo { duration: Some(step), x: x + dir * 120.0, y })
            .then(PointerAction::Up { button: 0 })
    };
    b.client
        .perform_actions(fantoccini::actions::Actions::from(finger("left", -1.0)).and(finger("right", 1.0)))
        .await
        .unwrap();
    let after = b.eval(width).await.as_f64().unwrap();
    assert!(after < before / 2.0, "spreading two fingers zooms in: the view went from {before} to {after} wide");
    let placed = b.eval("return document.querySelector('#lat').value").await;
    assert_eq!(placed.as_str(), Some(""), "a pinch is not a tap on the map");
    b.finish().await;
}
