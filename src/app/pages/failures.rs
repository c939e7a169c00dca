//! `/failures`: failure rates by ID scheme, status, vendor and day, and the time from
//! creation to completion (p50 / p90 / p99 and a histogram), over the last N days.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::hooks::use_query_map;

use crate::{
    app::resource::page_resource,
    app::{
        components::{charts::BarChart, error_notice::PageErrors},
        format,
    },
    domain::error::AppError,
    domain::failures::{FailureReport, OLDER_FIGURES_MAX_AGE, RECENT_FIGURES_MAX_AGE, Rate, RefundCandidates},
};

#[server(prefix = "/api/staff", endpoint = "failures_data", input = GetUrl)]
pub async fn failures_data(days: u32) -> Result<FailureReport, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    if !(1..=90).contains(&days) {
        return Err(AppError::BadInput("days must be between 1 and 90".into()));
    }
    Ok(crate::services::monitoring::failure_report(&state.store, state.settings.time_zone, chrono::Utc::now(), days)
        .await?)
}

/// Failed orders of the period that were paid and not refunded, with the sum owed.
#[server(prefix = "/api/staff", endpoint = "refunds_owed", input = GetUrl)]
pub async fn refunds_owed(days: u32) -> Result<RefundCandidates, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    if !(1..=90).contains(&days) {
        return Err(AppError::BadInput("days must be between 1 and 90".into()));
    }
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    Ok(RefundCandidates::new(state.store.refund_candidates(since, REFUND_LIST).await?, REFUND_LIST))
}

/// Refund candidates listed at most.
#[cfg(feature = "ssr")]
const REFUND_LIST: usize = 200;

#[component]
pub fn FailuresPage() -> impl IntoView {
    let query = use_query_map();
    let days = move || query.with(|q| q.get("days")).and_then(|d| d.trim().parse::<u32>().ok()).unwrap_or(30);
    let report = page_resource(days, failures_data);
    let refunds = page_resource(days, refunds_owed);
    view! {
        <h1 class="text-2xl font-bold">"Where orders fail"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Orders created in the last N days (today included); failed means status failed or cancelled. Period: "
            {[7u32, 30, 90]
                .into_iter()
                .map(|d| {
                    view! {
                        <a
                            class="mr-2 text-indigo-700 underline dark:text-indigo-300"
                            href=format!("/failures?days={d}")
                        >
                            {format!("{d} days")}
                        </a>
                    }
                })
                .collect_view()}
        </p>
        <Suspense fallback=|| view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Computing…"</p> }>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move { report.await.map(|r| view! { <Report report=r /> }) })}
            </PageErrors>
        </Suspense>
        <Suspense fallback=|| ()>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move {
                    match refunds.await {
                        Err(AppError::BadInput(_)) => Ok(None),
                        found => {
                            found
                                .map(|r| Some(
                                    // The report above already says what is wrong with the period.
                                    view! { <Refunds refunds=r /> },
                                ))
                        }
                    }
                })}
            </PageErrors>
        </Suspense>
    }
    .into_any()
}

