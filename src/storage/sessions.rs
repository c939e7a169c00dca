//! The bot's `sessions` collection: one conversation state per Telegram user.

use chrono::{DateTime, Utc};
use mongodb::{
    bson::{Bson, Document, doc},
    options::ReturnDocument,
};
use serde::{Deserialize, Serialize};

use super::values::bson_time;
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
        let bot = self.bot()?;
        let sessions = bot.sessions();
        let now = bson_time(now);
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
        let found = match self.run_retrying_in(bot, "session_upsert", SESSIONS, op).await {
            Err(StorageError::DuplicateKey { .. }) => {
                self.run_retrying_in(bot, "session_upsert", SESSIONS, || {
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
        let session = session_of(user, &d);
        if session.order_id.is_some() {
            return Ok(session);
        }
        // A session that lost its ID (missing, null or empty: the seed's "if None, regenerate"):
        // the candidate is stored only while it is still missing, so racing calls agree.
        self.fill_session_order_id(user, candidate).await
    }

    /// The sessions whose `order_id` is missing, null or empty: how many, and the first
    /// `sample` of them (oldest first).
    pub async fn sessions_without_order_id(
        &self,
        sample: i64,
    ) -> Result<crate::domain::maintenance::SessionsWithoutId, StorageError> {
        use futures::TryStreamExt;
        let bot = self.bot()?;
        let sessions = bot.sessions();
        let (count, first) = tokio::join!(
            self.run_in(
                bot,
                "sessions_without_id",
                SESSIONS,
                sessions.count_documents(missing_order_id()).max_time(self.op_timeout)
            ),
            self.run_in(bot, "sessions_without_id", SESSIONS, async {
                sessions
                    .find(missing_order_id())
                    .sort(doc! { "_id": 1 })
                    .limit(sample)
                    .max_time(self.op_timeout)
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            }),
        );
        let sample = first?
            .iter()
            .filter_map(|d| {
                let user = match d.get("user_id") {
                    Some(Bson::Int64(n)) => *n,
                    Some(Bson::Int32(n)) => i64::from(*n),
                    _ => return None,
                };
                Some((user, d.get_str("current_step").ok().map(str::to_owned), datetime(d.get("created_at"))))
            })
            .collect();
        Ok(crate::domain::maintenance::SessionsWithoutId { count: count?, sample })
    }

    /// Gives the user's session `candidate` as its order_id if it has none, in one atomic
    /// update; the session as it is then (with the ID a racing call stored, if one did).
    pub async fn fill_session_order_id(&self, user: TelegramId, candidate: &OrderId) -> Result<Session, StorageError> {
        let bot = self.bot()?;
        let sessions = bot.sessions();
        let mut missing = missing_order_id();
        missing.insert("user_id", user.0);
        let fill = doc! { "$set": { "order_id": candidate.to_string() } };
        let filled = self
            .run_retrying("session_fill_order_id", SESSIONS, || {
                sessions
                    .find_one_and_update(missing.clone(), fill.clone())
                    .max_time(self.op_timeout)
                    .return_document(ReturnDocument::After)
            })
            .await?;
        let d = match filled {
            Some(d) => d,
            None => self
                .run_retrying("session_read", SESSIONS, || {
                    sessions.find_one(doc! { "user_id": user.0 }).max_time(self.op_timeout)
                })
                .await?
                .ok_or_else(|| StorageError::Database {
                    op: "session_fill_order_id",
                    message: format!("user {}'s session is gone", user.0),
                })?,
        };
        Ok(session_of(user, &d))
    }

    /// The session moves on once its order is stored: its `order_id` is handed to the order
    /// (kept as `last_order_id`, the step set to `ORDER_CREATED`) and cleared, so the user's
    /// next order gets an ID of its own. Only while the session still holds `id`: a late
    /// retry never clears a newer ID. True when it moved.
    pub async fn session_order_created(
        &self,
        user: TelegramId,
        id: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let bot = self.bot()?;
        let sessions = bot.sessions();
        let holds = doc! { "user_id": user.0, "order_id": id.to_string() };
        let update = doc! {
            "$set": { "current_step": ORDER_CREATED, "last_order_id": id.to_string(), "timestamp": bson_time(now) },
            "$unset": { "order_id": "" },
        };
        let moved = self
            .run_retrying("session_order_created", SESSIONS, || sessions.update_one(holds.clone(), update.clone()))
            .await?;
        Ok(moved.modified_count == 1)
    }
}

/// Sessions whose `order_id` is missing, null or empty (`null` matches both null and missing).
fn missing_order_id() -> Document {
    doc! { "order_id": { "$in": [Bson::Null, ""] } }
}

/// The step a session is at once its order is stored.
pub const ORDER_CREATED: &str = "ORDER_CREATED";

fn session_of(user: TelegramId, d: &Document) -> Session {
    Session {
        user_id: user.0,
        order_id: match d.get("order_id") {
            Some(Bson::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        },
        current_step: d.get_str("current_step").ok().map(str::to_owned),
        created_at: datetime(d.get("created_at")),
        timestamp: datetime(d.get("timestamp")),
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
