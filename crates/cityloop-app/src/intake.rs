//! Intake: a request or report becomes a case. Validates every field, finds the grid and the
//! community from the location, matches the dispatch catalogue, numbers the case and stores it with
//! its first flow record in one transaction.

use chrono::{DateTime, Utc};
use cityloop_domain::catalogue;
use cityloop_domain::workflow::{report_entry, Actor, DEFAULT_LIMIT};
use cityloop_domain::{
    Case, CategoryId, Channel, Contact, DivisionId, Location, RequestType, Role, TimeLimit, UnitId, Urgency,
};
use cityloop_store::NewCaseWrite;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, FieldErrors, Result};
use crate::scope::Principal;
use crate::App;

/// Longest title accepted.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description accepted.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// A location as given at intake.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewLocation {
    pub lat: f64,
    pub lon: f64,
    pub address: Option<String>,
}

/// Contact data as given at intake.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewContact {
    pub name: String,
    pub phone: String,
}

/// A new case as any surface hands it over; strings are checked here so that every surface gives
/// the same errors.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewCase {
    pub channel: String,
    pub request_type: String,
    pub title: String,
    pub description: String,
    pub category: Option<String>,
    pub location: Option<NewLocation>,
    /// A grid code, when the location is known only by its grid.
    pub grid: Option<String>,
    pub contact: Option<NewContact>,
    pub confidential: Option<bool>,
    pub urgency: Option<String>,
    /// An address known without coordinates: kept with the case, and, when neither `location`
    /// nor `grid` is given, used to place the case at its community (the community's central grid).
    pub address: Option<String>,
    /// Content hashes of photos or documents uploaded with the report.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// What a client application sent beyond the case fields (its questions' answers, a media URL),
    /// kept with the report record. Set by the surfaces, never read from a request body.
    #[serde(skip)]
    pub submission: Option<serde_json::Value>,
}

/// Where the catalogue would send a case and by when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispatchPreview {
    pub unit: Option<UnitId>,
    pub assisting_units: Vec<UnitId>,
    /// The default limit when the category has no case standard (it is then narrowed at filing).
    pub limit: TimeLimit,
    pub deadline: DateTime<Utc>,
    /// Whether the category has a case standard, so that `limit` and `deadline` are the ones a case
    /// of it would get.
    pub standard: bool,
}

impl DispatchPreview {
    /// The limit and the deadline a case of this category would get, if the category says.
    pub fn known_deadline(&self) -> Option<(TimeLimit, DateTime<Utc>)> {
        self.standard.then_some((self.limit, self.deadline))
    }
}

/// The result of intake.
#[derive(Debug, Clone)]
pub struct Created {
    pub case: Case,
    /// The idempotency key had been seen: nothing new was created.
    pub replayed: bool,
    pub preview: DispatchPreview,
    /// The case as its creator sees it, built without reading it back.
    pub view: Option<crate::queries::CaseView>,
    /// The classifier's category for a case that came without one (applied or not).
    pub suggestion: Option<crate::classify::IntakeSuggestion>,
}

/// Who hands a case in.
#[derive(Clone, Copy)]
enum Submitter<'a> {
    User(&'a Principal),
    /// A resident on the public portal, without an account.
    Resident,
    /// A resident through a registered client application (Open311).
    Client(&'a Actor),
}

/// Idempotency keys of the public portal's forms are kept under this owner (no user has id 0).
pub const PORTAL_KEY_OWNER: i64 = 0;

impl Submitter<'_> {
    fn idempotency_owner(self) -> i64 {
        match self {
            Submitter::User(who) => who.user.id.0,
            Submitter::Resident | Submitter::Client(_) => PORTAL_KEY_OWNER,
        }
    }
}

/// Roles that may create cases.
const INTAKE_ROLES: &[Role] =
    &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Inspector, Role::Citizen, Role::Admin];
/// Channels a resident can use on their own.
const RESIDENT_CHANNELS: &[Channel] = &[Channel::Web, Channel::App, Channel::Sms];
/// Roles that take calls on the hotline.
const HOTLINE_ROLES: &[Role] = &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Admin];

