//! `POST /api/v1/vendors/{vendor_id}/orders`: a marketplace order and its BB number in one
//! call, safe to retry. The call names an `Idempotency-Key` (one per checkout); a retry with
//! the same key and body gets the same order and number back (200), never a second number,
//! also when the first call died half way (see `storage::idempotency`). The same key with
//! another body is 409.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode},
};
use serde::{Deserialize, Serialize};

use super::{
    ApiError,
    auth::{ApiCaller, CreateOrders},
    json_body,
};
use crate::{
    domain::{
        ids::{BbNumber, BbVariant, LookupKey, UserSuffix, VendorId},
        orders::Source,
    },
    server::AppState,
    services::issuing::CreateOrderError,
    storage::{
        idempotency::{self, Claim, Drawn},
        orders::NewOrder,
    },
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    user_id: Option<String>,
    amount: Option<f64>,
    /// `ultra`, `time-based` or `year-based`; default: the vendor's setting, else ultra.
    variant: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Created {
    order_number: String,
    order_id: Option<String>,
    sequence: u32,
    counter_id: String,
}

/// Longest idempotency key accepted.
const MAX_KEY: usize = 255;
const MAX_AMOUNT: f64 = 1_000_000.0;

pub async fn create(
    caller: ApiCaller<CreateOrders>,
    State(state): State<AppState>,
    vendor: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Path(vendor) = vendor.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let vendor = VendorId::parse(&vendor)?;
    if let Some(bound) = &caller.vendor
        && bound != &vendor
    {
        return Err(ApiError::WrongVendor(bound.to_string()));
    }
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "send an Idempotency-Key header: one unique value per checkout (up to {MAX_KEY} visible characters), so a retried call never draws a second number"
            ))
        })?;
    let request: Request = json_body(&body)?;
    let user_id = request.user_id.ok_or_else(|| {
        ApiError::BadRequest("the body needs a user_id, e.g. {\"user_id\": \"6834622e10d75a5ba7b7a1b2\"}".into())
    })?;
    let user = UserSuffix::from_user_id(&user_id)?;
    let variant = request.variant.as_deref().map(BbVariant::from_name).transpose()?;
    if let Some(amount) = request.amount
        && !(amount.is_finite() && (0.0..=MAX_AMOUNT).contains(&amount))
    {
        return Err(ApiError::BadRequest(format!("amount must be a number from 0 to {MAX_AMOUNT}")));
    }
    let record = idempotency::record_id(&caller.id, idempotency_key);
    let fingerprint = idempotency::checkout_fingerprint(&vendor, &user_id, request.amount, variant);
    let order = |number: &str| -> Result<NewOrder, ApiError> {
        Ok(NewOrder {
            source: Source::Marketplace,
            telegram_id: None,
            vendor_id: Some(vendor.clone()),
            user_id: Some(user_id.clone()),
            order_number: Some(BbNumber::parse(number)?),
            amount: request.amount,
        })
    };
    let drawn = match state.store.claim_idempotency_key(&record, &fingerprint, chrono::Utc::now()).await? {
        Claim::Done(done) => return Ok((StatusCode::OK, Json(created(done)))),
        Claim::Mismatch => {
            return Err(ApiError::Conflict {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used for another order (another vendor, user, amount or variant); use a new key for a new checkout".into(),
            });
        }
        Claim::Busy => {
            return Err(ApiError::InProgress(
                "a call with this Idempotency-Key is being worked on right now; retry in a second".into(),
            ));
        }
        Claim::Numbered(drawn) => drawn,
        Claim::Fresh => {
            if !caller.is_bootstrap() {
                super::budget::spend(&state, &caller.id, &vendor).await?;
            }
            let issued = state.numbers.allocate(&vendor, user, variant).await?;
            let drawn = Drawn {
                order_number: issued.order_number,
                sequence: issued.sequence,
                counter_id: issued.counter_id,
                order_id: None,
            };
            // Recorded before the order is stored: a retry after a crash uses this number.
            state.store.record_idempotent_number(&record, &drawn).await?;
            drawn
        }
    };
    let (status, order_id) = match state.orders.create(&order(&drawn.order_number)?).await {
        Ok(id) => (StatusCode::CREATED, Some(id.to_string())),
        // A call before this one stored it and died before it could say so.
        Err(CreateOrderError::DuplicateOrderNumber(_)) => {
            let key = LookupKey::OrderNumber(BbNumber::parse(&drawn.order_number)?);
            let stored = state.store.find_orders(&key).await?;
            (StatusCode::OK, stored.into_iter().next().and_then(|o| o.order_id))
        }
        Err(e) => return Err(e.into()),
    };
    let done = Drawn { order_id, ..drawn };
    state.store.finish_idempotency_key(&record, &done).await?;
    Ok((status, Json(created(done))))
}

fn created(d: Drawn) -> Created {
    Created { order_number: d.order_number, order_id: d.order_id, sequence: d.sequence, counter_id: d.counter_id }
}
