//! All MongoDB access. The rest of the app sees typed functions and [`StorageError`];
//! only this module knows collection names, field names and the driver.
//!
//! Every call goes through [`Store::run`], which bounds it with the operation timeout,
//! times it and logs slow operations, so a dead database is an error within seconds and
//! never a hang.
//!
//! Long (about 700 lines): the one seam every database call goes through (`Store::run`, its
//! pool gate, time bounds, failover retries and slow-query keeping) is kept in one place on
//! purpose, so that there is only one to read and to change.

pub mod api_keys;
pub mod api_usage;
pub mod audit;
pub mod counters;
pub mod display_ids;
pub mod failures;
pub mod feeds;
pub mod fixtures;
pub mod idempotency;
pub mod index_check;
pub mod indexes;
pub mod limits;
pub mod metrics;
pub mod migrations;
pub mod number_claims;
pub mod number_lanes;
pub mod orders;
pub mod payments;
pub mod references;
pub mod runs;
pub mod sessions;
pub mod source_check;
pub mod sources;
pub mod staff;
pub mod traces;
pub(crate) mod values;

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
    /// The bot's orders begun and not yet completed (seed 000).
    pub const PENDING_ORDERS: &str = "pending_orders";
    pub const COUNTERS: &str = "ordercounters";
    pub const API_KEYS: &str = "api_keys";
    /// One document per (API key, minute): what the bots' calls came to (`api_usage.rs`).
    pub const API_USAGE: &str = "api_key_usage";
    /// Capped: the latest slow operations (16 MB).
    pub const SLOW_QUERIES: &str = "slow_queries";
    pub const AUDIT: &str = "audit_log";
    pub const STAFF: &str = "staff";
    pub const STAFF_SESSIONS: &str = "staff_sessions";
    pub const RUNS: &str = "maintenance_runs";
    pub const LOCKS: &str = "maintenance_locks";
    pub const ALIASES: &str = "order_id_aliases";
    pub const LIMITS: &str = "rate_limits";
    /// One document per (zone, day): `{_id: "UTC|2026-11-20", zone, day, built_at, groups, completion}`.
    pub const FAILURE_FIGURES: &str = "failure_figures";
    /// Which process may stamp BB numbers with which milliseconds (`number_lanes.rs`).
    pub const NUMBER_LANES: &str = "number_lanes";
    /// What a retried API call with the same `Idempotency-Key` gets back (`idempotency.rs`).
    pub const IDEMPOTENCY: &str = "idempotency_keys";
    /// The time-based and year-based BB numbers issued, each held once (`number_claims.rs`).
    pub const NUMBER_CLAIMS: &str = "number_claims";
    /// The display forms of a bot's orders kept in its own database (a configured source):
    /// `{_id: order_id, display_id, created_at}` in orderdesk's database, never in the bot's.
    pub const BOT_DISPLAY_IDS: &str = "bot_display_ids";
}

