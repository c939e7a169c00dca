//! The HTTP server: axum routes around the Leptos app, health checks and middleware.
//!
//! Long (about 440 lines): the state every handler shares, the admission queue and the
//! router's middleware are read together; the handlers themselves are in their own files.

pub mod access;
mod api;
pub mod assets;
mod audit_csv;
pub mod connections;
mod counters_backup;
mod csv;
mod gaps_csv;
pub mod headers;
mod healthz;
mod html;
pub mod login;
pub mod metrics;
mod orders_csv;
pub mod places;
pub mod qr;
mod references_csv;

pub use connections::{ClientAddr, serve_on};

use std::{sync::Arc, time::Instant};

use axum::{Router, extract::FromRef, routing::get};
use leptos::prelude::*;
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{
    config::Settings,
    domain::accounts::Role,
    domain::error::AppError,
    services::issuing::{IdGenerator, IdScheme, NumberAllocator, OrderCreator},
    storage::Store,
};

/// Everything a request handler or server function needs: one pointer, so the clone each
/// request, middleware and server function takes is one atomic increment (cloning the
/// fields themselves was a tenth of the order page's CPU: BENCHMARKS.md, "one round trip instead of five").
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Services {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub settings: Arc<Settings>,
    pub started: Instant,
    pub ids: Arc<IdGenerator>,
    pub numbers: Arc<NumberAllocator>,
    /// Stores the orders the bots create through the API.
    pub orders: OrderCreator,
    pub api_keys: Arc<api::KeyCache>,
    /// Every call made with an API key, counted per key and minute.
    pub api_usage: Arc<crate::services::api_usage::UsageRecorder>,
    pub password_checks: Arc<login::PasswordChecks>,
    /// Counter changes as they happen, for the live `/counters` page.
    pub counter_changes: Arc<crate::services::live_counters::CounterChanges>,
    /// The vendors' usual day, for the counters' forecast.
    pub day_shapes: crate::services::monitoring::DayShapes,
    /// Every audit entry the server writes goes through it (group commit).
    pub audit: crate::storage::audit::AuditWriter,
    /// The role each page needs, from the app's routes table.
    pub page_roles: access::PageRoles,
    /// Places for the live counters' long polls: per session, and in all.
    pub long_polls: places::Places,
    /// The last readiness ping (`/readyz` pings at most once a second).
    pub readiness: healthz::Readiness,
    /// Places for CSV exports: per account, and in all.
    pub exports: places::Places,
    load: Arc<Load>,
}

/// Admission at the edge. A few requests are worked on at once (`settings.concurrent_requests`)
/// and the rest wait in a first-come queue, for at most `settings.queue_wait`: on two cores,
/// 500 requests rendering at once each take 500 times as long and time out in the database
/// pool together, while 64 at a time finish in milliseconds each. Past [`MAX_IN_FLIGHT`]
/// (working and waiting) a request is refused at once with 503 and `Retry-After`.
#[derive(Debug)]
struct Load {
    in_flight: Arc<tokio::sync::Semaphore>,
    working: Arc<tokio::sync::Semaphore>,
    queue_wait: std::time::Duration,
    shed: std::sync::atomic::AtomicU64,
}

/// Enough for the 500 concurrent clients a busy desk brings, with room for the bots.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Long polls waiting at once in a process, and per session (a person with a few tabs).
pub const LONG_POLLS: usize = 128;
pub const LONG_POLLS_PER_SESSION: usize = 3;
/// CSV exports running at once in a process, and per account.
pub const EXPORTS: usize = 8;
pub const EXPORTS_PER_ACCOUNT: usize = 2;

