//! Maintenance runs: the three migrations and the index check and build. They share one
//! lifecycle, here: the run is recorded (and, when it writes, takes the maintenance lock: a
//! build and a migration never run at once), then works in steps (a batch of orders, an
//! index), each step's progress saved and a cancel honoured between steps, the run and its
//! lock said alive every few seconds while a long step runs; at the end the record is saved
//! and the lock released whatever happened. What differs is a [`RunKind`], one file each.
//!
//! Adding a migration: a file here implementing `batches::Migrating` (what it counts and its
//! batch; the rest of its [`RunKind`] is the migrations' shared one), a line in [`migration`],
//! and its name and description in `domain::maintenance::Migration`, which the page and CLI
//! list. Another kind of run implements [`RunKind`] itself, as `indexes.rs` does.
//!
//! A request only starts a run: a unique build or a migration over millions of orders
//! outlasts any request timeout, and a future dropped at that timeout would leave no record
//! of what happened.

mod batches;
mod duplicates;
mod indexes;
mod order_ids;
mod order_numbers;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

pub use indexes::{IndexRun, overview};

use crate::{
    domain::{
        audit::{Actor, AuditEntry},
        ids::generate::{Clock, SystemClock},
        maintenance::{Migration, MigrationOptions, PlannedChange, RunRecord, RunStatus, SAMPLE_LIMIT, Task},
    },
    storage::{StorageError, Store},
};

/// Why a run could not start or stopped early.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MaintenanceError {
    #[error("another migration is running (run {0}); wait for it to finish or cancel it")]
    AlreadyRunning(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<MaintenanceError> for crate::domain::error::AppError {
    fn from(e: MaintenanceError) -> Self {
        match e {
            MaintenanceError::AlreadyRunning(_) => Self::Conflict(e.to_string()),
            MaintenanceError::Storage(s) => s.into(),
        }
    }
}

/// How often a run says it is alive while one step takes long (well inside the lock's
/// 30 s heartbeat timeout).
const BEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a kind of run counted before it was recorded.
pub struct Plan {
    pub total: u64,
    /// The record's first message (`"120 orders to look at"`).
    pub message: String,
}

/// What one step looked at and did, for the lifecycle to add to the record.
#[derive(Debug, Default)]
pub struct Done {
    pub looked_at: u64,
    pub changed: u64,
    pub changes: Vec<PlannedChange>,
    pub errors: Vec<String>,
}

/// What a step may use and change: the store, the run's record (for what only its kind
/// records: index reports, moved references), and whether a cancel was asked for while it
/// ran (a step that does two things stops after the first).
pub struct Step<'a> {
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub record: &'a mut RunRecord,
    pub cancel: &'a AtomicBool,
}

impl Step<'_> {
    pub fn cancel_asked(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A kind of run: what it works through and how it sums up. The lifecycle does the rest.
pub trait RunKind: Send {
    fn task(&self) -> Task;
    /// Whether it changes data (then it takes the maintenance lock; otherwise it is a dry
    /// run and writes only its own record).
    fn writes(&self) -> bool;
    /// What one step handles, in words for the progress line (`"orders"`, `"indexes"`).
    fn unit(&self) -> &'static str;
    /// The batch size it was asked for, for the record (0 where it has none).
    fn batch(&self) -> u32 {
        0
    }
    /// Counts the work.
    fn plan<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<Plan, MaintenanceError>>;
    /// Does the next step; `None` when there was nothing left.
    fn step<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>>;
    /// The status and message of a run that went through every step.
    fn complete<'a>(&'a mut self, store: &'a Store, record: &'a mut RunRecord) -> BoxFuture<'a, ()>;
    /// The audit action for the run's end, for a kind whose end is audited here (a
    /// migration's start is audited by whoever started it).
    fn audit_action(&self) -> Option<&'static str> {
        None
    }
}

/// The kind of run for `migration`: the one list of them.
pub fn migration(migration: Migration, options: MigrationOptions, zone: chrono_tz::Tz) -> Box<dyn RunKind> {
    match migration {
        Migration::OrderIds => Box::new(order_ids::OrderIds::new(options)),
        Migration::Duplicates => Box::new(duplicates::Duplicates::new(options)),
        Migration::OrderNumbers => Box::new(order_numbers::OrderNumbers::new(options, zone)),
    }
}

/// The kind of run for an index check or build.
pub fn index_run(run: IndexRun) -> Box<dyn RunKind> {
    Box::new(indexes::Indexes::new(run))
}

