//! `display_id` (`ORD-A3F8D2`, the form customers quote) kept filled in for orders the bots
//! insert themselves: they store `order_id` only, and the display-ID lookup goes by the indexed
//! `display_id` field. The short form is derived from `order_id` on the server, in one
//! `updateMany`, so no order's value passes through here and a concurrent change of `order_id`
//! cannot leave a stale one. How often and how far back is `display_fill`'s decision.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{Bson, DateTime as BsonTime, Document, doc},
    options::Hint,
};

use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::{BOT_DISPLAY_IDS, ORDERS},
    sources::SourceDb,
};
use crate::config::Fact;
use crate::domain::ids::OrderId;

/// Orders read per batch when deriving display forms.
const DERIVE_BATCH: i64 = 5_000;

/// Small bookkeeping documents of background work: `{_id: "display_ids", through}`.
pub const SWEEPS: &str = "sweeps";
const DISPLAY_IDS: &str = "display_ids";

/// How far back a pass looks again: a bot may insert an order a while after its `created_at`
/// (set when the customer started). A lookup that misses fills this window before answering.
pub const LATE_INSERT: Duration = Duration::from_secs(600);

/// `order_id`s that have a display form: the ORD form and UUIDs (as `OrderId::parse` reads them).
fn has_display_form() -> String {
    format!("{}|{}", OrderId::ORD_PATTERN, OrderId::UUID_PATTERN)
}

/// `OrderId::display_id` as an aggregation expression: `ORD-` and six upper-case hex digits, the
/// first six of the ORD form's random part or of the UUID. `tests/integration/display_ids.rs` holds the two
/// to the same answer.
fn display_expr() -> Document {
    doc! { "$concat": [ "ORD-", { "$toUpper": { "$cond": [
        // `parse` reads the prefix in any case, so the pattern above admits `ord-…` too.
        { "$eq": [ { "$toUpper": { "$substrBytes": [ "$order_id", 0, 4 ] } }, "ORD-" ] },
        { "$substrBytes": [ "$order_id", 19, 6 ] },
        { "$substrBytes": [ "$order_id", 0, 6 ] },
    ] } } ] }
}

impl Store {
    /// Fills `display_id` on every order that lacks it (missing, null or `""`) and has an ORD or
    /// UUID `order_id`; only those created at or after `since` when given. Returns how many.
    /// `limit` bounds the wait: a first pass over all history may take minutes.
    pub async fn fill_display_ids(&self, since: Option<DateTime<Utc>>, limit: Duration) -> Result<u64, StorageError> {
        let bot = self.bot()?;
        if !bot.is_own() {
            return self.derive_display_ids(bot, since, limit).await;
        }
        let mut filter = doc! {
            "display_id": { "$in": [Bson::Null, ""] },
            "order_id": { "$regex": has_display_form() },
        };
        if let Some(since) = since {
            filter.insert("created_at", doc! { "$gte": bson_time(since) });
        }
        let orders = self.collection(ORDERS);
        // The `display_id` index: its blank keys are exactly the orders to look at, and with
        // `since` only the recent ones. Left alone, the planner may walk all of `order_id`'s.
        let update = orders
            .update_many(filter, vec![doc! { "$set": { "display_id": display_expr() } }])
            .hint(Hint::Keys(doc! { "display_id": 1, "created_at": -1 }));
        Ok(self.run_for("fill_display_ids", ORDERS, limit, update).await?.modified_count)
    }

    /// Up to when every order's `display_id` was last filled in (`None` before the first pass).
    pub async fn display_ids_filled_through(&self) -> Result<Option<DateTime<Utc>>, StorageError> {
        let sweeps = self.collection(SWEEPS);
        let mark = self
            .run("read_sweep", SWEEPS, sweeps.find_one(doc! { "_id": DISPLAY_IDS }).max_time(self.op_timeout))
            .await?;
        Ok(mark
            .and_then(|d| d.get_datetime("through").ok().copied())
            .and_then(|t| DateTime::from_timestamp_millis(t.timestamp_millis())))
    }

    pub async fn set_display_ids_filled_through(&self, through: DateTime<Utc>) -> Result<(), StorageError> {
        let sweeps = self.collection(SWEEPS);
        let at = bson_time(through);
        let write = sweeps.update_one(doc! { "_id": DISPLAY_IDS }, doc! { "$set": { "through": at } }).upsert(true);
        self.run("save_sweep", SWEEPS, write).await.map(drop)
    }
}

