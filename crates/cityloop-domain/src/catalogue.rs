//! The dispatch catalogue (派单目录 / 权责清单): which unit leads and which assist for a category in
//! an area. The most specific rule wins: first the most specific category that has any rule for
//! the area, then within it the most specific division, falling back to city-wide rules.

use serde::{Deserialize, Serialize};

use crate::ids::{CategoryId, DivisionId, UnitId};

/// One catalogue rule. `division_id: None` applies everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueRule {
    pub id: i64,
    pub category_id: CategoryId,
    pub division_id: Option<DivisionId>,
    pub lead_unit: UnitId,
    pub assisting_units: Vec<UnitId>,
}

/// Finds the rule for a case. `categories` runs from the case's category up to the root,
/// `divisions` from the case's most specific division up to the city.
pub fn resolve<'a>(
    rules: &'a [CatalogueRule],
    categories: &[CategoryId],
    divisions: &[DivisionId],
) -> Option<&'a CatalogueRule> {
    for category in categories {
        let for_category = || rules.iter().filter(move |r| r.category_id == *category);
        for division in divisions {
            if let Some(rule) = for_category().find(|r| r.division_id == Some(*division)) {
                return Some(rule);
            }
        }
        if let Some(rule) = for_category().find(|r| r.division_id.is_none()) {
            return Some(rule);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: i64, category: i64, division: Option<i64>, unit: i64) -> CatalogueRule {
        CatalogueRule {
            id,
            category_id: CategoryId(category),
            division_id: division.map(DivisionId),
            lead_unit: UnitId(unit),
            assisting_units: vec![],
        }
    }

    // Categories: 1 (root) > 10 > 100 (leaf). Divisions: 1 (city) > 2 (district) > 3 (street) > 4 (community).
    const LEAF: [CategoryId; 3] = [CategoryId(100), CategoryId(10), CategoryId(1)];
    const COMMUNITY: [DivisionId; 4] = [DivisionId(4), DivisionId(3), DivisionId(2), DivisionId(1)];

    #[test]
    fn the_most_specific_rule_wins() {
        let rules = vec![
            rule(1, 100, None, 50),
            rule(2, 100, Some(2), 60),
            rule(3, 100, Some(3), 70),
            rule(4, 10, Some(4), 80),
        ];
        assert_eq!(resolve(&rules, &LEAF, &COMMUNITY).unwrap().id, 3);
        // Another district: only the city-wide rule of the leaf applies.
        assert_eq!(resolve(&rules, &LEAF, &[DivisionId(9), DivisionId(1)]).unwrap().id, 1);
    }

    #[test]
    fn falls_back_to_the_parent_category_then_to_nothing() {
        let rules = vec![rule(1, 10, Some(2), 60), rule(2, 1, None, 90)];
        assert_eq!(resolve(&rules, &LEAF, &COMMUNITY).unwrap().id, 1);
        assert_eq!(resolve(&rules, &LEAF, &[DivisionId(9)]).unwrap().id, 2);
        assert_eq!(resolve(&rules[..1], &LEAF, &[DivisionId(9)]), None);
    }
}
