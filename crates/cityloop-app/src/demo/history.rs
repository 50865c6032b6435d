//! Months of demo history. Each case is driven through the real workflow engine by the demo's staff,
//! with delays drawn for each step, so every history is one the engine allows: consultations
//! answered on the spot, cases filed, dispatched, returned and re-dispatched, extended, suspended,
//! whistled, reworked, checked or revisited, closed and sometimes reopened, merged into a master,
//! voided, or still open (and overdue) today.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Timelike, Utc};
use cityloop_domain::catalogue::resolve;
use cityloop_domain::number::case_number;
use cityloop_domain::workflow::{apply, report_entry, Actor, Effect, ExtensionAmount, Move, MoveContext, Relation};
use cityloop_domain::{
    Case, CaseId, Channel, Contact, Location, RequestType, Revisit, Role, Satisfaction, State, UnitId, UserId,
    WorkCalendar,
};
use cityloop_store::BulkCase;
use rand::rngs::StdRng;
use rand::Rng;

use super::{texts, City, DemoOptions};
use crate::error::{AppError, Result};
use crate::reference::Reference;
use crate::App;

/// Cases per database transaction while loading.
const CHUNK: usize = 5000;

/// Relative frequency of each leaf category (by code); others weigh 1.
fn weight(code: &str) -> u32 {
    match code {
        "06010" | "09009" | "31002" => 6,
        "08001" | "31001" | "11001" | "31003" => 4,
        "06005" | "09001" | "11003" | "21001" | "21002" => 3,
        "10001" | "10005" | "21003" => 1,
        _ => 2,
    }
}

struct Sim<'a> {
    city: &'a City,
    reference: &'a Reference,
    calendar: &'a WorkCalendar,
    now: DateTime<Utc>,
    actors: HashMap<UserId, Actor>,
}

struct Run {
    case: Case,
    flows: Vec<cityloop_domain::FlowEntry>,
    effects: Vec<(DateTime<Utc>, Effect)>,
    t: DateTime<Utc>,
    stopped: bool,
}

impl Sim<'_> {
    fn actor(&self, id: UserId) -> Actor {
        self.actors.get(&id).cloned().unwrap_or_else(Actor::system)
    }

    fn user(&self, key: &str) -> UserId {
        self.city.users.get(key).copied().unwrap_or(UserId(0))
    }

    fn handler(&self, unit: Option<UnitId>) -> UserId {
        unit.and_then(|u| self.city.handlers.get(&u)).copied().unwrap_or(UserId(0))
    }

    /// Applies a move `minutes` after the previous one; stops the run once that is in the future.
    fn step(&self, run: &mut Run, who: UserId, mv: Move, minutes: i64, master: Option<&Case>) -> bool {
        if run.stopped {
            return false;
        }
        let at = run.t + Duration::minutes(minutes.max(1));
        // The overdue job would have noticed a passed deadline before this move.
        if let Some(deadline) = run.case.deadline {
            if run.case.state.clock_runs() && run.case.overdue_at.is_none() && deadline < at.min(self.now) {
                self.apply_at(run, Actor::system(), Move::Overdue, deadline + Duration::minutes(1), None);
            }
        }
        if at > self.now {
            run.stopped = true;
            return false;
        }
        self.apply_at(run, self.actor(who), mv, at, master)
    }

    fn apply_at(&self, run: &mut Run, actor: Actor, mv: Move, at: DateTime<Utc>, master: Option<&Case>) -> bool {
        let ctx = MoveContext {
            now: at,
            calendar: self.calendar,
            standard: run.case.category_id.and_then(|c| self.reference.standard(c)),
            master,
            whistle_report_hours: 1,
            rework_restarts_limit: false,
        };
        match apply(&run.case, &mv, &actor, &Relation::all(), &ctx) {
            Ok(out) => {
                for e in out.effects {
                    // The history closes its merged cases itself.
                    if !matches!(e, Effect::CloseMerged | Effect::VoidMerged | Effect::RepointMerged { .. }) {
                        run.effects.push((at, e));
                    }
                }
                run.flows.push(out.flow);
                run.case = out.case;
                run.t = at;
                true
            }
            Err(_) => false,
        }
    }

    /// Where the catalogue sends a case.
    fn catalogue_unit(&self, case: &Case) -> (Option<UnitId>, Vec<UnitId>) {
        let Some(category) = case.category_id else {
            return (None, vec![]);
        };
        let mut categories = vec![category];
        if let Some(p) = self.city.category_parent.get(&category) {
            categories.push(*p);
        }
        let mut divisions = Vec::new();
        let mut cur = case.division_id;
        while let Some(d) = cur {
            divisions.push(d);
            cur = self.city.division_parent.get(&d).copied();
        }
        match resolve(&self.city.catalogue, &categories, &divisions) {
            Some(r) => (Some(r.lead_unit), r.assisting_units.clone()),
            None => (None, vec![]),
        }
    }
}

