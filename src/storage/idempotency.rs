//! `idempotency_keys`: what a retried call that names the same `Idempotency-Key` gets back.
//! One document per (API key, idempotency key): the request's fingerprint, how far the call
//! got (claimed → numbered → done) and, once numbered, the BB number it drew, so a retry after
//! a lost answer or a crash finishes the same order with the same number instead of drawing
//! another. Kept for [`KEEP`] (a TTL index on `created_at`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{DateTime as BsonTime, doc};
use serde::{Deserialize, Serialize};

use super::values::{bson_time, typed};
use super::{StorageError, Store, names::IDEMPOTENCY};
use crate::domain::{
    ids::{BbVariant, VendorId},
    tokens::sha256_hex,
};

/// How long a key is remembered: a day covers every retry policy a bot sensibly has.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);
/// A claim that has drawn no number after this long was left by a call that died: taken over.
pub const CLAIM_LAPSES: Duration = Duration::from_secs(30);

/// The number a call drew, and the order it stored under it once done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drawn {
    pub order_number: String,
    pub sequence: u32,
    pub counter_id: String,
    /// Set once the order is stored.
    pub order_id: Option<String>,
}

/// Where a call with this idempotency key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody has worked on it (or the one who did gave up before drawing): this call does.
    Fresh,
    /// A number was drawn; the order may or may not be stored yet: finish it with this number.
    Numbered(Drawn),
    /// Done: answer with this.
    Done(Drawn),
    /// Another call is working on it right now.
    Busy,
    /// The key was used for a different request.
    Mismatch,
}

/// The record's `_id`: one per (API key, idempotency key), so two callers' keys never meet.
pub fn record_id(api_key_id: &str, idempotency_key: &str) -> String {
    sha256_hex(&format!("{api_key_id}\0{idempotency_key}"))
}

/// A marketplace checkout's facts: the same key with other facts is another order, refused.
pub fn checkout_fingerprint(
    vendor: &VendorId,
    user_id: &str,
    amount: Option<f64>,
    variant: Option<BbVariant>,
) -> String {
    sha256_hex(&format!("{vendor}\0{user_id}\0{amount:?}\0{variant:?}"))
}

/// How far a call with the key got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    Claimed,
    Numbered,
    Done,
}

/// A key as `idempotency_keys` keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct KeyDocument {
    #[serde(rename = "_id")]
    id: String,
    fingerprint: String,
    state: State,
    /// When the call working on it last claimed it (only a claim's lapse reads it).
    #[serde(default)]
    claimed_at: Option<BsonTime>,
    /// The TTL index's field.
    created_at: BsonTime,
    /// Set once a number is drawn (`numbered`, `done`).
    #[serde(default)]
    drawn: Option<Drawn>,
}

impl Store {
    /// Claims `key` for a call whose request has `fingerprint`, or says how far an earlier
    /// call with it got.
    pub async fn claim_idempotency_key(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, StorageError> {
        let keys = self.collection(IDEMPOTENCY);
        let typed_keys = keys.clone_with_type::<KeyDocument>();
        let at = bson_time(now);
        let claim = || KeyDocument {
            id: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
            state: State::Claimed,
            claimed_at: Some(at),
            created_at: at,
            drawn: None,
        };
        match self.run_retrying("idempotency_claim", IDEMPOTENCY, || typed_keys.insert_one(claim())).await {
            Ok(_) => return Ok(Claim::Fresh),
            Err(StorageError::DuplicateKey { .. }) => {}
            Err(e) => return Err(e),
        }
        let found = self
            .run_retrying("idempotency_read", IDEMPOTENCY, || {
                keys.find_one(doc! { "_id": key }).max_time(self.op_timeout)
            })
            .await?;
        // Gone between the two calls (its day ended): this call starts it afresh.
        let Some(d) = found else { return Box::pin(self.claim_idempotency_key(key, fingerprint, now)).await };
        let d: KeyDocument = typed(IDEMPOTENCY, d)?;
        if d.fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        let corrupt = |problem: &str| StorageError::Corrupt {
            collection: IDEMPOTENCY,
            id: key.to_owned(),
            problem: problem.into(),
        };
        match (d.state, d.drawn) {
            (State::Done, Some(n)) => Ok(Claim::Done(n)),
            (State::Numbered, Some(n)) => Ok(Claim::Numbered(n)),
            (State::Done | State::Numbered, None) => Err(corrupt("it says a number was drawn, but holds none")),
            (State::Claimed, _) => {
                // Claimed and silent past the lapse: taken over, by one caller only.
                let lapsed = BsonTime::from_millis(now.timestamp_millis() - CLAIM_LAPSES.as_millis() as i64);
                let stale = doc! { "_id": key, "state": "claimed", "claimed_at": { "$lte": lapsed } };
                let taken = self
                    .run_retrying("idempotency_take_over", IDEMPOTENCY, || {
                        keys.update_one(stale.clone(), doc! { "$set": { "claimed_at": at } })
                    })
                    .await?;
                Ok(if taken.modified_count == 1 { Claim::Fresh } else { Claim::Busy })
            }
        }
    }

    /// Records the number the call drew (before the order is stored under it).
    pub async fn record_idempotent_number(&self, key: &str, number: &Drawn) -> Result<(), StorageError> {
        self.set_idempotency_state(key, State::Numbered, number).await
    }

    /// Records the finished call's answer.
    pub async fn finish_idempotency_key(&self, key: &str, done: &Drawn) -> Result<(), StorageError> {
        self.set_idempotency_state(key, State::Done, done).await
    }

    async fn set_idempotency_state(&self, key: &str, state: State, number: &Drawn) -> Result<(), StorageError> {
        let keys = self.collection(IDEMPOTENCY);
        let number = mongodb::bson::to_document(number)
            .map_err(|e| StorageError::Database { op: "idempotency_write", message: e.to_string() })?;
        let state = mongodb::bson::to_bson(&state)
            .map_err(|e| StorageError::Database { op: "idempotency_write", message: e.to_string() })?;
        let update = doc! { "$set": { "state": state, "drawn": number } };
        self.run_retrying("idempotency_write", IDEMPOTENCY, || keys.update_one(doc! { "_id": key }, update.clone()))
            .await
            .map(drop)
    }
}
