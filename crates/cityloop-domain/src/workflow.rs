//! The workflow engine: every move of the loop, who may make it, from which states, and what it does
//! to the case. [`apply`] is a pure function; storing the outcome (and its flow record) in one
//! transaction, with the version check, is the caller's job.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkCalendar;
use crate::case::{Case, PendingRequest, Revisit};
use crate::enums::{Role, Satisfaction, State, TimingMode};
use crate::ids::{CaseId, CategoryId, UnitId, UserId};
use crate::standard::{CaseStandard, TimeLimit};

/// The limit used when a case has no category standard ("general: 7 days" of the 12345 defaults).
pub const DEFAULT_LIMIT: TimeLimit = TimeLimit { amount: 7, mode: TimingMode::CalendarDays };
/// Extensions allowed per case.
pub const MAX_EXTENSIONS: u32 = 2;
/// Suspensions allowed per case.
pub const MAX_SUSPENSIONS: u32 = 1;
/// The furthest a suspension may reach, in days from its request.
pub const MAX_SUSPENSION_DAYS: i64 = 366;
/// Highest supervision level (1 催办, 2 督办, 3 挂牌督办).
pub const MAX_SUPERVISION_LEVEL: u32 = 3;
/// Longest remark a comment carries.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest text any other move carries (a reason, an answer, a result): flow records are kept for
/// ever and results are published to residents, so a pasted document is refused, not stored.
pub const MAX_MOVE_TEXT_CHARS: usize = 4000;
/// Longest reason given for reopening a case.
pub const MAX_REOPEN_REASON_CHARS: usize = 1000;

macro_rules! move_kinds {
    ($($variant:ident = $wire:literal),* $(,)?) => {
        /// The name of a move, as used in URLs (`POST /cases/{id}/{move}`) and flow records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum MoveKind { $($variant),* }

        impl MoveKind {
            /// Every kind.
            pub const ALL: &'static [MoveKind] = &[$(MoveKind::$variant),*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(MoveKind::$variant => $wire),* }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some(MoveKind::$variant),)* _ => None }
            }
        }
    };
}

move_kinds!(
    Report = "report",
    RequestVerification = "request-verification",
    Verify = "verify",
    Answer = "answer",
    File = "file",
    Void = "void",
    Dispatch = "dispatch",
    Sign = "sign",
    Return = "return",
    ApproveReturn = "approve-return",
    RejectReturn = "reject-return",
    Extend = "extend",
    ApproveExtension = "approve-extension",
    RejectExtension = "reject-extension",
    Suspend = "suspend",
    ApproveSuspension = "approve-suspension",
    RejectSuspension = "reject-suspension",
    Resume = "resume",
    Submit = "submit",
    Rework = "rework",
    Check = "check",
    Revisit = "revisit",
    Rate = "rate",
    Close = "close",
    Reopen = "reopen",
    Supervise = "supervise",
    Escalate = "escalate",
    Whistle = "whistle",
    ReportIn = "report-in",
    Merge = "merge",
    Overdue = "overdue",
    CloseWithMaster = "close-with-master",
    Comment = "comment",
);

impl std::fmt::Display for MoveKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MoveKind {
    /// Moves made by the platform itself, never through the API.
    pub fn is_system(self) -> bool {
        matches!(self, MoveKind::Report | MoveKind::Overdue | MoveKind::CloseWithMaster)
    }
}

/// How much more time an extension asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionAmount {
    Hours(u32),
    Days(u32),
}

/// A move with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    RequestVerification,
    /// The inspector's finding on site (核实): whether the problem is there as reported.
    Verify {
        found: bool,
        /// What the inspector saw; when the problem is not there, what was found instead (required then).
        note: String,
    },
    Answer {
        answer: String,
    },
    /// File the case; `category` replaces the case's category when given.
    File {
        category: Option<CategoryId>,
    },
    Void {
        reason: String,
    },
    Dispatch {
        unit: UnitId,
        assisting: Vec<UnitId>,
    },
    Sign,
    Return {
        reason: String,
    },
    ApproveReturn,
    RejectReturn,
    Extend {
        amount: ExtensionAmount,
        reason: String,
    },
    ApproveExtension,
    RejectExtension,
    Suspend {
        until: DateTime<Utc>,
        reason: String,
    },
    ApproveSuspension,
    RejectSuspension,
    Resume,
    Submit {
        result: String,
    },
    Rework {
        reason: String,
    },
    Check {
        passed: bool,
        /// What the inspector saw; when the check fails, what is left to do (required then).
        note: String,
    },
    Revisit(Revisit),
    /// The resident's own rating of the outcome (评价), given on the portal after closure.
    Rate {
        solved: bool,
        satisfaction: Satisfaction,
        comment: String,
    },
    Close,
    /// Open a closed case again; `reason` (may be empty) is kept as the record's note.
    Reopen {
        reason: String,
    },
    Supervise {
        level: u32,
    },
    /// Hand the case up to `to`, the parent of its current unit (resolved by the caller).
    Escalate {
        to: UnitId,
    },
    Whistle {
        units: Vec<UnitId>,
    },
    ReportIn,
    Merge {
        into: CaseId,
    },
    Overdue,
    CloseWithMaster,
    /// A remark on the case (备注), e.g. a resident's update through an app; the state stays.
    Comment {
        text: String,
    },
}

