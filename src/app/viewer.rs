//! The signed-in staff member, known to every component without a request: the server
//! reads it from the request (the access middleware put it there) and writes it into a
//! `<meta>` tag of the shell; the browser reads that tag back when it hydrates.

use leptos::prelude::*;

use crate::domain::accounts::Viewer;

const META: &str = "orderdesk-viewer";

/// The viewer, or `None` on pages served without a session (there are none behind the
/// middleware, but components must not assume it).
pub fn current() -> Option<Viewer> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<crate::server::access::Caller>().map(|c| c.viewer.clone()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        let content = document().query_selector(&format!("meta[name={META}]")).ok()??.get_attribute("content")?;
        serde_json::from_str(&content).ok()
    }
}

/// The session's CSRF token, for the `_csrf` argument of state-changing server functions.
pub fn csrf() -> String {
    current().map(|v| v.csrf).unwrap_or_default()
}

/// Whether the viewer is an admin (for showing admin controls; the server enforces it).
pub fn is_admin() -> bool {
    current().is_some_and(|v| v.is_admin())
}

/// The `<meta>` tag carrying the viewer to the browser (in the shell's `<head>`).
#[component]
pub fn ViewerMeta() -> impl IntoView {
    let content = current().and_then(|v| serde_json::to_string(&v).ok());
    content.map(|content| view! { <meta name=META content=content /> })
}