/// What can go wrong talking to the database, in terms the web layer maps to a status once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// Said by orderdesk itself (a bad URI, the audit writer gone): the text is for people.
    #[error("the database is unavailable ({0})")]
    Unavailable(String),
    /// No answer from any member (down, restarting, a network fault). The driver's own words
    /// go to the log, never into a page or an API body.
    #[error("the database could not be reached ({op}); it may be down or restarting")]
    Unreachable { op: &'static str },
    /// A replica set between primaries: one was lost (killed, stepped down) and the others
    /// are electing the next, which takes some seconds.
    #[error("the database is electing a new primary ({op}); this takes a few seconds")]
    Electing { op: &'static str },
    /// One configured source could not answer where the answer needs it (the others did).
    #[error("the {name} source (database {database}) did not answer: {cause}")]
    SourceDown { name: String, database: String, cause: Box<StorageError> },
    #[error("the database did not answer {op} within {ms} ms")]
    Timeout { op: &'static str, ms: u128 },
    #[error("duplicate key in {op}: {message}")]
    DuplicateKey { op: &'static str, index: Option<String>, message: String },
    #[error("database error in {op}: {message}")]
    Database { op: &'static str, message: String },
    /// The database user orderdesk signs in as may not do this: a read-only user on a
    /// system's database, as the README advises for sources.
    #[error(
        "orderdesk's database user may not {action} in the database {database} ({op}): grant it the {role} role there, or leave this to the system itself"
    )]
    NotPermitted { op: &'static str, database: String, action: &'static str, role: &'static str },
    /// A maintenance run's lock was taken over (its heartbeat was late): it stops writing.
    #[error(
        "another run took over the maintenance lock of run {run} (its heartbeat was late); this run stopped writing"
    )]
    LockLost { run: String },
    /// A document orderdesk wrote itself holds a value it does not know (edited by hand, or
    /// written by a newer version): named, never read as some default.
    #[error("a stored {collection} document ({id}) is not valid: {problem}")]
    Corrupt { collection: &'static str, id: String, problem: String },
}

impl StorageError {
    /// True when the database could not be reached or did not answer in time.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::SourceDown { .. } => true,
            _ => matches!(
                self,
                Self::Unavailable(_) | Self::Unreachable { .. } | Self::Electing { .. } | Self::Timeout { .. }
            ),
        }
    }

    /// Whether the answer is "electing", here or in the source that gave it.
    pub fn is_electing(&self) -> bool {
        match self {
            Self::SourceDown { cause, .. } => cause.is_electing(),
            _ => matches!(self, Self::Electing { .. }),
        }
    }

    /// Errors that end when a primary is back: worth waiting out (see [`Store::run_retrying`]).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::SourceDown { cause, .. } => cause.is_transient(),
            _ => matches!(self, Self::Unreachable { .. } | Self::Electing { .. }),
        }
    }

    pub(crate) fn from_driver(op: &'static str, err: mongodb::error::Error) -> Self {
        if is_duplicate_key(&err) {
            let index = duplicate_index(&err.to_string());
            return Self::DuplicateKey { op, index, message: server_message(&err) };
        }
        if let Some((database, command)) = not_authorized(&err) {
            let (action, role) = match command.as_str() {
                "insert" | "update" | "delete" | "findAndModify" | "bulkWrite" => ("write", "readWrite"),
                "createIndexes" | "dropIndexes" => ("build or drop indexes", "readWrite"),
                "profile" => ("read or set MongoDB's profiler", "dbAdmin"),
                "find" | "aggregate" | "count" | "distinct" | "listCollections" | "listIndexes" => ("read", "read"),
                _ => ("run this command", "readWrite"),
            };
            tracing::warn!(op, database, command, "not authorized: {}", first_line(&err.to_string()));
            return Self::NotPermitted { op, database, action, role };
        }
        let transient = if is_election(&err) {
            Self::Electing { op }
        } else if matches!(
            *err.kind,
            ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. }
        ) {
            Self::Unreachable { op }
        } else {
            return Self::Database { op, message: server_message(&err) };
        };
        tracing::warn!(op, error = %first_line(&err.to_string()), "{transient}");
        transient
    }
}

/// The database and command of an "Unauthorized" (13) answer: `not authorized on bitesbay
/// to execute command { insert: "orders", … }`.
fn not_authorized(err: &mongodb::error::Error) -> Option<(String, String)> {
    const UNAUTHORIZED: i32 = 13;
    let message = match &*err.kind {
        ErrorKind::Command(e) if e.code == UNAUTHORIZED => &e.message,
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == UNAUTHORIZED => &e.message,
        _ => return None,
    };
    let rest = message.strip_prefix("not authorized on ")?;
    let (database, rest) = rest.split_once(" to execute command { ")?;
    let command = rest.split(':').next()?.trim().trim_matches('"');
    Some((database.to_owned(), command.to_owned()))
}

