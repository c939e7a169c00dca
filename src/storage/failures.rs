//! Day figures for the failures report: each day's orders aggregated on the server into one
//! small document in `failure_figures`, keyed by zone and day. Computing them walks that day's
//! orders once through the `created_at` index; reading them back is one `_id` lookup per day.
//! When to recompute which day is `monitoring::failure_report`'s decision.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::{TryStreamExt, future::join_all};
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};

use super::{StorageError, Store, names::FAILURE_FIGURES, names::ORDERS, values::count};
use crate::domain::{
    failures::{DayFigures, GroupCount},
    ids::OrderId,
};

/// Computing figures walks up to 90 days of orders on the first report: allow more than a lookup.
const COMPUTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Figures as stored, with when they were computed.
#[derive(Debug, Clone)]
pub struct StoredFigures {
    pub figures: DayFigures,
    pub built_at: DateTime<Utc>,
}

fn figures_id(zone: &str, day: NaiveDate) -> String {
    format!("{zone}|{}", day.format("%Y-%m-%d"))
}

/// ID scheme of an order, as the list filter names them.
fn scheme_expr() -> Document {
    doc! { "$switch": {
        "branches": [
            { "case": { "$eq": [ { "$type": "$order_number" }, "string" ] }, "then": "BB" },
            { "case": { "$in": [ { "$ifNull": [ "$order_id", "" ] }, [ "" ] ] }, "then": "order_id missing" },
            { "case": { "$regexMatch": { "input": { "$toString": "$order_id" }, "regex": OrderId::ORD_PATTERN } }, "then": "ORD" },
            { "case": { "$regexMatch": { "input": { "$toString": "$order_id" }, "regex": OrderId::UUID_PATTERN } }, "then": "UUID" },
        ],
        "default": "other",
    } }
}

fn text(d: &Document, key: &str) -> Option<String> {
    match d.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn day_of(d: &Document) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(d.get_str("d").ok()?, "%Y-%m-%d").ok()
}

fn group_to_bson(g: &GroupCount) -> Document {
    let opt = |v: &Option<String>| v.clone().map(Bson::String).unwrap_or(Bson::Null);
    doc! { "status": opt(&g.status), "vendor": opt(&g.vendor), "scheme": &g.scheme, "orders": g.orders as i64 }
}

fn group_from_bson(d: &Document) -> GroupCount {
    GroupCount {
        status: text(d, "status"),
        vendor: text(d, "vendor"),
        scheme: text(d, "scheme").unwrap_or_else(|| "other".into()),
        orders: count(d.get("orders")),
    }
}

fn stored_from_bson(d: &Document) -> Option<StoredFigures> {
    let day = NaiveDate::parse_from_str(d.get_str("day").ok()?, "%Y-%m-%d").ok()?;
    let docs = |key| d.get_array(key).map(|a| a.iter().filter_map(Bson::as_document).collect::<Vec<_>>());
    Some(StoredFigures {
        built_at: super::values::datetime(d.get("built_at"))?,
        figures: DayFigures {
            day,
            groups: docs("groups").ok()?.into_iter().map(group_from_bson).collect(),
            completion_minutes: docs("completion")
                .ok()?
                .into_iter()
                .map(|c| (count(c.get("minutes")), count(c.get("orders"))))
                .collect(),
        },
    })
}

