//! `/api-keys/{id}` (admins): one bot's key over the last day: its calls, failures, limit
//! hits and latency, whether it is failing now and since when, hour by hour.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::hooks::use_params_map;

use crate::{
    app::resource::page_resource,
    app::{
        components::{charts::CallsChart, error_notice::PageErrors, figure::Figure},
        format,
    },
    domain::api_usage::{Health, KeyReport, Tally},
    domain::error::AppError,
};

#[server(prefix = "/api/admin", endpoint = "api_key_usage", input = GetUrl)]
pub async fn api_key_usage(key: String) -> Result<KeyReport, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    let id = key.trim();
    let bootstrap = state.settings.bootstrap_api_key.is_some();
    state.api_usage.report(id, bootstrap, chrono::Utc::now()).await?.ok_or_else(|| {
        let shown: String = id.chars().take(40).collect();
        AppError::NotFound(format!("There is no API key “{shown}”. The list of keys links to each one's page."))
    })
}

#[component]
pub fn ApiKeyPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let data = page_resource(key, api_key_usage);
    view! {
        <p class="text-sm">
            <a class="text-indigo-700 underline dark:text-indigo-300" href="/api-keys">
                "All API keys"
            </a>
        </p>
        <Suspense fallback=|| view! { <p class="mt-2 text-slate-500 dark:text-slate-400">"Counting calls…"</p> }>
            <PageErrors class="mt-2">
                {move || Suspend::new(async move { data.await.map(|report| view! { <Report report /> }) })}
            </PageErrors>
        </Suspense>
    }
}

/// What the key is called on its page.
fn key_name(report: &KeyReport) -> String {
    match &report.key {
        Some(k) => k.name.clone(),
        None => "Bootstrap key (ORDERDESK_API_KEY)".to_owned(),
    }
}

#[component]
fn Report(report: KeyReport) -> impl IntoView {
    let name = key_name(&report);
    let about = match &report.key {
        Some(k) => format!(
            "Scope {} ({}){}. Created {}.{} Limits: {} calls a minute per process; {} numbers per vendor and {} vendors a day.",
            k.scope.as_str(),
            k.scope.opens(),
            k.vendor.as_deref().map(|v| format!(", numbers for vendor {v} only")).unwrap_or_default(),
            format::time(k.created_at),
            k.revoked_at.map(|at| format!(" Revoked {}.", format::time(Some(at)))).unwrap_or_default(),
            crate::domain::accounts::CALLS_PER_MINUTE,
            crate::domain::accounts::NUMBERS_PER_VENDOR_DAY,
            crate::domain::accounts::VENDORS_PER_DAY,
        ),
        None => "Set in the server's environment; it has every scope, and no rate or budget.".to_owned(),
    };
    let usage = report.usage;
    let t = usage.totals.clone();
    let hours = usage
        .hours
        .iter()
        .map(|h| (h.hour.format("%H:00").to_string(), h.tally.ok, h.tally.errors(), h.tally.limited))
        .collect();
    view! {
        <crate::app::head::PageTitle text=format!("{name} · API key · orderdesk") />
        <h1 class="mt-2 text-2xl font-bold break-all" data-testid="key-name">
            {name}
        </h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{about}</p>
        <HealthBanner health=usage.health.clone() />
        <p class="mt-4 text-sm text-slate-600 dark:text-slate-400">
            {format!(
                "From {} to {}. Every process's calls count; a process adds its own every few seconds.",
                format::time(Some(usage.since)),
                format::time(Some(usage.until)),
            )}
        </p>
        <dl class="mt-2 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6" data-testid="usage-figures">
            <Figure label="Calls" value=format::count(t.calls) />
            <Figure label="Failed" value=failed_share(&t) />
            <Figure label="Refused by a limit" value=format::count(t.limited) />
            <Figure label="p50" value=latency(&t, 0.5) />
            <Figure label="p95" value=latency(&t, 0.95) />
            <Figure label="Last call" value=format::time(t.last_at) />
        </dl>
        <h2 class="mt-6 text-lg font-semibold">"Calls per hour"</h2>
        <div class="mt-2">
            <CallsChart hours />
        </div>
        <h2 class="mt-6 text-lg font-semibold">"Hour by hour"</h2>
        <div class="mt-2 overflow-x-auto">
            <table class="w-full text-left text-sm tabular-nums" data-testid="usage-hours">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"Hour starting (UTC)"</th>
                        <th class="pr-3 text-right">"Calls"</th>
                        <th class="pr-3 text-right">"4xx"</th>
                        <th class="pr-3 text-right">"5xx"</th>
                        <th class="pr-3 text-right">"Limited"</th>
                        <th class="pr-3 text-right">"p50"</th>
                        <th class="text-right">"p95"</th>
                    </tr>
                </thead>
                <tbody>
                    {usage
                        .hours
                        .into_iter()
                        .rev()
                        .filter(|h| h.tally.calls > 0)
                        .map(|h| {
                            view! {
                                <tr class="border-t border-slate-100 dark:border-slate-800">
                                    <td class="py-1 pr-3">{h.hour.format("%Y-%m-%d %H:00").to_string()}</td>
                                    <td class="pr-3 text-right">{format::count(h.tally.calls)}</td>
                                    <td class="pr-3 text-right">{format::count(h.tally.rejected)}</td>
                                    <td class="pr-3 text-right">{format::count(h.tally.failed)}</td>
                                    <td class="pr-3 text-right">{format::count(h.tally.limited)}</td>
                                    <td class="pr-3 text-right whitespace-nowrap">{latency(&h.tally, 0.5)}</td>
                                    <td class="text-right whitespace-nowrap">{latency(&h.tally, 0.95)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {(t.calls == 0)
            .then(|| {
                view! {
                    <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">
                        "No calls with this key in the last 24 hours."
                    </p>
                }
            })}
    }
}

/// Failed calls (4xx and 5xx) with their share of all calls.
fn failed_share(t: &Tally) -> String {
    match t.calls {
        0 => "0".to_owned(),
        calls => format!("{} ({:.1}%)", format::count(t.errors()), t.errors() as f64 * 100.0 / calls as f64),
    }
}

fn latency(t: &Tally, q: f64) -> String {
    t.percentile(q).map(|l| l.to_string()).unwrap_or_else(|| format::MISSING.to_owned())
}

#[component]
fn HealthBanner(health: Health) -> impl IntoView {
    let (class, text) = match health {
        Health::Idle => (
            "border-slate-300 bg-slate-50 dark:border-slate-700 dark:bg-slate-900",
            "Idle: no calls in the last 24 hours.".to_owned(),
        ),
        Health::Working => (
            "border-emerald-300 bg-emerald-50 dark:border-emerald-700 dark:bg-emerald-950",
            "Working: its last call succeeded.".to_owned(),
        ),
        Health::Failing { since, last_ok, last_status } => (
            "border-red-300 bg-red-50 dark:border-red-700 dark:bg-red-950",
            format!(
                "Failing since {}: no call has succeeded since{}{}.",
                format::time(Some(since)),
                match last_ok {
                    Some(ok) => format!(" its last success at {}", format::time(Some(ok))),
                    None => " at least the start of the last 24 hours".to_owned(),
                },
                last_status.map(|s| format!("; a late failure was HTTP {s}")).unwrap_or_default(),
            ),
        ),
    };
    view! {
        <p class=format!("mt-3 rounded border p-3 text-sm {class}") role="status" data-testid="key-health">
            {text}
        </p>
    }
}
