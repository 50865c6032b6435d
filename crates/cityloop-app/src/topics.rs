//! 每月一题 as a use case: the month's candidate problems, adopting one as a topic with a lead unit
//! and a goal, and following its volume month by month afterwards.

use cityloop_domain::evaluation::{rate, Period};
use cityloop_domain::topics::{topic_score, CategoryFigures, MIN_CASES};
use cityloop_domain::{CategoryId, Role, UnitId};
use cityloop_store::topics::NewTopic;
use cityloop_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// Candidates listed per period.
const CANDIDATES: usize = 20;
/// Months of tracking shown per topic.
const TRACKED_MONTHS: usize = 12;

/// A category proposed as the month's topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicCandidate {
    pub rank: usize,
    pub category_code: String,
    pub category: String,
    pub score: f64,
    pub cases: i64,
    pub revisits: i64,
    pub unsolved_rate: Option<f64>,
    pub unsatisfied_rate: Option<f64>,
    pub repeat_callers: i64,
    /// Already a topic of this period.
    pub adopted: bool,
}

/// What a leader decides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptTopic {
    /// `YYYY-MM` (default: the period running now).
    pub period: Option<String>,
    /// A category code.
    pub category: String,
    /// Default: the category's name.
    pub title: Option<String>,
    /// A unit code or id.
    pub lead_unit: Option<String>,
    #[serde(default)]
    pub goal: String,
    #[serde(default, skip)]
    pub signal_id: Option<i64>,
}

/// A month of an adopted topic.
#[derive(Debug, Clone, Serialize)]
pub struct TopicMonth {
    pub period: String,
    pub cases: i64,
}

/// An adopted topic and how it has gone since.
#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    pub id: i64,
    pub period: String,
    pub title: String,
    pub category_code: String,
    pub category: String,
    pub lead_unit: Option<String>,
    pub goal: String,
    pub baseline: i64,
    pub months: Vec<TopicMonth>,
    /// Cases in the last whole period against the adoption period, in % (negative: fewer).
    pub change_percent: Option<f64>,
    pub signal_id: Option<i64>,
}

/// Roles that read the candidates and the topics; adopting one is the leaders' decision.
const READERS: &[Role] = crate::scope::CITY_ANALYSTS;
pub(crate) const DECIDERS: &[Role] = &[Role::Admin, Role::Leader];

