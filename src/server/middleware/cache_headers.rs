//! `Cache-Control` for the site's files.

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// `Cache-Control` for the site's files: a hashed file never changes (a new build has a new
/// name), so browsers keep it a year without asking; the other files (under `/pkg/`,
/// `theme.js`, the icon) are checked each time. Everything else is `no-store`
/// (`security_headers`).
pub async fn set(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    let value = match path.strip_prefix("/pkg/") {
        Some(name) if is_hashed(name) => "public, max-age=31536000, immutable",
        Some(_) => "no-cache",
        None if crate::server::assets::is_unhashed_site_file(&path) => "no-cache",
        None => return response,
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// `orderdesk.<22 characters of base64url MD5>.wasm`, as cargo-leptos names hashed files.
fn is_hashed(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && !name.contains('/')
        && parts[1].len() == 22
        && parts[1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn only_cargo_leptos_hashed_names_count_as_hashed() {
        assert!(is_hashed("orderdesk.uX4cE0S7-Pm0jV_Y3kKpQw.wasm"));
        assert!(is_hashed("orderdesk.uX4cE0S7-Pm0jV_Y3kKpQw.js"));
        assert!(!is_hashed("orderdesk.wasm"));
        assert!(!is_hashed("orderdesk.css"));
        assert!(!is_hashed("orderdesk.short.wasm"));
        assert!(!is_hashed("x/orderdesk.uX4cE0S7-Pm0jV_Y3kKpQw.wasm"));
        assert!(!is_hashed("orderdesk.uX4cE0S7+Pm0jV/Y3kKpQw.wasm"));
    }
}
