//! `POST /api/v1/vendors/{vendor_id}/order-numbers`: the next BB number for a vendor.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State, rejection::PathRejection},
};
use serde::Deserialize;

use super::{
    ApiError,
    auth::{ApiCaller, DrawNumbers},
    json_body,
};
use crate::{
    domain::ids::{BbVariant, UserSuffix, VendorId},
    server::AppState,
    services::issuing::IssuedNumber,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    user_id: Option<String>,
    /// `ultra`, `time-based` or `year-based`; default: the vendor's setting, else ultra.
    variant: Option<String>,
}

pub async fn create(
    caller: ApiCaller<DrawNumbers>,
    State(state): State<AppState>,
    vendor: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<IssuedNumber>, ApiError> {
    let Path(vendor) = vendor.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let vendor = VendorId::parse(&vendor)?;
    if let Some(bound) = &caller.vendor
        && bound != &vendor
    {
        return Err(ApiError::WrongVendor(bound.to_string()));
    }
    let request: Request = json_body(&body)?;
    let user_id = request.user_id.ok_or_else(|| {
        ApiError::BadRequest("the body needs a user_id, e.g. {\"user_id\": \"6834622e10d75a5ba7b7a1b2\"}".into())
    })?;
    let user = UserSuffix::from_user_id(&user_id)?;
    let variant = request.variant.as_deref().map(BbVariant::from_name).transpose()?;
    if !caller.is_bootstrap() {
        super::budget::spend(&state, &caller.id, &vendor).await?;
    }
    Ok(Json(state.numbers.allocate(&vendor, user, variant).await?))
}
