//! Counting the bots' calls per API key: in memory per call (a mutex section of a hash
//! lookup and a few adds), written to `api_key_usage` every [`WRITE_EVERY`] by one task and
//! whenever a key's page is opened, so that page is exact for this process. What a process
//! had not written when it stopped is lost (a few seconds of counts; these are statistics,
//! not the audit log).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use chrono::{DateTime, Utc};

use crate::{
    domain::api_usage::{DAY, ENV_KEY, KeyReport, KeyUsage, KeysOverview, MinuteUsage, Outcome, Tally, minute_of},
    storage::{StorageError, Store},
};

/// How often the counts are written.
pub const WRITE_EVERY: Duration = Duration::from_secs(5);
/// (key, minute) pairs held while the database cannot take them; past it the oldest
/// minutes are dropped (a day of one key is 1,440).
const MAX_HELD: usize = 20_000;

#[derive(Debug)]
pub struct UsageRecorder {
    store: Store,
    pending: Mutex<HashMap<(String, DateTime<Utc>), Tally>>,
}

impl UsageRecorder {
    /// The recorder, and the work of writing its counts every minute for its owner to run
    /// (it ends with the recorder).
    pub fn new(store: Store) -> (Arc<Self>, impl std::future::Future<Output = ()> + Send + 'static) {
        let recorder = Arc::new(Self { store, pending: Mutex::default() });
        let weak: Weak<Self> = Arc::downgrade(&recorder);
        let writing = async move {
            let mut tick = tokio::time::interval(WRITE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(recorder) = weak.upgrade() else { return };
                if let Err(e) = recorder.write().await {
                    tracing::warn!(error = %e, "could not write API usage; kept for the next try");
                }
            }
        };
        (recorder, writing)
    }

    /// Counts one call made with `key` (an API key's id, or [`crate::domain::api_usage::ENV_KEY`]).
    pub fn record(&self, key: &str, status: u16, limit_hit: bool, at: DateTime<Utc>, took: Duration) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.entry((key.to_owned(), minute_of(at))).or_default().add(
            Outcome::of(status, limit_hit),
            status,
            at,
            took,
        );
    }

    /// Writes what has been counted since the last write. On failure the minutes not yet
    /// written are kept for the next write (one that timed out may have been written: it
    /// may then count twice, which is rarer and better than losing it).
    pub async fn write(&self) -> Result<(), StorageError> {
        let mut taken: Vec<(String, MinuteUsage)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.drain().map(|((key, minute), tally)| (key, MinuteUsage { minute, tally })).collect()
        };
        // Oldest first, so what a long outage drops is the oldest.
        taken.sort_by_key(|(_, m)| m.minute);
        for i in 0..taken.len() {
            let (key, minute) = &taken[i];
            if let Err(e) = self.store.add_api_usage(key, minute).await {
                self.keep(taken.drain(i..));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Puts unwritten minutes back among those counted since.
    fn keep(&self, minutes: impl Iterator<Item = (String, MinuteUsage)>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (key, m) in minutes {
            pending.entry((key, m.minute)).or_default().merge(&m.tally);
        }
        if pending.len() > MAX_HELD {
            let mut minutes: Vec<DateTime<Utc>> = pending.keys().map(|(_, m)| *m).collect();
            minutes.sort_unstable();
            let cut = minutes[pending.len() - MAX_HELD];
            pending.retain(|(_, m), _| *m >= cut);
        }
    }
}

impl UsageRecorder {
    /// Writes this process's counts so a page read next includes them; a failure is logged
    /// (the read that follows says whether the database answers).
    async fn write_before_reading(&self) {
        if let Err(e) = self.write().await {
            tracing::warn!(error = %e, "could not write API usage before showing it");
        }
    }

    /// Every key with its last day up to `now`; the bootstrap key's when `bootstrap` (one is
    /// configured).
    pub async fn overview(&self, bootstrap: bool, now: DateTime<Utc>) -> Result<KeysOverview, StorageError> {
        self.write_before_reading().await;
        let (keys, lines) = tokio::try_join!(self.store.list_api_keys(), self.store.api_usage_by_key(now - DAY))?;
        let mut by_key: HashMap<String, Tally> = lines.into_iter().map(|l| (l.key, l.totals)).collect();
        let bootstrap = bootstrap.then(|| by_key.remove(ENV_KEY).unwrap_or_default());
        let keys = keys
            .into_iter()
            .map(|k| {
                let usage = by_key.remove(&k.id).unwrap_or_default();
                (k, usage)
            })
            .collect();
        Ok(KeysOverview { keys, bootstrap })
    }

    /// One key's last day up to `now`, by the key's id ([`ENV_KEY`] for the bootstrap key,
    /// when `bootstrap`); `None` when there is no such key.
    pub async fn report(
        &self,
        id: &str,
        bootstrap: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyReport>, StorageError> {
        let key = if id == ENV_KEY && bootstrap {
            None
        } else {
            match self.store.api_key(id).await? {
                Some(key) => Some(key),
                None => return Ok(None),
            }
        };
        self.write_before_reading().await;
        let minutes = self.store.api_usage(id, now - DAY).await?;
        Ok(Some(KeyReport { key, usage: KeyUsage::of(&minutes, now) }))
    }
}
