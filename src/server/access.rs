//! Who may do what, enforced once for every request: the middleware resolves the session
//! cookie, checks the role a path needs, checks the CSRF token of every state-changing
//! request, and writes the audit entries for admin actions and refusals.
//!
//! Server functions are classified by their URL prefix, which is written at their
//! definition: `#[server(prefix = "/api/staff")]` (any signed-in staff) or
//! `#[server(prefix = "/api/admin")]`. Any other `/api/…` path is refused, so a new server
//! function without a classification is closed, not open.

use axum::{
    body::{Body, to_bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};

use super::AppState;
use crate::{
    domain::accounts::{Role, Viewer},
    domain::audit::Actor,
    domain::tokens::{same, sha256_hex},
    storage::{StorageError, audit::AuditEntry},
};

/// The session cookie's name: `__Host-` when cookies are `Secure`, so no subdomain or
/// plain-HTTP page can set or shadow it.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-od_session" } else { "od_session" }
}
/// The form field a state-changing request carries its token in (state-changing server
/// functions take it as their `_csrf` argument; plain forms as a hidden input).
pub const CSRF_FIELD: &str = "_csrf";
/// Bodies of state-changing requests are read to find the token; none of ours is larger.
const MAX_FORM_BYTES: usize = super::BODY_LIMIT;
/// A session's idle expiry is moved on at most this often (one write per minute, not per request).
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// What a request needs before it is let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Health checks, metrics, the sign-in page and the browser bundle.
    Public,
    /// The bots' JSON API: its handlers check `X-API-Key`.
    ApiKey,
    Role(Role),
    /// An `/api/…` path that is no known kind: refused.
    Unclassified,
}

/// The role each page or download needs, from the app's routes table (handed in at start-up:
/// the server does not import the app).
pub type PageRoles = fn(&str) -> Option<Role>;

/// What `path` needs. It is only ever asked of a canonical path ([`canonical_paths`] runs
/// first), so this and the router read the same path. A path that is no page of ours still
/// needs a signed-in caller, who then gets the 404.
pub fn need(path: &str, pages: PageRoles) -> Need {
    match path {
        "/healthz" | "/readyz" | "/metrics" | "/login" | "/auth/login" | "/theme.js" | "/favicon.ico" => Need::Public,
        p if p.starts_with("/pkg/") => Need::Public,
        p if p.starts_with("/api/v1/") || p == "/api/performance/stats" => Need::ApiKey,
        p if p.starts_with("/api/admin/") => Need::Role(Role::Admin),
        p if p.starts_with("/api/staff/") => Need::Role(Role::Support),
        p if p == "/api" || p.starts_with("/api/") => Need::Unclassified,
        p => Need::Role(pages(p).unwrap_or(Role::Support)),
    }
}

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
async fn audit_refusal(state: &AppState, viewer: &Viewer, ip: &str, action: &str, outcome: &str, path: &str) {
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
        let entry = AuditEntry::new(&Actor::staff(&viewer.email, viewer.role, ip), action, &outcome).with_params(path);
        let _ = audit(state, entry).await;
    }
}

