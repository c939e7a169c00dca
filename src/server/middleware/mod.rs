//! The rules every request passes through, one file each, applied by [`around`] in the order
//! they run: read it top to bottom to follow a request in (and bottom to top, its answer out).

pub mod admin_actions;
pub mod admission;
pub mod api_calls;
pub mod body;
pub mod cache_headers;
pub mod canonical_paths;
pub mod csrf;
pub mod deadline;
pub mod security_headers;
pub mod server_fn_status;
pub mod signed_in;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware::{from_fn, from_fn_with_state},
};
use tower::ServiceBuilder;
use tower_http::{CompressionLevel, compression::CompressionLayer, trace::TraceLayer};

use super::AppState;

/// `routes` inside the whole stack, first rule outermost.
pub fn around(routes: Router<AppState>, state: AppState) -> Router {
    let stack = ServiceBuilder::new()
        // A span per request, whatever answers it below.
        .layer(TraceLayer::new_for_http())
        // Brotli at quality 1 (gzip at level 1 for the rest): at tower-http's 4, compressing an
        // order page for a browser cost orderdesk about 30 % more CPU per page than at 1, for
        // 14 % fewer bytes (BENCHMARKS.md, "What a browser's Accept-Encoding costs").
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(1)))
        // Outside the deadline and the admission queue, so a bot's call refused there counts.
        .layer(from_fn_with_state(state.clone(), api_calls::count))
        // Everything below answers within the request timeout.
        .layer(from_fn_with_state(state.clone(), deadline::limit))
        // Before the queue: a slow body holds only its own connection.
        .layer(from_fn(body::read_whole))
        .layer(from_fn_with_state(state.clone(), admission::admit))
        // On every answer below, refusals included.
        .layer(from_fn_with_state(state.clone(), security_headers::add))
        // One spelling per path before anything reads it.
        .layer(from_fn(canonical_paths::check))
        .layer(from_fn_with_state(state.clone(), signed_in::check))
        .layer(from_fn_with_state(state.clone(), csrf::check))
        .layer(from_fn_with_state(state.clone(), admin_actions::audit_each))
        .layer(DefaultBodyLimit::max(body::BODY_LIMIT))
        .layer(from_fn(cache_headers::set))
        .layer(from_fn(server_fn_status::set));
    routes.layer(stack).with_state(state)
}
