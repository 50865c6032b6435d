//! The filters of a case list, an export or a report, as a query string from anyone: never a panic.
#![no_main]

use cityloop_app::queries::CaseQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let _ = serde_urlencoded::from_str::<CaseQuery>(raw);
    let _ = cityloop_app::export::ExportFormat::parse(raw);
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let _ = cityloop_app::import::formats::parse_time("from", raw, offset);
    let _ = cityloop_domain::evaluation::Period::parse(raw, 19);
    let _ = cityloop_domain::State::parse(raw);
});