/// Paid, failed and not refunded: each order to look at, and what is owed.
#[component]
fn Refunds(refunds: RefundCandidates) -> impl IntoView {
    let owed = refunds
        .owed
        .iter()
        .map(|(currency, sum)| format::money(Some(*sum), (!currency.is_empty()).then_some(currency.as_str())))
        .collect::<Vec<_>>()
        .join(" + ");
    view! {
        <section class="mt-6" data-testid="refund-candidates">
            <h2 class="text-lg font-semibold">"Failed after payment, not refunded"</h2>
            {if refunds.orders.is_empty() {
                view! { <p class="text-sm text-slate-500 dark:text-slate-400">"None in the period."</p> }.into_any()
            } else {
                view! {
                    <p class="text-sm" data-testid="refunds-owed">
                        {format!(
                            "{} order{}{}, {owed} owed to customers.",
                            refunds.orders.len(),
                            if refunds.orders.len() == 1 { "" } else { "s" },
                            if refunds.more { " (the newest; there are more)" } else { "" },
                        )}
                    </p>
                    <table class="mt-1 w-full max-w-3xl text-left text-sm tabular-nums">
                        <thead class="text-slate-500 dark:text-slate-400">
                            <tr>
                                <th class="py-1 pr-3">"Order"</th>
                                <th class="pr-3 text-right">"Paid"</th>
                                <th class="pr-3">"Failed"</th>
                                <th>"Why"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {refunds
                                .orders
                                .into_iter()
                                .map(|c| {
                                    let href = c.order.page_key().map(format::order_href).unwrap_or_default();
                                    view! {
                                        <tr class="border-t border-slate-100 dark:border-slate-800">
                                            <td class="py-1 pr-3 font-mono">
                                                <a class="text-indigo-700 underline dark:text-indigo-300" href=href>
                                                    {c.order.headline()}
                                                </a>
                                            </td>
                                            <td class="pr-3 text-right">
                                                {format::money(Some(c.paid), c.currency.as_deref())}
                                            </td>
                                            <td class="pr-3">{format::time(c.failed_at.or(c.order.created_at))}</td>
                                            <td>{format::text(c.failure_reason.as_deref())}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
    }
}

fn percent(r: &Rate) -> String {
    format!("{:.1}%", r.rate() * 100.0)
}

#[component]
fn RateTable(title: &'static str, rows: Vec<Rate>, testid: &'static str) -> impl IntoView {
    view! {
        <section class="mt-6">
            <h2 class="text-lg font-semibold">{title}</h2>
            {if rows.is_empty() {
                view! { <p class="text-sm text-slate-500 dark:text-slate-400">"No orders in the period."</p> }
                    .into_any()
            } else {
                view! {
                    <table class="mt-1 w-full max-w-2xl text-left text-sm tabular-nums" data-testid=testid>
                        <thead class="text-slate-500 dark:text-slate-400">
                            <tr>
                                <th class="py-1 pr-3"></th>
                                <th class="pr-3 text-right">"Orders"</th>
                                <th class="pr-3 text-right">"Failed"</th>
                                <th class="text-right">"Rate"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|r| {
                                    view! {
                                        <tr class="border-t border-slate-100 dark:border-slate-800">
                                            <td class="py-1 pr-3 font-mono">{r.key.clone()}</td>
                                            <td class="pr-3 text-right">{format::count(r.orders)}</td>
                                            <td class="pr-3 text-right">{format::count(r.failed)}</td>
                                            <td class="text-right">{percent(&r)}</td>
                                        </tr>
                                    }
                                        .into_any()
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn Report(report: FailureReport) -> impl IntoView {
    let c = report.completion.clone();
    let by_day: Vec<(String, f64)> =
        report.by_day.iter().map(|r| (r.key.get(5..).unwrap_or(&r.key).to_owned(), r.rate() * 100.0)).collect();
    let hist: Vec<(String, f64)> = c.histogram.iter().map(|(k, n)| (k.clone(), *n as f64)).collect();
    let summary = format!(
        "{} orders in the last {} days, {} failed ({}).",
        format::count(report.total.orders),
        report.days,
        format::count(report.total.failed),
        percent(&report.total)
    );
    view! {
        <p class="mt-4 font-medium" data-testid="failure-summary">
            {summary}
        </p>
        <p class="text-xs text-slate-500 dark:text-slate-400" data-testid="figures-as-of">
            {format!(
                "Figures as of {}. Each day is aggregated once on the server and kept: today and yesterday are recomputed when older than {} s, earlier days every {} minutes.",
                format::time(report.as_of),
                RECENT_FIGURES_MAX_AGE.num_seconds(),
                OLDER_FIGURES_MAX_AGE.num_minutes(),
            )}
        </p>
        <section class="mt-4">
            <h2 class="text-lg font-semibold">"Failure rate by day"</h2>
            <BarChart label="Failure rate by day".to_owned() unit="% failed".to_owned() bars=by_day />
        </section>
        <RateTable title="By ID scheme" rows=report.by_scheme testid="by-scheme" />
        <RateTable title="By status" rows=report.by_status testid="by-status" />
        <RateTable title="By vendor (most failures first, top 50)" rows=report.by_vendor testid="by-vendor" />
        <section class="mt-6" data-testid="completion">
            <h2 class="text-lg font-semibold">"From creation to completion"</h2>
            <p class="text-sm tabular-nums">
                {format!(
                    "{} completed orders: p50 {:.0} min, p90 {:.0} min, p99 {:.0} min",
                    format::count(c.orders),
                    c.p50_minutes,
                    c.p90_minutes,
                    c.p99_minutes,
                )}
            </p>
            <BarChart label="Completed orders by time to completion".to_owned() unit="orders".to_owned() bars=hist />
        </section>
    }
    .into_any()
}
