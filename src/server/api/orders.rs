//! `GET /api/v1/orders/{any ID form}`: one order. `POST /api/v1/orders`: a shipping-bot order
//! stored under the unique `order_id` index: under the `order_id` the bot sends (its session's,
//! safe to retry: the same order answers 200, other contents 409), or under a fresh ID drawn
//! again on a clash.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};

use super::{
    ApiError,
    auth::{ApiCaller, CreateOrders, ReadOrders},
    json_body,
};
use crate::{
    domain::ids::{LookupKey, OrderId, TelegramId},
    domain::orders::{OrderSummary, Source},
    server::AppState,
    services::issuing::Stored,
    storage::orders::NewOrder,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderRequest {
    telegram_id: Option<i64>,
    amount: Option<f64>,
    /// The session's ID (`POST /api/v1/order-ids`); without it a fresh one is drawn.
    order_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Created {
    order_id: String,
    display_id: String,
}

/// The largest amount a bot may record: anything above is a typo or an attack.
const MAX_AMOUNT: f64 = 1_000_000.0;

pub async fn create(
    _: ApiCaller<CreateOrders>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let request: NewOrderRequest = json_body(&body)?;
    let telegram_id = match request.telegram_id {
        Some(id) if id > 0 => TelegramId(id),
        Some(_) => return Err(ApiError::BadRequest("telegram_id must be a positive integer".into())),
        None => {
            return Err(ApiError::BadRequest(
                "send the customer's telegram_id, e.g. {\"telegram_id\": 123456789}".into(),
            ));
        }
    };
    if let Some(amount) = request.amount
        && !(amount.is_finite() && (0.0..=MAX_AMOUNT).contains(&amount))
    {
        return Err(ApiError::BadRequest(format!("amount must be a number from 0 to {MAX_AMOUNT}")));
    }
    let order = NewOrder {
        source: Source::ShippingBot,
        telegram_id: Some(telegram_id),
        vendor_id: None,
        user_id: None,
        order_number: None,
        amount: request.amount,
    };
    let created = |id: OrderId| Created { order_id: id.to_string(), display_id: id.display_id().to_string() };
    let Some(id) = request.order_id else {
        let id = state.orders.create(&order).await?;
        return Ok((StatusCode::CREATED, Json(created(id))));
    };
    let id = OrderId::parse(&id).map_err(|e| ApiError::BadRequest(format!("order_id: {e}")))?;
    let status = match state.orders.create_under(&id, &order).await? {
        Stored::Created => StatusCode::CREATED,
        Stored::Already(_) => StatusCode::OK,
    };
    Ok((status, Json(created(id))))
}

pub async fn show(
    _: ApiCaller<ReadOrders>,
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
