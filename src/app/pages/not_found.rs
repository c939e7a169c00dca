use leptos::prelude::*;

/// Unknown paths: a 404 with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="max-w-2xl">
            <h1 class="text-2xl font-bold">"Page not found"</h1>
            <p class="mt-3">
                "There is no page at this address. " <a class="text-indigo-600 underline" href="/">
                    "Go to search"
                </a>
            </p>
        </section>
    }
}
