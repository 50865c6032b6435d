//! Bulk import of other systems' records, on both engines: rejects with line and reason, resuming an
//! interrupted run, importing the same file twice, the mapping file, CSV and XLSX; and the real 311 and
//! message-board samples of `../shared/data` when they are there.

use std::path::{Path, PathBuf};

use cityloop_app::import::formats::SourceFormat;
use cityloop_app::import::mapping::Mapping;
use cityloop_app::import::{ImportOptions, ImportReport};
use cityloop_app::testing::demo_app;
use cityloop_app::{App, AppError};
use cityloop_domain::State;
use cityloop_store::testing::engines;

const MESSAGES: &str = "\u{feff}留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间
101,U1,小区路灯不亮,2019/4/25 9:32:09,小区门口路灯坏了一周,已安排维修,2019/4/28 10:00:00
102,U2,噪音扰民,2019/4/26 22:10:00,楼下烧烤店深夜噪音大,,
103,U3,井盖缺失,昨天,路口井盖不见了,,
101,U1,小区路灯不亮,2019/4/25 9:32:09,重复提交,,
104,U4,垃圾清运不及时,2019/4/27 8:00:00,\"垃圾桶满了, 没人清运\",已督促环卫清运,2019/4/27 15:30:00
105,U5,,2019/4/27 9:00:00,没有标题,,
106,U6,道路积水,2019/4/28 7:00:00
107,U7,占道经营,2019/4/28 18:00:00,夜市摊贩占道,,
";

fn options(path: &Path, format: SourceFormat, mapping: Mapping, batch: usize, limit: Option<u64>) -> ImportOptions {
    ImportOptions {
        format,
        path: path.to_path_buf(),
        mapping,
        rejects: path.with_extension("rejects.csv"),
        batch,
        limit,
    }
}

async fn import(app: &App, o: &ImportOptions) -> ImportReport {
    app.import_file(o, |_| {}).await.unwrap()
}

#[tokio::test]
async fn rejects_resume_and_a_second_import_creates_nothing() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1024).await;
        let app = &demo.app;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("messages.csv");
        std::fs::write(&path, MESSAGES).unwrap();
        let before = app.store.count_cases().await.unwrap();

        // Interrupted after three records, in batches of two.
        let first = import(app, &options(&path, SourceFormat::Messages, Mapping::default(), 2, Some(3))).await;
        assert!(!first.finished && !first.resumed);
        assert_eq!((first.read, first.imported, first.rejected), (3, 2, 1));
        // The same command goes on where it stopped.
        let rest = import(app, &options(&path, SourceFormat::Messages, Mapping::default(), 2, None)).await;
        assert!(rest.finished && rest.resumed && rest.run == first.run);
        assert_eq!((rest.read, rest.imported, rest.skipped, rest.rejected), (5, 2, 1, 2), "101 again is skipped");
        assert_eq!(app.store.count_cases().await.unwrap(), before + 4);

        let rejects = std::fs::read_to_string(path.with_extension("rejects.csv")).unwrap();
        let lines: Vec<&str> = rejects.lines().collect();
        assert_eq!(lines[0], "line,reason,record");
        assert_eq!(lines.len(), 4, "each reject once, though the run was resumed: {rejects}");
        assert_eq!(lines[1], "4,留言时间: `昨天` is not a date and time,\"103,U3,井盖缺失,昨天,路口井盖不见了,,\"");
        assert!(lines[2].starts_with("7,留言主题: is empty"), "{}", lines[2]);
        assert!(lines[3].starts_with("8,has 4 fields where the header has 7"), "{}", lines[3]);

        // Closed with the reply, numbered in its own day, with its source on the report record.
        let answered = app
            .store
            .list_cases(&cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), app.now()))
            .await
            .unwrap();
        let lamp = answered.items.iter().find(|c| c.title == "小区路灯不亮").unwrap();
        assert_eq!(lamp.state, State::Closed);
        assert_eq!(lamp.result.as_deref(), Some("已安排维修"));
        assert!(lamp.number.starts_with("20190425-"), "{}", lamp.number);
        let flows = app.store.flows(lamp.id).await.unwrap();
        assert_eq!(flows[0].1.data["import"]["id"], "101");
        assert_eq!(flows[0].1.data["import"]["line"], 2);
        assert_eq!(flows[1].1.to, State::Closed);
        let open = answered.items.iter().find(|c| c.title == "噪音扰民").unwrap();
        assert_eq!((open.state, open.closed_at), (State::Reported, None));

        // Importing the file again creates nothing new.
        let again = import(app, &options(&path, SourceFormat::Messages, Mapping::default(), 100, None)).await;
        assert_eq!((again.imported, again.skipped, again.rejected), (0, 5, 3));
        assert_eq!(app.store.count_cases().await.unwrap(), before + 4);
    }
}