/// A recorded run, holding the lock when it writes; [`Run::execute`] does the work.
pub struct Run {
    store: Store,
    clock: Arc<dyn Clock>,
    kind: Box<dyn RunKind>,
    actor: Actor,
    record: RunRecord,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("record", &self.record).finish_non_exhaustive()
    }
}

/// Counts the work, records the run and, for a writing run, takes the lock.
pub async fn prepare(
    store: &Store,
    clock: Arc<dyn Clock>,
    mut kind: Box<dyn RunKind>,
    actor: &Actor,
) -> Result<Run, MaintenanceError> {
    let plan = kind.plan(store).await?;
    let now = clock.now();
    let mut record = RunRecord::begun(kind.task(), !kind.writes(), actor.name(), now, plan.total);
    record.batch = kind.batch();
    record.message = plan.message;
    record.id = store.insert_run(&record, now).await?;
    if kind.writes() {
        take_lock(store, &mut record, now).await?;
    }
    Ok(Run { store: store.clone(), clock, kind, actor: actor.clone(), record })
}

/// [`prepare`] for a migration, on the system clock.
pub async fn prepare_migration(
    store: &Store,
    zone: chrono_tz::Tz,
    which: Migration,
    options: MigrationOptions,
    actor: &Actor,
) -> Result<Run, MaintenanceError> {
    prepare(store, Arc::new(SystemClock), migration(which, options, zone), actor).await
}

/// [`prepare`] for an index check or build, on the system clock.
pub async fn prepare_index_run(store: &Store, run: IndexRun, actor: &Actor) -> Result<Run, MaintenanceError> {
    prepare(store, Arc::new(SystemClock), index_run(run), actor).await
}

/// Prepares a run and hands it to `workers` to run in the background; its id at once (a
/// request only starts a run).
pub async fn start(
    store: &Store,
    clock: Arc<dyn Clock>,
    kind: Box<dyn RunKind>,
    actor: &Actor,
    workers: &crate::services::workers::Workers,
) -> Result<String, MaintenanceError> {
    let run = prepare(store, clock, kind, actor).await?;
    let id = run.record.id.clone();
    workers.spawn(format!("{} run {id}", run.record.task.as_str()), async move {
        run.execute(|_| {}).await;
    });
    Ok(id)
}

/// Takes the maintenance lock for a recorded run, or marks the run as not started and says
/// who holds it.
async fn take_lock(store: &Store, record: &mut RunRecord, now: DateTime<Utc>) -> Result<(), MaintenanceError> {
    if store.acquire_migration_lock(&record.id, now).await? {
        return Ok(());
    }
    let holder = store.migration_lock_holder(now).await?.unwrap_or_else(|| "unknown".into());
    record.status = RunStatus::Failed;
    record.message = format!("not started: run {holder} is migrating or building indexes");
    store.save_progress(record, &[], &[], now).await?;
    Err(MaintenanceError::AlreadyRunning(holder))
}

impl Run {
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// Runs to the end, a cancel or an error, calling `on_progress` after each step and at the
    /// end. The final record is saved (and audited, for the kinds audited here) and returned;
    /// the lock is released whatever happens.
    pub async fn execute(mut self, mut on_progress: impl FnMut(&RunRecord)) -> RunRecord {
        let started = Instant::now();
        let ended = self.steps(started, &mut on_progress).await;
        self.record.duration_ms = started.elapsed().as_millis() as u64;
        let (done, total, unit) = (self.record.done, self.record.total, self.kind.unit());
        match ended {
            Ok(Ended::Cancelled) => {
                self.record.status = RunStatus::Cancelled;
                self.record.message = format!("cancelled after {done} of {total} {unit}");
            }
            Ok(Ended::AllDone) => self.kind.complete(&self.store, &mut self.record).await,
            Err(e) => {
                self.record.status = RunStatus::Failed;
                self.record.message = format!("stopped after {done} {unit}: {e}; run it again to continue");
            }
        }
        let id = self.record.id.clone();
        if let Err(e) = self.store.save_progress(&self.record, &[], &[], self.clock.now()).await {
            tracing::error!(run = %id, error = %e, "could not save the end of a run");
        }
        if self.kind.writes()
            && let Err(e) = self.store.release_migration_lock(&id).await
        {
            tracing::warn!(run = %id, error = %e, "lock not released; it expires by itself");
        }
        if let Some(action) = self.kind.audit_action() {
            let outcome = format!("{}: {}", self.record.status.as_str(), self.record.message);
            let entry = AuditEntry::new(&self.actor, action, &outcome).with_params(&format!("run={id}"));
            if let Err(e) = self.store.audit(&entry).await {
                tracing::error!(run = %id, error = %e, "could not audit the end of a run");
            }
        }
        on_progress(&self.record);
        self.record
    }

