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
    assert!(text(&good).contains("3 categories created or updated"));

    let url = run(dir.path(), &["migrate", "--database", "mysql://root:secret@db/x"]);
    assert!(!url.status.success());
    assert!(text(&url).contains("unsupported database URL") && !text(&url).contains("secret"), "{}", text(&url));
    let missing = run(dir.path(), &["import-grids", "nowhere.geojson", "--database", &db]);
    assert!(!missing.status.success() && text(&missing).contains("nowhere.geojson"));
    let defaults = run(dir.path(), &["config", "default"]);
    assert!(text(&defaults).contains("[database]"));
}
