//! A CSV file from another system, read as each importer reads it: never a panic, only records or
//! errors naming what is wrong.
#![no_main]

use chrono::FixedOffset;
use cityloop_app::import::formats::{read_record, Columns, Fields, SourceFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let offset = FixedOffset::east_opt(8 * 3600).unwrap();
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(headers) = reader.headers() else { return };
    let headers: Vec<String> = headers.iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_string()).collect();
    let columns = Columns::new(&headers);
    for record in reader.records().take(64) {
        let Ok(record) = record else { continue };
        let values: Vec<String> = record.iter().map(str::to_string).collect();
        let fields = Fields { columns: &columns, values: &values };
        for format in
            [SourceFormat::Open311Csv, SourceFormat::Nyc311, SourceFormat::Baltimore311, SourceFormat::Messages]
        {
            if let Ok(r) = read_record(format, &fields, offset) {
                // What is read is usable: coordinates, when there are any, are on the globe.
                if let (Some(lat), Some(lon)) = (r.lat, r.lon) {
                    assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
                }
            }
        }
    }
});
