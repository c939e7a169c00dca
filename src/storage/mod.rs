//! All MongoDB access. The rest of the app sees typed functions and [`StorageError`];
//! only this module knows collection names, field names and the driver.
//!
//! Every call goes through [`Store::run`], which bounds it with the operation timeout,
//! times it and logs slow operations, so a dead database is an error within seconds and
//! never a hang.

pub mod api_keys;
pub mod audit;
pub mod counters;
pub mod demo;
pub mod display_ids;
pub mod failures;
pub mod index_check;
pub mod indexes;
pub mod limits;
pub mod metrics;
pub mod migrations;
pub mod orders;
pub mod payments;
pub mod sessions;
pub mod staff;

use std::{future::IntoFuture, time::Duration};

use mongodb::{
    Client, Collection, Database,
    bson::{Document, doc},
    error::{ErrorKind, WriteFailure},
    options::ClientOptions,
};
use tokio::time::Instant;

use crate::config::{Settings, redact_uri};

/// Collection names, as the two source systems use them.
pub mod names {
    pub const ORDERS: &str = "orders";
    pub const SESSIONS: &str = "sessions";
    pub const PAYMENTS: &str = "payments";
    pub const COUNTERS: &str = "ordercounters";
    pub const API_KEYS: &str = "api_keys";
    /// Capped: the latest slow operations (16 MB).
    pub const SLOW_QUERIES: &str = "slow_queries";
}

/// What can go wrong talking to the database, in terms the web layer maps to a status once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("the database is unavailable ({0})")]
    Unavailable(String),
    #[error("the database did not answer {op} within {ms} ms")]
    Timeout { op: &'static str, ms: u128 },
    #[error("duplicate key in {op}: {message}")]
    DuplicateKey { op: &'static str, index: Option<String>, message: String },
    #[error("database error in {op}: {message}")]
    Database { op: &'static str, message: String },
}

impl StorageError {
    /// True when the database could not be reached or did not answer in time.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout { .. })
    }

    pub(crate) fn from_driver(op: &'static str, err: mongodb::error::Error) -> Self {
        if is_duplicate_key(&err) {
            let index = duplicate_index(&err.to_string());
            return Self::DuplicateKey { op, index, message: server_message(&err) };
        }
        match *err.kind {
            ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
                Self::Unavailable(first_line(&err.to_string()))
            }
            _ => Self::Database { op, message: server_message(&err) },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_index_in_single_and_bulk_errors() {
        let single = "E11000 duplicate key error collection: db.orders index: order_id_1 dup key: { order_id: null }";
        assert_eq!(super::duplicate_index(single).as_deref(), Some("order_id_1"));
        let bulk = "InsertManyError { write_errors: Some([IndexedWriteError { index: 79, code: 11000, message: \"E11000 duplicate key error collection: db.orders index: order_number_1 dup key";
        assert_eq!(super::duplicate_index(bulk).as_deref(), Some("order_number_1"));
        assert_eq!(super::duplicate_index("something else"), None);
    }
}

/// What the server said, without the driver's dump of the raw reply (which can run to
/// kilobytes of hex and reaches pages and the CLI).
fn server_message(err: &mongodb::error::Error) -> String {
    match &*err.kind {
        ErrorKind::Command(e) => format!("{} ({})", e.message, e.code_name),
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.message.clone(),
        ErrorKind::InsertMany(e) => match e.write_errors.as_deref() {
            Some([first, ..]) => {
                format!("{} (and {} more)", first.message, e.write_errors.as_ref().map_or(0, |w| w.len() - 1))
            }
            _ => first_line(&err.to_string()),
        },
        _ => err.to_string(),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s);
    line.chars().take(200).collect()
}

/// The index an E11000 message names (`E11000 … index: order_id_1 dup key: …`); bulk
/// errors wrap it in text that has other `index:` fields, so look after `E11000` only.
fn duplicate_index(message: &str) -> Option<String> {
    let e11000 = &message[message.find("E11000")?..];
    let rest = &e11000[e11000.find(" index: ")? + " index: ".len()..];
    rest.split_whitespace().next().map(str::to_owned)
}

/// E11000, however the driver wraps it (single write, bulk write, command).
pub(crate) fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    const DUPLICATE_KEY: i32 = 11000;
    match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => {
            e.write_errors.as_ref().is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY))
        }
        _ => false,
    }
}

