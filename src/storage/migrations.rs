//! What the migrations read and write: legacy orders in `_id` batches, guarded bulk updates,
//! and the old → new ID mapping. The runs' records and lock are in `storage::runs`.
//!
//! Every write is guarded by the condition that made the order a candidate (`order_id` still
//! blank, still the old duplicate, `order_number` still blank), so a run that is killed and
//! started again never changes an order twice.
//!
//! Long (about 520 lines): the three migrations' selections, guards and fixes, read
//! together: each guard is the condition its selection found, and each fix what it writes.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::FuturesUnordered};
use mongodb::bson::{Bson, Document, doc};

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::ALIASES,
    names::ORDERS,
    sources::{SourceDb, text},
    values::count,
};
use crate::{
    config::Fact,
    domain::{
        ids::{BbNumber, CounterId, OrderId},
        orders::Source,
    },
};

/// Bulk reads and writes of thousands of orders may take longer than a lookup.
const BULK: Duration = Duration::from_secs(120);

/// Which orders a migration walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// `order_id` missing, null or `""`.
    BlankOrderId,
    /// Marketplace orders whose `order_number` is missing, null or `""`.
    BlankOrderNumber,
}

impl Selection {
    /// The kind of order it walks: the back-fill of IDs only the bot's, of numbers only the
    /// marketplace's.
    fn kind(self) -> Source {
        match self {
            Self::BlankOrderId => Source::ShippingBot,
            Self::BlankOrderNumber => Source::Marketplace,
        }
    }

    fn filter(self, source: &SourceDb) -> Document {
        match self {
            // `null` matches a missing field too.
            Self::BlankOrderId => doc! { source.field_or_none(Fact::OrderId): { "$in": [Bson::Null, ""] } },
            // Both kinds in one collection: only those marked or shaped as marketplace orders.
            Self::BlankOrderNumber if source.is_own() => doc! {
                "order_number": { "$in": [Bson::Null, ""] },
                "$or": [ { "source": "marketplace" }, { "vendor_id": { "$type": "string" } } ],
            },
            Self::BlankOrderNumber => doc! { source.field_or_none(Fact::OrderNumber): { "$in": [Bson::Null, ""] } },
        }
    }
}

/// An order's `_id`, whatever its type (legacy data is not always ObjectIds); opaque
/// outside storage.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderKey(Bson);

impl std::fmt::Display for OrderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The fields of a legacy order the migrations need.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyOrder {
    pub key: OrderKey,
    pub order_id: FieldValue,
    pub order_number: FieldValue,
    pub created_at: Option<DateTime<Utc>>,
    pub vendor_id: Option<String>,
    pub user_id: Option<String>,
    /// The bot's: what tells two orders holding one ID apart for their references.
    pub telegram_id: Option<i64>,
    pub amount: Option<f64>,
}

