//! The record of every maintenance run (`maintenance_runs`) and the lock that keeps two
//! writing runs apart (`maintenance_locks`): a holder says it is alive by its heartbeat, and
//! one whose heartbeat stopped, or whose process on this host is gone, is taken over.
//!
//! Long (about 410 lines): the lock's taking over needs the process checks beside it, and the
//! run's typed document is read and written here only.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{DateTime as BsonTime, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{
    StorageError, Store,
    names::{LOCKS, RUNS},
    values::{bson_time, chrono_time, typed},
};
use crate::domain::maintenance::{PlannedChange, RunRecord, RunStatus, SAMPLE_LIMIT, Task};

/// A writing run that has not beaten its heartbeat for this long is considered dead.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(30);

impl Store {
    /// Takes the lock for a writing run; `Ok(false)` when another live run holds it. A holder
    /// whose heartbeat stopped, or whose process on this host is gone (killed half way), is
    /// taken over, and its run is marked interrupted.
    pub async fn acquire_migration_lock(&self, run_id: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let locks = self.collection(LOCKS);
        let at = bson_time(now);
        let mine = doc! {
            "run_id": run_id,
            "heartbeat_at": at,
            "instance": self.instance(),
            "process_space": process_space(),
            "pid": i64::from(std::process::id()),
        };
        let stale = BsonTime::from_millis(now.timestamp_millis() - HEARTBEAT_TIMEOUT.as_millis() as i64);
        let holder = self
            .run("read_lock", LOCKS, locks.find_one(doc! { "_id": "migrations" }).max_time(self.op_timeout))
            .await?;
        // Read leniently on purpose: a lock document missing a field is a dead holder's, taken
        // over, never one that blocks every run until someone edits it by hand.
        let holder: Option<LockDocument> = holder.map(|h| mongodb::bson::from_document(h).unwrap_or_default());
        let filter = match &holder {
            // Matches nothing if a lock appeared meanwhile: the upsert then collides with it.
            None => doc! { "_id": "migrations", "run_id": { "$exists": false } },
            Some(h) => {
                let dead = h.heartbeat_at.is_none_or(|t| t < stale) || {
                    // A pid means something only among the processes that share this one's
                    // machine, boot and pid namespace: never by host name alone.
                    let same_space = process_space().is_some_and(|mine| h.process_space.as_deref() == Some(&mine));
                    let pid = h.pid.and_then(|p| u32::try_from(p).ok());
                    same_space && pid.is_some_and(|p| !process_alive(p))
                };
                if !dead {
                    return Ok(false);
                }
                // Take it only from that holder, in case another run takes it at the same time.
                match &h.run_id {
                    Some(id) => doc! { "_id": "migrations", "run_id": id },
                    None => doc! { "_id": "migrations", "run_id": { "$exists": false } },
                }
            }
        };
        let taken = self.run("acquire_lock", LOCKS, locks.update_one(filter, doc! { "$set": mine }).upsert(true)).await;
        match taken {
            Ok(r) if r.matched_count == 1 || r.upserted_id.is_some() => {}
            Ok(_) => return Ok(false),
            // Another run created the lock first: the upsert collided with it.
            Err(StorageError::DuplicateKey { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        if let Some(dead_run) = holder.and_then(|h| h.run_id).and_then(|id| ObjectId::parse_str(&id).ok()) {
            let runs = self.collection(RUNS);
            self.run(
                "interrupt_run",
                RUNS,
                runs.update_one(
                    doc! { "_id": dead_run, "status": "running" },
                    doc! { "$set": { "status": "interrupted", "message": "the process stopped before finishing; a later run took over" } },
                ),
            )
            .await?;
        }
        Ok(true)
    }

    pub async fn release_migration_lock(&self, run_id: &str) -> Result<(), StorageError> {
        let locks = self.collection(LOCKS);
        self.run("release_lock", LOCKS, locks.delete_one(doc! { "_id": "migrations", "run_id": run_id }))
            .await
            .map(drop)
    }

    /// The run holding the lock, if it is alive.
    pub async fn migration_lock_holder(&self, now: DateTime<Utc>) -> Result<Option<String>, StorageError> {
        let locks = self.collection(LOCKS);
        let stale = BsonTime::from_millis(now.timestamp_millis() - HEARTBEAT_TIMEOUT.as_millis() as i64);
        let found = self
            .run(
                "read_lock",
                LOCKS,
                locks
                    .find_one(doc! { "_id": "migrations", "heartbeat_at": { "$gte": stale } })
                    .max_time(self.op_timeout),
            )
            .await?;
        Ok(found.and_then(|d| d.get_str("run_id").ok().map(str::to_owned)))
    }

    /// Starts the record of a run; returns its id.
    pub async fn insert_run(&self, run: &RunRecord, now: DateTime<Utc>) -> Result<String, StorageError> {
        let runs = self.collection(RUNS);
        let id = ObjectId::new();
        let document = RunDocument::begun(id, run, now);
        let d = mongodb::bson::to_document(&document)
            .map_err(|e| StorageError::Database { op: "insert_run", message: e.to_string() })?;
        self.run("insert_run", RUNS, runs.insert_one(d)).await?;
        Ok(id.to_hex())
    }

    /// Saves progress (and beats the lock's heartbeat); returns whether a cancel was asked for.
    pub async fn save_progress(
        &self,
        run: &RunRecord,
        new_changes: &[PlannedChange],
        new_errors: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let at = bson_time(now);
        let changes: Vec<Document> = new_changes
            .iter()
            .map(|c| doc! { "order": &c.order, "field": &c.field, "from": &c.from, "to": &c.to })
            .collect();
        let mut set = doc! {
            "heartbeat_at": at,
            "total": run.total as i64,
            "done": run.done as i64,
            "changed": run.changed as i64,
            "errors": run.errors as i64,
            "message": &run.message,
            "duration_ms": run.duration_ms as i64,
        };
        if run.status.is_finished() {
            set.insert("status", run.status.as_str());
            set.insert("finished_at", at);
        }
        if run.task.on_indexes() {
            let reports = mongodb::bson::to_bson(&run.reports)
                .map_err(|e| StorageError::Database { op: "save_progress", message: format!("index reports: {e}") })?;
            set.insert("reports", reports);
        }
        if let Some(report) = &run.uniqueness {
            let report = mongodb::bson::to_bson(report).map_err(|e| StorageError::Database {
                op: "save_progress",
                message: format!("uniqueness report: {e}"),
            })?;
            set.insert("uniqueness", report);
        }
        let update = doc! {
            "$set": set,
            "$push": {
                "changes": { "$each": changes, "$slice": SAMPLE_LIMIT as i64 },
                "error_samples": { "$each": new_errors, "$slice": SAMPLE_LIMIT as i64 },
            },
        };
        let id = object_id(&run.id)?;
        let after = self
            .run(
                "save_progress",
                RUNS,
                runs.find_one_and_update(doc! { "_id": id }, update)
                    .max_time(self.op_timeout)
                    .return_document(mongodb::options::ReturnDocument::After),
            )
            .await?;
        if !run.dry_run && !run.status.is_finished() {
            self.beat_migration_lock(&run.id, now).await?;
        }
        Ok(after.is_some_and(|d| d.get_bool("cancel_requested").unwrap_or(false)))
    }

    /// Says a run is alive while one long step runs (its progress is saved after the step):
    /// the run's heartbeat, and the lock's when it holds it. Returns whether a cancel was
    /// asked for.
    pub async fn beat_run(&self, run_id: &str, holds_lock: bool, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let update = doc! { "$set": { "heartbeat_at": bson_time(now) } };
        let after = self
            .run(
                "beat_run",
                RUNS,
                runs.find_one_and_update(doc! { "_id": object_id(run_id)? }, update)
                    .max_time(self.op_timeout)
                    .return_document(mongodb::options::ReturnDocument::After),
            )
            .await?;
        if holds_lock {
            self.beat_migration_lock(run_id, now).await?;
        }
        Ok(after.is_some_and(|d| d.get_bool("cancel_requested").unwrap_or(false)))
    }

    /// Beats the lock's heartbeat for `run_id`; [`StorageError::LockLost`] when the lock is no
    /// longer this run's (its heartbeat was late and another run took over).
    pub async fn beat_migration_lock(&self, run_id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let locks = self.collection(LOCKS);
        let at = bson_time(now);
        let beat = self
            .run(
                "beat_lock",
                LOCKS,
                locks.update_one(
                    doc! { "_id": "migrations", "run_id": run_id },
                    doc! { "$set": { "heartbeat_at": at } },
                ),
            )
            .await?;
        if beat.matched_count == 0 {
            return Err(StorageError::LockLost { run: run_id.to_owned() });
        }
        Ok(())
    }

    /// Asks a running run to stop after its current batch; false if it is not running.
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool, StorageError> {
        let runs = self.collection(RUNS);
        let result = self
            .run(
                "cancel_run",
                RUNS,
                runs.update_one(
                    doc! { "_id": object_id(run_id)?, "status": "running" },
                    doc! { "$set": { "cancel_requested": true } },
                ),
            )
            .await?;
        Ok(result.matched_count == 1)
    }

    pub async fn find_run(&self, run_id: &str, now: DateTime<Utc>) -> Result<Option<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let found = self
            .run("find_run", RUNS, runs.find_one(doc! { "_id": object_id(run_id)? }).max_time(self.op_timeout))
            .await?;
        found.as_ref().map(|d| run_record(d, now)).transpose()
    }

    /// The newest finished index check or build, with its reports.
    pub async fn latest_index_scan(&self, now: DateTime<Utc>) -> Result<Option<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let filter = doc! {
            "task": { "$in": [Task::IndexCheck.as_str(), Task::Indexes.as_str()] },
            "status": { "$in": [RunStatus::Completed.as_str(), RunStatus::Failed.as_str()] },
            "reports.0": { "$exists": true },
        };
        let found = self
            .run(
                "latest_index_scan",
                RUNS,
                runs.find_one(filter).sort(doc! { "finished_at": -1 }).max_time(self.op_timeout),
            )
            .await?;
        found.as_ref().map(|d| run_record(d, now)).transpose()
    }

    /// The newest runs first.
    pub async fn recent_runs(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<RunRecord>, StorageError> {
        let runs = self.collection(RUNS);
        let docs: Vec<Document> = self
            .run("recent_runs", RUNS, async {
                runs.find(doc! {})
                    .max_time(self.op_timeout)
                    .projection(doc! { "changes": 0, "error_samples": 0, "reports": 0, "references": 0 })
                    .sort(doc! { "started_at": -1 })
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        docs.iter().map(|d| run_record(d, now)).collect()
    }
}

/// Where a pid is meaningful: this boot of this kernel (`boot_id`) and this pid namespace.
/// Two containers may share a host name and both run as pid 1; two machines may share a host
/// name. `None` off Linux: then a holder is judged by its heartbeat only.
fn process_space() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), namespace.display()))
}

