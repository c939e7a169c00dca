//! What the migrations read and write: legacy orders in `_id` batches, guarded bulk updates,
//! the old → new ID mapping, the record of every run, and the lock that keeps two writing
//! runs apart.
//!
//! Every write is guarded by the condition that made the order a candidate (`order_id` still
//! blank, still the old duplicate, `order_number` still blank), so a run that is killed and
//! started again never changes an order twice.
//!
//! Long (about 850 lines): the three migrations' selections, guards and fixes sit beside the
//! run record and the lock they share. They part into one file per kind of run once migrations
//! and index runs share one run lifecycle; until then, splitting would spread one migration
//! over three files.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream::FuturesUnordered};
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::ORDERS,
    names::{ALIASES, LOCKS, RUNS},
    sources::{SourceDb, text},
    values::count,
    values::datetime,
};
use crate::{
    config::Fact,
    domain::{
        ids::{BbNumber, CounterId, OrderId},
        maintenance::{PlannedChange, RunRecord, RunStatus, SAMPLE_LIMIT, Task},
        orders::Source,
    },
};

/// A writing run that has not beaten its heartbeat for this long is considered dead.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);
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
        amount: super::orders::number(d.get(field(Fact::Amount))),
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
        Ok(docs
            .iter()
            .filter_map(|d| {
                let order = d.get("order")?.to_string();
                Some(((order, d.get_str("old_order_id").ok()?.to_owned()), d.get_str("new_order_id").ok()?.to_owned()))
            })
            .collect())
    }

    /// Takes the lock for a writing run; `Ok(false)` when another live run holds it. A holder
    /// whose heartbeat stopped, or whose process on this host is gone (killed half way), is
    /// taken over, and its run is marked interrupted.
    pub async fn acquire_migration_lock(&self, run_id: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let locks = self.collection(LOCKS);
        let at = bson_time(now);
        let mine = doc! {
            "run_id": run_id,
            "heartbeat_at": at,
            "instance": self.instance(),
            "process_space": process_space(),
            "pid": i64::from(std::process::id()),
        };
        let stale = BsonTime::from_millis(now.timestamp_millis() - HEARTBEAT_TIMEOUT.as_millis() as i64);
        let holder = self
            .run("read_lock", LOCKS, locks.find_one(doc! { "_id": "migrations" }).max_time(self.op_timeout))
            .await?;
        let filter = match &holder {
            // Matches nothing if a lock appeared meanwhile: the upsert then collides with it.
            None => doc! { "_id": "migrations", "run_id": { "$exists": false } },
            Some(h) => {
                let dead = h.get_datetime("heartbeat_at").map_or(true, |t| *t < stale) || {
                    // A pid means something only among the processes that share this one's
                    // machine, boot and pid namespace: never by host name alone.
                    let same_space = process_space().is_some_and(|mine| h.get_str("process_space").ok() == Some(&mine));
                    let pid = h.get_i64("pid").ok().and_then(|p| u32::try_from(p).ok());
                    same_space && pid.is_some_and(|p| !process_alive(p))
                };
                if !dead {
                    return Ok(false);
                }
                // Take it only from that holder, in case another run takes it at the same time.
                doc! { "_id": "migrations", "run_id": h.get_str("run_id").unwrap_or("") }
            }
        };
        let taken = self.run("acquire_lock", LOCKS, locks.update_one(filter, doc! { "$set": mine }).upsert(true)).await;
        match taken {
            Ok(r) if r.matched_count == 1 || r.upserted_id.is_some() => {}
            Ok(_) => return Ok(false),
            // Another run created the lock first: the upsert collided with it.
            Err(StorageError::DuplicateKey { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        if let Some(dead_run) =
            holder.as_ref().and_then(|h| h.get_str("run_id").ok()).and_then(|id| ObjectId::parse_str(id).ok())
        {
            let runs = self.collection(RUNS);
            self.run(
                "interrupt_run",
                RUNS,
                runs.update_one(
                    doc! { "_id": dead_run, "status": "running" },
                    doc! { "$set": { "status": "interrupted", "message": "the process stopped before finishing; a later run took over" } },
                ),
            )
            .await?;
        }
        Ok(true)
    }

    pub async fn release_migration_lock(&self, run_id: &str) -> Result<(), StorageError> {
        let locks = self.collection(LOCKS);
        self.run("release_lock", LOCKS, locks.delete_one(doc! { "_id": "migrations", "run_id": run_id }))
            .await
            .map(drop)
    }

    /// The run holding the lock, if it is alive.
    pub async fn migration_lock_holder(&self, now: DateTime<Utc>) -> Result<Option<String>, StorageError> {
        let locks = self.collection(LOCKS);
        let stale = BsonTime::from_millis(now.timestamp_millis() - HEARTBEAT_TIMEOUT.as_millis() as i64);
        let found = self
            .run(
                "read_lock",
                LOCKS,
                locks
                    .find_one(doc! { "_id": "migrations", "heartbeat_at": { "$gte": stale } })
                    .max_time(self.op_timeout),
            )
            .await?;
        Ok(found.and_then(|d| d.get_str("run_id").ok().map(str::to_owned)))
    }

    /// Starts the record of a run; returns its id.
    pub async fn insert_run(&self, run: &RunRecord, now: DateTime<Utc>) -> Result<String, StorageError> {
        let runs = self.collection(RUNS);
        let id = ObjectId::new();
        let at = bson_time(now);
        let d = doc! {
            "_id": id,
            "task": run.task.as_str(),
            "dry_run": run.dry_run,
            "actor": &run.actor,
            "status": run.status.as_str(),
            "started_at": at,
            "heartbeat_at": at,
            "total": run.total as i64,
            "done": 0_i64,
            "changed": 0_i64,
            "errors": 0_i64,
            "batch": i64::from(run.batch),
            "message": &run.message,
            "changes": [],
            "error_samples": [],
            "cancel_requested": false,
        };
        self.run("insert_run", RUNS, runs.insert_one(d)).await?;
        Ok(id.to_hex())
    }

    /// Saves progress (and beats the lock's heartbeat); returns whether a cancel was asked for.
    pub async fn save_progress(
        &self,
        run: &RunRecord,
        new_changes: &[PlannedChange],
        new_errors: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let at = bson_time(now);
        let changes: Vec<Document> = new_changes
            .iter()
            .map(|c| doc! { "order": &c.order, "field": &c.field, "from": &c.from, "to": &c.to })
            .collect();
        let mut set = doc! {
            "heartbeat_at": at,
            "total": run.total as i64,
            "done": run.done as i64,
            "changed": run.changed as i64,
            "errors": run.errors as i64,
            "message": &run.message,
            "duration_ms": run.duration_ms as i64,
        };
        if run.status.is_finished() {
            set.insert("status", run.status.as_str());
            set.insert("finished_at", at);
        }
        if run.task.on_indexes() {
            let reports = mongodb::bson::to_bson(&run.reports)
                .map_err(|e| StorageError::Database { op: "save_progress", message: format!("index reports: {e}") })?;
            set.insert("reports", reports);
        }
        if let Some(report) = &run.uniqueness {
            let report = mongodb::bson::to_bson(report).map_err(|e| StorageError::Database {
                op: "save_progress",
                message: format!("uniqueness report: {e}"),
            })?;
            set.insert("uniqueness", report);
        }
        let update = doc! {
            "$set": set,
            "$push": {
                "changes": { "$each": changes, "$slice": SAMPLE_LIMIT as i64 },
                "error_samples": { "$each": new_errors, "$slice": SAMPLE_LIMIT as i64 },
            },
        };
        let id = object_id(&run.id)?;
        let after = self
            .run(
                "save_progress",
                RUNS,
                runs.find_one_and_update(doc! { "_id": id }, update)
                    .max_time(self.op_timeout)
                    .return_document(mongodb::options::ReturnDocument::After),
            )
            .await?;
        if !run.dry_run && !run.status.is_finished() {
            self.beat_migration_lock(&run.id, now).await?;
        }
        Ok(after.is_some_and(|d| d.get_bool("cancel_requested").unwrap_or(false)))
    }

    /// Says a run is alive while one long step runs (its progress is saved after the step):
    /// the run's heartbeat, and the lock's when it holds it. Returns whether a cancel was
    /// asked for.
    pub async fn beat_run(&self, run_id: &str, holds_lock: bool, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let update = doc! { "$set": { "heartbeat_at": bson_time(now) } };
        let after = self
            .run(
                "beat_run",
                RUNS,
                runs.find_one_and_update(doc! { "_id": object_id(run_id)? }, update)
                    .max_time(self.op_timeout)
                    .return_document(mongodb::options::ReturnDocument::After),
            )
            .await?;
        if holds_lock {
            self.beat_migration_lock(run_id, now).await?;
        }
        Ok(after.is_some_and(|d| d.get_bool("cancel_requested").unwrap_or(false)))
    }

    /// Beats the lock's heartbeat for `run_id`; [`StorageError::LockLost`] when the lock is no
    /// longer this run's (its heartbeat was late and another run took over).
    pub async fn beat_migration_lock(&self, run_id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let locks = self.collection(LOCKS);
        let at = bson_time(now);
        let beat = self
            .run(
                "beat_lock",
                LOCKS,
                locks.update_one(
                    doc! { "_id": "migrations", "run_id": run_id },
                    doc! { "$set": { "heartbeat_at": at } },
                ),
            )
            .await?;
        if beat.matched_count == 0 {
            return Err(StorageError::LockLost { run: run_id.to_owned() });
        }
        Ok(())
    }

    /// Asks a running run to stop after its current batch; false if it is not running.
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let result = self
            .run(
                "cancel_run",
                RUNS,
                runs.update_one(
                    doc! { "_id": object_id(run_id)?, "status": "running" },
                    doc! { "$set": { "cancel_requested": true } },
                ),
            )
            .await?;
        Ok(result.matched_count == 1)
    }

    pub async fn find_run(&self, run_id: &str, now: DateTime<Utc>) -> Result<Option<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let found = self
            .run("find_run", RUNS, runs.find_one(doc! { "_id": object_id(run_id)? }).max_time(self.op_timeout))
            .await?;
        found.as_ref().map(|d| run_record(d, now)).transpose()
    }

    /// The newest finished index check or build, with its reports.
    pub async fn latest_index_scan(&self, now: DateTime<Utc>) -> Result<Option<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let filter = doc! {
            "task": { "$in": [Task::IndexCheck.as_str(), Task::Indexes.as_str()] },
            "status": { "$in": [RunStatus::Completed.as_str(), RunStatus::Failed.as_str()] },
            "reports.0": { "$exists": true },
        };
        let found = self
            .run(
                "latest_index_scan",
                RUNS,
                runs.find_one(filter).sort(doc! { "finished_at": -1 }).max_time(self.op_timeout),
            )
            .await?;
        found.as_ref().map(|d| run_record(d, now)).transpose()
    }

    /// The newest runs first.
    pub async fn recent_runs(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let docs: Vec<Document> = self
            .run("recent_runs", RUNS, async {
                runs.find(doc! {})
                    .max_time(self.op_timeout)
                    .projection(doc! { "changes": 0, "error_samples": 0, "reports": 0, "references": 0 })
                    .sort(doc! { "started_at": -1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        docs.iter().map(|d| run_record(d, now)).collect()
    }
}

/// Where a pid is meaningful: this boot of this kernel (`boot_id`) and this pid namespace.
/// Two containers may share a host name and both run as pid 1; two machines may share a host
/// name. `None` off Linux: then a holder is judged by its heartbeat only.
fn process_space() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), namespace.display()))
}

