//! A snapshot of the reference data in memory: the unit and division trees, the category tree with
//! case standards, the grids with their spatial index, and the working calendar. Intake and scope
//! checks read it on every request, so it must not cost a database round trip.

use std::collections::HashMap;

use cityloop_domain::catalogue::CatalogueRule;
use cityloop_domain::enums::DivisionLevel;
use cityloop_domain::grid::{parse_area, AreaIndex, GridIndex};
use cityloop_domain::{CaseStandard, CategoryId, DivisionId, GridId, UnitId, WorkCalendar};
use cityloop_store::{CategoryRow, DivisionRow, GridRow, Store, UnitRow};
use geo::MultiPolygon;

use crate::error::{AppError, Result};

/// A grid without its shape.
#[derive(Debug, Clone)]
pub struct GridMeta {
    pub id: GridId,
    pub code: String,
    pub name: String,
    pub division_id: Option<DivisionId>,
    pub centroid_lat: f64,
    pub centroid_lon: f64,
}

/// How far outside its grids a point still counts as the city's: about 5 km, for a report made from
/// just across the edge.
pub const CITY_MARGIN_DEGREES: f64 = 0.05;

/// The reference data at one moment.
pub struct Reference {
    pub units: Vec<UnitRow>,
    pub divisions: Vec<DivisionRow>,
    pub categories: Vec<CategoryRow>,
    pub grids: Vec<GridMeta>,
    pub calendar: WorkCalendar,
    /// The dispatch catalogue.
    pub catalogue: Vec<CatalogueRule>,
    /// The shape of each grid, in the order of `grids` (for maps).
    pub grid_areas: Vec<MultiPolygon<f64>>,
    grid_index: GridIndex,
    /// Divisions that carry a polygon (imported from GeoJSON).
    division_index: AreaIndex<DivisionId>,
    unit_pos: HashMap<UnitId, usize>,
    unit_code: HashMap<String, usize>,
    unit_children: HashMap<UnitId, Vec<UnitId>>,
    division_pos: HashMap<DivisionId, usize>,
    division_children: HashMap<DivisionId, Vec<DivisionId>>,
    category_pos: HashMap<CategoryId, usize>,
    category_code: HashMap<String, usize>,
    category_children: HashMap<CategoryId, Vec<CategoryId>>,
    grid_pos: HashMap<GridId, usize>,
    grid_code: HashMap<String, usize>,
}

fn children<K: Copy + Eq + std::hash::Hash>(items: impl Iterator<Item = (K, Option<K>)>) -> HashMap<K, Vec<K>> {
    let mut out: HashMap<K, Vec<K>> = HashMap::new();
    for (id, parent) in items {
        if let Some(p) = parent {
            out.entry(p).or_default().push(id);
        }
    }
    out
}

fn subtree<K: Copy + Eq + std::hash::Hash>(root: K, children: &HashMap<K, Vec<K>>) -> Vec<K> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for k in kids {
                if !out.contains(k) {
                    out.push(*k);
                }
            }
        }
        i += 1;
    }
    out
}

impl Reference {
    /// Loads everything from the store.
    pub async fn load(store: &Store) -> Result<Self> {
        let units = store.list_units().await?;
        let divisions = store.list_divisions().await?;
        let categories = store.list_categories().await?;
        let grid_rows = store.list_grids().await?;
        let calendar = store.load_calendar().await?;
        let catalogue = store.list_catalogue().await?;
        let mut reference = Self::build(units, divisions, categories, grid_rows, calendar, catalogue)?;
        let mut areas = Vec::new();
        for (id, geometry) in store.division_areas().await? {
            let area = parse_area(&geometry).map_err(|e| AppError::Internal(format!("division {}: {e}", id.0)))?;
            areas.push((id, area));
        }
        reference.division_index = AreaIndex::new(areas);
        Ok(reference)
    }

