//! Accuracy, per-class precision/recall/F1 and macro-F1.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scores {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassScores>,
}

/// Scores of predictions against the truth; classes are those that occur in either.
pub fn score<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Scores {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new(); // true positives, predicted, actual
    let (mut n, mut correct) = (0, 0);
    for (truth, predicted) in pairs {
        n += 1;
        counts.entry(truth).or_default().2 += 1;
        counts.entry(predicted).or_default().1 += 1;
        if truth == predicted {
            correct += 1;
            counts.entry(truth).or_default().0 += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_class: BTreeMap<String, ClassScores> = counts
        .iter()
        .map(|(label, &(hits, predicted, actual))| {
            let (precision, recall) = (ratio(hits, predicted), ratio(hits, actual));
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            (label.to_string(), ClassScores { precision, recall, f1, support: actual })
        })
        .collect();
    let macro_f1 = per_class.values().map(|c| c.f1).sum::<f64>() / per_class.len().max(1) as f64;
    Scores { n, accuracy: ratio(correct, n), macro_f1, per_class }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_averages_classes_not_documents() {
        let pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b")];
        let scores = score(pairs.iter().copied());
        assert_eq!(scores.n, 4);
        assert_eq!(scores.accuracy, 0.75);
        let a = &scores.per_class["a"];
        assert_eq!((a.precision, a.support), (1.0, 3));
        assert!((a.recall - 2.0 / 3.0).abs() < 1e-12);
        let b = &scores.per_class["b"];
        assert_eq!((b.precision, b.recall), (0.5, 1.0));
        assert!((scores.macro_f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }
}
