//! Open311 GeoReport v2 over HTTP: services, definitions, posting and reading requests in JSON and
//! XML, the spec's errors, and the quirks real clients rely on.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_every_engine;

const KEY: &str = cityloop_app::demo::DEMO_OPEN311_KEY;

/// Form fields of a POST.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// An answer as text, with its status and content type.
struct Raw {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Raw {
    fn json(&self) -> Value {
        assert!(self.content_type.starts_with("application/json"), "{} {}", self.content_type, self.text);
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    fn xml(&self) -> &str {
        assert!(self.content_type.starts_with("text/xml"), "{} {}", self.content_type, self.text);
        assert!(self.text.starts_with("<?xml"), "{}", self.text);
        &self.text
    }
}

async fn raw(r: reqwest::Response) -> Raw {
    let status = r.status();
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Raw { status, content_type, text: r.text().await.unwrap() }
}

impl TestApp {
    async fn open311_get(&self, path: &str) -> Raw {
        raw(self.client.get(self.url(&format!("/open311/v2/{path}"))).send().await.unwrap()).await
    }

    async fn open311_post(&self, path: &str, fields: &[(&str, &str)]) -> Raw {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let req = self
            .client
            .post(self.url(&format!("/open311/v2/{path}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        raw(req.send().await.unwrap()).await
    }

    /// The demo grid residents' apps report in: its code and centre.
    async fn grid(&self) -> (String, f64, f64) {
        let operator = self.login("operator").await;
        self.first_grid(&operator).await
    }
}

#[tokio::test]
async fn services_and_definitions_come_from_the_category_tree_in_both_formats() {
    on_every_engine(|t| async move {
        let services = t.open311_get("services.json").await.json();
        let list = services.as_array().unwrap();
        let bins = list.iter().find(|s| s["service_code"] == "06005").expect("a leaf category is a service");
        assert_eq!(bins["service_name"], "垃圾桶满溢");
        assert_eq!(bins["group"], "市容环境");
        assert_eq!(bins["metadata"], true);
        assert_eq!(bins["type"], "realtime");
        assert!(bins["keywords"].as_str().unwrap().contains("垃圾桶"));
        assert!(list.iter().all(|s| s["service_code"] != "06"), "a category with children is a group, not a service");
        let plain = list.iter().find(|s| s["service_code"] == "06001").unwrap();
        assert_eq!(plain["metadata"], false);

        let xml = t.open311_get("services.xml").await;
        let xml = xml.xml();
        assert!(xml.contains("<services><service><service_code>"), "{xml}");
        assert_eq!(xml.matches("<service>").count(), list.len());

        let d = t.open311_get("services/06005.json").await.json();
        assert_eq!(d["service_code"], "06005");
        let a = &d["attributes"][0];
        assert_eq!(
            (a["code"].as_str(), a["datatype"].as_str(), a["required"].as_bool()),
            (Some("bin_kind"), Some("singlevaluelist"), Some(true))
        );
        assert_eq!(a["values"].as_array().unwrap().len(), 3);
        // The singular path some clients use, in XML.
        let singular = t.open311_get("service/06005.xml").await;
        let x = singular.xml();
        assert!(x.contains("<service_definition><service_code>06005</service_code><attributes><attribute>"), "{x}");
        assert!(x.contains("<values><value><key>household</key>"), "{x}");

        let unknown = t.open311_get("services/99999.xml").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.xml().contains("<errors><error><code>404</code><description>"));
        let discovery = t.open311_get("discovery.json").await.json();
        assert_eq!(discovery["endpoints"][0]["specification"], "http://wiki.open311.org/GeoReport_v2");
        assert!(t.open311_get("discovery.xml").await.xml().contains("<format>text/xml</format>"));
    })
    .await;
}

#[tokio::test]
async fn a_posted_request_becomes_an_open311_case_and_reads_back_without_personal_data() {
    on_every_engine(|t| async move {
        let (grid, lat, lon) = t.grid().await;
        let (lat_s, lon_s) = (lat.to_string(), lon.to_string());
        let posted = t
            .open311_post(
                "requests.json",
                &[
                    ("api_key", KEY),
                    ("service_code", "06005"),
                    ("lat", &lat_s),
                    ("long", &lon_s),
                    ("description", "小区门口垃圾桶满了，联系我13812345678"),
                    ("attribute[bin_kind]", "kitchen"),
                    ("first_name", "张"),
                    ("last_name", "三"),
                    ("phone", "13812345678"),
                    ("email", "zhang@example.org"),
                ],
            )
            .await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text);
        let answer = posted.json();
        let id = answer[0]["service_request_id"].as_str().expect("an id, not a token").to_string();
        assert!(answer[0].get("token").is_none());

        // The same workflow as any case: on the open311 channel, with the resident's contact kept for staff.
        let case = t.app.store.case_by_number(&id).await.unwrap();
        assert_eq!(case.channel, cityloop_domain::Channel::Open311);
        assert_eq!(case.contact.as_ref().map(|c| c.phone.as_str()), Some("13812345678"));
        let flow = t.app.store.flows(case.id).await.unwrap();
        assert_eq!(flow[0].1.data["submission"]["attributes"]["bin_kind"], "kitchen");

        // Read back: a one-element list, no contact data, the phone in the text masked, the place coarse.
        let one = t.open311_get(&format!("requests/{id}.json")).await.json();
        assert_eq!(one.as_array().unwrap().len(), 1);
        let r = &one[0];
        assert_eq!((r["status"].as_str(), r["service_code"].as_str()), (Some("open"), Some("06005")));
        assert_eq!(r["address_id"], grid);
        assert!(!r.to_string().contains("13812345678") && !r.to_string().contains("zhang@"), "{r}");
        assert!(r["description"].as_str().unwrap().contains("138****5678"));
        assert!((r["lat"].as_f64().unwrap() - lat).abs() < 0.001);
        assert!(r["requested_datetime"].as_str().unwrap().ends_with("+08:00"), "{r}");
        let xml = t.open311_get(&format!("requests/{id}.xml")).await;
        assert!(xml.xml().contains(&format!(
            "<service_requests><request><service_request_id>{id}</service_request_id><status>open</status>"
        )));

        // api_key in the query string with an empty jurisdiction (the `open311` package's way), XML answer.
        let by_query = t
            .open311_post(
                &format!("requests.xml?jurisdiction_id=&api_key={KEY}"),
                &[("service_code", "06001"), ("address_id", &grid), ("description", "路面有油污")],
            )
            .await;
        assert_eq!(by_query.status, StatusCode::OK, "{}", by_query.text);
        assert!(by_query.xml().contains("<service_requests><request><service_request_id>"));
        let served = t.app.settings.open311_jurisdiction.clone();
        let named = t
            .open311_post(
                "requests.json",
                &[("api_key", KEY), ("jurisdiction_id", &served), ("service_code", "06001"), ("address_id", &grid)],
            )
            .await;
        assert_eq!(named.status, StatusCode::OK, "{}", named.text);
    })
    .await;
}

/// A multipart form body with text fields and, when given, a `media` file.
fn multipart(boundary: &str, fields: &[(&str, &str)], media: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some(bytes) = media {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n")
                .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    body
}

#[tokio::test]
async fn a_photo_comes_with_a_request_in_a_multipart_form_and_is_checked_by_its_content() {
    use sha2::Digest;
    on_every_engine(|t| async move {
        let (_, lat, lon) = t.grid().await;
        let (lat_s, lon_s) = (lat.to_string(), lon.to_string());
        let fields = [
            ("api_key", KEY),
            ("service_code", "06005"),
            ("lat", lat_s.as_str()),
            ("long", lon_s.as_str()),
            ("description", "垃圾桶满了，见照片"),
            ("attribute[bin_kind]", "kitchen"),
        ];
        let post = |body: Vec<u8>| {
            let t = &t;
            async move {
                let r = t
                    .client
                    .post(t.url("/open311/v2/requests.json"))
                    .header("content-type", "multipart/form-data; boundary=----WebKitFormBoundaryAbC9xYz")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                raw(r).await
            }
        };
        // A 1×1 PNG whose text chunk says where it was taken.
        let png: Vec<u8> = vec![
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
            0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
            0x23, 0x74, 0x45, 0x58, 0x74, 0x43, 0x6f, 0x6d, 0x6d, 0x65, 0x6e, 0x74, 0x00, 0x74, 0x61, 0x6b, 0x65, 0x6e,
            0x20, 0x61, 0x74, 0x20, 0x4e, 0x6f, 0x2e, 0x20, 0x31, 0x32, 0x20, 0x48, 0x65, 0x70, 0x69, 0x6e, 0x67, 0x20,
            0x52, 0x6f, 0x61, 0x64, 0x23, 0x9e, 0x19, 0x30, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda,
            0x63, 0x64, 0x60, 0xf8, 0x5f, 0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00,
            0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
        ];
        let posted = post(multipart("----WebKitFormBoundaryAbC9xYz", &fields, Some(&png))).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text);
        let number = posted.json()[0]["service_request_id"].as_str().unwrap().to_string();
        let case = t.app.store.case_by_number(&number).await.unwrap();
        let flows = t.app.store.flows(case.id).await.unwrap();
        assert_eq!(
            flows[0].1.attachments,
            vec![hex::encode(sha2::Sha256::digest(&png))],
            "the photo is kept with the report"
        );
        assert_eq!(case.description, "垃圾桶满了，见照片");

        // The photo is published with the request, and only that photo of that request.
        let hash = hex::encode(sha2::Sha256::digest(&png));
        let read = t.open311_get(&format!("requests/{number}.json")).await.json();
        let media_url = read[0]["media_url"].as_str().unwrap().to_string();
        let path = format!("/open311/v2/requests/{number}/media/{hash}");
        assert!(media_url.ends_with(&path), "{media_url}");
        let photo = t.client.get(t.url(&path)).send().await.unwrap();
        assert_eq!(photo.status(), StatusCode::OK);
        assert_eq!(photo.headers()["content-type"], "image/png");
        assert_eq!(photo.headers()["cache-control"], "no-cache", "voiding it must take it down");
        let published = photo.bytes().await.unwrap().to_vec();
        // The picture goes out without the text that says where it was taken.
        assert!(published.starts_with(b"\x89PNG") && published.windows(4).any(|w| w == b"IDAT"));
        assert!(!String::from_utf8_lossy(&published).contains("Heping Road"));
        assert_eq!(published.len(), png.len() - (12 + 35));
        let wrong = t.client.get(t.url(&format!("/open311/v2/requests/{number}/media/{}", "0".repeat(64)))).send();
        assert_eq!(wrong.await.unwrap().status(), StatusCode::NOT_FOUND);
        // A cache that holds the photo asks again and is told it is still good, without the bytes.
        let ask_again = |tag: String| t.client.get(t.url(&path)).header("if-none-match", tag).send();
        let still_good = ask_again(format!("W/\"x\", \"{hash}\"")).await.unwrap();
        assert_eq!(still_good.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(still_good.headers()["etag"], format!("\"{hash}\"").as_str());
        assert!(still_good.bytes().await.unwrap().is_empty());
        assert_eq!(ask_again("\"other\"".into()).await.unwrap().status(), StatusCode::OK);
        // Once staff void the request, its photo is no longer served, whatever the cache holds.
        let lead = t.login("lead").await;
        t.must(&lead, case.id.0, "void", json!({"reason": "恶意诉求"})).await;
        assert_eq!(t.client.get(t.url(&path)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        assert_eq!(ask_again(format!("\"{hash}\"")).await.unwrap().status(), StatusCode::NOT_FOUND);

        // An empty file input is no photo.
        let plain = post(multipart("----WebKitFormBoundaryAbC9xYz", &fields, Some(b""))).await;
        assert_eq!(plain.status, StatusCode::OK, "{}", plain.text);
        // Photos go with requests, not with updates.
        let update = [
            ("api_key", KEY),
            ("service_request_id", number.as_str()),
            ("status", "OPEN"),
            ("description", "补充照片"),
        ];
        let refused = t
            .client
            .post(t.url("/open311/v2/servicerequestupdates.json"))
            .header("content-type", "multipart/form-data; boundary=----WebKitFormBoundaryAbC9xYz")
            .body(multipart("----WebKitFormBoundaryAbC9xYz", &update, Some(&png)))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

        // Not an image: refused with the spec's error, and nothing is created.
        let before = t.app.store.count_cases().await.unwrap();
        let refused = post(multipart("----WebKitFormBoundaryAbC9xYz", &fields, Some(b"MZ not a photo"))).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
        assert!(refused.json()[0]["description"].as_str().unwrap().contains("media"), "{}", refused.text);
        assert_eq!(t.app.store.count_cases().await.unwrap(), before);
    })
    .await;
}

#[tokio::test]
async fn bad_posts_get_the_specs_errors_and_create_nothing() {
    on_every_engine(|t| async move {
        let (grid, _, _) = t.grid().await;
        let before = t.app.store.count_cases().await.unwrap();
        let cases: Vec<(Form, StatusCode, &str)> = vec![
            (vec![("service_code", "06001"), ("address_id", &grid)], StatusCode::FORBIDDEN, "api_key is required"),
            (
                vec![("api_key", "wrong"), ("service_code", "06001"), ("address_id", &grid)],
                StatusCode::FORBIDDEN,
                "unknown api_key",
            ),
            (vec![("api_key", KEY), ("address_id", &grid)], StatusCode::BAD_REQUEST, "service_code"),
            (
                vec![("api_key", KEY), ("service_code", "99999"), ("address_id", &grid)],
                StatusCode::NOT_FOUND,
                "service `99999`",
            ),
            (vec![("api_key", KEY), ("service_code", "06001")], StatusCode::BAD_REQUEST, "a location is required"),
            (
                vec![("api_key", KEY), ("service_code", "06001"), ("lat", "30.2")],
                StatusCode::BAD_REQUEST,
                "lat and long",
            ),
            (
                vec![("api_key", KEY), ("service_code", "06001"), ("lat", "0"), ("long", "0")],
                StatusCode::BAD_REQUEST,
                "lat/long: lies outside the city",
            ),
            (
                vec![("api_key", KEY), ("service_code", "06001"), ("address_id", "nope")],
                StatusCode::BAD_REQUEST,
                "address_id: unknown grid `nope`",
            ),
            (
                vec![("api_key", KEY), ("service_code", "06005"), ("address_id", &grid)],
                StatusCode::BAD_REQUEST,
                "attribute[bin_kind]: is required",
            ),
            (
                vec![
                    ("api_key", KEY),
                    ("service_code", "06005"),
                    ("address_id", &grid),
                    ("attribute[bin_kind]", "glass"),
                ],
                StatusCode::BAD_REQUEST,
                "`glass` is not one of",
            ),
            (
                vec![
                    ("api_key", KEY),
                    ("jurisdiction_id", "elsewhere.gov"),
                    ("service_code", "06001"),
                    ("address_id", &grid),
                ],
                StatusCode::NOT_FOUND,
                "jurisdiction",
            ),
        ];
        for (fields, status, words) in cases {
            let a = t.open311_post("requests.json", &fields).await;
            assert_eq!(a.status, status, "{fields:?}: {}", a.text);
            let errors = a.json();
            assert_eq!(errors[0]["code"], status.as_u16(), "{fields:?}");
            assert!(errors[0]["description"].as_str().unwrap().contains(words), "{fields:?}: {errors}");
        }
        let xml = t.open311_post("requests.xml", &[("service_code", "06001")]).await;
        assert_eq!(xml.status, StatusCode::FORBIDDEN);
        assert!(xml.xml().contains("<errors><error><code>403</code>"));
        assert_eq!(t.app.store.count_cases().await.unwrap(), before, "no refused request created a case");

        let token = t.open311_get("tokens/abc.json").await;
        assert_eq!(token.status, StatusCode::NOT_FOUND);
        assert_eq!(t.open311_get("requests.csv").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.open311_get("requests.json?start_date=yesterday").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.open311_get("requests.json?status=pending").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.open311_get("requests.json?page_size=0").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.open311_get("requests.json?page_size=1001").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(t.open311_get("requests.json?page_size=1000").await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn request_lists_filter_by_id_service_status_dates_and_pages() {
    on_every_engine(|t| async move {
        let (grid, _, _) = t.grid().await;
        let mut ids = Vec::new();
        for (code, text) in [("06001", "路面有油污"), ("06001", "人行道有垃圾"), ("11001", "路灯不亮")] {
            let a = t
                .open311_post(
                    "requests.json",
                    &[("api_key", KEY), ("service_code", code), ("address_id", &grid), ("description", text)],
                )
                .await;
            ids.push(a.json()[0]["service_request_id"].as_str().unwrap().to_string());
        }
        let count = |v: &Value| v.as_array().unwrap().len();
        let ids_of = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["service_request_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };

        let by_ids = t
            .open311_get(&format!("requests.json?service_request_id={},{}&service_code=11001", ids[0], ids[2]))
            .await
            .json();
        assert_eq!(ids_of(&by_ids).len(), 2, "ids override the other filters: {by_ids}");
        let lights = t.open311_get("requests.json?service_code=11001").await.json();
        assert_eq!(ids_of(&lights), vec![ids[2].clone()]);
        let both = t.open311_get("requests.json?service_code=06001,11001").await.json();
        assert_eq!(count(&both), 3);
        assert_eq!(count(&t.open311_get("requests.json?status=closed").await.json()), 0);
        assert_eq!(count(&t.open311_get("requests.json?status=open,closed").await.json()), 3);

        // A plain end date includes its day; an offset's `+` sent unencoded still reads as `+`.
        let today = t.app.now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive();
        assert_eq!(count(&t.open311_get(&format!("requests.json?end_date={today}")).await.json()), 3);
        let raw_plus = t.app.now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).to_rfc3339();
        let unencoded = t.open311_get(&format!("requests.json?start_date={raw_plus}")).await;
        assert_eq!(unencoded.status, StatusCode::OK, "{}", unencoded.text);
        assert_eq!(count(&unencoded.json()), 3);
        let too_many: Vec<String> = (0..1001).map(|i| format!("20261123-{i:06}")).collect();
        let refused = t.open311_get(&format!("requests.json?service_request_id={}", too_many.join(","))).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);

        // Paging, newest first.
        let first = t.open311_get("requests.json?page_size=2").await.json();
        let second = t.open311_get("requests.json?page_size=2&page=2").await.json();
        assert_eq!(ids_of(&first), vec![ids[2].clone(), ids[1].clone()]);
        assert_eq!(ids_of(&second), vec![ids[0].clone()]);

        // Dates: created after now → nothing; updated since a moment → only what changed after it.
        let later = (t.app.now() + chrono::Duration::hours(1)).to_rfc3339().replace('+', "%2B");
        assert_eq!(count(&t.open311_get(&format!("requests.json?start_date={later}")).await.json()), 0);
        let mark = t.app.now();
        t.clock.advance(chrono::Duration::minutes(5));
        let lead = t.login("lead").await;
        let case = t.app.store.case_by_number(&ids[1]).await.unwrap();
        t.must(&lead, case.id.0, "file", json!({})).await;
        let since = mark.to_rfc3339().replace('+', "%2B");
        let changed = t.open311_get(&format!("requests.json?updated_after={since}")).await.json();
        assert_eq!(ids_of(&changed), vec![ids[1].clone()], "{changed}");
        let before_the_change = (mark + chrono::Duration::minutes(1)).to_rfc3339().replace('+', "%2B");
        let unchanged = t.open311_get(&format!("requests.json?updated_before={before_the_change}")).await.json();
        assert_eq!(count(&unchanged), 2);
        // The same list in XML.
        let xml = t.open311_get("requests.xml?service_code=06001").await;
        assert_eq!(xml.xml().matches("<request>").count(), 2);
    })
    .await;
}

#[tokio::test]
async fn admins_register_clients_and_define_questions() {
    on_every_engine(|t| async move {
        let admin = t.login("admin").await;
        let operator = t.login("operator").await;
        let registered = t
            .post(Some(&admin), "/api/v1/api-clients", json!({"name": "街道小程序", "contact": "it@example.org"}))
            .await;
        assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
        let key = registered.body["api_key"].as_str().unwrap().to_string();
        let id = registered.body["id"].as_i64().unwrap();
        assert_eq!(
            t.post(Some(&operator), "/api/v1/api-clients", json!({"name": "x"})).await.status,
            StatusCode::FORBIDDEN
        );
        let listed = t.get(Some(&admin), "/api/v1/api-clients").await.ok();
        assert!(listed.as_array().unwrap().iter().all(|c| c.get("api_key").is_none()), "keys are shown once: {listed}");

        let setup = json!({"description": "路灯故障", "keywords": "路灯,照明", "attributes": [
            {"code": "pole", "datatype": "string", "required": true, "order": 1, "description": "灯杆编号"},
            {"code": "when", "datatype": "datetime", "required": false, "order": 2, "description": "发现时间"}]});
        let put = |body: Value| {
            let req = t.client.put(t.url("/api/v1/services/11001")).bearer_auth(&admin).json(&body);
            async move { req.send().await.unwrap() }
        };
        assert_eq!(put(setup).await.status(), StatusCode::OK);
        let bad =
            put(json!({"attributes": [{"code": "k", "datatype": "colour", "order": 1, "description": "x"}]})).await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let d = t.open311_get("services/11001.json").await.json();
        assert_eq!(d["attributes"].as_array().unwrap().len(), 2, "a refused change keeps the questions: {d}");

        let (grid, _, _) = t.grid().await;
        let fields = |pole: &'static str| {
            vec![
                ("api_key", key.clone()),
                ("service_code", "11001".into()),
                ("address_id", grid.clone()),
                ("attribute[pole]", pole.into()),
            ]
        };
        let post = |f: Vec<(&'static str, String)>| {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            let req = t
                .client
                .post(t.url("/open311/v2/requests.json"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            async move { req.send().await.unwrap().status() }
        };
        assert_eq!(post(fields("LD-0231")).await, StatusCode::OK);
        let mut late = fields("LD-1");
        late.push(("attribute[when]", "last night".into()));
        assert_eq!(post(late).await, StatusCode::BAD_REQUEST);

        let revoked =
            t.client.delete(t.url(&format!("/api/v1/api-clients/{id}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
        assert_eq!(post(fields("LD-2")).await, StatusCode::FORBIDDEN);
    })
    .await;
}

/// Installs the PyPI clients, or says why they cannot be.
async fn install_clients() -> Option<std::path::PathBuf> {
    let packages = ["georeport==0.3.1", "requests>=2.32.4", "xmltodict>=0.14.2,<0.15"];
    crate::helpers::pip_install("open311-clients", &["georeport", "requests"], &packages, "third-party Open311 clients")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_clients_from_pypi_list_read_post_and_search_in_json_and_xml() {
    let Some(dir) = install_clients().await else { return };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/open311_clients.py");
    on_every_engine(|t| {
        let (dir, script) = (dir.clone(), script.clone());
        async move {
            let (grid, _, _) = t.grid().await;
            for format in ["json", "xml"] {
                let out = tokio::process::Command::new("python3")
                    .arg(&script)
                    .args([&t.url("/open311/v2"), format, KEY, &grid])
                    .env("PYTHONPATH", &dir)
                    .output()
                    .await
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "{format}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
                let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
                for number in seen["posted"].as_array().unwrap() {
                    let case = t.app.store.case_by_number(number.as_str().unwrap()).await.unwrap();
                    assert_eq!(case.channel, cityloop_domain::Channel::Open311, "{format}");
                }
                assert!(seen["found"].as_u64().unwrap() >= 1, "{seen}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn updates_list_the_public_steps_and_take_residents_comments_and_reopenings() {
    on_every_engine(|t| async move {
        let (grid, _, _) = t.grid().await;
        let start = t.app.now();
        let posted = t
            .open311_post(
                "requests.json",
                &[("api_key", KEY), ("service_code", "11001"), ("address_id", &grid), ("description", "路灯不亮")],
            )
            .await
            .json();
        let number = posted[0]["service_request_id"].as_str().unwrap().to_string();
        let id = t.app.store.case_by_number(&number).await.unwrap().id.0;
        let (operator, lead, dispatcher) =
            (t.login("operator").await, t.login("lead").await, t.login("dispatcher").await);
        t.clock.advance(chrono::Duration::minutes(1));
        t.must(&lead, id, "file", json!({})).await;
        let dispatched = t.must(&dispatcher, id, "dispatch", json!({})).await;
        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, id, "sign", json!({})).await;
        t.must(&operator, id, "comment", json!({"note": "内部备注：来电人情绪激动"})).await;
        t.must(&handler, id, "submit", json!({"result": "已更换灯泡"})).await;
        t.must(&operator, id, "revisit", json!({"contacted": true, "solved": true, "satisfaction": "satisfied"})).await;
        t.must(&lead, id, "close", json!({})).await;

        // The resident's app adds a comment, then says the light is out again.
        let update = |status: &'static str, text: &'static str, key: &'static str, uid: &'static str| {
            let number = number.clone();
            let t = &t;
            async move {
                t.open311_post(
                    "servicerequestupdates.json",
                    &[
                        ("api_key", key),
                        ("service_request_id", &number),
                        ("status", status),
                        ("description", text),
                        ("update_id", uid),
                    ],
                )
                .await
            }
        };
        let comment = update("FIXED", "谢谢，已经亮了，有事打13812345678", KEY, "fms-1").await;
        assert_eq!(comment.status, StatusCode::OK, "{}", comment.text);
        assert!(comment.json()[0]["update_id"].as_str().is_some());
        // The app posts the same update again (its answer was lost): the first update's id, nothing new.
        let flows_before = t.app.store.flows(cityloop_domain::CaseId(id)).await.unwrap().len();
        let again = update("FIXED", "谢谢，已经亮了，有事打13812345678", KEY, "fms-1").await;
        assert_eq!(again.json()[0]["update_id"], comment.json()[0]["update_id"]);
        assert_eq!(t.app.store.flows(cityloop_domain::CaseId(id)).await.unwrap().len(), flows_before);
        assert_eq!(
            t.app.store.case_by_number(&number).await.unwrap().state,
            cityloop_domain::State::Closed,
            "a comment changes nothing"
        );
        let reopen = t
            .open311_post(
                "servicerequestupdates.xml",
                &[("api_key", KEY), ("service_request_id", &number), ("status", "REOPEN"), ("description", "又不亮了")],
            )
            .await;
        assert_eq!(reopen.status, StatusCode::OK, "{}", reopen.text);
        assert!(reopen.xml().contains("<service_request_updates><request_update><update_id>"));
        assert_eq!(t.app.store.case_by_number(&number).await.unwrap().state, cityloop_domain::State::Handling);

        t.app.register_api_client_with_key("另一个应用", "", "other-key").await.unwrap();
        assert_eq!(
            update("FIXED", "x", "other-key", "other-1").await.status,
            StatusCode::FORBIDDEN,
            "only the posting app updates"
        );
        assert_eq!(update("FIXED", "x", "wrong", "fms-2").await.status, StatusCode::FORBIDDEN);
        assert_eq!(update("SOLVED", "x", KEY, "fms-3").await.status, StatusCode::BAD_REQUEST);
        assert_eq!(update("FIXED", "", KEY, "fms-4").await.status, StatusCode::BAD_REQUEST, "a comment needs words");
        let unknown = t
            .open311_post(
                "servicerequestupdates.json",
                &[
                    ("api_key", KEY),
                    ("service_request_id", "20990101-000001"),
                    ("status", "FIXED"),
                    ("description", "x"),
                ],
            )
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);

        let since = start.to_rfc3339().replace('+', "%2B");
        let all = t.open311_get(&format!("servicerequestupdates.json?start_date={since}")).await.json();
        let mine: Vec<&Value> =
            all.as_array().unwrap().iter().filter(|u| u["service_request_id"] == number.as_str()).collect();
        let steps: Vec<&str> = mine.iter().map(|u| u["external_status_code"].as_str().unwrap()).collect();
        assert_eq!(
            steps,
            ["report", "file", "dispatch", "sign", "submit", "close", "comment", "reopen"],
            "staff remarks stay internal"
        );
        assert!(!all.to_string().contains("内部备注"));
        let close = mine.iter().find(|u| u["external_status_code"] == "close").unwrap();
        assert_eq!((close["status"].as_str(), close["extended_status"].as_str()), (Some("closed"), Some("FIXED")));
        assert!(mine[6]["description"].as_str().unwrap().contains("138****5678"), "{}", mine[6]);
        assert_eq!(mine[7]["status"], "open");
        let xml = t.open311_get(&format!("servicerequestupdates.xml?start_date={since}")).await;
        assert!(xml.xml().contains("<service_request_updates><request_update><update_id>"));
    })
    .await;
}

#[tokio::test]
async fn confidential_voided_and_hotline_texts_stay_out_of_the_public_answers() {
    on_every_engine(|t| async move {
        let (operator, lead) = (t.login("operator").await, t.login("lead").await);
        let (_, lat, lon) = t.grid().await;
        let start = t.app.now();
        let body = |title: &str, confidential: bool| {
            json!({"channel": "hotline", "request_type": "complaint", "title": title, "category": "06001",
                   "description": "来电人张三说家住3号楼502，电话138-1234-5678", "location": {"lat": lat, "lon": lon},
                   "confidential": confidential})
        };
        let secret = t.create(&operator, body("保密诉求", true)).await;
        let voided = t.create(&operator, body("作废诉求", false)).await;
        t.must(&lead, voided["id"].as_i64().unwrap(), "void", json!({"reason": "重复来电"})).await;
        let hotline = t.create(&operator, body("路面脏乱", false)).await;
        let number = |c: &Value| c["number"].as_str().unwrap().to_string();

        let list = t.open311_get("requests.json").await.json();
        let listed: Vec<&str> =
            list.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap()).collect();
        assert!(listed.contains(&number(&hotline).as_str()));
        assert!(
            !listed.contains(&number(&secret).as_str()) && !listed.contains(&number(&voided).as_str()),
            "{listed:?}"
        );
        let shown =
            list.as_array().unwrap().iter().find(|r| r["service_request_id"] == number(&hotline).as_str()).unwrap();
        assert_eq!(shown["description"], "路面脏乱", "what a caller told the hotline is shown by title only");
        assert!(!list.to_string().contains("张三") && !list.to_string().contains("1234-5678"));
        assert_eq!(shown["zipcode"], Value::Null, "every field of the spec is present");
        for hidden in [&secret, &voided] {
            assert_eq!(t.open311_get(&format!("requests/{}.json", number(hidden))).await.status, StatusCode::NOT_FOUND);
        }
        let since = start.to_rfc3339().replace('+', "%2B");
        let updates = t.open311_get(&format!("servicerequestupdates.json?start_date={since}")).await.json().to_string();
        assert!(
            updates.contains(&number(&hotline))
                && !updates.contains(&number(&secret))
                && !updates.contains(&number(&voided))
        );
        let comment = t
            .open311_post(
                "servicerequestupdates.json",
                &[("api_key", KEY), ("service_request_id", &number(&secret)), ("status", "OPEN"), ("description", "x")],
            )
            .await;
        assert_eq!(comment.status, StatusCode::NOT_FOUND, "a confidential request is not found, not refused");

        // A title made from a posted description carries no phone number.
        let (grid, _, _) = t.grid().await;
        let posted = t
            .open311_post(
                "requests.json",
                &[
                    ("api_key", KEY),
                    ("service_code", "06001"),
                    ("address_id", &grid),
                    ("description", "门口脏，电话13812345678"),
                ],
            )
            .await
            .json();
        let case = t.app.store.case_by_number(posted[0]["service_request_id"].as_str().unwrap()).await.unwrap();
        assert_eq!(case.title, "门口脏，电话138****5678");
        assert!(case.description.contains("13812345678"), "staff keep the resident's words");
    })
    .await;
}

/// A grid of the demo city inside a district: its code and centre.
fn grid_in_district(t: &TestApp, district: &str) -> (String, f64, f64) {
    let reference = t.app.reference();
    let district = reference.division_by_code(district).unwrap().id;
    let inside = reference.division_subtree(district);
    let g = reference.grids.iter().find(|g| g.division_id.is_some_and(|d| inside.contains(&d))).unwrap();
    (g.code.clone(), g.centroid_lat, g.centroid_lon)
}

fn two_districts(settings: &mut cityloop_app::AppSettings) {
    use cityloop_app::open311::JurisdictionSetting;
    settings.open311_jurisdictions = vec![
        JurisdictionSetting { id: "donghu.yunhu.gov".into(), division: "990101".into() },
        JurisdictionSetting { id: "xishan.yunhu.gov".into(), division: "990102".into() },
    ];
}

#[tokio::test]
async fn one_server_serves_several_jurisdictions_each_with_its_own_requests() {
    crate::on_every_engine_with(two_districts, |t| async move {
        let (east_grid, east_lat, east_lon) = grid_in_district(&t, "990101");
        let (west_grid, _, _) = grid_in_district(&t, "990102");
        let (lat, lon) = (east_lat.to_string(), east_lon.to_string());
        let post = |jurisdiction: &'static str, fields: Vec<(&'static str, String)>| {
            let t = &t;
            async move {
                let mut form: Vec<(&str, &str)> =
                    vec![("api_key", KEY), ("service_code", "11001"), ("jurisdiction_id", jurisdiction)];
                form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
                t.open311_post("requests.json", &form).await
            }
        };
        let east = post("donghu.yunhu.gov", vec![("lat", lat.clone()), ("long", lon.clone())]).await;
        assert_eq!(east.status, StatusCode::OK, "{}", east.text);
        let east_id = east.json()[0]["service_request_id"].as_str().unwrap().to_string();
        let west = post("xishan.yunhu.gov", vec![("address_id", west_grid.clone())]).await;
        assert_eq!(west.status, StatusCode::OK, "{}", west.text);
        let west_id = west.json()[0]["service_request_id"].as_str().unwrap().to_string();

        // A request placed in another jurisdiction is refused and creates nothing.
        let before = t.app.store.count_cases().await.unwrap();
        // A point in no grid at all would be a case of no division, which no jurisdiction lists.
        let nowhere = vec![("lat", "0.5".to_string()), ("long", "0.5".to_string())];
        for fields in
            [vec![("lat", lat.clone()), ("long", lon.clone())], vec![("address_id", east_grid.clone())], nowhere]
        {
            let refused = post("xishan.yunhu.gov", fields).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
            assert!(
                refused.json()[0]["description"].as_str().unwrap().contains("xishan.yunhu.gov"),
                "{}",
                refused.text
            );
        }
        assert_eq!(t.app.store.count_cases().await.unwrap(), before);

        // Each jurisdiction lists its own; the server's own id and no id list both.
        let ids = |path: String| {
            let t = &t;
            async move {
                let list = t.open311_get(&path).await;
                assert_eq!(list.status, StatusCode::OK, "{}", list.text);
                let mut ids: Vec<String> = list
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["service_request_id"].as_str().unwrap().to_string())
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(ids("requests.json?jurisdiction_id=donghu.yunhu.gov".into()).await, vec![east_id.clone()]);
        assert_eq!(ids("requests.json?jurisdiction_id=xishan.yunhu.gov".into()).await, vec![west_id.clone()]);
        let mut both = vec![east_id.clone(), west_id.clone()];
        both.sort();
        assert_eq!(ids("requests.json".into()).await, both);
        let served = t.app.settings.open311_jurisdiction.clone();
        assert_eq!(ids(format!("requests.json?jurisdiction_id={served}")).await, both);

        // One request read through another jurisdiction is not there; updates follow the same split.
        let elsewhere = t.open311_get(&format!("requests/{east_id}.json?jurisdiction_id=xishan.yunhu.gov")).await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "{}", elsewhere.text);
        let own = t.open311_get(&format!("requests/{east_id}.json?jurisdiction_id=donghu.yunhu.gov")).await;
        assert_eq!(own.json()[0]["service_request_id"], east_id.as_str());
        // Nor can it be updated through another jurisdiction.
        let update = t
            .open311_post(
                "servicerequestupdates.json",
                &[
                    ("api_key", KEY),
                    ("jurisdiction_id", "xishan.yunhu.gov"),
                    ("service_request_id", &east_id),
                    ("status", "OPEN"),
                    ("description", "还没修"),
                ],
            )
            .await;
        assert_eq!(update.status, StatusCode::NOT_FOUND, "{}", update.text);
        let updates = t.open311_get("servicerequestupdates.json?jurisdiction_id=xishan.yunhu.gov").await.json();
        let updated: Vec<&str> =
            updates.as_array().unwrap().iter().map(|u| u["service_request_id"].as_str().unwrap()).collect();
        assert_eq!(updated, vec![west_id.as_str()]);

        // A jurisdiction not served here is the spec's 404, naming those that are.
        let unknown = t.open311_get("services.json?jurisdiction_id=elsewhere.gov").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let description = unknown.json()[0]["description"].as_str().unwrap().to_string();
        assert!(description.contains("donghu.yunhu.gov"), "{}", unknown.text);
        assert!(
            description.starts_with("jurisdiction `elsewhere.gov` (") && description.ends_with(") not found"),
            "{description}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_request_with_several_parameters_at_fault_names_each_of_them() {
    on_every_engine(|t| async move {
        let long = "路灯不亮".repeat(1001);
        let fields = [("api_key", KEY), ("service_code", "11001"), ("address_id", "x"), ("description", &long)];
        let before = t.app.store.count_cases().await.unwrap();
        for format in ["json", "xml"] {
            let refused = t.open311_post(&format!("requests.{format}"), &fields).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
            if format == "json" {
                let errors: Vec<String> = refused
                    .json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["description"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(errors.len(), 2, "{errors:?}");
                assert!(errors[0].starts_with("description") && errors[1].starts_with("address_id"), "{errors:?}");
            } else {
                assert_eq!(refused.xml().matches("<error>").count(), 2, "{}", refused.text);
            }
        }
        assert_eq!(t.app.store.count_cases().await.unwrap(), before);
    })
    .await;
}

#[tokio::test]
async fn in_the_fixmystreet_style_status_carries_the_finer_status() {
    let fixmystreet =
        |s: &mut cityloop_app::AppSettings| s.open311_status_style = cityloop_domain::open311::StatusStyle::Fixmystreet;
    crate::on_every_engine_with(fixmystreet, |t| async move {
        let (grid, _, _) = t.grid().await;
        let posted = t
            .open311_post("requests.json", &[("api_key", KEY), ("service_code", "11001"), ("address_id", &grid)])
            .await
            .json();
        let number = posted[0]["service_request_id"].as_str().unwrap().to_string();
        let id = t.app.store.case_by_number(&number).await.unwrap().id.0;
        let read = t.open311_get(&format!("requests/{number}.json")).await.json();
        assert_eq!(read[0]["status"], read[0]["extended_status"].as_str().unwrap().to_ascii_lowercase().as_str());
        let (lead, dispatcher) = (t.login("lead").await, t.login("dispatcher").await);
        t.clock.advance(chrono::Duration::minutes(1));
        t.must(&lead, id, "file", json!({})).await;
        let dispatched = t.must(&dispatcher, id, "dispatch", json!({})).await;
        let handler = t.login(&t.handler_of(&dispatched)).await;
        t.must(&handler, id, "sign", json!({})).await;
        let read = t.open311_get(&format!("requests/{number}.xml")).await;
        assert!(read.xml().contains("<status>in_progress</status>"), "{}", read.text);
        // Spec clients still filter by open and closed.
        let open = t.open311_get("requests.json?status=open").await.json();
        assert_eq!(open[0]["status"], "in_progress");
        let updates = t.open311_get("servicerequestupdates.json").await.json();
        let statuses: Vec<&str> = updates.as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses.last(), Some(&"in_progress"), "{updates}");
        // Every status is one of mySociety's.
        let theirs = [
            "open",
            "reopen",
            "for_triage",
            "investigating",
            "action_scheduled",
            "internal_referral",
            "in_progress",
            "fixed",
            "duplicate",
            "closed",
        ];
        assert!(statuses.iter().all(|s| theirs.contains(s)), "{statuses:?}");
    })
    .await;
}

#[tokio::test]
async fn advertising_posted_without_an_account_is_refused_and_real_requests_are_not() {
    on_every_engine(|t| async move {
        let (grid, _, _) = t.grid().await;
        let post = |description: &'static str| {
            let (t, grid) = (&t, grid.clone());
            async move {
                let fields =
                    [("api_key", KEY), ("service_code", "11001"), ("address_id", &grid), ("description", description)];
                t.open311_post("requests.json", &fields).await
            }
        };
        let before = t.app.store.count_cases().await.unwrap();
        let ad = post("代开发票 加微信 abc888 详情 http://fapiao.xyz http://daikai.top 点击链接").await;
        assert_eq!(ad.status, StatusCode::BAD_REQUEST, "{}", ad.text);
        let why = ad.json()[0]["description"].as_str().unwrap().to_string();
        assert!(why.contains("spam") && why.contains("advertising") && !why.contains("代开发票"), "{why}");
        assert_eq!(t.app.store.count_cases().await.unwrap(), before, "nothing created");

        // A resident who quotes a web address, or complains about a shop that will not give an
        // invoice, is heard; the mild sign is kept with the report for the operator.
        let real = post("超市拒开发票，商家网站 www.example.com 也无法投诉").await;
        assert_eq!(real.status, StatusCode::OK, "{}", real.text);
        let number = real.json()[0]["service_request_id"].as_str().unwrap().to_string();
        let case = t.app.store.case_by_number(&number).await.unwrap();
        let flows = t.app.store.flows(case.id).await.unwrap();
        assert_eq!(flows[0].1.data["spam"]["score"], 15, "{}", flows[0].1.data);
    })
    .await;
}
