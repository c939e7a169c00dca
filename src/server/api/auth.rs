//! `X-API-Key`: missing → 401, wrong → 403.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;

use super::ApiError;
use crate::{server::AppState, storage::api_keys::hash_key, tokens::same};

/// How long a key checked against the database is trusted without asking again; a revoked
/// key stops working within this time.
const TRUST_FOR: Duration = Duration::from_secs(30);

/// Recently verified key hashes, so the bots' hot path costs no extra round trip.
#[derive(Debug, Default)]
pub struct KeyCache(Mutex<HashMap<String, Instant>>);

impl KeyCache {
    fn fresh(&self, hash: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(hash).is_some_and(|at| at.elapsed() < TRUST_FOR)
    }

    fn remember(&self, hash: String) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, at| at.elapsed() < TRUST_FOR);
        map.insert(hash, Instant::now());
    }
}

/// Proof that the request carried a valid key.
pub struct ApiCaller;

/// Proof that the request carried a valid key of scope `stats` (`/api/performance/stats`).
pub struct StatsCaller;

/// Checks `X-API-Key` for `scope`. The bootstrap key from the environment has every scope.
async fn authorize(parts: &Parts, state: &AppState, scope: &str) -> Result<(), ApiError> {
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
    if state.store.api_key_valid(&hash, scope, Utc::now()).await? {
        state.api_keys.remember(cached);
        return Ok(());
    }
    Err(ApiError::WrongKey)
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, "bots").await.map(|()| Self)
    }
}

impl FromRequestParts<AppState> for StatsCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, "stats").await.map(|()| Self)
    }
}
