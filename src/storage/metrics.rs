//! What every database operation cost: per operation and collection, counts and errors since
//! start, latency percentiles over a sliding window, and cumulative histogram buckets for
//! Prometheus. Recorded by [`super::Store::run_for`], the one path every call takes.
//!
//! One short mutex section per operation (a hash lookup and a few adds): measured against a
//! lookup in BENCHMARKS.md.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

pub use crate::domain::performance::OpSummary;

/// Percentiles cover this much recent time...
pub const WINDOW: Duration = Duration::from_secs(300);
/// ...and at most this many recent samples per operation.
const MAX_SAMPLES: usize = 4096;
/// Histogram bucket bounds, in seconds (Prometheus `le`).
pub const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default)]
struct OpStats {
    count: u64,
    errors: u64,
    sum_seconds: f64,
    /// Cumulative counts per bucket of [`BUCKETS`], then +Inf is `count`.
    buckets: [u64; 12],
    recent: VecDeque<(Instant, Duration)>,
}

/// The registry; one per process, shared by every clone of the store.
#[derive(Debug)]
pub struct Metrics {
    ops: Mutex<HashMap<(&'static str, &'static str), OpStats>>,
    /// Off only in the benchmark that measures what recording costs.
    enabled: std::sync::atomic::AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self { ops: Mutex::default(), enabled: std::sync::atomic::AtomicBool::new(true) }
    }
}

/// Cumulative figures for Prometheus.
#[derive(Debug, Clone, PartialEq)]
pub struct OpHistogram {
    pub op: &'static str,
    pub collection: &'static str,
    pub count: u64,
    pub errors: u64,
    pub sum_seconds: f64,
    pub buckets: Vec<(f64, u64)>,
}

/// The nearest-rank percentile of sorted values (`q` in 0..=1).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Metrics {
    /// Turns recording on or off (for measuring its cost; always on in the app).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn record(&self, op: &'static str, collection: &'static str, took: Duration, ok: bool) {
        if !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let mut map = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((op, collection)).or_default();
        s.count += 1;
        s.errors += u64::from(!ok);
        let secs = took.as_secs_f64();
        s.sum_seconds += secs;
        for (bound, n) in BUCKETS.iter().zip(s.buckets.iter_mut()) {
            *n += u64::from(secs <= *bound);
        }
        if s.recent.len() == MAX_SAMPLES {
            s.recent.pop_front();
        }
        s.recent.push_back((now, took));
    }

    /// Every operation's summary, slowest p99 first.
    pub fn summaries(&self) -> Vec<OpSummary> {
        let now = Instant::now();
        let map = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<OpSummary> = map
            .iter()
            .map(|((op, collection), s)| {
                let mut window: Vec<Duration> =
                    s.recent.iter().filter(|(at, _)| now.duration_since(*at) <= WINDOW).map(|(_, d)| *d).collect();
                window.sort_unstable();
                OpSummary {
                    op: (*op).to_owned(),
                    collection: (*collection).to_owned(),
                    count: s.count,
                    errors: s.errors,
                    window_count: window.len() as u64,
                    p50_ms: ms(percentile(&window, 0.50)),
                    p95_ms: ms(percentile(&window, 0.95)),
                    p99_ms: ms(percentile(&window, 0.99)),
                    max_ms: ms(window.last().copied().unwrap_or_default()),
                }
            })
            .collect();
        out.sort_by(|a, b| b.p99_ms.total_cmp(&a.p99_ms).then_with(|| a.op.cmp(&b.op)));
        out
    }

    pub fn histograms(&self) -> Vec<OpHistogram> {
        let map = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<OpHistogram> = map
            .iter()
            .map(|((op, collection), s)| OpHistogram {
                op,
                collection,
                count: s.count,
                errors: s.errors,
                sum_seconds: s.sum_seconds,
                buckets: BUCKETS.iter().copied().zip(s.buckets.iter().copied()).collect(),
            })
            .collect();
        out.sort_by_key(|h| (h.op, h.collection));
        out
    }
}

