//! Change streams: what the database reports as it changes, for the background work that
//! follows it (display IDs of new orders, live counters). A standalone mongod has none:
//! [`FeedError::NotAvailable`] tells the caller to poll instead.

use std::time::Duration;

use mongodb::bson::{Bson, Document, doc};

use super::{StorageError, Store};

/// Changes as the database reports them: only the changed documents' keys.
pub struct ChangeFeed {
    stream: mongodb::change_stream::ChangeStream<mongodb::change_stream::event::ChangeStreamEvent<Document>>,
    /// The cluster time of the latest change taken: the same for every process that sees it.
    latest: u64,
}

/// Why the feed of new orders cannot be followed.
#[derive(Debug)]
pub enum FeedError {
    /// A standalone mongod has no change streams: poll instead.
    NotAvailable,
    /// The stored resume point is older than the oplog reaches: start afresh and catch up.
    HistoryLost,
    /// The stream ended (its collection or database was dropped or renamed): open it again.
    Closed,
    Storage(StorageError),
}

impl ChangeFeed {
    /// The keys of the documents changed since the last call: waits for the first one (at most
    /// `wait`, then none), then takes whatever else has arrived, up to `max`. Only the wait
    /// for the first is cut short, which takes nothing from the feed.
    pub async fn next_keys(&mut self, max: usize, wait: Duration) -> Result<Vec<Bson>, FeedError> {
        use futures::StreamExt;
        let mut keys = Vec::new();
        let Ok(mut event) = tokio::time::timeout(wait, self.stream.next()).await else { return Ok(keys) };
        loop {
            match event {
                Some(Ok(e)) => {
                    if let Some(t) = e.cluster_time {
                        self.latest = self.latest.max(u64::from(t.time) << 32 | u64::from(t.increment));
                    }
                    if let Some(id) = e.document_key.as_ref().and_then(|k| k.get("_id")) {
                        keys.push(id.clone());
                    }
                }
                Some(Err(e)) => return Err(feed_error("watch", e)),
                None if keys.is_empty() => return Err(FeedError::Closed),
                None => return Ok(keys),
            }
            if keys.len() >= max {
                return Ok(keys);
            }
            event = match self.stream.next_if_any().await {
                Ok(Some(e)) => Some(Ok(e)),
                Ok(None) => return Ok(keys),
                Err(e) => Some(Err(e)),
            };
        }
    }

    /// The cluster time of the latest change taken (0 before any): it orders changes the same
    /// way in every process on the replica set.
    pub fn latest_change(&self) -> u64 {
        self.latest
    }

    /// Where the feed stands, to resume from after a restart or a change of watcher.
    pub fn resume_point(&self) -> Option<Bson> {
        self.stream.resume_token().and_then(|t| mongodb::bson::to_bson(&t).ok())
    }
}

fn feed_error(op: &'static str, e: mongodb::error::Error) -> FeedError {
    // 40573: "The $changeStream stage is only supported on replica sets"; 286:
    // ChangeStreamHistoryLost; 280: ChangeStreamFatalError (the resume point is gone).
    match &*e.kind {
        mongodb::error::ErrorKind::Command(c) if c.code == 40573 => FeedError::NotAvailable,
        mongodb::error::ErrorKind::Command(c) if c.code == 286 || c.code == 280 => FeedError::HistoryLost,
        _ => FeedError::Storage(StorageError::from_driver(op, e)),
    }
}

impl Store {
    /// The feed of new orders (inserts only), from `resume` when given.
    pub async fn watch_order_inserts(&self, resume: Option<Bson>) -> Result<ChangeFeed, FeedError> {
        let pipeline = [doc! { "$match": { "operationType": "insert" } }];
        let orders = self.bot().map_err(FeedError::Storage)?.orders();
        self.watch(orders, pipeline, resume).await
    }

    /// The feed of counter changes (every write to `ordercounters`), from now on.
    pub async fn watch_counters(&self) -> Result<ChangeFeed, FeedError> {
        let counters = self.marketplace().map_err(FeedError::Storage)?.counters();
        self.watch(counters, [], None).await
    }

    async fn watch<const N: usize>(
        &self,
        watched: mongodb::Collection<Document>,
        pipeline: [Document; N],
        resume: Option<Bson>,
    ) -> Result<ChangeFeed, FeedError> {
        let token = resume.and_then(|t| mongodb::bson::from_bson::<mongodb::change_stream::event::ResumeToken>(t).ok());
        let open = watched.watch().pipeline(pipeline).resume_after(token);
        let limit = self.op_timeout + super::HUNG_AFTER;
        match tokio::time::timeout(limit, std::future::IntoFuture::into_future(open)).await {
            Ok(Ok(stream)) => Ok(ChangeFeed { stream, latest: 0 }),
            Ok(Err(e)) => Err(feed_error("watch", e)),
            Err(_) => Err(FeedError::Storage(StorageError::Timeout { op: "watch", ms: limit.as_millis() })),
        }
    }
}
