use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::{
    app::lookup::{Handoff, LookupResult, OrderPageData, SearchAnswer, search},
    app::resource::page_resource,
    app::{
        components::{error_notice::ErrorNotice, order_table::OrderTable, search_form::SearchForm},
        format,
    },
    domain::ids::explain::Explanation,
    domain::orders::Trace,
};

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let handed = Handoff::<SearchAnswer>::get();
    let results = page_resource(q, move |q| async move {
        if q.trim().is_empty() {
            return None;
        }
        // The search box already asked.
        if let Some(answer) = handed.and_then(|h| h.take(&q)) {
            return Some(Ok(answer));
        }
        // Only the browser opens the order page itself from the answer.
        Some(search(q, cfg!(feature = "hydrate")).await)
    });
    view! {
        <section>
            <h1 class="text-2xl font-bold">"Search"</h1>
            <div class="mt-4 max-w-2xl">
                <SearchForm value=q() />
            </div>
            <div class="mt-6" data-testid="search-results">
                <Suspense fallback=|| {
                    view! { <p class="text-slate-500 dark:text-slate-400">"Searching…"</p> }
                }>
                    {move || Suspend::new(async move {
                        match results.await {
                            None => {
                                view! {
                                    <p class="text-slate-600 dark:text-slate-400">
                                        "Type an ID above and press Enter."
                                    </p>
                                }
                                    .into_any()
                            }
                            Some(Err(e)) => view! { <ErrorNotice error=e /> }.into_any(),
                            Some(Ok(SearchAnswer::Order { key, page })) => {
                                let path = format::order_href(&key);
                                if let (Some(page), Some(handoff)) = (page, Handoff::<OrderPageData>::get()) {
                                    handoff.give(key, page);
                                }
                                // One match: straight to the order.
                                view! { <Redirect path /> }
                                    .into_any()
                            }
                            Some(Ok(SearchAnswer::Listed { found, explanation })) => {
                                let answer = match found {
                                    Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
                                    Ok(found) => view! { <Results found /> }.into_any(),
                                };
                                let explained = explanation.map(|explanation| view! { <Explained explanation /> });
                                view! {
                                    {answer}
                                    {explained}
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </div>
        </section>
    }
}

#[component]
fn Results(found: LookupResult) -> impl IntoView {
    let LookupResult { read_as, key, orders, traces, cut } = found;
    if orders.is_empty() {
        return view! {
            <p data-testid="no-match">"No order matches " <code>{key}</code> {format!(", read as {read_as}.")}</p>
            {(!traces.is_empty()).then(|| view! { <Traces traces /> })}
        }
        .into_any();
    }
    let n = orders.len();
    view! {
        <p class="text-sm text-slate-600 dark:text-slate-400">
            {format!("{n} order{} for ", if n == 1 { "" } else { "s" })} <code>{key}</code>
            {format!(", read as {read_as}.")}
        </p>
        {cut
            .then(|| {
                view! {
                    <p class="text-sm text-amber-800 dark:text-amber-300" data-testid="results-cut">
                        {format!(
                            "These are the newest {n}; more may match. Add what else the customer has (more digits, the random part) to narrow it.",
                        )}
                    </p>
                }
            })}
        <OrderTable orders />
    }
    .into_any()
}

/// Where an ID that names no order was seen, each with what it means for the customer.
#[component]
fn Traces(traces: Vec<Trace>) -> impl IntoView {
    let item = |t: &Trace| -> String {
        let when = |at: Option<chrono::DateTime<chrono::Utc>>| format::time(at);
        let who =
            |id: Option<i64>| id.map(|t| format!("telegram user {t}")).unwrap_or_else(|| "an unknown user".into());
        match t {
            Trace::Session { telegram_id, step, since } => format!(
                "Bot session of {} since {}, at step {}",
                who(*telegram_id),
                when(*since),
                step.as_deref().unwrap_or("—")
            ),
            Trace::Payment { amount, currency, status, at } => format!(
                "Payment of {} {} ({}) at {}",
                amount.map(|a| format!("{a:.2}")).unwrap_or_else(|| "—".into()),
                currency.as_deref().unwrap_or(""),
                status.as_deref().unwrap_or("no status"),
                when(*at)
            ),
            Trace::PendingOrder { telegram_id, at } => {
                format!("Pending order of {} from {}", who(*telegram_id), when(*at))
            }
        }
    };
    view! {
        <section
            class="mt-4 max-w-2xl rounded-lg border border-amber-300 bg-amber-50 p-4 text-amber-950 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
            data-testid="traces"
        >
            <h2 class="font-semibold">"Where this ID was seen"</h2>
            <ul class="mt-2 space-y-2 text-sm">
                {traces
                    .iter()
                    .map(|t| {
                        view! {
                            <li data-trace=match t {
                                Trace::Session { .. } => "session",
                                Trace::Payment { .. } => "payment",
                                Trace::PendingOrder { .. } => "pending",
                            }>
                                <span class="font-medium">{item(t)}</span>
                                ": "
                                {t.meaning()}
                                "."
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// "How this was read": the parts of the ID, or the near forms that are IDs.
#[component]
fn Explained(explanation: Explanation) -> impl IntoView {
    let suggestions = explanation.suggestions.clone();
    let hint = explanation.hint.clone();
    let read_as = explanation.read_as.clone();
    let is_id = explanation.is_id;
    view! {
        <section
            class="mt-6 max-w-2xl rounded-lg border border-slate-200 p-4 dark:border-slate-800"
            data-testid="search-explained"
        >
            <h2 class="font-semibold">"How this was read"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                {if is_id { format!("Read as {read_as}.") } else { read_as }}
            </p>
            {(!suggestions.is_empty())
                .then(|| {
                    view! {
                        <div class="mt-3" data-testid="did-you-mean">
                            <p class="font-medium">"Did you mean"</p>
                            <ul class="mt-1 space-y-1">
                                {suggestions
                                    .into_iter()
                                    .map(|s| {
                                        view! {
                                            <li>
                                                <a
                                                    class="font-mono text-indigo-700 underline dark:text-indigo-300"
                                                    href=format!("/search?q={}", format::urlencode(&s.text))
                                                >
                                                    {s.text.clone()}
                                                </a>
                                                <span class="text-sm text-slate-600 dark:text-slate-400">
                                                    {format!(" — {}", s.why)}
                                                </span>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        </div>
                    }
                })}
            {hint
                .map(|h| {
                    view! {
                        <p class="mt-2 text-sm text-amber-800 dark:text-amber-300" data-testid="explain-hint">
                            {h}
                        </p>
                    }
                })}
            <crate::app::pages::order::ExplanationFacts explanation />
        </section>
    }
}
