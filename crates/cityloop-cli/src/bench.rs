//! `cityloop bench`: measures the platform over real HTTP on loopback. The server runs in this
//! process on the given database; the load comes from the same process (two cores shared, so the
//! figures are conservative).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cityloop_app::demo::{DemoOptions, DEMO_PASSWORD};
use cityloop_app::App;
use cityloop_store::ContactCipher;
use serde_json::{json, Value};

/// Latency summary in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

fn summarize(mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let n = samples.len();
    let at = |q: f64| {
        samples
            .get(((n as f64 * q).ceil() as usize).saturating_sub(1).min(n.saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Latency { n, p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
}

struct Server {
    base: String,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn start(app: &App) -> Result<Server> {
    if app.is_empty_city().await? {
        app.load_demo(&DemoOptions { cases: 0, ..DemoOptions::default() }).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = app.clone();
    tokio::spawn(async move {
        let _ = cityloop_http::serve(listener, served, cityloop_http::WebSettings::default(), async move {
            let _ = rx.await;
        })
        .await;
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    Ok(Server { base, client, shutdown: Some(tx) })
}

impl Server {
    /// Posts one intake request; whether it was answered 201.
    async fn create_case(&self, token: &str, body: &Value) -> bool {
        let r = self.client.post(format!("{}/api/v1/cases", self.base)).bearer_auth(token).json(body).send().await;
        r.is_ok_and(|r| r.status().as_u16() == 201)
    }

    async fn login(&self, username: &str) -> Result<String> {
        let r: Value = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": username, "password": DEMO_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        r["token"].as_str().map(str::to_string).context("login failed: is this the demo city?")
    }
}

/// Bodies of realistic intake requests: leaf categories at grid centroids.
fn intake_bodies(app: &App, n: usize) -> Vec<Value> {
    let reference = app.reference();
    let leaves: Vec<String> =
        reference.categories.iter().filter(|c| reference.is_leaf(c.id)).map(|c| c.code.clone()).collect();
    let grids = &reference.grids;
    (0..n)
        .map(|i| {
            let g = &grids[i % grids.len().max(1)];
            json!({"channel": "hotline", "request_type": "complaint", "title": format!("压测诉求{i}"),
                   "description": "小区门口垃圾堆积无人清理, 请尽快处理", "category": leaves[i % leaves.len().max(1)],
                   "location": {"lat": g.centroid_lat, "lon": g.centroid_lon}, "contact": {"name": "张三", "phone": "13812341234"}})
        })
        .collect()
}

/// Intake throughput (closed loop, `concurrency` clients) or latency at a fixed `rate` (open loop,
/// each latency counted from the request's scheduled start, so a stall is not hidden).
pub async fn intake(app: &App, requests: usize, concurrency: usize, rate: Option<f64>) -> Result<Value> {
    let server = Arc::new(start(app).await?);
    let token = Arc::new(server.login("operator").await?);
    let bodies = Arc::new(intake_bodies(app, requests));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut samples = Vec::with_capacity(requests);
    match rate {
        None => {
            let next = Arc::new(AtomicUsize::new(0));
            let mut workers = Vec::new();
            for _ in 0..concurrency.max(1) {
                let (server, token, bodies, next, errors) =
                    (server.clone(), token.clone(), bodies.clone(), next.clone(), errors.clone());
                workers.push(tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= bodies.len() {
                            break mine;
                        }
                        let t = Instant::now();
                        if server.create_case(&token, &bodies[i]).await {
                            mine.push(t.elapsed());
                        } else {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for w in workers {
                samples.extend(w.await?);
            }
        }
        Some(rate) => {
            let mut tasks = Vec::with_capacity(requests);
            for i in 0..requests {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let (server, token, bodies, errors) = (server.clone(), token.clone(), bodies.clone(), errors.clone());
                tasks.push(tokio::spawn(async move {
                    if server.create_case(&token, &bodies[i]).await {
                        Some(due.elapsed())
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                }));
            }
            for t in tasks {
                samples.extend(t.await?);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = samples.len();
    Ok(json!({
        "benchmark": "intake",
        "database": format!("{:?}", app.store.backend()),
        "mode": rate.map_or_else(|| format!("closed loop, {concurrency} clients"), |r| format!("open loop, {r} requests/s")),
        "requests": requests,
        "created": ok,
        "errors": errors.load(Ordering::Relaxed),
        "seconds": elapsed,
        "cases_per_second": ok as f64 / elapsed,
        "latency_ms": summarize(samples),
    }))
}

/// Latency of the common queues over HTTP, on whatever is stored.
pub async fn queries(app: &App, iterations: usize) -> Result<Value> {
    let server = start(app).await?;
    let cases = app.store.count_cases().await?;
    let operator = server.login("operator").await?;
    let dispatcher = server.login("dispatcher").await?;
    // The busiest unit of the demo: a district's 城管 department.
    let handler = server.login("h-990101-cg").await?;
    let inspector = server.login("inspector1").await?;
    let queues: Vec<(&str, &str, String)> = vec![
        ("operator: new reports", operator.as_str(), "/api/v1/cases?state=reported".into()),
        ("operator: caller's earlier requests", operator.as_str(), "/api/v1/cases?phone=13812341234".into()),
        ("dispatcher: to dispatch", dispatcher.as_str(), "/api/v1/cases?state=registered&sort=created_asc".into()),
        ("dispatcher: return requests", dispatcher.as_str(), "/api/v1/cases?state=return_review".into()),
        ("dispatcher: overdue", dispatcher.as_str(), "/api/v1/cases?overdue=true&sort=deadline".into()),
        (
            "unit: inbox to sign and in hand",
            handler.as_str(),
            "/api/v1/cases?state=pending_sign,handling&sort=deadline".into(),
        ),
        ("unit: overdue", handler.as_str(), "/api/v1/cases?overdue=true&sort=deadline".into()),
        ("inspector: my grids to check", inspector.as_str(), "/api/v1/cases?state=feedback,verifying".into()),
        (
            "all: category in district this month",
            operator.as_str(),
            "/api/v1/cases?category=06&division=990101&created_from=2026-11-01".into(),
        ),
        ("all: one case by number", operator.as_str(), "/api/v1/cases?q=20261101-000001".into()),
    ];
    let mut out = Vec::new();
    for (name, token, path) in &queues {
        let mut samples = Vec::with_capacity(iterations);
        let mut total = Value::Null;
        for _ in 0..iterations {
            let t = Instant::now();
            let r = server.client.get(format!("{}{}", server.base, path)).bearer_auth(token).send().await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            let body: Value = r.json().await?;
            samples.push(t.elapsed());
            total = body["total"].clone();
        }
        out.push(json!({"queue": name, "path": path, "matching": total, "latency_ms": summarize(samples)}));
    }
    Ok(
        json!({"benchmark": "queries", "database": format!("{:?}", app.store.backend()), "cases_stored": cases, "iterations": iterations, "queues": out}),
    )
}

/// The web pages a role opens most, by the user who opens them.
const PAGES: &[(&str, &str, &str)] = &[
    ("case list", "operator", "/cases"),
    ("unit inbox", "h-990101-cg", "/inbox"),
    ("leader screen", "leader", "/leader"),
    ("operator workbench", "operator", "/intake"),
    ("dispatcher desk", "dispatcher", "/desk"),
    ("inspector page", "inspector1", "/inspector"),
    ("admin: grids", "admin", "/admin/grids"),
    ("admin: catalogue", "admin", "/admin/catalogue"),
    ("resident portal", "", "/portal"),
    ("public requests", "", "/portal/requests"),
    ("login", "", "/login"),
];

/// Server time to render the pages (over loopback, signed in by session cookie) and the weight
/// of each page: its HTML plus the stylesheet and script it loads.
pub async fn pages(app: &App, iterations: usize) -> Result<Value> {
    let server = start(app).await?;
    let cases = app.store.count_cases().await?;
    let asset = |path: &'static str| {
        let server = &server;
        async move {
            Ok::<usize, anyhow::Error>(
                server.client.get(format!("{}{path}", server.base)).send().await?.bytes().await?.len(),
            )
        }
    };
    let css = asset("/assets/app.css").await?;
    let js = asset("/assets/app.js").await?;
    let map_layer = asset("/maps/city.svg").await?;
    // The newest case (the case list's first link), for the case page.
    let operator = format!("cl_session={}", server.login("operator").await?);
    let list =
        server.client.get(format!("{}/cases", server.base)).header("cookie", &operator).send().await?.text().await?;
    let newest = list.split("href=\"/cases/").nth(1).and_then(|s| s.split('"').next()).map(str::to_string);
    let mut pages: Vec<(&str, &str, String)> = PAGES.iter().map(|(n, u, p)| (*n, *u, p.to_string())).collect();
    pages.extend(newest.map(|n| ("case page", "operator", format!("/cases/{n}"))));
    let mut out = Vec::new();
    for (name, user, path) in &pages {
        let cookie = match *user {
            "" => String::new(),
            u => format!("cl_session={}", server.login(u).await?),
        };
        let mut samples = Vec::with_capacity(iterations);
        let mut html = 0;
        for _ in 0..iterations {
            let t = Instant::now();
            let r = server.client.get(format!("{}{path}", server.base)).header("cookie", &cookie).send().await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            html = r.text().await?.len();
            samples.push(t.elapsed());
        }
        out.push(json!({"page": name, "path": path, "latency_ms": summarize(samples), "html_bytes": html,
                        "page_weight_bytes": html + css + js}));
    }
    // The leader screen serves a snapshot computed at most every few seconds per node; this is
    // the cost of computing one.
    let mut compute = Vec::new();
    for _ in 0..iterations.clamp(1, 20) {
        let t = Instant::now();
        app.compute_overview().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        compute.push(t.elapsed());
    }
    Ok(json!({"benchmark": "pages", "database": format!("{:?}", app.store.backend()), "cases_stored": cases,
              "iterations": iterations, "css_bytes": css, "js_bytes": js, "map_layer_svg_bytes": map_layer,
              "pages": out, "leader_overview_compute_ms": summarize(compute)}))
}

/// Texts the duplicate and classifier probes use (the demo city's kinds of request).
const PROBES: &[(&str, &str)] = &[
    ("路边垃圾堆积无人清理", "路边堆放大量生活垃圾, 已经好几天没人清理, 气味很大"),
    ("工地夜间施工噪音大", "工地晚上十一点以后还在施工, 机器轰鸣声很大, 周边居民无法休息"),
    ("车辆乱停堵住消防通道", "经常有私家车停在消防通道上, 请交警处理"),
    ("井盖丢失", "有一个井盖不见了, 晚上看不清很危险, 请马上处理"),
    ("路灯不亮", "一排路灯晚上都不亮, 已经一个多星期了"),
];

/// Duplicate lookup and classification as intake runs them, on the stored cases: in the use case (what
/// intake adds to a request) and over HTTP (what the workbench waits for).
pub async fn smart(app: &App, iterations: usize) -> Result<Value> {
    let server = start(app).await?;
    let cases = app.store.count_cases().await?;
    let operator_token = server.login("operator").await?;
    let operator = app.login("operator", DEMO_PASSWORD).await.map_err(|e| anyhow::anyhow!("{e}"))?.principal;
    let reference = app.reference();
    let grids = &reference.grids;
    anyhow::ensure!(!grids.is_empty(), "the city has no grids");
    let probe = |i: usize| {
        let grid = &grids[(i * 7919) % grids.len()];
        let (title, description) = PROBES[i % PROBES.len()];
        cityloop_app::duplicates::DuplicateQuery {
            title: title.into(),
            description: description.into(),
            lat: Some(grid.centroid_lat),
            lon: Some(grid.centroid_lon),
            ..Default::default()
        }
    };
    let (mut in_app, mut over_http, mut found) = (Vec::new(), Vec::new(), 0usize);
    for i in 0..iterations {
        let q = probe(i);
        let t = Instant::now();
        let matches = app.find_duplicates(&operator, &q).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        in_app.push(t.elapsed());
        found += usize::from(!matches.is_empty());
        let body = json!({"title": q.title, "description": q.description, "lat": q.lat, "lon": q.lon});
        let t = Instant::now();
        let r = server
            .client
            .post(format!("{}/api/v1/duplicates", server.base))
            .bearer_auth(&operator_token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "duplicates: {}", r.status());
        let _: Value = r.json().await?;
        over_http.push(t.elapsed());
    }
    let mut classify_app = Vec::new();
    let mut classify_http = Vec::new();
    if app.model().is_some() {
        for i in 0..iterations {
            let (title, description) = PROBES[i % PROBES.len()];
            let text = format!("{title}\n{description}");
            let t = Instant::now();
            app.classify(&operator, &text, 3).map_err(|e| anyhow::anyhow!("{e}"))?;
            classify_app.push(t.elapsed());
            let t = Instant::now();
            let r = server
                .client
                .post(format!("{}/api/v1/classify", server.base))
                .bearer_auth(&operator_token)
                .json(&json!({"text": text}))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "classify: {}", r.status());
            let _: Value = r.json().await?;
            classify_http.push(t.elapsed());
        }
    }
    Ok(json!({
        "benchmark": "smart",
        "database": format!("{:?}", app.store.backend()),
        "cases_stored": cases,
        "iterations": iterations,
        "duplicate_lookup": {"use_case_ms": summarize(in_app), "http_ms": summarize(over_http), "probes_with_a_match": found},
        "classify_with_words": {"use_case_ms": summarize(classify_app), "http_ms": summarize(classify_http)},
    }))
}

/// The evaluation: catching up with uncounted flow records, then the report, the cases behind the top
/// unit's revisits and the page, each read `iterations` times over HTTP.
pub async fn evaluation(app: &App, period: Option<String>, iterations: usize) -> Result<Value> {
    let started = Instant::now();
    let counted = app.count_everything().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let catch_up_s = started.elapsed().as_secs_f64();
    // The risk-signal scan reads the same counts: the first run raises, the later ones refresh.
    let mut scans = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let found = app.scan_signals().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        scans.push(json!({"seconds": t.elapsed().as_secs_f64(), "raised": found.raised, "refreshed": found.refreshed}));
    }
    let period = period.unwrap_or_else(|| app.current_evaluation_period().previous().label());
    let server = start(app).await?;
    let leader = server.login("leader").await?;
    let get = |path: String| {
        let (client, base, token) = (server.client.clone(), server.base.clone(), leader.clone());
        async move {
            let t = Instant::now();
            let r = client.get(format!("{base}{path}")).bearer_auth(&token).send().await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            let body = r.bytes().await?;
            Ok::<_, anyhow::Error>((t.elapsed(), body))
        }
    };
    let report_path = format!("/api/v1/evaluation?period={period}");
    let (_, body) = get(report_path.clone()).await?;
    let report: Value = serde_json::from_slice(&body)?;
    let top =
        report["indicators"][0]["rows"][0]["subject_id"].as_i64().context("no unit was revisited in the period")?;
    let cases_path =
        format!("/api/v1/evaluation/cases?period={period}&indicator=hotline&subject={top}&metric=revisits");
    let mut out = Vec::new();
    for (name, path) in [("report", report_path), ("cases behind the top unit's revisits", cases_path)] {
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            samples.push(get(path.clone()).await?.0);
        }
        out.push(json!({"read": name, "path": path, "latency_ms": summarize(samples)}));
    }
    let rows: usize =
        report["indicators"].as_array().map_or(0, |t| t.iter().map(|i| i["rows"].as_array().map_or(0, Vec::len)).sum());
    Ok(json!({
        "benchmark": "evaluation",
        "database": format!("{:?}", app.store.backend()),
        "cases_stored": app.store.count_cases().await?,
        "period": period,
        "ranked_lines": rows,
        "catch_up": {"flow_records": counted, "seconds": catch_up_s},
        "signal_scans": scans,
        "iterations": iterations,
        "reads": out,
    }))
}

/// The density clustering of the risk-signal scan against its peer: pandas + scikit-learn's DBSCAN
/// over the same exported coordinates, run by `python` on `peer` in the same run.
pub async fn dbscan(app: &App, days: u32, iterations: usize, python: &str, peer: &std::path::Path) -> Result<Value> {
    use cityloop_domain::clusters::{dbscan, project_to_metres};
    let fail = |e: cityloop_app::error::AppError| anyhow::anyhow!("{e}");
    app.count_everything().await.map_err(fail)?;
    let rules = app.settings.signals.clone();
    let (eps, min) = (rules.cluster_radius_m, rules.concentrated_grid_min.max(1) as usize);
    let reference = app.reference();
    let today = reference.calendar.local_date(app.now());
    let since = reference.calendar.local_midnight(today - chrono::Duration::days(i64::from(days.max(1)) - 1));
    let until = reference.calendar.local_midnight(today + chrono::Duration::days(1));

    // What the scan reads: each category's located cases of the window, then the clustering alone.
    let mut read_s = Vec::new();
    let mut groups: Vec<(i64, Vec<[f64; 2]>)> = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        groups.clear();
        for category in &reference.categories {
            let located = app
                .store
                .located_cases(category.id.0, since, until, cityloop_app::signals::LOCATED_PER_CATEGORY)
                .await?;
            if located.len() >= min {
                let points: Vec<(f64, f64)> = located.iter().map(|(_, lat, lon)| (*lat, *lon)).collect();
                groups.push((category.id.0, project_to_metres(&points)));
            }
        }
        read_s.push(t.elapsed());
    }
    let mut cluster_s = Vec::new();
    let mut ours: Vec<(i64, Vec<i32>)> = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        ours = groups.iter().map(|(c, points)| (*c, dbscan(points, eps, min))).collect();
        cluster_s.push(t.elapsed());
    }
    let mut scan_s = Vec::new();
    for _ in 0..iterations {
        let t = Instant::now();
        app.scan_signals().await.map_err(fail)?;
        scan_s.push(t.elapsed());
    }

    // The same points for the peer, projected the same way.
    let path = std::env::temp_dir().join(format!("cityloop-dbscan-{}.csv", std::process::id()));
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(out, "category,x,y")?;
        for (category, points) in &groups {
            for p in points {
                writeln!(out, "{category},{},{}", p[0], p[1])?;
            }
        }
    }
    let output = std::process::Command::new(python)
        .arg(peer)
        .arg(&path)
        .arg(eps.to_string())
        .arg(min.to_string())
        .arg(iterations.to_string())
        .output()
        .with_context(|| format!("running {python} {}", peer.display()));
    let _ = std::fs::remove_file(&path);
    let output = output?;
    anyhow::ensure!(
        output.status.success(),
        "the peer failed (it needs `pip install pandas scikit-learn`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Value = serde_json::from_slice(&output.stdout).context("the peer's answer")?;
    let peer_s: Vec<Duration> = theirs["seconds"]
        .as_array()
        .context("the peer's seconds")?
        .iter()
        .filter_map(Value::as_f64)
        .map(Duration::from_secs_f64)
        .collect();
    let (mut points, mut differing, mut clusters) = (0usize, 0usize, 0usize);
    for (category, labels) in &ours {
        let peer_labels: Vec<i64> = theirs["labels"][category.to_string()]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        points += labels.len();
        clusters += labels.iter().copied().max().map_or(0, |m| (m + 1).max(0) as usize);
        differing += labels.len().abs_diff(peer_labels.len())
            + labels.iter().zip(&peer_labels).filter(|(a, b)| i64::from(**a) != **b).count();
    }
    let median = |s: &[Duration]| summarize(s.to_vec()).p50 / 1000.0;
    let ours_total = median(&read_s) + median(&cluster_s);
    Ok(json!({
        "benchmark": "dbscan",
        "database": format!("{:?}", app.store.backend()),
        "cases_stored": app.store.count_cases().await?,
        "window_days": days,
        "eps_m": eps,
        "min_points": min,
        "categories": groups.len(),
        "points": points,
        "clusters": clusters,
        "labels_differing_from_peer": differing,
        "iterations": iterations,
        "cityloop": {
            "read_s": median(&read_s),
            "cluster_s": median(&cluster_s),
            "read_and_cluster_s": ours_total,
            "whole_signal_scan_s": median(&scan_s),
        },
        "peer_pandas_sklearn": {"read_csv_and_cluster_s": median(&peer_s)},
        "ratio_peer_to_cityloop_clustering": median(&peer_s) / median(&cluster_s).max(1e-9),
        "ratio_peer_to_cityloop_read_and_cluster": median(&peer_s) / ours_total.max(1e-9),
    }))
}

/// What the trust features cost on intake: over HTTP, in alternating rounds of one run, with flow
/// records linked or not and contact data encrypted or not (a key made for the run), each on an
/// application of its own over the same database; then sealing and checking everything stored. The
/// unlinked records are findings for `audit verify`: use a scratch database.
pub async fn trust(app: &App, requests: usize, concurrency: usize, rounds: usize) -> Result<Value> {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
    let key = hex::encode(key);
    let encrypting = ContactCipher::new(&key, &[]).map_err(anyhow::Error::msg)?;
    // Every variant reads what the others wrote.
    let clear = ContactCipher::new("", &[key]).map_err(anyhow::Error::msg)?;
    let base = &app.store;
    let variants = [
        ("neither", base.without_links().with_contact_cipher(clear.clone())),
        ("linked", base.with_contact_cipher(clear)),
        ("encrypted", base.without_links().with_contact_cipher(encrypting.clone())),
        ("both", base.with_contact_cipher(encrypting)),
    ];
    let mut apps = Vec::new();
    for (name, store) in variants {
        apps.push((name, App::new(store, (*app.settings).clone(), app.clock.clone()).await?));
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); apps.len()];
    for round in 0..rounds.max(1) {
        // Each round starts with another variant, so that none always runs on the fullest database.
        for k in 0..apps.len() {
            let i = (round + k) % apps.len();
            let rate = intake(&apps[i].1, requests, concurrency, None).await?["cases_per_second"].as_f64();
            rates[i].push(rate.unwrap_or(0.0));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let plain = median(&rates[0]);
    let per_variant: serde_json::Map<String, Value> = apps
        .iter()
        .zip(&rates)
        .map(|((name, _), runs)| {
            let m = median(runs);
            (name.to_string(), json!({"cases_per_second": runs, "median": m, "slower_than_neither_percent": (plain - m) / plain * 100.0}))
        })
        .collect();
    let started = Instant::now();
    let sealed = app.seal_everything().await?;
    let seal_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = app.verify_audit(&[]).await?;
    let verify_seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "benchmark": "trust",
        "database": format!("{:?}", app.store.backend()),
        "mode": format!("closed loop, {concurrency} clients, {requests} requests a round, {rounds} rounds"),
        "variants": per_variant,
        "sealed_records": sealed,
        "seal_records_per_second": sealed as f64 / seal_seconds.max(1e-9),
        "verified_records": report.records,
        "verify_records_per_second": report.records as f64 / verify_seconds.max(1e-9),
        "verify_findings": report.findings.len(),
    }))
}
