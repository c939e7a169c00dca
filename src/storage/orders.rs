//! The `orders` collection: both systems' orders, one document each.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};

use super::values::bson_time;
use super::{
    StorageError, Store,
    indexes::{ORDER_ID_INDEX, ORDER_NUMBER_INDEX},
    names::{ALIASES, ORDERS},
    payments::payment_from_document,
    sessions::session_from_document,
    sources::SourceDb,
    values::datetime,
};
use crate::{
    config::Fact,
    domain::ids::{BbNumber, IdPrefix, LookupKey, Narrowing, OrderId, PrefixField, TelegramId, VendorId},
    domain::order_filter::{Cursor, OrderFilter, SchemeFilter},
    domain::orders::{OrderDetails, OrderSummary, OrderTimes, Partial, PendingRecord, Source, SourceOutage},
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
    /// The document as `source` stores an order: orderdesk's own schema (with the derived
    /// `display_id` and `source`), or the system's own field names and shapes.
    fn to_document(&self, source: &SourceDb, id: &OrderId, now: DateTime<Utc>) -> Document {
        let now = bson_time(now);
        let mut d = Document::new();
        let mut put = |fact: Fact, value: Bson| {
            if let Some(field) = source.field(fact) {
                d.insert(field, value);
            }
        };
        // Not kept by a Mongoose marketplace (its orders are named by their BB number).
        put(Fact::OrderId, Bson::String(id.to_string()));
        put(Fact::Status, "pending".into());
        put(Fact::CreatedAt, now.into());
        put(Fact::UpdatedAt, now.into());
        if let Some(t) = self.telegram_id {
            put(Fact::TelegramId, t.0.into());
        }
        // Mongoose keeps references as ObjectIds: a hex reference is stored as one there.
        let reference = |v: &str| match ObjectId::parse_str(v) {
            Ok(oid) if source.kind == Some(Source::Marketplace) => Bson::ObjectId(oid),
            _ => Bson::String(v.to_owned()),
        };
        if let Some(v) = &self.vendor_id {
            put(Fact::Vendor, reference(v.as_str()));
        }
        if let Some(u) = &self.user_id {
            put(Fact::User, reference(u));
        }
        if let Some(n) = &self.order_number {
            put(Fact::OrderNumber, n.to_string().into());
        }
        if let Some(a) = self.amount {
            put(Fact::Amount, a.into());
        }
        if source.is_own() {
            d.insert("display_id", id.display_id().to_string());
            d.insert(
                "source",
                match self.source {
                    Source::ShippingBot => "shipping_bot",
                    Source::Marketplace => "marketplace",
                },
            );
        } else if source.kind == Some(Source::Marketplace) {
            d.insert("__v", 0);
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

/// One stored order and the source it was read from.
pub(crate) struct Found<'a> {
    pub source: &'a SourceDb,
    pub doc: Document,
}

impl Found<'_> {
    pub fn summary(&self) -> OrderSummary {
        self.source.summary(&self.doc)
    }

    /// Where it falls in the newest-first order every list shares: an order renamed from the
    /// key after those holding it, then its time, then its `_id`.
    fn rank(&self) -> (bool, i64, [u8; 12]) {
        let holds_key = !self.doc.get_bool(RENAMED_FIELD).unwrap_or(false);
        let created = self.source.time_of(&self.doc, Fact::CreatedAt).map_or(i64::MIN, |t| t.timestamp_millis());
        let oid = self.doc.get_object_id("_id").map(|o| o.bytes()).unwrap_or([0; 12]);
        (holds_key, created, oid)
    }

    /// The cursor that starts the page after this order.
    fn cursor(&self) -> Option<Cursor> {
        let created_ms = match self.doc.get(self.source.field(Fact::CreatedAt)?)? {
            Bson::DateTime(t) => t.timestamp_millis(),
            _ => return None,
        };
        Some(Cursor { created_ms, oid: self.doc.get_object_id("_id").ok()?.to_hex() })
    }
}

/// Newest first across sources (each source's answer is already so).
fn newest_first(found: &mut [Found<'_>]) {
    found.sort_by_key(|f| std::cmp::Reverse(f.rank()));
}

/// What the sources asked gave, and which of them could not answer.
pub(crate) struct Gathered<'a> {
    pub found: Vec<Found<'a>>,
    /// Each a [`StorageError::SourceDown`].
    pub outages: Vec<StorageError>,
}

impl<'a> Gathered<'a> {
    /// The answer only if every source asked gave one (an export, a count: partial would lie).
    pub fn complete(self) -> Result<Vec<Found<'a>>, StorageError> {
        match self.outages.into_iter().next() {
            None => Ok(self.found),
            Some(e) => Err(e),
        }
    }

    /// The answer when it is certain: what was found, or "nothing" only when every source
    /// that might hold it answered. A lookup that finds nothing while a source is down says so.
    pub fn found_or_down(self) -> Result<Vec<Found<'a>>, StorageError> {
        if self.found.is_empty() { self.complete() } else { Ok(self.found) }
    }
}