    /// Builds the indexes over loaded rows.
    pub fn build(
        units: Vec<UnitRow>,
        divisions: Vec<DivisionRow>,
        categories: Vec<CategoryRow>,
        grid_rows: Vec<GridRow>,
        calendar: WorkCalendar,
        catalogue: Vec<CatalogueRule>,
    ) -> Result<Self> {
        let mut shapes = Vec::with_capacity(grid_rows.len());
        for g in &grid_rows {
            let area = parse_area(&g.geometry).map_err(|e| AppError::Internal(format!("grid {}: {e}", g.code)))?;
            shapes.push((g.id, area));
        }
        let grids: Vec<GridMeta> = grid_rows
            .into_iter()
            .map(|g| GridMeta {
                id: g.id,
                code: g.code,
                name: g.name,
                division_id: g.division_id,
                centroid_lat: g.centroid_lat,
                centroid_lon: g.centroid_lon,
            })
            .collect();
        Ok(Self {
            unit_pos: units.iter().enumerate().map(|(i, u)| (u.id, i)).collect(),
            // Collected from the last unit back, so that where two units share a code the first wins.
            unit_code: units.iter().enumerate().rev().map(|(i, u)| (u.code.clone(), i)).collect(),
            unit_children: children(units.iter().map(|u| (u.id, u.parent_id))),
            division_pos: divisions.iter().enumerate().map(|(i, d)| (d.id, i)).collect(),
            division_children: children(divisions.iter().map(|d| (d.id, d.parent_id))),
            category_pos: categories.iter().enumerate().map(|(i, c)| (c.id, i)).collect(),
            category_code: categories.iter().enumerate().map(|(i, c)| (c.code.clone(), i)).collect(),
            category_children: children(categories.iter().map(|c| (c.id, c.parent_id))),
            grid_pos: grids.iter().enumerate().map(|(i, g)| (g.id, i)).collect(),
            grid_code: grids.iter().enumerate().map(|(i, g)| (g.code.clone(), i)).collect(),
            grid_areas: shapes.iter().map(|(_, a)| a.clone()).collect(),
            grid_index: GridIndex::new(shapes),
            division_index: AreaIndex::default(),
            units,
            divisions,
            categories,
            grids,
            calendar,
            catalogue,
        })
    }

    pub fn unit(&self, id: UnitId) -> Option<&UnitRow> {
        self.unit_pos.get(&id).map(|i| &self.units[*i])
    }

    pub fn unit_by_code(&self, code: &str) -> Option<&UnitRow> {
        self.unit_code.get(code).map(|i| &self.units[*i])
    }

    /// A unit and all units below it.
    pub fn unit_subtree(&self, id: UnitId) -> Vec<UnitId> {
        subtree(id, &self.unit_children)
    }

    pub fn division(&self, id: DivisionId) -> Option<&DivisionRow> {
        self.division_pos.get(&id).map(|i| &self.divisions[*i])
    }

    pub fn division_by_code(&self, code: &str) -> Option<&DivisionRow> {
        self.divisions.iter().find(|d| d.code == code)
    }

    /// A division and all divisions below it.
    pub fn division_subtree(&self, id: DivisionId) -> Vec<DivisionId> {
        subtree(id, &self.division_children)
    }

    /// A division and its ancestors, most specific first.
    pub fn division_chain(&self, id: DivisionId) -> Vec<DivisionId> {
        let mut out = Vec::new();
        let mut cur = Some(id);
        while let Some(d) = cur {
            if out.contains(&d) {
                break;
            }
            out.push(d);
            cur = self.division(d).and_then(|r| r.parent_id);
        }
        out
    }

    pub fn category(&self, id: CategoryId) -> Option<&CategoryRow> {
        self.category_pos.get(&id).map(|i| &self.categories[*i])
    }

    pub fn category_by_code(&self, code: &str) -> Option<&CategoryRow> {
        self.category_code.get(code).map(|i| &self.categories[*i])
    }

