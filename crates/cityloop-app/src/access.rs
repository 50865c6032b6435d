//! 人过留迹 for personal data: every showing of a resident's contact data in clear to someone other
//! than the resident is recorded (who, which case, when, in the course of what), and administrators
//! can read the record.

use chrono::{DateTime, Utc};
use cityloop_domain::masking::mask_numbers_in_text;
use cityloop_domain::Case;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cityloop_domain::access::{AccessEventKind, Watched};
use cityloop_store::{AccessAlertRow, AccessEventFilter, AccessEventRow, ContactViewFilter, ContactViewRow, UserRow};

use crate::admin::require_admin;
use crate::error::{AppError, Result};
use crate::scope::{ContactAccess, Principal};
use crate::App;

/// Longest page of the record.
const MAX_PAGE_SIZE: i64 = 500;

/// Why a user was shown contact data: what they were doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactPurpose {
    /// Opened the case.
    Case,
    /// A list, queue or search that shows the contact of each case.
    List,
    /// The answer to a move they made on the case.
    Move,
    /// The answer to the intake of a case they took down: the contact as they typed it.
    Intake,
}

impl ContactPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Case => "case",
            Self::List => "list",
            Self::Move => "move",
            Self::Intake => "intake",
        }
    }
}

/// Which events an administrator asks for.
#[derive(Debug, Clone, Default)]
pub struct AccessEventQuery {
    pub kind: Option<String>,
    pub username: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// Which records an administrator asks for.
#[derive(Debug, Clone, Default)]
pub struct ContactViewQuery {
    pub username: Option<String>,
    pub case_number: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

impl App {
    /// Records the cases whose contact data `who` is shown in clear (not the resident's own case).
    pub(crate) async fn record_contact_views<'a>(
        &self,
        who: &Principal,
        cases: impl IntoIterator<Item = &'a Case>,
        purpose: ContactPurpose,
    ) -> Result<()> {
        let shown: Vec<_> = cases
            .into_iter()
            .filter(|c| {
                c.contact.is_some()
                    && c.reporter_id != Some(who.user.id)
                    && who.contact_access(c) == ContactAccess::Full
            })
            .map(|c| c.id)
            .collect();
        if shown.is_empty() {
            return Ok(());
        }
        let user = &who.user;
        self.store.record_contact_views(user.id, &user.username, &shown, self.now(), purpose.as_str()).await?;
        Ok(())
    }

    /// The record of contact data shown, newest first, and how many records match (administrators).
    pub async fn contact_views(&self, who: &Principal, q: &ContactViewQuery) -> Result<(Vec<ContactViewRow>, i64)> {
        require_admin(Some(who))?;
        let (limit, offset) = crate::queries::page_window(q.page, q.page_size, 100, MAX_PAGE_SIZE)?;
        let mut f = ContactViewFilter { limit, offset, ..Default::default() };
        f.user_id = self.named_user(q.username.as_deref()).await?;
        if let Some(number) = q.case_number.as_deref().filter(|n| !n.is_empty()) {
            let case = match self.store.case_by_number(number).await {
                Err(cityloop_store::StoreError::NotFound) => {
                    Err(AppError::invalid("case", format!("no case `{number}`")))
                }
                other => Ok(other?),
            }?;
            f.case_id = Some(case.id);
        }
        (f.from, f.to) = self.time_window(q.from.as_deref(), q.to.as_deref())?;
        Ok(self.store.contact_views(&f).await?)
    }
}

/// From and until when a record filter reaches.
type TimeWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

impl App {
    /// The user a record filter names (`user`), if any.
    async fn named_user(&self, username: Option<&str>) -> Result<Option<cityloop_domain::UserId>> {
        let Some(username) = username.filter(|u| !u.is_empty()) else { return Ok(None) };
        let user = self.store.user_by_username(username).await?;
        Ok(Some(user.ok_or_else(|| AppError::invalid("user", format!("no user `{username}`")))?.id))
    }

