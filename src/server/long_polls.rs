//! Places for long polls (the live counters): a long poll waits on a change, not on the
//! database, so once its caller is known it gives its work turn back and holds one of these
//! instead; few per session and few in all, so one session cannot take everyone's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Long polls waiting at once in this process...
pub const TOTAL: usize = 128;
/// ...and from one session (a person with a few tabs open).
pub const PER_SESSION: usize = 3;

#[derive(Debug)]
pub struct LongPolls {
    total: Arc<tokio::sync::Semaphore>,
    sessions: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for LongPolls {
    fn default() -> Self {
        Self { total: Arc::new(tokio::sync::Semaphore::new(TOTAL)), sessions: Arc::default() }
    }
}

/// A long poll's place, given back when it ends.
#[derive(Debug)]
pub struct LongPoll {
    _total: tokio::sync::OwnedSemaphorePermit,
    session: String,
    sessions: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for LongPoll {
    fn drop(&mut self) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.session);
            }
        }
    }
}

impl LongPolls {
    /// A place for a long poll of `session` (any string that tells sessions apart), or
    /// `None` when the session or the process has all it may.
    pub fn enter(&self, session: &str) -> Option<LongPoll> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(session.to_owned()).or_default();
        if *n >= PER_SESSION {
            return None;
        }
        *n += 1;
        Some(LongPoll { _total: total, session: session.to_owned(), sessions: self.sessions.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gets_a_few_places_and_gives_them_back() {
        let polls = LongPolls::default();
        let held: Vec<_> = (0..PER_SESSION).map(|_| polls.enter("a").expect("a place")).collect();
        assert!(polls.enter("a").is_none(), "the session is full");
        assert!(polls.enter("b").is_some(), "another session is not");
        drop(held);
        assert!(polls.enter("a").is_some(), "places are given back");
        let all: Vec<_> = (0..TOTAL).filter_map(|i| polls.enter(&i.to_string())).collect();
        assert_eq!(all.len(), TOTAL);
        assert!(polls.enter("late").is_none(), "the process is full");
    }
}
