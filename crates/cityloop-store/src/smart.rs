//! Storage for smart intake: classifier versions, training texts, duplicate candidates, dispatch history,
//! knowledge-base articles and reply checks.

use chrono::{DateTime, Utc};
use cityloop_domain::{CaseId, CategoryId, DivisionId, GridId, UnitId};
use sqlx::Row;

use crate::args::Sql;
use crate::dashboard::OPEN_CASES;
use crate::rows::{from_ms, ms};
use crate::{Backend, Result, Store, StoreError};

/// One stored classifier version (without its weights).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// `cases` (trained on the platform's closed cases) or `file:NAME`.
    pub source: String,
    pub documents: i64,
    pub labels: i64,
    /// Evaluation figures as JSON.
    pub metrics: String,
}

/// An open case near a new one, as the duplicate finder needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateCandidate {
    pub id: CaseId,
    pub number: String,
    pub title: String,
    /// The first few hundred characters of the description.
    pub description: String,
    pub category_id: Option<CategoryId>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub state: String,
}

/// A latitude/longitude box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub south: f64,
    pub north: f64,
    pub west: f64,
    pub east: f64,
}

/// How often a unit finally handled closed cases of a category, and how often without a return.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRecord {
    pub unit_id: UnitId,
    pub closed: i64,
    pub without_return: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArticleRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub category_code: Option<String>,
    pub tags: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplyCheckRow {
    pub case_id: CaseId,
    pub unit_id: Option<UnitId>,
    pub score: i64,
    pub relevance: f64,
    /// The findings as JSON.
    pub findings: String,
    pub checked_at: DateTime<Utc>,
}

/// Reply scores of one unit over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplySummary {
    pub unit_id: UnitId,
    pub replies: i64,
    pub average_score: f64,
    /// Replies scoring under 60.
    pub weak: i64,
}

/// Descriptions longer than this are cut for similarity: the start of a request says what it is about.
pub const CANDIDATE_DESCRIPTION_CHARS: i64 = 300;

/// Every change to the articles bumps this counter, so that each node sees that its index is stale.
const KB_REVISION: &str = "kb.revision";

