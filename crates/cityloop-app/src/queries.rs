//! Reading cases: one case with its history and the moves the caller may make, and filtered,
//! paged lists limited to what the caller may see.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cityloop_domain::workflow::{allowed_moves, resident_view, FlowEntry, MoveKind};
use cityloop_domain::{Case, Channel, Contact, GridId, RequestType, State, UnitId};
use cityloop_store::{CaseFilter, CaseSort, WhistleRow};
use serde::{Deserialize, Serialize};

use crate::access::ContactPurpose;
use crate::error::{AppError, Result};
use crate::moves::CaseRef;
use crate::scope::Principal;
use crate::App;

/// Largest page of a case list.
pub const MAX_PAGE_SIZE: i64 = 500;

/// A case as one caller sees it.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub case: Case,
    /// Contact data, masked or hidden according to the caller's roles.
    pub contact: Option<Contact>,
    pub overdue: bool,
    pub flow: Vec<(i64, FlowEntry)>,
    pub allowed_moves: Vec<MoveKind>,
    pub whistles: Vec<WhistleRow>,
}

/// A case in a list.
#[derive(Debug, Clone)]
pub struct CaseSummary {
    pub case: Case,
    pub contact: Option<Contact>,
    pub overdue: bool,
}

/// A page of a case list.
#[derive(Debug, Clone)]
pub struct CasePage {
    pub items: Vec<CaseSummary>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// Filters of a case list as a surface receives them (all optional, strings checked here).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CaseQuery {
    /// One state or several separated by commas.
    pub state: Option<String>,
    /// A category code; its sub-categories are included.
    pub category: Option<String>,
    /// A lead unit (id or code); its sub-units are included.
    pub unit: Option<String>,
    /// A grid code.
    pub grid: Option<String>,
    /// A division code; divisions below it are included.
    pub division: Option<String>,
    pub channel: Option<String>,
    pub request_type: Option<String>,
    pub overdue: Option<bool>,
    /// RFC 3339 time or local date, inclusive.
    pub created_from: Option<String>,
    /// RFC 3339 time or local date, exclusive (a date means up to the end of that day).
    pub created_to: Option<String>,
    /// Words in the title or description, or a case number.
    pub q: Option<String>,
    /// The caller's phone number (hotline: the caller's earlier requests).
    pub phone: Option<String>,
    /// Cases merged into this case (id).
    pub master: Option<i64>,
    /// Open cases this unit (id or code) was summoned to by a whistle and has not reported in to yet.
    pub summoned: Option<String>,
    /// Open cases this unit (id or code) was summoned to by a whistle and has reported in to: the
    /// ones it follows until they are done.
    pub reported_in: Option<String>,
    /// Open cases this unit (id or code) assists.
    pub assisting: Option<String>,
    /// Cases with (true) or without (false) an extension or suspension request waiting.
    pub pending: Option<bool>,
    /// Cases whose deadline falls within this many hours and that are not overdue yet.
    pub due_within_hours: Option<i64>,
    /// Cases sent back for rework at least once.
    pub reworked: Option<bool>,
    /// `created_desc` (default), `created_asc`, `deadline`, `updated_desc`.
    pub sort: Option<String>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    /// Count at most this many matches (the pages' lists); `None` counts exactly.
    #[serde(skip)]
    pub count_limit: Option<i64>,
}

/// The `limit` and `offset` of a requested page (1-based, default 1) of `page_size` items (default
/// `default_size`, at most `max`), or an error naming the field.
pub(crate) fn page_window(
    page: Option<i64>,
    page_size: Option<i64>,
    default_size: i64,
    max: i64,
) -> Result<(i64, i64)> {
    let (page, page_size) = (page.unwrap_or(1), page_size.unwrap_or(default_size));
    if page < 1 {
        return Err(AppError::invalid("page", "must be 1 or more"));
    }
    if !(1..=max).contains(&page_size) {
        return Err(AppError::invalid("page_size", format!("must be 1 to {max}")));
    }
    Ok((page_size, (page - 1).saturating_mul(page_size)))
}

impl App {
    /// A case the caller may see, with its whistles; `NotFound` otherwise, so that existence does not leak.
    pub async fn visible_case(&self, who: &Principal, r: &CaseRef) -> Result<(Case, Vec<WhistleRow>)> {
        let case = self.load_case_ref(r).await?;
        let whistles = self.store.whistles(case.id).await?;
        if !who.can_see(&case, &whistles) {
            return Err(AppError::NotFound("case".into()));
        }
        Ok((case, whistles))
    }

