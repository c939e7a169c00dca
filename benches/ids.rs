//! ID generation and parsing. Target: ORD generation ≥ 5M/s on one core.
//! Run: cargo bench --features ssr --bench ids

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use orderdesk::domain::ids::{
    BbNumber, DisplayId, LookupKey, OrderId,
    generate::{MonotonicClock, SystemClock, ord_id},
};
use rand::{SeedableRng, rngs::StdRng};
use std::hint::black_box;
use uuid::Uuid;

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    g.throughput(Throughput::Elements(1));
    let clock = MonotonicClock::new(SystemClock);
    let mut rng = StdRng::seed_from_u64(1);
    g.bench_function("ord_id (typed)", |b| b.iter(|| black_box(ord_id(&clock, &mut rng))));
    g.bench_function("ord_id to_string", |b| b.iter(|| black_box(ord_id(&clock, &mut rng).to_string())));
    g.bench_function("Uuid::new_v4", |b| b.iter(|| black_box(Uuid::new_v4())));
    g.bench_function("Uuid::new_v4 to_string", |b| b.iter(|| black_box(Uuid::new_v4().to_string())));
    g.bench_function("chrono format ORD (the naive way)", |b| {
        b.iter(|| black_box(format!("ORD-{}-{:08x}", Utc::now().format("%Y%m%d%H%M%S"), rand::random::<u32>())))
    });
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("OrderId ORD", |b| b.iter(|| OrderId::parse(black_box("ORD-20251114123456-a3f8d2b4"))));
    g.bench_function("OrderId UUID", |b| b.iter(|| OrderId::parse(black_box("123e4567-e89b-12d3-a456-426614174000"))));
    g.bench_function("DisplayId", |b| b.iter(|| DisplayId::parse(black_box("#ORD-A3F8D2"))));
    g.bench_function("BbNumber", |b| b.iter(|| BbNumber::parse(black_box("BB-1701234567890-A1B2-00001"))));
    g.bench_function("LookupKey (telegram id)", |b| b.iter(|| LookupKey::parse(black_box(" 123456789 "))));
    g.finish();
}

criterion_group!(benches, generation, parsing);
criterion_main!(benches);
