//! A shareable source of new order IDs.

use std::sync::{Arc, Mutex};

use rand::{RngCore, SeedableRng, rngs::StdRng};

use crate::domain::ids::{
    OrderId,
    generate::{Clock, MonotonicClock, SystemClock, ord_id, uuid_id},
};

/// Which form new order IDs take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdScheme {
    Ord,
    Uuid,
}

/// Draws IDs from an injected clock and random source (tests inject both).
pub struct IdGenerator {
    clock: Arc<dyn Clock>,
    rng: Mutex<Box<dyn RngCore + Send>>,
    scheme: IdScheme,
}

impl std::fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdGenerator").field("scheme", &self.scheme).finish_non_exhaustive()
    }
}

impl IdGenerator {
    /// The production generator: the wall clock made monotonic, and an OS-seeded CSPRNG.
    pub fn system(scheme: IdScheme) -> Self {
        Self::new(Arc::new(MonotonicClock::new(SystemClock)), Box::new(StdRng::from_os_rng()), scheme)
    }

    pub fn new(clock: Arc<dyn Clock>, rng: Box<dyn RngCore + Send>, scheme: IdScheme) -> Self {
        Self { clock, rng: Mutex::new(rng), scheme }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A new ID of the configured scheme.
    pub fn next_id(&self) -> OrderId {
        // A poisoned lock only means another thread panicked mid-draw; the RNG is still usable.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        match self.scheme {
            IdScheme::Ord => ord_id(&self.clock, &mut *rng),
            IdScheme::Uuid => uuid_id(&mut *rng),
        }
    }
}
