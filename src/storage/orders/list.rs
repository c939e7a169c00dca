//! The order list and the CSV export: every source's orders merged newest first, paged by
//! keyset (time, then `_id`), never by skip.

use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};

use super::{EXPORT_PAGE, Found, Gathered, newest_first, outages_shown};
use crate::storage::values::bson_time;
use crate::storage::{StorageError, Store, sources::SourceDb};
use crate::{
    config::Fact,
    domain::order_filter::{Cursor, OrderFilter, SchemeFilter},
    domain::orders::{OrderSummary, Source, SourceOutage},
};

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
