use leptos::{ev::SubmitEvent, html, prelude::*, server_fn::codec::GetUrl};
use leptos_router::{NavigateOptions, hooks::use_navigate};

use crate::{
    app::{
        format,
        lookup::{Handoff, OrderPageData, SearchAnswer, search},
    },
    domain::error::AppError,
};

/// IDs starting with what was typed (at most 8); nothing for fewer than 4 characters.
#[server(prefix = "/api/staff", endpoint = "suggest", input = GetUrl)]
pub async fn suggest(q: String) -> Result<Vec<String>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    let prefixes = crate::domain::ids::IdPrefix::candidates(&q);
    if prefixes.is_empty() {
        return Ok(Vec::new());
    }
    let orders = state.store.suggest_orders(&prefixes, 8).await?;
    Ok(orders.iter().filter_map(|o| o.page_key().map(str::to_owned)).collect())
}

/// The search box: a plain GET form to `/search?q=`, so results can be linked and it
/// works without JavaScript. Once hydrated it asks the search itself and goes straight to
/// the order when one matches, its page handed over (one call from Enter to the painted
/// order: BENCHMARKS.md, "Paste to painted"); anything else opens the search page with the
/// answer handed over.
#[component]
pub fn SearchForm(#[prop(optional)] compact: bool, #[prop(optional, into)] value: Option<String>) -> impl IntoView {
    let (input_class, id) = if compact {
        (
            "w-full min-w-0 rounded border border-slate-300 bg-white px-2 py-1 text-sm lg:w-56 dark:border-slate-700 dark:bg-slate-800",
            "header-search",
        )
    } else {
        (
            "w-full rounded-lg border border-slate-300 bg-white px-4 py-3 text-lg shadow-sm dark:border-slate-700 dark:bg-slate-800",
            "main-search",
        )
    };
    // Search-as-you-type: IDs that start with what is typed, offered in a <datalist>.
    let suggestions = RwSignal::new(Vec::<String>::new());
    let typed = RwSignal::new(value.clone().unwrap_or_default());
    let on_input = move |ev| {
        let q = event_target_value(&ev);
        typed.set(q.clone());
        leptos::task::spawn_local(async move {
            let found = suggest(q.clone()).await.unwrap_or_default();
            // Answers can arrive out of order: keep only the one for the current text.
            if typed.get_untracked() == q {
                suggestions.set(found);
            }
        });
    };
    let list_id = format!("{id}-suggestions");
    let input = NodeRef::<html::Input>::new();
    let navigate = use_navigate();
    let on_submit = move |ev: SubmitEvent| {
        let (Some(box_), Some(orders), Some(answers)) =
            (input.get_untracked(), Handoff::<OrderPageData>::get(), Handoff::<SearchAnswer>::get())
        else {
            return;
        };
        ev.prevent_default();
        let q = box_.value();
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let path = match search(q.clone(), true).await {
                Ok(SearchAnswer::Order { key, page }) => {
                    let path = format::order_href(&key);
                    if let Some(page) = page {
                        orders.give(key, page);
                    }
                    path
                }
                Ok(answer) => {
                    answers.give(q.clone(), answer);
                    format!("/search?q={}", format::urlencode(&q))
                }
                // The search page asks again and says what went wrong.
                Err(_) => format!("/search?q={}", format::urlencode(&q)),
            };
            navigate(&path, NavigateOptions::default());
        });
    };
    view! {
        <form method="GET" action="/search" role="search" class="flex w-full min-w-0 gap-2" on:submit=on_submit>
            <label for=id class="sr-only">
                "Order ID, display ID, BB number, legacy id or telegram id"
            </label>
            <input
                id=id
                type="search"
                name="q"
                value=value
                maxlength=crate::domain::ids::explain::MAX_PASTE.to_string()
                autocomplete="off"
                placeholder="ORD-A3F8D2, BB-…, UUID, telegram id"
                class=input_class
                list=list_id.clone()
                on:input=on_input
                node_ref=input
            />
            <datalist id=list_id>
                <For each=move || suggestions.get() key=|s| s.clone() let:id>
                    <option value=id></option>
                </For>
            </datalist>
            <button
                type="submit"
                class="rounded bg-indigo-600 px-3 py-1 font-medium text-white hover:bg-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
            >
                "Find"
            </button>
        </form>
    }
}
