//! Staff accounts (`staff`) and their signed-in sessions (`staff_sessions`).
//!
//! A session is stored under the SHA-256 of its cookie token, so a copy of the database
//! does not sign anyone in. Expired sessions are never returned and are swept at sign-in.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::values::bson_time;
use super::{
    StorageError, Store,
    names::{STAFF, STAFF_SESSIONS},
    values::datetime,
};
use crate::domain::accounts::{Email, Role};

/// A stored staff account.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffAccount {
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// A live session.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSession {
    pub email: String,
    pub role: Role,
    pub csrf: String,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub max_until: DateTime<Utc>,
}

/// How long a session read from the database is trusted without reading it again. Every
/// page opens with its session: kept for a second, a busy agent's pages cost one read fewer
/// (BENCHMARKS.md, "The order page: one round trip instead of five"). This process ending a
/// session forgets it at once; another process or the command line is obeyed within this
/// time (API keys are trusted for 30 s).
pub const SESSION_TRUST: std::time::Duration = std::time::Duration::from_secs(1);
/// At most this many sessions are remembered; past it the map starts afresh.
const SESSION_CACHE_MAX: usize = 10_000;

/// Sessions recently read, by token hash. Never a negative answer: an unknown token is
/// always looked up.
#[derive(Debug, Default)]
pub(crate) struct SessionCache(std::sync::Mutex<std::collections::HashMap<String, (StaffSession, std::time::Instant)>>);

impl SessionCache {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (StaffSession, std::time::Instant)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<StaffSession> {
        let map = self.map();
        let (session, read_at) = map.get(token_hash)?;
        (read_at.elapsed() < SESSION_TRUST && session.expires_at > now).then(|| session.clone())
    }

    fn put(&self, token_hash: &str, session: &StaffSession) {
        let mut map = self.map();
        if map.len() >= SESSION_CACHE_MAX {
            map.retain(|_, (_, read_at)| read_at.elapsed() < SESSION_TRUST);
            if map.len() >= SESSION_CACHE_MAX {
                map.clear();
            }
        }
        map.insert(token_hash.to_owned(), (session.clone(), std::time::Instant::now()));
    }

    fn forget(&self, token_hash: &str) {
        self.map().remove(token_hash);
    }

    fn forget_email(&self, email: &str) {
        self.map().retain(|_, (s, _)| s.email != email);
    }

    fn touched(&self, token_hash: &str, now: DateTime<Utc>, expires_at: DateTime<Utc>) {
        if let Some((s, _)) = self.map().get_mut(token_hash) {
            s.last_seen_at = now;
            s.expires_at = expires_at;
        }
    }
}

fn account(d: &Document) -> Option<StaffAccount> {
    Some(StaffAccount {
        email: d.get_str("email").ok()?.to_owned(),
        role: Role::parse(d.get_str("role").ok()?).ok()?,
        password_hash: d.get_str("password_hash").unwrap_or("").to_owned(),
        disabled: d.get_bool("disabled").unwrap_or(false),
        created_at: datetime(d.get("created_at")),
        last_login_at: datetime(d.get("last_login_at")),
    })
}

impl Store {
    /// Adds an account; `DuplicateKey` when the email is taken.
    pub async fn add_staff(
        &self,
        email: &Email,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let staff = self.collection(STAFF);
        let d = doc! {
            "email": email.as_str(),
            "role": role.as_str(),
            "password_hash": password_hash,
            "disabled": false,
            "created_at": bson_time(now),
        };
        self.run("staff_add", STAFF, staff.insert_one(d)).await.map(drop)
    }

    /// Creates the account or resets its role and password, enabled (the demo users). When
    /// that changes an existing account's role, its sessions end: they carry the old one.
    pub async fn upsert_staff(
        &self,
        email: &Email,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let staff = self.collection(STAFF);
        let update = doc! {
            "$set": { "role": role.as_str(), "password_hash": password_hash, "disabled": false },
            "$setOnInsert": { "created_at": bson_time(now) },
        };
        let before = self
            .run(
                "staff_upsert",
                STAFF,
                staff
                    .find_one_and_update(doc! { "email": email.as_str() }, update)
                    .upsert(true)
                    .max_time(self.op_timeout),
            )
            .await?;
        if before.as_ref().and_then(account).is_some_and(|a| a.role != role || a.disabled) {
            self.end_sessions(email).await?;
        }
        Ok(())
    }

    /// Changes an account's role and ends its sessions (a session carries the role it was
    /// signed in with); false when there is no such account.
    pub async fn set_staff_role(&self, email: &Email, role: Role) -> Result<bool, StorageError> {
        let staff = self.collection(STAFF);
        let update = doc! { "$set": { "role": role.as_str() } };
        let result = self.run("staff_role", STAFF, staff.update_one(doc! { "email": email.as_str() }, update)).await?;
        self.end_sessions(email).await?;
        Ok(result.matched_count == 1)
    }

