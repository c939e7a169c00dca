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
    /// Longest a call may take (the server's own wait included) before the feed is given up.
    call_limit: Duration,
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
    /// `wait`, then none), then takes whatever else has arrived, up to `max`. The wait is a
    /// series of the server's own waits (a second each), never a call cut off: the stream is
    /// left between calls, so its resume point can be read (reading it mid-call panics). A
    /// call that hangs past its bound ends the feed with an error; the caller opens another.
    pub async fn next_keys(&mut self, max: usize, wait: Duration) -> Result<Vec<Bson>, FeedError> {
        let mut keys = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        let mut event = loop {
            match self.step().await? {
                Some(e) => break Some(e),
                None if !self.stream.is_alive() => break None,
                None if tokio::time::Instant::now() >= deadline => return Ok(keys),
                None => {}
            }
        };
        loop {
            match event {
                Some(e) => {
                    if let Some(t) = e.cluster_time {
                        self.latest = self.latest.max(u64::from(t.time) << 32 | u64::from(t.increment));
                    }
                    if let Some(id) = e.document_key.as_ref().and_then(|k| k.get("_id")) {
                        keys.push(id.clone());
                    }
                }
                None if keys.is_empty() => return Err(FeedError::Closed),
                None => return Ok(keys),
            }
            if keys.len() >= max {
                return Ok(keys);
            }
            event = match self.step().await? {
                Some(e) => Some(e),
                None => return Ok(keys),
            };
        }
    }

    /// One batch's next change, if the batch (one `getMore`, which the server holds up to a
    /// second while nothing changes) has any.
    async fn step(&mut self) -> Result<Option<mongodb::change_stream::event::ChangeStreamEvent<Document>>, FeedError> {
        match tokio::time::timeout(self.call_limit, self.stream.next_if_any()).await {
            Ok(Ok(event)) => Ok(event),
            Ok(Err(e)) => Err(feed_error("watch", e)),
            Err(_) => Err(FeedError::Storage(StorageError::Timeout { op: "watch", ms: self.call_limit.as_millis() })),
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
            // A getMore waits up to a second on the server before answering empty.
            Ok(Ok(stream)) => Ok(ChangeFeed { stream, latest: 0, call_limit: limit + Duration::from_secs(1) }),
            Ok(Err(e)) => Err(feed_error("watch", e)),
            Err(_) => Err(FeedError::Storage(StorageError::Timeout { op: "watch", ms: limit.as_millis() })),
        }
    }
}
