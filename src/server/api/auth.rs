//! `X-API-Key`: missing → 401, wrong → 403.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;

use super::{ApiError, usage::CallerKey};
use crate::{
    domain::{accounts::ApiKeyScope, api_usage::ENV_KEY, tokens::same},
    server::AppState,
    storage::api_keys::hash_key,
};

/// How long a key checked against the database is trusted without asking again; a revoked
/// key stops working within this time.
const TRUST_FOR: Duration = Duration::from_secs(30);

/// Keys that are not valid, per address, in [`BAD_KEY_WINDOW`] (counted in MongoDB, so
/// shared by every process): past it the address gets 429 without a database query.
pub const BAD_KEYS_PER_ADDRESS: u64 = 30;
const BAD_KEY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recently verified keys (by scope and hash, with the key's id), so the bots' hot path
/// costs no extra round trip; and the addresses over their limit, so their attempts cost
/// none either.
#[derive(Debug, Default)]
pub struct KeyCache {
    trusted: Mutex<HashMap<(ApiKeyScope, String), (Instant, String)>>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl KeyCache {
    /// The id of the key with this scope and hash, if it was verified lately.
    fn fresh(&self, scope: ApiKeyScope, hash: &str) -> Option<String> {
        let map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(scope, hash.to_owned())).filter(|(at, _)| at.elapsed() < TRUST_FOR).map(|(_, id)| id.clone())
    }

    /// The id of the key with this hash, if it was verified lately in any scope.
    pub fn known(&self, hash: &str) -> Option<String> {
        ApiKeyScope::ALL.into_iter().find_map(|scope| self.fresh(scope, hash))
    }

    fn remember(&self, scope: ApiKeyScope, hash: String, id: String) {
        let mut map = self.trusted.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (at, _)| at.elapsed() < TRUST_FOR);
        map.insert((scope, hash), (Instant::now(), id));
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

/// The `X-API-Key` header, trimmed, when there is one.
pub(super) fn presented_key(parts: &Parts) -> Option<&str> {
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty())
}

/// Whether `key` is the bootstrap key from the environment.
pub(super) fn is_bootstrap(state: &AppState, key: &str) -> bool {
    state.settings.bootstrap_api_key.as_ref().is_some_and(|bootstrap| same(bootstrap.expose(), key))
}

/// Checks `X-API-Key` for `scope` and tells the usage count whose call this is. The bootstrap
/// key from the environment has every scope.
async fn authorize(parts: &Parts, state: &AppState, scope: ApiKeyScope) -> Result<(), ApiError> {
    let id = key_id(parts, state, scope).await?;
    if let Some(caller) = parts.extensions.get::<CallerKey>() {
        caller.set(id);
    }
    Ok(())
}

/// The id of the valid key of `scope` the request carries ([`ENV_KEY`] for the bootstrap key).
async fn key_id(parts: &Parts, state: &AppState, scope: ApiKeyScope) -> Result<String, ApiError> {
    let key = presented_key(parts).ok_or(ApiError::MissingKey)?;
    if is_bootstrap(state, key) {
        return Ok(ENV_KEY.to_owned());
    }
    let hash = hash_key(key);
    if let Some(id) = state.api_keys.fresh(scope, &hash) {
        return Ok(id);
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
    if let Some(id) = state.store.api_key_id(&hash, scope, now).await? {
        if let Err(e) = state.store.release_attempt(&attempt_key).await {
            tracing::warn!(error = %e, "could not give back a valid key's reservation");
        }
        state.api_keys.remember(scope, hash, id.clone());
        return Ok(id);
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
