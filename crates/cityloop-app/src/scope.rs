//! Who may see what: the signed-in principal, the part of the city it sees, and how it relates to a
//! case (its unit, its grids, its street, its own requests).

use cityloop_domain::masking::{mask_name, mask_phone};
use cityloop_domain::workflow::{Actor, Relation};
use cityloop_domain::{Case, Contact, DivisionId, Role, UnitId};
use cityloop_store::{CaseScope, UserRow, WhistleRow};

use crate::reference::Reference;

/// Roles that work on every case of the city.
const CITY_WIDE: &[Role] = &[Role::Admin, Role::Operator, Role::Lead, Role::Dispatcher, Role::Leader, Role::Recipient];
/// Roles that read the city's analysis: evaluation, risk signals, monthly topics.
pub const CITY_ANALYSTS: &[Role] = &[Role::Admin, Role::Leader, Role::Lead, Role::Dispatcher];
/// Roles that need the resident's contact data in clear.
const CONTACT_ROLES: &[Role] = &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Admin];

/// A signed-in user with the scope worked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: UserRow,
    /// The user's unit and its sub-units.
    pub unit_subtree: Vec<UnitId>,
    /// For coordinators: the division of their unit and everything below it.
    pub area: Vec<DivisionId>,
    /// Signed in with a data recipient's token: it may only export cases, and always with this filter
    /// (a case-list query string) over its own.
    pub export_filter: Option<String>,
}

/// How much of a resident's contact data a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactAccess {
    Full,
    Masked,
    Hidden,
}

impl Principal {
    /// Works out the scope of a user.
    pub fn new(user: UserRow, reference: &Reference) -> Self {
        let unit_subtree = user.unit_id.map(|u| reference.unit_subtree(u)).unwrap_or_default();
        let area = if user.roles.contains(&Role::Coordinator) {
            user.unit_id
                .and_then(|u| reference.unit(u))
                .and_then(|u| u.division_id)
                .map(|d| reference.division_subtree(d))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Self { user, unit_subtree, area, export_filter: None }
    }

    /// Whether the caller only takes masked exports: a data recipient's token, or any token of a
    /// user holding the data-recipient role.
    pub fn exports_only(&self) -> bool {
        self.export_filter.is_some() || self.has(Role::Recipient)
    }

    /// Whether the user is a resident and nothing else: they see their own requests as the portal
    /// shows them, without the administration's inner workings.
    pub fn is_resident(&self) -> bool {
        !self.user.roles.is_empty() && self.user.roles.iter().all(|r| *r == Role::Citizen)
    }

    /// Whether the user holds a role.
    pub fn has(&self, role: Role) -> bool {
        self.user.roles.contains(&role)
    }

    /// Whether the user holds any of the roles.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The user as the actor of a move.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            name: self.user.name.clone(),
            roles: self.user.roles.clone(),
            unit_id: self.user.unit_id,
        }
    }

    /// The cases this user may list.
    pub fn case_scope(&self) -> CaseScope {
        if self.has_any(CITY_WIDE) {
            return CaseScope::everything();
        }
        let mut scope = CaseScope::default();
        if self.has(Role::Handler) || self.has(Role::Coordinator) {
            scope.units = self.unit_subtree.clone();
        }
        if self.has(Role::Inspector) {
            scope.grids = self.user.grids.clone();
        }
        if self.has(Role::Coordinator) {
            scope.divisions = self.area.clone();
        }
        scope.reporter = Some(self.user.id);
        scope
    }

    /// Whether this user may see a case at all.
    pub fn can_see(&self, case: &Case, whistles: &[WhistleRow]) -> bool {
        if self.has_any(CITY_WIDE) || case.reporter_id == Some(self.user.id) {
            return true;
        }
        let rel = self.relation(case, whistles);
        let unit_side = (self.has(Role::Handler) || self.has(Role::Coordinator))
            && (rel.in_unit || rel.assisting || whistles.iter().any(|w| self.unit_subtree.contains(&w.unit_id)));
        unit_side || (self.has(Role::Inspector) && rel.in_grid) || (self.has(Role::Coordinator) && rel.in_street)
    }

    /// How the user relates to a case, for the workflow's scope checks.
    pub fn relation(&self, case: &Case, whistles: &[WhistleRow]) -> Relation {
        Relation {
            in_unit: case.unit_id.is_some_and(|u| self.unit_subtree.contains(&u)),
            assisting: case.assisting_units.iter().any(|u| self.unit_subtree.contains(u)),
            in_grid: case.grid_id.is_some_and(|g| self.user.grids.contains(&g)),
            is_reporter: case.reporter_id == Some(self.user.id),
            in_street: case.division_id.is_some_and(|d| self.area.contains(&d)),
            summoned: self
                .user
                .unit_id
                .is_some_and(|u| whistles.iter().any(|w| w.unit_id == u && w.reported_at.is_none())),
            joined: self
                .user
                .unit_id
                .is_some_and(|u| whistles.iter().any(|w| w.unit_id == u && w.reported_at.is_some())),
        }
    }

    /// Whether the user's work includes calling residents back (and so looking them up by phone).
    pub fn works_with_contacts(&self) -> bool {
        self.has_any(CONTACT_ROLES)
    }

    /// How much contact data the user sees on a case: staff who call residents back see it in
    /// clear, the resident sees their own, units never see it on a confidential case, others masked.
    pub fn contact_access(&self, case: &Case) -> ContactAccess {
        if case.reporter_id == Some(self.user.id) || self.has_any(CONTACT_ROLES) {
            ContactAccess::Full
        } else if case.confidential {
            ContactAccess::Hidden
        } else {
            ContactAccess::Masked
        }
    }

    /// The contact data as this user may see it.
    pub fn visible_contact(&self, case: &Case) -> Option<Contact> {
        let contact = case.contact.as_ref()?;
        match self.contact_access(case) {
            ContactAccess::Full => Some(contact.clone()),
            ContactAccess::Masked => {
                Some(Contact { name: mask_name(&contact.name), phone: mask_phone(&contact.phone) })
            }
            ContactAccess::Hidden => None,
        }
    }
}
