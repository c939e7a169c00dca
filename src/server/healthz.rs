//! `GET /healthz`: for load balancers and people; no login, no HTML.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use super::AppState;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_s: u64,
    pub database: DatabaseHealth,
}

#[derive(Debug, Serialize)]
pub struct DatabaseHealth {
    pub name: String,
    pub reachable: bool,
    pub round_trip_ms: Option<f64>,
    pub error: Option<String>,
}

/// 200 when the database answers a ping, 503 (with the reason) when it does not.
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ping = state.store.ping().await;
    let (code, status) =
        if ping.is_ok() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "degraded") };
    let database = DatabaseHealth {
        name: state.store.database_name().to_owned(),
        reachable: ping.is_ok(),
        round_trip_ms: ping.as_ref().ok().map(|d| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0),
        error: ping.err().map(|e| e.to_string()),
    };
    let health =
        Health { status, version: env!("CARGO_PKG_VERSION"), uptime_s: state.started.elapsed().as_secs(), database };
    (code, Json(health))
}
