//! A real server on 127.0.0.1:0 over a fresh database with the demo city (no history), a clock the
//! test moves, and typed request helpers.

use std::sync::Arc;

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::testing::{demo_app_with, DemoApp};
use cityloop_app::{App, AppSettings, ManualClock};
use cityloop_store::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub app: App,
    /// Keeps the database and attachment files alive.
    _demo: DemoApp,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], with settings of the test's own.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut AppSettings)) -> TestApp {
    let demo = demo_app_with(backend, 0, 256 * 1024, adjust).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let served = demo.app.clone();
    tokio::spawn(async move {
        cityloop_http::serve(listener, served, cityloop_http::WebSettings::default(), async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        base,
        client: reqwest::Client::new(),
        clock: demo.clock.clone(),
        app: demo.app.clone(),
        _demo: demo,
        shutdown: Some(tx),
    }
}

/// An answer: status and JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn ok(self) -> Value {
        assert!(self.status.is_success(), "expected success, got {} {}", self.status, self.body);
        self.body
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let text = r.text().await.unwrap();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

impl TestApp {
    /// The URL of the server's database, for tests that write to it behind the server's back.
    pub fn database_url(&self) -> &str {
        &self._demo.db.url
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, username: &str) -> String {
        let a = self.post(None, "/api/v1/auth/login", json!({"username": username, "password": DEMO_PASSWORD})).await;
        a.ok()["token"].as_str().unwrap().to_string()
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> Answer {
        let mut req = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> Answer {
        answer(self.client.put(self.url(path)).json(&body).bearer_auth(token).send().await.unwrap()).await
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Answer {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Makes a move and returns the answer.
    pub async fn act(&self, token: &str, case: i64, mv: &str, body: Value) -> Answer {
        self.post(Some(token), &format!("/api/v1/cases/{case}/{mv}"), body).await
    }

    /// Makes a move that must succeed and returns the case.
    pub async fn must(&self, token: &str, case: i64, mv: &str, body: Value) -> Value {
        let a = self.act(token, case, mv, body).await;
        assert_eq!(a.status, StatusCode::OK, "{mv} on case {case}: {}", a.body);
        a.body
    }

    /// The centroid of the first grid of the first district (inspector1's area).
    pub async fn first_grid(&self, token: &str) -> (String, f64, f64) {
        let grids = self.get(Some(token), "/api/v1/grids").await.ok();
        let g = &grids[0];
        (
            g["code"].as_str().unwrap().to_string(),
            g["centroid"]["lat"].as_f64().unwrap(),
            g["centroid"]["lon"].as_f64().unwrap(),
        )
    }

    /// The username of the demo handler of a unit.
    pub fn handler_of(&self, case: &Value) -> String {
        format!("h-{}", case["unit_code"].as_str().expect("the case has a unit"))
    }

    /// Creates a case as `token` and returns it.
    pub async fn create(&self, token: &str, body: Value) -> Value {
        let a = self.post(Some(token), "/api/v1/cases", body).await;
        assert_eq!(a.status, StatusCode::CREATED, "create: {}", a.body);
        a.body
    }
}

impl TestApp {
    /// A hotline complaint in the first grid, filed by the lead and dispatched by the catalogue;
    /// returns its id and the dispatched case.
    pub async fn dispatched_complaint(&self, category: &str, title: &str, description: &str) -> (i64, Value) {
        let operator = self.login("operator").await;
        let (_, lat, lon) = self.first_grid(&operator).await;
        let case = self
            .create(&operator, json!({"channel": "hotline", "request_type": "complaint", "title": title,
                                       "description": description, "category": category, "location": {"lat": lat, "lon": lon}}))
            .await;
        let id = case["id"].as_i64().unwrap();
        self.must(&self.login("lead").await, id, "file", json!({})).await;
        let dispatched = self.must(&self.login("dispatcher").await, id, "dispatch", json!({})).await;
        (id, dispatched)
    }
}

/// The moves of a case's flow records, in order.
pub fn moves(case: &Value) -> Vec<String> {
    case["flow"].as_array().unwrap().iter().map(|f| f["move"].as_str().unwrap().to_string()).collect()
}

/// Installs Python packages from PyPI into `target/<dir>` (once per build directory: when each of
/// `present` is there already, nothing is fetched), or says why they cannot be. CI sets
/// `CITYLOOP_TEST_PYPI_REQUIRED=1` so that a missing Python or registry fails the run instead of
/// skipping the test.
pub async fn pip_install(dir: &str, present: &[&str], packages: &[&str], what: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target").join(dir);
    if present.iter().all(|p| dir.join(p).is_dir()) {
        return Some(dir);
    }
    let out = tokio::process::Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
        .arg(&dir)
        .args(packages)
        .output()
        .await;
    let why = match out {
        Ok(o) if o.status.success() => return Some(dir),
        Ok(o) => format!("pip install failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => format!("python3 cannot be run: {e}"),
    };
    assert!(std::env::var("CITYLOOP_TEST_PYPI_REQUIRED").is_err(), "{what}: {why}");
    eprintln!("skipped: {what} from PyPI are not available ({why})");
    None
}
