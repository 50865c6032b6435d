//! Offline text tools over data files: the classifier's train / eval / cross-validate, duplicate lookup
//! over a message board, and reply checks over answered messages.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use cityloop_app::duplicates::{comparable_text, rank_duplicates, DuplicateMatch};
use cityloop_domain::CaseId;
use cityloop_store::smart::CANDIDATE_DESCRIPTION_CHARS;
use cityloop_store::DuplicateCandidate;
use cityloop_text::classifier::shuffled;
use cityloop_text::dataset::{parse_labelled_csv, Row};
use cityloop_text::features::Scratch;
use cityloop_text::metrics::Scores;
use cityloop_text::reply::check_reply;
use cityloop_text::{Classifier, LabelledText, TrainOptions};
use serde::Serialize;

/// Reads a labelled data file; errors name the file and the line.
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_labelled_csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn examples(rows: &[Row]) -> Vec<LabelledText> {
    rows.iter().cloned().map(Into::into).collect()
}

#[derive(Serialize)]
pub struct TrainReport {
    pub documents: usize,
    pub labels: usize,
    pub seconds: f64,
    pub model_bytes: usize,
}

/// Trains on a data file and writes the model.
pub fn train_file(data: &Path, model: &Path, seed: u64) -> Result<TrainReport> {
    let rows = read_rows(data)?;
    let examples = examples(&rows);
    let started = Instant::now();
    let classifier = Classifier::train(&examples, &TrainOptions { seed, ..TrainOptions::default() })
        .map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = classifier.to_bytes();
    std::fs::write(model, &bytes).with_context(|| format!("{}: cannot write", model.display()))?;
    Ok(TrainReport { documents: examples.len(), labels: classifier.labels().len(), seconds, model_bytes: bytes.len() })
}

pub fn load_model(model: &Path) -> Result<Classifier> {
    let bytes = std::fs::read(model).with_context(|| format!("{}: cannot read", model.display()))?;
    Classifier::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))
}

#[derive(Serialize)]
pub struct EvalReport {
    #[serde(flatten)]
    pub scores: Scores,
    /// Texts classified per second on one thread, feature extraction included.
    pub docs_per_sec: f64,
}

/// How long prediction is timed for at least.
const MIN_TIMED: std::time::Duration = std::time::Duration::from_millis(500);

/// Scores a model on a data file; the speed is measured on one thread over the file's texts.
pub fn eval(data: &Path, model: &Path) -> Result<EvalReport> {
    let rows = read_rows(data)?;
    let classifier = load_model(model)?;
    let examples = examples(&rows);
    let scores = classifier.evaluate(&examples);
    // The scoring pass above warmed the buffers and caches; the passes after it are timed. A small
    // file takes a few milliseconds a pass, as long as a hiccup of the machine: passes are repeated
    // for at least half a second, so that one figure stands for many.
    let mut scratch = Scratch::default();
    let started = Instant::now();
    let mut classified = 0usize;
    let mut predicted = 0usize;
    loop {
        predicted += rows.iter().map(|r| classifier.predict_index(&r.text, &mut scratch)).sum::<usize>();
        classified += rows.len();
        if rows.is_empty() || started.elapsed() >= MIN_TIMED {
            break;
        }
    }
    let docs_per_sec = classified as f64 / started.elapsed().as_secs_f64().max(1e-9);
    std::hint::black_box(predicted);
    Ok(EvalReport { scores, docs_per_sec })
}

#[derive(Serialize)]
pub struct CrossValidation {
    pub folds: usize,
    pub macro_f1: Vec<f64>,
    pub accuracy: Vec<f64>,
    pub mean_macro_f1: f64,
    pub mean_accuracy: f64,
    pub mean_train_seconds: f64,
}

/// k-fold cross-validation: the rows in a seeded order, fold i tests every k-th row.
pub fn cross_validate(data: &Path, folds: usize, seed: u64) -> Result<CrossValidation> {
    anyhow::ensure!(folds >= 2, "--folds must be at least 2");
    let rows = read_rows(data)?;
    let examples = examples(&rows);
    let order = shuffled(examples.len(), seed);
    let options = TrainOptions { seed, ..TrainOptions::default() };
    let (mut f1, mut accuracy, mut seconds) = (Vec::new(), Vec::new(), 0.0);
    for fold in 0..folds {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..order.len()).partition(|k| k % folds == fold);
        let test: Vec<usize> = test.into_iter().map(|k| order[k]).collect();
        let train: Vec<LabelledText> = train.into_iter().map(|k| examples[order[k]].clone()).collect();
        let started = Instant::now();
        let model = Classifier::train(&train, &options).map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
        seconds += started.elapsed().as_secs_f64();
        let s = model.evaluate(test.iter().map(|&i| &examples[i]));
        f1.push(s.macro_f1);
        accuracy.push(s.accuracy);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    Ok(CrossValidation {
        folds,
        mean_macro_f1: mean(&f1),
        mean_accuracy: mean(&accuracy),
        macro_f1: f1,
        accuracy,
        mean_train_seconds: seconds / folds as f64,
    })
}