impl LegacyOrder {
    /// The `_id` as people read it.
    pub fn key_text(&self) -> String {
        match &self.key.0 {
            Bson::ObjectId(o) => o.to_hex(),
            Bson::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// A field as stored: the migrations treat missing, null and `""` alike but report which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Missing,
    Null,
    Empty,
    Text(String),
    /// Some other type (a number, say): shown as it is.
    Other(String),
}

impl FieldValue {
    fn of(d: &Document, key: &str) -> Self {
        match d.get(key) {
            None => Self::Missing,
            Some(Bson::Null) => Self::Null,
            Some(Bson::String(s)) if s.is_empty() => Self::Empty,
            Some(Bson::String(s)) => Self::Text(s.clone()),
            Some(other) => Self::Other(other.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Missing => "missing".into(),
            Self::Null => "null".into(),
            Self::Empty => "\"\"".into(),
            Self::Text(s) | Self::Other(s) => s.clone(),
        }
    }
}

/// A stored order as the migrations read it, through its system's field map.
fn legacy_order(source: &SourceDb, d: &Document) -> LegacyOrder {
    let field = |fact| source.field_or_none(fact);
    LegacyOrder {
        key: OrderKey(d.get("_id").cloned().unwrap_or(Bson::Null)),
        order_id: FieldValue::of(d, field(Fact::OrderId)),
        order_number: FieldValue::of(d, field(Fact::OrderNumber)),
        created_at: source.time_of(d, Fact::CreatedAt),
        vendor_id: text(d.get(field(Fact::Vendor))),
        user_id: text(d.get(field(Fact::User))),
        telegram_id: super::sources::integer(d.get(field(Fact::TelegramId))),
        amount: super::values::number(d.get(field(Fact::Amount))),
    }
}

fn projection(source: &SourceDb) -> Document {
    let mut p = Document::new();
    for fact in
        [Fact::OrderId, Fact::OrderNumber, Fact::CreatedAt, Fact::Vendor, Fact::User, Fact::TelegramId, Fact::Amount]
    {
        p.insert(source.field_or_none(fact), 1);
    }
    p
}

/// The condition an update re-checks on the server, so it applies at most once.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    OrderIdBlank,
    OrderIdIs(String),
    OrderNumberBlank,
}

impl Guard {
    /// The kind of order it guards (and so the source it is written in).
    fn kind(&self) -> Source {
        match self {
            Self::OrderIdBlank | Self::OrderIdIs(_) => Source::ShippingBot,
            Self::OrderNumberBlank => Source::Marketplace,
        }
    }

    /// The condition as a query on the order.
    fn filter(&self, source: &SourceDb) -> Document {
        let order_id = source.field_or_none(Fact::OrderId);
        match self {
            // `null` matches a missing field too.
            Self::OrderIdBlank => doc! { order_id: { "$in": [Bson::Null, ""] } },
            Self::OrderIdIs(old) => doc! { order_id: old },
            Self::OrderNumberBlank => doc! { source.field_or_none(Fact::OrderNumber): { "$in": [Bson::Null, ""] } },
        }
    }
}

/// The guard every order of a chunk shares, when it is a blank-field guard (the same for all,
/// so it can be one query).
fn shared_blank_guard(source: &SourceDb, sets: &[GuardedSet]) -> Option<Document> {
    let first = &sets.first()?.guard;
    let shared = !matches!(first, Guard::OrderIdIs(_)) && sets.iter().all(|s| &s.guard == first);
    shared.then(|| first.filter(source))
}

/// Orders per update statement, and statements in flight at once: measured on the back-fill
/// benchmark (BENCHMARKS.md). mongod is the bottleneck there (its two cores busy); more
/// statements in flight keep it busy between replies, larger chunks did not help.
const CHUNK: usize = 250;
const CONCURRENT_CHUNKS: usize = 8;

/// What a migration writes into one order.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// A fresh or renamed `order_id`, and the display form that goes with it.
    OrderId(OrderId),
    /// A BB number from its vendor-day counter.
    OrderNumber { number: BbNumber, counter: CounterId },
}

impl Fix {
    /// The field the page's review shows, and its new value.
    pub fn field(&self) -> (&'static str, String) {
        match self {
            Self::OrderId(id) => ("order_id", id.to_string()),
            Self::OrderNumber { number, .. } => ("order_number", number.to_string()),
        }
    }

    /// The update: in orderdesk's own schema with its derived fields; in a system's own
    /// database only the system's own field (the display form is derived elsewhere).
    fn set(&self, source: &SourceDb) -> Document {
        match self {
            Self::OrderId(id) if source.is_own() => {
                doc! { "order_id": id.to_string(), "display_id": id.display_id().to_string() }
            }
            Self::OrderNumber { number, counter } if source.is_own() => {
                doc! { "order_number": number.to_string(), "counter_id": counter.to_string() }
            }
            Self::OrderId(id) => doc! { source.field_or_none(Fact::OrderId): id.to_string() },
            Self::OrderNumber { number, .. } => doc! { source.field_or_none(Fact::OrderNumber): number.to_string() },
        }
    }
}

/// One guarded fix of one order: written only while the guard still holds.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardedSet {
    pub key: OrderKey,
    pub guard: Guard,
    pub fix: Fix,
}

