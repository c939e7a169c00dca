//! Documents written exactly as given, in the bots' own (legacy) shapes, which the typed
//! model cannot express on purpose: the demo data and benchmarks' fixtures. And the mark
//! `seed-demo` leaves on a database it filled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{Document, doc};

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::{COUNTERS, ORDERS, PAYMENTS, PENDING_ORDERS, SESSIONS},
};

/// Raw documents, by collection.
#[derive(Debug, Default)]
pub struct Fixtures {
    /// The bot's orders; in the single-database deployment, every order.
    pub orders: Vec<Document>,
    /// With sources configured: the marketplace's orders, in its database.
    pub marketplace_orders: Vec<Document>,
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
    /// With sources, the mark names their databases: only those are seed-demo's to replace.
    pub async fn mark_demo(&self, now: DateTime<Utc>) -> Result<(), StorageError> {
        let meta = self.collection(META);
        let sources: Vec<&str> = self.sources().iter().filter(|s| !s.is_own()).map(|s| s.database_name()).collect();
        let update = doc! { "$set": { "filled_at": bson_time(now), "sources": sources } };
        self.run("demo_mark", META, meta.update_one(doc! { "_id": "demo" }, update).upsert(true)).await.map(drop)
    }

    /// Whether `seed-demo` filled this database.
    pub async fn is_demo(&self) -> Result<bool, StorageError> {
        Ok(self.demo_mark().await?.is_some())
    }

    async fn demo_mark(&self) -> Result<Option<Document>, StorageError> {
        let meta = self.collection(META);
        self.run("demo_read", META, meta.find_one(doc! { "_id": "demo" }).max_time(self.op_timeout)).await
    }

    /// Writes the documents with unordered bulk inserts: into orderdesk's own database, or
    /// with sources configured, each into its system's.
    #[tracing::instrument(skip(self, fixtures), fields(orders = fixtures.orders.len()))]
    pub async fn insert_fixtures(&self, fixtures: Fixtures) -> Result<(), StorageError> {
        let Fixtures { mut orders, marketplace_orders, sessions, payments, pending_orders, counters } = fixtures;
        let (bot, market) = (self.bot()?, self.marketplace()?);
        if bot.is_own() {
            orders.extend(marketplace_orders);
            let all = [(ORDERS, orders), (SESSIONS, sessions), (PAYMENTS, payments), (PENDING_ORDERS, pending_orders)];
            for (name, docs) in all.into_iter().chain([(COUNTERS, counters)]) {
                self.insert_all(bot, name, self.collection(name), docs).await?;
            }
            return Ok(());
        }
        self.insert_all(bot, ORDERS, bot.orders(), orders).await?;
        self.insert_all(bot, SESSIONS, bot.sessions(), sessions).await?;
        self.insert_all(bot, PAYMENTS, bot.payments(), payments).await?;
        self.insert_all(bot, PENDING_ORDERS, bot.pending_orders(), pending_orders).await?;
        self.insert_all(market, ORDERS, market.orders(), marketplace_orders).await?;
        self.insert_all(market, COUNTERS, market.counters(), counters).await
    }

    async fn insert_all(
        &self,
        source: &super::sources::SourceDb,
        name: &'static str,
        coll: mongodb::Collection<Document>,
        docs: Vec<Document>,
    ) -> Result<(), StorageError> {
        for chunk in docs.chunks(BATCH) {
            let insert = coll.insert_many(chunk).ordered(false);
            self.run_gated(&source.gate, "insert_demo", name, Duration::from_secs(120), insert).await?;
        }
        Ok(())
    }

    /// The indexes the two systems make themselves, under their own names, for the demo's
    /// source databases: Mongoose's `unique: true` on the counter and the number (sparse:
    /// orders not yet numbered have none), the bot's lookups. The bot's `order_id` index is a
    /// plain one: its legacy duplicates keep the unique one from building (the Sources check
    /// says so, and the duplicates migration is the fix).
    pub async fn create_demo_source_indexes(&self) -> Result<(), StorageError> {
        use mongodb::{IndexModel, options::IndexOptions};
        let (bot, market) = (self.bot()?, self.marketplace()?);
        if bot.is_own() {
            return Ok(());
        }
        let index = |keys: Document, unique: bool| {
            let options = IndexOptions::builder().unique(unique.then_some(true)).sparse(unique.then_some(true)).build();
            IndexModel::builder().keys(keys).options(options).build()
        };
        let all = [
            (bot, bot.orders(), index(doc! { "order_id": 1 }, false)),
            (bot, bot.orders(), index(doc! { "id": 1 }, false)),
            (bot, bot.orders(), index(doc! { "telegram_id": 1, "created_at": -1 }, false)),
            (bot, bot.orders(), index(doc! { "created_at": -1, "_id": -1 }, false)),
            (bot, bot.payments(), index(doc! { "order_id": 1 }, false)),
            (bot, bot.sessions(), index(doc! { "user_id": 1 }, true)),
            (bot, bot.sessions(), index(doc! { "order_id": 1 }, false)),
            (bot, bot.pending_orders(), index(doc! { "order_id": 1 }, false)),
            (market, market.orders(), index(doc! { "orderNumber": 1 }, true)),
            (market, market.orders(), index(doc! { "createdAt": -1, "_id": -1 }, false)),
            (market, market.orders(), index(doc! { "vendor": 1, "createdAt": -1 }, false)),
            (market, market.counters(), index(doc! { "counterId": 1 }, true)),
        ];
        for (source, coll, model) in all {
            let build = coll.create_index(model);
            match self.run_gated(&source.gate, "create_index", "*", Duration::from_secs(120), build).await {
                // The demo's legacy data may block a unique one, as real legacy data does.
                Ok(_) | Err(StorageError::DuplicateKey { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The configured sources' databases that hold any collection and that seed-demo did not
    /// fill (as its mark in orderdesk's database names them).
    pub async fn source_databases_in_use(&self) -> Result<Vec<String>, StorageError> {
        let filled: Vec<String> = self
            .demo_mark()
            .await?
            .and_then(|m| m.get_array("sources").ok().cloned())
            .map(|a| a.iter().filter_map(|b| b.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let mut used = Vec::new();
        for s in self.sources().iter().filter(|s| !s.is_own() && !filled.iter().any(|f| f == s.database_name())) {
            let names = self.run_in(s, "list_collections", "*", s.database().list_collection_names()).await?;
            if !names.is_empty() {
                used.push(s.database_name().to_owned());
            }
        }
        Ok(used)
    }

    /// Drops the configured sources' databases: for `seed-demo --reset` on a deployment it
    /// filled itself, and tests. Never orderdesk's own (see [`Store::drop_database`]).
    pub async fn drop_source_databases(&self) -> Result<(), StorageError> {
        for s in self.sources().iter().filter(|s| !s.is_own()) {
            self.run_in(s, "drop_database", "*", s.database().drop()).await?;
        }
        Ok(())
    }
}
