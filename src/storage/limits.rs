//! Rate-limit windows (`rate_limits`), shared by every orderdesk process on the database.
//!
//! An attempt is *reserved* before the work it limits is done: one atomic
//! `findOneAndUpdate` counts it and returns the new count, so concurrent attempts see
//! distinct counts and no more than the limit get through, in one process or several.
//! A window starts at its first attempt; a TTL index removes it once it has ended.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{DateTime as BsonTime, doc},
    options::ReturnDocument,
};

use super::values::bson_time;
use super::{StorageError, Store, names::LIMITS, values::datetime};

/// One reservation: the attempt's number in its window and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reservation {
    pub count: u64,
    pub window_ends: DateTime<Utc>,
}

impl Reservation {
    /// Time left in the window, from `now`.
    pub fn wait(&self, now: DateTime<Utc>) -> Duration {
        (self.window_ends - now).to_std().unwrap_or_default()
    }
}

impl Store {
    /// Counts one attempt under `key` in a window of `window`, started by the key's first
    /// attempt (or the first after the last window ended).
    pub async fn reserve_attempt(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Reservation, StorageError> {
        let limits = self.collection(LIMITS);
        let now_b = bson_time(now);
        let ends = BsonTime::from_millis(now.timestamp_millis() + window.as_millis() as i64);
        let open = doc! { "$gt": ["$expires_at", now_b] };
        let update = vec![doc! { "$set": {
            "count": { "$cond": [open.clone(), { "$add": ["$count", 1_i64] }, 1_i64] },
            "expires_at": { "$cond": [open, "$expires_at", ends] },
        } }];
        let found = self
            .run(
                "limit_reserve",
                LIMITS,
                limits
                    .find_one_and_update(doc! { "_id": key }, update)
                    .upsert(true)
                    .return_document(ReturnDocument::After)
                    .max_time(self.op_timeout),
            )
            .await?;
        let d = found.ok_or_else(|| StorageError::Database {
            op: "limit_reserve",
            message: "the upsert returned no document".into(),
        })?;
        Ok(Reservation {
            count: d.get_i64("count").unwrap_or(1).max(1) as u64,
            window_ends: datetime(d.get("expires_at")).unwrap_or(now),
        })
    }

    /// Gives back one reserved attempt (the attempt turned out to be a good one).
    pub async fn release_attempt(&self, key: &str) -> Result<(), StorageError> {
        let limits = self.collection(LIMITS);
        let update = doc! { "$inc": { "count": -1_i64 } };
        self.run("limit_release", LIMITS, limits.update_one(doc! { "_id": key, "count": { "$gt": 0_i64 } }, update))
            .await
            .map(drop)
    }

    /// Takes `key`'s next slot if it is free at `now`, and holds the slot after it `gap` away:
    /// one atomic update, so of concurrent callers exactly one gets a free slot. False when
    /// the next slot is still ahead (or the window is gone): the caller is refused, never
    /// made to wait.
    pub async fn take_slot(&self, key: &str, now: DateTime<Utc>, gap: Duration) -> Result<bool, StorageError> {
        let limits = self.collection(LIMITS);
        let now_b = bson_time(now);
        let next = BsonTime::from_millis(now.timestamp_millis() + gap.as_millis() as i64);
        let free =
            doc! { "_id": key, "$or": [ { "next_at": { "$exists": false } }, { "next_at": { "$lte": now_b } } ] };
        let taken =
            self.run("limit_slot", LIMITS, limits.update_one(free, doc! { "$set": { "next_at": next } })).await?;
        Ok(taken.modified_count == 1)
    }

    /// Attempts counted under `key` in its open window (`None` when it has none).
    pub async fn attempt_count(&self, key: &str, now: DateTime<Utc>) -> Result<Option<u64>, StorageError> {
        let limits = self.collection(LIMITS);
        let open = doc! { "_id": key, "expires_at": { "$gt": bson_time(now) } };
        let found = self
            .run("limit_read", LIMITS, limits.find_one(open).projection(doc! { "count": 1 }).max_time(self.op_timeout))
            .await?;
        Ok(found.and_then(|d| d.get_i64("count").ok()).map(|n| n.max(0) as u64))
    }

    /// When `key`'s next slot is free, if it is ahead of `now`.
    pub async fn next_slot(&self, key: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StorageError> {
        let limits = self.collection(LIMITS);
        let found = self
            .run(
                "limit_read",
                LIMITS,
                limits.find_one(doc! { "_id": key }).projection(doc! { "next_at": 1 }).max_time(self.op_timeout),
            )
            .await?;
        Ok(found.and_then(|d| datetime(d.get("next_at"))).filter(|at| *at > now))
    }

    /// Forgets `key`'s window (a successful sign-in clears its account-and-address window).
    pub async fn clear_attempts(&self, key: &str) -> Result<(), StorageError> {
        let limits = self.collection(LIMITS);
        self.run("limit_clear", LIMITS, limits.delete_one(doc! { "_id": key })).await.map(drop)
    }
}
