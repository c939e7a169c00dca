//! Runs a migration: batches of orders in `_id` order, one guarded bulk write per batch,
//! progress saved (and the lock's heartbeat beaten) after each, a cancel honoured between
//! batches. A dry run walks the same batches and writes nothing but its own record.
//!
//! Long (about 550 lines): one runner for the three migrations, each with its batch; they
//! part into one file per kind of run once migrations and index runs share one lifecycle.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Instant,
};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::domain::maintenance::{
    FreshIdForm, Migration, MigrationOptions, PlannedChange, RunRecord, RunStatus, SAMPLE_LIMIT, Task,
};
use crate::{
    domain::ids::{BbNumber, CounterId, OrderId, UserSuffix, VendorId, generate::Clock, generate::uuid_id},
    storage::{
        StorageError, Store,
        counters::CounterError,
        migrations::{FieldValue, Fix, Guard, GuardedSet, LegacyOrder, OrderKey, Selection},
    },
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

/// A run that has its record and, when it writes, the lock; [`PreparedRun::execute`] does the work.
pub struct PreparedRun {
    store: Store,
    clock: Arc<dyn Clock>,
    zone: Tz,
    migration: Migration,
    options: MigrationOptions,
    record: RunRecord,
    /// For `duplicates`: the shared IDs, found when the run was prepared.
    duplicate_ids: Vec<String>,
    /// For `order-numbers`: the counters the run drew from (or would), checked at its end.
    counters_drawn: std::collections::BTreeSet<CounterId>,
    rng: StdRng,
}

impl std::fmt::Debug for PreparedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRun").field("record", &self.record).finish_non_exhaustive()
    }
}

/// Counts the work, records the run and, for a writing run, takes the lock.
pub async fn prepare(
    store: &Store,
    clock: Arc<dyn Clock>,
    zone: Tz,
    migration: Migration,
    options: MigrationOptions,
    actor: &str,
) -> Result<PreparedRun, MaintenanceError> {
    let now = clock.now();
    let (total, duplicate_ids) = match migration {
        Migration::OrderIds => (store.count_selection(Selection::BlankOrderId).await?, Vec::new()),
        Migration::OrderNumbers => (store.count_selection(Selection::BlankOrderNumber).await?, Vec::new()),
        Migration::Duplicates => {
            let groups = store.duplicate_order_ids().await?;
            let total = groups.iter().map(|(_, n)| n.saturating_sub(1)).sum();
            (total, groups.into_iter().map(|(id, _)| id).collect())
        }
    };
    let mut record = RunRecord {
        id: String::new(),
        task: Task::Migration(migration),
        dry_run: options.dry_run,
        actor: actor.chars().take(200).collect(),
        status: RunStatus::Running,
        started_at: now,
        finished_at: None,
        total,
        done: 0,
        changed: 0,
        errors: 0,
        duration_ms: 0,
        rate: 0.0,
        message: format!("{} orders to look at", total),
        changes: Vec::new(),
        error_samples: Vec::new(),
        batch: options.batch,
        reports: Vec::new(),
        references: Vec::new(),
        references_moved: 0,
        references_undecided: 0,
        uniqueness: None,
    };
    record.id = store.insert_run(&record, now).await?;
    if !options.dry_run {
        take_lock(store, &mut record, now).await?;
    }
    Ok(PreparedRun {
        store: store.clone(),
        clock,
        zone,
        migration,
        options,
        record,
        duplicate_ids,
        counters_drawn: Default::default(),
        rng: StdRng::from_os_rng(),
    })
}

/// Takes the maintenance lock for a recorded run (a migration or an index build: never two
/// at once), or marks the run as not started and says who holds it.
pub(crate) async fn take_lock(
    store: &Store,
    record: &mut RunRecord,
    now: DateTime<Utc>,
) -> Result<(), MaintenanceError> {
    if store.acquire_migration_lock(&record.id, now).await? {
        return Ok(());
    }
    let holder = store.migration_lock_holder(now).await?.unwrap_or_else(|| "unknown".into());
    record.status = RunStatus::Failed;
    record.message = format!("not started: run {holder} is migrating or building indexes");
    store.save_progress(record, &[], &[], now).await?;
    Err(MaintenanceError::AlreadyRunning(holder))
}