impl App {
    fn period_bounds(&self, p: &Period) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let calendar = &self.reference().calendar;
        (calendar.local_midnight(p.start), calendar.local_midnight(p.end))
    }

    /// The month's hardest frequent problems, hardest first.
    pub async fn topic_candidates(&self, who: &Principal, label: &str) -> Result<Vec<TopicCandidate>> {
        if !who.has_any(READERS) {
            return Err(AppError::Forbidden("每月一题 is for leaders, shift leads and dispatchers".into()));
        }
        let period = self.evaluation_period(label)?;
        let (from, to) = self.period_bounds(&period);
        let months = self.store.category_months(from, to).await?;
        let adopted: Vec<i64> = self
            .store
            .list_topics()
            .await?
            .into_iter()
            .filter(|t| t.topic.period == period.label())
            .map(|t| t.topic.category_id)
            .collect();
        let busiest = months.iter().map(|m| m.cases).max().unwrap_or(0);
        let reference = self.reference();
        let mut out: Vec<TopicCandidate> = months
            .into_iter()
            .filter(|m| m.cases >= MIN_CASES)
            .filter_map(|m| {
                let category = reference.category(CategoryId(m.category_id))?;
                let figures = CategoryFigures {
                    cases: m.cases,
                    revisits: m.revisits,
                    unsolved: m.unsolved,
                    unsatisfied: m.unsatisfied,
                    repeat_callers: m.repeat_callers,
                };
                Some(TopicCandidate {
                    rank: 0,
                    category_code: category.code.clone(),
                    category: category.name.clone(),
                    score: topic_score(&figures, busiest),
                    cases: m.cases,
                    revisits: m.revisits,
                    unsolved_rate: rate(m.unsolved, m.revisits),
                    unsatisfied_rate: rate(m.unsatisfied, m.revisits),
                    repeat_callers: m.repeat_callers,
                    adopted: adopted.contains(&m.category_id),
                })
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.cases.cmp(&a.cases)));
        out.truncate(CANDIDATES);
        for (i, c) in out.iter_mut().enumerate() {
            c.rank = i + 1;
        }
        Ok(out)
    }

    /// Adopts a category as a topic of a period.
    pub async fn adopt_topic(&self, who: &Principal, req: AdoptTopic) -> Result<TopicView> {
        if !who.has_any(DECIDERS) {
            return Err(AppError::Forbidden("topics are adopted by leaders".into()));
        }
        let period = match req.period.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => self.evaluation_period(p)?,
            None => self.current_evaluation_period(),
        };
        let reference = self.reference();
        let category = reference
            .category_by_code(req.category.trim())
            .ok_or_else(|| AppError::invalid("category", format!("no category `{}`", req.category)))?;
        let lead_unit = match req.lead_unit.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(u) => Some(
                // Unit codes are often all digits: a code wins over an id.
                reference
                    .unit_by_code(u)
                    .or_else(|| u.parse::<i64>().ok().and_then(|id| reference.unit(UnitId(id))))
                    .ok_or_else(|| AppError::invalid("lead_unit", format!("no unit `{u}`")))?
                    .id
                    .0,
            ),
        };
        let goal = req.goal.trim().to_string();
        if goal.chars().count() > 500 {
            return Err(AppError::invalid("goal", "is longer than 500 characters"));
        }
        let (from, to) = self.period_bounds(&period);
        // A group of categories (民生服务) counts the cases of every category in it, as the case list does.
        let subtree: Vec<i64> = reference.category_subtree(category.id).iter().map(|c| c.0).collect();
        let baseline = self.store.category_volume(&subtree, from, to).await?;
        let topic = NewTopic {
            period: period.label(),
            category_id: category.id.0,
            title: req
                .title
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| category.name.clone()),
            lead_unit_id: lead_unit,
            goal,
            baseline,
            signal_id: req.signal_id,
            adopted_by: Some(who.user.id.0),
        };
        let id = self.store.insert_topic(&topic, self.now()).await.map_err(|e| match e {
            StoreError::Duplicate(m) => AppError::Duplicate(m),
            other => other.into(),
        })?;
        self.topics(who)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AppError::NotFound(format!("topic {id}")))
    }

    /// The adopted topics, newest first, each with its volume per month since.
    pub async fn topics(&self, who: &Principal) -> Result<Vec<TopicView>> {
        if !who.has_any(READERS) {
            return Err(AppError::Forbidden("每月一题 is for leaders, shift leads and dispatchers".into()));
        }
        let reference = self.reference();
        let current = self.current_evaluation_period();
        let mut out = Vec::new();
        for row in self.store.list_topics().await? {
            let t = row.topic;
            let Some(category) = reference.category(CategoryId(t.category_id)) else { continue };
            let subtree: Vec<i64> = reference.category_subtree(category.id).iter().map(|c| c.0).collect();
            let mut months = Vec::new();
            let mut p = self.evaluation_period(&t.period)?;
            while p.start <= current.start && months.len() < TRACKED_MONTHS {
                let (from, to) = self.period_bounds(&p);
                months.push(TopicMonth {
                    period: p.label(),
                    cases: self.store.category_volume(&subtree, from, to).await?,
                });
                p = p.next();
            }
            // The baseline is the whole adoption period (a topic is often adopted mid-month); until that
            // period ends, what it has so far.
            let baseline = months.first().filter(|m| m.period == t.period).map_or(t.baseline, |m| m.cases);
            // The period running now is not over: the last whole one tells whether the volume fell.
            let last_whole = months.iter().rev().find(|m| m.period != current.label() && m.period != t.period);
            let change_percent = last_whole
                .filter(|_| baseline > 0)
                .map(|m| ((m.cases - baseline) as f64 / baseline as f64 * 1000.0).round() / 10.0);
            out.push(TopicView {
                id: row.id,
                period: t.period,
                title: t.title,
                category_code: category.code.clone(),
                category: category.name.clone(),
                lead_unit: t.lead_unit_id.and_then(|u| reference.unit(UnitId(u))).map(|u| u.name.clone()),
                goal: t.goal,
                baseline,
                months,
                change_percent,
                signal_id: t.signal_id,
            });
        }
        Ok(out)
    }
}
