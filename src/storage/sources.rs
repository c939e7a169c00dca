//! The systems whose orders orderdesk reads, each in its own database and its own shape, and
//! the one place their documents are read: every fact goes through the source's field map,
//! leniently (the bots write what they write), into the same [`OrderSummary`].
//!
//! Without configured sources there is one, orderdesk's own database in orderdesk's own
//! names, holding both kinds of order (the single-database deployment).

use std::sync::Arc;

use mongodb::{
    Collection, Database,
    bson::{Bson, Document, doc, oid::ObjectId},
};

use super::{PoolGate, StorageError, values::datetime, values::number};
use crate::{
    config::{Collections, Fact, FieldMap, SourceSettings},
    domain::{
        ids::OrderId,
        orders::{OrderSummary, Source as Kind},
    },
};

/// One system's database, as orderdesk reads it.
#[derive(Debug, Clone)]
pub struct SourceDb {
    /// The settings' name (`bot`), or `orderdesk` for the single-database deployment.
    pub name: String,
    /// `None`: both kinds in one collection, told apart per document (orderdesk's own schema).
    pub kind: Option<Kind>,
    db: Database,
    /// The gate of this source's client: a source that is down fills its own places only.
    pub(crate) gate: Arc<PoolGate>,
    collections: Collections,
    fields: FieldMap,
    /// The names the settings wrote (checked against a sample at start-up).
    pub overridden: Vec<Fact>,
}

impl SourceDb {
    /// orderdesk's own database, holding both kinds (no `sources` configured).
    pub(crate) fn own(db: Database, gate: Arc<PoolGate>) -> Self {
        Self {
            name: "orderdesk".into(),
            kind: None,
            db,
            gate,
            collections: Collections::default(),
            fields: FieldMap::orderdesk(),
            overridden: Vec::new(),
        }
    }

    pub(crate) fn configured(settings: &SourceSettings, db: Database, gate: Arc<PoolGate>) -> Self {
        Self {
            name: settings.name.clone(),
            kind: Some(settings.kind),
            db,
            gate,
            collections: settings.collections.clone(),
            fields: settings.fields.clone(),
            overridden: settings.overridden.clone(),
        }
    }

    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    /// Whether this source may hold orders of `kind`.
    pub fn holds(&self, kind: Kind) -> bool {
        self.kind.is_none_or(|k| k == kind)
    }

    /// Whether this is orderdesk's own database (single-database deployment): only there does
    /// orderdesk keep derived fields (`display_id`) on the orders themselves.
    pub fn is_own(&self) -> bool {
        self.kind.is_none()
    }

    /// `e` as this source's outage: named, so a page can say which system did not answer.
    pub(crate) fn down(&self, e: StorageError) -> StorageError {
        match e {
            StorageError::SourceDown { .. } => e,
            e => StorageError::SourceDown {
                name: self.name.clone(),
                database: self.database_name().to_owned(),
                cause: Box::new(e),
            },
        }
    }

    /// The field holding `fact`, if this system keeps it.
    pub fn field(&self, fact: Fact) -> Option<&str> {
        self.fields.get(fact)
    }

