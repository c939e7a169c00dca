//! Where orders fail, as the `/failures` page shows it. An order has failed when its status
//! is `failed` or `cancelled`; computed on the server by `storage::failures`.

use serde::{Deserialize, Serialize};

/// Statuses that count as a failure.
pub const FAILED_STATUSES: &[&str] = &["failed", "cancelled"];

/// Orders and failures in one group (a scheme, a status, a vendor, a day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub key: String,
    pub orders: u64,
    pub failed: u64,
}

impl Rate {
    pub fn rate(&self) -> f64 {
        if self.orders == 0 { 0.0 } else { self.failed as f64 / self.orders as f64 }
    }
}

/// From creation to completion, over completed orders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub orders: u64,
    pub p50_minutes: f64,
    pub p90_minutes: f64,
    pub p99_minutes: f64,
    /// (upper bound in minutes, orders); the last bucket is "longer".
    pub histogram: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureReport {
    pub days: u32,
    pub total: Rate,
    pub by_scheme: Vec<Rate>,
    pub by_status: Vec<Rate>,
    pub by_vendor: Vec<Rate>,
    pub by_day: Vec<Rate>,
    pub completion: Completion,
}

impl Default for Rate {
    fn default() -> Self {
        Self { key: "all".into(), orders: 0, failed: 0 }
    }
}

/// Histogram bucket bounds for completion times, in minutes.
pub const COMPLETION_BUCKETS_MIN: &[u64] = &[15, 30, 60, 120, 240, 480, 1440, 2880, 10080];
