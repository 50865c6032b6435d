//! Hashed character n-grams with TF-IDF weights.
//!
//! Character n-grams need no dictionary and survive typos, new place names and mixed digits/Latin letters;
//! hashing them into a fixed table keeps the model small and the lookup free of string allocation.

use serde::{Deserialize, Serialize};

use crate::normalize::normalize_into;

/// How a text becomes a feature vector; stored in the model so prediction matches training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Character n-grams of length 1 to `max_n`.
    pub max_n: usize,
    /// The hash table has 2^`bucket_bits` slots.
    pub bucket_bits: u32,
    /// Every ASCII digit becomes 0 (house numbers and dates say little about the category).
    pub fold_digits: bool,
    /// The first this many characters (in normal form) also form a block of their own: a request
    /// opens with its subject (a title, often glued to the text), which says most about its category.
    /// 0: no such block (models trained before it existed).
    #[serde(default)]
    pub title_chars: usize,
    /// The weight of that block against the whole text's (each block has unit length first).
    #[serde(default)]
    pub title_weight: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig { max_n: 2, bucket_bits: 18, fold_digits: true, title_chars: 20, title_weight: 0.5 }
    }
}

/// The block of the whole text and the block of its opening characters.
pub const TEXT_BLOCK: usize = 0;
pub const TITLE_BLOCK: usize = 1;

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
    /// The distinct n-grams of the last text: (bucket, count, block).
    found: Vec<(u32, u16, u8)>,
}

/// Where the hashes of each block start, so that a title n-gram lands elsewhere than the same n-gram
/// of the text.
const BLOCK_SEEDS: [u64; 2] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4];
/// The block of a slot key is kept in its top bit.
const BLOCK_BIT: u32 = 1 << 31;

/// Calls `each(bucket, count, block)` once for every distinct hashed n-gram of each block of `text`
/// ([`TEXT_BLOCK`], then [`TITLE_BLOCK`] when the config has one), in order of first occurrence.
pub fn for_each_ngram_count(
    config: &FeatureConfig,
    text: &str,
    scratch: &mut Scratch,
    mut each: impl FnMut(u32, u16, usize),
) {
    for &(bucket, count, block) in ngram_counts(config, text, scratch) {
        each(bucket, count, usize::from(block));
    }
}

/// Every distinct hashed n-gram of each block of `text` as (bucket, count, block), in order of first
/// occurrence: all of them at once, so that a caller can fetch their table rows before it needs them.
pub fn ngram_counts<'s>(config: &FeatureConfig, text: &str, scratch: &'s mut Scratch) -> &'s [(u32, u16, u8)] {
    let Scratch { chars, slots, touched, found } = scratch;
    chars.clear();
    touched.clear();
    found.clear();
    normalize_into(text, config.fold_digits, chars);
    let title = config.title_chars.min(chars.len());
    let wanted = ((chars.len() + title) * config.max_n * 2).next_power_of_two().max(64);
    if slots.len() < wanted {
        *slots = vec![(0, 0); wanted];
    }
    let mask = slots.len() - 1;
    let shift = 64 - config.bucket_bits;
    for (block, span) in [(TEXT_BLOCK, &chars[..]), (TITLE_BLOCK, &chars[..title])] {
        for start in 0..span.len() {
            let mut hash = BLOCK_SEEDS[block];
            for &c in span[start..].iter().take(config.max_n) {
                hash = mix(hash, c);
                let bucket = (hash >> shift) as u32;
                let key = (bucket + 1) | if block == TITLE_BLOCK { BLOCK_BIT } else { 0 };
                let mut slot = (key as usize).wrapping_mul(0x9e37_79b9) & mask;
                loop {
                    let entry = &mut slots[slot];
                    if entry.0 == key {
                        entry.1 = entry.1.saturating_add(1);
                        break;
                    }
                    if entry.0 == 0 {
                        *entry = (key, 1);
                        touched.push(slot as u32);
                        break;
                    }
                    slot = (slot + 1) & mask;
                }
            }
        }
    }
    for &slot in touched.iter() {
        let (key, count) = std::mem::take(&mut slots[slot as usize]);
        let block = if key & BLOCK_BIT != 0 { TITLE_BLOCK } else { TEXT_BLOCK };
        found.push(((key & !BLOCK_BIT) - 1, count, block as u8));
    }
    found
}

