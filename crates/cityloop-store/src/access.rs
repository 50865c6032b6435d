//! The record of who was shown residents' contact data in clear.

use chrono::{DateTime, Utc};
use cityloop_domain::{CaseId, UserId};
use sqlx::Row;

use crate::args::{Arg, Sql};
use crate::cases::multi_insert;
use crate::rows::{from_ms, ms};
use crate::{Result, Store};

/// One showing of one case's contact data to one user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactViewRow {
    pub id: i64,
    pub user_id: UserId,
    pub username: String,
    pub case_id: CaseId,
    /// The case's number (when the case still exists).
    pub case_number: Option<String>,
    pub at: DateTime<Utc>,
    pub purpose: String,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ContactViewFilter {
    pub user_id: Option<UserId>,
    pub case_id: Option<CaseId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// Rows per insert statement.
const ROWS_PER_STATEMENT: usize = 100;

impl Store {
    /// Records that `username` was shown the contact data of `cases` at `at`, for `purpose`.
    pub async fn record_contact_views(
        &self,
        user: UserId,
        username: &str,
        cases: &[CaseId],
        at: DateTime<Utc>,
        purpose: &str,
    ) -> Result<()> {
        for chunk in cases.chunks(ROWS_PER_STATEMENT) {
            let rows = chunk.iter().map(|case| {
                vec![Arg::from(user.0), Arg::from(username), Arg::from(case.0), Arg::from(ms(at)), Arg::from(purpose)]
            });
            multi_insert("contact_views", "user_id, username, case_id, at, purpose", rows)
                .for_backend(self.backend())
                .query()
                .execute(self.writer())
                .await?;
        }
        Ok(())
    }

    /// The records matching `f`, newest first, and how many match.
    pub async fn contact_views(&self, f: &ContactViewFilter) -> Result<(Vec<ContactViewRow>, i64)> {
        let mut conditions = Sql::new(" where 1 = 1");
        if let Some(user) = f.user_id {
            conditions.push(" and v.user_id = ").bind(user.0);
        }
        if let Some(case) = f.case_id {
            conditions.push(" and v.case_id = ").bind(case.0);
        }
        if let Some(from) = f.from {
            conditions.push(" and v.at >= ").bind(ms(from));
        }
        if let Some(to) = f.to {
            conditions.push(" and v.at < ").bind(ms(to));
        }
        let mut count = Sql::new("select count(*) from contact_views v");
        count.append(conditions.clone());
        let total: i64 = count.query().fetch_one(self.reader()).await?.try_get(0)?;
        let mut sql = Sql::new(
            "select v.id, v.user_id, v.username, v.case_id, c.number, v.at, v.purpose from contact_views v \
             left join cases c on c.id = v.case_id",
        );
        sql.append(conditions);
        sql.push(" order by v.id desc limit ").bind(f.limit).push(" offset ").bind(f.offset);
        let rows = sql.query().fetch_all(self.reader()).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(ContactViewRow {
                    id: r.try_get(0)?,
                    user_id: UserId(r.try_get(1)?),
                    username: r.try_get(2)?,
                    case_id: CaseId(r.try_get(3)?),
                    case_number: r.try_get(4)?,
                    at: from_ms(r.try_get(5)?),
                    purpose: r.try_get(6)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }
}

/// An alert about unusual access.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AccessAlertRow {
    pub id: i64,
    /// `contact_views`: far more residents' contact data shown than the user's own daily average;
    /// `bulk_export`: far more cases exported; `login_addresses`: sign-ins from many addresses;
    /// `forbidden`: many requests refused.
    pub kind: String,
    pub user_id: UserId,
    pub username: String,
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// The day's measure so far: cases shown or exported, addresses, refused requests.
    pub count: i64,
    /// The user's daily average before that day.
    pub baseline: f64,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user's count in a span of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCount {
    pub user_id: UserId,
    pub username: String,
    pub count: i64,
}

impl Store {
    /// How many cases' stored contact data each user was shown in [`from`, `to`) (the contact a user
    /// has just typed in at intake is not reading what is stored).
    pub async fn contact_views_per_user(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<UserCount>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "select user_id, min(username), count(*) from contact_views \
             where at >= $1 and at < $2 and purpose <> 'intake' group by user_id",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|(id, username, count)| UserCount { user_id: UserId(id), username, count }).collect())
    }

    /// Raises an alert, or brings the day's alert of that kind and user up to date.
    pub async fn raise_access_alert(
        &self,
        kind: &str,
        user: &UserCount,
        day: &str,
        baseline: f64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "insert into access_alerts (kind, user_id, username, day, count, baseline, raised_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $7) on conflict (kind, user_id, day) do update set \
             count = excluded.count, updated_at = excluded.updated_at",
        )
        .bind(kind)
        .bind(user.user_id.0)
        .bind(user.username.clone())
        .bind(day)
        .bind(user.count)
        .bind(baseline)
        .bind(ms(at))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The alerts, newest first.
    pub async fn access_alerts(&self, limit: i64) -> Result<Vec<AccessAlertRow>> {
        let rows = sqlx::query(
            "select id, kind, user_id, username, day, count, baseline, raised_at, updated_at from access_alerts \
             order by raised_at desc, id desc limit $1",
        )
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccessAlertRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    user_id: UserId(r.try_get(2)?),
                    username: r.try_get(3)?,
                    day: r.try_get(4)?,
                    count: r.try_get(5)?,
                    baseline: r.try_get(6)?,
                    raised_at: from_ms(r.try_get(7)?),
                    updated_at: from_ms(r.try_get(8)?),
                })
            })
            .collect()
    }
}

