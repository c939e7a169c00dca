//! `/counters/{counterId}`: one vendor-day's forensics. Numbers the counter issued against
//! numbers the vendor's orders hold, each gap listed with what orderdesk can tell of its
//! cause, duplicates and numbers never issued; the gaps as CSV.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::{hooks::use_params, params::Params};

use crate::{
    app::resource::page_resource,
    app::{
        components::{error_notice::PageErrors, figure::Figure},
        format, params,
    },
    domain::counters::Forensics,
    domain::error::AppError,
    domain::ids::CounterId,
};

#[server(prefix = "/api/staff", endpoint = "counter_forensics", input = GetUrl)]
pub async fn counter_forensics(id: CounterId) -> Result<Forensics, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    let block = state.settings.segment_vendors.get(&id.vendor).copied();
    crate::services::monitoring::counter_forensics(
        &state.store,
        state.settings.time_zone,
        &id,
        block,
        state.settings.time_bucket_minutes,
    )
    .await?
    .ok_or_else(|| AppError::NotFound(format!("There is no counter {id}: its vendor issued no number that day.")))
}

/// Gap runs shown on the page; the CSV has them all.
const SHOWN: usize = 200;

#[derive(Params, Debug, Clone, PartialEq)]
struct CounterParams {
    counter: Option<CounterId>,
}

#[component]
pub fn CounterDayPage() -> impl IntoView {
    let read = use_params::<CounterParams>();
    let counter = move || params::required(read.get().map(|p| p.counter), "counter");
    let data = page_resource(counter, |id| async move { counter_forensics(id?).await });
    view! {
        <Suspense fallback=|| view! { <p class="text-slate-500 dark:text-slate-400">"Comparing numbers…"</p> }>
            <PageErrors>{move || Suspend::new(async move { data.await.map(|f| view! { <Report f /> }) })}</PageErrors>
        </Suspense>
    }
}

#[component]
fn Report(f: Forensics) -> impl IntoView {
    let missing = f.missing();
    let csv = format!("/counters/{}/gaps.csv", format::urlencode(&f.counter_id));
    let vendor = f.counter_id.split_once('-').map(|(_, v)| v.to_owned()).unwrap_or_default();
    let mode = match f.segment_block {
        Some(b) => format!("segment mode, blocks of {b}"),
        None => "strict mode (one number per allocation)".to_owned(),
    };
    let total = f.gaps.len();
    view! {
        <crate::app::head::PageTitle text=format!("{} · counter · orderdesk", f.counter_id) />
        <h1 class="font-mono text-2xl font-bold break-all">{f.counter_id.clone()}</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            {format!("{mode}. ")}
            <a
                class="text-indigo-700 underline dark:text-indigo-300"
                href=format!("/counters?vendor={}", format::urlencode(&vendor))
            >
                "This vendor's last 30 days"
            </a>
        </p>
        <dl class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-4" data-testid="forensics-figures">
            <Figure label="Issued by the counter" value=format::count(u64::from(f.issued)) />
            <Figure label="Held by orders" value=format::count(u64::from(f.held)) />
            <Figure label="Issued, held by none" value=format::count(u64::from(missing)) />
            <Figure
                label="Held twice or never issued"
                value=format::count((f.duplicates.len() + f.beyond.len()) as u64)
            />
        </dl>
        <h2 class="mt-6 text-lg font-semibold">"Gaps"</h2>
        {if f.gaps.is_empty() {
            view! {
                <p class="mt-1 text-sm" data-testid="no-gaps">
                    "None: every number the counter issued is held by an order."
                </p>
            }
                .into_any()
        } else {
            view! {
                <p class="mt-1 text-sm">
                    {format!(
                        "{total} run{} of numbers no order holds{}. ",
                        if total == 1 { "" } else { "s" },
                        if total > SHOWN { format!(", the first {SHOWN} shown") } else { String::new() },
                    )}
                    <a
                        class="text-indigo-700 underline dark:text-indigo-300"
                        href=csv
                        rel="external"
                        download
                        data-testid="gaps-csv"
                    >
                        "Download every gap as CSV"
                    </a>
                </p>
                <div class="mt-2 overflow-x-auto">
                    <table class="w-full text-left text-sm tabular-nums" data-testid="gaps">
                        <thead class="text-slate-500 dark:text-slate-400">
                            <tr>
                                <th class="py-1 pr-3">"Numbers"</th>
                                <th class="pr-3 text-right">"How many"</th>
                                <th>"Likely cause"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {f
                                .gaps
                                .iter()
                                .take(SHOWN)
                                .map(|g| {
                                    view! {
                                        <tr
                                            class="border-t border-slate-100 dark:border-slate-800"
                                            data-cause=format!("{:?}", g.cause)
                                        >
                                            <td class="py-1 pr-3 font-mono">
                                                {if g.from == g.to {
                                                    format!("{:05}", g.from)
                                                } else {
                                                    format!("{:05}–{:05}", g.from, g.to)
                                                }}
                                            </td>
                                            <td class="pr-3 text-right">{format::count(u64::from(g.numbers()))}</td>
                                            <td>{g.cause.describe()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
        {(!f.duplicates.is_empty())
            .then(|| {
                view! {
                    <h2 class="mt-6 text-lg font-semibold">"Held by more than one order"</h2>
                    <p class="mt-1 font-mono text-sm" data-testid="duplicates">
                        {f.duplicates.iter().map(|(n, k)| format!("{n:05} ×{k}")).collect::<Vec<_>>().join(", ")}
                    </p>
                }
            })}
        {(!f.beyond.is_empty())
            .then(|| {
                view! {
                    <h2 class="mt-6 text-lg font-semibold">"Held but never issued by this counter"</h2>
                    <p class="mt-1 font-mono text-sm" data-testid="beyond">
                        {f.beyond.iter().map(|n| format!("{n:05}")).collect::<Vec<_>>().join(", ")}
                    </p>
                }
            })}
    }
}
