//! Start-up: the one path from settings to a serving process, taken by `orderdesk serve` and
//! by the integration tests alike (as zero-to-production's `Application::build`). It connects,
//! wires the state, builds the router around the Leptos app and binds; `run_until` then
//! starts the background work and serves. Tests that need to drive the background work step
//! by step ask for [`Background::Manual`] and call its steps themselves.

use std::{net::SocketAddr, path::Path};

use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::{
    app::{App, routes, shell},
    config::{CONFIG_FILE, Settings},
    server::{self, AppState},
    services::{display_fill, monitoring},
    storage::{StorageError, Store},
};

/// Why the process could not start; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("Leptos settings in {CONFIG_FILE}: {0}")]
    Leptos(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot serve on {addr}: {error}")]
    Bind { addr: SocketAddr, error: std::io::Error },
}

/// Whether `run_until` starts the background work (as `serve` does) or leaves it to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Run,
    Manual,
}

/// Leptos's options: `Leptos.toml` when it is there (a checkout), built-in defaults and
/// `LEPTOS_*` variables otherwise (an installed binary).
pub fn leptos_options() -> Result<LeptosOptions, StartupError> {
    let file = Path::new(CONFIG_FILE).exists().then_some(CONFIG_FILE);
    leptos::config::get_configuration(file)
        .map(|c| crate::server::assets::with_asset_hashes(c.leptos_options))
        .map_err(|e| StartupError::Leptos(e.to_string()))
}

/// A process ready to serve: connected, wired and bound.
pub struct Application {
    state: AppState,
    listener: tokio::net::TcpListener,
    background: Background,
    /// The indexes were already ensured before serving (the tests await them): the
    /// background work does not build them a second time.
    indexes_ready: bool,
}

impl Application {
    /// Connects to the database and binds `leptos.site_addr` (port 0 picks a free one).
    pub async fn build(
        settings: Settings,
        leptos: LeptosOptions,
        background: Background,
    ) -> Result<Self, StartupError> {
        let addr = leptos.site_addr;
        let settings = settings.for_site(addr);
        let store = Store::connect(&settings).await?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| StartupError::Bind { addr, error })?;
        let state = AppState::new(leptos, store, settings, routes::role_for);
        Ok(Self { state, listener, background, indexes_ready: false })
    }

    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.leptos_options.site_addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The background work of this process, to run step by step.
    pub fn tasks(&self) -> Tasks {
        Tasks { store: self.state.store.clone(), zone: self.state.settings.time_zone }
    }

    /// Ensures the indexes now, before serving, so the first request finds them; false when
    /// the database is unavailable.
    pub async fn ensure_indexes_first(&mut self) -> bool {
        self.indexes_ready = self.tasks().ensure_indexes().await;
        self.indexes_ready
    }

    /// Starts the background work (unless manual) and serves until `shutdown` resolves.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let background = (self.background == Background::Run).then(|| {
            let tasks = self.tasks();
            let workers = &self.state.workers;
            if self.indexes_ready {
                workers.spawn("periodic tasks", tasks.run_after_indexes())
            } else {
                workers.spawn("periodic tasks", tasks.run())
            }
        });
        tracing::info!(address = %self.address(), database = self.state.store.database_name(), "orderdesk listening");
        let state = self.state.clone();
        let served = server::serve_on(self.listener, router(self.state.clone()), &self.state.settings, shutdown).await;
        stop(&state, background).await;
        served
    }
}

/// After the last request: the background work stops here, while the database client still
/// works (stopped by the runtime's end instead, a pass cut off half way was logged as a
/// failure), its display-ID lease and number lane are handed over at once (a rolling restart
/// does not leave new orders unfilled until the lease lapses), and the API usage counted since
/// the last write is written (it was lost).
async fn stop(state: &AppState, background: Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = background {
        // Cut off wherever it is: the fill stores the feed's resume point only after filling,
        // so whatever a cut pass took is taken again by the next holder (filling is idempotent),
        // and one abandoned call cannot wedge the pool (a burst of thousands did).
        task.abort();
        let _ = task.await;
        if let Err(e) = state.store.release_lease(display_fill::LEASE).await {
            tracing::warn!(error = %e, "could not hand over the display-ID lease; it lapses within 30 s");
        }
    }
    if let Err(e) = state.numbers.release().await {
        tracing::warn!(error = %e, "could not hand back this process's number lane; it lapses by itself");
    }
    if let Err(e) = state.api_usage.write().await {
        tracing::warn!(error = %e, "could not write the last API usage counts; they are lost");
    }
    // A maintenance run cut off here shows as interrupted once its heartbeat lapses, and the
    // next run of it picks up where it stopped.
    let running = state.workers.running();
    if !running.is_empty() {
        tracing::info!(workers = ?running, "stopping with these workers still running");
    }
}

