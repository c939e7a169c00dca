//! `GET /audit.csv?actor=&action=&since=&until=`: the audit log's filtered entries as CSV
//! (admins only, like the page), newest first, read in pages of 5,000 and capped at
//! 100,000 rows (about 15 MB); narrow the dates for more.

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{AppState, orders_csv::field};
use crate::audit::{AuditEntry, AuditQuery};

const HEADER: &str = "at,actor,role,ip,action,params,outcome\n";
const PAGE: i64 = 5_000;
const MAX_ROWS: usize = 100_000;

pub async fn export(State(state): State<AppState>, query: Result<Query<AuditQuery>, QueryRejection>) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad query: {}\n", e.body_text())).into_response(),
    };
    let filter = match query.parse() {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let mut out = String::from(HEADER);
    let mut before: Option<String> = None;
    let mut rows = 0;
    loop {
        let page = match state.store.audit_entries(&filter, before.as_deref(), PAGE).await {
            Ok(p) => p,
            Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "audit export failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
            }
        };
        rows += page.len();
        out.extend(page.iter().map(csv_row));
        match page.last() {
            Some(last) if page.len() as i64 == PAGE && rows < MAX_ROWS => before = Some(last.id.clone()),
            _ => break,
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        out,
    )
        .into_response()
}

fn csv_row(e: &AuditEntry) -> String {
    let fields = [
        e.at.to_rfc3339(),
        e.actor.clone(),
        e.role.clone(),
        e.ip.clone(),
        e.action.clone(),
        e.params.clone(),
        e.outcome.clone(),
    ];
    let mut line = fields.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}
