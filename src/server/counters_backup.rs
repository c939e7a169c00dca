//! `GET /counters.csv?day=YYYY-MM-DD` and `/counters.json?day=…`: one day's counter of every
//! vendor as it is stored (`counterId`, `sequence`, `lastUpdated`), seed 001's "back up the
//! counter collection" before a migration. Today when no day is given (support and up).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{AppState, access::SupportCaller, csv};
use crate::domain::ids::CounterId;

/// Counters of one day at most in a backup (vendors with a counter that day).
const MOST: i64 = 100_000;

#[derive(Debug, Deserialize)]
pub struct DayQuery {
    day: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Counter {
    #[serde(rename = "counterId")]
    counter_id: String,
    sequence: u64,
    #[serde(rename = "lastUpdated")]
    last_updated: Option<chrono::DateTime<chrono::Utc>>,
}

/// The day's counters, or the answer that says why not.
async fn day_counters(
    state: &AppState,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> Result<(NaiveDate, Vec<Counter>), Response> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, format!("{m}\n")).into_response();
    let Query(q) = query.map_err(|e| bad(format!("bad query: {}", e.body_text())))?;
    let day = match q.day.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => chrono::Utc::now().with_timezone(&state.settings.time_zone).date_naive(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| bad(format!("day {d:?} is not a date: write it as 2026-11-21")))?,
    };
    let counters = state.store.counters_with_prefix(&CounterId::any_of_day_prefix(day), MOST).await.map_err(|e| {
        if e.is_unavailable() {
            (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
        } else {
            tracing::error!(error = %e, "counter backup failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the backup failed; see the server log\n").into_response()
        }
    })?;
    let mut counters: Vec<Counter> = counters
        .into_iter()
        .map(|c| Counter { counter_id: c.counter_id, sequence: c.sequence, last_updated: c.last_updated })
        .collect();
    counters.sort_by(|a, b| a.counter_id.cmp(&b.counter_id));
    Ok((day, counters))
}

pub async fn csv(
    _caller: SupportCaller,
    State(state): State<AppState>,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> Response {
    let (day, counters) = match day_counters(&state, query).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let mut body = String::from("counterId,sequence,lastUpdated\n");
    for c in &counters {
        body += &csv::line([
            csv::text(&c.counter_id),
            c.sequence.to_string(),
            c.last_updated.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ]);
    }
    let disposition = format!("attachment; filename=\"counters-{}.csv\"", day.format("%Y%m%d"));
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

pub async fn json(
    _caller: SupportCaller,
    State(state): State<AppState>,
    query: Result<Query<DayQuery>, QueryRejection>,
) -> Response {
    match day_counters(&state, query).await {
        Ok((day, counters)) => Json(serde_json::json!({ "day": day, "counters": counters })).into_response(),
        Err(answer) => answer,
    }
}