/// Trains on `train` without the ids found in `test`, then scores on `test`.
pub fn holdout(train: &Path, test: &Path, seed: u64) -> Result<Scores> {
    let test_rows = read_rows(test)?;
    let held: std::collections::HashSet<&str> = test_rows.iter().map(|r| r.id.as_str()).collect();
    let train_rows: Vec<Row> = read_rows(train)?.into_iter().filter(|r| !held.contains(r.id.as_str())).collect();
    let model = Classifier::train(&examples(&train_rows), &TrainOptions { seed, ..TrainOptions::default() })
        .map_err(|e| anyhow::anyhow!("{}: {e}", train.display()))?;
    Ok(model.evaluate(&examples(&test_rows)))
}

/// One message of a message-board export (留言编号, 留言主题, 留言时间, 留言详情, optionally 答复意见).
pub struct Message {
    pub line: u64,
    pub id: String,
    pub title: String,
    pub time: DateTime<Utc>,
    pub detail: String,
    pub reply: Option<String>,
    /// 留言用户, when the export has it.
    pub person: String,
    /// 点赞数 + 反对数, when the export has them.
    pub votes: i64,
}

/// Reads a message-board CSV with Chinese headers; errors name the file, line and column.
pub fn read_messages(path: &Path, need_reply: bool) -> Result<Vec<Message>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
        .map_err(|e| anyhow::anyhow!("{}: not UTF-8 text (byte {})", path.display(), e.valid_up_to()))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader.headers().with_context(|| format!("{}:1", path.display()))?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| anyhow::anyhow!("{}:1: missing column {name}", path.display()))
    };
    let (id, title, time, detail) =
        (column("留言编号")?, column("留言主题")?, column("留言时间")?, column("留言详情")?);
    let reply = if need_reply { Some(column("答复意见")?) } else { None };
    let optional = |name: &str| header.iter().position(|h| h.trim() == name);
    let (person, votes) = (optional("留言用户"), [optional("点赞数"), optional("反对数")]);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: bad CSV row", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let raw_time = cell(time);
        let parsed = NaiveDateTime::parse_from_str(&raw_time, "%Y/%m/%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(&raw_time, "%Y-%m-%d %H:%M:%S"))
            .map_err(|_| {
                anyhow::anyhow!(
                    "{}:{line}: 留言时间 `{raw_time}` is not a time like 2019/2/28 11:25:05",
                    path.display()
                )
            })?;
        let mut vote_sum = 0;
        for (column, name) in votes.iter().zip(["点赞数", "反对数"]) {
            let Some(column) = column else { continue };
            let raw = cell(*column);
            vote_sum += if raw.is_empty() {
                0
            } else {
                raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    anyhow::anyhow!("{}:{line}: {name} `{raw}` is not a number of votes", path.display())
                })?
            };
        }
        out.push(Message {
            line,
            id: cell(id),
            title: cell(title),
            time: parsed.and_utc(),
            detail: cell(detail),
            reply: reply.map(cell),
            person: person.map(cell).unwrap_or_default(),
            votes: vote_sum,
        });
    }
    Ok(out)
}

#[derive(Serialize)]
pub struct DuplicatePair {
    pub id: String,
    pub title: String,
    pub duplicate_of: String,
    pub duplicate_title: String,
    pub similarity: f32,
}

#[derive(Serialize)]
pub struct DuplicateRun {
    pub messages: usize,
    /// Messages for which an earlier open one was offered.
    pub with_suggestion: usize,
    pub window_days: i64,
    pub min_similarity: f32,
    /// A seeded random sample of messages with their top suggestion, for checking by hand.
    pub sample: Vec<DuplicatePair>,
}

/// Runs intake's duplicate lookup over a message board in time order: each message against the earlier
/// ones of the window (text only: the board has no coordinates or categories).
pub fn duplicates_over_board(
    path: &Path,
    window_days: i64,
    min_similarity: f32,
    sample: usize,
    seed: u64,
) -> Result<DuplicateRun> {
    let mut messages = read_messages(path, false)?;
    messages.sort_by_key(|m| (m.time, m.line));
    let mut pairs = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let since = m.time - chrono::Duration::days(window_days);
        let candidates: Vec<DuplicateCandidate> = messages[..i]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.time >= since)
            .map(|(k, c)| DuplicateCandidate {
                id: CaseId(k as i64),
                number: c.id.clone(),
                title: c.title.clone(),
                description: c.detail.chars().take(CANDIDATE_DESCRIPTION_CHARS as usize).collect(),
                category_id: None,
                lat: None,
                lon: None,
                created_at: c.time,
                state: "reported".into(),
            })
            .collect();
        let text = comparable_text(&m.title, &m.detail);
        let found: Vec<DuplicateMatch> =
            rank_duplicates(&text, None, None, 200.0, min_similarity, candidates, &|_, _| true);
        if let Some(best) = found.first() {
            pairs.push(DuplicatePair {
                id: m.id.clone(),
                title: m.title.clone(),
                duplicate_of: best.number.clone(),
                duplicate_title: best.title.clone(),
                similarity: best.similarity,
            });
        }
    }
    let with_suggestion = pairs.len();
    let sample = seeded_sample(pairs, sample, seed);
    Ok(DuplicateRun { messages: messages.len(), with_suggestion, window_days, min_similarity, sample })
}

