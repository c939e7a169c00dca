//! Keeps `display_id` filled in for orders the bots insert themselves (see
//! `storage::display_ids`): one pass over everything the first time; then, on a replica set,
//! a change stream of new orders followed by one process; on a standalone, every few seconds a
//! pass over the orders created since the last one (and [`LATE_INSERT`] before it).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::{StorageError, Store, display_ids::LATE_INSERT, feeds::FeedError};

/// Time between passes: how long a bot's new order may wait to be found by its display form
/// (a lookup that misses fills the recent ones at once anyway).
pub const INTERVAL: Duration = Duration::from_secs(5);

/// A first pass walks every order without `display_id`: allow it minutes, not a lookup's bound.
const PASS_TIMEOUT: Duration = Duration::from_secs(600);

/// After a failed pass (the database down, say): not a warning every few seconds.
const RETRY: Duration = Duration::from_secs(60);

/// One pass: fills what was created since the last pass (everything on the first), then
/// records `now` as covered. Returns how many orders got a `display_id`.
pub async fn fill_pass(store: &Store, now: DateTime<Utc>) -> Result<u64, StorageError> {
    let since = store.display_ids_filled_through().await?.map(|through| through - LATE_INSERT);
    let filled = store.fill_display_ids(since, PASS_TIMEOUT).await?;
    store.set_display_ids_filled_through(now).await?;
    Ok(filled)
}

/// How long one process keeps the watcher's lease without renewing it; renewed at a third.
const WATCH_LEASE: Duration = Duration::from_secs(30);

/// At most this many new orders are filled in one update.
const FEED_BATCH: usize = 500;

/// Keeps `display_id` filled for as long as the server runs. On a replica set one process
/// (the holder of the `display_fill` lease) follows a change stream of new orders and fills
/// each within moments, storing its resume point; the others stand by and take over when the
/// lease lapses. On a standalone mongod, which has no change streams, the lease holder polls
/// every [`INTERVAL`] instead. Never returns: the server drops it when it stops.
pub async fn run(store: Store) {
    loop {
        let pause = match follow_or_poll(&store).await {
            Ok(()) => INTERVAL,
            Err(e) => {
                tracing::warn!(error = %e, "could not fill in display_id; trying again in a minute");
                RETRY
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// The lease's name: [`Store::release_lease`] hands it over when the server stops.
pub const LEASE: &str = "display_fill";

/// One turn: follow the feed while this process holds the lease, or poll once.
async fn follow_or_poll(store: &Store) -> Result<(), StorageError> {
    if !store.hold_lease(LEASE, WATCH_LEASE, Utc::now()).await? {
        return Ok(()); // Another process watches.
    }
    let resume = store.display_feed_resume().await?;
    let mut feed = match store.watch_order_inserts(resume.clone()).await {
        Ok(feed) => feed,
        Err(FeedError::NotAvailable) => return poll(store).await,
        Err(FeedError::HistoryLost) => {
            tracing::warn!("the stored point of the new-orders feed is gone; starting afresh after a catch-up pass");
            store.set_display_feed_resume(None).await?;
            return Ok(());
        }
        Err(FeedError::Storage(e)) => return Err(e),
        Err(FeedError::Closed) => return Ok(()),
    };
    if resume.is_none() {
        // No point to resume from: what was inserted before the feed opened is filled by a pass.
        fill_pass(store, Utc::now()).await?;
        store.set_display_feed_resume(feed.resume_point()).await?;
    }
    tracing::info!("following new orders to fill in display_id");
    let mut renewed = std::time::Instant::now();
    let mut stored = feed.resume_point();
    loop {
        // Never cut off once an order is taken from the feed: its resume point then moves
        // past it, and it must be filled first.
        let keys = match feed.next_keys(FEED_BATCH, WATCH_LEASE / 3).await {
            Ok(keys) => keys,
            // Broken mid-way (a failover the driver could not resume over, a dropped
            // collection): the next turn, in a few seconds, opens it again from the stored point.
            Err(e) => {
                tracing::info!(error = ?e, "the new-orders feed stopped; opening it again");
                return Ok(());
            }
        };
        if !keys.is_empty() {
            let filled = store.fill_display_ids_of(&keys).await?;
            tracing::debug!(orders = keys.len(), filled, "filled display_id of new orders");
            stored = feed.resume_point();
            store.set_display_feed_resume(stored.clone()).await?;
        }
        if renewed.elapsed() >= WATCH_LEASE / 3 {
            if !store.hold_lease(LEASE, WATCH_LEASE, Utc::now()).await? {
                return Ok(()); // Lost it (this process stalled): another one watches now.
            }
            renewed = std::time::Instant::now();
            // The point moves on without new orders too (the oplog's other writes: audit
            // entries, counters). Stored only with an order, a restart after a quiet day
            // resumed hours back and mongod read through every write since, at 40 % of a core.
            let point = feed.resume_point();
            if point != stored {
                store.set_display_feed_resume(point.clone()).await?;
                stored = point;
            }
        }
    }
}

async fn poll(store: &Store) -> Result<(), StorageError> {
    let filled = fill_pass(store, Utc::now()).await?;
    if filled > 0 {
        tracing::info!(orders = filled, "filled in display_id for orders the bots inserted");
    }
    Ok(())
}
