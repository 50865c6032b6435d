//! A case acknowledged with 201 survives `kill -9` of the server during sustained intake, and no
//! case is left half-written (every stored case has its flow record). Runs the real binary, which
//! also announces the address it listens on to Open311 clients.

mod killed;

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use cityloop_domain::CaseId;
use cityloop_store::testing::engines;
use killed::{command, demo_city};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Starts `cityloop serve` on a free port and returns it with its address, read from its own
/// "listening" line (no polling, no sleeping).
async fn start(url: &str, files: &std::path::Path) -> (Child, String) {
    let mut child = command(files)
        .args(["serve", "--no-demo", "--addr", "127.0.0.1:0", "--database", url])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.expect("read the server's output") {
        if let Some(rest) = line.strip_prefix("cityloop listening on ") {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return (child, addr);
        }
    }
    panic!("the server exited before listening");
}

#[tokio::test]
async fn open311_discovery_names_the_address_the_server_listens_on() {
    let backend = engines()[0];
    let (db, files) = demo_city(backend).await;
    let (_server, base) = start(&db.url, files.path()).await;
    let discovery: serde_json::Value =
        reqwest::get(format!("{base}/open311/v2/discovery.json")).await.unwrap().json().await.unwrap();
    let url = discovery["endpoints"][0]["url"].as_str().expect("an endpoint url");
    assert!(url.starts_with(&base), "{url} is reached at {base}");
}

/// Logs in as the demo operator.
async fn login(client: &reqwest::Client, base: &str) -> String {
    let r: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "operator", "password": "cityloop-demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn acknowledged_cases_survive_kill_9_during_sustained_intake() {
    for backend in engines() {
        let (db, files) = demo_city(backend).await;

        let (mut server, base) = start(&db.url, files.path()).await;
        let client = reqwest::Client::new();
        let token = login(&client, &base).await;

        let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
        let (enough_tx, mut enough_rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut workers = Vec::new();
        for w in 0..4 {
            let (client, base, token, acked, enough) =
                (client.clone(), base.clone(), token.clone(), acked.clone(), enough_tx.clone());
            workers.push(tokio::spawn(async move {
                // Bounded: stops at the first failed request (the server is gone) or after 2,000.
                for i in 0..2000 {
                    let body = json!({"channel": "hotline", "request_type": "complaint", "title": format!("压测{w}-{i}"),
                                      "description": "持续受理", "category": "06010", "contact": {"name": "张三", "phone": "13812341234"}});
                    let Ok(r) = client.post(format!("{base}/api/v1/cases")).bearer_auth(&token).json(&body).send().await else { break };
                    if r.status() != reqwest::StatusCode::CREATED {
                        break;
                    }
                    let Ok(case) = r.json::<serde_json::Value>().await else { break };
                    let n = {
                        let mut a = acked.lock().unwrap();
                        a.push((case["id"].as_i64().unwrap(), case["number"].as_str().unwrap().to_string()));
                        a.len()
                    };
                    if n == 200 {
                        let _ = enough.try_send(());
                    }
                }
            }));
        }
        drop(enough_tx);
        enough_rx.recv().await.expect("200 cases acknowledged before the kill");
        server.start_kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix
        server.wait().await.unwrap();
        for w in workers {
            w.await.unwrap();
        }

        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() >= 200);
        let store = cityloop_store::Store::connect(&cityloop_store::DbOptions::new(&db.url)).await.unwrap();
        for (id, number) in &acked {
            let case =
                store.get_case(CaseId(*id)).await.unwrap_or_else(|e| panic!("acknowledged case {number} lost: {e}"));
            assert_eq!(&case.number, number);
        }
        let stored = store.count_cases().await.unwrap();
        assert!(stored >= acked.len() as i64);
        for id in 1..=stored {
            assert_eq!(store.flows(CaseId(id)).await.unwrap().len(), 1, "case {id} has its flow record");
        }

        // And the platform comes back on the same database.
        let (mut again, base) = start(&db.url, files.path()).await;
        let (last_id, last_number) = acked.last().unwrap();
        let token = login(&client, &base).await;
        let case: serde_json::Value = client
            .get(format!("{base}/api/v1/cases/{last_id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(case["number"].as_str(), Some(last_number.as_str()));
        again.start_kill().unwrap();
        again.wait().await.unwrap();
        eprintln!("{backend:?}: {} cases acknowledged before kill -9, {stored} stored, all present", acked.len());
    }
}
