//! Tamper evidence for the flow records (人过留迹、事过留痕).
//!
//! Each flow record carries a *link*: a keyed hash (HMAC-SHA256) of the record's stored values and of
//! the link of the case's previous record, written in the same transaction as the record. Editing,
//! inserting, deleting or reordering records of a case breaks the links after it. Records are then
//! *sealed* in id order, platform-wide: each seal's root hashes the previous root and the id and link
//! of every record it covers, so that removing a case's last record, or a whole case, changes a root.
//!
//! With the key kept outside the database (settings or environment), someone who can write to the
//! database cannot forge links; the roots exported day by day also catch a chain rewritten with it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A hash in the chains.
pub type Digest = [u8; 32];

/// The link before a case's first record, and the root before the first seal.
pub const GENESIS: Digest = [0; 32];

/// One stored value of a record, as the database holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

/// The secret the chains are keyed with.
#[derive(Clone)]
pub struct AuditKey {
    secret: Vec<u8>,
    /// The HMAC state after the key: every link starts from a copy of it instead of hashing the key
    /// again.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(…)")
    }
}

/// The key used when none is configured: chains still catch a single edited record and the exported
/// roots catch a rewritten chain, but anyone who reads this source can forge links.
pub const DEFAULT_KEY: &str = "cityloop-audit-default-key";

impl AuditKey {
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref().to_vec();
        // HMAC takes a key of any length.
        let keyed = Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC accepts every key length");
        Self { secret, keyed }
    }

    /// Whether this is the built-in key (the server warns about it).
    pub fn is_default(&self) -> bool {
        self.secret == DEFAULT_KEY.as_bytes()
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// The link of a record: its values (in column order, the id left out: it is only known once
    /// stored) chained to the link of the case's previous record.
    pub fn link(&self, previous: &Digest, values: &[Value<'_>]) -> Digest {
        let mut mac = self.mac();
        mac.update(b"flow\0");
        mac.update(previous);
        for value in values {
            match value {
                Value::Null => mac.update(&[0]),
                Value::Int(v) => {
                    mac.update(&[1]);
                    mac.update(&v.to_le_bytes());
                }
                Value::Real(v) => {
                    mac.update(&[2]);
                    mac.update(&v.to_bits().to_le_bytes());
                }
                Value::Text(s) => {
                    // Length first, so that no two lists of texts hash alike.
                    mac.update(&[3]);
                    mac.update(&(s.len() as u64).to_le_bytes());
                    mac.update(s.as_bytes());
                }
            }
        }
        mac.finalize().into_bytes().into()
    }

    /// The root of a seal: the previous root and each sealed record's id and link, in id order.
    pub fn root<'a>(&self, previous: &Digest, records: impl IntoIterator<Item = (i64, &'a Digest)>) -> Digest {
        let mut mac = self.mac();
        mac.update(b"seal\0");
        mac.update(previous);
        for (id, link) in records {
            mac.update(&id.to_le_bytes());
            mac.update(link);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Hex text of a digest, as stored.
pub fn to_hex(d: &Digest) -> String {
    let mut out = [0u8; 64];
    hex::encode_to_slice(d, &mut out).expect("64 digits for 32 bytes");
    String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
}

/// A digest from its hex text; `None` when it is not 64 hex digits.
pub fn from_hex(s: &str) -> Option<Digest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok().map(|()| out)
}

/// What a check of the records found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The record, or what comes before it in its case, is not what was linked: edited, moved, or
    /// a record before it was removed or put in afterwards.
    Altered,
    /// The record carries no link: it was written past the platform.
    Unlinked,
    /// Records a seal holds are gone.
    Deleted,
    /// Records inside a sealed range that the seal does not hold.
    Inserted,
    /// A seal's root does not follow from its records and the previous root.
    SealBroken,
    /// A root exported earlier differs from the one stored now.
    RootChanged,
}

/// One finding, with the record or seal it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The flow record (for a seal, its last record).
    pub flow_id: i64,
    pub case_id: Option<i64>,
    pub seal_id: Option<i64>,
    pub detail: String,
}

/// Checks the records case by case (each case's records in id order, the cases one after another),
/// each against its stored predecessor, so that one edit is one finding.
#[derive(Debug)]
pub struct LinkCheck {
    key: AuditKey,
    case: Option<i64>,
    previous: Digest,
    pub cases: u64,
    pub records: u64,
    pub findings: Vec<Finding>,
}

impl LinkCheck {
    pub fn new(key: AuditKey) -> Self {
        Self { key, case: None, previous: GENESIS, cases: 0, records: 0, findings: Vec::new() }
    }

