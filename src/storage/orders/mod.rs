//! The `orders` collection: both systems' orders, one document each, read in each system's
//! own database through its field map (`sources.rs`). Here: writing a new order and asking
//! every source at once; `lookup.rs` finds orders by any form of their ID, `list.rs` pages
//! through them, `details.rs` reads everything the order page shows.

mod details;
mod list;
mod lookup;

pub use list::{OrdersPage, PAGE_SIZE};
pub(crate) use lookup::AliasFlag;
pub use lookup::{ALIAS_RECHECK, OrderLookup};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc, oid::ObjectId};

use super::values::bson_time;
use super::{
    StorageError, Store,
    indexes::{ORDER_ID_INDEX, ORDER_NUMBER_INDEX},
    names::ORDERS,
    sources::SourceDb,
};
use crate::{
    config::Fact,
    domain::ids::{BbNumber, OrderId, TelegramId, VendorId},
    domain::order_filter::Cursor,
    domain::orders::{OrderSummary, Partial, Source, SourceOutage},
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

/// Fields the lookup pipeline adds to an order, taken off before anything else reads it.
const PAYMENTS_FIELD: &str = "_od_payments";
const SESSION_FIELD: &str = "_od_session";
const PENDING_FIELD: &str = "_od_pending";
const RENAMED_FIELD: &str = "_od_renamed";
const SLOW_FIELD: &str = "_od_slow";
const SLOW_NAMES_FIELD: &str = "_od_slow_names";

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
}
