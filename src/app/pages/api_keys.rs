//! `/api-keys` (admins): the bots' keys, created here (shown once, stored hashed), listed
//! with their scope and last use, and revoked. The forms work without JavaScript.

use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::{components::error_notice::ErrorNotice, format, viewer},
    domain::accounts::ApiKeyInfo,
    domain::error::AppError,
};

#[server(prefix = "/api/admin", input = GetUrl)]
pub async fn api_keys() -> Result<Vec<ApiKeyInfo>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.store.list_api_keys().await?)
}

/// Creates a key and returns it: the only time anyone sees it.
#[server(prefix = "/api/admin")]
pub async fn create_api_key(name: String, scope: String, _csrf: String) -> Result<String, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    let name = crate::domain::accounts::ApiKeyName::parse(&name)?;
    let scope = crate::domain::accounts::ApiKeyScope::parse(&scope)?;
    Ok(state.store.create_api_key(&name, scope, chrono::Utc::now()).await?.key)
}

#[server(prefix = "/api/admin")]
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
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| api_keys());
    let csrf = viewer::csrf();
    let form_csrf = csrf.clone();
    let input = "mt-1 block w-56 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <h1 class="text-2xl font-bold">"API keys"</h1>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            "Keys for the bots' JSON API (" <span class="font-mono">"/api/v1"</span> ", header " <span class="font-mono">"X-API-Key"</span> "). A key is shown once, when it is created; orderdesk keeps only its SHA-256."
        </p>
        <ActionForm action=create attr:class="mt-4 flex flex-wrap items-end gap-3 text-sm">
            <input type="hidden" name="_csrf" value=form_csrf />
            <label>"Name"<input class=input name="name" placeholder="shipping-bot" required maxlength=crate::domain::accounts::ApiKeyName::MAX_CHARS.to_string() /></label>
            <label>"Scope"<select class=input name="scope">{crate::domain::accounts::ApiKeyScope::ALL.map(|s| view! { <option value=s.as_str()>{format!("{s}: {}", s.opens())}</option> }).collect_view()}</select></label>
            <button type="submit" class="rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700" data-testid="create-key">"Create key"</button>
        </ActionForm>
        {move || create.value().get().map(|result| match result {
            Ok(key) => view! {
                <div class="mt-3 rounded border border-emerald-300 bg-emerald-50 p-3 text-sm dark:border-emerald-700 dark:bg-emerald-950" role="status">
                    <p class="font-medium">"Copy this key now: it will not be shown again."</p>
                    <p class="mt-1 break-all font-mono" data-testid="new-key">{key}</p>
                </div>
            }.into_any(),
            Err(e) => view! { <div class="mt-3"><ErrorNotice error=e /></div> }.into_any(),
        })}
        <Transition fallback=|| view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"Loading keys…"</p> }>
            {move || {
                let csrf = csrf.clone();
                Suspend::new(async move {
                    match keys.await {
                        Ok(list) if list.is_empty() => view! { <p class="mt-4 text-slate-500 dark:text-slate-400">"No keys yet. Create one for each bot, so each can be revoked alone."</p> }.into_any(),
                        Ok(list) => view! { <KeyTable keys=list revoke csrf /> }.into_any(),
                        Err(e) => view! { <div class="mt-4"><ErrorNotice error=e /></div> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
    .into_any()
}

#[component]
fn KeyTable(keys: Vec<ApiKeyInfo>, revoke: ServerAction<RevokeApiKey>, csrf: String) -> impl IntoView {
    view! {
        <table class="mt-4 w-full text-left text-sm" data-testid="key-table">
            <thead class="text-slate-500 dark:text-slate-400"><tr><th class="py-1 pr-3">"Name"</th><th class="pr-3">"Scope"</th><th class="pr-3">"Created"</th><th class="pr-3">"Last used"</th><th>"State"</th></tr></thead>
            <tbody>
                {keys.into_iter().map(|k| {
                    let csrf = csrf.clone();
                    let name = k.name.clone();
                    view! {
                        <tr class="border-t border-slate-100 dark:border-slate-800" data-key=name>
                            <td class="py-1 pr-3 font-mono">{k.name}</td>
                            <td class="pr-3">{k.scope.as_str()}</td>
                            <td class="pr-3 tabular-nums">{format::time(k.created_at)}</td>
                            <td class="pr-3 tabular-nums">{if k.last_used_at.is_some() { format::time(k.last_used_at) } else { "never".into() }}</td>
                            <td>{match k.revoked_at {
                                Some(at) => view! { <span class="text-slate-500 dark:text-slate-400">{format!("revoked {}", format::time(Some(at)))}</span> }.into_any(),
                                None => view! {
                                    <ActionForm action=revoke>
                                        <input type="hidden" name="_csrf" value=csrf />
                                        <input type="hidden" name="id" value=k.id />
                                        <button type="submit" class="text-red-700 underline dark:text-red-300">"Revoke"</button>
                                    </ActionForm>
                                }.into_any(),
                            }}</td>
                        </tr>
                    }.into_any()
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
