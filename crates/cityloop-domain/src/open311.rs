//! How cityloop's states read in Open311 GeoReport v2: the spec's `open`/`closed` and the extended
//! statuses of FixMyStreet's `servicerequestupdates`.

use crate::case::Case;
use crate::enums::State;

/// The spec's status: a request is closed when no more work happens on it.
pub fn status(state: State) -> &'static str {
    if state.is_terminal() {
        "closed"
    } else {
        "open"
    }
}

/// How the `status` field of requests and updates reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusStyle {
    /// The spec's `open` or `closed`; the finer status goes in `extended_status`.
    #[default]
    Spec,
    /// FixMyStreet's statuses in lower case (`fixed`, `in_progress`, `action_scheduled`…) in `status`
    /// itself, as mySociety's Open311 adapters send them and FixMyStreet reads them.
    Fixmystreet,
}

/// The `status` of a request or update in a style, from its state and extended status.
pub fn status_in(style: StatusStyle, state: State, extended: &str) -> &'static str {
    match style {
        StatusStyle::Spec => status(state),
        StatusStyle::Fixmystreet => match extended {
            "FOR_TRIAGE" => "for_triage",
            "INVESTIGATING" => "investigating",
            "REOPEN" => "reopen",
            "ACTION_SCHEDULED" => "action_scheduled",
            "INTERNAL_REFERRAL" => "internal_referral",
            "IN_PROGRESS" => "in_progress",
            "FIXED" => "fixed",
            "DUPLICATE" => "duplicate",
            // FixMyStreet has no `cancelled` in its update statuses; a voided request is simply closed.
            "CLOSED" | "CANCELLED" => "closed",
            _ => status(state),
        },
    }
}

/// FixMyStreet's extended status of a case.
pub fn extended_status(case: &Case) -> &'static str {
    // A duplicate stays one after it closed with its master: its handling was the master's.
    if case.master_id.is_some() && case.state == State::Closed {
        return "DUPLICATE";
    }
    extended_status_of(case.state, case.unit_id.is_some(), case.reopens > 0)
}

/// FixMyStreet's extended status of a state: `handled` when a unit worked on the case, `reopened`
/// after a reopening.
pub fn extended_status_of(state: State, handled: bool, reopened: bool) -> &'static str {
    match state {
        State::Reported => "FOR_TRIAGE",
        State::Verifying => "INVESTIGATING",
        State::Registered if reopened => "REOPEN",
        State::Registered => "OPEN",
        State::PendingSign | State::Suspended => "ACTION_SCHEDULED",
        State::ReturnReview => "INTERNAL_REFERRAL",
        State::Handling => "IN_PROGRESS",
        State::Feedback | State::ClosePending => "FIXED",
        // Answered on the spot (a consultation) is closed without a fix.
        State::Closed if !handled => "CLOSED",
        State::Closed => "FIXED",
        State::Voided => "CANCELLED",
        State::Merged => "DUPLICATE",
    }
}

/// What a resident's update sent with a FixMyStreet status asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateIntent {
    /// The resident says the problem is back or was not fixed (`REOPEN`).
    Reopen,
    /// A comment only.
    Comment,
}

/// Reads the status of an incoming update; `None` for a status no client sends.
pub fn update_intent(status: &str) -> Option<UpdateIntent> {
    match status.trim().to_ascii_uppercase().as_str() {
        // FixMyStreet sends OPEN with any comment on a report it believes open: only REOPEN reopens.
        "REOPEN" => Some(UpdateIntent::Reopen),
        ""
        | "OPEN"
        | "CLOSED"
        | "FIXED"
        | "IN_PROGRESS"
        | "ACTION_SCHEDULED"
        | "INVESTIGATING"
        | "DUPLICATE"
        | "NOT_COUNCILS_RESPONSIBILITY"
        | "NO_FURTHER_ACTION"
        | "INTERNAL_REFERRAL"
        | "FOR_TRIAGE"
        | "CANCELLED" => Some(UpdateIntent::Comment),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{Channel, RequestType, Urgency};
    use crate::ids::{CaseId, UnitId};

    fn case_in(state: State) -> Case {
        let mut c = Case::reported(
            Channel::Open311,
            RequestType::Help,
            "t".into(),
            "d".into(),
            Urgency::Normal,
            Default::default(),
        );
        c.state = state;
        c
    }

    #[test]
    fn terminal_states_are_closed_and_the_rest_open() {
        for s in State::ALL {
            assert_eq!(status(*s) == "closed", s.is_terminal(), "{s}");
        }
    }

    #[test]
    fn extended_statuses_follow_the_loop() {
        assert_eq!(extended_status(&case_in(State::Reported)), "FOR_TRIAGE");
        assert_eq!(extended_status(&case_in(State::Handling)), "IN_PROGRESS");
        assert_eq!(extended_status(&case_in(State::Merged)), "DUPLICATE");
        assert_eq!(extended_status(&case_in(State::Closed)), "CLOSED");
        let mut fixed = case_in(State::Closed);
        fixed.unit_id = Some(UnitId(3));
        assert_eq!(extended_status(&fixed), "FIXED");
        let mut reopened = case_in(State::Registered);
        reopened.reopens = 1;
        assert_eq!(extended_status(&reopened), "REOPEN");
        let mut duplicate = case_in(State::Closed);
        duplicate.master_id = Some(CaseId(7));
        assert_eq!(extended_status(&duplicate), "DUPLICATE", "closed with its master");
    }

    #[test]
    fn the_fixmystreet_style_puts_the_finer_status_in_status() {
        for s in State::ALL {
            let extended = extended_status_of(*s, true, false);
            assert_eq!(status_in(StatusStyle::Spec, *s, extended), status(*s), "{s}");
            let fms = status_in(StatusStyle::Fixmystreet, *s, extended);
            // Every value is one FixMyStreet reads back as an update status.
            assert!(update_intent(fms).is_some(), "{s}: {fms}");
            assert_eq!(fms, fms.to_ascii_lowercase());
        }
        assert_eq!(status_in(StatusStyle::Fixmystreet, State::Handling, "IN_PROGRESS"), "in_progress");
        assert_eq!(status_in(StatusStyle::Fixmystreet, State::Voided, "CANCELLED"), "closed");
        assert_eq!(status_in(StatusStyle::Fixmystreet, State::Registered, "REOPEN"), "reopen");
    }

    #[test]
    fn update_statuses_are_read_case_blind() {
        assert_eq!(update_intent("reopen"), Some(UpdateIntent::Reopen));
        assert_eq!(update_intent("OPEN"), Some(UpdateIntent::Comment));
        assert_eq!(update_intent("FIXED"), Some(UpdateIntent::Comment));
        assert_eq!(update_intent("SOLVED?"), None);
    }
}
