//! The marketplace's `ordercounters` collection: `{counterId, sequence, lastUpdated}`.
//!
//! Numbers are drawn with one atomic `findOneAndUpdate` + `$inc` upsert, as the marketplace
//! does, with one difference: the filter also says `sequence < cap`, so the counter itself
//! never passes 99,999. At the cap the filter matches nothing, the upsert collides with the
//! existing counter on the unique `counterId` index, and the caller gets `Exhausted`.

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{Bson, Document, doc},
    options::ReturnDocument,
};

use super::values::bson_time;
use super::{StorageError, Store, names::COUNTERS, sources::SourceDb};
use crate::{
    config::Fact,
    domain::ids::{CounterId, MAX_DAILY_SEQUENCE},
};

/// `[from, to)` as a query on a date field.
fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Document {
    doc! { "$gte": bson_time(from), "$lt": bson_time(to) }
}

/// Above this many vendors, their orders are read by the vendor field's type and kept per
/// vendor here, not named in an `$in`: mongod makes an index interval per value, and at 5,000
/// vendors (10,000 values with their ObjectId forms) that cost it more than reading every
/// vendor's orders of the window (BENCHMARKS.md, "The counters page as vendors grow"). The
/// vendors with a counter today are nearly all those with numbered orders today, so little
/// more is read.
const VENDORS_LISTED_MOST: usize = 1_000;

/// The vendor of an order as text (an ObjectId reference as its hex), for grouping.
fn vendor_text(m: &SourceDb) -> Bson {
    Bson::Document(doc! { "$toString": format!("${}", m.field_or_none(Fact::Vendor)) })
}

/// Why no number could be drawn.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CounterError {
    #[error("counter {counter} has reached {max} numbers; no more can be issued {}", when_next(counter))]
    Exhausted { counter: String, max: u32 },
    /// A time-based or year-based number that every try found held by another vendor's issue.
    #[error(
        "the numbers counter {counter} drew for this user were all held by other vendors' numbers ({tries} tries); try again"
    )]
    Clashes { counter: String, tries: u32 },
    /// Every number lane is held by other processes (`number_lanes.rs`).
    #[error(
        "every one of the {lanes} number lanes is held by another orderdesk process; numbers can be issued again when one stops (within {seconds} s)"
    )]
    NoLane { lanes: u32, seconds: i64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A field holding a number of a daily counter: ultra or year-based, not time-based
/// (`BB-{10-digit seconds}-…`, which counts on its time bucket's counter).
fn daily_numbers() -> Document {
    let time_based = mongodb::bson::Regex { pattern: "^BB-[0-9]{10}-".into(), options: String::new() };
    doc! { "$type": "string", "$not": time_based }
}

/// When a full counter's vendor gets numbers again.
fn when_next(counter: &str) -> &'static str {
    match CounterId::parse(counter) {
        Ok(id) if id.bucket.is_some() => "until the next time bucket",
        _ => "until tomorrow",
    }
}

/// How often a race on a brand-new counter (two first upserts at once) is retried.
const UPSERT_RACE_RETRIES: usize = 3;

impl Store {
    /// The counters, written with majority acknowledgement: a sequence handed out is never
    /// rolled back by a failover and handed out again.
    fn counters(&self) -> Result<(&SourceDb, mongodb::Collection<Document>), StorageError> {
        let market = self.marketplace()?;
        let name = &market.collections().counters;
        Ok((
            market,
            market.database().collection_with_options(
                name,
                mongodb::options::CollectionOptions::builder()
                    .write_concern(mongodb::options::WriteConcern::majority())
                    .build(),
            ),
        ))
    }

    /// Draws the next number of a counter: one atomic round trip in the common case.
    #[tracing::instrument(skip(self, now), fields(counter = %counter))]
    pub async fn next_in_counter(&self, counter: &CounterId, now: DateTime<Utc>) -> Result<u32, CounterError> {
        let range = self.reserve_in_counter(counter, 1, now).await?;
        Ok(*range.start())
    }

