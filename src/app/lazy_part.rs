//! When the back office's part of the bundle cannot be loaded: a tab opened before a deploy
//! asks for the old build's part by its hashed name (gone), or the network drops. The loader
//! Leptos generates panics then, and a panic aborts the whole WebAssembly module: the tab would
//! sit on a page that no longer answers. Instead the page is loaded afresh once (the server
//! sends the new build's page and bundle), and should that fail too, it says so and offers a
//! reload, never reloading in a loop.

#[cfg(feature = "hydrate")]
use std::cell::RefCell;
use std::{cell::Cell, future::Future};

use leptos::prelude::*;

thread_local! {
    /// Whether the part's loader is being polled right now (the panic happens inside a poll).
    static LOADING: Cell<bool> = const { Cell::new(false) };
    /// The address the router is opening: the bar shows it only once the page is ready.
    #[cfg(feature = "hydrate")]
    static OPENING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Follows the address the router is opening (inside `<Router>`; it renders nothing). Only
/// in the browser: a server render has no part to load and would make an effect for nothing.
#[component]
pub fn FollowAddress() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let location = leptos_router::hooks::use_location();
        Effect::new(move |_| {
            let (path, search) = (location.pathname.get(), location.search.get());
            let to = if search.is_empty() { path } else { format!("{path}?{search}") };
            OPENING.with_borrow_mut(|opening| *opening = Some(to));
        });
    }
}

/// `part` (the lazy part's loader, or a view that needs it), marked as loading while polled.
pub async fn loading<T>(part: impl Future<Output = T>) -> T {
    let mut part = std::pin::pin!(part);
    std::future::poll_fn(|cx| {
        let outer = LOADING.replace(true);
        let polled = part.as_mut().poll(cx);
        LOADING.set(outer);
        polled
    })
    .await
}

/// The page last reloaded for a failed part, until a page hydrates.
#[cfg(feature = "hydrate")]
const RELOADED: &str = "orderdesk.part-reload";

/// Sends panics to the console, and answers one in the part's loader (see the module's text).
#[cfg(feature = "hydrate")]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        if LOADING.get() {
            part_failed();
        }
    }));
}

/// A page hydrated: a later failure may reload again.
#[cfg(feature = "hydrate")]
pub fn hydrated() {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(RELOADED);
    }
}

#[cfg(feature = "hydrate")]
fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

#[cfg(feature = "hydrate")]
fn part_failed() {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    // The page being opened: on a first load the bar already shows it.
    let bar = || Some(format!("{}{}", location.pathname().ok()?, location.search().ok()?));
    let Some(to) = OPENING.with_borrow(Clone::clone).or_else(bar) else { return };
    let storage = session_storage();
    let tried = storage.as_ref().and_then(|s| s.get_item(RELOADED).ok().flatten()).is_some_and(|page| page == to);
    if !tried && let Some(storage) = storage {
        let _ = storage.set_item(RELOADED, &to);
        let _ = location.assign(&to);
        return;
    }
    show_notice(&window, &to);
}

/// A banner over the page (built by hand: the app's own rendering is gone with the panic).
#[cfg(feature = "hydrate")]
fn show_notice(window: &web_sys::Window, to: &str) -> Option<()> {
    let document = window.document()?;
    let notice = document.create_element("div").ok()?;
    notice.set_class_name("fixed inset-x-0 top-0 z-50 bg-red-700 px-4 py-3 text-center text-sm text-white shadow");
    let _ = notice.set_attribute("role", "alert");
    let _ = notice.set_attribute("data-testid", "part-load-failed");
    notice.set_text_content(Some(
        "Part of orderdesk could not be loaded (it may just have been updated, or the network dropped), \
         so this page does not respond. ",
    ));
    let reload = document.create_element("a").ok()?;
    reload.set_class_name("font-semibold underline");
    let _ = reload.set_attribute("href", to);
    reload.set_text_content(Some("Reload the page"));
    notice.append_child(&reload).ok()?;
    document.body()?.prepend_with_node_1(&notice).ok()
}
