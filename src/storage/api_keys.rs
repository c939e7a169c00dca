//! The `api_keys` collection: keys for the bots, stored only as SHA-256 hashes.
//!
//! Keys are 32 random bytes, so a fast hash is enough (a slow password hash guards
//! low-entropy secrets; these are not).

use super::values::bson_time;
use super::{StorageError, Store, names::API_KEYS};
use crate::domain::{
    accounts::{ApiKeyName, ApiKeyScope},
    ids::VendorId,
    tokens::{random_token, sha256_hex},
};
use chrono::{DateTime, Utc};
use mongodb::bson::doc;

/// A stored key as the admin page lists it (never the key itself).
pub use crate::domain::accounts::ApiKeyInfo;

/// A new key, shown to the admin once.
#[derive(Debug)]
pub struct NewApiKey {
    /// The stored key's id (its page is `/api-keys/{id}`).
    pub id: String,
    pub name: String,
    pub key: String,
}

/// An unrevoked key as the API checks it.
#[derive(Debug, Clone)]
pub struct LiveKey {
    pub hash: String,
    pub scope: ApiKeyScope,
    pub id: String,
    /// The one vendor it may draw numbers for, when it is bound to one.
    pub vendor: Option<VendorId>,
}

fn live_key_fields() -> mongodb::bson::Document {
    doc! { "key_hash": 1, "scope": 1, "vendor": 1 }
}

/// A stored key as the API checks it; `None` (logged) when its scope or vendor does not parse.
fn live_key(d: &mongodb::bson::Document) -> Option<LiveKey> {
    let id = d.get_object_id("_id").ok()?.to_hex();
    let hash = d.get_str("key_hash").ok()?.to_owned();
    let vendor = match d.get("vendor") {
        None | Some(mongodb::bson::Bson::Null) => Ok(None),
        Some(v) => VendorId::parse(v.as_str().unwrap_or("")).map(Some),
    };
    match ApiKeyScope::parse(d.get_str("scope").unwrap_or("")).and_then(|scope| Ok((scope, vendor?))) {
        Ok((scope, vendor)) => Some(LiveKey { hash, scope, id, vendor }),
        Err(e) => {
            tracing::warn!(key = id, error = %e, "an API key's scope or vendor does not parse; it opens nothing");
            None
        }
    }
}

/// A stored key document as the pages show it (without its hash).
fn key_info(d: &mongodb::bson::Document) -> Result<ApiKeyInfo, StorageError> {
    let time = |k: &str| super::values::datetime(d.get(k));
    let id = d.get_object_id("_id").map(|id| id.to_hex()).unwrap_or_default();
    let scope = ApiKeyScope::parse(d.get_str("scope").unwrap_or("")).map_err(|e| StorageError::Corrupt {
        collection: API_KEYS,
        id: id.clone(),
        problem: e.to_string(),
    })?;
    Ok(ApiKeyInfo {
        name: d.get_str("name").unwrap_or("").to_owned(),
        scope,
        vendor: d.get_str("vendor").ok().map(str::to_owned),
        created_at: time("created_at"),
        last_used_at: time("last_used_at"),
        revoked_at: time("revoked_at"),
        id,
    })
}

/// Hex SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> String {
    sha256_hex(key)
}

impl Store {
    /// Creates a key with a name and scope; returns the only copy of the key itself.
    pub async fn create_api_key(
        &self,
        name: &ApiKeyName,
        scope: ApiKeyScope,
        now: DateTime<Utc>,
    ) -> Result<NewApiKey, StorageError> {
        self.create_bound_api_key(name, scope, None, now).await
    }