    /// Reserves `size` consecutive numbers with one `$inc: size`; near the cap the block is
    /// cut to what is left. Returns the first and last number reserved.
    #[tracing::instrument(skip(self, now), fields(counter = %counter))]
    pub async fn reserve_in_counter(
        &self,
        counter: &CounterId,
        size: u32,
        now: DateTime<Utc>,
    ) -> Result<std::ops::RangeInclusive<u32>, CounterError> {
        let id = counter.to_string();
        let mut size = size.clamp(1, MAX_DAILY_SEQUENCE);
        let (market, counters) = self.counters()?;
        for _ in 0..=UPSERT_RACE_RETRIES {
            let limit = i64::from(MAX_DAILY_SEQUENCE - size);
            let mut update = doc! {
                "$inc": { "sequence": i64::from(size) },
                "$set": { "lastUpdated": bson_time(now) },
            };
            // A counter the marketplace's own Mongoose model could have made: with its `__v`.
            if !market.is_own() {
                update.insert("$setOnInsert", doc! { "__v": 0 });
            }
            // Waits out an election: a first try that landed unacknowledged costs a gap, never
            // a repeat (majority writes are never rolled back).
            let result = self
                .run_retrying_in(market, "counter_inc", COUNTERS, || {
                    counters
                        .find_one_and_update(doc! { "counterId": &id, "sequence": { "$lte": limit } }, update.clone())
                        .max_time(self.op_timeout)
                        .upsert(true)
                        .return_document(ReturnDocument::After)
                })
                .await;
            match result {
                Ok(Some(after)) => {
                    let last = sequence_of(&after).ok_or_else(|| malformed(&id))?;
                    return Ok(last + 1 - size..=last);
                }
                Ok(None) => return Err(malformed(&id).into()),
                Err(StorageError::DuplicateKey { .. }) => {
                    // Either the counter is (nearly) full, or another caller created it first.
                    let current = self.counter_sequence(&id).await?.unwrap_or(0);
                    if current >= MAX_DAILY_SEQUENCE {
                        return Err(CounterError::Exhausted { counter: id, max: MAX_DAILY_SEQUENCE });
                    }
                    size = size.min(MAX_DAILY_SEQUENCE - current);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StorageError::Database { op: "counter_inc", message: format!("counter {id} kept colliding; try again") }
            .into())
    }

    /// The current sequence of a counter, if it exists.
    pub async fn counter_sequence(&self, counter_id: &str) -> Result<Option<u32>, StorageError> {
        let market = self.marketplace()?;
        let counters = market.counters();
        let found = self
            .run_retrying("counter_get", COUNTERS, || {
                counters.find_one(doc! { "counterId": counter_id }).max_time(self.op_timeout)
            })
            .await?;
        Ok(found.as_ref().and_then(sequence_of))
    }

    /// Sets a counter's sequence outright (tests and the maintenance tools).
    pub async fn set_counter(
        &self,
        counter: &CounterId,
        sequence: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let market = self.marketplace()?;
        let counters = market.counters();
        let update = doc! { "$set": { "sequence": i64::from(sequence), "lastUpdated": bson_time(now) } };
        self.run_in(
            market,
            "counter_set",
            COUNTERS,
            counters.update_one(doc! { "counterId": counter.to_string() }, update).upsert(true),
        )
        .await
        .map(drop)
    }
}

/// Mongoose may have stored the sequence as a 32- or 64-bit integer or a double.
fn sequence_of(d: &Document) -> Option<u32> {
    match d.get("sequence")? {
        Bson::Int32(n) => u32::try_from(*n).ok(),
        Bson::Int64(n) => u32::try_from(*n).ok(),
        Bson::Double(x) if x.fract() == 0.0 && *x >= 0.0 && *x <= f64::from(u32::MAX) => Some(*x as u32),
        _ => None,
    }
}

fn malformed(id: &str) -> StorageError {
    StorageError::Database { op: "counter_inc", message: format!("counter {id} has no numeric sequence") }
}

/// How long the malformed counters found are believed before the counters are read again.
/// No index serves "does not look like a counter ID", so finding them reads every counter
/// ever kept (a year of 1,000 vendors a day is 365,000), and the counters page asks on every
/// view and live refresh. A counter written malformed shows within this time.
pub const MALFORMED_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// The malformed counters this process last found, and when (see [`MALFORMED_RECHECK`]).
#[derive(Debug, Default)]
pub(crate) struct MalformedCache(std::sync::Mutex<Option<(std::time::Instant, Vec<RawCounter>)>>);

impl MalformedCache {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, Vec<RawCounter>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self) -> Option<Vec<RawCounter>> {
        self.held().as_ref().filter(|(at, _)| at.elapsed() < MALFORMED_RECHECK).map(|(_, found)| found.clone())
    }

    fn keep(&self, found: &[RawCounter]) {
        *self.held() = Some((std::time::Instant::now(), found.to_vec()));
    }
}

/// A counter document as the marketplace wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCounter {
    pub counter_id: String,
    pub sequence: u64,
    pub last_updated: Option<DateTime<Utc>>,
}

