//! `order-ids`: every order whose `order_id` is missing, null or empty gets a fresh one (the
//! seed's migration skipped `null`).

use futures::future::BoxFuture;
use rand::{SeedableRng, rngs::StdRng};

use super::{
    Done, MaintenanceError, Step,
    batches::{self, Batches, Migrating},
};
use crate::{
    domain::maintenance::{Migration, MigrationOptions},
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

impl Migrating for OrderIds {
    const MIGRATION: Migration = Migration::OrderIds;

    fn options(&self) -> &MigrationOptions {
        &self.options
    }

    fn count<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<u64, MaintenanceError>> {
        Box::pin(async move { Ok(store.count_selection(Selection::BlankOrderId).await?) })
    }

    fn batch<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
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
}