/// Whether a process of this host is still running (Linux: it has a /proc entry).
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn object_id(hex: &str) -> Result<ObjectId, StorageError> {
    ObjectId::parse_str(hex)
        .map_err(|_| StorageError::Database { op: "find_run", message: format!("'{hex}' is not a run id") })
}

/// The maintenance lock as `maintenance_locks` keeps it (`_id: "migrations"`). Every field is
/// optional: see `acquire_migration_lock`.
#[derive(Debug, Default, Deserialize)]
struct LockDocument {
    run_id: Option<String>,
    heartbeat_at: Option<BsonTime>,
    process_space: Option<String>,
    pid: Option<i64>,
}

/// A run as `maintenance_runs` keeps it. Counts are 64-bit; the lists a listing leaves out
/// (changes, error samples, reports, references) read as empty.
#[derive(Debug, Serialize, Deserialize)]
struct RunDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    task: Task,
    dry_run: bool,
    actor: String,
    status: RunStatus,
    started_at: BsonTime,
    heartbeat_at: Option<BsonTime>,
    #[serde(default)]
    finished_at: Option<BsonTime>,
    total: i64,
    done: i64,
    changed: i64,
    errors: i64,
    #[serde(default)]
    duration_ms: i64,
    batch: i64,
    message: String,
    #[serde(default)]
    changes: Vec<PlannedChange>,
    #[serde(default)]
    error_samples: Vec<String>,
    #[serde(default)]
    cancel_requested: bool,
    #[serde(default)]
    reports: Vec<crate::domain::maintenance::IndexReport>,
    #[serde(default)]
    references: Vec<crate::domain::references::ReferenceMove>,
    #[serde(default)]
    references_moved: i64,
    #[serde(default)]
    references_undecided: i64,
    #[serde(default)]
    uniqueness: Option<crate::domain::maintenance::UniquenessReport>,
}

