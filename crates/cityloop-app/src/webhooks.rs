//! Webhooks: events about cases, sent to other systems that subscribe to them.
//!
//! Events are read from the flow records (written in the same transaction as every move), so an event
//! exists exactly when its move happened. Each subscription keeps a cursor into the flow; each event
//! becomes one stored delivery, signed with the subscription's secret (HMAC-SHA256), sent with a
//! timeout, retried with exponential backoff and, after the last attempt, left on the dead-letter list
//! for an administrator to send again. Every attempt is logged. Deliveries go only to public addresses
//! unless an administrator allows private ones for the subscription (checked after name resolution,
//! so a public name that resolves to a private address is refused too; redirects are not followed).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cityloop_domain::workflow::MoveKind;
use cityloop_domain::{CategoryId, DivisionId, FlowEntry, GridId, UnitId};
use cityloop_store::webhooks::Cursor;
use cityloop_store::{
    AttemptOutcome, AttemptRow, DeliveryRow, DeliveryState, FlowEvent, NewDelivery, NewWebhookRow, WebhookRow,
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::json;
use sha2::Sha256;

use crate::admin::require_admin;
use crate::error::{AppError, Result};
use crate::{App, Principal};

/// The events a subscription may ask for.
pub const EVENTS: &[&str] = &[CASE_CREATED, CASE_DISPATCHED, CASE_STATE_CHANGED, CASE_OVERDUE, SIGNAL_RAISED];
pub const CASE_CREATED: &str = "case.created";
pub const CASE_DISPATCHED: &str = "case.dispatched";
pub const CASE_STATE_CHANGED: &str = "case.state_changed";
pub const CASE_OVERDUE: &str = "case.overdue";
pub const SIGNAL_RAISED: &str = "signal.raised";

/// Header names of a delivery.
pub const HEADER_EVENT: &str = "x-cityloop-event";
pub const HEADER_DELIVERY: &str = "x-cityloop-delivery";
pub const HEADER_TIMESTAMP: &str = "x-cityloop-timestamp";
pub const HEADER_SIGNATURE: &str = "x-cityloop-signature";

/// Flow records read per step.
const FLOW_BATCH: i64 = 500;

/// How a subscription's readers are named among those that wait on gaps ([`crate::cursor::GapWatch`]).
const GAP_READER_PREFIX: &str = "webhook ";

fn gap_reader(hook: i64, stream: &str) -> String {
    format!("{GAP_READER_PREFIX}{hook} {stream}")
}

/// Deliveries sent per step, and at once.
const SEND_BATCH: i64 = 64;
const SEND_AT_ONCE: usize = 16;
/// The longest wait between two attempts.
const MAX_RETRY_DELAY_SECONDS: u64 = 6 * 3600;

/// How deliveries are sent and retried.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// How often a node looks for new events and due deliveries.
    pub poll_seconds: u64,
    /// How long a receiver has to answer.
    pub timeout_seconds: u64,
    /// Attempts before a delivery goes to the dead-letter list.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one (at most six hours).
    pub first_retry_seconds: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { poll_seconds: 2, timeout_seconds: 10, max_attempts: 10, first_retry_seconds: 30 }
    }
}

/// A subscription to create.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    /// Allows deliveries to private, loopback and link-local addresses (an intranet system).
    pub allow_private: bool,
}

/// What one step of the webhook work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookReport {
    pub queued: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

/// The events a flow record stands for.
pub fn events_of(flow: &FlowEntry) -> Vec<&'static str> {
    let mut events = Vec::new();
    match flow.kind {
        MoveKind::Report => events.push(CASE_CREATED),
        MoveKind::Dispatch => events.push(CASE_DISPATCHED),
        MoveKind::Overdue => events.push(CASE_OVERDUE),
        _ => {}
    }
    if flow.from.is_some_and(|from| from != flow.to) {
        events.push(CASE_STATE_CHANGED);
    }
    events
}

