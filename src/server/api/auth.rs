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
    domain::{
        accounts::{ApiKeyScope, CALLS_PER_MINUTE},
        api_usage::ENV_KEY,
        ids::VendorId,
        tokens::same,
    },
    server::AppState,
    storage::api_keys::{LiveKey, hash_key},
};

/// How long a key checked against the database is trusted without asking again; a revoked
/// key stops working within this time.
const TRUST_FOR: Duration = Duration::from_secs(30);

/// Keys that are not valid, per address (an IPv6 /64), in [`BAD_KEY_WINDOW`] (counted in
/// MongoDB, so shared by every process): past it the address's invalid keys get 429 without
/// a database query; its valid keys still work.
pub const BAD_KEYS_PER_ADDRESS: u64 = 30;
const BAD_KEY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Every unrevoked key's hash with its scope and id, read whole from the database (a few
/// dozen keys): a presented key is checked in memory, so a valid key is found whatever else
/// its address sent. The copy is read again when older than [`TRUST_FOR`] (a revoked key
/// stops working within that time). An unknown hash costs one indexed lookup, and only up
/// to the address's limit: past it, the address's unknown keys are refused without a query,
/// never its valid ones.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: tokio::sync::Mutex<Option<Snapshot>>,
    blocked: Mutex<HashMap<String, Instant>>,
    /// When each key's last use was written to its document.
    recorded: Mutex<HashMap<String, Instant>>,
    /// Each key's calls in its current minute.
    rates: Mutex<HashMap<String, (Instant, u32)>>,
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Snapshot {
    read_at: Instant,
    by_hash: HashMap<String, LiveKey>,
}

impl KeyCache {
    /// The id of the key with this hash if it was valid lately, in any scope (for counting
    /// calls whose handler turned them away), without asking the database or waiting.
    pub fn known(&self, hash: &str) -> Option<String> {
        let keys = self.keys.try_lock().ok()?;
        keys.as_ref().and_then(|s| s.by_hash.get(hash)).map(|k| k.id.clone())
    }

    /// Whether the copy (read again when stale) holds this hash, without a lookup of the hash
    /// alone: what a blocked address's key is checked against.
    async fn holds(&self, store: &crate::storage::Store, hash: &str) -> Result<bool, ApiError> {
        let keys = self.fresh_copy(store).await?;
        Ok(keys.as_ref().is_some_and(|s| s.by_hash.contains_key(hash)))
    }

    /// The copy, read again first when it is older than [`TRUST_FOR`].
    async fn fresh_copy(
        &self,
        store: &crate::storage::Store,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<Snapshot>>, ApiError> {
        let mut keys = self.keys.lock().await;
        if keys.as_ref().is_none_or(|s| s.read_at.elapsed() >= TRUST_FOR) {
            let by_hash = store.live_api_keys().await?.into_iter().map(|k| (k.hash.clone(), k)).collect();
            *keys = Some(Snapshot { read_at: Instant::now(), by_hash });
        }
        Ok(keys)
    }

    /// The unrevoked key with this hash, if there is one: from the copy, read whole again when
    /// older than [`TRUST_FOR`]; a hash the copy lacks is looked up alone (by its index), so a
    /// key created a moment ago works at once.
    async fn find(&self, store: &crate::storage::Store, hash: &str) -> Result<Option<LiveKey>, ApiError> {
        {
            let keys = self.fresh_copy(store).await?;
            if let Some(key) = keys.as_ref().and_then(|s| s.by_hash.get(hash)) {
                return Ok(Some(key.clone()));
            }
        }
        // Looked up without holding the copy: other callers' keys are not kept waiting on it.
        let found = store.live_api_key(hash).await?;
        if let (Some(key), Some(snapshot)) = (&found, self.keys.lock().await.as_mut()) {
            snapshot.by_hash.insert(key.hash.clone(), key.clone());
        }
        Ok(found)
    }

    /// How long key `id` must wait, when this call puts it over [`CALLS_PER_MINUTE`] in this
    /// process (a fixed window per minute, counted in memory: no query per call).
    fn over_rate(&self, id: &str) -> Option<Duration> {
        let mut map = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < RATE_WINDOW);
        }
        let (start, calls) = map.entry(id.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= RATE_WINDOW {
            (*start, *calls) = (now, 0);
        }
        *calls += 1;
        (*calls > CALLS_PER_MINUTE).then(|| RATE_WINDOW.saturating_sub(now.duration_since(*start)))
    }

    /// Whether the use of key `id` now is to be written (at most once per [`TRUST_FOR`]).
    fn record_due(&self, id: &str) -> bool {
        let mut map = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(id).is_some_and(|at| at.elapsed() < TRUST_FOR) {
            return false;
        }
        map.insert(id.to_owned(), Instant::now());
        true
    }

    /// How long `address` is still refused for invalid keys, if it is.
    fn blocked_for(&self, address: &str) -> Option<Duration> {
        let map = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        map.get(address).and_then(|until| until.checked_duration_since(Instant::now()))
    }

    fn block(&self, address: String, wait: Duration) {
        let mut map = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, until| *until > now);
        map.insert(address, now + wait);
    }
}

/// A job an API call does, and the scope it needs.
pub trait Job: Send + Sync + 'static {
    const SCOPE: ApiKeyScope;
}

