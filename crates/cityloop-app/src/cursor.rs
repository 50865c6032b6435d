//! Readers that follow a table in id order behind a cursor (the evaluation counter, webhook events,
//! audit seals) must never move the cursor past a record they have not seen.
//!
//! On SQLite writers take turns, so a visible id means every lower id is visible or never existed.
//! On PostgreSQL ids come from a sequence: a transaction that took a lower id can commit after one
//! that took a higher id, so a missing id may still appear. A reader stops before such a gap and
//! passes it only once every transaction that could hold the id has ended (see
//! [`cityloop_store::Horizon`]): a gap that a rolled-back write left is passed within a few reads,
//! and a write held open however long is waited for.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use cityloop_store::Horizon;

use crate::error::Result;

/// How long a one-shot command waits for gaps to settle, and after how long a reader blocked by a
/// gap says so in the log: writes that take ids are short transactions.
pub const GAP_WAIT_SECONDS: i64 = 60;

/// Where one gap is in its wait.
#[derive(Debug, Clone, Copy)]
struct Gap {
    first_seen: DateTime<Utc>,
    /// A transaction id given out after the read that first found the gap: the writer of the missing
    /// id, if any, holds a lower one.
    writers_below: Option<u64>,
    warned: bool,
}

/// What a reader may do with a batch it has read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// How many of the ids it may take.
    pub take: usize,
    /// Whether it found gaps that need a bound ([`GapWatch::bound`]) before they can be passed.
    pub needs_bound: bool,
}

/// The gaps each reader is waiting on.
#[derive(Debug, Default)]
pub struct GapWatch {
    gaps: Mutex<HashMap<(String, i64), Gap>>,
}

impl GapWatch {
    /// What the reader named `reader` may take of `ids` (ascending, all after `cursor`). `horizon` is
    /// taken before the read that gave `ids` (`None`: SQLite, nothing to wait for).
    pub fn ready(&self, horizon: Option<Horizon>, reader: &str, cursor: i64, ids: &[i64], now: DateTime<Utc>) -> Ready {
        let Some(horizon) = horizon else { return Ready { take: ids.len(), needs_bound: false } };
        let mut gaps = self.gaps.lock().unwrap_or_else(|e| e.into_inner());
        gaps.retain(|(name, missing), _| name != reader || *missing > cursor);
        // Every gap of the batch starts its wait at once, so that gaps that never fill cost one wait,
        // not one each.
        let mut previous = cursor;
        let mut stop = None;
        for (taken, id) in ids.iter().enumerate() {
            if *id != previous + 1 {
                let gap = gaps.entry((reader.to_string(), previous + 1)).or_insert(Gap {
                    first_seen: now,
                    writers_below: None,
                    warned: false,
                });
                // Settled once every transaction that could hold the id ended before this read.
                let settled = gap.writers_below.is_some_and(|below| horizon.oldest_running >= below);
                if !settled && stop.is_none() {
                    stop = Some(taken);
                    if !gap.warned && now - gap.first_seen >= Duration::seconds(GAP_WAIT_SECONDS) {
                        gap.warned = true;
                        tracing::warn!(
                            reader,
                            missing = previous + 1,
                            "a transaction that may hold this id has stayed open for a minute; the reader waits for it"
                        );
                    }
                }
            }
            previous = *id;
        }
        let needs_bound = gaps.iter().any(|((name, _), gap)| name == reader && gap.writers_below.is_none());
        Ready { take: stop.unwrap_or(ids.len()), needs_bound }
    }

    /// Bounds the reader's unbounded gaps by `transaction`, an id given out after the read that found
    /// them.
    pub fn bound(&self, reader: &str, transaction: u64) {
        let mut gaps = self.gaps.lock().unwrap_or_else(|e| e.into_inner());
        for ((name, _), gap) in gaps.iter_mut() {
            if name == reader && gap.writers_below.is_none() {
                gap.writers_below = Some(transaction);
            }
        }
    }

    /// Forgets the gaps of the readers `gone` names (a webhook switched off reads no more).
    pub fn forget(&self, gone: impl Fn(&str) -> bool) {
        let mut gaps = self.gaps.lock().unwrap_or_else(|e| e.into_inner());
        gaps.retain(|(name, _), _| !gone(name));
    }

    #[cfg(test)]
    fn gaps_of(&self, reader: &str) -> usize {
        let gaps = self.gaps.lock().unwrap_or_else(|e| e.into_inner());
        gaps.keys().filter(|(name, _)| name == reader).count()
    }
}