/// The signature of a delivery: `sha256=` and the hex HMAC-SHA256, keyed with the subscription's
/// secret, of the timestamp, a dot and the body (so that a captured body cannot be replayed later
/// under a new timestamp).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// unspecified, multicast, documentation or reserved).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
            let embedded =
                |hi: u16, lo: u16| IpAddr::V4(std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            let carries_v4 = seg[..6] == [0; 6] || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4]);
            if carries_v4 && !is_public_address(embedded(seg[6], seg[7])) {
                return false;
            }
            if seg[0] == 0x2002 && !is_public_address(embedded(seg[1], seg[2])) {
                return false;
            }
            let first = seg[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// The wait before the attempt after `failures` failed ones.
pub fn retry_delay(settings: &WebhookSettings, failures: u32) -> Duration {
    let doubled = settings.first_retry_seconds.saturating_mul(1u64 << failures.saturating_sub(1).min(20));
    Duration::from_secs(doubled.min(MAX_RETRY_DELAY_SECONDS))
}

/// A name that resolved to an address deliveries may not go to.
#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is a private, loopback or reserved address (an administrator may allow it)", self.0)
    }
}

impl std::error::Error for BlockedAddress {}

/// Name resolution that refuses names with any non-public address.
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public_address(a.ip())) {
                return Err(Box::new(BlockedAddress(format!("{host} ({})", bad.ip()))) as _);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP clients deliveries go out with: one for public addresses only, one that may reach
/// private ones.
pub(crate) struct Sender {
    public_only: reqwest::Client,
    any_address: reqwest::Client,
}

impl Sender {
    fn build(timeout: Duration) -> std::result::Result<Self, String> {
        let base = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve names itself, past the address check.
                .no_proxy()
                .user_agent(concat!("cityloop-webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            public_only: base().dns_resolver(Arc::new(PublicOnlyResolver)).build().map_err(|e| e.to_string())?,
            any_address: base().build().map_err(|e| e.to_string())?,
        })
    }
}

/// The lazily built sender of an application.
pub(crate) type SenderSlot = OnceLock<std::result::Result<Sender, String>>;

fn check_url(url: &str, allow_private: bool) -> Result<url::Url> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| AppError::invalid("url", "is not a URL such as https://example.org/hook"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(AppError::invalid("url", "must start with http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(AppError::invalid("url", "must not carry a user name or password; receivers check the signature"));
    }
    match parsed.host() {
        None => return Err(AppError::invalid("url", "has no host")),
        Some(url::Host::Ipv4(ip)) if !allow_private && !is_public_address(ip.into()) => {
            return Err(AppError::invalid("url", BlockedAddress(ip.to_string()).to_string()))
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !is_public_address(ip.into()) => {
            return Err(AppError::invalid("url", BlockedAddress(ip.to_string()).to_string()))
        }
        Some(_) => {}
    }
    Ok(parsed)
}

/// A store error, with "not found" naming what was looked for.
fn not_found(e: cityloop_store::StoreError, what: impl FnOnce() -> String) -> AppError {
    match e {
        cityloop_store::StoreError::NotFound => AppError::NotFound(what()),
        other => other.into(),
    }
}

/// Whether an error (or what caused it) is a refused address.
fn blocked_reason(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(b) = c.downcast_ref::<BlockedAddress>() {
            return Some(b.to_string());
        }
        cause = c.source();
    }
    None
}

/// An error with its causes, for the delivery log.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl App {
    /// Subscribes a system to events; the answer carries the signing secret, which is shown only here
    /// and in the administrators' list (administrators only).
    pub async fn create_webhook(&self, who: &Principal, new: NewWebhook) -> Result<WebhookRow> {
        require_admin(Some(who))?;
        let url = check_url(&new.url, new.allow_private)?;
        let mut events: Vec<String> = Vec::new();
        for e in &new.events {
            let e = e.trim();
            if !EVENTS.contains(&e) {
                return Err(AppError::invalid("events", format!("unknown event `{e}`; known: {}", EVENTS.join(", "))));
            }
            if !events.iter().any(|x| x == e) {
                events.push(e.to_string());
            }
        }
        if events.is_empty() {
            return Err(AppError::invalid("events", format!("name at least one of {}", EVENTS.join(", "))));
        }
        if new.description.chars().count() > 200 {
            return Err(AppError::invalid("description", "must be at most 200 characters"));
        }
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = format!("whsec_{}", hex::encode(bytes));
        let id = self
            .store
            .insert_webhook(
                &NewWebhookRow {
                    url: url.as_str(),
                    events: &events,
                    description: new.description.trim(),
                    secret: &secret,
                    allow_private: new.allow_private,
                    created_by: Some(who.user.id.0),
                },
                self.now(),
            )
            .await?;
        self.store
            .list_webhooks()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| AppError::NotFound(format!("webhook {id}")))
    }

    /// Every subscription (administrators only).
    pub async fn webhooks(&self, who: &Principal) -> Result<Vec<WebhookRow>> {
        require_admin(Some(who))?;
        Ok(self.store.list_webhooks().await?)
    }

    /// Stops a subscription; its log stays (administrators only).
    pub async fn disable_webhook(&self, who: &Principal, id: i64) -> Result<()> {
        require_admin(Some(who))?;
        self.store.deactivate_webhook(id).await.map_err(|e| not_found(e, || format!("active webhook {id}")))
    }

    /// The delivery log, newest first: of one subscription and/or in one state (administrators only).
    pub async fn webhook_deliveries(
        &self,
        who: &Principal,
        webhook: Option<i64>,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        require_admin(Some(who))?;
        Ok(self.store.list_deliveries(webhook, state, limit.clamp(1, 1000)).await?)
    }

    /// One delivery with its attempts (administrators only).
    pub async fn webhook_delivery(&self, who: &Principal, id: i64) -> Result<(DeliveryRow, Vec<AttemptRow>)> {
        require_admin(Some(who))?;
        let delivery = self.store.get_delivery(id).await.map_err(|e| not_found(e, || format!("delivery {id}")))?;
        let attempts = self.store.delivery_attempts(id).await?;
        Ok((delivery, attempts))
    }

    /// Sends a dead delivery again, with a fresh set of attempts (administrators only).
    pub async fn retry_delivery(&self, who: &Principal, id: i64) -> Result<()> {
        require_admin(Some(who))?;
        self.store.requeue_delivery(id, self.now()).await.map_err(|e| not_found(e, || format!("dead delivery {id}")))
    }

    /// The JSON body of an event about a case. Residents' contact data is never in it.
    fn event_payload(&self, event: &str, event_id: &str, e: &FlowEvent) -> serde_json::Value {
        let reference = self.reference();
        let unit = |id: Option<i64>| {
            id.and_then(|u| reference.unit(UnitId(u))).map(|u| json!({ "code": u.code, "name": u.name }))
        };
        let category = e
            .category_id
            .and_then(|c| reference.category(CategoryId(c)))
            .map(|c| json!({ "code": c.code, "name": c.name }));
        let division = e.division_id.and_then(|d| reference.division(DivisionId(d))).map(|d| d.code.clone());
        let grid = e.grid_id.and_then(|g| reference.grid(GridId(g))).map(|g| g.code.clone());
        json!({
            "id": event_id,
            "type": event,
            "occurred_at": e.flow.at,
            "case": {
                "number": e.number,
                "state": e.case_state,
                "channel": e.channel,
                "request_type": e.request_type,
                "title": e.title,
                "category": category,
                "unit": unit(e.unit_id),
                "division": division,
                "grid": grid,
                "deadline": e.deadline,
                "confidential": e.confidential,
            },
            "move": {
                "kind": e.flow.kind.as_str(),
                "from": e.flow.from.map(|s| s.as_str()),
                "to": e.flow.to.as_str(),
                "role": e.flow.role.map(|r| r.as_str()),
                "unit": unit(e.flow.unit_id.map(|u| u.0)),
            },
        })
    }

    /// Turns the flow records after each subscription's cursor into deliveries. Imported history is
    /// not an event. Safe on several nodes: a cursor moves only from where its reader found it.
    pub async fn queue_webhook_events(&self) -> Result<usize> {
        let mut queued = 0;
        let hooks = self.store.active_webhooks().await?;
        // Subscriptions switched off, here or on another node, wait on no gaps any more.
        let reading: HashSet<String> =
            hooks.iter().flat_map(|h| [gap_reader(h.id, "flow"), gap_reader(h.id, "signal")]).collect();
        self.gaps.forget(|reader| reader.starts_with(GAP_READER_PREFIX) && !reading.contains(reader));
        for hook in hooks {
            let mut cursor = hook.flow_cursor;
            loop {
                let horizon = self.store.transaction_horizon().await?;
                let batch = self.store.flow_events_after(cursor, FLOW_BATCH).await?;
                let full = batch.len() as i64 == FLOW_BATCH;
                let ids: Vec<i64> = batch.iter().map(|e| e.flow_id).collect();
                let reader = gap_reader(hook.id, "flow");
                let ready = &batch[..self.ready_to_take(horizon, &reader, cursor, &ids).await?];
                let Some(last) = ready.last().map(|e| e.flow_id) else { break };
                let deliveries: Vec<NewDelivery> = ready
                    .iter()
                    .filter(|e| e.flow.data.get("import").is_none())
                    .flat_map(|e| events_of(&e.flow).into_iter().map(move |event| (e, event)))
                    .filter(|(_, event)| hook.events.iter().any(|x| x == event))
                    .map(|(e, event)| {
                        let event_id = format!("evt_{}_{}", e.flow_id, event.trim_start_matches("case."));
                        NewDelivery {
                            event: event.to_string(),
                            payload: self.event_payload(event, &event_id, e).to_string(),
                            event_id,
                            case_id: Some(e.case_id),
                        }
                    })
                    .collect();
                if !self.store.enqueue_deliveries(Cursor::Flow, hook.id, cursor, last, &deliveries, self.now()).await? {
                    break; // another node took this stretch
                }
                queued += deliveries.len();
                cursor = last;
                if !full || ready.len() < batch.len() {
                    break;
                }
            }
            if hook.events.iter().any(|e| e == SIGNAL_RAISED) {
                queued += self.queue_signal_events(&hook).await?;
            }
        }
        Ok(queued)
    }

    /// Turns the risk signals stored after a subscription's signal cursor into deliveries.
    async fn queue_signal_events(&self, hook: &WebhookRow) -> Result<usize> {
        let mut cursor = hook.signal_cursor;
        let mut queued = 0;
        loop {
            let horizon = self.store.transaction_horizon().await?;
            let batch = self.store.signals_after(cursor, FLOW_BATCH).await?;
            let full = batch.len() as i64 == FLOW_BATCH;
            let ids: Vec<i64> = batch.iter().map(|s| s.id).collect();
            let reader = gap_reader(hook.id, "signal");
            let ready = &batch[..self.ready_to_take(horizon, &reader, cursor, &ids).await?];
            let Some(last) = ready.last().map(|s| s.id) else { break };
            let mut deliveries = Vec::with_capacity(ready.len());
            for row in ready {
                let event_id = format!("evt_signal_{}", row.id);
                let view = self.signal_view_of(row);
                let payload = json!({
                    "id": event_id,
                    "type": SIGNAL_RAISED,
                    "occurred_at": row.created_at,
                    "signal": view,
                });
                deliveries.push(NewDelivery {
                    event: SIGNAL_RAISED.to_string(),
                    event_id,
                    case_id: None,
                    payload: payload.to_string(),
                });
            }
            if !self.store.enqueue_deliveries(Cursor::Signal, hook.id, cursor, last, &deliveries, self.now()).await? {
                break;
            }
            queued += deliveries.len();
            cursor = last;
            if !full || ready.len() < batch.len() {
                break;
            }
        }
        Ok(queued)
    }

    fn sender(&self) -> Result<&Sender> {
        let timeout = Duration::from_secs(self.settings.webhooks.timeout_seconds.max(1));
        self.webhook_sender
            .get_or_init(|| Sender::build(timeout))
            .as_ref()
            .map_err(|e| AppError::NotReady(format!("webhooks cannot send: {e}")))
    }

    /// Sends one delivery and says how the attempt ended.
    async fn attempt(&self, hook: &WebhookRow, d: &DeliveryRow, attempts_before: i64) -> (AttemptRow, AttemptOutcome) {
        let now = self.now();
        let started = Instant::now();
        let timestamp = now.timestamp();
        let (status, error, permanent) = match (self.sender(), check_url(&hook.url, hook.allow_private)) {
            (Err(e), _) => (None, Some(e.to_string()), false),
            (_, Err(e)) => (None, Some(e.to_string()), true),
            (Ok(sender), Ok(url)) => {
                let client = if hook.allow_private { &sender.any_address } else { &sender.public_only };
                let sent = client
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(HEADER_EVENT, &d.event)
                    .header(HEADER_DELIVERY, &d.event_id)
                    .header(HEADER_TIMESTAMP, timestamp.to_string())
                    .header(HEADER_SIGNATURE, signature(&hook.secret, timestamp, d.payload.as_bytes()))
                    .body(d.payload.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => (Some(i64::from(r.status().as_u16())), None, false),
                    Ok(mut r) => {
                        let status = r.status();
                        // The start of the answer is enough for the log; a huge body is not read.
                        let first = r.chunk().await.ok().flatten().unwrap_or_default();
                        let text: String =
                            String::from_utf8_lossy(&first[..first.len().min(800)]).chars().take(200).collect();
                        let said = if text.trim().is_empty() { String::new() } else { format!(": {}", text.trim()) };
                        (Some(i64::from(status.as_u16())), Some(format!("answered {status}{said}")), false)
                    }
                    Err(e) => match blocked_reason(&e) {
                        Some(reason) => (None, Some(reason), true),
                        None => (None, Some(error_chain(&e)), false),
                    },
                }
            }
        };
        let failures = u32::try_from(attempts_before).unwrap_or(u32::MAX).saturating_add(1);
        let outcome = if error.is_none() {
            AttemptOutcome::Delivered
        } else if permanent || failures >= self.settings.webhooks.max_attempts {
            AttemptOutcome::Dead
        } else {
            let wait = retry_delay(&self.settings.webhooks, failures);
            AttemptOutcome::RetryAt(now + chrono::Duration::from_std(wait).unwrap_or_default())
        };
        let attempt = AttemptRow {
            delivery_id: d.id,
            at: now,
            status,
            error,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        (attempt, outcome)
    }

    /// Sends the deliveries that are due, several at once. Each is leased just before it is sent (so
    /// the lease covers the send) and only the lease holder records the outcome: two nodes never both
    /// move a delivery on, and one that another node already sent is not sent again.
    pub async fn send_due_webhooks(&self) -> Result<WebhookReport> {
        let mut report = WebhookReport::default();
        let due = self.store.due_deliveries(self.now(), SEND_BATCH).await?;
        if due.is_empty() {
            return Ok(report);
        }
        let hooks = self.store.active_webhooks().await?;
        let hold =
            chrono::Duration::seconds(i64::try_from(self.settings.webhooks.timeout_seconds).unwrap_or(60) * 2 + 30);
        let mut sending = tokio::task::JoinSet::new();
        for d in due {
            let Some(hook) = hooks.iter().find(|h| h.id == d.webhook_id).cloned() else { continue };
            while sending.len() >= SEND_AT_ONCE {
                if let Some(done) = sending.join_next().await {
                    self.record(done, &mut report).await;
                }
            }
            let now = self.now();
            let mut token = [0u8; 12];
            rand::thread_rng().fill_bytes(&mut token);
            let token = hex::encode(token);
            let Some(attempts) = self.store.lease_delivery(d.id, now, now + hold, &token).await? else { continue };
            let app = self.clone();
            sending.spawn(async move {
                let (attempt, outcome) = app.attempt(&hook, &d, attempts).await;
                (attempt, outcome, token)
            });
        }
        while let Some(done) = sending.join_next().await {
            self.record(done, &mut report).await;
        }
        Ok(report)
    }

    /// Stores how an attempt ended; a failure to store it is logged, and the delivery is sent again
    /// when its lease runs out.
    async fn record(
        &self,
        done: std::result::Result<(AttemptRow, AttemptOutcome, String), tokio::task::JoinError>,
        report: &mut WebhookReport,
    ) {
        let (attempt, outcome, token) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "a webhook delivery task failed");
                return;
            }
        };
        match self.store.record_attempt(&attempt, &outcome, &token).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(delivery = attempt.delivery_id, "webhook delivery lease lost; outcome logged only");
                return;
            }
            Err(e) => {
                tracing::warn!(delivery = attempt.delivery_id, error = %e, "webhook attempt not stored");
                return;
            }
        }
        match outcome {
            AttemptOutcome::Delivered => report.delivered += 1,
            AttemptOutcome::RetryAt(_) => report.retried += 1,
            AttemptOutcome::Dead => {
                tracing::warn!(delivery = attempt.delivery_id, error = ?attempt.error, "webhook delivery given up");
                report.dead += 1
            }
        }
    }

    /// One step: queue new events, then send what is due.
    pub async fn run_webhooks_once(&self) -> Result<WebhookReport> {
        let queued = self.queue_webhook_events().await?;
        let mut report = self.send_due_webhooks().await?;
        report.queued = queued;
        Ok(report)
    }

    /// Runs the webhook steps every `every` until `shutdown` changes.
    pub async fn run_webhooks(&self, every: Duration, shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut shutdown = shutdown;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => match self.run_webhooks_once().await {
                    Ok(r) if r != WebhookReport::default() => tracing::info!(queued = r.queued, delivered = r.delivered, retried = r.retried, dead = r.dead, "webhooks"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhooks failed"),
                },
                _ = shutdown.changed() => break,
            }
        }
    }
}

