//! The millisecond a BB number is stamped with, chosen so that no two numbers are the same.
//!
//! `BB-{ms}-{user}-{sequence}` names no vendor, so two vendors' numbers clash when their
//! sequences, user suffixes and milliseconds agree. Across processes, each process stamps only
//! milliseconds of a lane it leases (`storage::number_lanes`); inside one, the numbers stamped
//! at each millisecond are remembered and a clash moves on to the lane's next millisecond.
//! Nothing is added to an allocation's round trips: the lease is taken once and renewed in the
//! background at half its reach.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
};

use crate::{
    domain::ids::UserSuffix,
    storage::{
        StorageError, Store,
        counters::CounterError,
        number_lanes::{LANES, LEASE_MS, LaneLease},
    },
};

#[derive(Default)]
struct State {
    lease: Option<LaneLease>,
    /// The latest instant any stamp asked for: nothing is stamped before it, so what was
    /// stamped before it can be forgotten. (A call that waited out an election asks with an
    /// instant long past: it is stamped at the floor, not back among forgotten stamps.)
    floor: i64,
    /// (user suffix, sequence) stamped at each millisecond from the floor on.
    stamped: BTreeMap<i64, HashSet<(UserSuffix, u32)>>,
    last_ms: Option<i64>,
    renewing: bool,
}

/// One per allocator (per process).
pub struct NumberLanes {
    store: Store,
    state: Arc<Mutex<State>>,
    /// One take or renewal at a time.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

/// What [`NumberLanes::try_stamp`] found.
enum Stamp {
    Done {
        ms: i64,
        renew: bool,
    },
    /// No lease, or none that reaches far enough (the lease it saw): take or renew one first.
    Stuck(Option<LaneLease>),
}

/// Why the lease is refreshed.
enum Refresh {
    /// Half of it is used: reach further, in the background.
    Ahead,
    /// A stamp cannot be made with the lease it saw (none, or used up to its end).
    Stuck(Option<LaneLease>),
}

impl NumberLanes {
    pub fn new(store: Store) -> Self {
        Self { store, state: Arc::default(), refresh: Arc::default() }
    }

    /// The millisecond for a number asked for at `now_ms`: at or after it, in this process's
    /// lane, and not yet stamped with this user suffix and sequence.
    pub async fn stamp(&self, now_ms: i64, user: UserSuffix, sequence: u32) -> Result<i64, CounterError> {
        loop {
            match self.try_stamp(now_ms, user, sequence) {
                Stamp::Done { ms, renew } => {
                    if renew {
                        self.renew_in_background(now_ms);
                    }
                    return Ok(ms);
                }
                Stamp::Stuck(seen) => self.refresh(now_ms, Refresh::Stuck(seen)).await?,
            }
        }
    }

    fn try_stamp(&self, now_ms: i64, user: UserSuffix, sequence: u32) -> Stamp {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lease) = state.lease.clone() else { return Stamp::Stuck(None) };
        let lanes = i64::from(LANES);
        state.floor = state.floor.max(now_ms);
        let start = state.floor.max(lease.from_ms);
        let mut ms = start + (i64::from(lease.lane) - start).rem_euclid(lanes);
        while state.stamped.get(&ms).is_some_and(|taken| taken.contains(&(user, sequence))) {
            ms += lanes;
        }
        if ms >= lease.until_ms {
            return Stamp::Stuck(Some(lease));
        }
        state.stamped.entry(ms).or_default().insert((user, sequence));
        state.last_ms = state.last_ms.max(Some(ms));
        // Milliseconds behind the floor are never stamped again: forget them.
        let floor = state.floor;
        state.stamped = state.stamped.split_off(&floor);
        let renew = lease.until_ms - now_ms < LEASE_MS / 2 && !state.renewing;
        if renew {
            state.renewing = true;
        }
        Stamp::Done { ms, renew }
    }

    fn renew_in_background(&self, now_ms: i64) {
        let this = Self { store: self.store.clone(), state: self.state.clone(), refresh: self.refresh.clone() };
        tokio::spawn(async move {
            // A failure here is retried by the next stamp, or by a stamp that needs the lease.
            if let Err(e) = this.refresh(now_ms, Refresh::Ahead).await {
                tracing::warn!(error = %e, "could not renew this process's number lane");
            }
            this.state.lock().unwrap_or_else(|p| p.into_inner()).renewing = false;
        });
    }

    /// Renews the lease, or takes a lane when there is none, it was lost, or its milliseconds
    /// are used up to its end (clashes pushed stamps there).
    async fn refresh(&self, now_ms: i64, why: Refresh) -> Result<(), CounterError> {
        let _one = self.refresh.lock().await;
        let current = self.state.lock().unwrap_or_else(|p| p.into_inner()).lease.clone();
        match &why {
            // Another caller refreshed it meanwhile: the stamp tries again with that.
            Refresh::Stuck(seen) if *seen != current => return Ok(()),
            Refresh::Ahead if current.as_ref().is_none_or(|l| l.until_ms - now_ms >= LEASE_MS / 2) => return Ok(()),
            _ => {}
        }
        let renewed = match &current {
            Some(lease) => self.store.renew_number_lane(lease, now_ms).await?,
            None => None,
        };
        let lease = match (renewed, &current) {
            (Some(renewed), Some(old)) if matches!(why, Refresh::Ahead) || renewed.until_ms > old.until_ms => renewed,
            _ => {
                if let Some(old) = &current {
                    tracing::info!(lane = old.lane, "this process's number lane lapsed or ran out; taking another");
                }
                self.store
                    .take_number_lane(now_ms)
                    .await?
                    .ok_or(CounterError::NoLane { lanes: LANES, seconds: LEASE_MS / 1000 })?
            }
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.lease.as_ref().map(|l| l.lane) != Some(lease.lane) {
            // Another lane's milliseconds never meet the old one's.
            state.stamped.clear();
        }
        state.lease = Some(lease);
        Ok(())
    }

    /// Hands the lane back (a CLI run that is done): the next process can take it at once.
    pub async fn release(&self) -> Result<(), StorageError> {
        let (lease, last) = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (state.lease.clone(), state.last_ms)
        };
        match lease {
            Some(lease) => self.store.release_number_lane(&lease, last.unwrap_or(lease.from_ms - 1)).await,
            None => Ok(()),
        }
    }
}
