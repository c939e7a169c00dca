//! `number_claims`: the time-based and year-based BB numbers orderdesk issued, each held once.
//!
//! `BB-{seconds}-…` and `BB-YYYYMMDD-…` name no vendor, and unlike the millisecond form they
//! have no spare digits to spread processes over (see `number_lanes`): two vendors' counters
//! at the same sequence, for users with the same suffix, in the same second or day, make the
//! same number. So each is claimed here before it is handed out, `{_id: number, holder,
//! counter_id, expires_at}`: the unique `_id` decides who has it. A claim is needed only while
//! a number of its second or day can still be issued, so a TTL index drops it after
//! [`KEEP`]. Written with a majority write concern, so a failover cannot roll a claim back.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{DateTime as BsonTime, doc},
    options::WriteConcern,
};
use serde::{Deserialize, Serialize};

use super::{StorageError, Store, names::NUMBER_CLAIMS};

/// How long a claim is kept: longer than any day in any zone, and than a failover wait.
pub const KEEP: Duration = Duration::from_secs(3 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize)]
struct ClaimDoc {
    #[serde(rename = "_id")]
    number: String,
    /// This call's own draw: a retried insert that finds its own claim has it.
    holder: String,
    counter_id: String,
    expires_at: BsonTime,
}

impl Store {
    fn claims(&self) -> mongodb::Collection<ClaimDoc> {
        self.database().collection_with_options(
            NUMBER_CLAIMS,
            mongodb::options::CollectionOptions::builder().write_concern(WriteConcern::majority()).build(),
        )
    }

    /// Claims `number` for `counter_id`: `Ok(false)` when another issue holds it already.
    #[tracing::instrument(skip(self))]
    pub async fn claim_number(&self, number: &str, counter_id: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let claims = self.claims();
        let holder = format!("{}/{:016x}", self.instance(), rand::random::<u64>());
        let claim = ClaimDoc {
            number: number.to_owned(),
            holder: holder.clone(),
            counter_id: counter_id.to_owned(),
            expires_at: BsonTime::from_millis(now.timestamp_millis() + KEEP.as_millis() as i64),
        };
        match self.run_retrying("number_claim", NUMBER_CLAIMS, || claims.insert_one(&claim)).await {
            Ok(_) => Ok(true),
            Err(StorageError::DuplicateKey { .. }) => {
                // Held: by another issue, or by this one's first try whose answer was lost.
                let held = self
                    .run_retrying("number_claim", NUMBER_CLAIMS, || {
                        claims.find_one(doc! { "_id": number }).max_time(self.op_timeout)
                    })
                    .await?;
                Ok(held.is_some_and(|c| c.holder == holder))
            }
            Err(e) => Err(e),
        }
    }
}