/// Whether an error says the replica set has no primary right now: the server's "not
/// primary" family of codes, or a server selection that found secondaries but no primary.
fn is_election(err: &mongodb::error::Error) -> bool {
    // NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, PrimarySteppedDown,
    // InterruptedDueToReplStateChange, InterruptedAtShutdown, ShutdownInProgress.
    const NO_PRIMARY: [i32; 7] = [10107, 13435, 13436, 189, 11602, 11600, 91];
    match &*err.kind {
        ErrorKind::Command(e) => NO_PRIMARY.contains(&e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => NO_PRIMARY.contains(&e.code),
        ErrorKind::ServerSelection { message, .. } => {
            message.contains("ReplicaSetNoPrimary") && message.contains("RsSecondary")
        }
        _ => false,
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
        assert_eq!(super::duplicate_field(single), Some("order_id"));
        let camel = "E11000 duplicate key error collection: bitesbay.orders index: orderNumber_unique dup key: { orderNumber: \"BB-1\" }";
        assert_eq!(super::duplicate_field(camel), Some("orderNumber"));
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

/// `host:pid:random`. The host alone is not enough (containers share names, `/etc/hostname`
/// may be missing), nor is the pid (every container's first process is 1): the random part
/// keeps two processes apart even then, and two stores of one process (as in the tests).
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_graphic()).take(64).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}:{:06x}", std::process::id(), rand::random::<u32>() & 0xff_ffff)
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

/// The field an E11000 message names (`… dup key: { order_id: "…" }`): a system's own
/// indexes may have any name, the field is what tells which value clashed.
pub(crate) fn duplicate_field(message: &str) -> Option<&str> {
    let e11000 = &message[message.find("E11000")?..];
    let rest = &e11000[e11000.find("dup key: { ")? + "dup key: { ".len()..];
    rest.split(':').next().map(str::trim).filter(|f| !f.is_empty())
}

/// A client for one cluster, with orderdesk's bounds.
async fn client_for(settings: &Settings, uri: &str, setting: &str) -> Result<Client, StorageError> {
    let mut options = ClientOptions::parse(uri).await.map_err(|e| {
        StorageError::Unavailable(format!("cannot use {setting} {}: {}", redact_uri(uri), first_line(&e.to_string())))
    })?;
    options.app_name = Some("orderdesk".into());
    options.server_selection_timeout = Some(settings.server_selection_timeout);
    options.connect_timeout = Some(settings.server_selection_timeout);
    options.max_pool_size = Some(POOL_SIZE);
    Client::with_options(options).map_err(|e| StorageError::Unavailable(first_line(&e.to_string())))
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

impl Store {
    /// Times a piece of work about one order made of several database calls (the seed's
    /// `@profile_db_query("create_order", order_id=…)`): it counts on `/performance` as `op`,
    /// and when slow it is logged and kept like one slow call, naming the order. Every call
    /// inside names the order too.
    pub async fn profiled<T, E>(
        &self,
        op: &'static str,
        order: String,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let outcome = ORDER.scope(order.clone(), work).await;
        self.observe(op, names::ORDERS, started.elapsed(), outcome.is_ok(), Some(&order));
        outcome
    }

    /// Counts one operation on `/performance`, and when it was slow keeps it and logs it in
    /// the seed's format, naming the order the work was for when there is one.
    fn observe(&self, op: &'static str, collection: &'static str, took: Duration, ok: bool, order: Option<&str>) {
        self.metrics.record(op, collection, took, ok);
        if took < self.slow {
            return;
        }
        self.keep_slow(op, collection, took, ok, order);
        let order = order.map(|o| format!(" [order: {o}]")).unwrap_or_default();
        let took_ms = took.as_secs_f64() * 1000.0;
        tracing::warn!(op, collection, took_ms, ok, "SLOW DB QUERY: {op}{order} took {took_ms:.2}ms");
    }
}

/// Connections to mongod per process, and at most this many operations in the driver at once.
/// Two cores' worth of mongod serve a handful of concurrent operations well; more only queue
/// there instead of here. Several processes each bring their own.
pub const POOL_SIZE: u32 = 16;

/// How much longer than its bound an operation already in the driver is waited for, before
/// orderdesk abandons it as hung (a server that neither answers nor drops the connection).
pub const HUNG_AFTER: Duration = Duration::from_secs(10);

/// The gate in front of the driver's pool. The driver queues every checkout and serves one
/// queued checkout per pool event, whether its caller still waits or gave up: after a burst
/// in which callers timed out, the queue held thousands of abandoned checkouts, a new call
/// added itself at the back for each one served at the front, and only the pool's 500 ms
/// maintenance tick made progress, so every call timed out for minutes (reproduced in
/// `tests/integration/foundation.rs`). Waiting here instead is safe to abandon (a dropped waiter leaves
/// the semaphore's queue), and with no more operations in the driver than connections its
/// queue stays short.
#[derive(Debug)]
pub struct PoolGate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicU64,
    wait_timeouts: std::sync::atomic::AtomicU64,
}

/// The pool's state for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub size: u32,
    pub in_use: u32,
    pub waiting: u64,
    pub wait_timeouts: u64,
}

