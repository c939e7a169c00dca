use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::{components::Form, hooks::use_query_map};
use serde::{Deserialize, Serialize};

use crate::{
    app::resource::page_resource,
    app::{
        components::{
            error_notice::{OutageNotice, PageErrors},
            order_table::OrderTable,
        },
        format,
    },
    domain::error::AppError,
    domain::orders::{OrderSummary, SourceOutage},
    domain::{
        order_filter::{ListParams, SchemeFilter},
        orders::{OrderStatus, Source},
    },
};

/// One page of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderListPage {
    pub orders: Vec<OrderSummary>,
    pub next: Option<String>,
    /// Systems that did not answer: their orders are missing from this page.
    pub outages: Vec<SourceOutage>,
}

#[server(prefix = "/api/staff", endpoint = "order_list", input = GetUrl)]
pub async fn order_list(params: ListParams) -> Result<OrderListPage, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Support)?;
    let (filter, cursor) = params.parse()?;
    let page = state.store.list_orders(&filter, cursor.as_ref()).await?;
    let outages = page.outages();
    Ok(OrderListPage { orders: page.orders, next: page.next.map(|c| c.encode()), outages })
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        ListParams {
            status: get("status"),
            vendor: get("vendor"),
            from: get("from"),
            to: get("to"),
            scheme: get("scheme"),
            source: get("source"),
            after: get("after"),
        }
    };
    let page = page_resource(params, order_list);
    let input = "rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <section>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h1 class="text-2xl font-bold">"Orders"</h1>
                <a
                    class="text-sm text-indigo-700 underline dark:text-indigo-300"
                    data-testid="csv-link"
                    href=move || format!("/orders.csv?{}", params().query())
                    rel="external"
                >
                    "Download CSV of this filter"
                </a>
            </div>
            {move || {
                let p = params();
                view! {
                    <Form
                        method="GET"
                        action="/orders"
                        attr:class="mt-4 flex flex-wrap items-end gap-3"
                        attr:aria-label="Filter orders"
                    >
                        <label class="text-sm">
                            "Status" <br /> <select name="status" class=input>
                                <option value="">"any"</option>
                                {OrderStatus::ALL
                                    .map(|s| {
                                        view! {
                                            <option value=s.as_str() selected=p.status == s.as_str()>
                                                {s.as_str()}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        </label>
                        <label class="text-sm">
                            "Vendor" <br />
                            <input
                                name="vendor"
                                value=p.vendor.clone()
                                placeholder="pizza-palace"
                                maxlength="64"
                                class=input
                            />
                        </label>
                        <label class="text-sm">
                            "From" <br /><input type="date" name="from" value=p.from.clone() class=input />
                        </label>
                        <label class="text-sm">
                            "To" <br /><input type="date" name="to" value=p.to.clone() class=input />
                        </label>
                        <label class="text-sm">
                            "ID scheme" <br /> <select name="scheme" class=input>
                                <option value="">"any"</option>
                                {SchemeFilter::ALL
                                    .iter()
                                    .map(|(_, code, label)| {
                                        view! {
                                            <option value=*code selected=p.scheme == *code>
                                                {*label}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        </label>
                        <label class="text-sm">
                            "System" <br /> <select name="source" class=input>
                                <option value="">"any"</option>
                                {Source::ALL
                                    .map(|s| {
                                        view! {
                                            <option value=s.code() selected=p.source == s.code()>
                                                {s.label()}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        </label>
                        <button
                            type="submit"
                            class="rounded bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700"
                        >
                            "Filter"
                        </button>
                        <a href="/orders" class="text-sm underline">
                            "Clear"
                        </a>
                    </Form>
                }
            }}
            <div class="mt-4">
                <Suspense fallback=|| view! { <p class="text-slate-500 dark:text-slate-400">"Loading orders…"</p> }>
                    <PageErrors>
                        {move || Suspend::new(async move {
                            page.await
                                .map(|page| {
                                    view! {
                                        <OrderPageView page query=params().query() first=params().after.is_empty() />
                                    }
                                })
                        })}
                    </PageErrors>
                </Suspense>
            </div>
        </section>
    }
}

#[component]
fn OrderPageView(page: OrderListPage, query: String, first: bool) -> impl IntoView {
    let outages = view! { <OutageNotice outages=page.outages /> };
    if page.orders.is_empty() {
        return view! {
            {outages}
            <p data-testid="no-orders">"No orders match this filter."</p>
        }
        .into_any();
    }
    let sep = if query.is_empty() { "" } else { "&" };
    let next = page.next.map(|c| format!("/orders?{query}{sep}after={}", format::urlencode(&c)));
    view! {
        {outages}
        <OrderTable orders=page.orders />
        <nav class="mt-4 flex gap-4 text-sm" aria-label="Pages">
            {(!first)
                .then(|| {
                    view! {
                        <a class="underline" href=format!("/orders?{query}")>
                            "First page"
                        </a>
                    }
                })}
            {next
                .map(|href| {
                    view! {
                        <a class="underline" data-testid="next-page" href=href>
                            "Next page →"
                        </a>
                    }
                })}
        </nav>
    }
    .into_any()
}
