//! The indexes orderdesk relies on, and creating them idempotently at start-up.

use std::time::Duration;

use mongodb::{
    IndexModel,
    bson::{Bson, Document, doc},
    options::IndexOptions,
};

use super::{
    StorageError, Store,
    names::{
        ALIASES, API_KEYS, API_USAGE, AUDIT, COUNTERS, IDEMPOTENCY, LIMITS, NUMBER_CLAIMS, ORDERS, PAYMENTS,
        PENDING_ORDERS, RUNS, SESSIONS, SLOW_QUERIES, STAFF, STAFF_SESSIONS,
    },
};

/// The unique indexes a new order can clash with, by name (as a duplicate-key error names them).
pub const ORDER_ID_INDEX: &str = "order_id_1";
pub const ORDER_NUMBER_INDEX: &str = "order_number_1";

/// The collections a configured source holds (in the single-database deployment, orderdesk's).
pub const SOURCE_COLLECTIONS: [&str; 5] = [ORDERS, SESSIONS, PAYMENTS, PENDING_ORDERS, COUNTERS];

/// One index orderdesk expects.
#[derive(Debug, Clone)]
pub struct ExpectedIndex {
    pub collection: &'static str,
    pub name: &'static str,
    pub keys: Document,
    pub unique: bool,
    pub partial: Option<Document>,
    /// A TTL index: documents go this long after the indexed date.
    pub ttl: Option<Duration>,
    /// Why it exists, for the maintenance page and the logs.
    pub purpose: &'static str,
}

