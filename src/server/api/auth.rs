//! `X-API-Key`: missing → 401, wrong → 403.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;

use super::ApiError;
use crate::{domain::accounts::ApiKeyScope, domain::tokens::same, server::AppState, storage::api_keys::hash_key};

/// How long a key checked against the database is trusted without asking again; a revoked
/// key stops working within this time.
const TRUST_FOR: Duration = Duration::from_secs(30);

/// Keys that are not valid, per address, in [`BAD_KEY_WINDOW`] (counted in MongoDB, so
/// shared by every process): past it the address gets 429 without a database query.
pub const BAD_KEYS_PER_ADDRESS: u64 = 30;
const BAD_KEY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recently verified key hashes, so the bots' hot path costs no extra round trip; and the
/// addresses over their limit, so their attempts cost none either.
#[derive(Debug, Default)]
pub struct KeyCache {
    trusted: Mutex<HashMap<String, Instant>>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl KeyCache {
    fn fresh(&self, hash: &str) -> bool {
        let map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        map.get(hash).is_some_and(|at| at.elapsed() < TRUST_FOR)
    }

    fn remember(&self, hash: String) {
        let mut map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, at| at.elapsed() < TRUST_FOR);
        map.insert(hash, Instant::now());
    }

    /// How long `ip` is still refused, if it is.
    fn blocked_for(&self, ip: &str) -> Option<Duration> {
        let map = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        map.get(ip).and_then(|until| until.checked_duration_since(Instant::now()))
    }

    fn block(&self, ip: String, wait: Duration) {
        let mut map = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, until| *until > now);
        map.insert(ip, now + wait);
    }
}

/// Proof that the request carried a valid key.
pub struct ApiCaller;

/// Proof that the request carried a valid key of scope `stats` (`/api/performance/stats`).
pub struct StatsCaller;

/// Checks `X-API-Key` for `scope`. The bootstrap key from the environment has every scope.
async fn authorize(parts: &Parts, state: &AppState, scope: ApiKeyScope) -> Result<(), ApiError> {
    let key = parts
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::MissingKey)?;
    if let Some(bootstrap) = &state.settings.bootstrap_api_key
        && same(bootstrap.expose(), key)
    {
        return Ok(());
    }
    let hash = hash_key(key);
    let cached = format!("{scope}:{hash}");
    if state.api_keys.fresh(&cached) {
        return Ok(());
    }
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    if let Some(wait) = state.api_keys.blocked_for(&ip) {
        return Err(ApiError::RateLimited(wait));
    }
    // The lookup is reserved first, so a burst of wrong keys gets no more than the limit.
    let now = Utc::now();
    let attempt_key = format!("api-key:{ip}");
    let reservation = state.store.reserve_attempt(&attempt_key, BAD_KEY_WINDOW, now).await?;
    if reservation.count > BAD_KEYS_PER_ADDRESS {
        state.api_keys.block(ip, reservation.wait(now));
        return Err(ApiError::RateLimited(reservation.wait(now)));
    }
    if state.store.api_key_valid(&hash, scope, now).await? {
        if let Err(e) = state.store.release_attempt(&attempt_key).await {
            tracing::warn!(error = %e, "could not give back a valid key's reservation");
        }
        state.api_keys.remember(cached);
        return Ok(());
    }
    Err(ApiError::WrongKey)
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, ApiKeyScope::Bots).await.map(|()| Self)
    }
}

impl FromRequestParts<AppState> for StatsCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, ApiKeyScope::Stats).await.map(|()| Self)
    }
}