impl Load {
    fn new(settings: &Settings) -> Self {
        Self {
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            working: Arc::new(tokio::sync::Semaphore::new(settings.concurrent_requests)),
            queue_wait: settings.queue_wait,
            shed: Default::default(),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("database", &self.store.database_name()).finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the services for one process: one ID generator and one number allocator.
    pub fn new(leptos_options: LeptosOptions, store: Store, settings: Settings, page_roles: access::PageRoles) -> Self {
        let ids = Arc::new(IdGenerator::system(IdScheme::Ord));
        let numbers = Arc::new(NumberAllocator::new(
            store.clone(),
            ids.clock().clone(),
            crate::services::issuing::NumberPolicy::from_settings(&settings),
        ));
        let audit = crate::storage::audit::AuditWriter::spawn(store.clone());
        let orders = OrderCreator::new(store.clone(), ids.clone());
        let load = Arc::new(Load::new(&settings));
        let counter_changes = crate::services::live_counters::CounterChanges::spawn(store.clone());
        let api_usage = crate::services::api_usage::UsageRecorder::spawn(store.clone());
        Self(Arc::new(Services {
            leptos_options,
            store,
            settings: Arc::new(settings),
            started: Instant::now(),
            ids,
            numbers,
            orders,
            api_keys: Arc::default(),
            api_usage,
            password_checks: Arc::default(),
            counter_changes,
            day_shapes: Default::default(),
            audit,
            page_roles,
            long_polls: places::Places::new(LONG_POLLS, LONG_POLLS_PER_SESSION),
            exports: places::Places::new(EXPORTS, EXPORTS_PER_ACCOUNT),
            readiness: Default::default(),
            load,
        }))
    }

    /// HTTP requests being served now, working or waiting their turn.
    pub fn in_flight(&self) -> u64 {
        (MAX_IN_FLIGHT - self.load.in_flight.available_permits()) as u64
    }

    /// HTTP requests being worked on now (the others wait their turn).
    pub fn working(&self) -> u64 {
        (self.settings.concurrent_requests - self.load.working.available_permits()) as u64
    }

    /// Requests refused because too many were in flight.
    pub fn shed_count(&self) -> u64 {
        self.load.shed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The edge bound: a place among [`MAX_IN_FLIGHT`] requests (or 503 within microseconds),
/// then a turn among the working ones (or 503 after the queue wait). Health checks, metrics
/// and the bundle's files skip the queue: they are cheap, and a health check that waits
/// behind pages would call a busy server dead.
async fn shed_load(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let busy = |state: &AppState, path: &str| {
        state.load.shed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut refused = access::refuse_titled(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            path,
            "Busy",
            "orderdesk is serving as many requests as it can right now. Try again in a second.",
        );
        refused.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        refused.extensions_mut().insert(api::LimitHit);
        refused
    };
    let Ok(_place) = state.load.in_flight.clone().try_acquire_owned() else {
        return busy(&state, req.uri().path());
    };
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics" | "/theme.js" | "/favicon.ico") || path.starts_with("/pkg/") {
        return next.run(req).await;
    }
    // At most the queue wait, and at most half the time left before the request's deadline
    // (the other half is for the work): a request that gets no turn hears "busy, retry"
    // instead of a bare 504, whatever the two settings are.
    let wait = match req.extensions().get::<Deadline>() {
        Some(deadline) => state.load.queue_wait.min(deadline.left() / 2),
        None => state.load.queue_wait,
    };
    let turn = tokio::time::timeout(wait, state.load.working.clone().acquire_owned()).await;
    let Ok(Ok(turn)) = turn else {
        return busy(&state, req.uri().path());
    };
    // The turn is held here until the answer is made, whatever the handler does with the
    // request (extractors consume it, extensions and all); the copy in the extensions only
    // lets a handler give it back earlier.
    let turn = Turn(Arc::new(std::sync::Mutex::new(Some(turn))));
    req.extensions_mut().insert(turn.clone());
    let response = next.run(req).await;
    drop(turn);
    response
}

/// A request's turn among the working ones. A handler that goes on to wait for something
/// other than the database (the long poll) gives it back once it knows its caller.
#[derive(Debug, Clone)]
pub struct Turn(Arc<std::sync::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>);

impl Turn {
    pub fn give_back(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Gives the running server function's turn back (see [`Turn`]).
pub fn give_back_turn() {
    if let Some(turn) = use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Turn>().cloned()) {
        turn.give_back();
    }
}

/// Reads a request's body whole, under [`BODY_READ_TIMEOUT`], before it queues for a turn:
/// a client that declares a body and sends it slowly (or never) holds its own connection
/// and nothing shared. Bodies are small here; a larger one is refused from its length.
async fn read_body(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{Method, StatusCode, header};
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let too_large = || access::refuse(StatusCode::PAYLOAD_TOO_LARGE, &path, "The request body is larger than 64 KiB.");
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(_)) => too_large(),
        Err(_) => access::refuse(
            StatusCode::REQUEST_TIMEOUT,
            &path,
            &format!("The request body did not arrive within {} s.", BODY_READ_TIMEOUT.as_secs()),
        ),
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, for code that has already been through [`require`] (private: a server
/// function gets the store only from the guard).
fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("server state is missing".into()))
}

/// The signed-in caller the access middleware attached to this request, if any.
fn caller() -> Result<access::Caller, AppError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<access::Caller>().cloned())
        .ok_or_else(|| AppError::Unauthorized("Sign in first: your session has ended or you never signed in.".into()))
}

/// The one guard every server function goes through, whether it is called over HTTP or
/// in-process while a page renders: the caller, checked for `role` here where the data is
/// read (not only by the middleware on the URL), and with it the state.
pub fn require(role: Role) -> Result<(AppState, access::Caller), AppError> {
    let caller = caller()?;
    if let Some(message) = access::role_refusal(caller.viewer.role, role) {
        return Err(AppError::Forbidden(message));
    }
    Ok((state()?, caller))
}

/// Writes an audit entry for the caller of a server function (after [`require`]); an error
/// when it could not be written, so what it records does not happen unrecorded.
pub async fn audit(action: &str, params: &str, outcome: &str) -> Result<(), AppError> {
    let (state, caller) = (state()?, caller()?);
    let entry = crate::domain::audit::AuditEntry::new(&caller.actor(), action, outcome).with_params(params);
    access::audit(&state, entry).await.map_err(AppError::from)
}

/// Bodies no route of ours needs more of: forms and server-function arguments are small.
const BODY_LIMIT: usize = 64 * 1024;
/// The sign-in form is an email, a password and two tokens.
const LOGIN_BODY_LIMIT: usize = 4 * 1024;
/// A request body must have arrived whole by then: it is read before the request takes a
/// turn, so a client that sends it slowly holds only its own connection.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The server's routes and middleware around `pages` (the Leptos app's routes, which
/// `startup` builds: the server does not import the app).
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let site_root = state.leptos_options.site_root.to_string();
    assets::remember_stylesheet(&state.leptos_options);
    Router::new()
        .route("/healthz", get(healthz::healthz))
        .route("/readyz", get(healthz::readyz))
        .route("/orders.csv", get(orders_csv::export))
        .route("/qr/{file}", get(qr::image))
        .route("/audit.csv", get(audit_csv::export))
        .route("/counters/{counter}/gaps.csv", get(gaps_csv::export))
        .route("/counters.csv", get(counters_backup::csv))
        .route("/maintenance/runs/{run}/references.csv", get(references_csv::export))
        .route("/counters.json", get(counters_backup::json))
        .route("/metrics", get(metrics::prometheus))
        .route("/api/performance/stats", get(metrics::stats))
        .route("/login", get(login::show))
        .route(
            "/auth/login",
            axum::routing::post(login::submit).layer(axum::extract::DefaultBodyLimit::max(LOGIN_BODY_LIMIT)),
        )
        .route("/auth/logout", axum::routing::post(login::logout))
        .nest("/api/v1", api::routes())
        .merge(pages)
        // Only files: a path no route matched never renders the app (whose router would read
        // it its own way).
        .fallback_service(
            assets::static_files(&site_root).fallback(axum::routing::any(|| async { access::not_found_page() })),
        )
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn(assets::cache_headers))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::guard))
        .layer(axum::middleware::from_fn(access::canonical_paths))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::security_headers))
        .layer(axum::middleware::from_fn_with_state(state.clone(), shed_load))
        .layer(axum::middleware::from_fn(read_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), deadline))
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::count_calls))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A server function's error goes to the browser as its JSON [`AppError`], but Leptos answers
/// every one with 500. The status the error stands for (400 for bad input, 404, 409, 503 …) is
/// set here, once, from the error itself; the browser's server-function client reads any
/// 4xx/5xx body as the error, so nothing else changes.
async fn server_fn_status(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let response = next.run(req).await;
    // Leptos marks a server function's error answer with its own header.
    if !response.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error body is a short JSON document; anything larger is left as it is.
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// When a request's deadline falls, as [`deadline`] set it (the wait for a turn included): a
/// handler that waits on something of its own ends that wait in time to answer in words.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub tokio::time::Instant);

impl Deadline {
    /// The time left until it falls (zero once it has).
    pub fn left(&self) -> std::time::Duration {
        self.0.saturating_duration_since(tokio::time::Instant::now())
    }
}

/// Every request is answered within the request timeout (504 after). The bots' API gets the
/// failover wait on top: a number or an order ID waits out an election instead of failing.
async fn deadline(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut limit = state.settings.request_timeout;
    if req.uri().path().starts_with("/api/v1/") {
        limit += state.settings.failover_wait;
    }
    req.extensions_mut().insert(Deadline(tokio::time::Instant::now() + limit));
    // A clone of the URI shares its bytes (no copy of the path) for a rare log line.
    let uri = req.uri().clone();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            // The slow calls inside were logged as they ended; this says which request paid.
            tracing::warn!(
                path = uri.path(),
                limit_ms = limit.as_millis() as u64,
                "request cut off at its deadline (504)"
            );
            axum::http::StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
