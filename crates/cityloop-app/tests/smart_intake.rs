//! Smart intake through the use cases, on both engines: the classifier (training on closed cases, new
//! versions reaching other nodes, categories at intake), duplicates, dispatch hints, the knowledge base
//! and reply checks.

use std::collections::HashMap;

use cityloop_app::demo::DEMO_PASSWORD;
use cityloop_app::duplicates::{comparable_text, DuplicateQuery};
use cityloop_app::intake::{NewCase, NewLocation};
use cityloop_app::knowledge::ArticleInput;
use cityloop_app::moves::{CaseRef, MoveInput};
use cityloop_app::testing::{demo_app, DemoApp};
use cityloop_app::{App, AppError, AppSettings, Principal};
use cityloop_domain::State;
use cityloop_store::testing::engines;
use cityloop_text::similarity::Shingles;

async fn principal(app: &App, username: &str) -> Principal {
    app.login(username, DEMO_PASSWORD).await.unwrap_or_else(|e| panic!("login {username}: {e}")).principal
}

/// Another node over the same database, with its own settings.
async fn node(demo: &DemoApp, settings: AppSettings) -> App {
    App::new(demo.db.store.clone(), settings, demo.clock.clone()).await.unwrap()
}

fn noise_complaint() -> NewCase {
    NewCase {
        channel: "hotline".into(),
        request_type: "complaint".into(),
        title: "解放路工地夜间施工噪音大".into(),
        description: "解放路工地晚上十一点以后还在施工, 机器轰鸣声很大, 周边居民无法休息, 请查处。".into(),
        ..NewCase::default()
    }
}

#[tokio::test]
async fn a_model_trained_on_closed_cases_files_new_cases_and_reaches_other_nodes_without_restart() {
    for backend in engines() {
        let demo = demo_app(backend, 400, 1 << 20).await;
        let app = &demo.app;
        let first = app.model().expect("the demo city trains a first model").version;

        // Two more nodes: one files every suggestion, one never does.
        let eager = node(&demo, AppSettings { auto_category_threshold: 0.0, ..AppSettings::default() }).await;
        let cautious = node(&demo, AppSettings { auto_category_threshold: 1.01, ..AppSettings::default() }).await;
        assert_eq!(eager.model().map(|m| m.version), Some(first));

        let trained = app.train_model_from_cases(7).await.unwrap();
        assert_eq!(trained.version, first + 1);
        assert!(trained.documents > 50 && trained.labels >= 2, "{trained:?}");
        let held_out = trained.held_out.expect("scores on held-out cases");
        assert!(held_out.macro_f1 > 0.8, "demo texts are easy to tell apart: {}", held_out.macro_f1);
        assert_eq!(eager.model().map(|m| m.version), Some(first), "a node keeps its model until it refreshes");
        eager.reload_reference().await.unwrap();
        assert_eq!(eager.model().map(|m| m.version), Some(trained.version), "picked up without a restart");

        let operator = principal(app, "operator").await;
        let outcome = app.classify(&operator, "工地凌晨还在打桩施工, 噪音吵得没法睡觉", 3).unwrap();
        assert_eq!(outcome.suggestions.len(), 3);
        assert_eq!(outcome.suggestions[0].category.as_deref(), Some("08001"), "{outcome:?}");
        assert!(outcome.suggestions[0].probability > outcome.suggestions[1].probability);
        assert!(!outcome.words.is_empty(), "the words behind the decision are given");
        // Noise from a restaurant is 噪音扰民, not building work.
        let restaurant = app.classify(&operator, "楼下饭店夜间噪音很大", 1).unwrap();
        assert_eq!(restaurant.suggestions[0].category.as_deref(), Some("31002"), "{restaurant:?}");

        let filed = eager.create_case(&principal(&eager, "operator").await, noise_complaint(), None).await.unwrap();
        let suggestion = filed.suggestion.clone().expect("a suggestion for a case without category");
        assert!(suggestion.applied);
        assert_eq!(eager.reference().category(filed.case.category_id.unwrap()).unwrap().code, "08001");

        let chosen_later =
            cautious.create_case(&principal(&cautious, "operator").await, noise_complaint(), None).await.unwrap();
        assert_eq!(chosen_later.case.category_id, None, "below the threshold a person chooses");
        let suggestion = chosen_later.suggestion.expect("the suggestion is still offered");
        assert!(!suggestion.applied);
        assert_eq!(suggestion.category, "08001");
        let flow = cautious.store.flows(chosen_later.case.id).await.unwrap();
        assert_eq!(flow[0].1.data["category_suggestion"]["category"], "08001", "recorded with the report");

        let citizen = principal(app, "citizen").await;
        assert!(matches!(app.classify(&citizen, "噪音", 3), Err(AppError::Forbidden(_))));
        assert!(matches!(app.classify(&operator, "  ", 3), Err(AppError::Invalid { .. })));
    }
}