/// The bucket of one n-gram of the whole text, given as characters already in normal form.
pub fn bucket_of(config: &FeatureConfig, ngram: &[char]) -> u32 {
    let hash = ngram.iter().fold(BLOCK_SEEDS[TEXT_BLOCK], |hash, &c| mix(hash, c));
    (hash >> (64 - config.bucket_bits)) as u32
}

/// A 32-bit fingerprint of an n-gram in normal form, for the model's set of the character pairs its
/// training texts hold: exact where the hashed table is shared (two unrelated pairs agree on one in
/// about four billion).
pub fn fingerprint_of(ngram: &[char]) -> u32 {
    let hash = ngram.iter().fold(PAIR_SEED, |hash, &c| mix(hash, c));
    (hash >> 32) as u32
}

const PAIR_SEED: u64 = 0x2325_cbf2_9ce4_8422;

#[inline]
fn mix(hash: u64, c: char) -> u64 {
    (hash.rotate_left(23) ^ c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Sub-linear term frequency: the tenth mention of 噪音 adds less than the first.
#[inline]
pub fn term_weight(count: u16) -> f32 {
    // Most n-grams of a text occur once: no logarithm for them.
    if count == 1 {
        1.0
    } else {
        1.0 + (count as f32).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_ngram_once_with_its_frequency() {
        let config = FeatureConfig { max_n: 2, bucket_bits: 16, fold_digits: false, title_chars: 0, title_weight: 0.0 };
        let mut scratch = Scratch::default();
        let mut seen = Vec::new();
        for_each_ngram_count(&config, "噪音噪音", &mut scratch, |bucket, count, _| seen.push((bucket, count)));
        // 噪, 噪音, 音, 音噪 — 噪 and 音 and 噪音 twice.
        assert_eq!(seen.len(), 4);
        let noise = bucket_of(&config, &['噪', '音']);
        assert!(seen.contains(&(noise, 2)));
        // The scratch table is clean again: a second text does not inherit counts.
        seen.clear();
        for_each_ngram_count(&config, "噪音", &mut scratch, |bucket, count, _| seen.push((bucket, count)));
        assert!(seen.contains(&(noise, 1)));
    }

    #[test]
    fn models_stored_before_the_title_block_read_without_one() {
        let old: FeatureConfig = serde_json::from_str(r#"{"max_n":2,"bucket_bits":18,"fold_digits":true}"#).unwrap();
        assert_eq!(old.title_chars, 0);
        let mut blocks = Vec::new();
        for_each_ngram_count(&old, "噪音扰民", &mut Scratch::default(), |_, _, block| blocks.push(block));
        assert!(blocks.iter().all(|&b| b == TEXT_BLOCK));
    }

    #[test]
    fn the_opening_characters_form_a_block_of_their_own() {
        let config = FeatureConfig { max_n: 2, bucket_bits: 16, fold_digits: false, title_chars: 2, title_weight: 0.5 };
        let mut seen = Vec::new();
        for_each_ngram_count(&config, "噪音扰民噪音", &mut Scratch::default(), |bucket, count, block| {
            seen.push((bucket, count, block))
        });
        let noise = bucket_of(&config, &['噪', '音']);
        // In the text block 噪音 appears twice; the title block (噪音) has its own buckets.
        assert!(seen.contains(&(noise, 2, TEXT_BLOCK)));
        let title: Vec<_> = seen.iter().filter(|(_, _, block)| *block == TITLE_BLOCK).collect();
        assert_eq!(title.len(), 3, "噪, 噪音, 音: {seen:?}");
        assert!(title.iter().all(|(bucket, count, _)| *count == 1 && *bucket != noise));
    }
}
