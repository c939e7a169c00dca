//! The `api_keys` collection: keys for the bots, stored only as SHA-256 hashes.
//!
//! Keys are 32 random bytes, so a fast hash is enough (a slow password hash guards
//! low-entropy secrets; these are not).

use super::values::{bson_time, chrono_time, typed};
use super::{StorageError, Store, names::API_KEYS};
use crate::domain::{
    accounts::{ApiKeyName, ApiKeyScope},
    ids::VendorId,
    tokens::{random_token, sha256_hex},
};
use chrono::{DateTime, Utc};
use mongodb::bson::{DateTime as BsonTime, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

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

/// A key as `api_keys` stores it: its fields are named here and nowhere else.
#[derive(Debug, Serialize, Deserialize)]
struct KeyDocument {
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<ObjectId>,
    name: String,
    scope: ApiKeyScope,
    vendor: Option<VendorId>,
    key_hash: String,
    created_at: Option<BsonTime>,
    last_used_at: Option<BsonTime>,
    revoked_at: Option<BsonTime>,
}

/// What the API's check reads of a key (its projection).
#[derive(Debug, Deserialize)]
struct LiveKeyDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    key_hash: String,
    scope: ApiKeyScope,
    vendor: Option<VendorId>,
}

fn live_key_fields() -> Document {
    doc! { "key_hash": 1, "scope": 1, "vendor": 1 }
}

/// A stored key as the API checks it; `None` (logged) when it does not parse: it opens nothing.
fn live_key(d: Document) -> Option<LiveKey> {
    match typed::<LiveKeyDocument>(API_KEYS, d) {
        Ok(k) => Some(LiveKey { hash: k.key_hash, scope: k.scope, id: k.id.to_hex(), vendor: k.vendor }),
        Err(e) => {
            tracing::warn!(error = %e, "an API key does not parse; it opens nothing");
            None
        }
    }
}

/// A stored key as the pages show it (without its hash).
fn key_info(d: Document) -> Result<ApiKeyInfo, StorageError> {
    let k: KeyDocument = typed(API_KEYS, d)?;
    let time = |t: Option<BsonTime>| t.map(chrono_time);
    Ok(ApiKeyInfo {
        id: k.id.map(|id| id.to_hex()).unwrap_or_default(),
        name: k.name,
        scope: k.scope,
        vendor: k.vendor.map(|v| v.as_str().to_owned()),
        created_at: time(k.created_at),
        last_used_at: time(k.last_used_at),
        revoked_at: time(k.revoked_at),
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
        let keys = self.collection(API_KEYS).clone_with_type::<KeyDocument>();
        let d = KeyDocument {
            id: None,
            name: name.as_str().to_owned(),
            scope,
            vendor: vendor.cloned(),
            key_hash: hash_key(&key),
            created_at: Some(bson_time(now)),
            last_used_at: None,
            revoked_at: None,
        };
        let inserted = self.run("api_key_create", API_KEYS, keys.insert_one(d)).await?;
        let id = inserted.inserted_id.as_object_id().map(|id| id.to_hex()).unwrap_or_default();
        Ok(NewApiKey { id, name: name.as_str().to_owned(), key })
    }

    /// Every stored key document, for tests and the admin page.
    pub async fn raw_api_keys(&self) -> Result<Vec<Document>, StorageError> {
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
        let docs: Vec<Document> = self
            .run("api_key_list", API_KEYS, async {
                keys.find(doc! {}).max_time(self.op_timeout).sort(doc! { "_id": -1 }).await?.try_collect().await
            })
            .await?;
        docs.into_iter().map(key_info).collect()
    }

    /// One key by its id (`None` for an id that is no key's).
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyInfo>, StorageError> {
        let Ok(oid) = ObjectId::parse_str(id) else { return Ok(None) };
        let keys = self.collection(API_KEYS);
        let found =
            self.run("api_key_read", API_KEYS, keys.find_one(doc! { "_id": oid }).max_time(self.op_timeout)).await?;
        found.map(key_info).transpose()
    }

    /// Revokes a key by id; false when there is no such unrevoked key.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let Ok(oid) = ObjectId::parse_str(id) else { return Ok(false) };
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
        let docs: Vec<Document> = self
            .run("api_key_list", API_KEYS, async {
                keys.find(doc! { "revoked_at": null })
                    .projection(live_key_fields())
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs.into_iter().filter_map(live_key).collect())
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
        Ok(found.and_then(live_key))
    }

    /// Records that key `id` was used at `now`.
    pub async fn record_api_key_use(&self, id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let Ok(oid) = ObjectId::parse_str(id) else { return Ok(()) };
        let keys = self.collection(API_KEYS);
        let update = doc! { "$set": { "last_used_at": bson_time(now) } };
        self.run("api_key_used", API_KEYS, keys.update_one(doc! { "_id": oid }, update)).await.map(drop)
    }
}
