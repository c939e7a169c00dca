//! `GET /orders.csv?…`: exactly the order list's filtered set, read page by page by keyset
//! as the client takes it (see `csv::download`).

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{AppState, access::SupportCaller, csv};
use crate::{
    domain::order_filter::{Cursor, ListParams},
    domain::orders::OrderSummary,
};

const HEADER: &str =
    "order_id,display_id,order_number,legacy_id,source,status,amount,telegram_id,vendor_id,user_id,created_at\n";

pub async fn export(
    SupportCaller(caller): SupportCaller,
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad query: {}\n", e.body_text())).into_response(),
    };
    let filter = match params.parse() {
        Ok((filter, _)) => filter,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let Some(place) = state.exports.enter(Some(&caller.viewer.email)) else {
        return csv::too_many_exports();
    };
    let first = match state.store.export_page(&filter, None).await {
        Ok(page) => page,
        Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "CSV export failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
        }
    };
    let next = move |cursor: Cursor| {
        let (state, filter) = (state.clone(), filter.clone());
        async move { state.store.export_page(&filter, Some(&cursor)).await }
    };
    csv::download("orders.csv", HEADER, first, next, csv_row, place)
}

/// One CSV line: text cells defused and quoted ([`super::csv`]), numbers bare.
pub fn csv_row(o: &OrderSummary) -> String {
    let text = |s: Option<&str>| csv::text(s.unwrap_or_default());
    csv::line([
        text(o.order_id.as_deref()),
        text(o.display_id.as_deref()),
        text(o.order_number.as_deref()),
        text(o.legacy_id.as_deref()),
        csv::text(o.source.label()),
        text(o.status.as_deref()),
        o.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
        o.telegram_id.map(|t| t.to_string()).unwrap_or_default(),
        text(o.vendor_id.as_deref()),
        text(o.user_id.as_deref()),
        o.created_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    ])
}