#[tokio::test]
async fn duplicates_are_offered_nearby_within_the_window_and_merged() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1 << 20).await;
        let app = &demo.app;
        let operator = principal(app, "operator").await;
        let grid = app.reference().grids[40].clone();
        let at = |lat: f64| NewLocation { lat, lon: grid.centroid_lon, address: None };
        let report = |title: &str, description: &str, category: &str, lat: f64| NewCase {
            channel: "hotline".into(),
            request_type: "complaint".into(),
            title: title.into(),
            description: description.into(),
            category: Some(category.into()),
            location: Some(at(lat)),
            ..NewCase::default()
        };
        let first = app
            .create_case(
                &operator,
                report(
                    "幸福路和平路口井盖丢失",
                    "幸福路与和平路交叉口的井盖丢失, 晚上很危险",
                    "10005",
                    grid.centroid_lat,
                ),
                None,
            )
            .await
            .unwrap()
            .case;
        let query = |lat: f64, category: &str, text: &str| DuplicateQuery {
            title: text.into(),
            description: String::new(),
            category: Some(category.into()),
            lat: Some(lat),
            lon: Some(grid.centroid_lon),
            ..DuplicateQuery::default()
        };
        // The same problem in other words: found nearby; each test below changes one thing only.
        let same = "幸福路和平路口井盖没了, 晚上容易掉下去";
        let near = grid.centroid_lat + 0.0005; // about 55 m north
        let found = app.find_duplicates(&operator, &query(near, "10005", same)).await.unwrap();
        assert_eq!(found.first().map(|m| m.number.as_str()), Some(first.number.as_str()), "{found:?}");
        assert!(found[0].distance_m.unwrap() < 70.0 && found[0].same_category);
        let expected =
            Shingles::of(&comparable_text("幸福路和平路口井盖丢失", "幸福路与和平路交叉口的井盖丢失, 晚上很危险"))
                .jaccard(&Shingles::of(&comparable_text(same, "")));
        assert_eq!(found[0].similarity, expected, "title and description against the typed text");

        let far = grid.centroid_lat + 0.01; // about 1.1 km
        let found = app.find_duplicates(&operator, &query(far, "10005", same)).await.unwrap();
        assert!(found.iter().all(|m| m.number != first.number), "beyond 200 m: {found:?}");
        let found = app.find_duplicates(&operator, &query(near, "31005", same)).await.unwrap();
        assert!(found.iter().all(|m| m.number != first.number), "an unrelated category: {found:?}");
        let found = app.find_duplicates(&operator, &query(near, "10005", "学校要求家长购买教辅资料")).await.unwrap();
        assert!(found.is_empty(), "different words: {found:?}");

        demo.clock.advance(chrono::Duration::days(31));
        let found = app.find_duplicates(&operator, &query(near, "10005", same)).await.unwrap();
        assert!(found.is_empty(), "outside the 30-day window: {found:?}");
        demo.clock.advance(chrono::Duration::days(-31));

        let second = app.create_case(&operator, report("井盖没了", same, "10005", near), None).await.unwrap().case;
        let offered = app.duplicates_of_case(&operator, &second.number).await.unwrap();
        assert_eq!(offered.first().map(|m| m.number.as_str()), Some(first.number.as_str()));
        let merge = MoveInput { into: Some(CaseRef::Number(first.number.clone())), ..MoveInput::default() };
        let merged = app.perform_move(&operator, &second.number, "merge", merge).await.unwrap();
        assert_eq!(merged.case.state, State::Merged);
        assert_eq!(merged.case.master_id, Some(first.id));
        let found = app.find_duplicates(&operator, &query(near, "10005", same)).await.unwrap();
        assert_eq!(found.first().map(|m| m.number.as_str()), Some(first.number.as_str()));
        assert!(found.iter().all(|m| m.number != second.number), "merged cases are not offered again");
    }
}

