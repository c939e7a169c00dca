//! The dashboard: one Leptos app rendered on the server and hydrated in the browser.

mod components;
pub mod format;
mod head;
mod keyboard;
mod lazy_part;
pub mod lookup;
mod pages;
mod params;
mod resource;
pub mod routes;
pub mod viewer;

use leptos::prelude::*;
use leptos_meta::{MetaTags, provide_meta_context};
use leptos_router::{
    Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use components::{
    command_palette::{CommandPalette, Overlays, ShortcutHelp},
    header::Header,
};
use pages::{
    api_key::ApiKeyPage, api_keys::ApiKeysPage, audit::AuditPage, counter_day::CounterDayPage, counters::CountersPage,
    failures::FailuresPage, home::HomePage, maintenance::MaintenancePage, not_found::NotFound, order::OrderPage,
    orders::OrdersPage, performance::PerformancePage, search::SearchPage,
};

/// The HTML document around the app. `theme.js` runs before first paint so dark mode
/// never flashes light.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // A fresh nonce per page: the hydration scripts carry it, the CSP header names it.
    #[cfg(feature = "ssr")]
    {
        leptos::nonce::provide_nonce();
        if let (Some(policy), Some(response)) = (
            crate::server::middleware::security_headers::page_policy(&options),
            use_context::<leptos_axum::ResponseOptions>(),
        ) && let Ok(value) = axum::http::HeaderValue::from_str(&policy)
        {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    // The stylesheet's hashed name, read from the build's hash file once per process
    // (Leptos's `HashedStylesheet` reads that file on every page).
    #[cfg(feature = "ssr")]
    let stylesheet = crate::server::assets::page_stylesheet(&options);
    #[cfg(not(feature = "ssr"))]
    let stylesheet = "";
    // A back-office page waits for its part of the bundle: asked for with the page.
    #[cfg(feature = "ssr")]
    let part = use_context::<axum::http::request::Parts>()
        .filter(|request| back_office::holds(request.uri.path()))
        .and_then(|_| crate::server::assets::back_office_part(&options));
    #[cfg(not(feature = "ssr"))]
    let part: Option<String> = None;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <script src="/theme.js"></script>
                <AutoReload options=options.clone() />
                <link id="leptos" rel="stylesheet" href=stylesheet />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // `fetch()` is how the part is loaded: a CORS-mode request, hence `crossorigin`.
                {part
                    .map(|href| {
                        view! {
                            <link
                                rel="preload"
                                href=href
                                r#as="fetch"
                                type="application/wasm"
                                crossorigin="anonymous"
                            />
                        }
                    })}
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 min-h-screen">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    viewer::provide();
    lookup::Handoff::<lookup::OrderPageData>::provide();
    lookup::Handoff::<lookup::SearchAnswer>::provide();
    provide_meta_context();
    let overlays = Overlays::provide();
    keyboard::install(overlays);
    view! {
        <head::PageTitle text="orderdesk" />
        <Router>
            <lazy_part::FollowAddress />
            <a
                href="#main"
                class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 dark:focus:bg-slate-900"
            >
                "Skip to content"
            </a>
            <Header />
            <CommandPalette />
            <ShortcutHelp />
            <main id="main" class="mx-auto max-w-7xl px-4 py-6">
                // Data pages render fully on the server (Async), so they work without
                // JavaScript and carry the right HTTP status.
                <Routes fallback=NotFound>
                    <Route path=StaticSegment(routes::HOME.segment()) view=HomePage ssr=SsrMode::Async />
                    <Route path=StaticSegment(routes::SEARCH.segment()) view=SearchPage ssr=SsrMode::Async />
                    <Route path=StaticSegment(routes::ORDERS.segment()) view=OrdersPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment(routes::ORDER.segment()), ParamSegment("key"))
                        view=OrderPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::COUNTERS.segment())
                        view=back_office::CountersRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment(routes::COUNTER_DAY.segment()), ParamSegment("counter"))
                        view=back_office::CounterDayRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::PERFORMANCE.segment())
                        view=back_office::PerformanceRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::FAILURES.segment())
                        view=back_office::FailuresRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::MAINTENANCE.segment())
                        view=back_office::MaintenanceRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::AUDIT.segment())
                        view=back_office::AuditRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment(routes::API_KEYS.segment())
                        view=back_office::ApiKeysRoute::page()
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment(routes::API_KEY.segment()), ParamSegment("key"))
                        view=back_office::ApiKeyRoute::page()
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The back office (monitoring and admin pages) is a lazy part of the bundle of its own (built
/// with `cargo leptos --split`), fetched the first time one of its pages is shown: a support
/// agent's pages (home, search, orders, an order) load and hydrate without downloading or
/// compiling it. Measured against the alternatives (BENCHMARKS.md, issue #30): a part per page
/// made ~200 files and doubled the time to a live page, and the desk's pages as a part of their
/// own made an order page slower to hydrate. The pages make their own resources: `data` starts
/// nothing.
mod back_office {
    use super::*;

    macro_rules! back_office_pages {
        ($($route:ident => $page:ident at $path:ident),* $(,)?) => {
            /// Where the part's pages are (their heads ask for the part at once).
            #[cfg(feature = "ssr")]
            const ROUTES: &[routes::Route] = &[$(routes::$path),*];

            #[derive(Clone, Copy)]
            #[allow(clippy::enum_variant_names)]
            pub enum Page {
                $($page),*
            }

            /// The split point: every page below, and the code only they use, is in its part.
            #[lazy]
            fn view_of(page: Page) -> AnyView {
                match page {
                    $(Page::$page => view! { <$page /> }.into_any()),*
                }
            }

            $(
                pub struct $route;

                impl $route {
                    /// The route's view, for `<Route view=…>`.
                    pub fn page() -> Lazy<$route> {
                        Lazy::new()
                    }
                }

                impl LazyRoute for $route {
                    fn data() -> Self {
                        $route
                    }

                    async fn view(_this: Self) -> AnyView {
                        lazy_part::loading(view_of(Page::$page)).await
                    }

                    // The router awaits this before it hydrates or shows the page, which then
                    // renders at once (without it, hydration meets a pending page and fails).
                    // `#[lazy]` names the loader `__preload_` and the function's name.
                    async fn preload() {
                        #[cfg(target_arch = "wasm32")]
                        lazy_part::loading(__preload_view_of()).await;
                    }
                }
            )*
        };
    }

    back_office_pages!(
        CountersRoute => CountersPage at COUNTERS,
        CounterDayRoute => CounterDayPage at COUNTER_DAY,
        PerformanceRoute => PerformancePage at PERFORMANCE,
        FailuresRoute => FailuresPage at FAILURES,
        MaintenanceRoute => MaintenancePage at MAINTENANCE,
        AuditRoute => AuditPage at AUDIT,
        ApiKeysRoute => ApiKeysPage at API_KEYS,
        ApiKeyRoute => ApiKeyPage at API_KEY,
    );

    /// Whether a path is a page of this part.
    #[cfg(feature = "ssr")]
    pub fn holds(path: &str) -> bool {
        ROUTES.iter().any(|r| r.matches(path))
    }

    #[cfg(all(test, feature = "ssr"))]
    mod tests {
        #[test]
        fn the_part_holds_the_back_office_pages_only() {
            use super::holds;
            assert!(holds("/counters/20261120-pizza-palace") && holds("/api-keys"));
            assert!(!holds("/orders/ORD-A3F8D2") && !holds("/") && !holds("/counters.csv"));
        }
    }
}

/// The browser bundle's entry point. Hydration waits for a back-office page's part, so
/// `<body data-hydrated>` is set once all of it has been taken over (an effect would fire
/// before a lazy page is hydrated): tests, and people debugging, can tell a live page from
/// server HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    lazy_part::install_panic_hook();
    // What `leptos::mount::hydrate_lazy` does, with the mark at the end.
    let Some(body) = document().body() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), App).await.forget();
        let _ = body.set_attribute("data-hydrated", "true");
        lazy_part::hydrated();
    });
}
