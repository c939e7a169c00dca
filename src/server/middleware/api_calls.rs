//! Counting every call made with an API key, for the key's page: the outermost rule on the
//! bots' paths, so a call refused by the overload bound or cut off by the request deadline
//! counts too, with the time the bot waited.

use axum::extract::State;

use crate::{
    domain::api_usage::ENV_KEY,
    server::{
        AppState,
        api::{CallerKey, LimitHit, is_bootstrap, presented_key},
    },
    storage::api_keys::hash_key,
};

/// The paths called with an API key.
pub fn is_keyed(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/api/performance/stats"
}

/// The key a call that never reached the key check came with, when that key is known: the
/// bootstrap key, or one verified lately (no database call here; an unknown key is not
/// counted, so made-up keys cannot fill the usage collection).
fn known_key(key: &str, state: &AppState) -> Option<String> {
    if is_bootstrap(state, key) {
        return Some(ENV_KEY.to_owned());
    }
    state.api_keys.known(&hash_key(key))
}

pub async fn count(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !is_keyed(req.uri().path()) {
        return next.run(req).await;
    }
    let started = std::time::Instant::now();
    let (mut parts, body) = req.into_parts();
    let caller = CallerKey::default();
    parts.extensions.insert(caller.clone());
    // Kept before the request goes on: the key check may never run (a call shed at the door).
    let presented = presented_key(&parts).map(str::to_owned);
    let response = next.run(axum::extract::Request::from_parts(parts, body)).await;
    let key = caller.get().cloned().or_else(|| known_key(presented.as_deref()?, &state));
    if let Some(key) = key {
        let limit_hit = response.extensions().get::<LimitHit>().is_some();
        state.api_usage.record(&key, response.status().as_u16(), limit_hit, chrono::Utc::now(), started.elapsed());
    }
    response
}
