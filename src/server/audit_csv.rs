//! `GET /audit.csv?actor=&action=&since=&until=`: the audit log's filtered entries as CSV
//! (admins only, like the page), newest first, streamed in pages of 5,000 read one after
//! another by `_id`, so an export of any size never sits in memory.

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{AppState, access::AdminCaller, csv};
use crate::domain::audit::{AuditEntry, AuditQuery};

const HEADER: &str = "at,actor,role,ip,action,params,outcome\n";
const PAGE: i64 = 5_000;

pub async fn export(
    caller: AdminCaller,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad query: {}\n", e.body_text())).into_response(),
    };
    let filter = match query.parse(&state.settings.time_zone) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let Some(place) = state.exports.enter(Some(&caller.0.viewer.email)) else {
        return csv::too_many_exports();
    };
    let first = match state.store.audit_entries(&filter, None, PAGE).await {
        Ok(p) => p,
        Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "audit export failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
        }
    };
    // Each later page starts below the last `_id` sent.
    let next = move |before: String| {
        let (state, filter) = (state.clone(), filter.clone());
        async move { state.store.audit_entries(&filter, Some(&before), PAGE).await.map(with_cursor) }
    };
    csv::download("audit.csv", HEADER, with_cursor(first), next, csv_row, place)
}

/// A page of entries and, when it is full, the `_id` the next page starts below.
fn with_cursor(page: Vec<AuditEntry>) -> csv::Page<AuditEntry, String> {
    let after = (page.len() as i64 == PAGE).then(|| page.last().map(|e| e.id.clone())).flatten();
    (page, after)
}

fn csv_row(e: &AuditEntry) -> String {
    csv::line([
        e.at.to_rfc3339(),
        csv::text(&e.actor),
        csv::text(&e.role),
        csv::text(&e.ip),
        csv::text(&e.action),
        csv::text(&e.params),
        csv::text(&e.outcome),
    ])
}
