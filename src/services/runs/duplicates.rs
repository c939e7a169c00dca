//! `duplicates`: where several orders share an `order_id`, the oldest keeps it and the others
//! get fresh ones, recorded as aliases so the old ID stays searchable; the payments, sessions
//! and pending orders that named it move to the order they belong to.

use std::collections::{BTreeMap, HashMap};

use futures::future::BoxFuture;
use rand::{SeedableRng, rngs::StdRng};

use super::{
    Done, MaintenanceError, Step,
    batches::{self, Migrating},
};
use crate::{
    domain::{
        ids::OrderId,
        maintenance::{Migration, MigrationOptions},
    },
    storage::{
        Store,
        migrations::{FieldValue, Fix, Guard, GuardedSet, LegacyOrder, OrderKey},
    },
};

pub struct Duplicates {
    options: MigrationOptions,
    /// The shared IDs, found when the run was planned, not yet renamed.
    ids: std::vec::IntoIter<String>,
    rng: StdRng,
}

/// An order to rename: it, the ID it shares, its fresh one.
type Rename<'a> = (&'a LegacyOrder, String, String);

impl Duplicates {
    pub fn new(options: MigrationOptions) -> Self {
        Self { options, ids: Vec::new().into_iter(), rng: StdRng::from_os_rng() }
    }

    async fn rename(&mut self, step: &mut Step<'_>, ids: &[String]) -> Result<Done, MaintenanceError> {
        let store = step.store;
        let holders = store.orders_holding(ids).await?;
        let mut by_id: BTreeMap<String, Vec<&LegacyOrder>> = BTreeMap::new();
        for o in &holders {
            if let FieldValue::Text(id) = &o.order_id {
                by_id.entry(id.clone()).or_default().push(o);
            }
        }
        let mut planned: Vec<Rename> = Vec::new();
        for (old, group) in &mut by_id {
            // The oldest keeps the ID: by created_at, then by _id (an ObjectId is a creation
            // time too); orders without created_at count as newest.
            group.sort_by_key(|o| (o.created_at.is_none(), o.created_at, o.key_text()));
            for o in group.iter().skip(1).copied() {
                let fresh = batches::fresh_id(&mut self.rng, self.options.id_form, o.created_at).to_string();
                planned.push((o, old.clone(), fresh));
            }
        }
        if !self.options.dry_run {
            // Record old → new first: a run killed after this reuses these IDs next time.
            let rows: Vec<(OrderKey, String, String)> =
                planned.iter().map(|(o, old, new)| (o.key.clone(), old.clone(), new.clone())).collect();
            let recorded = store.record_aliases(&rows, &step.record.id, step.clock.now()).await?;
            for (o, old, new) in &mut planned {
                if let Some(kept) = recorded.get(&(o.key.to_string(), old.clone())) {
                    new.clone_from(kept);
                }
            }
        }
        self.move_references(step, ids, &by_id, &planned).await?;
        // A recorded ID is one an earlier run of this migration chose, so it parses; one that
        // does not (edited by hand) is an error for that order, never written.
        let (mut sets, mut changes, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        for (o, old, new) in &planned {
            match OrderId::parse(new) {
                Ok(id) => {
                    let set =
                        GuardedSet { key: o.key.clone(), guard: Guard::OrderIdIs(old.clone()), fix: Fix::OrderId(id) };
                    changes.push(batches::change(o, old.clone(), &set));
                    sets.push(set);
                }
                Err(e) => errors.push(format!("order {}: recorded fresh ID {new:?}: {e}", o.key_text())),
            }
        }
        batches::apply(store, self.options.dry_run, &step.record.id, planned.len(), sets, changes, errors).await
    }

    /// The payments, sessions and pending orders naming the renamed IDs: each moved to the
    /// renamed order it belongs to, left on the order that kept the ID, or listed for a
    /// person. Moved before the orders are renamed: a run killed in between is started again
    /// with the same recorded IDs, and the references already point at them.
    async fn move_references(
        &self,
        step: &mut Step<'_>,
        ids: &[String],
        groups: &BTreeMap<String, Vec<&LegacyOrder>>,
        planned: &[Rename<'_>],
    ) -> Result<(), MaintenanceError> {
        use crate::domain::references::{Belongs, Holder, ReferenceMove, belongs};
        let references = step.store.references_to(ids).await?;
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
            step.store.repoint_references(&moves).await?;
        }
        let record = &mut *step.record;
        step.store.record_references(&record.id, &rows, moved, undecided).await?;
        let room = crate::storage::references::REFERENCES_KEPT.saturating_sub(record.references.len());
        record.references.extend(rows.into_iter().take(room));
        record.references_moved += moved;
        record.references_undecided += undecided;
        Ok(())
    }
}

impl Migrating for Duplicates {
    const MIGRATION: Migration = Migration::Duplicates;

    fn options(&self) -> &MigrationOptions {
        &self.options
    }

    fn count<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<u64, MaintenanceError>> {
        Box::pin(async move {
            let groups = store.duplicate_order_ids().await?;
            self.ids = groups.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>().into_iter();
            // Every holder but the oldest is renamed.
            Ok(groups.iter().map(|(_, n)| n.saturating_sub(1)).sum())
        })
    }

    fn batch<'a>(&'a mut self, mut step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
        Box::pin(async move {
            let ids: Vec<String> = self.ids.by_ref().take(self.options.batch as usize).collect();
            if ids.is_empty() {
                return Ok(None);
            }
            self.rename(&mut step, &ids).await.map(Some)
        })
    }
}
