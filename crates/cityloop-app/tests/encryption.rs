//! Residents' contact data encrypted at rest, on both engines: nothing in clear in the database, read
//! and searched as before through the platform, a clear database encrypted and a key rotated by
//! `rotate_contact_data`, and a store without the key refusing to read rather than showing ciphertext.

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::intake::{NewCase, NewContact, NewLocation};
use cityloop_app::testing::demo_app;
use cityloop_app::App;
use cityloop_store::testing::engines;
use cityloop_store::{CaseFilter, CaseScope, ContactCipher, DbOptions, Store, StoreError};

const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

async fn store_with(url: &str, cipher: ContactCipher) -> Store {
    Store::open(&DbOptions { contact_cipher: cipher, ..DbOptions::new(url) }).await.unwrap()
}

#[tokio::test]
async fn contact_data_is_stored_encrypted_read_and_searched_in_clear_and_rotated_to_a_new_key() {
    for backend in engines() {
        let demo = demo_app(backend, 60, 1024).await;
        let db = &demo.db;
        let with_contact = db.query_i64("select count(*) from cases where contact_phone is not null").await;
        assert!(with_contact > 10);

        // A key is set on a database written in clear: the rotation encrypts what is there.
        let k1 = store_with(&db.url, ContactCipher::new(K1, &[]).unwrap()).await;
        assert_eq!(k1.rotate_contact_data().await.unwrap() as i64, with_contact);
        let in_clear =
            "select count(*) from cases where (contact_phone is not null and contact_phone not like 'enc:%') \
                        or (contact_name is not null and contact_name not like 'enc:%')";
        assert_eq!(db.query_i64(in_clear).await, 0);
        assert_eq!(k1.rotate_contact_data().await.unwrap(), 0, "nothing left to do");

        // New cases are written encrypted and read, and found by phone, in clear.
        let app = App::new(k1.clone(), (*demo.app.settings).clone(), demo.clock.clone()).await.unwrap();
        let operator = app.login("operator", DEMO_PASSWORD).await.unwrap().principal;
        let grid = app.reference().grids[3].clone();
        let input = NewCase {
            channel: "hotline".into(),
            request_type: "complaint".into(),
            title: "小区门口积水".into(),
            description: "下雨后小区门口积水很深".into(),
            category: Some("06001".into()),
            location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
            contact: Some(NewContact { name: "赵六".into(), phone: "13900001111".into() }),
            ..NewCase::default()
        };
        let case = app.create_case(&operator, input, None).await.unwrap().case;
        assert_eq!(db.query_i64(in_clear).await, 0);
        let stored = k1.get_case(case.id).await.unwrap().contact.unwrap();
        assert_eq!((stored.name.as_str(), stored.phone.as_str()), ("赵六", "13900001111"));
        let by_phone =
            CaseFilter { phone: Some("13900001111".into()), ..CaseFilter::new(CaseScope::everything(), app.now()) };
        let found = k1.list_cases(&by_phone).await.unwrap();
        assert_eq!(found.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![case.id]);

        // Without the key the platform refuses to read contact data, naming what is missing.
        match demo.db.store.get_case(case.id).await {
            Err(StoreError::Unavailable(m)) => assert!(m.contains("not configured"), "{m}"),
            other => panic!("read without the key: {other:?}"),
        }

        // Rotation: the new key writes, the old one still reads until everything is re-encrypted.
        let rotating = store_with(&db.url, ContactCipher::new(K2, &[K1.to_string()]).unwrap()).await;
        assert_eq!(rotating.list_cases(&by_phone).await.unwrap().items.len(), 1, "found under the old key");
        assert_eq!(rotating.rotate_contact_data().await.unwrap() as i64, with_contact + 1);
        let k2 = store_with(&db.url, ContactCipher::new(K2, &[]).unwrap()).await;
        assert_eq!(k2.get_case(case.id).await.unwrap().contact.unwrap().phone, "13900001111");
        assert_eq!(k2.list_cases(&by_phone).await.unwrap().items.len(), 1);
        assert!(k1.get_case(case.id).await.is_err(), "the old key alone no longer reads");
    }
}
