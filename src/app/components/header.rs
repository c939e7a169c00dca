use leptos::prelude::*;
use leptos_router::hooks::use_location;

use super::{search_form::SearchForm, theme_toggle::ThemeToggle};
use crate::app::routes::ROUTES;

/// The bar on every page: name, navigation, the search box and the theme toggle.
#[component]
pub fn Header() -> impl IntoView {
    let location = use_location();
    let viewer = crate::app::viewer::current();
    let role = viewer.as_ref().map(|v| v.role);
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div class="mx-auto flex max-w-6xl flex-wrap items-center gap-4 px-4 py-3">
                <a href="/" class="text-lg font-bold tracking-tight text-indigo-600 dark:text-indigo-400">"orderdesk"</a>
                <nav aria-label="Main" class="flex flex-wrap gap-1 text-sm">
                    {ROUTES
                        .iter()
                        .filter(|r| role.is_some_and(|role| role.allows(r.role)))
                        .filter_map(|r| Some((r.path, r.nav?)))
                        .map(|(href, label)| {
                            let current = move || location.pathname.get().starts_with(href);
                            view! {
                                <a
                                    href=href
                                    aria-current=move || current().then_some("page")
                                    class="rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-300"
                                >
                                    {label}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
                <div class="ml-auto flex items-center gap-2">
                    <SearchForm compact=true />
                    <ThemeToggle />
                    {viewer.map(|v| view! {
                        <form method="post" action="/auth/logout" class="flex items-center gap-2 text-sm">
                            <span class="text-slate-600 dark:text-slate-400" data-testid="viewer">{v.email}" · "{v.role.as_str()}</span>
                            <input type="hidden" name="_csrf" value=v.csrf />
                            <button type="submit" class="rounded border border-slate-300 px-2 py-1 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">"Sign out"</button>
                        </form>
                    })}
                </div>
            </div>
        </header>
    }
}
