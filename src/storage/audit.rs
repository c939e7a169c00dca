//! The audit log (`audit_log`): append-only. This module inserts and reads; nothing in
//! orderdesk updates or deletes an entry.

use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::{
    StorageError, Store,
    names::AUDIT,
    values::{bson_time, chrono_time, typed},
};
pub use crate::domain::audit::{AuditEntry, AuditFilter};

/// An entry's `_id`, which is the log's order. A driver-made ObjectId orders by the second
/// only, and within a second by a random per-process value: entries written by two processes
/// (the server and a CLI command) in one second came back in either order. Here the bytes after
/// the seconds are the millisecond, then a per-process value and a counter, so the log reads in
/// time order to the millisecond and, within one process, in the order written.
fn entry_id(at: chrono::DateTime<chrono::Utc>) -> ObjectId {
    use std::sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    };
    static PROCESS: OnceLock<[u8; 3]> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let process = PROCESS.get_or_init(rand::random);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    let seconds = (at.timestamp().clamp(0, i64::from(u32::MAX)) as u32).to_be_bytes();
    let millis = (at.timestamp_subsec_millis().min(999) as u16).to_be_bytes();
    ObjectId::from_bytes([
        seconds[0], seconds[1], seconds[2], seconds[3], millis[0], millis[1], process[0], process[1], process[2],
        count[1], count[2], count[3],
    ])
}

/// The filter as a query on `audit_log`.
fn query(filter: &AuditFilter) -> Document {
    let mut q = doc! {};
    if let Some(actor) = &filter.actor {
        q.insert("actor", actor);
    }
    if let Some(action) = &filter.action {
        // Prefix match on the indexed field: `maintenance.` finds every maintenance action.
        q.insert("action", doc! { "$regex": format!("^{}", regex_escape(action)) });
    }
    let mut at = doc! {};
    if let Some(since) = filter.since {
        at.insert("$gte", bson_time(since));
    }
    if let Some(until) = filter.until {
        at.insert("$lt", bson_time(until));
    }
    if !at.is_empty() {
        q.insert("at", at);
    }
    q
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\^$.|?*+()[]{}".contains(c);
            special.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// An entry as `audit_log` keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct EntryDocument {
    #[serde(rename = "_id")]
    id: ObjectId,
    at: BsonTime,
    actor: String,
    role: String,
    ip: String,
    action: String,
    params: String,
    outcome: String,
}

/// Reads an entry; one that does not parse is [`StorageError::Corrupt`]: an audit log that
/// skipped what it could not read would show a history with a hole in it.
fn entry(d: Document) -> Result<AuditEntry, StorageError> {
    let e: EntryDocument = typed(AUDIT, d)?;
    Ok(AuditEntry {
        id: e.id.to_hex(),
        at: chrono_time(e.at),
        actor: e.actor,
        role: e.role,
        ip: e.ip,
        action: e.action,
        params: e.params,
        outcome: e.outcome,
    })
}

fn entry_document(e: &AuditEntry) -> EntryDocument {
    EntryDocument {
        id: entry_id(e.at),
        at: bson_time(e.at),
        actor: e.actor.clone(),
        role: e.role.clone(),
        ip: e.ip.clone(),
        action: e.action.clone(),
        params: e.params.clone(),
        outcome: e.outcome.clone(),
    }
}

/// Most entries one group commit writes.
const GROUP_MAX: usize = 1000;

/// The server's one way into the audit log: concurrent requests hand their entries to one
/// task, which writes whatever has gathered meanwhile in one `insert_many` (a group
/// commit: no added wait when it is idle, bigger batches under load), and each request
/// awaits the acknowledgement of its own entry. An entry is either on disk or its request
/// hears why not.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: tokio::sync::mpsc::Sender<(AuditEntry, tokio::sync::oneshot::Sender<Result<(), StorageError>>)>,
}

impl AuditWriter {
    /// The writer, and the work of writing for its owner to run (it ends when every copy of
    /// the writer is gone).
    pub fn new(store: Store) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        type Pending = (AuditEntry, tokio::sync::oneshot::Sender<Result<(), StorageError>>);
        let (queue, mut entries) = tokio::sync::mpsc::channel::<Pending>(4 * GROUP_MAX);
        let writing = async move {
            let mut batch = Vec::with_capacity(GROUP_MAX);
            while entries.recv_many(&mut batch, GROUP_MAX).await > 0 {
                let (docs, acks): (Vec<EntryDocument>, Vec<tokio::sync::oneshot::Sender<_>>) =
                    batch.drain(..).map(|(e, ack)| (entry_document(&e), ack)).unzip();
                let log = store.collection(AUDIT).clone_with_type::<EntryDocument>();
                let written = store.run("audit_append", AUDIT, log.insert_many(docs).ordered(false)).await.map(drop);
                for ack in acks {
                    let _ = ack.send(written.clone());
                }
            }
        };
        (Self { queue }, writing)
    }

    /// Writes `entry` with the entries of other requests; returns once it is acknowledged.
    pub async fn append(&self, entry: AuditEntry) -> Result<(), StorageError> {
        let (ack, acked) = tokio::sync::oneshot::channel();
        let gone = || StorageError::Unavailable("the audit writer has stopped".into());
        self.queue.send((entry, ack)).await.map_err(|_| gone())?;
        acked.await.map_err(|_| gone())?
    }
}

impl Store {
    /// Appends one entry (the command line; the server goes through [`AuditWriter`]).
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), StorageError> {
        let log = self.collection(AUDIT);
        let log = log.clone_with_type::<EntryDocument>();
        self.run("audit_append", AUDIT, log.insert_one(entry_document(e))).await.map(drop)
    }

    /// Entries matching `filter`, newest first, at most `limit`, older than `before` (the id
    /// of the last entry of the previous page).
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let mut q = query(filter);
        if let Some(id) = before.and_then(|b| ObjectId::parse_str(b).ok()) {
            q.insert("_id", doc! { "$lt": Bson::ObjectId(id) });
        }
        let log = self.collection(AUDIT);
        let docs: Vec<Document> = self
            .run("audit_list", AUDIT, async {
                log.find(q).max_time(self.op_timeout).sort(doc! { "_id": -1 }).limit(limit).await?.try_collect().await
            })
            .await?;
        docs.into_iter().map(entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_order_by_the_millisecond_then_by_writing() {
        use chrono::{Duration, TimeZone, Utc};
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 14, 0, 0).unwrap() + Duration::milliseconds(998);
        let ids = [
            entry_id(t - Duration::milliseconds(997)),
            entry_id(t),
            entry_id(t),
            entry_id(t + Duration::milliseconds(1)),
            entry_id(t + Duration::milliseconds(2)),
        ];
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        // Still an ObjectId whose timestamp is the entry's second.
        assert_eq!(ids[1].timestamp().timestamp_millis(), t.timestamp() * 1000);
    }

    #[test]
    fn the_action_filter_is_a_literal_prefix() {
        let f = AuditFilter { action: Some("order.view(".into()), ..Default::default() };
        assert_eq!(query(&f).get_document("action").unwrap().get_str("$regex").unwrap(), "^order\\.view\\(");
    }
}