/// Each source's answer, split: what the sources that answered gave, and an outage (a
/// [`StorageError::SourceDown`]) for each configured source that could not be reached. Any
/// other error, or every source asked failing, is the answer.
#[allow(clippy::type_complexity)]
fn split_answers<T>(
    answers: Vec<(&SourceDb, Result<T, StorageError>)>,
) -> Result<(Vec<(&SourceDb, T)>, Vec<StorageError>), StorageError> {
    let asked = answers.len();
    let (mut answered, mut down) = (Vec::new(), Vec::new());
    for (source, answer) in answers {
        match answer {
            Ok(value) => answered.push((source, value)),
            Err(e) if e.is_unavailable() && !source.is_own() => down.push(source.down(e)),
            Err(e) => return Err(e),
        }
    }
    if !down.is_empty() && down.len() == asked {
        return Err(down.swap_remove(0));
    }
    Ok((answered, down))
}

/// The outages as pages show them.
pub(crate) fn outages_shown(outages: &[StorageError]) -> Vec<SourceOutage> {
    outages
        .iter()
        .filter_map(|e| match e {
            StorageError::SourceDown { name, database, cause } => {
                Some(SourceOutage { source: name.clone(), database: database.clone(), message: cause.to_string() })
            }
            _ => None,
        })
        .collect()
}

