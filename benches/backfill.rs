//! Back-filling `order_id` on legacy orders: orderdesk's `order-ids` migration (guarded bulk
//! updates, batches of 5,000) vs the seed's loop (`find({order_id: {$exists: false}})`, then
//! one `update_one` per document), on the same data and the same mongod. Target: ≥ 10× faster.
//!
//! The seed's loop runs twice: as the seed wrote it (`seed_migrate_order_ids.py`, Python and
//! Motor), and translated line by line into Rust with the official driver, which takes the
//! interpreter out and leaves only the loop's round trips: the stricter baseline.
//!
//! Run: scripts/bench backfill (starts a throwaway mongod and installs Motor), or with
//! MONGODB_URI set (and ORDERDESK_BENCH_SEED_PYTHONPATH pointing at Motor for the Python side):
//!   cargo bench --features ssr --bench backfill
//! ORDERDESK_BENCH_ORDERS sets the size (default 1,000,000), ORDERDESK_BENCH_BATCH the batch
//! (default: the CLI's, 5,000); ORDERDESK_BENCH_SIDE=seed-python,seed-rust,orderdesk (the
//! default) picks sides. The seed's sides take minutes.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use mongodb::{
    Client, Collection,
    bson::{DateTime as BsonTime, Document, doc},
};
use orderdesk::{
    config::{CONFIG_FILE, Settings},
    domain::maintenance::{FreshIdForm, Migration, MigrationOptions, RunStatus},
    domain::{accounts::Role, audit::Actor},
    services::runs,
    storage::Store,
};

/// Legacy bot orders without `order_id`, spread over 2025.
async fn load(orders: &Collection<Document>, n: usize) {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap().timestamp_millis();
    let docs: Vec<Document> = (0..n)
        .map(|i| {
            doc! {
                "id": format!("order_{i}"),
                "telegram_id": 100_000_000_i64 + (i % 50_000) as i64,
                "status": "completed",
                "amount": 12.5,
                "created_at": BsonTime::from_millis(start + i as i64 * 31_000),
            }
        })
        .collect();
    for chunk in docs.chunks(50_000) {
        orders.insert_many(chunk).await.expect("insert");
    }
}

/// The seed's migrate_order_ids.py as written, run by Python; its output goes nowhere.
fn seed_python(uri: &str, database: &str) {
    let path = std::env::var("ORDERDESK_BENCH_SEED_PYTHONPATH")
        .expect("ORDERDESK_BENCH_SEED_PYTHONPATH must name where Motor is installed (scripts/bench does it)");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/seed_migrate_order_ids.py");
    let status = std::process::Command::new("python3")
        .args([script, uri, database])
        .env("PYTHONPATH", path)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "the seed's script failed: {status}");
}

/// The seed's migrate_order_ids.py, translated line by line (without its print per order).
async fn seed_script(orders: &Collection<Document>) -> usize {
    let without: Vec<Document> =
        orders.find(doc! { "order_id": { "$exists": false } }).await.expect("find").try_collect().await.expect("list");
    for order in &without {
        let order_id = uuid::Uuid::new_v4().to_string();
        orders
            .update_one(
                doc! { "_id": order.get("_id").cloned().expect("_id") },
                doc! { "$set": { "order_id": order_id } },
            )
            .await
            .expect("update_one");
    }
    without.len()
}

const SIDES: [&str; 3] = ["seed-python", "seed-rust", "orderdesk"];

fn main() {
    let n: usize = std::env::var("ORDERDESK_BENCH_ORDERS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    // The migration's batch (orders read at once); the CLI's default unless set.
    let batch: u32 = std::env::var("ORDERDESK_BENCH_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(orderdesk::domain::maintenance::DEFAULT_BATCH);
    let chosen = std::env::var("ORDERDESK_BENCH_SIDE").unwrap_or_else(|_| SIDES.join(","));
    let chosen: Vec<&str> = chosen.split(',').map(str::trim).collect();
    if let Some(unknown) = chosen.iter().find(|c| !SIDES.contains(c)) {
        panic!("ORDERDESK_BENCH_SIDE: unknown side '{unknown}'; the sides are {}", SIDES.join(", "));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut settings = Settings::load(std::path::Path::new(CONFIG_FILE)).expect("settings");
        settings.operation_timeout = std::time::Duration::from_secs(120);
        settings.slow_query = std::time::Duration::from_secs(120);
        let client = Client::with_uri_str(&settings.mongodb_uri).await.expect("client");
        let mut results = Vec::new();
        for side in SIDES.into_iter().filter(|s| chosen.contains(s)) {
            settings.database = format!("bench_backfill_{}", side.replace('-', "_"));
            let store = Store::connect(&settings).await.expect("store");
            store.drop_database().await.expect("MONGODB_URI must point at a running mongod");
            let orders = client.database(&settings.database).collection::<Document>("orders");
            let loading = Instant::now();
            load(&orders, n).await;
            // As in production: the unique index is blocked, its non-unique stand-in exists.
            store.ensure_indexes().await;
            eprintln!("{side}: loaded {n} legacy orders and indexes in {:.1} s", loading.elapsed().as_secs_f64());
            let started = Instant::now();
            let changed = match side {
                "seed-python" => {
                    let (uri, database) = (settings.mongodb_uri.clone(), settings.database.clone());
                    tokio::task::spawn_blocking(move || seed_python(&uri, &database)).await.expect("seed script");
                    n as u64
                }
                "seed-rust" => seed_script(&orders).await as u64,
                _ => {
                    let options = MigrationOptions { dry_run: false, batch, id_form: FreshIdForm::OrdFromCreatedAt };
                    let run = runs::prepare_migration(
                        &store,
                        chrono_tz::UTC,
                        Migration::OrderIds,
                        options,
                        &Actor::staff("bench", Role::Admin, ""),
                    )
                    .await
                    .expect("prepare");
                    let record = run.execute(|_| {}).await;
                    assert_eq!(record.status, RunStatus::Completed, "{}", record.message);
                    record.changed
                }
            };
            let took = started.elapsed().as_secs_f64();
            let left = orders
                .count_documents(doc! { "order_id": { "$in": [mongodb::bson::Bson::Null, ""] } })
                .await
                .expect("count");
            assert_eq!((changed, left), (n as u64, 0), "{side} must fix every order");
            eprintln!("{side}: {changed} orders in {took:.1} s");
            results.push((side, took));
            store.drop_database().await.ok();
        }
        let Some(&(_, ours)) = results.iter().find(|(side, _)| *side == "orderdesk") else { return };
        println!("| orders | side | time (s) | orderdesk's speed-up over it |");
        println!("|---|---|---|---|");
        for (side, took) in &results {
            println!("| {n} | {side} | {took:.1} | {:.1}× |", took / ours);
        }
    });
}
