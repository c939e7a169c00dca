//! `/audit` (admins): who did what, when, from where, filtered, with a CSV export of the
//! same filter. Read-only: nothing in orderdesk edits or deletes an entry.

use leptos::{prelude::*, server_fn::codec::GetUrl};
use leptos_router::{components::Form, hooks::use_query_map};

use crate::{
    app::resource::page_resource,
    app::{components::error_notice::PageErrors, format},
    domain::audit::{AuditEntry, AuditQuery},
    domain::error::AppError,
};

const PAGE: i64 = 100;

/// One page of entries, newest first; `before` is the last id of the previous page.
#[server(prefix = "/api/admin", endpoint = "audit_log", input = GetUrl)]
pub async fn audit_log(query: AuditQuery, before: Option<String>) -> Result<Vec<AuditEntry>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    let filter = query.parse(&state.settings.time_zone).map_err(AppError::BadInput)?;
    Ok(state.store.audit_entries(&filter, before.as_deref(), PAGE).await?)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        params.with(|p| AuditQuery {
            actor: p.get("actor"),
            action: p.get("action"),
            since: p.get("since"),
            until: p.get("until"),
        })
    };
    let before = move || params.with(|p| p.get("before"));
    let entries = page_resource(move || (query(), before()), |(q, b)| audit_log(q, b));
    let input = "mt-1 block w-44 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <h1 class="text-2xl font-bold">"Audit log"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Every sign-in, every admin action, every refusal and every order page opened. Entries are only ever added."
        </p>
        <Form method="GET" action="/audit" attr:class="mt-4 flex flex-wrap items-end gap-3 text-sm">
            <label>
                "Who (email)"<input class=input name="actor" prop:value=move || query().actor.unwrap_or_default() />
            </label>
            <label>
                "Action starts with"
                <input
                    class=input
                    name="action"
                    placeholder="order.view"
                    prop:value=move || query().action.unwrap_or_default()
                />
            </label>
            <label>
                "From"
                <input class=input type="date" name="since" prop:value=move || query().since.unwrap_or_default() />
            </label>
            <label>
                "To"<input class=input type="date" name="until" prop:value=move || query().until.unwrap_or_default() />
            </label>
            <button type="submit" class="rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700">
                "Filter"
            </button>
            <a
                class="px-2 py-1.5 text-indigo-700 underline dark:text-indigo-300"
                href=move || format!("/audit.csv?{}", query().to_query_string())
                data-testid="audit-csv"
            >
                "Export CSV"
            </a>
        </Form>
        <Suspense fallback=|| {
            view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading the audit log…"</p> }
        }>
            <PageErrors class="mt-4">
                {move || Suspend::new(async move {
                    entries.await.map(|list| view! { <AuditTable entries=list query=query() /> })
                })}
            </PageErrors>
        </Suspense>
    }
    .into_any()
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>, query: AuditQuery) -> impl IntoView {
    if entries.is_empty() {
        return view! {
            <p class="mt-4 text-slate-500 dark:text-slate-400" data-testid="audit-empty">
                "No entries match. Sign-ins, admin actions and opened orders appear here as they happen."
            </p>
        }
        .into_any();
    }
    let older = (entries.len() as i64 == PAGE).then(|| {
        let last = entries.last().map(|e| e.id.clone()).unwrap_or_default();
        let qs = query.to_query_string();
        format!("/audit?{qs}{}before={last}", if qs.is_empty() { "" } else { "&" })
    });
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="w-full text-left text-sm" data-testid="audit-table">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"When (UTC)"</th>
                        <th class="pr-3">"Who"</th>
                        <th class="pr-3">"From"</th>
                        <th class="pr-3">"Action"</th>
                        <th class="pr-3">"Parameters"</th>
                        <th>"Outcome"</th>
                    </tr>
                </thead>
                <tbody>
                    {entries
                        .into_iter()
                        .map(|e| {
                            let action = e.action.clone();
                            view! {
                                <tr
                                    class="border-t border-slate-100 align-top dark:border-slate-800"
                                    data-action=action
                                >
                                    <td class="py-1 pr-3 whitespace-nowrap tabular-nums">{format::time(Some(e.at))}</td>
                                    <td class="pr-3">
                                        {e.actor}
                                        <span class="text-slate-500 dark:text-slate-400">
                                            {if e.role.is_empty() { String::new() } else { format!(" · {}", e.role) }}
                                        </span>
                                    </td>
                                    <td class="pr-3 font-mono text-xs">{e.ip}</td>
                                    <td class="pr-3 font-mono">{e.action}</td>
                                    <td class="pr-3 font-mono text-xs break-all">{e.params}</td>
                                    <td>{e.outcome}</td>
                                </tr>
                            }
                                .into_any()
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {older
            .map(|href| {
                view! {
                    <p class="mt-3">
                        <a class="text-indigo-700 underline dark:text-indigo-300" href=href>
                            "Older entries"
                        </a>
                    </p>
                }
            })}
    }
    .into_any()
}