#[tokio::test]
async fn a_mapping_file_places_categories_units_and_areas_and_bad_ones_are_named() {
    let demo = demo_app(cityloop_store::Backend::Sqlite, 0, 1024).await;
    let app = &demo.app;
    let reference = app.reference();
    let unit = reference.units.iter().find(|u| u.code.ends_with("-cg")).unwrap().clone();
    let division = reference.divisions.iter().find(|d| d.parent_id.is_some()).unwrap().clone();
    let text = format!(
        "utc_offset_hours = -5\n[categories]\n\"Noise - Residential\" = \"31002\"\n[agencies]\nNYPD = \"{}\"\n[areas]\n\"04 MANHATTAN\" = \"{}\"\n",
        unit.code, division.code
    );
    let mapping = Mapping::parse("nyc.toml", &text, &reference).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nyc.csv");
    std::fs::write(
        &path,
        "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,Community Board,Latitude,Longitude,Open Data Channel Type\n\
         9001,02/28/2023 11:00:00 PM,,NYPD,Noise - Residential,Loud Music/Party,In Progress,04 MANHATTAN,40.75,-74.0,ONLINE\n\
         9002,02/28/2023 10:00:00 PM,03/01/2023 01:00:00 AM,DOT,Street Condition,Pothole,Closed,05 BRONX,,,PHONE\n",
    )
    .unwrap();
    let report = import(app, &options(&path, SourceFormat::Nyc311, mapping, 100, None)).await;
    assert_eq!((report.imported, report.rejected), (2, 0));
    assert!(!path.with_extension("rejects.csv").exists(), "no reject, no reject file");
    assert_eq!(report.unmapped["category"]["Street Condition"], 1);
    let noise = app
        .store
        .list_cases(&cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), app.now()))
        .await
        .unwrap();
    let noise = noise.items.iter().find(|c| c.title == "Noise - Residential - Loud Music/Party").unwrap();
    assert_eq!(noise.category_id, reference.category_by_code("31002").map(|c| c.id));
    assert_eq!((noise.unit_id, noise.division_id), (Some(unit.id), Some(division.id)));
    assert_eq!(noise.created_at.to_rfc3339(), "2023-03-01T04:00:00+00:00", "local New York time, UTC-5");
    assert_eq!(noise.channel, cityloop_domain::Channel::Web);

    let bad = Mapping::parse("nyc.toml", "[categories]\n\"Noise\" = \"99999\"\n", &reference).unwrap_err();
    assert!(
        matches!(&bad, AppError::Invalid { field, message } if field == "nyc.toml" && message.contains("categories.\"Noise\": no category `99999`")),
        "{bad}"
    );
    let missing = app
        .import_file(&options(&path, SourceFormat::Baltimore311, Mapping::default(), 100, None), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, AppError::Invalid { field, message } if field.ends_with("nyc.csv:1") && message.contains("missing column `ServiceRequestNum`")),
        "{missing}"
    );
}

