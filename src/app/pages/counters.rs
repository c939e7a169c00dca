//! `/counters`: today's counter for every vendor (sequence, share of the 99,999 cap, last
//! update, orders in the last hour) with warnings, sortable and filterable, updated without a
//! reload as counters change (`services::live_counters`; every two seconds on a standalone);
//! `?vendor=` adds that vendor's last 30 days as a chart.
//!
//! Long (about 560 lines, most of them view markup as leptosfmt writes it): the table, its
//! live refresh and the vendor's chart share the page's query.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    app::resource::page_resource,
    app::{
        components::{charts::IssuedHeldChart, error_notice::PageErrors},
        format,
    },
    domain::counter_table::{CounterSort, CounterTable},
    domain::counters::{CounterRow, CounterWarning},
    domain::error::AppError,
};

/// Today's counters as the table shows them: filtered by vendor, in `sort` order, the first
/// `ROWS_SHOWN` rows unless `all`.
#[server(prefix = "/api/staff", endpoint = "counters_today", input = GetUrl)]
pub async fn counters_today(q: String, sort: CounterSort, all: bool) -> Result<CounterTable, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    let view = crate::services::monitoring::counters_today(
        &state.store,
        &state.day_shapes,
        state.settings.time_zone,
        state.settings.time_bucket_minutes,
        chrono::Utc::now(),
    )
    .await?;
    Ok(CounterTable::of(view, &q, sort, if all { usize::MAX } else { crate::domain::counter_table::ROWS_SHOWN }))
}

/// A vendor's last 30 days: (day, counter sequence, numbered orders).
#[server(prefix = "/api/staff", endpoint = "vendor_history", input = GetUrl)]
pub async fn vendor_history(
    vendor: crate::domain::ids::VendorId,
) -> Result<Vec<(chrono::NaiveDate, u64, u64)>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    Ok(crate::services::monitoring::vendor_history(&state.store, state.settings.time_zone, &vendor, chrono::Utc::now())
        .await?)
}

/// Waits until a counter changes (a long poll of at most 8 s) and returns the version after
/// it; `None` when this server does not follow the counters (a standalone mongod): poll then.
/// Pass a version this returned, or 0 for "tell me the current one".
#[server(prefix = "/api/staff", endpoint = "counters_changed", input = GetUrl)]
pub async fn counters_changed(seen: u64) -> Result<Option<u64>, AppError> {
    let (state, caller) = crate::server::require(crate::domain::accounts::Role::Support)?;
    // The caller is known: the wait holds a long-poll place instead of a work turn.
    let _place = state.long_polls.enter(Some(&caller.viewer.csrf)).ok_or_else(|| {
        AppError::Busy("Too many live views are open; this one refreshes every few seconds instead.".into())
    })?;
    crate::server::give_back_turn();
    Ok(state.counter_changes.wait(seen).await)
}

/// How often the table refreshes when the server cannot tell it of changes.
const REFRESH_MS: u64 = 2_000;

