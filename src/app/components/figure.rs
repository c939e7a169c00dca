//! One figure in a row of them (a count, a latency, a time), labelled above its value.

use leptos::prelude::*;

#[component]
pub fn Figure(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="rounded border border-slate-200 p-3 dark:border-slate-700">
            <dt class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="mt-1 text-xl font-semibold tabular-nums">{value}</dd>
        </div>
    }
}