#[tokio::test]
async fn a_message_export_in_xlsx_imports_like_its_csv() {
    let demo = demo_app(cityloop_store::Backend::Sqlite, 0, 1024).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("留言.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows = [
        ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"],
        ["201", "U1", "公交站亭破损", "2019/5/1 8:00:00", "站亭玻璃碎了", "已更换玻璃", "2019/5/3 9:00:00"],
        ["202", "U2", "停水", "2019/5/2 7:00:00", "小区停水没有通知", "", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *value).unwrap();
        }
    }
    sheet.write_number(2, 0, 202.0).unwrap();
    book.save(&path).unwrap();
    let report = import(&demo.app, &options(&path, SourceFormat::Messages, Mapping::default(), 100, None)).await;
    assert_eq!((report.imported, report.rejected), (2, 0), "{report:?}");
    let again = import(&demo.app, &options(&path, SourceFormat::Messages, Mapping::default(), 100, None)).await;
    assert_eq!(again.skipped, 2, "a number cell reads as the same id as before");
}

fn shared(path: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(path);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (the shared data set sits beside the repository)", p.display());
        None
    }
}

#[tokio::test]
async fn the_real_311_and_message_board_samples_import_with_their_defects_rejected() {
    let files = [
        ("nyc311/nyc311_2023-02-28_sample.csv", SourceFormat::Nyc311, 4997, 2),
        ("baltimore311/baltimore311_2014-2019_sample.csv", SourceFormat::Baltimore311, 10000, 0),
        ("teddy/replies.csv", SourceFormat::Messages, 2816, 0),
    ];
    let Some(first) = shared(files[0].0) else { return };
    let demo = demo_app(cityloop_store::Backend::Sqlite, 0, 1024).await;
    let dir = tempfile::tempdir().unwrap();
    for (i, (file, format, imported, rejected)) in files.iter().enumerate() {
        let path = if i == 0 { first.clone() } else { shared(file).unwrap() };
        let mut o = options(&path, *format, Mapping::default(), 5000, None);
        o.rejects = dir.path().join(format!("{i}.rejects.csv"));
        let report = import(&demo.app, &o).await;
        assert_eq!((report.imported, report.rejected), (*imported, *rejected), "{file}");
    }
    let rejects = std::fs::read_to_string(dir.path().join("0.rejects.csv")).unwrap();
    assert_eq!(rejects.lines().filter(|l| l.contains("before it was created")).count(), 2, "{rejects}");
}

/// A square GeoJSON feature around (lat, lon) with the half-size `r` degrees.
fn square(code: &str, name: &str, lat: f64, lon: f64, r: f64) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"BoroCD":{code},"name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}"#,
        w = lon - r,
        e = lon + r,
        s = lat - r,
        n = lat + r
    )
}