/// One event unusual access is watched for besides contact views.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessEventRow {
    pub id: i64,
    /// `export` (amount = cases exported), `login` (a sign-in) or `forbidden` (a refused request).
    pub kind: String,
    pub user_id: UserId,
    pub username: String,
    pub at: DateTime<Utc>,
    /// The client's address, where it is known.
    pub address: Option<String>,
    /// What was exported (format and filters) or refused (method and path).
    pub detail: String,
    pub amount: i64,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AccessEventFilter {
    pub kind: Option<String>,
    pub user_id: Option<UserId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Records an event for the unusual-access watch.
    pub async fn record_access_event(&self, event: &AccessEventRow) -> Result<()> {
        sqlx::query(
            "insert into access_events (kind, user_id, username, at, address, detail, amount) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(event.kind.clone())
        .bind(event.user_id.0)
        .bind(event.username.clone())
        .bind(ms(event.at))
        .bind(event.address.clone())
        .bind(event.detail.clone())
        .bind(event.amount)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Each user's measure of `kind` in [`from`, `to`): for sign-ins the distinct addresses of each
    /// local day (days begin `day_offset_ms` after UTC midnight's), summed; the sum of the amounts
    /// otherwise (cases exported, requests refused).
    pub async fn access_events_per_user(
        &self,
        kind: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        day_offset_ms: i64,
    ) -> Result<Vec<UserCount>> {
        let query = if kind == "login" {
            sqlx::query_as(
                "select user_id, min(username), count(*) from (select distinct user_id, username, address, \
                 (at + $4) / 86400000 as day from access_events where kind = $1 and at >= $2 and at < $3) d \
                 group by user_id",
            )
        } else {
            sqlx::query_as(
                "select user_id, min(username), cast(sum(amount) as bigint) from access_events \
                 where kind = $1 and at >= $2 and at < $3 group by user_id",
            )
        };
        let mut query = query.bind(kind).bind(ms(from)).bind(ms(to));
        if kind == "login" {
            query = query.bind(day_offset_ms);
        }
        let rows: Vec<(i64, String, i64)> = query.fetch_all(self.reader()).await?;
        Ok(rows.into_iter().map(|(id, username, count)| UserCount { user_id: UserId(id), username, count }).collect())
    }

    /// The events matching `f`, newest first, and how many match.
    pub async fn access_events(&self, f: &AccessEventFilter) -> Result<(Vec<AccessEventRow>, i64)> {
        let mut conditions = Sql::new(" where 1 = 1");
        if let Some(kind) = &f.kind {
            conditions.push(" and kind = ").bind(kind.clone());
        }
        if let Some(user) = f.user_id {
            conditions.push(" and user_id = ").bind(user.0);
        }
        if let Some(from) = f.from {
            conditions.push(" and at >= ").bind(ms(from));
        }
        if let Some(to) = f.to {
            conditions.push(" and at < ").bind(ms(to));
        }
        let mut count = Sql::new("select count(*) from access_events");
        count.append(conditions.clone());
        let total: i64 = count.query().fetch_one(self.reader()).await?.try_get(0)?;
        let mut sql = Sql::new("select id, kind, user_id, username, at, address, detail, amount from access_events");
        sql.append(conditions);
        sql.push(" order by id desc limit ").bind(f.limit).push(" offset ").bind(f.offset);
        let rows = sql.query().fetch_all(self.reader()).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(AccessEventRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    user_id: UserId(r.try_get(2)?),
                    username: r.try_get(3)?,
                    at: from_ms(r.try_get(4)?),
                    address: r.try_get(5)?,
                    detail: r.try_get(6)?,
                    amount: r.try_get(7)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((items, total))
    }
}

/// A closed case whose resident data is due to be removed: its texts, to be masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseTexts {
    pub id: CaseId,
    pub title: String,
    pub description: String,
}

impl Store {
    /// Up to `limit` cases closed before `before` whose resident data is still there.
    pub async fn cases_to_anonymize(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<CaseTexts>> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "select id, title, description from cases where anonymized_at is null and closed_at is not null \
             and closed_at < $1 order by closed_at limit $2",
        )
        .bind(ms(before))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|(id, title, description)| CaseTexts { id: CaseId(id), title, description }).collect())
    }

    /// Removes the contact data of `cases` and stores their masked texts, in one transaction; a case
    /// reopened meanwhile (no longer closed) is left as it is. How many were changed.
    pub async fn anonymize_cases(&self, cases: &[CaseTexts], at: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.writer().begin().await?;
        let mut changed = 0;
        for case in cases {
            let done = sqlx::query(
                "update cases set contact_name = null, contact_phone = null, title = $1, description = $2, \
                 anonymized_at = $3, updated_at = $3, version = version + 1 \
                 where id = $4 and anonymized_at is null and closed_at is not null",
            )
            .bind(case.title.clone())
            .bind(case.description.clone())
            .bind(ms(at))
            .bind(case.id.0)
            .execute(&mut *tx)
            .await?;
            changed += done.rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }
}
