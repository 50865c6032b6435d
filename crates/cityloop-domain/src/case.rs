//! The case: one request or report travelling through the loop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::enums::{Channel, RequestType, Satisfaction, State, Urgency};
use crate::ids::{CaseId, CategoryId, DivisionId, GridId, UnitId, UserId};
use crate::masking::mask_resident_text;
use crate::standard::TimeLimit;

/// Where the problem is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
}

/// How to reach the person who reported it (personal information).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub phone: String,
}

/// A request by the handling unit that waits for the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingRequest {
    /// 延期: more time, counted in the case's timing mode.
    Extension { amount: u32, reason: String },
    /// 挂账: stop the clock until a date.
    Suspension { until: DateTime<Utc>, reason: String },
}

/// The outcome of the revisit (回访).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisit {
    pub contacted: bool,
    pub solved: bool,
    pub satisfaction: Satisfaction,
}

/// A case with everything the workflow needs to decide the next move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub number: String,
    pub state: State,
    /// Bumped by every move; a move based on an older version is refused.
    pub version: i64,
    pub channel: Channel,
    pub request_type: RequestType,
    pub title: String,
    pub description: String,
    pub category_id: Option<CategoryId>,
    pub urgency: Urgency,
    pub location: Option<Location>,
    pub grid_id: Option<GridId>,
    /// The community (or the most specific division known) the case lies in.
    pub division_id: Option<DivisionId>,
    pub contact: Option<Contact>,
    /// 保密: units never see the contact data.
    pub confidential: bool,
    pub reporter_id: Option<UserId>,
    /// The lead unit (主办).
    pub unit_id: Option<UnitId>,
    /// Assisting units (协办).
    pub assisting_units: Vec<UnitId>,
    /// 首办负责: the first unit that received the case keeps coordinating it.
    pub first_unit_id: Option<UnitId>,
    /// The limit that set the current deadline, from the case standard at dispatch.
    pub limit: Option<TimeLimit>,
    pub deadline: Option<DateTime<Utc>>,
    /// When the case first went past its deadline, if ever.
    pub overdue_at: Option<DateTime<Utc>>,
    pub extensions: u32,
    pub suspensions: u32,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspended_until: Option<DateTime<Utc>>,
    pub pending: Option<PendingRequest>,
    pub returns: u32,
    pub reworks: u32,
    pub reopens: u32,
    pub supervision_level: u32,
    pub escalations: u32,
    pub master_id: Option<CaseId>,
    pub result: Option<String>,
    pub revisit: Option<Revisit>,
    /// The resident has rated the outcome on the portal.
    pub rated: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Case {
    /// Whether the case is past its deadline at `now` while its clock runs.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.clock_runs() && self.deadline.is_some_and(|d| d < now)
    }

    /// The unit's result while it stands: from its submission until the case goes back to be handled
    /// again (a failed check, a rework, a reopening), when it is an earlier attempt's.
    pub fn standing_result(&self) -> Option<&str> {
        let handled = matches!(self.state, State::Feedback | State::ClosePending | State::Closed);
        self.result.as_deref().filter(|_| handled)
    }

    /// Masks the phone and ID numbers, and the resident's own name, typed into the title and the
    /// description: those texts are contact data too wherever the contact is not shown in full.
    pub fn mask_resident_texts(&mut self) {
        let name = self.contact.as_ref().map(|c| c.name.as_str());
        self.title = mask_resident_text(&self.title, name);
        self.description = mask_resident_text(&self.description, name);
    }

    /// A new case as it is reported, before it has an id or number.
    #[allow(clippy::too_many_arguments)]
    pub fn reported(
        channel: Channel,
        request_type: RequestType,
        title: String,
        description: String,
        urgency: Urgency,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: CaseId(0),
            number: String::new(),
            state: State::Reported,
            version: 1,
            channel,
            request_type,
            title,
            description,
            category_id: None,
            urgency,
            location: None,
            grid_id: None,
            division_id: None,
            contact: None,
            confidential: false,
            reporter_id: None,
            unit_id: None,
            assisting_units: Vec::new(),
            first_unit_id: None,
            limit: None,
            deadline: None,
            overdue_at: None,
            extensions: 0,
            suspensions: 0,
            suspended_at: None,
            suspended_until: None,
            pending: None,
            returns: 0,
            reworks: 0,
            reopens: 0,
            supervision_level: 0,
            escalations: 0,
            master_id: None,
            result: None,
            revisit: None,
            rated: false,
            created_at: now,
            updated_at: now,
            closed_at: None,
        }
    }
}
