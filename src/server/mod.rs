//! The HTTP server: axum routes around the Leptos app, health checks and middleware.

pub mod access;
mod api;
mod audit_csv;
mod healthz;
pub mod login;
pub mod metrics;
mod orders_csv;
pub mod qr;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{Router, extract::FromRef, routing::get};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{compression::CompressionLayer, timeout::TimeoutLayer, trace::TraceLayer};

use crate::{
    app::{App, shell},
    config::Settings,
    error::AppError,
    issuing::{IdGenerator, IdScheme, NumberAllocator},
    storage::Store,
};

/// Everything a request handler or server function needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub settings: Arc<Settings>,
    pub started: Instant,
    pub ids: Arc<IdGenerator>,
    pub numbers: Arc<NumberAllocator>,
    pub api_keys: Arc<api::KeyCache>,
    pub logins: Arc<login::LoginLimiter>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("database", &self.store.database_name()).finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the services for one process: one ID generator and one number allocator.
    pub fn new(leptos_options: LeptosOptions, store: Store, settings: Settings) -> Self {
        let ids = Arc::new(IdGenerator::system(IdScheme::Ord));
        let numbers = Arc::new(NumberAllocator::new(
            store.clone(),
            ids.clock().clone(),
            settings.time_zone,
            settings.segment_vendors.clone(),
        ));
        Self {
            leptos_options,
            store,
            settings: Arc::new(settings),
            started: Instant::now(),
            ids,
            numbers,
            api_keys: Arc::default(),
            logins: Arc::default(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function (leptos_axum provides the router state as context).
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal("server state is missing".into()))
}

/// The signed-in caller of a server function (the access middleware put it there).
pub fn caller() -> Result<access::Caller, AppError> {
    use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<access::Caller>().cloned())
        .ok_or_else(|| AppError::Unauthorized("sign in first".into()))
}

/// Writes an audit entry for the caller of a server function.
pub async fn audit(action: &str, params: &str, outcome: &str) -> Result<(), AppError> {
    let (state, caller) = (state()?, caller()?);
    access::audit(&state, &caller.viewer.email, caller.viewer.role.as_str(), &caller.ip, action, params, outcome).await;
    Ok(())
}

/// The whole application as an axum router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let request_timeout = state.settings.request_timeout;
    Router::new()
        .route("/healthz", get(healthz::healthz))
        .route("/orders.csv", get(orders_csv::export))
        .route("/audit.csv", get(audit_csv::export))
        .route("/metrics", get(metrics::prometheus))
        .route("/api/performance/stats", get(metrics::stats))
        .route("/login", get(login::show))
        .route("/auth/login", axum::routing::post(login::submit))
        .route("/auth/logout", axum::routing::post(login::logout))
        .nest("/api/v1", api::routes())
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), access::guard))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::GATEWAY_TIMEOUT, request_timeout))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, database = state.store.database_name(), "orderdesk listening");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
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
