//! `/api-keys` (admins): the bots' keys, created here (shown once, stored hashed), listed
//! with their scope and last day of calls (which are failing, and each key's page), and
//! revoked. The forms work without JavaScript.

use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::resource::page_resource,
    app::{
        components::error_notice::{ErrorNotice, PageErrors},
        format, viewer,
    },
    domain::api_usage::{ENV_KEY, KeysOverview, Tally},
    domain::error::AppError,
};

#[server(prefix = "/api/admin", endpoint = "api_keys", input = GetUrl)]
pub async fn api_keys() -> Result<KeysOverview, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.api_usage.overview(state.settings.bootstrap_api_key.is_some(), chrono::Utc::now()).await?)
}

/// Creates a key and returns it: the only time anyone sees it.
#[server(prefix = "/api/admin", endpoint = "create_api_key")]
pub async fn create_api_key(
    name: String,
    scope: String,
    vendor: Option<String>,
    _csrf: String,
) -> Result<String, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    let name = crate::domain::accounts::ApiKeyName::parse(&name)?;
    let scope = crate::domain::accounts::ApiKeyScope::parse(&scope)?;
    let vendor = match vendor.as_deref().unwrap_or_default().trim() {
        "" => None,
        v => Some(crate::domain::ids::VendorId::parse(v)?),
    };
    Ok(state.store.create_bound_api_key(&name, scope, vendor.as_ref(), chrono::Utc::now()).await?.key)
}

#[server(prefix = "/api/admin", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: String, _csrf: String) -> Result<(), AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    if state.store.revoke_api_key(id.trim(), chrono::Utc::now()).await? {
        Ok(())
    } else {
        Err(AppError::NotFound("there is no such key, or it is already revoked".into()))
    }
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = page_resource(move || (create.version().get(), revoke.version().get()), |_| api_keys());
    let csrf = viewer::csrf();
    let form_csrf = csrf.clone();
    let input = "mt-1 block w-56 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <h1 class="text-2xl font-bold">"API keys"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Keys for the bots' JSON API (" <span class="font-mono">"/api/v1"</span> ", header "
            <span class="font-mono">"X-API-Key"</span>
            "). A key is shown once, when it is created; orderdesk keeps only its SHA-256."
        </p>
        <ActionForm action=create attr:class="mt-4 flex flex-wrap items-end gap-3 text-sm">
            <input type="hidden" name="_csrf" value=form_csrf />
            <label>
                "Name"
                <input
                    class=input
                    name="name"
                    placeholder="shipping-bot"
                    required
                    maxlength=crate::domain::accounts::ApiKeyName::MAX_CHARS.to_string()
                />
            </label>
            <label>
                "Vendor (optional)"<input class=input name="vendor" placeholder="only this vendor's numbers" />
            </label>
            <label>
                "Scope"<select class=input name="scope">
                    {crate::domain::accounts::ApiKeyScope::ALL
                        .map(|s| view! { <option value=s.as_str()>{format!("{s}: {}", s.opens())}</option> })
                        .collect_view()}
                </select>
            </label>
            <button
                type="submit"
                class="rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700"
                data-testid="create-key"
            >
                "Create key"
            </button>
        </ActionForm>
        {move || {
            create
                .value()
                .get()
                .map(|result| match result {
                    Ok(key) => {
                        view! {
                            <div
                                class="mt-3 rounded border border-emerald-300 bg-emerald-50 p-3 text-sm dark:border-emerald-700 dark:bg-emerald-950"
                                role="status"
                            >
                                <p class="font-medium">"Copy this key now: it will not be shown again."</p>
                                <p class="mt-1 break-all font-mono" data-testid="new-key">
                                    {key}
                                </p>
                            </div>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <div class="mt-3">
                                <ErrorNotice error=e />
                            </div>
                        }
                            .into_any()
                    }
                })
        }}
        <Transition fallback=|| {
            view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading keys…"</p> }
        }>
            {move || {
                let csrf = csrf.clone();
                let listed = Suspend::new(async move {
                    keys.await
                        .map(|o| match o.keys.is_empty() && o.bootstrap.is_none() {
                            true => {
                                view! {
                                    <p class="mt-4 text-slate-500 dark:text-slate-400">
                                        "No keys yet. Create one for each bot, so each can be revoked alone."
                                    </p>
                                }
                                    .into_any()
                            }
                            false => view! { <KeyTable overview=o revoke csrf /> }.into_any(),
                        })
                });
                view! { <PageErrors class="mt-4">{listed}</PageErrors> }
            }}
        </Transition>
    }
    .into_any()
}

