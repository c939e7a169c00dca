//! The `orders` collection: both systems' orders, one document each.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::{StorageError, Store, names::ORDERS};
use crate::{
    ids::{BbNumber, LookupKey, OrderId, TelegramId, VendorId},
    orders::{OrderSummary, Source},
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

impl Store {
    /// Number of orders, from collection metadata (instant at any size).
    #[tracing::instrument(skip(self))]
    pub async fn order_count(&self) -> Result<u64, StorageError> {
        let orders = self.collection(ORDERS);
        self.run("order_count", ORDERS, orders.estimated_document_count()).await
    }

    /// Inserts one order under the unique indexes; a clash is `DuplicateKey` naming the index.
    #[tracing::instrument(skip(self, order, now), fields(order_id = %id))]
    pub async fn insert_order(&self, id: &OrderId, order: &NewOrder, now: DateTime<Utc>) -> Result<(), StorageError> {
        let orders = self.collection(ORDERS);
        self.run("create_order", ORDERS, orders.insert_one(order.to_document(id, now))).await.map(drop)
    }

    /// The newest orders, for the home page.
    #[tracing::instrument(skip(self))]
    pub async fn recent_orders(&self, limit: i64) -> Result<Vec<OrderSummary>, StorageError> {
        let orders = self.collection(ORDERS);
        let docs: Vec<Document> = self
            .run("recent_orders", ORDERS, async {
                orders.find(doc! {}).sort(doc! { "created_at": -1 }).limit(limit).await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().map(summary_from_document).collect())
    }

    /// Orders matching one parsed key, newest first. The filter is built from the typed
    /// key only: no operator, regex or raw text from the user ever reaches the query.
    #[tracing::instrument(skip(self), fields(key = %key))]
    pub async fn find_orders(&self, key: &LookupKey) -> Result<Vec<OrderSummary>, StorageError> {
        let filter = match key {
            LookupKey::OrderId(id) => doc! { "order_id": id.to_string() },
            LookupKey::DisplayId(id) => doc! { "display_id": id.to_string() },
            LookupKey::OrderNumber(n) => doc! { "order_number": n.to_string() },
            LookupKey::TelegramId(t) => doc! { "telegram_id": t.0 },
            LookupKey::LegacyId(l) => doc! { "id": l.as_str() },
        };
        let orders = self.collection(ORDERS);
        let docs: Vec<Document> = self
            .run("find_orders", ORDERS, async {
                orders.find(filter).sort(doc! { "created_at": -1 }).limit(LOOKUP_LIMIT).await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().map(summary_from_document).collect())
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

fn number(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::Double(x) => Some(*x),
        Bson::Int32(x) => Some(f64::from(*x)),
        Bson::Int64(x) => Some(*x as f64),
        Bson::Decimal128(x) => x.to_string().parse().ok(),
        _ => None,
    }
}

pub(crate) fn datetime(b: Option<&Bson>) -> Option<DateTime<Utc>> {
    match b? {
        Bson::DateTime(t) => DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()),
        Bson::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}
