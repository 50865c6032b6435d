//! Schema-driven fuzzing of the JSON API: schemathesis (from PyPI) generates requests from the
//! OpenAPI document — valid ones, and ones that break its rules — and checks that none is answered
//! with a server error.

use crate::on_every_engine;

/// Runs schemathesis against the server as `user`, signed in with `token`; returns how many requests
/// it generated and checked, failing the test on any 5xx.
async fn fuzz_as(t: &crate::TestApp, dir: &std::path::Path, user: &str, token: &str) -> u64 {
    let cli =
        "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())";
    let out = tokio::process::Command::new("python3")
        .args(["-c", cli, "run", &t.url("/api/v1/openapi.json")])
        // One worker: Python 3.11's `ast` module is not safe to use from two threads at once, and
        // Hypothesis parses its own lambdas while describing a test ("AST constructor recursion depth
        // mismatch"); one worker also makes the run follow its seed.
        .args(["--checks", "not_a_server_error", "--max-examples", "25", "--seed", "20261204", "--workers", "1"])
        // Signing out would end the run's own session.
        .args(["--exclude-path-regex", "logout"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .env("PYTHONPATH", dir)
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "as {user}:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // "N generated, N passed": every generated request was answered without a server error.
    let line = stdout.lines().find(|l| l.contains(" generated, ")).unwrap_or_else(|| panic!("{stdout}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).collect();
    assert!(numbers.len() == 2 && numbers[0] == numbers[1] && numbers[0] > 0, "as {user}: {line}");
    numbers[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_generated_from_the_openapi_document_never_get_a_server_error() {
    let packages = ["schemathesis==4.32.5"];
    let Some(dir) = crate::helpers::pip_install("schemathesis", &["schemathesis"], &packages, "schemathesis").await
    else {
        return;
    };
    on_every_engine(|t| {
        let dir = dir.clone();
        async move {
            // As a city runs it: with a classifier (without one, classifying is 503 `not_ready`).
            crate::smart::install_model(&t).await;
            // Everyone signs in first: the sign-ins a run generates fail, and may lock the account
            // of the user who runs next.
            let mut signed_in = Vec::new();
            for user in ["admin", "operator"] {
                signed_in.push((user, t.login(user).await));
            }
            for (user, token) in signed_in {
                let checked = fuzz_as(&t, &dir, user, &token).await;
                eprintln!("schemathesis as {user}: {checked} requests, no server error");
            }
        }
    })
    .await;
}
