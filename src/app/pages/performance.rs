//! `/performance`: every database operation orderdesk made, with counts, errors and latency
//! percentiles over the last five minutes, a chart of the slowest, and the latest slow
//! operations (kept in the capped `slow_queries` collection).

use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::resource::page_resource,
    app::{
        components::{
            charts::{LatencyChart, LatencyRow},
            error_notice::{ActionError, ErrorNotice, PageErrors},
        },
        format,
    },
    domain::error::AppError,
    domain::performance::PerformanceStats,
};

#[server(prefix = "/api/staff", endpoint = "performance_data", input = GetUrl)]
pub async fn performance_data() -> Result<PerformanceStats, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    Ok(crate::server::metrics::current(&state).await?)
}

/// MongoDB's profiler: its level, and the latest operations of other clients (the bots).
#[server(prefix = "/api/staff", endpoint = "profiler", input = GetUrl)]
pub async fn profiler() -> Result<crate::domain::performance::Profiler, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    Ok(state.store.profiler().await?)
}

/// Sets the profiling level of orderdesk's database (admins).
#[server(prefix = "/api/admin", endpoint = "set_profiling")]
pub async fn set_profiling(level: i32, slow_ms: i64, _csrf: String) -> Result<(), AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    if !(0..=2).contains(&level) {
        return Err(AppError::BadInput("the level is 0 (off), 1 (slow operations) or 2 (everything)".into()));
    }
    if !(1..=60_000).contains(&slow_ms) {
        return Err(AppError::BadInput("the threshold is 1 to 60,000 ms".into()));
    }
    Ok(state.store.set_profiling(level, slow_ms).await?)
}