/// The whole application as an axum router: the server's routes and middleware around the
/// Leptos pages.
fn router(state: AppState) -> Router {
    let options = state.leptos_options.clone();
    let pages = Router::new().leptos_routes(&state, route_list().to_vec(), move || shell(options.clone()));
    server::router(state, pages)
}

/// The Leptos router's pages, listed once per process. Listing them runs the app with every
/// resource suspended by a process-wide flag (leptos_server's `SuppressResourceLoad`), and a
/// resource another server in the process first polls meanwhile never loads: its page hung
/// until the request deadline (leptos-rs/leptos#4773; seen here as an order view that never
/// answered while another test's server started). Listed once, before the first server of
/// the process can render anything, no render ever overlaps it.
fn route_list() -> &'static [leptos_axum::AxumRouteListing] {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App))
}

/// What a running server does besides answering requests.
#[derive(Debug, Clone)]
pub struct Tasks {
    store: Store,
    zone: chrono_tz::Tz,
}

impl Tasks {
    pub fn new(store: Store, zone: chrono_tz::Tz) -> Self {
        Self { store, zone }
    }

    /// All of it, in order, as `serve` runs it: the indexes (builds over big collections take
    /// seconds, so the server answers meanwhile), then the display-ID fill (a pass goes by the
    /// display_id index) beside the failures report's last 30 days (the first `/failures` visit
    /// would otherwise wait for them). With the database down, each step logs it and the fill
    /// keeps trying every minute. Never returns: the server stops it.
    pub async fn run(self) {
        self.ensure_indexes().await;
        self.run_after_indexes().await;
    }

    /// What [`Tasks::run`] does once the indexes are in place.
    /// Never returns: the display-ID fill goes on for as long as the server runs.
    pub async fn run_after_indexes(self) {
        tokio::join!(display_fill::run(self.store.clone()), self.precompute_failures(), self.check_sources());
    }

    /// Each source's names against its data, each wrong one said in one line of the log (and
    /// shown on the Maintenance page).
    pub async fn check_sources(&self) {
        for r in self.store.check_sources().await {
            if let Some(e) = &r.unreachable {
                tracing::warn!(source = %r.name, "source {} could not be checked: {e}", r.name);
            }
            for line in &r.wrong {
                tracing::error!(source = %r.name, "{line}");
            }
            for line in &r.indexes {
                tracing::warn!(source = %r.name, "{line}");
            }
            for line in &r.notes {
                tracing::info!(source = %r.name, "{line}");
            }
        }
    }

    /// Ensures every index and says plainly which ones legacy data blocks; false when the
    /// database is unavailable (the indexes are checked again at the next start).
    pub async fn ensure_indexes(&self) -> bool {
        for outcome in self.store.ensure_indexes().await {
            match outcome.result {
                Ok(()) => {}
                Err(StorageError::DuplicateKey { .. }) => tracing::error!(
                    collection = outcome.index.collection,
                    index = outcome.index.name,
                    stand_in = outcome.stand_in.as_deref().unwrap_or("none"),
                    "unique index {}.{} is blocked by existing data (missing, null or duplicate values); \
                     lookups use a non-unique index meanwhile, but nothing prevents new duplicates until \
                     the data is fixed (see the Maintenance page)",
                    outcome.index.collection,
                    outcome.index.name
                ),
                Err(e) if e.is_unavailable() => {
                    tracing::warn!(error = %e, "database unavailable at start-up; indexes will be checked on the next start");
                    return false;
                }
                Err(e) => tracing::error!(index = outcome.index.name, error = %e, "could not create index"),
            }
        }
        true
    }

    /// Orders the bots insert carry no display_id: one pass fills the recent ones.
    pub async fn fill_display_ids(&self) -> Result<u64, StorageError> {
        display_fill::fill_pass(&self.store, chrono::Utc::now()).await
    }

    pub async fn precompute_failures(&self) {
        match monitoring::failure_report(&self.store, self.zone, chrono::Utc::now(), 30).await {
            Ok(_) => tracing::info!("start-up work done: indexes checked, failure figures of the last 30 days ready"),
            Err(e) => {
                tracing::warn!(error = %e, "could not precompute the failures report; the page computes it when opened")
            }
        }
    }
}

/// The pages the Leptos router registers, as the routes table writes them (`/orders/:key`).
pub fn router_pages() -> Vec<String> {
    route_list()
        .iter()
        .map(|r| {
            let path = r.path().split('/').map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => format!(":{param}"),
                None => s.to_owned(),
            });
            path.collect::<Vec<_>>().join("/")
        })
        .map(|p| if p.is_empty() { "/".to_owned() } else { p })
        .collect()
}