    async fn steps(
        &mut self,
        started: Instant,
        on_progress: &mut impl FnMut(&RunRecord),
    ) -> Result<Ended, MaintenanceError> {
        let cancel = AtomicBool::new(false);
        loop {
            let step = Step { store: &self.store, clock: &*self.clock, record: &mut self.record, cancel: &cancel };
            let beat = Beat { store: &self.store, run: step.record.id.clone(), holds_lock: self.kind.writes() };
            let Some(done) = beat.during(self.kind.step(step), &cancel).await? else {
                return Ok(Ended::AllDone);
            };
            let r = &mut self.record;
            r.done += done.looked_at;
            r.total = r.total.max(r.done);
            r.changed += done.changed;
            r.errors += done.errors.len() as u64;
            r.duration_ms = started.elapsed().as_millis() as u64;
            r.rate = r.done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            r.message = format!("{} of {} {}", r.done, r.total, self.kind.unit());
            let room = SAMPLE_LIMIT.saturating_sub(r.changes.len());
            let new_changes: Vec<PlannedChange> = done.changes.into_iter().take(room).collect();
            r.changes.extend(new_changes.iter().cloned());
            let room = SAMPLE_LIMIT.saturating_sub(r.error_samples.len());
            let new_errors: Vec<String> = done.errors.into_iter().take(room).collect();
            r.error_samples.extend(new_errors.iter().cloned());
            let asked = self.store.save_progress(&self.record, &new_changes, &new_errors, self.clock.now()).await?;
            on_progress(&self.record);
            if asked || cancel.load(Ordering::Relaxed) {
                return Ok(Ended::Cancelled);
            }
        }
    }
}

enum Ended {
    AllDone,
    Cancelled,
}

/// Says a run is alive every [`BEAT`] while a step runs.
struct Beat<'a> {
    store: &'a Store,
    run: String,
    holds_lock: bool,
}

impl Beat<'_> {
    /// Runs `step`, beating meanwhile and noting a cancel asked for in `cancel`.
    async fn during<T>(&self, step: impl Future<Output = T>, cancel: &AtomicBool) -> T {
        let mut step = std::pin::pin!(step);
        let mut tick = tokio::time::interval(BEAT);
        tick.tick().await;
        loop {
            tokio::select! {
                out = &mut step => return out,
                _ = tick.tick() => match self.store.beat_run(&self.run, self.holds_lock, Utc::now()).await {
                    Ok(asked) => if asked { cancel.store(true, Ordering::Relaxed) },
                    Err(e) => tracing::warn!(run = %self.run, error = %e, "could not say a run is alive"),
                },
            }
        }
    }
}

/// The summary of a completed migration, from its record: what changed (or would), what
/// could not, and for the kinds that have them the uniqueness report and moved references.
fn migration_summary(record: &RunRecord, migration: Migration) -> String {
    let r = record;
    let verb = if r.dry_run { "would change" } else { "changed" };
    let orders = match (r.changed, r.errors) {
        (0, 0) => format!("nothing to do: no order needs {migration}"),
        (n, 0) => format!("{verb} {n} of {} orders", r.done),
        (n, e) => format!("{verb} {n} of {} orders; {e} could not be changed (see the errors)", r.done),
    };
    let orders = match &r.uniqueness {
        Some(u) if u.problems.is_empty() => {
            format!("{orders}; every number unique, no counter behind ({} counters checked)", u.counters_checked)
        }
        Some(u) => format!(
            "{orders}; {} of {} counters checked hold a number twice or are behind their highest number (see the report)",
            u.problems.len(),
            u.counters_checked
        ),
        None => orders,
    };
    if r.references_moved + r.references_undecided == 0 {
        return orders;
    }
    let moved = if r.dry_run { "would move" } else { "moved" };
    format!(
        "{orders}; {moved} {} payments, sessions or pending orders to the renamed orders, {} left for a person to decide",
        r.references_moved, r.references_undecided
    )
}
