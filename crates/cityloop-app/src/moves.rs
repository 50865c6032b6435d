//! Workflow moves through the use-case layer: load the case the caller may see, read the move's own
//! fields, let the domain decide, and store the outcome with its flow record, or refuse if someone
//! else moved the case first.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cityloop_domain::workflow::{
    apply, Actor, ExtensionAmount, Move, MoveContext, MoveKind, Relation, MAX_COMMENT_CHARS,
};
use cityloop_domain::{Case, CaseId, Revisit, Satisfaction, UnitId};
use cityloop_store::{MoveWrite, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::queries::CaseView;
use crate::scope::Principal;
use crate::App;

/// A unit named by id or by code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum UnitRef {
    Id(i64),
    Code(String),
}

/// A case named by id or by number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CaseRef {
    Id(i64),
    Number(String),
}

/// The fields any move may carry; each move reads the ones it needs.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    pub note: Option<String>,
    /// The version the caller saw; a different current version is refused as stale.
    pub version: Option<i64>,
    pub reason: Option<String>,
    pub answer: Option<String>,
    pub category: Option<String>,
    pub unit: Option<UnitRef>,
    pub assisting_units: Option<Vec<UnitRef>>,
    pub hours: Option<u32>,
    pub days: Option<u32>,
    /// RFC 3339 time or a local date (`2026-12-01`).
    pub until: Option<String>,
    pub result: Option<String>,
    pub passed: Option<bool>,
    /// `verify`: whether the problem is there as reported.
    pub found: Option<bool>,
    pub contacted: Option<bool>,
    pub solved: Option<bool>,
    pub satisfaction: Option<String>,
    pub level: Option<u32>,
    pub units: Option<Vec<UnitRef>>,
    pub into: Option<CaseRef>,
    /// Content hashes of uploaded attachments (evidence photos, documents).
    pub attachments: Option<Vec<String>>,
    /// The knowledge-base article a consultation was answered from.
    pub article: Option<i64>,
    /// Where the move came from outside (an Open311 client's own id of an update), kept in the flow
    /// record's data. Set by the surfaces, never read from a request body.
    #[serde(skip)]
    pub origin: Option<serde_json::Value>,
}

fn need<T>(field: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| AppError::invalid(field, "is required"))
}

fn satisfaction(input: &MoveInput) -> Result<Satisfaction> {
    let text = need("satisfaction", input.satisfaction.clone())?;
    Satisfaction::parse(&text).ok_or_else(|| {
        AppError::invalid("satisfaction", format!("must be one of: {}", Satisfaction::wire_names().join(", ")))
    })
}

/// The resident's rating: satisfaction, whether the problem was solved, and a comment in `note`.
pub(crate) fn rating(input: &MoveInput) -> Result<Move> {
    Ok(Move::Rate {
        solved: need("solved", input.solved)?,
        satisfaction: satisfaction(input)?,
        comment: input.note.clone().unwrap_or_default(),
    })
}

/// Whether every whistle that summoned the user's unit to the case has its report: a second report-in
/// is a conflict with the first, not a move outside the unit's scope.
fn reported_in_already(who: &Principal, whistles: &[cityloop_store::WhistleRow]) -> bool {
    let Some(unit) = who.user.unit_id else { return false };
    let mine: Vec<_> = whistles.iter().filter(|w| w.unit_id == unit).collect();
    !mine.is_empty() && mine.iter().all(|w| w.reported_at.is_some())
}

/// How often a move sent without a `version` is made again after another move got in first. Each
/// round of a race has a winner, so this many covers as many people moving one case at once.
const UNVERSIONED_MOVE_TRIES: usize = 20;

impl App {
    pub(crate) fn resolve_unit(&self, field: &str, unit: &UnitRef) -> Result<UnitId> {
        let reference = self.reference();
        let found = match unit {
            UnitRef::Id(id) => reference.unit(UnitId(*id)),
            UnitRef::Code(code) => reference.unit_by_code(code),
        };
        found.map(|u| u.id).ok_or_else(|| {
            let named = match unit {
                UnitRef::Id(id) => id.to_string(),
                UnitRef::Code(code) => format!("`{code}`"),
            };
            AppError::invalid(field, format!("unknown unit {named}"))
        })
    }

