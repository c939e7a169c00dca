//! `GET /orders.csv?…`: exactly the order list's filtered set, streamed row by row.

use axum::{
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;

use super::{AppState, access::SupportCaller, csv};
use crate::{domain::order_filter::ListParams, domain::orders::OrderSummary};

const HEADER: &str =
    "order_id,display_id,order_number,legacy_id,source,status,amount,telegram_id,vendor_id,user_id,created_at\n";

pub async fn export(
    _caller: SupportCaller,
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
    let rows = match state.store.stream_orders(&filter).await {
        Ok(rows) => rows,
        Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "CSV export failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
        }
    };
    // A failure half way cannot change the status any more: it ends the body early, which
    // the client sees as a broken download rather than a silently short file.
    let body = futures::stream::once(async { Ok::<_, std::io::Error>(HEADER.to_owned()) })
        .chain(rows.map(|row| row.map(|o| csv_row(&o)).map_err(std::io::Error::other)))
        // The body may be polled again after its end; an unfused stream would panic.
        .fuse();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"orders.csv\""),
        ],
        Body::from_stream(body),
    )
        .into_response()
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
