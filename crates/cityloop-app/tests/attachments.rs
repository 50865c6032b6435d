//! Uploads no case takes within `attachments.unattached_hours` are removed with their files by the
//! background jobs, on both engines; files a case holds stay, and uploading a removed file again brings
//! it back.

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::testing::demo_app;
use cityloop_app::{App, AppError, Principal};
use cityloop_store::testing::engines;

/// A small PNG that differs by `n`, so that each is a file of its own.
fn png(n: u8) -> Vec<u8> {
    [b"\x89PNG\r\n\x1a\n".as_slice(), &[n; 16]].concat()
}

fn with_attachments(app: &App, title: &str, attachments: Vec<String>) -> NewCase {
    let grid = &app.reference().grids[0];
    NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: title.into(),
        description: "小区门口路灯坏了一个星期".into(),
        category: Some("06005".into()),
        location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
        attachments,
        ..NewCase::default()
    }
}

async fn upload(app: &App, who: &Principal, n: u8) -> String {
    app.store_attachment(who, &format!("photo-{n}.png"), &png(n)).await.unwrap().hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_no_case_takes_are_removed_with_their_files() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1 << 20).await;
        let app = &demo.app;
        let file = |hash: &str| demo.files.path().join("attachments").join(&hash[..2]).join(hash);
        let operator = app.login("operator", DEMO_PASSWORD).await.unwrap().principal;
        let on_case = upload(app, &operator, 1).await;
        let abandoned = upload(app, &operator, 2).await;
        let from_portal = app.store_public_attachment("portal.png", &png(3)).await.unwrap().hash;
        let uploaded_again = upload(app, &operator, 4).await;
        app.create_case(&operator, with_attachments(app, "路灯不亮", vec![on_case.clone()]), None).await.unwrap();

        // A day less an hour later nothing has waited too long; one file is uploaded again.
        demo.clock.advance(chrono::Duration::hours(23));
        assert_eq!(app.run_jobs_once().await.unwrap().unattached_uploads_removed, 0);
        assert_eq!(upload(app, &operator, 4).await, uploaded_again);

        demo.clock.advance(chrono::Duration::hours(2));
        let report = app.run_jobs_once().await.unwrap();
        assert_eq!(report.unattached_uploads_removed, 2, "{backend:?}: {report:?}");
        for gone in [&abandoned, &from_portal] {
            assert!(!file(gone).exists(), "{backend:?}: the file of {gone} is still there");
            assert!(matches!(app.read_attachment_for(&operator, gone).await, Err(AppError::NotFound(_))));
        }
        for kept in [&on_case, &uploaded_again] {
            assert!(file(kept).exists(), "{backend:?}: the file of {kept} was removed");
            assert_eq!(
                app.read_attachment_for(&operator, kept).await.unwrap().1,
                png(if kept == &on_case { 1 } else { 4 })
            );
        }

        // A removed upload cannot go on a case; uploaded again, it can.
        let refused =
            app.create_case(&operator, with_attachments(app, "照片过期", vec![abandoned.clone()]), None).await;
        assert!(
            matches!(&refused, Err(AppError::Invalid { field, message }) if field == "attachments" && message.contains(&abandoned)),
            "{backend:?}: {refused:?}"
        );
        assert_eq!(upload(app, &operator, 2).await, abandoned);
        app.create_case(&operator, with_attachments(app, "重新上传", vec![abandoned.clone()]), None).await.unwrap();
        assert_eq!(app.read_attachment_for(&operator, &abandoned).await.unwrap().1, png(2));

        // Files on cases outlive any wait, also when uploaded again and left.
        upload(app, &operator, 1).await;
        demo.clock.advance(chrono::Duration::hours(25));
        assert_eq!(
            app.run_jobs_once().await.unwrap().unattached_uploads_removed,
            1,
            "{backend:?}: only the re-uploaded file no case took"
        );
        assert!(file(&on_case).exists() && file(&abandoned).exists());
        assert!(!file(&uploaded_again).exists());
    }
}
