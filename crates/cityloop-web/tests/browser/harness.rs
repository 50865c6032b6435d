//! A real server with the demo city on 127.0.0.1:0, a real headless Chromium driven through
//! ChromeDriver, and helpers to act as the users of the pages: log in, fill fields, press
//! buttons, take screenshots and read the browser's console.
//!
//! Chromium and ChromeDriver come from Debian (`chromium`, `chromium-driver`); `.ci/run` and
//! `scripts/install-browser.sh` install them. Without them the tests say so and are skipped,
//! unless `CITYLOOP_TEST_BROWSER_REQUIRED=1`, which makes their absence a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::testing::{demo_app_with, DemoApp};
use cityloop_app::{App, AppSettings};
use cityloop_store::Backend;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const REQUIRED_VAR: &str = "CITYLOOP_TEST_BROWSER_REQUIRED";
const DRIVER_VAR: &str = "CITYLOOP_TEST_CHROMEDRIVER";

/// How long a page element may take to appear.
const ELEMENT_TIMEOUT: Duration = Duration::from_secs(15);
/// The class that marks a page being left (see [`Browser::click`]).
const LEAVING: &str = "cityloop-test-leaving";

fn driver_path() -> Option<PathBuf> {
    let path = std::env::var(DRIVER_VAR).map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("/usr/bin/chromedriver"));
    path.exists().then_some(path)
}

/// Whether the browser tests can run here; panics when they are required but cannot.
pub fn browser_available() -> bool {
    match driver_path() {
        Some(_) => true,
        None => {
            assert!(
                std::env::var(REQUIRED_VAR).map_or(true, |v| v != "1"),
                "{REQUIRED_VAR}=1 but chromedriver is missing: install Debian's chromium and chromium-driver \
                 (scripts/install-browser.sh)"
            );
            eprintln!("note: chromedriver not found; browser tests skipped (run scripts/install-browser.sh)");
            false
        }
    }
}

