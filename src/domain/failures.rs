//! Where orders fail, as the `/failures` page shows it. An order has failed when its status
//! is `failed` or `cancelled`.
//!
//! The server aggregates each day's orders into one small [`DayFigures`] (kept in
//! `failure_figures`, see `monitoring::failure_report`); the report over N days is the sum of
//! N of them, made here, so a 90-day report never walks 90 days of orders.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::orders::OrderStatus;

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
    /// When the oldest of the day figures it sums was computed.
    pub as_of: Option<DateTime<Utc>>,
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

/// Today's and yesterday's figures are recomputed before a report uses them once they are
/// older than this: those orders still change status every minute.
pub const RECENT_FIGURES_MAX_AGE: chrono::Duration = chrono::Duration::seconds(30);
/// Older days are served as stored and recomputed in the background once older than this.
pub const OLDER_FIGURES_MAX_AGE: chrono::Duration = chrono::Duration::minutes(10);

/// Orders of one day sharing a status, a vendor and an ID scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// `None` when the order has no status.
    pub status: Option<String>,
    /// `None` for orders without a vendor (the shipping bot's).
    pub vendor: Option<String>,
    pub scheme: String,
    pub orders: u64,
}

/// One day's orders (by creation, in the configured zone), aggregated on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub groups: Vec<GroupCount>,
    /// Completed orders by whole minutes from creation to completion: (minutes, orders).
    pub completion_minutes: Vec<(u64, u64)>,
}

/// Vendors listed at most, most failures first.
pub const TOP_VENDORS: usize = 50;

fn is_failed(status: Option<&str>) -> bool {
    status.and_then(|s| OrderStatus::parse(s).ok()).is_some_and(OrderStatus::is_failure)
}

/// Sums keyed groups into rates.
#[derive(Default)]
struct Tally(HashMap<String, (u64, u64)>);

impl Tally {
    fn add(&mut self, key: &str, orders: u64, failed: u64) {
        let e = self.0.entry(key.to_owned()).or_default();
        e.0 += orders;
        e.1 += failed;
    }

    fn rates(self) -> Vec<Rate> {
        self.0.into_iter().map(|(key, (orders, failed))| Rate { key, orders, failed }).collect()
    }

    /// Most orders first; ties by key, so the page does not reshuffle between refreshes.
    fn by_orders(self) -> Vec<Rate> {
        let mut rows = self.rates();
        rows.sort_by(|a, b| b.orders.cmp(&a.orders).then_with(|| a.key.cmp(&b.key)));
        rows
    }
}

