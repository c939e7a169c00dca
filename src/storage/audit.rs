//! The audit log (`audit_log`): append-only. This module inserts and reads; nothing in
//! orderdesk updates or deletes an entry.

use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc, oid::ObjectId};

use super::{StorageError, Store, orders::datetime};
pub use crate::audit::{AuditEntry, AuditFilter};

pub const AUDIT: &str = "audit_log";

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
        at.insert("$gte", BsonTime::from_millis(since.timestamp_millis()));
    }
    if let Some(until) = filter.until {
        at.insert("$lt", BsonTime::from_millis(until.timestamp_millis()));
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

fn entry(d: &Document) -> Option<AuditEntry> {
    let text = |k: &str| d.get_str(k).unwrap_or("").to_owned();
    Some(AuditEntry {
        id: d.get_object_id("_id").ok()?.to_hex(),
        at: datetime(d.get("at"))?,
        actor: text("actor"),
        role: text("role"),
        ip: text("ip"),
        action: text("action"),
        params: text("params"),
        outcome: text("outcome"),
    })
}

impl Store {
    /// Appends one entry.
    pub async fn audit(&self, e: &AuditEntry) -> Result<(), StorageError> {
        let log = self.collection(AUDIT);
        let d = doc! {
            "at": BsonTime::from_millis(e.at.timestamp_millis()),
            "actor": &e.actor,
            "role": &e.role,
            "ip": &e.ip,
            "action": &e.action,
            "params": &e.params,
            "outcome": &e.outcome,
        };
        self.run("audit_append", AUDIT, log.insert_one(d)).await.map(drop)
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
                log.find(q).sort(doc! { "_id": -1 }).limit(limit).await?.try_collect().await
            })
            .await?;
        Ok(docs.iter().filter_map(entry).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_filter_is_a_literal_prefix() {
        let f = AuditFilter { action: Some("order.view(".into()), ..Default::default() };
        assert_eq!(query(&f).get_document("action").unwrap().get_str("$regex").unwrap(), "^order\\.view\\(");
    }
}
