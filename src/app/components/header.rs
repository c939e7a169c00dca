use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{search_form::SearchForm, theme_toggle::ThemeToggle};

const NAV: &[(&str, &str)] = &[
    ("/search", "Search"),
    ("/orders", "Orders"),
    ("/counters", "Counters"),
    ("/performance", "Performance"),
    ("/failures", "Failures"),
    ("/maintenance", "Maintenance"),
];

/// The bar on every page: name, navigation, the search box and the theme toggle.
#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center gap-4 px-4 py-3">
                <a href="/" class="text-lg font-bold tracking-tight text-indigo-600 dark:text-indigo-400">"orderdesk"</a>
                <nav aria-label="Main" class="flex flex-wrap gap-1 text-sm">
                    {NAV
                        .iter()
                        .map(|(href, label)| {
                            let current = move || location.pathname.get().starts_with(href);
                            view! {
                                <a
                                    href=*href
                                    aria-current=move || current().then_some("page")
                                    class="rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-300"
                                >
                                    {*label}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="ml-auto flex items-center gap-2">
                    <SearchForm compact=true />
                    <ThemeToggle />
                </div>
            </div>
        </header>
    }
}
