//! `GET /metrics` (Prometheus text, open for monitoring like `/healthz`) and
//! `GET /api/performance/stats` (JSON, behind an `X-API-Key` of scope `stats`, as in the seed).

use std::fmt::Write;

use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use super::{AppState, api::StatsCaller};
use crate::domain::performance::{PerformanceStats, SlowQuery};

/// This process's figures with `recent_slow`.
fn figures(state: &AppState, recent_slow: Vec<SlowQuery>) -> PerformanceStats {
    PerformanceStats {
        instance: state.store.instance().to_owned(),
        window_seconds: crate::storage::metrics::WINDOW.as_secs(),
        slow_query_ms: state.settings.slow_query.as_millis() as u64,
        operations: state.store.metrics().summaries(),
        recent_slow,
    }
}

/// The performance page's data: the figures and the latest slow operations.
pub async fn current(state: &AppState) -> Result<PerformanceStats, crate::storage::StorageError> {
    Ok(figures(state, state.store.recent_slow_queries(20).await?))
}

/// The in-memory figures are always there; without the database only the slow list is empty.
pub async fn stats(_: StatsCaller, State(state): State<AppState>) -> Json<PerformanceStats> {
    let recent_slow = state.store.recent_slow_queries(20).await.unwrap_or_default();
    Json(figures(&state, recent_slow))
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The process's own figures from `/proc` (Linux), as the usual `process_*` metrics.
fn process_metrics(out: &mut String, started: std::time::Instant) {
    let clock_ticks = 100.0; // USER_HZ on Linux
    let page = 4096.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some(rest) = stat.rsplit(')').next()
    {
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Fields after the command: state is [0]; utime [11], stime [12], rss pages [21].
        if let (Some(u), Some(s)) =
            (f.get(11).and_then(|v| v.parse::<f64>().ok()), f.get(12).and_then(|v| v.parse::<f64>().ok()))
        {
            let _ = writeln!(
                out,
                "# HELP process_cpu_seconds_total User and system CPU time spent.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}",
                (u + s) / clock_ticks
            );
        }
        if let Some(rss) = f.get(21).and_then(|v| v.parse::<f64>().ok()) {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
                rss * page
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# HELP process_open_fds Open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds {}",
            fds.count()
        );
    }
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| now.as_secs_f64() - started.elapsed().as_secs_f64())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start:.3}"
    );
}

/// Open like `/healthz`, unless `ORDERDESK_METRICS_TOKEN` is set: then only with
/// `Authorization: Bearer <token>`. Labels name operations and collections, never a person.
pub async fn prometheus(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.settings.metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !sent.is_some_and(|t| crate::domain::tokens::same(t, token.expose())) {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "send the metrics token: Authorization: Bearer <ORDERDESK_METRICS_TOKEN>\n",
            )
                .into_response();
        }
    }
    let mut out = String::new();
    // Every figure here is this process's own: several processes are told apart by this
    // label (or by the scrape target), and summed or compared across instances.
    let _ = writeln!(
        out,
        "# HELP orderdesk_instance_info The orderdesk process these figures describe.\n# TYPE orderdesk_instance_info gauge\norderdesk_instance_info{{instance=\"{}\",version=\"{}\"}} 1",
        label(state.store.instance()),
        env!("CARGO_PKG_VERSION")
    );
    let histograms = state.store.metrics().histograms();
    out.push_str("# HELP orderdesk_db_operation_seconds Time of each database operation orderdesk made.\n");
    out.push_str("# TYPE orderdesk_db_operation_seconds histogram\n");
    for h in &histograms {
        let labels = format!("op=\"{}\",collection=\"{}\"", label(h.op), label(h.collection));
        for (le, n) in &h.buckets {
            let _ = writeln!(out, "orderdesk_db_operation_seconds_bucket{{{labels},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "orderdesk_db_operation_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "orderdesk_db_operation_seconds_sum{{{labels}}} {}", h.sum_seconds);
        let _ = writeln!(out, "orderdesk_db_operation_seconds_count{{{labels}}} {}", h.count);
    }
    out.push_str("# HELP orderdesk_db_operation_errors_total Database operations that failed or timed out.\n");
    out.push_str("# TYPE orderdesk_db_operation_errors_total counter\n");
    for h in &histograms {
        let _ = writeln!(
            out,
            "orderdesk_db_operation_errors_total{{op=\"{}\",collection=\"{}\"}} {}",
            label(h.op),
            label(h.collection),
            h.errors
        );
    }
    let pool = state.store.pool();
    for (name, kind, help, value) in [
        (
            "orderdesk_db_pool_size",
            "gauge",
            "Operations orderdesk lets into the driver at once (its pool size).",
            u64::from(pool.size),
        ),
        (
            "orderdesk_db_pool_in_use",
            "gauge",
            "Operations in the driver now, each on a connection.",
            u64::from(pool.in_use),
        ),
        ("orderdesk_db_pool_waiting", "gauge", "Calls waiting for a place in the driver.", pool.waiting),
        (
            "orderdesk_db_pool_wait_timeouts_total",
            "counter",
            "Calls that gave up waiting for a place.",
            pool.wait_timeouts,
        ),
        ("orderdesk_http_in_flight", "gauge", "HTTP requests being served now, working or queued.", state.in_flight()),
        ("orderdesk_http_working", "gauge", "HTTP requests being worked on now (the rest queue).", state.working()),
        (
            "orderdesk_http_shed_total",
            "counter",
            "HTTP requests refused with 503: too many in flight, or no turn within the queue wait.",
            state.shed_count(),
        ),
        (
            "orderdesk_db_failover_retries_total",
            "counter",
            "Database operations tried again after an election or a lost connection.",
            state.store.metrics().failover_retries(),
        ),
        (
            "orderdesk_order_id_retries_total",
            "counter",
            "New orders whose first order_id was already taken and was drawn again.",
            state.orders.retries(),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    process_metrics(&mut out, state.started);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