const RESUME: &str = "display_ids_resume";

impl Store {
    /// Fills `display_id` on these orders where it is blank (as [`Store::fill_display_ids`]).
    pub async fn fill_display_ids_of(&self, keys: &[Bson]) -> Result<u64, StorageError> {
        let bot = self.bot()?;
        if !bot.is_own() {
            let orders = self.bot_order_ids(bot, doc! { "_id": { "$in": keys } }, keys.len() as i64, self.op_timeout);
            return self.record_display_ids(orders.await?.0).await;
        }
        let filter = doc! {
            "_id": { "$in": keys },
            "display_id": { "$in": [Bson::Null, ""] },
            "order_id": { "$regex": has_display_form() },
        };
        let orders = self.collection(ORDERS);
        let update = orders.update_many(filter, vec![doc! { "$set": { "display_id": display_expr() } }]);
        Ok(self.run("fill_display_ids_of", ORDERS, update).await?.modified_count)
    }

    /// The stored resume point of the feed of new orders.
    pub async fn display_feed_resume(&self) -> Result<Option<Bson>, StorageError> {
        let sweeps = self.collection(SWEEPS);
        let mark =
            self.run("read_sweep", SWEEPS, sweeps.find_one(doc! { "_id": RESUME }).max_time(self.op_timeout)).await?;
        Ok(mark.and_then(|d| d.get("token").cloned()))
    }

    /// Stores the feed's resume point; `None` forgets it (it was lost).
    pub async fn set_display_feed_resume(&self, token: Option<Bson>) -> Result<(), StorageError> {
        let sweeps = self.collection(SWEEPS);
        let write = sweeps
            .update_one(doc! { "_id": RESUME }, doc! { "$set": { "token": token.unwrap_or(Bson::Null) } })
            .upsert(true);
        self.run("save_sweep", SWEEPS, write).await.map(drop)
    }

