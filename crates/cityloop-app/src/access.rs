//! 人过留迹 for personal data: every showing of a resident's contact data in clear to someone other
//! than the resident is recorded (who, which case, when, in the course of what), and administrators
//! can read the record.

use cityloop_domain::masking::mask_numbers_in_text;
use cityloop_domain::Case;
use std::collections::HashMap;

use cityloop_store::{AccessAlertRow, ContactViewFilter, ContactViewRow};

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
}

impl ContactPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Case => "case",
            Self::List => "list",
            Self::Move => "move",
        }
    }
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
        if let Some(username) = q.username.as_deref().filter(|u| !u.is_empty()) {
            let user = self.store.user_by_username(username).await?;
            f.user_id = Some(user.ok_or_else(|| AppError::invalid("user", format!("no user `{username}`")))?.id);
        }
        if let Some(number) = q.case_number.as_deref().filter(|n| !n.is_empty()) {
            let case = match self.store.case_by_number(number).await {
                Err(cityloop_store::StoreError::NotFound) => {
                    Err(AppError::invalid("case", format!("no case `{number}`")))
                }
                other => Ok(other?),
            }?;
            f.case_id = Some(case.id);
        }
        if let Some(from) = q.from.as_deref().filter(|t| !t.is_empty()) {
            f.from = Some(self.parse_time("from", from, false)?);
        }
        if let Some(to) = q.to.as_deref().filter(|t| !t.is_empty()) {
            f.to = Some(self.parse_time("to", to, true)?);
        }
        Ok(self.store.contact_views(&f).await?)
    }
}

/// Longest list of alerts.
const MAX_ALERTS: i64 = 1_000;

impl App {
    /// Compares what each user has been shown of residents' contact data today with their own daily
    /// average and raises (or brings up to date) an alert for each unusual one; how many there are.
    pub async fn watch_access(&self) -> Result<usize> {
        let rules = self.settings.access;
        let now = self.now();
        let calendar = self.reference().calendar.clone();
        let today = calendar.local_date(now);
        let midnight = calendar.local_midnight(today);
        let todays = self.store.contact_views_per_user(midnight, now + chrono::Duration::milliseconds(1)).await?;
        if todays.is_empty() {
            return Ok(0);
        }
        let first_day = today - chrono::Days::new(rules.baseline_days.max(1) as u64);
        let history: HashMap<_, i64> = self
            .store
            .contact_views_per_user(calendar.local_midnight(first_day), midnight)
            .await?
            .into_iter()
            .map(|u| (u.user_id, u.count))
            .collect();
        let mut unusual = 0;
        for user in &todays {
            let baseline = rules.baseline(history.get(&user.user_id).copied().unwrap_or(0));
            if rules.is_unusual(user.count, baseline) {
                self.store.raise_access_alert("contact_views", user, &today.to_string(), baseline, now).await?;
                unusual += 1;
            }
        }
        Ok(unusual)
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
