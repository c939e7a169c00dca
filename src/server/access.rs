//! Who may do what: the signed-in [`Caller`] and the handler extractors that require a role,
//! sessions and their cookie, the audit of refusals, and refusals in the form the caller
//! reads. The rules that run on every request are in `server::middleware`.

use axum::{
    extract::{ConnectInfo, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};

use super::AppState;
use crate::{
    domain::accounts::{Role, Viewer},
    domain::audit::Actor,
    domain::tokens::sha256_hex,
    storage::{StorageError, audit::AuditEntry},
};

/// The session cookie's name: `__Host-` when cookies are `Secure`, so no subdomain or
/// plain-HTTP page can set or shadow it.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-od_session" } else { "od_session" }
}
pub use crate::domain::tokens::CSRF_FIELD;
/// A session's idle expiry is moved on at most this often (one write per minute, not per request).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The signed-in caller, in the request's extensions for handlers and server functions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub viewer: Viewer,
    pub ip: String,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::staff(&self.viewer.email, self.viewer.role, &self.ip)
    }
}

/// The caller a handler needs, checked where the handler reads data (as [`super::require`]
/// does for server functions), not only by the middleware on the URL.
#[allow(clippy::result_large_err)] // an extractor's rejection is the response itself
fn required(parts: &axum::http::request::Parts, role: Role) -> Result<Caller, Response> {
    let refusal = |status, message: &str| Err(refuse(status, parts.uri.path(), message));
    let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
        return refusal(StatusCode::UNAUTHORIZED, "Sign in first: your session has ended or you never signed in.");
    };
    if let Some(message) = role_refusal(caller.viewer.role, role) {
        return refusal(StatusCode::FORBIDDEN, &message);
    }
    Ok(caller)
}

/// Why a caller with role `has` may not do what needs `needs`, if it may not: the one check
/// (and message) behind the middleware, the handlers' extractors and `server::require`.
pub fn role_refusal(has: Role, needs: Role) -> Option<String> {
    (!has.allows(needs)).then(|| format!("This needs the {needs} role; you are signed in as {has}."))
}

/// A signed-in staff member of any role, as a handler argument.
pub struct SupportCaller(pub Caller);
/// A signed-in admin, as a handler argument.
pub struct AdminCaller(pub Caller);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SupportCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Response> {
        required(parts, Role::Support).map(Self)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AdminCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Response> {
        required(parts, Role::Admin).map(Self)
    }
}

/// The client's address: the socket's peer, or the client a trusted proxy names (resolved
/// once per request as it arrives, see `server::connections`).
pub fn client_addr(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<super::ClientAddr>()
        .map(|c| c.0)
        .or_else(|| extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip()))
}

/// [`client_addr`] as text, for the audit log.
pub fn client_ip(req: &Request) -> String {
    client_addr(req.extensions()).map(|ip| ip.to_string()).unwrap_or_default()
}