impl super::Store {
    /// Creates the capped `slow_queries` collection (16 MB) unless it exists.
    pub async fn ensure_slow_query_log(&self) -> Result<(), super::StorageError> {
        let create = self.database().create_collection(super::names::SLOW_QUERIES).capped(true).size(16 << 20);
        match self.run("create_slow_log", super::names::SLOW_QUERIES, create).await {
            // NamespaceExists (48): made by an earlier start.
            Err(super::StorageError::Database { message, .. }) if message.contains("already exists") => Ok(()),
            other => other,
        }
    }

    /// The latest slow operations, newest first (by any client that writes the collection).
    pub async fn recent_slow_queries(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::domain::performance::SlowQuery>, super::StorageError> {
        use futures::TryStreamExt;
        use mongodb::bson::{Document, doc};
        let slow = self.collection(super::names::SLOW_QUERIES);
        let docs: Vec<Document> = self
            .run("slow_list", super::names::SLOW_QUERIES, async {
                slow.find(doc! {})
                    .max_time(self.op_timeout)
                    .sort(doc! { "$natural": -1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(crate::domain::performance::SlowQuery {
                    at: super::orders::datetime(d.get("at"))?,
                    op: d.get_str("op").ok()?.to_owned(),
                    collection: d.get_str("collection").unwrap_or("").to_owned(),
                    ms: d.get_f64("ms").unwrap_or(0.0),
                    ok: d.get_bool("ok").unwrap_or(true),
                })
            })
            .collect())
    }
}

impl super::Store {
    /// The profiler's level and threshold, and its latest entries from other clients.
    pub async fn profiler(&self) -> Result<crate::domain::performance::Profiler, super::StorageError> {
        use futures::TryStreamExt;
        use mongodb::bson::{Document, doc};
        let status =
            self.run("profile_status", "system.profile", self.database().run_command(doc! { "profile": -1 })).await?;
        let level = super::migrations::count(status.get("was")) as i32;
        let slow_ms = super::migrations::count(status.get("slowms")) as i64;
        let profile = self.collection("system.profile");
        let filter = doc! { "appName": { "$ne": "orderdesk" } };
        let docs: Vec<Document> = self
            .run("profile_list", "system.profile", async {
                profile
                    .find(filter)
                    .max_time(self.op_timeout)
                    .sort(doc! { "ts": -1 })
                    .limit(20)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        let others = docs
            .iter()
            .filter_map(|d| {
                Some(crate::domain::performance::ProfiledOp {
                    at: super::orders::datetime(d.get("ts"))?,
                    op: d.get_str("op").unwrap_or("").to_owned(),
                    namespace: d.get_str("ns").unwrap_or("").to_owned(),
                    millis: super::migrations::count(d.get("millis")) as i64,
                    app: d.get_str("appName").unwrap_or("").to_owned(),
                })
            })
            .collect();
        Ok(crate::domain::performance::Profiler { level, slow_ms, others })
    }

    /// Sets the profiler of orderdesk's database: 0 off, 1 operations over `slow_ms`, 2 all.
    pub async fn set_profiling(&self, level: i32, slow_ms: i64) -> Result<(), super::StorageError> {
        use mongodb::bson::doc;
        self.run(
            "profile_set",
            "system.profile",
            self.database().run_command(doc! { "profile": level, "slowms": slow_ms }),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.50), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.95), Duration::from_millis(95));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(percentile(&v[..1], 0.99), Duration::from_millis(1));
    }

    #[test]
    fn records_counts_errors_buckets_and_window() {
        let m = Metrics::default();
        for i in 1..=10 {
            m.record("find", "orders", Duration::from_millis(i), i != 3);
        }
        let s = &m.summaries()[0];
        assert_eq!((s.count, s.errors, s.window_count), (10, 1, 10));
        assert_eq!((s.p50_ms, s.max_ms), (5.0, 10.0));
        let h = &m.histograms()[0];
        assert_eq!(h.buckets.iter().find(|(le, _)| *le == 0.005).unwrap().1, 5, "1..=5 ms are ≤ 5 ms");
        assert_eq!(h.buckets.last().unwrap().1, 10);
        assert!((h.sum_seconds - 0.055).abs() < 1e-9);
    }
}
