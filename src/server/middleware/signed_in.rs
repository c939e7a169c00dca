//! Who is calling, and may they: the session cookie resolves to a signed-in [`Caller`], whose
//! role is checked against what the path needs. Server functions are classified by their URL
//! prefix, written at their definition: `#[server(prefix = "/api/staff")]` (any signed-in
//! staff) or `#[server(prefix = "/api/admin")]`. Any other `/api/…` path is refused, so a new
//! server function without a classification is closed, not open.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;

use crate::{
    domain::accounts::Role,
    server::{
        AppState,
        access::{Caller, audit_refusal, client_ip, refuse, refuse_titled, role_refusal, session_viewer, wants_json},
    },
    storage::StorageError,
};

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

/// What `path` needs. It is only ever asked of a canonical path ([`super::canonical_paths`] runs
/// first), so this and the router read the same path. A path that is no page of ours still
/// needs a signed-in caller, who then gets the 404.
pub fn need(path: &str, pages: PageRoles) -> Need {
    match path {
        "/healthz" | "/readyz" | "/metrics" | "/login" | "/auth/login" => Need::Public,
        p if p.starts_with("/pkg/") || crate::server::assets::is_unhashed_site_file(p) => Need::Public,
        p if p.starts_with("/api/v1/") || p == "/api/performance/stats" => Need::ApiKey,
        p if p.starts_with("/api/admin/") => Need::Role(Role::Admin),
        p if p.starts_with("/api/staff/") => Need::Role(Role::Support),
        p if p == "/api" || p.starts_with("/api/") => Need::Unclassified,
        p => Need::Role(pages(p).unwrap_or(Role::Support)),
    }
}

/// The role the request's path needed, for the rules after this one (the CSRF check and the
/// admin audit run only where a role was needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Required(pub Role);

pub async fn check(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let needed = match need(path, state.page_roles) {
        Need::Public | Need::ApiKey => return next.run(req).await,
        Need::Unclassified => {
            return refuse(
                StatusCode::NOT_FOUND,
                path,
                "no such endpoint (server functions live under /api/staff or /api/admin)",
            );
        }
        Need::Role(role) => role,
    };
    let viewer = match session_viewer(&state, req.headers(), Utc::now()).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) if wants_json(path) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                path,
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
                    path,
                    "Database electing a new primary",
                    "The database is electing a new primary, so your sign-in cannot be checked yet. This takes a few seconds: reload shortly.",
                )
            } else {
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    path,
                    "The database is unavailable, so your sign-in cannot be checked. Reload in a few seconds.",
                )
            };
        }
    };
    let caller = Caller { viewer, ip: client_ip(&req) };
    if let Some(message) = role_refusal(caller.viewer.role, needed) {
        audit_refusal(&state, &caller, "access_denied", "denied", path).await;
        return refuse(StatusCode::FORBIDDEN, path, &message);
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(Required(needed));
    next.run(req).await
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
        assert_eq!(need("/api/staff/search", pages), Need::Role(Role::Support));
        assert_eq!(need("/api/start_migration", pages), Need::Unclassified);
        assert_eq!(need("/maintenance", pages), Need::Role(Role::Admin));
        assert_eq!(need("/orders/ORD-A3F8D2", pages), Need::Role(Role::Support));
        assert_eq!(need("/", pages), Need::Role(Role::Support));
    }
}