/// Where screenshots go: `target/screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// A ChromeDriver process, stopped when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts ChromeDriver on a free port and returns once it says it is ready.
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(driver_path().expect("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("driver stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("started successfully") => break,
                Some(Ok(_)) => continue,
                other => panic!("chromedriver did not start: {other:?}"),
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

/// ChromeDriver's browser log (`POST /session/{id}/se/log`), for console errors.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The platform under test.
pub struct Site {
    pub base: String,
    pub app: App,
    pub clock: std::sync::Arc<cityloop_app::ManualClock>,
    /// Keeps the database and attachment files alive.
    _demo: DemoApp,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the pages over a fresh database with the demo city and `cases` cases of history.
pub async fn spawn_site(backend: Backend, cases: usize) -> Site {
    spawn_site_with(backend, cases, |_| {}).await
}

/// As [`spawn_site`], with settings of the test's own.
pub async fn spawn_site_with(backend: Backend, cases: usize, adjust: impl FnOnce(&mut AppSettings)) -> Site {
    let demo = demo_app_with(backend, cases, 512 * 1024, adjust).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = cityloop_web::router(demo.app.clone(), cityloop_web::WebSettings::default());
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Site { base, app: demo.app.clone(), clock: demo.clock.clone(), _demo: demo, shutdown: Some(tx) }
}

/// A browser window on the site.
pub struct Browser {
    pub client: Client,
    pub base: String,
    /// Console messages of level SEVERE seen so far, with the page they came from.
    pub console_errors: Vec<String>,
    expected_status: Option<u16>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens headless Chromium at a window size.
    pub async fn open(driver: &Driver, base: &str, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CITYLOOP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--disable-default-apps", "--hide-scrollbars",
                    "--lang=zh-CN", format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        client.set_window_size(width, height).await.unwrap();
        Browser { client, base: base.to_string(), console_errors: Vec::new(), expected_status: None, _profile: profile }
    }

    pub async fn goto(&mut self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
        self.wait_ready().await;
    }

    /// Waits for the document to finish loading (after a navigation or a form post).
    pub async fn wait_ready(&mut self) {
        self.client.wait().at_most(ELEMENT_TIMEOUT).for_element(Locator::Css("body")).await.expect("a page body");
        self.collect_console().await;
    }

    /// Reads the console and keeps the errors.
    pub async fn collect_console(&mut self) {
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let log = self.client.issue_cmd(BrowserLog).await.expect("browser log");
        let expected = self.expected_status.take().map(|s| format!("responded with a status of {s} "));
        for entry in log.as_array().cloned().unwrap_or_default() {
            let message = entry["message"].as_str().unwrap_or_default();
            if entry["level"] == "SEVERE" && !expected.as_ref().is_some_and(|e| message.contains(e.as_str())) {
                self.console_errors.push(format!("{url}: {message}"));
            }
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(ELEMENT_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Reads an element's text; an element the page script replaced meanwhile (stale) is read again
    /// from the fresh one.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..20 {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if is_stale(&e) => {}
                Err(e) => panic!("text of `{css}`: {e}"),
            }
        }
        panic!("`{css}` kept being replaced");
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// Clicks an element of a fragment the page script may still be replacing: a click on a replaced
    /// (stale) element is tried again on the fresh one.
    pub async fn click_fragment(&self, css: &str) {
        for _ in 0..20 {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if is_stale(&e) => {}
                Err(e) => panic!("click `{css}`: {e}"),
            }
        }
        panic!("`{css}` kept being replaced");
    }

    /// Clicks a link or a form's button and waits for the page it loads. The old page is marked
    /// before the click, so an old page still on screen is never taken for the new one.
    pub async fn click(&mut self, css: &str) {
        let target = self.find(css).await;
        self.eval(&format!("document.documentElement.classList.add('{LEAVING}'); return true;")).await;
        target.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
        self.wait_for_next_page(css).await;
    }

    /// Waits for the page that replaces the one marked as being left.
    async fn wait_for_next_page(&mut self, after: &str) {
        self.client
            .wait()
            .at_most(ELEMENT_TIMEOUT)
            .for_element(Locator::Css(&format!("html:not(.{LEAVING}) > body")))
            .await
            .unwrap_or_else(|e| panic!("`{after}` loaded no new page: {e}"));
        self.collect_console().await;
    }

    /// Clicks something that asks a question first (a delete) and answers it: no stays on the
    /// page, yes waits for the page the form leads to.
    pub async fn click_and_answer(&mut self, css: &str, yes: bool) {
        self.eval(&format!("document.documentElement.classList.add('{LEAVING}'); return true;")).await;
        self.press(css).await;
        if !yes {
            self.client.dismiss_alert().await.expect("a question before going on");
            self.eval(&format!("document.documentElement.classList.remove('{LEAVING}'); return true;")).await;
            return;
        }
        self.client.accept_alert().await.expect("a question before going on");
        self.wait_for_next_page(css).await;
    }

    /// Clicks something that changes the page in place (opens a form, ticks a box).
    pub async fn press(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Logs in through the login page (logging out first if someone is signed in).
    pub async fn login(&mut self, username: &str) {
        self.logout().await;
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", DEMO_PASSWORD).await;
        self.click("#login-submit").await;
        assert!(self.exists("#logout").await, "{username} could not log in: {}", self.client.source().await.unwrap());
    }

    /// Logs out with the header's button, if someone is signed in.
    pub async fn logout(&mut self) {
        // The large-screen mode has no header; any ordinary page has.
        self.goto("/portal").await;
        if self.exists("#logout").await {
            self.click("#logout").await;
        }
    }

    /// The next page is expected to answer with this error status, which Chromium reports on
    /// its console as a failed resource load; that one message is not a page error.
    pub fn expect_status(&mut self, status: u16) {
        self.expected_status = Some(status);
    }

    /// Saves a screenshot as `target/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The page's width overflow: how far the content is wider than the window.
    pub async fn horizontal_overflow(&self) -> i64 {
        self.eval("return document.documentElement.scrollWidth - window.innerWidth;").await.as_i64().unwrap_or(0)
    }

    /// Closes the window; fails the test if any page wrote an error to the console.
    pub async fn finish(self) {
        let errors = self.console_errors.clone();
        self.client.close().await.unwrap();
        assert!(errors.is_empty(), "console errors: {errors:?}");
    }
}

/// A small JPEG for uploads.
pub fn photo_file(dir: &std::path::Path) -> PathBuf {
    // The smallest JPEG that decodes (1×1 px): the server checks uploads by their content.
    const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
        0x00, 0x00, 0xFF, 0xDB, 0x00, 0x43, 0x00, 0x08, 0x06, 0x06, 0x07, 0x06, 0x05, 0x08, 0x07, 0x07, 0x07, 0x09,
        0x09, 0x08, 0x0A, 0x0C, 0x14, 0x0D, 0x0C, 0x0B, 0x0B, 0x0C, 0x19, 0x12, 0x13, 0x0F, 0x14, 0x1D, 0x1A, 0x1F,
        0x1E, 0x1D, 0x1A, 0x1C, 0x1C, 0x20, 0x24, 0x2E, 0x27, 0x20, 0x22, 0x2C, 0x23, 0x1C, 0x1C, 0x28, 0x37, 0x29,
        0x2C, 0x30, 0x31, 0x34, 0x34, 0x34, 0x1F, 0x27, 0x39, 0x3D, 0x38, 0x32, 0x3C, 0x2E, 0x33, 0x34, 0x32, 0xFF,
        0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,
        0xFF, 0xC4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x2A, 0x9F, 0xFF, 0xD9,
    ];
    let path = dir.join("photo.jpg");
    std::fs::write(&path, JPEG).unwrap();
    path
}

/// The engines the browser tests run on: SQLite always, PostgreSQL when configured.
pub fn engines() -> Vec<Backend> {
    cityloop_store::testing::engines()
}

/// Whether a command failed because the element was replaced in the page after it was found.
fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    matches!(error, fantoccini::error::CmdError::Standard(e)
        if e.error == fantoccini::error::ErrorStatus::StaleElementReference)
}
