//! Full-text search over a few thousand articles: jieba word splitting and Okapi BM25, held in memory.

use std::collections::HashMap;

use crate::words::content_words;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A word in the title counts as this many words in the body.
const TITLE_BOOST: usize = 3;

/// An index over documents identified by `i64` ids.
#[derive(Default)]
pub struct SearchIndex {
    ids: Vec<i64>,
    lengths: Vec<f32>,
    postings: HashMap<String, Vec<(u32, u16)>>,
    average_length: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: i64,
    pub score: f32,
    /// Query words found in the document.
    pub matched: Vec<String>,
}

impl SearchIndex {
    /// Builds the index from `(id, title, body)`.
    pub fn build<'a>(documents: impl IntoIterator<Item = (i64, &'a str, &'a str)>) -> SearchIndex {
        let mut index = SearchIndex::default();
        for (id, title, body) in documents {
            let doc = index.ids.len() as u32;
            index.ids.push(id);
            let mut counts: HashMap<String, u16> = HashMap::new();
            let mut length = 0;
            for (text, weight) in [(title, TITLE_BOOST), (body, 1)] {
                for word in content_words(text) {
                    *counts.entry(word).or_default() += weight as u16;
                    length += weight;
                }
            }
            index.lengths.push(length as f32);
            for (word, count) in counts {
                index.postings.entry(word).or_default().push((doc, count));
            }
        }
        index.average_length = index.lengths.iter().sum::<f32>() / index.lengths.len().max(1) as f32;
        index
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The best `limit` documents for `query`, best first; documents sharing no word are left out.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut words = content_words(query);
        words.sort();
        words.dedup();
        let n = self.ids.len() as f32;
        let mut scores: HashMap<u32, (f32, Vec<String>)> = HashMap::new();
        for word in words {
            let Some(postings) = self.postings.get(&word) else { continue };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, count) in postings {
                let tf = count as f32;
                let length = self.lengths[doc as usize] / self.average_length.max(1.0);
                let entry = scores.entry(doc).or_default();
                entry.0 += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length));
                entry.1.push(word.clone());
            }
        }
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .map(|(doc, (score, matched))| Hit { id: self.ids[doc as usize], score, matched })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(limit);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_chinese_articles_by_words_and_ranks_title_matches_first() {
        let index = SearchIndex::build([
            (1, "公积金提取办理流程", "职工购房、租房可以提取住房公积金，需携带身份证到管理中心办理。"),
            (2, "居住证办理", "在本市居住半年以上可以申领居住证，材料包括身份证和租房合同。"),
            (3, "垃圾分类投放时间", "小区垃圾分类投放时间为早七点到九点。"),
        ]);
        let hits = index.search("怎么提取公积金？", 5);
        assert_eq!(hits[0].id, 1);
        assert!(hits[0].matched.contains(&"公积金".to_string()));
        assert_eq!(index.search("租房", 5).iter().map(|h| h.id).collect::<Vec<_>>().len(), 2);
        assert!(index.search("航天飞机", 5).is_empty());
    }
}
