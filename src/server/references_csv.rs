//! `GET /maintenance/runs/{id}/references.csv`: every payment, session and pending order a
//! duplicates run looked at, moved, kept or left for a person (admins, like the run).

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{AppState, access::AdminCaller, csv};

pub async fn export(_caller: AdminCaller, State(state): State<AppState>, Path(run): Path<String>) -> Response {
    let run = run.trim();
    if run.len() != 24 || !run.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (StatusCode::BAD_REQUEST, "a run id is 24 hex digits, as on the Maintenance page\n").into_response();
    }
    let record = match state.store.find_run(run, chrono::Utc::now()).await {
        Ok(Some(r)) => r,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("there is no run {run}\n")).into_response(),
        Err(e) if e.is_unavailable() => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading a run's references failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response();
        }
    };
    let mut body = String::from("kind,reference,field,old_order_id,now_names,decided,reason\n");
    for r in &record.references {
        body += &csv::line([
            csv::text(r.kind.label()),
            csv::text(&r.reference),
            csv::text(&r.field),
            csv::text(&r.old_order_id),
            csv::text(&r.now_names),
            if r.decided { "yes" } else { "no" }.to_owned(),
            csv::text(&r.reason),
        ]);
    }
    let disposition = format!("attachment; filename=\"references-{run}.csv\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}