#[component]
pub fn CountersPage() -> impl IntoView {
    let query = use_query_map();
    let tick = RwSignal::new(0u32);
    // Live: a long poll that returns when a counter changed. Polling every 2 s instead while
    // the server cannot follow the counters, or after an error (then the long poll is tried
    // again on the next tick).
    let (live, waiting, never) = (RwSignal::new(false), RwSignal::new(false), RwSignal::new(false));
    let listen = move || {
        waiting.set(true);
        leptos::task::spawn_local(async move {
            let mut seen = 0;
            loop {
                let answer = counters_changed(seen).await;
                // The page was left meanwhile (its signals are gone): stop listening.
                if live.try_get_untracked().is_none() {
                    return;
                }
                match answer {
                    Ok(Some(latest)) => {
                        live.set(true);
                        // The first answer may only say where the counters stand (one refresh
                        // too many); every later one is a change.
                        if latest > seen {
                            tick.update(|t| *t += 1);
                        }
                        seen = seen.max(latest);
                    }
                    // This server cannot tell of changes: poll for the rest of the visit.
                    Ok(None) => {
                        never.set(true);
                        break;
                    }
                    Err(_) => break,
                }
            }
            live.set(false);
            waiting.set(false);
        });
    };
    Effect::new(move |_| {
        listen();
        let poll = move || {
            if !live.get_untracked() {
                tick.update(|t| *t += 1);
                if !waiting.get_untracked() && !never.get_untracked() {
                    listen();
                }
            }
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_millis(REFRESH_MS)) {
            on_cleanup(move || handle.clear());
        }
    });
    let filter = move || query.with(|q| q.get("q")).unwrap_or_default();
    let sort = move || CounterSort::from_query(&query.with(|q| q.get("sort")).unwrap_or_default());
    let all = move || query.with(|q| q.get("all")).is_some_and(|a| a == "1");
    let data =
        page_resource(move || (tick.get(), filter(), sort(), all()), |(_, q, sort, all)| counters_today(q, sort, all));
    let vendor = move || query.with(|q| q.get("vendor")).filter(|v| !v.trim().is_empty());
    let history = page_resource(vendor, |v| async move {
        match v {
            Some(v) => {
                let vendor = crate::domain::ids::VendorId::parse(v.trim())?;
                vendor_history(vendor).await.map(|h| Some((v, h)))
            }
            None => Ok(None),
        }
    });
    let input = "mt-1 block w-56 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <h1 class="text-2xl font-bold">"Daily counters"</h1>
        <Form method="GET" action="/counters" attr:class="mt-3 flex flex-wrap items-end gap-3 text-sm">
            <label>"Vendor contains"<input class=input name="q" prop:value=filter /></label>
            <input type="hidden" name="sort" prop:value=move || sort().as_query() />
            <button type="submit" class="rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">
                "Filter"
            </button>
        </Form>
        <Transition fallback=|| view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading counters…"</p> }>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move {
                    history.await.map(|h| h.map(|(v, days)| view! { <VendorChart vendor=v days /> }))
                })}
            </PageErrors>
        </Transition>
        <Transition fallback=|| view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading counters…"</p> }>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move {
                    data.await.map(|table| view! { <CounterTableView table filter=filter() sort=sort() /> })
                })}
            </PageErrors>
        </Transition>
    }
    .into_any()
}

/// "0.04%" rather than "0.0%": a small share must still read as more than nothing.
fn share_text(share: f64) -> String {
    if share > 0.0 && share < 0.01 { format!("{:.2}%", share * 100.0) } else { format!("{:.1}%", share * 100.0) }
}

/// The vendor an admin should look at first, twice over: the busiest in the last hour and
/// the one whose counter reaches the cap soonest.
#[component]
fn AtAGlance(busiest: Option<CounterRow>, nearest: Option<CounterRow>) -> impl IntoView {
    let card = "rounded border border-slate-200 p-3 dark:border-slate-700";
    let vendor = |r: &CounterRow| r.vendor.clone().unwrap_or_else(|| r.counter_id.clone());
    view! {
        <div class="mt-4 grid gap-3 sm:grid-cols-2" data-testid="counters-glance">
            <div class=card data-testid="glance-busiest">
                <p class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">
                    "Busiest in the last hour"
                </p>
                {match busiest {
                    Some(r) => {
                        view! {
                            <p class="mt-1 font-mono text-lg font-semibold">{vendor(&r)}</p>
                            <p class="text-sm">
                                {format!(
                                    "{} orders in the last hour · {} numbers today",
                                    format::count(r.orders_last_hour),
                                    format::count(r.sequence),
                                )}
                            </p>
                        }
                            .into_any()
                    }
                    None => {
                        view! {
                            <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">
                                "No numbered order in the last hour."
                            </p>
                        }
                            .into_any()
                    }
                }}
            </div>
            <div class=card data-testid="glance-nearest-cap">
                <p class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">
                    "Nearest to the daily cap"
                </p>
                {match nearest {
                    Some(r) => {
                        let when = match r.forecast.as_ref().and_then(|f| f.cap_at.map(|at| (at, f.hours_to_cap))) {
                            Some((at, h)) => format!("reaches 99,999 at {} UTC (in {h:.1} h)", at.format("%H:%M")),
                            None => "does not reach the cap today at this rate".to_owned(),
                        };
                        let urgent = r
                            .warnings
                            .iter()
                            .any(|w| matches!(w, CounterWarning::CapForecast { .. } | CounterWarning::NearCap { .. }));
                        view! {
                            <p
                                class="mt-1 font-mono text-lg font-semibold"
                                class=("text-red-700", urgent)
                                class=("dark:text-red-300", urgent)
                            >
                                {vendor(&r)}
                            </p>
                            <p class="text-sm">
                                {format!("{} ({}) · {when}", format::count(r.sequence), share_text(r.share()))}
                            </p>
                        }
                            .into_any()
                    }
                    None => {
                        view! {
                            <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">
                                "No counter has issued a number today."
                            </p>
                        }
                            .into_any()
                    }
                }}
            </div>
        </div>
    }
}

