//! Every request is answered within the request timeout (504 after). The bots' API gets the
//! failover wait on top: a number or an order ID waits out an election instead of failing.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::server::AppState;

/// When a request's deadline falls, as [`limit`] set it (the wait for a turn included): a
/// handler that waits on something of its own ends that wait in time to answer in words.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub tokio::time::Instant);

impl Deadline {
    /// The time left until it falls (zero once it has).
    pub fn left(&self) -> std::time::Duration {
        self.0.saturating_duration_since(tokio::time::Instant::now())
    }
}

pub async fn limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
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
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
