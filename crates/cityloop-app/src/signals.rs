//! Risk signals as a use case: new cases counted per place and category (with the evaluation's
//! counter), watch words raising a signal with the case that carries one, and a scan that finds
//! concentrations, rising categories and categories new to a street in those counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};
use cityloop_domain::clusters::density_clusters;
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::evaluation::{date_of_day_number, day_number};
use cityloop_domain::signals::{concentration_score, seasonal_factor, trend, watch_words_in, SignalKind, Trend};
use cityloop_domain::{CaseId, DivisionId, Role};
use cityloop_store::signals::{AreaDay, AreaKind, CasePlace, NewSignal, SignalRow};
use cityloop_text::hotspots::{group_messages, rank_problems, HotspotRules, Message};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::scope::Principal;
use crate::App;

/// Roles that read and act on signals.
const WATCHERS: &[Role] = crate::scope::CITY_ANALYSTS;
/// Roles that turn a signal into a supervision task.
const TASKERS: &[Role] = &[Role::Dispatcher, Role::Lead];
/// Cases kept with a signal.
const CASES_PER_SIGNAL: i64 = 200;
/// Located cases of one category a scan clusters (the newest of the window).
pub const LOCATED_PER_CATEGORY: i64 = 100_000;
/// The newest cases of the window a scan looks for hot problems in (word splitting is the cost).
const TEXTS_PER_SCAN: i64 = 10_000;
/// A density cluster is named by the H3 cell of its centre at this resolution (about 0.7 km²), so that
/// the same cluster seen again by a later scan is the same signal.
const CLUSTER_CELL_RESOLUTION: u8 = 8;
/// States a person can put a signal in.
pub const SIGNAL_STATES: &[&str] = &["open", "task", "topic", "dismissed"];

/// What one scan found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub raised: usize,
    pub refreshed: usize,
}

/// A signal as shown.
#[derive(Debug, Clone, Serialize)]
pub struct SignalView {
    pub id: i64,
    pub kind: SignalKind,
    pub kind_label: &'static str,
    pub score: f64,
    pub title: String,
    pub explanation: String,
    pub title_en: String,
    pub explanation_en: String,
    pub category: Option<String>,
    pub place: Option<String>,
    pub word: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub case_count: i64,
    pub cases: Vec<SignalCase>,
    pub state: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// After turning the signal into a supervision task: how many of its open cases got a 督办 notice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervised: Option<usize>,
    /// The states the reader may put the signal in now (absent where there is no reader: webhooks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<&'static str>,
}

impl SignalView {
    pub fn can(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }

    /// The title in English or in Chinese.
    pub fn title_in(&self, english: bool) -> &str {
        if english {
            &self.title_en
        } else {
            &self.title
        }
    }

    /// The explanation in English or in Chinese.
    pub fn explanation_in(&self, english: bool) -> &str {
        if english {
            &self.explanation_en
        } else {
            &self.explanation
        }
    }
}

/// `n` and the noun in English, in the singular for one.
fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A text in Chinese and in English.
#[derive(Debug, Clone, Default)]
struct Texts {
    zh: String,
    en: String,
}

