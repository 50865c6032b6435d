//! Storage for Open311: client applications and their keys, what each category tells residents' apps
//! (description, keywords, extra questions), and what a request brought with it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cityloop_domain::{CaseId, CategoryId, DivisionId, FlowEntry};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::args::Sql;
use crate::cases::flow_from_row;
use crate::rows::{from_ms, get_opt_ms, ms};
use crate::{Result, Store};

/// A case's report record: its data (channel details, the client's submission) and the hashes of the
/// files that came with it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRecord {
    pub data: serde_json::Value,
    pub attachments: Vec<String>,
}

/// A registered client application (a residents' app, a partner system).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiClientRow {
    pub id: i64,
    pub name: String,
    pub contact: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A category's description and search words for residents' apps.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDetailsRow {
    pub category_id: CategoryId,
    pub description: String,
    pub keywords: String,
}

/// One choice of a list question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub key: String,
    pub name: String,
}

/// An extra question a category asks (an Open311 service attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionRow {
    pub category_id: CategoryId,
    pub code: String,
    pub datatype: String,
    pub required: bool,
    /// `false`: text shown to the resident, not a question.
    pub variable: bool,
    pub description: String,
    pub datatype_description: String,
    pub position: i64,
    pub choices: Vec<Choice>,
}

const CLIENT_COLUMNS: &str = "id, name, contact, created_at, revoked_at";

fn client_row(r: &sqlx::any::AnyRow) -> Result<ApiClientRow> {
    Ok(ApiClientRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        contact: r.try_get(2)?,
        created_at: from_ms(r.try_get(3)?),
        revoked_at: get_opt_ms(r, "revoked_at")?,
    })
}

impl Store {
    /// Registers a client application under the hash of its key.
    pub async fn insert_api_client(&self, name: &str, key_hash: &str, contact: &str, at: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query(
            "insert into api_clients (name, key_hash, contact, created_at) values ($1, $2, $3, $4) returning id",
        )
        .bind(name.to_string())
        .bind(key_hash.to_string())
        .bind(contact.to_string())
        .bind(ms(at))
        .fetch_one(self.writer())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The client holding a key (by the key's hash), revoked or not.
    pub async fn api_client_by_key_hash(&self, key_hash: &str) -> Result<Option<ApiClientRow>> {
        let row = sqlx::query(&format!("select {CLIENT_COLUMNS} from api_clients where key_hash = $1"))
            .bind(key_hash.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(client_row).transpose()
    }

    /// Every client application, oldest first.
    pub async fn list_api_clients(&self) -> Result<Vec<ApiClientRow>> {
        let rows = sqlx::query(&format!("select {CLIENT_COLUMNS} from api_clients order by id"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(client_row).collect()
    }

    /// Revokes a client's key; its requests stay.
    pub async fn revoke_api_client(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query("update api_clients set revoked_at = $1 where id = $2 and revoked_at is null")
            .bind(ms(at))
            .bind(id)
            .execute(self.writer())
            .await?;
        if done.rows_affected() == 0 {
            return Err(crate::StoreError::NotFound);
        }
        Ok(())
    }

    /// Every category's description and keywords.
    pub async fn list_service_details(&self) -> Result<Vec<ServiceDetailsRow>> {
        let rows = sqlx::query("select category_id, description, keywords from service_details")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ServiceDetailsRow {
                    category_id: CategoryId(r.try_get(0)?),
                    description: r.try_get(1)?,
                    keywords: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Every extra question, by category and position.
    pub async fn list_service_questions(&self) -> Result<Vec<QuestionRow>> {
        let rows = sqlx::query(
            "select category_id, code, datatype, required, variable, description, datatype_description, position, choices \
             from service_questions order by category_id, position, code",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuestionRow {
                    category_id: CategoryId(r.try_get(0)?),
                    code: r.try_get(1)?,
                    datatype: r.try_get(2)?,
                    required: r.try_get::<i64, _>(3)? != 0,
                    variable: r.try_get::<i64, _>(4)? != 0,
                    description: r.try_get(5)?,
                    datatype_description: r.try_get(6)?,
                    position: r.try_get(7)?,
                    choices: serde_json::from_str(&r.try_get::<String, _>(8)?).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Replaces what a category tells residents' apps: its description, keywords and questions, in one
    /// transaction.
    pub async fn replace_service(&self, details: &ServiceDetailsRow, questions: &[QuestionRow]) -> Result<()> {
        let category = details.category_id.0;
        let mut tx = self.writer().begin().await?;
        sqlx::query("delete from service_questions where category_id = $1").bind(category).execute(&mut *tx).await?;
        sqlx::query("delete from service_details where category_id = $1").bind(category).execute(&mut *tx).await?;
        sqlx::query("insert into service_details (category_id, description, keywords) values ($1, $2, $3)")
            .bind(category)
            .bind(details.description.clone())
            .bind(details.keywords.clone())
            .execute(&mut *tx)
            .await?;
        for q in questions {
            sqlx::query(
                "insert into service_questions (category_id, code, datatype, required, variable, description, \
                 datatype_description, position, choices) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(category)
            .bind(q.code.clone())
            .bind(q.datatype.clone())
            .bind(i64::from(q.required))
            .bind(i64::from(q.variable))
            .bind(q.description.clone())
            .bind(q.datatype_description.clone())
            .bind(q.position)
            .bind(serde_json::to_string(&q.choices).unwrap_or_else(|_| "[]".into()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Flow records of the given kinds made in `[from, to)` on cases the public may see, oldest first,
    /// with the case number and the case's lead unit and reopen count at the time of reading.
    pub async fn public_flows(
        &self,
        kinds: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        divisions: Option<&[DivisionId]>,
        limit: i64,
    ) -> Result<Vec<(String, FlowEntry, i64)>> {
        let mut sql = Sql::new(
            "select f.id, f.case_id, f.kind, f.from_state, f.to_state, f.actor_id, f.actor_name, f.role, f.unit_id, f.at, \
             f.note, f.attachments, f.data, c.number from flow f join cases c on c.id = f.case_id \
             where c.confidential = 0 and c.state <> 'voided' and f.at >= ",
        );
        sql.bind(ms(from)).push(" and f.at < ").bind(ms(to));
        sql.push(" and f.kind in ").bind_list(kinds.iter().copied());
        if let Some(divisions) = divisions {
            if divisions.is_empty() {
                return Ok(Vec::new());
            }
            sql.push(" and c.division_id in ").bind_list(divisions.iter().map(|d| d.0));
        }
        sql.push(" order by f.at, f.id limit ").bind(limit);
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                let (id, flow) = flow_from_row(r)?;
                Ok((r.try_get("number")?, flow, id))
            })
            .collect()
    }

    /// Each case's report record (how and from where it came in, and what was sent with it), by case.
    pub async fn report_records(&self, cases: &[CaseId]) -> Result<HashMap<CaseId, ReportRecord>> {
        if cases.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new("select case_id, data, attachments from flow where kind = 'report' and case_id in ");
        sql.bind_list(cases.iter().map(|c| c.0));
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get(1)?;
                let attachments: String = r.try_get(2)?;
                let record = ReportRecord {
                    data: serde_json::from_str(&data).unwrap_or_default(),
                    attachments: serde_json::from_str(&attachments).unwrap_or_default(),
                };
                Ok((CaseId(r.try_get(0)?), record))
            })
            .collect()
    }
}
