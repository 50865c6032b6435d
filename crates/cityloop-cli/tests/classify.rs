//! `cityloop classify`, `duplicates eval` and `replies check`: files in, figures out, bad files named by
//! line. The runs over the shared data set say so and stop when `../shared/data` is absent.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{run, text};

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("none.toml"), "").unwrap();
    dir
}

/// A small labelled file in raw operator style: punctuation, digits, Latin letters.
fn small_data(dir: &Path) -> PathBuf {
    let mut csv = String::from("id,label,text\n");
    let noise = ["工地夜间施工噪音大，影响休息！", "凌晨2点还在打桩，吵死了", "KTV噪音扰民到半夜", "广场舞音响太吵"];
    let roads = ["路面塌陷有个大坑", "3号路口红绿灯坏了", "公交车不按站停靠", "道路积水严重无法通行"];
    for i in 0..40 {
        let (label, text) =
            if i % 2 == 0 { ("环境保护", noise[i / 2 % 4]) } else { ("交通运输", roads[i / 2 % 4]) };
        csv.push_str(&format!("{i},{label},\"{text}（第{i}次反映）\"\n"));
    }
    let path = dir.join("small.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn train_then_eval_prints_the_figures_and_the_same_seed_gives_the_same_model() {
    let dir = workdir();
    let data = small_data(dir.path());
    let data = data.to_str().unwrap();
    let trained = json(&run(dir.path(), &["classify", "train", "--data", data, "--model", "a.clf", "--seed", "3"]));
    assert_eq!((trained["documents"].as_u64(), trained["labels"].as_u64()), (Some(40), Some(2)));
    json(&run(dir.path(), &["classify", "train", "--data", data, "--model", "b.clf", "--seed", "3"]));
    let (a, b) = (std::fs::read(dir.path().join("a.clf")).unwrap(), std::fs::read(dir.path().join("b.clf")).unwrap());
    assert_eq!(a, b, "same data and seed, same model");

    let eval = json(&run(dir.path(), &["classify", "eval", "--data", data, "--model", "a.clf", "--json"]));
    assert_eq!(eval["n"], 40);
    assert!(eval["accuracy"].as_f64().unwrap() > 0.95, "{eval}");
    assert!(eval["macro_f1"].as_f64().is_some() && eval["docs_per_sec"].as_f64().unwrap() > 0.0);
    let per_class = eval["per_class"].as_object().unwrap();
    assert_eq!(per_class.len(), 2);
    for key in ["precision", "recall", "f1", "support"] {
        assert!(per_class["环境保护"][key].is_number(), "{key} in {eval}");
    }

    let cv = json(&run(dir.path(), &["classify", "cross-validate", "--data", data, "--folds", "4"]));
    assert_eq!(cv["macro_f1"].as_array().unwrap().len(), 4);
}

#[test]
fn bad_data_files_are_named_by_line() {
    let dir = workdir();
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    };
    write("columns.csv", "id,category,text\n1,a,b\n".as_bytes());
    write("empty.csv", "id,label,text\n1,a,文本\n2,b,\n".as_bytes());
    let mut gbk = b"id,label,text\n1,a,ok\n".to_vec();
    gbk.extend_from_slice(&[b'2', b',', b'b', b',', 0xd4, 0xeb, 0xd2, 0xf4, b'\n']);
    write("gbk.csv", &gbk);
    for (file, expected) in [
        ("columns.csv", "columns.csv: line 1: missing column `label`"),
        ("empty.csv", "empty.csv: line 3: empty `text`"),
        ("gbk.csv", "gbk.csv: line 3: the file is not UTF-8"),
    ] {
        let out = run(dir.path(), &["classify", "train", "--data", file, "--model", "m.clf"]);
        assert!(!out.status.success());
        assert!(text(&out).contains(expected), "{file}: {}", text(&out));
    }
    assert!(!dir.path().join("m.clf").exists(), "no model from a bad file");
    std::fs::write(dir.path().join("broken.clf"), b"not a model").unwrap();
    let data = small_data(dir.path());
    let out = run(dir.path(), &["classify", "eval", "--data", data.to_str().unwrap(), "--model", "broken.clf"]);
    assert!(text(&out).contains("broken.clf: not a cityloop classifier model"), "{}", text(&out));
}

