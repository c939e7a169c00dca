//! BB order numbers from the per-vendor daily counters.
//!
//! Strict mode (the default): one atomic `$inc` per number, so a vendor's numbers for a
//! day are exactly 1, 2, 3, … with no gap, in the order they were issued.
//!
//! Three variants, as the marketplace names them: ultra `BB-{ms}-…` and year-based
//! `BB-YYYYMMDD-…` count on the vendor's daily counter; time-based `BB-{seconds}-…` counts on
//! one counter per vendor and time bucket (`time_bucket_minutes`). Ultra numbers are kept
//! unique by their millisecond (`number_lanes`); the other two have no digit to spare, so each
//! is claimed once in `number_claims` before it is handed out.
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
    domain::ids::{BbNumber, BbVariant, CounterId, MAX_DAILY_SEQUENCE, UserSuffix, VendorId, generate::Clock},
    storage::{Store, counters::CounterError},
};

/// One number handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedNumber {
    pub order_number: String,
    /// `ultra`, `time-based` or `year-based`.
    pub variant: &'static str,
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

/// How the allocator issues: per-vendor settings.
#[derive(Debug, Clone)]
pub struct NumberPolicy {
    pub zone: Tz,
    /// Segment-mode vendors and their block size.
    pub segment_sizes: BTreeMap<VendorId, u32>,
    /// The variant a vendor's numbers take when the call names none (unlisted: ultra).
    pub variants: BTreeMap<VendorId, BbVariant>,
    /// Minutes a time-based counter counts; divides 1440.
    pub time_bucket_minutes: u32,
}

impl Default for NumberPolicy {
    /// UTC, every vendor strict and ultra, hour-long time buckets.
    fn default() -> Self {
        Self { zone: Tz::UTC, segment_sizes: BTreeMap::new(), variants: BTreeMap::new(), time_bucket_minutes: 60 }
    }
}

impl NumberPolicy {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            zone: settings.time_zone,
            segment_sizes: settings.segment_vendors.clone(),
            variants: settings.number_variants.clone(),
            time_bucket_minutes: settings.time_bucket_minutes,
        }
    }

    pub fn variant_of(&self, vendor: &VendorId) -> BbVariant {
        self.variants.get(vendor).copied().unwrap_or(BbVariant::Millis)
    }

    /// The counter a moment belongs to: the vendor's day in the configured zone, or for
    /// time-based numbers the bucket of that day the moment falls in.
    pub fn counter_for(&self, vendor: &VendorId, variant: BbVariant, at: DateTime<Utc>) -> CounterId {
        CounterId::for_number(vendor, variant, at.with_timezone(&self.zone), self.time_bucket_minutes)
    }
}

/// Tries at a time-based or year-based number before giving up: each clash is another
/// vendor's number for a user with the same suffix, in the same second or day.
const CLAIM_TRIES: u32 = 32;

/// A vendor, and whether its counter is a time bucket's (not its day's).
type SegmentKey = (VendorId, bool);

/// Issues BB numbers for every vendor; one per process, shared.
pub struct NumberAllocator {
    store: Store,
    lanes: super::number_lanes::NumberLanes,
    clock: Arc<dyn Clock>,
    policy: NumberPolicy,
    /// Per vendor and counter kind (daily or time bucket), so a vendor issuing both keeps
    /// its blocks.
    segments: Mutex<HashMap<SegmentKey, Arc<tokio::sync::Mutex<Segment>>>>,
}

impl NumberAllocator {
    pub fn new(store: Store, clock: Arc<dyn Clock>, policy: NumberPolicy) -> Self {
        let lanes = super::number_lanes::NumberLanes::new(store.clone());
        Self { store, lanes, clock, policy, segments: Mutex::default() }
    }

    pub fn policy(&self) -> &NumberPolicy {
        &self.policy
    }

    /// The next number for a vendor and a user, in `variant` or the vendor's own.
    #[tracing::instrument(skip(self), fields(vendor = %vendor))]
    pub async fn allocate(
        &self,
        vendor: &VendorId,
        user: UserSuffix,
        variant: Option<BbVariant>,
    ) -> Result<IssuedNumber, CounterError> {
        let variant = variant.unwrap_or_else(|| self.policy.variant_of(vendor));
        let now = self.clock.now();
        let counter = self.policy.counter_for(vendor, variant, now);
        let exhausted = || CounterError::Exhausted { counter: counter.to_string(), max: MAX_DAILY_SEQUENCE };
        let mut sequence = self.next_sequence(&counter, now).await?;
        let issued = |number: BbNumber| IssuedNumber {
            order_number: number.to_string(),
            variant: variant.name(),
            sequence: number.sequence,
            counter_id: counter.to_string(),
        };
        if variant == BbVariant::Millis {
            // The number's own millisecond: at or just after `now`, one no other number with
            // this user suffix and sequence has (the format names no vendor).
            let ms = self.lanes.stamp(now.timestamp_millis(), user, sequence).await?;
            let ms = u64::try_from(ms).unwrap_or(0);
            return BbNumber::millis(ms, user, sequence).map(issued).ok_or_else(exhausted);
        }
        let mut secs = u64::try_from(now.timestamp()).unwrap_or(0);
        let bucket_end = u64::try_from(counter.span(&self.policy.zone, self.policy.time_bucket_minutes).1.timestamp())
            .unwrap_or(u64::MAX);
        for _ in 0..CLAIM_TRIES {
            let number = match variant {
                BbVariant::Seconds => BbNumber::seconds(secs, user, sequence),
                _ => BbNumber::dated(counter.day, user, sequence),
            }
            .ok_or_else(exhausted)?;
            if self.store.claim_number(&number.to_string(), &counter.to_string(), now).await? {
                return Ok(issued(number));
            }
            // Held by another vendor's number: the next second keeps this counter gapless
            // while it stays inside the bucket (so every number is its bucket's); a day has no
            // next one, so there the next sequence is drawn (a gap).
            if variant == BbVariant::Seconds && secs + 1 < bucket_end {
                secs += 1;
            } else {
                sequence = self.next_sequence(&counter, now).await?;
            }
        }
        Err(CounterError::Clashes { counter: counter.to_string(), tries: CLAIM_TRIES })
    }

    async fn next_sequence(&self, counter: &CounterId, now: DateTime<Utc>) -> Result<u32, CounterError> {
        match self.policy.segment_sizes.get(&counter.vendor) {
            None => self.store.next_in_counter(counter, now).await,
            Some(&size) => self.next_in_segment(counter, size, now).await,
        }
    }

    /// Hands this process's number lane back, for a process that is done issuing (the CLI).
    pub async fn release(&self) -> Result<(), crate::storage::StorageError> {
        self.lanes.release().await
    }

    async fn next_in_segment(&self, counter: &CounterId, size: u32, now: DateTime<Utc>) -> Result<u32, CounterError> {
        let slot = {
            let mut all = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            all.entry((counter.vendor.clone(), counter.bucket.is_some())).or_default().clone()
        };
        let mut seg = slot.lock().await;
        if seg.counter.as_ref() != Some(counter) {
            // A new day or bucket: what is left of the last one's block is a gap, by design.
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