impl Move {
    /// The kind of this move.
    pub fn kind(&self) -> MoveKind {
        match self {
            Move::RequestVerification => MoveKind::RequestVerification,
            Move::Verify { .. } => MoveKind::Verify,
            Move::Answer { .. } => MoveKind::Answer,
            Move::File { .. } => MoveKind::File,
            Move::Void { .. } => MoveKind::Void,
            Move::Dispatch { .. } => MoveKind::Dispatch,
            Move::Sign => MoveKind::Sign,
            Move::Return { .. } => MoveKind::Return,
            Move::ApproveReturn => MoveKind::ApproveReturn,
            Move::RejectReturn => MoveKind::RejectReturn,
            Move::Extend { .. } => MoveKind::Extend,
            Move::ApproveExtension => MoveKind::ApproveExtension,
            Move::RejectExtension => MoveKind::RejectExtension,
            Move::Suspend { .. } => MoveKind::Suspend,
            Move::ApproveSuspension => MoveKind::ApproveSuspension,
            Move::RejectSuspension => MoveKind::RejectSuspension,
            Move::Resume => MoveKind::Resume,
            Move::Submit { .. } => MoveKind::Submit,
            Move::Rework { .. } => MoveKind::Rework,
            Move::Check { .. } => MoveKind::Check,
            Move::Revisit(_) => MoveKind::Revisit,
            Move::Rate { .. } => MoveKind::Rate,
            Move::Close => MoveKind::Close,
            Move::Reopen { .. } => MoveKind::Reopen,
            Move::Supervise { .. } => MoveKind::Supervise,
            Move::Escalate { .. } => MoveKind::Escalate,
            Move::Whistle { .. } => MoveKind::Whistle,
            Move::ReportIn => MoveKind::ReportIn,
            Move::Merge { .. } => MoveKind::Merge,
            Move::Overdue => MoveKind::Overdue,
            Move::CloseWithMaster => MoveKind::CloseWithMaster,
            Move::Comment { .. } => MoveKind::Comment,
        }
    }
}

/// Who makes a move. The platform itself (background jobs) is an actor without a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub name: String,
    pub roles: Vec<Role>,
    pub unit_id: Option<UnitId>,
}

/// The name the flow records give the platform's own jobs.
pub const SYSTEM_ACTOR_NAME: &str = "系统";
/// The name the flow records give a resident without an account.
pub const RESIDENT_ACTOR_NAME: &str = "市民";

impl Actor {
    /// The platform's own jobs.
    pub fn system() -> Self {
        Self { user_id: None, name: SYSTEM_ACTOR_NAME.into(), roles: vec![], unit_id: None }
    }

    /// A resident without an account, identified on the portal by case number and phone.
    pub fn resident() -> Self {
        Self { user_id: None, name: RESIDENT_ACTOR_NAME.into(), roles: vec![Role::Citizen], unit_id: None }
    }

    fn is_system(&self) -> bool {
        self.user_id.is_none() && self.roles.is_empty()
    }
}

/// Facts about how an actor relates to a case, worked out by the caller from the unit tree, the
/// actor's grids and the case's whistles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// The case's lead unit is the actor's unit or one of its sub-units.
    pub in_unit: bool,
    /// One of the assisting units is in the actor's unit tree.
    pub assisting: bool,
    /// The case lies in one of the actor's grids.
    pub in_grid: bool,
    /// The actor reported the case.
    pub is_reporter: bool,
    /// The case lies in the street (or district) of the actor's unit.
    pub in_street: bool,
    /// The actor's unit was summoned by a whistle on this case and has not reported in yet.
    pub summoned: bool,
    /// The actor's unit was summoned by a whistle on this case and has reported in: it takes part
    /// until the case is done.
    pub joined: bool,
}

impl Relation {
    /// An actor related to the case in every way (city-level staff, tests).
    pub fn all() -> Self {
        Self {
            in_unit: true,
            assisting: true,
            in_grid: true,
            is_reporter: true,
            in_street: true,
            summoned: true,
            joined: true,
        }
    }
}

/// What else a move needs to know.
#[derive(Debug, Clone, Copy)]
pub struct MoveContext<'a> {
    pub now: DateTime<Utc>,
    pub calendar: &'a WorkCalendar,
    /// The standard of the case's category (for `file`: of the category being filed under).
    pub standard: Option<&'a CaseStandard>,
    /// For `merge`: the master case.
    pub master: Option<&'a Case>,
    /// Hours a summoned unit has to report in after a whistle.
    pub whistle_report_hours: u32,
    /// Whether a result sent back (返工, a failed check) gives the unit its handling limit again from
    /// that moment; otherwise the first deadline stands. Cities differ.
    pub rework_restarts_limit: bool,
}