#[tokio::test]
async fn dispatch_hints_come_from_history_where_the_catalogue_is_silent() {
    for backend in engines() {
        let demo = demo_app(backend, 600, 1 << 20).await;
        let app = &demo.app;
        // The category with the most closed cases, stripped of its catalogue rules.
        let mut closed: HashMap<String, usize> = HashMap::new();
        for (code, _, _) in app.store.training_texts(10_000).await.unwrap() {
            *closed.entry(code).or_default() += 1;
        }
        let (code, _) = closed.into_iter().max_by_key(|(code, n)| (*n, code.clone())).unwrap();
        let category = app.reference().category_by_code(&code).unwrap().id;
        let division = app.reference().grids[0].division_id;
        let with_rules = app.dispatch_hints(Some(category), division).await.unwrap();
        assert_eq!(with_rules.first().map(|h| h.source), Some("catalogue"), "{with_rules:?}");
        for rule in app.store.list_catalogue().await.unwrap().iter().filter(|r| r.category_id == category) {
            app.store.delete_catalogue_rule(rule.id).await.unwrap();
        }
        app.reload_reference().await.unwrap();
        let hints = app.dispatch_hints(Some(category), division).await.unwrap();
        let hint = hints.first().expect("a hint from history");
        assert_eq!(hint.source, "history");
        assert!(hint.reason.contains("未退单"), "{}", hint.reason);
        assert!(app.reference().unit(hint.unit).is_some());
        assert!(app.dispatch_hints(None, None).await.unwrap().is_empty(), "no category, no hint");
    }
}

#[tokio::test]
async fn the_knowledge_base_searches_chinese_imports_and_records_the_article_answered_from() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1 << 20).await;
        let app = &demo.app;
        let admin = principal(app, "admin").await;
        let operator = principal(app, "operator").await;
        let hits = app.search_knowledge(&operator, "请问公积金怎么提取？", 3).unwrap();
        assert_eq!(hits[0].title, "住房公积金提取条件和办理流程", "{hits:?}");
        assert!(hits[0].matched.iter().any(|w| w == "公积金"));

        let article = ArticleInput {
            title: "养犬登记办理".into(),
            body: "在城区饲养犬只须办理养犬登记证, 携带身份证和犬只免疫证明到辖区派出所办理。".into(),
            category: None,
            tags: "养犬".into(),
        };
        let id = app.create_article(Some(&admin), &article).await.unwrap();
        assert_eq!(app.search_knowledge(&operator, "养狗要登记吗 养犬", 3).unwrap()[0].id, id);
        let changed = ArticleInput { title: "养犬登记证办理".into(), ..article.clone() };
        app.update_article(Some(&admin), id, &changed).await.unwrap();
        assert_eq!(app.article(&operator, id).unwrap().title, "养犬登记证办理");
        assert!(matches!(app.create_article(Some(&operator), &article).await, Err(AppError::Forbidden(_))));
        let bad = ArticleInput { body: " ".into(), ..article.clone() };
        assert!(
            matches!(app.create_article(Some(&admin), &bad).await, Err(AppError::Invalid { field, .. }) if field == "body")
        );

        let before = app.articles().len();
        let markdown = "# 犬只年检\n每年三月前到派出所办理年检。\n\n# 犬只丢失\n犬只丢失请在24小时内报告派出所。\n";
        assert_eq!(app.import_articles(Some(&admin), "dogs.md", markdown).await.unwrap().imported, 2);
        let csv = "title,body\n失物招领,到公交集团失物招领处查询\n空正文,\n";
        let err = app.import_articles(Some(&admin), "kb.csv", csv).await.unwrap_err();
        assert!(matches!(&err, AppError::Invalid { field, .. } if field == "kb.csv:3: body"), "{err}");
        assert_eq!(app.articles().len(), before + 2, "a bad file stores nothing");

        app.delete_article(Some(&admin), id).await.unwrap();
        assert!(matches!(app.article(&operator, id), Err(AppError::NotFound(_))));
        assert!(matches!(app.delete_article(Some(&admin), id).await, Err(AppError::NotFound(_))));

        let question = NewCase {
            channel: "hotline".into(),
            request_type: "consultation".into(),
            title: "咨询公积金提取".into(),
            description: "租房可以提取公积金吗".into(),
            ..NewCase::default()
        };
        let case = app.create_case(&operator, question, None).await.unwrap().case;
        let answer = MoveInput { article: Some(hits[0].id), ..MoveInput::default() };
        let answered = app.perform_move(&operator, &case.number, "answer", answer).await.unwrap();
        assert_eq!(answered.case.state, State::Closed);
        assert!(answered.case.result.as_deref().unwrap_or("").contains("公积金"), "the article is the answer");
        let (_, last) = answered.flow.last().unwrap();
        assert_eq!(last.data["article"], hits[0].id, "the flow records the article");
    }
}

