//! What every database operation cost: per operation and collection, counts and errors since
//! start, latency percentiles over the last five minutes, and cumulative histogram buckets for
//! Prometheus. Recorded by [`super::Store::run_for`], the one path every call takes.
//!
//! The window is [`SLICES`] one-minute HDR histograms in a ring, merged when read: every
//! operation of the window counts, however many there are (a ring of the latest 4,096 samples
//! covered 4 seconds at 1,000 operations a second), in a fixed few kilobytes per operation.
//! One short mutex section per operation (a hash lookup and a few adds): measured against a
//! lookup in BENCHMARKS.md.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

pub use crate::domain::performance::OpSummary;

/// Percentiles cover this much recent time: the current minute and the four before it.
pub const WINDOW: Duration = Duration::from_secs(300);
/// One-minute slices in the window.
const SLICES: usize = 5;
const SLICE: Duration = Duration::from_secs(60);
/// Latencies are kept in microseconds, 1 µs to 10 minutes, to 3 significant digits.
const LONGEST_MICROS: u64 = 600_000_000;
/// Histogram bucket bounds, in seconds (Prometheus `le`).
pub const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default)]
struct OpStats {
    count: u64,
    errors: u64,
    sum_seconds: f64,
    /// Cumulative counts per bucket of [`BUCKETS`], then +Inf is `count`.
    buckets: [u64; 12],
    window: Window,
}

/// The last [`SLICES`] minutes of latencies, one histogram per minute.
#[derive(Debug)]
struct Window {
    /// Each slice with the minute (since the registry's origin) it holds.
    slices: Vec<(u64, Histogram<u64>)>,
}

/// An empty histogram of latencies in microseconds (the bounds are constants that hold).
fn empty() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LONGEST_MICROS, 3).expect("valid histogram bounds")
}

impl Default for Window {
    fn default() -> Self {
        Self { slices: (0..SLICES).map(|_| (u64::MAX, empty())).collect() }
    }
}

impl Window {
    fn record(&mut self, minute: u64, took: Duration) {
        let (held, h) = &mut self.slices[(minute % SLICES as u64) as usize];
        if *held != minute {
            // A minute that left the window: its slice starts over for this one.
            h.reset();
            *held = minute;
        }
        h.saturating_record((took.as_micros() as u64).clamp(1, LONGEST_MICROS));
    }

    /// The slices of the window that ends in `minute`, merged.
    fn merged(&self, minute: u64) -> Histogram<u64> {
        let mut all = empty();
        for (held, h) in &self.slices {
            if *held <= minute && minute - *held < SLICES as u64 {
                let _ = all.add(h);
            }
        }
        all
    }
}

/// The registry; one per process, shared by every clone of the store.
#[derive(Debug)]
pub struct Metrics {
    ops: Mutex<HashMap<(&'static str, &'static str), OpStats>>,
    /// Where the window's minutes count from.
    origin: Instant,
    /// Off only in the benchmark that measures what recording costs.
    enabled: std::sync::atomic::AtomicBool,
    /// Operations tried again after an election or a lost connection.
    failover_retries: std::sync::atomic::AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            ops: Mutex::default(),
            origin: Instant::now(),
            enabled: std::sync::atomic::AtomicBool::new(true),
            failover_retries: Default::default(),
        }
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

impl Metrics {
    /// Turns recording on or off (for measuring its cost; always on in the app).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// One operation tried again after an election or a lost connection.
    pub fn retried(&self, op: &'static str) {
        self.failover_retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(op, "trying again after an election or a lost connection");
    }

