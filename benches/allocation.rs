//! BB number allocation against a real mongod: orderdesk's strict and segment modes vs a
//! plain `findOneAndUpdate` loop written the way the marketplace does it, with 1 and 8
//! concurrent tasks. Targets: strict ≥ 0.9× the plain loop; segment ≥ 20× it.
//!
//! Run: scripts/bench (starts a throwaway mongod), or with MONGODB_URI set:
//!   cargo bench --features ssr --bench allocation

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use mongodb::{
    Client,
    bson::{DateTime, Document, doc},
    options::ReturnDocument,
};
use orderdesk::{
    config::{CONFIG_FILE, Settings},
    domain::ids::{UserSuffix, VendorId, generate::SystemClock},
    services::issuing::{NumberAllocator, NumberPolicy},
    storage::Store,
};

const DATABASE: &str = "bench_allocation";

/// Allocations per case. A vendor's counter holds 99,999 numbers a day, so every case
/// stays under that: segment mode would otherwise exhaust it within a second.
/// Plain and strict run as pairs of short runs in alternating order; the ratio is the
/// median of the pairs' ratios, so drift on a shared machine (mongod and the benchmark on
/// the same two cores) hits both sides of a pair alike.
const PAIR_OPS: u64 = 2_000;
const PAIRS: usize = 20;
const SEGMENT_OPS: u64 = 96_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The marketplace's allocation, translated as literally as Rust allows.
async fn plain_loop(client: &Client, vendor: &str, tasks: usize, ops: u64) -> f64 {
    let coll = client.database(DATABASE).collection::<Document>("ordercounters");
    let counter_id = format!("{}-{vendor}", Utc::now().format("%Y%m%d"));
    run_tasks(tasks, ops, move || {
        let (coll, counter_id) = (coll.clone(), counter_id.clone());
        async move {
            let micro_time = Utc::now().timestamp_millis().to_string();
            let after = coll
                .find_one_and_update(
                    doc! { "counterId": &counter_id },
                    doc! { "$inc": { "sequence": 1 }, "$set": { "lastUpdated": DateTime::now() } },
                )
                .upsert(true)
                .return_document(ReturnDocument::After)
                .await
                .expect("findOneAndUpdate")
                .expect("document");
            let seq =
                after.get_i32("sequence").map(i64::from).or_else(|_| after.get_i64("sequence")).expect("sequence");
            std::hint::black_box(format!("BB-{micro_time}-A1B2-{seq:05}"));
        }
    })
    .await
}

async fn orderdesk(store: &Store, vendor: &str, tasks: usize, ops: u64, segment: Option<u32>) -> f64 {
    let vendor = VendorId::parse(vendor).expect("vendor");
    let sizes: BTreeMap<_, _> = segment.map(|n| (vendor.clone(), n)).into_iter().collect();
    let alloc = Arc::new(NumberAllocator::new(
        store.clone(),
        Arc::new(SystemClock),
        NumberPolicy { segment_sizes: sizes, ..NumberPolicy::default() },
    ));
    let user = UserSuffix::from_user_id("6834622e10d75a5ba7b7a1b2").expect("user");
    run_tasks(tasks, ops, move || {
        let (alloc, vendor) = (alloc.clone(), vendor.clone());
        async move {
            std::hint::black_box(alloc.allocate(&vendor, user, None).await.expect("allocate"));
        }
    })
    .await
}

/// Runs `ops` calls of `op` spread over `tasks` concurrent loops; returns calls per second.
async fn run_tasks<F, Fut>(tasks: usize, ops: u64, op: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let n = ops / tasks as u64;
                for _ in 0..n {
                    op().await;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported here.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut settings = Settings::load(std::path::Path::new(CONFIG_FILE)).expect("settings");
        settings.database = DATABASE.into();
        settings.operation_timeout = Duration::from_secs(30);
        settings.slow_query = Duration::from_secs(30);
        let store = Store::connect(&settings).await.expect("store");
        store.drop_database().await.expect("MONGODB_URI must point at a running mongod");
        for outcome in store.ensure_indexes().await {
            outcome.result.expect("index");
        }
        let client = Client::with_uri_str(&settings.mongodb_uri).await.expect("client");

        println!(
            "| tasks | plain loop (ops/s) | strict (ops/s) | strict / plain | segment 1000 (ops/s) | segment / plain |"
        );
        println!("|---|---|---|---|---|---|");
        for tasks in [1, 8] {
            let (mut plain, mut strict, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for pair in 0..PAIRS {
                let (p, s) = if pair % 2 == 0 {
                    let p = plain_loop(&client, &format!("plain{tasks}-{pair}"), tasks, PAIR_OPS).await;
                    (p, orderdesk(&store, &format!("strict{tasks}-{pair}"), tasks, PAIR_OPS, None).await)
                } else {
                    let s = orderdesk(&store, &format!("strict{tasks}-{pair}"), tasks, PAIR_OPS, None).await;
                    (plain_loop(&client, &format!("plain{tasks}-{pair}"), tasks, PAIR_OPS).await, s)
                };
                plain.push(p);
                strict.push(s);
                ratios.push(s / p);
            }
            let (plain, strict, ratio) = (median(plain), median(strict), median(ratios));
            let segment = orderdesk(&store, &format!("segment{tasks}"), tasks, SEGMENT_OPS, Some(1000)).await;
            println!("| {tasks} | {plain:.0} | {strict:.0} | {ratio:.2}× | {segment:.0} | {:.1}× |", segment / plain);
        }
        store.drop_database().await.ok();
    });
}
