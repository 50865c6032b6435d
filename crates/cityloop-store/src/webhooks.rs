//! Storage for webhooks: subscriptions, the deliveries their events became, and every attempt to send
//! one. A subscription keeps a cursor into the flow records, so that events are taken from the flow
//! (written in the same transaction as each move) and none is lost when a node stops.

use chrono::{DateTime, Utc};
use cityloop_domain::{CaseId, FlowEntry};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::args::Sql;
use crate::cases::flow_from_row;
use crate::rows::{from_ms, get_opt_ms, ms};
use crate::{Result, Store, StoreError};

/// A subscription of another system to events.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret: String,
    pub allow_private: bool,
    pub active: bool,
    pub flow_cursor: i64,
    /// The last risk signal turned into deliveries.
    pub signal_cursor: i64,
    pub created_at: DateTime<Utc>,
}

/// Which of a subscription's cursors a run of deliveries moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Flow,
    Signal,
}

/// A subscription to store.
#[derive(Debug, Clone)]
pub struct NewWebhookRow<'a> {
    pub url: &'a str,
    pub events: &'a [String],
    pub description: &'a str,
    pub secret: &'a str,
    pub allow_private: bool,
    pub created_by: Option<i64>,
}

/// What a delivery has come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet delivered; sent when `next_attempt_at` comes.
    Pending,
    Delivered,
    /// Given up after the last attempt (the dead-letter list); an administrator may send it again.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead].into_iter().find(|v| v.as_str() == s)
    }
}

/// One event for one subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event: String,
    pub event_id: String,
    pub case_id: Option<CaseId>,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery to store: the event, its stable id, the case it is about and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub event: String,
    pub event_id: String,
    pub case_id: Option<CaseId>,
    pub payload: String,
}

/// A flow record with what an event tells about its case.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowEvent {
    pub flow_id: i64,
    pub case_id: CaseId,
    pub flow: FlowEntry,
    pub number: String,
    pub case_state: String,
    pub channel: String,
    pub request_type: String,
    pub title: String,
    pub category_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub division_id: Option<i64>,
    pub grid_id: Option<i64>,
    pub deadline: Option<DateTime<Utc>>,
    pub confidential: bool,
}

/// How an attempt ended, and so what becomes of the delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    Dead,
}

const WEBHOOK_COLUMNS: &str =
    "id, url, events, description, secret, allow_private, active, flow_cursor, signal_cursor, created_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event, event_id, case_id, payload, state, attempts, next_attempt_at, \
    last_status, last_error, created_at, delivered_at";

fn webhook_row(r: &AnyRow) -> Result<WebhookRow> {
    let events: String = r.try_get("events")?;
    Ok(WebhookRow {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events).map_err(|_| StoreError::Corrupt(format!("webhook events `{events}`")))?,
        description: r.try_get("description")?,
        secret: r.try_get("secret")?,
        allow_private: r.try_get::<i64, _>("allow_private")? != 0,
        active: r.try_get::<i64, _>("active")? != 0,
        flow_cursor: r.try_get("flow_cursor")?,
        signal_cursor: r.try_get("signal_cursor")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

fn delivery_row(r: &AnyRow) -> Result<DeliveryRow> {
    let state: String = r.try_get("state")?;
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event: r.try_get("event")?,
        event_id: r.try_get("event_id")?,
        case_id: r.try_get::<Option<i64>, _>("case_id")?.map(CaseId),
        payload: r.try_get("payload")?,
        state: DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("delivery state `{state}`")))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_ms(r.try_get("next_attempt_at")?),
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        created_at: from_ms(r.try_get("created_at")?),
        delivered_at: get_opt_ms(r, "delivered_at")?,
    })
}

