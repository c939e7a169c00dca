//! Admission at the edge. A few requests are worked on at once (`settings.concurrent_requests`)
//! and the rest wait in a first-come queue, for at most `settings.queue_wait`: on two cores,
//! 500 requests rendering at once each take 500 times as long and time out in the database
//! pool together, while 64 at a time finish in milliseconds each. Past [`MAX_IN_FLIGHT`]
//! (working and waiting) a request is refused at once with 503 and `Retry-After`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use leptos::prelude::use_context;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::deadline::Deadline;
use crate::{
    config::Settings,
    server::{AppState, access, api::LimitHit},
};

/// Enough for the 500 concurrent clients a busy desk brings, with room for the bots.
pub const MAX_IN_FLIGHT: usize = 1024;

#[derive(Debug)]
pub struct Load {
    in_flight: Arc<Semaphore>,
    working: Arc<Semaphore>,
    concurrent: usize,
    queue_wait: std::time::Duration,
    shed: AtomicU64,
}

impl Load {
    pub fn new(settings: &Settings) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            working: Arc::new(Semaphore::new(settings.concurrent_requests)),
            concurrent: settings.concurrent_requests,
            queue_wait: settings.queue_wait,
            shed: AtomicU64::default(),
        }
    }

    /// HTTP requests being served now, working or waiting their turn.
    pub fn in_flight(&self) -> u64 {
        (MAX_IN_FLIGHT - self.in_flight.available_permits()) as u64
    }

    /// HTTP requests being worked on now (the others wait their turn).
    pub fn working(&self) -> u64 {
        (self.concurrent - self.working.available_permits()) as u64
    }

    /// Requests refused because too many were in flight.
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    fn busy(&self, path: &str) -> Response {
        self.shed.fetch_add(1, Ordering::Relaxed);
        let mut refused = access::refuse_titled(
            StatusCode::SERVICE_UNAVAILABLE,
            path,
            "Busy",
            "orderdesk is serving as many requests as it can right now. Try again in a second.",
        );
        refused.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        refused.extensions_mut().insert(LimitHit);
        refused
    }
}

/// The edge bound: a place among [`MAX_IN_FLIGHT`] requests (or 503 within microseconds),
/// then a turn among the working ones (or 503 after the queue wait). Health checks, metrics
/// and the bundle's files skip the queue: they are cheap, and a health check that waits
/// behind pages would call a busy server dead.
pub async fn admit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let load = &state.load;
    let Ok(_place) = load.in_flight.clone().try_acquire_owned() else {
        return load.busy(req.uri().path());
    };
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics")
        || crate::server::assets::is_unhashed_site_file(path)
        || path.starts_with("/pkg/")
    {
        return next.run(req).await;
    }
    // At most the queue wait, and at most half the time left before the request's deadline
    // (the other half is for the work): a request that gets no turn hears "busy, retry"
    // instead of a bare 504, whatever the two settings are.
    let wait = match req.extensions().get::<Deadline>() {
        Some(deadline) => load.queue_wait.min(deadline.left() / 2),
        None => load.queue_wait,
    };
    let Ok(Ok(turn)) = tokio::time::timeout(wait, load.working.clone().acquire_owned()).await else {
        return load.busy(req.uri().path());
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
pub struct Turn(Arc<std::sync::Mutex<Option<OwnedSemaphorePermit>>>);

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