fn collection(features: &[String]) -> String {
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

#[tokio::test]
async fn areas_from_geojson_place_the_cases_no_grid_covers() {
    use cityloop_app::admin::AreaImport;
    use cityloop_domain::enums::DivisionLevel;
    for backend in engines() {
        let demo = demo_app(backend, 0, 1024).await;
        let app = &demo.app;
        let area = |level, parent: Option<&str>| AreaImport {
            level,
            code_property: "BoroCD".into(),
            name_property: Some("name".into()),
            parent: parent.map(str::to_string),
        };
        // A borough, and a community board inside it.
        let borough = collection(&[square("1", "Manhattan", 40.75, -73.98, 0.2)]);
        app.import_divisions_geojson(None, &borough, &area(DivisionLevel::District, None)).await.unwrap();
        let boards = collection(&[square("104", "Manhattan CB4", 40.76, -74.0, 0.02)]);
        let report =
            app.import_divisions_geojson(None, &boards, &area(DivisionLevel::Community, Some("1"))).await.unwrap();
        assert_eq!(report.created_or_updated, 1);
        let reference = app.reference();
        let (cb4, manhattan) =
            (reference.division_by_code("104").unwrap().clone(), reference.division_by_code("1").unwrap().clone());
        assert_eq!((cb4.name.as_str(), cb4.parent_id), ("Manhattan CB4", Some(manhattan.id)));

        // A feature without its code is refused, naming it, and stores nothing.
        let before = reference.divisions.len();
        let bad = collection(&[square("105", "CB5", 40.75, -73.99, 0.01), r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}"#.to_string()]);
        let err = app.import_divisions_geojson(None, &bad, &area(DivisionLevel::Community, None)).await.unwrap_err();
        assert!(
            matches!(&err, AppError::Invalid { field, message } if field == "geojson" && message.contains("feature 1") && message.contains("BoroCD")),
            "{err}"
        );
        assert_eq!(app.reference().divisions.len(), before);
        let twice =
            collection(&[square("106", "CB6", 40.75, -73.97, 0.01), square("106", "CB6 again", 40.74, -73.97, 0.01)]);
        let err = app.import_divisions_geojson(None, &twice, &area(DivisionLevel::Community, None)).await.unwrap_err();
        assert!(err.to_string().contains("also the code of feature 0"), "{err}");
        assert_eq!(app.reference().divisions.len(), before);

        // Cases with coordinates that no grid covers land in the most specific area containing them.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nyc.csv");
        std::fs::write(
            &path,
            "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Descriptor,Status,Community Board,Latitude,Longitude,Open Data Channel Type\n\
             7001,02/28/2023 11:00:00 PM,,NYPD,Noise - Residential,Loud Music/Party,In Progress,04 MANHATTAN,40.761,-74.001,ONLINE\n\
             7002,02/28/2023 11:00:00 PM,,NYPD,Noise - Street/Sidewalk,Loud Talking,In Progress,08 MANHATTAN,40.77,-73.90,ONLINE\n\
             7003,02/28/2023 11:00:00 PM,,NYPD,Noise - Vehicle,Engine Idling,In Progress,01 BRONX,41.5,-73.0,ONLINE\n",
        )
        .unwrap();
        let report = import(app, &options(&path, SourceFormat::Nyc311, Mapping::default(), 100, None)).await;
        assert_eq!(report.imported, 3);
        let cases = app
            .store
            .list_cases(&cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), app.now()))
            .await
            .unwrap();
        let division_of =
            |descriptor: &str| cases.items.iter().find(|c| c.title.ends_with(descriptor)).unwrap().division_id;
        assert_eq!(division_of("Loud Music/Party"), Some(cb4.id));
        assert_eq!(division_of("Loud Talking"), Some(manhattan.id));
        assert_eq!(division_of("Engine Idling"), None, "outside every area");
    }
}

#[tokio::test]
async fn the_real_community_districts_place_the_real_nyc_sample() {
    let (Some(areas), Some(sample)) =
        (shared("nyc311/community_districts.geojson"), shared("nyc311/nyc311_2023-02-28_sample.csv"))
    else {
        return;
    };
    let demo = demo_app(cityloop_store::Backend::Sqlite, 0, 1024).await;
    let app = &demo.app;
    let options_for_areas = cityloop_app::admin::AreaImport {
        level: cityloop_domain::enums::DivisionLevel::Community,
        code_property: "BoroCD".into(),
        name_property: None,
        parent: None,
    };
    let text = std::fs::read_to_string(&areas).unwrap();
    let report = app.import_divisions_geojson(None, &text, &options_for_areas).await.unwrap();
    assert_eq!(report.created_or_updated, 71);
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(&sample, SourceFormat::Nyc311, Mapping::default(), 5000, None);
    o.rejects = dir.path().join("nyc.rejects.csv");
    import(app, &o).await;
    let cases = app
        .store
        .list_cases(&cityloop_store::CaseFilter {
            limit: 10_000,
            ..cityloop_store::CaseFilter::new(cityloop_store::CaseScope::everything(), app.now())
        })
        .await
        .unwrap();
    let located: Vec<_> = cases.items.iter().filter(|c| c.location.is_some()).collect();
    let placed = located.iter().filter(|c| c.division_id.is_some()).count();
    // Parks and the water lie outside every community district; nearly every other place is inside one.
    assert!(placed * 100 >= located.len() * 95, "{placed} of {} placed", located.len());
}

