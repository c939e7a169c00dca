use leptos::prelude::*;

use crate::{app::format, domain::orders::OrderSummary};

/// The one table of orders used by search results and the order list; rows carry
/// `data-testid="order-row"` and a link to the order page, which `j`/`k` walk through.
#[component]
pub fn OrderTable(orders: Vec<OrderSummary>) -> impl IntoView {
    view! {
        // A phone scrolls the table, not the page.
        <div class="mt-3 overflow-x-auto">
            <table class="w-full text-left text-sm" data-testid="order-table">
                <thead class="border-b border-slate-300 dark:border-slate-700">
                    <tr>
                        <th class="py-2 pr-4">"Order"</th>
                        <th class="py-2 pr-4">"Source"</th>
                        <th class="py-2 pr-4">"Status"</th>
                        <th class="py-2 pr-4">"Vendor"</th>
                        <th class="py-2 pr-4 text-right">"Amount"</th>
                        <th class="py-2">"Created"</th>
                    </tr>
                </thead>
                <tbody>
                    {orders
                        .into_iter()
                        .map(|o| {
                            view! {
                                <tr class="border-b border-slate-200 dark:border-slate-800" data-testid="order-row">
                                    <td class="py-1.5 pr-4 font-mono">
                                        {match o.page_key() {
                                            Some(key) => {
                                                view! {
                                                    <a
                                                        class="text-indigo-700 hover:underline dark:text-indigo-300"
                                                        href=format::order_href(key)
                                                    >
                                                        {o.headline()}
                                                    </a>
                                                }
                                                    .into_any()
                                            }
                                            None => view! { <span>{o.headline()}</span> }.into_any(),
                                        }}
                                        {o
                                            .display_beside()
                                            .map(|d| {
                                                view! {
                                                    <span
                                                        class="ml-2 text-xs text-slate-500 dark:text-slate-400"
                                                        data-testid="display-beside"
                                                    >
                                                        {d}
                                                    </span>
                                                }
                                            })}
                                    </td>
                                    <td class="py-1.5 pr-4">{o.source.label()}</td>
                                    <td class="py-1.5 pr-4">{format::text(o.status.as_deref())}</td>
                                    <td class="py-1.5 pr-4">{format::text(o.vendor_id.as_deref())}</td>
                                    <td class="py-1.5 pr-4 text-right tabular-nums">{format::money(o.amount, None)}</td>
                                    <td class="py-1.5">{format::time(o.created_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
