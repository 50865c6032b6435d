//! PostgreSQL going away: while the server cannot be reached every request that needs it is answered
//! 503 with the API's error body (and nothing is half-written); once it is back, the platform
//! recovers by itself, without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cityloop_app::demo::{DemoOptions, DEMO_PASSWORD};
use cityloop_app::{App, AppSettings};
use cityloop_store::testing::{engines, fresh};
use cityloop_store::{Backend, DbOptions, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP relay on loopback in front of the PostgreSQL server, which can be cut (every connection
/// through it dropped, new ones refused) and mended.
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped at each cut: the connections of an earlier generation end.
    cuts: watch::Sender<u64>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting, cut_signal) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let upstream = upstream.clone();
                let mut cut = cut_signal.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay { addr, up, cuts }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn mend(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_away_requests_get_503_and_the_platform_recovers_by_itself() {
    if !engines().contains(&Backend::Postgres) {
        eprintln!("skipped: PostgreSQL is not configured");
        return;
    }
    let db = fresh(Backend::Postgres).await;
    let host = db.url.split("://").nth(1).and_then(|rest| rest.split(['/', '?']).next()).unwrap();
    let upstream = host.rsplit('@').next().unwrap().to_string();
    let relay = Relay::start(upstream.clone()).await;
    let url = db.url.replacen(&upstream, &relay.addr.to_string(), 1);
    let options =
        DbOptions { max_connections: 3, acquire_timeout: std::time::Duration::from_secs(2), ..DbOptions::new(&url) };
    let store = Store::open(&options).await.unwrap();
    let files = tempfile::tempdir().unwrap();
    let settings = AppSettings { attachments_dir: files.path().join("attachments"), ..AppSettings::default() };
    let clock = Arc::new(cityloop_app::clock::ManualClock::new(cityloop_app::testing::monday_9am()));
    let app = App::new(store, settings, clock).await.unwrap();
    app.load_demo(&DemoOptions { cases: 0, ..DemoOptions::default() }).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = app.clone();
    tokio::spawn(async move {
        cityloop_http::serve(listener, served, cityloop_http::WebSettings::default(), std::future::pending()).await
    });

    let client = reqwest::Client::new();
    let login = json!({"username": "operator", "password": DEMO_PASSWORD});
    let answer = client.post(format!("{base}/api/v1/auth/login")).json(&login).send().await.unwrap();
    let token = answer.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let grid = app.reference().grids[0].clone();
    let case = json!({"channel": "hotline", "request_type": "complaint", "title": "路灯不亮", "description": "路灯不亮",
                      "category": "11001", "location": {"lat": grid.centroid_lat, "lon": grid.centroid_lon}});
    let list = || client.get(format!("{base}/api/v1/cases")).bearer_auth(&token).send();
    let create = || client.post(format!("{base}/api/v1/cases")).bearer_auth(&token).json(&case).send();
    assert_eq!(list().await.unwrap().status(), StatusCode::OK);

    relay.cut();
    for answer in [list().await.unwrap(), create().await.unwrap()] {
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
    }
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);

    relay.mend();
    assert_eq!(list().await.unwrap().status(), StatusCode::OK, "recovered without a restart");
    assert_eq!(create().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status(), StatusCode::OK);
    // The request refused while the database was away created nothing.
    assert_eq!(db.query_i64("select count(*) from cases").await, 1);
}