impl RunDocument {
    /// A run as it is first recorded: nothing done, alive now.
    fn begun(id: ObjectId, run: &RunRecord, now: DateTime<Utc>) -> Self {
        let at = bson_time(now);
        Self {
            id,
            task: run.task,
            dry_run: run.dry_run,
            actor: run.actor.clone(),
            status: run.status,
            started_at: at,
            heartbeat_at: Some(at),
            finished_at: None,
            total: run.total as i64,
            done: 0,
            changed: 0,
            errors: 0,
            duration_ms: 0,
            batch: i64::from(run.batch),
            message: run.message.clone(),
            changes: Vec::new(),
            error_samples: Vec::new(),
            cancel_requested: false,
            reports: Vec::new(),
            references: Vec::new(),
            references_moved: 0,
            references_undecided: 0,
            uniqueness: None,
        }
    }

    /// The record as of `now`: one still running without a recent heartbeat was interrupted.
    fn record(self, now: DateTime<Utc>) -> RunRecord {
        let stale = chrono::Duration::from_std(HEARTBEAT_TIMEOUT).unwrap_or_default();
        let alive = self.heartbeat_at.map(chrono_time).is_some_and(|t| now - t <= stale);
        let status = if self.status == RunStatus::Running && !alive { RunStatus::Interrupted } else { self.status };
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let (done, duration_ms) = (count(self.done), count(self.duration_ms));
        RunRecord {
            id: self.id.to_hex(),
            task: self.task,
            dry_run: self.dry_run,
            actor: self.actor,
            status,
            started_at: chrono_time(self.started_at),
            finished_at: self.finished_at.map(chrono_time),
            total: count(self.total),
            done,
            changed: count(self.changed),
            errors: count(self.errors),
            duration_ms,
            rate: if duration_ms > 0 { done as f64 * 1000.0 / duration_ms as f64 } else { 0.0 },
            message: self.message,
            changes: self.changes,
            error_samples: self.error_samples,
            batch: u32::try_from(self.batch).unwrap_or(0),
            reports: self.reports,
            references: self.references,
            references_moved: count(self.references_moved),
            references_undecided: count(self.references_undecided),
            uniqueness: self.uniqueness,
        }
    }
}

/// Reads a run; a document that is not one is [`StorageError::Corrupt`], never a guess.
fn run_record(d: &Document, now: DateTime<Utc>) -> Result<RunRecord, StorageError> {
    typed::<RunDocument>(RUNS, d.clone()).map(|r| r.record(now))
}
