//! Hot problems (热点问题): messages about the same problem, usually in the same place, found by text
//! similarity and ranked by a hotness index over how many messages, how many people, how many votes
//! and how short a time.
//!
//! Each message becomes a TF-IDF vector of its words (the title counts twice: it names the problem);
//! words found in more than `max_document_share` of the messages ("小区", "A市"…) are left out, so
//! that what is left is mostly places and problems. Two messages whose vectors have a cosine of at least
//! `min_similarity` are about the same problem, and a problem is every message linked to another.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::words::{content_words, tagged_content_words};

/// A word is dropped as too common only when more messages than this have it as well.
const MIN_COMMON: f32 = 10.0;

/// One message as the clustering needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    pub body: String,
    /// Who wrote it (a user handle or phone number; empty when unknown).
    pub person: String,
    /// Votes for and against: both say that people care.
    pub votes: i64,
    /// When, in seconds since 1970.
    pub at: i64,
}

/// What links messages and what makes a problem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotRules {
    pub min_similarity: f32,
    pub min_messages: usize,
    pub max_document_share: f32,
}

impl Default for HotspotRules {
    fn default() -> Self {
        Self { min_similarity: 0.4, min_messages: 2, max_document_share: 0.2 }
    }
}

/// A problem many messages are about.
#[derive(Debug, Clone, PartialEq)]
pub struct HotProblem {
    /// Indices into the messages, oldest first.
    pub members: Vec<usize>,
    pub people: usize,
    pub votes: i64,
    pub first_at: i64,
    pub last_at: i64,
    /// 0–100, see [`hotness`].
    pub hotness: f64,
    /// The words its messages share most, most shared first.
    pub keywords: Vec<String>,
}

/// The hotness of a problem, 0–100, against the largest figures among the problems found:
/// 35 for messages, 25 for people and 25 for votes (each on a log scale, so that ten times more is a
/// step, not a wall), and 15 for how short a time they came in (all within a day counts fully, over a
/// month half, over a year little).
pub fn hotness(messages: usize, people: usize, votes: i64, span_days: f64, most: (usize, usize, i64)) -> f64 {
    let log_share = |x: f64, max: f64| if max > 0.0 { (x.ln_1p() / max.ln_1p()).clamp(0.0, 1.0) } else { 0.0 };
    let burst = 1.0 / (1.0 + span_days.max(0.0) / 30.0);
    let score = 35.0 * log_share(messages as f64, most.0 as f64)
        + 25.0 * log_share(people as f64, most.1 as f64)
        + 25.0 * log_share(votes.max(0) as f64, most.2 as f64)
        + 15.0 * burst;
    (score * 10.0).round() / 10.0
}

/// The problems among `messages`, hottest first.
pub fn hot_problems(messages: &[Message], rules: &HotspotRules) -> Vec<HotProblem> {
    rank_problems(messages, group_messages(messages, rules))
}

