//! `GET /api/v1/orders/{any ID form}`: one order.

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
};

use super::{ApiError, auth::ApiCaller};
use crate::{domain::ids::LookupKey, domain::orders::OrderSummary, server::AppState};

pub async fn show(
    _: ApiCaller,
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderSummary>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let key = LookupKey::parse(&id)?;
    let mut found = crate::storage::for_order(key.to_string(), state.store.find_orders(&key)).await?;
    match found.len() {
        0 => Err(ApiError::NotFound(format!("no order matches {key}, read as {}", key.describe()))),
        1 => Ok(Json(found.remove(0))),
        n => Err(ApiError::Ambiguous {
            message: format!("{n} orders match {key} ({}); ask with a full order_id", key.describe()),
            matches: found.iter().map(OrderSummary::headline).collect(),
        }),
    }
}