impl crate::App {
    /// How many of `ids`, read after `horizon`, the reader may take; gaps found are bounded at once.
    pub(crate) async fn ready_to_take(
        &self,
        horizon: Option<Horizon>,
        reader: &str,
        cursor: i64,
        ids: &[i64],
    ) -> Result<usize> {
        let ready = self.gaps.ready(horizon, reader, cursor, ids, self.now());
        if ready.needs_bound {
            self.gaps.bound(reader, self.store.new_transaction_id().await?);
        }
        Ok(ready.take)
    }
}

/// Runs `pass` until `waiting` finds nothing left, for a command that runs once: between passes it
/// waits a little for the writes that may fill a gap, up to [`GAP_WAIT_SECONDS`] of real time after
/// the first pass. Returns what the passes took.
pub(crate) async fn until_settled<Pass, PassDone, Left, LeftDone>(mut pass: Pass, mut waiting: Left) -> Result<usize>
where
    Pass: FnMut() -> PassDone,
    PassDone: Future<Output = Result<usize>>,
    Left: FnMut() -> LeftDone,
    LeftDone: Future<Output = Result<bool>>,
{
    let mut total = pass().await?;
    let started = std::time::Instant::now();
    while waiting().await? && started.elapsed() < std::time::Duration::from_secs(GAP_WAIT_SECONDS as u64) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        total += pass().await?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn horizon(oldest_running: u64) -> Option<Horizon> {
        Some(Horizon { oldest_running })
    }

    #[test]
    fn sqlite_readers_take_everything_they_see() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(None, "r", 0, &[1, 5, 9], at(0)), Ready { take: 3, needs_bound: false });
    }

    #[test]
    fn a_postgres_reader_waits_for_every_writer_that_could_hold_a_missing_id() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(horizon(100), "r", 10, &[11, 12, 14, 15], at(0)), Ready { take: 2, needs_bound: true });
        // Transaction 110 was given out after that read: the writer of 13 holds a lower id.
        watch.bound("r", 110);
        // Transaction 104 is still open an hour later: still waiting, whatever the clock says.
        assert_eq!(watch.ready(horizon(104), "r", 12, &[14, 15], at(3600)), Ready { take: 0, needs_bound: false });
        // It committed: 13 is there and taken at once.
        assert_eq!(watch.ready(horizon(104), "r", 12, &[13, 14, 15], at(3600)).take, 3);
    }

    #[test]
    fn a_gap_is_never_passed_before_it_is_bounded() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(horizon(100), "r", 0, &[1, 3], at(0)).take, 1);
        assert_eq!(watch.ready(horizon(10_000), "r", 1, &[3], at(0)), Ready { take: 0, needs_bound: true });
    }

    #[test]
    fn a_gap_left_by_a_rolled_back_write_is_passed_once_its_writers_have_ended() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(horizon(100), "r", 0, &[1, 3], at(0)).take, 1);
        watch.bound("r", 106);
        assert_eq!(watch.ready(horizon(105), "r", 1, &[3], at(0)).take, 0, "105 may hold it");
        assert_eq!(watch.ready(horizon(106), "other", 1, &[3], at(0)).take, 0, "each reader waits on its own");
        assert_eq!(watch.ready(horizon(106), "r", 1, &[3], at(0)).take, 1, "no earlier writer is left");
    }

    #[test]
    fn a_forgotten_reader_holds_no_gaps_and_the_others_keep_theirs() {
        let watch = GapWatch::default();
        watch.ready(horizon(1), "gone", 0, &[1, 3, 5], at(0));
        watch.ready(horizon(1), "kept", 0, &[2], at(0));
        assert_eq!((watch.gaps_of("gone"), watch.gaps_of("kept")), (2, 1));
        watch.forget(|reader| reader == "gone");
        assert_eq!((watch.gaps_of("gone"), watch.gaps_of("kept")), (0, 1));
    }

    #[test]
    fn several_gaps_that_never_fill_cost_one_wait() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(horizon(1), "r", 0, &[1, 3, 5, 7], at(0)).take, 1);
        watch.bound("r", 6);
        assert_eq!(watch.ready(horizon(5), "r", 1, &[3, 5, 7], at(0)).take, 0);
        assert_eq!(watch.ready(horizon(6), "r", 1, &[3, 5, 7], at(0)).take, 3, "all settled together");
    }
}
