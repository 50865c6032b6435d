//! Maps and charts drawn as SVG from cityloop's own grids and counts: no tile service, no chart
//! library. Coordinates are projected equirectangularly with the width scaled by the cosine of
//! the city's latitude, which is exact enough at city scale; the projection is written onto the
//! `<svg>` element so that the page script can turn a click back into latitude and longitude.

use std::collections::HashMap;
use std::fmt::Write;

use cityloop_app::Reference;
use cityloop_domain::GridId;
use geo::{BoundingRect, MultiPolygon};

use crate::escape_html as escape;

/// Width of every map's coordinate space.
const MAP_WIDTH: f64 = 1000.0;

/// The city's grids projected once per reference snapshot.
pub struct CityMap {
    min_lon: f64,
    max_lat: f64,
    /// Map units per degree of longitude and of latitude.
    kx: f64,
    ky: f64,
    pub height: f64,
    /// One path per grid, in the order of `Reference::grids`.
    paths: Vec<String>,
    /// Each grid's bounds in map units: min x, min y, max x, max y.
    bounds: Vec<[f64; 4]>,
    codes: Vec<String>,
    names: Vec<String>,
    ids: Vec<GridId>,
}

/// A marker on a map.
pub struct Point {
    pub lat: f64,
    pub lon: f64,
    /// CSS class (colour by state).
    pub class: &'static str,
    pub title: String,
    pub href: Option<String>,
}

impl CityMap {
    /// Projects every grid of a snapshot.
    pub fn build(reference: &Reference) -> Self {
        let mut bounds: Option<(f64, f64, f64, f64)> = None;
        for area in &reference.grid_areas {
            if let Some(r) = area.bounding_rect() {
                let b = bounds.get_or_insert((r.min().x, r.min().y, r.max().x, r.max().y));
                b.0 = b.0.min(r.min().x);
                b.1 = b.1.min(r.min().y);
                b.2 = b.2.max(r.max().x);
                b.3 = b.3.max(r.max().y);
            }
        }
        let (min_lon, min_lat, max_lon, max_lat) = bounds.unwrap_or((0.0, 0.0, 1.0, 1.0));
        let mid_lat = ((min_lat + max_lat) / 2.0).to_radians();
        let span_x = ((max_lon - min_lon) * mid_lat.cos()).max(1e-9);
        let kx = MAP_WIDTH / (max_lon - min_lon).max(1e-9);
        let ky = MAP_WIDTH / span_x;
        let height = ((max_lat - min_lat) * ky).max(1.0);
        let mut map = CityMap {
            min_lon,
            max_lat,
            kx,
            ky,
            height,
            paths: Vec::new(),
            bounds: Vec::new(),
            codes: reference.grids.iter().map(|g| g.code.clone()).collect(),
            names: reference.grids.iter().map(|g| g.name.clone()).collect(),
            ids: reference.grids.iter().map(|g| g.id).collect(),
        };
        map.paths = reference.grid_areas.iter().map(|a| map.path(a)).collect();
        map.bounds = reference
            .grid_areas
            .iter()
            .map(|a| match a.bounding_rect() {
                Some(r) => {
                    let (x0, y0) = map.xy(r.max().y, r.min().x);
                    let (x1, y1) = map.xy(r.min().y, r.max().x);
                    [x0, y0, x1, y1]
                }
                None => [0.0, 0.0, 0.0, 0.0],
            })
            .collect();
        map
    }

    /// One grid as a path with its code and name on hover; `count` is added to the title.
    fn write_grid(&self, out: &mut String, i: usize, class: &str, count: Option<i64>) {
        let count = count.map(|n| format!(" · {n}")).unwrap_or_default();
        let _ = write!(
            out,
            r#"<path class="g {class}" d="{}" data-grid="{}"><title>{} {}{count}</title></path>"#,
            self.paths[i],
            escape(&self.codes[i]),
            escape(&self.codes[i]),
            escape(&self.names[i])
        );
    }

    fn xy(&self, lat: f64, lon: f64) -> (f64, f64) {
        ((lon - self.min_lon) * self.kx, (self.max_lat - lat) * self.ky)
    }

