use leptos::prelude::*;
use leptos_router::components::Form;

/// The search box: a plain GET form to `/search?q=`, so results can be linked and it
/// works without JavaScript; once hydrated the router navigates without a reload.
#[component]
pub fn SearchForm(#[prop(optional)] compact: bool, #[prop(optional, into)] value: Option<String>) -> impl IntoView {
    let (input_class, id) = if compact {
        (
            "w-56 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800",
            "header-search",
        )
    } else {
        (
            "w-full rounded-lg border border-slate-300 bg-white px-4 py-3 text-lg shadow-sm dark:border-slate-700 dark:bg-slate-800",
            "main-search",
        )
    };
    view! {
        <Form method="GET" action="/search" attr:role="search" attr:class="flex w-full gap-2">
            <label for=id class="sr-only">"Order ID, display ID, BB number, legacy id or telegram id"</label>
            <input
                id=id
                type="search"
                name="q"
                value=value
                maxlength="256"
                autocomplete="off"
                placeholder="ORD-A3F8D2, BB-…, UUID, telegram id"
                class=input_class
            />
            <button
                type="submit"
                class="rounded bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
            >
                "Find"
            </button>
        </Form>
    }
}