#[test]
fn a_model_trained_from_the_database_is_stored_as_a_version() {
    let dir = workdir();
    let db = format!("sqlite://{}", dir.path().join("d.db").display());
    let demo = run(dir.path(), &["demo", "--database", &db, "--cases", "300"]);
    assert!(demo.status.success(), "{}", text(&demo));
    let trained = json(&run(dir.path(), &["classify", "train", "--from-db", "--database", &db]));
    assert_eq!(trained["version"], 2, "the demo trained version 1: {trained}");
    assert!(trained["held_out"]["macro_f1"].as_f64().unwrap() > 0.8, "{trained}");
    let data = small_data(dir.path());
    json(&run(dir.path(), &["classify", "train", "--data", data.to_str().unwrap(), "--model", "m.clf"]));
    let installed = run(dir.path(), &["classify", "install", "--model", "m.clf", "--database", &db]);
    assert!(text(&installed).contains("installed as classifier version 3"), "{}", text(&installed));
}

fn shared(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent (the shared data set is not next to this checkout)", path.display());
        None
    }
}

#[test]
fn the_shared_messages_train_a_model_that_reads_raw_operator_text() {
    let (Some(train), Some(raw)) = (shared("train.csv"), shared("train_raw.csv")) else { return };
    let dir = workdir();
    let holdout = json(&run(
        dir.path(),
        &["classify", "holdout", "--train", train.to_str().unwrap(), "--test", raw.to_str().unwrap()],
    ));
    assert_eq!(holdout["n"], 2488);
    assert!(holdout["macro_f1"].as_f64().unwrap() > 0.88, "word-split training, raw test: {holdout}");
}

#[test]
fn duplicate_and_reply_runs_over_the_shared_message_boards() {
    let (Some(hotspot), Some(replies)) = (shared("hotspot_messages.csv"), shared("replies.csv")) else { return };
    let dir = workdir();
    let dup = json(&run(dir.path(), &["duplicates", "eval", "--data", hotspot.to_str().unwrap(), "--sample", "5"]));
    assert_eq!(dup["messages"], 4326);
    assert!(dup["with_suggestion"].as_u64().unwrap() > 100, "{dup}");
    assert_eq!(dup["sample"].as_array().unwrap().len(), 5);
    let checked = json(&run(dir.path(), &["replies", "check", "--data", replies.to_str().unwrap(), "--sample", "3"]));
    assert_eq!(checked["replies"], 2816);
    let banded: u64 = checked["bands"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(banded, 2816, "every reply falls in one band");
}

#[test]
fn the_hot_problems_of_a_message_board_are_ranked_and_bad_votes_are_named() {
    let dir = workdir();
    let mut csv = String::from("留言编号,留言用户,留言主题,留言时间,留言详情,反对数,点赞数\n");
    let rows = [
        ("1", "u1", "伊景园滨河苑捆绑销售车位", "2019/7/7 08:00:00", "开发商要求购房必须买车位", "0", "5"),
        ("2", "u2", "投诉伊景园滨河苑捆绑销售车位", "2019/7/8 09:00:00", "伊景园滨河苑买房捆绑车位", "1", "2"),
        ("3", "u3", "伊景园滨河苑强制捆绑车位销售", "2019/7/9 10:00:00", "滨河苑车位捆绑", "0", "0"),
        ("4", "u4", "丽发新城搅拌站噪音", "2019/11/2 10:00:00", "丽发新城附近搅拌站日夜施工", "0", "1"),
        ("5", "u5", "丽发新城附近搅拌站粉尘噪音", "2019/11/3 10:00:00", "搅拌站粉尘大", "0", "0"),
        ("6", "u6", "路灯不亮", "2019/11/4 10:00:00", "东风路路灯坏了", "0", "0"),
    ];
    for (id, user, title, at, detail, down, up) in rows {
        csv.push_str(&format!("{id},{user},{title},{at},{detail},{down},{up}\n"));
    }
    std::fs::write(dir.path().join("board.csv"), &csv).unwrap();
    let found = json(&run(dir.path(), &["hotspots", "--data", "board.csv", "--top", "5", "--min-similarity", "0.3"]));
    assert_eq!(found["messages"], 6);
    let top = &found["top"][0];
    assert_eq!((top["messages"].as_u64(), top["people"].as_u64(), top["votes"].as_u64()), (Some(3), Some(3), Some(8)));
    assert_eq!(top["members"][0][0], "1");
    assert_eq!(found["top"][1]["members"].as_array().unwrap().len(), 2, "{found}");
    assert_eq!(found["top"].as_array().unwrap().len(), 2, "a lone message is no hot problem");

    std::fs::write(dir.path().join("bad.csv"), csv.replace(",0,5\n", ",0,很多\n")).unwrap();
    let refused = run(dir.path(), &["hotspots", "--data", "bad.csv"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("bad.csv:2: 点赞数 `很多`"), "{}", text(&refused));
}
