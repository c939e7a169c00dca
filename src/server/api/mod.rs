//! The JSON API the bots call, under `/api/v1`, behind `X-API-Key`.
//!
//! Every error is `{"error": code, "message": text}` with its status, mapped once in
//! [`ApiError`]'s `IntoResponse`.

mod auth;
mod budget;
mod marketplace_orders;
mod order_ids;
mod order_numbers;
mod orders;
mod usage;

use axum::{
    Json, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

pub use auth::{KeyCache, StatsCaller};
pub(super) use auth::{is_bootstrap, presented_key};
pub use usage::{CallerKey, LimitHit};

use super::AppState;
use crate::{
    domain::ids::ParseError,
    services::issuing::CreateOrderError,
    storage::{StorageError, counters::CounterError},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/order-ids", post(order_ids::create))
        .route("/vendors/{vendor_id}/order-numbers", post(order_numbers::create))
        .route("/vendors/{vendor_id}/orders", post(marketplace_orders::create))
        .route("/orders", post(orders::create))
        .route("/orders/{id}", get(orders::show))
        .fallback(|| async { ApiError::NotFound("no such API endpoint; see README.md for the API".into()) })
}

/// An API failure, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("send your API key in the X-API-Key header")]
    MissingKey,
    #[error("this API key is not valid (unknown or revoked)")]
    WrongKey,
    #[error("this API key's scope does not allow this call; it needs a key of scope {0} (or bots)")]
    WrongScope(crate::domain::accounts::ApiKeyScope),
    #[error("this API key may draw numbers only for vendor {0}")]
    WrongVendor(String),
    #[error("{message}")]
    OverBudget { message: String, retry_after: std::time::Duration },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Ambiguous { message: String, matches: Vec<String> },
    #[error("{0}")]
    CounterExhausted(String),
    /// The call clashes with what is stored (an order ID or an idempotency key used for
    /// something else): `code` says which.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The same idempotency key is being worked on by another call right now.
    #[error("{0}")]
    InProgress(String),
    #[error("too many invalid API keys from this address; try again in {} s", crate::domain::net::retry_after_secs(*.0))]
    RateLimited(std::time::Duration),
    #[error("{0}")]
    Unavailable(String),
    #[error("the server could not complete the request; the details are in its log")]
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<&'a [String]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::MissingKey => (StatusCode::UNAUTHORIZED, "missing_api_key"),
            Self::WrongKey => (StatusCode::FORBIDDEN, "invalid_api_key"),
            Self::WrongScope(_) => (StatusCode::FORBIDDEN, "wrong_scope"),
            Self::WrongVendor(_) => (StatusCode::FORBIDDEN, "wrong_vendor"),
            Self::OverBudget { .. } => (StatusCode::TOO_MANY_REQUESTS, "over_budget"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Ambiguous { .. } => (StatusCode::CONFLICT, "ambiguous"),
            Self::CounterExhausted(_) => (StatusCode::CONFLICT, "counter_exhausted"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            Self::InProgress(_) => (StatusCode::CONFLICT, "in_progress"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let matches = match &self {
            Self::Ambiguous { matches, .. } => Some(matches.as_slice()),
            _ => None,
        };
        let mut response =
            (status, Json(ErrorBody { error: code, message: self.to_string(), matches })).into_response();
        if matches!(self, Self::RateLimited(_) | Self::CounterExhausted(_) | Self::OverBudget { .. }) {
            response.extensions_mut().insert(LimitHit);
        }
        if matches!(self, Self::InProgress(_)) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        if let Self::RateLimited(wait) | Self::OverBudget { retry_after: wait, .. } = &self
            && let Ok(v) = axum::http::HeaderValue::from_str(&crate::domain::net::retry_after_secs(*wait).to_string())
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(format!("{e}; retry shortly"))
        } else {
            tracing::error!(error = %e, "storage error in the API");
            Self::Internal
        }
    }
}

impl From<CounterError> for ApiError {
    fn from(e: CounterError) -> Self {
        match e {
            CounterError::Exhausted { .. } => Self::CounterExhausted(e.to_string()),
            CounterError::NoLane { .. } | CounterError::Clashes { .. } => Self::Unavailable(e.to_string()),
            CounterError::Storage(s) => s.into(),
        }
    }
}

impl From<CreateOrderError> for ApiError {
    fn from(e: CreateOrderError) -> Self {
        match e {
            CreateOrderError::Storage(s) => s.into(),
            CreateOrderError::OrderIdConflict { .. } => {
                Self::Conflict { code: "order_id_conflict", message: e.to_string() }
            }
            CreateOrderError::DuplicateOrderNumber(_) => {
                Self::Conflict { code: "order_number_taken", message: e.to_string() }
            }
            other => {
                tracing::error!(error = %other, "order creation failed");
                Self::Internal
            }
        }
    }
}

/// Reads an optional JSON body: empty means `T::default()`; anything else must parse.
fn json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))
}
