//! Exports of the case list in every format, on both engines, and the Open311 bulk CSV read back by
//! the importer into another city.

use cityloop_app::export::ExportFormat;
use cityloop_app::import::formats::SourceFormat;
use cityloop_app::import::mapping::Mapping;
use cityloop_app::import::ImportOptions;
use cityloop_app::testing::demo_app;
use cityloop_app::App;
use cityloop_domain::{Channel, State as CaseState, Urgency};
use cityloop_store::testing::engines;
use cityloop_store::{CaseFilter, CaseScope};

async fn export(app: &App, format: ExportFormat) -> (u64, Vec<u8>) {
    let mut out = Vec::new();
    let n = app.export_cases(CaseFilter::new(CaseScope::everything(), app.now()), format, &mut out).await.unwrap();
    (n, out)
}

#[tokio::test]
async fn every_format_holds_every_case_without_contact_data() {
    for backend in engines() {
        let demo = demo_app(backend, 60, 1024).await;
        let app = &demo.app;
        let total = app.store.count_cases().await.unwrap() as u64;
        assert!(total >= 60);
        let phones: Vec<String> = app
            .store
            .list_cases(&CaseFilter::new(CaseScope::everything(), app.now()))
            .await
            .unwrap()
            .items
            .iter()
            .filter_map(|c| c.contact.as_ref().map(|p| p.phone.clone()))
            .collect();
        assert!(!phones.is_empty(), "the demo history has callers");

        let (n, csv) = export(app, ExportFormat::Csv).await;
        assert_eq!(n, total);
        let text = String::from_utf8(csv).unwrap();
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        assert_eq!(reader.headers().unwrap().get(0), Some("number"));
        assert_eq!(reader.records().count() as u64, total);
        assert!(phones.iter().all(|p| !text.contains(p.as_str())), "no caller's phone in an export");

        let (_, geo) = export(app, ExportFormat::GeoJson).await;
        let geo: serde_json::Value = serde_json::from_slice(&geo).unwrap();
        assert_eq!(geo["type"], "FeatureCollection");
        let features = geo["features"].as_array().unwrap();
        assert_eq!(features.len() as u64, total);
        assert!(features.iter().any(|f| f["geometry"]["type"] == "Point"));

        let (_, ld) = export(app, ExportFormat::NgsiLd).await;
        let ld: serde_json::Value = serde_json::from_slice(&ld).unwrap();
        let e = &ld[0];
        assert!(e["id"].as_str().unwrap().starts_with("urn:ngsi-ld:Open311ServiceRequest:"));
        assert_eq!(e["type"], "Open311ServiceRequest");
        assert_eq!(e["requested_datetime"]["value"]["@type"], "DateTime");
        assert!(e["@context"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().contains("ngsi-ld-core-context")));

        let (_, xlsx) = export(app, ExportFormat::Xlsx).await;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        use calamine::Reader;
        let sheet = book.worksheet_range("工单").unwrap();
        assert_eq!(sheet.rows().count() as u64, total + 1);
        assert_eq!(sheet.get((0, 0)).map(|c| c.to_string()), Some("工单编号".into()));
        // Under Chinese headers people read labels (已办结, 12345热线), not the wire names a CSV carries.
        let column = |header: &str| (0..20).find(|&i| sheet.get((0, i)).is_some_and(|c| *c == header)).unwrap();
        let states: Vec<String> =
            (1..=total as usize).map(|r| sheet.get((r, column("状态"))).unwrap().to_string()).collect();
        assert!(states.iter().all(|s| CaseState::ALL.iter().any(|k| k.label_zh() == s)), "{states:?}");
        let channels: Vec<String> =
            (1..=total as usize).map(|r| sheet.get((r, column("来源渠道"))).unwrap().to_string()).collect();
        assert!(channels.iter().all(|s| Channel::ALL.iter().any(|k| k.label_zh() == s)), "{channels:?}");
        let first_urgency = sheet.get((1, column("紧急程度"))).unwrap().to_string();
        assert!(Urgency::ALL.iter().any(|k| k.label_zh() == first_urgency), "{first_urgency}");
        let latitudes: Vec<&calamine::Data> =
            (1..=total as usize).filter_map(|r| sheet.get((r, column("纬度")))).collect();
        assert!(latitudes.iter().any(|c| matches!(c, calamine::Data::Float(_))), "coordinates are numbers");
        let csv_states: Vec<String> = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.unwrap()[1].to_string())
            .collect();
        assert!(csv_states.iter().all(|s| CaseState::parse(s).is_some()), "a CSV keeps the wire names");
    }
}

#[tokio::test]
async fn an_open311_bulk_export_imports_into_another_city_and_is_not_imported_twice() {
    let from = demo_app(cityloop_store::Backend::Sqlite, 40, 1024).await;
    let (n, bytes) = export(&from.app, ExportFormat::Open311Csv).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open311.csv");
    std::fs::write(&path, bytes).unwrap();
    let to = demo_app(cityloop_store::Backend::Sqlite, 0, 1024).await;
    let options = ImportOptions {
        format: SourceFormat::Open311Csv,
        path: path.clone(),
        mapping: Mapping::default(),
        rejects: dir.path().join("rejects.csv"),
        batch: 16,
        limit: None,
    };
    let report = to.app.import_file(&options, |_| {}).await.unwrap();
    assert_eq!(
        (report.imported, report.rejected),
        (n, 0),
        "{:?}",
        std::fs::read_to_string(dir.path().join("rejects.csv"))
    );
    let closed = |app: &App| {
        let mut f = CaseFilter::new(CaseScope::everything(), app.now());
        f.states = vec![cityloop_domain::State::Closed];
        f.limit = 1000;
        f
    };
    let before = from.app.store.list_cases(&closed(&from.app)).await.unwrap().items.len();
    let after = to.app.store.list_cases(&closed(&to.app)).await.unwrap().items.len();
    assert_eq!(before, after, "closed cases stay closed");
    let again = to.app.import_file(&options, |_| {}).await.unwrap();
    assert_eq!((again.imported, again.skipped), (0, n));
}
