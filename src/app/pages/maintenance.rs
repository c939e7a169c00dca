//! `/maintenance`: the index check with its blockers, the migrations (dry run, review,
//! confirm, apply with a live progress bar, cancel) and the record of every run.
//!
//! Long (about 960 lines, most of them view markup, one attribute a line as leptosfmt writes
//! it): one page of five panels (indexes, sources, bot sessions, migrations, the active run
//! and the history) that share the watched run and its polling.

use leptos::{prelude::*, server_fn::codec::GetUrl};

use crate::{
    app::resource::{PageResource, page_resource},
    app::{
        components::error_notice::{ActionError, ErrorNotice, PageErrors},
        format, viewer,
    },
    domain::error::AppError,
    domain::maintenance::{
        Blockers, IndexOverview, IndexReport, IndexState, Migration, RunMode, RunRecord, RunStatus,
        SESSION_REPAIR_BATCH, SessionsWithoutId, Task,
    },
};

/// The index table: `listIndexes` now, blockers as the latest finished scan counted them.
#[server(prefix = "/api/admin", endpoint = "check_indexes", input = GetUrl)]
pub async fn check_indexes() -> Result<IndexOverview, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(crate::services::runs::overview(&state.store).await?)
}

/// The dry run of the session repair: the bot sessions without an `order_id`.
#[server(prefix = "/api/admin", endpoint = "session_repair_dry_run", input = GetUrl)]
pub async fn session_repair_dry_run() -> Result<SessionsWithoutId, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.store.sessions_without_order_id(10).await?)
}

/// Gives up to [`SESSION_REPAIR_BATCH`] sessions without an `order_id` a fresh one, each in
/// one atomic update that stores it only while the session still has none (a bot filling
/// it meanwhile wins). `confirm` must say `sessions`. Returns how many got an ID.
#[server(prefix = "/api/admin", endpoint = "repair_sessions")]
pub async fn repair_sessions(confirm: String, _csrf: String) -> Result<u64, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    if confirm.trim() != "sessions" {
        return Err(AppError::BadInput("type sessions to confirm that the sessions should be changed".into()));
    }
    let found = state.store.sessions_without_order_id(SESSION_REPAIR_BATCH).await?;
    let mut repaired = 0;
    for (user, _, _) in found.sample {
        let id = state.ids.next_id();
        let session = state.store.fill_session_order_id(crate::domain::ids::TelegramId(user), &id).await?;
        repaired += u64::from(session.order_id.as_deref() == Some(id.to_string().as_str()));
    }
    Ok(repaired)
}

