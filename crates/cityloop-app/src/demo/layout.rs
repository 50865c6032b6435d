//! The demo city's map: a lattice of unit grids (about 200 m × 200 m, like the original Dongcheng
//! method) whose shared corners and edge midpoints are jittered, so that the grids look surveyed
//! rather than drawn with a ruler and still tile the city without gaps or overlaps.

use geo::{Coord, LineString, Polygon};
use rand::Rng;

/// Communities per street (2 × 2).
pub const COMMUNITIES_PER_STREET: usize = 4;
/// Grids per community: 2 columns × 4 rows.
const GRID_COLS: usize = 2;
const GRID_ROWS: usize = 4;
/// Cells across and down the city: districts 2 × 2, streets 2 × 2, communities 2 × 2, grids 2 × 4.
const COLS: usize = 2 * 2 * 2 * GRID_COLS;
const ROWS: usize = 2 * 2 * 2 * GRID_ROWS;
const ORIGIN_LAT: f64 = 30.20;
const ORIGIN_LON: f64 = 120.10;
const CELL_LAT: f64 = 0.0018;
const CELL_LON: f64 = 0.0021;

/// The jittered lattice.
pub struct Layout {
    corners: Vec<Vec<Coord<f64>>>,
    /// Midpoints of horizontal edges (i, j)–(i+1, j).
    mid_h: Vec<Vec<Coord<f64>>>,
    /// Midpoints of vertical edges (i, j)–(i, j+1).
    mid_v: Vec<Vec<Coord<f64>>>,
}

impl Layout {
    pub fn new(rng: &mut impl Rng) -> Self {
        let at = |i: f64, j: f64| Coord { x: ORIGIN_LON + i * CELL_LON, y: ORIGIN_LAT + j * CELL_LAT };
        let mut corners = vec![vec![Coord { x: 0.0, y: 0.0 }; ROWS + 1]; COLS + 1];
        for (i, column) in corners.iter_mut().enumerate() {
            for (j, c) in column.iter_mut().enumerate() {
                let interior = i > 0 && i < COLS && j > 0 && j < ROWS;
                let (di, dj) = if interior { (rng.gen_range(-0.2..0.2), rng.gen_range(-0.2..0.2)) } else { (0.0, 0.0) };
                *c = at(i as f64 + di, j as f64 + dj);
            }
        }
        let mut mid_h = vec![vec![Coord { x: 0.0, y: 0.0 }; ROWS + 1]; COLS];
        for (i, column) in mid_h.iter_mut().enumerate() {
            for (j, c) in column.iter_mut().enumerate() {
                let a = corners[i][j];
                let b = corners[i + 1][j];
                let shift = if j > 0 && j < ROWS { rng.gen_range(-0.15..0.15) * CELL_LAT } else { 0.0 };
                *c = Coord { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 + shift };
            }
        }
        let mut mid_v = vec![vec![Coord { x: 0.0, y: 0.0 }; ROWS]; COLS + 1];
        for (i, column) in mid_v.iter_mut().enumerate() {
            for (j, c) in column.iter_mut().enumerate() {
                let a = corners[i][j];
                let b = corners[i][j + 1];
                let shift = if i > 0 && i < COLS { rng.gen_range(-0.15..0.15) * CELL_LON } else { 0.0 };
                *c = Coord { x: (a.x + b.x) / 2.0 + shift, y: (a.y + b.y) / 2.0 };
            }
        }
        Self { corners, mid_h, mid_v }
    }

    /// Half the size of a cell as (lat, lon) degrees.
    pub fn half_cell(&self) -> (f64, f64) {
        (CELL_LAT / 2.0, CELL_LON / 2.0)
    }

    fn cell(&self, i: usize, j: usize) -> Polygon<f64> {
        let ring = vec![
            self.corners[i][j],
            self.mid_h[i][j],
            self.corners[i + 1][j],
            self.mid_v[i + 1][j],
            self.corners[i + 1][j + 1],
            self.mid_h[i][j + 1],
            self.corners[i][j + 1],
            self.mid_v[i][j],
            self.corners[i][j],
        ];
        Polygon::new(LineString(ring), vec![])
    }

    /// The grids of community `c` of street `s` of district `d`.
    pub fn community_cells(&self, d: usize, s: usize, c: usize) -> Vec<Polygon<f64>> {
        let col0 = (((d % 2) * 2 + s % 2) * 2 + c % 2) * GRID_COLS;
        let row0 = (((d / 2) * 2 + s / 2) * 2 + c / 2) * GRID_ROWS;
        let mut out = Vec::with_capacity(GRID_COLS * GRID_ROWS);
        for r in 0..GRID_ROWS {
            for q in 0..GRID_COLS {
                out.push(self.cell(col0 + q, row0 + r));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Contains, Point};
    use rand::SeedableRng;

    #[test]
    fn the_grids_tile_the_city_without_gaps_or_overlaps() {
        let layout = Layout::new(&mut rand::rngs::StdRng::seed_from_u64(7));
        let mut cells = Vec::new();
        for d in 0..4 {
            for s in 0..4 {
                for c in 0..COMMUNITIES_PER_STREET {
                    cells.extend(layout.community_cells(d, s, c));
                }
            }
        }
        assert_eq!(cells.len(), COLS * ROWS);
        let total: f64 = cells.iter().map(|p| p.unsigned_area()).sum();
        let city = (COLS as f64 * CELL_LON) * (ROWS as f64 * CELL_LAT);
        assert!((total - city).abs() / city < 1e-9, "areas add up to the city: {total} vs {city}");
        // Sample points: each lies in exactly one cell.
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        for _ in 0..500 {
            let p = Point::new(
                ORIGIN_LON + rng.gen_range(0.01..(COLS as f64 - 0.01)) * CELL_LON,
                ORIGIN_LAT + rng.gen_range(0.01..(ROWS as f64 - 0.01)) * CELL_LAT,
            );
            assert_eq!(cells.iter().filter(|c| c.contains(&p)).count(), 1);
        }
    }
}