/// The groups of messages about one problem (indices, at least `min_messages` in each).
pub fn group_messages(messages: &[Message], rules: &HotspotRules) -> Vec<Vec<usize>> {
    let vectors = tfidf_vectors(messages, rules.max_document_share);
    let mut links = UnionFind::new(messages.len());
    // Cosines through an inverted index: only messages sharing a word are ever compared, each pair once
    // (postings are in message order, so a message looks only at the later ones).
    let words = vectors.iter().flatten().map(|(word, _)| *word as usize + 1).max().unwrap_or(0);
    let mut postings: Vec<Vec<(usize, f32)>> = vec![Vec::new(); words];
    for (i, v) in vectors.iter().enumerate() {
        for (word, w) in v {
            postings[*word as usize].push((i, *w));
        }
    }
    let mut dot = vec![0.0_f32; messages.len()];
    let mut touched = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        for (word, w) in v {
            let list = &postings[*word as usize];
            for (j, wj) in &list[list.partition_point(|(j, _)| *j <= i)..] {
                if dot[*j] == 0.0 {
                    touched.push(*j);
                }
                dot[*j] += w * wj;
            }
        }
        for j in touched.drain(..) {
            if dot[j] >= rules.min_similarity {
                links.join(i, j);
            }
            dot[j] = 0.0;
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..messages.len() {
        groups.entry(links.root(i)).or_default().push(i);
    }
    groups.into_values().filter(|m| m.len() >= rules.min_messages.max(2)).collect()
}

/// Each group as a problem with its people, votes, time span and hotness, hottest first.
pub fn rank_problems(messages: &[Message], groups: Vec<Vec<usize>>) -> Vec<HotProblem> {
    let titles = TitleWords::new(messages);
    let mut found: Vec<HotProblem> = groups
        .into_iter()
        .map(|mut members| {
            members.sort_by_key(|i| (messages[*i].at, *i));
            let people: HashSet<&str> =
                members.iter().map(|i| messages[*i].person.as_str()).filter(|p| !p.is_empty()).collect();
            HotProblem {
                people: people.len().max(1),
                votes: members.iter().map(|i| messages[*i].votes.max(0)).sum(),
                first_at: messages[members[0]].at,
                last_at: messages[members[members.len() - 1]].at,
                hotness: 0.0,
                keywords: titles.shared_by(&members),
                members,
            }
        })
        .collect();
    // A problem is something most of its messages name: a group whose titles share no word was
    // chained together by loose links, not one problem.
    found.retain(|p| !p.keywords.is_empty());
    let most = (
        found.iter().map(|p| p.members.len()).max().unwrap_or(0),
        found.iter().map(|p| p.people).max().unwrap_or(0),
        found.iter().map(|p| p.votes).max().unwrap_or(0),
    );
    for p in &mut found {
        let span_days = (p.last_at - p.first_at) as f64 / 86_400.0;
        p.hotness = hotness(p.members.len(), p.people, p.votes, span_days, most);
    }
    found.sort_by(|a, b| b.hotness.total_cmp(&a.hotness).then(b.members.len().cmp(&a.members.len())));
    found
}

/// L2-normalised TF-IDF vectors over word ids, without the words too common to tell problems apart.
/// (The IDF is smoothed, ln(1 + n/df), so that a batch all about one problem still has weights.)
fn tfidf_vectors(messages: &[Message], max_document_share: f32) -> Vec<Vec<(u32, f32)>> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let counts: Vec<HashMap<u32, f32>> = messages
        .iter()
        .map(|m| {
            let mut tf: HashMap<u32, f32> = HashMap::new();
            for (text, weight) in [(&m.title, 2.0), (&m.body, 1.0)] {
                for word in content_words(text) {
                    if !names_place_or_problem(&word) {
                        continue;
                    }
                    let next = ids.len() as u32;
                    *tf.entry(*ids.entry(word).or_insert(next)).or_default() += weight;
                }
            }
            tf
        })
        .collect();
    let mut df: HashMap<u32, usize> = HashMap::new();
    for tf in &counts {
        for word in tf.keys() {
            *df.entry(*word).or_default() += 1;
        }
    }
    let n = messages.len().max(1) as f32;
    // On a small board no word is common enough to drop: it would drop the problem itself.
    let too_common = (max_document_share * n).max(MIN_COMMON);
    counts
        .into_iter()
        .map(|tf| {
            let mut v: Vec<(u32, f32)> = tf
                .into_iter()
                .filter(|(word, _)| (df[word] as f32) <= too_common)
                .map(|(word, count)| (word, (1.0 + count.ln()) * (1.0 + n / df[&word] as f32).ln()))
                .collect();
            let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|(_, w)| *w /= norm);
            }
            v.sort_by_key(|(word, _)| *word);
            v
        })
        .collect()
}

/// Whether a word can tell one place or problem from another. Single characters and bare numbers say
/// little; the kinds of place every address names (街道, 社区, 小区) link a street's requests about
/// different things, and one request chains on to the next until a street is one "problem".
fn names_place_or_problem(word: &str) -> bool {
    const KINDS_OF_PLACE: &[&str] = &["街道", "社区", "小区", "居委会", "村委会"];
    word.chars().count() >= 2 && !word.chars().all(|c| c.is_ascii_digit()) && !KINDS_OF_PLACE.contains(&word)
}

