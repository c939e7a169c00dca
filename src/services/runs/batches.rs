//! What the migrations share: the lifecycle's questions answered once for all of them
//! ([`Migrating`]), reading the orders that need them in batches (the next batch read while
//! this one is written), a fresh ID, and writing one batch of guarded sets.

use chrono::{DateTime, Datelike, Utc};
use futures::future::BoxFuture;
use rand::{Rng, rngs::StdRng};

use super::{Done, MaintenanceError, Plan, RunKind, Step};
use crate::{
    domain::{
        ids::{OrderId, generate::uuid_id},
        maintenance::{FreshIdForm, Migration, MigrationOptions, PlannedChange, RunRecord, RunStatus, Task},
    },
    storage::{
        StorageError, Store,
        migrations::{GuardedSet, LegacyOrder, Selection},
    },
};

/// A migration: what it is, its options, how many orders it has to look at and its step. The
/// rest of a [`RunKind`] is the same for every migration.
pub trait Migrating: Send {
    const MIGRATION: Migration;
    fn options(&self) -> &MigrationOptions;
    /// The orders to look at (before the run is recorded).
    fn count<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<u64, MaintenanceError>>;
    /// The next batch; `None` when no order is left.
    fn batch<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>>;
    /// What the migration adds to its record once every batch is done, before the summary.
    fn conclude<'a>(&'a mut self, _store: &'a Store, _record: &'a mut RunRecord) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

impl<M: Migrating> RunKind for M {
    fn task(&self) -> Task {
        Task::Migration(M::MIGRATION)
    }

    fn writes(&self) -> bool {
        !self.options().dry_run
    }

    fn unit(&self) -> &'static str {
        "orders"
    }

    fn batch(&self) -> u32 {
        self.options().batch
    }

    fn plan<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<Plan, MaintenanceError>> {
        Box::pin(async move {
            let total = self.count(store).await?;
            Ok(Plan { total, message: format!("{total} orders to look at") })
        })
    }

    fn step<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
        Migrating::batch(self, step)
    }

    fn complete<'a>(&'a mut self, store: &'a Store, record: &'a mut RunRecord) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            record.status = RunStatus::Completed;
            self.conclude(store, record).await;
            record.message = super::migration_summary(record, M::MIGRATION);
        })
    }
}

/// The orders a selection finds, batch after batch in `_id` order.
pub struct Batches {
    selection: Selection,
    size: u32,
    /// The batch read ahead; `None` before the first read.
    next: Option<Vec<LegacyOrder>>,
}

/// The read of the batch after the one being written.
pub type NextRead = BoxFuture<'static, Result<Vec<LegacyOrder>, StorageError>>;

impl Batches {
    pub fn new(selection: Selection, size: u32) -> Self {
        Self { selection, size, next: None }
    }

    /// This batch, and the read of the next one (after this one's last `_id`, so disjoint from
    /// it) to run while this one is written; `None` when no order is left.
    pub async fn take(&mut self, store: &Store) -> Result<Option<(Vec<LegacyOrder>, NextRead)>, StorageError> {
        let orders = match self.next.take() {
            Some(orders) => orders,
            None => store.next_legacy_batch(self.selection, None, self.size).await?,
        };
        let Some(last) = orders.last().map(|o| o.key.clone()) else { return Ok(None) };
        let (store, selection, size) = (store.clone(), self.selection, self.size);
        let next = Box::pin(async move { store.next_legacy_batch(selection, Some(&last), size).await });
        Ok(Some((orders, next)))
    }

    /// Keeps the batch read ahead for the next step.
    pub fn put(&mut self, next: Vec<LegacyOrder>) {
        self.next = Some(next);
    }
}

/// A fresh ID for an order created at `created_at`: the ORD form from that time when asked
/// for and the year fits its four digits, a UUID otherwise.
pub fn fresh_id(rng: &mut StdRng, form: FreshIdForm, created_at: Option<DateTime<Utc>>) -> OrderId {
    match (form, created_at) {
        (FreshIdForm::OrdFromCreatedAt, Some(at)) if (1000..=9999).contains(&at.year()) => {
            OrderId::ord(at, rng.random())
        }
        _ => uuid_id(rng),
    }
}

/// A planned change, for the record's sample.
pub fn change(o: &LegacyOrder, from: String, set: &GuardedSet) -> PlannedChange {
    let (field, to) = set.fix.field();
    PlannedChange { order: o.key_text(), field: field.to_owned(), from, to }
}

/// Writes one batch (unless this is a dry run) and counts what happened.
pub async fn apply(
    store: &Store,
    dry_run: bool,
    run_id: &str,
    looked_at: usize,
    sets: Vec<GuardedSet>,
    changes: Vec<PlannedChange>,
    mut errors: Vec<String>,
) -> Result<Done, MaintenanceError> {
    let changed = if dry_run {
        sets.len() as u64
    } else {
        let outcome = store.apply_guarded(&sets, Some(run_id)).await?;
        errors.extend(outcome.errors);
        outcome.modified
    };
    Ok(Done { looked_at: looked_at as u64, changed, changes, errors })
}