/// A resident's own account: a citizen who takes no calls, patrols no grid and administers nothing.
pub(crate) fn is_resident_account(who: &Principal) -> bool {
    who.has(Role::Citizen) && !who.has_any(&[Role::Operator, Role::Inspector, Role::Admin])
}

/// Whether `by` may record a request as come in through `channel`, which the figures by channel count:
/// residents use their own channels, a call is recorded by the hotline's staff, and `open311` is set by
/// the client applications' endpoint (the client application chose the channel, not the resident).
fn check_channel(by: Submitter<'_>, channel: Channel) -> Result<()> {
    let Submitter::User(who) = by else {
        return match by {
            Submitter::Resident if !RESIDENT_CHANNELS.contains(&channel) => {
                Err(AppError::invalid("channel", "residents submit through web, app or sms"))
            }
            _ => Ok(()),
        };
    };
    if is_resident_account(who) && !RESIDENT_CHANNELS.contains(&channel) {
        return Err(AppError::invalid("channel", "residents submit through web, app or sms"));
    }
    if channel == Channel::Hotline && !who.has_any(HOTLINE_ROLES) {
        return Err(AppError::invalid("channel", "hotline calls are recorded by the hotline's staff"));
    }
    // What an inspector finds on patrol counts as found by inspectors (主动发现), never as a resident's report.
    let inspector_only = who.has(Role::Inspector) && !who.has_any(HOTLINE_ROLES);
    if inspector_only && channel != Channel::Inspector {
        return Err(AppError::invalid("channel", "grid inspectors report through the inspector channel"));
    }
    if channel == Channel::Open311 {
        return Err(AppError::invalid("channel", "open311 is the channel of client applications"));
    }
    Ok(())
}

/// The channels a user may record a request from, for the forms that offer them.
pub fn channels_for(who: &Principal) -> Vec<Channel> {
    Channel::ALL.iter().copied().filter(|c| check_channel(Submitter::User(who), *c).is_ok()).collect()
}

fn parse_enum<T>(field: &str, value: &str, parse: fn(&str) -> Option<T>, names: Vec<&str>) -> Result<T> {
    parse(value.trim())
        .ok_or_else(|| AppError::invalid(field, format!("`{value}` is not one of: {}", names.join(", "))))
}

fn text_field(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::invalid(field, "is required"));
    }
    if v.chars().count() > max {
        return Err(AppError::invalid(field, format!("is longer than {max} characters")));
    }
    Ok(v.to_string())
}

/// Checks a phone number: digits with optional `+`, `-` and spaces, 3 to 20 digits.
pub fn check_phone(field: &str, phone: &str) -> Result<String> {
    // A phone typed with a Chinese input method has full-width digits and signs (１３８－…).
    let folded: String = phone
        .trim()
        .chars()
        .map(|c| if c == '\u{3000}' { ' ' } else { cityloop_domain::width::to_half_width(c) })
        .collect();
    let p = folded.as_str();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if !p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')) || !(3..=20).contains(&digits) {
        return Err(AppError::invalid(field, "must be a phone number of 3 to 20 digits"));
    }
    Ok(phone_key(p))
}

/// A phone number in the one form it is stored and looked up in, so that a caller's earlier requests
/// are found however the number was typed: a Chinese mobile as its 11 digits (`+86 138-0000-6666`,
/// `008613800006666` and `13800006666` are one number), any other number without its separators,
/// keeping a leading `+`.
pub fn phone_key(phone: &str) -> String {
    let digits: String =
        phone.chars().map(cityloop_domain::width::to_half_width).filter(char::is_ascii_digit).collect();
    let is_mobile = |d: &str| d.len() == 11 && d.starts_with('1');
    if let Some(mobile) =
        ["0086", "86"].iter().find_map(|code| digits.strip_prefix(code).filter(|rest| is_mobile(rest)))
    {
        return mobile.to_string();
    }
    let international = phone.trim_start().starts_with(['+', '＋']);
    if international {
        format!("+{digits}")
    } else {
        digits
    }
}

