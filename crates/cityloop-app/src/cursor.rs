//! Readers that follow a table in id order behind a cursor (the evaluation counter, webhook events)
//! must never move the cursor past a record they have not seen.
//!
//! On SQLite writers take turns, so a visible id means every lower id is visible or never existed.
//! On PostgreSQL ids come from a sequence: a transaction that took a lower id can commit after one
//! that took a higher id, so a missing id may still appear. A reader stops before such a gap and
//! passes it only once it has stayed open for [`GAP_WAIT_SECONDS`] (a rolled-back insert, or a
//! conflict that used up a sequence value, leaves a gap that never fills).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use cityloop_store::Backend;

/// How long a gap in the ids is waited for. Writes that take ids are short transactions; a gap still
/// open after this is a rolled-back one.
pub const GAP_WAIT_SECONDS: i64 = 60;

/// When each reader first saw each gap, so that waiting does not depend on the records' own times
/// (imported records carry times from years ago).
#[derive(Debug, Default)]
pub struct GapWatch {
    first_seen: Mutex<HashMap<(String, i64), DateTime<Utc>>>,
}

impl GapWatch {
    /// How many of `ids` (ascending, all after `cursor`) the reader named `reader` may take now.
    pub fn ready(&self, backend: Backend, reader: &str, cursor: i64, ids: &[i64], now: DateTime<Utc>) -> usize {
        if backend != Backend::Postgres {
            return ids.len();
        }
        let mut seen = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|(name, missing), _| name != reader || *missing > cursor);
        // Every gap of the batch starts its wait now, so that gaps that never fill cost one wait, not one each.
        let mut previous = cursor;
        let mut stop = None;
        for (taken, id) in ids.iter().enumerate() {
            if *id != previous + 1 {
                let since = *seen.entry((reader.to_string(), previous + 1)).or_insert(now);
                if stop.is_none() && now - since < Duration::seconds(GAP_WAIT_SECONDS) {
                    stop = Some(taken);
                }
            }
            previous = *id;
        }
        stop.unwrap_or(ids.len())
    }

    /// Lets `reader` pass every gap it has seen, however young: for a command that runs once and has
    /// waited long enough in real time (its clock may stand still).
    pub fn expire(&self, reader: &str) {
        let mut seen = self.first_seen.lock().unwrap_or_else(|e| e.into_inner());
        for ((name, _), since) in seen.iter_mut() {
            if name == reader {
                *since = DateTime::<Utc>::MIN_UTC;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn sqlite_readers_take_everything_they_see() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(Backend::Sqlite, "r", 0, &[1, 5, 9], at(0)), 3);
    }

    #[test]
    fn a_postgres_reader_stops_before_a_gap_until_it_has_stayed_open() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(Backend::Postgres, "r", 10, &[11, 12, 14, 15], at(0)), 2);
        // Still open a little later: still waiting, however old the records after it are.
        assert_eq!(watch.ready(Backend::Postgres, "r", 12, &[14, 15], at(GAP_WAIT_SECONDS - 1)), 0);
        // Filled in: taken at once.
        assert_eq!(watch.ready(Backend::Postgres, "r", 12, &[13, 14, 15], at(GAP_WAIT_SECONDS - 1)), 3);
    }

    #[test]
    fn several_gaps_that_never_fill_cost_one_wait() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(Backend::Postgres, "r", 0, &[1, 3, 5, 7], at(0)), 1);
        assert_eq!(watch.ready(Backend::Postgres, "r", 1, &[3, 5, 7], at(GAP_WAIT_SECONDS)), 3, "all aged together");
        let other = GapWatch::default();
        assert_eq!(other.ready(Backend::Postgres, "r", 0, &[2], at(0)), 0);
        other.expire("r");
        assert_eq!(other.ready(Backend::Postgres, "r", 0, &[2], at(0)), 1, "a one-shot command passes at once");
    }

    #[test]
    fn a_gap_that_never_fills_is_passed_after_the_wait() {
        let watch = GapWatch::default();
        assert_eq!(watch.ready(Backend::Postgres, "r", 0, &[1, 3], at(0)), 1);
        assert_eq!(watch.ready(Backend::Postgres, "other", 1, &[3], at(GAP_WAIT_SECONDS)), 0, "each reader waits");
        assert_eq!(watch.ready(Backend::Postgres, "r", 1, &[3], at(GAP_WAIT_SECONDS)), 1);
    }
}
