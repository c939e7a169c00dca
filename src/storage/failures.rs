//! The failure-rate and completion-time aggregations: one `$match` on the `created_at`
//! index, then one `$facet` computing every breakdown on the server. No order is loaded into
//! the app.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};

use super::{StorageError, Store, migrations::count, names::ORDERS};
use crate::failures::{COMPLETION_BUCKETS_MIN, Completion, FAILED_STATUSES, FailureReport, Rate};

/// The report reads every order of the period once: allow more than a lookup.
const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

fn failed_expr() -> Document {
    doc! { "$cond": [ { "$in": [ "$status", FAILED_STATUSES ] }, 1, 0 ] }
}

/// ID scheme of an order, as the list filter names them.
fn scheme_expr() -> Document {
    doc! { "$switch": {
        "branches": [
            { "case": { "$eq": [ { "$type": "$order_number" }, "string" ] }, "then": "BB" },
            { "case": { "$in": [ { "$ifNull": [ "$order_id", "" ] }, [ "" ] ] }, "then": "order_id missing" },
            { "case": { "$regexMatch": { "input": { "$toString": "$order_id" }, "regex": "^ORD-\\d{14}-[0-9a-f]{8}$" } }, "then": "ORD" },
            { "case": { "$regexMatch": { "input": { "$toString": "$order_id" }, "regex": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" } }, "then": "UUID" },
        ],
        "default": "other",
    } }
}

fn group_rates(key: Bson) -> Document {
    doc! { "$group": { "_id": key, "orders": { "$sum": 1 }, "failed": { "$sum": failed_expr() } } }
}

fn rates(d: &Document, facet: &str) -> Vec<Rate> {
    d.get_array(facet)
        .map(|rows| {
            rows.iter()
                .filter_map(Bson::as_document)
                .map(|r| Rate {
                    key: match r.get("_id") {
                        Some(Bson::String(s)) => s.clone(),
                        Some(Bson::Null) | None => "—".into(),
                        Some(other) => other.to_string(),
                    },
                    orders: count(r.get("orders")),
                    failed: count(r.get("failed")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn minutes(d: &Document, key: &str) -> f64 {
    match d.get(key) {
        Some(Bson::Int64(ms)) => *ms as f64 / 60_000.0,
        Some(Bson::Int32(ms)) => f64::from(*ms) / 60_000.0,
        Some(Bson::Double(ms)) => ms / 60_000.0,
        _ => 0.0,
    }
}

impl Store {
    /// Failure rates and completion times of orders created since `since`.
    pub async fn failure_report(
        &self,
        since: DateTime<Utc>,
        days: u32,
        time_zone: &str,
    ) -> Result<FailureReport, StorageError> {
        let completed = doc! { "$match": { "status": "completed", "completed_at": { "$type": "date" }, "created_at": { "$type": "date" } } };
        let duration = doc! { "$project": { "d": { "$subtract": [ "$completed_at", "$created_at" ] } } };
        // Nearest rank: the value at ceil(p·n) − 1 of the sorted durations.
        let rank = |p: f64| doc! { "$arrayElemAt": [ "$sorted", { "$max": [ 0, { "$subtract": [ { "$ceil": { "$multiply": [ p, "$n" ] } }, 1 ] } ] } ] };
        let mut boundaries: Vec<Bson> = vec![Bson::Int64(0)];
        boundaries.extend(COMPLETION_BUCKETS_MIN.iter().map(|m| Bson::Int64(*m as i64 * 60_000)));
        let pipeline = vec![
            doc! { "$match": { "created_at": { "$gte": BsonTime::from_millis(since.timestamp_millis()) } } },
            doc! { "$facet": {
                "total": [ group_rates(Bson::Null) ],
                "by_status": [ group_rates(Bson::String("$status".into())), { "$sort": { "orders": -1 } } ],
                "by_scheme": [ group_rates(Bson::Document(scheme_expr())), { "$sort": { "orders": -1 } } ],
                "by_vendor": [
                    { "$match": { "vendor_id": { "$type": "string" } } },
                    group_rates(Bson::String("$vendor_id".into())),
                    { "$sort": { "failed": -1, "_id": 1 } },
                    { "$limit": 50 },
                ],
                "by_day": [
                    group_rates(Bson::Document(doc! { "$dateToString": { "format": "%Y-%m-%d", "date": "$created_at", "timezone": time_zone } })),
                    { "$sort": { "_id": 1 } },
                ],
                "completion": [
                    completed.clone(),
                    duration.clone(),
                    { "$match": { "d": { "$gte": 0 } } },
                    { "$group": { "_id": Bson::Null, "ds": { "$push": "$d" } } },
                    { "$project": { "n": { "$size": "$ds" }, "sorted": { "$sortArray": { "input": "$ds", "sortBy": 1 } } } },
                    { "$project": { "n": 1, "p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99) } },
                ],
                "histogram": [
                    completed,
                    duration,
                    { "$match": { "d": { "$gte": 0 } } },
                    { "$bucket": { "groupBy": "$d", "boundaries": boundaries, "default": "longer", "output": { "n": { "$sum": 1 } } } },
                ],
            } },
        ];
        let orders = self.collection(ORDERS);
        let mut out: Vec<Document> = self
            .run_for("failure_report", ORDERS, REPORT_TIMEOUT, async {
                orders.aggregate(pipeline).allow_disk_use(true).await?.try_collect().await
            })
            .await?;
        let d = out.pop().unwrap_or_default();
        let completion_doc = d
            .get_array("completion")
            .ok()
            .and_then(|a| a.first())
            .and_then(Bson::as_document)
            .cloned()
            .unwrap_or_default();
        let histogram = d
            .get_array("histogram")
            .map(|rows| {
                rows.iter()
                    .filter_map(Bson::as_document)
                    .map(|b| {
                        let label = match b.get("_id") {
                            Some(Bson::Int64(low)) => {
                                let low_min = *low as u64 / 60_000;
                                let high =
                                    COMPLETION_BUCKETS_MIN.iter().find(|m| **m > low_min).copied().unwrap_or(low_min);
                                format!("{low_min}–{high} min")
                            }
                            _ => format!("over {} min", COMPLETION_BUCKETS_MIN.last().copied().unwrap_or(0)),
                        };
                        (label, count(b.get("n")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(FailureReport {
            days,
            total: rates(&d, "total").into_iter().next().map(|r| Rate { key: "all".into(), ..r }).unwrap_or_default(),
            by_scheme: rates(&d, "by_scheme"),
            by_status: rates(&d, "by_status"),
            by_vendor: rates(&d, "by_vendor"),
            by_day: rates(&d, "by_day"),
            completion: Completion {
                orders: count(completion_doc.get("n")),
                p50_minutes: minutes(&completion_doc, "p50"),
                p90_minutes: minutes(&completion_doc, "p90"),
                p99_minutes: minutes(&completion_doc, "p99"),
                histogram,
            },
        })
    }
}
