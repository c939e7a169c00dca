use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::{
    app::components::{error_notice::ErrorNotice, search_form::SearchForm},
    error::AppError,
    orders::OrderSummary,
};

/// The answer to one search: how the input was read and what matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupResult {
    pub read_as: String,
    pub key: String,
    pub orders: Vec<OrderSummary>,
}

/// Reads the input as one kind of key and finds the orders it names.
#[server]
pub async fn lookup(q: String) -> Result<LookupResult, AppError> {
    let key = crate::ids::LookupKey::parse(&q)?;
    let state = crate::server::state()?;
    let orders = state.store.find_orders(&key).await?;
    Ok(LookupResult { read_as: key.describe(), key: key.to_string(), orders })
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let results = Resource::new(q, |q| async move { if q.trim().is_empty() { None } else { Some(lookup(q).await) } });
    view! {
        <section>
            <h1 class="text-2xl font-bold">"Search"</h1>
            <div class="mt-4 max-w-2xl">
                <SearchForm value=q() />
            </div>
            <div class="mt-6" data-testid="search-results">
                <Suspense fallback=|| view! { <p class="text-slate-500">"Searching…"</p> }>
                    {move || Suspend::new(async move {
                        match results.await {
                            None => view! {
                                <p class="text-slate-600 dark:text-slate-400">"Type an ID above and press Enter."</p>
                            }.into_any(),
                            Some(Err(e)) => view! { <ErrorNotice error=e /> }.into_any(),
                            Some(Ok(found)) => view! { <Results found /> }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </section>
    }
}

#[component]
fn Results(found: LookupResult) -> impl IntoView {
    let LookupResult { read_as, key, orders } = found;
    if orders.is_empty() {
        return view! {
            <p data-testid="no-match">"No order matches " <code>{key}</code> {format!(", read as {read_as}.")}</p>
        }
        .into_any();
    }
    let n = orders.len();
    view! {
        <p class="text-sm text-slate-600 dark:text-slate-400">
            {format!("{n} order{} for ", if n == 1 { "" } else { "s" })} <code>{key}</code> {format!(", read as {read_as}.")}
        </p>
        <table class="mt-3 w-full text-left text-sm">
            <thead class="border-b border-slate-300 dark:border-slate-700">
                <tr>
                    <th class="py-2 pr-4">"Order"</th>
                    <th class="py-2 pr-4">"Source"</th>
                    <th class="py-2 pr-4">"Status"</th>
                    <th class="py-2 pr-4 text-right">"Amount"</th>
                    <th class="py-2">"Created (UTC)"</th>
                </tr>
            </thead>
            <tbody>
                {orders
                    .into_iter()
                    .map(|o| {
                        view! {
                            <tr class="border-b border-slate-200 dark:border-slate-800" data-testid="order-row">
                                <td class="py-2 pr-4 font-mono">{o.headline()}</td>
                                <td class="py-2 pr-4">{o.source.label()}</td>
                                <td class="py-2 pr-4">{o.status.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class="py-2 pr-4 text-right tabular-nums">
                                    {o.amount.map(|a| format!("${a:.2}")).unwrap_or_else(|| "—".into())}
                                </td>
                                <td class="py-2">
                                    {o.created_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "—".into())}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