#[tokio::test]
async fn a_submitted_reply_is_checked_and_summarised_per_unit() {
    for backend in engines() {
        let demo = demo_app(backend, 0, 1 << 20).await;
        let app = &demo.app;
        let (operator, lead, dispatcher) =
            (principal(app, "operator").await, principal(app, "lead").await, principal(app, "dispatcher").await);
        let grid = app.reference().grids[10].clone();
        let mut scores = Vec::new();
        for result in [
            "经现场核实, 城管执法中队已于5月20日责令工地停止夜间施工, 并对施工单位立案处罚, 工地夜间已无施工噪音。",
            "您好！您的留言已收悉, 感谢您对我们工作的支持！",
        ] {
            let input = NewCase {
                category: Some("08001".into()),
                location: Some(NewLocation { lat: grid.centroid_lat, lon: grid.centroid_lon, address: None }),
                ..noise_complaint()
            };
            let case = app.create_case(&operator, input, None).await.unwrap().case;
            app.perform_move(&lead, &case.number, "file", MoveInput::default()).await.unwrap();
            let dispatched =
                app.perform_move(&dispatcher, &case.number, "dispatch", MoveInput::default()).await.unwrap();
            let unit = app.reference().unit(dispatched.case.unit_id.unwrap()).unwrap().code.clone();
            let handler = principal(app, &format!("h-{unit}")).await;
            app.perform_move(&handler, &case.number, "sign", MoveInput::default()).await.unwrap();
            assert!(app.reply_check_of_case(&dispatcher, &case.number).await.unwrap().is_none(), "no reply yet");
            let submit = MoveInput { result: Some(result.into()), ..MoveInput::default() };
            app.perform_move(&handler, &case.number, "submit", submit).await.unwrap();
            let check = app.reply_check_of_case(&dispatcher, &case.number).await.unwrap().expect("checked on submit");
            scores.push((unit, check["score"].as_i64().unwrap(), check["findings"].as_array().unwrap().len()));
        }
        assert!(scores[0].1 >= 80, "a complete reply: {scores:?}");
        assert!(scores[1].1 <= 40, "a template: {scores:?}");
        assert_eq!(scores[0].2, 5, "five checks, each with a reason");
        let summary = app.reply_summary(&dispatcher, 30).await.unwrap();
        let unit = app.reference().unit_by_code(&scores[0].0).unwrap().id;
        let row = summary.iter().find(|r| r.unit == unit).expect("the unit's replies");
        assert_eq!(row.replies, 2);
        assert!(
            row.weak == 1 && (row.average_score - (scores[0].1 + scores[1].1) as f64 / 2.0).abs() < 0.01,
            "{row:?}"
        );
        assert!(matches!(app.reply_summary(&operator, 30).await, Err(AppError::Forbidden(_))));
    }
}