const CELL: &str = "pr-3 text-right tabular-nums";

#[component]
fn KeyTable(overview: KeysOverview, revoke: ServerAction<RevokeApiKey>, csrf: String) -> impl IntoView {
    view! {
        <div class="mt-4 overflow-x-auto">
            <table class="w-full text-left text-sm" data-testid="key-table">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"Name"</th>
                        <th class="pr-3">"Scope"</th>
                        <th class="pr-3">"Created"</th>
                        <th class="pr-3 text-right">"Calls, 24 h"</th>
                        <th class="pr-3 text-right">"Failed"</th>
                        <th class="pr-3 text-right">"Limited"</th>
                        <th class="pr-3">"Last call"</th>
                        <th>"State"</th>
                    </tr>
                </thead>
                <tbody>
                    {overview
                        .bootstrap
                        .map(|usage| {
                            view! {
                                <tr class="border-t border-slate-100 dark:border-slate-800" data-key=ENV_KEY>
                                    <td class="py-1 pr-3">
                                        <a
                                            class="text-indigo-700 underline dark:text-indigo-300"
                                            href=format!("/api-keys/{ENV_KEY}")
                                        >
                                            "Bootstrap key (ORDERDESK_API_KEY)"
                                        </a>
                                    </td>
                                    <td class="pr-3">"every scope"</td>
                                    <td class="pr-3">"from the environment"</td>
                                    <UsageCells usage=usage.clone() last_used=None />
                                    <td>
                                        <CallState usage />
                                    </td>
                                </tr>
                            }
                        })}
                    {overview
                        .keys
                        .into_iter()
                        .map(|(k, usage)| {
                            let csrf = csrf.clone();
                            let name = k.name.clone();
                            view! {
                                <tr class="border-t border-slate-100 dark:border-slate-800" data-key=name>
                                    <td class="py-1 pr-3 font-mono">
                                        <a
                                            class="text-indigo-700 underline dark:text-indigo-300"
                                            href=format!("/api-keys/{}", k.id)
                                        >
                                            {k.name}
                                        </a>
                                    </td>
                                    <td class="pr-3">{k.scope.as_str()}{k.vendor.map(|v| format!(" · {v} only"))}</td>
                                    <td class="pr-3 tabular-nums">{format::time(k.created_at)}</td>
                                    <UsageCells usage=usage.clone() last_used=k.last_used_at />
                                    <td>
                                        {match k.revoked_at {
                                            Some(at) => {
                                                view! {
                                                    <span class="text-slate-500 dark:text-slate-400">
                                                        {format!("revoked {}", format::time(Some(at)))}
                                                    </span>
                                                }
                                                    .into_any()
                                            }
                                            None => {
                                                view! {
                                                    <div class="flex flex-wrap items-center gap-3">
                                                        <CallState usage />
                                                        <ActionForm action=revoke>
                                                            <input type="hidden" name="_csrf" value=csrf />
                                                            <input type="hidden" name="id" value=k.id />
                                                            <button
                                                                type="submit"
                                                                class="text-red-700 underline dark:text-red-300"
                                                            >
                                                                "Revoke"
                                                            </button>
                                                        </ActionForm>
                                                    </div>
                                                }
                                                    .into_any()
                                            }
                                        }}
                                    </td>
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
}

/// A key's last day in four cells; `last_used` is the key check's record, for a key whose
/// calls are older than a day.
#[component]
fn UsageCells(usage: Tally, last_used: Option<chrono::DateTime<chrono::Utc>>) -> impl IntoView {
    let last = usage.last_at.max(last_used);
    view! {
        <td class=CELL>{format::count(usage.calls)}</td>
        <td class=CELL>{format::count(usage.errors())}</td>
        <td class=CELL>{format::count(usage.limited)}</td>
        <td class="pr-3 tabular-nums">{if last.is_some() { format::time(last) } else { "never".into() }}</td>
    }
}

/// "failing" when the key's last call did not succeed.
#[component]
fn CallState(usage: Tally) -> impl IntoView {
    usage.last_call_failed().then(|| {
        let status = usage.last_error_status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        view! {
            <span
                class="rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800 dark:bg-red-950 dark:text-red-200"
                data-testid="key-failing"
            >
                {format!("failing{status}")}
            </span>
        }
    })
}