    /// A category and its ancestors, most specific first.
    pub fn category_chain(&self, id: CategoryId) -> Vec<CategoryId> {
        let mut out = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            if out.contains(&c) {
                break;
            }
            out.push(c);
            cur = self.category(c).and_then(|r| r.parent_id);
        }
        out
    }

    /// A category and all categories below it.
    pub fn category_subtree(&self, id: CategoryId) -> Vec<CategoryId> {
        subtree(id, &self.category_children)
    }

    /// Whether a category has no children.
    pub fn is_leaf(&self, id: CategoryId) -> bool {
        self.category_children.get(&id).is_none_or(Vec::is_empty)
    }

    /// Whether grid inspectors are to find a category's problems on patrol: it or a category above it
    /// is marked so.
    pub fn patrolled(&self, id: CategoryId) -> bool {
        self.category_chain(id).into_iter().any(|c| self.category(c).is_some_and(|r| r.patrolled))
    }

    /// The case standard of a category: its own, or the nearest ancestor's.
    pub fn standard(&self, id: CategoryId) -> Option<&CaseStandard> {
        self.category_chain(id).into_iter().find_map(|c| self.category(c).and_then(|r| r.standard.as_ref()))
    }

    pub fn grid(&self, id: GridId) -> Option<&GridMeta> {
        self.grid_pos.get(&id).map(|i| &self.grids[*i])
    }

    pub fn grid_by_code(&self, code: &str) -> Option<&GridMeta> {
        self.grid_code.get(code).map(|i| &self.grids[*i])
    }

    /// The grid a point lies in.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<&GridMeta> {
        self.grid_index.locate(lat, lon).and_then(|id| self.grid(id))
    }

    /// Whether a point lies in or near the city: within [`CITY_MARGIN_DEGREES`] of its grids or of
    /// its divisions' polygons (any point, in a city without either).
    pub fn in_or_near_city(&self, lat: f64, lon: f64) -> bool {
        let (grids, divisions) = (&self.grid_index, &self.division_index);
        match (grids.is_empty(), divisions.is_empty()) {
            (true, true) => true,
            _ => {
                (!grids.is_empty() && grids.near(lat, lon, CITY_MARGIN_DEGREES))
                    || (!divisions.is_empty() && divisions.near(lat, lon, CITY_MARGIN_DEGREES))
            }
        }
    }

    /// The most specific division with a polygon that a point lies in (a community before its street,
    /// a street before its district).
    pub fn locate_division(&self, lat: f64, lon: f64) -> Option<&DivisionRow> {
        self.division_index.locate_all(lat, lon).filter_map(|id| self.division(id)).max_by_key(|d| d.level)
    }

    /// Places an address without coordinates: the most specific division (community, else
    /// street, else district) whose name the address contains, and that division's central grid
    /// (the one whose centroid lies nearest the middle of the division's grids). Callers record
    /// that the place is only as precise as the division.
    pub fn locate_address(&self, address: &str) -> Option<(&DivisionRow, &GridMeta)> {
        let address = address.trim();
        let level_rank = |d: &DivisionRow| match d.level {
            DivisionLevel::Community => 3,
            DivisionLevel::Street => 2,
            DivisionLevel::District => 1,
            DivisionLevel::City => 0,
        };
        let division = self
            .divisions
            .iter()
            .filter(|d| d.level != DivisionLevel::City && d.name.chars().count() >= 2 && address.contains(&d.name))
            .max_by_key(|d| (level_rank(d), d.name.chars().count()))?;
        let inside = self.division_subtree(division.id);
        let grids: Vec<&GridMeta> =
            self.grids.iter().filter(|g| g.division_id.is_some_and(|d| inside.contains(&d))).collect();
        let n = grids.len() as f64;
        let (lat, lon) = grids.iter().fold((0.0, 0.0), |(a, b), g| (a + g.centroid_lat / n, b + g.centroid_lon / n));
        let central = grids.into_iter().min_by(|a, b| {
            let d = |g: &GridMeta| (g.centroid_lat - lat).powi(2) + (g.centroid_lon - lon).powi(2);
            d(a).total_cmp(&d(b))
        })?;
        Some((division, central))
    }
}
