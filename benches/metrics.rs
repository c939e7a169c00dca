//! What recording one database operation costs (`Metrics::record`), on a registry already
//! holding 40 operations with filled windows, as in a running server; and what counting one
//! API call for its key costs (`UsageRecorder::record`). Compare with a lookup's 0.4–0.9 ms
//! (BENCHMARKS.md). Run: `cargo bench --features ssr --bench metrics` (no mongod needed).

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use orderdesk::storage::metrics::Metrics;

const OPS: [&str; 40] = [
    "find_orders",
    "order_details",
    "session_find",
    "session_touch",
    "staff_find",
    "audit_append",
    "counter_inc",
    "counter_get",
    "list_orders",
    "order_count",
    "recent_orders",
    "suggest",
    "api_key_check",
    "bulk_update",
    "read_legacy",
    "save_progress",
    "heartbeat",
    "list_indexes",
    "create_index",
    "profile_status",
    "op20",
    "op21",
    "op22",
    "op23",
    "op24",
    "op25",
    "op26",
    "op27",
    "op28",
    "op29",
    "op30",
    "op31",
    "op32",
    "op33",
    "op34",
    "op35",
    "op36",
    "op37",
    "op38",
    "op39",
];

fn record(c: &mut Criterion) {
    let metrics = Metrics::default();
    for _ in 0..5_000 {
        for op in OPS {
            metrics.record(op, "orders", Duration::from_micros(700), true);
        }
    }
    c.bench_function("Metrics::record (warm, 40 operations)", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % OPS.len();
            metrics.record(black_box(OPS[i]), black_box("orders"), black_box(Duration::from_micros(700)), true)
        })
    });
    c.bench_function("Metrics::summaries (40 operations)", |b| b.iter(|| black_box(metrics.summaries())));
}

/// Counting one call, as the API middleware does per request: ten keys calling this minute.
fn usage(c: &mut Criterion) {
    use orderdesk::{
        config::{CONFIG_FILE, Settings},
        services::api_usage::UsageRecorder,
        storage::Store,
    };
    // The recorder's writing work is never run: no I/O here.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let recorder = runtime.block_on(async {
        let settings = Settings::load(std::path::Path::new(CONFIG_FILE)).expect("settings");
        UsageRecorder::new(Store::connect(&settings).await.expect("store")).0
    });
    let keys: Vec<String> = (0..10).map(|i| format!("6834622e10d75a5ba7b774{i:02}")).collect();
    c.bench_function("UsageRecorder::record (10 keys)", |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % keys.len();
            recorder.record(black_box(&keys[i]), 200, false, chrono::Utc::now(), black_box(Duration::from_micros(900)))
        })
    });
}

criterion_group!(benches, record, usage);
criterion_main!(benches);
