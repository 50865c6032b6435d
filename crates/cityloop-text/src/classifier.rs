//! A linear classifier for citizen requests: TF-IDF over hashed character n-grams, one-vs-rest linear SVMs
//! trained by dual coordinate descent (the liblinear method), and a softmax whose temperature is fitted on a
//! held-out part of the training data so that the probabilities mean what they say.

use serde::{Deserialize, Serialize};

use crate::features::{
    bucket_of, fingerprint_of, for_each_ngram_count, ngram_counts, term_weight, FeatureConfig, Scratch,
};
use crate::normalize::{has_chinese, normalize, normalize_into};
use crate::words::content_words;

/// One training example.
#[derive(Clone, Debug)]
pub struct LabelledText {
    pub label: String,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub features: FeatureConfig,
    /// Inverse regularisation strength of each SVM.
    pub c: f32,
    pub seed: u64,
    pub max_epochs: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { features: FeatureConfig::default(), c: 4.0, seed: 42, max_epochs: 60 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("at least two categories with examples are needed to train, found {0}")]
    TooFewLabels(usize),
    #[error("not a cityloop classifier model: {0}")]
    Corrupt(String),
}

/// What the model file records about itself besides the weights.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelInfo {
    pub labels: Vec<String>,
    pub features: FeatureConfig,
    pub c: f32,
    pub seed: u64,
    pub documents: usize,
    pub temperature: f32,
    pub bias: Vec<f32>,
    /// Most of the training texts hold Chinese (a model of English 311 records does not): such a model
    /// has nothing to go on in a text without Chinese. Models made before this was recorded were.
    #[serde(default = "learnt_from_chinese_by_default")]
    pub learnt_from_chinese: bool,
}

fn learnt_from_chinese_by_default() -> bool {
    true
}

/// A trained model, ready to predict.
pub struct Classifier {
    info: ModelInfo,
    /// Per bucket: the IDF followed by one weight per label. Zero IDF means the n-gram was never seen.
    table: Vec<f32>,
    /// The fingerprints of the neighbouring-character pairs of the training texts, sorted: which pairs
    /// the model has seen, where the table's buckets are shared by many. Empty in model files made
    /// before it was recorded, which judge by the table.
    pairs: Vec<u32>,
}

/// A label with its calibrated probability.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ranked {
    pub label: String,
    pub probability: f32,
}

/// A word of the text and how much it pushed the decision towards the top label.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Evidence {
    pub word: String,
    pub weight: f32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Classification {
    pub top: Vec<Ranked>,
    pub words: Vec<Evidence>,
}

/// Sparse rows in compressed form, built once per training run.
struct Rows {
    starts: Vec<usize>,
    buckets: Vec<u32>,
    values: Vec<f32>,
}

impl Rows {
    fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let range = self.starts[i]..self.starts[i + 1];
        (&self.buckets[range.clone()], &self.values[range])
    }
}

/// Adds a constant feature so that each SVM has an intercept.
const BIAS_FEATURE: f32 = 1.0;

impl Classifier {
    pub fn train(examples: &[LabelledText], options: &TrainOptions) -> Result<Classifier, ModelError> {
        let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
        labels.sort();
        labels.dedup();
        if labels.len() < 2 {
            return Err(ModelError::TooFewLabels(labels.len()));
        }
        let targets: Vec<usize> =
            examples.iter().map(|e| labels.binary_search(&e.label).expect("label was collected")).collect();
        let options = &Self::fitted_options(options, labels.len());

        // Hold out a fifth to fit the softmax temperature, then train the final model on everything.
        let order = shuffled(examples.len(), options.seed);
        let held_out = examples.len() / 5;
        let (check, fit) = order.split_at(held_out);
        let temperature = if held_out >= labels.len() {
            let partial = Self::fit(examples, &targets, fit, &labels, options, 1.0);
            let scores: Vec<(Vec<f32>, usize)> = check
                .iter()
                .map(|&i| (partial.scores(&examples[i].text, &mut Scratch::default()), targets[i]))
                .collect();
            fit_temperature(&scores)
        } else {
            1.0
        };
        let all: Vec<usize> = (0..examples.len()).collect();
        Ok(Self::fit(examples, &targets, &all, &labels, options, temperature))
    }

