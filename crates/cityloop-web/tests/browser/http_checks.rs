//! What the pages promise at the HTTP level, checked without a browser: redirects to the login,
//! security headers, CSRF refusals, the portal's answers and the language cookie.

use cityloop_app::intake::{NewCase, NewContact, NewLocation};
use cityloop_store::Backend;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::harness::{spawn_site, spawn_site_with};

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
    let with_country_code = track(number.clone(), "+86 139 1234 5678").await.unwrap();
    assert_eq!(with_country_code.status(), StatusCode::OK, "the same mobile number with +86");
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
async fn a_merged_request_shows_its_resident_the_case_it_is_handled_with() {
    use cityloop_app::moves::{CaseRef, MoveInput};
    let site = spawn_site(Backend::Sqlite, 0).await;
    let report = |phone: &str| NewCase {
        request_type: "complaint".into(),
        title: "楼道灯坏了".into(),
        description: "三单元楼道灯不亮".into(),
        contact: Some(NewContact { name: "李四".into(), phone: phone.into() }),
        ..NewCase::default()
    };
    let master = site.app.create_public_case(report("13911112222"), None).await.unwrap().case.number;
    let merged = site.app.create_public_case(report("13933334444"), None).await.unwrap().case.number;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap().principal;
    let into = MoveInput { into: Some(CaseRef::Number(master.clone())), ..MoveInput::default() };
    site.app.perform_move(&operator, &merged, "merge", into).await.unwrap();
    let fields = [("number", merged.as_str()), ("phone", "13933334444")];
    let page = post_as_visitor(&site.base, "/portal/track", "/portal/track", &fields).await.text().await.unwrap();
    let line = page.split("id=\"tracked-master\">").nth(1).expect("the master named").split("</p>").next().unwrap();
    assert!(line.contains(&master) && line.contains("已上报"), "its number and where it stands: {line}");
}

#[tokio::test]
async fn the_public_list_hides_the_name_and_numbers_residents_type_into_a_title() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let input = NewCase {
        request_type: "complaint".into(),
        title: "我叫李小明电话13912345678楼道灯坏了".into(),
        description: "李小明：三单元楼道灯不亮".into(),
        contact: Some(NewContact { name: "李小明".into(), phone: "１３９１２３４５６７８".into() }),
        ..NewCase::default()
    };
    let case = site.app.create_public_case(input, None).await.unwrap().case;
    assert_eq!(case.contact.unwrap().phone, "13912345678", "full-width digits are stored as digits");
    let page = client().get(format!("{}/portal/requests", site.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("我叫李**电话139****5678楼道灯坏了"), "the title is shown masked");
    assert!(!page.contains("李小明") && !page.contains("13912345678"));
}

/// A form of the portal posted as a visitor, with the token of the page that shows it.
pub async fn post_as_visitor(base: &str, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let (cookie, token) = visitor(base, page).await;
    let mut form = fields.to_vec();
    form.push(("_csrf", token.as_str()));
    client().post(format!("{base}{action}")).header("cookie", cookie).form(&form).send().await.unwrap()
}

/// A form with a photo, as a browser sends it.
fn multipart_body(boundary: &str, fields: &[(&str, &str)], photo: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    let head = "Content-Disposition: form-data; name=\"photo\"; filename=\"photo.png\"\r\nContent-Type: image/png";
    body.extend(format!("--{boundary}\r\n{head}\r\n\r\n").bytes());
    body.extend(photo);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    body
}

/// Sends a form whose photo is too large; the page that comes back, marking it beside the photo.
async fn refused_photo(url: &str, cookie: &str, body: Vec<u8>) -> String {
    let sent = client()
        .post(url)
        .header("cookie", cookie)
        .header("content-type", "multipart/form-data; boundary=cityloop-form-boundary")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    assert!(page.contains("id=\"err-file\"") && page.contains("附件不能超过"), "marked beside the photo");
    page
}

/// A resident's request sent through the portal's form, as a visitor with the form's token.
async fn send_portal_form(base: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    post_as_visitor(base, "/portal", "/portal", fields).await
}

#[tokio::test]
async fn the_portal_marks_every_empty_required_field_at_once() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let sent = send_portal_form(
        &site.base,
        &[("request_type", "complaint"), ("title", " "), ("description", ""), ("phone", "")],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    for field in ["title", "description", "phone"] {
        assert!(page.contains(&format!("id=\"err-{field}\"")), "{field} is marked");
    }
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0);
}

#[tokio::test]
async fn the_portal_refuses_half_a_point_and_reads_a_mistyped_page_number_as_the_first() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let fields = [
        ("request_type", "complaint"),
        ("title", "路灯不亮"),
        ("description", "小区门口路灯坏了"),
        ("phone", "13912345678"),
        ("lat", "30.25"),
    ];
    let sent = send_portal_form(&site.base, &fields).await;
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(sent.text().await.unwrap().contains("id=\"err-lon\""), "the longitude is marked");
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0, "not filed without its place");
    // An address the city cannot place asks a resident for the map, not for a grid code.
    let unplaced = [
        ("request_type", "complaint"),
        ("title", "路灯不亮"),
        ("description", "小区门口路灯坏了"),
        ("phone", "13912345678"),
        ("address", "火星基地一号"),
    ];
    let sent = send_portal_form(&site.base, &unplaced).await;
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    assert!(page.contains("请在地图上点选位置") && !page.contains("网格编码"), "{page}");
    let page = client().get(format!("{}/portal/requests?page=abc", site.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<html lang=\"zh-CN\">"), "the page, not a parse error");
}

#[tokio::test]
async fn a_photo_too_large_is_marked_on_the_portal_form_with_what_was_typed_kept() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let (cookie, token) = visitor(&site.base, "/portal").await;
    let boundary = "cityloop-form-boundary";
    // Larger than the test site's 512 KB limit for attachments.
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.extend(std::iter::repeat_n(0u8, 600 * 1024));
    let fields = [
        ("_csrf", token.as_str()),
        ("request_type", "complaint"),
        ("title", "路灯不亮"),
        ("description", "小区门口路灯坏了"),
        ("phone", "13912345678"),
    ];
    let page = refused_photo(&format!("{}/portal", site.base), &cookie, multipart_body(boundary, &fields, &big)).await;
    assert!(page.contains("value=\"路灯不亮\""), "the title is kept");
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
    // A caller is one caller however the number is typed: stored and looked up as its 11 digits.
    let call = |phone: &str| NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "噪音".into(),
        description: "楼下装修噪音".into(),
        contact: Some(NewContact { name: "王女士".into(), phone: phone.into() }),
        ..NewCase::default()
    };
    for typed in ["+86 177-9139-8668", "0086 17791398668", "１７７９１３９８６６８"] {
        let created = site.app.create_case(&operator.principal, call(typed), None).await.unwrap().case;
        assert_eq!(created.contact.unwrap().phone, "17791398668", "{typed}");
    }
    for typed in ["17791398668", "+86 177 9139 8668"] {
        let q = cityloop_app::queries::CaseQuery { phone: Some(typed.into()), ..Default::default() };
        assert_eq!(site.app.list_cases(&operator.principal, &q).await.unwrap().items.len(), 3, "{typed}");
    }
}

#[tokio::test]
async fn units_below_the_citys_minimum_are_listed_last_and_unranked_on_the_evaluation_page() {
    let at_least_three = |s: &mut cityloop_app::AppSettings| {
        s.evaluation.min_to_rank.insert(cityloop_domain::evaluation::Indicator::Hotline, 3);
    };
    let site = spawn_site_with(Backend::Sqlite, 400, at_least_three).await;
    let leader = site.app.login("leader", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let page = staff_get(&site.base, &leader.token, "/evaluation?period=2026-10").await.text().await.unwrap();
    assert!(page.contains("本期有效回访少于 3 的对象不参与排名，列于表末。"), "{page}");
    let hotline = page.split("id=\"ranking-hotline\"").nth(1).unwrap().split("</table>").next().unwrap();
    // Each line's rank cell and first count (有效回访, after the rank, subject, score, grade, change
    // and the three rates).
    let lines: Vec<(bool, String, i64)> = hotline
        .split("<tr")
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split("<td").skip(1).collect();
            let text = |cell: &str| {
                let inner = cell.split_once('>').unwrap().1.split("</td>").next().unwrap();
                inner.split('>').filter_map(|p| p.split('<').next()).collect::<String>()
            };
            (row.starts_with(" class=\"unranked\""), text(cells[0]), text(cells[8]).trim().parse().unwrap())
        })
        .collect();
    let first_unranked = lines.iter().position(|l| l.0).expect("a unit below the minimum in the demo's October");
    assert!(first_unranked > 0, "and one above it: {lines:?}");
    assert!(lines[first_unranked..]
        .iter()
        .all(|(unranked, rank, revisits)| *unranked && rank == "未排名" && *revisits < 3));
    assert!(lines[..first_unranked].iter().all(|(_, rank, revisits)| rank.parse::<usize>().is_ok() && *revisits >= 3));
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
    // Named by the city's local time, as the pages show it (the demo city is eight hours ahead of UTC).
    let local = site.app.now().with_timezone(&site.app.reference().calendar.offset());
    let name = format!("attachment; filename=\"cases-{}.csv\"", local.format("%Y%m%d-%H%M"));
    assert_eq!(r.headers()["content-disposition"].to_str().unwrap(), name);
    assert_ne!(local.format("%H").to_string(), site.app.now().format("%H").to_string());
    let text = r.text().await.unwrap();
    let closed = cityloop_app::queries::CaseQuery { state: Some("closed".into()), ..Default::default() };
    let listed = site.app.list_cases(&dispatcher.principal, &closed).await.unwrap().total;
    assert!(listed > 0);
    assert_eq!(text.lines().count() as i64, listed + 1, "a header and every closed case");
    let r = download(dispatcher.token.clone(), "format=pdf").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// A page as a signed-in member of staff sees it.
