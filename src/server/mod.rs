//! The HTTP server: the state every handler shares, the routes around the Leptos app, and
//! the guard every server function goes through. The rules every request passes are in
//! [`middleware`], the handlers in their own files.

pub mod access;
mod api;
pub mod assets;
mod audit_csv;
pub mod connections;
mod counters_backup;
mod csv;
mod gaps_csv;
mod healthz;
mod html;
pub mod login;
pub mod metrics;
pub mod middleware;
mod orders_csv;
pub mod places;
pub mod qr;
mod references_csv;

pub use connections::{ClientAddr, serve_on};
pub use middleware::{
    admission::{MAX_IN_FLIGHT, Turn, give_back_turn},
    body::{BODY_LIMIT, BODY_READ_TIMEOUT},
    deadline::Deadline,
};

use std::{sync::Arc, time::Instant};

use axum::{Router, extract::FromRef, routing::get};
use leptos::prelude::*;

use crate::{
    config::Settings,
    domain::accounts::Role,
    domain::error::AppError,
    services::{
        issuing::{IdGenerator, IdScheme, NumberAllocator, OrderCreator},
        workers::Workers,
    },
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
    pub page_roles: middleware::signed_in::PageRoles,
    /// Places for the live counters' long polls: per session, and in all.
    pub long_polls: places::Places,
    /// The last readiness ping (`/readyz` pings at most once a second).
    pub readiness: healthz::Readiness,
    /// Places for CSV exports: per account, and in all.
    pub exports: places::Places,
    /// Every task that outlives its request: the writers, the periodic work, the runs.
    pub workers: Workers,
    load: Arc<middleware::admission::Load>,
}

/// Long polls waiting at once in a process, and per session (a person with a few tabs).
pub const LONG_POLLS: usize = 128;
pub const LONG_POLLS_PER_SESSION: usize = 3;
/// CSV exports running at once in a process, and per account.
pub const EXPORTS: usize = 8;
pub const EXPORTS_PER_ACCOUNT: usize = 2;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("database", &self.store.database_name()).finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the services for one process: one ID generator, one number allocator, and the
    /// workers behind the audit log, the API usage and the live counters.
    pub fn new(
        leptos_options: LeptosOptions,
        store: Store,
        settings: Settings,
        page_roles: middleware::signed_in::PageRoles,
    ) -> Self {
        let ids = Arc::new(IdGenerator::system(IdScheme::Ord));
        let numbers = Arc::new(NumberAllocator::new(
            store.clone(),
            ids.clock().clone(),
            crate::services::issuing::NumberPolicy::from_settings(&settings),
        ));
        let workers = Workers::default();
        let (audit, writing) = crate::storage::audit::AuditWriter::new(store.clone());
        workers.spawn("audit writer", writing);
        let (counter_changes, following) = crate::services::live_counters::CounterChanges::new(store.clone());
        workers.spawn("counter changes", following);
        let (api_usage, writing) = crate::services::api_usage::UsageRecorder::new(store.clone());
        workers.spawn("API usage writer", writing);
        let orders = OrderCreator::new(store.clone(), ids.clone());
        let load = Arc::new(middleware::admission::Load::new(&settings));
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
            workers,
            load,
        }))
    }

    /// HTTP requests being served now, working or waiting their turn.
    pub fn in_flight(&self) -> u64 {
        self.load.in_flight()
    }

    /// HTTP requests being worked on now (the others wait their turn).
    pub fn working(&self) -> u64 {
        self.load.working()
    }

    /// Requests refused because too many were in flight.
    pub fn shed_count(&self) -> u64 {
        self.load.shed()
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

/// The sign-in form is an email, a password and two tokens.
const LOGIN_BODY_LIMIT: usize = 4 * 1024;

/// The server's routes and middleware around `pages` (the Leptos app's routes, which
/// `startup` builds: the server does not import the app).
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let site_root = state.leptos_options.site_root.to_string();
    assets::remember_stylesheet(&state.leptos_options);
    let routes = Router::new()
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
        );
    middleware::around(routes, state)
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
