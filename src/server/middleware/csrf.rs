//! Every state-changing request of a signed-in caller carries the session's CSRF token in its
//! form body: state-changing server functions take it as their `_csrf` argument, plain forms
//! as a hidden input. The body is a form either way (a server function's arguments are
//! URL-encoded), so the one place to look for it is the body.

use axum::{
    extract::Request,
    http::{Method, StatusCode},
    middleware::Next,
    response::Response,
};

use super::body::bytes_of;
use crate::{
    domain::tokens::same,
    server::{
        AppState,
        access::{CSRF_FIELD, Caller, audit_refusal, refuse},
    },
};

/// Whether a request may change something (only these need the token, and only these are
/// audited as admin actions).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn check(axum::extract::State(state): axum::extract::State<AppState>, req: Request, next: Next) -> Response {
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return next.run(req).await;
    };
    if !changes_state(req.method()) {
        return next.run(req).await;
    }
    let (req, bytes) = match bytes_of(req).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let token = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    if !token.as_deref().is_some_and(|t| same(t, &caller.viewer.csrf)) {
        let why = if token.is_none() { "missing" } else { "wrong" };
        let path = req.uri().path();
        audit_refusal(&state, &caller, "csrf_rejected", why, path).await;
        return refuse(
            StatusCode::FORBIDDEN,
            path,
            &format!("The form's security token is {why}. Reload the page and try again."),
        );
    }
    next.run(req).await
}
