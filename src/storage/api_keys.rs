//! The `api_keys` collection: keys for the bots, stored only as SHA-256 hashes.
//!
//! Keys are 32 random bytes, so a fast hash is enough (a slow password hash guards
//! low-entropy secrets; these are not).

use chrono::{DateTime, Utc};
use mongodb::bson::{DateTime as BsonTime, doc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{StorageError, Store, names::API_KEYS};

/// A new key, shown to the admin once.
#[derive(Debug)]
pub struct NewApiKey {
    pub name: String,
    pub key: String,
}

/// Hex SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Creates a key with a name and scope; returns the only copy of the key itself.
    pub async fn create_api_key(&self, name: &str, scope: &str, now: DateTime<Utc>) -> Result<NewApiKey, StorageError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = format!("odk_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let keys = self.collection(API_KEYS);
        let d = doc! {
            "name": name,
            "scope": scope,
            "key_hash": hash_key(&key),
            "created_at": BsonTime::from_millis(now.timestamp_millis()),
            "last_used_at": null,
            "revoked_at": null,
        };
        self.run("api_key_create", API_KEYS, keys.insert_one(d)).await?;
        Ok(NewApiKey { name: name.to_owned(), key })
    }

    /// Every stored key document, for tests and the admin page.
    pub async fn raw_api_keys(&self) -> Result<Vec<mongodb::bson::Document>, StorageError> {
        use futures::TryStreamExt;
        let keys = self.collection(API_KEYS);
        self.run("api_key_list", API_KEYS, async { keys.find(doc! {}).await?.try_collect().await }).await
    }

    /// True when an unrevoked key with this hash exists; records its use.
    pub async fn api_key_valid(&self, hash: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let keys = self.collection(API_KEYS);
        let update = doc! { "$set": { "last_used_at": BsonTime::from_millis(now.timestamp_millis()) } };
        let found = self
            .run(
                "api_key_check",
                API_KEYS,
                keys.find_one_and_update(doc! { "key_hash": hash, "revoked_at": null }, update),
            )
            .await?;
        Ok(found.is_some())
    }
}
