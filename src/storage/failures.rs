//! Day figures for the failures report: each day's orders aggregated on the server into one
//! small document in `failure_figures`, keyed by zone and day. Computing them walks that day's
//! orders once through the `created_at` index; reading them back is one `_id` lookup per day.
//! When to recompute which day is `monitoring::failure_report`'s decision.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::{TryStreamExt, future::join_all};
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};
use serde::{Deserialize, Serialize};

use super::values::{bson_time, typed};
use super::{StorageError, Store, names::FAILURE_FIGURES, names::ORDERS, sources::SourceDb, values::count};
use crate::config::Fact;
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

/// `$field` of `fact` in a source's orders, for an aggregation expression.
fn path(source: &SourceDb, fact: Fact) -> String {
    format!("${}", source.field_or_none(fact))
}

/// ID scheme of an order, as the list filter names them. A marketplace that keeps no
/// order_id names its orders by number: "other" there, never "order_id missing".
fn scheme_expr(source: &SourceDb) -> Document {
    let (number, id) = (path(source, Fact::OrderNumber), path(source, Fact::OrderId));
    let missing = if source.field(Fact::OrderId).is_some() { "order_id missing" } else { "other" };
    doc! { "$switch": {
        "branches": [
            { "case": { "$eq": [ { "$type": &number }, "string" ] }, "then": "BB" },
            { "case": { "$in": [ { "$ifNull": [ &id, "" ] }, [ "" ] ] }, "then": missing },
            { "case": { "$regexMatch": { "input": { "$toString": &id }, "regex": OrderId::ORD_PATTERN } }, "then": "ORD" },
            { "case": { "$regexMatch": { "input": { "$toString": &id }, "regex": OrderId::UUID_PATTERN } }, "then": "UUID" },
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

/// A group as the aggregation's `$group` key holds it (its count comes beside it).
fn group_key(d: &Document) -> GroupCount {
    GroupCount {
        status: text(d, "status"),
        vendor: text(d, "vendor"),
        scheme: text(d, "scheme").unwrap_or_else(|| "other".into()),
        orders: 0,
    }
}

/// One day's figures as `failure_figures` keeps them (a cache of an aggregation: one that does
/// not parse is recomputed, never shown).
#[derive(Debug, Serialize, Deserialize)]
struct FiguresDocument {
    #[serde(rename = "_id")]
    id: String,
    zone: String,
    day: NaiveDate,
    built_at: BsonTime,
    groups: Vec<GroupDocument>,
    completion: Vec<CompletionDocument>,
}

#[derive(Debug, Serialize, Deserialize)]
struct GroupDocument {
    status: Option<String>,
    vendor: Option<String>,
    scheme: String,
    orders: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CompletionDocument {
    minutes: i64,
    orders: i64,
}

impl FiguresDocument {
    fn of(zone: &str, f: &DayFigures, built_at: BsonTime) -> Self {
        Self {
            id: figures_id(zone, f.day),
            zone: zone.to_owned(),
            day: f.day,
            built_at,
            groups: f
                .groups
                .iter()
                .map(|g| GroupDocument {
                    status: g.status.clone(),
                    vendor: g.vendor.clone(),
                    scheme: g.scheme.clone(),
                    orders: g.orders as i64,
                })
                .collect(),
            completion: f
                .completion_minutes
                .iter()
                .map(|&(minutes, orders)| CompletionDocument { minutes: minutes as i64, orders: orders as i64 })
                .collect(),
        }
    }

    fn stored(self) -> StoredFigures {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        StoredFigures {
            built_at: super::values::chrono_time(self.built_at),
            figures: DayFigures {
                day: self.day,
                groups: self
                    .groups
                    .into_iter()
                    .map(|g| GroupCount { status: g.status, vendor: g.vendor, scheme: g.scheme, orders: n(g.orders) })
                    .collect(),
                completion_minutes: self.completion.into_iter().map(|c| (n(c.minutes), n(c.orders))).collect(),
            },
        }
    }
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
        Ok(found
            .into_iter()
            .filter_map(|d| match typed::<FiguresDocument>(FAILURE_FIGURES, d) {
                Ok(f) => Some(f.stored()),
                // Absent to the report, so it is computed again and replaced.
                Err(e) => {
                    tracing::warn!(error = %e, "stored failure figures do not parse; computing them again");
                    None
                }
            })
            .collect())
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
        let created = doc! { "$gte": bson_time(start), "$lt": bson_time(end) };
        let pipelines = |s: &SourceDb| {
            let at = path(s, Fact::CreatedAt);
            let day = doc! { "$dateToString": { "format": "%Y-%m-%d", "date": &at, "timezone": zone } };
            let (status, vendor) = (path(s, Fact::Status), path(s, Fact::Vendor));
            let groups = vec![
                doc! { "$match": { s.field_or_none(Fact::CreatedAt): created.clone() } },
                doc! { "$group": {
                    "_id": {
                        "d": day.clone(),
                        "status": { "$cond": [ { "$eq": [ { "$type": &status }, "string" ] }, &status, Bson::Null ] },
                        // Mongoose refers to the vendor by ObjectId: its hex is the vendor's name here.
                        "vendor": { "$cond": [ { "$in": [ { "$type": &vendor }, ["string", "objectId"] ] }, { "$toString": &vendor }, Bson::Null ] },
                        "scheme": scheme_expr(s),
                    },
                    "orders": { "$sum": 1 },
                } },
            ];
            let completed = if s.is_own() || s.kind == Some(crate::domain::orders::Source::ShippingBot) {
                "completed_at"
            } else {
                "completedAt"
            };
            let completion = vec![
                doc! { "$match": { s.field_or_none(Fact::CreatedAt): created.clone(), s.field_or_none(Fact::Status): "completed", completed: { "$type": "date" } } },
                doc! { "$project": { "d": day, "minutes": { "$floor": { "$divide": [ { "$subtract": [ format!("${completed}"), &at ] }, 60_000 ] } } } },
                doc! { "$match": { "minutes": { "$gte": 0 } } },
                doc! { "$group": { "_id": { "d": "$d", "minutes": "$minutes" }, "orders": { "$sum": 1 } } },
            ];
            (groups, completion)
        };
        let aggregate = |s: &SourceDb, name: &'static str, pipeline: Vec<Document>| {
            let orders = s.orders();
            let gate = s.gate.clone();
            async move {
                self.run_gated(&gate, name, ORDERS, COMPUTE_TIMEOUT, async move {
                    orders
                        .aggregate(pipeline)
                        .max_time(COMPUTE_TIMEOUT)
                        .allow_disk_use(true)
                        .await?
                        .try_collect::<Vec<Document>>()
                        .await
                })
                .await
            }
        };
        // `join_all`, not `try_join_all`: one failing must not drop the others half way through
        // the driver (see `PoolGate`). Every source at once, both halves each.
        let runs = self.sources().iter().map(|s| {
            let (groups, completion) = pipelines(s);
            futures::future::join(
                aggregate(s, "failure_figures.groups", groups),
                aggregate(s, "failure_figures.completion", completion),
            )
        });
        let (mut group_rows, mut completion_rows) = (Vec::new(), Vec::new());
        for (groups, completion) in join_all(runs).await {
            group_rows.extend(groups?);
            completion_rows.extend(completion?);
        }

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
                let mut g = group_key(key);
                g.orders = count(row.get("orders"));
                // The same group may come from two sources (a status both systems use).
                match figures[i]
                    .groups
                    .iter_mut()
                    .find(|h| (&h.status, &h.vendor, &h.scheme) == (&g.status, &g.vendor, &g.scheme))
                {
                    Some(h) => h.orders += g.orders,
                    None => figures[i].groups.push(g),
                }
            }
        }
        for row in &completion_rows {
            let Ok(key) = row.get_document("_id") else { continue };
            if let Some(i) = slot(&figures, key) {
                let (minutes, orders) = (count(key.get("minutes")), count(row.get("orders")));
                match figures[i].completion_minutes.iter_mut().find(|(m, _)| *m == minutes) {
                    Some((_, n)) => *n += orders,
                    None => figures[i].completion_minutes.push((minutes, orders)),
                }
            }
        }
        for f in &mut figures {
            f.completion_minutes.sort_unstable();
        }

        let coll = self.collection(FAILURE_FIGURES).clone_with_type::<FiguresDocument>();
        let built_at = bson_time(now);
        join_all(figures.iter().map(|f| {
            let stored = FiguresDocument::of(zone, f, built_at);
            let coll = coll.clone();
            self.run("store_day_figures", FAILURE_FIGURES, async move {
                coll.replace_one(doc! { "_id": &stored.id }, &stored).upsert(true).await
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
        // Payments are the bot's: its orders are the ones that can be paid and failed.
        let bot = self.bot()?;
        let orders = bot.orders();
        let (created, order_id) = (bot.field_or_none(Fact::CreatedAt), bot.field_or_none(Fact::OrderId));
        let pipeline = vec![
            doc! { "$match": {
                bot.field_or_none(Fact::Status): "failed",
                created: { "$gte": bson_time(since) },
                order_id: { "$type": "string" },
                "refund_status": { "$nin": REFUNDED.to_vec() },
            } },
            doc! { "$sort": { created: -1, "_id": -1 } },
            doc! { "$lookup": {
                "from": &bot.collections().payments, "localField": order_id, "foreignField": "order_id",
                "pipeline": [ { "$match": { "status": { "$in": PAID.to_vec() } } }, { "$limit": 20 } ],
                "as": "_od_paid",
            } },
            doc! { "$match": { "_od_paid.0": { "$exists": true } } },
            doc! { "$limit": limit as i64 + 1 },
        ];
        let docs: Vec<Document> = self
            .run_in(bot, "refund_candidates", ORDERS, async {
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
                        .map(|p| (super::values::number(p.get("amount")).unwrap_or(0.0), p.get_str("currency").ok()))
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
                    order: bot.summary(&d),
                }
            })
            .collect())
    }
}