impl Store {
    /// The stored figures of `days` in `zone`; days never computed are absent.
    pub async fn stored_day_figures(&self, zone: &str, days: &[NaiveDate]) -> Result<Vec<StoredFigures>, StorageError> {
        let ids: Vec<String> = days.iter().map(|d| figures_id(zone, *d)).collect();
        let coll = self.collection(FAILURE_FIGURES);
        let found: Vec<Document> = self
            .run("stored_day_figures", FAILURE_FIGURES, async {
                coll.find(doc! { "_id": { "$in": ids } }).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(found.iter().filter_map(stored_from_bson).collect())
    }

    /// Aggregates the orders created in `[start, end)`, the days `first..=last` in `zone`, and
    /// stores one figures document per day (days without orders too, so they count as done).
    pub async fn compute_day_figures(
        &self,
        zone: &str,
        (first, last): (NaiveDate, NaiveDate),
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
    ) -> Result<Vec<DayFigures>, StorageError> {
        let created = doc! { "$gte": BsonTime::from_millis(start.timestamp_millis()), "$lt": BsonTime::from_millis(end.timestamp_millis()) };
        let day = doc! { "$dateToString": { "format": "%Y-%m-%d", "date": "$created_at", "timezone": zone } };
        let groups = vec![
            doc! { "$match": { "created_at": created.clone() } },
            doc! { "$group": {
                "_id": {
                    "d": day.clone(),
                    "status": { "$cond": [ { "$eq": [ { "$type": "$status" }, "string" ] }, "$status", Bson::Null ] },
                    "vendor": { "$cond": [ { "$eq": [ { "$type": "$vendor_id" }, "string" ] }, "$vendor_id", Bson::Null ] },
                    "scheme": scheme_expr(),
                },
                "orders": { "$sum": 1 },
            } },
        ];
        let completion = vec![
            doc! { "$match": { "created_at": created, "status": "completed", "completed_at": { "$type": "date" } } },
            doc! { "$project": { "d": day, "minutes": { "$floor": { "$divide": [ { "$subtract": [ "$completed_at", "$created_at" ] }, 60_000 ] } } } },
            doc! { "$match": { "minutes": { "$gte": 0 } } },
            doc! { "$group": { "_id": { "d": "$d", "minutes": "$minutes" }, "orders": { "$sum": 1 } } },
        ];
        let orders = self.collection(ORDERS);
        let aggregate = |name: &'static str, pipeline: Vec<Document>| {
            let orders = orders.clone();
            self.run_for(name, ORDERS, COMPUTE_TIMEOUT, async move {
                orders
                    .aggregate(pipeline)
                    .max_time(COMPUTE_TIMEOUT)
                    .allow_disk_use(true)
                    .await?
                    .try_collect::<Vec<Document>>()
                    .await
            })
        };
        // `join!`, not `try_join!`: one failing must not drop the other half way through the
        // driver (see `PoolGate`).
        let (group_rows, completion_rows) = futures::join!(
            aggregate("failure_figures.groups", groups),
            aggregate("failure_figures.completion", completion)
        );
        let (group_rows, completion_rows) = (group_rows?, completion_rows?);

        let mut figures: Vec<DayFigures> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|day| DayFigures { day, groups: Vec::new(), completion_minutes: Vec::new() })
            .collect();
        let slot = |figures: &[DayFigures], key: &Document| {
            let day = day_of(key)?;
            figures.iter().position(|f| f.day == day)
        };
        for row in &group_rows {
            let Ok(key) = row.get_document("_id") else { continue };
            if let Some(i) = slot(&figures, key) {
                let mut g = group_from_bson(key);
                g.orders = count(row.get("orders"));
                figures[i].groups.push(g);
            }
        }
        for row in &completion_rows {
            let Ok(key) = row.get_document("_id") else { continue };
            if let Some(i) = slot(&figures, key) {
                figures[i].completion_minutes.push((count(key.get("minutes")), count(row.get("orders"))));
            }
        }
        for f in &mut figures {
            f.completion_minutes.sort_unstable();
        }

        let coll = self.collection(FAILURE_FIGURES);
        let built_at = BsonTime::from_millis(now.timestamp_millis());
        join_all(figures.iter().map(|f| {
            let id = figures_id(zone, f.day);
            let stored = doc! {
                "_id": &id,
                "zone": zone,
                "day": f.day.format("%Y-%m-%d").to_string(),
                "built_at": built_at,
                "groups": f.groups.iter().map(group_to_bson).collect::<Vec<_>>(),
                "completion": f.completion_minutes.iter().map(|(m, n)| doc! { "minutes": *m as i64, "orders": *n as i64 }).collect::<Vec<_>>(),
            };
            let coll = coll.clone();
            self.run("store_day_figures", FAILURE_FIGURES, async move {
                coll.replace_one(doc! { "_id": id }, stored).upsert(true).await
            })
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        Ok(figures)
    }
}

/// Statuses of a payment that took the customer's money.
const PAID: [&str; 4] = ["succeeded", "paid", "completed", "success"];
/// Refund states that mean the money went back.
const REFUNDED: [&str; 3] = ["refunded", "completed", "done"];

impl Store {
    /// Failed orders created since `since` with a successful payment and no refund, newest
    /// first, at most `limit + 1` (so the caller can say the list is cut). One aggregate: the
    /// failed orders by the (status, created_at) index, their payments joined by `order_id`.
    pub async fn refund_candidates(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<crate::domain::failures::RefundCandidate>, StorageError> {
        let orders = self.collection(ORDERS);
        let pipeline = vec![
            doc! { "$match": {
                "status": "failed",
                "created_at": { "$gte": BsonTime::from_millis(since.timestamp_millis()) },
                "order_id": { "$type": "string" },
                "refund_status": { "$nin": REFUNDED.to_vec() },
            } },
            doc! { "$sort": { "created_at": -1, "_id": -1 } },
            doc! { "$lookup": {
                "from": super::names::PAYMENTS, "localField": "order_id", "foreignField": "order_id",
                "pipeline": [ { "$match": { "status": { "$in": PAID.to_vec() } } }, { "$limit": 20 } ],
                "as": "_od_paid",
            } },
            doc! { "$match": { "_od_paid.0": { "$exists": true } } },
            doc! { "$limit": limit as i64 + 1 },
        ];
        let docs: Vec<Document> = self
            .run("refund_candidates", ORDERS, async {
                orders.aggregate(pipeline).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(docs
            .into_iter()
            .map(|mut d| {
                let paid = match d.remove("_od_paid") {
                    Some(Bson::Array(items)) => items
                        .iter()
                        .filter_map(|p| p.as_document())
                        .map(|p| (super::orders::number(p.get("amount")).unwrap_or(0.0), p.get_str("currency").ok()))
                        .map(|(amount, currency)| (amount, currency.map(str::to_owned)))
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                let currency =
                    paid.iter().find_map(|(_, c)| c.clone()).or_else(|| d.get_str("currency").ok().map(str::to_owned));
                crate::domain::failures::RefundCandidate {
                    paid: paid.iter().map(|(a, _)| a).sum(),
                    currency,
                    failure_reason: d.get_str("failure_reason").ok().filter(|s| !s.is_empty()).map(str::to_owned),
                    failed_at: super::values::datetime(d.get("failed_at")),
                    order: super::orders::summary_from_document(&d),
                }
            })
            .collect())
    }
}
