//! Keeps `display_id` filled in for orders the bots insert themselves (see
//! `storage::display_ids`): one pass over everything the first time, then every few seconds a
//! pass over the orders created since the last one (and [`LATE_INSERT`] before it).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::{StorageError, Store, display_ids::LATE_INSERT};

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

/// Runs passes for as long as the server runs; a failed pass is logged and tried again later.
pub fn spawn(store: Store) {
    tokio::spawn(async move {
        loop {
            let pause = match fill_pass(&store, Utc::now()).await {
                Ok(0) => INTERVAL,
                Ok(n) => {
                    tracing::info!(orders = n, "filled in display_id for orders the bots inserted");
                    INTERVAL
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not fill in display_id; trying again in a minute");
                    RETRY
                }
            };
            tokio::time::sleep(pause).await;
        }
    });
}