    /// The weight table holds buckets × (labels + 1) numbers; with many labels the buckets shrink so that
    /// it stays under 2^24 numbers (64 MB).
    fn fitted_options(options: &TrainOptions, labels: usize) -> TrainOptions {
        let room = (1usize << 24) / (labels + 1);
        let bits = (usize::BITS - 1 - room.leading_zeros()).clamp(12, 24);
        let mut fitted = options.clone();
        fitted.features.bucket_bits = options.features.bucket_bits.min(bits);
        fitted
    }

    fn fit(
        examples: &[LabelledText],
        targets: &[usize],
        subset: &[usize],
        labels: &[String],
        options: &TrainOptions,
        temperature: f32,
    ) -> Classifier {
        let config = options.features;
        let buckets = config.buckets();
        let mut scratch = Scratch::default();

        // Document frequencies, then smoothed IDF (as scikit-learn computes it).
        let mut counted: Vec<Vec<(u32, u16, usize)>> = Vec::with_capacity(subset.len());
        let mut document_frequency = vec![0u32; buckets];
        for &i in subset {
            let mut row = Vec::new();
            for_each_ngram_count(&config, &examples[i].text, &mut scratch, |bucket, count, block| {
                document_frequency[bucket as usize] += 1;
                row.push((bucket, count, block));
            });
            counted.push(row);
        }
        let n = subset.len() as f32;
        let idf: Vec<f32> = document_frequency
            .iter()
            .map(|&df| if df == 0 { 0.0 } else { ((1.0 + n) / (1.0 + df as f32)).ln() + 1.0 })
            .collect();

        let mut rows = Rows { starts: vec![0], buckets: Vec::new(), values: Vec::new() };
        for row in &counted {
            let start = rows.values.len();
            let mut squares = [0.0f32; 2];
            for &(bucket, count, block) in row {
                let value = term_weight(count) * idf[bucket as usize];
                squares[block] += value * value;
                rows.buckets.push(bucket);
                rows.values.push(value);
            }
            let scale = block_scales(&config, squares);
            for (value, &(_, _, block)) in rows.values[start..].iter_mut().zip(row) {
                *value *= scale[block];
            }
            rows.starts.push(rows.values.len());
        }
        let subset_targets: Vec<usize> = subset.iter().map(|&i| targets[i]).collect();

        // One SVM per label; the labels are independent, so two threads share them.
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(labels.len());
        let per_label: Vec<(Vec<f32>, f32)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let rows = &rows;
                    let subset_targets = &subset_targets;
                    scope.spawn(move || {
                        (t..labels.len())
                            .step_by(threads)
                            .map(|label| (label, train_binary_svm(rows, subset_targets, label, buckets, options)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<(usize, (Vec<f32>, f32))> =
                handles.into_iter().flat_map(|h| h.join().expect("training thread")).collect();
            all.sort_by_key(|(label, _)| *label);
            all.into_iter().map(|(_, weights)| weights).collect()
        });

        let mut pairs = Vec::new();
        let mut chars = Vec::new();
        for &i in subset {
            chars.clear();
            normalize_into(&examples[i].text, config.fold_digits, &mut chars);
            pairs.extend(chars.windows(pair_span(&config)).map(fingerprint_of));
        }
        pairs.sort_unstable();
        pairs.dedup();

        let width = labels.len() + 1;
        let mut table = vec![0.0f32; buckets * width];
        for bucket in 0..buckets {
            table[bucket * width] = idf[bucket];
            for (label, (weights, _)) in per_label.iter().enumerate() {
                table[bucket * width + 1 + label] = weights[bucket];
            }
        }
        Classifier {
            info: ModelInfo {
                labels: labels.to_vec(),
                features: config,
                c: options.c,
                seed: options.seed,
                documents: subset.len(),
                temperature,
                bias: per_label.iter().map(|(_, bias)| *bias).collect(),
                learnt_from_chinese: subset.iter().filter(|&&i| has_chinese(&examples[i].text)).count() * 2
                    > subset.len(),
            },
            table,
            pairs,
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn labels(&self) -> &[String] {
        &self.info.labels
    }

    /// The raw SVM score of every label. `scratch` is reused between calls.
    pub fn scores(&self, text: &str, scratch: &mut Scratch) -> Vec<f32> {
        let labels = self.info.labels.len();
        let width = labels + 1;
        // The scores of each block, then the blocks scaled to their length and weight.
        let mut block_scores = vec![0.0f32; 2 * labels];
        let mut squares = [0.0f32; 2];
        let found = ngram_counts(&self.info.features, text, scratch);
        // The table is larger than the cache and a text's n-grams land all over it. A first pass
        // that only reads each row's IDF has no work between its loads, so the CPU sends for many
        // rows at once; the second pass finds them in the cache.
        let values: Vec<f32> =
            found.iter().map(|&(bucket, count, _)| term_weight(count) * self.table[bucket as usize * width]).collect();
        for (&(bucket, _, block), &value) in found.iter().zip(&values) {
            let block = usize::from(block);
            let row = &self.table[bucket as usize * width..(bucket as usize + 1) * width];
            if value != 0.0 {
                squares[block] += value * value;
                for (score, weight) in block_scores[block * labels..][..labels].iter_mut().zip(&row[1..]) {
                    *score += value * weight;
                }
            }
        }
        let scale = block_scales(&self.info.features, squares);
        (0..labels)
            .map(|l| {
                block_scores[l] * scale[0] + block_scores[labels + l] * scale[1] + self.info.bias[l] * BIAS_FEATURE
            })
            .collect()
    }

    /// The index of the most likely label: the fast path used for bulk evaluation.
    pub fn predict_index(&self, text: &str, scratch: &mut Scratch) -> usize {
        argmax(&self.scores(text, scratch))
    }

    /// Accuracy and F1 on labelled texts.
    pub fn evaluate<'a>(&self, examples: impl IntoIterator<Item = &'a LabelledText>) -> crate::metrics::Scores {
        let mut scratch = Scratch::default();
        let predicted: Vec<(&str, &str)> = examples
            .into_iter()
            .map(|e| (e.label.as_str(), self.info.labels[self.predict_index(&e.text, &mut scratch)].as_str()))
            .collect();
        crate::metrics::score(predicted)
    }

    /// Whether the model can judge `text` at all rather than fall back on its labels' frequencies: a
    /// model that learnt from Chinese needs a Chinese character that is not a particle, and every model
    /// needs to have seen at least one pair of the text's neighbouring characters. Single characters
    /// alone say little (测试 and 谢谢 share none of their pairs with any complaint, yet 测 and 谢
    /// each lean somewhere), and a text of nothing but them would get a confident guess from noise.
    pub fn can_judge(&self, text: &str) -> bool {
        (!self.info.learnt_from_chinese || has_chinese(&normalize(text))) && self.knows_a_pair_of(text)
    }

    fn knows_a_pair_of(&self, text: &str) -> bool {
        let config = &self.info.features;
        let width = self.info.labels.len() + 1;
        let mut chars = Vec::new();
        normalize_into(text, config.fold_digits, &mut chars);
        let mut pairs = chars.windows(pair_span(config));
        if self.pairs.is_empty() {
            // An older model file: zero IDF marks a bucket no training text reached.
            return pairs.any(|pair| self.table[bucket_of(config, pair) as usize * width] != 0.0);
        }
        pairs.any(|pair| self.pairs.binary_search(&fingerprint_of(pair)).is_ok())
    }

    /// The `top` most likely labels with probabilities, and the words that drove the first one.
    pub fn classify(&self, text: &str, top: usize) -> Classification {
        let scores = self.scores(text, &mut Scratch::default());
        let best = argmax(&scores);
        Classification { top: self.classify_scores(&scores, top), words: self.evidence(text, best, 6) }
    }

    /// The `top` most likely labels with calibrated probabilities, from the scores of [`Classifier::scores`].
    pub fn classify_scores(&self, scores: &[f32], top: usize) -> Vec<Ranked> {
        let probabilities = softmax(scores, self.info.temperature);
        let mut ranked: Vec<usize> = (0..scores.len()).collect();
        ranked.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]).then(a.cmp(&b)));
        ranked
            .iter()
            .take(top.max(1))
            .map(|&i| Ranked { label: self.info.labels[i].clone(), probability: probabilities[i] })
            .collect()
    }