#[derive(Serialize)]
pub struct ReplySample {
    pub id: String,
    pub title: String,
    pub reply_start: String,
    pub score: u8,
    pub failed: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct ReplyRun {
    pub replies: usize,
    pub mean_score: f64,
    pub median_score: u8,
    /// Replies per score band: "0-9", "10-19", … "90-100".
    pub bands: BTreeMap<String, usize>,
    /// Replies failing each check.
    pub failing: BTreeMap<&'static str, usize>,
    pub sample: Vec<ReplySample>,
}

/// Checks every reply of an answered-messages file.
pub fn replies_over_board(path: &Path, sample: usize, seed: u64) -> Result<ReplyRun> {
    let messages = read_messages(path, true)?;
    let mut scores = Vec::with_capacity(messages.len());
    let mut bands: BTreeMap<String, usize> = BTreeMap::new();
    let mut failing: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut samples = Vec::new();
    for m in &messages {
        let reply = m.reply.as_deref().unwrap_or("");
        let check = check_reply(&format!("{}\n{}", m.title, m.detail), reply);
        let low = (check.score.min(99) / 10) * 10;
        *bands.entry(format!("{low:02}-{:02}", if low == 90 { 100 } else { low + 9 })).or_default() += 1;
        let failed: Vec<&'static str> = check.findings.iter().filter(|f| !f.passed).map(|f| f.code).collect();
        for code in &failed {
            *failing.entry(code).or_default() += 1;
        }
        scores.push(check.score);
        samples.push(ReplySample {
            id: m.id.clone(),
            title: m.title.clone(),
            reply_start: reply.chars().take(160).collect(),
            score: check.score,
            failed,
        });
    }
    anyhow::ensure!(!scores.is_empty(), "{}: no rows", path.display());
    let mean_score = scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len() as f64;
    let mut sorted = scores.clone();
    sorted.sort_unstable();
    Ok(ReplyRun {
        replies: scores.len(),
        mean_score,
        median_score: sorted[sorted.len() / 2],
        bands,
        failing,
        sample: seeded_sample(samples, sample, seed),
    })
}

/// `n` items picked at random for a seed, in their original order.
fn seeded_sample<T>(items: Vec<T>, n: usize, seed: u64) -> Vec<T> {
    let mut picked: Vec<usize> = shuffled(items.len(), seed).into_iter().take(n).collect();
    picked.sort_unstable();
    let mut items: Vec<Option<T>> = items.into_iter().map(Some).collect();
    picked.into_iter().filter_map(|i| items[i].take()).collect()
}

/// One hot problem of a message board.
#[derive(Serialize)]
pub struct BoardProblem {
    pub rank: usize,
    pub hotness: f64,
    pub messages: usize,
    pub people: usize,
    pub votes: i64,
    pub from: String,
    pub to: String,
    pub keywords: Vec<String>,
    /// (留言编号, 留言主题) of every message, oldest first.
    pub members: Vec<(String, String)>,
}

#[derive(Serialize)]
pub struct HotspotRun {
    pub messages: usize,
    pub problems: usize,
    pub min_similarity: f32,
    pub top: Vec<BoardProblem>,
}

/// The hot problems of a message board (留言编号, 留言用户, 留言主题, 留言时间, 留言详情, 点赞数, 反对数).
pub fn hotspots_over_board(path: &Path, top: usize, min_similarity: f32) -> Result<HotspotRun> {
    use cityloop_text::hotspots::{hot_problems, HotspotRules};
    let board = read_messages(path, false)?;
    let messages: Vec<cityloop_text::hotspots::Message> = board
        .iter()
        .map(|m| cityloop_text::hotspots::Message {
            title: m.title.clone(),
            body: m.detail.clone(),
            person: m.person.clone(),
            votes: m.votes,
            at: m.time.timestamp(),
        })
        .collect();
    let rules = HotspotRules { min_similarity, ..HotspotRules::default() };
    let found = hot_problems(&messages, &rules);
    let day = |i: usize| board[i].time.format("%Y-%m-%d").to_string();
    Ok(HotspotRun {
        messages: board.len(),
        problems: found.len(),
        min_similarity,
        top: found
            .iter()
            .take(top)
            .enumerate()
            .map(|(rank, p)| BoardProblem {
                rank: rank + 1,
                hotness: p.hotness,
                messages: p.members.len(),
                people: p.people,
                votes: p.votes,
                from: day(p.members[0]),
                to: day(p.members[p.members.len() - 1]),
                keywords: p.keywords.clone(),
                members: p.members.iter().map(|i| (board[*i].id.clone(), board[*i].title.clone())).collect(),
            })
            .collect(),
    })
}
