//! Database performance as the pages and the stats endpoint show it. Recording lives in
//! `storage::metrics`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One operation's figures, as the stats endpoint and the page show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub op: String,
    pub collection: String,
    pub count: u64,
    pub errors: u64,
    /// Samples in the window the percentiles come from.
    pub window_count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What `/api/performance/stats` returns and `/performance` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceStats {
    /// The orderdesk process these figures are from (`host:pid:random`): each process counts
    /// its own; sum or compare them across instances (README, "Several processes").
    pub instance: String,
    pub window_seconds: u64,
    pub slow_query_ms: u64,
    pub operations: Vec<OpSummary>,
    /// The latest slow operations (any client writing `slow_queries`).
    pub recent_slow: Vec<SlowQuery>,
}

/// How many of an order's slow operations its page lists.
pub const SLOW_PER_ORDER: i64 = 10;

/// One operation slower than the threshold, as kept in the capped `slow_queries` collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowQuery {
    pub at: DateTime<Utc>,
    pub op: String,
    pub collection: String,
    pub ms: f64,
    pub ok: bool,
    /// The order the operation was for, when it was about one (as the seed's log line says).
    #[serde(default)]
    pub order: Option<String>,
}

/// One operation from MongoDB's profiler (`system.profile`), by any client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfiledOp {
    pub at: DateTime<Utc>,
    pub op: String,
    pub namespace: String,
    pub millis: i64,
    /// The client's `appName` (orderdesk sends `orderdesk`; the bots their own), if any.
    pub app: String,
}

/// The profiler's state: level 0 off, 1 slow operations, 2 everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profiler {
    pub level: i32,
    pub slow_ms: i64,
    pub others: Vec<ProfiledOp>,
}
