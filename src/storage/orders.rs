//! The `orders` collection: both systems' orders, one document each.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};

use super::{
    StorageError, Store,
    indexes::{ORDER_ID_INDEX, ORDER_NUMBER_INDEX},
    names::{ALIASES, ORDERS, PAYMENTS, PENDING_ORDERS, SESSIONS},
    payments::payment_from_document,
    sessions::session_from_document,
    values::datetime,
};
use crate::{
    domain::ids::{BbNumber, IdPrefix, LookupKey, OrderId, PrefixField, TelegramId, VendorId},
    domain::order_filter::{Cursor, OrderFilter, SchemeFilter},
    domain::orders::{OrderDetails, OrderSummary, OrderTimes, PendingRecord, Source},
};

/// A new order as the bots submit it; the ID is drawn by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub source: Source,
    pub telegram_id: Option<TelegramId>,
    pub vendor_id: Option<VendorId>,
    pub user_id: Option<String>,
    pub order_number: Option<BbNumber>,
    pub amount: Option<f64>,
}

impl NewOrder {
    fn to_document(&self, id: &OrderId, now: DateTime<Utc>) -> Document {
        let now = mongodb::bson::DateTime::from_millis(now.timestamp_millis());
        let mut d = doc! {
            "order_id": id.to_string(),
            "display_id": id.display_id().to_string(),
            "source": match self.source { Source::ShippingBot => "shipping_bot", Source::Marketplace => "marketplace" },
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        };
        if let Some(t) = self.telegram_id {
            d.insert("telegram_id", t.0);
        }
        if let Some(v) = &self.vendor_id {
            d.insert("vendor_id", v.as_str());
        }
        if let Some(u) = &self.user_id {
            d.insert("user_id", u.as_str());
        }
        if let Some(n) = &self.order_number {
            d.insert("order_number", n.to_string());
        }
        if let Some(a) = self.amount {
            d.insert("amount", a);
        }
        d
    }
}

/// Most rows a lookup returns (a telegram id can have many orders).
pub const LOOKUP_LIMIT: i64 = 50;
/// An export streams for as long as its client reads; this bounds its time on the server.
/// Orders per page of the CSV export.
pub const EXPORT_PAGE: i64 = 2_000;

/// Why a new order was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InsertOrderError {
    #[error("order_id {0} is already taken")]
    OrderIdTaken(OrderId),
    #[error("order number {0} is already used by another order")]
    OrderNumberTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a lookup found.
#[derive(Debug)]
pub enum OrderLookup {
    None,
    One(Box<OrderDetails>),
    Many(Vec<OrderSummary>),
}

impl Store {
    /// Number of orders, from collection metadata (instant at any size).
    #[tracing::instrument(skip(self))]
    pub async fn order_count(&self) -> Result<u64, StorageError> {
        let orders = self.collection(ORDERS);
        self.run("order_count", ORDERS, orders.estimated_document_count().max_time(self.op_timeout)).await
    }