/// The forecast cell: when the cap comes, and segment-mode advice for a hot counter.
fn forecast_cell(row: &CounterRow) -> impl IntoView + use<> {
    let Some(f) = row.forecast.clone() else { return view! { <span>{format::MISSING}</span> }.into_any() };
    let when = match f.cap_at {
        Some(at) => view! {
            <span class="font-semibold text-red-700 dark:text-red-300">
                {format!("{} UTC (in {:.1} h)", at.format("%H:%M"), f.hours_to_cap)}
            </span>
        }
        .into_any(),
        None if f.per_hour > 0.0 => view! { <span>"not today"</span> }.into_any(),
        None => view! { <span class="text-slate-500 dark:text-slate-400">"idle"</span> }.into_any(),
    };
    view! {
        <div data-testid="forecast">
            {when}
            <span class="block text-xs text-slate-500 dark:text-slate-400">
                {format!(
                    "{}/h now{}",
                    format::count(f.per_hour.round() as u64),
                    if f.shaped { ", by its usual day" } else { "" },
                )}
            </span>
            {f
                .segment_block
                .map(|b| {
                    view! {
                        <span class="block text-xs text-amber-800 dark:text-amber-300" data-testid="segment-advice">
                            {format!("hot: segment mode, blocks of {b}")}
                        </span>
                    }
                })}
        </div>
    }
    .into_any()
}

fn warning_badge(w: &CounterWarning) -> impl IntoView + use<> {
    let colour = match w {
        CounterWarning::NearCap { .. }
        | CounterWarning::CapForecast { .. }
        | CounterWarning::MoreOrdersThanNumbers { .. }
        | CounterWarning::Unparseable { .. } => "bg-red-100 text-red-900 dark:bg-red-950 dark:text-red-200",
        _ => "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200",
    };
    view! {
        <span class=format!("mr-1 inline-block rounded px-1.5 py-0.5 text-xs {colour}") data-warning=w.kind()>
            {w.describe()}
        </span>
    }
}

