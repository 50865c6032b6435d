//! Importing the category tree (CSV) and unit grids (GeoJSON), on both engines.

use std::sync::Arc;

use cityloop_app::{App, AppError, AppSettings, SystemClock};
use cityloop_store::testing::{engines, fresh};

async fn app(backend: cityloop_store::Backend) -> (App, cityloop_store::testing::TestDb) {
    let db = fresh(backend).await;
    let app = App::new(db.store.clone(), AppSettings::default(), Arc::new(SystemClock)).await.unwrap();
    (app, db)
}

#[tokio::test]
async fn a_category_csv_becomes_a_tree_with_stable_codes() {
    for backend in engines() {
        let (app, _db) = app(backend).await;
        let csv = "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n城乡建设,安全生产,安全隐患\n城乡建设,市政管理,路灯\n环境保护,噪音,施工噪音\n";
        let report = app.import_categories_csv("cats.csv", csv).await.unwrap();
        assert_eq!(report.created_or_updated, 9);
        let r = app.reference();
        let leaf = r.category_by_code("010102").unwrap();
        assert_eq!(leaf.name, "安全隐患");
        assert_eq!(r.category_chain(leaf.id).len(), 3);
        assert!(r.standard(leaf.id).is_some(), "leaves get the default standard");
        assert_eq!(r.category_by_code("0201").unwrap().name, "噪音");
        let again = app.import_categories_csv("cats.csv", csv).await.unwrap();
        assert_eq!((again.created_or_updated, again.already_present), (0, 9));
        assert_eq!(app.reference().categories.len(), 9, "importing again creates nothing");
        // Another list in another order (quoted as spreadsheets write it) adds what is new and renames
        // nothing: cases, rules and rankings keep what their codes meant.
        let other = "一级分类,二级分类,三级分类\n交通运输,\"道路, 桥梁\",坑洼\n环境保护,噪音,施工噪音\n环境保护,噪音,夜间噪音\n";
        let merged = app.import_categories_csv("other.csv", other).await.unwrap();
        assert_eq!((merged.created_or_updated, merged.already_present), (4, 3));
        let r = app.reference();
        let name = |code: &str| r.category_by_code(code).map(|c| c.name.clone());
        assert_eq!(
            [name("01"), name("02"), name("0201"), name("020101")],
            [Some("城乡建设".into()), Some("环境保护".into()), Some("噪音".into()), Some("施工噪音".into())]
        );
        assert_eq!(
            [name("020102"), name("03"), name("0301"), name("030101")],
            [Some("夜间噪音".into()), Some("交通运输".into()), Some("道路, 桥梁".into()), Some("坑洼".into())]
        );
        assert!(r.standard(r.category_by_code("030101").unwrap().id).is_some());
    }
}

#[tokio::test]
async fn a_bad_category_csv_is_refused_naming_file_line_and_field() {
    let (app, _db) = app(cityloop_store::Backend::Sqlite).await;
    let err =
        app.import_categories_csv("cats.csv", "一级分类,二级分类,三级分类\n城乡建设,安全生产\n").await.unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid { field, message } if field == "cats.csv:2" && message.contains("3 fields")),
        "{err}"
    );
    let err = app
        .import_categories_csv("cats.csv", "一级分类,二级分类,三级分类\n城乡建设,安全生产,事故处理\n城乡建设,,路灯\n")
        .await
        .unwrap_err();
    assert!(matches!(&err, AppError::Invalid { field, .. } if field == "cats.csv:3: 二级分类"), "{err}");
    let err = app.import_categories_csv("cats.csv", "name\n").await.unwrap_err();
    assert!(matches!(&err, AppError::Invalid { field, .. } if field == "cats.csv:1"), "{err}");
    assert!(app.reference().categories.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn the_city_category_file_imports_when_present() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy/categories.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("note: {} is absent; the real category tree is not imported in this run", path.display());
        return;
    };
    let (app, _db) = app(cityloop_store::Backend::Sqlite).await;
    app.import_categories_csv("categories.csv", &text).await.unwrap();
    let r = app.reference();
    let firsts = r.categories.iter().filter(|c| c.parent_id.is_none()).count();
    let leaves = r.categories.iter().filter(|c| r.is_leaf(c.id) && c.code.len() == 6).count();
    assert_eq!((firsts, leaves), (15, 517));
}

#[tokio::test]
async fn grids_import_from_geojson_and_points_find_them() {
    for backend in engines() {
        let (app, _db) = app(backend).await;
        let geojson = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"110101001001001","name":"一号网格"},
           "geometry":{"type":"Polygon","coordinates":[[[116.0,39.0],[116.01,39.0],[116.01,39.01],[116.0,39.01],[116.0,39.0]]]}},
          {"type":"Feature","properties":{"code":"110101001001002"},
           "geometry":{"type":"Polygon","coordinates":[[[116.01,39.0],[116.02,39.0],[116.02,39.01],[116.01,39.01],[116.01,39.0]]]}}]}"#;
        assert_eq!(app.import_grids_geojson(geojson).await.unwrap().created_or_updated, 2);
        let r = app.reference();
        assert_eq!(r.locate(39.005, 116.015).unwrap().code, "110101001001002");
        let community = r.grid_by_code("110101001001001").unwrap().division_id.unwrap();
        assert_eq!(r.division(community).unwrap().code, "110101001001");
        app.import_grids_geojson(geojson).await.unwrap();
        assert_eq!(app.reference().grids.len(), 2, "importing again updates in place");
        let bad = geojson.replace("110101001001002", "abc");
        let err = app.import_grids_geojson(&bad).await.unwrap_err();
        assert!(err.to_string().contains("feature 1: field `code`"), "{err}");
    }
}
