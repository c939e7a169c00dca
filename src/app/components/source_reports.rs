//! The systems the dashboard reads, as the start-up check found them: where each lives,
//! whether it answers, and which of the settings' names its orders do not hold.

use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::components::error_notice::PageErrors,
    app::resource::page_resource,
    domain::{error::AppError, sources::SourceReport},
};

/// Each configured source, checked now (a few reads each); empty in the single-database deployment.
#[server(prefix = "/api/admin", endpoint = "source_reports", input = GetUrl)]
pub async fn source_reports() -> Result<Vec<SourceReport>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.store.check_sources().await)
}

#[component]
pub fn SourceReports() -> impl IntoView {
    let reports = page_resource(|| (), |_| source_reports());
    view! {
        <Transition fallback=|| ()>
            <PageErrors>
                {move || Suspend::new(async move {
                    reports
                        .await
                        .map(|list| {
                            (!list.is_empty())
                                .then(|| {
                                    view! {
                                        <div
                                            class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900"
                                            data-testid="sources"
                                        >
                                            <h2 class="text-lg font-semibold">"Sources"</h2>
                                            <ul class="mt-2 space-y-3">
                                                {list.into_iter().map(|r| view! { <SourceRow r /> }).collect_view()}
                                            </ul>
                                        </div>
                                    }
                                })
                        })
                })}
            </PageErrors>
        </Transition>
    }
}

#[component]
fn SourceRow(r: SourceReport) -> impl IntoView {
    let (badge, class) = match (&r.unreachable, r.wrong.is_empty()) {
        (Some(_), _) => ("not answering", "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-200"),
        (None, false) => ("names to fix", "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-100"),
        (None, true) => ("ok", "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-200"),
    };
    let summary = match &r.unreachable {
        Some(e) => e.clone(),
        None => format!("names checked against its {} newest orders", r.sampled),
    };
    let healthy = r.is_healthy().to_string();
    view! {
        <li data-testid="source" data-source=r.name.clone() data-healthy=healthy>
            <p class="text-sm">
                <span class="font-semibold">{r.name.clone()}</span>
                " · "
                {r.kind.clone()}
                " · database "
                <span class="font-mono">{r.database.clone()}</span>
                " "
                <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}")>{badge}</span>
            </p>
            <p class="text-xs text-slate-500 dark:text-slate-400">{summary}</p>
            <ul class="mt-1 list-disc pl-5 text-sm text-amber-900 dark:text-amber-200">
                {r
                    .wrong
                    .into_iter()
                    .map(|w| {
                        view! {
                            <li data-testid="source-wrong" class="font-mono text-xs">
                                {w}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <ul class="mt-1 list-disc pl-5 text-sm text-amber-900 dark:text-amber-200">
                {r
                    .indexes
                    .into_iter()
                    .map(|w| {
                        view! {
                            <li data-testid="source-index" class="text-xs">
                                {w}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <ul class="mt-1 list-disc pl-5 text-xs text-slate-500 dark:text-slate-400">
                {r.notes.into_iter().map(|n| view! { <li class="font-mono">{n}</li> }).collect_view()}
            </ul>
        </li>
    }
}
