//! Live counters: the `/counters` page hears of a counter change as it happens, instead of
//! asking every two seconds. Each process follows a change stream of `ordercounters` and keeps
//! the cluster time of the latest change; a page waits (a long poll) until it passes the one
//! the page has seen. Cluster times are the replica set's, the same in every process, so a
//! page behind a balancer never sees time run backwards when it asks another process. On a
//! standalone mongod there is no change stream, [`CounterChanges::wait`] says so, and pages poll.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::watch;

use crate::storage::{Store, feeds::FeedError};

/// A page's wait ends after this at the latest (below the request timeout), and it asks again.
pub const LONGEST_WAIT: Duration = Duration::from_secs(8);

/// The shortest time between two refreshes a change causes.
const COALESCE: Duration = Duration::from_millis(500);

/// Counter changes seen by this process, for pages waiting on them.
pub struct CounterChanges {
    version: watch::Sender<u64>,
    live: AtomicBool,
}

impl CounterChanges {
    /// The changes, and the work of following the counters for its owner to run.
    pub fn new(store: Store) -> (Arc<Self>, impl std::future::Future<Output = ()> + Send + 'static) {
        let changes = Arc::new(Self { version: watch::Sender::new(0), live: AtomicBool::new(false) });
        let this = changes.clone();
        let following = async move {
            loop {
                match store.watch_counters().await {
                    Ok(mut feed) => {
                        this.live.store(true, Ordering::Relaxed);
                        while let Ok(keys) = feed.next_keys(1_000, LONGEST_WAIT).await {
                            let latest = feed.latest_change();
                            this.version.send_if_modified(|v| {
                                let newer = latest > *v;
                                *v = (*v).max(latest);
                                newer
                            });
                            if !keys.is_empty() {
                                // A busy marketplace changes counters thousands of times a
                                // second: each page refreshes at most this often, and the
                                // changes of the pause are taken together.
                                tokio::time::sleep(COALESCE).await;
                            }
                        }
                        this.live.store(false, Ordering::Relaxed);
                    }
                    Err(FeedError::NotAvailable) => {
                        tracing::info!("no change streams on this mongod (a standalone): the counters page polls");
                        return;
                    }
                    Err(e) => tracing::debug!(error = ?e, "could not follow the counters; trying again"),
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        };
        (changes, following)
    }

    /// Waits until a counter changes after `seen` (the cluster time this returned before; 0 for
    /// "now"), at most [`LONGEST_WAIT`]; the latest change's cluster time then. `None` when this
    /// process is not following the counters (a standalone, or the feed is down): poll.
    pub async fn wait(&self, seen: u64) -> Option<u64> {
        if !self.live.load(Ordering::Relaxed) {
            return None;
        }
        let mut rx = self.version.subscribe();
        let _ = tokio::time::timeout(LONGEST_WAIT, rx.wait_for(|v| *v > seen)).await;
        let latest = *rx.borrow();
        Some(latest.max(seen))
    }
}
