//! Administration: users, the category tree (with its CSV import), grids (GeoJSON import), the
//! dispatch catalogue and the holiday calendar. Each change reloads the reference snapshot.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use cityloop_domain::catalogue::CatalogueRule;
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::grid::{area_to_geojson, parse_grid_features};
use cityloop_domain::{
    CaseStandard, CategoryId, DivisionId, GridId, Role, TimeLimit, TimingMode, UnitId, Urgency, UserId,
};
use cityloop_store::{GridRow, UserRow};
use serde::{Deserialize, Serialize};

use crate::auth::{check_new_password, hash_password};
use crate::error::{AppError, FieldErrors, Result};
use crate::moves::UnitRef;
use crate::scope::Principal;
use crate::App;

/// A new user.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub roles: Vec<String>,
    pub unit: Option<UnitRef>,
    /// Grid codes (inspectors).
    pub grids: Option<Vec<String>>,
}

/// A new catalogue rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    /// Category code.
    pub category: String,
    /// Division code; none for city-wide.
    pub division: Option<String>,
    pub lead_unit: UnitRef,
    pub assisting_units: Option<Vec<UnitRef>>,
}

/// A new handling unit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    pub code: String,
    pub name: String,
    /// `government, department, street_office, community, utility, center`.
    pub kind: String,
    pub parent: Option<UnitRef>,
    /// Division code of the area the unit serves.
    pub division: Option<String>,
}

/// What an edit does to a field that may be empty: a request that names only what it changes
/// loses nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    /// Left as stored.
    Keep,
    /// Emptied.
    Clear,
    Set(T),
}

impl<T> Change<T> {
    /// The value after the edit, given the value stored now.
    fn apply(self, stored: impl FnOnce() -> Option<T>) -> Option<T> {
        match self {
            Change::Keep => stored(),
            Change::Clear => None,
            Change::Set(value) => Some(value),
        }
    }
}

/// A form states every field: empty is cleared.
impl<T> From<Option<T>> for Change<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Change::Clear, Change::Set)
    }
}

/// What an administrator changes about a category: its name and its own case standard.
#[derive(Debug, Clone)]
pub struct CategoryEdit {
    pub name: String,
    /// Cleared: the category follows the standard of the nearest category above it that has one.
    pub standard: Change<StandardInput>,
    /// Whether grid inspectors are to find its problems on patrol (漏报); `None` keeps it.
    pub patrolled: Option<bool>,
}

/// A case standard (立案、结案标准 and the time limit) as a surface sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StandardInput {
    pub limit_amount: u32,
    /// `continuous` (hours), `working_hours`, `working_days`, `calendar_days`.
    pub limit_mode: String,
    /// `normal, urgent, critical`.
    pub urgency: String,
    #[serde(default)]
    pub filing_condition: String,
    #[serde(default)]
    pub closing_condition: String,
}

/// What an administrator changes about an account: everything but its username and password.
#[derive(Debug, Clone)]
pub struct UserEdit {
    pub name: String,
    pub roles: Vec<String>,
    /// Cleared: the user belongs to no unit.
    pub unit: Change<UnitRef>,
    /// Grid codes (inspectors); cleared: none.
    pub grids: Change<Vec<String>>,
}

/// An account's checked name, roles, unit and grids.
struct Profile {
    name: String,
    roles: Vec<Role>,
    unit: Option<UnitId>,
    grids: Vec<GridId>,
}

/// What an administrator changes about a unit: everything but its code, which other systems and
/// the catalogue's files name it by.
#[derive(Debug, Clone)]
pub struct UnitEdit {
    pub name: String,
    /// `government, department, street_office, community, utility, center`.
    pub kind: String,
    /// Cleared: a unit at the top.
    pub parent: Change<UnitRef>,
    /// Division code of the area the unit serves.
    pub division: Change<String>,
}

impl From<&CaseStandard> for StandardInput {
    fn from(s: &CaseStandard) -> Self {
        StandardInput {
            limit_amount: s.limit.amount,
            limit_mode: s.limit.mode.as_str().into(),
            urgency: s.urgency.as_str().into(),
            filing_condition: s.filing_condition.clone(),
            closing_condition: s.closing_condition.clone(),
        }
    }
}