#[component]
fn CounterTableView(table: CounterTable, filter: String, sort: CounterSort) -> impl IntoView {
    let CounterTable {
        day,
        time_zone,
        total,
        warned,
        busiest,
        nearest,
        matching,
        rows,
        time_based,
        time_bucket_minutes,
        malformed,
        cut_at,
    } = table;
    let head = {
        let filter = filter.clone();
        move |key: CounterSort, label: &'static str| {
            let href = format!("/counters?sort={}&q={}", key.as_query(), format::urlencode(&filter));
            view! {
                <th class="py-1 pr-3">
                    <a class="hover:underline" href=href>
                        {label}
                    </a>
                </th>
            }
        }
    };
    let summary = format!(
        "{day} — {total} vendors have a counter today ({time_zone} time), {warned} with warnings. Updates as they change, without a reload."
    );
    // A filter says how many counters it keeps, so that "10 rows" is not read as "10 vendors".
    let matched = (!filter.trim().is_empty()).then(|| {
        view! {
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400" data-testid="counters-matching">
                {format!(
                    "{} of {} counters match “{}”.",
                    format::count(matching as u64),
                    format::count(total as u64),
                    filter.trim(),
                )}
            </p>
        }
    });
    // Past the rows shown: how many more, and the link that shows them all.
    let more = (matching > rows.len()).then(|| {
        let href = format!("/counters?sort={}&q={}&all=1", sort.as_query(), format::urlencode(&filter));
        view! {
            <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="counters-more">
                {format!(
                    "Showing the first {} of {} counters. ",
                    format::count(rows.len() as u64),
                    format::count(matching as u64),
                )}
                <a class="text-indigo-700 underline dark:text-indigo-300" href=href>
                    "Show all"
                </a>
            </p>
        }
    });
    view! {
        <AtAGlance busiest nearest />
        <p class="mt-4 text-sm text-slate-600 dark:text-slate-400" data-testid="counters-summary">
            {summary}
        </p>
        {matched}
        {if rows.is_empty() {
            view! {
                <p class="mt-2 text-slate-500 dark:text-slate-400" data-testid="counters-empty">
                    "No counter matches. Each vendor's counter appears here with its first BB number of the day."
                </p>
            }
                .into_any()
        } else {
            view! {
                <div class="mt-2 overflow-x-auto">
                    <table class="w-full text-left text-sm tabular-nums" data-testid="counters">
                        <thead class="text-slate-500 dark:text-slate-400">
                            <tr>
                                {head(CounterSort::Vendor, "Counter")}{head(CounterSort::Share, "Sequence")}
                                <th class="pr-3">"Share of cap"</th>{head(CounterSort::Updated, "Last update")}
                                {head(CounterSort::Hour, "Orders last hour")}{head(CounterSort::Cap, "Cap forecast")}
                                {head(CounterSort::Warnings, "Warnings")}
                            </tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|r| {
                                    let share = r.share();
                                    let bar = if share >= 0.8
                                        || r.warnings.iter().any(|w| matches!(w, CounterWarning::CapForecast { .. }))
                                    {
                                        "bg-red-600"
                                    } else {
                                        "bg-indigo-600"
                                    };
                                    let width = if r.sequence > 0 { (share * 100.0).clamp(1.0, 100.0) } else { 0.0 };
                                    let vendor_link = r
                                        .vendor
                                        .clone()
                                        .map(|v| format!("/counters?vendor={}", format::urlencode(&v)));
                                    // Any number issued shows at least a sliver of bar.
                                    view! {
                                        <tr
                                            class="border-t border-slate-100 align-top dark:border-slate-800"
                                            data-counter=r.counter_id.clone()
                                        >
                                            <td class="py-1 pr-3 font-mono">
                                                {match vendor_link {
                                                    Some(days) => {
                                                        view! {
                                                            <a
                                                                class="text-indigo-700 underline dark:text-indigo-300"
                                                                href=format!(
                                                                    "/counters/{}",
                                                                    format::urlencode(&r.counter_id),
                                                                )
                                                                title="Numbers issued against numbers held, gap by gap"
                                                            >
                                                                {r.counter_id.clone()}
                                                            </a>
                                                            <a
                                                                class="ml-2 text-xs text-slate-600 underline dark:text-slate-400"
                                                                href=days
                                                            >
                                                                "30 days"
                                                            </a>
                                                        }
                                                            .into_any()
                                                    }
                                                    None => view! { <span>{r.counter_id.clone()}</span> }.into_any(),
                                                }}
                                            </td>
                                            <td class="pr-3 text-right" data-testid="sequence">
                                                {format::count(r.sequence)}
                                            </td>
                                            <td class="pr-3">
                                                <div class="flex items-center gap-2">
                                                    <div class="h-2 w-24 rounded bg-slate-200 dark:bg-slate-700">
                                                        <div
                                                            class=format!("h-2 rounded {bar}")
                                                            style=format!("width: {width:.1}%")
                                                        ></div>
                                                    </div>
                                                    {share_text(share)}
                                                </div>
                                            </td>
                                            <td class="pr-3 whitespace-nowrap">{format::time(r.last_updated)}</td>
                                            <td class="pr-3 text-right">{format::count(r.orders_last_hour)}</td>
                                            <td class="pr-3">{forecast_cell(&r)}</td>
                                            <td>{r.warnings.iter().map(warning_badge).collect_view()}</td>
                                        </tr>
                                    }
                                        .into_any()
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
        <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="counters-backup">
            "Back up this day's counters: "
            <a class="text-indigo-700 underline dark:text-indigo-300" href=format!("/counters.csv?day={day}")>
                "CSV"
            </a>
            " · "
            <a class="text-indigo-700 underline dark:text-indigo-300" href=format!("/counters.json?day={day}")>
                "JSON"
            </a>
        </p>
        {more}
        <TimeBased rows=time_based minutes=time_bucket_minutes />
        {cut_at
            .map(|n| {
                view! {
                    <p class="mt-2 text-sm text-amber-800 dark:text-amber-200" role="status" data-testid="counters-cut">
                        {format!(
                            "This day has more than {} counters: the {} nearest their cap are listed. Filter by vendor to see another.",
                            format::count(n),
                            format::count(n),
                        )}
                    </p>
                }
            })}
        {(!malformed.is_empty())
            .then(|| {
                view! {
                    <h2 class="mt-6 text-lg font-semibold">"Counters whose counterId does not parse"</h2>
                    <ul class="mt-1 text-sm" data-testid="malformed-counters">
                        {malformed
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <li>
                                        <span class="font-mono">{r.counter_id.clone()}</span>
                                        " "
                                        {r.warnings.iter().map(warning_badge).collect_view()}
                                    </li>
                                }
                                    .into_any()
                            })
                            .collect_view()}
                    </ul>
                }
            })}
    }
    .into_any()
}