/// Side effects the caller carries out in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Issue a supervision notice to the case's unit.
    Notice { level: u32, overdue: bool },
    /// Summon units, each to report in by `report_by`.
    Summon { units: Vec<UnitId>, report_by: DateTime<Utc> },
    /// Record that the actor's unit reported in.
    ReportedIn { unit: UnitId },
    /// Close the cases merged into this one.
    CloseMerged,
    /// Void the cases merged into this one, which was voided: they are the same report.
    VoidMerged,
    /// Merge the cases merged into this one into its new master (`number`) as well, so that they
    /// close with it rather than wait on a case that will not close.
    RepointMerged { into: CaseId, number: String },
}

/// The append-only record of one move (人过留痕).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowEntry {
    pub kind: MoveKind,
    pub from: Option<State>,
    pub to: State,
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub role: Option<Role>,
    pub unit_id: Option<UnitId>,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    pub attachments: Vec<String>,
    /// The move's own fields (reason, units, extension, revisit outcome…).
    pub data: serde_json::Value,
}

/// The result of a move.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub case: Case,
    pub flow: FlowEntry,
    pub effects: Vec<Effect>,
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    /// The actor's roles or scope never allow this move on this case.
    #[error("not allowed to {kind}: {reason}")]
    Forbidden { kind: MoveKind, reason: String },
    /// The move does not apply to the case as it stands.
    #[error("cannot {kind} a case that is {state}: {reason}")]
    Illegal { kind: MoveKind, state: State, reason: String, allowed: Vec<MoveKind> },
    /// A field of the move is missing or wrong.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

fn invalid(field: &'static str, message: impl Into<String>) -> MoveError {
    MoveError::Invalid { field, message: message.into() }
}

/// Which relation to the case a role needs for a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Any,
    Unit,
    Grid,
    Reporter,
    Street,
    Summoned,
    /// A unit that takes part beside the lead: it assists, or it reported in on a whistle.
    Involved,
}

impl Scope {
    fn holds(self, rel: &Relation) -> bool {
        match self {
            Scope::Any => true,
            Scope::Unit => rel.in_unit,
            Scope::Grid => rel.in_grid,
            Scope::Reporter => rel.is_reporter,
            Scope::Street => rel.in_street,
            Scope::Summoned => rel.summoned,
            Scope::Involved => rel.assisting || rel.joined,
        }
    }
}

use Role as R;
use State as S;

/// The move table of the domain: source states and the (role, scope) pairs allowed to make it.
/// System moves have no roles: only the platform's own actor makes them.
fn rule(kind: MoveKind) -> (&'static [State], &'static [(Role, Scope)]) {
    use MoveKind as K;
    use Scope::*;
    const OPEN: &[State] = &[
        S::Reported,
        S::Verifying,
        S::Registered,
        S::PendingSign,
        S::ReturnReview,
        S::Handling,
        S::Suspended,
        S::Feedback,
        S::ClosePending,
    ];
    match kind {
        K::Report => (&[], &[]),
        K::RequestVerification => (&[S::Reported], &[(R::Operator, Any), (R::Lead, Any)]),
        K::Verify => (&[S::Verifying], &[(R::Inspector, Grid)]),
        K::Answer => (&[S::Reported], &[(R::Operator, Any)]),
        K::File => (&[S::Reported], &[(R::Lead, Any)]),
        K::Void => (&[S::Reported, S::Verifying], &[(R::Lead, Any)]),
        K::Dispatch => (&[S::Registered], &[(R::Dispatcher, Any)]),
        K::Sign => (&[S::PendingSign], &[(R::Handler, Unit)]),
        // A unit may also return a case it signed for and then found is not its own.
        K::Return => (&[S::PendingSign, S::Handling], &[(R::Handler, Unit)]),
        K::ApproveReturn | K::RejectReturn => (&[S::ReturnReview], &[(R::Dispatcher, Any)]),
        K::Extend | K::Suspend | K::Submit => (&[S::Handling], &[(R::Handler, Unit)]),
        K::ApproveExtension | K::RejectExtension | K::ApproveSuspension | K::RejectSuspension => {
            (&[S::Handling], &[(R::Dispatcher, Any)])
        }
        K::Resume => (&[S::Suspended], &[(R::Dispatcher, Any)]),
        K::Rework => (&[S::Feedback], &[(R::Dispatcher, Any), (R::Lead, Any)]),
        K::Check => (&[S::Feedback], &[(R::Inspector, Grid)]),
        K::Revisit => (&[S::Feedback, S::Merged, S::Closed], &[(R::Operator, Any)]),
        K::Rate => (&[S::Closed], &[(R::Citizen, Reporter)]),
        K::Close => (&[S::ClosePending], &[(R::Lead, Any)]),
        K::Reopen => (&[S::Closed], &[(R::Operator, Any), (R::Citizen, Reporter)]),
        K::Supervise => (OPEN, &[(R::Dispatcher, Any), (R::Lead, Any)]),
        K::Escalate => (&[S::PendingSign, S::Handling], &[(R::Handler, Unit), (R::Dispatcher, Any)]),
        K::Whistle => (&[S::Registered, S::PendingSign, S::Handling], &[(R::Coordinator, Street)]),
        K::ReportIn => (OPEN, &[(R::Handler, Summoned)]),
        K::Merge => (&[S::Reported, S::Verifying, S::Registered], &[(R::Operator, Any), (R::Dispatcher, Any)]),
        K::Overdue => (&[S::PendingSign, S::Handling], &[]),
        K::CloseWithMaster => (&[S::Merged], &[]),
        // The resident who reported it adds to it; staff who work on it note things down.
        K::Comment => (
            &[
                S::Reported,
                S::Verifying,
                S::Registered,
                S::PendingSign,
                S::ReturnReview,
                S::Handling,
                S::Suspended,
                S::Feedback,
                S::ClosePending,
                S::Closed,
                S::Merged,
            ],
            &[
                (R::Citizen, Reporter),
                (R::Operator, Any),
                (R::Lead, Any),
                (R::Dispatcher, Any),
                (R::Handler, Unit),
                // Units working beside the lead note what they did, where the lead and the desk read it.
                (R::Handler, Involved),
                (R::Inspector, Grid),
            ],
        ),
    }
}