/// The longest time limit a standard sets: a month counted in hours, a year counted in days.
const MAX_LIMIT_HOURS: u32 = 720;
const MAX_LIMIT_DAYS: u32 = 366;
/// The longest filing or closing condition.
const MAX_CONDITION_CHARS: usize = 500;

/// A standard as sent, checked: every wrong field at once.
fn check_standard(input: &StandardInput) -> Result<CaseStandard> {
    let mut errors = FieldErrors::default();
    let mode = TimingMode::parse(input.limit_mode.trim());
    if mode.is_none() {
        let names = TimingMode::wire_names().join(", ");
        errors.refuse("limit_mode", &format!("`{}` is not one of: {names}", input.limit_mode));
    }
    let urgency = Urgency::parse(input.urgency.trim());
    if urgency.is_none() {
        errors.refuse("urgency", &format!("`{}` is not one of: {}", input.urgency, Urgency::wire_names().join(", ")));
    }
    if let Some(mode) = mode {
        let max = if TimeLimit::new(1, mode).counts_hours() { MAX_LIMIT_HOURS } else { MAX_LIMIT_DAYS };
        if !(1..=max).contains(&input.limit_amount) {
            errors.refuse("limit_amount", &format!("must be 1 to {max}"));
        }
    }
    for (field, text) in
        [("filing_condition", &input.filing_condition), ("closing_condition", &input.closing_condition)]
    {
        if text.trim().chars().count() > MAX_CONDITION_CHARS {
            errors.refuse(field, &format!("must be at most {MAX_CONDITION_CHARS} characters"));
        }
    }
    errors.finish()?;
    let (mode, urgency) = mode.zip(urgency).expect("a mode or urgency that did not parse was refused above");
    Ok(CaseStandard {
        limit: TimeLimit::new(input.limit_amount, mode),
        urgency,
        filing_condition: input.filing_condition.trim().to_string(),
        closing_condition: input.closing_condition.trim().to_string(),
    })
}

/// A holiday or swapped working day.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `holiday`, `workday`, or `normal` to clear the day.
    pub kind: String,
    pub note: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub created_or_updated: usize,
    /// What the city already had and was left as it is (categories matched by name).
    pub already_present: usize,
}

/// A second-level category name and its third-level names.
type SecondLevel = (String, Vec<String>);

/// A category file merged into the city's tree: what is known so far, the city's categories and those
/// the import adds, by parent and name.
struct CategoryMerge {
    known: HashMap<(Option<CategoryId>, String), (CategoryId, String)>,
    codes: HashSet<String>,
    report: ImportReport,
}

impl CategoryMerge {
    /// The category named `name` under `parent` (its id and code), created with the next free code
    /// under the parent when the city does not have it.
    async fn place(
        &mut self,
        app: &App,
        parent: Option<&(CategoryId, String)>,
        name: &str,
        standard: Option<&cityloop_domain::CaseStandard>,
    ) -> Result<(CategoryId, String)> {
        let key = (parent.map(|p| p.0), name.to_string());
        if let Some(found) = self.known.get(&key) {
            self.report.already_present += 1;
            return Ok(found.clone());
        }
        let prefix = parent.map(|p| p.1.as_str()).unwrap_or_default();
        let code = (1..).map(|n| format!("{prefix}{n:02}")).find(|c| !self.codes.contains(c)).unwrap_or_default();
        let id = app.store.upsert_category(&code, name, parent.map(|p| p.0), standard, None).await?;
        self.codes.insert(code.clone());
        self.known.insert(key, (id, code.clone()));
        self.report.created_or_updated += 1;
        Ok((id, code))
    }
}

