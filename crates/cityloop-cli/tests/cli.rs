//! The command line: helpful errors that name the file, line and field, and commands that work.

mod common;

use common::{run, text};

#[test]
fn users_and_categories_are_added_and_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());

    let ok = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "ops1",
            "--name",
            "受理员一",
            "--role",
            "operator",
            "--password",
            "long-password",
            "--database",
            &db,
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("added user ops1"));
    let dup = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "ops1",
            "--name",
            "x",
            "--role",
            "operator",
            "--password",
            "long-password",
            "--database",
            &db,
        ],
    );
    assert!(!dup.status.success());
    assert!(text(&dup).contains("username `ops1` is taken"), "{}", text(&dup));
    // A name told apart from an existing one only by its capitals is taken too.
    let capitals = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "OPS1",
            "--name",
            "x",
            "--role",
            "operator",
            "--password",
            "long-password",
            "--database",
            &db,
        ],
    );
    assert!(!capitals.status.success());
    assert!(text(&capitals).contains("username `ops1` is taken"), "{}", text(&capitals));
    let role = run(
        dir.path(),
        &[
            "user",
            "add",
            "--username",
            "ops2",
            "--name",
            "x",
            "--role",
            "king",
            "--password",
            "long-password",
            "--database",
            &db,
        ],
    );
    assert!(!role.status.success());
    assert!(text(&role).contains("roles: `king` is not one of"), "{}", text(&role));

    std::fs::write(
        dir.path().join("cats.csv"),
        "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n城乡建设,安全生产\n",
    )
    .unwrap();
    let bad = run(dir.path(), &["import-categories", "cats.csv", "--database", &db]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("cats.csv:3: expected 3 fields"), "{}", text(&bad));
    std::fs::write(dir.path().join("cats.csv"), "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n").unwrap();
    let good = run(dir.path(), &["import-categories", "cats.csv", "--database", &db]);
    assert!(good.status.success(), "{}", text(&good));
    assert!(text(&good).contains("3 categories created, 0 already present"));

    let url = run(dir.path(), &["migrate", "--database", "mysql://root:secret@db/x"]);
    assert!(!url.status.success());
    assert!(text(&url).contains("unsupported database URL") && !text(&url).contains("secret"), "{}", text(&url));
    let missing = run(dir.path(), &["import-grids", "nowhere.geojson", "--database", &db]);
    assert!(!missing.status.success() && text(&missing).contains("nowhere.geojson"));
    let defaults = run(dir.path(), &["config", "default"]);
    assert!(text(&defaults).contains("[database]"));
}

/// The month before the current one, as `YYYY-MM` in the city's time (UTC+8).
fn last_month() -> String {
    use chrono::Datelike;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let first = today.with_day(1).unwrap() - chrono::Duration::days(1);
    format!("{:04}-{:02}", first.year(), first.month())
}

#[test]
fn the_evaluation_report_ranks_the_demo_citys_units_by_the_formula() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let demo = run(dir.path(), &["demo", "--cases", "400", "--months", "3", "--database", &db]);
    assert!(demo.status.success(), "{}", text(&demo));
    // Each command closes the database: SQLite's log is folded into the file and removed.
    let log = dir.path().join("c.db-wal");
    assert!(!log.exists(), "`demo` left {}", log.display());
    let period = last_month();
    let out = run(dir.path(), &["report", "evaluation", "--period", &period, "--format", "json", "--database", &db]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!log.exists(), "`report` left {}", log.display());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["period"], period.as_str());
    let tables = report["indicators"].as_array().unwrap();
    let hotline = tables.iter().find(|t| t["indicator"] == "hotline").unwrap()["rows"].as_array().unwrap();
    assert!(hotline.len() >= 2, "the demo's units are revisited: {hotline:?}");
    let mut previous = f64::INFINITY;
    for row in hotline {
        // The district formula, worked out here from the counts.
        let n = |m: &str| row["counts"][m].as_f64().unwrap_or(0.0);
        let revisits = n("revisits");
        let expected = 10.0 * n("contacted") / revisits
            + 50.0 * n("solved") / revisits
            + 40.0 * (n("satisfied") + 0.9 * n("basically_satisfied")) / revisits;
        let total = row["total"].as_f64().unwrap();
        assert!((total - expected).abs() < 0.01, "{row}");
        assert!(total <= previous, "ranked best first");
        previous = total;
    }
    for indicator in ["department", "operator", "lead", "dispatcher"] {
        let rows = tables.iter().find(|t| t["indicator"] == indicator).unwrap()["rows"].as_array().unwrap();
        assert!(!rows.is_empty(), "{indicator} has lines");
    }

    let csv = run(
        dir.path(),
        &["report", "evaluation", "--period", &period, "--format", "xlsx", "--out", "e.xlsx", "--database", &db],
    );
    assert!(csv.status.success(), "{}", text(&csv));
    assert!(std::fs::read(dir.path().join("e.xlsx")).unwrap().starts_with(b"PK"));
    let bad = run(dir.path(), &["report", "evaluation", "--format", "pdf", "--database", &db]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("format: `pdf` is not one of json, csv, xlsx"), "{}", text(&bad));
    let month = run(dir.path(), &["report", "evaluation", "--period", "2026-13", "--database", &db]);
    assert!(text(&month).contains("period: `2026-13` is not a month"), "{}", text(&month));

    // The risk signals as they stood at the end of a past day: nothing after it is looked at.
    let day = format!("{period}-20");
    let scan = run(dir.path(), &["report", "signals", "--as-of", &day, "--database", &db]);
    assert!(scan.status.success(), "{}", text(&scan));
    let scan: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert_eq!(scan["as_of"], format!("{day}T15:59:59Z"), "the end of the city's day (UTC+8)");
    let signals = scan["signals"].as_array().unwrap();
    // What the demo's random history raises on that day varies; what is shown never lies after it.
    assert!(scan["scan"]["raised"].is_u64() && scan["scan"]["refreshed"].is_u64(), "{scan}");
    assert!(signals.iter().all(|s| s["to"].as_str().unwrap() <= day.as_str()), "{scan}");
    let bad = run(dir.path(), &["report", "signals", "--as-of", "20.10.2026", "--database", &db]);
    assert!(text(&bad).contains("--as-of: `20.10.2026` is not a date written YYYY-MM-DD"), "{}", text(&bad));
}