tokio::task_local! {
    /// The order a piece of work is for, named in slow-query log lines.
    static ORDER: String;
}

/// Runs `work` with `order` named in any slow-query line it causes.
pub async fn for_order<F: std::future::Future>(order: String, work: F) -> F::Output {
    ORDER.scope(order, work).await
}

/// The one handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    db: Database,
    op_timeout: Duration,
    slow: Duration,
    metrics: std::sync::Arc<metrics::Metrics>,
}

impl Store {
    /// Builds the client. No I/O happens here: the driver connects lazily and keeps
    /// reconnecting in the background, so the app starts (and recovers) without mongod.
    pub async fn connect(settings: &Settings) -> Result<Self, StorageError> {
        let mut options = ClientOptions::parse(&settings.mongodb_uri).await.map_err(|e| {
            StorageError::Unavailable(format!(
                "cannot use MONGODB_URI {}: {}",
                redact_uri(&settings.mongodb_uri),
                first_line(&e.to_string())
            ))
        })?;
        options.app_name = Some("orderdesk".into());
        options.server_selection_timeout = Some(settings.server_selection_timeout);
        options.connect_timeout = Some(settings.server_selection_timeout);
        let client =
            Client::with_options(options).map_err(|e| StorageError::Unavailable(first_line(&e.to_string())))?;
        let db = client.database(&settings.database);
        Ok(Self {
            client,
            db,
            op_timeout: settings.operation_timeout,
            slow: settings.slow_query,
            metrics: std::sync::Arc::default(),
        })
    }

    /// The same server, another database (tests and benchmarks use one each).
    pub fn with_database(&self, name: &str) -> Self {
        Self { db: self.client.database(name), ..self.clone() }
    }

    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Runs one database operation: bounded by the operation timeout, timed, slow ones logged.
    pub(crate) async fn run<T>(
        &self,
        op: &'static str,
        collection: &'static str,
        fut: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StorageError> {
        self.run_for(op, collection, self.op_timeout, fut).await
    }

    /// [`Store::run`] with an explicit bound, for bulk work that legitimately takes longer.
    pub(crate) async fn run_for<T>(
        &self,
        op: &'static str,
        collection: &'static str,
        limit: Duration,
        fut: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(limit, fut.into_future()).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StorageError::from_driver(op, err)),
            Err(_) => Err(StorageError::Timeout { op, ms: limit.as_millis() }),
        };
        let took = started.elapsed();
        self.metrics.record(op, collection, took, outcome.is_ok());
        if took >= self.slow {
            self.keep_slow(op, collection, took, outcome.is_ok());
            // The seed's format: the order the work was for, when there is one.
            let order = ORDER.try_with(|o| format!(" [order: {o}]")).unwrap_or_default();
            tracing::warn!(
                op,
                collection,
                took_ms = took.as_secs_f64() * 1000.0,
                ok = outcome.is_ok(),
                "SLOW DB QUERY: {op}{order} took {:.2}ms",
                took.as_secs_f64() * 1000.0
            );
        }
        outcome
    }

    /// This process's figures for every operation.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// Keeps a slow operation in the capped `slow_queries` collection, in the background and
    /// outside `run_for` (a slow insert there must not record itself again).
    fn keep_slow(&self, op: &'static str, collection: &'static str, took: Duration, ok: bool) {
        let slow = self.collection(names::SLOW_QUERIES);
        let record = doc! {
            "at": mongodb::bson::DateTime::now(),
            "op": op,
            "collection": collection,
            "ms": took.as_secs_f64() * 1000.0,
            "ok": ok,
            "app": "orderdesk",
        };
        let limit = self.op_timeout;
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = tokio::time::timeout(limit, slow.insert_one(record).into_future()).await;
            });
        }
    }

    /// One round trip to the server; the time it took.
    #[tracing::instrument(skip(self))]
    pub async fn ping(&self) -> Result<Duration, StorageError> {
        let started = Instant::now();
        self.run("ping", "admin", self.database().run_command(doc! { "ping": 1 })).await?;
        Ok(started.elapsed())
    }

    /// Drops the whole database: for tests and `seed-demo --reset` only.
    pub async fn drop_database(&self) -> Result<(), StorageError> {
        self.run("drop_database", "*", self.db.drop()).await
    }
}
