//! Support-desk lookups over 1,000,000 demo orders: latency per ID form, measured on the
//! server side through the Store (one lookup at a time), and the order list's page 1,000
//! against page 1. Targets: p99 ≤ 5 ms per form; page 1,000 ≤ 1.5× page 1.
//!
//! Run: scripts/bench lookup  (ORDERDESK_BENCH_ORDERS=… for another size)

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use mongodb::bson::Document;
use orderdesk::{
    config::{CONFIG_FILE, Settings},
    demo::{DemoSpec, generate},
    domain::ids::LookupKey,
    domain::order_filter::{Cursor, OrderFilter},
    services::monitoring::failure_report,
    storage::Store,
};
use rand::{SeedableRng, rngs::StdRng, seq::IndexedRandom};

const DATABASE: &str = "bench_lookup";
const SAMPLES: usize = 2_000;
/// Lookups with recording on, and as many with it off, for the instrumentation A/B.
const INTERLEAVED_PAIRS: usize = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn time_lookups(store: &Store, keys: &[LookupKey]) -> Vec<Duration> {
    let mut took = Vec::with_capacity(keys.len());
    for key in keys {
        let started = Instant::now();
        let found = store.find_orders(key).await.expect("lookup");
        took.push(started.elapsed());
        assert!(!found.is_empty(), "{key} must be found");
    }
    took.sort();
    took
}

