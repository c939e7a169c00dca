//! `/orders/{key}`: one order by any form of its ID, with everything about it on one page
//! (its parts, timeline, payments, sessions, tracking link and QR code, the slow operations
//! that named it), or the orders the key names.
//!
//! Long (about 440 lines, most of them view markup as leptosfmt writes it): the order's one
//! page, in the order a support agent reads it.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::{components::Redirect, hooks::use_params_map};

use crate::{
    app::lookup::{Handoff, OrderPageData},
    app::resource::page_resource,
    app::{
        components::{copy_button::CopyButton, error_notice::PageErrors},
        format::{self, MISSING},
    },
    domain::error::AppError,
    domain::ids::explain::Explanation,
    domain::orders::{OrderDetails, StepState, timeline},
    domain::performance::SlowQuery,
};

/// One order by any form of its ID.
#[server(prefix = "/api/staff", endpoint = "order_page", input = GetUrl)]
pub async fn order_page(key: String) -> Result<OrderPageData, AppError> {
    let (state, caller) = crate::server::require(crate::domain::accounts::Role::Support)?;
    let lookup = crate::domain::ids::LookupKey::parse(&key)?;
    crate::app::lookup::open_page(&state, &caller, &lookup, &key).await
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || params.read().get("key").unwrap_or_default();
    let handoff = Handoff::<OrderPageData>::get();
    let page = page_resource(key, move |key| async move {
        match handoff.and_then(|h| h.take(&key)) {
            Some(page) => Ok(page),
            None => order_page(key).await,
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="text-slate-500 dark:text-slate-400">"Loading the order…"</p> }>
            <PageErrors>
                {move || Suspend::new(async move {
                    page.await
                        .map(|found| match found {
                            OrderPageData::One { details, tracking_url, qr_href, explanation, slow } => {
                                view! { <Order details=*details tracking_url qr_href explanation slow /> }.into_any()
                            }
                            OrderPageData::Many { read_as, orders } => {
                                view! {
                                    <h1 class="text-2xl font-bold">"Several orders match"</h1>
                                    <p class="mt-2 text-slate-600 dark:text-slate-400">
                                        {format!("The key was read as {read_as}. Pick one:")}
                                    </p>
                                    <ul class="mt-3 space-y-1" data-testid="order-choices">
                                        {orders
                                            .into_iter()
                                            .map(|o| {
                                                let label = o.headline();
                                                let href = o.page_key().map(format::order_href).unwrap_or_default();
                                                view! {
                                                    <li>
                                                        <a
                                                            class="font-mono text-indigo-700 hover:underline dark:text-indigo-300"
                                                            href=href
                                                        >
                                                            {label}
                                                        </a>
                                                        {format!(
                                                            " · {} · {}",
                                                            format::text(o.status.as_deref()),
                                                            format::time(o.created_at),
                                                        )}
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            OrderPageData::Moved(path) => view! { <Redirect path /> }.into_any(),
                        })
                })}
            </PageErrors>
        </Suspense>
    }
}

/// An explanation's parts as a definition list (the order page and the search page).
#[component]
pub fn ExplanationFacts(explanation: Explanation) -> impl IntoView {
    view! {
        <dl class="mt-2 grid grid-cols-1 gap-x-6 text-sm sm:grid-cols-[max-content_1fr]" data-testid="explanation">
            {explanation
                .facts
                .into_iter()
                .map(|f| {
                    view! {
                        <dt class="text-slate-500 dark:text-slate-400">{f.label}</dt>
                        <dd class="mb-1 break-words">{f.value}</dd>
                    }
                })
                .collect_view()}
        </dl>
    }
}

/// A labelled value with a copy button when there is something to copy.
#[component]
fn Field(label: &'static str, value: Option<String>, #[prop(optional)] copy: bool) -> impl IntoView {
    let shown = value.clone().unwrap_or_else(|| MISSING.into());
    view! {
        <div class="py-1.5">
            <dt class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="font-mono text-sm break-all">
                {shown} {value.filter(|_| copy).map(|v| view! { <CopyButton text=v /> })}
            </dd>
        </div>
    }
}

#[component]
fn Order(
    details: OrderDetails,
    tracking_url: Option<String>,
    qr_href: Option<String>,
    explanation: Explanation,
    slow: Vec<SlowQuery>,
) -> impl IntoView {
    let OrderDetails {
        summary: o,
        times,
        currency,
        failure_reason,
        refund_status,
        refund_amount,
        payments,
        pending,
        session,
        raw_json,
    } = details;
    let steps = timeline(&times, &pending);
    let status = format::text(o.status.as_deref());
    let status_class = match o.status.as_deref() {
        Some("failed" | "cancelled") => "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-200",
        Some("refunded") => "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200",
        Some("completed") => "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200",
        _ => "bg-slate-200 text-slate-800 dark:bg-slate-800 dark:text-slate-200",
    };
    let card = "rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900";
    let headline = o.headline();
    // The counter day a BB number came from, when the order names its vendor.
    let counter = explanation
        .counter_day
        .zip(o.vendor_id.as_deref().and_then(|v| crate::domain::ids::VendorId::parse(v).ok()))
        .map(|(day, vendor)| crate::domain::ids::CounterId::new(day, vendor).to_string());
    view! {
        <crate::app::head::PageTitle text=format!("{headline} · orderdesk") />
        <article data-testid="order-page">
            <div class="flex flex-wrap items-center gap-3">
                <h1 class="font-mono text-2xl font-bold break-all" data-testid="order-name">
                    {headline.clone()}
                </h1>
                <CopyButton text=headline />
                {o
                    .display_beside()
                    .map(|d| {
                        view! {
                            <span
                                class="font-mono text-sm text-slate-500 dark:text-slate-400"
                                title="The display form the bot shows the customer"
                            >
                                {d}
                            </span>
                        }
                    })}
                <span
                    class=format!("rounded-full px-3 py-1 text-sm font-medium {status_class}")
                    data-testid="order-status"
                >
                    {status}
                </span>
                <span
                    class="text-sm text-slate-500 dark:text-slate-400"
                    data-testid="order-origin"
                    title="The system and the database this order was read from"
                >
                    {o.source.label()}
                    " · database "
                    <span class="font-mono">{o.database.clone()}</span>
                </span>
            </div>
            <div class="mt-6 grid gap-4 md:grid-cols-3">
                <section class=format!("{card} md:col-span-2")>
                    <h2 class="font-semibold">"Order"</h2>
                    <dl class="mt-2 grid grid-cols-1 gap-x-6 sm:grid-cols-2">
                        <Field label="order_id" value=o.order_id.clone() copy=true />
                        <Field label="Display ID" value=o.display_id.clone() copy=true />
                        <Field label="BB number" value=o.order_number.clone() copy=true />
                        <Field label="Legacy id" value=o.legacy_id.clone() copy=true />
                        <Field label="Amount" value=o.amount.map(|_| format::money(o.amount, currency.as_deref())) />
                        <Field label="Telegram id" value=o.telegram_id.map(|t| t.to_string()) copy=true />
                        <Field label="User id" value=o.user_id.clone() copy=true />
                        <Field label="Vendor" value=o.vendor_id.clone() copy=true />
                        <Field label="Last update" value=times.updated.map(|t| format::time(Some(t))) />
                        <Field label="Failure reason" value=failure_reason />
                    </dl>
                </section>
                <section class=card>
                    <h2 class="font-semibold">"Tracking"</h2>
                    {match (qr_href, tracking_url) {
                        (Some(src), Some(url)) => {
                            view! {
                                <img
                                    class="mt-2 h-40 w-40 bg-white p-1"
                                    data-testid="qr-code"
                                    src=src
                                    width="160"
                                    height="160"
                                    alt=format!("QR code for {url}")
                                />
                                <p class="mt-2 text-xs break-all">
                                    <a class="text-indigo-700 underline dark:text-indigo-300" href=url.clone()>
                                        {url.clone()}
                                    </a>
                                </p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">
                                    "No tracking code: this order has no order_id."
                                </p>
                            }
                                .into_any()
                        }
                    }}
                </section>
                <section class=card>
                    <h2 class="font-semibold">"Timeline"</h2>
                    <ol class="mt-2 space-y-2" data-testid="timeline">
                        {steps
                            .into_iter()
                            .map(|s| {
                                let dot = match s.state {
                                    StepState::Done => "bg-emerald-500",
                                    StepState::Failed => "bg-red-500",
                                    StepState::Pending => "bg-slate-300 dark:bg-slate-600",
                                };
                                view! {
                                    <li class="flex items-start gap-2">
                                        <span
                                            class=format!("mt-1.5 h-2.5 w-2.5 shrink-0 rounded-full {dot}")
                                            aria-hidden="true"
                                        ></span>
                                        <span>
                                            <span class="font-medium">{s.label}</span>
                                            {s
                                                .detail
                                                .map(|d| {
                                                    view! {
                                                        <span class="text-xs text-slate-600 dark:text-slate-300">
                                                            " · "{d}
                                                        </span>
                                                    }
                                                })}
                                            <br />
                                            <span class="text-xs text-slate-500 dark:text-slate-400">
                                                {format::time(s.at)}
                                            </span>
                                        </span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                </section>
                <section class=card>
                    <h2 class="font-semibold">"Payments and refund"</h2>
                    {if payments.is_empty() {
                        view! { <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">"No payment records."</p> }
                            .into_any()
                    } else {
                        view! {
                            <ul class="mt-2 space-y-1 text-sm" data-testid="payments">
                                {payments
                                    .into_iter()
                                    .map(|p| {
                                        view! {
                                            <li>
                                                {format!(
                                                    "{} · {} · {} · {}",
                                                    format::money(p.amount, p.currency.as_deref()),
                                                    format::text(p.method.as_deref()),
                                                    format::text(p.status.as_deref()),
                                                    format::time(p.created_at),
                                                )}
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }}
                    <p class="mt-3 text-sm">
                        {format!(
                            "Refund: {}{}",
                            format::text(refund_status.as_deref()),
                            refund_amount.map(|a| format!(" ({})", format::money(Some(a), None))).unwrap_or_default(),
                        )}
                    </p>
                    {(!pending.is_empty())
                        .then(|| {
                            view! {
                                <h3 class="mt-3 text-sm font-semibold">"Pending orders under this ID"</h3>
                                <ul class="mt-1 space-y-1 text-sm" data-testid="pending-orders">
                                    {pending
                                        .into_iter()
                                        .map(|p| {
                                            view! {
                                                <li>
                                                    {format!(
                                                        "{} · {} · step {} · {}",
                                                        format::money(p.amount, None),
                                                        format::text(p.status.as_deref()),
                                                        format::text(p.step.as_deref()),
                                                        format::time(p.created_at),
                                                    )}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                        })}
                </section>
                <section class=card>
                    <h2 class="font-semibold">"Customer session"</h2>
                    {match session {
                        Some(s) => {
                            view! {
                                <dl class="mt-2 text-sm">
                                    <Field label="Step" value=s.current_step />
                                    <Field label="Session order_id" value=s.order_id />
                                    <Field label="Started" value=s.created_at.map(|t| format::time(Some(t))) />
                                    <Field label="Last seen" value=s.last_seen.map(|t| format::time(Some(t))) />
                                </dl>
                            }
                                .into_any()
                        }
                        None => {
                            view! {
                                <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">
                                    "No bot session for this customer."
                                </p>
                            }
                                .into_any()
                        }
                    }}
                </section>
            </div>
            <section class=format!("{card} mt-4") data-testid="order-id-explained">
                <h2 class="font-semibold">"How its ID reads"</h2>
                <ExplanationFacts explanation />
                {counter
                    .map(|id| {
                        view! {
                            <p class="mt-2 text-sm">
                                "Its sequence came from counter "
                                <a
                                    class="font-mono text-indigo-700 underline dark:text-indigo-300"
                                    href=format!("/counters/{id}")
                                >
                                    {id.clone()}
                                </a>"."
                            </p>
                        }
                    })}
            </section>
            {(!slow.is_empty())
                .then(|| {
                    view! {
                        <section class=format!("{card} mt-4")>
                            <h2 class="font-semibold">"Slow operations about this order"</h2>
                            <ul class="mt-2 space-y-1 text-sm tabular-nums" data-testid="order-slow">
                                {slow
                                    .into_iter()
                                    .map(|s| {
                                        view! {
                                            <li>
                                                <span class="text-slate-500 dark:text-slate-400">
                                                    {format::time(Some(s.at))}
                                                </span>
                                                " "
                                                <span class="font-mono">{s.op}</span>
                                                " on "
                                                <span class="font-mono">{s.collection}</span>
                                                {format!(" took {:.1} ms{}", s.ms, if s.ok { "" } else { " (failed)" })}
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                            <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">
                                "All of them, by every client, on "<a class="underline" href="/performance">
                                    "Performance"
                                </a>"."
                            </p>
                        </section>
                    }
                })}
            <details class=format!("{card} mt-4")>
                <summary class="cursor-pointer font-semibold">"Raw document"</summary>
                <pre class="mt-2 overflow-x-auto text-xs" data-testid="raw-json">
                    {raw_json}
                </pre>
            </details>
        </article>
    }
}
