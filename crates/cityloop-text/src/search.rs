//! Full-text search over a few thousand articles: jieba word splitting and Okapi BM25, held in memory.

use std::collections::HashMap;

use crate::words::content_words;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// A word in the title counts as this many words in the body.
const TITLE_BOOST: usize = 3;

/// Words of how a question is asked rather than what it is about (居住证**怎么办理**): in a small
/// knowledge base one of them can be rarer than the subject and outrank it, so they count this much.
const ASKING_WEIGHT: f32 = 0.2;
const ASKING_WORDS: &[&str] = &[
    "办理",
    "办",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "哪里",
    "哪儿",
    "什么",
    "请问",
    "咨询",
    "需要",
    "可以",
    "能否",
    "是否",
    "多久",
    "流程",
    "手续",
    "问题",
    "相关",
    "情况",
    "一下",
];

/// Words residents and articles use for one thing: a query word finds its fellows as well, at this
/// weight.
const FELLOW_WEIGHT: f32 = 0.8;
const FELLOWS: &[&[&str]] = &[
    &["噪音", "噪声"],
    &["居住证", "暂住证"],
    &["公积金", "住房公积金"],
    &["医保", "医疗保险"],
    &["社保", "社会保险"],
    &["户口", "户籍"],
    &["低保", "最低生活保障"],
    &["身份证", "居民身份证"],
    &["小孩", "孩子", "儿童"],
    &["上学", "入学"],
    &["工资", "薪资", "薪酬"],
    &["拖欠", "欠薪"],
];

/// The words a query searches for, each with the weight of its matches.
fn query_words(query: &str) -> Vec<(String, f32)> {
    let mut words: Vec<(String, f32)> = Vec::new();
    let mut add = |word: &str, weight: f32| match words.iter_mut().find(|(w, _)| w == word) {
        Some(found) => found.1 = found.1.max(weight),
        None => words.push((word.to_string(), weight)),
    };
    for word in content_words(query) {
        let weight = if ASKING_WORDS.contains(&word.as_str()) { ASKING_WEIGHT } else { 1.0 };
        add(&word, weight);
        for fellow in FELLOWS.iter().filter(|group| group.contains(&word.as_str())).flat_map(|group| group.iter()) {
            add(fellow, weight * FELLOW_WEIGHT);
        }
    }
    words
}

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
        let n = self.ids.len() as f32;
        let mut scores: HashMap<u32, (f32, Vec<String>)> = HashMap::new();
        for (word, weight) in query_words(query) {
            let Some(postings) = self.postings.get(&word) else { continue };
            let df = postings.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, count) in postings {
                let tf = count as f32;
                let length = self.lengths[doc as usize] / self.average_length.max(1.0);
                let entry = scores.entry(doc).or_default();
                entry.0 += weight * idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length));
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

    #[test]
    fn the_subject_of_a_question_outranks_how_it_is_asked_and_words_for_one_thing_find_each_other() {
        let index = SearchIndex::build([
            (1, "住房公积金提取条件和办理流程", "职工购房可以提取住房公积金，到管理中心办理。"),
            (2, "居住证申领条件和所需材料", "在本市居住半年以上可以申领居住证。"),
            (3, "小学入学报名", "适龄儿童凭户口簿和居住证报名入学。"),
            (4, "施工噪声夜间作业规定", "夜间施工须经批准，噪声不得超过标准。"),
        ]);
        assert_eq!(index.search("居住证怎么办理", 5)[0].id, 2, "居住证, not 办理");
        let noise = index.search("工地噪音太大", 5);
        assert_eq!(noise.first().map(|h| h.id), Some(4), "噪音 finds 噪声: {noise:?}");
        let asked = index.search("异地就医备案怎么办理", 5);
        assert!(asked.iter().all(|h| h.score < index.search("公积金", 5)[0].score), "{asked:?}");
    }
}