    /// One case with its history and the caller's allowed moves.
    pub async fn case_view(&self, who: &Principal, r: &CaseRef) -> Result<CaseView> {
        let (case, whistles) = self.visible_case(who, r).await?;
        let flow = self.store.flows(case.id).await?;
        self.record_contact_views(who, [&case], ContactPurpose::Case).await?;
        Ok(self.view_of(who, case, flow, whistles))
    }

    /// A case as one caller sees it, from what is already at hand.
    pub fn view_of(
        &self,
        who: &Principal,
        case: Case,
        flow: Vec<(i64, FlowEntry)>,
        whistles: Vec<WhistleRow>,
    ) -> CaseView {
        let mut allowed = allowed_moves(&case, &who.actor(), &who.relation(&case, &whistles));
        // Escalating needs a higher unit: the top of the tree is offered no such move.
        let reference = self.reference();
        if case.unit_id.and_then(|u| reference.unit(u)).is_some_and(|u| u.parent_id.is_none()) {
            allowed.retain(|k| *k != MoveKind::Escalate);
        }
        let mut case = case;
        let (flow, whistles) = if who.is_resident() {
            // A unit's request to the dispatcher (and its reason) is the administration's own business.
            case.pending = None;
            (resident_view(&flow), Vec::new())
        } else {
            (flow, whistles)
        };
        mask_typed_numbers(who, &mut case);
        CaseView {
            contact: who.visible_contact(&case),
            overdue: case.is_overdue(self.now()),
            allowed_moves: allowed,
            flow,
            whistles,
            case,
        }
    }

