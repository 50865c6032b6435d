//! A GeoJSON file of grids or areas as an administrator uploads it: never a panic.
#![no_main]

use cityloop_domain::grid::{parse_area, parse_area_features, parse_grid_features};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(grids) = parse_grid_features(text) {
        for g in grids {
            assert_eq!(g.code.len(), 15, "a grid code is 15 digits");
        }
    }
    let _ = parse_area_features(text, "code", Some("name"));
    let _ = parse_area(text);
});