/// Starts an index check (`kind` = `check`: counts the blockers, writes nothing) or build
/// (`apply`) in the background and returns the run's id at once.
#[server(prefix = "/api/admin", endpoint = "start_index_run")]
pub async fn start_index_run(kind: String, _csrf: String) -> Result<String, AppError> {
    let (state, caller) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    use crate::services::runs::{self, IndexRun};
    let kind = match kind.trim() {
        "check" => IndexRun::Check,
        "apply" => IndexRun::Build,
        other => {
            return Err(AppError::BadInput(format!(
                "index run {:?} is not one of: check, apply",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let clock = state.ids.clock().clone();
    Ok(runs::start(&state.store, clock, runs::index_run(kind), &caller.actor(), &state.workers).await?)
}

/// Starts a run in the background and returns its id at once. Applying (not a dry run)
/// needs `confirm` to repeat the migration's name.
#[server(prefix = "/api/admin", endpoint = "start_migration")]
pub async fn start_migration(
    migration: Migration,
    mode: RunMode,
    batch: u32,
    confirm: String,
    _csrf: String,
) -> Result<String, AppError> {
    let (state, caller) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    use crate::services::runs;
    let options = crate::domain::maintenance::MigrationOptions::asked(migration, mode, batch, &confirm)?;
    let kind = runs::migration(migration, options, state.settings.time_zone);
    Ok(runs::start(&state.store, state.ids.clock().clone(), kind, &caller.actor(), &state.workers).await?)
}

#[server(prefix = "/api/admin", endpoint = "run_progress", input = GetUrl)]
pub async fn run_progress(id: String) -> Result<RunRecord, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    state
        .store
        .find_run(id.trim(), chrono::Utc::now())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no run {}", id.chars().take(40).collect::<String>())))
}

#[server(prefix = "/api/admin", endpoint = "cancel_run")]
pub async fn cancel_run(id: String, _csrf: String) -> Result<bool, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.store.request_cancel(id.trim()).await?)
}

#[server(prefix = "/api/admin", endpoint = "recent_runs", input = GetUrl)]
pub async fn recent_runs() -> Result<Vec<RunRecord>, AppError> {
    let (state, _) = crate::server::require(crate::domain::accounts::Role::Admin)?;
    Ok(state.store.recent_runs(30, chrono::Utc::now()).await?)
}

const BUTTON: &str =
    "rounded bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700 disabled:opacity-50";
const QUIET_BUTTON: &str = "rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800";
const CARD: &str = "rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900";

#[component]
pub fn MaintenancePage() -> impl IntoView {
    // The run being watched, and its latest state: a resource keyed on the run and on a tick
    // that moves twice a second while the run runs.
    let active = RwSignal::new(None::<String>);
    let tick = RwSignal::new(0_u32);
    let status: Progress = page_resource(
        move || (active.get(), tick.get()),
        |(id, _)| async move {
            match id {
                Some(id) => run_progress(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    poll_while_running(status, tick);
    // A run that ends refreshes the history and the index table, once (a short run may end
    // before the first poll).
    let finished = Memo::new(move |_| {
        status.get().and_then(Result::ok).flatten().filter(|r| r.status.is_finished()).map(|r| r.id)
    });
    let check = page_resource(move || finished.get(), |_| check_indexes());
    let runs = page_resource(move || finished.get(), |_| recent_runs());
    let index_run = ServerAction::<StartIndexRun>::new();
    Effect::new(move |_| {
        if let Some(Ok(id)) = index_run.value().get() {
            active.set(Some(id));
        }
    });
    let start = move |kind: &str| {
        index_run.dispatch(StartIndexRun { kind: kind.into(), _csrf: viewer::csrf() });
    };

    view! {
        <section class="space-y-8">
            <div>
                <h1 class="text-2xl font-bold">"Maintenance"</h1>
                <p class="mt-1 text-slate-600 dark:text-slate-400">
                    "Check the indexes, find the documents that block them, and fix the data: dry run first, review, then apply."
                </p>
            </div>

            <ActiveRun active status />

            <crate::app::components::source_reports::SourceReports />

            <div class=CARD data-testid="index-check">
                <div class="flex flex-wrap items-center justify-between gap-2">
                    <h2 class="text-lg font-semibold">"Indexes"</h2>
                    <div class="flex gap-2">
                        <button
                            class=QUIET_BUTTON
                            data-testid="check-indexes"
                            disabled=move || index_run.pending().get()
                            on:click=move |_| start("check")
                        >
                            "Scan for blockers"
                        </button>
                        <button
                            class=BUTTON
                            data-testid="apply-indexes"
                            disabled=move || index_run.pending().get()
                            on:click=move |_| start("apply")
                        >
                            "Create missing indexes"
                        </button>
                    </div>
                </div>
                <ActionError value=index_run.value() class="mt-3" />
                <Transition fallback=|| {
                    view! { <p class="mt-3 text-slate-500 dark:text-slate-400">"Checking indexes…"</p> }
                }>
                    <PageErrors>
                        {move || Suspend::new(async move {
                            check.await.map(|overview| view! { <IndexTable overview /> })
                        })}
                    </PageErrors>
                </Transition>
            </div>

            <div class="space-y-3">
                <h2 class="text-lg font-semibold">"Migrations"</h2>
                <div class="grid gap-4 md:grid-cols-3">
                    {Migration::ALL
                        .into_iter()
                        .map(|m| view! { <MigrationCard migration=m active status /> })
                        .collect_view()}
                </div>
            </div>

            <SessionRepair />

            <div class=CARD>
                <h2 class="text-lg font-semibold">"Runs"</h2>
                <Transition fallback=|| ()>
                    <PageErrors>
                        {move || Suspend::new(async move { runs.await.map(|runs| view! { <RunTable runs active /> }) })}
                    </PageErrors>
                </Transition>
            </div>
        </section>
    }
    .into_any()
}

/// The bot sessions that lost their `order_id`: the dry run (how many, the first ten), then
/// the repair after typing `sessions`.
#[component]
fn SessionRepair() -> impl IntoView {
    let repair = ServerAction::<RepairSessions>::new();
    let found = page_resource(move || repair.version().get(), |_| session_repair_dry_run());
    view! {
        <div class=CARD data-testid="session-repair">
            <h2 class="text-lg font-semibold">"Bot sessions without an order_id"</h2>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
                "A session whose order_id is missing, null or empty makes the bot draw a new ID on every step (the seed's DuplicateKey troubleshooting). The repair gives each one an ID, once: only while it still has none."
            </p>
            <Transition fallback=|| ()>
                <PageErrors>
                    {move || Suspend::new(async move {
                        found
                            .await
                            .map(|f| match f.count {
                                0 => {
                                    view! {
                                        <p class="mt-2 text-sm" data-testid="sessions-without-id">
                                            "None: every session has its ID."
                                        </p>
                                    }
                                        .into_any()
                                }
                                _ => {
                                    view! {
                                        <p class="mt-2 text-sm" data-testid="sessions-without-id">
                                            {format!(
                                                "Dry run: {} session{} would get an ID{}.",
                                                format::count(f.count),
                                                if f.count == 1 { "" } else { "s" },
                                                if f.count as i64 > SESSION_REPAIR_BATCH {
                                                    format!(", {SESSION_REPAIR_BATCH} per repair")
                                                } else {
                                                    String::new()
                                                },
                                            )}
                                        </p>
                                        <ul class="mt-1 text-sm">
                                            {f
                                                .sample
                                                .into_iter()
                                                .map(|(user, step, since)| {
                                                    view! {
                                                        <li>
                                                            {format!(
                                                                "telegram user {user} · step {} · since {}",
                                                                format::text(step.as_deref()),
                                                                format::time(since),
                                                            )}
                                                        </li>
                                                    }
                                                })
                                                .collect_view()}
                                        </ul>
                                        <ActionForm
                                            action=repair
                                            attr:class="mt-3 flex flex-wrap items-end gap-2 text-sm"
                                        >
                                            <input type="hidden" name="_csrf" value=viewer::csrf() />
                                            <label>
                                                "Type sessions to confirm "
                                                <input
                                                    class="rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-800"
                                                    name="confirm"
                                                    autocomplete="off"
                                                />
                                            </label>
                                            <button type="submit" class=BUTTON data-testid="repair-sessions">
                                                "Give each an ID"
                                            </button>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }
                            })
                    })}
                </PageErrors>
            </Transition>
            {move || {
                repair
                    .value()
                    .get()
                    .map(|result| match result {
                        Ok(n) => {
                            view! {
                                <p class="mt-2 text-sm" role="status" data-testid="sessions-repaired">
                                    {format!(
                                        "{} session{} got an ID.",
                                        format::count(n),
                                        if n == 1 { "" } else { "s" },
                                    )}
                                </p>
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <div class="mt-2">
                                    <ErrorNotice error=e />
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </div>
    }
}

/// A run's latest state as the page watches it (`None`: no run is watched).
type Progress = PageResource<Result<Option<RunRecord>, AppError>>;

/// Moves `tick` every half second while the watched run is running (the progress resource is
/// keyed on it); a finished run stops the polling by itself.
fn poll_while_running(status: Progress, tick: RwSignal<u32>) {
    Effect::new(move |_| {
        let poll = move || {
            let running =
                status.get_untracked().and_then(Result::ok).flatten().is_some_and(|r| !r.status.is_finished());
            if running {
                tick.update(|t| *t = t.wrapping_add(1));
            }
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_millis(500)) {
            on_cleanup(move || handle.clear());
        }
    });
}

fn badge(state: &IndexState, blocked: bool) -> (&'static str, &'static str) {
    match state {
        IndexState::Present => ("present", "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"),
        IndexState::Covered { .. } => {
            ("covered", "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100")
        }
        IndexState::Missing if blocked => ("blocked", "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100"),
        IndexState::Missing => ("missing", "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100"),
        IndexState::Different { .. } => {
            ("different", "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100")
        }
    }
}

#[component]
fn IndexTable(overview: IndexOverview) -> impl IntoView {
    let IndexOverview { reports, scanned } = overview;
    let missing = reports.iter().filter(|r| r.state != IndexState::Present).count();
    let scan = match scanned {
        Some(s) => {
            format!("Blockers as counted by the scan that finished {} UTC.", s.finished_at.format("%Y-%m-%d %H:%M:%S"))
        }
        None => "Blockers not counted yet: scan for them (it reads every order, in the background).".to_owned(),
    };
    view! {
        <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="index-summary">
            {if missing == 0 {
                format!("All {} indexes are present.", reports.len())
            } else {
                format!("{missing} of {} indexes are missing or different.", reports.len())
            }}
            " "
            <span data-testid="scan-info">{scan}</span>
        </p>
        <div class="mt-2 overflow-x-auto">
            <table class="w-full text-left text-sm">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"Collection"</th>
                        <th class="pr-3">"Index"</th>
                        <th class="pr-3">"State"</th>
                        <th>"Purpose and problems"</th>
                    </tr>
                </thead>
                <tbody>{reports.into_iter().map(|report| view! { <IndexRow r=report /> }).collect_view()}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// One expected index. Type-erased (`into_any`) so the table's view type stays shallow enough for the
/// release wasm build's query depth limit.
#[component]
fn IndexRow(r: IndexReport) -> impl IntoView {
    let (label, colour) = badge(&r.state, r.is_blocked());
    let unique = if r.unique { " unique" } else { "" };
    view! {
        <tr
            class="border-t border-slate-100 align-top dark:border-slate-800"
            data-index=format!("{}.{}", r.collection, r.name)
        >
            <td class="py-1.5 pr-3 font-mono">{r.collection.clone()}</td>
            <td class="pr-3">
                <span class="font-mono">{r.name.clone()}</span>
                <span class="text-slate-500 dark:text-slate-400">{unique}</span>
            </td>
            <td class="pr-3">
                <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {colour}") data-state=label>
                    {label}
                </span>
            </td>
            <td>
                <span>{r.purpose.clone()}</span>
                {match &r.state {
                    IndexState::Different { actual } => {
                        Some(
                            view! {
                                <p class="text-amber-800 dark:text-amber-300">"Found instead: " {actual.clone()}</p>
                            }
                                .into_any(),
                        )
                    }
                    IndexState::Covered { by } => {
                        Some(
                            view! { <p class="text-slate-600 dark:text-slate-400">"Served by " {by.clone()}</p> }
                                .into_any(),
                        )
                    }
                    _ => None,
                }}
                {r
                    .stand_in
                    .clone()
                    .map(|s| {
                        view! {
                            <p class="text-slate-500 dark:text-slate-400">
                                "Stand-in " <span class="font-mono">{s}</span> " (not unique) serves lookups meanwhile."
                            </p>
                        }
                    })}
                {r.blockers.clone().filter(Blockers::any).map(|b| view! { <BlockerList blockers=b /> })}
            </td>
        </tr>
    }
    .into_any()
}

#[component]
fn BlockerList(blockers: Blockers) -> impl IntoView {
    let fix = blockers.fixed_by().iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" and ");
    view! {
        <div class="mt-1 rounded bg-red-50 p-2 dark:bg-red-950" data-testid="blockers">
            <p class="font-medium text-red-900 dark:text-red-200">
                {format!(
                    "{}: {} missing, {} null, {} empty, {} values shared by {} orders. Fixed by: {fix}.",
                    if blockers.block() { "Blocks the unique index" } else { "Needs fixing" },
                    format::count(blockers.missing),
                    format::count(blockers.null),
                    format::count(blockers.empty),
                    format::count(blockers.duplicate_values),
                    format::count(blockers.duplicate_documents),
                )}
            </p>
            <ul class="mt-1 text-xs">
                {blockers
                    .sample
                    .into_iter()
                    .map(|s| {
                        view! {
                            <li>
                                <span class="font-mono">{s.object_id}</span>
                                " "
                                {s.problem}
                                " "
                                {s
                                    .lookup
                                    .map(|l| {
                                        view! {
                                            <a
                                                class="text-indigo-700 underline dark:text-indigo-300"
                                                href=format::order_href(&l)
                                            >
                                                {l.clone()}
                                            </a>
                                        }
                                    })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </div>
    }
    .into_any()
}

#[component]
fn MigrationCard(migration: Migration, active: RwSignal<Option<String>>, status: Progress) -> impl IntoView {
    let start = ServerAction::<StartMigration>::new();
    let batch = RwSignal::new(crate::domain::maintenance::DEFAULT_BATCH.to_string());
    let confirm = RwSignal::new(String::new());
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(id)) = start.value().get() {
            active.set(Some(id));
            confirming.set(false);
            confirm.set(String::new());
        }
    });
    // Applying is offered once a dry run of this migration has been reviewed.
    let reviewed = move || matches!(status.get(), Some(Ok(Some(r))) if r.task == Task::Migration(migration) && r.dry_run && r.status == RunStatus::Completed && r.changed > 0);
    let dispatch = move |mode: RunMode| {
        let batch = batch.get_untracked().trim().parse().unwrap_or(0);
        start.dispatch(StartMigration {
            migration,
            mode,
            batch,
            confirm: confirm.get_untracked(),
            _csrf: viewer::csrf(),
        });
    };
    let input =
        "w-24 rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-800";
    view! {
        <div class=CARD data-migration=migration.as_str()>
            <h3 class="font-mono font-semibold">{migration.as_str()}</h3>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{migration.description()}</p>
            <label class="mt-3 block text-sm">
                "Batch "
                <input
                    class=input
                    type="number"
                    min="1"
                    max="10000"
                    prop:value=move || batch.get()
                    on:input=move |e| batch.set(event_target_value(&e))
                />
            </label>
            <div class="mt-3 flex flex-wrap gap-2">
                <button
                    class=QUIET_BUTTON
                    data-testid="dry-run"
                    disabled=move || start.pending().get()
                    on:click=move |_| dispatch(RunMode::DryRun)
                >
                    "Dry run"
                </button>
                <Show when=reviewed>
                    <button class=BUTTON data-testid="apply" on:click=move |_| confirming.set(true)>
                        "Apply…"
                    </button>
                </Show>
            </div>
            <Show when=move || confirming.get()>
                <div class="mt-3 rounded border border-amber-300 bg-amber-50 p-2 text-sm dark:border-amber-700 dark:bg-amber-950">
                    <label>
                        "This changes orders. Type " <span class="font-mono">{migration.as_str()}</span> " to confirm: "
                        <input
                            class="mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1 font-mono dark:border-slate-700 dark:bg-slate-800"
                            data-testid="confirm"
                            prop:value=move || confirm.get()
                            on:input=move |e| confirm.set(event_target_value(&e))
                        />
                    </label>
                    <div class="mt-2 flex gap-2">
                        <button
                            class=BUTTON
                            data-testid="confirm-apply"
                            disabled=move || confirm.get().trim() != migration.as_str() || start.pending().get()
                            on:click=move |_| dispatch(RunMode::Apply)
                        >
                            "Apply to the orders"
                        </button>
                        <button class=QUIET_BUTTON on:click=move |_| confirming.set(false)>
                            "Cancel"
                        </button>
                    </div>
                </div>
            </Show>
            <ActionError value=start.value() class="mt-3" />
        </div>
    }    .into_any()
}

#[component]
fn ActiveRun(active: RwSignal<Option<String>>, status: Progress) -> impl IntoView {
    let cancel = ServerAction::<CancelRun>::new();
    move || {
        active.get()?;
        let view = match status.get()?.transpose()? {
            Err(e) => view! { <ErrorNotice error=e /> }.into_any(),
            Ok(r) => {
                let running = r.status == RunStatus::Running;
                let id = r.id.clone();
                let title = r.title();
                let state = r.status.as_str();
                view! {
                    <div class=CARD data-testid="active-run" data-status=state>
                        <div class="flex flex-wrap items-baseline justify-between gap-2">
                            <p class="font-medium">{format!("{title} — {state}")}</p>
                            <Show when=move || running>
                                <button
                                    class=QUIET_BUTTON
                                    data-testid="cancel-run"
                                    on:click={
                                        let id = id.clone();
                                        move |_| {
                                            cancel
                                                .dispatch(CancelRun {
                                                    id: id.clone(),
                                                    _csrf: viewer::csrf(),
                                                });
                                        }
                                    }
                                >
                                    "Cancel"
                                </button>
                            </Show>
                        </div>
                        <div
                            class="mt-2 h-3 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700"
                            role="progressbar"
                            aria-label="Progress"
                            aria-valuemin="0"
                            aria-valuemax="100"
                            aria-valuenow=format!("{:.0}", r.percent())
                        >
                            <div class="h-3 bg-indigo-600" style=format!("width: {:.1}%", r.percent())></div>
                        </div>
                        <p
                            class="mt-1 text-sm tabular-nums text-slate-600 dark:text-slate-400"
                            data-testid="run-progress"
                        >
                            {progress_text(&r)}
                        </p>
                        <p class="mt-1 text-sm" data-testid="run-message">
                            {r.message.clone()}
                        </p>
                        <ReferenceList record=r.clone() />
                        {r.uniqueness.clone().map(|report| view! { <Uniqueness report /> })}
                        <ChangeList record=r />
                    </div>
                }
                .into_any()
            }
        };
        Some(view)
    }
}

/// The line under the progress bar: orders for a migration, indexes for an index run.
fn progress_text(r: &RunRecord) -> String {
    match r.task {
        Task::Indexes => {
            return format!(
                "{} / {} indexes ({:.0}%), {} created, {} not created",
                r.done,
                r.total,
                r.percent(),
                r.changed,
                r.errors
            );
        }
        Task::IndexCheck => return format!("{} / {} indexes checked ({:.0}%)", r.done, r.total, r.percent()),
        Task::Migration(_) => {}
    }
    let eta = r.eta_seconds().map(|s| format!(", about {s} s left")).unwrap_or_default();
    let verb = if r.dry_run { "would change" } else { "changed" };
    format!(
        "{} / {} orders ({:.0}%), {} {verb}, {} errors, {:.0} orders/s{eta}",
        format::count(r.done),
        format::count(r.total),
        r.percent(),
        format::count(r.changed),
        r.errors,
        r.rate
    )
}

/// The duplicates migration's payments, sessions and pending orders: those left for a
/// person first, then the ones moved or kept, with the CSV of all of them.
#[component]
fn ReferenceList(record: RunRecord) -> impl IntoView {
    let RunRecord { id, mut references, references_moved, references_undecided, dry_run, .. } = record;
    if references.is_empty() {
        return None;
    }
    references.sort_by_key(|r| r.decided);
    let verb = if dry_run { "would move" } else { "moved" };
    let summary = format!(
        "{} references to renamed IDs: {} {verb} to the renamed order, {} for a person to decide",
        format::count(references.len() as u64),
        format::count(references_moved),
        format::count(references_undecided)
    );
    let csv = format!("/maintenance/runs/{}/references.csv", format::urlencode(&id));
    Some(view! {
        <details class="mt-2 text-sm" open=references_undecided>
            0 || dry_run data-testid=
            "references"
            >
            <summary class="cursor-pointer" data-testid="references-summary">
                {summary}
            </summary>
            <p class="mt-1 text-xs">
                <a
                    class="text-indigo-700 underline dark:text-indigo-300"
                    href=csv
                    rel="external"
                    download
                    data-testid="references-csv"
                >
                    "Every reference as CSV"
                </a>
            </p>
            <table class="mt-1 w-full text-left text-xs">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="pr-2">"What"</th>
                        <th class="pr-2">"_id"</th>
                        <th class="pr-2">"Named"</th>
                        <th class="pr-2">"Names now"</th>
                        <th>"Why"</th>
                    </tr>
                </thead>
                <tbody>
                    {references
                        .into_iter()
                        .take(100)
                        .map(|r| {
                            view! {
                                <tr
                                    class=("text-amber-800", !r.decided)
                                    class=("dark:text-amber-300", !r.decided)
                                    data-decided=r.decided.to_string()
                                >
                                    <td class="pr-2">{r.kind.label()}</td>
                                    <td class="pr-2 font-mono">{r.reference}</td>
                                    <td class="pr-2 font-mono">{format!("{} = {}", r.field, r.old_order_id)}</td>
                                    <td class="pr-2 font-mono">{r.now_names}</td>
                                    <td>
                                        {if r.decided { r.reason } else { format!("decide by hand: {}", r.reason) }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </details>
    })
}

/// After a number migration: whether every number is still held once and every counter it
/// drew from is ahead of the numbers its orders hold.
#[component]
fn Uniqueness(report: crate::domain::maintenance::UniquenessReport) -> impl IntoView {
    let sound = report.problems.is_empty();
    let unchecked = (report.counters_unchecked > 0)
        .then(|| format!(" ({} more not checked: open them from /counters)", format::count(report.counters_unchecked)));
    let summary = if sound {
        format!(
            "Uniqueness: every number held once, no counter behind, {} counters checked",
            format::count(report.counters_checked)
        )
    } else {
        format!(
            "Uniqueness: {} of {} counters need a look",
            report.problems.len(),
            format::count(report.counters_checked)
        )
    };
    view! {
        <details class="mt-2 text-sm" open=!sound data-testid="uniqueness" data-sound=sound.to_string()>
            <summary class="cursor-pointer" class=("text-amber-800", !sound) class=("dark:text-amber-300", !sound)>
                {summary}
                {unchecked}
            </summary>
            <ul class="mt-1 space-y-1 text-xs">
                {report
                    .problems
                    .into_iter()
                    .map(|c| {
                        let href = format!("/counters/{}", format::urlencode(&c.counter_id));
                        let twice = (!c.held_twice.is_empty())
                            .then(|| {
                                let list: Vec<String> = c
                                    .held_twice
                                    .iter()
                                    .map(|(seq, n)| format!("{seq:05} by {n} orders"))
                                    .collect();
                                format!(" · held twice: {}", list.join(", "))
                            });
                        let behind = c
                            .highest_beyond
                            .map(|top| {
                                format!(
                                    " · behind: it issued {} but an order holds {top:05}, so its next number is already taken",
                                    c.issued,
                                )
                            });
                        view! {
                            <li>
                                <a class="font-mono text-indigo-700 underline dark:text-indigo-300" href=href>
                                    {c.counter_id.clone()}
                                </a>
                                {twice}
                                {behind}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </details>
    }
}

#[component]
fn ChangeList(record: RunRecord) -> impl IntoView {
    let RunRecord { changes, error_samples, changed, dry_run, .. } = record;
    if changes.is_empty() && error_samples.is_empty() {
        return None;
    }
    let summary = if changes.is_empty() {
        match error_samples.len() {
            1 => "1 error".to_owned(),
            n => format!("{n} errors"),
        }
    } else {
        format!("{} changes shown of {}", changes.len(), format::count(changed))
    };
    let table = (!changes.is_empty()).then(|| {
        view! {
            <table class="mt-1 w-full text-left font-mono text-xs" data-testid="changes">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="pr-2">"order _id"</th>
                        <th class="pr-2">"field"</th>
                        <th class="pr-2">"from"</th>
                        <th>"to"</th>
                    </tr>
                </thead>
                <tbody>
                    {changes
                        .into_iter()
                        .map(|c| {
                            view! {
                                <tr>
                                    <td class="pr-2">{c.order}</td>
                                    <td class="pr-2">{c.field}</td>
                                    <td class="pr-2">{c.from}</td>
                                    <td>{c.to}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    });
    Some(view! {
        <details class="mt-2 text-sm" open=dry_run>
            <summary class="cursor-pointer">{summary}</summary>
            {table}
            <ul class="mt-1 text-xs text-red-800 dark:text-red-300">
                {error_samples.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}
            </ul>
        </details>
    })
}

#[component]
fn RunTable(runs: Vec<RunRecord>, active: RwSignal<Option<String>>) -> impl IntoView {
    if runs.is_empty() {
        return view! {
            <p class="mt-2 text-sm text-slate-500 dark:text-slate-400">
                "No runs yet. Dry runs, applied migrations, index applies and who started them will be listed here."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="mt-2 overflow-x-auto">
            <table class="w-full text-left text-sm" data-testid="runs">
                <thead class="text-slate-500 dark:text-slate-400">
                    <tr>
                        <th class="py-1 pr-3">"Started"</th>
                        <th class="pr-3">"Task"</th>
                        <th class="pr-3">"Kind"</th>
                        <th class="pr-3">"By"</th>
                        <th class="pr-3">"Status"</th>
                        <th class="pr-3 text-right">"Looked at"</th>
                        <th class="pr-3 text-right">"Changed"</th>
                        <th class="pr-3 text-right">"Errors"</th>
                        <th class="pr-3 text-right">"Took"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {runs
                        .into_iter()
                        .map(|r| {
                            let id = r.id.clone();
                            view! {
                                <tr
                                    class="border-t border-slate-100 dark:border-slate-800"
                                    data-run=r.id.clone()
                                    data-task=r.task.as_str()
                                    data-status=r.status.as_str()
                                >
                                    <td class="py-1.5 pr-3 whitespace-nowrap">
                                        {r.started_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                                    </td>
                                    <td class="pr-3 font-mono">{r.task.as_str()}</td>
                                    <td class="pr-3">{if r.dry_run { "dry run" } else { "applied" }}</td>
                                    <td class="pr-3">{r.actor.clone()}</td>
                                    <td class="pr-3">{r.status.as_str()}</td>
                                    <td class="pr-3 text-right tabular-nums">
                                        {format!("{} / {} {}", format::count(r.done), format::count(r.total), r.unit())}
                                    </td>
                                    <td class="pr-3 text-right tabular-nums">{format::count(r.changed)}</td>
                                    <td class="pr-3 text-right tabular-nums">{format::count(r.errors)}</td>
                                    <td class="pr-3 text-right tabular-nums">
                                        {format!("{:.1} s", r.duration_ms as f64 / 1000.0)}
                                    </td>
                                    <td>
                                        <button
                                            class="text-indigo-700 underline dark:text-indigo-300"
                                            on:click=move |_| {
                                                active.set(Some(id.clone()));
                                            }
                                        >
                                            "Details"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