/// The value at nearest rank ⌈p·n⌉ of a histogram sorted by value.
fn nearest_rank(sorted: &[(u64, u64)], n: u64, p: f64) -> u64 {
    let rank = ((p * n as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (value, count) in sorted {
        seen += count;
        if seen >= rank {
            return *value;
        }
    }
    sorted.last().map(|(v, _)| *v).unwrap_or(0)
}

fn histogram(sorted: &[(u64, u64)]) -> Vec<(String, u64)> {
    let mut low = 0;
    let mut out: Vec<(String, u64)> = COMPLETION_BUCKETS_MIN
        .iter()
        .map(|&high| {
            let n = sorted.iter().filter(|(m, _)| (low..high).contains(m)).map(|(_, c)| c).sum();
            let label = format!("{low}–{high} min");
            low = high;
            (label, n)
        })
        .collect();
    out.push((format!("over {low} min"), sorted.iter().filter(|(m, _)| *m >= low).map(|(_, c)| c).sum()));
    out
}

impl FailureReport {
    /// The report over `figures` (one per day of the period; days without orders may be
    /// absent). Percentiles are exact nearest-rank over whole minutes.
    pub fn from_days(days: u32, figures: &[DayFigures], as_of: Option<DateTime<Utc>>) -> Self {
        let (mut by_status, mut by_scheme, mut by_vendor) = (Tally::default(), Tally::default(), Tally::default());
        let mut by_day = Vec::new();
        let mut minutes: BTreeMap<u64, u64> = BTreeMap::new();
        let mut total = Rate::default();
        for day in figures {
            let mut today = Rate { key: day.day.format("%Y-%m-%d").to_string(), orders: 0, failed: 0 };
            for g in &day.groups {
                let failed = if is_failed(g.status.as_deref()) { g.orders } else { 0 };
                by_status.add(g.status.as_deref().unwrap_or("—"), g.orders, failed);
                by_scheme.add(&g.scheme, g.orders, failed);
                if let Some(v) = &g.vendor {
                    by_vendor.add(v, g.orders, failed);
                }
                today.orders += g.orders;
                today.failed += failed;
            }
            total.orders += today.orders;
            total.failed += today.failed;
            if today.orders > 0 {
                by_day.push(today);
            }
            for (m, n) in &day.completion_minutes {
                *minutes.entry(*m).or_default() += n;
            }
        }
        by_day.sort_by(|a, b| a.key.cmp(&b.key));
        let mut by_vendor = by_vendor.rates();
        by_vendor.sort_by(|a, b| b.failed.cmp(&a.failed).then_with(|| a.key.cmp(&b.key)));
        by_vendor.truncate(TOP_VENDORS);
        let sorted: Vec<(u64, u64)> = minutes.into_iter().collect();
        let completed: u64 = sorted.iter().map(|(_, n)| n).sum();
        let at = |p| if completed == 0 { 0.0 } else { nearest_rank(&sorted, completed, p) as f64 };
        Self {
            days,
            as_of,
            total,
            by_scheme: by_scheme.by_orders(),
            by_status: by_status.by_orders(),
            by_vendor,
            by_day,
            completion: Completion {
                orders: completed,
                p50_minutes: at(0.5),
                p90_minutes: at(0.9),
                p99_minutes: at(0.99),
                histogram: if completed == 0 { Vec::new() } else { histogram(&sorted) },
            },
        }
    }
}

/// An order that failed after it was paid and has not been refunded (seed 000's "automatic
/// reversal on failed labels": the desk's list until that exists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundCandidate {
    pub order: crate::domain::orders::OrderSummary,
    /// The sum of its successful payments.
    pub paid: f64,
    pub currency: Option<String>,
    pub failure_reason: Option<String>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// The candidates of a period, the newest first, and the sum owed (per currency).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefundCandidates {
    pub orders: Vec<RefundCandidate>,
    /// `(currency, sum)`; orders without a currency under "".
    pub owed: Vec<(String, f64)>,
    /// Set when more than the list holds were found.
    pub more: bool,
}

impl RefundCandidates {
    pub fn new(mut orders: Vec<RefundCandidate>, limit: usize) -> Self {
        let more = orders.len() > limit;
        orders.truncate(limit);
        let mut owed: BTreeMap<String, f64> = BTreeMap::new();
        for o in &orders {
            *owed.entry(o.currency.clone().unwrap_or_default()).or_default() += o.paid;
        }
        Self { orders, owed: owed.into_iter().collect(), more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: &str, vendor: Option<&str>, scheme: &str, orders: u64) -> GroupCount {
        GroupCount { status: Some(status.into()), vendor: vendor.map(Into::into), scheme: scheme.into(), orders }
    }

    fn day(d: u32, groups: Vec<GroupCount>, completion_minutes: Vec<(u64, u64)>) -> DayFigures {
        DayFigures { day: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(), groups, completion_minutes }
    }

    #[test]
    fn sums_days_into_rates() {
        let r = FailureReport::from_days(
            3,
            &[
                day(20, vec![group("failed", Some("v1"), "BB", 2), group("completed", None, "ORD", 3)], vec![]),
                day(21, vec![group("cancelled", Some("v1"), "BB", 1), group("completed", Some("v2"), "BB", 4)], vec![]),
                day(19, vec![], vec![]),
            ],
            None,
        );
        assert_eq!(r.total, Rate { key: "all".into(), orders: 10, failed: 3 });
        assert_eq!(r.by_scheme[0], Rate { key: "BB".into(), orders: 7, failed: 3 });
        assert_eq!(r.by_vendor[0], Rate { key: "v1".into(), orders: 3, failed: 3 });
        assert_eq!(r.by_vendor.len(), 2, "orders without a vendor are not a vendor");
        let days: Vec<_> = r.by_day.iter().map(|d| (d.key.as_str(), d.orders, d.failed)).collect();
        assert_eq!(days, [("2026-11-20", 5, 2), ("2026-11-21", 5, 1)], "sorted, empty days left out");
        assert_eq!(r.by_status.iter().map(|s| s.orders).sum::<u64>(), 10);
    }

    #[test]
    fn percentiles_are_nearest_rank_over_the_merged_days() {
        // 1..=100 minutes, split over two days out of order.
        let first: Vec<(u64, u64)> = (1..=100).filter(|m| m % 2 == 0).map(|m| (m, 1)).collect();
        let second: Vec<(u64, u64)> = (1..=100).filter(|m| m % 2 == 1).map(|m| (m, 1)).collect();
        let r = FailureReport::from_days(2, &[day(20, vec![], first), day(21, vec![], second)], None);
        assert_eq!(r.completion.orders, 100);
        assert_eq!((r.completion.p50_minutes, r.completion.p90_minutes, r.completion.p99_minutes), (50.0, 90.0, 99.0));
        assert_eq!(r.completion.histogram[0], ("0–15 min".to_owned(), 14));
        assert_eq!(r.completion.histogram.iter().map(|(_, n)| n).sum::<u64>(), 100);
        assert_eq!(r.completion.histogram.last().unwrap().0, "over 10080 min");
    }

    #[test]
    fn an_empty_period_has_no_percentiles() {
        let r = FailureReport::from_days(7, &[], None);
        assert_eq!(r.completion, Completion::default());
        assert!(r.by_day.is_empty());
    }

    #[test]
    fn vendors_are_capped_most_failures_first() {
        let groups = (0..60).map(|i| group("failed", Some(&format!("v{i:02}")), "BB", i)).collect();
        let r = FailureReport::from_days(1, &[day(20, groups, vec![])], None);
        assert_eq!(r.by_vendor.len(), TOP_VENDORS);
        assert_eq!(r.by_vendor[0].key, "v59");
    }
}