/// Draws a created time: uniform over the window, mostly in waking hours.
fn created_times(rng: &mut StdRng, n: usize, now: DateTime<Utc>, months: u32) -> Vec<DateTime<Utc>> {
    let window = i64::from(months.max(1)) * 30 * 86_400;
    let mut out: Vec<DateTime<Utc>> = (0..n)
        .map(|_| {
            let t = now - Duration::seconds(rng.gen_range(0..window));
            // Local (UTC+8) hour: move most night-time requests into the day.
            let local_hour = (t.hour() + 8) % 24;
            if local_hour < 7 && rng.gen_bool(0.8) {
                t + Duration::hours(i64::from(8 - local_hour))
            } else {
                t
            }
        })
        .map(|t| t.min(now))
        .collect();
    out.sort();
    out
}

/// Builds the histories of `n` cases ending at `now`, with ids starting at `first_id`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn generate_history(
    city: &City,
    reference: &Reference,
    now: DateTime<Utc>,
    times: &[DateTime<Utc>],
    first_id: i64,
    rng: &mut StdRng,
    counters: &mut HashMap<chrono::NaiveDate, i64>,
    masters: &mut HashMap<usize, (usize, Case)>,
) -> Vec<BulkCase> {
    let calendar = &reference.calendar;
    let mut actors = HashMap::new();
    for u in reference.units.iter() {
        if let Some(id) = city.handlers.get(&u.id) {
            actors.insert(
                *id,
                Actor {
                    user_id: Some(*id),
                    name: format!("{}处置员", u.name),
                    roles: vec![Role::Handler],
                    unit_id: Some(u.id),
                },
            );
        }
        if let Some(id) = city.coordinators.get(&u.id) {
            actors.insert(
                *id,
                Actor {
                    user_id: Some(*id),
                    name: format!("{}协调员", u.name),
                    roles: vec![Role::Coordinator],
                    unit_id: Some(u.id),
                },
            );
        }
    }
    for (key, role) in [
        ("operator", Role::Operator),
        ("operator2", Role::Operator),
        ("lead", Role::Lead),
        ("dispatcher", Role::Dispatcher),
    ] {
        if let Some(id) = city.users.get(key) {
            actors.insert(
                *id,
                Actor {
                    user_id: Some(*id),
                    name: format!("{}{}", role.label_zh(), key.trim_end_matches('2')),
                    roles: vec![role],
                    unit_id: None,
                },
            );
        }
    }
    for (i, id) in city.inspectors.iter().enumerate() {
        actors.insert(
            *id,
            Actor {
                user_id: Some(*id), name: format!("监督员{}", i + 1), roles: vec![Role::Inspector], unit_id: None
            },
        );
    }
    let sim = Sim { city, reference, calendar, now, actors };
    let weights: Vec<u32> = city.leaves.iter().map(|(_, code, _)| weight(code)).collect();
    let total_weight: u32 = weights.iter().sum();

    let mut out = Vec::with_capacity(times.len());
    for (offset, created) in times.iter().enumerate() {
        let index = (first_id as usize) + offset;
        // Category by weight.
        let mut pick = rng.gen_range(0..total_weight);
        let mut leaf_index = 0;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                leaf_index = i;
                break;
            }
            pick -= w;
        }
        let (category_id, code, standard) = &city.leaves[leaf_index];
        let grid = &city.grids[rng.gen_range(0..city.grids.len())];
        let (clat, clon) = grid.centroid;
        let (hlat, hlon) = grid.half;
        let lat = clat + rng.gen_range(-0.3..0.3) * hlat;
        let lon = clon + rng.gen_range(-0.3..0.3) * hlon;
        let located = reference.locate(lat, lon);
        let street_prefix = super::PATROLLED.iter().any(|top| code.starts_with(top));
        let channel = {
            let r: f64 = rng.gen();
            if street_prefix && r < 0.25 {
                Channel::Inspector
            } else if r < 0.6 {
                Channel::Hotline
            } else if r < 0.75 {
                Channel::App
            } else if r < 0.85 {
                Channel::Web
            } else if r < 0.9 {
                Channel::Sms
            } else if r < 0.94 {
                Channel::Referral
            } else if r < 0.97 && (*code == "10003" || *code == "10005") {
                Channel::Sensor
            } else {
                Channel::Media
            }
        };
        let request_type = match *code {
            "31003" => RequestType::Consultation,
            "31004" => RequestType::Help,
            "08003" => RequestType::Report,
            _ if rng.gen_bool(0.03) => RequestType::Suggestion,
            _ if rng.gen_bool(0.1) => RequestType::Help,
            _ => RequestType::Complaint,
        };
        let (title, description) = texts::request_text(rng, code, &grid.place);
        let mut case = Case::reported(channel, request_type, title, description, standard.urgency, *created);
        case.category_id = Some(*category_id);
        case.location = Some(Location { lat, lon, address: Some(texts::address(rng, &grid.place)) });
        case.grid_id = located.map(|g| g.id).or(Some(grid.id));
        case.division_id = located.and_then(|g| g.division_id).or(Some(grid.community));
        let district = grid.district;
        let inspector = city.inspectors.get(district).copied().unwrap_or(UserId(0));
        if !matches!(channel, Channel::Inspector | Channel::Sensor) {
            case.contact = Some(Contact { name: texts::person(rng), phone: texts::mobile(rng) });
            case.confidential = rng.gen_bool(0.03);
        }
        if channel == Channel::Inspector {
            case.reporter_id = Some(inspector);
        } else if matches!(channel, Channel::App | Channel::Web) && rng.gen_bool(0.2) {
            case.reporter_id = city.users.get(if rng.gen_bool(0.5) { "citizen" } else { "citizen2" }).copied();
        }
        let day = calendar.local_date(*created);
        let seq = counters.entry(day).or_insert(0);
        *seq += 1;
        case.number = case_number(day, *seq);
        case.id = CaseId(index as i64);

        let creator = if channel == Channel::Inspector {
            inspector
        } else {
            sim.user(if rng.gen_bool(0.5) { "operator" } else { "operator2" })
        };
        let role = sim.actor(creator).roles.first().copied();
        let first = report_entry(&case, &sim.actor(creator), role);
        let mut run = Run { case, flows: vec![first], effects: Vec::new(), t: *created, stopped: false };
        let stall_at: usize = if rng.gen_bool(0.04) { rng.gen_range(1..8) } else { usize::MAX };
        let mut steps = 0usize;
        macro_rules! go {
            ($who:expr, $mv:expr, $minutes:expr) => {{
                steps += 1;
                if steps >= stall_at {
                    run.stopped = true;
                }
                sim.step(&mut run, $who, $mv, $minutes, None)
            }};
        }
        let operator = sim.user("operator");
        let lead = sim.user("lead");
        let dispatcher = sim.user("dispatcher");

        if request_type == RequestType::Consultation && rng.gen_bool(0.85) {
            go!(
                operator,
                Move::Answer {
                    answer: "已根据知识库答复市民: 可携带身份证到所在街道便民服务中心办理。".into()
                },
                rng.gen_range(3..20)
            );
        } else if rng.gen_bool(0.03) {
            go!(lead, Move::Void { reason: "重复来电或无效诉求".into() }, rng.gen_range(10..60));
        } else if let Some((master_index, master)) = masters.get(&leaf_index).cloned().filter(|_| rng.gen_bool(0.03)) {
            let open_master = Case { state: State::Registered, closed_at: None, ..master.clone() };
            let delay = rng.gen_range(5..30);
            let at = run.t + Duration::minutes(delay);
            let merged = at <= now
                && master.closed_at.is_none_or(|c| c > at)
                && master.state != State::Voided
                && master.master_id.is_none()
                && sim.step(
                    &mut run,
                    operator,
                    Move::Merge { into: CaseId(master_index as i64) },
                    delay,
                    Some(&open_master),
                );
            if merged {
                if let Some(closed) = master.closed_at.filter(|_| master.state == State::Closed) {
                    sim.apply_at(&mut run, sim.actor(lead), Move::CloseWithMaster, closed, None);
                    if run.case.state == State::Closed {
                        // Each resident of a merged request is still called back.
                        let revisit = Revisit { contacted: true, solved: true, satisfaction: Satisfaction::Satisfied };
                        let at = closed + Duration::hours(rng.gen_range(2..48));
                        if at <= now {
                            sim.apply_at(&mut run, sim.actor(operator), Move::Revisit(revisit), at, None);
                        }
                    }
                }
            }
        } else {
            if channel != Channel::Inspector && rng.gen_bool(0.1) {
                go!(operator, Move::RequestVerification, rng.gen_range(5..30));
                go!(inspector, Move::Verify { found: true, note: String::new() }, rng.gen_range(20..180));
            }
            go!(lead, Move::File { category: None }, rng.gen_range(5..60));
            let (unit, assisting) = sim.catalogue_unit(&run.case);
            let unit = unit.unwrap_or(UnitId(1));
            go!(dispatcher, Move::Dispatch { unit, assisting: assisting.clone() }, rng.gen_range(5..60));
            if rng.gen_bool(0.02) {
                if let Some(street) = city.districts.get(district).and_then(|d| {
                    d.streets.iter().find(|s| s.communities.iter().any(|c| Some(c.1) == run.case.division_id))
                }) {
                    let coordinator = city.coordinators.get(&street.office).copied().unwrap_or(UserId(0));
                    // Two departments other than the lead unit, the same ones on every run.
                    let mut departments: Vec<UnitId> = city.districts[district].departments.values().copied().collect();
                    departments.sort();
                    let summoned: Vec<UnitId> = departments.into_iter().filter(|d| *d != unit).take(2).collect();
                    go!(coordinator, Move::Whistle { units: summoned.clone() }, rng.gen_range(10..60));
                    for u in summoned {
                        if rng.gen_bool(0.85) {
                            go!(sim.handler(Some(u)), Move::ReportIn, rng.gen_range(10..90));
                        }
                    }
                }
            }
            if rng.gen_bool(0.06) {
                let handler = sim.handler(run.case.unit_id);
                go!(handler, Move::Return { reason: "经核实不属于本单位职责范围".into() }, rng.gen_range(30..240));
                go!(dispatcher, Move::ApproveReturn, rng.gen_range(10..120));
                let office =
                    city.districts.get(district).and_then(|d| d.streets.first()).map(|s| s.office).unwrap_or(unit);
                let again = if office == unit { unit } else { office };
                go!(dispatcher, Move::Dispatch { unit: again, assisting: vec![] }, rng.gen_range(5..60));
            }
            let handler = sim.handler(run.case.unit_id);
            go!(handler, Move::Sign, rng.gen_range(5..180));
            if rng.gen_bool(0.06) {
                let limit = run.case.limit.unwrap_or(standard.limit);
                let amount = if limit.counts_hours() {
                    ExtensionAmount::Hours(limit.amount)
                } else {
                    ExtensionAmount::Days(limit.amount)
                };
                go!(handler, Move::Extend { amount, reason: "需协调多个部门联合处置".into() }, rng.gen_range(30..240));
                go!(dispatcher, Move::ApproveExtension, rng.gen_range(10..120));
            }
            if rng.gen_bool(0.02) {
                let until = run.t + Duration::days(rng.gen_range(2..10));
                go!(handler, Move::Suspend { until, reason: "等待施工许可审批".into() }, rng.gen_range(30..240));
                go!(dispatcher, Move::ApproveSuspension, rng.gen_range(10..120));
                let wait = (until - run.t).num_minutes().max(1);
                go!(dispatcher, Move::Resume, wait);
            }
            // Handling takes a share of the time allowed; about one case in six runs late.
            let allowed = run.case.deadline.map_or(600, |d| (d - run.t).num_minutes().max(30));
            let share = if rng.gen_bool(0.16) { rng.gen_range(1.05..1.8) } else { rng.gen_range(0.1..0.95) };
            go!(handler, Move::Submit { result: texts::result_text(rng) }, (allowed as f64 * share) as i64);
            if rng.gen_bool(0.06) {
                go!(
                    dispatcher,
                    Move::Rework { reason: "处置结果与诉求不符, 请重新处理".into() },
                    rng.gen_range(30..240)
                );
                go!(handler, Move::Submit { result: texts::result_text(rng) }, rng.gen_range(60..600));
            }
            let revisit = |rng: &mut StdRng| {
                let satisfaction = if rng.gen_bool(0.75) {
                    Satisfaction::Satisfied
                } else if rng.gen_bool(0.6) {
                    Satisfaction::BasicallySatisfied
                } else {
                    Satisfaction::Unsatisfied
                };
                let contacted = rng.gen_bool(0.95);
                let solved = satisfaction != Satisfaction::Unsatisfied || rng.gen_bool(0.3);
                if contacted {
                    Revisit { contacted, solved, satisfaction }
                } else {
                    // Nobody answered: the resident said nothing about the outcome.
                    Revisit { contacted, solved: false, satisfaction: Satisfaction::Unsatisfied }
                }
            };
            if channel == Channel::Inspector {
                go!(inspector, Move::Check { passed: true, note: String::new() }, rng.gen_range(30..300));
            } else {
                let r = revisit(rng);
                go!(operator, Move::Revisit(r), rng.gen_range(60..1440));
            }
            go!(lead, Move::Close, rng.gen_range(10..240));
            if run.case.revisit.is_some_and(|r| r.contacted && r.satisfaction == Satisfaction::Unsatisfied)
                && rng.gen_bool(0.4)
            {
                go!(operator, Move::Reopen { reason: String::new() }, rng.gen_range(60..2880));
                go!(handler, Move::Submit { result: texts::result_text(rng) }, rng.gen_range(120..2880));
                let r = revisit(rng);
                go!(operator, Move::Revisit(r), rng.gen_range(60..1440));
                go!(lead, Move::Close, rng.gen_range(10..240));
            }
        }
        if run.case.master_id.is_none() && run.case.state != State::Voided {
            masters.insert(leaf_index, (index, run.case.clone()));
        }
        out.push(BulkCase { case: run.case, flows: run.flows, effects: run.effects });
    }
    out
}

/// Generates and stores the history, chunk by chunk.
pub(super) async fn load_history(app: &App, city: &City, options: &DemoOptions, rng: &mut StdRng) -> Result<usize> {
    let reference = app.reference();
    let now = app.now();
    let times = created_times(rng, options.cases, now, options.months);
    let mut counters = HashMap::new();
    let mut masters = HashMap::new();
    let mut first_id = app.store.count_cases().await? + 1;
    let mut stored = 0;
    for chunk in times.chunks(CHUNK) {
        let items = generate_history(city, &reference, now, chunk, first_id, rng, &mut counters, &mut masters);
        let ids = app.store.bulk_insert_cases(&items).await?;
        if ids.first().is_some_and(|id| id.0 != first_id) {
            return Err(AppError::Internal("demo case ids moved while loading".into()));
        }
        first_id += items.len() as i64;
        stored += items.len();
        if options.cases >= 100_000 {
            tracing::info!(stored, total = options.cases, "demo history");
        }
    }
    app.store.analyze_after_bulk_load().await?;
    Ok(stored)
}