/// Parts of speech that never name a place or a problem: pronouns (有人, 任何), locatives (附近, 以南),
/// conjunctions and prepositions (何时, 关于), numerals and quantifiers (五个, 很多), adverbs (尽快), time
/// words, particles and interjections.
const FUNCTION_TAGS: &[&str] = &[
    "r", "rr", "rz", "f", "c", "p", "m", "mq", "q", "d", "t", "tg", "u", "uj", "ul", "uz", "ug", "uv", "ud", "y", "e",
    "o",
];

/// Nouns and verbs that ask rather than name: any request may open with them.
const ASKING_WORDS: &[&str] = &["请问", "问问", "能否", "时候", "何时", "为何", "咨询"];

/// The label words of every message's title, and in how many titles each is found.
struct TitleWords {
    words: Vec<HashSet<String>>,
    titles_with: HashMap<String, usize>,
}

impl TitleWords {
    fn new(messages: &[Message]) -> Self {
        let words: Vec<HashSet<String>> = messages
            .iter()
            .map(|m| {
                tagged_content_words(&m.title)
                    .into_iter()
                    .filter(|(word, tag)| {
                        names_place_or_problem(word)
                            && !FUNCTION_TAGS.contains(&tag.as_str())
                            && !ASKING_WORDS.contains(&word.as_str())
                    })
                    .map(|(word, _)| word)
                    .collect()
            })
            .collect();
        let mut titles_with: HashMap<String, usize> = HashMap::new();
        for word in words.iter().flatten() {
            *titles_with.entry(word.clone()).or_default() += 1;
        }
        Self { words, titles_with }
    }