    pub(crate) fn resolve_units(&self, field: &str, units: &[UnitRef]) -> Result<Vec<UnitId>> {
        units.iter().map(|u| self.resolve_unit(field, u)).collect()
    }

    fn parse_until(&self, text: &str) -> Result<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        let calendar = &self.reference().calendar;
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|d| calendar.offset().from_local_datetime(&d).single())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::invalid("until", "must be an RFC 3339 time or a date like 2026-12-01"))
    }

    /// Reads a move's own fields into a domain move.
    async fn build_move(
        &self,
        who: &Principal,
        kind: MoveKind,
        case: &cityloop_domain::Case,
        input: &MoveInput,
    ) -> Result<Move> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(match kind {
            MoveKind::RequestVerification => Move::RequestVerification,
            MoveKind::Verify => Move::Verify { found: need("found", input.found)?, note: text(&input.note) },
            MoveKind::Answer => {
                let mut answer = input.answer.clone().or_else(|| input.note.clone()).unwrap_or_default();
                if let Some(id) = input.article {
                    let article = self.article(who, id).map_err(|_| AppError::invalid("article", "no such article"))?;
                    if answer.trim().is_empty() {
                        answer = article.body;
                    }
                }
                Move::Answer { answer }
            }
            MoveKind::File => {
                let category = match input.category.as_deref() {
                    Some(code) => Some(
                        self.reference()
                            .category_by_code(code)
                            .map(|c| c.id)
                            .ok_or_else(|| AppError::invalid("category", format!("unknown category `{code}`")))?,
                    ),
                    None => None,
                };
                Move::File { category }
            }
            MoveKind::Void => Move::Void { reason: text(&input.reason) },
            MoveKind::Dispatch => {
                let (unit, assisting) = match &input.unit {
                    Some(u) => (
                        self.resolve_unit("unit", u)?,
                        self.resolve_units("assisting_units", input.assisting_units.as_deref().unwrap_or_default())?,
                    ),
                    None => {
                        let preview = self.dispatch_preview(case.category_id, case.division_id).await?;
                        let unit = preview.unit.ok_or_else(|| {
                            AppError::invalid("unit", "is required: the dispatch catalogue names no unit for this case")
                        })?;
                        // Sent back by that unit already: a person chooses where it goes now.
                        let returned = self.returned_units(case).await?;
                        if let Some(r) = returned.iter().find(|r| r.unit == unit) {
                            let name = self.reference().unit(unit).map_or_else(String::new, |u| u.name.clone());
                            return Err(AppError::invalid(
                                "unit",
                                format!(
                                    "is required: `{name}`, the catalogue's unit, returned this case (`{}`)",
                                    r.reason
                                ),
                            ));
                        }
                        let assisting = match &input.assisting_units {
                            Some(a) => self.resolve_units("assisting_units", a)?,
                            None => preview.assisting_units,
                        };
                        (unit, assisting)
                    }
                };
                Move::Dispatch { unit, assisting }
            }
            MoveKind::Sign => Move::Sign,
            MoveKind::Return => Move::Return { reason: text(&input.reason) },
            MoveKind::ApproveReturn => Move::ApproveReturn,
            MoveKind::RejectReturn => Move::RejectReturn,
            MoveKind::Extend => {
                let amount = match (input.hours, input.days) {
                    (Some(h), None) => ExtensionAmount::Hours(h),
                    (None, Some(d)) => ExtensionAmount::Days(d),
                    _ => return Err(AppError::invalid("hours", "give either `hours` or `days`")),
                };
                Move::Extend { amount, reason: text(&input.reason) }
            }
            MoveKind::ApproveExtension => Move::ApproveExtension,
            MoveKind::RejectExtension => Move::RejectExtension,
            MoveKind::Suspend => Move::Suspend {
                until: self.parse_until(&need("until", input.until.clone())?)?,
                reason: text(&input.reason),
            },
            MoveKind::ApproveSuspension => Move::ApproveSuspension,
            MoveKind::RejectSuspension => Move::RejectSuspension,
            MoveKind::Resume => Move::Resume,
            MoveKind::Submit => Move::Submit { result: text(&input.result) },
            MoveKind::Rework => Move::Rework { reason: text(&input.reason) },
            MoveKind::Check => Move::Check { passed: need("passed", input.passed)?, note: text(&input.note) },
            MoveKind::Revisit => Move::Revisit(Revisit {
                contacted: need("contacted", input.contacted)?,
                solved: need("solved", input.solved)?,
                satisfaction: satisfaction(input)?,
            }),
            MoveKind::Rate => rating(input)?,
            MoveKind::Close => Move::Close,
            MoveKind::Reopen => Move::Reopen { reason: text(&input.reason) },
            MoveKind::Supervise => Move::Supervise { level: input.level.unwrap_or(1) },
            MoveKind::Comment => Move::Comment { text: text(&input.note) },
            MoveKind::Escalate => {
                let reference = self.reference();
                let parent = case.unit_id.and_then(|u| reference.unit(u)).and_then(|u| u.parent_id);
                match parent {
                    Some(to) => Move::Escalate { to },
                    // Let the domain answer first when the move is not allowed at all.
                    None if case.unit_id.is_none() => Move::Escalate { to: UnitId(0) },
                    None => return Err(AppError::invalid("unit", "the case's unit has no higher unit to escalate to")),
                }
            }
            MoveKind::Whistle => {
                Move::Whistle { units: self.resolve_units("units", input.units.as_deref().unwrap_or_default())? }
            }
            MoveKind::ReportIn => Move::ReportIn,
            MoveKind::Merge => {
                let into = need("into", input.into.clone())?;
                let master = self.load_case_ref(&into).await.map_err(|_| AppError::invalid("into", "no such case"))?;
                if !who.can_see(&master, &[]) {
                    return Err(AppError::invalid("into", "no such case"));
                }
                Move::Merge { into: master.id }
            }
            MoveKind::Report | MoveKind::Overdue | MoveKind::CloseWithMaster => {
                return Err(AppError::NotFound(format!("move `{kind}`")))
            }
        })
    }

    pub(crate) async fn load_case_ref(&self, r: &CaseRef) -> Result<cityloop_domain::Case> {
        let found = match r {
            CaseRef::Id(id) => self.store.get_case(CaseId(*id)).await,
            CaseRef::Number(n) => match n.parse::<i64>() {
                Ok(id) => self.store.get_case(CaseId(id)).await,
                Err(_) => self.store.case_by_number(n).await,
            },
        };
        found.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("case".into()),
            other => other.into(),
        })
    }

    /// Makes a move on a case on behalf of a user and returns the case as it now is.
    pub async fn perform_move(
        &self,
        who: &Principal,
        case_ref: &str,
        kind: &str,
        input: MoveInput,
    ) -> Result<CaseView> {
        let kind = MoveKind::parse(kind)
            .filter(|k| !k.is_system())
            .ok_or_else(|| AppError::NotFound(format!("move `{kind}`")))?;
        let mut tries = 0;
        let (case, out) = loop {
            let (case, whistles) = self.visible_case(who, &CaseRef::Number(case_ref.to_string())).await?;
            if kind == MoveKind::ReportIn && reported_in_already(who, &whistles) {
                return Err(AppError::Duplicate("your unit has reported in on this case already".into()));
            }
            // Who may make the move is answered first: a refusal does not depend on the fields sent.
            cityloop_domain::workflow::may_make(kind, &who.actor(), &who.relation(&case, &whistles))?;
            if let Some(v) = input.version {
                if v != case.version {
                    return Err(AppError::StaleVersion { current: case.version });
                }
            }
            let mv = self.build_move(who, kind, &case, &input).await?;
            match self.apply_and_store(&case, &mv, &who.actor(), who.relation(&case, &whistles), &input).await {
                // A caller who named no version asked for the move on the case as it is: when another
                // move got in first, the move is made again on the case as that one left it.
                Err(AppError::StaleVersion { .. }) if input.version.is_none() && tries < UNVERSIONED_MOVE_TRIES => {
                    tries += 1;
                }
                stored => break (case, stored?),
            }
        };
        if kind == MoveKind::Submit {
            // Checked after the move is stored: a fault of the checker never blocks a unit's reply.
            if let Err(e) = self.record_reply_check(&out).await {
                tracing::warn!(case = %out.number, error = %e, "reply check failed");
            }
        }
        // The actor sees the result of their own move even when it takes the case out of their
        // scope (an escalation, a return approved elsewhere).
        let flow = self.store.flows(case.id).await?;
        let whistles = self.store.whistles(case.id).await?;
        self.record_contact_views(who, [&out], crate::access::ContactPurpose::Move).await?;
        Ok(self.view_of(who, out, flow, whistles))
    }

    /// Lets the domain apply a move and stores the outcome with its flow record, or refuses it if
    /// someone else moved the case first. Returns the case as it now is.
    pub(crate) async fn apply_and_store(
        &self,
        case: &Case,
        mv: &Move,
        actor: &Actor,
        relation: Relation,
        input: &MoveInput,
    ) -> Result<Case> {
        let kind = mv.kind();
        let reference = self.reference();
        let standard_category = match mv {
            Move::File { category: Some(c) } => Some(*c),
            _ => case.category_id,
        };
        let master = match mv {
            Move::Merge { into } => Some(self.store.get_case(*into).await?),
            _ => None,
        };
        let ctx = MoveContext {
            now: self.now(),
            calendar: &reference.calendar,
            standard: standard_category.and_then(|c| reference.standard(c)),
            master: master.as_ref(),
            whistle_report_hours: self.settings.whistle_report_hours,
            rework_restarts_limit: self.settings.rework_restarts_limit,
        };
        let mut out = apply(case, mv, actor, &relation, &ctx)?;
        if input.note.as_deref().is_some_and(|n| n.trim().chars().count() > MAX_COMMENT_CHARS) {
            return Err(AppError::invalid("note", format!("is longer than {MAX_COMMENT_CHARS} characters")));
        }
        let extra_note = input.note.as_deref().map(str::trim).filter(|n| {
            !n.is_empty()
                && !matches!(
                    kind,
                    MoveKind::Answer | MoveKind::Rate | MoveKind::Comment | MoveKind::Check | MoveKind::Verify
                )
        });
        out.flow.note = match (out.flow.note.take(), extra_note) {
            (Some(reason), Some(note)) => Some(format!("{reason}\n{note}")),
            (reason, note) => reason.or(note.map(str::to_string)),
        };
        if let Some(hashes) = &input.attachments {
            self.check_attachments(actor.user_id, Some(case.id), hashes).await?;
            out.flow.attachments = hashes.clone();
        }
        if let (MoveKind::Answer, Some(article)) = (kind, input.article) {
            out.flow.data = serde_json::json!({ "article": article });
        }
        if let Some(origin) = &input.origin {
            if !out.flow.data.is_object() {
                out.flow.data = serde_json::json!({});
            }
            out.flow.data["origin"] = origin.clone();
        }
        match self.store.commit_move(MoveWrite { expected_version: case.version, outcome: &out }).await {
            Ok(()) => Ok(out.case),
            Err(StoreError::StaleVersion) => {
                let current = self.store.get_case(case.id).await.map(|c| c.version).unwrap_or(-1);
                Err(AppError::StaleVersion { current })
            }
            Err(e) => Err(e.into()),
        }
    }
}
