//! `GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: its database
//! answers), for load balancers and orchestrators; no login, status-only bodies (what is
//! wrong in detail is in the log and on `/performance`, not open to anyone who asks).

use std::time::{Duration, Instant};

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use super::AppState;
use crate::storage::StorageError;

/// How long one ping's answer stands for every readiness check after it.
const PING_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize)]
pub struct Status {
    pub status: &'static str,
}

/// The last ping: when, and whether the database was ready, electing or unavailable.
#[derive(Debug, Default)]
pub struct Readiness(tokio::sync::Mutex<Option<(Instant, &'static str)>>);

/// Always 200 while the process serves.
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// 200 `ready` when the database answers a ping; 503 `electing` or `unavailable` otherwise.
/// One ping a second at most, however many checks come in (the others wait for it or read
/// its answer).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Status>) {
    let mut last = state.readiness.0.lock().await;
    let status = match *last {
        Some((at, status)) if at.elapsed() < PING_FOR => status,
        _ => {
            let status = match state.store.ping().await {
                Ok(_) => "ready",
                Err(StorageError::Electing { .. }) => "electing",
                Err(e) => {
                    tracing::warn!(error = %e, "readiness check: the database does not answer");
                    "unavailable"
                }
            };
            *last = Some((Instant::now(), status));
            status
        }
    };
    let code = if status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(Status { status }))
}