impl Store {
    async fn bump_articles_revision(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
        sqlx::query(
            "insert into settings (key, value) values ($1, '1') \
             on conflict (key) do update set value = cast(cast(settings.value as bigint) + 1 as text)",
        )
        .bind(KB_REVISION)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Stores a classifier version, numbered one above the latest.
    pub async fn insert_model(
        &self,
        source: &str,
        documents: i64,
        labels: i64,
        metrics: &str,
        model: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        // Numbered in the statement itself; two nodes storing at the same moment collide on the key, and
        // the later one takes the next number.
        let mut attempt = 0;
        loop {
            let stored = sqlx::query(
                "insert into classifier_models (version, created_at, source, documents, labels, metrics, model) \
                 select coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5, $6 from classifier_models returning version",
            )
            .bind(ms(now))
            .bind(source.to_string())
            .bind(documents)
            .bind(labels)
            .bind(metrics.to_string())
            .bind(model.clone())
            .fetch_one(self.writer())
            .await
            .map_err(StoreError::from);
            match stored {
                Ok(row) => return Ok(row.try_get(0)?),
                Err(StoreError::Duplicate(_)) if attempt < 5 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn latest_model_version(&self) -> Result<Option<i64>> {
        Ok(sqlx::query("select max(version) from classifier_models").fetch_one(self.reader()).await?.try_get(0)?)
    }

    /// One version with its weights.
    pub async fn load_model(&self, version: i64) -> Result<(ModelRow, Vec<u8>)> {
        let row = sqlx::query(
            "select version, created_at, source, documents, labels, metrics, model from classifier_models where version = $1",
        )
        .bind(version)
        .fetch_optional(self.reader())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok((model_row(&row)?, row.try_get(6)?))
    }

    /// Every version, newest first.
    pub async fn list_models(&self) -> Result<Vec<ModelRow>> {
        let rows = sqlx::query(
            "select version, created_at, source, documents, labels, metrics from classifier_models order by version desc",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(model_row).collect()
    }

    /// `(category code, title, description)` of the most recent closed cases with a category, the final
    /// category after any correction; voided cases and merged duplicates are left out.
    pub async fn training_texts(&self, limit: i64) -> Result<Vec<(String, String, String)>> {
        // Most cases are closed ones without a master: walking the newest back to `limit` beats any index,
        // and SQLite, without statistics, would otherwise sort every closed case first.
        let not_indexed = if self.backend() == Backend::Sqlite { " not indexed" } else { "" };
        let rows = sqlx::query(&format!(
            "select k.code, c.title, c.description from cases c{not_indexed} join categories k on k.id = c.category_id \
             where c.state = 'closed' and c.master_id is null order by c.id desc limit $1",
        ))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }

    /// Open cases (not merged into another) created since `since`, in the given grids, or anywhere when
    /// `grids` is `None`; newest first.
    pub async fn duplicate_candidates(
        &self,
        grids: Option<&[GridId]>,
        bounds: Option<Bounds>,
        since: DateTime<Utc>,
        exclude: Option<CaseId>,
        limit: i64,
    ) -> Result<Vec<DuplicateCandidate>> {
        // The predicate matches the partial index `cases_open_by_grid`; SQLite is told to use it, since its
        // planner otherwise prefers the index over all cases of the grid.
        let index_hint = match (self.backend(), grids) {
            (Backend::Sqlite, Some(_)) => " indexed by cases_open_by_grid",
            _ => "",
        };
        let mut sql = Sql::new(&format!(
            "select id, number, title, substr(description, 1, {CANDIDATE_DESCRIPTION_CHARS}), category_id, lat, lon, created_at, state \
             from cases{index_hint} where {OPEN_CASES} and master_id is null and created_at >= "
        ));
        sql.bind(ms(since));
        if let Some(grids) = grids {
            if grids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push(" and grid_id in ").bind_list(grids.iter().map(|g| g.0));
        }
        if let Some(b) = bounds {
            sql.push(" and lat between ").bind(b.south).push(" and ").bind(b.north);
            sql.push(" and lon between ").bind(b.west).push(" and ").bind(b.east);
        }
        if let Some(id) = exclude {
            sql.push(" and id <> ").bind(id.0);
        }
        sql.push(" order by created_at desc limit ").bind(limit);
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                Ok(DuplicateCandidate {
                    id: CaseId(r.try_get(0)?),
                    number: r.try_get(1)?,
                    title: r.try_get(2)?,
                    description: r.try_get(3)?,
                    category_id: r.try_get::<Option<i64>, _>(4)?.map(CategoryId),
                    lat: r.try_get(5)?,
                    lon: r.try_get(6)?,
                    created_at: from_ms(r.try_get(7)?),
                    state: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Which units finally handled the closed cases of a category created since `since`, in the given
    /// divisions (or anywhere when empty), and how many of those went through without a return.
    pub async fn unit_history(
        &self,
        category: CategoryId,
        divisions: &[DivisionId],
        since: DateTime<Utc>,
    ) -> Result<Vec<UnitRecord>> {
        let mut sql = Sql::new(
            "select unit_id, count(*), sum(case when returns = 0 then 1 else 0 end) from cases \
             where category_id = ",
        );
        sql.bind(category.0).push(" and created_at >= ").bind(ms(since));
        sql.push(" and state = 'closed' and unit_id is not null and master_id is null");
        if !divisions.is_empty() {
            sql.push(" and division_id in ").bind_list(divisions.iter().map(|d| d.0));
        }
        sql.push(" group by unit_id order by 3 desc, 2 desc, 1");
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                Ok(UnitRecord {
                    unit_id: UnitId(r.try_get(0)?),
                    closed: r.try_get(1)?,
                    without_return: r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
                })
            })
            .collect()
    }

    pub async fn insert_article(
        &self,
        title: &str,
        body: &str,
        category_code: Option<&str>,
        tags: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let mut tx = self.writer().begin().await?;
        self.bump_articles_revision(&mut tx).await?;
        let row = sqlx::query(
            "insert into kb_articles (title, body, category_code, tags, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5) returning id",
        )
        .bind(title.to_string())
        .bind(body.to_string())
        .bind(category_code.map(str::to_string))
        .bind(tags.to_string())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.try_get(0)?)
    }

    pub async fn update_article(
        &self,
        id: i64,
        title: &str,
        body: &str,
        category_code: Option<&str>,
        tags: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        self.bump_articles_revision(&mut tx).await?;
        let done = sqlx::query(
            "update kb_articles set title = $1, body = $2, category_code = $3, tags = $4, updated_at = $5 where id = $6",
        )
        .bind(title.to_string())
        .bind(body.to_string())
        .bind(category_code.map(str::to_string))
        .bind(tags.to_string())
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_article(&self, id: i64) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        self.bump_articles_revision(&mut tx).await?;
        let done = sqlx::query("delete from kb_articles where id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_articles(&self) -> Result<Vec<ArticleRow>> {
        let rows = sqlx::query("select id, title, body, category_code, tags, updated_at from kb_articles order by id")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ArticleRow {
                    id: r.try_get(0)?,
                    title: r.try_get(1)?,
                    body: r.try_get(2)?,
                    category_code: r.try_get(3)?,
                    tags: r.try_get(4)?,
                    updated_at: from_ms(r.try_get(5)?),
                })
            })
            .collect()
    }

    /// A number that grows whenever an article is added, changed or deleted: nodes rebuild their search
    /// index when it moves.
    pub async fn articles_revision(&self) -> Result<i64> {
        Ok(self.get_setting(KB_REVISION).await?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    pub async fn insert_reply_check(&self, check: &ReplyCheckRow) -> Result<()> {
        sqlx::query(
            "insert into reply_checks (case_id, unit_id, score, relevance, findings, checked_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(check.case_id.0)
        .bind(check.unit_id.map(|u| u.0))
        .bind(check.score)
        .bind(check.relevance)
        .bind(check.findings.clone())
        .bind(ms(check.checked_at))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The latest check of a case's reply.
    pub async fn latest_reply_check(&self, case: CaseId) -> Result<Option<ReplyCheckRow>> {
        let row = sqlx::query(
            "select case_id, unit_id, score, relevance, findings, checked_at from reply_checks \
             where case_id = $1 order by id desc limit 1",
        )
        .bind(case.0)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(ReplyCheckRow {
                case_id: CaseId(r.try_get(0)?),
                unit_id: r.try_get::<Option<i64>, _>(1)?.map(UnitId),
                score: r.try_get(2)?,
                relevance: r.try_get(3)?,
                findings: r.try_get(4)?,
                checked_at: from_ms(r.try_get(5)?),
            })
        })
        .transpose()
    }

    /// Reply scores per unit for checks made since `since`, weakest average first.
    pub async fn reply_summary(&self, since: DateTime<Utc>) -> Result<Vec<ReplySummary>> {
        let rows = sqlx::query(
            "select unit_id, count(*), cast(sum(score) as bigint), sum(case when score < 60 then 1 else 0 end) \
             from reply_checks where checked_at >= $1 and unit_id is not null group by unit_id",
        )
        .bind(ms(since))
        .fetch_all(self.reader())
        .await?;
        let mut summary = rows
            .iter()
            .map(|r| {
                let replies: i64 = r.try_get(1)?;
                let total: i64 = r.try_get(2)?;
                Ok(ReplySummary {
                    unit_id: UnitId(r.try_get(0)?),
                    replies,
                    average_score: total as f64 / replies.max(1) as f64,
                    weak: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        summary.sort_by(|a, b| a.average_score.total_cmp(&b.average_score).then(a.unit_id.0.cmp(&b.unit_id.0)));
        Ok(summary)
    }
}

fn model_row(r: &sqlx::any::AnyRow) -> Result<ModelRow> {
    Ok(ModelRow {
        version: r.try_get(0)?,
        created_at: from_ms(r.try_get(1)?),
        source: r.try_get(2)?,
        documents: r.try_get(3)?,
        labels: r.try_get(4)?,
        metrics: r.try_get(5)?,
    })
}