#[component]
pub fn PerformancePage() -> impl IntoView {
    let data = page_resource(|| (), |_| performance_data());
    let set = ServerAction::<SetProfiling>::new();
    let profile = page_resource(move || set.version().get(), |_| profiler());
    view! {
        <h1 class="text-2xl font-bold">"Database performance"</h1>
        <Suspense fallback=|| view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading…"</p> }>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move { data.await.map(|d| view! { <Performance data=d /> }) })}
            </PageErrors>
        </Suspense>
        <h2 class="mt-6 text-lg font-semibold">"Other clients (MongoDB profiler)"</h2>
        <Transition fallback=|| {
            view! { <p class="text-slate-500 dark:text-slate-400">"Reading the profiler…"</p> }
        }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(p) => view! { <ProfilerView profiler=p set /> }.into_any(),
                    Err(e) => {
                        // The profiler is MongoDB's, and may be closed to orderdesk's user: the rest
                        // of the page stands.
                        view! { <ErrorNotice error=e part=true /> }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn ProfilerView(profiler: crate::domain::performance::Profiler, set: ServerAction<SetProfiling>) -> impl IntoView {
    let state = match profiler.level {
        0 => "off".to_owned(),
        1 => format!("on for operations over {} ms", profiler.slow_ms),
        _ => "on for every operation".to_owned(),
    };
    let admin = crate::app::viewer::is_admin();
    let csrf = crate::app::viewer::csrf();
    let slow_ms = profiler.slow_ms.max(1).to_string();
    view! {
        <p class="text-sm" data-testid="profiler-state">
            {format!("The profiler of this database is {state}.")}
        </p>
        {admin
            .then(|| {
                view! {
                    <ActionForm action=set attr:class="mt-2 flex flex-wrap items-end gap-2 text-sm">
                        <input type="hidden" name="_csrf" value=csrf />
                        <label>
                            "Level "
                            <select
                                name="level"
                                class="rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-800"
                            >
                                <option value="0">"0: off"</option>
                                <option value="1" selected>
                                    "1: slow operations"
                                </option>
                                <option value="2">"2: everything"</option>
                            </select>
                        </label>
                        <label>
                            "over (ms) "
                            <input
                                name="slow_ms"
                                type="number"
                                min="1"
                                max="60000"
                                value=slow_ms
                                class="w-24 rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-800"
                            />
                        </label>
                        <button
                            type="submit"
                            class="rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700"
                            data-testid="set-profiling"
                        >
                            "Set profiling"
                        </button>
                    </ActionForm>
                }
            })}
        <ActionError value=set.value() class="mt-2" />
        {if profiler.others.is_empty() {
            view! {
                <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">
                    "No operations of other clients recorded. With the profiler on, the bots' slow operations appear here."
                </p>
            }
                .into_any()
        } else {
            view! {
                <ul class="mt-2 text-sm tabular-nums" data-testid="profiled">
                    {profiler
                        .others
                        .into_iter()
                        .map(|o| {
                            view! {
                                <li>
                                    <span class="text-slate-500 dark:text-slate-400">{format::time(Some(o.at))}</span>
                                    " "
                                    <span class="font-mono">{o.op}</span>
                                    " "
                                    <span class="font-mono">{o.namespace}</span>
                                    {format!(" {} ms", o.millis)}
                                    <span class="text-slate-500 dark:text-slate-400">
                                        {if o.app.is_empty() { String::new() } else { format!(" ({})", o.app) }}
                                    </span>
                                </li>
                            }
                                .into_any()
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
    .into_any()
}

#[component]
fn Performance(data: PerformanceStats) -> impl IntoView {
    let intro = format!(
        "This process ({}) since it started; percentiles over the last {} minutes. Other orderdesk processes on the database count their own. Operations over {} ms are logged as SLOW DB QUERY and kept below. The same figures: /api/performance/stats (JSON, API key of scope stats) and /metrics (Prometheus).",
        data.instance,
        data.window_seconds / 60,
        data.slow_query_ms
    );
    // The ten slowest operations in the window.
    let rows: Vec<LatencyRow> = data
        .operations
        .iter()
        .filter(|o| o.window_count > 0)
        .take(10)
        .map(|o| LatencyRow {
            name: format!("{} {}", o.op, o.collection),
            p50_ms: o.p50_ms,
            p95_ms: o.p95_ms,
            p99_ms: o.p99_ms,
        })
        .collect();
    view! {
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{intro}</p>
        <div class="mt-4">
            <LatencyChart rows />
        </div>
        <div class="mt-4 overflow-x-auto">
            <table class="w-full text-left text-sm tabular-nums" data-testid="operations">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"Operation"</th>
                        <th class="pr-3">"Collection"</th>
                        <th class="pr-3 text-right">"Calls"</th>
                        <th class="pr-3 text-right">"Errors"</th>
                        <th class="pr-3 text-right">"p50 ms"</th>
                        <th class="pr-3 text-right">"p95 ms"</th>
                        <th class="pr-3 text-right">"p99 ms"</th>
                        <th class="text-right">"max ms"</th>
                    </tr>
                </thead>
                <tbody>
                    {data
                        .operations
                        .into_iter()
                        .map(|o| {
                            view! {
                                <tr class="border-t border-slate-100 dark:border-slate-800">
                                    <td class="py-1 pr-3 font-mono">{o.op}</td>
                                    <td class="pr-3 font-mono">{o.collection}</td>
                                    <td class="pr-3 text-right">{format::count(o.count)}</td>
                                    <td class="pr-3 text-right">{format::count(o.errors)}</td>
                                    <td class="pr-3 text-right">{format!("{:.2}", o.p50_ms)}</td>
                                    <td class="pr-3 text-right">{format!("{:.2}", o.p95_ms)}</td>
                                    <td class="pr-3 text-right">{format!("{:.2}", o.p99_ms)}</td>
                                    <td class="text-right">{format!("{:.2}", o.max_ms)}</td>
                                </tr>
                            }
                                .into_any()
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <h2 class="mt-6 text-lg font-semibold">"Latest slow operations"</h2>
        {if data.recent_slow.is_empty() {
            view! {
                <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">
                    "None yet. Operations slower than the threshold appear here, newest first."
                </p>
            }
                .into_any()
        } else {
            view! {
                <ul class="mt-1 text-sm tabular-nums" data-testid="slow">
                    {data
                        .recent_slow
                        .into_iter()
                        .map(|s| {
                            view! {
                                <li>
                                    <span class="text-slate-500 dark:text-slate-400">{format::time(Some(s.at))}</span>
                                    " "
                                    <span class="font-mono">{s.op}</span>
                                    " on "
                                    <span class="font-mono">{s.collection}</span>
                                    {s
                                        .order
                                        .map(|o| {
                                            view! {
                                                " for order "
                                                <a
                                                    class="font-mono text-indigo-700 underline dark:text-indigo-300"
                                                    href=format::order_href(&o)
                                                >
                                                    {o.clone()}
                                                </a>
                                            }
                                        })}
                                    {format!(" took {:.1} ms{}", s.ms, if s.ok { "" } else { " (failed)" })}
                                </li>
                            }
                                .into_any()
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
    .into_any()
}
