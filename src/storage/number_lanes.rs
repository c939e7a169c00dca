//! `number_lanes`: which orderdesk process may stamp BB numbers with which milliseconds.
//!
//! A BB number carries no vendor: two vendors' counters give the same sequence, and the same
//! millisecond and user suffix then make the same number. So milliseconds are split into
//! [`LANES`] lanes (`ms % LANES`), and a process stamps numbers only with milliseconds of a
//! lane it leases here: `{_id: lane, holder, from_ms, until_ms}`. The lease is a range of
//! *millisecond values*, not of wall-clock time: its holder never stamps a number at or past
//! `until_ms`, and whoever takes the lane next starts at `until_ms` or later. Two processes
//! therefore never stamp the same millisecond, whatever their clocks say and even when a
//! paused holder wakes up after losing its lane. Writes are acknowledged by a majority, so a
//! failover cannot roll a lease back.

use mongodb::{
    bson::{Document, doc},
    options::{ReturnDocument, WriteConcern},
};

use super::{StorageError, Store, names::NUMBER_LANES};

/// Lanes, and so the most processes that can issue numbers at once. A number's time is at
/// most `LANES - 1` ms after the instant it was asked for (plus `LANES` per clash).
pub const LANES: u32 = 32;

/// How far ahead a lease reaches, in milliseconds of number time. Renewed at half of it.
pub const LEASE_MS: i64 = 30_000;

/// A lane held by this process: it may stamp milliseconds `m` with `m % LANES == lane` in
/// `from_ms..until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneLease {
    pub lane: u32,
    pub from_ms: i64,
    pub until_ms: i64,
    /// Who holds it: this process's instance and a fresh draw per take, so a lane lost and
    /// taken again is never mistaken for the old lease.
    holder: String,
}

impl Store {
    fn lanes(&self) -> mongodb::Collection<Document> {
        self.database().collection_with_options(
            NUMBER_LANES,
            mongodb::options::CollectionOptions::builder().write_concern(WriteConcern::majority()).build(),
        )
    }

    /// Takes a free lane (never leased, or its lease reaches no further than `now_ms`);
    /// `Ok(None)` when all [`LANES`] are held.
    #[tracing::instrument(skip(self))]
    pub async fn take_number_lane(&self, now_ms: i64) -> Result<Option<LaneLease>, StorageError> {
        let lanes = self.lanes();
        let held: Vec<Document> = self
            .run_retrying("lane_list", NUMBER_LANES, || async {
                use futures::TryStreamExt;
                lanes.find(doc! { "until_ms": { "$gt": now_ms } }).max_time(self.op_timeout).await?.try_collect().await
            })
            .await?;
        let held: std::collections::HashSet<u32> =
            held.iter().filter_map(|d| d.get_i32("_id").ok()).filter_map(|l| u32::try_from(l).ok()).collect();
        // Start at a random lane, so processes starting together do not all race for lane 0.
        let start = rand::random::<u32>() % LANES;
        for lane in (0..LANES).map(|i| (start + i) % LANES).filter(|l| !held.contains(l)) {
            let holder = format!("{}/{:08x}", self.instance(), rand::random::<u32>());
            // The new range starts where the last holder's ended, or now if that is later.
            let update = vec![
                doc! { "$set": {
                    "holder": &holder,
                    "from_ms": { "$max": [now_ms, { "$ifNull": ["$until_ms", 0_i64] }] },
                } },
                doc! { "$set": { "until_ms": { "$add": ["$from_ms", LEASE_MS] } } },
            ];
            let taken = self
                .run_retrying("lane_take", NUMBER_LANES, || {
                    lanes
                        .find_one_and_update(
                            doc! { "_id": lane as i32, "until_ms": { "$not": { "$gt": now_ms } } },
                            update.clone(),
                        )
                        .upsert(true)
                        .return_document(ReturnDocument::After)
                        .max_time(self.op_timeout)
                })
                .await;
            match taken {
                Ok(Some(d)) => return lease_from(&d, holder).map(Some),
                // Another process took it between the list and the update: the next one.
                Ok(None) | Err(StorageError::DuplicateKey { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Reaches a held lease on to `now_ms + LEASE_MS`; `Ok(None)` when the lane is no longer
    /// this lease's (it lapsed and another process took it).
    #[tracing::instrument(skip(self))]
    pub async fn renew_number_lane(&self, lease: &LaneLease, now_ms: i64) -> Result<Option<LaneLease>, StorageError> {
        let lanes = self.lanes();
        let update = vec![doc! { "$set": { "until_ms": { "$max": ["$until_ms", now_ms + LEASE_MS] } } }];
        let renewed = self
            .run_retrying("lane_renew", NUMBER_LANES, || {
                lanes
                    .find_one_and_update(doc! { "_id": lease.lane as i32, "holder": &lease.holder }, update.clone())
                    .return_document(ReturnDocument::After)
                    .max_time(self.op_timeout)
            })
            .await?;
        renewed.map(|d| lease_from(&d, lease.holder.clone())).transpose()
    }

    /// Hands a lane back early: its lease now ends after `last_ms`, the last millisecond this
    /// process stamped, so the next holder can start at once without a jump in time.
    #[tracing::instrument(skip(self))]
    pub async fn release_number_lane(&self, lease: &LaneLease, last_ms: i64) -> Result<(), StorageError> {
        let lanes = self.lanes();
        let until = (last_ms + 1).clamp(lease.from_ms, lease.until_ms);
        self.run(
            "lane_release",
            NUMBER_LANES,
            lanes.update_one(
                doc! { "_id": lease.lane as i32, "holder": &lease.holder },
                doc! { "$set": { "until_ms": until, "holder": "" } },
            ),
        )
        .await
        .map(drop)
    }
}

/// A lane as `number_lanes` keeps it.
#[derive(Debug, serde::Deserialize)]
struct LaneDocument {
    #[serde(rename = "_id")]
    lane: i32,
    from_ms: i64,
    until_ms: i64,
}

/// The lease a lane's document gives `holder` (who just took or renewed it).
fn lease_from(d: &Document, holder: String) -> Result<LaneLease, StorageError> {
    let read: LaneDocument = super::values::typed(NUMBER_LANES, d.clone())?;
    let lane = u32::try_from(read.lane).ok().filter(|l| *l < LANES).ok_or_else(|| StorageError::Corrupt {
        collection: NUMBER_LANES,
        id: read.lane.to_string(),
        problem: format!("lane {} is not one of 0 to {}", read.lane, LANES - 1),
    })?;
    Ok(LaneLease { lane, from_ms: read.from_ms, until_ms: read.until_ms, holder })
}
