//! Finding orders by any form of their ID: one aggregation per source, the aliases the
//! `duplicates` migration left, the derived display forms, and shortened IDs.
//!
//! Long (about 440 lines): the aggregation, its filter per key and its joins must agree
//! field by field, so they stay side by side.

use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::{
    Found, LOOKUP_LIMIT, PAYMENTS_FIELD, PENDING_FIELD, RENAMED_FIELD, SESSION_FIELD, SLOW_FIELD, SLOW_NAMES_FIELD,
    details::details_from_document, newest_first,
};
use crate::storage::{
    StorageError, Store,
    names::{ALIASES, ORDERS, SLOW_QUERIES},
    sources::SourceDb,
};
use crate::{
    config::Fact,
    domain::ids::{IdPrefix, LookupKey, Narrowing, OrderId, PrefixField},
    domain::orders::{OrderDetails, OrderSummary, Source},
    domain::performance::{SLOW_PER_ORDER, SlowQuery},
};

/// What a lookup found.
#[derive(Debug)]
pub enum OrderLookup {
    None,
    One {
        details: Box<OrderDetails>,
        /// Its latest slow operations, when mongod joined them (see `slow_join`).
        slow: Option<Vec<SlowQuery>>,
    },
    Many(Vec<OrderSummary>),
}

impl Store {
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
                let (details, slow) = details_from_document(one.source, one.doc);
                OrderLookup::One { details: Box::new(details), slow }
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
            let recent = Utc::now() - crate::storage::display_ids::LATE_INSERT;
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
                let stored =
                    f.source.field(Fact::OrderId).and_then(|field| crate::storage::sources::text(f.doc.get(field)));
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
            let own = self.single_database();
            let derived = match prefix.field {
                PrefixField::DisplayId if !own => {
                    Some(self.order_ids_of_display(doc! { "display_id": prefix_range(prefix) }).await?)
                }
                _ => None,
            };
            let docs = self
                .in_each_source(|s| {
                    let (filter, sort) = match &derived {
                        Some(ids) if s.holds(Source::ShippingBot) && !ids.is_empty() => {
                            let f = s.field(Fact::OrderId)?;
                            (doc! { f: { "$in": ids } }, doc! { f: 1 })
                        }
                        Some(_) => return None,
                        None => suggest_filter(s, prefix)?,
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

    /// The query plan MongoDB picks for a suggestion in the first source that keeps the
    /// prefix's form, as JSON text (tests assert it uses an index).
    pub async fn explain_suggest(&self, prefix: &IdPrefix) -> Result<String, StorageError> {
        let Some((source, (filter, sort))) = self.sources().iter().find_map(|s| Some((s, suggest_filter(s, prefix)?)))
        else {
            return Ok(String::new());
        };
        let command = doc! {
            "explain": { "find": &source.collections().orders, "filter": filter, "sort": sort, "limit": 8 },
            "verbosity": "queryPlanner",
        };
        let plan = self.run_in(source, "explain", ORDERS, source.database().run_command(command)).await?;
        Ok(plan.get_document("queryPlanner").map(|p| p.to_string()).unwrap_or_default())
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

    /// How mongod ran the order page's aggregation (everything about the order joined) in
    /// the first source that keeps the key's form, with its execution statistics, as JSON
    /// text (tests assert what each join used).
    pub async fn explain_order_page(&self, key: &LookupKey) -> Result<String, StorageError> {
        let Some((source, filter)) = self.sources().iter().find_map(|s| Some((s, lookup_filter(s, key)?))) else {
            return Ok(String::new());
        };
        let pipeline = lookup_pipeline(source, filter, key, Details::Attached, Renamed::Joined(false));
        let command = doc! {
            "explain": { "aggregate": &source.collections().orders, "pipeline": pipeline, "cursor": {} },
            "verbosity": "executionStats",
        };
        let plan = self.run_in(source, "explain", ORDERS, source.database().run_command(command)).await?;
        Ok(plan.to_string())
    }
}

/// "Starts with": '~' sorts after every ID character, so [prefix, prefix~) is the range. The
/// `$type` lets the partial BB-number index serve it: without it, a pasted BB number's
/// suggestions scanned every order (75 ms on 200,000, BENCHMARKS.md).
fn prefix_range(prefix: &IdPrefix) -> Document {
    doc! { "$gte": &prefix.text, "$lt": format!("{}~", prefix.text), "$type": "string" }
}

/// A suggestion's query and order in one source, or `None` when that system does not keep
/// the prefix's form (a system's own display IDs go through the derived forms).
pub(crate) fn suggest_filter(source: &SourceDb, prefix: &IdPrefix) -> Option<(Document, Document)> {
    let field = match prefix.field {
        PrefixField::DisplayId if source.is_own() => "display_id",
        PrefixField::DisplayId => return None,
        PrefixField::OrderId => source.field(Fact::OrderId)?,
        PrefixField::OrderNumber => source.field(Fact::OrderNumber)?,
    };
    Some((doc! { field: prefix_range(prefix) }, doc! { field: 1 }))
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

/// The orders `filter` matches in one source, newest first; for an order ID, then the orders
/// renamed from it by the `duplicates` migration (found by their old ID next to the order
/// that kept it). The bot's payments, pending orders and session are joined from the
/// collections beside its orders.
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
    if let Details::Left = details {
        return stages;
    }
    if source.is_own() {
        stages.extend(slow_join(source, key));
    }
    if !source.holds(Source::ShippingBot) {
        return stages;
    }
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

/// The order's latest slow operations by any of its names (the key as read, its IDs, its
/// display form), joined where the slow-operations log sits beside the orders (orderdesk's
/// own database) by its `order_1_at_-1` index: one command per order page, not two. Elsewhere
/// the order page asks the log itself (`Store::slow_queries_for`).
fn slow_join(source: &SourceDb, key: &LookupKey) -> [Document; 3] {
    let names: Vec<Bson> = [Fact::OrderId, Fact::OrderNumber, Fact::LegacyId]
        .into_iter()
        .filter_map(|fact| source.field(fact))
        .chain(["display_id"])
        .map(|field| Bson::String(format!("${field}")))
        .chain([Bson::Document(doc! { "$literal": key.to_string() })])
        .collect();
    [
        // A field the order lacks reads as null here; a null name would match every slow
        // operation that named no order.
        doc! { "$set": { SLOW_NAMES_FIELD: { "$setDifference": [names, [Bson::Null]] } } },
        doc! { "$lookup": {
            "from": SLOW_QUERIES, "localField": SLOW_NAMES_FIELD, "foreignField": "order",
            // The `$type` lets mongod use the partial index (the equality alone does not).
            "pipeline": [
                { "$match": { "order": { "$type": "string" } } },
                { "$sort": { "at": -1 } },
                { "$limit": SLOW_PER_ORDER },
            ],
            "as": SLOW_FIELD,
        } },
        doc! { "$unset": SLOW_NAMES_FIELD },
    ]
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
