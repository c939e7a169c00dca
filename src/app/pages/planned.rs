use leptos::prelude::*;

/// A page in the navigation that is not built yet says so plainly, and where it is tracked.
#[component]
pub fn Planned(page: &'static str, issue: u32) -> impl IntoView {
    view! {
        <section class="max-w-2xl">
            <h1 class="text-2xl font-bold">{page}</h1>
            <p class="mt-3 text-slate-600 dark:text-slate-400">
                {format!("The {page} page is not built yet; it is planned in issue #{issue}. Use Search to find an order meanwhile.")}
            </p>
        </section>
    }
}
