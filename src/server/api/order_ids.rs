//! `POST /api/v1/order-ids`: a new order ID, or the user's session's ID.

use axum::{Json, body::Bytes, extract::State};
use serde::{Deserialize, Serialize};

use super::{
    ApiError,
    auth::{ApiCaller, CreateOrders},
    json_body,
};
use crate::{
    domain::ids::{OrderId, TelegramId},
    server::AppState,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// When given, the user's session is found or created and its order_id returned.
    telegram_id: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Response {
    order_id: String,
    display_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<SessionInfo>,
}

#[derive(Debug, Serialize)]
pub struct SessionInfo {
    user_id: i64,
    current_step: Option<String>,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn create(
    _: ApiCaller<CreateOrders>,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Response>, ApiError> {
    let request: Request = json_body(&body)?;
    let candidate = state.ids.next_id();
    let Some(telegram_id) = request.telegram_id else {
        return Ok(Json(Response {
            order_id: candidate.to_string(),
            display_id: Some(candidate.display_id().to_string()),
            session: None,
        }));
    };
    if telegram_id <= 0 {
        return Err(ApiError::BadRequest("telegram_id must be a positive integer".into()));
    }
    let now = state.ids.clock().now();
    let session = state.store.get_or_create_session(TelegramId(telegram_id), &candidate, now).await?;
    // A legacy session may hold an ID of an older form: return it as stored.
    let order_id = session.order_id.clone().unwrap_or_else(|| candidate.to_string());
    let display_id = OrderId::parse(&order_id).ok().map(|id| id.display_id().to_string());
    Ok(Json(Response {
        order_id,
        display_id,
        session: Some(SessionInfo {
            user_id: session.user_id,
            current_step: session.current_step,
            created_at: session.created_at,
        }),
    }))
}