    /// The times a record filter gives (`from`, `to`: RFC 3339 times or local dates, `to` inclusive).
    fn time_window(&self, from: Option<&str>, to: Option<&str>) -> Result<TimeWindow> {
        let from = from.filter(|t| !t.is_empty()).map(|t| self.parse_time("from", t, false)).transpose()?;
        let to = to.filter(|t| !t.is_empty()).map(|t| self.parse_time("to", t, true)).transpose()?;
        Ok((from, to))
    }
}

/// What one request did that the unusual-access watch counts, filled in while it is answered: who
/// the caller turned out to be, and whether it was a sign-in. The surface that serves the request
/// hands a fresh one to each request and records it once the answer is known.
#[derive(Debug, Clone, Default)]
pub struct RequestWatch(Arc<Mutex<Watching>>);

#[derive(Debug, Default)]
struct Watching {
    caller: Option<UserRow>,
    signed_in: bool,
}

impl RequestWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watching> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The request turned out to come from `user`.
    pub fn caller(&self, user: &UserRow) {
        self.lock().caller = Some(user.clone());
    }

    /// The request signed `user` in.
    pub fn signed_in(&self, user: &UserRow) {
        let mut w = self.lock();
        w.caller = Some(user.clone());
        w.signed_in = true;
    }

    /// Records what the request did, now that its answer's `status` is known: a sign-in from
    /// `address`, or the refusal (403) of a signed-in caller.
    pub async fn record(&self, app: &App, address: &str, method: &str, path: &str, status: u16) -> Result<()> {
        let (caller, signed_in) = {
            let w = self.lock();
            (w.caller.clone(), w.signed_in)
        };
        let Some(user) = caller else { return Ok(()) };
        let detail = format!("{method} {path}");
        if signed_in {
            app.record_access_event(&user, AccessEventKind::Login, Some(address), &detail, 1).await?;
        } else if status == 403 {
            app.record_access_event(&user, AccessEventKind::Forbidden, Some(address), &detail, 1).await?;
        }
        Ok(())
    }
}

/// The records behind an alert: which list (`contact-views` or `access-events`) and the query that
/// selects that user's records of the alert's kind and day.
pub fn alert_records(alert: &AccessAlertRow) -> (&'static str, String) {
    let day = alert.day.as_str();
    let kind = Watched::ALL.into_iter().find(|w| w.alert_kind() == alert.kind).and_then(Watched::event_kind);
    let mut query = vec![("user", alert.username.as_str()), ("from", day), ("to", day), ("page_size", "500")];
    let list = match kind {
        None => "contact-views",
        Some(kind) => {
            query.insert(0, ("kind", kind.as_str()));
            "access-events"
        }
    };
    (list, serde_urlencoded::to_string(query).unwrap_or_default())
}

/// Longest list of alerts.
const MAX_ALERTS: i64 = 1_000;

impl App {
    /// Compares each user's day so far — contact data shown, cases exported, addresses signed in
    /// from, requests refused — with their own daily average, and raises (or brings up to date) an
    /// alert for each unusual one; how many there are.
    pub async fn watch_access(&self) -> Result<usize> {
        let rules = self.settings.access;
        let now = self.now();
        let calendar = self.reference().calendar.clone();
        let today = calendar.local_date(now);
        let midnight = calendar.local_midnight(today);
        let first_day = calendar.local_midnight(today - chrono::Days::new(rules.baseline_days.max(1) as u64));
        let day_offset_ms = i64::from(calendar.offset().local_minus_utc()) * 1000;
        let mut unusual = 0;
        for what in Watched::ALL {
            let per_user = |from, to| async move {
                match what.event_kind() {
                    None => self.store.contact_views_per_user(from, to).await,
                    Some(kind) => self.store.access_events_per_user(kind.as_str(), from, to, day_offset_ms).await,
                }
            };
            let todays = per_user(midnight, now + chrono::Duration::milliseconds(1)).await?;
            if todays.is_empty() {
                continue;
            }
            let history: HashMap<_, i64> =
                per_user(first_day, midnight).await?.into_iter().map(|u| (u.user_id, u.count)).collect();
            for user in &todays {
                let baseline = rules.baseline(history.get(&user.user_id).copied().unwrap_or(0));
                if rules.is_unusual(what, user.count, baseline) {
                    self.store.raise_access_alert(what.alert_kind(), user, &today.to_string(), baseline, now).await?;
                    unusual += 1;
                }
            }
        }
        Ok(unusual)
    }

