//! The spam heuristics over real citizen messages (`../shared/data/teddy`, when it is there): real
//! requests to a city are refused almost never, and the few that come close are listed.

use std::path::Path;

use cityloop_domain::spam::{score, SpamRules};

/// (title, text) of the messages of a message-board export with Chinese headers.
fn messages(name: &str) -> Option<Vec<(String, String)>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy").join(name);
    let Ok(mut reader) = csv::Reader::from_path(&path) else {
        eprintln!("skipped: {} is not there (the shared data set)", path.display());
        return None;
    };
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (title, text) = (column("留言主题"), column("留言详情"));
    Some(reader.records().map(|r| r.unwrap()).map(|r| (r[title].to_string(), r[text].to_string())).collect())
}

#[test]
fn real_messages_to_the_city_are_not_taken_for_spam() {
    let rules = SpamRules::default();
    for file in ["hotspot_messages.csv", "unlabeled_messages.csv", "replies.csv"] {
        let Some(all) = messages(file) else { return };
        let verdicts: Vec<_> = all.iter().map(|(title, text)| (title, score(title, text))).collect();
        let refused: Vec<_> = verdicts.iter().filter(|(_, v)| v.refused_by(&rules)).collect();
        let flagged = verdicts.iter().filter(|(_, v)| v.score >= 40).count();
        eprintln!("{file}: {} messages, {} scored ≥ 40, {} refused", all.len(), flagged, refused.len());
        for (title, v) in &refused {
            eprintln!("  refused: {title}: {:?}", v.signs);
        }
        // At most one in a thousand real requests refused.
        assert!(refused.len() * 1000 <= all.len(), "{file}: {} of {} refused", refused.len(), all.len());
    }
}
