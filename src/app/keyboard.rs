//! Keyboard shortcuts (listed by `?`): Ctrl-K / Cmd-K opens the command palette; `/`
//! focuses the search box; `j` / `k` move through the rows of a result list and Enter opens
//! the focused one (the row's link, natively); Escape closes an overlay.

use super::components::command_palette::Overlays;

/// Installs the shortcuts once the app runs in the browser; nothing happens on the server.
pub fn install(overlays: Overlays) {
    #[cfg(not(feature = "hydrate"))]
    let _ = overlays;
    #[cfg(feature = "hydrate")]
    {
        use leptos::{ev, prelude::*};
        use wasm_bindgen::JsCast;

        let handle = window_event_listener(ev::keydown, move |e| {
            // The palette answers anywhere, even while typing in a field.
            if (e.ctrl_key() || e.meta_key()) && e.key().eq_ignore_ascii_case("k") {
                e.prevent_default();
                overlays.help.set(false);
                overlays.palette.update(|open| *open = !*open);
                return;
            }
            if e.key() == "Escape" {
                overlays.close();
                return;
            }
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
                "?" => {
                    e.prevent_default();
                    overlays.palette.set(false);
                    overlays.help.update(|open| *open = !*open);
                }
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