    /// Takes or keeps the lease on a piece of background work that one process at a time
    /// should do (`name`): true when this process holds it for `ttl` from `now`. A process
    /// standing by only reads (its failed takes would count as errors on `/performance`).
    pub async fn hold_lease(&self, name: &str, ttl: Duration, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sweeps = self.collection(SWEEPS);
        let at = |t: DateTime<Utc>| bson_time(t);
        let id = format!("lease:{name}");
        let held =
            self.run("read_lease", SWEEPS, sweeps.find_one(doc! { "_id": &id }).max_time(self.op_timeout)).await?;
        let by_other = held.as_ref().is_some_and(|d| {
            d.get_str("holder").ok() != Some(self.instance()) && d.get_datetime("until").is_ok_and(|u| *u >= at(now))
        });
        if by_other {
            return Ok(false);
        }
        let until = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        let filter = doc! { "_id": &id, "$or": [ { "holder": self.instance() }, { "until": { "$lt": at(now) } } ] };
        let update = doc! { "$set": { "holder": self.instance(), "until": at(until) } };
        match self.run("hold_lease", SWEEPS, sweeps.update_one(filter, update).upsert(true)).await {
            Ok(_) => Ok(true),
            // Another process took it between the read and the write: the upsert met its lease.
            Err(StorageError::DuplicateKey { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends this process's lease on `name` now, so a process standing by takes the work over
    /// at its next look instead of when the lease would have lapsed (nothing when it held none).
    pub async fn release_lease(&self, name: &str) -> Result<(), StorageError> {
        let sweeps = self.collection(SWEEPS);
        let filter = doc! { "_id": format!("lease:{name}"), "holder": self.instance() };
        let update = doc! { "$set": { "until": BsonTime::now() } };
        self.run("release_lease", SWEEPS, sweeps.update_one(filter, update)).await.map(drop)
    }
}

impl Store {
    /// The order IDs whose derived display form matches `filter` (on `display_id`), for a bot
    /// whose orders live in its own database.
    pub(crate) async fn order_ids_of_display(&self, filter: Document) -> Result<Vec<String>, StorageError> {
        let derived = self.collection(BOT_DISPLAY_IDS);
        let found: Vec<Document> = self
            .run("find_display_ids", BOT_DISPLAY_IDS, async {
                derived
                    .find(filter)
                    .projection(doc! { "_id": 1 })
                    .max_time(self.op_timeout)
                    .limit(super::orders::LOOKUP_LIMIT)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(found.iter().filter_map(|d| d.get_str("_id").ok().map(str::to_owned)).collect())
    }

    /// Reads the bot's orders inserted since `since` (all, the first time) by their `_id`
    /// (an ObjectId holds its insert time, and the `_id` index is the one index every
    /// collection has) and records the display form of each in orderdesk's database.
    async fn derive_display_ids(
        &self,
        bot: &SourceDb,
        since: Option<DateTime<Utc>>,
        limit: Duration,
    ) -> Result<u64, StorageError> {
        let deadline = std::time::Instant::now() + limit;
        let mut after: Option<ObjectId> = since.map(|t| {
            let mut bytes = [0u8; 12];
            bytes[..4].copy_from_slice(&(t.timestamp().max(0) as u32).to_be_bytes());
            ObjectId::from_bytes(bytes)
        });
        let mut recorded = 0;
        loop {
            let filter = match after {
                Some(oid) => doc! { "_id": { "$gte": oid } },
                None => doc! {},
            };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StorageError::Timeout { op: "derive_display_ids", ms: limit.as_millis() });
            }
            let (batch, read, last) = self.bot_order_ids(bot, filter, DERIVE_BATCH, left).await?;
            // Full by what was read: orders without an ID are read too, and not in `batch`.
            let full = read as i64 == DERIVE_BATCH;
            recorded += self.record_display_ids(batch).await?;
            match last {
                // `$gte` meets the last one again: past it, by one.
                Some(oid) if full && Some(oid) != after => after = Some(oid),
                _ => return Ok(recorded),
            }
        }
    }

    /// `(_id, order_id, created_at)` of the bot's orders matching `filter`, by `_id`; how many
    /// orders were read (with or without an ID) and the last one's `_id`.
    async fn bot_order_ids(
        &self,
        bot: &SourceDb,
        filter: Document,
        limit: i64,
        time: Duration,
    ) -> Result<(Vec<(Bson, String, Option<DateTime<Utc>>)>, usize, Option<ObjectId>), StorageError> {
        let Some(order_id) = bot.field(Fact::OrderId) else { return Ok((Vec::new(), 0, None)) };
        let created = bot.field_or_none(Fact::CreatedAt);
        let orders = bot.orders();
        let docs: Vec<Document> = self
            .run_gated(&bot.gate, "read_bot_order_ids", ORDERS, time, async {
                orders
                    .find(filter)
                    .projection(doc! { order_id: 1, created: 1 })
                    .sort(doc! { "_id": 1 })
                    .limit(limit)
                    .max_time(time)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        let read = docs.len();
        let last = docs.last().and_then(|d| d.get_object_id("_id").ok());
        let ids = docs
            .into_iter()
            .filter_map(|d| {
                let id = d.get_str(order_id).ok()?.to_owned();
                let at = bot.time_of(&d, Fact::CreatedAt);
                Some((d.get("_id")?.clone(), id, at))
            })
            .collect();
        Ok((ids, read, last))
    }

    /// Records the display form of each order that has one and is not yet recorded.
    async fn record_display_ids(
        &self,
        orders: Vec<(Bson, String, Option<DateTime<Utc>>)>,
    ) -> Result<u64, StorageError> {
        let forms: Vec<Document> = orders
            .into_iter()
            .filter_map(|(_, id, at)| {
                let display = OrderId::parse(&id).ok()?.display_id().to_string();
                let mut d = doc! { "_id": id, "display_id": display };
                if let Some(at) = at {
                    d.insert("created_at", bson_time(at));
                }
                Some(d)
            })
            .collect();
        if forms.is_empty() {
            return Ok(0);
        }
        let derived = self.collection(BOT_DISPLAY_IDS);
        let ids: Vec<&Bson> = forms.iter().filter_map(|d| d.get("_id")).collect();
        let known: Vec<Document> = self
            .run("read_display_ids", BOT_DISPLAY_IDS, async {
                derived
                    .find(doc! { "_id": { "$in": ids } })
                    .projection(doc! { "_id": 1 })
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        let known: std::collections::HashSet<&str> = known.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        let new: Vec<&Document> =
            forms.iter().filter(|d| !d.get_str("_id").is_ok_and(|id| known.contains(id))).collect();
        if new.is_empty() {
            return Ok(0);
        }
        let count = new.len() as u64;
        // Another process may record some of the same at once: its copy is the same.
        match self.run("record_display_ids", BOT_DISPLAY_IDS, derived.insert_many(new).ordered(false)).await {
            Ok(_) | Err(StorageError::DuplicateKey { .. }) => Ok(count),
            Err(e) => Err(e),
        }
    }
}
