//! Documents written exactly as given, in the bots' own (legacy) shapes, which the typed
//! model cannot express on purpose: the demo data and benchmarks' fixtures. And the mark
//! `seed-demo` leaves on a database it filled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{DateTime as BsonTime, Document, doc};

use super::{
    StorageError, Store,
    names::{COUNTERS, ORDERS, PAYMENTS, PENDING_ORDERS, SESSIONS},
};

/// Raw documents, by collection.
#[derive(Debug, Default)]
pub struct Fixtures {
    pub orders: Vec<Document>,
    pub sessions: Vec<Document>,
    pub payments: Vec<Document>,
    pub pending_orders: Vec<Document>,
    pub counters: Vec<Document>,
}

/// Bulk inserts are sent in batches of this many documents.
const BATCH: usize = 10_000;

/// Where `seed-demo` marks a database it filled itself (`meta`, `_id: "demo"`).
const META: &str = "meta";

impl Store {
    /// Marks this database as filled by `seed-demo`: only such a database gets demo accounts.
    pub async fn mark_demo(&self, now: DateTime<Utc>) -> Result<(), StorageError> {
        let meta = self.collection(META);
        let update = doc! { "$set": { "filled_at": BsonTime::from_millis(now.timestamp_millis()) } };
        self.run("demo_mark", META, meta.update_one(doc! { "_id": "demo" }, update).upsert(true)).await.map(drop)
    }

    /// Whether `seed-demo` filled this database.
    pub async fn is_demo(&self) -> Result<bool, StorageError> {
        let meta = self.collection(META);
        let found =
            self.run("demo_read", META, meta.find_one(doc! { "_id": "demo" }).max_time(self.op_timeout)).await?;
        Ok(found.is_some())
    }

    /// Writes the documents with unordered bulk inserts.
    #[tracing::instrument(skip(self, fixtures), fields(orders = fixtures.orders.len()))]
    pub async fn insert_fixtures(&self, fixtures: Fixtures) -> Result<(), StorageError> {
        let Fixtures { orders, sessions, payments, pending_orders, counters } = fixtures;
        let all = [
            (ORDERS, orders),
            (SESSIONS, sessions),
            (PAYMENTS, payments),
            (PENDING_ORDERS, pending_orders),
            (COUNTERS, counters),
        ];
        for (name, docs) in all {
            let coll = self.collection(name);
            for chunk in docs.chunks(BATCH) {
                self.run_for("insert_demo", name, Duration::from_secs(120), coll.insert_many(chunk).ordered(false))
                    .await?;
            }
        }
        Ok(())
    }
}