fn main() {
    let n: usize = std::env::var("ORDERDESK_BENCH_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut settings = Settings::load(std::path::Path::new(CONFIG_FILE)).expect("settings");
        settings.database = DATABASE.into();
        settings.operation_timeout = Duration::from_secs(120);
        settings.slow_query = Duration::from_secs(120);
        let store = Store::connect(&settings).await.expect("store");
        let spec = DemoSpec { orders: n, seed: 1, now: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(), time_zone: chrono_tz::UTC };
        let started = Instant::now();
        let data = generate(&spec);
        println!("generated {n} orders in {:.1}s", started.elapsed().as_secs_f64());
        let mut rng = StdRng::seed_from_u64(5);
        let text = |d: &Document, k: &str| d.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned);
        let values = |pick: &dyn Fn(&Document) -> Option<String>| data.orders.iter().filter_map(pick).collect::<Vec<_>>();
        let forms: Vec<(&str, Vec<String>)> = vec![
            ("order_id (ORD)", values(&|d| text(d, "order_id").filter(|s| s.starts_with("ORD-")))),
            ("order_id (UUID)", values(&|d| text(d, "order_id").filter(|s| !s.starts_with("ORD-")))),
            ("display ID", values(&|d| text(d, "display_id").map(|s| format!("#{}", s.to_lowercase())))),
            ("BB number", values(&|d| text(d, "order_number"))),
            ("telegram id", values(&|d| d.get_i64("telegram_id").ok().map(|t| t.to_string()))),
            ("legacy id", values(&|d| text(d, "id"))),
        ];
        let forms: Vec<(&str, Vec<LookupKey>)> = forms
            .into_iter()
            .map(|(name, all)| {
                let keys = (0..SAMPLES).filter_map(|_| all.choose(&mut rng)).map(|s| LookupKey::parse(s).expect("key")).collect();
                (name, keys)
            })
            .collect();

        // Always reload: the sampled keys must be exactly what the database holds.
        store.drop_database().await.expect("MONGODB_URI must point at a running mongod");
        let started = Instant::now();
        orderdesk::demo::insert(&store, data).await.expect("insert");
        println!("inserted in {:.1}s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        for outcome in store.ensure_indexes().await {
            if let Err(e) = outcome.result {
                let reason = e.to_string().chars().take(60).collect::<String>();
                println!("index {} blocked ({reason}…); stand-in: {:?}", outcome.index.name, outcome.stand_in);
            }
        }
        println!("indexes built in {:.1}s", started.elapsed().as_secs_f64());

        println!("\n| form | lookups | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
        for (name, keys) in &forms {
            time_lookups(&store, &keys[..100]).await; // warm the cache
            let took = time_lookups(&store, keys).await;
            println!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                took.len(),
                percentile(&took, 0.5),
                percentile(&took, 0.95),
                percentile(&took, 0.99),
                percentile(&took, 1.0)
            );
        }

        // Walk to page 1,000, then time page 1 and page 1,000 alike.
        let filter = OrderFilter::default();
        let mut cursor: Option<Cursor> = None;
        for _ in 1..1000 {
            cursor = store.list_orders(&filter, cursor.as_ref()).await.expect("page").next;
        }
        let cursor = cursor.expect("1,000 pages exist");
        let page = |c: Option<Cursor>| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                let mut took = Vec::new();
                for _ in 0..300 {
                    let started = Instant::now();
                    let rows = store.list_orders(&filter, c.as_ref()).await.expect("page").orders;
                    took.push(started.elapsed());
                    assert_eq!(rows.len(), 50);
                }
                took.sort();
                took
            }
        };
        let first = page(None).await;
        let thousandth = page(Some(cursor)).await;
        let ratio = percentile(&thousandth, 0.5) / percentile(&first, 0.5);
        println!(
            "\n| list page | p50 ms | p99 ms |\n|---|---|---|\n| 1 | {:.2} | {:.2} |\n| 1,000 | {:.2} | {:.2} |\n\npage 1,000 / page 1 (p50): {ratio:.2}×",
            percentile(&first, 0.5),
            percentile(&first, 0.99),
            percentile(&thousandth, 0.5),
            percentile(&thousandth, 0.99)
        );

        // What recording every operation costs a lookup: recording switched on and off for
        // alternate lookups (which goes first alternates too), so drift on this shared
        // machine hits both sides alike; compared by median over all of them.
        let keys: Vec<&LookupKey> = forms.iter().flat_map(|(_, k)| k.iter()).collect();
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for (i, pair) in keys.chunks(2).cycle().take(INTERLEAVED_PAIRS).enumerate() {
            for (j, key) in pair.iter().enumerate() {
                let on = (i + j) % 2 == 0;
                store.metrics().set_enabled(on);
                let started = Instant::now();
                let found = store.find_orders(key).await.expect("lookup");
                let took = started.elapsed();
                assert!(!found.is_empty());
                if on { with.push(took) } else { without.push(took) }
            }
        }
        store.metrics().set_enabled(true);
        with.sort();
        without.sort();
        let mean = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64;
        println!(
            "\ninstrumented / plain lookup over {} interleaved lookups each: p50 {:.3}×, mean {:.3}× (p50 {:.3} vs {:.3} ms)",
            with.len(),
            percentile(&with, 0.5) / percentile(&without, 0.5),
            mean(&with) / mean(&without),
            percentile(&with, 0.5),
            percentile(&without, 0.5)
        );

        // The failures page over every order (the demo spans 30 days): first with no stored
        // day figures (every day walked), then as a steady request sees it (today's and
        // yesterday's figures stale, so recomputed), then with every day fresh.
        let client = mongodb::Client::with_uri_str(&settings.mongodb_uri).await.expect("client");
        client.database(DATABASE).collection::<Document>(orderdesk::storage::names::FAILURE_FIGURES).drop().await.expect("drop figures");
        let report = |at| failure_report(&store, chrono_tz::UTC, at, 31);
        let started = Instant::now();
        assert_eq!(report(spec.now).await.expect("report").total.orders, n as u64);
        println!("failures report over {n} orders, no stored figures: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
        for (case, fresh) in [("today and yesterday recomputed", false), ("every day fresh", true)] {
            let mut took = Vec::new();
            for i in 1..=7 {
                // 31 s apart: today's figures are always stale; or all at once, just after.
                let at = spec.now + chrono::Duration::seconds(if fresh { 31 * 7 + 1 } else { 31 * i });
                let started = Instant::now();
                assert_eq!(report(at).await.expect("report").total.orders, n as u64);
                took.push(started.elapsed());
            }
            took.sort();
            println!(
                "failures report over {n} orders, {case}: median {:.0} ms, max {:.0} ms (7 runs)",
                percentile(&took, 0.5),
                percentile(&took, 1.0)
            );
        }
    });
}