impl Texts {
    fn new(zh: String, en: String) -> Self {
        Self { zh, en }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SignalCase {
    pub id: CaseId,
    pub number: String,
    pub title: String,
    pub state: String,
}

/// The H3 cell of a point at a resolution, as stored (its 64-bit index; the top bit is always 0).
fn hex_cell(lat: f64, lon: f64, resolution: u8) -> Option<i64> {
    let resolution = h3o::Resolution::try_from(resolution).ok()?;
    let cell = h3o::LatLng::new(lat, lon).ok()?.to_cell(resolution);
    i64::try_from(u64::from(cell)).ok()
}

impl App {
    /// What newly reported cases add: counts per day, category and place, and the watch-word signals.
    pub(crate) fn intake_counts(
        &self,
        places: &[(CasePlace, chrono::DateTime<chrono::Utc>)],
    ) -> (HashMap<AreaDay, i64>, Vec<NewSignal>) {
        let reference = self.reference();
        let rules = &self.settings.signals;
        let mut areas: HashMap<AreaDay, i64> = HashMap::new();
        let mut raised = Vec::new();
        for (case, at) in places {
            let day = day_number(reference.calendar.local_date(*at));
            if let Some(category) = case.category_id {
                let mut add = |kind, area_id| {
                    *areas.entry(AreaDay { kind, area_id, category_id: category.0, day }).or_default() += 1;
                };
                if let Some(grid) = case.grid_id {
                    add(AreaKind::Grid, grid.0);
                }
                for division in case.division_id.map(|d| reference.division_chain(d)).unwrap_or_default() {
                    add(AreaKind::Division, division.0);
                }
                if let Some(cell) = case.location.and_then(|(lat, lon)| hex_cell(lat, lon, rules.hex_resolution)) {
                    add(AreaKind::Hex, cell);
                }
            }
            // A watch word is an alarm about now: history loaded or imported later raises none.
            let fresh = self.now() - *at <= Duration::days(i64::from(rules.window_days));
            let words = if fresh { watch_words_in(&case.text, &rules.watch_words) } else { Vec::new() };
            if !words.is_empty() {
                let title = case.text.lines().next().unwrap_or_default().chars().take(60).collect::<String>();
                raised.push(NewSignal {
                    kind: SignalKind::WatchWord,
                    signature: format!("watch_word:case:{}", case.id),
                    score: 90.0,
                    title: format!("「{}」 {title}", words.join("、")),
                    explanation: format!("诉求中出现预警词：{}。需立即核实，必要时提级处置。", words.join("、")),
                    title_en: format!("“{}” {title}", words.join(", ")),
                    explanation_en: format!(
                        "The request contains the {} {}. Check it at once and escalate if needed.",
                        if words.len() == 1 { "watch word" } else { "watch words" },
                        words.join(", ")
                    ),
                    category_id: case.category_id.map(|c| c.0),
                    area: case
                        .grid_id
                        .map(|g| (AreaKind::Grid, g.0))
                        .or(case.division_id.map(|d| (AreaKind::Division, d.0))),
                    word: Some(words.join("、")),
                    day_from: day,
                    day_to: day,
                    cases: vec![case.id],
                    case_count: 1,
                });
            }
        }
        (areas, raised)
    }

    fn streets(&self) -> Vec<DivisionId> {
        self.reference().divisions.iter().filter(|d| d.level == DivisionLevel::Street).map(|d| d.id).collect()
    }

    /// A place's name in Chinese and in English (the names of grids and divisions are the city's own).
    fn place_names(&self, kind: AreaKind, id: i64) -> Texts {
        let reference = self.reference();
        let cell = || u64::try_from(id).ok().and_then(|n| h3o::CellIndex::try_from(n).ok());
        match kind {
            AreaKind::Grid => reference
                .grids
                .iter()
                .find(|g| g.id.0 == id)
                .map(|g| Texts::new(format!("网格 {}", g.name), format!("Grid {}", g.name))),
            AreaKind::Division => {
                reference.division(DivisionId(id)).map(|d| Texts::new(d.name.clone(), d.name.clone()))
            }
            AreaKind::Hex => cell().map(|c| Texts::new(format!("六边形 {c}"), format!("H3 cell {c}"))),
            AreaKind::Cluster => cell().map(|c| {
                let centre = h3o::LatLng::from(c);
                let (lat, lon) = (centre.lat(), centre.lng());
                match (reference.locate(lat, lon), reference.locate_division(lat, lon)) {
                    (Some(grid), _) => Texts::new(
                        format!("密集点 · 网格 {} 附近", grid.name),
                        format!("Cluster near grid {}", grid.name),
                    ),
                    (None, Some(division)) => Texts::new(
                        format!("密集点 · {} 附近", division.name),
                        format!("Cluster near {}", division.name),
                    ),
                    (None, None) => {
                        Texts::new(format!("密集点 · {lat:.4}, {lon:.4}"), format!("Cluster at {lat:.4}, {lon:.4}"))
                    }
                }
            }),
        }
        .unwrap_or_else(|| Texts::new(format!("#{id}"), format!("#{id}")))
    }

    fn category_name(&self, id: i64) -> String {
        self.reference()
            .category(cityloop_domain::CategoryId(id))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| format!("#{id}"))
    }

    /// Looks at the counts of the last weeks and raises (or refreshes) signals.
    pub async fn scan_signals(&self) -> Result<ScanReport> {
        self.count_evaluation().await?;
        let rules = self.settings.signals.clone();
        let reference = self.reference();
        let now = self.now();
        let today = reference.calendar.local_date(now);
        let mut found: Vec<(NewSignal, AreaKind, Vec<i64>)> = Vec::new();

        // 集中性: a category's cases in one grid, or one street, over the window.
        let window_start = today - Duration::days(i64::from(rules.window_days) - 1);
        let (from, to) = (day_number(window_start), day_number(today + Duration::days(1)));
        let streets = self.streets();
        // Each category's average per grid (or H3 cell) over the window, which density clusters are held
        // to as well.
        let mut grid_average: HashMap<i64, f64> = HashMap::new();
        for (kind, min) in [
            (AreaKind::Grid, rules.concentrated_grid_min),
            (AreaKind::Hex, rules.concentrated_grid_min),
            (AreaKind::Division, rules.concentrated_street_min),
        ] {
            let mut seen_places = std::collections::HashSet::new();
            let mut sums: BTreeMap<(i64, i64), i64> = BTreeMap::new();
            let mut per_category: HashMap<i64, i64> = HashMap::new();
            for (a, n) in self.store.area_counts(kind, from, to).await? {
                if kind == AreaKind::Division && !streets.contains(&DivisionId(a.area_id)) {
                    continue;
                }
                *sums.entry((a.area_id, a.category_id)).or_default() += n;
                *per_category.entry(a.category_id).or_default() += n;
                seen_places.insert(a.area_id);
            }
            // Hex cells cover the city without a list: those with any case in the window are the places,
            // and at least as many as there are grids (cells at resolution 9 are about a grid's size).
            let places = match kind {
                AreaKind::Grid => reference.grids.len(),
                AreaKind::Division => streets.len(),
                AreaKind::Hex | AreaKind::Cluster => seen_places.len().max(reference.grids.len()),
            }
            .max(1) as f64;
            let (unit, unit_en) = match kind {
                AreaKind::Grid => ("网格", "grid"),
                AreaKind::Division => ("街道", "street"),
                AreaKind::Hex | AreaKind::Cluster => ("六边形网格", "H3 cell"),
            };
            // Grids where the city has them; where cases lie outside every grid (imported records of
            // another city), H3 cells stand in.
            if matches!(kind, AreaKind::Grid | AreaKind::Hex) {
                for (category, n) in &per_category {
                    grid_average.entry(*category).or_insert(*n as f64 / places);
                }
            }
            for ((area, category), n) in sums {
                let average = per_category.get(&category).copied().unwrap_or(0) as f64 / places;
                let Some(score) = concentration_score(n, min, average, rules.concentration_ratio) else { continue };
                let (place, what) = (self.place_names(kind, area), self.category_name(category));
                found.push((
                    NewSignal {
                        kind: SignalKind::Concentrated,
                        signature: format!("concentrated:{}:{area}:{category}:{from}", kind.as_str()),
                        score,
                        title: format!("{} · {what}", place.zh),
                        explanation: format!(
                            "{window_start} 至 {today} 共 {n} 件「{what}」，各{unit}平均 {average:.1} 件（阈值：至少 {min} 件且为平均的 {} 倍）",
                            rules.concentration_ratio
                        ),
                        title_en: format!("{} · {what}", place.en),
                        explanation_en: format!(
                            "{window_start} to {today}: {} of “{what}”, against an average of {average:.1} per {unit_en} (threshold: at least {min} and {} times the average)",
                            counted(n, "case", "cases"),
                            rules.concentration_ratio
                        ),
                        category_id: Some(category),
                        area: Some((kind, area)),
                        word: None,
                        day_from: from,
                        day_to: day_number(today),
                        cases: Vec::new(),
                        case_count: n,
                    },
                    kind,
                    vec![area],
                ));
            }
        }

        // 集中性 by density: DBSCAN over each category's located cases of the window.
        let since = reference.calendar.local_midnight(window_start);
        let until = reference.calendar.local_midnight(today + Duration::days(1));
        let min = rules.concentrated_grid_min;
        let mut categories: Vec<(i64, f64)> = grid_average.into_iter().collect();
        categories.sort_by_key(|(c, _)| *c);
        for (category, average) in categories {
            let located = self.store.located_cases(category, since, until, LOCATED_PER_CATEGORY).await?;
            if (located.len() as i64) < min {
                continue;
            }
            let points: Vec<(f64, f64)> = located.iter().map(|(_, lat, lon)| (*lat, *lon)).collect();
            for cluster in density_clusters(&points, rules.cluster_radius_m, min as usize) {
                let n = cluster.members.len() as i64;
                let Some(score) = concentration_score(n, min, average, rules.concentration_ratio) else { continue };
                let Some(spot) = hex_cell(cluster.centre.0, cluster.centre.1, CLUSTER_CELL_RESOLUTION) else {
                    continue;
                };
                let (place, what) = (self.place_names(AreaKind::Cluster, spot), self.category_name(category));
                let cases: Vec<CaseId> =
                    cluster.members.iter().map(|i| located[*i].0).take(CASES_PER_SIGNAL as usize).collect();
                found.push((
                    NewSignal {
                        kind: SignalKind::Concentrated,
                        signature: format!("concentrated:cluster:{spot}:{category}:{from}"),
                        score,
                        title: format!("{} · {what}", place.zh),
                        explanation: format!(
                            "{window_start} 至 {today} 共 {n} 件「{what}」聚集在半径约 {:.0} 米内，各网格平均 {average:.1} 件（密度聚类：{:.0} 米内至少 {min} 件）",
                            cluster.radius_m, rules.cluster_radius_m
                        ),
                        title_en: format!("{} · {what}", place.en),
                        explanation_en: format!(
                            "{window_start} to {today}: {} of “{what}” within a radius of about {:.0} m, against an average of {average:.1} per grid (density clustering: at least {min} within {:.0} m)",
                            counted(n, "case", "cases"),
                            cluster.radius_m,
                            rules.cluster_radius_m
                        ),
                        category_id: Some(category),
                        area: Some((AreaKind::Cluster, spot)),
                        word: None,
                        day_from: from,
                        day_to: day_number(today),
                        cases,
                        case_count: n,
                    },
                    AreaKind::Cluster,
                    vec![spot],
                ));
            }
        }

        // 集中性 by text: the window's cases about one problem (热点问题), ranked by hotness.
        found.extend(self.hot_problem_signals(since, until, from, today).await?);

        // 趋势性 and 苗头性: a street's weekly counts per category, the last week against the ones before.
        let weeks = rules.baseline_weeks + 1;
        let first_day = today - Duration::days(7 * weeks as i64 - 1);
        let mut series: HashMap<(i64, i64), Vec<i64>> = HashMap::new();
        for (a, n) in self.store.area_counts(AreaKind::Division, day_number(first_day), to).await? {
            if !streets.contains(&DivisionId(a.area_id)) {
                continue;
            }
            let week = ((date_of_day_number(a.day) - first_day).num_days() / 7) as usize;
            series.entry((a.area_id, a.category_id)).or_insert_with(|| vec![0; weeks])[week.min(weeks - 1)] += n;
        }
        // The same weeks a year earlier, city-wide per category: how much the season alone moves them.
        let a_year = Duration::days(364);
        let mut last_year: HashMap<i64, Vec<i64>> = HashMap::new();
        let (ly_from, ly_to) = (day_number(first_day - a_year), day_number(today + Duration::days(1) - a_year));
        for (a, n) in self.store.area_counts(AreaKind::Division, ly_from, ly_to).await? {
            if !streets.contains(&DivisionId(a.area_id)) {
                continue;
            }
            let week = ((date_of_day_number(a.day) + a_year - first_day).num_days() / 7) as usize;
            last_year.entry(a.category_id).or_insert_with(|| vec![0; weeks])[week.min(weeks - 1)] += n;
        }
        let last_week_start = today - Duration::days(6);
        for ((area, category), counts) in series {
            let (place, what) = (self.place_names(AreaKind::Division, area), self.category_name(category));
            let season = last_year.get(&category).map_or(1.0, |w| seasonal_factor(w));
            let seasonal = if (season - 1.0).abs() > 0.05 {
                Texts::new(
                    format!("，已按去年同期季节变化（×{season:.1}）调整"),
                    format!("; ×{season:.1} for the season, as last year"),
                )
            } else {
                Texts::default()
            };
            let weeks = rules.baseline_weeks;
            let (kind, score, explanation) = match trend(&counts, season, &rules) {
                Trend::Rising { last, mean, sd, score } => (
                    SignalKind::Rising,
                    score,
                    Texts::new(
                        format!(
                            "近7天 {last} 件「{what}」，按前 {weeks} 周预计每周 {mean:.1} 件（标准差 {sd:.1}{}），超出正常波动",
                            seasonal.zh
                        ),
                        format!(
                            "{} of “{what}” in the last 7 days against {mean:.1} a week expected from the {weeks} weeks before (standard deviation {sd:.1}{}): beyond normal variation",
                            counted(last, "case", "cases"),
                            seasonal.en
                        ),
                    ),
                ),
                Trend::Emerging { last, score } => (
                    SignalKind::Emerging,
                    score,
                    Texts::new(
                        format!("近7天 {last} 件「{what}」，前 {weeks} 周本街道没有此类诉求"),
                        format!(
                            "{} of “{what}” in the last 7 days, none of this kind in this street in the {weeks} weeks before",
                            counted(last, "case", "cases")
                        ),
                    ),
                ),
                Trend::Normal => continue,
            };
            found.push((
                NewSignal {
                    kind,
                    signature: format!("{}:division:{area}:{category}:{}", kind.as_str(), day_number(last_week_start)),
                    score,
                    title: format!("{} · {what}", place.zh),
                    explanation: explanation.zh,
                    title_en: format!("{} · {what}", place.en),
                    explanation_en: explanation.en,
                    category_id: Some(category),
                    area: Some((AreaKind::Division, area)),
                    word: None,
                    day_from: day_number(last_week_start),
                    day_to: day_number(today),
                    cases: Vec::new(),
                    case_count: counts.last().copied().unwrap_or(0),
                },
                AreaKind::Division,
                vec![area],
            ));
        }

        // The strongest of each kind found each way (grids, streets, cells, clusters, words), so that a
        // person can read the list and no way crowds out another.
        found.sort_by(|a, b| b.0.score.total_cmp(&a.0.score).then(b.0.case_count.cmp(&a.0.case_count)));
        let mut kept: HashMap<(SignalKind, Option<AreaKind>), usize> = HashMap::new();
        found.retain(|(s, _, _)| {
            let n = kept.entry((s.kind, s.area.map(|(kind, _)| kind))).or_default();
            *n += 1;
            *n <= rules.max_per_scan
        });
        let mut report = ScanReport::default();
        let mut stored = HashSet::new();
        for (mut signal, kind, area) in found {
            // Density clusters and hot problems come with their cases; the others are looked up.
            if kind != AreaKind::Cluster {
                signal.cases = self.cases_behind(&signal, kind, area).await?;
            }
            // Windows move on every day; a signal whose window still overlaps is the same episode. A hot
            // problem has no place: it is the one that shares cases with it.
            if signal.area.is_none() {
                let ids: HashSet<i64> = signal.cases.iter().map(|c| c.0).collect();
                let ongoing = self.store.ongoing_hot_problems(signal.day_from, signal.day_to).await?;
                let best = ongoing
                    .into_iter()
                    .map(|(signature, cases)| (cases.iter().filter(|c| ids.contains(c)).count(), signature))
                    .filter(|(shared, _)| *shared > 0)
                    .max_by_key(|(shared, _)| *shared);
                if let Some((_, signature)) = best {
                    signal.signature = signature;
                }
            } else if let Some((stem, _)) = signal.signature.rsplit_once(':') {
                let stem = format!("{stem}:");
                if let Some(ongoing) = self.store.ongoing_signal(&stem, signal.day_from, signal.day_to).await? {
                    signal.signature = ongoing;
                }
            }
            if !stored.insert(signal.signature.clone()) {
                continue; // a weaker one of the same place (two clusters in one cell) or problem
            }
            let (_, new) = self.store.upsert_signal(&signal, now).await?;
            if new {
                report.raised += 1;
            } else {
                report.refreshed += 1;
            }
        }
        Ok(report)
    }

    /// The cases behind a signal of a grid, a division or an H3 cell.
    async fn cases_behind(&self, signal: &NewSignal, kind: AreaKind, area: Vec<i64>) -> Result<Vec<CaseId>> {
        let reference = self.reference();
        let places = if kind == AreaKind::Division {
            reference.division_subtree(DivisionId(area[0])).into_iter().map(|d| d.0).collect()
        } else {
            area
        };
        let since = reference.calendar.local_midnight(date_of_day_number(signal.day_from));
        let until = reference.calendar.local_midnight(date_of_day_number(signal.day_to) + Duration::days(1));
        let category = signal.category_id.unwrap_or_default();
        Ok(if kind == AreaKind::Hex {
            // Cases carry no cell: the category's located cases of the window are sorted into cells here.
            let located = self.store.located_cases(category, since, until, LOCATED_PER_CATEGORY).await?;
            let resolution = self.settings.signals.hex_resolution;
            located
                .into_iter()
                .filter(|(_, lat, lon)| hex_cell(*lat, *lon, resolution) == Some(places[0]))
                .map(|(id, _, _)| id)
                .take(CASES_PER_SIGNAL as usize)
                .collect()
        } else {
            self.store.cases_in_places(kind, &places, category, since, until, CASES_PER_SIGNAL).await?.1
        })
    }

    /// The hot problems among the newest cases of the window, as signals scored by their hotness.
    async fn hot_problem_signals(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
        from: i64,
        today: NaiveDate,
    ) -> Result<Vec<(NewSignal, AreaKind, Vec<i64>)>> {
        let rules = &self.settings.signals;
        let texts = self.store.case_texts(since, until, TEXTS_PER_SCAN).await?;
        let mut messages: Vec<Message> = texts
            .iter()
            .map(|t| Message {
                title: t.title.clone(),
                body: t.description.clone(),
                // An anonymous case is a person of its own.
                person: if t.person.is_empty() { format!("case:{}", t.id.0) } else { t.person.clone() },
                votes: 0,
                at: t.created_at.timestamp(),
            })
            .collect();
        let text_rules = HotspotRules {
            min_similarity: rules.text_min_similarity,
            min_messages: rules.concentrated_grid_min.max(2) as usize,
            ..HotspotRules::default()
        };
        let groups = group_messages(&messages, &text_rules);
        let members: Vec<CaseId> = groups.iter().flatten().map(|i| texts[*i].id).collect();
        let votes = self.store.imported_votes(&members).await?;
        for i in groups.iter().flatten() {
            messages[*i].votes = votes.get(&texts[*i].id).copied().unwrap_or(0);
        }
        let calendar = &self.reference().calendar;
        let mut out = Vec::new();
        for problem in rank_problems(&messages, groups) {
            let first = &texts[problem.members[0]];
            let mut categories: HashMap<i64, usize> = HashMap::new();
            for i in &problem.members {
                if let Some(c) = texts[*i].category_id {
                    *categories.entry(c).or_default() += 1;
                }
            }
            let category = categories.into_iter().max_by_key(|(c, n)| (*n, std::cmp::Reverse(*c))).map(|(c, _)| c);
            let n = problem.members.len() as i64;
            let keywords = problem.keywords.iter().take(4).cloned().collect::<Vec<_>>().join(" ");
            let (first_day, last_day) = (
                calendar.local_date(texts[problem.members[0]].created_at),
                calendar.local_date(texts[problem.members[problem.members.len() - 1]].created_at),
            );
            out.push((
                NewSignal {
                    kind: SignalKind::Concentrated,
                    signature: format!("concentrated:text:{}:0:{from}", first.id.0),
                    score: problem.hotness,
                    title: format!("热点问题 · {keywords}"),
                    explanation: format!(
                        "{first_day} 至 {last_day} 共 {n} 件诉求说的是同一问题（{} 人，{} 票），热度 {:.1}；如「{}」",
                        problem.people, problem.votes, problem.hotness, first.title
                    ),
                    title_en: format!("Hot problem · {keywords}"),
                    explanation_en: format!(
                        "{first_day} to {last_day}: {} about the same problem ({}, {}), hotness {:.1}; e.g. “{}”",
                        counted(n, "request", "requests"),
                        counted(problem.people as i64, "person", "people"),
                        counted(problem.votes, "vote", "votes"),
                        problem.hotness,
                        first.title
                    ),
                    category_id: category,
                    area: None,
                    word: None,
                    day_from: from,
                    day_to: day_number(today),
                    cases: problem.members.iter().map(|i| texts[*i].id).take(CASES_PER_SIGNAL as usize).collect(),
                    case_count: n,
                },
                AreaKind::Cluster,
                Vec::new(),
            ));
        }
        Ok(out)
    }

    fn watcher(&self, who: &Principal) -> Result<()> {
        if who.has_any(WATCHERS) {
            Ok(())
        } else {
            Err(AppError::Forbidden("risk signals are for leaders, shift leads, dispatchers and administrators".into()))
        }
    }

    /// A signal as shown, without its cases.
    pub(crate) fn signal_view_of(&self, row: &SignalRow) -> SignalView {
        let s = &row.signal;
        SignalView {
            id: row.id,
            kind: s.kind,
            kind_label: s.kind.label_zh(),
            score: s.score,
            title: s.title.clone(),
            explanation: s.explanation.clone(),
            // Signals found before English was written beside the Chinese are shown in Chinese.
            title_en: if s.title_en.is_empty() { s.title.clone() } else { s.title_en.clone() },
            explanation_en: if s.explanation_en.is_empty() { s.explanation.clone() } else { s.explanation_en.clone() },
            category: s.category_id.map(|c| self.category_name(c)),
            place: s.area.map(|(k, a)| self.place_names(k, a).zh),
            word: s.word.clone(),
            from: date_of_day_number(s.day_from),
            to: date_of_day_number(s.day_to),
            case_count: s.case_count,
            cases: Vec::new(),
            state: row.state.clone(),
            created_at: row.created_at,
            supervised: None,
            actions: Vec::new(),
        }
    }

    async fn signal_view(&self, row: SignalRow, with_cases: bool) -> Result<SignalView> {
        let mut view = self.signal_view_of(&row);
        if with_cases {
            for id in &row.signal.cases {
                if let Ok(c) = self.store.get_case(*id).await {
                    view.cases.push(SignalCase {
                        id: c.id,
                        number: c.number,
                        title: c.title,
                        state: c.state.as_str().into(),
                    });
                }
            }
        }
        Ok(view)
    }

    /// Signals, newest first and highest score first within a day.
    /// A scan of the whole city as of the app's clock (the command line, run by the platform's
    /// operators), then the newest signals.
    pub async fn city_signal_scan(&self, limit: i64) -> Result<(ScanReport, Vec<SignalView>)> {
        self.count_everything().await?;
        let report = self.scan_signals().await?;
        // As of a past day, what came after it is not shown.
        let today = day_number(self.reference().calendar.local_date(self.now()));
        let mut out = Vec::new();
        for row in self.store.list_signals(None, None, 500).await? {
            if row.signal.day_to <= today && out.len() < limit.clamp(1, 500) as usize {
                out.push(self.signal_view(row, false).await?);
            }
        }
        Ok((report, out))
    }

    pub async fn signals(
        &self,
        who: &Principal,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SignalView>> {
        self.watcher(who)?;
        if let Some(s) = state.filter(|s| !SIGNAL_STATES.contains(s)) {
            return Err(AppError::invalid("state", format!("`{s}` is not one of {}", SIGNAL_STATES.join(", "))));
        }
        let kind = kind
            .map(|k| {
                SignalKind::parse(k).ok_or_else(|| {
                    AppError::invalid("kind", format!("`{k}` is not one of {}", SignalKind::wire_names().join(", ")))
                })
            })
            .transpose()?;
        if !(1..=500).contains(&limit) {
            return Err(AppError::invalid("limit", "must be 1 to 500"));
        }
        // Watch-word signals appear as their cases are counted; a reader counts what waits, within bounds.
        self.count_evaluation_batches(crate::evaluation::BATCHES_BEFORE_READING).await?;
        let mut out = Vec::new();
        for row in self.store.list_signals(state, kind, limit).await? {
            out.push(with_actions(who, self.signal_view(row, false).await?));
        }
        Ok(out)
    }

    /// One signal with the cases behind it.
    pub async fn signal(&self, who: &Principal, id: i64) -> Result<SignalView> {
        self.watcher(who)?;
        let row = self.store.get_signal(id).await.map_err(|_| AppError::NotFound(format!("signal {id}")))?;
        let view = self.signal_view(row, true).await?;
        Ok(with_actions(who, view))
    }

    /// Marks what was done with a signal: taken up as a topic, dismissed, or turned into a supervision
    /// task, which puts every open case behind it under 督办 (level 2) by the dispatcher or shift lead
    /// who asks.
    pub async fn set_signal_state(&self, who: &Principal, id: i64, state: &str) -> Result<SignalView> {
        self.watcher(who)?;
        if !SIGNAL_STATES.contains(&state) {
            return Err(AppError::invalid("state", format!("`{state}` is not one of {}", SIGNAL_STATES.join(", "))));
        }
        let before = self.signal(who, id).await?;
        if let Some(refused) = signal_action_refused(who, &before, state) {
            return Err(refused);
        }
        // The new state is claimed first: of two people acting at once (on any node), one acts.
        if !self.store.claim_signal_state(id, &before.state, state, self.now()).await? {
            return Err(AppError::Duplicate(format!("signal {id} was changed meanwhile; look again")));
        }
        let mut supervised = None;
        if state == "task" {
            let mut n = 0;
            for case in before.cases.iter().filter(|c| !matches!(c.state.as_str(), "closed" | "voided" | "merged")) {
                let input = crate::moves::MoveInput {
                    level: Some(2),
                    note: Some(format!("风险预警督办：{}", before.title)),
                    ..Default::default()
                };
                match self.perform_move(who, &case.number, "supervise", input).await {
                    Ok(_) => n += 1,
                    // A case that moved on meanwhile is left as it is.
                    Err(AppError::IllegalMove { .. } | AppError::StaleVersion { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            supervised = Some(n);
        }
        if state == "topic" {
            // The signal's category becomes a topic of the period running now (if it is not one yet).
            let category = self.store.get_signal(id).await?.signal.category_id;
            let code = category
                .and_then(|c| self.reference().category(cityloop_domain::CategoryId(c)).map(|c| c.code.clone()));
            if let Some(code) = code {
                let req = crate::topics::AdoptTopic { category: code, signal_id: Some(id), ..Default::default() };
                match self.adopt_topic(who, req).await {
                    Ok(_) | Err(AppError::Duplicate(_)) => {}
                    Err(e) => {
                        // Not adopted: the signal goes back to where it was.
                        self.store.claim_signal_state(id, state, &before.state, self.now()).await?;
                        return Err(e);
                    }
                }
            }
        }
        let mut view = self.signal(who, id).await?;
        view.supervised = supervised;
        Ok(view)
    }
}

/// The signal with the states `who` may put it in now.
fn with_actions(who: &Principal, mut view: SignalView) -> SignalView {
    view.actions = SIGNAL_STATES.iter().copied().filter(|s| signal_action_refused(who, &view, s).is_none()).collect();
    view
}

/// Why `who` may not put the signal in `state` now, if they may not: a supervision task is opened
/// once, by a dispatcher or shift lead; a topic needs a leader and a category; nothing is set twice.
fn signal_action_refused(who: &Principal, signal: &SignalView, state: &str) -> Option<AppError> {
    if signal.state == state {
        return Some(AppError::Duplicate(format!("signal {} is already `{state}`", signal.id)));
    }
    match state {
        // A task or a topic stays what it is; only a dismissal can be taken back.
        "open" if signal.state != "dismissed" => Some(AppError::Duplicate(format!(
            "signal {} is `{}`; only a dismissed one is reopened",
            signal.id, signal.state
        ))),
        "task" if !who.has_any(TASKERS) => {
            Some(AppError::Forbidden("supervision tasks are opened by dispatchers and shift leads".into()))
        }
        "topic" if !who.has_any(crate::topics::DECIDERS) => {
            Some(AppError::Forbidden("topics are adopted by leaders".into()))
        }
        "topic" if signal.category.is_none() => Some(AppError::invalid(
            "state",
            "a signal without a category (a watch word) cannot become a topic; adopt the category on the topics page",
        )),
        _ => None,
    }
}