impl PoolGate {
    fn new(size: u32) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(size as usize)),
            waiting: Default::default(),
            wait_timeouts: Default::default(),
        }
    }

    /// A place in the driver, waiting at most until `deadline`.
    async fn enter(&self, deadline: Instant) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        self.waiting.fetch_add(1, Relaxed);
        let permit = tokio::time::timeout_at(deadline, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Relaxed);
        match permit {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                self.wait_timeouts.fetch_add(1, Relaxed);
                None
            }
        }
    }

    pub fn state(&self) -> PoolState {
        use std::sync::atomic::Ordering::Relaxed;
        PoolState {
            size: POOL_SIZE,
            in_use: POOL_SIZE.saturating_sub(self.permits.available_permits() as u32),
            waiting: self.waiting.load(Relaxed),
            wait_timeouts: self.wait_timeouts.load(Relaxed),
        }
    }
}

/// The one handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    db: Database,
    op_timeout: Duration,
    slow: Duration,
    /// The configured zone: the order list's dates are days in it.
    zone: chrono_tz::Tz,
    metrics: std::sync::Arc<metrics::Metrics>,
    gate: std::sync::Arc<PoolGate>,
    /// This process among the others on the database (see [`instance_name`]).
    instance: std::sync::Arc<str>,
    /// How long [`Store::run_retrying`] waits out an election or a lost connection.
    failover_wait: Duration,
    /// Staff sessions read in the last second (see [`staff::SESSION_TRUST`]).
    sessions: std::sync::Arc<staff::SessionCache>,
    /// Whether any order was ever renamed (see `orders::AliasFlag`).
    aliases: std::sync::Arc<orders::AliasFlag>,
    /// The malformed counters last found (see `counters::MALFORMED_RECHECK`).
    malformed: std::sync::Arc<counters::MalformedCache>,
    /// Where the orders are read from: the configured systems, or orderdesk's own database.
    sources: std::sync::Arc<Vec<sources::SourceDb>>,
}

impl Store {
    /// Builds the client. No I/O happens here: the driver connects lazily and keeps
    /// reconnecting in the background, so the app starts (and recovers) without mongod.
    pub async fn connect(settings: &Settings) -> Result<Self, StorageError> {
        let client = client_for(settings, &settings.mongodb_uri, "MONGODB_URI").await?;
        let db = client.database(&settings.database);
        let gate = std::sync::Arc::new(PoolGate::new(POOL_SIZE));
        // One client (and gate) per cluster: a source on a cluster that is down fills only
        // its own places, and the other source's pages keep theirs.
        let mut clients: Vec<(String, Client, std::sync::Arc<PoolGate>)> =
            vec![(settings.mongodb_uri.clone(), client.clone(), gate.clone())];
        let mut sources = Vec::new();
        for source in &settings.sources {
            let uri = source.uri.as_deref().unwrap_or(&settings.mongodb_uri);
            let (client, gate) = match clients.iter().find(|(u, ..)| u == uri) {
                Some((_, c, g)) => (c.clone(), g.clone()),
                None => {
                    let c = client_for(settings, uri, "a source's uri").await?;
                    let g = std::sync::Arc::new(PoolGate::new(POOL_SIZE));
                    clients.push((uri.to_owned(), c.clone(), g.clone()));
                    (c, g)
                }
            };
            sources.push(sources::SourceDb::configured(source, client.database(&source.database), gate));
        }
        if sources.is_empty() {
            sources.push(sources::SourceDb::own(db.clone(), gate.clone()));
        }
        Ok(Self {
            sources: std::sync::Arc::new(sources),
            client,
            db,
            op_timeout: settings.operation_timeout,
            slow: settings.slow_query,
            zone: settings.time_zone,
            metrics: std::sync::Arc::default(),
            gate,
            instance: instance_name().into(),
            failover_wait: settings.failover_wait,
            sessions: std::sync::Arc::default(),
            aliases: std::sync::Arc::default(),
            malformed: std::sync::Arc::default(),
        })
    }

