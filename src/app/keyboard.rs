//! Keyboard shortcuts: `/` focuses the search box; `j` / `k` move through the rows of a
//! result list and Enter opens the focused one (the row's link, natively).

/// Installs the shortcuts once the app runs in the browser; nothing happens on the server.
pub fn install() {
    #[cfg(feature = "hydrate")]
    {
        use leptos::{ev, prelude::*};
        use wasm_bindgen::JsCast;

        let handle = window_event_listener(ev::keydown, |e| {
            if e.ctrl_key() || e.meta_key() || e.alt_key() {
                return;
            }
            let typing = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing {
                return;
            }
            let doc = document();
            let focus = |selector: &str| {
                doc.query_selector(selector)
                    .ok()
                    .flatten()
                    .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
                    .map(|el| el.focus())
                    .is_some()
            };
            match e.key().as_str() {
                "/" if focus("#main-search") || focus("#header-search") => e.prevent_default(),
                key @ ("j" | "k") => {
                    let Ok(links) = doc.query_selector_all("[data-testid=order-row] a") else { return };
                    let n = links.length();
                    if n == 0 {
                        return;
                    }
                    let active = doc.active_element();
                    let current =
                        (0..n).find(|&i| links.item(i).is_some_and(|l| Some(l) == active.clone().map(Into::into)));
                    let next = match (key, current) {
                        ("j", Some(i)) => (i + 1).min(n - 1),
                        ("k", Some(i)) => i.saturating_sub(1),
                        _ => 0,
                    };
                    if let Some(el) = links.item(next).and_then(|l| l.dyn_into::<web_sys::HtmlElement>().ok()) {
                        let _ = el.focus();
                        e.prevent_default();
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
}