/// Every index, unique ones first.
pub fn expected_indexes() -> Vec<ExpectedIndex> {
    let plain = |collection, name, keys, purpose| ExpectedIndex {
        collection,
        name,
        keys,
        unique: false,
        partial: None,
        ttl: None,
        purpose,
    };
    vec![
        ExpectedIndex {
            collection: ORDERS,
            name: ORDER_ID_INDEX,
            keys: doc! { "order_id": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "one order per order_id (the bot's E11000 guard)",
        },
        ExpectedIndex {
            collection: ORDERS,
            name: ORDER_NUMBER_INDEX,
            keys: doc! { "order_number": 1 },
            unique: true,
            partial: Some(doc! { "order_number": { "$type": "string" } }),
            ttl: None,
            purpose: "one marketplace order per BB number",
        },
        ExpectedIndex {
            collection: COUNTERS,
            name: "counterId_1",
            keys: doc! { "counterId": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "one counter per vendor and day",
        },
        ExpectedIndex {
            collection: SESSIONS,
            name: "user_id_1",
            keys: doc! { "user_id": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "one session per user, so $setOnInsert runs once",
        },
        ExpectedIndex {
            collection: API_KEYS,
            name: "key_hash_1",
            keys: doc! { "key_hash": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "API key lookup",
        },
        ExpectedIndex {
            collection: STAFF,
            name: "email_1",
            keys: doc! { "email": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "one staff account per email",
        },
        plain(
            ORDERS,
            "display_id_1_created_at_-1",
            doc! { "display_id": 1, "created_at": -1 },
            "lookup by ORD-A3F8D2, newest first",
        ),
        plain(ORDERS, "id_1", doc! { "id": 1 }, "lookup by legacy id"),
        plain(
            ORDERS,
            "telegram_id_1_created_at_-1",
            doc! { "telegram_id": 1, "created_at": -1 },
            "a customer's orders",
        ),
        // The list pages sort by (created_at, _id) for keyset pagination: the indexes end in both.
        plain(ORDERS, "created_at_-1__id_-1", doc! { "created_at": -1, "_id": -1 }, "newest first lists"),
        plain(
            ORDERS,
            "vendor_id_1_created_at_-1__id_-1",
            doc! { "vendor_id": 1, "created_at": -1, "_id": -1 },
            "a vendor's orders",
        ),
        plain(
            ORDERS,
            "status_1_created_at_-1__id_-1",
            doc! { "status": 1, "created_at": -1, "_id": -1 },
            "lists by status",
        ),
        plain(PAYMENTS, "order_id_1", doc! { "order_id": 1 }, "an order's payments"),
        plain(SESSIONS, "order_id_1", doc! { "order_id": 1 }, "which session holds an ID that names no order"),
        plain(PENDING_ORDERS, "order_id_1", doc! { "order_id": 1 }, "which pending order names an ID"),
        ExpectedIndex {
            collection: ALIASES,
            name: "order_1_old_order_id_1",
            keys: doc! { "order": 1, "old_order_id": 1 },
            unique: true,
            partial: None,
            ttl: None,
            purpose: "one fresh ID per renamed duplicate, so a resumed migration reuses it",
        },
        plain(ALIASES, "old_order_id_1", doc! { "old_order_id": 1 }, "finding an order by the ID it had before"),
        plain(
            super::names::BOT_DISPLAY_IDS,
            "display_id_1",
            doc! { "display_id": 1 },
            "lookup by ORD-A3F8D2 when the bot's orders live in its own database",
        ),
        plain(RUNS, "started_at_-1", doc! { "started_at": -1 }, "the maintenance page's list of runs"),
        plain(STAFF_SESSIONS, "expires_at_1", doc! { "expires_at": 1 }, "sweeping expired sessions"),
        plain(STAFF_SESSIONS, "email_1", doc! { "email": 1 }, "ending a disabled account's sessions"),
        plain(AUDIT, "actor_1__id_-1", doc! { "actor": 1, "_id": -1 }, "the audit log filtered by who"),
        plain(AUDIT, "action_1__id_-1", doc! { "action": 1, "_id": -1 }, "the audit log filtered by action"),
        plain(AUDIT, "at_-1", doc! { "at": -1 }, "the audit log by time"),
        ExpectedIndex {
            collection: LIMITS,
            name: "expires_at_ttl",
            keys: doc! { "expires_at": 1 },
            unique: false,
            partial: None,
            ttl: Some(Duration::ZERO),
            purpose: "rate-limit windows vanish when they end",
        },
        plain(API_USAGE, "key_1_minute_1", doc! { "key": 1, "minute": 1 }, "one API key's last day"),
        ExpectedIndex {
            collection: API_USAGE,
            name: "minute_ttl",
            keys: doc! { "minute": 1 },
            unique: false,
            partial: None,
            ttl: Some(super::api_usage::KEEP),
            purpose: "API usage older than a week vanishes (the list of keys reads the last day by it)",
        },
        ExpectedIndex {
            collection: IDEMPOTENCY,
            name: "created_at_ttl",
            keys: doc! { "created_at": 1 },
            unique: false,
            partial: None,
            ttl: Some(super::idempotency::KEEP),
            purpose: "an idempotency key is remembered for a day",
        },
        ExpectedIndex {
            collection: SLOW_QUERIES,
            name: "order_1_at_-1",
            keys: doc! { "order": 1, "at": -1 },
            unique: false,
            partial: Some(doc! { "order": { "$type": "string" } }),
            ttl: None,
            purpose: "an order's page lists the slow operations that named it",
        },
        ExpectedIndex {
            collection: NUMBER_CLAIMS,
            name: "expires_at_ttl",
            keys: doc! { "expires_at": 1 },
            unique: false,
            partial: None,
            ttl: Some(std::time::Duration::ZERO),
            purpose: "a time-based or year-based number's claim goes once no number of its second or day can be issued",
        },
    ]
}

/// What happened to one index at start-up.
#[derive(Debug)]
pub struct EnsureOutcome {
    pub index: ExpectedIndex,
    pub result: Result<(), StorageError>,
    /// Set when existing data blocked this unique index and a non-unique index on its keys
    /// (and `_id`) was made instead, so lookups stay index-only until the data is fixed.
    pub stand_in: Option<String>,
}

/// The name of the non-unique index that stands in for a blocked unique one. The
/// maintenance tools drop it once the unique index is built beside it.
pub fn stand_in_name(unique_name: &str) -> String {
    format!("{unique_name}_nonunique")
}

impl Store {
    /// Creates every expected index that is missing. Creating an existing identical index
    /// is a no-op, so this runs at every start. One blocked index (legacy nulls or
    /// duplicates under a unique index) does not stop the others.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_indexes(&self) -> Vec<EnsureOutcome> {
        if let Err(e) = self.ensure_slow_query_log().await {
            tracing::warn!(error = %e, "could not create the capped slow_queries collection");
        }
        let mut outcomes = Vec::new();
        // A configured source's collections are the system's own: orderdesk never builds
        // indexes there at start-up (an admin may, from /maintenance).
        let mut listed: std::collections::HashMap<&str, Vec<IndexModel>> = std::collections::HashMap::new();
        for index in self.own_expected_indexes() {
            // An index the system made itself under another name serves: building ours beside
            // it would be refused ("already exists with a different name") or a second copy.
            if !listed.contains_key(index.collection) {
                let actual = self.list_indexes(index.collection).await.unwrap_or_default();
                listed.insert(index.collection, actual);
            }
            let actual = &listed[index.collection];
            let named = actual.iter().any(|m| m.options.as_ref().and_then(|o| o.name.as_deref()) == Some(index.name));
            if !named && actual.iter().any(|m| covers(m, &index)) {
                outcomes.push(EnsureOutcome { index, result: Ok(()), stand_in: None });
                continue;
            }
            let coll = self.collection(index.collection);
            // Building an index over millions of orders takes longer than a lookup may.
            let build = |stand_in| {
                self.run_for(
                    "create_index",
                    index.collection,
                    Duration::from_secs(600),
                    coll.create_index(model(&index, stand_in)),
                )
            };
            let result = build(false).await.map(drop);
            let mut stand_in = None;
            if index.unique && matches!(result, Err(StorageError::DuplicateKey { .. })) {
                stand_in = build(true).await.is_ok().then(|| stand_in_name(index.name));
            }
            outcomes.push(EnsureOutcome { index, result, stand_in });
        }
        outcomes
    }
}

/// The index as orderdesk creates it. `stand_in`: the non-unique index that serves lookups
/// while data blocks the unique one, under the stand-in name; its keys end in `_id`, so the
/// unique index can be built beside it.
pub(crate) fn model(index: &ExpectedIndex, stand_in: bool) -> IndexModel {
    if stand_in {
        return model_named(index, &stand_in_name(index.name));
    }
    let mut options = IndexOptions::builder().name(index.name.to_owned()).build();
    if index.unique {
        options.unique = Some(true);
    }
    options.partial_filter_expression = index.partial.clone();
    options.expire_after = index.ttl;
    IndexModel::builder().keys(index.keys.clone()).options(options).build()
}

/// A non-unique index on the expected keys and `_id`, named `name`.
pub(crate) fn model_named(index: &ExpectedIndex, name: &str) -> IndexModel {
    let mut keys = index.keys.clone();
    keys.insert("_id", 1);
    let mut options = IndexOptions::builder().name(name.to_owned()).build();
    options.partial_filter_expression = index.partial.clone();
    IndexModel::builder().keys(keys).options(options).build()
}

/// Whether `m` (same keys, another name) does all `index` is for: unique if it must be, over
/// no fewer documents (a partial filter only where the expected one has the same), and
/// deleting nothing the expected one would keep (a TTL only where it is the same).
pub(crate) fn covers(m: &IndexModel, index: &ExpectedIndex) -> bool {
    let o = m.options.as_ref();
    let unique = o.and_then(|o| o.unique).unwrap_or(false);
    let partial = o.and_then(|o| o.partial_filter_expression.as_ref());
    let ttl = o.and_then(|o| o.expire_after);
    // A unique index over every document is stronger than one over a part (and serves the
    // same lookups); a non-unique one must see every document the expected one sees.
    let partial_ok = partial.is_none() || partial == index.partial.as_ref();
    keys_equal(&m.keys, &index.keys) && (unique || !index.unique) && partial_ok && ttl == index.ttl
}

/// Key patterns compare by field order and direction; the server may send 1 as a double.
pub(crate) fn keys_equal(a: &Document, b: &Document) -> bool {
    let num = |v: &Bson| match v {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(x) => Some(*x),
        _ => None,
    };
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && (va == vb || num(va) == num(vb) && num(va).is_some()))
}