/// Reading orders (`GET /api/v1/orders/{id}`).
pub struct ReadOrders;
/// Creating orders and sessions' order IDs.
pub struct CreateOrders;
/// Drawing BB numbers.
pub struct DrawNumbers;
/// `/api/performance/stats`.
pub struct ReadStats;

impl Job for ReadOrders {
    const SCOPE: ApiKeyScope = ApiKeyScope::OrdersRead;
}
impl Job for CreateOrders {
    const SCOPE: ApiKeyScope = ApiKeyScope::OrdersWrite;
}
impl Job for DrawNumbers {
    const SCOPE: ApiKeyScope = ApiKeyScope::Numbers;
}
impl Job for ReadStats {
    const SCOPE: ApiKeyScope = ApiKeyScope::Stats;
}

/// Proof that the request carried a valid key whose scope allows job `J`, within its rate.
pub struct ApiCaller<J> {
    /// The key's id ([`ENV_KEY`] for the bootstrap key).
    pub id: String,
    /// The one vendor the key may draw numbers for, when it is bound to one.
    pub vendor: Option<VendorId>,
    job: std::marker::PhantomData<J>,
}

impl<J> ApiCaller<J> {
    /// Whether this key is the operator's bootstrap key (no rate, no budget, no binding).
    pub fn is_bootstrap(&self) -> bool {
        self.id == ENV_KEY
    }
}

/// Proof that the request carried a valid key of scope `stats` (`/api/performance/stats`).
pub type StatsCaller = ApiCaller<ReadStats>;

/// The `X-API-Key` header, trimmed, when there is one.
pub(in crate::server) fn presented_key(parts: &Parts) -> Option<&str> {
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty())
}

/// Whether `key` is the bootstrap key from the environment.
pub(in crate::server) fn is_bootstrap(state: &AppState, key: &str) -> bool {
    state.settings.bootstrap_api_key.as_ref().is_some_and(|bootstrap| same(bootstrap.expose(), key))
}

/// Checks `X-API-Key` for `scope` and its rate, and tells the usage count whose call this is.
async fn authorize(
    parts: &Parts,
    state: &AppState,
    scope: ApiKeyScope,
) -> Result<(String, Option<VendorId>), ApiError> {
    let (id, vendor) = key_id(parts, state, scope).await?;
    if let Some(caller) = parts.extensions.get::<CallerKey>() {
        caller.set(id.clone());
    }
    if id != ENV_KEY
        && let Some(wait) = state.api_keys.over_rate(&id)
    {
        return Err(ApiError::OverBudget {
            message: format!("this API key is over its rate of {CALLS_PER_MINUTE} calls a minute; slow down"),
            retry_after: wait,
        });
    }
    Ok((id, vendor))
}

/// The id (and vendor binding) of the valid key of `scope` the request carries ([`ENV_KEY`]
/// for the bootstrap key). Only invalid keys count against the address's limit, and only
/// they are refused by it.
async fn key_id(parts: &Parts, state: &AppState, scope: ApiKeyScope) -> Result<(String, Option<VendorId>), ApiError> {
    let key = presented_key(parts).ok_or(ApiError::MissingKey)?;
    if is_bootstrap(state, key) {
        return Ok((ENV_KEY.to_owned(), None));
    }
    let hash = hash_key(key);
    let address = crate::server::access::client_limit_key(&parts.extensions);
    // A blocked address's unknown keys are refused from memory; its valid keys go on.
    if let Some(wait) = state.api_keys.blocked_for(&address)
        && !state.api_keys.holds(&state.store, &hash).await?
    {
        return Err(ApiError::RateLimited(wait));
    }
    match state.api_keys.find(&state.store, &hash).await? {
        Some(k) if k.scope.grants(scope) => {
            if state.api_keys.record_due(&k.id)
                && let Err(e) = state.store.record_api_key_use(&k.id, Utc::now()).await
            {
                tracing::warn!(error = %e, "could not record an API key's last use");
            }
            return Ok((k.id, k.vendor));
        }
        Some(_) => return Err(ApiError::WrongScope(scope)),
        None => {}
    }
    let now = Utc::now();
    let failures = state.store.reserve_attempt(&format!("api-key:{address}"), BAD_KEY_WINDOW, now).await?;
    if failures.count > BAD_KEYS_PER_ADDRESS {
        state.api_keys.block(address, failures.wait(now));
        return Err(ApiError::RateLimited(failures.wait(now)));
    }
    Err(ApiError::WrongKey)
}

impl<J: Job> FromRequestParts<AppState> for ApiCaller<J> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (id, vendor) = authorize(parts, state, J::SCOPE).await?;
        Ok(Self { id, vendor, job: std::marker::PhantomData })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_over_its_rate_is_told_how_long_to_wait() {
        let cache = KeyCache::default();
        for _ in 0..CALLS_PER_MINUTE {
            assert_eq!(cache.over_rate("a"), None);
        }
        let wait = cache.over_rate("a").expect("over the rate");
        assert!(wait <= RATE_WINDOW && wait > Duration::from_secs(50), "{wait:?}");
        assert_eq!(cache.over_rate("b"), None, "each key has its own rate");
    }
}