    /// The words at least half of a problem's titles share, for a label: the most telling first, by how
    /// many of its titles have the word against how many titles on the whole board do, so that the
    /// place and the problem come before the words of every request (投诉, 反映, 请问).
    fn shared_by(&self, members: &[usize]) -> Vec<String> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for word in members.iter().flat_map(|i| &self.words[*i]) {
            *seen.entry(word.as_str()).or_default() += 1;
        }
        let titles = self.words.len() as f64;
        let mut words: Vec<(&str, f64)> = seen
            .into_iter()
            .filter(|(_, n)| *n * 2 >= members.len())
            .map(|(word, n)| (word, n as f64 * (1.0 + titles / self.titles_with[word] as f64).ln()))
            .collect();
        words.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        words.into_iter().take(6).map(|(w, _)| w.to_string()).collect()
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> Self {
        Self((0..n).collect())
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(title: &str, body: &str, person: &str, votes: i64, day: i64) -> Message {
        Message { title: title.into(), body: body.into(), person: person.into(), votes, at: day * 86_400 }
    }

    #[test]
    fn requests_that_share_only_the_kind_of_place_are_not_one_problem() {
        let messages = [
            message("新港街道新港南社区路面坑洼", "新港街道新港南社区路面有好几个大坑", "a", 0, 1),
            message("新港街道新港南社区路面坑洼", "新港南社区路面坑洼，电动车容易摔倒", "b", 0, 2),
            message("北塘街道北塘中社区学校乱收费", "北塘街道北塘中社区的学校要求购买教辅", "c", 0, 1),
            message("西溪街道西溪东社区广场舞太吵", "西溪街道西溪东社区广场舞音响很大", "d", 0, 1),
            message("海月街道海月新社区垃圾堆积", "海月街道海月新社区路边垃圾没人清理", "e", 0, 1),
        ];
        let rules = HotspotRules { min_similarity: 0.2, ..HotspotRules::default() };
        assert_eq!(group_messages(&messages, &rules), vec![vec![0, 1]]);
        let problems = hot_problems(&messages, &rules);
        assert!(!problems[0].keywords.iter().any(|w| w == "社区" || w == "街道"), "{:?}", problems[0].keywords);
    }

    fn city() -> Vec<Message> {
        let mut m = vec![
            message("魅力之城小区临街餐饮店油烟扰民", "魅力之城小区一楼餐馆油烟直排，噪音到半夜", "u1", 3, 1),
            message("魅力之城小区餐饮油烟噪音扰民严重", "楼下餐饮店油烟和噪音让居民无法休息", "u2", 10, 2),
            message("投诉魅力之城小区底层餐馆油烟", "魅力之城小区餐馆油烟熏人，请处理", "u3", 0, 4),
            message("丽发新城附近搅拌站噪音扰民", "丽发新城小区旁搅拌站日夜施工噪音粉尘", "u4", 1, 3),
            message("丽发新城搅拌站粉尘噪音", "丽发新城旁边的搅拌站粉尘太大", "u4", 0, 40),
        ];
        // Unrelated messages make the common words common, as in a real month.
        for (i, topic) in
            ["公交站台破损", "路灯不亮", "学校收费", "医保报销", "公积金提取", "停车收费", "垃圾分类", "物业维修基金"]
                .iter()
                .enumerate()
        {
            for k in 0..4 {
                m.push(message(
                    &format!("关于{topic}的咨询{k}"),
                    &format!("小区居民想了解{topic}第{k}条", k = k * 7 + i),
                    &format!("p{i}{k}"),
                    0,
                    5,
                ));
            }
        }
        m
    }

    #[test]
    fn messages_about_one_problem_in_one_place_form_one_problem() {
        let messages = city();
        // A small sample: a word is "common" only past a fifth of it.
        let rules = HotspotRules { min_similarity: 0.3, min_messages: 2, max_document_share: 0.2 };
        let found = hot_problems(&messages, &rules);
        let oil = found.iter().find(|p| p.members.contains(&0)).expect("the oil fumes problem");
        assert_eq!(oil.members, [0, 1, 2]);
        assert_eq!((oil.people, oil.votes), (3, 13));
        let plant = found.iter().find(|p| p.members.contains(&3)).expect("the mixing plant");
        assert_eq!((plant.members.clone(), plant.people), (vec![3, 4], 1), "one person writing twice");
        assert!(oil.hotness > plant.hotness, "more messages, people and votes, in less time");
        assert!(oil.keywords.iter().any(|w| w == "油烟"), "{:?}", oil.keywords);
    }

    #[test]
    fn a_problems_label_names_the_place_and_the_problem_not_the_asking() {
        let mut messages = vec![
            message("请问丽发新城附近搅拌站何时搬走", "丽发新城旁边搅拌站粉尘噪音", "u1", 0, 1),
            message("请问丽发新城附近的搅拌站何时停工", "丽发新城搅拌站日夜施工", "u2", 0, 2),
            message("丽发新城附近搅拌站有人夜间施工", "丽发新城搅拌站半夜还在作业", "u3", 0, 3),
        ];
        for (i, topic) in ["公交站台", "路灯", "学校收费", "医保报销", "公积金", "停车收费"].iter().enumerate()
        {
            messages.push(message(&format!("请问{topic}何时解决"), &format!("{topic}的事第{i}次"), "p", 0, 5));
        }
        let rules = HotspotRules { min_similarity: 0.3, min_messages: 2, max_document_share: 0.2 };
        let plant = hot_problems(&messages, &rules).into_iter().find(|p| p.members.contains(&0)).expect("the plant");
        assert_eq!(plant.members, [0, 1, 2]);
        for empty in ["请问", "附近", "何时", "有人"] {
            assert!(!plant.keywords.iter().any(|w| w == empty), "{empty} in {:?}", plant.keywords);
        }
        assert!(plant.keywords.iter().any(|w| w == "搅拌站"), "{:?}", plant.keywords);
    }

    #[test]
    fn hotness_weighs_each_part_as_documented() {
        let most = (10, 10, 100);
        assert_eq!(hotness(10, 10, 100, 0.0, most), 100.0);
        assert_eq!(hotness(0, 0, 0, 30.0, most), 7.5, "only the time part: a month is half");
        assert!(hotness(10, 1, 0, 0.0, most) < hotness(10, 10, 0, 0.0, most), "people count");
    }
}