/// Reads a three-level category CSV into first level → second level → third-level names, in file
/// order; a line with a missing or empty level is refused with its file, line and column.
fn parse_category_tree(file: &str, text: &str) -> Result<Vec<(String, Vec<SecondLevel>)>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();
    let bad_csv = |line: u64, e: csv::Error| AppError::invalid(format!("{file}:{line}"), e.to_string());
    let header = match records.next() {
        Some(r) => r.map_err(|e| bad_csv(1, e))?,
        None => csv::StringRecord::new(),
    };
    let columns: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
    if columns.len() < 3 {
        return Err(AppError::invalid(
            format!("{file}:1"),
            "the header must name three levels, e.g. 一级分类,二级分类,三级分类",
        ));
    }
    let mut tree: Vec<(String, Vec<SecondLevel>)> = Vec::new();
    for record in records {
        let record = record.map_err(|e| bad_csv(e.position().map_or(0, |p| p.line()), e))?;
        let line_no = record.position().map_or(0, |p| p.line());
        let cells: Vec<&str> = record.iter().map(str::trim).collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        if cells.len() != 3 {
            return Err(AppError::invalid(
                format!("{file}:{line_no}"),
                format!("expected 3 fields, found {}", cells.len()),
            ));
        }
        for (n, cell) in cells.iter().enumerate() {
            if cell.is_empty() {
                return Err(AppError::invalid(format!("{file}:{line_no}: {}", columns[n]), "is empty"));
            }
        }
        let first = match tree.iter().position(|(n, _)| n == cells[0]) {
            Some(p) => p,
            None => {
                tree.push((cells[0].to_string(), Vec::new()));
                tree.len() - 1
            }
        };
        let seconds = &mut tree[first].1;
        let second = match seconds.iter().position(|(n, _)| n == cells[1]) {
            Some(p) => p,
            None => {
                seconds.push((cells[1].to_string(), Vec::new()));
                seconds.len() - 1
            }
        };
        if !seconds[second].1.iter().any(|n| n == cells[2]) {
            seconds[second].1.push(cells[2].to_string());
        }
    }
    Ok(tree)
}

pub(crate) fn require_admin(who: Option<&Principal>) -> Result<()> {
    match who {
        Some(p) if !p.has(Role::Admin) => Err(AppError::Forbidden("administrators only".into())),
        _ => Ok(()),
    }
}

/// How a GeoJSON file of areas becomes divisions.
#[derive(Debug, Clone)]
pub struct AreaImport {
    /// The level of divisions the file creates.
    pub level: DivisionLevel,
    /// The feature property holding the division code (e.g. `BoroCD`).
    pub code_property: String,
    /// The feature property holding the name; the code when absent.
    pub name_property: Option<String>,
    /// The code of the division new ones go under.
    pub parent: Option<String>,
}

/// Username rules: 3–64 characters of letters, digits, `.`, `_`, `-`.
fn check_username(username: &str) -> Result<()> {
    let ok = (3..=64).contains(&username.chars().count())
        && username.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("username", "must be 3 to 64 letters, digits, '.', '_' or '-'"))
    }
}

/// The roles of a new account: at least one, each known, and a data recipient's alone.
fn parse_roles(given: &[String]) -> Result<Vec<Role>> {
    if given.is_empty() {
        return Err(AppError::invalid("roles", "give at least one role"));
    }
    let roles: Vec<Role> = given
        .iter()
        .map(|r| {
            Role::parse(r.trim()).ok_or_else(|| {
                AppError::invalid("roles", format!("`{r}` is not one of: {}", Role::wire_names().join(", ")))
            })
        })
        .collect::<Result<_>>()?;
    if roles.contains(&Role::Recipient) && roles.len() > 1 {
        return Err(AppError::invalid("roles", "a data recipient holds no other role: give it an account of its own"));
    }
    Ok(roles)
}

impl App {
    /// Adds a user. `who` is the admin doing it (`None`: the command line, which is trusted).
    pub async fn add_user(&self, who: Option<&Principal>, input: NewUser) -> Result<UserRow> {
        require_admin(who)?;
        // Every field is checked before answering, so that the form marks all its errors at once.
        let mut errors = FieldErrors::default();
        let username = input.username.trim();
        if errors.keep(check_username(username))?.is_some() {
            // Two accounts told apart only by capitals are a mistake waiting to be made at sign-in.
            // (The same name exactly is refused by the store, as a duplicate.)
            // Latin capitals only, alike on both engines (PostgreSQL's lower() folds other scripts too).
            let only_capitals = |taken: &String| taken != username && taken.eq_ignore_ascii_case(username);
            if let Some(taken) = self.store.username_like(username).await?.filter(only_capitals) {
                errors.refuse("username", &format!("username `{taken}` is taken"));
            }
        }
        errors.keep(check_new_password(&input.password))?;
        let grids = input.grids.unwrap_or_default();
        let profile = self.check_profile(&mut errors, &input.name, &input.roles, input.unit.as_ref(), &grids)?;
        errors.finish()?;
        let Some(Profile { name, roles, unit, grids }) = profile else {
            return Err(AppError::Internal("a field was neither read nor refused".into()));
        };
        let name = name.as_str();
        let hash = hash_password(&input.password)?;
        let id = self.store.insert_user(username, name, &hash, &roles, unit, &grids, self.now()).await.map_err(
            |e| match e {
                cityloop_store::StoreError::Duplicate(_) => {
                    AppError::Duplicate(format!("username `{username}` is taken"))
                }
                other => other.into(),
            },
        )?;
        Ok(self.store.get_user(id).await?)
    }

