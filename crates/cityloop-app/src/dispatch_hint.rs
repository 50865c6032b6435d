//! Dispatch suggestion: the catalogue decides where it can; where it is silent or also names assisting
//! units, history says which unit finally handled cases of the category in the same street without a
//! return, and the reason is shown with the suggestion.

use chrono::Duration;
use cityloop_domain::{CategoryId, DivisionId, Role, UnitId};
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

impl App {
    /// Dispatch hints for a stored case.
    pub async fn dispatch_hints_for_case(&self, who: &Principal, number: &str) -> Result<Vec<DispatchHint>> {
        if !who.has_any(HINT_READERS) {
            return Err(AppError::Forbidden("dispatch hints are for the hotline's staff".into()));
        }
        // The hints show no contact data: the case is looked up, not viewed.
        let (case, _) = self.visible_case(who, &crate::moves::CaseRef::Number(number.to_string())).await?;
        self.dispatch_hints(case.category_id, case.division_id).await
    }

    /// The catalogue's unit, and a unit from history when the catalogue is silent or names several units.
    pub async fn dispatch_hints(
        &self,
        category: Option<CategoryId>,
        division: Option<DivisionId>,
    ) -> Result<Vec<DispatchHint>> {
        let Some(category) = category else { return Ok(Vec::new()) };
        let reference = self.reference();
        let name = |unit: UnitId| reference.unit(unit).map_or_else(|| format!("#{}", unit.0), |u| u.name.clone());
        let preview = self.dispatch_preview(Some(category), division).await?;
        let mut hints = Vec::new();
        if let Some(unit) = preview.unit {
            hints.push(DispatchHint {
                unit,
                unit_name: name(unit),
                source: "catalogue",
                reason: "派单目录指定的主办单位".to_string(),
                reason_en: "The lead unit the dispatch catalogue names".to_string(),
            });
            if preview.assisting_units.is_empty() {
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
            if let Some(best) = history.first().filter(|h| h.without_return > 0) {
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