    /// The field of `fact`, or a name no document has (so a query on it matches nothing).
    pub(crate) fn field_or_none(&self, fact: Fact) -> &str {
        self.field(fact).unwrap_or("_orderdesk_not_kept")
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn orders(&self) -> Collection<Document> {
        self.db.collection(&self.collections.orders)
    }

    pub(crate) fn sessions(&self) -> Collection<Document> {
        self.db.collection(&self.collections.sessions)
    }

    pub(crate) fn payments(&self) -> Collection<Document> {
        self.db.collection(&self.collections.payments)
    }

    pub(crate) fn pending_orders(&self) -> Collection<Document> {
        self.db.collection(&self.collections.pending_orders)
    }

    pub(crate) fn counters(&self) -> Collection<Document> {
        self.db.collection(&self.collections.counters)
    }

    pub fn collections(&self) -> &Collections {
        &self.collections
    }

    /// A value to match `fact` against, in every type this system may have stored it as: a
    /// string, an ObjectId (Mongoose references) or a number.
    pub(crate) fn matching(&self, fact: Fact, value: &str) -> Document {
        let any = as_stored(value);
        let field = self.field_or_none(fact);
        if any.len() == 1 {
            doc! { field: value }
        } else {
            doc! { field: { "$in": any } }
        }
    }

    /// A stored order as the pages show it. Whatever is missing or of a type this system does
    /// not use for that fact is `None`; nothing is read as a default.
    pub(crate) fn summary(&self, d: &Document) -> OrderSummary {
        let text = |fact: Fact| self.field(fact).and_then(|f| text(d.get(f)));
        let order_id = text(Fact::OrderId);
        let vendor_id = text(Fact::Vendor);
        let order_number = text(Fact::OrderNumber);
        let source = match self.kind {
            Some(kind) => kind,
            // orderdesk's own schema: marked so, or carrying a marketplace field.
            None => match d.get_str("source") {
                Ok("marketplace") => Kind::Marketplace,
                _ if d.contains_key("order_number") || d.contains_key("vendor_id") => Kind::Marketplace,
                _ => Kind::ShippingBot,
            },
        };
        // Kept on the order only in orderdesk's own database; for a source, derived here.
        let display_id = if self.is_own() {
            text_field(d, "display_id")
        } else {
            order_id.as_deref().and_then(|id| OrderId::parse(id).ok()).map(|id| id.display_id().to_string())
        };
        OrderSummary {
            order_id,
            display_id,
            order_number,
            legacy_id: text(Fact::LegacyId),
            source,
            status: text(Fact::Status),
            amount: self.field(Fact::Amount).and_then(|f| amount(d.get(f))),
            telegram_id: self.field(Fact::TelegramId).and_then(|f| integer(d.get(f))),
            vendor_id,
            user_id: text(Fact::User),
            created_at: self.field(Fact::CreatedAt).and_then(|f| time(d.get(f))),
            database: self.database_name().to_owned(),
        }
    }

    /// A time `fact` of a stored order (or `None`).
    pub(crate) fn time_of(&self, d: &Document, fact: Fact) -> Option<chrono::DateTime<chrono::Utc>> {
        self.field(fact).and_then(|f| time(d.get(f)))
    }
}

/// `value` in every type a system may have stored it as: a string, an ObjectId (Mongoose
/// references), a whole number.
pub(crate) fn as_stored(value: &str) -> Vec<Bson> {
    let mut any = vec![Bson::String(value.to_owned())];
    if let Ok(oid) = ObjectId::parse_str(value) {
        any.push(Bson::ObjectId(oid));
    }
    if let Ok(n) = value.parse::<i64>() {
        any.push(Bson::Int64(n));
    }
    any
}

/// Text as a system may store an identifier: a string, an ObjectId, a whole number.
pub(crate) fn text(b: Option<&Bson>) -> Option<String> {
    match b? {
        Bson::String(s) if !s.is_empty() => Some(s.clone()),
        Bson::ObjectId(o) => Some(o.to_hex()),
        Bson::Int32(n) => Some(n.to_string()),
        Bson::Int64(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text_field(d: &Document, field: &str) -> Option<String> {
    match d.get(field) {
        Some(Bson::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A whole number stored as a number or as its digits.
pub(crate) fn integer(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
        Bson::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An amount as a number of any BSON type, or as decimal text (some writers store prices so).
fn amount(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        other => number(Some(other)),
    }
}

/// A time as a BSON date, RFC 3339 text, or milliseconds since 1970 (`Date.now()` stored as
/// a number).
fn time(b: Option<&Bson>) -> Option<chrono::DateTime<chrono::Utc>> {
    match b? {
        Bson::Int64(ms) => chrono::DateTime::from_timestamp_millis(*ms),
        Bson::Double(ms) if ms.is_finite() => chrono::DateTime::from_timestamp_millis(*ms as i64),
        other => datetime(Some(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marketplace() -> SourceDb {
        // Never connected: the client only names the database (it connects lazily).
        let address = mongodb::options::ServerAddress::Tcp { host: "127.0.0.1".into(), port: Some(1) };
        let options = mongodb::options::ClientOptions::builder().hosts(vec![address]).build();
        let client = mongodb::Client::with_options(options).unwrap();
        let settings = SourceSettings {
            name: "marketplace".into(),
            kind: Kind::Marketplace,
            uri: None,
            database: "bitesbay".into(),
            collections: Collections::default(),
            fields: FieldMap::defaults(Kind::Marketplace),
            overridden: Vec::new(),
        };
        SourceDb::configured(&settings, client.database("bitesbay"), Arc::new(PoolGate::new(1)))
    }

    #[tokio::test]
    async fn a_mongoose_order_reads_through_the_field_map() {
        let user = ObjectId::parse_str("6834622e10d75a5ba7b7740d").unwrap();
        let d = doc! {
            "_id": ObjectId::new(), "orderNumber": "BB-1763100000000-740d-00001", "user": user,
            "vendor": "pizza-palace", "totalAmount": "12.50", "status": "paid",
            "createdAt": mongodb::bson::DateTime::from_millis(1_763_100_000_000), "__v": 0,
        };
        let s = marketplace().summary(&d);
        assert_eq!(s.source, Kind::Marketplace);
        assert_eq!(s.order_number.as_deref(), Some("BB-1763100000000-740d-00001"));
        assert_eq!(s.user_id.as_deref(), Some("6834622e10d75a5ba7b7740d"));
        assert_eq!(s.amount, Some(12.5));
        assert_eq!(s.created_at.map(|t| t.timestamp_millis()), Some(1_763_100_000_000));
        assert_eq!((s.order_id, s.display_id), (None, None), "Mongoose orders keep no order_id");
        assert_eq!(s.database, "bitesbay");
    }

    #[tokio::test]
    async fn values_of_the_wrong_type_are_none_not_defaults() {
        let d = doc! { "orderNumber": 5.5, "totalAmount": "lots", "createdAt": "yesterday", "status": { "$gt": "" } };
        let s = marketplace().summary(&d);
        assert_eq!((s.order_number, s.amount, s.created_at, s.status), (None, None, None, None));
    }

    #[tokio::test]
    async fn a_reference_matches_as_text_and_as_an_object_id() {
        let m = marketplace();
        let both = m.matching(Fact::Vendor, "6834622e10d75a5ba7b7740d");
        assert_eq!(both.get_document("vendor").unwrap().get_array("$in").unwrap().len(), 2);
        assert_eq!(m.matching(Fact::Vendor, "pizza-palace"), doc! { "vendor": "pizza-palace" });
        assert_eq!(m.matching(Fact::TelegramId, "5"), doc! { "_orderdesk_not_kept": { "$in": ["5", 5_i64] } });
    }
}
