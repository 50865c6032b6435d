//! Tamper evidence (人过留迹、事过留痕): sealing the flow records in id order, checking every link
//! and seal, and the roots a city exports to check against later (docs/audit.md).

use chrono::{DateTime, Utc};
use cityloop_domain::audit::{from_hex, Digest, Finding, FindingKind, LinkCheck, GENESIS};
use cityloop_store::audit::{root_text, Seal};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::App;

/// Records per seal at most.
const SEAL_BATCH: i64 = 5_000;
/// Records read at a time by a check.
const CHECK_BATCH: i64 = 5_000;

/// A root as exported (`cityloop audit root`), to be checked later (`cityloop audit verify --roots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedRoot {
    pub seal: i64,
    pub last_flow_id: i64,
    pub root: String,
    pub sealed_at: DateTime<Utc>,
}

impl From<&Seal> for ExportedRoot {
    fn from(s: &Seal) -> Self {
        Self { seal: s.id, last_flow_id: s.last_flow_id, root: s.root.clone(), sealed_at: s.sealed_at }
    }
}

/// What a check covered and found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    pub cases: u64,
    pub records: u64,
    pub seals: u64,
    /// Records after the last seal (sealed within seconds by the running server).
    pub unsealed: i64,
    pub roots_checked: usize,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

fn seal_finding(kind: FindingKind, seal: &Seal, detail: String) -> Finding {
    Finding { kind, flow_id: seal.last_flow_id, case_id: None, seal_id: Some(seal.id), detail }
}

impl App {
    /// Seals the next records (at most one seal); the number sealed. On PostgreSQL a seal stops
    /// before a gap in the ids that may still fill (see `cursor`).
    pub async fn seal_audit_once(&self) -> Result<usize> {
        let last = self.store.last_seal().await?;
        let (after, previous_root, id) = match &last {
            Some(s) => (s.last_flow_id, from_hex(&s.root).unwrap_or(GENESIS), s.id + 1),
            None => (0, GENESIS, 1),
        };
        let horizon = self.store.transaction_horizon().await?;
        let mut links = self.store.flow_links(after, i64::MAX, SEAL_BATCH).await?;
        let ids: Vec<i64> = links.iter().map(|(id, _)| *id).collect();
        links.truncate(self.ready_to_take(horizon, "audit", after, &ids).await?);
        let Some(&(last_flow_id, _)) = links.last() else { return Ok(0) };
        let root = self.store.audit_key().root(&previous_root, links.iter().map(|(id, link)| (*id, link)));
        let seal =
            Seal { id, last_flow_id, records: links.len() as i64, root: root_text(&root), sealed_at: self.now() };
        Ok(if self.store.add_seal(&seal).await? { links.len() } else { 0 })
    }

    /// Seals everything there is to seal now.
    pub async fn seal_audit(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.seal_audit_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Seals every record, for a command that runs once: a gap in the ids is waited for while a write
    /// that may fill it is running, up to `GAP_WAIT_SECONDS` of real time.
    pub async fn seal_everything(&self) -> Result<usize> {
        crate::cursor::until_settled(|| self.seal_audit(), || async { Ok(self.unsealed_records().await? > 0) }).await
    }

    async fn unsealed_records(&self) -> Result<i64> {
        let after = self.store.last_seal().await?.map_or(0, |s| s.last_flow_id);
        Ok(self.store.flows_after(after).await?)
    }

    /// The last seal made by `at` (by default: the last seal), as exported.
    pub async fn audit_root(&self, at: Option<DateTime<Utc>>) -> Result<Option<ExportedRoot>> {
        let seal = match at {
            Some(at) => self.store.seal_made_by(at).await?,
            None => self.store.last_seal().await?,
        };
        Ok(seal.as_ref().map(ExportedRoot::from))
    }

    /// Checks every record's link, every seal, and the exported `roots`.
    pub async fn verify_audit(&self, roots: &[ExportedRoot]) -> Result<AuditReport> {
        let key = self.store.audit_key().clone();
        let mut check = LinkCheck::new(key.clone());
        let mut after = Some((i64::MIN, i64::MIN));
        while let Some(from) = after {
            after = self.store.check_flow_links(&mut check, from, CHECK_BATCH).await?;
        }
        let mut report = AuditReport {
            cases: check.cases,
            records: check.records,
            findings: check.findings,
            ..AuditReport::default()
        };

        let (mut previous_root, mut previous_last) = (GENESIS, 0i64);
        loop {
            let seals = self.store.seals(report.seals as i64, 1_000).await?;
            if seals.is_empty() {
                break;
            }
            for seal in &seals {
                report.seals += 1;
                if seal.id != report.seals as i64 {
                    report.findings.push(seal_finding(
                        FindingKind::SealBroken,
                        seal,
                        format!("seal {} is missing before seal {}", report.seals, seal.id),
                    ));
                    report.seals = seal.id as u64;
                }
                let (root, count) = self.seal_root(&previous_root, previous_last, seal.last_flow_id).await?;
                let holds = |n: i64| {
                    format!(
                        "seal {} holds {} records with ids {}–{}; {n} are there",
                        seal.id,
                        seal.records,
                        previous_last + 1,
                        seal.last_flow_id
                    )
                };
                if count < seal.records {
                    report.findings.push(seal_finding(FindingKind::Deleted, seal, holds(count)));
                } else if count > seal.records {
                    report.findings.push(seal_finding(FindingKind::Inserted, seal, holds(count)));
                } else if root_text(&root) != seal.root {
                    report.findings.push(seal_finding(
                        FindingKind::SealBroken,
                        seal,
                        format!("seal {}'s root does not follow from its records and the seal before it", seal.id),
                    ));
                }
                // Go on from the stored root, so that one broken seal is one finding.
                previous_root = from_hex(&seal.root).unwrap_or(GENESIS);
                previous_last = seal.last_flow_id;
            }
        }
        report.unsealed = self.store.flows_after(previous_last).await?;

        for exported in roots {
            report.roots_checked += 1;
            let stored = self.store.seal(exported.seal).await?;
            let changed = match &stored {
                None => Some(format!("seal {} exported on {} is gone", exported.seal, exported.sealed_at)),
                Some(s) if s.root != exported.root || s.last_flow_id != exported.last_flow_id => Some(format!(
                    "seal {}'s root is {} now; {} was exported on {}",
                    exported.seal, s.root, exported.root, exported.sealed_at
                )),
                Some(_) => None,
            };
            if let Some(detail) = changed {
                report.findings.push(Finding {
                    kind: FindingKind::RootChanged,
                    flow_id: exported.last_flow_id,
                    case_id: None,
                    seal_id: Some(exported.seal),
                    detail,
                });
            }
        }
        Ok(report)
    }

    /// The root of the records in (`after`, `up_to`] chained to `previous`, and how many there are.
    async fn seal_root(&self, previous: &Digest, after: i64, up_to: i64) -> Result<(Digest, i64)> {
        // A seal holds at most SEAL_BATCH records, more only if records were put in by hand.
        let links = self.store.flow_links(after, up_to, i64::MAX).await?;
        let root = self.store.audit_key().root(previous, links.iter().map(|(id, link)| (*id, link)));
        Ok((root, links.len() as i64))
    }
}