/// A message-board file of `n` distinct records.
fn board_of(n: usize) -> String {
    let mut csv = String::from("留言编号,留言用户,留言主题,留言时间,留言详情\n");
    for i in 0..n {
        csv.push_str(&format!("{i},U{},路灯不亮 {i},2019/4/25 9:32:09,小区门口路灯坏了\n", i % 97));
    }
    csv
}

#[tokio::test]
async fn a_first_load_larger_than_the_city_builds_its_indexes_once_at_the_end() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1024).await;
        let app = &demo.app;
        let indexes = app.store.case_index_names().await.unwrap();
        assert!(indexes.len() >= 16, "{indexes:?}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.csv");
        std::fs::write(&path, board_of(12_000)).unwrap();
        let mut seen_during_load = Vec::new();
        let report = app
            .import_file(&options(&path, SourceFormat::Messages, Mapping::default(), 5000, None), |p| {
                seen_during_load.push(p.imported)
            })
            .await
            .unwrap();
        assert_eq!((report.imported, report.rejected), (12_000, 0));
        // SQLite loads without its indexes and builds them at the end; PostgreSQL keeps them.
        let expected = if backend == cityloop_store::Backend::Sqlite { indexes.len() } else { 0 };
        assert_eq!(report.indexes_rebuilt, expected);
        // Stored batch by batch, the first ones small so that writing starts early.
        seen_during_load.dedup();
        assert_eq!(seen_during_load, [500, 1500, 3500, 7500, 12_000]);
        // Every index is back, and queries that use them find the imported cases.
        assert_eq!(app.store.case_index_names().await.unwrap(), indexes);
        assert_eq!(app.store.count_cases().await.unwrap(), 12_000);
        let seventh = app.store.get_case(cityloop_domain::CaseId(7)).await.unwrap();
        assert_eq!(app.store.case_by_number(&seventh.number).await.unwrap().id, seventh.id);

        // A load killed halfway leaves its indexes set aside, held for a while; once its lease has
        // lapsed, the next start builds them again.
        let lease = chrono::Utc::now() + chrono::Duration::seconds(1);
        let set_aside = app.store.defer_case_indexes(lease).await.unwrap();
        if backend == cityloop_store::Backend::Sqlite {
            assert_eq!(set_aside, indexes.len());
            assert!(app.store.case_index_names().await.unwrap().is_empty());
        } else {
            assert_eq!(set_aside, 0, "PostgreSQL keeps its indexes: other nodes go on serving");
        }
        let options = cityloop_store::DbOptions::new(&demo.db.url);
        if backend == cityloop_store::Backend::Sqlite {
            let while_held = cityloop_store::Store::open(&options).await.unwrap();
            assert!(while_held.case_index_names().await.unwrap().is_empty(), "a running load keeps them");
            while_held.close().await;
            // Nothing to wait for but the lease: built as soon as it has lapsed.
            assert_eq!(app.store.restore_deferred_indexes(Some(lease)).await.unwrap(), 0);
            app.store.renew_deferred_indexes(chrono::Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
        }
        let reopened = cityloop_store::Store::open(&options).await.unwrap();
        assert_eq!(reopened.case_index_names().await.unwrap(), indexes);
        // A second node finds nothing left to build.
        assert_eq!(app.store.restore_deferred_indexes(Some(chrono::Utc::now())).await.unwrap(), 0);
        reopened.close().await;
    }
}