/// Checks coordinates are on Earth.
pub fn check_coordinates(lat: f64, lon: f64) -> Result<()> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(AppError::invalid("location.lat", "must be a latitude between -90 and 90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(AppError::invalid("location.lon", "must be a longitude between -180 and 180"));
    }
    Ok(())
}

impl App {
    /// Where the catalogue sends a category in a division, and the deadline its standard gives if
    /// dispatched now.
    pub async fn dispatch_preview(
        &self,
        category: Option<CategoryId>,
        division: Option<DivisionId>,
    ) -> Result<DispatchPreview> {
        let reference = self.reference();
        // To the millisecond, as every time the platform stores and shows.
        let now = chrono::SubsecRound::trunc_subsecs(self.now(), 3);
        let standard = category.and_then(|c| reference.standard(c));
        let limit = standard.map_or(DEFAULT_LIMIT, |s| s.limit);
        let standard = standard.is_some();
        let deadline = reference.calendar.deadline(now, limit);
        let Some(category) = category else {
            return Ok(DispatchPreview { unit: None, assisting_units: vec![], limit, deadline, standard });
        };
        let categories = reference.category_chain(category);
        let divisions = division.map(|d| reference.division_chain(d)).unwrap_or_default();
        let rule = catalogue::resolve(&reference.catalogue, &categories, &divisions);
        Ok(DispatchPreview {
            unit: rule.map(|r| r.lead_unit),
            assisting_units: rule.map(|r| r.assisting_units.clone()).unwrap_or_default(),
            limit,
            deadline,
            standard,
        })
    }

    /// Creates a case. With an idempotency key already used by the same caller, returns the first
    /// case instead of creating a second.
    pub async fn create_case(&self, who: &Principal, input: NewCase, idempotency_key: Option<&str>) -> Result<Created> {
        self.intake_case(Submitter::User(who), input, idempotency_key).await
    }

    /// Creates a case for a resident without an account (the public portal). The phone number is
    /// required: with the case number it is how the resident follows the request.
    pub async fn create_public_case(&self, input: NewCase, form_key: Option<&str>) -> Result<Created> {
        self.create_portal_case(None, input, form_key).await
    }

    /// Creates a case from the public portal's form, for the resident's account when one is signed in
    /// (so that it is among the account's own requests); staff on the portal report as any visitor.
    pub async fn create_portal_case(
        &self,
        signed_in: Option<&Principal>,
        mut input: NewCase,
        form_key: Option<&str>,
    ) -> Result<Created> {
        if input.contact.as_ref().is_none_or(|c| c.phone.trim().is_empty()) {
            return Err(AppError::invalid("contact.phone", "is required to follow the request"));
        }
        input.channel = Channel::Web.as_str().to_string();
        match signed_in.filter(|who| is_resident_account(who)) {
            Some(who) => self.intake_case(Submitter::User(who), input, form_key).await,
            None => self.intake_case(Submitter::Resident, input, form_key).await,
        }
    }

    /// Creates a case a client application hands in for a resident; the channel is `open311`.
    pub async fn create_client_case(&self, client: Actor, mut input: NewCase) -> Result<Created> {
        input.channel = Channel::Open311.as_str().to_string();
        self.intake_case(Submitter::Client(&client), input, None).await
    }

