//! Places for work that holds something while it waits on a client or a change: so many in
//! all, and so many per key (a session, an account, an address), so that one key cannot take
//! everyone's. The long polls of the live counters, the CSV exports and the open connections
//! each have their own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

#[derive(Debug)]
pub struct Places {
    total: Arc<tokio::sync::Semaphore>,
    capacity: usize,
    per_key: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

/// One place, given back when dropped.
#[derive(Debug)]
pub struct Place {
    _total: tokio::sync::OwnedSemaphorePermit,
    key: Option<String>,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut map = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&key);
            }
        }
    }
}

impl Places {
    pub fn new(total: usize, per_key: usize) -> Self {
        Self { total: Arc::new(tokio::sync::Semaphore::new(total)), capacity: total, per_key, held: Arc::default() }
    }

    /// A place for `key` (`None`: counted only in the total), or `None` when the key or the
    /// whole has all it may.
    pub fn enter(&self, key: Option<&str>) -> Option<Place> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        if let Some(key) = key {
            let mut map = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(key.to_owned()).or_default();
            if *n >= self.per_key {
                return None;
            }
            *n += 1;
        }
        Some(Place { _total: total, key: key.map(str::to_owned), held: self.held.clone() })
    }

    /// Resolves once every place has been given back (a stopping server's connections).
    pub async fn all_given_back(&self) {
        let all = u32::try_from(self.capacity).unwrap_or(u32::MAX);
        let _ = self.total.acquire_many(all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_a_few_places_and_gives_them_back() {
        let places = Places::new(8, 3);
        let held: Vec<_> = (0..3).map(|_| places.enter(Some("a")).expect("a place")).collect();
        assert!(places.enter(Some("a")).is_none(), "the key is full");
        assert!(places.enter(Some("b")).is_some(), "another key is not");
        drop(held);
        assert!(places.enter(Some("a")).is_some(), "places are given back");
        let all: Vec<_> = (0..8).filter_map(|i| places.enter(Some(&i.to_string()))).collect();
        assert_eq!(all.len(), 8);
        assert!(places.enter(Some("late")).is_none() && places.enter(None).is_none(), "the whole is full");
    }
}
