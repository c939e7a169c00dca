//! Index checks and builds as background runs, recorded like the migrations: an index at a
//! time, progress and the reports saved after each, a cancel honoured between indexes, the
//! lock's heartbeat beaten while a long build runs.
//!
//! A build in progress is not aborted on cancel: the only abort MongoDB offers is dropping
//! the index, and a build that finishes just before the drop would then be lost, with the
//! stand-in about to go too. Cancelling stops before the next index instead.
//!
//! A request only starts a run: a unique build over millions of orders outlasts any request
//! timeout, and a future dropped at that timeout would leave no record of what happened.

use std::{future::Future, time::Instant};

use crate::{
    domain::{
        audit::{Actor, AuditEntry},
        maintenance::{ApplyOutcome, IndexReport, IndexState, RunRecord, RunStatus, SAMPLE_LIMIT, Task},
    },
    services::maintenance::MaintenanceError,
    storage::{Store, index_check::Scan},
};

/// How often a run says it is alive while one index takes long (well inside the lock's
/// 30 s heartbeat timeout).
const BEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// What an index run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexRun {
    /// Compare every expected index and count the documents blocking the unique ones.
    Check,
    /// The check, then build what is missing and unblocked (`indexes apply`).
    Build,
}

impl IndexRun {
    fn task(self) -> Task {
        match self {
            Self::Check => Task::IndexCheck,
            Self::Build => Task::Indexes,
        }
    }
}

/// A run with its record (and, for a build, the maintenance lock); [`PreparedIndexRun::execute`] does it.
pub struct PreparedIndexRun {
    store: Store,
    kind: IndexRun,
    actor: Actor,
    record: RunRecord,
    /// Errors noted since the last save.
    unsaved_errors: Vec<String>,
    /// The indexes built so far, as `collection.name`.
    created: Vec<String>,
}

/// Records the run and, for a build, takes the lock the migrations take: a build and a
/// migration never run at once (a migration may be fixing what blocks the index).
pub async fn prepare(store: &Store, kind: IndexRun, actor: &Actor) -> Result<PreparedIndexRun, MaintenanceError> {
    let now = chrono::Utc::now();
    let steps = store.expected_index_names();
    let mut record = RunRecord {
        id: String::new(),
        task: kind.task(),
        // A check writes nothing: it is a dry run, and takes no lock.
        dry_run: kind == IndexRun::Check,
        actor: actor.name().chars().take(200).collect(),
        status: RunStatus::Running,
        started_at: now,
        finished_at: None,
        total: steps.len() as u64,
        done: 0,
        changed: 0,
        errors: 0,
        duration_ms: 0,
        rate: 0.0,
        message: format!("{} indexes to check", steps.len()),
        changes: Vec::new(),
        error_samples: Vec::new(),
        batch: 0,
        reports: Vec::new(),
        references: Vec::new(),
        references_moved: 0,
        references_undecided: 0,
        uniqueness: None,
    };
    record.id = store.insert_run(&record, now).await?;
    if kind == IndexRun::Build {
        crate::services::maintenance::take_lock(store, &mut record, now).await?;
    }
    Ok(PreparedIndexRun {
        store: store.clone(),
        kind,
        actor: actor.clone(),
        record,
        unsaved_errors: Vec::new(),
        created: Vec::new(),
    })
}

impl PreparedIndexRun {
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// Runs to the end, a cancel or an error, calling `on_progress` after each index; the
    /// final record is saved and audited, and the lock released, whatever happens.
    pub async fn execute(mut self, mut on_progress: impl FnMut(&RunRecord)) -> RunRecord {
        let started = Instant::now();
        let steps = self.store.expected_index_names();
        let mut cancelled = false;
        for (collection, name) in steps {
            let label = format!("{collection}.{name}");
            self.record.message = format!("checking {label} ({} of {})", self.record.done + 1, self.record.total);
            let (checked, cancel) = self.beating(self.store.check_index(collection, name, Scan::Blockers)).await;
            cancelled |= cancel;
            let report = match checked {
                Ok(report) => report,
                Err(e) => {
                    self.note_error(format!("{label}: could not be checked: {e}"));
                    self.record.done += 1;
                    if self.save(started).await || cancelled {
                        cancelled = true;
                        break;
                    }
                    continue;
                }
            };
            let outcome = match self.kind {
                IndexRun::Check => None,
                // After a cancel nothing more is built.
                IndexRun::Build if report.state == IndexState::Missing && cancelled => None,
                IndexRun::Build if report.state == IndexState::Missing && !report.is_blocked() => {
                    self.record.message = format!("building {label}");
                    let (outcome, cancel) = self.beating(self.store.apply_index(&report)).await;
                    cancelled |= cancel;
                    Some(outcome)
                }
                // Present, different or blocked: decided without building anything.
                IndexRun::Build => Some(self.store.apply_index(&report).await),
            };
            self.record_outcome(report, outcome);
            self.record.done += 1;
            cancelled |= self.save(started).await;
            on_progress(&self.record);
            if cancelled {
                break;
            }
        }
        self.finish(started, cancelled).await;
        on_progress(&self.record);
        self.record
    }

