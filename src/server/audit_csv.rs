//! `GET /audit.csv?actor=&action=&since=&until=`: the audit log's filtered entries as CSV
//! (admins only, like the page), newest first, streamed in pages of 5,000 read one after
//! another by `_id`, so an export of any size never sits in memory.

use axum::{
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;

use super::{AppState, access::AdminCaller, csv};
use crate::{
    domain::audit::{AuditEntry, AuditQuery},
    storage::StorageError,
};

const HEADER: &str = "at,actor,role,ip,action,params,outcome\n";
const PAGE: i64 = 5_000;

pub async fn export(
    _caller: AdminCaller,
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
    // The first page is read before the status is sent, so an outage is a clear 503.
    let first = match state.store.audit_entries(&filter, None, PAGE).await {
        Ok(p) => p,
        Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "audit export failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
        }
    };
    // Each later page starts below the last `_id` sent. A failure half way ends the body
    // early, which the client sees as a broken download rather than a silently short file.
    enum Next {
        Page(Vec<AuditEntry>),
        Failed(StorageError),
        Done,
    }
    let pages = futures::stream::unfold(Next::Page(first), move |next| {
        let (state, filter) = (state.clone(), filter.clone());
        async move {
            let page = match next {
                Next::Page(page) => page,
                Next::Failed(e) => {
                    tracing::error!(error = %e, "audit export failed half way");
                    return Some((Err(e), Next::Done));
                }
                Next::Done => return None,
            };
            let after = match page.last() {
                Some(last) if page.len() as i64 == PAGE => {
                    match state.store.audit_entries(&filter, Some(&last.id), PAGE).await {
                        Ok(p) => Next::Page(p),
                        Err(e) => Next::Failed(e),
                    }
                }
                _ => Next::Done,
            };
            Some((Ok(page.iter().map(csv_row).collect::<String>()), after))
        }
    });
    let body = futures::stream::once(async { Ok::<_, StorageError>(HEADER.to_owned()) })
        .chain(pages)
        .map(|chunk| chunk.map_err(std::io::Error::other))
        .fuse();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        Body::from_stream(body),
    )
        .into_response()
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
