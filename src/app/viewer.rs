//! The signed-in staff member, known to every component: read once per page from the
//! request on the server (the access middleware put it there) and carried to the browser
//! with the page's hydration data as a shared value, provided once by the app.

use leptos::prelude::*;

use crate::domain::accounts::Viewer;

/// The server's copy, for the page being rendered.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
struct SignedIn(Option<Viewer>);

#[cfg(not(feature = "ssr"))]
thread_local! {
    /// The browser's copy: event handlers run outside any component, where no context is.
    static IN_BROWSER: std::cell::RefCell<Option<Viewer>> = const { std::cell::RefCell::new(None) };
}

/// Reads the viewer (from the request on the server, from the page's data in the browser)
/// and provides it to the app; the app's first step.
pub fn provide() {
    let viewer = SharedValue::new(from_request).into_inner();
    #[cfg(feature = "ssr")]
    provide_context(SignedIn(viewer));
    #[cfg(not(feature = "ssr"))]
    IN_BROWSER.with(|v| *v.borrow_mut() = viewer);
}

fn from_request() -> Option<Viewer> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<crate::server::access::Caller>().map(|c| c.viewer.clone()))
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// The viewer, or `None` on pages served without a session (there are none behind the
/// middleware, but components must not assume it).
pub fn current() -> Option<Viewer> {
    #[cfg(feature = "ssr")]
    {
        use_context::<SignedIn>().and_then(|s| s.0)
    }
    #[cfg(not(feature = "ssr"))]
    {
        IN_BROWSER.with(|v| v.borrow().clone())
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
