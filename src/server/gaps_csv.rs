//! `GET /counters/{counterId}/gaps.csv`: every run of numbers a vendor-day's counter issued
//! and no order holds, with its likely cause (support staff and up, like the page).

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{AppState, access::SupportCaller};
use crate::domain::ids::CounterId;

pub async fn export(_caller: SupportCaller, State(state): State<AppState>, Path(counter): Path<String>) -> Response {
    let id = match CounterId::parse(counter.trim()) {
        Ok(id) => id,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{}\n", e.message())).into_response(),
    };
    let block = state.settings.segment_vendors.get(&id.vendor).copied();
    match crate::services::monitoring::counter_forensics(
        &state.store,
        state.settings.time_zone,
        &id,
        block,
        state.settings.time_bucket_minutes,
    )
    .await
    {
        Ok(Some(f)) => {
            let mut body = String::from("counter_id,from,to,numbers,cause\n");
            for g in &f.gaps {
                body += &format!("{},{},{},{},{:?}\n", f.counter_id, g.from, g.to, g.numbers(), g.cause);
            }
            let disposition = format!("attachment; filename=\"gaps-{}.csv\"", f.counter_id);
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                body,
            )
                .into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, format!("there is no counter {id}\n")).into_response(),
        Err(e) if e.is_unavailable() => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "gap export failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the export failed; see the server log\n").into_response()
        }
    }
}
