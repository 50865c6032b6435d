//! 每月一题: the month's candidate problems per category, and the topics a city adopted.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::args::Sql;
use crate::rows::{from_ms, ms};
use crate::{Result, Store, StoreError};

/// One category's month: how much, how often left unsolved or unsatisfied, how many callers came back.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryMonth {
    pub category_id: i64,
    pub cases: i64,
    pub revisits: i64,
    pub unsolved: i64,
    pub unsatisfied: i64,
    /// Callers (by phone) with two or more cases of the category in the period.
    pub repeat_callers: i64,
}

/// A topic to adopt.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub period: String,
    pub category_id: i64,
    pub title: String,
    pub lead_unit_id: Option<i64>,
    pub goal: String,
    pub baseline: i64,
    pub signal_id: Option<i64>,
    pub adopted_by: Option<i64>,
}

/// An adopted topic.
#[derive(Debug, Clone)]
pub struct TopicRow {
    pub id: i64,
    pub topic: NewTopic,
    pub adopted_at: DateTime<Utc>,
}

fn topic_from_row(r: &AnyRow) -> Result<TopicRow> {
    Ok(TopicRow {
        id: r.try_get("id")?,
        topic: NewTopic {
            period: r.try_get("period")?,
            category_id: r.try_get("category_id")?,
            title: r.try_get("title")?,
            lead_unit_id: r.try_get("lead_unit_id")?,
            goal: r.try_get("goal")?,
            baseline: r.try_get("baseline")?,
            signal_id: r.try_get("signal_id")?,
            adopted_by: r.try_get("adopted_by")?,
        },
        adopted_at: from_ms(r.try_get("adopted_at")?),
    })
}

impl Store {
    /// Per category, the cases created between two times with their revisit outcomes and repeat callers.
    pub async fn category_months(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<CategoryMonth>> {
        let rows = sqlx::query(
            "select category_id, count(*) as cases, \
             cast(sum(case when revisit_contacted = 1 then 1 else 0 end) as bigint) as revisits, \
             cast(sum(case when revisit_contacted = 1 and revisit_solved = 0 then 1 else 0 end) as bigint) as unsolved, \
             cast(sum(case when revisit_contacted = 1 and revisit_satisfaction = 'unsatisfied' then 1 else 0 end) \
                  as bigint) as unsatisfied \
             from cases where created_at >= $1 and created_at < $2 and category_id is not null group by category_id",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.reader())
        .await?;
        let repeats = sqlx::query(
            "select category_id, count(*) as callers from (select category_id, contact_phone from cases \
             where created_at >= $1 and created_at < $2 and category_id is not null and contact_phone is not null \
             group by category_id, contact_phone having count(*) >= 2) r group by category_id",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.reader())
        .await?;
        let mut callers = std::collections::HashMap::new();
        for r in &repeats {
            callers.insert(r.try_get::<i64, _>("category_id")?, r.try_get::<i64, _>("callers")?);
        }
        rows.iter()
            .map(|r| {
                let category_id: i64 = r.try_get("category_id")?;
                Ok(CategoryMonth {
                    category_id,
                    cases: r.try_get("cases")?,
                    revisits: r.try_get("revisits")?,
                    unsolved: r.try_get("unsolved")?,
                    unsatisfied: r.try_get("unsatisfied")?,
                    repeat_callers: callers.get(&category_id).copied().unwrap_or(0),
                })
            })
            .collect()
    }

    /// Cases of a category created between two times.
    pub async fn category_volume(&self, categories: &[i64], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<i64> {
        let mut sql = Sql::new("select count(*) as n from cases where category_id in ");
        sql.bind_list(categories.iter().copied()).push(" and created_at >= ").bind(ms(from));
        sql.push(" and created_at < ").bind(ms(to));
        Ok(sql.query().fetch_one(self.reader()).await?.try_get("n")?)
    }

    /// Adopts a topic; a category is adopted at most once per period.
    pub async fn insert_topic(&self, t: &NewTopic, at: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query(
            "insert into topics (period, category_id, title, lead_unit_id, goal, baseline, signal_id, adopted_by, \
             adopted_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        )
        .bind(t.period.clone())
        .bind(t.category_id)
        .bind(t.title.clone())
        .bind(t.lead_unit_id)
        .bind(t.goal.clone())
        .bind(t.baseline)
        .bind(t.signal_id)
        .bind(t.adopted_by)
        .bind(ms(at))
        .fetch_one(self.writer())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Duplicate(_) => {
                StoreError::Duplicate(format!("this category is already a topic of {}", t.period))
            }
            other => other,
        })?;
        Ok(row.try_get(0)?)
    }

    /// Every topic, newest first.
    pub async fn list_topics(&self) -> Result<Vec<TopicRow>> {
        let rows = sqlx::query(
            "select id, period, category_id, title, lead_unit_id, goal, baseline, signal_id, adopted_by, adopted_at \
             from topics order by period desc, id desc",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(topic_from_row).collect()
    }
}
