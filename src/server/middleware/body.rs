//! Reads a request's body whole, under [`BODY_READ_TIMEOUT`], before it queues for a turn:
//! a client that declares a body and sends it slowly (or never) holds its own connection
//! and nothing shared. Bodies are small here; a larger one is refused from its length.

use axum::{
    body::Body,
    extract::Request,
    http::{Method, StatusCode, header},
    middleware::Next,
    response::Response,
};

use crate::server::access;

/// Bodies no route of ours needs more of: forms and server-function arguments are small.
pub const BODY_LIMIT: usize = 64 * 1024;
/// A request body must have arrived whole by then.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn read_whole(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let too_large = || access::refuse(StatusCode::PAYLOAD_TOO_LARGE, &path, "The request body is larger than 64 KiB.");
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(_)) => too_large(),
        Err(_) => access::refuse(
            StatusCode::REQUEST_TIMEOUT,
            &path,
            &format!("The request body did not arrive within {} s.", BODY_READ_TIMEOUT.as_secs()),
        ),
    }
}

/// The body of a request [`read_whole`] has read, as bytes, and the request to pass on with
/// them (a copy of the bytes is a reference count, not a copy).
pub async fn bytes_of(req: Request) -> Result<(Request, axum::body::Bytes), Response> {
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => Ok((Request::from_parts(parts, Body::from(bytes.clone())), bytes)),
        Err(_) => Err(access::refuse(StatusCode::PAYLOAD_TOO_LARGE, &path, "the request body is larger than 64 KiB")),
    }
}