    /// Changes an account's name, roles, unit or grids (someone moves to another unit or takes other
    /// grids) and keeps its history; it takes effect at the user's next request.
    pub async fn update_user(&self, who: &Principal, username: &str, edit: UserEdit) -> Result<UserRow> {
        require_admin(Some(who))?;
        let username = username.trim();
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("user `{username}`")))?;
        let reference = self.reference();
        let unit = edit.unit.apply(|| user.unit_id.map(|u| UnitRef::Id(u.0)));
        let grids = edit
            .grids
            .apply(|| Some(user.grids.iter().filter_map(|g| reference.grid(*g)).map(|g| g.code.clone()).collect()));
        let mut errors = FieldErrors::default();
        let profile =
            self.check_profile(&mut errors, &edit.name, &edit.roles, unit.as_ref(), &grids.unwrap_or_default())?;
        if who.user.id == user.id && profile.as_ref().is_some_and(|p| !p.roles.contains(&Role::Admin)) {
            // A city is never left without an administrator by one slip of the mouse.
            errors.refuse("roles", "an administrator cannot take away their own administrator role");
        }
        errors.finish()?;
        let Some(Profile { name, roles, unit, grids }) = profile else {
            return Err(AppError::Internal("a field was neither read nor refused".into()));
        };
        self.store.update_user(user.id, &name, &roles, unit, &grids).await?;
        self.sessions.forget_user(user.id);
        self.reload_reference().await?;
        Ok(self.store.get_user(user.id).await?)
    }

    /// An account's name, roles, unit and grids, checked: every wrong field is refused in `errors`, and
    /// the profile is given only when all of them are right.
    fn check_profile(
        &self,
        errors: &mut FieldErrors,
        name: &str,
        roles: &[String],
        unit: Option<&UnitRef>,
        grids: &[String],
    ) -> Result<Option<Profile>> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.refuse("name", "is required (at most 100 characters)");
        }
        let roles = errors.keep(parse_roles(roles))?;
        let unit_id = errors.keep(unit.map(|u| self.resolve_unit("unit", u)).transpose())?.flatten();
        let holds = |role: Role| roles.as_ref().is_some_and(|r| r.contains(&role));
        let reference = self.reference();
        if (holds(Role::Handler) || holds(Role::Coordinator)) && unit.is_none() {
            errors.refuse("unit", "handlers and coordinators belong to a unit");
        }
        // A coordinator's area is their unit's division: a unit without one leaves them nothing to see.
        if holds(Role::Coordinator) && unit_id.and_then(|u| reference.unit(u)).is_some_and(|u| u.division_id.is_none())
        {
            errors.refuse(
                "unit",
                "a coordinator works in their unit's area: choose a unit with a division, such as a street office",
            );
        }
        if holds(Role::Inspector) && grids.is_empty() {
            errors.refuse("grids", "an inspector reports and verifies in their own grids: give at least one");
        }
        let grids: Option<Vec<GridId>> = errors.keep(
            grids
                .iter()
                .map(|code| {
                    reference
                        .grid_by_code(code)
                        .map(|g| g.id)
                        .ok_or_else(|| AppError::invalid("grids", format!("unknown grid `{code}`")))
                })
                .collect::<Result<_>>(),
        )?;
        Ok(match (roles, grids) {
            (Some(roles), Some(grids)) if errors.is_empty() => {
                Some(Profile { name: name.to_string(), roles, unit: unit_id, grids })
            }
            _ => None,
        })
    }

    /// Adds a user with an already hashed password (the demo city shares one hash among its users).
    pub async fn add_user_hashed(
        &self,
        username: &str,
        name: &str,
        hash: &str,
        roles: &[Role],
        unit: Option<UnitId>,
        grids: &[GridId],
    ) -> Result<UserId> {
        Ok(self.store.insert_user(username, name, hash, roles, unit, grids, self.now()).await?)
    }

    /// Imports the three-level category CSV (`一级分类,二级分类,三级分类`) into the city's tree. A
    /// category is matched by its name under the same parent: one the city has keeps its code, name
    /// and standard, whatever the file's order, so importing a file again (or another city's list)
    /// never renames what cases, rules and rankings already refer to. New ones get the next free code
    /// under their parent (`01`, `0101`, `010101`); new third-level ones get the default standard.
    pub async fn import_categories_csv(&self, file: &str, text: &str) -> Result<ImportReport> {
        let tree = parse_category_tree(file, text)?;
        let default_standard = cityloop_domain::CaseStandard {
            limit: cityloop_domain::workflow::DEFAULT_LIMIT,
            urgency: cityloop_domain::Urgency::Normal,
            filing_condition: String::new(),
            closing_condition: String::new(),
        };
        // The tree as stored now (another node may have added to it), so that no code is taken twice.
        self.reload_reference().await?;
        let reference = self.reference();
        let mut merge = CategoryMerge {
            known: reference
                .categories
                .iter()
                .map(|c| ((c.parent_id, c.name.trim().to_string()), (c.id, c.code.clone())))
                .collect(),
            codes: reference.categories.iter().map(|c| c.code.clone()).collect(),
            report: ImportReport::default(),
        };
        for (first, seconds) in &tree {
            let first = merge.place(self, None, first, None).await?;
            for (second, thirds) in seconds {
                let second = merge.place(self, Some(&first), second, None).await?;
                for third in thirds {
                    merge.place(self, Some(&second), third, Some(&default_standard)).await?;
                }
            }
        }
        let report = merge.report;
        self.reload_reference().await?;
        Ok(report)
    }

    /// Imports grids from a GeoJSON FeatureCollection; each grid joins the community named by its
    /// `community` property or the first 12 digits of its code (the community is created if unknown).
    pub async fn import_grids_geojson(&self, text: &str) -> Result<ImportReport> {
        let features = parse_grid_features(text).map_err(|e| AppError::invalid("geojson", e.to_string()))?;
        let mut report = ImportReport::default();
        for f in features {
            let reference = self.reference();
            let division = match reference.division_by_code(&f.community_code) {
                Some(d) => d.id,
                None => {
                    let id = self
                        .store
                        .insert_division(&f.community_code, &f.community_code, DivisionLevel::Community, None)
                        .await?;
                    self.reload_reference().await?;
                    id
                }
            };
            let (lat, lon) = f.centroid().unwrap_or_default();
            self.store
                .upsert_grid(&GridRow {
                    id: GridId(0),
                    code: f.code.clone(),
                    name: f.name.clone(),
                    division_id: Some(division),
                    geometry: area_to_geojson(&f.area),
                    centroid_lat: lat,
                    centroid_lon: lon,
                })
                .await?;
            report.created_or_updated += 1;
        }
        self.reload_reference().await?;
        Ok(report)
    }

    /// Imports areas (districts, streets, community boards…) from a GeoJSON FeatureCollection as
    /// divisions with their polygons: a code already known gets the polygon and name, an unknown one
    /// becomes a new division of `level` under `parent`. Cases with coordinates that no grid covers
    /// are then placed in the most specific division containing them. Nothing is stored when any
    /// feature is wrong.
    pub async fn import_divisions_geojson(
        &self,
        who: Option<&Principal>,
        text: &str,
        options: &AreaImport,
    ) -> Result<ImportReport> {
        require_admin(who)?;
        let features =
            cityloop_domain::grid::parse_area_features(text, &options.code_property, options.name_property.as_deref())
                .map_err(|e| AppError::invalid("geojson", e.to_string()))?;
        let reference = self.reference();
        let parent = match options.parent.as_deref() {
            Some(code) => Some(
                reference
                    .division_by_code(code)
                    .ok_or_else(|| AppError::invalid("parent", format!("unknown division `{code}`")))?
                    .id,
            ),
            None => None,
        };
        let mut report = ImportReport::default();
        for f in &features {
            let id = match reference.division_by_code(&f.code) {
                Some(d) => d.id,
                None => self.store.insert_division(&f.code, &f.name, options.level, parent).await?,
            };
            self.store.set_division_area(id, &f.name, &area_to_geojson(&f.area)).await?;
            report.created_or_updated += 1;
        }
        self.reload_reference().await?;
        Ok(report)
    }

    /// Adds a unit under an existing one (or at the top).
    pub async fn add_unit(&self, who: &Principal, input: NewUnit) -> Result<UnitId> {
        require_admin(Some(who))?;
        let code = input.code.trim();
        // A unit's code names it in addresses (/admin/units/{code}, the API) and in other systems' files.
        let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if code.is_empty() || code.chars().count() > 64 || !code.chars().all(fits) {
            return Err(AppError::invalid("code", "must be 1 to 64 letters, digits, '.', '_' or '-'"));
        }
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        let kind = cityloop_domain::UnitKind::parse(input.kind.trim()).ok_or_else(|| {
            AppError::invalid("kind", format!("must be one of: {}", cityloop_domain::UnitKind::wire_names().join(", ")))
        })?;
        let reference = self.reference();
        if reference.unit_by_code(code).is_some() {
            return Err(AppError::invalid("code", format!("a unit `{code}` already exists")));
        }
        let parent = input.parent.as_ref().map(|p| self.resolve_unit("parent", p)).transpose()?;
        let division = match input.division.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(code) => Some(
                reference
                    .division_by_code(code)
                    .ok_or_else(|| AppError::invalid("division", format!("unknown division `{code}`")))?
                    .id,
            ),
            None => None,
        };
        let id = self.store.insert_unit(code, name, kind, parent, division).await?;
        self.reload_reference().await?;
        Ok(id)
    }

    /// Renames a category or changes its case standard. Cases already dispatched keep the deadline
    /// they were given; the new limit applies from the next dispatch.
    pub async fn update_category(&self, who: &Principal, code: &str, edit: CategoryEdit) -> Result<()> {
        require_admin(Some(who))?;
        // Checked against the tree as stored now: another administrator (or node) may have changed it.
        self.reload_reference().await?;
        let reference = self.reference();
        let category =
            reference.category_by_code(code).ok_or_else(|| AppError::NotFound(format!("category `{code}`")))?;
        let mut errors = FieldErrors::default();
        let name = edit.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.refuse("name", "must be 1 to 100 characters");
        } else if reference
            .categories
            .iter()
            .any(|c| c.id != category.id && c.parent_id == category.parent_id && c.name.trim() == name)
        {
            // The category import matches categories by parent and name: two of one name would be one.
            errors.refuse("name", &format!("another category under the same parent is called `{name}`"));
        }
        let stored = || category.standard.as_ref().map(StandardInput::from);
        let standard = match &edit.standard.apply(stored) {
            Some(input) => errors.keep(check_standard(input))?,
            None => {
                // A leaf without a standard can no longer be filed or reported under: refused when
                // this category, or one below it that follows its standard, would be left without one.
                let above = category.parent_id.and_then(|p| reference.standard(p));
                let stranded = reference.category_subtree(category.id).into_iter().any(|c| {
                    reference.is_leaf(c)
                        && !reference
                            .category_chain(c)
                            .into_iter()
                            .take_while(|&up| up != category.id)
                            .any(|up| reference.category(up).is_some_and(|r| r.standard.is_some()))
                });
                if above.is_none() && stranded {
                    errors.refuse("standard", "is required: this category or one below it would have no case standard");
                }
                None
            }
        };
        errors.finish()?;
        self.store.upsert_category(code, name, category.parent_id, standard.as_ref(), edit.patrolled).await?;
        self.reload_reference().await
    }

    /// Changes a unit's name, kind, place in the tree or area. Its cases, users and catalogue rules
    /// stay with it.
    pub async fn update_unit(&self, who: &Principal, code: &str, edit: UnitEdit) -> Result<()> {
        require_admin(Some(who))?;
        // Checked against the tree as stored now: another administrator (or node) may have changed it.
        self.reload_reference().await?;
        let reference = self.reference();
        let unit = reference.unit_by_code(code).ok_or_else(|| AppError::NotFound(format!("unit `{code}`")))?;
        let mut errors = FieldErrors::default();
        let name = edit.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.refuse("name", "must be 1 to 100 characters");
        }
        let kind = cityloop_domain::UnitKind::parse(edit.kind.trim());
        if kind.is_none() {
            let names = cityloop_domain::UnitKind::wire_names().join(", ");
            errors.refuse("kind", &format!("`{}` is not one of: {names}", edit.kind));
        }
        let parent = match &edit.parent.apply(|| unit.parent_id.map(|p| UnitRef::Id(p.0))) {
            Some(p) => errors.keep(self.resolve_unit("parent", p))?,
            None => None,
        };
        if parent.is_some_and(|p| reference.unit_subtree(unit.id).contains(&p)) {
            errors.refuse("parent", "a unit cannot be placed under itself or a unit below it");
        }
        let stored_division = || unit.division_id.and_then(|d| reference.division(d)).map(|d| d.code.clone());
        let division = edit.division.apply(stored_division);
        let division = match division.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(code) => match reference.division_by_code(code) {
                Some(d) => Some(d.id),
                None => {
                    errors.refuse("division", &format!("unknown division `{code}`"));
                    None
                }
            },
            None if unit.division_id.is_some() => {
                // A coordinator works in their unit's area: the unit keeps one while it has them.
                if self.store.unit_has_active(unit.id, Role::Coordinator).await? {
                    errors.refuse("division", "its coordinators work in its area: give them another unit first");
                }
                None
            }
            None => None,
        };
        errors.finish()?;
        let kind = kind.expect("a kind that did not parse was refused above");
        // The store has the last word on loops: another edit may have moved a unit since the check.
        self.store.update_unit(unit.id, name, kind, parent, division).await.map_err(|e| match e {
            cityloop_store::StoreError::Invalid(m) => AppError::invalid("parent", m),
            e => e.into(),
        })?;
        self.reload_reference().await
    }

    /// Adds or replaces a catalogue rule.
    pub async fn put_catalogue_rule(&self, who: &Principal, input: NewRule) -> Result<CatalogueRule> {
        require_admin(Some(who))?;
        if input.category.trim().is_empty() {
            return Err(AppError::invalid("category", "is required"));
        }
        let reference = self.reference();
        let category = reference
            .category_by_code(&input.category)
            .ok_or_else(|| AppError::invalid("category", format!("unknown category `{}`", input.category)))?;
        let division = match input.division.as_deref() {
            Some(code) => Some(
                reference
                    .division_by_code(code)
                    .ok_or_else(|| AppError::invalid("division", format!("unknown division `{code}`")))?
                    .id,
            ),
            None => None,
        };
        let lead = self.resolve_unit("lead_unit", &input.lead_unit)?;
        let assisting = self.resolve_units("assisting_units", input.assisting_units.as_deref().unwrap_or_default())?;
        if assisting.contains(&lead) {
            return Err(AppError::invalid("assisting_units", "must not contain the lead unit"));
        }
        let mut rule = CatalogueRule {
            id: 0,
            category_id: CategoryId(category.id.0),
            division_id: division.map(|d| DivisionId(d.0)),
            lead_unit: lead,
            assisting_units: assisting,
        };
        rule.id = self.store.put_catalogue_rule(&rule).await?;
        self.reload_reference().await?;
        Ok(rule)
    }

    /// Removes a catalogue rule.
    pub async fn delete_catalogue_rule(&self, who: &Principal, id: i64) -> Result<()> {
        require_admin(Some(who))?;
        self.store.delete_catalogue_rule(id).await.map_err(|e| match e {
            cityloop_store::StoreError::NotFound => AppError::NotFound("catalogue rule".into()),
            other => other.into(),
        })?;
        self.reload_reference().await
    }

    /// Marks a calendar day.
    pub async fn set_calendar_day(&self, who: &Principal, input: CalendarDay) -> Result<()> {
        require_admin(Some(who))?;
        let day = NaiveDate::parse_from_str(input.day.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::invalid("day", "must be a date like 2026-10-01"))?;
        let kind = match input.kind.as_str() {
            "holiday" => Some("holiday"),
            "workday" => Some("workday"),
            "normal" => None,
            other => {
                return Err(AppError::invalid("kind", format!("`{other}` is not one of: holiday, workday, normal")))
            }
        };
        self.store.set_calendar_day(day, kind, input.note.as_deref().unwrap_or_default()).await?;
        self.reload_reference().await
    }
}
