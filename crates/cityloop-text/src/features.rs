//! Hashed character n-grams with TF-IDF weights.
//!
//! Character n-grams need no dictionary and survive typos, new place names and mixed digits/Latin letters;
//! hashing them into a fixed table keeps the model small and the lookup free of string allocation.

use serde::{Deserialize, Serialize};

use crate::normalize::normalize_into;

/// How a text becomes a feature vector; stored in the model so prediction matches training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Character n-grams of length 1 to `max_n`.
    pub max_n: usize,
    /// The hash table has 2^`bucket_bits` slots.
    pub bucket_bits: u32,
    /// Every ASCII digit becomes 0 (house numbers and dates say little about the category).
    pub fold_digits: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { max_n: 2, bucket_bits: 18, fold_digits: true }
    }
}

impl FeatureConfig {
    pub fn buckets(&self) -> usize {
        1 << self.bucket_bits
    }
}

/// Reusable buffers: one per thread, so extracting features allocates nothing after warm-up.
#[derive(Default)]
pub struct Scratch {
    chars: Vec<char>,
    /// A small open-addressing table of (bucket + 1, count), sized to the text: it stays in the CPU cache.
    slots: Vec<(u32, u16)>,
    touched: Vec<u32>,
}

/// Calls `each(bucket, count)` once for every distinct hashed n-gram of `text`, in order of first occurrence.
pub fn for_each_ngram_count(config: &FeatureConfig, text: &str, scratch: &mut Scratch, mut each: impl FnMut(u32, u16)) {
    let Scratch { chars, slots, touched } = scratch;
    chars.clear();
    touched.clear();
    normalize_into(text, config.fold_digits, chars);
    let wanted = (chars.len() * config.max_n * 2).next_power_of_two().max(64);
    if slots.len() < wanted {
        *slots = vec![(0, 0); wanted];
    }
    let mask = slots.len() - 1;
    let shift = 64 - config.bucket_bits;
    for start in 0..chars.len() {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for &c in chars[start..].iter().take(config.max_n) {
            hash = mix(hash, c);
            let bucket = (hash >> shift) as u32;
            let mut slot = (bucket as usize).wrapping_mul(0x9e37_79b9) & mask;
            loop {
                let entry = &mut slots[slot];
                if entry.0 == bucket + 1 {
                    entry.1 = entry.1.saturating_add(1);
                    break;
                }
                if entry.0 == 0 {
                    *entry = (bucket + 1, 1);
                    touched.push(slot as u32);
                    break;
                }
                slot = (slot + 1) & mask;
            }
        }
    }
    for &slot in touched.iter() {
        let (bucket, count) = std::mem::take(&mut slots[slot as usize]);
        each(bucket - 1, count);
    }
}

/// The bucket of one n-gram given as characters already in normal form.
pub fn bucket_of(config: &FeatureConfig, ngram: &[char]) -> u32 {
    let hash = ngram.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &c| mix(hash, c));
    (hash >> (64 - config.bucket_bits)) as u32
}

#[inline]
fn mix(hash: u64, c: char) -> u64 {
    (hash.rotate_left(23) ^ c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Sub-linear term frequency: the tenth mention of 噪音 adds less than the first.
#[inline]
pub fn term_weight(count: u16) -> f32 {
    1.0 + (count as f32).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_ngram_once_with_its_frequency() {
        let config = FeatureConfig { max_n: 2, bucket_bits: 16, fold_digits: false };
        let mut scratch = Scratch::default();
        let mut seen = Vec::new();
        for_each_ngram_count(&config, "噪音噪音", &mut scratch, |bucket, count| seen.push((bucket, count)));
        // 噪, 噪音, 音, 音噪 — 噪 and 音 and 噪音 twice.
        assert_eq!(seen.len(), 4);
        let noise = bucket_of(&config, &['噪', '音']);
        assert!(seen.contains(&(noise, 2)));
        // The scratch table is clean again: a second text does not inherit counts.
        seen.clear();
        for_each_ngram_count(&config, "噪音", &mut scratch, |bucket, count| seen.push((bucket, count)));
        assert!(seen.contains(&(noise, 1)));
    }
}