fn raw_counter(d: &Document) -> Option<RawCounter> {
    Some(RawCounter {
        counter_id: d.get_str("counterId").ok()?.to_owned(),
        sequence: sequence_of(d).map(u64::from).unwrap_or(0),
        last_updated: super::values::datetime(d.get("lastUpdated")),
    })
}

impl Store {
    /// Counters whose `counterId` starts with `prefix` (`YYYYMMDD-` for a day: an index range),
    /// the highest sequence first, at most `limit`.
    pub async fn counters_with_prefix(&self, prefix: &str, limit: i64) -> Result<Vec<RawCounter>, StorageError> {
        use futures::TryStreamExt;
        let escaped: String = prefix.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let market = self.marketplace()?;
        let counters = market.counters();
        let filter = doc! { "counterId": { "$regex": format!("^{escaped}") } };
        let docs: Vec<Document> = self
            .run("counter_list", COUNTERS, async {
                counters
                    .find(filter)
                    .max_time(self.op_timeout)
                    .sort(doc! { "sequence": -1, "counterId": 1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs.iter().filter_map(raw_counter).collect())
    }

    /// Counters whose `counterId` looks like neither `YYYYMMDD-…` nor `YYYYMMDDTHHMM-…` (first
    /// 50), as read at most [`MALFORMED_RECHECK`] ago.
    pub async fn malformed_counters(&self) -> Result<Vec<RawCounter>, StorageError> {
        use futures::TryStreamExt;
        if let Some(found) = self.malformed.fresh() {
            return Ok(found);
        }
        let market = self.marketplace()?;
        let counters = market.counters();
        let filter = doc! { "counterId": { "$not": { "$regex": "^[0-9]{8}(T[0-9]{4})?-" } } };
        let docs: Vec<Document> = self
            .run("counter_malformed", COUNTERS, async {
                counters.find(filter).max_time(self.op_timeout).limit(50).await?.try_collect().await
            })
            .await?;
        let found: Vec<RawCounter> = docs.iter().filter_map(raw_counter).collect();
        self.malformed.keep(&found);
        Ok(found)
    }

    /// The counters of these ids.
    pub async fn counters_by_id(&self, ids: &[String]) -> Result<Vec<RawCounter>, StorageError> {
        use futures::TryStreamExt;
        let market = self.marketplace()?;
        let counters = market.counters();
        let filter = doc! { "counterId": { "$in": ids } };
        let docs: Vec<Document> = self
            .run("counter_list", COUNTERS, async {
                counters.find(filter).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().filter_map(raw_counter).collect())
    }

    /// Per vendor: orders created in `[from, to)` (only those with a BB number if `numbered_only`).
    pub async fn numbered_orders_by_vendor(
        &self,
        vendors: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        numbered_only: bool,
    ) -> Result<std::collections::HashMap<String, u64>, StorageError> {
        let m = self.marketplace()?;
        let listed = vendors.len() <= VENDORS_LISTED_MOST;
        let vendor = if listed {
            let any: Vec<Bson> = vendors.iter().flat_map(|v| super::sources::as_stored(v)).collect();
            doc! { "$in": any }
        } else {
            // Every type `as_stored` reads a vendor as (and a 32-bit number, which `$in` matches too).
            doc! { "$type": ["string", "objectId", "long", "int"] }
        };
        let mut filter = doc! {
            m.field_or_none(Fact::Vendor): vendor,
            m.field_or_none(Fact::CreatedAt): between(from, to),
        };
        if numbered_only {
            filter.insert(m.field_or_none(Fact::OrderNumber), daily_numbers());
        }
        let mut counts = self.count_orders_by(m, "orders_per_vendor", filter, vendor_text(m)).await?;
        if !listed {
            let wanted: std::collections::HashSet<&str> = vendors.iter().map(String::as_str).collect();
            counts.retain(|v, _| wanted.contains(v.as_str()));
        }
        Ok(counts)
    }

    /// Numbered orders created in `[from, to)`, per vendor and hour of the day in `zone`
    /// (the counters' forecast learns each vendor's usual day from them).
    pub async fn numbered_orders_by_vendor_hour(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        zone: &str,
    ) -> Result<std::collections::HashMap<String, [u64; 24]>, StorageError> {
        let m = self.marketplace()?;
        let filter = doc! {
            m.field_or_none(Fact::CreatedAt): between(from, to),
            m.field_or_none(Fact::OrderNumber): { "$type": "string" },
            m.field_or_none(Fact::Vendor): { "$type": ["string", "objectId"] },
        };
        let at = format!("${}", m.field_or_none(Fact::CreatedAt));
        let hour = doc! { "$toString": { "$hour": { "date": at, "timezone": zone } } };
        let key = Bson::Document(doc! { "$concat": [vendor_text(m), "|", hour] });
        let counts = self.count_orders_by(m, "orders_per_vendor_hour", filter, key).await?;
        let mut by_vendor: std::collections::HashMap<String, [u64; 24]> = Default::default();
        for (key, n) in counts {
            if let Some((vendor, hour)) = key.rsplit_once('|')
                && let Ok(hour @ 0..24) = hour.parse::<usize>()
            {
                by_vendor.entry(vendor.to_owned()).or_insert([0; 24])[hour] += n;
            }
        }
        Ok(by_vendor)
    }

    /// The BB numbers one vendor's orders created in `[from, to)` hold (at most
    /// `MAX_DAILY_SEQUENCE` + 1,000: a day's numbers and then some duplicates).
    pub async fn numbers_held(
        &self,
        vendor: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<String>, StorageError> {
        use futures::TryStreamExt;
        let m = self.marketplace()?;
        let number = m.field_or_none(Fact::OrderNumber);
        let mut filter = m.matching(Fact::Vendor, vendor);
        filter.insert(m.field_or_none(Fact::CreatedAt), between(from, to));
        filter.insert(number, doc! { "$type": "string" });
        let orders = m.orders();
        let limit = i64::from(crate::domain::ids::MAX_DAILY_SEQUENCE) + 1_000;
        let docs: Vec<Document> = self
            .run_in(m, "numbers_held", super::names::ORDERS, async {
                orders
                    .find(filter)
                    .projection(doc! { "_id": 0, number: 1 })
                    .limit(limit)
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs.iter().filter_map(|d| d.get_str(number).ok().map(str::to_owned)).collect())
    }

    /// One vendor's orders numbered by its daily counter, per day (`YYYYMMDD` in `time_zone`) in `[from, to)`.
    pub async fn vendor_orders_per_day(
        &self,
        vendor: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        time_zone: &str,
    ) -> Result<std::collections::HashMap<String, u64>, StorageError> {
        let m = self.marketplace()?;
        let mut filter = m.matching(Fact::Vendor, vendor);
        filter.insert(m.field_or_none(Fact::CreatedAt), between(from, to));
        filter.insert(m.field_or_none(Fact::OrderNumber), daily_numbers());
        let at = format!("${}", m.field_or_none(Fact::CreatedAt));
        let day = doc! { "$dateToString": { "format": "%Y%m%d", "date": at, "timezone": time_zone } };
        self.count_orders_by(m, "vendor_orders_per_day", filter, Bson::Document(day)).await
    }

    /// Orders matching `filter`, counted per value of `key` (an aggregation expression).
    async fn count_orders_by(
        &self,
        market: &SourceDb,
        op: &'static str,
        filter: Document,
        key: Bson,
    ) -> Result<std::collections::HashMap<String, u64>, StorageError> {
        use futures::TryStreamExt;
        let pipeline = vec![doc! { "$match": filter }, doc! { "$group": { "_id": key, "n": { "$sum": 1 } } }];
        let orders = market.orders();
        let groups: Vec<Document> = self
            .run_in(market, op, super::names::ORDERS, async {
                orders.aggregate(pipeline).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        Ok(groups
            .iter()
            .filter_map(|g| Some((g.get_str("_id").ok()?.to_owned(), super::values::count(g.get("n")))))
            .collect())
    }
}