    /// The same client, pool and gate with another per-call bound (tests push the bound down
    /// to make calls give up).
    pub fn with_operation_timeout(&self, limit: Duration) -> Self {
        Self { op_timeout: limit, ..self.clone() }
    }

    /// The same server, another database (tests and benchmarks use one each).
    pub fn with_database(&self, name: &str) -> Self {
        let db = self.client.database(name);
        let sources = if self.single_database() {
            std::sync::Arc::new(vec![sources::SourceDb::own(db.clone(), self.gate.clone())])
        } else {
            self.sources.clone()
        };
        Self {
            sources,
            db,
            sessions: std::sync::Arc::default(),
            aliases: std::sync::Arc::default(),
            malformed: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    /// Which orderdesk process this is, among those sharing the database: in lane and lock
    /// holders, `/metrics` and `/performance`.
    pub fn instance(&self) -> &str {
        &self.instance
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

    /// The systems orders are read from (one: orderdesk's own database, when none is configured).
    pub fn sources(&self) -> &[sources::SourceDb] {
        &self.sources
    }

    /// Whether orders live in orderdesk's own database (no `[orderdesk.sources]`): only then
    /// are derived fields kept on the orders and aliases beside them.
    pub fn single_database(&self) -> bool {
        self.sources.iter().any(sources::SourceDb::is_own)
    }

    /// The source that holds orders of `kind`, or an error saying none is configured.
    pub(crate) fn source_of(&self, kind: crate::domain::orders::Source) -> Result<&sources::SourceDb, StorageError> {
        self.sources.iter().find(|s| s.holds(kind)).ok_or_else(|| {
            StorageError::Unavailable(format!("no {} source is configured in [orderdesk.sources]", kind.code()))
        })
    }

    /// The bot's database: its sessions, payments and pending orders.
    pub(crate) fn bot(&self) -> Result<&sources::SourceDb, StorageError> {
        self.source_of(crate::domain::orders::Source::ShippingBot)
    }

    /// The marketplace's database: its `ordercounters`.
    pub(crate) fn marketplace(&self) -> Result<&sources::SourceDb, StorageError> {
        self.source_of(crate::domain::orders::Source::Marketplace)
    }

    /// [`Store::run`] on a source's cluster (its own gate).
    pub(crate) async fn run_in<T>(
        &self,
        source: &sources::SourceDb,
        op: &'static str,
        collection: &'static str,
        fut: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StorageError> {
        self.run_gated(&source.gate, op, collection, self.op_timeout, fut).await
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
        self.run_gated(&self.gate, op, collection, limit, fut).await
    }

    pub(crate) async fn run_gated<T>(
        &self,
        gate: &PoolGate,
        op: &'static str,
        collection: &'static str,
        limit: Duration,
        fut: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<T, StorageError> {
        let started = Instant::now();
        // Waiting for a place is bounded by `limit` and safe to abandon. The driver's own work
        // is bounded by the driver and the server (server selection and connect timeouts,
        // `maxTimeMS` on every read), and is *not* cut off at `limit`: a future dropped inside
        // the driver leaves an abandoned checkout in its queue (see [`PoolGate`]). Only a
        // server that stops answering altogether is given up on, after [`HUNG_AFTER`] more.
        let outcome = match gate.enter(started + limit).await {
            None => Err(StorageError::Timeout { op, ms: limit.as_millis() }),
            Some(_permit) => match tokio::time::timeout_at(started + limit + HUNG_AFTER, fut.into_future()).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(err)) => Err(StorageError::from_driver(op, err)),
                Err(_) => Err(StorageError::Timeout { op, ms: (limit + HUNG_AFTER).as_millis() }),
            },
        };
        let for_order = ORDER.try_with(Clone::clone).ok();
        self.observe(op, collection, started.elapsed(), outcome.is_ok(), for_order.as_deref());
        outcome
    }

    /// [`Store::run`] for work that must ride through a failover (the bots' API: numbers, IDs,
    /// new orders): an election or a lost connection is waited out, trying again with a
    /// fresh operation from `attempt`, until the failover wait (15 s unless configured) is
    /// spent. `attempt` must be safe to repeat: an upsert, an insert under a unique index, a
    /// read, or a `$inc` whose lost first try costs a gap, never a repeat (majority writes:
    /// an acknowledged write is never rolled back).
    pub(crate) async fn run_retrying<T, F>(
        &self,
        op: &'static str,
        collection: &'static str,
        attempt: impl Fn() -> F,
    ) -> Result<T, StorageError>
    where
        F: IntoFuture<Output = mongodb::error::Result<T>>,
    {
        self.retrying_gated(&self.gate, op, collection, attempt).await
    }

    /// [`Store::run_retrying`] on a source's cluster.
    pub(crate) async fn run_retrying_in<T, F>(
        &self,
        source: &sources::SourceDb,
        op: &'static str,
        collection: &'static str,
        attempt: impl Fn() -> F,
    ) -> Result<T, StorageError>
    where
        F: IntoFuture<Output = mongodb::error::Result<T>>,
    {
        self.retrying_gated(&source.gate, op, collection, attempt).await
    }

    async fn retrying_gated<T, F>(
        &self,
        gate: &PoolGate,
        op: &'static str,
        collection: &'static str,
        attempt: impl Fn() -> F,
    ) -> Result<T, StorageError>
    where
        F: IntoFuture<Output = mongodb::error::Result<T>>,
    {
        let deadline = Instant::now() + self.failover_wait;
        let mut pause = Duration::from_millis(50);
        loop {
            match self.run_gated(gate, op, collection, self.op_timeout, attempt()).await {
                Err(e) if e.is_transient() && Instant::now() + pause < deadline => {
                    self.metrics.retried(op);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                outcome => return outcome,
            }
        }
    }

    /// This process's figures for every operation.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// The connection pool's state: operations in the driver, callers waiting for a place.
    pub fn pool(&self) -> PoolState {
        self.gate.state()
    }

    /// Keeps a slow operation in the capped `slow_queries` collection, in the background and
    /// outside `run_for` (a slow insert there must not record itself again).
    fn keep_slow(&self, op: &'static str, collection: &'static str, took: Duration, ok: bool, order: Option<&str>) {
        let slow = self.collection(names::SLOW_QUERIES).clone_with_type::<metrics::SlowDocument>();
        let record = metrics::SlowDocument {
            at: mongodb::bson::DateTime::now(),
            op: op.to_owned(),
            collection: collection.to_owned(),
            ms: took.as_secs_f64() * 1000.0,
            ok,
            app: "orderdesk".to_owned(),
            order: order.map(str::to_owned),
        };
        // Like `run_for`: a future inside the driver is given up only as hung, never at the
        // operation bound (dropped in the driver's checkout queue, it wedges the pool).
        let hung = self.op_timeout + HUNG_AFTER;
        // Best effort: with no place free in the driver right now, the record is skipped.
        let Ok(permit) = self.gate.permits.clone().try_acquire_owned() else { return };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = tokio::time::timeout(hung, slow.insert_one(record).into_future()).await;
                drop(permit);
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

/// What a server function tells the browser about a storage error: unavailability as such,
/// anything else as a plain internal error with the details in the log only.
impl From<StorageError> for crate::domain::error::AppError {
    fn from(e: StorageError) -> Self {
        if e.is_electing() {
            Self::DatabaseElecting(e.to_string())
        } else if e.is_unavailable() {
            Self::DatabaseUnavailable(e.to_string())
        } else if matches!(e, StorageError::NotPermitted { .. }) {
            Self::Forbidden(e.to_string())
        } else {
            tracing::error!(error = %e, "storage error");
            Self::Internal("a database operation failed; the details are in the server log".into())
        }
    }
}
