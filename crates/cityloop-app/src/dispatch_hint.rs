//! Dispatch suggestion: the catalogue decides where it can; where it is silent or also names assisting
//! units, history says which unit finally handled cases of the category in the same street without a
//! return, and the reason is shown with the suggestion.

use chrono::Duration;
use cityloop_domain::workflow::{FlowEntry, MoveKind};
use cityloop_domain::{Case, CategoryId, DivisionId, Role, UnitId};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DispatchHint {
    pub unit: UnitId,
    pub unit_name: String,
    /// `catalogue` or `history`.
    pub source: &'static str,
    /// Why this unit, in words (zh-CN).
    pub reason: String,
    /// The same in English.
    pub reason_en: String,
}

/// History is read over this many days.
const HISTORY_DAYS: i64 = 180;
/// Fewer closed cases than this in the street: widen to the district, then the city.
const MIN_HISTORY: i64 = 5;

/// Who sees dispatch hints: those who dispatch and file, not units or residents.
const HINT_READERS: &[Role] = &[Role::Dispatcher, Role::Lead, Role::Operator, Role::Leader, Role::Admin];

/// A unit that gave the case back (退单) and the dispatcher agreed, with the reason it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnedBy {
    pub unit: UnitId,
    pub reason: String,
}

/// The units whose returns of a case were approved, newest first, each once: a case is not sent back
/// to them by default, whatever the catalogue says.
pub fn units_that_returned(flow: &[(i64, FlowEntry)]) -> Vec<ReturnedBy> {
    let mut returned: Vec<ReturnedBy> = Vec::new();
    for (at, (_, f)) in flow.iter().enumerate().rev() {
        if f.kind != MoveKind::ApproveReturn {
            continue;
        }
        let Some(unit) = f.data.get("returned_by").and_then(|u| u.as_i64()).map(UnitId) else { continue };
        let reason =
            flow[..at].iter().rev().find(|(_, r)| r.kind == MoveKind::Return).and_then(|(_, r)| r.note.clone());
        if !returned.iter().any(|r| r.unit == unit) {
            returned.push(ReturnedBy { unit, reason: reason.unwrap_or_default() });
        }
    }
    returned
}

impl App {
    /// Dispatch hints for a stored case.
    pub async fn dispatch_hints_for_case(&self, who: &Principal, number: &str) -> Result<Vec<DispatchHint>> {
        if !who.has_any(HINT_READERS) {
            return Err(AppError::Forbidden("dispatch hints are for the hotline's staff".into()));
        }
        // The hints show no contact data: the case is looked up, not viewed.
        let (case, _) = self.visible_case(who, &crate::moves::CaseRef::Number(number.to_string())).await?;
        let returned = self.returned_units(&case).await?;
        self.dispatch_hints_after_returns(case.category_id, case.division_id, &returned).await
    }

    /// The units that gave `case` back (see [`units_that_returned`]).
    pub async fn returned_units(&self, case: &Case) -> Result<Vec<ReturnedBy>> {
        if case.returns == 0 {
            return Ok(Vec::new());
        }
        Ok(units_that_returned(&self.store.flows(case.id).await?))
    }

    /// The catalogue's unit, and a unit from history when the catalogue is silent or names several units.
    pub async fn dispatch_hints(
        &self,
        category: Option<CategoryId>,
        division: Option<DivisionId>,
    ) -> Result<Vec<DispatchHint>> {
        self.dispatch_hints_after_returns(category, division, &[]).await
    }

    /// The hints for a case some units gave back: the catalogue's unit is said to have returned it (with
    /// its reason), and history suggests another.
    pub async fn dispatch_hints_after_returns(
        &self,
        category: Option<CategoryId>,
        division: Option<DivisionId>,
        returned: &[ReturnedBy],
    ) -> Result<Vec<DispatchHint>> {
        let gave_back = |unit: UnitId| returned.iter().find(|r| r.unit == unit);
        let Some(category) = category else { return Ok(Vec::new()) };
        let reference = self.reference();
        let name = |unit: UnitId| reference.unit(unit).map_or_else(|| format!("#{}", unit.0), |u| u.name.clone());
        let preview = self.dispatch_preview(Some(category), division).await?;
        let mut hints = Vec::new();
        if let Some(unit) = preview.unit {
            let (reason, reason_en) = match gave_back(unit) {
                Some(r) => (
                    format!("派单目录指定的主办单位，但该单位已退回本案：{}", r.reason),
                    format!("The lead unit the dispatch catalogue names, but it returned this case: {}", r.reason),
                ),
                None => {
                    ("派单目录指定的主办单位".to_string(), "The lead unit the dispatch catalogue names".to_string())
                }
            };
            hints.push(DispatchHint { unit, unit_name: name(unit), source: "catalogue", reason, reason_en });
            if preview.assisting_units.is_empty() && gave_back(unit).is_none() {
                return Ok(hints);
            }
        }
        // The street (parent of the community), then the district, then the whole city.
        let chain = division.map(|d| reference.division_chain(d)).unwrap_or_default();
        let since = self.now() - Duration::days(HISTORY_DAYS);
        for area in chain.iter().skip(1).map(Some).chain([None]) {
            let divisions: Vec<DivisionId> = area.map(|a| reference.division_subtree(*a)).unwrap_or_default();
            let history = self.store.unit_history(category, &divisions, since).await?;
            let total: i64 = history.iter().map(|h| h.closed).sum();
            if total < MIN_HISTORY && area.is_some() {
                continue;
            }
            // A unit that gave this case back is not suggested for it again.
            if let Some(best) = history.iter().find(|h| gave_back(h.unit_id).is_none()).filter(|h| h.without_return > 0)
            {
                let division = area.and_then(|a| reference.division(*a));
                let place = division.map_or("全市".to_string(), |d| d.name.clone());
                let place_en = division.map_or("the city".to_string(), |d| d.name.clone());
                if !hints.iter().any(|h| h.unit == best.unit_id) {
                    hints.push(DispatchHint {
                        unit: best.unit_id,
                        unit_name: name(best.unit_id),
                        source: "history",
                        reason: format!(
                            "近{HISTORY_DAYS}天{place}同类已办结 {total} 件，其中 {} 件由该单位办结且未退单",
                            best.without_return
                        ),
                        reason_en: format!(
                            "Of {total} such cases closed in {place_en} over {HISTORY_DAYS} days, this unit closed {} \
                             without a return",
                            best.without_return
                        ),
                    });
                }
            }
            break;
        }
        Ok(hints)
    }
}
