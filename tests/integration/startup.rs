//! Start-up as `orderdesk serve` takes it, driven step by step: with the background work
//! left to the test, nothing happens until each step is run, and each step does its part.

use mongodb::bson::{DateTime as BsonTime, doc};
use orderdesk::startup::{self, Application, Background};

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
    let mut leptos = startup::leptos_options().unwrap();
    leptos.site_addr = "127.0.0.1:0".parse().unwrap();
    let settings = helpers::settings(&helpers::mongodb_uri(), &database);
    let app = Application::build(settings, leptos, Background::Manual).await.unwrap();
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