impl Store {
    /// Runs `per` in every source it gives work for, all at once (one round trip each, in
    /// parallel), and waits for every one to end: a call is never dropped half way in the
    /// driver. A configured source that cannot be reached is an outage beside what the others
    /// answered; any other error, or every source asked failing, is the answer.
    pub(crate) async fn in_each_source<'a, F, Fut>(&'a self, per: F) -> Result<Gathered<'a>, StorageError>
    where
        F: Fn(&'a SourceDb) -> Option<Fut>,
        Fut: Future<Output = Result<Vec<Document>, StorageError>>,
    {
        let runs = self.sources().iter().filter_map(|s| per(s).map(|run| async move { (s, run.await) }));
        let (answered, outages) = split_answers(futures::future::join_all(runs).await)?;
        let found =
            answered.into_iter().flat_map(|(source, docs)| docs.into_iter().map(move |doc| Found { source, doc }));
        Ok(Gathered { found: found.collect(), outages })
    }

    /// Number of orders, from collection metadata (instant at any size), over every source.
    #[tracing::instrument(skip(self))]
    pub async fn order_count(&self) -> Result<u64, StorageError> {
        self.counts().await.into_iter().map(|(_, n)| n).sum()
    }

    /// [`Store::order_count`] over the sources that answered, for the home page: one that
    /// did not is named beside the figure, not made the page's answer.
    pub async fn order_count_shown(&self) -> Result<Partial<u64>, StorageError> {
        let (answered, down) = split_answers(self.counts().await)?;
        Ok(Partial { value: answered.iter().map(|(_, n)| n).sum(), outages: outages_shown(&down) })
    }

    async fn counts(&self) -> Vec<(&SourceDb, Result<u64, StorageError>)> {
        futures::future::join_all(self.sources().iter().map(|s| async move {
            let orders = s.orders();
            let count = orders.estimated_document_count().max_time(self.op_timeout);
            let count = self.run_in(s, "order_count", ORDERS, count).await;
            (s, count.map_err(|e| if s.is_own() { e } else { s.down(e) }))
        }))
        .await
    }

    /// Inserts one order, into the source of its kind and in that system's shape, under the
    /// unique indexes; a clash says which.
    #[tracing::instrument(skip(self, order, now), fields(order_id = %id))]
    pub async fn insert_order(
        &self,
        id: &OrderId,
        order: &NewOrder,
        now: DateTime<Utc>,
    ) -> Result<(), InsertOrderError> {
        let source = self.source_of(order.source)?;
        let orders = source.orders();
        // One `_id` for every try: a try after an election whose first one did land meets
        // that one, and it is recognised as this order rather than stored twice.
        let own_id = ObjectId::new();
        let mut document = order.to_document(source, id, now);
        document.insert("_id", own_id);
        let inserted =
            self.run_retrying_in(source, "insert_order", ORDERS, || orders.insert_one(document.clone())).await;
        let landed_before = || async {
            let found = self.run_in(
                source,
                "find_own_order",
                ORDERS,
                orders.find_one(doc! { "_id": own_id }).max_time(self.op_timeout),
            );
            matches!(found.await, Ok(Some(_)))
        };
        // A system's index may have any name: the clash is told by the field it names.
        let clash_on = |fact: Fact, index: &Option<String>, message: &str| {
            let field = source.field(fact);
            let named = match fact {
                Fact::OrderId => ORDER_ID_INDEX,
                _ => ORDER_NUMBER_INDEX,
            };
            index.as_deref() == Some(named) || field.is_some_and(|f| super::duplicate_field(message) == Some(f))
        };
        match inserted {
            Ok(_) => Ok(()),
            Err(StorageError::DuplicateKey { index, .. }) if index.as_deref() == Some("_id_") => Ok(()),
            Err(StorageError::DuplicateKey { .. }) if landed_before().await => Ok(()),
            Err(StorageError::DuplicateKey { index, message, .. }) if clash_on(Fact::OrderId, &index, &message) => {
                Err(InsertOrderError::OrderIdTaken(*id))
            }
            Err(StorageError::DuplicateKey { index, message, .. }) if clash_on(Fact::OrderNumber, &index, &message) => {
                Err(InsertOrderError::OrderNumberTaken(order.order_number.map(|n| n.to_string()).unwrap_or_default()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The newest orders of every source, for the home page.
    #[tracing::instrument(skip(self))]
    pub async fn recent_orders(&self, limit: i64) -> Result<Partial<Vec<OrderSummary>>, StorageError> {
        let Gathered { mut found, outages } = self
            .in_each_source(|s| {
                let sort = doc! { s.field_or_none(Fact::CreatedAt): -1 };
                Some(self.find_in(s, "recent_orders", doc! {}, sort, limit))
            })
            .await?;
        newest_first(&mut found);
        let value = found.iter().take(limit as usize).map(Found::summary).collect();
        Ok(Partial { value, outages: outages_shown(&outages) })
    }

    /// One bounded `find` in a source's orders.
    pub(crate) async fn find_in(
        &self,
        source: &SourceDb,
        op: &'static str,
        filter: Document,
        sort: Document,
        limit: i64,
    ) -> Result<Vec<Document>, StorageError> {
        let orders = source.orders();
        self.run_in(source, op, ORDERS, async {
            orders.find(filter).max_time(self.op_timeout).sort(sort).limit(limit).await?.try_collect().await
        })
        .await
    }

    /// Orders matching one parsed key, newest first, from every source that keeps its form.
    pub async fn find_orders(&self, key: &LookupKey) -> Result<Vec<OrderSummary>, StorageError> {
        Ok(self.find_order_documents_with(key, Details::Left).await?.iter().map(Found::summary).collect())
    }

    /// What one parsed key finds: nothing, one order with everything about it, or several
    /// (a shared display form, a renamed duplicate, one in each system) to choose from.
    pub async fn look_up_order(&self, key: &LookupKey) -> Result<OrderLookup, StorageError> {
        let mut found = self.find_order_documents_with(key, Details::Attached).await?;
        Ok(match found.len() {
            0 => OrderLookup::None,
            1 => {
                let one = found.remove(0);
                OrderLookup::One(Box::new(details_from_document(one.source, one.doc)))
            }
            _ => OrderLookup::Many(found.iter().map(Found::summary).collect()),
        })
    }

    /// The stored documents matching one parsed key, newest first, at most [`LOOKUP_LIMIT`]
    /// (then any renamed from it). The filter is built from the typed key only: no operator,
    /// regex or raw text from the user ever reaches the query, and every form has an index.
    #[tracing::instrument(skip(self), fields(key = %key))]
    async fn find_order_documents_with(
        &self,
        key: &LookupKey,
        details: Details,
    ) -> Result<Vec<Found<'_>>, StorageError> {
        let mut found = self.aggregate_lookup(key, details).await?;
        // A bot's order of the last minutes may not have its display form yet (the background
        // fill follows new orders): fill the recent ones in and look again.
        if found.is_empty() && (matches!(key, LookupKey::DisplayId(_)) || by_random(key).is_some()) {
            let recent = Utc::now() - super::display_ids::LATE_INSERT;
            match self.fill_display_ids(Some(recent), self.op_timeout).await {
                Ok(0) => {}
                Ok(_) => found = self.aggregate_lookup(key, details).await?,
                // The lookup itself worked: its answer stands, without the recent bot orders.
                Err(e) => tracing::warn!(error = %e, "could not fill in recent display_ids for a lookup"),
            }
        }
        // A shortened ID found by its random part: an order it was cut from (its time starts
        // with the digits given) is a better reading than one that only holds them in order.
        if let LookupKey::Partial(p) = key {
            let cut = |f: &Found| {
                let stored = f.source.field(Fact::OrderId).and_then(|field| super::sources::text(f.doc.get(field)));
                let id = stored.and_then(|s| OrderId::parse(&s).ok());
                id.is_some_and(|id| p.is_cut_from(&id))
            };
            if found.iter().any(cut) {
                found.retain(cut);
            }
        }
        Ok(found)
    }

    /// One round trip per source, all sources at once: mongod joins the aliases, payments and
    /// bot session itself. The order page was five reads (order, alias, payments, session,
    /// staff session) and mongod's per-command cost, not the work, was what limited it
    /// (BENCHMARKS.md, "The order page: one round trip instead of five").
    async fn aggregate_lookup(&self, key: &LookupKey, details: Details) -> Result<Vec<Found<'_>>, StorageError> {
        let own = self.single_database();
        let aliases = matches!(key, LookupKey::OrderId(_)) && self.aliases_may_exist().await?;
        // Beside the orders (one database) mongod joins the aliases itself; a system's own
        // orders are in another database, so the IDs they were renamed to are asked first.
        let renamed = match key {
            LookupKey::OrderId(old) if aliases && !own => {
                let mut ids = self.renamed_from(old).await?;
                (!ids.is_empty()).then(|| {
                    ids.insert(0, old.to_string());
                    ids
                })
            }
            _ => None,
        };
        // A display form names a bot order through the derived collection (outside orderdesk's
        // own database, the bots' orders do not carry it).
        let derived = match key {
            LookupKey::DisplayId(id) if !own => {
                Some(self.order_ids_of_display(doc! { "display_id": id.to_string() }).await?)
            }
            LookupKey::Partial(p) if !own => match by_random(key) {
                Some(display) => Some(
                    self.order_ids_of_display(doc! { "display_id": display.to_string(), "_id": partial_match(p) })
                        .await?,
                ),
                None => None,
            },
            _ => None,
        };
        let mut found = self
            .in_each_source(|s| {
                let filter = match &derived {
                    Some(ids) if s.holds(Source::ShippingBot) && !ids.is_empty() => {
                        doc! { s.field(Fact::OrderId)?: { "$in": ids } }
                    }
                    Some(_) => return None,
                    None => match &renamed {
                        Some(ids) if s.holds(Source::ShippingBot) => doc! { s.field(Fact::OrderId)?: { "$in": ids } },
                        _ => lookup_filter(s, key)?,
                    },
                };
                let renamed = if s.is_own() {
                    Renamed::Joined(aliases)
                } else {
                    Renamed::Listed(renamed.is_some() && s.holds(Source::ShippingBot))
                };
                let pipeline = lookup_pipeline(s, filter, key, details, renamed);
                let orders = s.orders();
                Some(async move {
                    self.run_in(s, "find_orders", ORDERS, async {
                        orders.aggregate(pipeline).max_time(self.op_timeout).await?.try_collect().await
                    })
                    .await
                })
            })
            .await?
            .found_or_down()?;
        if self.sources().len() > 1 {
            newest_first(&mut found);
            found.truncate(LOOKUP_LIMIT as usize);
        }
        Ok(found)
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

    /// The IDs the `duplicates` migration gave the orders that held `old` (kept in orderdesk's
    /// database when the bot's orders are in the bot's).
    async fn renamed_from(&self, old: &OrderId) -> Result<Vec<String>, StorageError> {
        let aliases = self.collection(ALIASES);
        let found: Vec<Document> = self
            .run("find_alias", ALIASES, async {
                aliases
                    .find(doc! { "old_order_id": old.to_string() })
                    .projection(doc! { "new_order_id": 1 })
                    .limit(LOOKUP_LIMIT)
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(found.iter().filter_map(|d| d.get_str("new_order_id").ok().map(str::to_owned)).collect())
    }

    /// Up to `limit` orders whose ID starts with one of the prefixes, by index range, from
    /// every source that keeps that form.
    #[tracing::instrument(skip(self))]
    pub async fn suggest_orders(&self, prefixes: &[IdPrefix], limit: i64) -> Result<Vec<OrderSummary>, StorageError> {
        let mut found = Vec::new();
        for prefix in prefixes {
            // '~' sorts after every ID character, so [prefix, prefix~) is "starts with".
            let range = doc! { "$gte": &prefix.text, "$lt": format!("{}~", prefix.text) };
            let own = self.single_database();
            let derived = match prefix.field {
                PrefixField::DisplayId if !own => {
                    Some(self.order_ids_of_display(doc! { "display_id": range.clone() }).await?)
                }
                _ => None,
            };
            let docs = self
                .in_each_source(|s| {
                    let (filter, sort) = match (&derived, prefix.field) {
                        (Some(ids), _) if s.holds(Source::ShippingBot) && !ids.is_empty() => {
                            let f = s.field(Fact::OrderId)?;
                            (doc! { f: { "$in": ids } }, doc! { f: 1 })
                        }
                        (Some(_), _) => return None,
                        (None, PrefixField::DisplayId) if s.is_own() => {
                            (doc! { "display_id": range.clone() }, doc! { "display_id": 1 })
                        }
                        (None, PrefixField::DisplayId) => return None,
                        (None, PrefixField::OrderId) => {
                            let f = s.field(Fact::OrderId)?;
                            (doc! { f: range.clone() }, doc! { f: 1 })
                        }
                        (None, PrefixField::OrderNumber) => {
                            let f = s.field(Fact::OrderNumber)?;
                            (doc! { f: range.clone() }, doc! { f: 1 })
                        }
                    };
                    Some(self.find_in(s, "suggest_orders", filter, sort, limit))
                })
                .await?
                // Suggestions from the sources that answered: the search itself says the rest.
                .found;
            found.extend(docs.iter().map(Found::summary));
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    /// The query plan MongoDB picks for a lookup in the first source that keeps the key's
    /// form, as JSON text (tests assert it uses an index).
    pub async fn explain_lookup(&self, key: &LookupKey) -> Result<String, StorageError> {
        let Some((source, filter)) = self.sources().iter().find_map(|s| Some((s, lookup_filter(s, key)?))) else {
            return Ok(String::new());
        };
        let command = doc! {
            "explain": {
                "find": &source.collections().orders, "filter": filter,
                "sort": lookup_sort(source, key), "limit": LOOKUP_LIMIT,
            },
            "verbosity": "queryPlanner",
        };
        let plan = self.run_in(source, "explain", ORDERS, source.database().run_command(command)).await?;
        Ok(plan.get_document("queryPlanner").map(|p| p.to_string()).unwrap_or_default())
    }
}

/// Orders per list page.
pub const PAGE_SIZE: i64 = 50;

/// The newest-first order of every list: `_id` breaks ties between equal times.
fn list_sort(source: &SourceDb) -> Document {
    doc! { source.field_or_none(Fact::CreatedAt): -1, "_id": -1 }
}

/// The query for a list filter in one source and, for pages after the first, the keyset
/// cursor; `None` when no order of that source can match (a BB filter on the bot's database).
pub(crate) fn list_filter(
    source: &SourceDb,
    filter: &OrderFilter,
    cursor: Option<&Cursor>,
    zone: &chrono_tz::Tz,
) -> Result<Option<Document>, StorageError> {
    if let (Some(wanted), Some(kind)) = (filter.source, source.kind)
        && wanted != kind
    {
        return Ok(None);
    }
    let mut all: Vec<Document> = Vec::new();
    if let Some(status) = &filter.status {
        all.push(doc! { source.field_or_none(Fact::Status): status.as_str() });
    }
    if let Some(vendor) = &filter.vendor {
        all.push(source.matching(Fact::Vendor, vendor.as_str()));
    }
    let created_field = source.field_or_none(Fact::CreatedAt);
    let (start, end) = filter.bounds(zone);
    let mut created = Document::new();
    if let Some(start) = start {
        created.insert("$gte", bson_time(start));
    }
    if let Some(end) = end {
        created.insert("$lt", bson_time(end));
    }
    if !created.is_empty() {
        all.push(doc! { created_field: created });
    }
    // Fixed, anchored patterns written here; never text from the user.
    let order_id = source.field(Fact::OrderId);
    match (filter.scheme, order_id) {
        (Some(SchemeFilter::Ord), Some(f)) => all.push(doc! { f: { "$regex": "^ORD-" } }),
        (Some(SchemeFilter::Uuid), Some(f)) => all.push(doc! { f: { "$regex": "^[0-9a-f]{8}-[0-9a-f]{4}-" } }),
        // `null` matches both null and missing. A marketplace that keeps no order_id is not
        // "missing" one: its orders are named by their numbers.
        (Some(SchemeFilter::Missing), Some(f)) if source.kind != Some(Source::Marketplace) => {
            all.push(doc! { f: { "$in": [Bson::Null, ""] } })
        }
        (Some(SchemeFilter::Bb), _) => match source.field(Fact::OrderNumber) {
            Some(f) => all.push(doc! { f: { "$type": "string" } }),
            None => return Ok(None),
        },
        (Some(_), _) => return Ok(None),
        (None, _) => {}
    }
    // In orderdesk's own database, as `SourceDb::summary` tells them apart: marked so, or
    // carrying a marketplace field.
    match filter.source.filter(|_| source.is_own()) {
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
        all.push(doc! { "$or": [ { created_field: { "$lt": at } }, { created_field: at, "_id": { "$lt": oid } } ] });
    }
    Ok(Some(if all.is_empty() {
        doc! {}
    } else {
        doc! { "$and": all }
    }))
}

impl Store {
    /// One page of the order list and the cursor of the next page, if there is one.
    #[tracing::instrument(skip(self))]
    pub async fn list_orders(&self, filter: &OrderFilter, cursor: Option<&Cursor>) -> Result<OrdersPage, StorageError> {
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
        // A file is kept and passed on: one missing a system would be taken for all of them.
        let page = self.orders_page("export_orders", filter, cursor, EXPORT_PAGE).await?;
        match page.down.into_iter().next() {
            Some(e) => Err(e),
            None => Ok((page.orders, page.next)),
        }
    }

    /// A page over every source: each gives its next `size + 1` after the cursor, and the
    /// merged newest `size` are the page. The cursor (a time and an `_id`) means the same in
    /// every source, so the next page starts right after the last one shown, in each.
    async fn orders_page(
        &self,
        op: &'static str,
        filter: &OrderFilter,
        cursor: Option<&Cursor>,
        size: i64,
    ) -> Result<OrdersPage, StorageError> {
        let mut queries = Vec::new();
        for s in self.sources() {
            queries.push((s.name.as_str(), list_filter(s, filter, cursor, &self.zone)?));
        }
        let query_of = |s: &SourceDb| queries.iter().find(|(name, _)| *name == s.name).and_then(|(_, q)| q.clone());
        let Gathered { mut found, outages } =
            self.in_each_source(|s| Some(self.find_in(s, op, query_of(s)?, list_sort(s), size + 1))).await?;
        newest_first(&mut found);
        let next = if found.len() as i64 > size {
            found.truncate(size as usize);
            found.last().and_then(Found::cursor)
        } else {
            None
        };
        Ok(OrdersPage { orders: found.iter().map(Found::summary).collect(), next, down: outages })
    }
}

/// One page of a list over every source, and the sources that did not answer.
pub struct OrdersPage {
    pub orders: Vec<OrderSummary>,
    pub next: Option<Cursor>,
    /// Each a [`StorageError::SourceDown`]: their orders are missing from the page.
    pub down: Vec<StorageError>,
}

impl OrdersPage {
    pub fn outages(&self) -> Vec<SourceOutage> {
        outages_shown(&self.down)
    }
}

/// The query for one key in one source, or `None` when that system does not keep the key's
/// form; each form is served by an index (see `indexes.rs`).
pub(crate) fn lookup_filter(source: &SourceDb, key: &LookupKey) -> Option<Document> {
    Some(match key {
        LookupKey::OrderId(id) => doc! { source.field(Fact::OrderId)?: id.to_string() },
        LookupKey::DisplayId(id) if source.is_own() => doc! { "display_id": id.to_string() },
        LookupKey::DisplayId(_) => return None,
        // A shortened ORD ID: by the display form its random part starts with (one
        // database; a system's own goes through the derived forms), or by the index range of
        // its leading time digits; the pattern then keeps only what it can be.
        LookupKey::Partial(p) => match by_random(key) {
            Some(display) if source.is_own() => {
                doc! { "display_id": display.to_string(), source.field(Fact::OrderId)?: partial_match(p) }
            }
            Some(_) => return None,
            None => {
                let prefix = p.stored_prefix();
                let mut range = doc! { "$gte": &prefix, "$lt": format!("{prefix}~") };
                range.extend(partial_match(p));
                doc! { source.field(Fact::OrderId)?: range }
            }
        },
        // The unique index on order_number is partial ({$type: "string"}): the planner uses it
        // only when the query itself states that predicate, so say it.
        LookupKey::OrderNumber(n) => {
            doc! { source.field(Fact::OrderNumber)?: { "$eq": n.to_string(), "$type": "string" } }
        }
        LookupKey::TelegramId(t) => doc! { source.field(Fact::TelegramId)?: t.0 },
        // Legacy data holds non-canonical order_ids too (`test_order_…`): match either field.
        LookupKey::LegacyId(l) => {
            let either: Vec<Document> = [Fact::LegacyId, Fact::OrderId]
                .into_iter()
                .filter_map(|fact| source.field(fact))
                .map(|f| doc! { f: l.as_str() })
                .collect();
            if either.is_empty() {
                return None;
            }
            doc! { "$or": either }
        }
    })
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

/// The display form a shortened ID is found by, when its random part holds one.
fn by_random(key: &LookupKey) -> Option<crate::domain::ids::DisplayId> {
    match key {
        LookupKey::Partial(p) if p.narrowing() == Narrowing::ByRandom => p.display_id(),
        _ => None,
    }
}

/// The stored IDs a shortened ID can be (digits and hex from the parsed key only).
fn partial_match(p: &crate::domain::ids::PartialOrderId) -> Document {
    doc! { "$regex": p.pattern(), "$options": "i" }
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

/// The orders `filter` matches in one source, newest first; for an order ID, then the orders
/// renamed from it by the `duplicates` migration (found by their old ID next to the order
/// that kept it). The bot's payments, pending orders and session are joined from the
/// collections beside its orders.
/// How a lookup by order ID meets the orders renamed from it.
#[derive(Debug, Clone, Copy)]
enum Renamed {
    /// One database: joined from the aliases beside the orders (when any may exist).
    Joined(bool),
    /// A system's own database: the filter already lists the new IDs (when there are any);
    /// the key's own order first.
    Listed(bool),
}

/// Newest first; a shortened ID found by its time digits goes along the order_id range it
/// was found by (ORD IDs sort by their time, and sorting a month's orders by another field
/// would read every one of them).
fn lookup_sort(source: &SourceDb, key: &LookupKey) -> Document {
    match key {
        LookupKey::Partial(p) if p.narrowing() == Narrowing::ByTimePrefix => {
            doc! { source.field_or_none(Fact::OrderId): -1 }
        }
        _ => doc! { source.field_or_none(Fact::CreatedAt): -1 },
    }
}

fn lookup_pipeline(
    source: &SourceDb,
    filter: Document,
    key: &LookupKey,
    details: Details,
    renamed: Renamed,
) -> Vec<Document> {
    let created = source.field_or_none(Fact::CreatedAt);
    let mut stages = vec![doc! { "$match": filter }];
    if let (LookupKey::OrderId(old), Renamed::Listed(true)) = (key, renamed) {
        let field = format!("${}", source.field_or_none(Fact::OrderId));
        stages.push(doc! { "$set": { RENAMED_FIELD: { "$ne": [field, old.to_string()] } } });
        stages.push(doc! { "$sort": { RENAMED_FIELD: 1, created: -1 } });
    } else {
        stages.push(doc! { "$sort": lookup_sort(source, key) });
    }
    stages.push(doc! { "$limit": LOOKUP_LIMIT });
    if let (LookupKey::OrderId(old), Renamed::Joined(true)) = (key, renamed) {
        stages.push(doc! { "$unionWith": { "coll": ALIASES, "pipeline": [
            { "$match": { "old_order_id": old.to_string() } },
            { "$limit": LOOKUP_LIMIT },
            { "$lookup": { "from": &source.collections().orders, "localField": "new_order_id", "foreignField": "order_id", "as": "renamed" } },
            { "$unwind": "$renamed" },
            { "$replaceWith": "$renamed" },
            { "$set": { RENAMED_FIELD: true } },
        ] } });
        // $unionWith promises no order: the key's own orders first, newest first.
        stages.push(doc! { "$sort": { RENAMED_FIELD: 1, created: -1 } });
    }
    let (Details::Attached, true) = (details, source.holds(Source::ShippingBot)) else {
        return stages;
    };
    let c = source.collections();
    if let Some(order_id) = source.field(Fact::OrderId) {
        stages.push(doc! { "$lookup": {
            "from": &c.payments, "localField": order_id, "foreignField": "order_id",
            "pipeline": [ { "$sort": { "created_at": 1 } }, { "$limit": 100 } ],
            "as": PAYMENTS_FIELD,
        } });
        stages.push(doc! { "$lookup": {
            "from": &c.pending_orders, "localField": order_id, "foreignField": "order_id",
            "pipeline": [ { "$sort": { "created_at": 1 } }, { "$limit": 20 } ],
            "as": PENDING_FIELD,
        } });
    }
    if let Some(telegram_id) = source.field(Fact::TelegramId) {
        stages.push(doc! { "$lookup": {
            "from": &c.sessions, "localField": telegram_id, "foreignField": "user_id",
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

/// `paid_at` as a Mongoose schema would name it (`paidAt`).
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Everything the order page shows about one order read by [`lookup_pipeline`] with details.
fn details_from_document(source: &SourceDb, mut order: Document) -> OrderDetails {
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
    let summary = source.summary(&order);
    // $lookup matches a missing local field to foreign documents without one: only an order
    // with an ID (or a telegram id) has payments (or a session).
    let payments =
        if summary.order_id.is_some() { payments.iter().map(payment_from_document).collect() } else { Vec::new() };
    let pending =
        if summary.order_id.is_some() { pending.iter().map(pending_from_document).collect() } else { Vec::new() };
    let session = summary.telegram_id.and(sessions.first()).map(session_from_document);
    // The seeds name these times in their own case: the bot's snake_case, Mongoose's camelCase.
    let time = |k: &str| datetime(order.get(k)).or_else(|| datetime(order.get(camel(k))));
    let times = OrderTimes {
        created: summary.created_at,
        paid: time("paid_at"),
        fulfilled: time("fulfilled_at").or_else(|| time("label_created_at")),
        completed: time("completed_at"),
        failed: time("failed_at"),
        refunded: time("refunded_at"),
        cancelled: time("cancelled_at"),
        updated: source.time_of(&order, Fact::UpdatedAt),
    };
    let text = |k: &str| {
        let camel = camel(k);
        [k, camel.as_str()].into_iter().find_map(|k| order.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned))
    };
    let raw = Bson::Document(order.clone()).into_relaxed_extjson();
    OrderDetails {
        times,
        currency: text("currency"),
        failure_reason: text("failure_reason"),
        refund_status: text("refund_status"),
        refund_amount: number(order.get("refund_amount")).or_else(|| number(order.get("refundAmount"))),
        payments,
        pending,
        session,
        raw_json: serde_json::to_string_pretty(&raw).unwrap_or_else(|_| raw.to_string()),
        summary,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_times_as_mongoose_does() {
        assert_eq!(super::camel("label_created_at"), "labelCreatedAt");
        assert_eq!(super::camel("paid"), "paid");
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
