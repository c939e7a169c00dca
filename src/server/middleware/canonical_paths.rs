//! One spelling per address: every rule after this one (the role a path needs, the router)
//! reads the same path.

use axum::{
    extract::Request,
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use crate::server::access::refuse;

/// Refuses (400) any request whose path is not canonical, and redirects a trailing `/` to
/// the path without it, before anything classifies or routes it.
pub async fn check(req: Request, next: Next) -> Response {
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