    pub fn failover_retries(&self) -> u64 {
        self.failover_retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn record(&self, op: &'static str, collection: &'static str, took: Duration, ok: bool) {
        self.record_at(Instant::now(), op, collection, took, ok);
    }

    /// [`Metrics::record`] as of `now` (tests move the clock).
    pub fn record_at(&self, now: Instant, op: &'static str, collection: &'static str, took: Duration, ok: bool) {
        if !self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let minute = self.minute(now);
        let mut map = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((op, collection)).or_default();
        s.count += 1;
        s.errors += u64::from(!ok);
        let secs = took.as_secs_f64();
        s.sum_seconds += secs;
        for (bound, n) in BUCKETS.iter().zip(s.buckets.iter_mut()) {
            *n += u64::from(secs <= *bound);
        }
        s.window.record(minute, took);
    }

    fn minute(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs() / SLICE.as_secs()
    }

    /// Every operation's summary, slowest p99 first.
    pub fn summaries(&self) -> Vec<OpSummary> {
        self.summaries_at(Instant::now())
    }

    /// [`Metrics::summaries`] as of `now`.
    pub fn summaries_at(&self, now: Instant) -> Vec<OpSummary> {
        let minute = self.minute(now);
        let map = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<OpSummary> = map
            .iter()
            .map(|((op, collection), s)| {
                let window = s.window.merged(minute);
                // A recorded value stands for its bucket's lowest value: 5 ms reads as 5 ms.
                let at = |q: f64| match window.len() {
                    0 => 0.0,
                    _ => window.lowest_equivalent(window.value_at_quantile(q)) as f64 / 1000.0,
                };
                OpSummary {
                    op: (*op).to_owned(),
                    collection: (*collection).to_owned(),
                    count: s.count,
                    errors: s.errors,
                    window_count: window.len(),
                    p50_ms: at(0.50),
                    p95_ms: at(0.95),
                    p99_ms: at(0.99),
                    max_ms: at(1.0),
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
        // Insertion order is time order in a capped collection, and reads no index.
        self.slow_queries_matching(mongodb::bson::doc! {}, mongodb::bson::doc! { "$natural": -1 }, limit).await
    }

    /// The latest slow operations that named one of `orders` (its ID, number, display form:
    /// whichever the work was asked with), newest first.
    pub async fn slow_queries_for(
        &self,
        orders: &[String],
        limit: i64,
    ) -> Result<Vec<crate::domain::performance::SlowQuery>, super::StorageError> {
        // By the `order_1_at_-1` index: a scan of the whole log in `$natural` order would cost
        // every order page up to its 16 MB.
        use mongodb::bson::doc;
        self.slow_queries_matching(doc! { "order": { "$in": orders } }, doc! { "at": -1 }, limit).await
    }

    async fn slow_queries_matching(
        &self,
        filter: mongodb::bson::Document,
        sort: mongodb::bson::Document,
        limit: i64,
    ) -> Result<Vec<crate::domain::performance::SlowQuery>, super::StorageError> {
        use futures::TryStreamExt;
        use mongodb::bson::Document;
        let slow = self.collection(super::names::SLOW_QUERIES);
        let docs: Vec<Document> = self
            .run("slow_list", super::names::SLOW_QUERIES, async {
                slow.find(filter).max_time(self.op_timeout).sort(sort).limit(limit).await?.try_collect().await
            })
            .await?;
        docs.into_iter()
            .map(|d| super::values::typed::<SlowDocument>(super::names::SLOW_QUERIES, d).map(Into::into))
            .collect()
    }
}

/// A slow operation as the capped `slow_queries` collection keeps it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct SlowDocument {
    pub at: mongodb::bson::DateTime,
    pub op: String,
    pub collection: String,
    pub ms: f64,
    pub ok: bool,
    /// Which program wrote it (the profiler's entries of other clients are elsewhere).
    pub app: String,
    pub order: Option<String>,
}

impl From<SlowDocument> for crate::domain::performance::SlowQuery {
    fn from(d: SlowDocument) -> Self {
        Self {
            at: super::values::chrono_time(d.at),
            op: d.op,
            collection: d.collection,
            ms: d.ms,
            ok: d.ok,
            order: d.order,
        }
    }
}

impl super::Store {
    /// The profiler's level and threshold, and its latest entries from other clients.
    pub async fn profiler(&self) -> Result<crate::domain::performance::Profiler, super::StorageError> {
        use futures::TryStreamExt;
        use mongodb::bson::{Document, doc};
        let status =
            self.run("profile_status", "system.profile", self.database().run_command(doc! { "profile": -1 })).await?;
        let level = super::values::count(status.get("was")) as i32;
        let slow_ms = super::values::count(status.get("slowms")) as i64;
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
                    at: super::values::datetime(d.get("ts"))?,
                    op: d.get_str("op").unwrap_or("").to_owned(),
                    namespace: d.get_str("ns").unwrap_or("").to_owned(),
                    millis: super::values::count(d.get("millis")) as i64,
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
    fn the_window_holds_every_operation_of_its_minutes_and_forgets_older_ones() {
        let m = Metrics::default();
        let start = m.origin;
        // 1,000 operations a second for two minutes, all 2 ms but one in a hundred at 80 ms.
        for i in 0..120_000u64 {
            let took = Duration::from_millis(if i % 100 == 0 { 80 } else { 2 });
            m.record_at(start + Duration::from_millis(i), "find", "orders", took, true);
        }
        let s = &m.summaries_at(start + Duration::from_secs(120))[0];
        assert_eq!(s.window_count, 120_000, "every operation of the window counts");
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (2.0, 2.0, 80.0));
        assert_eq!(m.summaries_at(start + Duration::from_secs(121))[0].p95_ms, 2.0);
        // Six minutes later the first two have left the window; a new minute starts afresh.
        let later = start + Duration::from_secs(8 * 60);
        m.record_at(later, "find", "orders", Duration::from_millis(7), true);
        let s = &m.summaries_at(later)[0];
        assert_eq!((s.count, s.window_count, s.p50_ms, s.max_ms), (120_001, 1, 7.0, 7.0));
        assert_eq!(m.summaries_at(later + WINDOW)[0].window_count, 0, "and then nothing");
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
