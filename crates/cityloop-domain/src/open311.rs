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

/// FixMyStreet's extended status of a case.
pub fn extended_status(case: &Case) -> &'static str {
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
    use crate::ids::UnitId;

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
    }

    #[test]
    fn update_statuses_are_read_case_blind() {
        assert_eq!(update_intent("reopen"), Some(UpdateIntent::Reopen));
        assert_eq!(update_intent("OPEN"), Some(UpdateIntent::Comment));
        assert_eq!(update_intent("FIXED"), Some(UpdateIntent::Comment));
        assert_eq!(update_intent("SOLVED?"), None);
    }
}