    /// The next record: its case, id, stored values and stored link (hex text, as stored).
    pub fn push(&mut self, case_id: i64, flow_id: i64, values: &[Value<'_>], stored: Option<&str>) {
        if self.case != Some(case_id) {
            self.case = Some(case_id);
            self.previous = GENESIS;
            self.cases += 1;
        }
        self.records += 1;
        let finding = |kind, detail: &str| Finding {
            kind,
            flow_id,
            case_id: Some(case_id),
            seal_id: None,
            detail: detail.to_string(),
        };
        // An unlinked record is skipped: the platform links each record to the last linked one.
        let Some(stored) = stored else {
            self.findings.push(finding(FindingKind::Unlinked, "the record has no link"));
            return;
        };
        let stored = from_hex(stored);
        if stored != Some(self.key.link(&self.previous, values)) {
            self.findings.push(finding(
                FindingKind::Altered,
                "the record, or the records before it in its case, differ from what was linked",
            ));
        }
        self.previous = stored.unwrap_or(GENESIS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(note: &str) -> Vec<Value<'_>> {
        vec![Value::Int(7), Value::Text("report"), Value::Null, Value::Text(note), Value::Int(1_800_000_000_000)]
    }

    fn chain<'a>(key: &AuditKey, notes: &[&'a str]) -> Vec<(i64, Vec<Value<'a>>, Option<String>)> {
        let mut previous = GENESIS;
        notes
            .iter()
            .enumerate()
            .map(|(i, note)| {
                let values = record(note);
                previous = key.link(&previous, &values);
                (i as i64 + 1, values, Some(to_hex(&previous)))
            })
            .collect()
    }

    fn check(key: &AuditKey, records: Vec<(i64, Vec<Value<'_>>, Option<String>)>) -> Vec<(FindingKind, i64)> {
        let mut check = LinkCheck::new(key.clone());
        for (id, values, link) in &records {
            check.push(7, *id, values, link.as_deref());
        }
        assert_eq!(check.records as usize, records.len());
        check.findings.iter().map(|f| (f.kind, f.flow_id)).collect()
    }

    #[test]
    fn an_untouched_case_checks_clean() {
        let key = AuditKey::new("k");
        assert_eq!(check(&key, chain(&key, &["a", "b", "c"])), vec![]);
    }

    #[test]
    fn an_edited_record_is_the_one_found() {
        let key = AuditKey::new("k");
        let mut records = chain(&key, &["a", "b", "c"]);
        records[1].1 = record("B");
        assert_eq!(check(&key, records), vec![(FindingKind::Altered, 2)]);
    }

    #[test]
    fn a_removed_or_reordered_record_breaks_the_chain() {
        let key = AuditKey::new("k");
        let mut records = chain(&key, &["a", "b", "c"]);
        records.remove(1);
        assert_eq!(check(&key, records), vec![(FindingKind::Altered, 3)]);
        let mut records = chain(&key, &["a", "b", "c"]);
        records.swap(0, 1);
        let found = check(&key, records);
        assert_eq!(found.len(), 3, "both records sit after the wrong predecessor, and so does the next: {found:?}");
    }

    #[test]
    fn an_unlinked_or_garbled_link_is_found() {
        let key = AuditKey::new("k");
        let mut records = chain(&key, &["a", "b", "c"]);
        records[0].2 = None;
        records[2].2 = Some("not hex".into());
        assert_eq!(
            check(&key, records),
            vec![(FindingKind::Unlinked, 1), (FindingKind::Altered, 2), (FindingKind::Altered, 3)]
        );
    }

    #[test]
    fn links_need_the_key() {
        let records = chain(&AuditKey::new("other"), &["a", "b"]);
        assert_eq!(check(&AuditKey::new("k"), records).len(), 2);
    }

    #[test]
    fn values_are_hashed_with_their_lengths_and_types() {
        let key = AuditKey::new("k");
        let split = |a, b| key.link(&GENESIS, &[Value::Text(a), Value::Text(b)]);
        assert_ne!(split("ab", "c"), split("a", "bc"));
        assert_ne!(key.link(&GENESIS, &[Value::Null]), key.link(&GENESIS, &[Value::Int(0)]));
        assert_ne!(key.link(&GENESIS, &[Value::Int(1)]), key.link(&GENESIS, &[Value::Text("1")]));
    }

    #[test]
    fn a_root_covers_every_id_and_link() {
        let key = AuditKey::new("k");
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let root = key.root(&GENESIS, [(1, &a), (2, &b)]);
        assert_ne!(root, key.root(&GENESIS, [(1, &a)]));
        assert_ne!(root, key.root(&GENESIS, [(1, &a), (3, &b)]));
        assert_ne!(root, key.root(&[9; 32], [(1, &a), (2, &b)]));
    }

    #[test]
    fn hex_round_trips() {
        let d = AuditKey::new("k").link(&GENESIS, &[]);
        assert_eq!(from_hex(&to_hex(&d)), Some(d));
        assert_eq!(from_hex("zz"), None);
    }
}