    /// Words whose n-grams add most to the label's score against the average of the others.
    fn evidence(&self, text: &str, label: usize, limit: usize) -> Vec<Evidence> {
        let config = &self.info.features;
        let width = self.info.labels.len() + 1;
        let others = (self.info.labels.len() - 1).max(1) as f32;
        let mut found: Vec<Evidence> = Vec::new();
        let mut chars = Vec::new();
        for word in content_words(text) {
            chars.clear();
            normalize_into(&word, config.fold_digits, &mut chars);
            let mut weight = 0.0;
            for start in 0..chars.len() {
                for end in start + 1..=(start + config.max_n).min(chars.len()) {
                    let row = &self.table[bucket_of(config, &chars[start..end]) as usize * width..][..width];
                    let own = row[1 + label];
                    let rest = (row[1..].iter().sum::<f32>() - own) / others;
                    weight += row[0] * (own - rest);
                }
            }
            if weight > 0.0 && !found.iter().any(|e| e.word == word) {
                found.push(Evidence { word, weight });
            }
        }
        found.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        found.truncate(limit);
        found
    }

    /// The model as bytes: a header of JSON, the seen pairs' fingerprints (their count, then each), then
    /// the seen buckets with their IDF and weights.
    pub fn to_bytes(&self) -> Vec<u8> {
        let width = self.info.labels.len() + 1;
        let header = serde_json::to_vec(&self.info).expect("model info serialises");
        let mut out = Vec::with_capacity(header.len() + 4 * self.pairs.len() + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.pairs.len() as u32).to_le_bytes());
        self.pairs.iter().for_each(|p| out.extend_from_slice(&p.to_le_bytes()));
        for (bucket, row) in self.table.chunks_exact(width).enumerate() {
            if row[0] != 0.0 {
                out.extend_from_slice(&(bucket as u32).to_le_bytes());
                row.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ModelError> {
        let corrupt = |why: &str| ModelError::Corrupt(why.to_string());
        let (with_pairs, rest) = match (bytes.strip_prefix(MAGIC), bytes.strip_prefix(MAGIC_WITHOUT_PAIRS)) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            (None, None) => return Err(corrupt("wrong file signature")),
        };
        let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(|| corrupt("truncated header"))?;
        let length = u32::from_le_bytes(*length) as usize;
        if rest.len() < length {
            return Err(corrupt("truncated header"));
        }
        let info: ModelInfo = serde_json::from_slice(&rest[..length]).map_err(|e| corrupt(&e.to_string()))?;
        if info.labels.len() < 2
            || info.bias.len() != info.labels.len()
            || !(8..=24).contains(&info.features.bucket_bits)
        {
            return Err(corrupt("inconsistent header"));
        }
        let mut body = &rest[length..];
        let mut pairs = Vec::new();
        if with_pairs {
            let (count, after) = body.split_first_chunk::<4>().ok_or_else(|| corrupt("truncated pairs"))?;
            let count = u32::from_le_bytes(*count) as usize;
            let listed = after.get(..count * 4).ok_or_else(|| corrupt("truncated pairs"))?;
            pairs = listed.chunks_exact(4).map(|p| u32::from_le_bytes(p.try_into().expect("4 bytes"))).collect();
            if !pairs.is_sorted() {
                return Err(corrupt("pairs out of order"));
            }
            body = &after[count * 4..];
        }
        let width = info.labels.len() + 1;
        let record = 4 + 4 * width;
        if body.len() % record != 0 {
            return Err(corrupt("truncated weights"));
        }
        let mut table = vec![0.0f32; info.features.buckets() * width];
        for chunk in body.chunks_exact(record) {
            let bucket = u32::from_le_bytes(chunk[..4].try_into().expect("4 bytes")) as usize;
            if bucket >= info.features.buckets() {
                return Err(corrupt("bucket out of range"));
            }
            for (slot, value) in table[bucket * width..][..width].iter_mut().zip(chunk[4..].chunks_exact(4)) {
                *slot = f32::from_le_bytes(value.try_into().expect("4 bytes"));
            }
        }
        Ok(Classifier { info, table, pairs })
    }
}

const MAGIC: &[u8; 8] = b"CLTXCLF2";
/// Model files made before the pairs were recorded.
const MAGIC_WITHOUT_PAIRS: &[u8; 8] = b"CLTXCLF1";

/// How many neighbouring characters make the "pair" whose sight the model needs to judge a text: one
/// for a model of single characters.
fn pair_span(config: &FeatureConfig) -> usize {
    config.max_n.clamp(1, 2)
}

/// What each block's values are multiplied by: one over the block's length, times the title's weight
/// for the title block.
fn block_scales(config: &FeatureConfig, squares: [f32; 2]) -> [f32; 2] {
    let unit = |square: f32| 1.0 / square.sqrt().max(f32::MIN_POSITIVE);
    [unit(squares[0]), if config.title_chars > 0 { config.title_weight * unit(squares[1]) } else { 0.0 }]
}

/// L2-regularised hinge-loss SVM, dual coordinate descent (Hsieh et al. 2008): each dual variable
/// lies in [0, C]. (The plain hinge gives a point more macro-F1 here than the squared one.) Returns
/// weights and bias.
fn train_binary_svm(
    rows: &Rows,
    targets: &[usize],
    label: usize,
    buckets: usize,
    options: &TrainOptions,
) -> (Vec<f32>, f32) {
    let n = targets.len();
    let upper = options.c;
    let mut weights = vec![0.0f32; buckets];
    let mut bias = 0.0f32;
    let mut alpha = vec![0.0f32; n];
    let sign: Vec<f32> = targets.iter().map(|&t| if t == label { 1.0 } else { -1.0 }).collect();
    let q_diagonal: Vec<f32> =
        (0..n).map(|i| rows.row(i).1.iter().map(|v| v * v).sum::<f32>() + BIAS_FEATURE * BIAS_FEATURE).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut random = SplitMix(options.seed ^ (label as u64).wrapping_mul(0x9e37_79b9));
    for _ in 0..options.max_epochs {
        shuffle(&mut order, &mut random);
        let (mut largest, mut smallest) = (f32::NEG_INFINITY, f32::INFINITY);
        for &i in &order {
            let (indices, values) = rows.row(i);
            let margin: f32 =
                indices.iter().zip(values).map(|(&b, v)| weights[b as usize] * v).sum::<f32>() + bias * BIAS_FEATURE;
            let gradient = sign[i] * margin - 1.0;
            let projected = if alpha[i] == 0.0 {
                gradient.min(0.0)
            } else if alpha[i] >= upper {
                gradient.max(0.0)
            } else {
                gradient
            };
            largest = largest.max(projected);
            smallest = smallest.min(projected);
            if projected.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - gradient / q_diagonal[i]).clamp(0.0, upper);
                let step = (alpha[i] - old) * sign[i];
                for (&b, v) in indices.iter().zip(values) {
                    weights[b as usize] += step * v;
                }
                bias += step * BIAS_FEATURE;
            }
        }
        if largest - smallest < 0.05 {
            break;
        }
    }
    (weights, bias)
}