    /// Records an event the watch counts: a sign-in (with the client's address), an export (amount:
    /// the cases in it) or a refused request.
    pub async fn record_access_event(
        &self,
        who: &UserRow,
        kind: AccessEventKind,
        address: Option<&str>,
        detail: &str,
        amount: i64,
    ) -> Result<()> {
        let detail: String = detail.chars().take(500).collect();
        let event = AccessEventRow {
            id: 0,
            kind: kind.as_str().to_string(),
            user_id: who.id,
            username: who.username.clone(),
            at: self.now(),
            address: address.map(|a| a.chars().take(100).collect()),
            detail,
            amount,
        };
        Ok(self.store.record_access_event(&event).await?)
    }

    /// The events recorded for the watch, newest first, and how many match (administrators).
    pub async fn access_events(&self, who: &Principal, q: &AccessEventQuery) -> Result<(Vec<AccessEventRow>, i64)> {
        require_admin(Some(who))?;
        let (limit, offset) = crate::queries::page_window(q.page, q.page_size, 100, MAX_PAGE_SIZE)?;
        let mut f = AccessEventFilter { limit, offset, ..Default::default() };
        if let Some(kind) = q.kind.as_deref().filter(|k| !k.is_empty()) {
            let known = AccessEventKind::ALL
                .iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| AppError::invalid("kind", format!("`{kind}` is not one of export, login, forbidden")))?;
            f.kind = Some(known.as_str().to_string());
        }
        f.user_id = self.named_user(q.username.as_deref()).await?;
        (f.from, f.to) = self.time_window(q.from.as_deref(), q.to.as_deref())?;
        Ok(self.store.access_events(&f).await?)
    }

    /// The alerts about unusual access, newest first (administrators).
    pub async fn access_alerts(&self, who: &Principal) -> Result<Vec<AccessAlertRow>> {
        require_admin(Some(who))?;
        Ok(self.store.access_alerts(MAX_ALERTS).await?)
    }
}

/// Cases anonymised per transaction.
const ANONYMIZE_BATCH: i64 = 500;

impl App {
    /// Removes the resident data of cases closed more than `retention_months` ago (0: kept for ever):
    /// the contact fields are emptied and phone numbers, ID numbers and e-mail addresses typed into
    /// the title and description are masked. The flow records, which hold no contact data and are
    /// chained for tamper evidence, stay as they are. How many cases were anonymised.
    pub async fn anonymize_expired_cases(&self) -> Result<u64> {
        let months = self.settings.retention_months;
        if months == 0 {
            return Ok(0);
        }
        let now = self.now();
        let before = now.checked_sub_months(chrono::Months::new(months)).unwrap_or(now);
        let mut total = 0;
        loop {
            let due = self.store.cases_to_anonymize(before, ANONYMIZE_BATCH).await?;
            if due.is_empty() {
                return Ok(total);
            }
            let masked: Vec<_> = due
                .into_iter()
                .map(|c| cityloop_store::CaseTexts {
                    title: mask_numbers_in_text(&c.title),
                    description: mask_numbers_in_text(&c.description),
                    ..c
                })
                .collect();
            let changed = self.store.anonymize_cases(&masked, now).await?;
            total += changed;
            if changed == 0 {
                // Every case of the batch changed meanwhile (reopened): nothing more this time.
                return Ok(total);
            }
        }
    }
}