    fn path(&self, area: &MultiPolygon<f64>) -> String {
        let mut d = String::new();
        for polygon in area {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for (i, c) in ring.coords().enumerate() {
                    let (x, y) = self.xy(c.y, c.x);
                    let _ = write!(d, "{}{:.1} {:.1}", if i == 0 { "M" } else { "L" }, x, y);
                }
                d.push('Z');
            }
        }
        d
    }

    fn open_svg(&self, out: &mut String, id: &str, class: &str, view: (f64, f64, f64, f64)) {
        let _ = write!(
            out,
            r#"<svg id="{id}" class="map {class}" viewBox="{:.1} {:.1} {:.1} {:.1}" data-lon0="{}" data-lat0="{}" data-kx="{}" data-ky="{}" role="img" xmlns="http://www.w3.org/2000/svg">"#,
            view.0, view.1, view.2, view.3, self.min_lon, self.max_lat, self.kx, self.ky
        );
    }

    fn points(&self, out: &mut String, points: &[Point]) {
        for p in points {
            let (x, y) = self.xy(p.lat, p.lon);
            let circle = format!(
                r#"<circle class="pt {}" cx="{x:.1}" cy="{y:.1}" r="6"><title>{}</title></circle>"#,
                p.class,
                escape(&p.title)
            );
            match &p.href {
                Some(href) => {
                    let _ = write!(out, r#"<a href="{}">{circle}</a>"#, escape(href));
                }
                None => out.push_str(&circle),
            }
        }
    }

    /// The whole city, grids shaded by a count (darker is more), with markers.
    pub fn shaded(&self, id: &str, counts: &HashMap<GridId, i64>, points: &[Point]) -> String {
        let max = counts.values().copied().max().unwrap_or(0).max(1) as f64;
        let mut out = String::with_capacity(self.paths.iter().map(String::len).sum::<usize>() + 64 * self.paths.len());
        self.open_svg(&mut out, id, "shaded", (0.0, 0.0, MAP_WIDTH, self.height));
        for i in 0..self.paths.len() {
            let n = counts.get(&self.ids[i]).copied().unwrap_or(0);
            // Five steps of shading keep the legend readable.
            let step = if n == 0 { 0 } else { 1 + ((n as f64 / max) * 4.0).round().min(4.0) as i64 };
            self.write_grid(&mut out, i, &format!("s{step}"), Some(n));
        }
        self.points(&mut out, points);
        out.push_str("</svg>");
        out
    }

    /// Some grids only (an inspector's), framed to fit them, with markers.
    pub fn grids(&self, id: &str, only: &[GridId], points: &[Point]) -> String {
        let chosen: Vec<usize> = (0..self.ids.len()).filter(|i| only.contains(&self.ids[*i])).collect();
        let mut view = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for b in chosen.iter().map(|i| self.bounds[*i]) {
            view = (view.0.min(b[0]), view.1.min(b[1]), view.2.max(b[2]), view.3.max(b[3]));
        }
        let frame = if chosen.is_empty() {
            (0.0, 0.0, MAP_WIDTH, self.height)
        } else {
            let pad = 10.0;
            (view.0 - pad, view.1 - pad, view.2 - view.0 + 2.0 * pad, view.3 - view.1 + 2.0 * pad)
        };
        let mut out = String::new();
        self.open_svg(&mut out, id, "mine", frame);
        for i in chosen {
            self.write_grid(&mut out, i, "mine", None);
        }
        self.points(&mut out, points);
        out.push_str("</svg>");
        out
    }

    /// The city as a picker: the grid layer comes from the cached `/maps/city.svg`, the page holds
    /// only the frame and the markers, and a click sets the location fields.
    pub fn picker(&self, id: &str, points: &[Point]) -> String {
        let mut out = String::new();
        self.open_svg(&mut out, id, "picker", (0.0, 0.0, MAP_WIDTH, self.height));
        let _ = write!(
            out,
            r#"<image href="/maps/city.svg" x="0" y="0" width="{MAP_WIDTH}" height="{:.1}"/><circle class="pick" cx="-50" cy="-50" r="9"/>"#,
            self.height
        );
        self.points(&mut out, points);
        out.push_str("</svg>");
        out
    }

    /// The grid layer on its own, as a standalone SVG document.
    pub fn city_document(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH} {:.1}"><g fill="#eef3ee" stroke="#9ab0a0" stroke-width=".8">"##,
            self.height
        );
        for d in &self.paths {
            let _ = write!(out, r#"<path d="{d}"/>"#);
        }
        out.push_str("</g></svg>");
        out
    }
}

/// Stacked daily bars: one series per category, one bar per day.
pub fn stacked_bars(id: &str, days: &[String], series: &[(String, Vec<i64>)]) -> String {
    let width = 760.0;
    let height = 260.0;
    let left = 40.0;
    let bottom = 30.0;
    let n = days.len().max(1) as f64;
    let totals: Vec<i64> =
        (0..days.len()).map(|i| series.iter().map(|s| s.1.get(i).copied().unwrap_or(0)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar_w = (width - left) / n * 0.7;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        out,
        r#"<line class="axis" x1="{left}" y1="{:.1}" x2="{width}" y2="{:.1}"/><text class="tick" x="2" y="14">{}</text>"#,
        height - bottom,
        height - bottom,
        max as i64
    );
    for (i, day) in days.iter().enumerate() {
        let x = left + (i as f64 + 0.15) * (width - left) / n;
        let mut y = height - bottom;
        for (s, (name, counts)) in series.iter().enumerate() {
            let v = counts.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * (height - bottom - 20.0);
            y -= h;
            let _ = write!(
                out,
                r#"<rect class="c{}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}"><title>{} {}: {v}</title></rect>"#,
                s % 8,
                escape(day),
                escape(name)
            );
        }
        if i % 2 == 0 || days.len() <= 7 {
            let _ = write!(out, r#"<text class="tick" x="{x:.1}" y="{:.1}">{}</text>"#, height - 10.0, escape(day));
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_day_and_escape_names() {
        let svg = stacked_bars(
            "c",
            &["11-01".into(), "11-02".into()],
            &[("A<b>".into(), vec![2, 4]), ("B".into(), vec![0, 4])],
        );
        assert!(svg.contains("A&lt;b&gt;"));
        assert!(!svg.contains("A<b>"));
        assert_eq!(svg.matches("<rect").count(), 3, "zero counts draw no bar");
        assert!(svg.contains(">8</text>"), "the axis shows the largest total");
    }
}