    /// [`Store::create_api_key`] for a key that may draw numbers only for `vendor`.
    pub async fn create_bound_api_key(
        &self,
        name: &ApiKeyName,
        scope: ApiKeyScope,
        vendor: Option<&VendorId>,
        now: DateTime<Utc>,
    ) -> Result<NewApiKey, StorageError> {
        let key = format!("odk_{}", random_token());
        let keys = self.collection(API_KEYS);
        let d = doc! {
            "name": name.as_str(),
            "scope": scope.as_str(),
            "vendor": vendor.map(|v| v.as_str()),
            "key_hash": hash_key(&key),
            "created_at": bson_time(now),
            "last_used_at": null,
            "revoked_at": null,
        };
        let inserted = self.run("api_key_create", API_KEYS, keys.insert_one(d)).await?;
        let id = inserted.inserted_id.as_object_id().map(|id| id.to_hex()).unwrap_or_default();
        Ok(NewApiKey { id, name: name.as_str().to_owned(), key })
    }

    /// Every stored key document, for tests and the admin page.
    pub async fn raw_api_keys(&self) -> Result<Vec<mongodb::bson::Document>, StorageError> {
        use futures::TryStreamExt;
        let keys = self.collection(API_KEYS);
        self.run("api_key_list", API_KEYS, async {
            keys.find(doc! {}).max_time(self.op_timeout).await?.try_collect().await
        })
        .await
    }

    /// Every key, newest first, without hashes.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, StorageError> {
        use futures::TryStreamExt;
        let keys = self.collection(API_KEYS);
        let docs: Vec<mongodb::bson::Document> = self
            .run("api_key_list", API_KEYS, async {
                keys.find(doc! {}).max_time(self.op_timeout).sort(doc! { "_id": -1 }).await?.try_collect().await
            })
            .await?;
        docs.iter().map(key_info).collect()
    }

    /// One key by its id (`None` for an id that is no key's).
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyInfo>, StorageError> {
        let Ok(oid) = mongodb::bson::oid::ObjectId::parse_str(id) else { return Ok(None) };
        let keys = self.collection(API_KEYS);
        let found =
            self.run("api_key_read", API_KEYS, keys.find_one(doc! { "_id": oid }).max_time(self.op_timeout)).await?;
        found.as_ref().map(key_info).transpose()
    }

    /// Revokes a key by id; false when there is no such unrevoked key.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let Ok(oid) = mongodb::bson::oid::ObjectId::parse_str(id) else { return Ok(false) };
        let keys = self.collection(API_KEYS);
        let update = doc! { "$set": { "revoked_at": bson_time(now) } };
        let result = self
            .run("api_key_revoke", API_KEYS, keys.update_one(doc! { "_id": oid, "revoked_at": null }, update))
            .await?;
        Ok(result.modified_count == 1)
    }

    /// Every unrevoked key (a key whose scope or vendor does not parse is left out and
    /// logged: it opens nothing).
    pub async fn live_api_keys(&self) -> Result<Vec<LiveKey>, StorageError> {
        use futures::TryStreamExt;
        let keys = self.collection(API_KEYS);
        let docs: Vec<mongodb::bson::Document> = self
            .run("api_key_list", API_KEYS, async {
                keys.find(doc! { "revoked_at": null })
                    .projection(live_key_fields())
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs.iter().filter_map(live_key).collect())
    }

    /// The unrevoked key with this hash, if there is one (by the `key_hash` index).
    pub async fn live_api_key(&self, hash: &str) -> Result<Option<LiveKey>, StorageError> {
        let keys = self.collection(API_KEYS);
        let found = self
            .run(
                "api_key_check",
                API_KEYS,
                keys.find_one(doc! { "key_hash": hash, "revoked_at": null })
                    .projection(live_key_fields())
                    .max_time(self.op_timeout),
            )
            .await?;
        Ok(found.as_ref().and_then(live_key))
    }

    /// Records that key `id` was used at `now`.
    pub async fn record_api_key_use(&self, id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let Ok(oid) = mongodb::bson::oid::ObjectId::parse_str(id) else { return Ok(()) };
        let keys = self.collection(API_KEYS);
        let update = doc! { "$set": { "last_used_at": bson_time(now) } };
        self.run("api_key_used", API_KEYS, keys.update_one(doc! { "_id": oid }, update)).await.map(drop)
    }
}