/// The name of a server function in the audit log: its endpoint, the last part of its path
/// (`/api/admin/start_migration` → `start_migration`; every `#[server]` names its own).
pub fn action_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// A form body without its CSRF token, for the audit log.
fn params_without_token(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .filter(|(k, _)| k != CSRF_FIELD)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn wants_json(path: &str) -> bool {
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
    let page = super::html::page(
        "orderdesk",
        &format!(
            r#"<h1 class="text-xl font-semibold">{}</h1><p class="mt-2 text-slate-600 dark:text-slate-400">{}</p><p class="mt-4"><a class="text-indigo-700 underline dark:text-indigo-300" href="/">Go to search</a></p>"#,
            super::html::escape(title),
            super::html::escape(message),
        ),
    );
    (status, page).into_response()
}

/// The 404 for any path no route and no file matched: a static page, never the app.
pub fn not_found_page() -> Response {
    refuse(StatusCode::NOT_FOUND, "/", "There is no page at this address.")
}

/// Refuses (400) any request whose path is not canonical, and redirects a trailing `/` to
/// the path without it, before anything classifies or routes it.
pub async fn canonical_paths(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    match crate::domain::paths::canonical(path) {
        Ok(()) => next.run(req).await,
        Err(Ok(to)) if matches!(*req.method(), Method::GET | Method::HEAD) => {
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            Redirect::permanent(&format!("{to}{query}")).into_response()
        }
        Err(Ok(to)) => refuse(StatusCode::BAD_REQUEST, "/api/", &format!("send this to {to}, without the trailing /")),
        Err(Err(why)) => {
            let shown = if path.starts_with("/api/") { path } else { "/" };
            refuse(StatusCode::BAD_REQUEST, shown, &format!("This address is not valid: {why}."))
        }
    }
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let needed = match need(&path, state.page_roles) {
        Need::Public | Need::ApiKey => return next.run(req).await,
        Need::Unclassified => {
            return refuse(
                StatusCode::NOT_FOUND,
                &path,
                "no such endpoint (server functions live under /api/staff or /api/admin)",
            );
        }
        Need::Role(role) => role,
    };
    let ip = client_ip(&req);
    let viewer = match session_viewer(&state, req.headers(), Utc::now()).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) if wants_json(&path) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                &path,
                "sign in first: your session has ended or you never signed in",
            );
        }
        Ok(None) => {
            let here = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next = form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>();
            return Redirect::to(&format!("/login?next={next}")).into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not check a session");
            return if matches!(e, StorageError::Electing { .. }) {
                refuse_titled(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &path,
                    "Database electing a new primary",
                    "The database is electing a new primary, so your sign-in cannot be checked yet. This takes a few seconds: reload shortly.",
                )
            } else {
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &path,
                    "The database is unavailable, so your sign-in cannot be checked. Reload in a few seconds.",
                )
            };
        }
    };
    if let Some(message) = role_refusal(viewer.role, needed) {
        audit_refusal(&state, &viewer, &ip, "access_denied", "denied", &path).await;
        return refuse(StatusCode::FORBIDDEN, &path, &message);
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let (parts, body) = req.into_parts();
    let (body, params) = if changes_state {
        let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, &path, "the request body is larger than 64 KiB"),
        };
        let token = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
        if !token.as_deref().is_some_and(|t| same(t, &viewer.csrf)) {
            let why = if token.is_none() { "missing" } else { "wrong" };
            audit_refusal(&state, &viewer, &ip, "csrf_rejected", why, &path).await;
            return refuse(
                StatusCode::FORBIDDEN,
                &path,
                &format!("The form's security token is {why}. Reload the page and try again."),
            );
        }
        let params = params_without_token(&bytes);
        (Body::from(bytes), Some(params))
    } else {
        (body, None)
    };
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(Caller { viewer: viewer.clone(), ip: ip.clone() });
    let response = next.run(req).await;
    // Every state-changing admin request is an admin action.
    if let Some(params) = params
        && needed == Role::Admin
    {
        let status = response.status();
        let outcome = if status.is_success() || status.is_redirection() {
            "ok".to_owned()
        } else {
            format!("failed: HTTP {}", status.as_u16())
        };
        let entry = AuditEntry::new(&Actor::staff(&viewer.email, viewer.role, &ip), &action_name(&path), &outcome)
            .with_params(&params);
        let _ = audit(&state, entry).await;
    }
    response
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
    fn paths_are_classified_and_unknown_server_functions_are_closed() {
        // As the routes table answers, for one admin page.
        let pages: PageRoles = |p| (p == "/maintenance").then_some(Role::Admin);
        assert_eq!(need("/healthz", pages), Need::Public);
        assert_eq!(need("/pkg/orderdesk.wasm", pages), Need::Public);
        assert_eq!(need("/api/v1/order-ids", pages), Need::ApiKey);
        assert_eq!(need("/api/admin/start_migration", pages), Need::Role(Role::Admin));
        assert_eq!(need("/api/staff/lookup", pages), Need::Role(Role::Support));
        assert_eq!(need("/api/start_migration", pages), Need::Unclassified);
        assert_eq!(need("/maintenance", pages), Need::Role(Role::Admin));
        assert_eq!(need("/orders/ORD-A3F8D2", pages), Need::Role(Role::Support));
        assert_eq!(need("/", pages), Need::Role(Role::Support));
    }

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