    async fn intake_case(&self, by: Submitter<'_>, input: NewCase, idempotency_key: Option<&str>) -> Result<Created> {
        if let Submitter::User(who) = by {
            if !who.has_any(INTAKE_ROLES) {
                return Err(AppError::Forbidden("your roles cannot create cases".into()));
            }
        }
        // The form's own fields are checked together, so that all their errors are marked at once.
        let mut errors = FieldErrors::default();
        let channel = errors.keep(
            parse_enum("channel", &input.channel, Channel::parse, Channel::wire_names())
                .and_then(|c| check_channel(by, c).map(|()| c)),
        )?;
        let request_type = errors.keep(parse_enum(
            "request_type",
            &input.request_type,
            RequestType::parse,
            RequestType::wire_names(),
        ))?;
        let title = errors.keep(text_field("title", &input.title, MAX_TITLE_CHARS))?;
        let description = errors.keep(text_field("description", &input.description, MAX_DESCRIPTION_CHARS))?;
        errors.finish()?;
        let (Some(channel), Some(request_type), Some(title), Some(description)) =
            (channel, request_type, title, description)
        else {
            return Err(AppError::Internal("a field was neither read nor refused".into()));
        };
        // What comes without an account is looked at for spam; staff write what they are told.
        let spam = match by {
            Submitter::User(_) => None,
            Submitter::Resident | Submitter::Client(_) => Some(cityloop_domain::spam::score(&title, &description)),
        };
        if let Some(verdict) = spam.as_ref().filter(|v| v.refused_by(&self.settings.spam)) {
            // The kinds of sign, not what matched: a spammer learns little from the refusal.
            let signs: Vec<&str> = verdict.signs.iter().map(|s| s.kind).collect();
            return Err(AppError::invalid(
                "description",
                format!(
                    "looks like advertising or spam: {} (疑似广告或垃圾信息, 请删除链接和广告内容后重新提交)",
                    signs.join(", ")
                ),
            ));
        }
        if let Some(key) = idempotency_key {
            if key.is_empty() || key.len() > 200 {
                return Err(AppError::invalid("Idempotency-Key", "must be 1 to 200 characters"));
            }
        }
        let reference = self.reference();
        let category = match input.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(
                reference
                    .category_by_code(code)
                    .ok_or_else(|| AppError::invalid("category", format!("unknown category `{code}`")))?,
            ),
            None => None,
        };
        // An inspector's report is filed as it stands (数字城管): its category must be one a case can be
        // filed under, not a group of them.
        if let (Channel::Inspector, Some(c)) = (channel, category) {
            if reference.standard(c.id).is_none() {
                return Err(AppError::invalid(
                    "category",
                    format!("`{} {}` has no case standard: an inspector reports under one that has", c.code, c.name),
                ));
            }
        }
        // Without a category the classifier suggests one; a confident suggestion is applied.
        let suggestion = match category {
            Some(_) => None,
            None => self.intake_suggestion(&title, &description),
        };
        let category_id =
            category.map(|c| c.id).or_else(|| suggestion.as_ref().filter(|(_, s)| s.applied).map(|(id, _)| *id));
        let suggestion = suggestion.map(|(_, s)| s);
        let urgency = match input.urgency.as_deref() {
            Some(u) => parse_enum("urgency", u, Urgency::parse, Urgency::wire_names())?,
            None => category_id.and_then(|c| reference.standard(c)).map_or(Urgency::Normal, |s| s.urgency),
        };
        let mut location = None;
        let mut grid = None;
        if let Some(loc) = &input.location {
            check_coordinates(loc.lat, loc.lon)?;
            let address = loc.address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
            if address.as_ref().is_some_and(|a| a.chars().count() > 500) {
                return Err(AppError::invalid("location.address", "is longer than 500 characters"));
            }
            grid = reference.locate(loc.lat, loc.lon);
            if grid.is_none() && !reference.in_or_near_city(loc.lat, loc.lon) {
                return Err(AppError::invalid(
                    "location",
                    "lies outside the city: check the point (0, 0 is a phone without a fix) or give an address",
                ));
            }
            location = Some(Location { lat: loc.lat, lon: loc.lon, address });
        }
        let loose_address = input.address.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
        if loose_address.as_ref().is_some_and(|a| a.chars().count() > 500) {
            return Err(AppError::invalid("address", "is longer than 500 characters"));
        }
        let mut placed_by_address = None;
        if let Some(code) = input.grid.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            let by_code = reference
                .grid_by_code(code)
                .ok_or_else(|| AppError::invalid("grid", format!("unknown grid `{code}`")))?;
            if grid.is_some_and(|g| g.id != by_code.id) {
                return Err(AppError::invalid("grid", "the location lies in another grid"));
            }
            if location.is_none() {
                location = Some(Location {
                    lat: by_code.centroid_lat,
                    lon: by_code.centroid_lon,
                    address: loose_address.clone(),
                });
            }
            grid = Some(by_code);
        } else if location.is_none() {
            if let Some(address) = &loose_address {
                if let Some((division, central)) = reference.locate_address(address) {
                    placed_by_address = Some(division.name.clone());
                    grid = Some(central);
                    location = Some(Location {
                        lat: central.centroid_lat,
                        lon: central.centroid_lon,
                        address: Some(address.clone()),
                    });
                } else {
                    return Err(AppError::invalid(
                        "address",
                        "names no known community or street: give a point (latitude and longitude) or a grid code",
                    ));
                }
            }
        }
        if let Submitter::User(who) = by {
            // A grid inspector patrols their own grids: what they find elsewhere is for that grid's
            // inspector or the hotline.
            let inspector_only =
                who.has(Role::Inspector) && !who.has_any(&[Role::Operator, Role::Lead, Role::Dispatcher, Role::Admin]);
            if inspector_only && location.is_none() && grid.is_none() {
                return Err(AppError::invalid("location", "is required: an inspector reports where the problem is"));
            }
            if inspector_only && !grid.is_some_and(|g| who.user.grids.contains(&g.id)) {
                return Err(AppError::Forbidden(
                    "an inspector reports in their own grids: place the case in one".into(),
                ));
            }
        }
        let contact = match &input.contact {
            Some(c) => {
                let name = c.name.trim();
                if name.chars().count() > 100 {
                    return Err(AppError::invalid("contact.name", "is longer than 100 characters"));
                }
                Some(Contact { name: name.to_string(), phone: check_phone("contact.phone", &c.phone)? })
            }
            None => None,
        };

        // Stored to the millisecond: the first answer and a replay of it show the same times.
        let now = chrono::SubsecRound::trunc_subsecs(self.now(), 3);
        let mut case = Case::reported(channel, request_type, title, description, urgency, now);
        case.category_id = category_id;
        case.location = location;
        case.grid_id = grid.map(|g| g.id);
        case.division_id = grid.and_then(|g| g.division_id);
        case.contact = contact;
        case.confidential = input.confidential.unwrap_or(false);
        if let Submitter::User(who) = by {
            if who.has(Role::Citizen) || who.has(Role::Inspector) {
                case.reporter_id = Some(who.user.id);
            }
        }
        let preview = self.dispatch_preview(case.category_id, case.division_id).await?;
        let (actor, role) = match by {
            Submitter::User(who) => (who.actor(), INTAKE_ROLES.iter().copied().find(|r| who.has(*r))),
            Submitter::Resident => (Actor::resident(), Some(Role::Citizen)),
            Submitter::Client(client) => (client.clone(), Some(Role::Citizen)),
        };
        self.check_attachments(actor.user_id, None, &input.attachments).await?;
        let mut flow = report_entry(&case, &actor, role);
        flow.attachments = input.attachments.clone();
        flow.data = serde_json::json!({
            "channel": channel,
            "suggested_unit": preview.unit,
            "suggested_assisting_units": preview.assisting_units,
            "placed_by_address": placed_by_address,
            "category_suggestion": suggestion,
            "submission": input.submission,
            "spam": spam.filter(|v| v.score > 0),
        });
        let day = reference.calendar.local_date(now);
        let asked = (case.channel, case.request_type, case.title.clone(), case.description.clone());
        let created = self
            .intake
            .submit(NewCaseWrite {
                case,
                flow: flow.clone(),
                day,
                idempotency: idempotency_key.map(|k| (by.idempotency_owner(), k.to_string())),
            })
            .await?;
        let first = &created.case;
        if created.replayed
            && asked != (first.channel, first.request_type, first.title.clone(), first.description.clone())
        {
            return Err(AppError::invalid(
                "Idempotency-Key",
                "was used for a different request: send a new key for a new request",
            ));
        }
        let view = match by {
            Submitter::User(who) => {
                self.record_contact_views(who, [&created.case], crate::access::ContactPurpose::Intake).await?;
                created.flow_id.map(|id| self.view_of(who, created.case.clone(), vec![(id, flow)], Vec::new()))
            }
            Submitter::Resident | Submitter::Client(_) => None,
        };
        Ok(Created { case: created.case, replayed: created.replayed, preview, view, suggestion })
    }
}