#[test]
fn audit_roots_are_exported_and_a_record_edited_in_the_database_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let file = dir.path().join("a.db");
    let db = format!("sqlite://{}", file.display());
    let key = [("CITYLOOP_AUDIT__KEY", "a-secret-kept-outside-the-database")];
    let demo = common::run_with_env(dir.path(), &key, &["demo", "--cases", "20", "--database", &db]);
    assert!(demo.status.success(), "{}", text(&demo));

    let root = common::run_with_env(dir.path(), &key, &["audit", "root", "--database", &db]);
    assert!(root.status.success(), "{}", text(&root));
    let line = String::from_utf8_lossy(&root.stdout).trim().to_string();
    let exported: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(exported["seal"], 1);
    std::fs::write(dir.path().join("roots.jsonl"), format!("{line}\n")).unwrap();

    let verify = |env: &[(&str, &str)]| {
        common::run_with_env(dir.path(), env, &["audit", "verify", "--roots", "roots.jsonl", "--database", &db])
    };
    let clean = verify(&key);
    assert!(clean.status.success(), "{}", text(&clean));
    assert!(text(&clean).contains("1 exported roots") && text(&clean).contains("no findings"), "{}", text(&clean));

    // Another key: every link fails (so does a server started without the city's key).
    let other = verify(&[("CITYLOOP_AUDIT__KEY", "another")]);
    assert_eq!(other.status.code(), Some(1), "{}", text(&other));

    let sqlite = rusqlite::Connection::open(&file).unwrap();
    let id: i64 = sqlite.query_row("select max(id) from flow where note is not null", [], |r| r.get(0)).unwrap();
    sqlite.execute("update flow set note = '已按规定办结' where id = ?", [id]).unwrap();
    let found = verify(&key);
    assert_eq!(found.status.code(), Some(1), "{}", text(&found));
    assert!(text(&found).contains(&format!("Altered: record {id}")), "{}", text(&found));

    std::fs::write(dir.path().join("roots.jsonl"), "{\"seal\": 1}\n").unwrap();
    let bad = verify(&key);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("roots.jsonl, line 1"), "{}", text(&bad));
}

#[test]
fn a_backup_restores_into_a_new_database_and_never_overwrites_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    let db = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let (city, copy) = (db("city.db"), db("copy.db"));
    let demo = common::run(dir.path(), &["demo", "--cases", "30", "--database", &city]);
    assert!(demo.status.success(), "{}", text(&demo));

    let backup = common::run(dir.path(), &["backup", "city.backup", "--database", &city]);
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("backed up") && text(&backup).contains("city.backup"), "{}", text(&backup));
    let again = common::run(dir.path(), &["backup", "city.backup", "--database", &city]);
    assert!(!again.status.success());
    assert!(text(&again).contains("city.backup already exists"), "{}", text(&again));

    let restore = common::run(dir.path(), &["restore", "city.backup", "--database", &copy]);
    assert!(restore.status.success(), "{}", text(&restore));
    let rows = |o: &std::process::Output| text(o).split_whitespace().find_map(|w| w.parse::<u64>().ok());
    assert_eq!(rows(&restore), rows(&backup), "{} / {}", text(&backup), text(&restore));
    let verify = common::run(dir.path(), &["audit", "verify", "--database", &copy]);
    assert!(verify.status.success() && text(&verify).contains("no findings"), "{}", text(&verify));
    let count = |name: &str| -> i64 {
        let sqlite = rusqlite::Connection::open(dir.path().join(name)).unwrap();
        sqlite.query_row("select count(*) from cases", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(count("copy.db"), count("city.db"));

    // A database with a city in it is left as it is.
    let refused = common::run(dir.path(), &["restore", "city.backup", "--database", &city]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("restore into a new, empty database"), "{}", text(&refused));
    let missing = common::run(dir.path(), &["restore", "nothing.backup", "--database", &db("other.db")]);
    assert!(text(&missing).contains("nothing.backup: no such backup file"), "{}", text(&missing));
}
