//! What recording one database operation costs (`Metrics::record`), on a registry already
//! holding 40 operations with filled windows, as in a running server. Compare with a
//! lookup's 0.4–0.9 ms (BENCHMARKS.md). Run: `cargo bench --features ssr --bench metrics`.

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

criterion_group!(benches, record);
criterion_main!(benches);