/// What one batch produced.
#[derive(Default)]
struct BatchOutcome {
    looked_at: u64,
    changed: u64,
    changes: Vec<PlannedChange>,
    errors: Vec<String>,
}

impl PreparedRun {
    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    /// Runs to the end (or a cancel, or an error), calling `on_progress` after each batch.
    /// The final record is saved and returned; the lock is released whatever happens.
    pub async fn execute(mut self, mut on_progress: impl FnMut(&RunRecord)) -> RunRecord {
        let started = Instant::now();
        let outcome = self.batches(started, &mut on_progress).await;
        let now = self.clock.now();
        self.record.duration_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(true) => {
                self.record.status = RunStatus::Cancelled;
                self.record.message = format!("cancelled after {} of {} orders", self.record.done, self.record.total);
            }
            Ok(false) => {
                self.record.status = RunStatus::Completed;
                self.record.uniqueness = self.check_uniqueness().await;
                self.record.message = self.summary();
            }
            Err(e) => {
                self.record.status = RunStatus::Failed;
                self.record.message =
                    format!("stopped after {} orders: {e}; run it again to continue", self.record.done);
            }
        }
        if let Err(e) = self.store.save_progress(&self.record, &[], &[], now).await {
            tracing::error!(run = %self.record.id, error = %e, "could not save the end of a run");
        }
        if !self.options.dry_run
            && let Err(e) = self.store.release_migration_lock(&self.record.id).await
        {
            tracing::warn!(run = %self.record.id, error = %e, "lock not released; it expires by itself");
        }
        on_progress(&self.record);
        self.record
    }

    /// After a number migration: each counter it drew from against the numbers its orders
    /// hold. A report that cannot be made is logged, and the run stands without it.
    async fn check_uniqueness(&self) -> Option<crate::domain::maintenance::UniquenessReport> {
        use crate::domain::maintenance::{CounterCheck, UNIQUENESS_COUNTERS, UniquenessReport};
        if self.migration != Migration::OrderNumbers {
            return None;
        }
        let mut report = UniquenessReport {
            counters_unchecked: self.counters_drawn.len().saturating_sub(UNIQUENESS_COUNTERS) as u64,
            ..Default::default()
        };
        for counter in self.counters_drawn.iter().take(UNIQUENESS_COUNTERS) {
            // A daily counter: the bucket length does not enter its span.
            let found = crate::services::monitoring::counter_forensics(&self.store, self.zone, counter, None, 60).await;
            match found {
                Ok(Some(f)) => {
                    report.counters_checked += 1;
                    report.problems.extend(CounterCheck::of(&f));
                }
                // A dry run's counter that was never drawn: nothing issued, nothing to hold.
                Ok(None) => report.counters_checked += 1,
                Err(e) => {
                    tracing::warn!(run = %self.record.id, error = %e, "could not check the run's counters");
                    return None;
                }
            }
        }
        Some(report)
    }

    fn summary(&self) -> String {
        let r = &self.record;
        let verb = if r.dry_run { "would change" } else { "changed" };
        let orders = match (r.changed, r.errors) {
            (0, 0) => format!("nothing to do: no order needs {}", self.migration),
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

    /// Returns whether the run was cancelled.
    async fn batches(
        &mut self,
        started: Instant,
        on_progress: &mut impl FnMut(&RunRecord),
    ) -> Result<bool, MaintenanceError> {
        let mut groups = std::mem::take(&mut self.duplicate_ids).into_iter();
        // Dry runs of order-numbers predict from the counters without advancing them.
        let mut predicted: HashMap<String, u32> = HashMap::new();
        let selection = if self.migration == Migration::OrderNumbers {
            Selection::BlankOrderNumber
        } else {
            Selection::BlankOrderId
        };
        let mut fetched = match self.migration {
            Migration::Duplicates => Vec::new(),
            _ => self.store.next_legacy_batch(selection, None, self.options.batch).await?,
        };
        loop {
            let batch = match self.migration {
                Migration::OrderIds | Migration::OrderNumbers => {
                    let orders = std::mem::take(&mut fetched);
                    let Some(last) = orders.last().map(|o| o.key.clone()) else { return Ok(false) };
                    // The next batch (after this one's last `_id`, so disjoint from it) is read
                    // while this one is written.
                    let (store, limit) = (self.store.clone(), self.options.batch);
                    let next = async move { store.next_legacy_batch(selection, Some(&last), limit).await };
                    let (outcome, next) = if self.migration == Migration::OrderIds {
                        futures::join!(self.fresh_ids(&orders), next)
                    } else {
                        futures::join!(self.fresh_numbers(&orders, &mut predicted), next)
                    };
                    fetched = next?;
                    outcome?
                }
                Migration::Duplicates => {
                    let ids: Vec<String> = groups.by_ref().take(self.options.batch as usize).collect();
                    if ids.is_empty() {
                        return Ok(false);
                    }
                    self.rename_duplicates(&ids).await?
                }
            };
            let r = &mut self.record;
            r.done += batch.looked_at;
            r.total = r.total.max(r.done);
            r.changed += batch.changed;
            r.errors += batch.errors.len() as u64;
            r.duration_ms = started.elapsed().as_millis() as u64;
            r.rate = r.done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            r.message = format!("{} of {} orders", r.done, r.total);
            let room = SAMPLE_LIMIT.saturating_sub(r.changes.len());
            let new_changes: Vec<PlannedChange> = batch.changes.into_iter().take(room).collect();
            r.changes.extend(new_changes.iter().cloned());
            let room = SAMPLE_LIMIT.saturating_sub(r.error_samples.len());
            let new_errors: Vec<String> = batch.errors.into_iter().take(room).collect();
            r.error_samples.extend(new_errors.iter().cloned());
            let cancel = self.store.save_progress(&self.record, &new_changes, &new_errors, self.clock.now()).await?;
            on_progress(&self.record);
            if cancel {
                return Ok(true);
            }
        }
    }

    fn fresh_id(&mut self, created_at: Option<DateTime<Utc>>) -> OrderId {
        match (self.options.id_form, created_at) {
            // ORD ids carry a four-digit year; anything else gets a UUID.
            (FreshIdForm::OrdFromCreatedAt, Some(at)) if (1000..=9999).contains(&at.year()) => {
                OrderId::ord(at, self.rng.random())
            }
            _ => uuid_id(&mut self.rng),
        }
    }

    async fn fresh_ids(&mut self, orders: &[LegacyOrder]) -> Result<BatchOutcome, MaintenanceError> {
        let sets: Vec<GuardedSet> = orders
            .iter()
            .map(|o| {
                let id = self.fresh_id(o.created_at);
                GuardedSet { key: o.key.clone(), guard: Guard::OrderIdBlank, fix: Fix::OrderId(id) }
            })
            .collect();
        let changes = orders.iter().zip(&sets).map(|(o, s)| change(o, o.order_id.describe(), s)).collect();
        self.apply(orders.len(), sets, changes, Vec::new()).await
    }

    async fn rename_duplicates(&mut self, ids: &[String]) -> Result<BatchOutcome, MaintenanceError> {
        let holders = self.store.orders_holding(ids).await?;
        let mut by_id: BTreeMap<String, Vec<&LegacyOrder>> = BTreeMap::new();
        for o in &holders {
            if let FieldValue::Text(id) = &o.order_id {
                by_id.entry(id.clone()).or_default().push(o);
            }
        }
        let mut planned: Vec<(&LegacyOrder, String, String)> = Vec::new();
        for (old, group) in &mut by_id {
            // The oldest keeps the ID: by created_at, then by _id (an ObjectId is a creation
            // time too); orders without created_at count as newest.
            group.sort_by_key(|o| (o.created_at.is_none(), o.created_at, o.key_text()));
            for o in group.iter().skip(1).copied() {
                let fresh = self.fresh_id(o.created_at).to_string();
                planned.push((o, old.clone(), fresh));
            }
        }
        if !self.options.dry_run {
            // Record old → new first: a run killed after this reuses these IDs next time.
            let rows: Vec<(OrderKey, String, String)> =
                planned.iter().map(|(o, old, new)| (o.key.clone(), old.clone(), new.clone())).collect();
            let recorded = self.store.record_aliases(&rows, &self.record.id, self.clock.now()).await?;
            for (o, old, new) in &mut planned {
                if let Some(kept) = recorded.get(&(o.key.to_string(), old.clone())) {
                    new.clone_from(kept);
                }
            }
        }
        self.move_references(ids, &by_id, &planned).await?;
        // A recorded ID is one an earlier run of this migration chose, so it parses; one that
        // does not (edited by hand) is an error for that order, never written.
        let (mut sets, mut changes, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for (o, old, new) in &planned {
            match OrderId::parse(new) {
                Ok(id) => {
                    let set =
                        GuardedSet { key: o.key.clone(), guard: Guard::OrderIdIs(old.clone()), fix: Fix::OrderId(id) };
                    changes.push(change(o, old.clone(), &set));
                    sets.push(set);
                }
                Err(e) => errors.push(format!("order {}: recorded fresh ID {new:?}: {e}", o.key_text())),
            }
        }
        self.apply(planned.len(), sets, changes, errors).await
    }

    /// The payments, sessions and pending orders naming the renamed IDs: each moved to the
    /// renamed order it belongs to, left on the order that kept the ID, or listed for a
    /// person. Moved before the orders are renamed: a run killed in between is started again
    /// with the same recorded IDs, and the references already point at them.
    async fn move_references(
        &mut self,
        ids: &[String],
        groups: &BTreeMap<String, Vec<&LegacyOrder>>,
        planned: &[(&LegacyOrder, String, String)],
    ) -> Result<(), MaintenanceError> {
        use crate::domain::references::{Belongs, Holder, ReferenceMove, belongs};
        let references = self.store.references_to(ids).await?;
        let renamed: HashMap<String, &str> = planned.iter().map(|(o, _, new)| (o.key_text(), new.as_str())).collect();
        let mut rows = Vec::new();
        let mut moves = Vec::new();
        for r in &references {
            let Some(group) = groups.get(&r.order_id) else { continue };
            let holders: Vec<Holder> = group
                .iter()
                .map(|o| Holder { telegram_id: o.telegram_id, amount: o.amount, created_at: o.created_at })
                .collect();
            let (now_names, decided, reason) = match belongs(&r.clues, &holders) {
                Belongs::To { holder, by } => {
                    let order = group[holder];
                    match renamed.get(&order.key_text()) {
                        Some(new) => {
                            moves.push((r, (*new).to_owned()));
                            ((*new).to_owned(), true, format!("order {} by {by}", order.key_text()))
                        }
                        None => (r.order_id.clone(), true, format!("kept on order {} by {by}", order.key_text())),
                    }
                }
                Belongs::Undecided { why } => (r.order_id.clone(), false, why),
            };
            rows.push(ReferenceMove {
                kind: r.kind,
                reference: r.key_text(),
                field: r.field.to_owned(),
                old_order_id: r.order_id.clone(),
                now_names,
                decided,
                reason,
            });
        }
        let moved = moves.len() as u64;
        let undecided = rows.iter().filter(|r| !r.decided).count() as u64;
        if !self.options.dry_run {
            self.store.repoint_references(&moves).await?;
        }
        self.store.record_references(&self.record.id, &rows, moved, undecided).await?;
        let room = crate::storage::references::REFERENCES_KEPT.saturating_sub(self.record.references.len());
        self.record.references.extend(rows.into_iter().take(room));
        self.record.references_moved += moved;
        self.record.references_undecided += undecided;
        Ok(())
    }

    async fn fresh_numbers(
        &mut self,
        orders: &[LegacyOrder],
        predicted: &mut HashMap<String, u32>,
    ) -> Result<BatchOutcome, MaintenanceError> {
        let mut errors = Vec::new();
        let mut by_counter: BTreeMap<CounterId, Vec<Numberable>> = BTreeMap::new();
        for o in orders {
            let vendor = o.vendor_id.as_deref().map(VendorId::parse);
            let user = o.user_id.as_deref().map(UserSuffix::from_user_id);
            match (vendor, user, o.created_at) {
                (Some(Ok(vendor)), Some(Ok(user)), Some(at)) => {
                    let day = at.with_timezone(&self.zone).date_naive();
                    by_counter.entry(CounterId::new(day, vendor)).or_default().push((o, at, user));
                }
                (vendor, user, at) => {
                    let why = match (vendor, user, at) {
                        (None, _, _) => "no vendor_id".to_owned(),
                        (Some(Err(e)), _, _) => format!("vendor_id: {e}"),
                        (_, None, _) => "no user_id".to_owned(),
                        (_, Some(Err(e)), _) => format!("user_id: {e}"),
                        _ => "no created_at, so no day to number it in".to_owned(),
                    };
                    errors.push(format!("order {}: {why}", o.key_text()));
                }
            }
        }
        let now = self.clock.now();
        let mut sets = Vec::new();
        let mut changes = Vec::new();
        self.counters_drawn.extend(by_counter.keys().cloned());
        for (counter, mut group) in by_counter {
            group.sort_by_key(|(o, at, _)| (*at, o.key_text()));
            let id = counter.to_string();
            let wanted = group.len() as u32;
            let numbers = if self.options.dry_run {
                let first = match predicted.get(&id) {
                    Some(&next) => next,
                    None => self.store.counter_sequence(&id).await?.unwrap_or(0) + 1,
                };
                let last = (first + wanted - 1).min(crate::domain::ids::MAX_DAILY_SEQUENCE);
                predicted.insert(id.clone(), last + 1);
                first..=last
            } else {
                match self.store.reserve_in_counter(&counter, wanted, now).await {
                    Ok(range) => range,
                    // Nothing left that day: every order of the group gets the error below.
                    Err(CounterError::Exhausted { .. }) => std::ops::RangeInclusive::new(1, 0),
                    Err(CounterError::Storage(e)) => return Err(e.into()),
                    // Reserving a block stamps nothing: no lane is needed.
                    Err(e @ (CounterError::NoLane { .. } | CounterError::Clashes { .. })) => {
                        return Err(crate::storage::StorageError::Database {
                            op: "counter_inc",
                            message: e.to_string(),
                        }
                        .into());
                    }
                }
            };
            let mut numbers = numbers.into_iter();
            for (o, at, user) in group {
                let number = numbers.next().and_then(|seq| {
                    BbNumber::millis(u64::try_from(at.timestamp_millis()).ok()?, user, seq).map(|n| (seq, n))
                });
                let Some((_, number)) = number else {
                    errors.push(format!("order {}: counter {id} has no numbers left for that day", o.key_text()));
                    continue;
                };
                let set = GuardedSet {
                    key: o.key.clone(),
                    guard: Guard::OrderNumberBlank,
                    fix: Fix::OrderNumber { number, counter: counter.clone() },
                };
                changes.push(change(o, o.order_number.describe(), &set));
                sets.push(set);
            }
        }
        self.apply(orders.len(), sets, changes, errors).await
    }

    /// Writes one batch (unless this is a dry run) and counts what happened.
    async fn apply(
        &mut self,
        looked_at: usize,
        sets: Vec<GuardedSet>,
        changes: Vec<PlannedChange>,
        mut errors: Vec<String>,
    ) -> Result<BatchOutcome, MaintenanceError> {
        let changed = if self.options.dry_run {
            sets.len() as u64
        } else {
            let outcome = self.store.apply_guarded(&sets, Some(&self.record.id)).await?;
            errors.extend(outcome.errors);
            outcome.modified
        };
        Ok(BatchOutcome { looked_at: looked_at as u64, changed, changes, errors })
    }
}

/// A marketplace order that can be numbered: its time and user suffix, read.
type Numberable<'a> = (&'a LegacyOrder, DateTime<Utc>, UserSuffix);

fn change(o: &LegacyOrder, from: String, set: &GuardedSet) -> PlannedChange {
    let (field, to) = set.fix.field();
    PlannedChange { order: o.key_text(), field: field.to_owned(), from, to }
}