async fn staff_get(base: &str, session: &str, path: &str) -> reqwest::Response {
    client().get(format!("{base}{path}")).header("cookie", format!("cl_session={session}")).send().await.unwrap()
}

/// A form sent by a signed-in member of staff, with the CSRF token given.
async fn post_form(base: &str, session: &str, csrf: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut fields = fields.to_vec();
    fields.push(("_csrf", csrf));
    client()
        .post(format!("{base}{path}"))
        .header("cookie", format!("cl_session={session}"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// A signed-in member of staff's CSRF token, read off a page.
async fn staff_token(base: &str, session: &str, path: &str) -> String {
    let html = staff_get(base, session, path).await.text().await.unwrap();
    html.split("name=\"_csrf\" value=\"").nth(1).expect("a form on the page").split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_signed_in_residents_portal_report_is_among_their_own_requests() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let citizen = site.app.login("citizen", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let csrf = staff_token(&site.base, &citizen.token, "/portal").await;
    // With a photo, as the form sends it.
    let fields = [
        ("request_type", "complaint"),
        ("title", "楼下烧烤油烟"),
        ("description", "每晚十点后烧烤油烟进屋"),
        ("phone", "13912345678"),
        ("_csrf", csrf.as_str()),
    ];
    let files = tempfile::tempdir().unwrap();
    let photo = std::fs::read(crate::harness::photo_file(files.path())).unwrap();
    let sent = client()
        .post(format!("{}/portal", site.base))
        .header("cookie", format!("cl_session={}", citizen.token))
        .header("content-type", "multipart/form-data; boundary=resident-boundary")
        .body(multipart_body("resident-boundary", &fields, &photo))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let to = sent.headers()[LOCATION].to_str().unwrap().to_string();
    let number = to.split("submitted=").nth(1).expect("the new request's number").to_string();
    let own = staff_get(&site.base, &citizen.token, &format!("/cases/{number}")).await;
    assert_eq!(own.status(), StatusCode::OK, "the resident opens the request from the account");
    assert!(own.text().await.unwrap().contains("楼下烧烤油烟"));
    let case = site.app.store.case_by_number(&number).await.unwrap();
    assert_eq!(case.reporter_id, Some(citizen.principal.user.id));
    let flow = site.app.store.flows(case.id).await.unwrap();
    assert_eq!(flow[0].1.attachments.len(), 1, "the photo came with it");
    assert_eq!(case.channel.as_str(), "web");
}

#[tokio::test]
async fn a_streets_coordinator_follows_its_new_cases_only_its_handlers_accept_and_a_suspension_shows_its_end() {
    use cityloop_app::moves::{MoveInput, UnitRef};
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let (operator, lead, dispatcher) =
        (login("operator").await.unwrap(), login("lead").await.unwrap(), login("dispatcher").await.unwrap());
    let coordinator = login("c-990101001-office").await.unwrap();
    let street = site.app.reference().unit(coordinator.principal.user.unit_id.unwrap()).unwrap().code.clone();
    let handler = site.app.login(&format!("h-{street}"), cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let case = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "小区门口井盖松动".into(),
        description: "小区门口井盖一踩就晃".into(),
        category: Some("06010".into()),
        // A grid of the coordinator's street (grid codes begin with their street's code).
        grid: site.app.reference().grids.iter().find(|g| g.code.starts_with(&street[..9])).map(|g| g.code.clone()),
        ..NewCase::default()
    };
    let case_input = case.clone();
    let number = site.app.create_case(&operator.principal, case, None).await.unwrap().case.number;
    site.app.perform_move(&lead.principal, &number, "file", MoveInput::default()).await.unwrap();
    let to_street = MoveInput { unit: Some(UnitRef::Code(street.clone())), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &number, "dispatch", to_street).await.unwrap();
    let base = site.base.clone();
    let inbox = |token: String| {
        let base = base.clone();
        async move { staff_get(&base, &token, "/inbox").await.text().await.unwrap() }
    };
    let sign_button = format!("/cases/{number}/moves/sign");
    let followed = inbox(coordinator.token.clone()).await;
    assert!(followed.contains(&number), "the coordinator sees the new case");
    assert!(!followed.contains(&sign_button), "but is offered no move it cannot make");
    assert!(inbox(handler.token.clone()).await.contains(&sign_button), "the unit's handler accepts it");
    // A department the street summons finds the case in its inbox, to report in from there.
    let district = &street[..6];
    let department = site
        .app
        .reference()
        .units
        .iter()
        .find(|u| u.kind == cityloop_domain::UnitKind::Department && u.code.starts_with(district))
        .unwrap()
        .code
        .clone();
    let whistle = MoveInput { units: Some(vec![UnitRef::Code(department.clone())]), ..MoveInput::default() };
    site.app.perform_move(&coordinator.principal, &number, "whistle", whistle).await.unwrap();
    // A case a department leads does not offer to summon that department to it.
    let led = NewCase { title: "井盖缺失".into(), description: "路口井盖缺失".into(), ..case_input.clone() };
    let led = site.app.create_case(&operator.principal, led, None).await.unwrap().case.number;
    site.app.perform_move(&lead.principal, &led, "file", MoveInput::default()).await.unwrap();
    let to_department = MoveInput { unit: Some(UnitRef::Code(department.clone())), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &led, "dispatch", to_department).await.unwrap();
    let page = staff_get(&site.base, &coordinator.token, &format!("/cases/{led}")).await.text().await.unwrap();
    let form = page.split("id=\"move-whistle\"").nth(1).expect("the street whistles").split("</form>").next().unwrap();
    assert!(!form.contains(&format!("value=\"{department}\"")) && form.contains("<option value="), "{form}");
    let summoned = site.app.login(&format!("h-{department}"), cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let their_inbox = inbox(summoned.token.clone()).await;
    let summons = section(&their_inbox, "q-summoned");
    assert!(summons.contains(&number) && summons.contains(&format!("/cases/{number}/moves/report-in")), "{summons}");
    // Having reported in, the department follows the case from its inbox until it is done.
    site.app.perform_move(&summoned.principal, &number, "report-in", MoveInput::default()).await.unwrap();
    let their_inbox = inbox(summoned.token.clone()).await;
    assert!(!section(&their_inbox, "q-summoned").contains(&number), "reported in: no longer to report in");
    assert!(section(&their_inbox, "q-reported-in").contains(&number), "{their_inbox}");
    site.app.perform_move(&handler.principal, &number, "sign", MoveInput::default()).await.unwrap();
    // An extension asked for without its amount is marked at the one amount field the form has.
    let case_page = staff_get(&site.base, &handler.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let field = if case_page.contains(r#"name="hours""#) { "hours" } else { "days" };
    let csrf = staff_token(&site.base, &handler.token, &format!("/cases/{number}")).await;
    let refused = client()
        .post(format!("{}/cases/{number}/moves/extend", site.base))
        .header("cookie", format!("cl_session={}", handler.token))
        .form(&[(field, ""), ("reason", "等待配件"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    let marked =
        page.split(&format!("id=\"err-{field}\"")).nth(1).expect("the amount is marked").split('<').next().unwrap();
    assert!(marked.contains("必填"), "{marked}");
    assert!(page.contains("等待配件"), "the reason typed is kept");
    assert!(page.contains(&format!(r#"name="{field}" min="1" value="">"#)), "the emptied amount is drawn empty");
    // Suspended (挂账) until a date: the case says until when.
    let until =
        MoveInput {
            until: Some("2026-12-25".into()), reason: Some("等待管网改造".into()), ..MoveInput::default()
        };
    site.app.perform_move(&handler.principal, &number, "suspend", until).await.unwrap();
    site.app.perform_move(&dispatcher.principal, &number, "approve-suspension", MoveInput::default()).await.unwrap();
    let page = staff_get(&site.base, &handler.token, &format!("/cases/{number}")).await.text().await.unwrap();
    assert!(page.contains("挂账至") && page.contains("2026-12-25 00:00"), "the end of the suspension is shown");
}

#[tokio::test]
async fn a_row_action_after_another_goes_back_to_the_queue_saying_only_its_own_move() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let case = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "路灯不亮".into(),
        description: "小区门口路灯坏了".into(),
        ..NewCase::default()
    };
    let number = site.app.create_case(&operator.principal, case, None).await.unwrap().case.number;
    let csrf = staff_token(&site.base, &operator.token, "/intake").await;
    // The queue's address after a first row action (or a bulk dispatch) still says what that was.
    let back = format!("/cases?state=reported&dispatched=0&failed=0&done=comment&case={number}");
    let r = client()
        .post(format!("{}/cases/{number}/moves/comment", site.base))
        .header("cookie", format!("cl_session={}", operator.token))
        .form(&[("note", "再次来电催办"), ("back", back.as_str()), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(to, format!("/cases?state=reported&done=comment&case={number}"));
    let page = staff_get(&site.base, &operator.token, &to).await;
    assert_eq!(page.status(), StatusCode::OK, "the queue opens again");
    // A move the user's roles do not allow is told in the page's language.
    let refused = client()
        .post(format!("{}/cases/{number}/moves/close", site.base))
        .header("cookie", format!("cl_session={}", operator.token))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    let message = summary.split("<li>").nth(1).unwrap().split("</li>").next().unwrap();
    assert!(message.contains("您无权执行此操作"), "{message}");
    assert!(!message.chars().any(|c| c.is_ascii_alphabetic()), "no English in the Chinese page: {message}");
}

#[tokio::test]
async fn queues_that_show_no_contact_data_record_no_contact_views() {
    let site = spawn_site(Backend::Sqlite, 40).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let dispatcher = login("dispatcher").await.unwrap();
    for path in ["/desk", "/cases", "/cases?state=closed"] {
        assert_eq!(staff_get(&site.base, &dispatcher.token, path).await.status(), StatusCode::OK, "{path}");
    }
    let admin = login("admin").await.unwrap();
    let views = |username: &str| cityloop_app::access::ContactViewQuery {
        username: Some(username.into()),
        ..Default::default()
    };
    let (_, seen) = site.app.contact_views(&admin.principal, &views("dispatcher")).await.unwrap();
    assert_eq!(seen, 0, "lists without contact data are not look-ups");
    // The API's list does carry contact data, and records it.
    site.app.list_cases(&dispatcher.principal, &Default::default()).await.unwrap();
    let (_, seen) = site.app.contact_views(&admin.principal, &views("dispatcher")).await.unwrap();
    assert!(seen > 0, "the API's list shows contact data to a dispatcher");
    // A search by a caller's phone finds whose cases these are: a look-up, recorded.
    let resident = NewContact { name: "李四".into(), phone: "13912345678".into() };
    let case = NewCase {
        request_type: "complaint".into(),
        title: "楼道灯坏了".into(),
        description: "三单元楼道灯不亮".into(),
        contact: Some(resident),
        ..NewCase::default()
    };
    site.app.create_public_case(case, None).await.unwrap();
    let operator = login("operator").await.unwrap();
    let r = staff_get(&site.base, &operator.token, "/cases?phone=13912345678").await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, seen) = site.app.contact_views(&admin.principal, &views("operator")).await.unwrap();
    assert_eq!(seen, 1, "the one case found by the phone is recorded");
}

#[tokio::test]
async fn an_error_keeps_the_staff_navigation_and_names_errors_no_field_shows() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let lead = site.app.login("lead", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let r = staff_get(&site.base, &lead.token, "/desk").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains("您无权执行此操作"), "{page}");
    assert!(page.contains(&lead.principal.user.name), "the header still names who is signed in");
    assert!(page.contains("href=\"/cases\""), "and offers the lead's pages");
    assert!(!page.contains("dispatchers"), "no untranslated English in the Chinese page");
    // A point outside the city belongs to no field of the portal's form: the summary says it.
    let sent = send_portal_form(
        &site.base,
        &[
            ("request_type", "complaint"),
            ("title", "路灯不亮"),
            ("description", "小区门口路灯坏了"),
            ("phone", "13912345678"),
            ("lat", "39.9"),
            ("lon", "116.4"),
        ],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    assert!(summary.contains("位置：位于本市范围之外"), "{summary}");
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0);
    // An address with a mistyped parameter gets the site's page naming it, not the framework's text.
    let dispatcher = site.app.login("dispatcher", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    // Named in the page's language where the parameter has a name a user would know.
    for (path, field) in [("/desk?dispatched=abc", "已派遣数"), ("/replies?days=x", "统计天数")] {
        let r = staff_get(&site.base, &dispatcher.token, path).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        let page = r.text().await.unwrap();
        assert!(page.contains(&format!("{field}：网址中的此项取值无效")), "{page}");
        assert!(page.contains("href=\"/desk\""), "the dispatcher's pages are still offered");
    }
    for (path, field) in [
        ("/cases?page=abc", "页码"),
        ("/cases?overdue=maybe", "超期"),
        ("/cases?due_within_hours=abc", "剩余时限（小时）"),
    ] {
        let page = staff_get(&site.base, &dispatcher.token, path).await.text().await.unwrap();
        assert!(page.contains(&format!("{field}：网址中的此项取值无效")), "{path}: {page}");
    }
    let page = staff_get(&site.base, &dispatcher.token, "/cases?state=bogus").await.text().await.unwrap();
    assert!(page.contains("状态：「bogus」 不是可选值"), "named as its form field is: {page}");
    // A parameter left out is named, not the top of the address.
    let page =
        staff_get(&site.base, &dispatcher.token, "/evaluation/cases?indicator=hotline").await.text().await.unwrap();
    assert!(page.contains("考核对象：网址中缺少此项"), "{page}");
    let path = "/evaluation/cases?indicator=hotline&subject=1&metric=zzz";
    let page = staff_get(&site.base, &dispatcher.token, path).await.text().await.unwrap();
    assert!(page.contains("计数项：「zzz」 不计入 「hotline」 的考核"), "in Chinese: {page}");
    // A span out of range is said, not quietly changed.
    let page = staff_get(&site.base, &dispatcher.token, "/replies?days=0").await.text().await.unwrap();
    assert!(page.contains("统计天数：须为 1 到 366"), "{page}");
    let visitor = client().get(format!("{}/portal/requests?page=abc", site.base)).send().await.unwrap();
    assert!(visitor.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn the_case_list_form_sends_again_a_queues_filter_it_has_no_field_for() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let dispatcher = site.app.login("dispatcher", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let page = staff_get(&site.base, &dispatcher.token, "/cases?due_within_hours=24&sort=deadline").await;
    let page = page.text().await.unwrap();
    let form = page.split("id=\"filters\"").nth(1).unwrap().split("</form>").next().unwrap();
    assert!(form.contains(r#"<input type="hidden" name="due_within_hours" value="24">"#), "{form}");
    assert!(form.contains("24 小时内到期"), "the form says the list is filtered by it");
}

#[tokio::test]
async fn the_workbench_makes_no_category_guess_from_text_without_chinese_or_with_nothing_it_learnt() {
    // The demo trains its classifier on its cases.
    let site = spawn_site(Backend::Sqlite, 300).await;
    assert!(site.app.model().is_some());
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let guessed = staff_get(
        &site.base,
        &operator.token,
        "/intake/suggest?title=%E8%B7%AF%E7%81%AF%E4%B8%8D%E4%BA%AE&description=",
    )
    .await;
    assert!(guessed.text().await.unwrap().contains("category-suggestions"), "路灯不亮 gets suggestions");
    let latin = staff_get(&site.base, &operator.token, "/intake/suggest?title=street+light&description=broken").await;
    let latin = latin.text().await.unwrap();
    assert!(!latin.contains("category-suggestions") && latin.contains("请人工选择"), "{latin}");
    // Nor from words no request it learnt from has: 测试标题, 你好谢谢再见.
    for words in ["%E6%B5%8B%E8%AF%95%E6%A0%87%E9%A2%98", "%E4%BD%A0%E5%A5%BD%E8%B0%A2%E8%B0%A2%E5%86%8D%E8%A7%81"] {
        let page = staff_get(&site.base, &operator.token, &format!("/intake/suggest?title={words}&description=")).await;
        let page = page.text().await.unwrap();
        assert!(!page.contains("category-suggestions") && page.contains("请人工选择"), "{page}");
    }
}

#[tokio::test]
async fn the_user_form_marks_every_wrong_field_at_once() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let token = staff_token(&site.base, &admin.token, "/admin/users").await;
    let form =
        [("_csrf", token.as_str()), ("username", "x"), ("password", "short"), ("name", ""), ("roles", "handler")];
    let sent = client()
        .post(format!("{}/admin/users", site.base))
        .header("cookie", format!("cl_session={}", admin.token))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = sent.text().await.unwrap();
    for field in ["username", "password", "name", "unit"] {
        assert!(page.contains(&format!("id=\"err-{field}\"")), "{field} is marked");
    }
    // The summary at the top lists them in the form's order.
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</ul>").next().unwrap();
    let at = |label: &str| summary.find(&format!("<li>{label}：")).unwrap_or_else(|| panic!("{label} in {summary}"));
    assert!(at("用户名") < at("初始密码") && at("初始密码") < at("姓名"), "{summary}");
    assert!(site.app.store.user_by_username("x").await.unwrap().is_none(), "nothing was saved");
}

#[tokio::test]
async fn inspectors_report_and_leads_file_under_categories_with_a_standard_their_groups_are_headings() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let (inspector, operator, lead) =
        (login("inspector1").await.unwrap(), login("operator").await.unwrap(), login("lead").await.unwrap());
    let call = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "路边垃圾".into(),
        description: "路边垃圾很多".into(),
        ..NewCase::default()
    };
    let number = site.app.create_case(&operator.principal, call, None).await.unwrap().case.number;
    let inspector_page = staff_get(&site.base, &inspector.token, "/inspector").await.text().await.unwrap();
    let case_page = staff_get(&site.base, &lead.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let filing =
        case_page.split("id=\"move-file\"").nth(1).expect("the lead may file").split("</form>").next().unwrap();
    for page in [inspector_page.as_str(), filing] {
        assert!(page.contains("<option disabled>06 市容环境</option>"), "the group is a heading: {page}");
        assert!(!page.contains(r#"<option value="06">"#), "and cannot be chosen");
        assert!(page.contains(r#"<option value="06010">"#), "its categories can");
    }
    // A case the operator put under the group offers no choice until the lead makes one.
    let grouped = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "街面脏乱".into(),
        description: "街面很脏".into(),
        category: Some("06".into()),
        ..NewCase::default()
    };
    let number = site.app.create_case(&operator.principal, grouped, None).await.unwrap().case.number;
    let case_page = staff_get(&site.base, &lead.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let filing = case_page.split("id=\"move-file\"").nth(1).unwrap().split("</form>").next().unwrap();
    assert!(filing.contains(r#"<option value="">—</option>"#) && !filing.contains(" selected"), "{filing}");
}

#[tokio::test]
async fn an_inspector_states_whether_a_reported_problem_is_there_and_says_what_was_found_when_not() {
    use cityloop_app::moves::MoveInput;
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let (inspector, operator) = (login("inspector1").await.unwrap(), login("operator").await.unwrap());
    let grid = inspector.principal.user.grids[0];
    let grid = site.app.reference().grid(grid).unwrap().clone();
    let call = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "路边垃圾".into(),
        description: "路边垃圾很多".into(),
        location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
        ..NewCase::default()
    };
    let number = site.app.create_case(&operator.principal, call, None).await.unwrap().case.number;
    site.app.perform_move(&operator.principal, &number, "request-verification", MoveInput::default()).await.unwrap();
    let tasks =
        section(&staff_get(&site.base, &inspector.token, "/inspector").await.text().await.unwrap(), "verify-tasks")
            .to_string();
    assert!(tasks.contains(r#"name="found" value="true""#) && tasks.contains("核实属实"), "{tasks}");
    assert!(tasks.contains(&format!("/cases/{number}#move-verify")) && tasks.contains("不属实"), "{tasks}");
    let page = staff_get(&site.base, &inspector.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let form =
        page.split("id=\"move-verify\"").nth(1).expect("the inspector verifies").split("</form>").next().unwrap();
    assert!(form.contains(r#"<select name="found"><option value="">—</option>"#), "nothing chosen: {form}");
    let csrf = staff_token(&site.base, &inspector.token, &format!("/cases/{number}")).await;
    let path = format!("/cases/{number}/moves/verify");
    let unexplained = post_form(&site.base, &inspector.token, &csrf, &path, &[("found", "false")]).await;
    assert_eq!(unexplained.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields = [("found", "false"), ("note", "现场未发现垃圾，已清扫")];
    assert_eq!(post_form(&site.base, &inspector.token, &csrf, &path, &fields).await.status(), StatusCode::SEE_OTHER);
    let page = staff_get(&site.base, &operator.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let finding = section(&page, "timeline");
    assert!(finding.contains("不属实") && finding.contains("现场未发现垃圾"), "{finding}");
}

#[tokio::test]
async fn the_revisit_form_chooses_no_answer_for_the_resident() {
    use cityloop_app::moves::MoveInput;
    let site = spawn_site(Backend::Sqlite, 0).await;
    let staff = StreetLoop::sign_in(&site.app).await;
    let number = staff.dispatched(&site.app, "楼道堆放杂物").await;
    let StreetLoop { operator, handler, .. } = &staff;
    site.app.perform_move(&handler.principal, &number, "sign", MoveInput::default()).await.unwrap();
    let result = MoveInput { result: Some("已清理".into()), ..MoveInput::default() };
    site.app.perform_move(&handler.principal, &number, "submit", result).await.unwrap();
    let page = staff_get(&site.base, &operator.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let form = page.split("id=\"move-revisit\"").nth(1).expect("a revisit").split("</form>").next().unwrap();
    assert!(!form.contains(" selected"), "nothing is chosen for the resident: {form}");
    let csrf = staff_token(&site.base, &operator.token, &format!("/cases/{number}")).await;
    let path = format!("/cases/{number}/moves/revisit");
    let half =
        post_form(&site.base, &operator.token, &csrf, &path, &[("contacted", "true"), ("satisfaction", "satisfied")])
            .await;
    assert_eq!(half.status(), StatusCode::UNPROCESSABLE_ENTITY, "reached, the resident's answers are asked for");
    let unreached = post_form(&site.base, &operator.token, &csrf, &path, &[("contacted", "false")]).await;
    assert_eq!(unreached.status(), StatusCode::SEE_OTHER);
    let revisit = site.app.store.case_by_number(&number).await.unwrap().revisit.unwrap();
    assert!(!revisit.contacted);
}

#[tokio::test]
async fn a_unit_that_escalates_goes_back_to_its_inbox_and_the_top_unit_is_offered_no_escalation() {
    use cityloop_app::moves::{MoveInput, UnitRef};
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let (operator, lead, dispatcher) =
        (login("operator").await.unwrap(), login("lead").await.unwrap(), login("dispatcher").await.unwrap());
    let committee = site.app.login("h-990101001001-jwh", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let case = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "楼道堆物".into(),
        description: "楼道里堆满杂物".into(),
        category: Some("06010".into()),
        ..NewCase::default()
    };
    let number = site.app.create_case(&operator.principal, case, None).await.unwrap().case.number;
    site.app.perform_move(&lead.principal, &number, "file", MoveInput::default()).await.unwrap();
    let to_committee = MoveInput { unit: Some(UnitRef::Code("990101001001-jwh".into())), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &number, "dispatch", to_committee).await.unwrap();
    let csrf = staff_token(&site.base, &committee.token, &format!("/cases/{number}")).await;
    let escalated = client()
        .post(format!("{}/cases/{number}/moves/escalate", site.base))
        .header("cookie", format!("cl_session={}", committee.token))
        .form(&[("note", "需街道协调"), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(escalated.status(), StatusCode::SEE_OTHER);
    let to = escalated.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(to, format!("/inbox?done=escalate&case={number}"), "the case has left the committee's sight");
    assert_eq!(staff_get(&site.base, &committee.token, &to).await.status(), StatusCode::OK);
    // The timeline names where each move sent the case.
    let reference = site.app.reference();
    let unit_name = |code: &str| reference.unit_by_code(code).unwrap().name.clone();
    let page = staff_get(&site.base, &dispatcher.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let targets: Vec<&str> =
        page.split("<span class=\"target\">").skip(1).map(|s| s.split("</span>").next().unwrap()).collect();
    let street = reference.unit(reference.unit_by_code("990101001001-jwh").unwrap().parent_id.unwrap()).unwrap();
    assert_eq!(targets, [format!("→ {}", unit_name("990101001001-jwh")), format!("→ {}", street.name)]);
    // Up the tree to the city government, which has no higher unit to hand it to.
    let case_ref = cityloop_app::moves::CaseRef::Number(number.clone());
    let escalate = cityloop_domain::workflow::MoveKind::Escalate;
    for _ in 0..5 {
        let view = site.app.case_view(&dispatcher.principal, &case_ref).await.unwrap();
        if !view.allowed_moves.contains(&escalate) {
            break;
        }
        site.app.perform_move(&dispatcher.principal, &number, "escalate", MoveInput::default()).await.unwrap();
    }
    let top = site.app.case_view(&dispatcher.principal, &case_ref).await.unwrap();
    assert_eq!(site.app.reference().unit(top.case.unit_id.unwrap()).unwrap().code, "990100-gov");
    assert!(!top.allowed_moves.contains(&escalate), "nothing above the top");
}

#[tokio::test]
async fn the_leaders_chart_names_every_category_while_they_fit_its_colours() {
    let site = spawn_site(Backend::Sqlite, 400).await;
    let leader = site.app.login("leader", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let page = staff_get(&site.base, &leader.token, "/leader").await.text().await.unwrap();
    let legend = page.rsplit("<p class=\"legend\">").next().unwrap().split("</p>").next().unwrap();
    let reference = site.app.reference();
    let top_level = reference.categories.iter().filter(|c| c.parent_id.is_none()).count();
    assert!(top_level <= 8, "the demo city's {top_level} groups fit the eight colours");
    assert!(!legend.contains("其他 ("), "no named category is shown as other: {legend}");
    let shown = legend.matches("<span class=\"sw c").count();
    assert!(shown > 7, "more than seven series: {legend}");
}

#[tokio::test]
async fn staff_change_their_password_and_an_administrator_resets_one_and_closes_an_account() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let login = |u: &'static str| site.app.login(u, cityloop_app::demo::DEMO_PASSWORD);
    let (operator, admin) = (login("operator").await.unwrap(), login("admin").await.unwrap());
    let send = |session: String, path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let base = site.base.clone();
        async move {
            let csrf = staff_token(&base, &session, "/account").await;
            let mut form = fields;
            form.push(("_csrf", csrf.leak()));
            client()
                .post(format!("{base}{path}"))
                .header("cookie", format!("cl_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let mismatch = vec![
        ("current_password", cityloop_app::demo::DEMO_PASSWORD),
        ("new_password", "长久的新密码-1"),
        ("new_password_again", "长久的新密码-2"),
    ];
    let refused = send(operator.token.clone(), "/account/password", mismatch).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("id=\"err-new_password_again\""));
    let change = vec![
        ("current_password", cityloop_app::demo::DEMO_PASSWORD),
        ("new_password", "长久的新密码-1"),
        ("new_password_again", "长久的新密码-1"),
    ];
    let changed = send(operator.token.clone(), "/account/password", change).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(changed.text().await.unwrap().contains("密码已修改"));
    assert!(site.app.login("operator", "长久的新密码-1").await.is_ok());
    // The administrator's account form: an unknown name is marked, a closed account signs in no more.
    let unknown = send(admin.token.clone(), "/admin/users/account", vec![("account", "nobody"), ("op", "close")]).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text().await.unwrap().contains("id=\"err-account\""));
    let closed =
        send(admin.token.clone(), "/admin/users/account", vec![("account", "operator2"), ("op", "close")]).await;
    assert_eq!(closed.status(), StatusCode::OK);
    assert!(closed.text().await.unwrap().contains("operator2: 已停用"));
    assert!(login("operator2").await.is_err());
    let reset = vec![("account", "operator2"), ("new_password", "临时密码-0001"), ("op", "reset")];
    assert_eq!(send(admin.token.clone(), "/admin/users/account", reset).await.status(), StatusCode::OK);
    let opened =
        send(admin.token.clone(), "/admin/users/account", vec![("account", "operator2"), ("op", "open")]).await;
    assert_eq!(opened.status(), StatusCode::OK);
    assert!(site.app.login("operator2", "临时密码-0001").await.is_ok());
}

#[tokio::test]
async fn a_photo_too_large_is_marked_on_the_inspectors_report_with_the_report_kept() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let inspector = site.app.login("inspector1", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let csrf = staff_token(&site.base, &inspector.token, "/inspector").await;
    let grid = site.app.reference().grid(inspector.principal.user.grids[0]).unwrap().code.clone();
    let boundary = "cityloop-form-boundary";
    // Larger than the test site's limit for attachments.
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.extend(std::iter::repeat_n(0u8, 600 * 1024));
    let fields = [("_csrf", csrf.as_str()), ("title", "井盖破损"), ("description", "人行道井盖破损"), ("grid", &grid)];
    let cookie = format!("cl_session={}", inspector.token);
    let page =
        refused_photo(&format!("{}/inspector", site.base), &cookie, multipart_body(boundary, &fields, &big)).await;
    assert!(page.contains("井盖破损"), "the report is kept");
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0);
}

#[tokio::test]
async fn the_workbench_form_sent_twice_without_its_script_makes_one_case() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let page = staff_get(&site.base, &operator.token, "/intake").await.text().await.unwrap();
    let key = page.split("name=\"form_key\" id=\"form_key\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(key.len(), 32, "the page carries its own key: {key}");
    let csrf = staff_token(&site.base, &operator.token, "/intake").await;
    let fields = [
        ("_csrf", csrf.as_str()),
        ("form_key", key),
        ("channel", "hotline"),
        ("request_type", "complaint"),
        ("title", "路灯不亮"),
        ("description", "小区门口路灯坏了"),
    ];
    for _ in 0..2 {
        let sent = client()
            .post(format!("{}/intake", site.base))
            .header("cookie", format!("cl_session={}", operator.token))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(site.app.store.count_cases().await.unwrap(), 1);
}

#[tokio::test]
async fn the_workbench_preview_promises_no_limit_a_category_lacks_and_an_article_alone_answers() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let reference = site.app.reference();
    let group = reference.categories.iter().find(|c| reference.standard(c.id).is_none()).expect("a heading");
    let grid = reference.grids[0].code.clone();
    let preview = |query: String| {
        let token = operator.token.clone();
        let base = site.base.clone();
        async move { staff_get(&base, &token, &format!("/intake/preview?{query}")).await.text().await.unwrap() }
    };
    let heading = preview(format!("category={}&grid={grid}", group.code)).await;
    assert!(heading.contains("立案时选定具体类别后确定处置时限"), "{heading}");
    assert!(!heading.contains("个自然日") && !heading.contains("<b id=\"preview-deadline\""), "{heading}");
    let leaf = preview(format!("category=11001&grid={grid}")).await;
    assert!(leaf.contains("<b id=\"preview-deadline\"") && leaf.contains("3个工作日"), "{leaf}");
    let mistyped = preview("category=11001&grid=no-such-grid".into()).await;
    assert!(mistyped.contains("没有这个网格编码"), "{mistyped}");
    // The administrator's catalogue tester answers as the workbench does.
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let tester = staff_get(&site.base, &admin.token, &format!("/admin/catalogue?category={}", group.code)).await;
    let tester = tester.text().await.unwrap();
    assert!(tester.contains("立案时选定具体类别后确定处置时限") && !tester.contains("7个自然日"), "{tester}");

    // An article chosen with no words of the operator's own is the answer, as in the API.
    let article = site.app.articles().into_iter().next().expect("the demo's knowledge base");
    let page = staff_get(&site.base, &operator.token, "/intake").await.text().await.unwrap();
    let key = page.split("name=\"form_key\" id=\"form_key\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let csrf = staff_token(&site.base, &operator.token, "/intake").await;
    let id = article.id.to_string();
    let mut fields = vec![
        ("form_key", key),
        ("channel", "hotline"),
        ("request_type", "consultation"),
        ("title", "咨询办理流程"),
        ("description", "想问一下怎么办理"),
        ("article", "999999"),
        ("answer", ""),
        ("action", "answer"),
    ];
    let unknown = post_form(&site.base, &operator.token, &csrf, "/intake", &fields).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text().await.unwrap().contains("没有这篇知识"));
    assert_eq!(site.app.store.count_cases().await.unwrap(), 0, "a refused answer leaves no case");
    fields[5] = ("article", id.as_str());
    let sent = post_form(&site.base, &operator.token, &csrf, "/intake", &fields).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let location = sent.headers()["location"].to_str().unwrap().to_string();
    let number = location.strip_prefix("/intake?answered=").expect("answered and closed").to_string();
    let case = site.app.store.case_by_number(&number).await.unwrap();
    assert_eq!((case.state, case.result.as_deref()), (cityloop_domain::State::Closed, Some(article.body.as_str())));
}

#[tokio::test]
async fn the_portal_names_the_phone_field_as_its_form_does() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let fields =
        [("request_type", "complaint"), ("title", "路灯不亮"), ("description", "小区门口路灯坏了"), ("phone", "")];
    let page = send_portal_form(&site.base, &fields).await.text().await.unwrap();
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    assert!(summary.contains("联系电话：必填") && !summary.contains("来电号码"), "{summary}");
}

/// The hotline's staff and the handler of the demo's first street, signed in.
struct StreetLoop {
    operator: cityloop_app::auth::Login,
    lead: cityloop_app::auth::Login,
    dispatcher: cityloop_app::auth::Login,
    handler: cityloop_app::auth::Login,
    street: String,
}

impl StreetLoop {
    async fn sign_in(app: &cityloop_app::App) -> StreetLoop {
        let login = |u: String| async move { app.login(&u, cityloop_app::demo::DEMO_PASSWORD).await.unwrap() };
        let street = "990101001-office".to_string();
        StreetLoop {
            operator: login("operator".into()).await,
            lead: login("lead".into()).await,
            dispatcher: login("dispatcher".into()).await,
            handler: login(format!("h-{street}")).await,
            street,
        }
    }

    /// A complaint (06010, four working hours) taken in, filed and dispatched to the street: its number.
    async fn dispatched(&self, app: &cityloop_app::App, title: &str) -> String {
        use cityloop_app::moves::{MoveInput, UnitRef};
        let number = self.filed(app, title).await;
        let to_street = MoveInput { unit: Some(UnitRef::Code(self.street.clone())), ..MoveInput::default() };
        app.perform_move(&self.dispatcher.principal, &number, "dispatch", to_street).await.unwrap();
        number
    }

    /// A complaint (06010) taken in and filed, waiting for dispatch: its number.
    async fn filed(&self, app: &cityloop_app::App, title: &str) -> String {
        use cityloop_app::moves::MoveInput;
        let number = self.taken_in(app, title, &format!("{title}，请尽快处理")).await;
        app.perform_move(&self.lead.principal, &number, "file", MoveInput::default()).await.unwrap();
        number
    }

    /// A complaint (06010) the operator took in on the hotline, not yet filed: its number.
    async fn taken_in(&self, app: &cityloop_app::App, title: &str, description: &str) -> String {
        let case = NewCase {
            channel: "hotline".into(),
            request_type: "complaint".into(),
            title: title.into(),
            description: description.into(),
            category: Some("06010".into()),
            ..NewCase::default()
        };
        app.create_case(&self.operator.principal, case, None).await.unwrap().case.number
    }
}

#[tokio::test]
async fn a_result_sent_back_for_rework_reads_as_the_previous_one() {
    use cityloop_app::moves::MoveInput;
    let site = spawn_site(Backend::Sqlite, 0).await;
    let staff = StreetLoop::sign_in(&site.app).await;
    let number = staff.dispatched(&site.app, "楼道堆放杂物").await;
    let app = &site.app;
    app.perform_move(&staff.handler.principal, &number, "sign", MoveInput::default()).await.unwrap();
    let result = MoveInput { result: Some("已通知物业清理".into()), ..MoveInput::default() };
    app.perform_move(&staff.handler.principal, &number, "submit", result).await.unwrap();
    let details =
        |page: String| page.split("<dl").nth(1).expect("the case's details").split("</dl>").next().unwrap().to_string();
    let page = staff_get(&site.base, &staff.handler.token, &format!("/cases/{number}")).await.text().await.unwrap();
    assert!(details(page).contains("处理结果</dt><dd>已通知物业清理"), "submitted, it is the result");
    let back = MoveInput { reason: Some("杂物仍在楼道".into()), ..MoveInput::default() };
    app.perform_move(&staff.dispatcher.principal, &number, "rework", back).await.unwrap();
    let page = staff_get(&site.base, &staff.handler.token, &format!("/cases/{number}")).await.text().await.unwrap();
    let shown = details(page);
    assert!(shown.contains("上次处理结果（未通过）</dt><dd>已通知物业清理"), "{shown}");
}

#[tokio::test]
async fn bulk_dispatch_names_each_case_it_left_behind_and_why() {
    use cityloop_app::moves::MoveInput;
    let site = spawn_site(Backend::Sqlite, 0).await;
    let staff = StreetLoop::sign_in(&site.app).await;
    let (sent, changed) = (staff.filed(&site.app, "楼道堆放杂物").await, staff.filed(&site.app, "小区路灯不亮").await);
    let desk = staff_get(&site.base, &staff.dispatcher.token, "/desk").await.text().await.unwrap();
    let read_at = |number: &str| {
        let field = format!(r#"name="v-{number}" value=""#);
        desk.split(&field).nth(1).expect("the row carries its version").split('"').next().unwrap().to_string()
    };
    let (sent_at, changed_at) = (read_at(&sent), read_at(&changed));
    // Someone adds to the second case after the desk was read.
    let note = MoveInput { note: Some("市民来电补充：路口东侧".into()), ..MoveInput::default() };
    site.app.perform_move(&staff.operator.principal, &changed, "comment", note).await.unwrap();

    let csrf = staff_token(&site.base, &staff.dispatcher.token, "/desk").await;
    let (v_sent, v_changed) = (format!("v-{sent}"), format!("v-{changed}"));
    let fields = [
        ("case", sent.as_str()),
        ("case", changed.as_str()),
        (v_sent.as_str(), sent_at.as_str()),
        (v_changed.as_str(), changed_at.as_str()),
        ("unit", staff.street.as_str()),
    ];
    let answer = post_form(&site.base, &staff.dispatcher.token, &csrf, "/desk/dispatch", &fields).await;
    assert_eq!(answer.status(), StatusCode::OK, "the desk answers with what it left");
    let page = answer.text().await.unwrap();
    let flash = page.split("id=\"flash\">").nth(1).expect("a flash").split('<').next().unwrap();
    assert!(flash.contains("已派遣 1"), "{flash}");
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    assert!(summary.contains("未能派遣 1"), "the cases left are counted: {summary}");
    let left = summary.split("<li>").find(|row| row.contains(changed.as_str())).expect("the case left is named");
    assert!(left.contains("已被他人更新"), "with its reason: {left}");
    assert!(!summary.contains(sent.as_str()), "{summary}");
    // The page is the desk's: its row forms and the language switch come back to /desk.
    assert!(page.contains("next=%2Fdesk\""), "the language switch stays on the desk");
    assert!(!page.contains(r#"value="/desk/dispatch""#) && !page.contains("next=%2Fdesk%2Fdispatch"), "{page}");
    let store = &site.app.store;
    assert_eq!(store.case_by_number(&sent).await.unwrap().state, cityloop_domain::State::PendingSign);
    let left = store.case_by_number(&changed).await.unwrap().state;
    assert_eq!(left, cityloop_domain::State::Registered, "not sent blind");
}

/// The part of a page inside the section with this id.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    page.split(&format!("id=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no section {id}"))
        .split("</section>")
        .next()
        .unwrap()
}

#[tokio::test]
async fn the_desk_shows_what_a_unit_asks_and_why_and_the_unit_reads_its_supervision_in_its_inbox() {
    use cityloop_app::moves::{MoveInput, UnitRef};
    let site = spawn_site(Backend::Sqlite, 0).await;
    let app = &site.app;
    let login = |u: String| async move { app.login(&u, cityloop_app::demo::DEMO_PASSWORD).await.unwrap() };
    let staff = StreetLoop::sign_in(&site.app).await;
    let StreetLoop { dispatcher, handler, street, .. } = &staff;
    let mut numbers = Vec::new();
    for title in ["楼道堆放杂物", "小区路灯不亮"] {
        numbers.push(staff.dispatched(&site.app, title).await);
    }
    let (extended, returned) = (&numbers[0], &numbers[1]);
    site.app.perform_move(&handler.principal, extended, "sign", MoveInput::default()).await.unwrap();
    let hours = site.app.store.case_by_number(extended).await.unwrap().limit.unwrap().counts_hours();
    let (amount_hours, amount_days) = if hours { (Some(2), None) } else { (None, Some(1)) };
    let ask = MoveInput {
        hours: amount_hours,
        days: amount_days,
        reason: Some("等待配件到货".into()),
        ..MoveInput::default()
    };
    site.app.perform_move(&handler.principal, extended, "extend", ask).await.unwrap();
    let give_back = MoveInput { reason: Some("该路段不属于本街道管辖".into()), ..MoveInput::default() };
    site.app.perform_move(&handler.principal, returned, "return", give_back).await.unwrap();

    let desk = staff_get(&site.base, &dispatcher.token, "/desk").await.text().await.unwrap();
    let requests = section(&desk, "q-requests");
    assert!(requests.contains(extended) && requests.contains("等待配件到货"), "the reason is on the row: {requests}");
    assert!(requests.contains(&format!("/cases/{extended}/moves/approve-extension")), "{requests}");
    assert!(requests.contains(&format!("/cases/{extended}/moves/reject-extension")), "{requests}");
    assert!(!requests.contains("approve-suspension"), "only the moves that answer the request it holds: {requests}");
    let returns = section(&desk, "q-returns");
    assert!(returns.contains(returned) && returns.contains("该路段不属于本街道管辖"), "{returns}");
    assert!(!returns.contains("等待配件到货"), "a row carries its own case's request only");
    // Supervision from a row asks one level above the case's: first 催办.
    let supervise_form = |page: &str| {
        let form =
            page.split(&format!("/cases/{extended}/moves/supervise")).nth(1).expect("supervision offered on the row");
        form.split("</form>").next().unwrap().to_string()
    };
    let first = supervise_form(&desk);
    assert!(first.contains(r#"name="level" value="1""#) && first.contains("催办"), "{first}");

    // A row answers the request it showed: a click on a row read before the request changed is refused.
    let approve = requests.split(&format!("/cases/{extended}/moves/approve-extension")).nth(1).unwrap();
    let read_at = approve.split(r#"name="version" value=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    site.app.perform_move(&dispatcher.principal, extended, "reject-extension", MoveInput::default()).await.unwrap();
    let again =
        MoveInput {
            hours: amount_hours, days: amount_days, reason: Some("再等一天".into()), ..MoveInput::default()
        };
    site.app.perform_move(&handler.principal, extended, "extend", again).await.unwrap();
    let csrf = staff_token(&site.base, &dispatcher.token, "/desk").await;
    let path = format!("/cases/{extended}/moves/approve-extension");
    let stale = post_form(&site.base, &dispatcher.token, &csrf, &path, &[("version", &read_at)]).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert!(site.app.store.case_by_number(extended).await.unwrap().pending.is_some(), "the new request still waits");

    // Supervision reaches the unit on its own page, not only the dispatcher's desk.
    let urge =
        MoveInput { level: Some(1), note: Some("请今天下班前回复进展".into()), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, extended, "supervise", urge).await.unwrap();
    let inbox = staff_get(&site.base, &handler.token, "/inbox").await.text().await.unwrap();
    let notices = section(&inbox, "notices");
    assert!(notices.contains(&format!("href=\"/cases/{extended}\"")), "{notices}");
    assert!(notices.contains("请今天下班前回复进展"), "what the dispatcher asks is beside the notice: {notices}");
    let reference = site.app.reference();
    let other_street = reference
        .units
        .iter()
        .find(|u| u.kind == cityloop_domain::UnitKind::StreetOffice && u.code != *street)
        .map(|u| u.code.clone())
        .unwrap();
    let other = login(format!("h-{other_street}")).await;
    let theirs = staff_get(&site.base, &other.token, "/inbox").await.text().await.unwrap();
    assert!(!section(&theirs, "notices").contains(extended.as_str()), "another unit does not read it");
    let desk = staff_get(&site.base, &dispatcher.token, "/desk").await.text().await.unwrap();
    let next = supervise_form(&desk);
    assert!(next.contains(r#"name="level" value="2""#) && next.contains("督办"), "then 督办: {next}");

    // Once the case has gone to another unit, its notice leaves the first unit's inbox.
    site.app.perform_move(&dispatcher.principal, extended, "reject-extension", MoveInput::default()).await.unwrap();
    let give_back = MoveInput { reason: Some("不属于本街道".into()), ..MoveInput::default() };
    site.app.perform_move(&handler.principal, extended, "return", give_back).await.unwrap();
    site.app.perform_move(&dispatcher.principal, extended, "approve-return", MoveInput::default()).await.unwrap();
    let elsewhere = MoveInput { unit: Some(UnitRef::Code(other_street.clone())), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, extended, "dispatch", elsewhere).await.unwrap();
    let inbox = staff_get(&site.base, &handler.token, "/inbox").await.text().await.unwrap();
    assert!(!section(&inbox, "notices").contains(extended.as_str()), "{}", section(&inbox, "notices"));

    // The desk follows up the notices of open cases: one urged before dispatch is the desk's own,
    // and a case voided or closed takes its notices off the card.
    let waiting = staff.taken_in(app, "井盖缺失", "路口井盖丢了，很危险").await;
    let urge = MoveInput { level: Some(1), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &waiting, "supervise", urge).await.unwrap();
    let desk = staff_get(&site.base, &dispatcher.token, "/desk").await.text().await.unwrap();
    let card = section(&desk, "notices");
    let row = card.split("<li>").find(|row| row.contains(waiting.as_str())).expect("the new notice is listed");
    assert!(row.contains("待派遣"), "{row}");
    assert!(card.contains(extended.as_str()), "an open case's notice stays: {card}");
    let sent = staff.taken_in(app, "路面塌陷", "人行道塌了一个坑").await;
    let urge = MoveInput { level: Some(1), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &sent, "supervise", urge).await.unwrap();
    site.app.perform_move(&staff.lead.principal, &sent, "file", MoveInput::default()).await.unwrap();
    let to_street = MoveInput { unit: Some(UnitRef::Code(street.clone())), ..MoveInput::default() };
    site.app.perform_move(&dispatcher.principal, &sent, "dispatch", to_street).await.unwrap();
    let desk = staff_get(&site.base, &dispatcher.token, "/desk").await.text().await.unwrap();
    let row = section(&desk, "notices").split("<li>").find(|row| row.contains(sent.as_str())).unwrap().to_string();
    assert!(!row.contains("待派遣") && row.contains("办事处"), "dispatched since, it names the unit: {row}");
    let void = MoveInput { reason: Some("重复来电".into()), ..MoveInput::default() };
    site.app.perform_move(&staff.lead.principal, &waiting, "void", void).await.unwrap();
    let desk = staff_get(&site.base, &dispatcher.token, "/desk").await.text().await.unwrap();
    let card = section(&desk, "notices");
    assert!(!card.contains(waiting.as_str()) && card.contains(extended.as_str()), "{card}");
}

#[tokio::test]
async fn a_catalogue_rule_in_the_place_of_another_says_so_and_a_stopped_webhook_offers_no_resend() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let reference = site.app.reference();
    let rule = reference.catalogue.iter().find(|r| r.division_id.is_some()).expect("a district rule").clone();
    let old_lead = reference.unit(rule.lead_unit).unwrap().name.clone();
    let new_lead = reference.units.iter().find(|u| u.id != rule.lead_unit && !u.code.is_empty()).unwrap();
    let category = reference.category(rule.category_id).unwrap().code.clone();
    let division = reference.division(rule.division_id.unwrap()).unwrap().code.clone();
    let rules = reference.catalogue.len();
    let csrf = staff_token(&site.base, &admin.token, "/admin/catalogue").await;
    let fields =
        [("category", category.as_str()), ("division", division.as_str()), ("lead_unit", new_lead.code.as_str())];
    // A rule without its category says so, rather than look for a category named nothing.
    let without = [("category", ""), ("division", division.as_str()), ("lead_unit", new_lead.code.as_str())];
    let refused = post_form(&site.base, &admin.token, &csrf, "/admin/catalogue", &without).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let summary = refused.text().await.unwrap();
    let summary =
        summary.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    assert!(summary.contains("必填") && !summary.contains("「」"), "{summary}");
    let replaced = post_form(&site.base, &admin.token, &csrf, "/admin/catalogue", &fields).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let page = replaced.text().await.unwrap();
    let flash = page.split("id=\"flash\">").nth(1).expect("a flash").split('<').next().unwrap();
    assert!(flash.contains("替换") && flash.contains(&old_lead), "{flash}");
    let now = site.app.reference();
    assert_eq!(now.catalogue.len(), rules, "the rule took the other's place");
    let kept = now.catalogue.iter().find(|r| r.category_id == rule.category_id && r.division_id == rule.division_id);
    assert_eq!(kept.unwrap().lead_unit, new_lead.id);
    // The tester names a division it does not know rather than answer for the whole city.
    let tester = staff_get(&site.base, &admin.token, "/admin/catalogue?category=11001&division=zz").await;
    let tester = tester.text().await.unwrap();
    let marked =
        tester.split("id=\"err-t_division\"").nth(1).expect("the division is marked").split('<').next().unwrap();
    assert!(marked.contains("没有区划"), "{marked}");

    // Deliveries to a system that never answers die; once the webhook is stopped they are not offered again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let hook = cityloop_app::webhooks::NewWebhook {
        url: format!("http://{closed}/events"),
        events: vec!["case.created".into()],
        description: "工单系统".into(),
        allow_private: true,
    };
    let hook = site.app.create_webhook(&admin.principal, hook).await.unwrap();
    let operator = site.app.login("operator", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let case = NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "井盖缺失".into(),
        description: "路口井盖丢失".into(),
        ..NewCase::default()
    };
    site.app.create_case(&operator.principal, case, None).await.unwrap();
    for _ in 0..12 {
        site.clock.advance(chrono::Duration::hours(7));
        site.app.run_webhooks_once().await.unwrap();
    }
    // Days have passed: the earlier sign-in has lapsed.
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let dead = staff_get(&site.base, &admin.token, "/admin/webhooks?state=dead").await.text().await.unwrap();
    assert!(
        dead.contains("/retry"),
        "a dead letter of an active webhook can be sent again: {}",
        section(&dead, "deliveries")
    );
    site.app.disable_webhook(&admin.principal, hook.id).await.unwrap();
    let dead = staff_get(&site.base, &admin.token, "/admin/webhooks?state=dead").await.text().await.unwrap();
    assert!(dead.contains("delivery-dead") && !dead.contains("/retry"), "{dead}");
}

#[tokio::test]
async fn an_administrator_changes_an_accounts_roles_and_grids_on_its_page() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let list = staff_get(&site.base, &admin.token, "/admin/users").await.text().await.unwrap();
    assert!(list.contains("href=\"/admin/users/inspector1\""), "each account links to its form");
    let page = staff_get(&site.base, &admin.token, "/admin/users/inspector1").await.text().await.unwrap();
    let form = section(&page, "edit");
    assert!(form.contains(r#"value="inspector" checked"#), "its roles ticked: {form}");
    let reference = site.app.reference();
    let before = site.app.store.user_by_username("inspector1").await.unwrap().unwrap();
    let first = reference.grid(before.grids[0]).unwrap().code.clone();
    assert!(form.contains(&first), "its grids filled in: {form}");
    let other = reference.grids.iter().find(|g| !before.grids.contains(&g.id)).unwrap().code.clone();
    let csrf = staff_token(&site.base, &admin.token, "/admin/users/inspector1").await;
    let fields = [("name", "监督员一"), ("roles", "inspector"), ("unit", ""), ("grids", other.as_str())];
    let saved = post_form(&site.base, &admin.token, &csrf, "/admin/users/inspector1", &fields).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let after = site.app.store.user_by_username("inspector1").await.unwrap().unwrap();
    let grid = reference.grid_by_code(&other).unwrap().id;
    assert_eq!((after.name.as_str(), after.grids.clone()), ("监督员一", vec![grid]));
    let wrong = [("name", ""), ("roles", "handler"), ("unit", ""), ("grids", "no-such-grid")];
    let refused = post_form(&site.base, &admin.token, &csrf, "/admin/users/inspector1", &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    for field in ["name", "unit", "grids"] {
        assert!(page.contains(&format!("id=\"err-{field}\"")), "{field} is marked at once");
    }
}

#[tokio::test]
async fn an_administrator_edits_a_categorys_standard_and_a_units_name_on_their_pages() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let list = staff_get(&site.base, &admin.token, "/admin/categories").await.text().await.unwrap();
    assert!(list.contains("href=\"/admin/categories/11001\""), "each category links to its form");
    let page = staff_get(&site.base, &admin.token, "/admin/categories/11001").await.text().await.unwrap();
    let form = section(&page, "edit");
    assert!(form.contains("value=\"路灯不亮\"") && form.contains("value=\"3\""), "filled in as it is: {form}");
    assert!(form.contains("value=\"working_days\" selected"), "{form}");
    let csrf = staff_token(&site.base, &admin.token, "/admin/categories/11001").await;
    let send = |path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (base, session, csrf) = (site.base.clone(), admin.token.clone(), csrf.clone());
        async move { post_form(&base, &session, &csrf, path, &fields).await }
    };
    let standard = vec![("limit_mode", "working_days"), ("urgency", "urgent"), ("closing_condition", "路灯恢复照明")];
    let mut wrong = standard.clone();
    wrong.extend([("name", ""), ("limit_amount", "三天")]);
    let refused = send("/admin/categories/11001", wrong).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"err-limit_amount\"") && page.contains("须为整数"), "the amount is marked");
    assert!(page.contains("id=\"err-name\""), "and the empty name with it");
    assert!(page.contains("value=\"三天\"") && page.contains("路灯恢复照明"), "what was typed is kept");
    let huge = send(
        "/admin/categories/11001",
        vec![
            ("name", "路灯不亮"),
            ("limit_amount", "99999999999"),
            ("limit_mode", "working_days"),
            ("urgency", "normal"),
        ],
    )
    .await;
    assert!(huge.text().await.unwrap().contains("须为 1 到 366"), "a whole number out of range is told its range");
    let inherit = send("/admin/categories/11001", vec![("name", "路灯不亮"), ("inherit", "1")]).await;
    assert_eq!(inherit.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = inherit.text().await.unwrap();
    let marked = page.split("id=\"err-standard\"").nth(1).expect("marked at the box ticked").split('<').next().unwrap();
    assert!(marked.contains("上级类别都没有立结案标准"), "{marked}");
    let mut good = standard.clone();
    good.extend([("name", "路灯不亮"), ("limit_amount", "5")]);
    let saved = send("/admin/categories/11001", good).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(saved.text().await.unwrap().contains("id=\"flash\""));
    let reference = site.app.reference();
    let lamp = reference.category_by_code("11001").unwrap();
    let own = lamp.standard.as_ref().unwrap();
    assert_eq!((own.limit.amount, own.urgency.as_str(), own.closing_condition.as_str()), (5, "urgent", "路灯恢复照明"));
    // Street lamps are found on patrol as their group (11 公用设施) is: the form says so, and saving it
    // does not mark the lamp itself.
    assert!(!lamp.patrolled && reference.patrolled(lamp.id));
    let page = staff_get(&site.base, &admin.token, "/admin/categories/11001").await.text().await.unwrap();
    let form = section(&page, "edit");
    assert!(
        form.contains("id=\"patrolled-above\"")
            && !form.contains("name=\"patrolled\" value=\"1\" id=\"edit-patrolled\" checked"),
        "{form}"
    );
    let services = vec![("name", "民生服务"), ("inherit", "1"), ("patrolled", "1")];
    assert_eq!(send("/admin/categories/31", services).await.status(), StatusCode::OK);
    let reference = site.app.reference();
    assert!(reference.category_by_code("31").unwrap().patrolled);
    let list = staff_get(&site.base, &admin.token, "/admin/categories").await.text().await.unwrap();
    let row = list.split("<tr").find(|row| row.contains(">31003<")).expect("a public-service row");
    assert!(row.contains("<td>是</td>"), "{row}");

    let unit = reference.unit_by_code("990101001-office").unwrap().clone();
    let page = staff_get(&site.base, &admin.token, "/admin/units/990101001-office").await.text().await.unwrap();
    assert!(section(&page, "edit").contains(&format!("value=\"{}\"", unit.name)));
    let parent = reference.unit(unit.parent_id.unwrap()).unwrap().code.clone();
    let division = reference.division(unit.division_id.unwrap()).unwrap().code.clone();
    // A unit's code goes into addresses: characters an address would read otherwise are refused.
    let odd = [("code", "a?b"), ("name", "新部门"), ("kind", "department")];
    let refused = post_form(&site.base, &admin.token, &csrf, "/admin/units", &odd).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("id=\"err-code\""));
    let fine = [("code", "990100-sw"), ("name", "市水务局"), ("kind", "department")];
    assert_eq!(post_form(&site.base, &admin.token, &csrf, "/admin/units", &fine).await.status(), StatusCode::SEE_OTHER);
    assert!(site.app.reference().unit_by_code("990100-sw").is_some());
    let renamed = [("name", "新城街道办事处"), ("kind", "street_office"), ("parent", &parent), ("division", &division)];
    let answer = post_form(&site.base, &admin.token, &csrf, "/admin/units/990101001-office", &renamed).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let now = site.app.reference().unit_by_code("990101001-office").unwrap().clone();
    assert_eq!(
        (now.name.as_str(), now.parent_id, now.division_id),
        ("新城街道办事处", unit.parent_id, unit.division_id)
    );

    // A knowledge article is corrected where it is listed.
    let article = site.app.articles().into_iter().next().expect("the demo's knowledge base");
    let path = format!("/admin/knowledge/{}", article.id);
    let list = staff_get(&site.base, &admin.token, "/admin/knowledge").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"{path}\"")));
    let page = staff_get(&site.base, &admin.token, &path).await.text().await.unwrap();
    assert!(section(&page, "edit").contains(&article.title), "filled in as it is");
    let empty = post_form(&site.base, &admin.token, &csrf, &path, &[("title", "办事指南"), ("body", "")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().await.unwrap().contains("id=\"err-body\""));
    let fields = [
        ("title", "犬只登记办法（2026年修订）"),
        ("body", "携带身份证和犬只免疫证明到所在地派出所办理。"),
        ("tags", "养犬"),
    ];
    assert_eq!(post_form(&site.base, &admin.token, &csrf, &path, &fields).await.status(), StatusCode::OK);
    let now = site.app.articles().into_iter().find(|a| a.id == article.id).unwrap();
    assert_eq!((now.title.as_str(), now.tags.as_str()), ("犬只登记办法（2026年修订）", "养犬"));
    let mistyped = staff_get(&site.base, &admin.token, "/admin/knowledge/abc").await;
    assert_eq!(mistyped.status(), StatusCode::NOT_FOUND);
    assert!(mistyped.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn the_access_watch_pages_through_its_records_keeping_the_filter() {
    let site = spawn_site(Backend::Sqlite, 0).await;
    let admin = site.app.login("admin", cityloop_app::demo::DEMO_PASSWORD).await.unwrap();
    let operator = site.app.store.user_by_username("operator").await.unwrap().unwrap();
    for i in 0..130 {
        let kind = cityloop_domain::access::AccessEventKind::Export;
        site.app.record_access_event(&operator, kind, Some("127.0.0.1"), &format!("导出第{i}批"), 10).await.unwrap();
    }
    let first = staff_get(&site.base, &admin.token, "/admin/access?list=access-events&kind=export").await;
    let first = first.text().await.unwrap();
    let rows = |page: &str| section(page, "access-records").matches("<tr>").count() - 1;
    assert_eq!(rows(&first), 100, "a page holds 100 records");
    assert!(first.contains("导出第129批") && !first.contains("导出第29批<"), "newest first");
    let next =
        first.split("id=\"next-page\"").next().unwrap().rsplit("href=\"").next().unwrap().split('"').next().unwrap();
    let next = next.replace("&#38;", "&");
    assert!(next.contains("list=access-events") && next.contains("kind=export") && next.contains("page=2"), "{next}");
    let second = staff_get(&site.base, &admin.token, &next).await.text().await.unwrap();
    assert_eq!(rows(&second), 30, "{next}");
    assert!(second.contains("导出第0批") && second.contains("rel=\"prev\"") && !second.contains("id=\"next-page\""));
    let zero = staff_get(&site.base, &admin.token, "/admin/access?page=0").await;
    assert_eq!(zero.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(zero.text().await.unwrap().contains("页码：须不小于 1"));
}
