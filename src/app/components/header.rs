use leptos::prelude::*;
use leptos_router::components::A;

use super::{command_palette::Overlays, search_form::SearchForm, theme_toggle::ThemeToggle};
use crate::app::routes::ROUTES;

/// The bar on every page: name, navigation, the search box, the palette, the theme toggle
/// and the account menu. One row at every width: from `lg` the navigation is in the bar,
/// below it in the menu; the search box is always there. The menus are `<details>`, so they
/// open without JavaScript.
#[component]
pub fn Header() -> impl IntoView {
    let viewer = crate::app::viewer::current();
    let role = viewer.as_ref().map(|v| v.role);
    let overlays = use_context::<Overlays>();
    let links = move |vertical: bool| {
        ROUTES
            .iter()
            .filter(|r| role.is_some_and(|role| role.allows(r.role)))
            .filter_map(|r| Some((r.path, r.nav?)))
            // The search box is the way to search; the page stays one click from Home.
            .filter(|(href, _)| *href != "/search")
            .map(|(href, label)| {
                let class = if vertical {
                    "block rounded px-3 py-2 hover:bg-slate-100 dark:hover:bg-slate-800 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-300"
                } else {
                    "whitespace-nowrap rounded px-2 py-1 hover:bg-slate-100 dark:hover:bg-slate-800 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700 dark:aria-[current=page]:bg-indigo-950 dark:aria-[current=page]:text-indigo-300"
                };
                // `<A>` marks the page it leads to with `aria-current` (and navigates in the app).
                view! {
                    <A href=href attr:class=class>
                        {label}
                    </A>
                }
            })
            .collect_view()
    };
    let panel = "absolute right-0 z-40 mt-2 w-64 rounded-lg border border-slate-200 bg-white p-2 text-sm shadow-lg dark:border-slate-700 dark:bg-slate-900";
    let button = "flex cursor-pointer list-none items-center rounded border border-slate-300 px-2 py-1 text-sm whitespace-nowrap hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800 [&::-webkit-details-marker]:hidden";
    view! {
        <header class="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <div class="mx-auto flex max-w-7xl items-center gap-3 px-4 py-2">
                <a href="/" class="shrink-0 text-lg font-bold tracking-tight text-indigo-700 dark:text-indigo-300">
                    "orderdesk"
                </a>
                <nav aria-label="Main" class="hidden gap-1 text-sm lg:flex">
                    {links(false)}
                </nav>
                <div class="ml-auto flex min-w-0 flex-1 items-center justify-end gap-2 lg:flex-none">
                    <div class="min-w-0 flex-1 lg:flex-none">
                        <SearchForm compact=true />
                    </div>
                    {overlays
                        .map(|o| {
                            view! {
                                <button
                                    type="button"
                                    class="hidden rounded border border-slate-300 px-2 py-1 text-xs text-slate-600 whitespace-nowrap hover:bg-slate-100 sm:inline-block dark:border-slate-700 dark:text-slate-300 dark:hover:bg-slate-800"
                                    title="Command palette (Ctrl K)"
                                    data-testid="open-palette"
                                    on:click=move |_| o.palette.set(true)
                                >
                                    <span class="sr-only">"Command palette: "</span>
                                    "Ctrl K"
                                </button>
                            }
                        })}
                    <ThemeToggle />
                    {viewer
                        .map(|v| {
                            view! {
                                <details class="relative" data-testid="account-menu">
                                    <summary class=button>
                                        <span aria-hidden="true" class="lg:hidden">
                                            "☰"
                                        </span>
                                        <span class="sr-only">"Pages and account "</span>
                                        <span class="hidden max-w-[10rem] truncate lg:inline">{v.email.clone()}</span>
                                    </summary>
                                    <div class=panel>
                                        <nav
                                            aria-label="Pages"
                                            class="border-b border-slate-200 pb-2 lg:hidden dark:border-slate-700"
                                        >
                                            {links(true)}
                                        </nav>
                                        <p
                                            class="px-3 py-2 break-all text-slate-600 dark:text-slate-400"
                                            data-testid="viewer"
                                        >
                                            {v.email.clone()}
                                            " · "
                                            {v.role.as_str()}
                                        </p>
                                        <form method="post" action="/auth/logout" class="px-3 pb-1">
                                            <input type="hidden" name="_csrf" value=v.csrf />
                                            <button
                                                type="submit"
                                                class="w-full rounded border border-slate-300 px-2 py-1 whitespace-nowrap hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
                                            >
                                                "Sign out"
                                            </button>
                                        </form>
                                    </div>
                                </details>
                            }
                        })}
                </div>
            </div>
        </header>
    }
}
