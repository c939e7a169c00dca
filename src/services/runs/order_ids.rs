//! `order-ids`: every order whose `order_id` is missing, null or empty gets a fresh one (the
//! seed's migration skipped `null`).

use futures::future::BoxFuture;
use rand::{SeedableRng, rngs::StdRng};

use super::{
    Done, MaintenanceError, Plan, RunKind, Step,
    batches::{self, Batches},
};
use crate::{
    domain::maintenance::{Migration, MigrationOptions, RunRecord, RunStatus, Task},
    storage::{
        Store,
        migrations::{Fix, Guard, GuardedSet, Selection},
    },
};

pub struct OrderIds {
    options: MigrationOptions,
    batches: Batches,
    rng: StdRng,
}

impl OrderIds {
    pub fn new(options: MigrationOptions) -> Self {
        Self { batches: Batches::new(Selection::BlankOrderId, options.batch), options, rng: StdRng::from_os_rng() }
    }
}

impl RunKind for OrderIds {
    fn task(&self) -> Task {
        Task::Migration(Migration::OrderIds)
    }

    fn writes(&self) -> bool {
        !self.options.dry_run
    }

    fn unit(&self) -> &'static str {
        "orders"
    }

    fn batch(&self) -> u32 {
        self.options.batch
    }

    fn plan<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<Plan, MaintenanceError>> {
        Box::pin(async move {
            let total = store.count_selection(Selection::BlankOrderId).await?;
            Ok(Plan { total, message: format!("{total} orders to look at") })
        })
    }

    fn step<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
        Box::pin(async move {
            let Some((orders, next)) = self.batches.take(step.store).await? else { return Ok(None) };
            let sets: Vec<GuardedSet> = orders
                .iter()
                .map(|o| {
                    let id = batches::fresh_id(&mut self.rng, self.options.id_form, o.created_at);
                    GuardedSet { key: o.key.clone(), guard: Guard::OrderIdBlank, fix: Fix::OrderId(id) }
                })
                .collect();
            let changes = orders.iter().zip(&sets).map(|(o, s)| batches::change(o, o.order_id.describe(), s)).collect();
            let write = batches::apply(
                step.store,
                self.options.dry_run,
                &step.record.id,
                orders.len(),
                sets,
                changes,
                Vec::new(),
            );
            let (done, next) = futures::join!(write, next);
            self.batches.put(next?);
            done.map(Some)
        })
    }

    fn complete<'a>(&'a mut self, _: &'a Store, record: &'a mut RunRecord) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            record.status = RunStatus::Completed;
            record.message = super::migration_summary(record, Migration::OrderIds);
        })
    }
}