/// Conditions beyond the source state, `Err(reason)` when the move does not apply now.
fn precondition(kind: MoveKind, case: &Case) -> Result<(), String> {
    use MoveKind as K;
    let fail = |reason: &str| Err(reason.to_string());
    match kind {
        K::Answer if !case.request_type.can_be_answered_directly() => {
            fail("only consultations, praise, suggestions and other requests can be answered directly")
        }
        K::Extend | K::Suspend if case.pending.is_some() => fail("a request is already waiting for the dispatcher"),
        K::Extend if case.extensions >= MAX_EXTENSIONS => fail("a case can be extended at most twice"),
        K::Suspend if case.suspensions >= MAX_SUSPENSIONS => fail("a case can be suspended only once"),
        K::ApproveExtension | K::RejectExtension if !matches!(case.pending, Some(PendingRequest::Extension { .. })) => {
            fail("no extension request is waiting")
        }
        K::ApproveSuspension | K::RejectSuspension
            if !matches!(case.pending, Some(PendingRequest::Suspension { .. })) =>
        {
            fail("no suspension request is waiting")
        }
        K::Revisit if case.state != S::Feedback && case.master_id.is_none() => {
            fail("only merged cases are revisited outside the feedback step")
        }
        K::Revisit if case.state != S::Feedback && case.revisit.is_some() => {
            fail("this merged case was already revisited")
        }
        // Inspectors verify in their own grids: a case without one would wait for no one.
        K::RequestVerification if case.grid_id.is_none() => {
            fail("the case has no grid: an inspector verifies on site, in their own grids")
        }
        K::Rate if case.rated => fail("the resident has already rated this case"),
        K::Reopen if case.master_id.is_some() => fail("a merged case is reopened through its master case"),
        K::Reopen if case.unit_id.is_none() && case.result.is_none() => fail("the case was never handled"),
        K::Overdue if case.overdue_at.is_some() || case.deadline.is_none() => {
            fail("already overdue or without deadline")
        }
        _ => Ok(()),
    }
}

/// Whether the actor may make a move of this kind on a case it stands in `rel` to, whatever the
/// case's state: the role it makes it in (`None` for the platform), or why not.
pub fn may_make(kind: MoveKind, actor: &Actor, rel: &Relation) -> Result<Option<Role>, MoveError> {
    let (_, grants) = rule(kind);
    Ok(if actor.is_system() && kind == MoveKind::Resume {
        // The platform resumes a suspension whose date has come.
        None
    } else if kind.is_system() {
        if !actor.is_system() {
            return Err(MoveError::Forbidden { kind, reason: "only the platform makes this move".into() });
        }
        None
    } else {
        let by_role: Vec<_> = grants.iter().filter(|(r, _)| actor.roles.contains(r)).collect();
        if by_role.is_empty() {
            return Err(MoveError::Forbidden { kind, reason: "none of your roles may make this move".into() });
        }
        match by_role.iter().find(|(_, scope)| scope.holds(rel)) {
            Some((role, _)) => Some(*role),
            None => {
                return Err(MoveError::Forbidden {
                    kind,
                    reason: "the case is outside your unit, grids or area".into(),
                })
            }
        }
    })
}