/// The temperature that minimises the log-loss of the held-out scores (golden-section search on a log scale).
fn fit_temperature(scores: &[(Vec<f32>, usize)]) -> f32 {
    let loss = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        scores.iter().map(|(s, target)| -(softmax(s, t)[*target].max(1e-9) as f64).ln()).sum()
    };
    let (mut low, mut high) = ((0.01f64).ln(), (100.0f64).ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let a = high - ratio * (high - low);
        let b = low + ratio * (high - low);
        if loss(a) < loss(b) {
            high = b;
        } else {
            low = a;
        }
    }
    ((low + high) / 2.0).exp() as f32
}

/// Probabilities from scores; `temperature` multiplies the scores (a larger one sharpens).
fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores.iter().map(|s| ((s - max) * temperature).exp()).collect();
    let total: f32 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, v)| if *v > values[best] { i } else { best })
}

/// A small seeded generator (SplitMix64), so the same seed gives the same model on every machine.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(crate) fn shuffle<T>(items: &mut [T], random: &mut SplitMix) {
    for i in (1..items.len()).rev() {
        let j = (random.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// 0..n in a seeded random order.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut SplitMix(seed));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<LabelledText> {
        let data = [
            ("环境保护", "小区旁边工厂排放废气，气味刺鼻，晚上更严重"),
            ("环境保护", "河道污水直排，水面发黑发臭"),
            ("环境保护", "工地夜间施工噪音扰民，影响休息"),
            ("环境保护", "饭店油烟直排，居民无法开窗"),
            ("交通运输", "公交车到站不停，司机态度差"),
            ("交通运输", "出租车拒载绕路，要求查处"),
            ("交通运输", "路口红绿灯时间太短，行人过不去"),
            ("交通运输", "长途客车超载，存在安全隐患"),
            ("教育文体", "学校强制补课收费，学生负担重"),
            ("教育文体", "幼儿园入园难，学位不够"),
            ("教育文体", "小学放学时间太早，家长接不了"),
            ("教育文体", "体育馆长期不对外开放"),
        ];
        data.iter().map(|(l, t)| LabelledText { label: l.to_string(), text: t.to_string() }).collect()
    }

    fn small() -> TrainOptions {
        TrainOptions {
            features: FeatureConfig { max_n: 3, bucket_bits: 14, ..FeatureConfig::default() },
            ..Default::default()
        }
    }

    #[test]
    fn learns_the_training_examples_and_explains_with_their_words() {
        let model = Classifier::train(&examples(), &small()).unwrap();
        let result = model.classify("晚上工地施工噪音太大", 3);
        assert_eq!(result.top[0].label, "环境保护");
        assert_eq!(result.top.len(), 3);
        let total: f32 = result.top.iter().map(|r| r.probability).sum();
        assert!((total - 1.0).abs() < 1e-4, "probabilities of all labels sum to one: {total}");
        assert!(result.words.iter().any(|e| e.word.contains("噪音") || e.word.contains("施工")), "{:?}", result.words);
        assert_eq!(model.classify("公交车司机不停站", 1).top[0].label, "交通运输");
    }

    #[test]
    fn same_seed_same_bytes_and_the_bytes_round_trip() {
        let first = Classifier::train(&examples(), &small()).unwrap().to_bytes();
        let second = Classifier::train(&examples(), &small()).unwrap().to_bytes();
        assert_eq!(first, second);
        let loaded = Classifier::from_bytes(&first).unwrap();
        assert_eq!(loaded.to_bytes(), first);
        assert_eq!(loaded.classify("学校补课收费", 1).top[0].label, "教育文体");
    }

    #[test]
    fn a_model_of_chinese_texts_does_not_judge_a_text_without_chinese_and_a_model_of_english_ones_does() {
        let chinese = Classifier::train(&examples(), &small()).unwrap();
        assert!(chinese.can_judge("公交车不停站"));
        assert!(chinese.can_judge("噪音"), "a pair it learnt from");
        assert!(!chinese.can_judge("测试标题"), "nothing of it was ever seen");
        assert!(!chinese.can_judge("学车"), "学 and 车 were, but never side by side");
        assert!(!chinese.can_judge("谢谢"));
        assert!(!chinese.can_judge("bus did not stop 123"));
        assert!(!chinese.can_judge("我的，是的！"), "particles alone say nothing");
        let english: Vec<LabelledText> =
            [("Noise", "loud music at night"), ("Noise", "barking dog"), ("Streets", "pothole on road")]
                .iter()
                .map(|(l, t)| LabelledText { label: l.to_string(), text: t.to_string() })
                .collect();
        let english = Classifier::train(&english, &small()).unwrap();
        assert!(english.can_judge("loud party next door"));
    }

    #[test]
    fn a_model_knows_the_pairs_it_saw_even_where_its_table_is_full() {
        // 256 buckets for every n-gram of the examples: no bucket is empty, so the table alone would
        // call every pair seen.
        let options = TrainOptions {
            features: FeatureConfig { bucket_bits: 8, ..FeatureConfig::default() },
            ..Default::default()
        };
        let model = Classifier::train(&examples(), &options).unwrap();
        let by_table_only = Classifier { info: model.info.clone(), table: model.table.clone(), pairs: Vec::new() };
        let never_seen = ["测试标题", "学车", "谢谢您", "请勿处理", "你好请问", "天气不错", "明天见面"];
        let mistaken: Vec<&str> = never_seen.iter().copied().filter(|t| by_table_only.can_judge(t)).collect();
        assert!(mistaken.len() >= 3, "the shared buckets take most of these for seen: {mistaken:?}");
        assert!(never_seen.iter().all(|t| !model.can_judge(t)), "the pairs are not taken for seen");
        assert!(model.can_judge("噪音"));
        let read = Classifier::from_bytes(&model.to_bytes()).unwrap();
        assert!(!read.can_judge(mistaken[0]) && read.can_judge("噪音"), "the pairs are kept in the file");
        // A file made before the pairs were recorded still loads and judges by its table.
        let mut old = MAGIC_WITHOUT_PAIRS.to_vec();
        let header = serde_json::to_vec(&model.info).unwrap();
        old.extend_from_slice(&(header.len() as u32).to_le_bytes());
        old.extend_from_slice(&header);
        let pairs_end = 8 + 4 + header.len() + 4 + 4 * model.pairs.len();
        old.extend_from_slice(&model.to_bytes()[pairs_end..]);
        let older = Classifier::from_bytes(&old).unwrap();
        assert!(older.pairs.is_empty() && older.can_judge(mistaken[0]) && older.can_judge("噪音"));
        assert_eq!(older.classify("噪音", 1).top, model.classify("噪音", 1).top);
    }

    #[test]
    fn many_labels_shrink_the_table() {
        let options = TrainOptions::default();
        assert_eq!(Classifier::fitted_options(&options, 7).features.bucket_bits, options.features.bucket_bits);
        // 2^24 / 518 is about 32,000 numbers per label: 2^14 buckets.
        assert_eq!(Classifier::fitted_options(&options, 517).features.bucket_bits, 14);
    }

    #[test]
    fn rejects_damaged_files_and_single_label_data() {
        let bytes = Classifier::train(&examples(), &small()).unwrap().to_bytes();
        assert!(matches!(Classifier::from_bytes(&bytes[..bytes.len() - 3]), Err(ModelError::Corrupt(_))));
        assert!(matches!(Classifier::from_bytes(b"hello"), Err(ModelError::Corrupt(_))));
        let one = vec![LabelledText { label: "a".into(), text: "x".into() }];
        assert_eq!(Classifier::train(&one, &small()).err(), Some(ModelError::TooFewLabels(1)));
    }
}
