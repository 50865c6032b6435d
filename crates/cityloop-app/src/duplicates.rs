//! Duplicate detection at intake: open cases about the same problem — similar text, same or sibling
//! category, within a distance and a time window — offered to the operator to merge into.

use chrono::{DateTime, Duration, Utc};
use cityloop_domain::{CategoryId, GridId, Role};
use cityloop_store::smart::CANDIDATE_DESCRIPTION_CHARS;
use cityloop_store::{Bounds, DuplicateCandidate};
use cityloop_text::similarity::Shingles;
use geo::BoundingRect;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::reference::Reference;
use crate::scope::Principal;
use crate::App;

/// What the operator has typed so far.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DuplicateQuery {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub grid: Option<String>,
    /// A case to leave out (the new case itself, once saved).
    pub exclude: Option<String>,
}

/// An open case that may be about the same problem.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DuplicateMatch {
    pub case_id: i64,
    pub number: String,
    pub title: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    /// Text similarity (Jaccard of character bigrams), 0 to 1.
    pub similarity: f32,
    pub distance_m: Option<f64>,
    pub same_category: bool,
    /// Ranking score: similarity, lowered with distance, raised for the same category.
    pub score: f32,
}

/// How duplicates are looked for; defaults are the city's, per-category radii override the distance.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateSettings {
    pub radius_m: f64,
    pub window_days: i64,
    pub min_similarity: f32,
    /// Category code → radius in metres (a pothole is one spot; a noisy construction site is heard far off).
    pub radius_by_category: Vec<(String, f64)>,
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings { radius_m: 200.0, window_days: 30, min_similarity: 0.3, radius_by_category: Vec::new() }
    }
}

/// Candidates read per lookup, newest first; more than any real street corner produces in a window.
const MAX_CANDIDATES: i64 = 2_000;
/// Matches returned.
const MAX_MATCHES: usize = 5;

const DUPLICATE_ROLES: &[Role] = &[Role::Operator, Role::Lead, Role::Dispatcher, Role::Admin];

fn may_look_for_duplicates(who: &Principal) -> Result<()> {
    if who.has_any(DUPLICATE_ROLES) {
        Ok(())
    } else {
        Err(AppError::Forbidden("your roles cannot look for duplicates".into()))
    }
}

impl App {
    /// Open cases that look like the same problem as `query`, best first.
    pub async fn find_duplicates(&self, who: &Principal, query: &DuplicateQuery) -> Result<Vec<DuplicateMatch>> {
        may_look_for_duplicates(who)?;
        let text = comparable_text(&query.title, &query.description);
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let reference = self.reference();
        let category = match query.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(
                reference
                    .category_by_code(code)
                    .ok_or_else(|| AppError::invalid("category", format!("unknown category `{code}`")))?
                    .id,
            ),
            None => None,
        };
        let point = match (query.lat, query.lon) {
            (Some(lat), Some(lon)) => {
                crate::intake::check_coordinates(lat, lon)?;
                Some((lat, lon))
            }
            (Some(_), None) => return Err(AppError::invalid("lon", "is required with lat")),
            (None, Some(_)) => return Err(AppError::invalid("lat", "is required with lon")),
            (None, None) => None,
        };
        let mut grid = None;
        if let Some(code) = query.grid.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            let g = reference
                .grid_by_code(code)
                .ok_or_else(|| AppError::invalid("grid", format!("unknown grid `{code}`")))?;
            grid = Some(g.id);
        }
        let exclude = match query.exclude.as_deref().filter(|e| !e.is_empty()) {
            Some(number) => Some(
                self.store.case_by_number(number).await.map_err(|_| AppError::invalid("exclude", "no such case"))?.id,
            ),
            None => None,
        };
        let settings = &self.settings.duplicates;
        let radius = category
            .and_then(|c| reference.category(c))
            .and_then(|c| settings.radius_by_category.iter().find(|(code, _)| *code == c.code))
            .map_or(settings.radius_m, |(_, r)| *r);
        // With coordinates: the open cases placed within the radius. With a grid code only: the open
        // cases of that grid, however far apart inside it.
        let bounds = point.map(|(lat, lon)| bounds_around(lat, lon, radius));
        let grids = match bounds {
            Some(b) => Some(grids_within(&reference, b)),
            None => grid.map(|g| vec![g]),
        };
        let since = self.now() - Duration::days(settings.window_days);
        let candidates =
            self.store.duplicate_candidates(grids.as_deref(), bounds, since, exclude, MAX_CANDIDATES).await?;
        let related = |a: CategoryId, b: CategoryId| related_categories(&reference, a, b);
        Ok(rank_duplicates(&text, category, point, radius, settings.min_similarity, candidates, &related))
    }
}

