//! How alike two requests read: Jaccard similarity of their character bigram sets, after normalisation.
//!
//! Residents describe one broken manhole cover in their own words, so near-duplicates share many short
//! character sequences (place names, objects) rather than whole sentences; bigram sets catch that and cost
//! microseconds for texts of a few hundred characters.

use crate::normalize::normalize;

/// A text reduced to the sorted, distinct hashes of its character bigrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shingles(Vec<u32>);

impl Shingles {
    pub fn of(text: &str) -> Shingles {
        let chars: Vec<char> = normalize(text).chars().collect();
        let mut hashes: Vec<u32> = if chars.len() < 2 {
            chars.iter().map(|&c| c as u32).collect()
        } else {
            chars.windows(2).map(|pair| (pair[0] as u32).wrapping_mul(0x9e37_79b1) ^ pair[1] as u32).collect()
        };
        hashes.sort_unstable();
        hashes.dedup();
        Shingles(hashes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// |A ∩ B| / |A ∪ B|, in 0..=1.
    pub fn jaccard(&self, other: &Shingles) -> f32 {
        let (a, b) = (&self.0, &other.0);
        if a.is_empty() || b.is_empty() {
            return 0.0;
        }
        let (mut i, mut j, mut shared) = (0, 0, 0usize);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        shared as f32 / (a.len() + b.len() - shared) as f32
    }

    /// |A ∩ B| / min(|A|, |B|): high when a short report is contained in a longer one.
    pub fn overlap(&self, other: &Shingles) -> f32 {
        let smaller = self.0.len().min(other.0.len());
        if smaller == 0 {
            return 0.0;
        }
        let j = self.jaccard(other);
        // From J = s / (|A| + |B| - s): s = J (|A| + |B|) / (1 + J).
        let shared = j * (self.0.len() + other.0.len()) as f32 / (1.0 + j);
        (shared / smaller as f32).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_problem_in_other_words_scores_above_unrelated_requests() {
        let a = Shingles::of("幸福路与和平路交叉口井盖丢失，很危险");
        let b = Shingles::of("幸福路和平路口的井盖没了，晚上容易掉下去");
        let c = Shingles::of("学校强制学生补课并收取费用");
        assert!(a.jaccard(&b) > 0.25, "{}", a.jaccard(&b));
        assert!(a.jaccard(&c) < 0.05, "{}", a.jaccard(&c));
        assert_eq!(a.jaccard(&a), 1.0);
        assert!(Shingles::of("井盖丢失").overlap(&a) > 0.9);
        assert!(Shingles::of("！？").is_empty());
    }
}
