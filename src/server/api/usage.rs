//! What the counting of API calls (`server::middleware::api_calls`) reads from the handlers:
//! whose call it was, and whether a limit refused it.

use std::sync::{Arc, OnceLock};

/// Where the key check writes whose call this is (the id of a valid key).
#[derive(Debug, Clone, Default)]
pub struct CallerKey(Arc<OnceLock<String>>);

impl CallerKey {
    pub fn set(&self, id: String) {
        let _ = self.0.set(id);
    }

    /// The key id the check wrote, if it ran and the key was valid.
    pub fn get(&self) -> Option<&String> {
        self.0.get()
    }
}

/// On a response refused by a limit (the overload bound, a rate limit, a counter at its cap).
#[derive(Debug, Clone, Copy)]
pub struct LimitHit;
