//! Start-up as `orderdesk serve` takes it, driven step by step: with the background work
//! left to the test, nothing happens until each step is run, and each step does its part.

use mongodb::bson::{DateTime as BsonTime, doc};
use orderdesk::startup::Background;

use crate::helpers;

#[tokio::test]
async fn the_background_tasks_run_only_when_driven_and_each_does_its_part() {
    let database = helpers::unique_db("startup");
    // A bot's order, inserted the bot's way: no display_id.
    let orders = helpers::raw_collection(&database, "orders").await;
    let now = BsonTime::now();
    orders
        .insert_one(doc! { "order_id": "ORD-20261120120000-5c0ffee1", "status": "failed", "created_at": now })
        .await
        .unwrap();
    let app = helpers::build_app(helpers::settings(&helpers::mongodb_uri(), &database), Background::Manual).await;
    let tasks = app.tasks();
    let address = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    assert_eq!(reqwest::get(format!("{address}/healthz")).await.unwrap().status(), 200, "it serves");

    let figures = helpers::raw_collection(&database, "failure_figures").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(orders.list_index_names().await.unwrap(), ["_id_"], "no index before the step runs");
    assert_eq!(figures.count_documents(doc! {}).await.unwrap(), 0);

    assert!(tasks.ensure_indexes().await);
    assert!(orders.list_index_names().await.unwrap().iter().any(|n| n == "order_id_1"));
    assert_eq!(tasks.fill_display_ids().await.unwrap(), 1, "the bot's order gets its display form");
    let filled = orders.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(filled.get_str("display_id").unwrap(), "ORD-5C0FFE");
    tasks.precompute_failures().await;
    assert!(figures.count_documents(doc! {}).await.unwrap() >= 30, "the last 30 days are figured");
    helpers::drop_database(&database).await;
}

/// Stopping the server (SIGTERM in `serve`) ends its background work while the database is
/// still reachable: the display-ID lease is handed over at once, not left to lapse in 30 s,
/// the number lane goes back, and the API calls counted since the last write (every 5 s) are
/// written rather than lost.
#[tokio::test]
async fn a_stopping_server_hands_over_its_leases_and_writes_its_last_usage_counts() {
    use std::time::Duration;
    let database = helpers::unique_db("stop");
    let mut settings = helpers::settings(&helpers::mongodb_uri(), &database);
    settings.bootstrap_api_key = Some(orderdesk::config::Secret::new(helpers::TEST_KEY.into()));
    let mut app = helpers::build_app(settings, Background::Run).await;
    assert!(app.ensure_indexes_first().await);
    let store = app.state().store.clone();
    let address = format!("http://{}", app.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let sweeps = helpers::raw_collection(&database, "sweeps").await;
    let lease = || async { sweeps.find_one(doc! { "_id": "lease:display_fill" }).await.unwrap() };
    let held = helpers::eventually(|| async { lease().await.filter(|l| l.get_str("holder").is_ok()) }).await;
    assert!(*held.get_datetime("until").unwrap() > BsonTime::now(), "held while serving: {held}");
    let since = chrono::Utc::now() - chrono::Duration::minutes(1);
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let res = client
            .post(format!("{address}/api/v1/vendors/pizza-palace/order-numbers"))
            .header("X-API-Key", helpers::TEST_KEY)
            .json(&serde_json::json!({ "user_id": "user-4242" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    let lanes = helpers::raw_collection(&database, "number_lanes").await;
    let lane = lanes.find_one(doc! {}).await.unwrap().expect("the number lane this server took");
    assert!(!lane.get_str("holder").unwrap().is_empty());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server).await.expect("stops").unwrap().unwrap();
    let released = lease().await.unwrap();
    assert!(*released.get_datetime("until").unwrap() <= BsonTime::now(), "handed over: {released}");
    let lane = lanes.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(lane.get_str("holder").unwrap(), "", "the lane went back: {lane}");
    let usage = store.api_usage(orderdesk::domain::api_usage::ENV_KEY, since).await.unwrap();
    assert_eq!(usage.iter().map(|m| m.tally.calls).sum::<u64>(), 3, "every call counted: {usage:?}");
    helpers::drop_database(&database).await;
}

/// A system's own indexes, named its own way: an index on the same keys with options at least
/// as strong serves, is never built a second time and is no error at start-up; a weaker one
/// (not unique where uniqueness is the point) does not stand for it.
#[tokio::test]
async fn an_index_under_another_name_that_covers_the_keys_is_recognised() {
    use orderdesk::domain::maintenance::IndexState;
    let database = helpers::unique_db("covered");
    let orders = helpers::raw_collection(&database, "orders").await;
    let unique = mongodb::options::IndexOptions::builder().unique(true).name("order_id_unique".to_owned()).build();
    orders
        .create_index(mongodb::IndexModel::builder().keys(doc! { "order_id": 1 }).options(unique).build())
        .await
        .unwrap();
    let counters = helpers::raw_collection(&database, "ordercounters").await;
    let weaker = mongodb::options::IndexOptions::builder().name("counterId_plain".to_owned()).build();
    counters
        .create_index(mongodb::IndexModel::builder().keys(doc! { "counterId": 1 }).options(weaker).build())
        .await
        .unwrap();

    let store =
        orderdesk::storage::Store::connect(&helpers::settings(&helpers::mongodb_uri(), &database)).await.unwrap();
    let outcomes = store.ensure_indexes().await;
    let of = |name: &str| outcomes.iter().find(|o| o.index.name == name).unwrap();
    assert!(of("order_id_1").result.is_ok(), "{:?}", of("order_id_1").result);
    let names = orders.list_index_names().await.unwrap();
    assert!(names.contains(&"order_id_unique".to_owned()) && !names.contains(&"order_id_1".to_owned()), "{names:?}");

    let states = store.index_states().await.unwrap();
    let state = |name: &str| states.iter().find(|r| r.name == name).unwrap().state.clone();
    assert!(matches!(state("order_id_1"), IndexState::Covered { by } if by.contains("order_id_unique")));
    assert_eq!(
        state("counterId_1"),
        IndexState::Present,
        "one that is not unique guards nothing: the unique one is built"
    );
    let counter_names = counters.list_index_names().await.unwrap();
    assert!(counter_names.contains(&"counterId_plain".to_owned()), "the system's own index is left alone");

    // The system's index still guards: a second order under the same ID is refused as such.
    let id = orderdesk::domain::ids::OrderId::parse("ORD-20261120120000-5c0ffee1").unwrap();
    let order = helpers::bot_order(Some(7), Some(1.0));
    store.insert_order(&id, &order, chrono::Utc::now()).await.unwrap();
    let again = store.insert_order(&id, &order, chrono::Utc::now()).await;
    assert!(matches!(again, Err(orderdesk::storage::orders::InsertOrderError::OrderIdTaken(_))), "{again:?}");
    helpers::drop_database(&database).await;
}