/// Checks a move kind, giving the role the actor makes it in.
fn permits(kind: MoveKind, case: &Case, actor: &Actor, rel: &Relation) -> Result<Option<Role>, MoveError> {
    let role = may_make(kind, actor, rel)?;
    let (from, _) = rule(kind);
    let illegal = |reason: String| MoveError::Illegal {
        kind,
        state: case.state,
        reason,
        allowed: allowed_moves(case, actor, rel),
    };
    if !from.contains(&case.state) {
        return Err(illegal(format!("{kind} applies only to cases that are {}", state_list(from))));
    }
    precondition(kind, case).map_err(illegal)?;
    Ok(role)
}

fn state_list(states: &[State]) -> String {
    states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

/// Flow records a resident sees of their own request: what happened, not who inside the
/// administration did it.
const RESIDENT_MOVES: &[MoveKind] = &[
    MoveKind::Report,
    MoveKind::Answer,
    MoveKind::File,
    MoveKind::Void,
    MoveKind::Dispatch,
    MoveKind::Sign,
    MoveKind::Submit,
    MoveKind::Check,
    MoveKind::Revisit,
    MoveKind::Rate,
    MoveKind::Reopen,
    MoveKind::Close,
    MoveKind::Merge,
    MoveKind::CloseWithMaster,
];

/// A case's history as its resident sees it: the steps without staff names, roles, units or the
/// moves' internal fields; of the staff's notes only the answer and the result. What the resident did
/// (their report, comments, rating, reopening) stays as they made it.
pub fn resident_view(flow: &[(i64, FlowEntry)]) -> Vec<(i64, FlowEntry)> {
    // A result sent back (rework, a failed check) was never the answer: only the one that stood is read.
    let sent_back = |at: usize| {
        flow[at + 1..].iter().map(|(_, f)| f).take_while(|f| f.kind != MoveKind::Submit).any(|f| {
            f.kind == MoveKind::Rework
                || (f.kind == MoveKind::Check && f.data.get("passed").and_then(|p| p.as_bool()) == Some(false))
        })
    };
    flow.iter()
        .enumerate()
        .filter_map(|(at, (id, f))| {
            if f.role == Some(Role::Citizen) {
                // What the platform noted about their submission (spam signs, suggestions) is not theirs.
                let data = if f.kind == MoveKind::Report { serde_json::Value::Null } else { f.data.clone() };
                return Some((*id, FlowEntry { data, ..f.clone() }));
            }
            if !RESIDENT_MOVES.contains(&f.kind) {
                return None;
            }
            let public_note = match f.kind {
                MoveKind::Answer => true,
                MoveKind::Submit => !sent_back(at),
                _ => false,
            };
            let entry = FlowEntry {
                actor_id: None,
                actor_name: String::new(),
                role: None,
                unit_id: None,
                note: if public_note { f.note.clone() } else { None },
                attachments: if f.kind == MoveKind::Submit { f.attachments.clone() } else { Vec::new() },
                // A revisit's answers are the resident's own (satisfied? solved?).
                data: if f.kind == MoveKind::Revisit { f.data.clone() } else { serde_json::Value::Null },
                ..f.clone()
            };
            Some((*id, entry))
        })
        .collect()
}

/// The moves an actor may make on a case now (without their fields).
pub fn allowed_moves(case: &Case, actor: &Actor, rel: &Relation) -> Vec<MoveKind> {
    MoveKind::ALL
        .iter()
        .copied()
        .filter(|k| !k.is_system())
        .filter(|k| {
            let (from, grants) = rule(*k);
            from.contains(&case.state)
                && grants.iter().any(|(r, s)| actor.roles.contains(r) && s.holds(rel))
                && precondition(*k, case).is_ok()
        })
        .collect()
}

fn required(field: &'static str, text: &str) -> Result<String, MoveError> {
    let t = text.trim();
    if t.is_empty() {
        Err(invalid(field, "is required"))
    } else if t.chars().count() > MAX_MOVE_TEXT_CHARS {
        Err(invalid(field, format!("is longer than {MAX_MOVE_TEXT_CHARS} characters")))
    } else {
        Ok(t.to_string())
    }
}

/// Converts an extension into the units of the case's limit.
fn extension_in_limit_units(
    amount: ExtensionAmount,
    limit: TimeLimit,
    calendar: &WorkCalendar,
) -> Result<u32, MoveError> {
    let per_day_hours = u32::try_from(calendar.working_seconds_per_day() / 3600).unwrap_or(8).max(1);
    match (amount, limit.mode) {
        (ExtensionAmount::Hours(h), TimingMode::Continuous | TimingMode::WorkingHours) => Ok(h),
        (ExtensionAmount::Days(d), TimingMode::Continuous) => Ok(d.saturating_mul(24)),
        (ExtensionAmount::Days(d), TimingMode::WorkingHours) => Ok(d.saturating_mul(per_day_hours)),
        (ExtensionAmount::Days(d), TimingMode::WorkingDays | TimingMode::CalendarDays) => Ok(d),
        (ExtensionAmount::Hours(_), _) => Err(invalid("hours", "this case's limit counts days: give `days`")),
    }
}

/// Applies a move to a case.
pub fn apply(
    case: &Case,
    mv: &Move,
    actor: &Actor,
    rel: &Relation,
    ctx: &MoveContext<'_>,
) -> Result<Outcome, MoveError> {
    let kind = mv.kind();
    let role = permits(kind, case, actor, rel)?;
    let now = ctx.now;
    let mut c = case.clone();
    let mut effects = Vec::new();
    let mut data = serde_json::Value::Null;
    let mut note = None;

    match mv {
        Move::RequestVerification => c.state = S::Verifying,
        Move::Verify { found, note: seen } => {
            // The shift lead files or voids the report on this finding: a report not borne out must
            // say what the inspector found instead.
            if !found && seen.trim().is_empty() {
                return Err(invalid("note", "is required when the problem is not found: say what was found"));
            }
            note = Some(seen.trim().to_string()).filter(|n| !n.is_empty());
            data = serde_json::json!({ "found": found });
            c.state = S::Reported;
        }
        Move::Answer { answer } => {
            // The record keeps the answer: a later one (after a reopening) replaces the case's result only.
            let answer = required("answer", answer)?;
            note = Some(answer.clone());
            c.result = Some(answer);
            c.state = S::Closed;
            c.closed_at = Some(now);
        }
        Move::File { category } => {
            let standard =
                ctx.standard.ok_or_else(|| invalid("category", "must be a leaf category with a case standard"))?;
            if let Some(cat) = category {
                c.category_id = Some(*cat);
            }
            if c.category_id.is_none() {
                return Err(invalid("category", "is required to file a case"));
            }
            c.urgency = c.urgency.max(standard.urgency);
            c.state = S::Registered;
            data = serde_json::json!({ "category": c.category_id });
        }
        Move::Void { reason } => {
            note = Some(required("reason", reason)?);
            c.state = S::Voided;
            c.closed_at = Some(now);
            effects.push(Effect::VoidMerged);
        }
        Move::Dispatch { unit, assisting } => {
            if assisting.contains(unit) {
                return Err(invalid("assisting_units", "must not contain the lead unit"));
            }
            let limit = ctx.standard.map_or(DEFAULT_LIMIT, |s| s.limit);
            c.unit_id = Some(*unit);
            c.assisting_units = dedup(assisting);
            c.first_unit_id.get_or_insert(*unit);
            c.limit = Some(limit);
            c.deadline = Some(ctx.calendar.deadline(now, limit));
            c.state = S::PendingSign;
            data = serde_json::json!({ "unit": unit, "assisting_units": c.assisting_units, "deadline": c.deadline });
        }
        Move::Sign => c.state = S::Handling,
        Move::Return { reason } => {
            note = Some(required("reason", reason)?);
            c.returns += 1;
            c.state = S::ReturnReview;
        }
        Move::ApproveReturn => {
            data = serde_json::json!({ "returned_by": c.unit_id });
            c.unit_id = None;
            c.assisting_units.clear();
            c.deadline = None;
            c.state = S::Registered;
        }
        Move::RejectReturn => c.state = S::PendingSign,
        Move::Extend { amount, reason } => {
            let reason = required("reason", reason)?;
            let limit = c.limit.unwrap_or(DEFAULT_LIMIT);
            let units = extension_in_limit_units(*amount, limit, ctx.calendar)?;
            // The field the request gave its amount in: days may be asked on a case counted in hours.
            let field = match amount {
                ExtensionAmount::Hours(_) => "hours",
                ExtensionAmount::Days(_) => "days",
            };
            if units == 0 {
                return Err(invalid(field, "must be at least 1"));
            }
            if units > limit.amount {
                return Err(invalid(
                    field,
                    format!("an extension may add at most the original limit ({})", limit.describe_en()),
                ));
            }
            data = serde_json::json!({ "amount": units, "mode": limit.mode });
            note = Some(reason.clone());
            c.pending = Some(PendingRequest::Extension { amount: units, reason });
        }
        Move::ApproveExtension => {
            if let Some(PendingRequest::Extension { amount, .. }) = c.pending.take() {
                let limit = c.limit.unwrap_or(DEFAULT_LIMIT);
                let from = c.deadline.unwrap_or(now);
                c.deadline = Some(ctx.calendar.deadline(from, TimeLimit::new(amount, limit.mode)));
                c.extensions += 1;
                data = serde_json::json!({ "amount": amount, "deadline": c.deadline });
            }
        }
        Move::RejectExtension | Move::RejectSuspension => c.pending = None,
        Move::Suspend { until, reason } => {
            let reason = required("reason", reason)?;
            if *until <= now {
                return Err(invalid("until", "must be in the future"));
            }
            // A suspension waits on something planned (a reconstruction, a court date), not for ever.
            if *until > now + Duration::days(MAX_SUSPENSION_DAYS) {
                return Err(invalid("until", format!("must be within {MAX_SUSPENSION_DAYS} days")));
            }
            data = serde_json::json!({ "until": until });
            note = Some(reason.clone());
            c.pending = Some(PendingRequest::Suspension { until: *until, reason });
        }
        Move::ApproveSuspension => {
            if let Some(PendingRequest::Suspension { until, .. }) = c.pending.take() {
                c.suspensions += 1;
                c.suspended_at = Some(now);
                c.suspended_until = Some(until);
                c.state = S::Suspended;
                data = serde_json::json!({ "until": until });
            }
        }
        Move::Resume => {
            if let (Some(deadline), Some(paused)) = (c.deadline, c.suspended_at) {
                let mode = c.limit.unwrap_or(DEFAULT_LIMIT).mode;
                c.deadline = Some(ctx.calendar.resume_deadline(mode, deadline, paused, now));
            }
            c.suspended_at = None;
            c.suspended_until = None;
            c.state = S::Handling;
            data = serde_json::json!({ "deadline": c.deadline });
        }
        Move::Submit { result } => {
            // The record keeps the result: one sent back for rework stays in the history.
            let result = required("result", result)?;
            note = Some(result.clone());
            c.result = Some(result);
            c.state = S::Feedback;
        }
        Move::Comment { text } => {
            // The remark arrives as `note`.
            let text = required("note", text)?;
            if text.chars().count() > MAX_COMMENT_CHARS {
                return Err(invalid("note", format!("is longer than {MAX_COMMENT_CHARS} characters")));
            }
            note = Some(text);
        }
        Move::Rework { reason } => {
            note = Some(required("reason", reason)?);
            c.reworks += 1;
            c.state = S::Handling;
            if let Some(deadline) = restart_limit_on_rework(&mut c, ctx) {
                data = serde_json::json!({ "deadline": deadline });
            }
        }
        Move::Check { passed, note: seen } => {
            // A failed check sends the case back to the unit, which must learn what is left to do.
            if !passed && seen.trim().is_empty() {
                return Err(invalid("note", "is required when the check fails: say what is left to do"));
            }
            note = Some(seen.trim().to_string()).filter(|n| !n.is_empty());
            data = serde_json::json!({ "passed": passed });
            if *passed {
                c.state = S::ClosePending;
            } else {
                c.reworks += 1;
                c.state = S::Handling;
                if let Some(deadline) = restart_limit_on_rework(&mut c, ctx) {
                    data["deadline"] = serde_json::json!(deadline);
                }
            }
        }
        Move::Revisit(revisit) => {
            // Only the resident can say whether the problem was solved and how satisfied they are:
            // a revisit that did not reach them counts as neither (the 12345 rates count it so).
            if !revisit.contacted && revisit.solved {
                return Err(invalid("solved", "cannot be yes when the resident was not reached"));
            }
            if !revisit.contacted && revisit.satisfaction != Satisfaction::Unsatisfied {
                return Err(invalid("satisfaction", "must be unsatisfied when the resident was not reached"));
            }
            c.revisit = Some(*revisit);
            if c.state == S::Feedback {
                c.state = S::ClosePending;
            }
            data = serde_json::to_value(revisit).unwrap_or_default();
        }
        Move::Rate { solved, satisfaction, comment } => {
            // The rating is the revisit when the hotline has not called back yet (or the case was
            // closed on the inspector's check alone), or called and did not reach the resident.
            if c.revisit.is_none_or(|r| !r.contacted) {
                c.revisit = Some(Revisit { contacted: true, solved: *solved, satisfaction: *satisfaction });
            }
            c.rated = true;
            let comment = comment.trim();
            if comment.chars().count() > 1000 {
                return Err(invalid("comment", "is longer than 1000 characters"));
            }
            note = (!comment.is_empty()).then(|| comment.to_string());
            data = serde_json::json!({ "solved": solved, "satisfaction": satisfaction });
        }
        Move::Close => {
            c.state = S::Closed;
            c.closed_at = Some(now);
            effects.push(Effect::CloseMerged);
        }
        Move::Reopen { reason } => {
            let reason = reason.trim();
            if reason.chars().count() > MAX_REOPEN_REASON_CHARS {
                return Err(invalid("reason", format!("is longer than {MAX_REOPEN_REASON_CHARS} characters")));
            }
            note = (!reason.is_empty()).then(|| reason.to_string());
            c.reopens += 1;
            c.closed_at = None;
            c.revisit = None;
            c.rated = false;
            c.pending = None;
            if c.unit_id.is_some() {
                let limit = c.limit.or(ctx.standard.map(|s| s.limit)).unwrap_or(DEFAULT_LIMIT);
                c.limit = Some(limit);
                c.deadline = Some(ctx.calendar.deadline(now, limit));
                c.state = S::Handling;
            } else {
                c.state = S::Reported;
            }
            data = serde_json::json!({ "deadline": c.deadline });
        }
        Move::Supervise { level } => {
            if !(1..=MAX_SUPERVISION_LEVEL).contains(level) {
                return Err(invalid("level", format!("must be 1 to {MAX_SUPERVISION_LEVEL}")));
            }
            c.supervision_level = c.supervision_level.max(*level);
            effects.push(Effect::Notice { level: *level, overdue: false });
            data = serde_json::json!({ "level": level });
        }
        Move::Escalate { to } => {
            data = serde_json::json!({ "from_unit": c.unit_id, "to_unit": to });
            c.unit_id = Some(*to);
            c.escalations += 1;
            c.state = S::PendingSign;
        }
        Move::Whistle { units } => {
            if units.is_empty() {
                return Err(invalid("units", "name at least one unit to summon"));
            }
            if c.unit_id.is_some_and(|lead| units.contains(&lead)) {
                return Err(invalid("units", "the lead unit already handles the case: summon the others"));
            }
            let units = dedup(units);
            let report_by = now + Duration::hours(i64::from(ctx.whistle_report_hours));
            data = serde_json::json!({ "units": units, "report_by": report_by });
            effects.push(Effect::Summon { units, report_by });
        }
        Move::ReportIn => {
            let unit = actor.unit_id.ok_or_else(|| invalid("unit", "you belong to no unit"))?;
            effects.push(Effect::ReportedIn { unit });
            data = serde_json::json!({ "unit": unit });
        }
        Move::Merge { into } => {
            let master = ctx.master.ok_or_else(|| invalid("into", "no such case"))?;
            if master.id == c.id {
                return Err(invalid("into", "a case cannot be merged into itself"));
            }
            if master.state.is_terminal() || master.master_id.is_some() {
                return Err(invalid("into", "the master case must be open and not itself merged"));
            }
            c.master_id = Some(*into);
            c.state = S::Merged;
            data = serde_json::json!({ "into": into, "master_number": master.number });
            effects.push(Effect::RepointMerged { into: *into, number: master.number.clone() });
        }
        Move::Overdue => {
            if c.deadline.is_none_or(|d| d >= now) {
                return Err(invalid("deadline", "has not passed"));
            }
            c.overdue_at = Some(now);
            effects.push(Effect::Notice { level: 1, overdue: true });
        }
        Move::CloseWithMaster => {
            c.state = S::Closed;
            c.closed_at = Some(now);
        }
    }

    if c.deadline != case.deadline && c.deadline.is_none_or(|d| d > now) {
        // The marking belongs to the deadline it found passed. A new one (a dispatch, a reopening, an
        // extension, a restarted limit) is watched anew: the job marks it, with a notice, when it passes
        // in turn. A case returned to the dispatcher has none.
        c.overdue_at = None;
    }
    if c.state != S::Handling {
        // A request waiting for the dispatcher lapses once the case leaves the unit's hands
        // (submitted, escalated, …): it was about handling that is over.
        c.pending = None;
    }
    c.version += 1;
    c.updated_at = now;
    let flow = FlowEntry {
        kind,
        from: Some(case.state),
        to: c.state,
        actor_id: actor.user_id,
        actor_name: actor.name.clone(),
        role,
        unit_id: actor.unit_id,
        at: now,
        note,
        attachments: Vec::new(),
        data,
    };
    Ok(Outcome { case: c, flow, effects })
}

/// The new deadline of a case sent back to its unit, when the city restarts the handling limit then.
/// A later deadline it already has (an extension) stands: the restart gives time, it never takes any.
fn restart_limit_on_rework(c: &mut Case, ctx: &MoveContext<'_>) -> Option<DateTime<Utc>> {
    if !ctx.rework_restarts_limit || c.unit_id.is_none() {
        return None;
    }
    let limit = c.limit.unwrap_or(DEFAULT_LIMIT);
    let restarted = ctx.calendar.deadline(ctx.now, limit);
    let deadline = c.deadline.map_or(restarted, |d| d.max(restarted));
    c.deadline = Some(deadline);
    Some(deadline)
}

fn dedup(units: &[UnitId]) -> Vec<UnitId> {
    let mut out = Vec::with_capacity(units.len());
    for u in units {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    out
}

/// The flow record of a case's creation.
pub fn report_entry(case: &Case, actor: &Actor, role: Option<Role>) -> FlowEntry {
    FlowEntry {
        kind: MoveKind::Report,
        from: None,
        to: case.state,
        actor_id: actor.user_id,
        actor_name: actor.name.clone(),
        role,
        unit_id: actor.unit_id,
        at: case.created_at,
        note: None,
        attachments: Vec::new(),
        data: serde_json::json!({ "channel": case.channel }),
    }
}

#[cfg(test)]
mod tests;