    fn record_outcome(&mut self, mut report: IndexReport, outcome: Option<ApplyOutcome>) {
        let label = format!("{}.{}", report.collection, report.name);
        match outcome {
            Some(ApplyOutcome::Created) => {
                self.record.changed += 1;
                self.created.push(label);
                report.state = IndexState::Present;
                report.stand_in = None;
            }
            Some(ApplyOutcome::Blocked) => {
                self.note_error(format!("{label}: not created, data blocks it (see the check)"))
            }
            Some(ApplyOutcome::LeftDifferent) => {
                self.note_error(format!("{label}: left alone, an index with other options is in its place"))
            }
            Some(ApplyOutcome::Failed(e)) => self.note_error(format!("{label}: {e}")),
            Some(ApplyOutcome::AlreadyPresent) | None => {}
        }
        self.record.reports.push(report);
    }

    fn note_error(&mut self, error: String) {
        self.record.errors += 1;
        if self.record.error_samples.len() < SAMPLE_LIMIT {
            self.record.error_samples.push(error.clone());
            self.unsaved_errors.push(error);
        }
    }

    /// Runs one step, saving progress every [`BEAT`] meanwhile (which beats the lock).
    /// Returns the step's output and whether a cancel was asked for.
    async fn beating<T>(&self, step: impl Future<Output = T>) -> (T, bool) {
        let mut step = std::pin::pin!(step);
        let mut tick = tokio::time::interval(BEAT);
        tick.tick().await;
        let mut cancel = false;
        loop {
            tokio::select! {
                out = &mut step => return (out, cancel),
                _ = tick.tick() => {
                    let asked = self.store.save_progress(&self.record, &[], &[], chrono::Utc::now()).await;
                    cancel |= asked.unwrap_or(false);
                }
            }
        }
    }

    /// Saves progress; returns whether a cancel was asked for.
    async fn save(&mut self, started: Instant) -> bool {
        self.record.duration_ms = started.elapsed().as_millis() as u64;
        self.record.rate = self.record.done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        // `save_progress` appends the errors it is given: each goes once.
        let errors = std::mem::take(&mut self.unsaved_errors);
        match self.store.save_progress(&self.record, &[], &errors, chrono::Utc::now()).await {
            Ok(cancel) => cancel,
            Err(e) => {
                tracing::warn!(run = %self.record.id, error = %e, "could not save an index run's progress");
                false
            }
        }
    }

    async fn finish(&mut self, started: Instant, cancelled: bool) {
        let r = &mut self.record;
        r.duration_ms = started.elapsed().as_millis() as u64;
        let blocked = r.reports.iter().filter(|x| x.is_blocked()).count();
        let missing = r.reports.iter().filter(|x| x.state != IndexState::Present).count();
        r.status = if cancelled {
            RunStatus::Cancelled
        } else if r.errors > 0 {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        };
        r.message = match (self.kind, cancelled) {
            (_, true) => format!("cancelled after {} of {} indexes", r.done, r.total),
            (IndexRun::Check, false) if missing == 0 => format!("all {} indexes are present", r.total),
            (IndexRun::Check, false) => {
                format!("{missing} of {} indexes are missing or different; {blocked} blocked by data", r.total)
            }
            (IndexRun::Build, false) => {
                let mut m = match self.created.is_empty() {
                    true => "created no index".to_owned(),
                    false => format!("created {}", self.created.join(", ")),
                };
                if r.errors > 0 {
                    m.push_str(&format!("; {} not created (see the errors)", r.errors));
                }
                m
            }
        };
        let errors = std::mem::take(&mut self.unsaved_errors);
        if let Err(e) = self.store.save_progress(&self.record, &[], &errors, chrono::Utc::now()).await {
            tracing::error!(run = %self.record.id, error = %e, "could not save the end of an index run");
        }
        if self.kind == IndexRun::Build
            && let Err(e) = self.store.release_migration_lock(&self.record.id).await
        {
            tracing::warn!(run = %self.record.id, error = %e, "lock not released; it expires by itself");
        }
        let action = if self.kind == IndexRun::Build { "maintenance.index_build" } else { "maintenance.index_check" };
        let entry =
            AuditEntry::new(&self.actor, action, &format!("{}: {}", self.record.status.as_str(), self.record.message))
                .with_params(&format!("run={}", self.record.id));
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(run = %self.record.id, error = %e, "could not audit the end of an index run");
        }
    }
}

/// The page's index table: the states now, with the blockers of the latest finished scan.
pub async fn overview(
    store: &Store,
) -> Result<crate::domain::maintenance::IndexOverview, crate::storage::StorageError> {
    use crate::domain::maintenance::{IndexOverview, ScanInfo};
    let now = chrono::Utc::now();
    let mut reports = store.index_states().await?;
    let scan = store.latest_index_scan(now).await?;
    if let Some(scan) = &scan {
        for r in &mut reports {
            r.blockers = scan
                .reports
                .iter()
                .find(|s| s.collection == r.collection && s.name == r.name)
                .and_then(|s| s.blockers.clone());
        }
    }
    let scanned = scan.and_then(|s| Some(ScanInfo { finished_at: s.finished_at?, run_id: s.id }));
    Ok(IndexOverview { reports, scanned })
}
