//! Failure rates and completion percentiles computed by the server's aggregation, checked
//! against the same figures computed here from the crafted orders; and when the stored day
//! figures are reused and when recomputed.

use crate::helpers;

use std::collections::HashMap;

use chrono::{Duration, TimeZone, Utc};
use mongodb::bson::{DateTime as BsonTime, doc};
use orderdesk::services::monitoring::failure_report;
use rand::{Rng, SeedableRng, rngs::StdRng};

#[tokio::test]
async fn rates_and_percentiles_match_a_reference_computation() {
    let store = helpers::fresh_store("failures").await;
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(7);
    let statuses = ["completed", "failed", "cancelled", "pending", "refunded"];
    let mut docs = Vec::new();
    let mut durations_min: Vec<i64> = Vec::new();
    let mut by_vendor: HashMap<String, (u64, u64)> = HashMap::new();
    let mut by_scheme: HashMap<&str, (u64, u64)> = HashMap::new();
    for i in 0..997 {
        let status = statuses[rng.random_range(0..statuses.len())];
        let failed = u64::from(status == "failed" || status == "cancelled");
        let created = now - Duration::minutes(rng.random_range(60..(20 * 24 * 60)));
        let mut d = doc! { "status": status, "created_at": BsonTime::from_millis(created.timestamp_millis()) };
        let scheme = match i % 4 {
            0 => {
                let vendor = format!("v{}", i % 7);
                let e = by_vendor.entry(vendor.clone()).or_default();
                e.0 += 1;
                e.1 += failed;
                d.insert("vendor_id", vendor);
                d.insert("order_id", uuid::Uuid::new_v4().to_string());
                d.insert("order_number", format!("BB-{i}"));
                "BB"
            }
            1 => {
                d.insert("order_id", format!("ORD-20261101120000-{:08x}", i));
                "ORD"
            }
            2 => {
                d.insert("order_id", uuid::Uuid::new_v4().to_string());
                "UUID"
            }
            _ => "order_id missing",
        };
        let e = by_scheme.entry(scheme).or_default();
        e.0 += 1;
        e.1 += failed;
        if status == "completed" {
            let took = rng.random_range(1..(3 * 24 * 60 * 60_000_i64));
            durations_min.push(took / 60_000);
            d.insert("completed_at", BsonTime::from_millis(created.timestamp_millis() + took));
        }
        docs.push(d);
    }
    // An order older than the period is left out.
    docs.push(doc! { "status": "failed", "order_id": "old", "created_at": BsonTime::from_millis(Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap().timestamp_millis()) });
    // order_id missing is stored without the field, which no unique index allows twice: skip the index.
    orders.drop_indexes().await.unwrap();
    orders.insert_many(docs).await.unwrap();

    let report = failure_report(&store, chrono_tz::UTC, now, 30).await.unwrap();
    assert_eq!(report.total.orders, 997);
    let expected_failed: u64 = by_scheme.values().map(|v| v.1).sum();
    assert_eq!(report.total.failed, expected_failed);
    for r in &report.by_scheme {
        assert_eq!(by_scheme.get(r.key.as_str()).copied(), Some((r.orders, r.failed)), "{}", r.key);
    }
    assert_eq!(report.by_scheme.len(), 4);
    for r in &report.by_vendor {
        assert_eq!(by_vendor.get(&r.key).copied(), Some((r.orders, r.failed)), "{}", r.key);
    }
    assert_eq!(report.by_day.iter().map(|r| r.orders).sum::<u64>(), 997);

    // Percentiles are kept to the whole minute (floored).
    durations_min.sort_unstable();
    let nearest = |p: f64| durations_min[((p * durations_min.len() as f64).ceil() as usize).max(1) - 1] as f64;
    assert_eq!(report.completion.orders, durations_min.len() as u64);
    for (got, p) in [
        (report.completion.p50_minutes, 0.5),
        (report.completion.p90_minutes, 0.9),
        (report.completion.p99_minutes, 0.99),
    ] {
        assert!((got - nearest(p)).abs() < 1e-9, "p{p}: {got} vs {}", nearest(p));
    }
    assert_eq!(report.completion.histogram.iter().map(|(_, n)| n).sum::<u64>(), durations_min.len() as u64);
    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn day_figures_are_reused_until_stale_then_recomputed() {
    let store = helpers::fresh_store("failure_figures").await;
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    orders.drop_indexes().await.unwrap();
    // Whole milliseconds, as stored: `as_of` round-trips exactly.
    let now = Utc.timestamp_millis_opt(Utc::now().timestamp_millis()).unwrap();
    let order = |ago: Duration, status: &str| {
        doc! { "status": status, "created_at": BsonTime::from_millis((now - ago).timestamp_millis()) }
    };
    let report = |at| failure_report(&store, chrono_tz::UTC, at, 7);
    orders.insert_many([order(Duration::minutes(1), "failed"), order(Duration::days(5), "completed")]).await.unwrap();

    let first = report(now).await.unwrap();
    assert_eq!((first.total.orders, first.total.failed), (2, 1));
    assert_eq!(first.as_of, Some(now));

    // Today's figures are fresh for 30 s: a new order is not walked again before that.
    orders.insert_one(order(Duration::minutes(1), "pending")).await.unwrap();
    let reused = report(now + Duration::seconds(10)).await.unwrap();
    assert_eq!(reused.total.orders, 2, "fresh figures are reused, not recomputed");
    assert_eq!(reused.as_of, Some(now), "served from the stored figures");
    let recent = report(now + Duration::seconds(31)).await.unwrap();
    assert_eq!(recent.total.orders, 3, "today's figures are recomputed once 30 s old");

    // An older day is recomputed only once its figures are 10 minutes old, and then in the
    // background: the report that notices serves the stored figures.
    orders.insert_one(order(Duration::days(5), "cancelled")).await.unwrap();
    assert_eq!(report(now + Duration::seconds(40)).await.unwrap().total.orders, 3);
    let later = now + Duration::minutes(11);
    assert_eq!(report(later).await.unwrap().total.orders, 3, "stale older days are served as stored");
    let mut seen = 0;
    for _ in 0..50 {
        seen = report(later).await.unwrap().total.orders;
        if seen == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 4, "the background recomputation picked up the older day's new order");

    // Stored figures that do not parse (edited by hand) are never shown: the day is computed
    // again from the orders, and the stored document replaced.
    let figures = helpers::raw_collection(store.database_name(), "failure_figures").await;
    let today = format!("UTC|{}", (now - Duration::minutes(1)).format("%Y-%m-%d"));
    figures.update_one(doc! { "_id": &today }, doc! { "$set": { "groups": "garbled" } }).await.unwrap();
    assert_eq!(report(later).await.unwrap().total.orders, 4, "the garbled day was computed again");
    let stored = figures.find_one(doc! { "_id": &today }).await.unwrap().unwrap();
    assert!(stored.get_array("groups").is_ok(), "and stored again whole: {stored}");
    store.drop_database().await.unwrap();
}