    pub(crate) fn parse_time(&self, field: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        let reference = self.reference();
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(field, "must be an RFC 3339 time or a date like 2026-11-21"))?;
        let date = if end_of_day { date.succ_opt().unwrap_or(date) } else { date };
        reference
            .calendar
            .offset()
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::invalid(field, "is not a valid local time"))
    }

    /// Builds the store filter for a caller and a query.
    pub fn case_filter(&self, who: &Principal, q: &CaseQuery) -> Result<CaseFilter> {
        let reference = self.reference();
        let mut f = CaseFilter::new(who.case_scope(), self.now());
        if let Some(states) = q.state.as_deref().filter(|s| !s.is_empty()) {
            f.states = states
                .split(',')
                .map(|s| {
                    State::parse(s.trim()).ok_or_else(|| {
                        AppError::invalid("state", format!("`{s}` is not one of: {}", State::wire_names().join(", ")))
                    })
                })
                .collect::<Result<_>>()?;
        }
        if let Some(code) = q.category.as_deref().filter(|s| !s.is_empty()) {
            let c = reference
                .category_by_code(code)
                .ok_or_else(|| AppError::invalid("category", format!("unknown category `{code}`")))?;
            f.categories = Some(reference.category_subtree(c.id));
        }
        // By code first: a city's unit codes may be all digits, like ids.
        let unit_named = |field: &str, u: &str| {
            reference
                .unit_by_code(u)
                .or_else(|| u.parse::<i64>().ok().and_then(|id| reference.unit(UnitId(id))))
                .map(|unit| unit.id)
                .ok_or_else(|| AppError::invalid(field, format!("unknown unit `{u}`")))
        };
        if let Some(u) = q.unit.as_deref().filter(|s| !s.is_empty()) {
            f.units = Some(reference.unit_subtree(unit_named("unit", u)?));
        }
        if let Some(u) = q.summoned.as_deref().filter(|s| !s.is_empty()) {
            f.summoned = Some(unit_named("summoned", u)?);
        }
        if let Some(u) = q.reported_in.as_deref().filter(|s| !s.is_empty()) {
            f.reported_in = Some(unit_named("reported_in", u)?);
        }
        if let Some(u) = q.assisting.as_deref().filter(|s| !s.is_empty()) {
            f.assisting = Some(unit_named("assisting", u)?);
        }
        if let Some(code) = q.grid.as_deref().filter(|s| !s.is_empty()) {
            let g = reference
                .grid_by_code(code)
                .ok_or_else(|| AppError::invalid("grid", format!("unknown grid `{code}`")))?;
            f.grids = Some(vec![GridId(g.id.0)]);
        }
        if let Some(code) = q.division.as_deref().filter(|s| !s.is_empty()) {
            let d = reference
                .division_by_code(code)
                .ok_or_else(|| AppError::invalid("division", format!("unknown division `{code}`")))?;
            f.divisions = Some(reference.division_subtree(d.id));
        }
        if let Some(c) = q.channel.as_deref().filter(|s| !s.is_empty()) {
            f.channel =
                Some(Channel::parse(c).ok_or_else(|| AppError::invalid("channel", format!("unknown channel `{c}`")))?);
        }
        if let Some(t) = q.request_type.as_deref().filter(|s| !s.is_empty()) {
            f.request_type = Some(
                RequestType::parse(t)
                    .ok_or_else(|| AppError::invalid("request_type", format!("unknown request type `{t}`")))?,
            );
        }
        f.overdue = q.overdue;
        if let Some(t) = q.created_from.as_deref().filter(|s| !s.is_empty()) {
            f.created_from = Some(self.parse_time("created_from", t, false)?);
        }
        if let Some(t) = q.created_to.as_deref().filter(|s| !s.is_empty()) {
            f.created_to = Some(self.parse_time("created_to", t, true)?);
        }
        f.text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        // In the form numbers are stored in, however it was typed (+86 138-…, spaces).
        let typed = q.phone.as_deref().map(str::trim).filter(|s| !s.is_empty());
        f.phone = typed.map(crate::intake::phone_key);
        f.phone_as_typed = typed.map(str::to_string);
        if f.phone.as_deref() == Some("") {
            return Err(AppError::invalid("phone", "must be a phone number of 3 to 20 digits"));
        }
        if f.phone.is_some() && !who.works_with_contacts() {
            // A unit that may not see a confidential reporter must not find them by number either.
            return Err(AppError::Forbidden("only staff who call residents back may search by phone".into()));
        }
        f.master = q.master.map(cityloop_domain::CaseId);
        f.pending = q.pending;
        if let Some(hours) = q.due_within_hours {
            if !(1..=24 * 90).contains(&hours) {
                return Err(AppError::invalid("due_within_hours", "must be 1 to 2160"));
            }
            f.due_before = Some(self.now() + chrono::Duration::hours(hours));
        }
        f.reworked = q.reworked.unwrap_or(false);
        f.sort = match q.sort.as_deref() {
            None | Some("") | Some("created_desc") => CaseSort::CreatedDesc,
            Some("created_asc") => CaseSort::CreatedAsc,
            Some("deadline") => CaseSort::DeadlineAsc,
            Some("updated_desc") => CaseSort::UpdatedDesc,
            Some(other) => {
                return Err(AppError::invalid(
                    "sort",
                    format!("`{other}` is not one of: created_desc, created_asc, deadline, updated_desc"),
                ))
            }
        };
        (f.limit, f.offset) = page_window(q.page, q.page_size, 50, MAX_PAGE_SIZE)?;
        f.count_limit = q.count_limit;
        Ok(f)
    }

    /// A filtered page of the cases the caller may see, with the contact data their roles may see
    /// (each case shown with it in clear is recorded as a contact view).
    pub async fn list_cases(&self, who: &Principal, q: &CaseQuery) -> Result<CasePage> {
        self.case_page(who, q, true).await
    }

    /// The same page for screens that show no contact data in their lists: nothing is shown, so no
    /// view is recorded (otherwise every queue a dispatcher opens would count as a look-up), unless
    /// the list was searched by a caller's phone.
    pub async fn list_cases_without_contact(&self, who: &Principal, q: &CaseQuery) -> Result<CasePage> {
        self.case_page(who, q, false).await
    }

    async fn case_page(&self, who: &Principal, q: &CaseQuery, with_contact: bool) -> Result<CasePage> {
        let f = self.case_filter(who, q)?;
        let list = self.store.list_cases(&f).await?;
        // A search by a caller's phone number finds whose cases these are: a look-up of personal
        // data, recorded even where the list shows no contact.
        let by_phone = q.phone.as_deref().is_some_and(|p| !p.trim().is_empty());
        if with_contact || by_phone {
            self.record_contact_views(who, &list.items, ContactPurpose::List).await?;
        }
        let now = self.now();
        Ok(CasePage {
            items: list
                .items
                .into_iter()
                .map(|mut case| {
                    mask_typed_numbers(who, &mut case);
                    CaseSummary {
                        contact: if with_contact { who.visible_contact(&case) } else { None },
                        overdue: case.is_overdue(now),
                        case,
                    }
                })
                .collect(),
            total: list.total,
            page: f.offset / f.limit + 1,
            page_size: f.limit,
        })
    }
}

/// A phone or ID number, or the resident's own name, typed into the title or the description is
/// contact data too: it is shown as the contact is, masked to those who see the contact masked or not
/// at all.
fn mask_typed_numbers(who: &Principal, case: &mut Case) {
    if who.contact_access(case) != crate::scope::ContactAccess::Full {
        case.mask_resident_texts();
    }
}
