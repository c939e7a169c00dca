use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::resource::page_resource,
    app::{
        components::{
            error_notice::{OutageNotice, PageErrors},
            search_form::SearchForm,
        },
        format,
    },
    domain::error::AppError,
    domain::orders::{OrderSummary, Partial},
};

/// How many orders the database holds (both systems).
#[server(prefix = "/api/staff", endpoint = "order_count", input = GetUrl)]
pub async fn order_count() -> Result<Partial<u64>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    Ok(state.store.order_count_shown().await?)
}

/// The newest orders, so there is always something to click.
#[server(prefix = "/api/staff", endpoint = "recent_orders", input = GetUrl)]
pub async fn recent_orders() -> Result<Partial<Vec<OrderSummary>>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    Ok(state.store.recent_orders(8).await?)
}

#[component]
pub fn HomePage() -> impl IntoView {
    let count = page_resource(|| (), |_| order_count());
    let recent = page_resource(|| (), |_| recent_orders());
    view! {
        <section class="mx-auto mt-10 max-w-2xl">
            <h1 class="text-3xl font-bold tracking-tight">"Find an order"</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">
                "Paste whatever the customer sent: #ORD-A3F8D2, a full order ID or UUID, a BB number, a legacy id or a telegram id."
            </p>
            <div class="mt-6">
                <SearchForm />
            </div>
            <div class="mt-8" data-testid="order-count">
                <Suspense fallback=|| view! { <p class="text-slate-500 dark:text-slate-400">"Counting orders…"</p> }>
                    <PageErrors>
                        {move || Suspend::new(async move {
                            count
                                .await
                                .map(|Partial { value: n, outages }| {
                                    view! {
                                        <p class="text-slate-700 dark:text-slate-300">
                                            <span class="text-2xl font-semibold tabular-nums" data-count=n.to_string()>
                                                {format::count(n)}
                                            </span>
                                            " orders in the database"
                                            {(!outages.is_empty())
                                                .then(|| {
                                                    let missing: Vec<String> = outages
                                                        .iter()
                                                        .map(|o| o.source.clone())
                                                        .collect();
                                                    format!(
                                                        " (not counting the {}: it did not answer)",
                                                        missing.join(", "),
                                                    )
                                                })}
                                        </p>
                                    }
                                })
                        })}
                    </PageErrors>
                </Suspense>
            </div>
            <div class="mt-8">
                <h2 class="text-lg font-semibold">"Newest orders"</h2>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match recent.await {
                            Ok(Partial { value: orders, outages }) if orders.is_empty() && outages.is_empty() => {
                                view! {
                                    <p class="mt-2 text-slate-500 dark:text-slate-400">
                                        "No orders yet. Load demo data with: orderdesk seed-demo"
                                    </p>
                                }
                                    .into_any()
                            }
                            Ok(Partial { value: orders, outages }) => {
                                view! {
                                    <div class="mt-2">
                                        <OutageNotice outages />
                                    </div>
                                    <RecentList orders />
                                }
                                    .into_any()
                            }
                            Err(_) => ().into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </section>
    }
}

#[component]
fn RecentList(orders: Vec<OrderSummary>) -> impl IntoView {
    view! {
        <ul class="mt-2 divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
            {orders
                .into_iter()
                .map(|o| {
                    let id = o.headline();
                    let href = o
                        .page_key()
                        .map(format::order_href)
                        .unwrap_or_else(|| format!("/search?q={}", format::urlencode(&id)));
                    view! {
                        <li
                            class="flex items-center justify-between gap-4 px-4 py-2 text-sm"
                            data-testid="recent-order"
                        >
                            <a class="font-mono text-indigo-700 hover:underline dark:text-indigo-300" href=href>
                                {id}
                            </a>
                            <span class="text-slate-500 dark:text-slate-400">
                                {o.source.label()} " · " {o.status.unwrap_or_else(|| "—".into())}
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