    /// Ends every session of `email`.
    pub async fn end_sessions(&self, email: &Email) -> Result<(), StorageError> {
        let sessions = self.collection(STAFF_SESSIONS);
        self.sessions.forget_email(email.as_str());
        self.run("session_end_all", STAFF_SESSIONS, sessions.delete_many(doc! { "email": email.as_str() }))
            .await
            .map(drop)
    }

    pub async fn find_staff(&self, email: &Email) -> Result<Option<StaffAccount>, StorageError> {
        let staff = self.collection(STAFF);
        let found = self
            .run("staff_find", STAFF, staff.find_one(doc! { "email": email.as_str() }).max_time(self.op_timeout))
            .await?;
        Ok(found.as_ref().and_then(account))
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffAccount>, StorageError> {
        let staff = self.collection(STAFF);
        let docs: Vec<Document> = self
            .run("staff_list", STAFF, async {
                staff.find(doc! {}).max_time(self.op_timeout).sort(doc! { "email": 1 }).await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().filter_map(account).collect())
    }

    /// Disables an account and ends its sessions; false when there is no such account.
    pub async fn disable_staff(&self, email: &Email, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let staff = self.collection(STAFF);
        let update = doc! { "$set": { "disabled": true, "disabled_at": bson_time(now) } };
        let result =
            self.run("staff_disable", STAFF, staff.update_one(doc! { "email": email.as_str() }, update)).await?;
        self.end_sessions(email).await?;
        Ok(result.matched_count == 1)
    }

    pub async fn record_login(&self, email: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let staff = self.collection(STAFF);
        let update = doc! { "$set": { "last_login_at": bson_time(now) } };
        self.run("staff_login", STAFF, staff.update_one(doc! { "email": email }, update)).await.map(drop)
    }

    /// Stores a new session and sweeps expired ones.
    pub async fn create_session(
        &self,
        token_hash: &str,
        account: &StaffAccount,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        max_until: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sessions = self.collection(STAFF_SESSIONS);
        self.run(
            "session_sweep",
            STAFF_SESSIONS,
            sessions.delete_many(doc! { "expires_at": { "$lte": bson_time(now) } }),
        )
        .await?;
        let d = doc! {
            "_id": token_hash,
            "email": &account.email,
            "role": account.role.as_str(),
            "csrf": csrf,
            "created_at": bson_time(now),
            "last_seen_at": bson_time(now),
            "expires_at": bson_time(expires_at),
            "max_until": bson_time(max_until),
        };
        self.run("session_create", STAFF_SESSIONS, sessions.insert_one(d)).await.map(drop)
    }

    /// The session for a token hash, unless it has expired (read at most [`SESSION_TRUST`] ago).
    pub async fn find_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StorageError> {
        if let Some(session) = self.sessions.get(token_hash, now) {
            return Ok(Some(session));
        }
        let sessions = self.collection(STAFF_SESSIONS);
        let filter = doc! { "_id": token_hash, "expires_at": { "$gt": bson_time(now) } };
        let Some(d) =
            self.run("session_find", STAFF_SESSIONS, sessions.find_one(filter).max_time(self.op_timeout)).await?
        else {
            return Ok(None);
        };
        let session = (|| {
            Some(StaffSession {
                email: d.get_str("email").ok()?.to_owned(),
                role: Role::parse(d.get_str("role").ok()?).ok()?,
                csrf: d.get_str("csrf").ok()?.to_owned(),
                last_seen_at: datetime(d.get("last_seen_at"))?,
                expires_at: datetime(d.get("expires_at"))?,
                max_until: datetime(d.get("max_until"))?,
            })
        })();
        if let Some(s) = &session {
            self.sessions.put(token_hash, s);
        }
        Ok(session)
    }

    /// Moves a session's idle expiry on.
    pub async fn touch_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sessions = self.collection(STAFF_SESSIONS);
        let update = doc! { "$set": { "last_seen_at": bson_time(now), "expires_at": bson_time(expires_at) } };
        self.sessions.touched(token_hash, now, expires_at);
        self.run("session_touch", STAFF_SESSIONS, sessions.update_one(doc! { "_id": token_hash }, update))
            .await
            .map(drop)
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StorageError> {
        let sessions = self.collection(STAFF_SESSIONS);
        self.sessions.forget(token_hash);
        self.run("session_delete", STAFF_SESSIONS, sessions.delete_one(doc! { "_id": token_hash })).await.map(drop)
    }
}