/// Today's time-based counters, one row per vendor: its buckets summed, the busiest named.
#[component]
fn TimeBased(rows: Vec<crate::domain::counters::TimeBasedRow>, minutes: u32) -> impl IntoView {
    (!rows.is_empty()).then(|| {
        let length = if minutes.is_multiple_of(60) { format!("{} h", minutes / 60) } else { format!("{minutes} min") };
        view! {
            <h2 class="mt-6 text-lg font-semibold">"Time-based counters today"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                {format!(
                    "Time-based numbers (BB-{{10-digit seconds}}-…) count on one counter per vendor and {length} bucket; each bucket holds up to 99,999.",
                )}
            </p>
            <div class="mt-2 overflow-x-auto">
                <table class="w-full text-left text-sm tabular-nums" data-testid="time-based-counters">
                    <thead class="text-slate-500 dark:text-slate-400">
                        <tr>
                            <th class="py-1 pr-3">"Vendor"</th>
                            <th class="pr-3">"Buckets"</th>
                            <th class="pr-3">"Numbers"</th>
                            <th class="pr-3">"Busiest bucket"</th>
                            <th class="pr-3">"Last update"</th>
                            <th>"Warnings"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <tr
                                        class="border-t border-slate-100 align-top dark:border-slate-800"
                                        data-vendor=r.vendor.clone()
                                    >
                                        <td class="py-1 pr-3 font-mono">{r.vendor.clone()}</td>
                                        <td class="pr-3 text-right">{format::count(u64::from(r.buckets))}</td>
                                        <td class="pr-3 text-right">{format::count(r.issued)}</td>
                                        <td class="pr-3">
                                            <a
                                                class="font-mono text-indigo-700 underline dark:text-indigo-300"
                                                href=format!("/counters/{}", format::urlencode(&r.busiest))
                                            >
                                                {r.busiest.clone()}
                                            </a>
                                            {format!(
                                                " · {} ({})",
                                                format::count(r.busiest_sequence),
                                                share_text(r.share()),
                                            )}
                                        </td>
                                        <td class="pr-3 whitespace-nowrap">{format::time(r.last_updated)}</td>
                                        <td>{r.warnings.iter().map(warning_badge).collect_view()}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
    })
}

/// Thirty days of one vendor's counter (bars) and numbered orders (dots).
#[component]
fn VendorChart(vendor: String, days: Vec<(chrono::NaiveDate, u64, u64)>) -> impl IntoView {
    view! {
        <section class="mt-4" data-testid="vendor-chart">
            <h2 class="text-lg font-semibold">{format!("{vendor}: last 30 days")}</h2>
            <div class="mt-2">
                <IssuedHeldChart vendor days />
            </div>
        </section>
    }
}