/// When the next attempt at a delivery is due, for display.
pub fn next_attempt(d: &DeliveryRow) -> Option<DateTime<Utc>> {
    (d.state == DeliveryState::Pending).then_some(d.next_attempt_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityloop_domain::State;

    fn flow(kind: MoveKind, from: Option<State>, to: State) -> FlowEntry {
        FlowEntry {
            kind,
            from,
            to,
            actor_id: None,
            actor_name: String::new(),
            role: None,
            unit_id: None,
            at: Utc::now(),
            note: None,
            attachments: Vec::new(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn each_move_stands_for_its_events() {
        assert_eq!(events_of(&flow(MoveKind::Report, None, State::Reported)), vec![CASE_CREATED]);
        assert_eq!(
            events_of(&flow(MoveKind::Dispatch, Some(State::Registered), State::PendingSign)),
            vec![CASE_DISPATCHED, CASE_STATE_CHANGED]
        );
        // Overdue marks the case without changing its state.
        assert_eq!(
            events_of(&flow(MoveKind::Overdue, Some(State::PendingSign), State::PendingSign)),
            vec![CASE_OVERDUE]
        );
        assert!(events_of(&flow(MoveKind::Comment, Some(State::Handling), State::Handling)).is_empty());
        assert_eq!(
            events_of(&flow(MoveKind::Sign, Some(State::PendingSign), State::Handling)),
            vec![CASE_STATE_CHANGED]
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest().
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(signature("key", 1_700_000_001, b"{}"), signature("key", 1_700_000_000, b"{}"));
        assert_ne!(signature("other", 1_700_000_000, b"{}"), signature("key", 1_700_000_000, b"{}"));
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "198.18.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "114.114.114.114", "2400:3200::1", "64:ff9b::808:808"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn retries_back_off_doubling_up_to_six_hours() {
        let s = WebhookSettings::default();
        let waits: Vec<u64> = (1..=4).map(|n| retry_delay(&s, n).as_secs()).collect();
        assert_eq!(waits, vec![30, 60, 120, 240]);
        assert_eq!(retry_delay(&s, 30).as_secs(), MAX_RETRY_DELAY_SECONDS);
    }

    #[test]
    fn urls_must_be_http_without_credentials_and_public_unless_allowed() {
        assert!(check_url("https://cases.example.gov.cn/hooks", false).is_ok());
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("https://user:pw@example.com/", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/", false).is_err());
        assert!(check_url("http://[::1]:9000/", false).is_err());
        // Decimal and short IPv4 forms are read as the addresses they are.
        assert!(check_url("http://2130706433/", false).is_err());
        assert!(check_url("http://127.1/", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/", true).is_ok());
    }
}