impl App {
    /// Open cases that look like the same problem as a stored case (which is left out).
    pub async fn duplicates_of_case(&self, who: &Principal, number: &str) -> Result<Vec<DuplicateMatch>> {
        // The role first: a refusal says nothing about whether the case exists.
        may_look_for_duplicates(who)?;
        let (case, _) = self.visible_case(who, &crate::moves::CaseRef::Number(number.to_string())).await?;
        let case = &case;
        let reference = self.reference();
        let query = DuplicateQuery {
            title: case.title.clone(),
            description: case.description.clone(),
            category: case.category_id.and_then(|c| reference.category(c)).map(|c| c.code.clone()),
            lat: case.location.as_ref().map(|l| l.lat),
            lon: case.location.as_ref().map(|l| l.lon),
            grid: case.grid_id.and_then(|g| reference.grid(g)).map(|g| g.code.clone()),
            exclude: Some(case.number.clone()),
        };
        self.find_duplicates(who, &query).await
    }
}

/// Scores candidates against the new text and keeps the best few that pass every test.
/// What is compared: the title and the start of the description, cut where the store cuts candidates so
/// that a long text and its own copy score as equal.
pub fn comparable_text(title: &str, description: &str) -> String {
    let start: String = description.trim().chars().take(CANDIDATE_DESCRIPTION_CHARS as usize).collect();
    format!("{}\n{start}", title.trim())
}

/// `related` says whether two categories may describe the same problem.
pub fn rank_duplicates(
    text: &str,
    category: Option<CategoryId>,
    point: Option<(f64, f64)>,
    radius_m: f64,
    min_similarity: f32,
    candidates: Vec<DuplicateCandidate>,
    related: &dyn Fn(CategoryId, CategoryId) -> bool,
) -> Vec<DuplicateMatch> {
    let shingles = Shingles::of(text);
    let mut found: Vec<DuplicateMatch> = candidates
        .into_iter()
        .filter_map(|c| {
            let same_category = category.is_some() && c.category_id == category;
            if let (Some(ours), Some(theirs)) = (category, c.category_id) {
                if !related(ours, theirs) {
                    return None;
                }
            }
            let distance_m = match (point, c.lat, c.lon) {
                (Some((lat, lon)), Some(clat), Some(clon)) => Some(distance_m(lat, lon, clat, clon)),
                _ => None,
            };
            if distance_m.is_some_and(|d| d > radius_m) {
                return None;
            }
            let similarity = shingles.jaccard(&Shingles::of(&comparable_text(&c.title, &c.description)));
            if similarity < min_similarity {
                return None;
            }
            let near = distance_m.map_or(1.0, |d| 1.0 - 0.5 * (d / radius_m) as f32);
            let score = similarity * near + if same_category { 0.1 } else { 0.0 };
            Some(DuplicateMatch {
                case_id: c.id.0,
                number: c.number,
                title: c.title,
                state: c.state,
                created_at: c.created_at,
                similarity,
                distance_m,
                same_category,
                score,
            })
        })
        .collect();
    found.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.case_id.cmp(&a.case_id)));
    found.truncate(MAX_MATCHES);
    found
}

/// The same category, or two categories under the same parent.
fn related_categories(reference: &Reference, a: CategoryId, b: CategoryId) -> bool {
    if a == b {
        return true;
    }
    let parent = |c: CategoryId| reference.category(c).and_then(|row| row.parent_id);
    parent(a).is_some() && parent(a) == parent(b)
}

/// The box around a point that holds the circle of `radius_m`.
fn bounds_around(lat: f64, lon: f64, radius_m: f64) -> Bounds {
    let dlat = radius_m / 111_320.0;
    let dlon = radius_m / (111_320.0 * lat.to_radians().cos().max(0.01));
    Bounds { south: lat - dlat, north: lat + dlat, west: lon - dlon, east: lon + dlon }
}

/// Grids whose bounding box meets the box.
fn grids_within(reference: &Reference, b: Bounds) -> Vec<GridId> {
    reference
        .grids
        .iter()
        .zip(&reference.grid_areas)
        .filter(|(_, area)| {
            area.bounding_rect().is_some_and(|r| {
                r.min().y <= b.north && r.max().y >= b.south && r.min().x <= b.east && r.max().x >= b.west
            })
        })
        .map(|(g, _)| g.id)
        .collect()
}

/// Great-circle distance in metres.
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_of_one_thousandth_degree_of_latitude_is_about_111_m() {
        let d = distance_m(30.0, 120.0, 30.001, 120.0);
        assert!((d - 111.2).abs() < 0.5, "{d}");
    }
}
