//! Unit grids (单元网格) as polygons, read from GeoJSON, and the spatial index that finds the grid a
//! point lies in.

use geo::{BoundingRect, Centroid, Contains, MultiPolygon, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use crate::ids::GridId;

/// A grid code is county (6) + street (3) + community (3) + sequence (3) digits.
pub const GRID_CODE_LEN: usize = 15;

/// One grid as read from a GeoJSON feature.
#[derive(Debug, Clone, PartialEq)]
pub struct GridFeature {
    pub code: String,
    pub name: String,
    /// The 12-digit community code the grid belongs to (the code's first 12 digits unless given).
    pub community_code: String,
    pub area: MultiPolygon<f64>,
}

impl GridFeature {
    /// The centroid as (lat, lon).
    pub fn centroid(&self) -> Option<(f64, f64)> {
        self.area.centroid().map(|p| (p.y(), p.x()))
    }
}

/// Why a GeoJSON document could not be read as grids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("not valid GeoJSON: {0}")]
    Json(String),
    #[error("expected a FeatureCollection")]
    NotACollection,
    #[error("feature {index}: field `{field}`: {message}")]
    Feature { index: usize, field: &'static str, message: String },
}

fn feature_error(index: usize, field: &'static str, message: impl Into<String>) -> GridError {
    GridError::Feature { index, field, message: message.into() }
}

/// Whether a string is a valid 15-digit grid code.
pub fn is_grid_code(code: &str) -> bool {
    code.len() == GRID_CODE_LEN && code.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a FeatureCollection of Polygon/MultiPolygon features with a `code` property (15 digits)
/// and optional `name` and `community` properties.
pub fn parse_grid_features(text: &str) -> Result<Vec<GridFeature>, GridError> {
    let doc: geojson::GeoJson = text.parse().map_err(|e: geojson::Error| GridError::Json(e.to_string()))?;
    let geojson::GeoJson::FeatureCollection(collection) = doc else {
        return Err(GridError::NotACollection);
    };
    let mut out = Vec::with_capacity(collection.features.len());
    for (index, feature) in collection.features.into_iter().enumerate() {
        let prop = |name: &str| -> Option<String> {
            feature.property(name).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.trim().to_string()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let code = prop("code").ok_or_else(|| feature_error(index, "code", "missing"))?;
        if !is_grid_code(&code) {
            return Err(feature_error(index, "code", format!("`{code}` is not a 15-digit grid code")));
        }
        let community_code = prop("community").unwrap_or_else(|| code[..12].to_string());
        let name = prop("name").unwrap_or_else(|| code.clone());
        let area = feature_area(index, &feature)?;
        out.push(GridFeature { code, name, community_code, area });
    }
    Ok(out)
}

/// The Polygon or MultiPolygon of a feature.
fn feature_area(index: usize, feature: &geojson::Feature) -> Result<MultiPolygon<f64>, GridError> {
    let geometry = feature.geometry.as_ref().ok_or_else(|| feature_error(index, "geometry", "missing"))?;
    let geom: geo::Geometry<f64> = geometry
        .value
        .clone()
        .try_into()
        .map_err(|e: geojson::Error| feature_error(index, "geometry", e.to_string()))?;
    let area = match geom {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        _ => return Err(feature_error(index, "geometry", "must be a Polygon or MultiPolygon")),
    };
    if area.bounding_rect().is_none() {
        return Err(feature_error(index, "geometry", "is empty"));
    }
    Ok(area)
}

/// One area (a district, a community board…) as read from a GeoJSON feature.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaFeature {
    pub code: String,
    pub name: String,
    pub area: MultiPolygon<f64>,
}

/// Reads a FeatureCollection of Polygon/MultiPolygon features whose code is the property
/// `code_property` (text or number) and whose name is `name_property` (the code when absent).
pub fn parse_area_features(
    text: &str,
    code_property: &str,
    name_property: Option<&str>,
) -> Result<Vec<AreaFeature>, GridError> {
    let doc: geojson::GeoJson = text.parse().map_err(|e: geojson::Error| GridError::Json(e.to_string()))?;
    let geojson::GeoJson::FeatureCollection(collection) = doc else {
        return Err(GridError::NotACollection);
    };
    let text_of = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut out = Vec::with_capacity(collection.features.len());
    for (index, feature) in collection.features.iter().enumerate() {
        let code = feature
            .property(code_property)
            .and_then(text_of)
            .ok_or_else(|| feature_error(index, "code", format!("no property `{code_property}`")))?;
        if code.chars().count() > 64 {
            return Err(feature_error(index, "code", "is longer than 64 characters"));
        }
        if let Some(first) = out.iter().position(|f: &AreaFeature| f.code == code) {
            return Err(feature_error(index, "code", format!("`{code}` is also the code of feature {first}")));
        }
        let name = name_property.and_then(|p| feature.property(p)).and_then(text_of).unwrap_or_else(|| code.clone());
        out.push(AreaFeature { code, name, area: feature_area(index, feature)? });
    }
    Ok(out)
}

/// Reads one GeoJSON geometry object (as stored with a grid) as an area.
pub fn parse_area(text: &str) -> Result<MultiPolygon<f64>, String> {
    let geometry: geojson::Geometry = text.parse::<geojson::Geometry>().map_err(|e| e.to_string())?;
    match geo::Geometry::<f64>::try_from(geometry.value).map_err(|e| e.to_string())? {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        _ => Err("must be a Polygon or MultiPolygon".into()),
    }
}

/// Writes an area as a GeoJSON geometry object.
pub fn area_to_geojson(area: &MultiPolygon<f64>) -> String {
    let value = if area.0.len() == 1 { geojson::Value::from(&area.0[0]) } else { geojson::Value::from(area) };
    geojson::Geometry::new(value).to_string()
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Point → area lookup: an R-tree of bounding boxes, then an exact point-in-polygon test.
pub struct AreaIndex<Id> {
    tree: RTree<Entry>,
    grids: Vec<(Id, MultiPolygon<f64>)>,
}

/// Point → grid lookup.
pub type GridIndex = AreaIndex<GridId>;

impl<Id: Copy> Default for AreaIndex<Id> {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl<Id: Copy> AreaIndex<Id> {
    /// Builds the index; areas without extent are skipped.
    pub fn new(grids: Vec<(Id, MultiPolygon<f64>)>) -> Self {
        let entries = grids
            .iter()
            .enumerate()
            .filter_map(|(i, (_, area))| {
                let r = area.bounding_rect()?;
                Some(GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i))
            })
            .collect();
        Self { tree: RTree::bulk_load(entries), grids }
    }

    /// Number of grids indexed.
    pub fn len(&self) -> usize {
        self.grids.len()
    }

    /// Whether no grid is indexed.
    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
    }

    /// Whether the point lies within `margin` degrees of the rectangle around every area (always,
    /// when nothing is indexed): a point far outside is no place in this city, such as the 0, 0 of
    /// a phone that had no fix.
    pub fn near(&self, lat: f64, lon: f64, margin: f64) -> bool {
        if self.tree.size() == 0 {
            return true;
        }
        let envelope = self.tree.root().envelope();
        let (low, high) = (envelope.lower(), envelope.upper());
        (low[0] - margin..=high[0] + margin).contains(&lon) && (low[1] - margin..=high[1] + margin).contains(&lat)
    }

    /// The area containing the point, if any. On a shared edge the first area found wins.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<Id> {
        self.locate_all(lat, lon).next()
    }

    /// Every area containing the point (nested areas all contain it).
    pub fn locate_all(&self, lat: f64, lon: f64) -> impl Iterator<Item = Id> + '_ {
        let point = Point::new(lon, lat);
        self.tree
            .locate_all_at_point(&[lon, lat])
            .map(|e| &self.grids[e.data])
            .filter(move |(_, area)| area.contains(&point) || geo::Intersects::intersects(area, &point))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_SQUARES: &str = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"code":"110101001001001","name":"一号网格"},
       "geometry":{"type":"Polygon","coordinates":[[[116.0,39.0],[116.01,39.0],[116.01,39.01],[116.0,39.01],[116.0,39.0]]]}},
      {"type":"Feature","properties":{"code":"110101001001002"},
       "geometry":{"type":"MultiPolygon","coordinates":[[[[116.01,39.0],[116.02,39.0],[116.02,39.01],[116.01,39.01],[116.01,39.0]]]]}}
    ]}"#;

    #[test]
    fn a_point_is_found_in_the_grid_that_contains_it() {
        let features = parse_grid_features(TWO_SQUARES).unwrap();
        assert_eq!(features[0].community_code, "110101001001");
        assert_eq!(features[1].name, "110101001001002");
        let index =
            GridIndex::new(features.iter().enumerate().map(|(i, f)| (GridId(i as i64 + 1), f.area.clone())).collect());
        assert_eq!(index.locate(39.005, 116.005), Some(GridId(1)));
        assert_eq!(index.locate(39.005, 116.015), Some(GridId(2)));
        assert_eq!(index.locate(39.5, 116.005), None);
        let stored = area_to_geojson(&features[1].area);
        assert_eq!(parse_area(&stored).unwrap(), features[1].area);
        assert!(parse_area(r#"{"type":"Point","coordinates":[1,2]}"#).is_err());
        let (lat, lon) = features[0].centroid().unwrap();
        assert!((lat - 39.005).abs() < 1e-9 && (lon - 116.005).abs() < 1e-9);
    }

    #[test]
    fn bad_features_are_reported_with_their_index_and_field() {
        let bad_code = TWO_SQUARES.replace("110101001001002", "12345");
        assert_eq!(
            parse_grid_features(&bad_code),
            Err(GridError::Feature { index: 1, field: "code", message: "`12345` is not a 15-digit grid code".into() })
        );
        let point = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"110101001001001"},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#;
        assert!(matches!(parse_grid_features(point), Err(GridError::Feature { index: 0, field: "geometry", .. })));
        assert_eq!(parse_grid_features(r#"{"type":"Point","coordinates":[1,2]}"#), Err(GridError::NotACollection));
        assert!(matches!(parse_grid_features("{"), Err(GridError::Json(_))));
    }
}
