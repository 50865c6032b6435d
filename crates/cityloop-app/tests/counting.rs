//! The evaluation rollups take each counted stretch of flow records once, whichever node counts it.

use std::collections::HashMap;

use cityloop_app::testing::demo_app;
use cityloop_domain::evaluation::{Indicator, Metric};
use cityloop_domain::CaseId;
use cityloop_store::evaluation::{CountBatch, CountKey};
use cityloop_store::testing::engines;

/// A day with no demo history, so that only what this test adds is there.
const DAY: i64 = 20_300_101;

fn batch(case: i64, n: i64) -> CountBatch {
    let key = CountKey {
        day: DAY,
        indicator: Indicator::Department,
        subject: 1,
        metric: Metric::Received,
        case_id: CaseId(case),
    };
    CountBatch {
        counts: HashMap::from([(key, n)]),
        areas: HashMap::new(),
        intake: HashMap::new(),
        closings: HashMap::new(),
        signals: Vec::new(),
        at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn a_stretch_counted_by_two_nodes_is_added_once_and_later_ones_add_to_it() {
    for backend in engines() {
        let demo = demo_app(backend, 10, 1024).await;
        let store = &demo.app.store;
        let cursor = store.evaluation_cursor().await.unwrap();
        assert!(store.add_evaluation_counts(cursor, cursor + 10, &batch(1, 2)).await.unwrap(), "{backend:?}");
        // Another node read the same stretch before the first one moved the cursor.
        assert!(!store.add_evaluation_counts(cursor, cursor + 10, &batch(1, 2)).await.unwrap(), "{backend:?}");
        assert_eq!(store.evaluation_cursor().await.unwrap(), cursor + 10);
        // The next stretch adds to the same day's count and to the same case's.
        assert!(store.add_evaluation_counts(cursor + 10, cursor + 20, &batch(1, 3)).await.unwrap());
        assert!(store.add_evaluation_counts(cursor + 20, cursor + 30, &batch(2, 1)).await.unwrap());
        let sums = store.evaluation_sums(DAY, DAY + 1).await.unwrap();
        let received: Vec<i64> = sums
            .iter()
            .filter(|s| (s.indicator, s.subject, s.metric) == (Indicator::Department, 1, Metric::Received))
            .map(|s| s.n)
            .collect();
        assert_eq!(received, [6], "{backend:?}");
        let (behind, _) =
            store.evaluation_cases(Indicator::Department, 1, &[Metric::Received], DAY, DAY + 1, 10, 0).await.unwrap();
        assert_eq!(behind, 2, "two cases behind the number: {backend:?}");
        assert_eq!(store.evaluation_cursor().await.unwrap(), cursor + 30);
    }
}

#[tokio::test]
async fn counting_the_next_batch_while_writing_the_last_adds_what_counting_one_at_a_time_adds() {
    for backend in engines() {
        // Some 10,000 flow records: three batches, so that two are read while another is written.
        let (overlapped, one_by_one) = (demo_app(backend, 1500, 1024).await, demo_app(backend, 1500, 1024).await);
        let counted = overlapped.app.count_evaluation().await.unwrap();
        let mut batches = Vec::new();
        loop {
            let n = one_by_one.app.count_evaluation_once().await.unwrap();
            if n == 0 {
                break;
            }
            batches.push(n);
        }
        assert!(batches.len() >= 3, "{backend:?}: {batches:?}");
        assert_eq!(counted, batches.iter().sum::<usize>(), "{backend:?}");
        let (a, b) = (&overlapped.app.store, &one_by_one.app.store);
        assert_eq!(a.evaluation_cursor().await.unwrap(), b.evaluation_cursor().await.unwrap());
        let sums = |store: &cityloop_store::Store| {
            let store = store.clone();
            async move {
                let mut sums = store.evaluation_sums(0, 99_999_999).await.unwrap();
                sums.sort_by_key(|s| (s.indicator.as_str(), s.subject, s.metric.as_str()));
                sums
            }
        };
        let all = sums(a).await;
        assert!(all.iter().map(|s| s.n).sum::<i64>() > counted as i64, "{backend:?}");
        assert_eq!(all, sums(b).await, "{backend:?}");
        let intake = |store: &cityloop_store::Store| {
            let store = store.clone();
            async move {
                let mut days = store.daily_intake(0, 99_999_999).await.unwrap();
                days.sort_by_key(|(k, _)| (k.day, k.channel.clone(), k.category_id));
                days
            }
        };
        let days = intake(a).await;
        assert_eq!(days.iter().map(|(_, n)| n).sum::<i64>(), 1500, "{backend:?}");
        assert_eq!(days, intake(b).await, "{backend:?}");
    }
}