/// What one bulk update did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkOutcome {
    /// Orders whose guard still held and that were changed.
    pub modified: u64,
    /// Orders skipped because the guard no longer held (someone got there first).
    pub skipped: u64,
    pub errors: Vec<String>,
}

impl Store {
    /// A bulk call in a source's database, on its cluster's gate.
    async fn bulk_in<T>(
        &self,
        source: &SourceDb,
        op: &'static str,
        fut: impl std::future::IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StorageError> {
        self.run_gated(&source.gate, op, ORDERS, BULK, fut).await
    }

    /// How many orders a selection holds now.
    pub async fn count_selection(&self, selection: Selection) -> Result<u64, StorageError> {
        let source = self.source_of(selection.kind())?;
        let orders = source.orders();
        self.bulk_in(source, "count_legacy", orders.count_documents(selection.filter(source)).max_time(BULK)).await
    }

    /// The next `limit` orders of a selection after `after`, in `_id` order.
    pub async fn next_legacy_batch(
        &self,
        selection: Selection,
        after: Option<&OrderKey>,
        limit: u32,
    ) -> Result<Vec<LegacyOrder>, StorageError> {
        let source = self.source_of(selection.kind())?;
        let mut filter = selection.filter(source);
        if let Some(after) = after {
            filter = doc! { "$and": [ filter, { "_id": { "$gt": after.0.clone() } } ] };
        }
        // Walk `_id`: left to choose, the planner may take the order_id index, whose null
        // bucket holds every candidate, and sort all of them for each batch.
        let by_id = mongodb::options::Hint::Keys(doc! { "_id": 1 });
        self.read_legacy(source, filter, doc! { "_id": 1 }, Some(by_id), i64::from(limit)).await
    }

    async fn read_legacy(
        &self,
        source: &SourceDb,
        filter: Document,
        sort: Document,
        hint: Option<mongodb::options::Hint>,
        limit: i64,
    ) -> Result<Vec<LegacyOrder>, StorageError> {
        let orders = source.orders();
        let docs: Vec<Document> = self
            .bulk_in(source, "read_legacy", async {
                let mut find =
                    orders.find(filter).max_time(BULK).projection(projection(source)).sort(sort).limit(limit);
                if let Some(hint) = hint {
                    find = find.hint(hint);
                }
                find.await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().map(|d| legacy_order(source, d)).collect())
    }

    /// Every `order_id` (non-empty text) held by more than one order, in order, with how
    /// many orders hold it.
    pub async fn duplicate_order_ids(&self) -> Result<Vec<(String, u64)>, StorageError> {
        let source = self.bot()?;
        let field = source.field_or_none(Fact::OrderId);
        let orders = source.orders();
        let pipeline = vec![
            doc! { "$match": { field: { "$type": "string", "$ne": "" } } },
            doc! { "$group": { "_id": format!("${field}"), "n": { "$sum": 1 } } },
            doc! { "$match": { "n": { "$gt": 1 } } },
            doc! { "$sort": { "_id": 1 } },
        ];
        let groups: Vec<Document> = self
            .run_gated(&source.gate, "find_duplicates", ORDERS, Duration::from_secs(600), async {
                orders
                    .aggregate(pipeline)
                    .max_time(Duration::from_secs(600))
                    .allow_disk_use(true)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(groups.iter().filter_map(|g| Some((g.get_str("_id").ok()?.to_owned(), count(g.get("n"))))).collect())
    }

    /// The orders holding any of these `order_id`s.
    pub async fn orders_holding(&self, order_ids: &[String]) -> Result<Vec<LegacyOrder>, StorageError> {
        let source = self.bot()?;
        let filter = doc! { source.field_or_none(Fact::OrderId): { "$in": order_ids } };
        self.read_legacy(source, filter, doc! { "_id": 1 }, None, 0).await
    }

    /// Applies guarded updates: chunks of [`CHUNK`] orders, [`CONCURRENT_CHUNKS`] at a time.
    /// A chunk whose orders share a blank-field guard is one pipeline update (one statement for
    /// all of them); other chunks are one statement per order. BENCHMARKS.md has the figures.
    ///
    /// `lock`: the writing run that holds the maintenance lock. Its heartbeat is beaten (and
    /// checked) before every bulk call, and the run stops writing the moment another run has
    /// taken the lock over: only chunks already sent may still land, and their guards make a
    /// second writer's change to the same order a no-op.
    pub async fn apply_guarded(&self, sets: &[GuardedSet], lock: Option<&str>) -> Result<BulkOutcome, StorageError> {
        // A loop over `FuturesUnordered` rather than `buffer_unordered` with a closure: the
        // closure's borrow makes the spawned run's future fail the `Send` check.
        let mut chunks = sets.chunks(CHUNK).peekable();
        let mut in_flight = FuturesUnordered::new();
        let mut total = BulkOutcome::default();
        loop {
            if in_flight.len() < CONCURRENT_CHUNKS
                && chunks.peek().is_some()
                && let Some(run_id) = lock
                && let Err(lost) = self.beat_migration_lock(run_id, Utc::now()).await
            {
                // Let what was sent finish (it cannot be called back), then stop.
                while in_flight.next().await.is_some() {}
                return Err(lost);
            }
            while in_flight.len() < CONCURRENT_CHUNKS
                && let Some(chunk) = chunks.next()
            {
                in_flight.push(self.apply_chunk(chunk));
            }
            let Some(outcome) = in_flight.next().await else { return Ok(total) };
            let outcome = outcome?;
            total.modified += outcome.modified;
            total.skipped += outcome.skipped;
            total.errors.extend(outcome.errors);
        }
    }

    async fn apply_chunk(&self, sets: &[GuardedSet]) -> Result<BulkOutcome, StorageError> {
        let Some(first) = sets.first() else { return Ok(BulkOutcome::default()) };
        let source = self.source_of(first.guard.kind())?;
        let Some(guard) = shared_blank_guard(source, sets) else {
            return self.apply_each(source, sets).await;
        };
        let keys: Vec<Bson> = sets.iter().map(|s| s.key.0.clone()).collect();
        let values: Vec<Bson> = sets.iter().map(|s| Bson::Document(s.fix.set(source))).collect();
        let mut filter = doc! { "_id": { "$in": keys.clone() } };
        filter.extend(guard.clone());
        // Each order takes the `$set` at its own position: one statement instead of one per
        // order, which is most of the cost of a bulk update (BENCHMARKS.md).
        let pipeline = vec![doc! { "$replaceWith": { "$mergeObjects": [
            "$$ROOT",
            { "$arrayElemAt": [ { "$literal": values }, { "$indexOfArray": [ { "$literal": keys }, "$_id" ] } ] },
        ] } }];
        let command = doc! {
            "update": &source.collections().orders,
            "updates": [ { "q": filter.clone(), "u": pipeline, "multi": true, "hint": { "_id": 1 } } ],
            "ordered": false,
        };
        let reply = self.bulk_in(source, "bulk_update", source.database().run_command(command)).await?;
        if reply.get_array("writeErrors").is_ok_and(|e| !e.is_empty()) {
            // One order failed (a unique index, say) and the statement stopped there, without
            // saying how far it got. The guard tells: what still matches it was not written.
            // Those go again one by one, so each error names its order.
            let orders = source.orders();
            let left = self.bulk_in(source, "count_legacy", orders.count_documents(filter).max_time(BULK)).await?;
            let mut rest = self.apply_each(source, sets).await?;
            rest.modified += (sets.len() as u64).saturating_sub(left);
            rest.skipped = (sets.len() as u64).saturating_sub(rest.modified + rest.errors.len() as u64);
            return Ok(rest);
        }
        let modified = count(reply.get("nModified"));
        Ok(BulkOutcome { modified, skipped: (sets.len() as u64).saturating_sub(modified), errors: Vec::new() })
    }

    /// One statement per order, in one unordered `update` command: every order's own guard,
    /// and a write error names its order.
    async fn apply_each(&self, source: &SourceDb, sets: &[GuardedSet]) -> Result<BulkOutcome, StorageError> {
        if sets.is_empty() {
            return Ok(BulkOutcome::default());
        }
        let updates: Vec<Document> = sets
            .iter()
            .map(|s| {
                let mut q = doc! { "_id": s.key.0.clone() };
                q.extend(s.guard.filter(source));
                // By `_id`: the guard's field is indexed too (the stand-in), and its null bucket
                // holds every candidate, a plan that would scan them all per update.
                doc! { "q": q, "u": { "$set": s.fix.set(source) }, "multi": false, "hint": { "_id": 1 } }
            })
            .collect();
        let command = doc! { "update": &source.collections().orders, "updates": updates, "ordered": false };
        let reply = self.bulk_in(source, "bulk_update", source.database().run_command(command)).await?;
        let modified = count(reply.get("nModified"));
        let errors: Vec<String> = reply
            .get_array("writeErrors")
            .map(|errs| {
                errs.iter()
                    .filter_map(Bson::as_document)
                    .map(|e| {
                        let at = count(e.get("index")) as usize;
                        let order = sets.get(at).map(|s| s.key.to_string()).unwrap_or_default();
                        format!("order {order}: {}", e.get_str("errmsg").unwrap_or("write error"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let skipped = (sets.len() as u64).saturating_sub(modified + errors.len() as u64);
        Ok(BulkOutcome { modified, skipped, errors })
    }

    /// Records the fresh IDs planned for renamed duplicates before any order changes, and
    /// returns what is recorded: a run started again reuses the IDs an earlier one chose.
    pub async fn record_aliases(
        &self,
        planned: &[(OrderKey, String, String)],
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<HashMap<(String, String), String>, StorageError> {
        if planned.is_empty() {
            return Ok(HashMap::new());
        }
        let at = bson_time(now);
        let updates: Vec<Document> = planned
            .iter()
            .map(|(order, old, new)| {
                doc! {
                    "q": { "order": order.0.clone(), "old_order_id": old },
                    "u": { "$setOnInsert": { "new_order_id": new, "run_id": run_id, "created_at": at } },
                    "upsert": true,
                }
            })
            .collect();
        let command = doc! { "update": ALIASES, "updates": updates, "ordered": false };
        self.aliases.recorded();
        let reply = self.run_for("record_aliases", ALIASES, BULK, self.database().run_command(command)).await?;
        if let Ok(errs) = reply.get_array("writeErrors")
            && let Some(first) = errs.iter().filter_map(Bson::as_document).next()
        {
            return Err(StorageError::Database {
                op: "record_aliases",
                message: first.get_str("errmsg").unwrap_or("write error").to_owned(),
            });
        }
        let orders: Vec<Bson> = planned.iter().map(|(o, _, _)| o.0.clone()).collect();
        let aliases = self.collection(ALIASES);
        let docs: Vec<Document> = self
            .run_for("read_aliases", ALIASES, BULK, async {
                aliases.find(doc! { "order": { "$in": orders } }).max_time(BULK).await?.try_collect().await
            })
            .await?;
        // An alias that does not parse is an error, not skipped: skipped, its order would get
        // another fresh ID than the one recorded.
        docs.into_iter()
            .map(|d| {
                let a: AliasDocument = super::values::typed(ALIASES, d)?;
                Ok(((a.order.to_string(), a.old_order_id), a.new_order_id))
            })
            .collect()
    }
}

/// An old → new ID of a renamed duplicate, as `order_id_aliases` keeps it.
#[derive(Debug, serde::Deserialize)]
struct AliasDocument {
    /// The renamed order's `_id`, whatever its BSON type.
    order: Bson,
    old_order_id: String,
    new_order_id: String,
}
