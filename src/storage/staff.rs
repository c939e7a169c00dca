//! Staff accounts (`staff`) and their signed-in sessions (`staff_sessions`).
//!
//! A session is stored under the SHA-256 of its cookie token, so a copy of the database
//! does not sign anyone in. Expired sessions are never returned and are swept at sign-in.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{DateTime as BsonTime, Document, doc};
use serde::{Deserialize, Serialize};

use super::values::{bson_time, chrono_time as time, typed};
use super::{
    StorageError, Store,
    names::{STAFF, STAFF_SESSIONS},
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

/// An account as `staff` stores it: its fields are named here and nowhere else.
#[derive(Debug, Serialize, Deserialize)]
struct AccountDocument {
    email: String,
    role: Role,
    password_hash: String,
    disabled: bool,
    created_at: Option<BsonTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_login_at: Option<BsonTime>,
}

/// A session as `staff_sessions` stores it, under the hash of its token.
#[derive(Debug, Serialize, Deserialize)]
struct SessionDocument {
    #[serde(rename = "_id")]
    token_hash: String,
    email: String,
    role: Role,
    csrf: String,
    created_at: BsonTime,
    last_seen_at: BsonTime,
    expires_at: BsonTime,
    max_until: BsonTime,
}

fn account(d: Document) -> Result<StaffAccount, StorageError> {
    let a: AccountDocument = typed(STAFF, d)?;
    Ok(StaffAccount {
        email: a.email,
        role: a.role,
        password_hash: a.password_hash,
        disabled: a.disabled,
        created_at: a.created_at.map(time),
        last_login_at: a.last_login_at.map(time),
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
        let staff = self.collection(STAFF).clone_with_type::<AccountDocument>();
        let d = AccountDocument {
            email: email.as_str().to_owned(),
            role,
            password_hash: password_hash.to_owned(),
            disabled: false,
            created_at: Some(bson_time(now)),
            last_login_at: None,
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
        // An account that did not parse is rewritten whole by the `$set` above: its sessions end.
        if before.map(account).is_some_and(|a| a.is_err() || a.is_ok_and(|a| a.role != role || a.disabled)) {
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
        found.map(account).transpose()
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffAccount>, StorageError> {
        let staff = self.collection(STAFF);
        let docs: Vec<Document> = self
            .run("staff_list", STAFF, async {
                staff.find(doc! {}).max_time(self.op_timeout).sort(doc! { "email": 1 }).await?.try_collect().await
            })
            .await?;
        docs.into_iter().map(account).collect()
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
        let d = SessionDocument {
            token_hash: token_hash.to_owned(),
            email: account.email.clone(),
            role: account.role,
            csrf: csrf.to_owned(),
            created_at: bson_time(now),
            last_seen_at: bson_time(now),
            expires_at: bson_time(expires_at),
            max_until: bson_time(max_until),
        };
        let sessions = sessions.clone_with_type::<SessionDocument>();
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
        // A session that does not parse signs nobody in: it is logged and read as none.
        let session = match typed::<SessionDocument>(STAFF_SESSIONS, d) {
            Ok(s) => Some(StaffSession {
                email: s.email,
                role: s.role,
                csrf: s.csrf,
                last_seen_at: time(s.last_seen_at),
                expires_at: time(s.expires_at),
                max_until: time(s.max_until),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "a stored staff session does not parse; it signs nobody in");
                None
            }
        };
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
