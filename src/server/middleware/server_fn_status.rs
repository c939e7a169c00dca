//! A server function's error goes to the browser as its JSON [`AppError`], but Leptos answers
//! every one with 500. The status the error stands for (400 for bad input, 404, 409, 503 …) is
//! set here, once, from the error itself; the browser's server-function client reads any
//! 4xx/5xx body as the error, so nothing else changes.

use axum::{body::Body, extract::Request, http::StatusCode, middleware::Next, response::Response};

use super::body::BODY_LIMIT;
use crate::domain::error::AppError;

pub async fn set(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    // Leptos marks a server function's error answer with its own header.
    if !response.headers().contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error body is a short JSON document; anything larger is left as it is.
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}
