//! Reply checks (答复质检) in service: every submitted result is scored against the request and the check
//! is kept, shown to dispatchers before closing and summarised per unit.

use chrono::Duration;
use cityloop_domain::{Case, Role, UnitId};
use cityloop_store::{ReplyCheckRow, ReplySummary};
use cityloop_text::reply::{check_reply, ReplyCheck};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// The longest span a reply summary covers.
const MAX_SUMMARY_DAYS: i64 = 366;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitReplies {
    pub unit: UnitId,
    pub unit_name: String,
    pub replies: i64,
    pub average_score: f64,
    pub weak: i64,
}

const SUMMARY_ROLES: &[Role] = &[Role::Dispatcher, Role::Lead, Role::Leader, Role::Admin];
/// Who reads the check of one case: those who decide on closing it, not the unit or the resident.
pub const CHECK_READERS: &[Role] = &[Role::Dispatcher, Role::Lead, Role::Operator, Role::Leader, Role::Admin];

impl App {
    /// Scores a case's submitted result and keeps the check.
    pub(crate) async fn record_reply_check(&self, case: &Case) -> Result<ReplyCheck> {
        let request = format!("{}\n{}", case.title, case.description);
        let check = check_reply(&request, case.result.as_deref().unwrap_or(""));
        self.store
            .insert_reply_check(&ReplyCheckRow {
                case_id: case.id,
                unit_id: case.unit_id,
                score: check.score as i64,
                relevance: check.relevance as f64,
                findings: serde_json::to_string(&check.findings).unwrap_or_default(),
                checked_at: self.now(),
            })
            .await?;
        Ok(check)
    }

    /// The latest check of a case's reply, as JSON, if a result was submitted.
    pub async fn reply_check_of_case(&self, who: &Principal, number: &str) -> Result<Option<serde_json::Value>> {
        if !who.has_any(CHECK_READERS) {
            return Err(AppError::Forbidden("reply checks are for the hotline's staff".into()));
        }
        // The check shows no contact data: the case is looked up, not viewed.
        let (case, _) = self.visible_case(who, &crate::moves::CaseRef::Number(number.to_string())).await?;
        let Some(row) = self.store.latest_reply_check(case.id).await? else { return Ok(None) };
        Ok(Some(serde_json::json!({
            "score": row.score,
            "relevance": row.relevance,
            "findings": serde_json::from_str::<serde_json::Value>(&row.findings).unwrap_or_default(),
            "checked_at": row.checked_at.with_timezone(&self.reference().calendar.offset()),
        })))
    }

    /// Reply scores per unit over the last `days` days (1 to a year), weakest first.
    pub async fn reply_summary(&self, who: &Principal, days: i64) -> Result<Vec<UnitReplies>> {
        if !who.has_any(SUMMARY_ROLES) {
            return Err(AppError::Forbidden("your roles cannot see reply checks".into()));
        }
        // Said rather than quietly brought into range: a summary over other days than asked misleads.
        if !(1..=MAX_SUMMARY_DAYS).contains(&days) {
            return Err(AppError::invalid("days", format!("must be 1 to {MAX_SUMMARY_DAYS}")));
        }
        let rows: Vec<ReplySummary> = self.store.reply_summary(self.now() - Duration::days(days)).await?;
        let reference = self.reference();
        Ok(rows
            .into_iter()
            .map(|r| UnitReplies {
                unit_name: reference.unit(r.unit_id).map_or_else(String::new, |u| u.name.clone()),
                unit: r.unit_id,
                replies: r.replies,
                average_score: r.average_score,
                weak: r.weak,
            })
            .collect())
    }
}
