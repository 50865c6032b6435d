//! The mapping file of an import: the source's categories, agencies and areas onto cityloop's category
//! tree, units and divisions (or grids), and the source's time zone.
//!
//! ```toml
//! source = "nyc311"          # the name its records are kept under; default: the format's name
//! utc_offset_hours = -5      # local times in the file; default: the city's
//! request_type = "complaint"
//! [categories]
//! "Illegal Parking" = "09009"
//! [agencies]
//! NYPD = "990101-ga"
//! [areas]
//! "04 MANHATTAN" = "990101"  # a division code or a grid code
//! ```

use std::collections::BTreeMap;

use cityloop_domain::{CategoryId, DivisionId, GridId, RequestType, UnitId};
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::reference::Reference;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    source: Option<String>,
    utc_offset_hours: Option<f64>,
    request_type: Option<String>,
    #[serde(default)]
    categories: BTreeMap<String, String>,
    #[serde(default)]
    agencies: BTreeMap<String, String>,
    #[serde(default)]
    areas: BTreeMap<String, String>,
}

/// Where a source area lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Division(DivisionId),
    Grid(GridId, Option<DivisionId>),
}

/// A checked mapping: every target exists.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub source: Option<String>,
    pub utc_offset_secs: Option<i32>,
    pub request_type: Option<RequestType>,
    pub categories: BTreeMap<String, CategoryId>,
    pub agencies: BTreeMap<String, UnitId>,
    pub areas: BTreeMap<String, Area>,
}

impl Mapping {
    /// Reads and checks a mapping file's text; errors name the file and the entry.
    pub fn parse(file: &str, text: &str, reference: &Reference) -> Result<Self> {
        let bad = |what: String| AppError::invalid(file, what);
        let m: MappingFile = toml::from_str(text).map_err(|e| bad(e.to_string().trim().replace('\n', " ")))?;
        let mut out = Mapping { source: m.source, ..Mapping::default() };
        if let Some(h) = m.utc_offset_hours {
            if !(-14.0..=14.0).contains(&h) {
                return Err(bad(format!("utc_offset_hours: `{h}` is not between -14 and 14")));
            }
            out.utc_offset_secs = Some((h * 3600.0).round() as i32);
        }
        if let Some(t) = m.request_type {
            out.request_type = Some(RequestType::parse(&t).ok_or_else(|| {
                bad(format!("request_type: `{t}` is not one of: {}", RequestType::wire_names().join(", ")))
            })?);
        }
        for (from, code) in m.categories {
            let c = reference
                .category_by_code(&code)
                .ok_or_else(|| bad(format!("categories.\"{from}\": no category `{code}`")))?;
            out.categories.insert(from, c.id);
        }
        for (from, code) in m.agencies {
            let u =
                reference.unit_by_code(&code).ok_or_else(|| bad(format!("agencies.\"{from}\": no unit `{code}`")))?;
            out.agencies.insert(from, u.id);
        }
        for (from, code) in m.areas {
            let area = match (reference.division_by_code(&code), reference.grid_by_code(&code)) {
                (Some(d), _) => Area::Division(d.id),
                (None, Some(g)) => Area::Grid(g.id, g.division_id),
                (None, None) => return Err(bad(format!("areas.\"{from}\": no division or grid `{code}`"))),
            };
            out.areas.insert(from, area);
        }
        Ok(out)
    }
}
