//! The bot's `sessions` collection: one conversation state per Telegram user.

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{Bson, DateTime as BsonTime, Document, doc},
    options::ReturnDocument,
};
use serde::{Deserialize, Serialize};

use super::{StorageError, Store, names::SESSIONS, values::datetime};
use crate::{
    domain::ids::{OrderId, TelegramId},
    domain::orders::SessionView,
};

/// A user's session as the bot keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: i64,
    /// As stored: legacy sessions may hold an ID that is not valid today.
    pub order_id: Option<String>,
    pub current_step: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub timestamp: Option<DateTime<Utc>>,
}

impl Store {
    /// The user's session, created if absent, in one atomic upsert: `$setOnInsert` writes
    /// `order_id` only when the session is new, so concurrent calls for one user all get
    /// the same session and the same order_id. `candidate` is used only on creation.
    #[tracing::instrument(skip(self, now), fields(user = user.0))]
    pub async fn get_or_create_session(
        &self,
        user: TelegramId,
        candidate: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<Session, StorageError> {
        let sessions = self.collection(SESSIONS);
        let now = BsonTime::from_millis(now.timestamp_millis());
        let update = doc! {
            "$set": { "timestamp": now },
            "$setOnInsert": {
                "user_id": user.0,
                "order_id": candidate.to_string(),
                "current_step": "START",
                "temp_data": {},
                "created_at": now,
            },
        };
        let op = || {
            sessions
                .find_one_and_update(doc! { "user_id": user.0 }, update.clone())
                .max_time(self.op_timeout)
                .upsert(true)
                .return_document(ReturnDocument::After)
        };
        // Two first upserts for one user can race on the unique index: the loser retries
        // and finds the winner's session. An election is waited out (the bots' API).
        let found = match self.run_retrying("session_upsert", SESSIONS, op).await {
            Err(StorageError::DuplicateKey { .. }) => {
                self.run_retrying("session_upsert", SESSIONS, || {
                    sessions.find_one(doc! { "user_id": user.0 }).max_time(self.op_timeout)
                })
                .await?
            }
            other => other?,
        };
        let d = found.ok_or_else(|| StorageError::Database {
            op: "session_upsert",
            message: format!("no session for user {} after upsert", user.0),
        })?;
        Ok(Session {
            user_id: user.0,
            order_id: match d.get("order_id") {
                Some(Bson::String(s)) => Some(s.clone()),
                _ => None,
            },
            current_step: d.get_str("current_step").ok().map(str::to_owned),
            created_at: datetime(d.get("created_at")),
            timestamp: datetime(d.get("timestamp")),
        })
    }
}

/// A user's session as the order page shows it (joined to the order by its lookup).
pub(crate) fn session_from_document(d: &Document) -> SessionView {
    SessionView {
        current_step: d.get_str("current_step").ok().map(str::to_owned),
        order_id: d.get_str("order_id").ok().map(str::to_owned),
        created_at: datetime(d.get("created_at")),
        last_seen: datetime(d.get("timestamp")),
    }
}
