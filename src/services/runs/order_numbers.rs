//! `order-numbers`: marketplace orders without a BB number get one from their vendor's
//! counter for the order's day (in the configured zone), advancing that counter; a dry run
//! predicts from the counters without advancing them. At the end, each counter drawn from is
//! checked against the numbers its orders hold.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::future::BoxFuture;

use super::{
    Done, MaintenanceError, Step,
    batches::{self, Batches, Migrating},
};
use crate::{
    domain::{
        ids::{BbNumber, CounterId, UserSuffix, VendorId},
        maintenance::{Migration, MigrationOptions, RunRecord, UniquenessReport},
    },
    storage::{
        StorageError, Store,
        counters::CounterError,
        migrations::{Fix, Guard, GuardedSet, LegacyOrder, Selection},
    },
};

pub struct OrderNumbers {
    options: MigrationOptions,
    zone: Tz,
    batches: Batches,
    /// A dry run's next number per counter, predicted without advancing it.
    predicted: HashMap<String, u32>,
    /// The counters the run drew from (or would), checked at its end.
    counters_drawn: BTreeSet<CounterId>,
}

/// A marketplace order that can be numbered: its time and user suffix, read.
type Numberable<'a> = (&'a LegacyOrder, DateTime<Utc>, UserSuffix);

impl OrderNumbers {
    pub fn new(options: MigrationOptions, zone: Tz) -> Self {
        Self {
            batches: Batches::new(Selection::BlankOrderNumber, options.batch),
            options,
            zone,
            predicted: HashMap::new(),
            counters_drawn: BTreeSet::new(),
        }
    }

    async fn number(&mut self, step: &Step<'_>, orders: &[LegacyOrder]) -> Result<Done, MaintenanceError> {
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
        let now = step.clock.now();
        let mut sets = Vec::new();
        let mut changes = Vec::new();
        self.counters_drawn.extend(by_counter.keys().cloned());
        for (counter, mut group) in by_counter {
            group.sort_by_key(|(o, at, _)| (*at, o.key_text()));
            let id = counter.to_string();
            let numbers = self.numbers(step.store, &counter, group.len() as u32, now).await?;
            let mut numbers = numbers.into_iter();
            for (o, at, user) in group {
                let number = numbers
                    .next()
                    .and_then(|seq| BbNumber::millis(u64::try_from(at.timestamp_millis()).ok()?, user, seq));
                let Some(number) = number else {
                    errors.push(format!("order {}: counter {id} has no numbers left for that day", o.key_text()));
                    continue;
                };
                let set = GuardedSet {
                    key: o.key.clone(),
                    guard: Guard::OrderNumberBlank,
                    fix: Fix::OrderNumber { number, counter: counter.clone() },
                };
                changes.push(batches::change(o, o.order_number.describe(), &set));
                sets.push(set);
            }
        }
        batches::apply(step.store, self.options.dry_run, &step.record.id, orders.len(), sets, changes, errors).await
    }

    /// `wanted` numbers from `counter`: reserved, or in a dry run predicted. An empty range
    /// when the day has none left (every order of the group then gets an error).
    async fn numbers(
        &mut self,
        store: &Store,
        counter: &CounterId,
        wanted: u32,
        now: DateTime<Utc>,
    ) -> Result<std::ops::RangeInclusive<u32>, MaintenanceError> {
        let id = counter.to_string();
        if self.options.dry_run {
            let first = match self.predicted.get(&id) {
                Some(&next) => next,
                None => store.counter_sequence(&id).await?.unwrap_or(0) + 1,
            };
            let last = (first + wanted - 1).min(crate::domain::ids::MAX_DAILY_SEQUENCE);
            self.predicted.insert(id, last + 1);
            return Ok(first..=last);
        }
        match store.reserve_in_counter(counter, wanted, now).await {
            Ok(range) => Ok(range),
            Err(CounterError::Exhausted { .. }) => Ok(std::ops::RangeInclusive::new(1, 0)),
            Err(CounterError::Storage(e)) => Err(e.into()),
            // Reserving a block stamps nothing: no lane is needed.
            Err(e @ (CounterError::NoLane { .. } | CounterError::Clashes { .. })) => {
                Err(StorageError::Database { op: "counter_inc", message: e.to_string() }.into())
            }
        }
    }

    /// Each counter the run drew from against the numbers its orders hold. A report that
    /// cannot be made is logged, and the run stands without it.
    async fn check_uniqueness(&self, store: &Store, run: &str) -> Option<UniquenessReport> {
        use crate::domain::maintenance::{CounterCheck, UNIQUENESS_COUNTERS};
        let mut report = UniquenessReport {
            counters_unchecked: self.counters_drawn.len().saturating_sub(UNIQUENESS_COUNTERS) as u64,
            ..Default::default()
        };
        for counter in self.counters_drawn.iter().take(UNIQUENESS_COUNTERS) {
            // A daily counter: the bucket length does not enter its span.
            let found = crate::services::monitoring::counter_forensics(store, self.zone, counter, None, 60).await;
            match found {
                Ok(Some(f)) => {
                    report.counters_checked += 1;
                    report.problems.extend(CounterCheck::of(&f));
                }
                // A dry run's counter that was never drawn: nothing issued, nothing to hold.
                Ok(None) => report.counters_checked += 1,
                Err(e) => {
                    tracing::warn!(run, error = %e, "could not check the run's counters");
                    return None;
                }
            }
        }
        Some(report)
    }
}

impl Migrating for OrderNumbers {
    const MIGRATION: Migration = Migration::OrderNumbers;

    fn options(&self) -> &MigrationOptions {
        &self.options
    }

    fn count<'a>(&'a mut self, store: &'a Store) -> BoxFuture<'a, Result<u64, MaintenanceError>> {
        Box::pin(async move { Ok(store.count_selection(Selection::BlankOrderNumber).await?) })
    }

    fn batch<'a>(&'a mut self, step: Step<'a>) -> BoxFuture<'a, Result<Option<Done>, MaintenanceError>> {
        Box::pin(async move {
            let Some((orders, next)) = self.batches.take(step.store).await? else { return Ok(None) };
            let (done, next) = futures::join!(self.number(&step, &orders), next);
            self.batches.put(next?);
            done.map(Some)
        })
    }

    fn conclude<'a>(&'a mut self, store: &'a Store, record: &'a mut RunRecord) -> BoxFuture<'a, ()> {
        Box::pin(async move { record.uniqueness = self.check_uniqueness(store, &record.id).await })
    }
}
