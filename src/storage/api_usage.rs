//! `api_key_usage`: one document per (key, minute), `_id` `"{key}|{minute in ms}"`, to which
//! each process adds its calls with `$inc` (counts and latency buckets), `$min` and `$max`
//! (times). A TTL index drops a minute a week after it ended.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::API_USAGE,
    values::{count, datetime},
};
use crate::domain::api_usage::{BUCKETS, MinuteUsage, Tally, UsageLine};

/// How long a minute is kept: the page shows a day; a week is there for questions after.
pub const KEEP: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

fn minute_id(key: &str, minute: DateTime<Utc>) -> String {
    format!("{key}|{}", minute.timestamp_millis())
}

/// The count fields of a minute's document, summed over minutes by [`Store::api_usage_by_key`].
const COUNTS: [&str; 5] = ["calls", "ok", "rejected", "failed", "limited"];

fn counts(t: &Tally) -> [(&'static str, i64); 5] {
    let values = [t.calls, t.ok, t.rejected, t.failed, t.limited];
    std::array::from_fn(|i| (COUNTS[i], values[i] as i64))
}

/// Latency bucket `i`'s field in a minute's `latency` document.
fn bucket_field(i: usize) -> String {
    format!("b{i}")
}

/// The latency buckets that saw calls (the empty ones are not stored).
fn latency_buckets(t: &Tally) -> impl Iterator<Item = (String, i64)> + '_ {
    t.latency.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (bucket_field(i), *n as i64))
}

/// The update that adds `tally` to its minute's document.
fn addition(tally: &Tally) -> Document {
    let mut inc: Document = counts(tally).into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    for (bucket, n) in latency_buckets(tally) {
        inc.insert(format!("latency.{bucket}"), n);
    }
    let (mut max, mut min) = (doc! {}, doc! {});
    for (field, value) in [("last_at", tally.last_at), ("last_ok_at", tally.last_ok_at)] {
        if let Some(t) = value {
            max.insert(field, bson_time(t));
        }
    }
    if let Some(t) = tally.first_error_at {
        min.insert("first_error_at", bson_time(t));
    }
    let mut update = doc! { "$inc": inc };
    if let (Some(t), Some(status)) = (tally.last_error_at, tally.last_error_status) {
        // The status goes with the time: two processes writing one minute may leave the
        // other's status; the page names it as the status of "a" late failure.
        max.insert("last_error_at", bson_time(t));
        update.insert("$set", doc! { "last_error_status": i32::from(status) });
    }
    if !max.is_empty() {
        update.insert("$max", max);
    }
    if !min.is_empty() {
        update.insert("$min", min);
    }
    update
}

/// A whole minute's document, as [`addition`] upserted once would leave it.
fn minute_document(key: &str, m: &MinuteUsage) -> Document {
    let t = &m.tally;
    let latency: Document = latency_buckets(t).map(|(k, v)| (k, v.into())).collect();
    let mut d = doc! { "_id": minute_id(key, m.minute), "key": key, "minute": bson_time(m.minute) };
    for (field, n) in counts(t) {
        d.insert(field, n);
    }
    d.insert("latency", latency);
    let times = [
        ("last_at", t.last_at),
        ("last_ok_at", t.last_ok_at),
        ("first_error_at", t.first_error_at),
        ("last_error_at", t.last_error_at),
    ];
    for (field, value) in times {
        if let Some(at) = value {
            d.insert(field, bson_time(at));
        }
    }
    if let Some(status) = t.last_error_status {
        d.insert("last_error_status", i32::from(status));
    }
    d
}

fn tally(d: &Document) -> Tally {
    let mut latency = [0; BUCKETS];
    if let Ok(buckets) = d.get_document("latency") {
        for (i, n) in latency.iter_mut().enumerate() {
            *n = count(buckets.get(bucket_field(i)));
        }
    }
    let [calls, ok, rejected, failed, limited] = COUNTS.map(|field| count(d.get(field)));
    Tally {
        calls,
        ok,
        rejected,
        failed,
        limited,
        latency,
        last_at: datetime(d.get("last_at")),
        last_ok_at: datetime(d.get("last_ok_at")),
        first_error_at: datetime(d.get("first_error_at")),
        last_error_at: datetime(d.get("last_error_at")),
        last_error_status: d.get_i32("last_error_status").ok().and_then(|s| u16::try_from(s).ok()),
    }
}

impl Store {
    /// Adds one process's counts of one key's minute to that minute's document.
    pub async fn add_api_usage(&self, key: &str, m: &MinuteUsage) -> Result<(), StorageError> {
        let usage = self.collection(API_USAGE);
        let id = minute_id(key, m.minute);
        let mut update = addition(&m.tally);
        update.insert("$setOnInsert", doc! { "key": key, "minute": bson_time(m.minute) });
        self.run("api_usage_add", API_USAGE, usage.update_one(doc! { "_id": id }, update).upsert(true)).await.map(drop)
    }

    /// Writes whole minutes at once (the demo data's day of calls), one insert per batch.
    pub async fn insert_api_usage(&self, key: &str, minutes: &[MinuteUsage]) -> Result<(), StorageError> {
        let usage = self.collection(API_USAGE);
        for chunk in minutes.chunks(1000) {
            let docs = chunk.iter().map(|m| minute_document(key, m));
            self.run("api_usage_insert", API_USAGE, usage.insert_many(docs)).await?;
        }
        Ok(())
    }

    /// One key's minutes from `since` on.
    pub async fn api_usage(&self, key: &str, since: DateTime<Utc>) -> Result<Vec<MinuteUsage>, StorageError> {
        let usage = self.collection(API_USAGE);
        let filter = doc! { "key": key, "minute": { "$gt": bson_time(since) } };
        let docs: Vec<Document> = self
            .run("api_usage_read", API_USAGE, async {
                usage.find(filter).sort(doc! { "minute": 1 }).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| Some(MinuteUsage { minute: datetime(d.get("minute"))?, tally: tally(d) }))
            .collect())
    }

    /// Every key's calls from `since` on, one line per key (for the list of keys): summed
    /// in the database, so the list reads one document per key however busy the bots were.
    pub async fn api_usage_by_key(&self, since: DateTime<Utc>) -> Result<Vec<UsageLine>, StorageError> {
        let usage = self.collection(API_USAGE);
        let mut group = doc! { "_id": "$key" };
        for field in COUNTS {
            group.insert(field, doc! { "$sum": format!("${field}") });
        }
        for field in ["last_at", "last_ok_at", "last_error_at"] {
            group.insert(field, doc! { "$max": format!("${field}") });
        }
        group.insert("first_error_at", doc! { "$min": "$first_error_at" });
        // Sorted by the last error first, so `$last` is the status of each key's latest error
        // (`$top` would say it directly, but needs MongoDB 5.2).
        group.insert("last_error_status", doc! { "$last": "$last_error_status" });
        let pipeline = [
            doc! { "$match": { "minute": { "$gt": bson_time(since) } } },
            doc! { "$sort": { "last_error_at": 1 } },
            doc! { "$group": group },
        ];
        let docs: Vec<Document> = self
            .run("api_usage_lines", API_USAGE, async {
                usage.aggregate(pipeline).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| Some(UsageLine { key: d.get_str("_id").ok()?.to_owned(), totals: tally(d) }))
            .collect())
    }
}
