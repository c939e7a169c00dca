//! Index checks and builds: one index a step, its report saved as it goes.
//!
//! A build in progress is not aborted on cancel: the only abort MongoDB offers is dropping
//! the index, and a build that finishes just before the drop would then be lost, with the
//! stand-in about to go too. Cancelling stops before the next index instead.

use futures::future::BoxFuture;

use super::{Done, MaintenanceError, Plan, RunKind, Step};
use crate::{
    domain::maintenance::{ApplyOutcome, IndexOverview, IndexState, RunRecord, RunStatus, ScanInfo, Task},
    storage::{StorageError, Store, index_check::Scan},
};

/// What an index run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexRun {
    /// Compare every expected index and count the documents blocking the unique ones.
    Check,
    /// The check, then build what is missing and unblocked (`indexes apply`).
    Build,
}

pub struct Indexes {
    run: IndexRun,
    /// The expected indexes not yet looked at, as (collection, name).
    left: std::vec::IntoIter<(&'static str, &'static str)>,
    /// The indexes built so far, as `collection.name`.
    created: Vec<String>,
}

impl Indexes {
    pub fn new(run: IndexRun) -> Self {
        Self { run, left: Vec::new().into_iter(), created: Vec::new() }
    }
}

impl RunKind for Indexes {
    fn task(&self) -> Task {
        match self.run {
            IndexRun::Check => Task::IndexCheck,
            IndexRun::Build => Task::Indexes,
        }
    }

    /// A check writes nothing: it is a dry run, and takes no lock.
    fn writes(&self) -> bool {
        self.run == IndexRun::Build
    }

    fn unit(&self) -> &'static str {
        "indexes"
    }

    fn plan<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<Plan, MaintenanceError>> {
        let steps = store.expected_index_names();
        let total = steps.len() as u64;
        self.left = steps.into_iter();
        Box::pin(async move { Ok(Plan { total, message: format!("{total} indexes to check") }) })
    }

    fn step<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
        Box::pin(async move {
            let Some((collection, name)) = self.left.next() else { return Ok(None) };
            let label = format!("{collection}.{name}");
            let mut done = Done { looked_at: 1, ..Done::default() };
            let mut report = match step.store.check_index(collection, name, Scan::Blockers).await {
                Ok(report) => report,
                Err(e) => {
                    done.errors.push(format!("{label}: could not be checked: {e}"));
                    return Ok(Some(done));
                }
            };
            let outcome = match self.run {
                IndexRun::Check => None,
                // After a cancel nothing more is built.
                IndexRun::Build if report.state == IndexState::Missing && step.cancel_asked() => None,
                // Missing and unblocked: built. Present, different or blocked: decided without
                // building anything.
                IndexRun::Build => Some(step.store.apply_index(&report).await),
            };
            match outcome {
                Some(ApplyOutcome::Created) => {
                    done.changed = 1;
                    self.created.push(label);
                    report.state = IndexState::Present;
                    report.stand_in = None;
                }
                Some(ApplyOutcome::Blocked) => {
                    done.errors.push(format!("{label}: not created, data blocks it (see the check)"))
                }
                Some(ApplyOutcome::LeftDifferent) => {
                    done.errors.push(format!("{label}: left alone, an index with other options is in its place"))
                }
                Some(ApplyOutcome::Failed(e)) => done.errors.push(format!("{label}: {e}")),
                Some(ApplyOutcome::AlreadyPresent) | None => {}
            }
            step.record.reports.push(report);
            Ok(Some(done))
        })
    }

    fn complete<'a>(&'a mut self, _: &'a Store, r: &'a mut RunRecord) -> BoxFuture<'a, ()> {
        let blocked = r.reports.iter().filter(|x| x.is_blocked()).count();
        let missing = r.reports.iter().filter(|x| x.state != IndexState::Present).count();
        r.status = if r.errors > 0 { RunStatus::Failed } else { RunStatus::Completed };
        r.message = match self.run {
            IndexRun::Check if missing == 0 => format!("all {} indexes are present", r.total),
            IndexRun::Check => {
                format!("{missing} of {} indexes are missing or different; {blocked} blocked by data", r.total)
            }
            IndexRun::Build => {
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
        Box::pin(async {})
    }

    fn audit_action(&self) -> Option<&'static str> {
        Some(match self.run {
            IndexRun::Build => "maintenance.index_build",
            IndexRun::Check => "maintenance.index_check",
        })
    }
}

/// The page's index table: the states now, with the blockers of the latest finished scan.
pub async fn overview(store: &Store) -> Result<IndexOverview, StorageError> {
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
