//! Retention: closed cases lose their residents' data after the set number of months, on both
//! engines; newer and open cases keep it, and the chained flow records are untouched.

use cityloop_app::testing::demo_app_with;
use cityloop_store::testing::engines;

#[tokio::test]
async fn cases_closed_longer_ago_than_the_retention_lose_their_residents_data_once() {
    for backend in engines() {
        let demo = demo_app_with(backend, 300, 1024, |s| s.retention_months = 1).await;
        let (app, db) = (&demo.app, &demo.db);
        let month_ago = (app.now() - chrono::Duration::days(31)).timestamp_millis();
        let old_closed = format!("closed_at is not null and closed_at < {month_ago}");
        let due =
            db.query_i64(&format!("select count(*) from cases where {old_closed} and contact_phone is not null")).await;
        let kept = db.query_i64("select count(*) from cases where contact_phone is not null").await - due;
        assert!(due > 10 && kept > 10, "the demo history has both: {due} due, {kept} to keep");
        let typed = db.query_i64(&format!("select min(id) from cases where {old_closed}")).await;
        db.execute_behind_the_platform(&format!(
            "update cases set description = '请回电 13812345678 或 0731-88886666' where id = {typed}"
        ))
        .await;
        app.seal_audit().await.unwrap();

        let anonymized = app.anonymize_expired_cases().await.unwrap() as i64;
        assert!(anonymized >= due, "{anonymized} < {due}");
        assert_eq!(
            db.query_i64(&format!("select count(*) from cases where {old_closed} and contact_phone is not null")).await,
            0
        );
        assert_eq!(
            db.query_i64(&format!("select count(*) from cases where {old_closed} and anonymized_at is null")).await,
            0
        );
        assert_eq!(
            db.query_i64("select count(*) from cases where contact_phone is not null").await,
            kept,
            "newer cases keep theirs"
        );
        let case = app.store.get_case(cityloop_domain::CaseId(typed)).await.unwrap();
        assert!(case.description.starts_with("请回电 138****5678 或 "), "{}", case.description);
        assert!(!case.description.contains("88886666"), "{}", case.description);
        assert!(case.contact.is_none());

        assert_eq!(app.anonymize_expired_cases().await.unwrap(), 0, "once");
        assert!(app.verify_audit(&[]).await.unwrap().is_clean(), "the flow records are untouched");
    }
}