/// The key the client's address is counted under by the rate limits (an IPv6 /64).
pub fn client_limit_key(extensions: &axum::http::Extensions) -> String {
    client_addr(extensions).map(crate::domain::net::limit_key).unwrap_or_default()
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in session behind a request's cookie, moving its idle expiry on.
pub async fn session_viewer(
    state: &AppState,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Option<Viewer>, StorageError> {
    let name = session_cookie_name(state.settings.secure_cookies());
    let Some(token) = cookie(headers, name).filter(|t| !t.is_empty() && t.len() <= 128) else {
        return Ok(None);
    };
    let hash = sha256_hex(token);
    let Some(session) = state.store.find_session(&hash, now).await? else {
        return Ok(None);
    };
    if now - session.last_seen_at >= TOUCH_EVERY {
        let idle = chrono::Duration::from_std(state.settings.session_idle).unwrap_or(chrono::Duration::minutes(30));
        state.store.touch_session(&hash, now, (now + idle).min(session.max_until)).await?;
    }
    Ok(Some(Viewer { email: session.email, role: session.role, csrf: session.csrf }))
}

/// Appends an audit entry through the group-commit writer. A failure is logged; callers
/// for whom the entry is a condition (an order view) act on the error.
pub async fn audit(state: &AppState, entry: AuditEntry) -> Result<(), StorageError> {
    let (action, actor) = (entry.action.clone(), entry.actor.clone());
    let written = state.audit.append(entry).await;
    if let Err(e) = &written {
        tracing::error!(action, actor, error = %e, "could not write the audit log");
    }
    written
}

pub use crate::domain::audit::{AUDIT_REFUSALS_EVERY, audit_due};
/// The window refusal counts run over.
pub const REFUSALS_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Audits a signed-in caller's refusal, counted per session: each different refusal (action,
/// path, reason) of the session's first [`AUDIT_REFUSALS_EVERY`] in a window is written, so
/// every distinct thing tried is on record; past that, and for a refusal repeated, only every
/// [`AUDIT_REFUSALS_EVERY`]th, with the count so far.
pub(in crate::server) async fn audit_refusal(
    state: &AppState,
    caller: &Caller,
    action: &str,
    outcome: &str,
    path: &str,
) {
    let viewer = &caller.viewer;
    // The session's CSRF token tells sessions apart; only a hash of it is stored.
    let session = &sha256_hex(&viewer.csrf)[..24];
    let what = &sha256_hex(&format!("{action}|{path}|{outcome}"))[..16];
    let now = Utc::now();
    let (all_key, this_key) = (format!("refusals:{session}"), format!("refusals:{session}:{what}"));
    let (all, this) = tokio::join!(
        state.store.reserve_attempt(&all_key, REFUSALS_WINDOW, now),
        state.store.reserve_attempt(&this_key, REFUSALS_WINDOW, now),
    );
    // Without the counts, audit it: a lost count must not lose the entry.
    let n = all.map(|r| r.count).unwrap_or(1);
    let first_of_its_kind = this.map(|r| r.count == 1).unwrap_or(true);
    if (first_of_its_kind && n <= AUDIT_REFUSALS_EVERY) || audit_due(n) {
        let outcome =
            if n == 1 { outcome.to_owned() } else { format!("{outcome} ({n} refusals of this session in 15 minutes)") };
        let entry = AuditEntry::new(&caller.actor(), action, &outcome).with_params(path);
        let _ = audit(state, entry).await;
    }
}

/// The name of a server function in the audit log: its endpoint, the last part of its path
/// (`/api/admin/start_migration` → `start_migration`; every `#[server]` names its own).
pub fn action_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// A form body without its CSRF token, for the audit log.
pub(in crate::server) fn params_without_token(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .filter(|(k, _)| k != CSRF_FIELD)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub(in crate::server) fn wants_json(path: &str) -> bool {
    path.starts_with("/api/")
}

/// A refusal in the form the caller reads: JSON for `/api`, a small page otherwise.
pub fn refuse(status: StatusCode, path: &str, message: &str) -> Response {
    let title = match status {
        StatusCode::SERVICE_UNAVAILABLE => "Database unavailable",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::BAD_REQUEST => "Bad address",
        _ => status.canonical_reason().unwrap_or("Refused"),
    };
    refuse_titled(status, path, title, message)
}

/// [`refuse`] with a page title of the caller's choosing.
pub fn refuse_titled(status: StatusCode, path: &str, title: &str, message: &str) -> Response {
    if wants_json(path) {
        let error = match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            _ => "unavailable",
        };
        return (status, axum::Json(serde_json::json!({ "error": error, "message": message }))).into_response();
    }
    (status, super::html::refusal(title, message)).into_response()
}

/// The 404 for any path no route and no file matched: a static page, never the app.
pub fn not_found_page() -> Response {
    refuse(StatusCode::NOT_FOUND, "/", "There is no page at this address.")
}

/// `Set-Cookie` for a session token (or, with `max_age` 0, for removing it).
pub fn session_cookie(token: &str, max_age: u64, secure: bool) -> HeaderValue {
    let name = session_cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("od_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_names_and_params_leave_the_token_out() {
        assert_eq!(action_name("/api/admin/start_migration"), "start_migration");
        assert_eq!(params_without_token(b"migration=order-ids&_csrf=secret&batch=10"), "migration=order-ids&batch=10");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; od_session=abc; x=y"));
        assert_eq!(cookie(&h, session_cookie_name(false)), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
