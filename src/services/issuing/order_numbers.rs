//! BB order numbers from the per-vendor daily counters.
//!
//! Strict mode (the default): one atomic `$inc` per number, so a vendor's numbers for a
//! day are exactly 1, 2, 3, … with no gap, in the order they were issued.
//!
//! Segment mode (opt-in per vendor, for hot vendors): a process reserves a block of N
//! numbers with one `$inc: N` and hands them out from memory, fetching the next block in
//! the background when half of the current one is used. Numbers stay unique, but a block
//! that is not used up (a restart, the end of the day) leaves a gap, and two processes
//! issue from different blocks, so numbers arrive out of order across processes.

use std::{
    collections::{BTreeMap, HashMap},
    ops::RangeInclusive,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::{
    domain::ids::{BbNumber, CounterId, UserSuffix, VendorId, generate::Clock},
    storage::{Store, counters::CounterError},
};

/// One number handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedNumber {
    pub order_number: String,
    pub sequence: u32,
    pub counter_id: String,
}

type Block = Result<RangeInclusive<u32>, CounterError>;

/// The numbers a process holds for one segment-mode vendor: `next..=last`, empty when
/// `next > last`.
struct Segment {
    counter: Option<CounterId>,
    next: u32,
    last: u32,
    size: u32,
    prefetch: Option<JoinHandle<Block>>,
}

impl Default for Segment {
    fn default() -> Self {
        Self { counter: None, next: 1, last: 0, size: 0, prefetch: None }
    }
}

impl Segment {
    fn remaining(&self) -> u32 {
        (self.last + 1).saturating_sub(self.next)
    }
}

/// Issues BB numbers for every vendor; one per process, shared.
pub struct NumberAllocator {
    store: Store,
    lanes: super::number_lanes::NumberLanes,
    clock: Arc<dyn Clock>,
    zone: Tz,
    segment_sizes: BTreeMap<VendorId, u32>,
    segments: Mutex<HashMap<VendorId, Arc<tokio::sync::Mutex<Segment>>>>,
}

impl NumberAllocator {
    pub fn new(store: Store, clock: Arc<dyn Clock>, zone: Tz, segment_sizes: BTreeMap<VendorId, u32>) -> Self {
        let lanes = super::number_lanes::NumberLanes::new(store.clone());
        Self { store, lanes, clock, zone, segment_sizes, segments: Mutex::default() }
    }

    /// The counter a moment belongs to: the vendor's, for that day in the configured zone.
    pub fn counter_for(&self, vendor: &VendorId, at: DateTime<Utc>) -> CounterId {
        CounterId::new(at.with_timezone(&self.zone).date_naive(), vendor.clone())
    }

    /// The next number for a vendor and a user.
    #[tracing::instrument(skip(self), fields(vendor = %vendor))]
    pub async fn allocate(&self, vendor: &VendorId, user: UserSuffix) -> Result<IssuedNumber, CounterError> {
        let now = self.clock.now();
        let counter = self.counter_for(vendor, now);
        let sequence = match self.segment_sizes.get(vendor) {
            None => self.store.next_in_counter(&counter, now).await?,
            Some(&size) => self.next_in_segment(&counter, size, now).await?,
        };
        // The number's own millisecond: at or just after `now`, one no other number with this
        // user suffix and sequence has (the format names no vendor).
        let ms = self.lanes.stamp(now.timestamp_millis(), user, sequence).await?;
        let ms = u64::try_from(ms).unwrap_or(0);
        let number = BbNumber::millis(ms, user, sequence).ok_or_else(|| CounterError::Exhausted {
            counter: counter.to_string(),
            max: crate::domain::ids::MAX_DAILY_SEQUENCE,
        })?;
        Ok(IssuedNumber { order_number: number.to_string(), sequence, counter_id: counter.to_string() })
    }

    /// Hands this process's number lane back, for a process that is done issuing (the CLI).
    pub async fn release(&self) -> Result<(), crate::storage::StorageError> {
        self.lanes.release().await
    }

    async fn next_in_segment(&self, counter: &CounterId, size: u32, now: DateTime<Utc>) -> Result<u32, CounterError> {
        let slot = {
            let mut all = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            all.entry(counter.vendor.clone()).or_default().clone()
        };
        let mut seg = slot.lock().await;
        if seg.counter.as_ref() != Some(counter) {
            // A new day: what is left of yesterday's block is a gap, by design.
            if let Some(old) = seg.prefetch.take() {
                old.abort();
            }
            *seg = Segment { counter: Some(counter.clone()), size, ..Segment::default() };
        }
        if seg.remaining() == 0 {
            let block = match seg.prefetch.take() {
                Some(pending) => pending.await.unwrap_or_else(|e| {
                    Err(crate::storage::StorageError::Database { op: "counter_inc", message: e.to_string() }.into())
                }),
                None => self.store.reserve_in_counter(counter, size, now).await,
            };
            let block = match block {
                Ok(b) => b,
                // A prefetch may have failed long ago (say, the database was down): try now.
                Err(CounterError::Storage(_)) => self.store.reserve_in_counter(counter, size, now).await?,
                Err(e) => return Err(e),
            };
            seg.next = *block.start();
            seg.last = *block.end();
        }
        let sequence = seg.next;
        seg.next += 1;
        if seg.remaining() <= seg.size / 2 && seg.prefetch.is_none() {
            let (store, counter, clock) = (self.store.clone(), counter.clone(), self.clock.clone());
            seg.prefetch =
                Some(tokio::spawn(async move { store.reserve_in_counter(&counter, size, clock.now()).await }));
        }
        Ok(sequence)
    }
}