/// Whether a process of this host is still running (Linux: it has a /proc entry).
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn object_id(hex: &str) -> Result<ObjectId, StorageError> {
    ObjectId::parse_str(hex)
        .map_err(|_| StorageError::Database { op: "find_run", message: format!("'{hex}' is not a run id") })
}

/// Reads a run; one still "running" without a recent heartbeat is reported as interrupted.
/// A task or status orderdesk does not know is an error, not a guess.
fn run_record(d: &Document, now: DateTime<Utc>) -> Result<RunRecord, StorageError> {
    let time = |k: &str| datetime(d.get(k));
    let id = d.get_object_id("_id").map(|o| o.to_hex()).unwrap_or_default();
    let corrupt = |problem: String| StorageError::Corrupt { collection: RUNS, id: id.clone(), problem };
    let mut status = RunStatus::parse(d.get_str("status").unwrap_or("")).map_err(|e| corrupt(e.to_string()))?;
    let task = Task::parse(d.get_str("task").unwrap_or("")).map_err(|e| corrupt(e.to_string()))?;
    let started_at = time("started_at").ok_or_else(|| corrupt("it has no started_at time".into()))?;
    if status == RunStatus::Running
        && time("heartbeat_at")
            .is_none_or(|t| now - t > chrono::Duration::from_std(HEARTBEAT_TIMEOUT).unwrap_or_default())
    {
        status = RunStatus::Interrupted;
    }
    let duration_ms = count(d.get("duration_ms"));
    let done = count(d.get("done"));
    let strings = |k: &str| -> Vec<Document> {
        d.get_array(k).map(|a| a.iter().filter_map(Bson::as_document).cloned().collect()).unwrap_or_default()
    };
    Ok(RunRecord {
        id: id.clone(),
        task,
        dry_run: d.get_bool("dry_run").unwrap_or(false),
        actor: d.get_str("actor").map_err(|_| corrupt("it names no actor".into()))?.to_owned(),
        status,
        started_at,
        finished_at: time("finished_at"),
        total: count(d.get("total")),
        done,
        changed: count(d.get("changed")),
        errors: count(d.get("errors")),
        duration_ms,
        rate: if duration_ms > 0 { done as f64 * 1000.0 / duration_ms as f64 } else { 0.0 },
        message: d.get_str("message").unwrap_or("").to_owned(),
        changes: strings("changes")
            .iter()
            .map(|c| PlannedChange {
                order: c.get_str("order").unwrap_or("").to_owned(),
                field: c.get_str("field").unwrap_or("").to_owned(),
                from: c.get_str("from").unwrap_or("").to_owned(),
                to: c.get_str("to").unwrap_or("").to_owned(),
            })
            .collect(),
        error_samples: d
            .get_array("error_samples")
            .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        batch: count(d.get("batch")) as u32,
        reports: match d.get("reports") {
            None | Some(Bson::Null) => Vec::new(),
            Some(r) => mongodb::bson::from_bson(r.clone()).map_err(|e| corrupt(format!("its index reports: {e}")))?,
        },
        references: match d.get("references") {
            None | Some(Bson::Null) => Vec::new(),
            Some(r) => mongodb::bson::from_bson(r.clone()).map_err(|e| corrupt(format!("its references: {e}")))?,
        },
        references_moved: count(d.get("references_moved")),
        references_undecided: count(d.get("references_undecided")),
        uniqueness: match d.get("uniqueness") {
            None | Some(Bson::Null) => None,
            Some(r) => {
                Some(mongodb::bson::from_bson(r.clone()).map_err(|e| corrupt(format!("its uniqueness report: {e}")))?)
            }
        },
    })
}