impl Store {
    /// Stores a subscription; it starts after the newest flow record, so history is not sent.
    pub async fn insert_webhook(&self, new: &NewWebhookRow<'_>, at: DateTime<Utc>) -> Result<i64> {
        let row = sqlx::query(
            "insert into webhooks (url, events, description, secret, allow_private, active, flow_cursor, signal_cursor, \
             created_by, created_at) values ($1, $2, $3, $4, $5, 1, (select coalesce(max(id), 0) from flow), \
             (select coalesce(max(id), 0) from signals), $6, $7) returning id",
        )
        .bind(new.url.to_string())
        .bind(serde_json::to_string(new.events).unwrap_or_else(|_| "[]".into()))
        .bind(new.description.to_string())
        .bind(new.secret.to_string())
        .bind(i64::from(new.allow_private))
        .bind(new.created_by)
        .bind(ms(at))
        .fetch_one(self.writer())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Every subscription, newest first.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        let rows = sqlx::query(&format!("select {WEBHOOK_COLUMNS} from webhooks order by id desc"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    /// The subscriptions that receive events.
    pub async fn active_webhooks(&self) -> Result<Vec<WebhookRow>> {
        let rows = sqlx::query(&format!("select {WEBHOOK_COLUMNS} from webhooks where active = 1 order by id"))
            .fetch_all(self.writer())
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    /// Stops a subscription; its deliveries stay in the log, the pending ones as dead letters.
    pub async fn deactivate_webhook(&self, id: i64) -> Result<()> {
        let mut tx = self.writer().begin().await?;
        let done = sqlx::query("update webhooks set active = 0 where id = $1 and active = 1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "update webhook_deliveries set state = 'dead', lease_until = null, lease_token = null, \
             last_error = 'the subscription was stopped' where webhook_id = $1 and state = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Flow records after `cursor`, oldest first, with their case's public facts.
    pub async fn flow_events_after(&self, cursor: i64, limit: i64) -> Result<Vec<FlowEvent>> {
        let rows = sqlx::query(
            "select f.id, f.case_id, f.kind, f.from_state, f.to_state, f.actor_id, f.actor_name, f.role, f.unit_id, \
             f.at, f.note, f.attachments, f.data, c.number as case_number, c.state as case_state, \
             c.channel as case_channel, c.request_type as case_type, c.title as case_title, \
             c.category_id as case_category, c.unit_id as case_unit, c.division_id as case_division, \
             c.grid_id as case_grid, c.deadline as case_deadline, c.confidential as case_confidential \
             from flow f join cases c on c.id = f.case_id where f.id > $1 order by f.id limit $2",
        )
        .bind(cursor)
        .bind(limit)
        .fetch_all(self.writer())
        .await?;
        rows.iter()
            .map(|r| {
                let (flow_id, flow) = flow_from_row(r)?;
                Ok(FlowEvent {
                    flow_id,
                    case_id: CaseId(r.try_get("case_id")?),
                    flow,
                    number: r.try_get("case_number")?,
                    case_state: r.try_get("case_state")?,
                    channel: r.try_get("case_channel")?,
                    request_type: r.try_get("case_type")?,
                    title: r.try_get("case_title")?,
                    category_id: r.try_get("case_category")?,
                    unit_id: r.try_get("case_unit")?,
                    division_id: r.try_get("case_division")?,
                    grid_id: r.try_get("case_grid")?,
                    deadline: get_opt_ms(r, "case_deadline")?,
                    confidential: r.try_get::<i64, _>("case_confidential")? != 0,
                })
            })
            .collect()
    }

    /// Stores a subscription's deliveries and moves its cursor from `from` to `to`, in one transaction.
    /// Returns `false` (storing nothing) when another node moved the cursor first; an event already
    /// stored for the subscription is not stored twice.
    pub async fn enqueue_deliveries(
        &self,
        cursor: Cursor,
        webhook_id: i64,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        let column = match cursor {
            Cursor::Flow => "flow_cursor",
            Cursor::Signal => "signal_cursor",
        };
        let moved = sqlx::query(&format!("update webhooks set {column} = $1 where id = $2 and {column} = $3"))
            .bind(to)
            .bind(webhook_id)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for d in deliveries {
            sqlx::query(
                "insert into webhook_deliveries (webhook_id, event, event_id, case_id, payload, state, attempts, \
                 next_attempt_at, created_at) values ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
                 on conflict (webhook_id, event_id) do nothing",
            )
            .bind(webhook_id)
            .bind(d.event.clone())
            .bind(d.event_id.clone())
            .bind(d.case_id.map(|c| c.0))
            .bind(d.payload.clone())
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Pending deliveries whose time has come and that no node holds, oldest first.
    pub async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(&format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries where state = 'pending' and next_attempt_at <= $1 \
             and (lease_until is null or lease_until <= $1) and webhook_id in (select id from webhooks where active = 1) \
             order by next_attempt_at, id limit $2"
        ))
        .bind(ms(now))
        .bind(limit)
        .fetch_all(self.writer())
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    /// Takes a delivery that is still due for sending until `until` under `token`, and answers how many
    /// attempts it has had; `None` when another node took it (or sent it) first.
    pub async fn lease_delivery(
        &self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        token: &str,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "update webhook_deliveries set lease_until = $1, lease_token = $2 where id = $3 and state = 'pending' \
             and next_attempt_at <= $4 and (lease_until is null or lease_until <= $4) \
             and webhook_id in (select id from webhooks where active = 1) returning attempts",
        )
        .bind(ms(until))
        .bind(token.to_string())
        .bind(id)
        .bind(ms(now))
        .fetch_optional(self.writer())
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Logs an attempt and, when this node still holds the lease under `token`, moves the delivery on
    /// (delivered, retried later or dead) and releases it. Answers whether the delivery moved on.
    pub async fn record_attempt(&self, attempt: &AttemptRow, outcome: &AttemptOutcome, token: &str) -> Result<bool> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "insert into webhook_attempts (delivery_id, at, status, error, duration_ms) values ($1, $2, $3, $4, $5)",
        )
        .bind(attempt.delivery_id)
        .bind(ms(attempt.at))
        .bind(attempt.status)
        .bind(attempt.error.clone())
        .bind(attempt.duration_ms)
        .execute(&mut *tx)
        .await?;
        let (state, next, delivered) = match outcome {
            AttemptOutcome::Delivered => (DeliveryState::Delivered, attempt.at, Some(ms(attempt.at))),
            AttemptOutcome::RetryAt(next) => (DeliveryState::Pending, *next, None),
            AttemptOutcome::Dead => (DeliveryState::Dead, attempt.at, None),
        };
        let moved = sqlx::query(
            "update webhook_deliveries set state = $1, attempts = attempts + 1, next_attempt_at = $2, \
             lease_until = null, lease_token = null, last_status = $3, last_error = $4, delivered_at = $5 \
             where id = $6 and state = 'pending' and lease_token = $7",
        )
        .bind(state.as_str())
        .bind(ms(next))
        .bind(attempt.status)
        .bind(attempt.error.clone())
        .bind(delivered)
        .bind(attempt.delivery_id)
        .bind(token.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Deliveries, newest first, of one subscription and/or in one state.
    pub async fn list_deliveries(
        &self,
        webhook_id: Option<i64>,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let mut sql = Sql::new(&format!("select {DELIVERY_COLUMNS} from webhook_deliveries where 1 = 1"));
        if let Some(id) = webhook_id {
            sql.push(" and webhook_id = ").bind(id);
        }
        if let Some(state) = state {
            sql.push(" and state = ").bind(state.as_str());
        }
        sql.push(" order by id desc limit ").bind(limit);
        let rows = sql.query().fetch_all(self.reader()).await?;
        rows.iter().map(delivery_row).collect()
    }

    /// One delivery.
    pub async fn get_delivery(&self, id: i64) -> Result<DeliveryRow> {
        let row = sqlx::query(&format!("select {DELIVERY_COLUMNS} from webhook_deliveries where id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?
            .ok_or(StoreError::NotFound)?;
        delivery_row(&row)
    }

    /// The attempts at a delivery, oldest first.
    pub async fn delivery_attempts(&self, delivery_id: i64) -> Result<Vec<AttemptRow>> {
        let rows = sqlx::query(
            "select delivery_id, at, status, error, duration_ms from webhook_attempts where delivery_id = $1 order by id",
        )
        .bind(delivery_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRow {
                    delivery_id: r.try_get(0)?,
                    at: from_ms(r.try_get(1)?),
                    status: r.try_get(2)?,
                    error: r.try_get(3)?,
                    duration_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Puts a dead delivery back in the queue with a fresh set of attempts.
    pub async fn requeue_delivery(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "update webhook_deliveries set state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = null \
             where id = $2 and state = 'dead' and webhook_id in (select id from webhooks where active = 1)",
        )
        .bind(ms(now))
        .bind(id)
        .execute(self.writer())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
