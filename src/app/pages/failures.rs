//! `/failures`: failure rates by ID scheme, status, vendor and day, and the time from
//! creation to completion (p50 / p90 / p99 and a histogram), over the last N days.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::hooks::use_query_map;

use crate::{
    app::{components::error_notice::ErrorNotice, format},
    domain::error::AppError,
    domain::failures::{FailureReport, OLDER_FIGURES_MAX_AGE, RECENT_FIGURES_MAX_AGE, Rate},
};

#[server(prefix = "/api/staff", input = GetUrl)]
pub async fn failures_data(days: u32) -> Result<FailureReport, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    if !(1..=90).contains(&days) {
        return Err(AppError::BadInput("days must be between 1 and 90".into()));
    }
    Ok(crate::services::monitoring::failure_report(&state.store, state.settings.time_zone, chrono::Utc::now(), days)
        .await?)
}

#[component]
pub fn FailuresPage() -> impl IntoView {
    let query = use_query_map();
    let days = move || query.with(|q| q.get("days")).and_then(|d| d.trim().parse::<u32>().ok()).unwrap_or(30);
    let report = Resource::new(days, failures_data);
    view! {
        <h1 class="text-2xl font-bold">"Where orders fail"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Orders created in the last N days (today included); failed means status failed or cancelled. Period: "
            {[7u32, 30, 90].into_iter().map(|d| view! { <a class="mr-2 text-indigo-700 underline dark:text-indigo-300" href=format!("/failures?days={d}")>{format!("{d} days")}</a> }).collect_view()}
        </p>
        <Suspense fallback=|| view! { <p class="mt-4 text-slate-500">"Computing…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(r) => view! { <Report report=r /> }.into_any(),
                    Err(e) => view! { <div class="mt-4"><ErrorNotice error=e /></div> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
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
                view! { <p class="text-sm text-slate-500">"No orders in the period."</p> }.into_any()
            } else {
                view! {
                    <table class="mt-1 w-full max-w-2xl text-left text-sm tabular-nums" data-testid=testid>
                        <thead class="text-slate-500"><tr><th class="py-1 pr-3"></th><th class="pr-3 text-right">"Orders"</th><th class="pr-3 text-right">"Failed"</th><th class="text-right">"Rate"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr class="border-t border-slate-100 dark:border-slate-800">
                                    <td class="py-1 pr-3 font-mono">{r.key.clone()}</td>
                                    <td class="pr-3 text-right">{format::count(r.orders)}</td>
                                    <td class="pr-3 text-right">{format::count(r.failed)}</td>
                                    <td class="text-right">{percent(&r)}</td>
                                </tr>
                            }.into_any()).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

/// Bars of a series as SVG: labels under the bars, values as titles, a labelled y axis.
pub fn bar_chart(label: &str, unit: &str, bars: &[(String, f64)]) -> String {
    if bars.is_empty() {
        return format!(
            r#"<p class="text-sm text-slate-500">No data for “{}” in the period.</p>"#,
            format::escape_html(label)
        );
    }
    let (left, width, height) = (56.0, 640.0, 150.0);
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max).max(1e-9);
    let step = width / bars.len() as f64;
    let mut svg = format!(
        r#"<svg role="img" aria-label="{l} ({u})" viewBox="0 0 {w} {h}" class="w-full max-w-3xl text-slate-700 dark:text-slate-300" xmlns="http://www.w3.org/2000/svg"><title>{l} ({u})</title>"#,
        l = format::escape_html(label),
        u = format::escape_html(unit),
        w = left + width + 10.0,
        h = height + 44.0
    );
    let every = (bars.len() / 8).max(1);
    for (i, (name, value)) in bars.iter().enumerate() {
        let x = left + i as f64 * step;
        let bh = value / max * height;
        let name = format::escape_html(name);
        svg += &format!(
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" class="fill-indigo-500 dark:fill-indigo-400"><title>{name}: {value:.1} {}</title></rect>"#,
            x + 1.0,
            height - bh + 10.0,
            (step - 2.0).max(1.0),
            format::escape_html(unit)
        );
        if i % every == 0 {
            svg +=
                &format!(r#"<text x="{x:.1}" y="{}" font-size="10" fill="currentColor">{name}</text>"#, height + 26.0);
        }
    }
    svg += &format!(
        r#"<line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="currentColor" stroke-width="0.5"/><text x="{t}" y="16" text-anchor="end" font-size="10" fill="currentColor">{max:.1}</text><text x="{t}" y="{b}" text-anchor="end" font-size="10" fill="currentColor">0</text><text x="4" y="{m}" font-size="10" fill="currentColor">{u}</text></svg>"#,
        b = height + 10.0,
        r = left + width,
        t = left - 4.0,
        m = height / 2.0,
        u = format::escape_html(unit)
    );
    svg
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
        <p class="mt-4 font-medium" data-testid="failure-summary">{summary}</p>
        <p class="text-xs text-slate-500 dark:text-slate-400" data-testid="figures-as-of">
            {format!(
                "Figures as of {}. Each day is aggregated once on the server and kept: today and yesterday are recomputed when older than {} s, earlier days every {} minutes.",
                format::time(report.as_of),
                RECENT_FIGURES_MAX_AGE.num_seconds(),
                OLDER_FIGURES_MAX_AGE.num_minutes()
            )}
        </p>
        <section class="mt-4">
            <h2 class="text-lg font-semibold">"Failure rate by day"</h2>
            <div inner_html=bar_chart("Failure rate by day", "% failed", &by_day)></div>
        </section>
        <RateTable title="By ID scheme" rows=report.by_scheme testid="by-scheme" />
        <RateTable title="By status" rows=report.by_status testid="by-status" />
        <RateTable title="By vendor (most failures first, top 50)" rows=report.by_vendor testid="by-vendor" />
        <section class="mt-6" data-testid="completion">
            <h2 class="text-lg font-semibold">"From creation to completion"</h2>
            <p class="text-sm tabular-nums">{format!("{} completed orders: p50 {:.0} min, p90 {:.0} min, p99 {:.0} min", format::count(c.orders), c.p50_minutes, c.p90_minutes, c.p99_minutes)}</p>
            <div inner_html=bar_chart("Completed orders by time to completion", "orders", &hist)></div>
        </section>
    }
    .into_any()
}
