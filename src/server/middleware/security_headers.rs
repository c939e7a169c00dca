//! Security headers on every response. Leptos pages get a Content-Security-Policy with a
//! per-response nonce (set while the shell renders, see [`page_policy`]); every other
//! response (sign-in, refusals, JSON, CSV) gets the same policy without one.

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

use crate::server::AppState;

/// The policy, allowing scripts from this site, and inline ones only with `nonce`.
/// `'wasm-unsafe-eval'` lets the page compile its own WebAssembly bundle (it allows no
/// `eval` of text). Styles allow inline attributes: the SVG charts carry some.
pub fn policy(nonce: Option<&str>, reload_port: Option<u32>) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    // `cargo leptos watch` reloads the page over a websocket on its own port.
    let reload = reload_port.map(|p| format!(" ws://127.0.0.1:{p} ws://localhost:{p}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{nonce}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy for a Leptos page, with the nonce its hydration scripts carry.
pub fn page_policy(options: &leptos::config::LeptosOptions) -> Option<String> {
    leptos::nonce::use_nonce().map(|nonce| policy(Some(&nonce.to_string()), dev_reload_port(options)))
}

fn dev_reload_port(options: &leptos::config::LeptosOptions) -> Option<u32> {
    std::env::var_os("LEPTOS_WATCH").is_some().then_some(options.reload_port)
}

/// Adds the headers above to every response, and `no-store` to any that set no cache policy.
pub async fn add(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(&policy(None, dev_reload_port(&state.leptos_options)))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    // Pages, server-function answers and exports hold what a person may see: never kept by a
    // browser or a proxy. Only the bundle's files (cached by `assets`) and QR images say otherwise.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.settings.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_policy_allows_only_own_and_nonced_scripts() {
        let p = super::policy(Some("abc"), None);
        assert!(p.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-abc';"), "{p}");
        assert!(p.contains("frame-ancestors 'none'") && !p.contains("unsafe-inline';  script"), "{p}");
        assert!(!super::policy(None, None).contains("nonce"));
    }
}