    /// Inserts one order under the unique indexes; a clash says which.
    #[tracing::instrument(skip(self, order, now), fields(order_id = %id))]
    pub async fn insert_order(
        &self,
        id: &OrderId,
        order: &NewOrder,
        now: DateTime<Utc>,
    ) -> Result<(), InsertOrderError> {
        let orders = self.collection(ORDERS);
        // One `_id` for every try: a try after an election whose first one did land meets
        // that one, and it is recognised as this order rather than stored twice.
        let own_id = mongodb::bson::oid::ObjectId::new();
        let mut document = order.to_document(id, now);
        document.insert("_id", own_id);
        let inserted = self.run_retrying("create_order", ORDERS, || orders.insert_one(document.clone())).await;
        let landed_before = || async {
            let found =
                self.run("find_own_order", ORDERS, orders.find_one(doc! { "_id": own_id }).max_time(self.op_timeout));
            matches!(found.await, Ok(Some(_)))
        };
        match inserted {
            Ok(_) => Ok(()),
            Err(StorageError::DuplicateKey { index, .. }) if index.as_deref() == Some("_id_") => Ok(()),
            Err(StorageError::DuplicateKey { .. }) if landed_before().await => Ok(()),
            Err(StorageError::DuplicateKey { index, .. }) if index.as_deref() == Some(ORDER_ID_INDEX) => {
                Err(InsertOrderError::OrderIdTaken(*id))
            }
            Err(StorageError::DuplicateKey { index, .. }) if index.as_deref() == Some(ORDER_NUMBER_INDEX) => {
                Err(InsertOrderError::OrderNumberTaken(order.order_number.map(|n| n.to_string()).unwrap_or_default()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The newest orders, for the home page.
    #[tracing::instrument(skip(self))]
    pub async fn recent_orders(&self, limit: i64) -> Result<Vec<OrderSummary>, StorageError> {
        let orders = self.collection(ORDERS);
        let docs: Vec<Document> = self
            .run("recent_orders", ORDERS, async {
                orders
                    .find(doc! {})
                    .max_time(self.op_timeout)
                    .sort(doc! { "created_at": -1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs.iter().map(summary_from_document).collect())
    }

    /// Orders matching one parsed key, newest first.
    pub async fn find_orders(&self, key: &LookupKey) -> Result<Vec<OrderSummary>, StorageError> {
        Ok(self.find_order_documents(key).await?.iter().map(summary_from_document).collect())
    }

    /// What one parsed key finds: nothing, one order with everything about it, or several
    /// (a shared display form, a renamed duplicate) to choose from.
    pub async fn look_up_order(&self, key: &LookupKey) -> Result<OrderLookup, StorageError> {
        let mut docs = self.find_order_documents_with(key, Details::Attached).await?;
        Ok(match docs.len() {
            0 => OrderLookup::None,
            1 => OrderLookup::One(Box::new(details_from_document(docs.remove(0)))),
            _ => OrderLookup::Many(docs.iter().map(summary_from_document).collect()),
        })
    }

    /// The stored documents matching one parsed key, newest first, at most [`LOOKUP_LIMIT`]
    /// (then any renamed from it). The filter is built from the typed key only: no operator,
    /// regex or raw text from the user ever reaches the query, and every form has an index.
    pub async fn find_order_documents(&self, key: &LookupKey) -> Result<Vec<Document>, StorageError> {
        self.find_order_documents_with(key, Details::Left).await
    }

    #[tracing::instrument(skip(self), fields(key = %key))]
    async fn find_order_documents_with(
        &self,
        key: &LookupKey,
        details: Details,
    ) -> Result<Vec<Document>, StorageError> {
        let mut found = self.aggregate_lookup(key, details).await?;
        // A bot's order of the last minutes may not have its display_id yet (the background
        // fill runs every few seconds): fill the recent ones in and look again.
        if found.is_empty() && matches!(key, LookupKey::DisplayId(_)) {
            let recent = Utc::now() - super::display_ids::LATE_INSERT;
            match self.fill_display_ids(Some(recent), self.op_timeout).await {
                Ok(0) => {}
                Ok(_) => found = self.aggregate_lookup(key, details).await?,
                // The lookup itself worked: its answer stands, without the recent bot orders.
                Err(e) => tracing::warn!(error = %e, "could not fill in recent display_ids for a lookup"),
            }
        }
        Ok(found)
    }

    /// One round trip: mongod joins the aliases, payments and bot session itself. The order
    /// page was five reads (order, alias, payments, session, staff session) and mongod's
    /// per-command cost, not the work, was what limited it (BENCHMARKS.md, session 10).
    async fn aggregate_lookup(&self, key: &LookupKey, details: Details) -> Result<Vec<Document>, StorageError> {
        let aliases = matches!(key, LookupKey::OrderId(_)) && self.aliases_may_exist().await?;
        let orders = self.collection(ORDERS);
        self.run("find_orders", ORDERS, async {
            orders
                .aggregate(lookup_pipeline(key, details, aliases))
                .max_time(self.op_timeout)
                .await?
                .try_collect()
                .await
        })
        .await
    }

    /// Whether any order was ever renamed (the `duplicates` migration): until then, joining
    /// the aliases was an eighth of mongod's work per order page for nothing. Once there are
    /// aliases it stays true; while there are none, it is asked again every
    /// [`ALIAS_RECHECK`], so a migration run by another process is seen within that time.
    async fn aliases_may_exist(&self) -> Result<bool, StorageError> {
        if let Some(known) = self.aliases.known() {
            return Ok(known);
        }
        let aliases = self.collection(ALIASES);
        let any = self
            .run(
                "find_alias",
                ALIASES,
                aliases.find_one(doc! {}).projection(doc! { "_id": 1 }).max_time(self.op_timeout),
            )
            .await?
            .is_some();
        self.aliases.checked(any);
        Ok(any)
    }

    /// Up to `limit` orders whose ID starts with one of the prefixes, by index range.
    #[tracing::instrument(skip(self))]
    pub async fn suggest_orders(&self, prefixes: &[IdPrefix], limit: i64) -> Result<Vec<OrderSummary>, StorageError> {
        let orders = self.collection(ORDERS);
        let mut found = Vec::new();
        for prefix in prefixes {
            let field = match prefix.field {
                PrefixField::OrderId => "order_id",
                PrefixField::DisplayId => "display_id",
                PrefixField::OrderNumber => "order_number",
            };
            // '~' sorts after every ID character, so [prefix, prefix~) is "starts with".
            let filter = doc! { field: { "$gte": &prefix.text, "$lt": format!("{}~", prefix.text) } };
            let docs: Vec<Document> = self
                .run("suggest_orders", ORDERS, async {
                    orders
                        .find(filter)
                        .max_time(self.op_timeout)
                        .sort(doc! { field: 1 })
                        .limit(limit)
                        .await?
                        .try_collect()
                        .await
                })
                .await?;
            found.extend(docs.iter().map(summary_from_document));
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    /// The query plan MongoDB picks for a lookup, as JSON text (tests assert it uses an index).
    pub async fn explain_lookup(&self, key: &LookupKey) -> Result<String, StorageError> {
        let command = doc! {
            "explain": { "find": ORDERS, "filter": lookup_filter(key), "sort": { "created_at": -1 }, "limit": LOOKUP_LIMIT },
            "verbosity": "queryPlanner",
        };
        let plan = self.run("explain", ORDERS, self.database().run_command(command)).await?;
        Ok(plan.get_document("queryPlanner").map(|p| p.to_string()).unwrap_or_default())
    }
}

/// Orders per list page.
pub const PAGE_SIZE: i64 = 50;

/// The newest-first order of every list: `_id` breaks ties between equal times.
fn list_sort() -> Document {
    doc! { "created_at": -1, "_id": -1 }
}

/// The query for a list filter and, for pages after the first, the keyset cursor.
pub(crate) fn list_filter(
    filter: &OrderFilter,
    cursor: Option<&Cursor>,
    zone: &chrono_tz::Tz,
) -> Result<Document, StorageError> {
    let mut all: Vec<Document> = Vec::new();
    if let Some(status) = &filter.status {
        all.push(doc! { "status": status.as_str() });
    }
    if let Some(vendor) = &filter.vendor {
        all.push(doc! { "vendor_id": vendor.as_str() });
    }
    let (start, end) = filter.bounds(zone);
    let mut created = Document::new();
    if let Some(start) = start {
        created.insert("$gte", BsonTime::from_millis(start.timestamp_millis()));
    }
    if let Some(end) = end {
        created.insert("$lt", BsonTime::from_millis(end.timestamp_millis()));
    }
    if !created.is_empty() {
        all.push(doc! { "created_at": created });
    }
    // Fixed, anchored patterns written here; never text from the user.
    match filter.scheme {
        Some(SchemeFilter::Ord) => all.push(doc! { "order_id": { "$regex": "^ORD-" } }),
        Some(SchemeFilter::Uuid) => all.push(doc! { "order_id": { "$regex": "^[0-9a-f]{8}-[0-9a-f]{4}-" } }),
        Some(SchemeFilter::Bb) => all.push(doc! { "order_number": { "$type": "string" } }),
        // `null` matches both null and missing.
        Some(SchemeFilter::Missing) => all.push(doc! { "order_id": { "$in": [Bson::Null, ""] } }),
        None => {}
    }
    // As `summary_from_document` tells them apart: marked so, or carrying a marketplace field.
    match filter.source {
        Some(Source::Marketplace) => all.push(doc! { "$or": [
            { "source": "marketplace" }, { "order_number": { "$exists": true } }, { "vendor_id": { "$exists": true } },
        ] }),
        Some(Source::ShippingBot) => all.push(doc! {
            "source": { "$ne": "marketplace" }, "order_number": { "$exists": false }, "vendor_id": { "$exists": false },
        }),
        None => {}
    }
    if let Some(c) = cursor {
        let oid = ObjectId::parse_str(&c.oid)
            .map_err(|e| StorageError::Database { op: "list_orders", message: e.to_string() })?;
        let at = BsonTime::from_millis(c.created_ms);
        all.push(doc! { "$or": [ { "created_at": { "$lt": at } }, { "created_at": at, "_id": { "$lt": oid } } ] });
    }
    Ok(if all.is_empty() {
        doc! {}
    } else {
        doc! { "$and": all }
    })
}

/// The cursor that starts the page after this document.
fn cursor_after(d: &Document) -> Option<Cursor> {
    let created_ms = match d.get("created_at")? {
        Bson::DateTime(t) => t.timestamp_millis(),
        _ => return None,
    };
    Some(Cursor { created_ms, oid: d.get_object_id("_id").ok()?.to_hex() })
}

impl Store {
    /// One page of the order list and the cursor of the next page, if there is one.
    #[tracing::instrument(skip(self))]
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<OrderSummary>, Option<Cursor>), StorageError> {
        self.orders_page("list_orders", filter, cursor, PAGE_SIZE).await
    }

    /// One page of the CSV export: [`EXPORT_PAGE`] orders after `cursor`, and the cursor of the
    /// next page. One bounded call per page, and no place in the driver held between pages,
    /// however slowly the client reads.
    pub async fn export_page(
        &self,
        filter: &OrderFilter,
        cursor: Option<&Cursor>,
    ) -> Result<(Vec<OrderSummary>, Option<Cursor>), StorageError> {
        self.orders_page("export_orders", filter, cursor, EXPORT_PAGE).await
    }

    async fn orders_page(
        &self,
        op: &'static str,
        filter: &OrderFilter,
        cursor: Option<&Cursor>,
        size: i64,
    ) -> Result<(Vec<OrderSummary>, Option<Cursor>), StorageError> {
        let query = list_filter(filter, cursor, &self.zone)?;
        let orders = self.collection(ORDERS);
        let mut docs: Vec<Document> = self
            .run(op, ORDERS, async {
                orders
                    .find(query)
                    .max_time(self.op_timeout)
                    .sort(list_sort())
                    .limit(size + 1)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        let next = if docs.len() as i64 > size {
            docs.truncate(size as usize);
            docs.last().and_then(cursor_after)
        } else {
            None
        };
        Ok((docs.iter().map(summary_from_document).collect(), next))
    }
}

/// The query for one key; each form is served by an index (see `indexes.rs`).
pub(crate) fn lookup_filter(key: &LookupKey) -> Document {
    match key {
        LookupKey::OrderId(id) => doc! { "order_id": id.to_string() },
        LookupKey::DisplayId(id) => doc! { "display_id": id.to_string() },
        // The unique index on order_number is partial ({$type: "string"}): the planner uses it
        // only when the query itself states that predicate, so say it.
        LookupKey::OrderNumber(n) => doc! { "order_number": { "$eq": n.to_string(), "$type": "string" } },
        LookupKey::TelegramId(t) => doc! { "telegram_id": t.0 },
        // Legacy data holds non-canonical order_ids too (`test_order_…`): match either field.
        LookupKey::LegacyId(l) => doc! { "$or": [ { "id": l.as_str() }, { "order_id": l.as_str() } ] },
    }
}

/// Reads a stored order leniently: whatever is missing or of the wrong type is `None`.
pub(crate) fn summary_from_document(d: &Document) -> OrderSummary {
    let string = |k: &str| match d.get(k) {
        Some(Bson::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let source = match d.get_str("source") {
        Ok("marketplace") => Source::Marketplace,
        _ if d.contains_key("order_number") || d.contains_key("vendor_id") => Source::Marketplace,
        _ => Source::ShippingBot,
    };
    OrderSummary {
        order_id: string("order_id"),
        display_id: string("display_id"),
        order_number: string("order_number"),
        legacy_id: string("id"),
        source,
        status: string("status"),
        amount: number(d.get("amount")),
        telegram_id: match d.get("telegram_id") {
            Some(Bson::Int64(n)) => Some(*n),
            Some(Bson::Int32(n)) => Some(i64::from(*n)),
            _ => None,
        },
        vendor_id: string("vendor_id"),
        user_id: string("user_id"),
        created_at: datetime(d.get("created_at")),
    }
}

pub(crate) fn number(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::Double(x) => Some(*x),
        Bson::Int32(x) => Some(f64::from(*x)),
        Bson::Int64(x) => Some(*x as f64),
        Bson::Decimal128(x) => x.to_string().parse().ok(),
        _ => None,
    }
}

/// Whether a lookup brings each order's payments and bot session along (the order page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Details {
    Attached,
    Left,
}

/// Fields the lookup pipeline adds to an order, taken off before anything else reads it.
const PAYMENTS_FIELD: &str = "_od_payments";
const SESSION_FIELD: &str = "_od_session";
const PENDING_FIELD: &str = "_od_pending";
const RENAMED_FIELD: &str = "_od_renamed";

/// The orders a key names, newest first; for an order ID, then the orders renamed from it by
/// the `duplicates` migration (found by their old ID next to the order that kept it).
fn lookup_pipeline(key: &LookupKey, details: Details, aliases: bool) -> Vec<Document> {
    let mut stages = vec![
        doc! { "$match": lookup_filter(key) },
        doc! { "$sort": { "created_at": -1 } },
        doc! { "$limit": LOOKUP_LIMIT },
    ];
    if let (LookupKey::OrderId(old), true) = (key, aliases) {
        stages.push(doc! { "$unionWith": { "coll": ALIASES, "pipeline": [
            { "$match": { "old_order_id": old.to_string() } },
            { "$limit": LOOKUP_LIMIT },
            { "$lookup": { "from": ORDERS, "localField": "new_order_id", "foreignField": "order_id", "as": "renamed" } },
            { "$unwind": "$renamed" },
            { "$replaceWith": "$renamed" },
            { "$set": { RENAMED_FIELD: true } },
        ] } });
        // $unionWith promises no order: the key's own orders first, newest first.
        stages.push(doc! { "$sort": { RENAMED_FIELD: 1, "created_at": -1 } });
    }
    if details == Details::Attached {
        stages.push(doc! { "$lookup": {
            "from": PAYMENTS, "localField": "order_id", "foreignField": "order_id",
            "pipeline": [ { "$sort": { "created_at": 1 } }, { "$limit": 100 } ],
            "as": PAYMENTS_FIELD,
        } });
        stages.push(doc! { "$lookup": {
            "from": PENDING_ORDERS, "localField": "order_id", "foreignField": "order_id",
            "pipeline": [ { "$sort": { "created_at": 1 } }, { "$limit": 20 } ],
            "as": PENDING_FIELD,
        } });
        stages.push(doc! { "$lookup": {
            "from": SESSIONS, "localField": "telegram_id", "foreignField": "user_id",
            "pipeline": [ { "$limit": 1 } ],
            "as": SESSION_FIELD,
        } });
    }
    stages
}

/// A pending order as the order page shows it, read leniently (it is the bot's document).
fn pending_from_document(d: &Document) -> PendingRecord {
    let text = |k: &str| d.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned);
    PendingRecord {
        status: text("status"),
        step: text("current_step").or_else(|| text("step")),
        amount: number(d.get("amount")),
        created_at: datetime(d.get("created_at")),
    }
}

/// Everything the order page shows about one order read by [`lookup_pipeline`] with details.
fn details_from_document(mut order: Document) -> OrderDetails {
    let joined = |order: &mut Document, field: &str| match order.remove(field) {
        Some(Bson::Array(items)) => items
            .into_iter()
            .filter_map(|b| match b {
                Bson::Document(d) => Some(d),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let payments = joined(&mut order, PAYMENTS_FIELD);
    let pending = joined(&mut order, PENDING_FIELD);
    let sessions = joined(&mut order, SESSION_FIELD);
    order.remove(RENAMED_FIELD);
    let summary = summary_from_document(&order);
    // $lookup matches a missing local field to foreign documents without one: only an order
    // with an ID (or a telegram id) has payments (or a session).
    let payments =
        if summary.order_id.is_some() { payments.iter().map(payment_from_document).collect() } else { Vec::new() };
    let pending =
        if summary.order_id.is_some() { pending.iter().map(pending_from_document).collect() } else { Vec::new() };
    let session = summary.telegram_id.and(sessions.first()).map(session_from_document);
    let time = |k: &str| datetime(order.get(k));
    let times = OrderTimes {
        created: time("created_at"),
        paid: time("paid_at"),
        fulfilled: time("fulfilled_at").or_else(|| time("label_created_at")),
        completed: time("completed_at"),
        failed: time("failed_at"),
        refunded: time("refunded_at"),
        cancelled: time("cancelled_at"),
        updated: time("updated_at"),
    };
    let text = |k: &str| order.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned);
    let raw = Bson::Document(order.clone()).into_relaxed_extjson();
    OrderDetails {
        times,
        currency: text("currency"),
        failure_reason: text("failure_reason"),
        refund_status: text("refund_status"),
        refund_amount: number(order.get("refund_amount")),
        payments,
        pending,
        session,
        raw_json: serde_json::to_string_pretty(&raw).unwrap_or_else(|_| raw.to_string()),
        summary,
    }
}

/// How long "no order was ever renamed" is believed before asking again.
pub const ALIAS_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// What this process knows of the aliases collection (see `Store::aliases_may_exist`).
#[derive(Debug, Default)]
pub(crate) struct AliasFlag {
    present: std::sync::atomic::AtomicBool,
    checked_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl AliasFlag {
    fn known(&self) -> Option<bool> {
        if self.present.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(true);
        }
        let checked = *self.checked_at.lock().unwrap_or_else(|p| p.into_inner());
        checked.filter(|at| at.elapsed() < ALIAS_RECHECK).map(|_| false)
    }

    fn checked(&self, present: bool) {
        if present {
            self.present.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        *self.checked_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
    }

    /// This process is writing aliases: from now on every lookup joins them.
    pub(crate) fn recorded(&self) {
        self.present.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
