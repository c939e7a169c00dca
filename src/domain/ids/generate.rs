//! Making new IDs from an injectable clock and random source.
//!
//! Clocks can step backwards (NTP corrections, VM migration). [`MonotonicClock`] never
//! returns an earlier instant than it already has, so timestamps inside IDs never go
//! backwards within one process. Uniqueness never rests on the clock: ORD ids carry 32
//! random bits and are stored under a unique index (a clash is retried), and BB numbers
//! take their uniqueness from the daily counter, not from the time.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use rand::Rng;

use super::OrderId;

/// Where "now" comes from; tests inject fixed or scripted clocks.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wraps a clock so that it never goes backwards: a step back holds time at the latest
/// instant seen until the inner clock catches up.
#[derive(Debug, Default)]
pub struct MonotonicClock<C> {
    inner: C,
    latest_ms: AtomicI64,
}

impl<C: Clock> MonotonicClock<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, latest_ms: AtomicI64::new(i64::MIN) }
    }
}

impl<C: Clock> Clock for MonotonicClock<C> {
    fn now(&self) -> DateTime<Utc> {
        let now = self.inner.now().timestamp_millis();
        let previous = self.latest_ms.fetch_max(now, Ordering::AcqRel);
        let ms = previous.max(now);
        DateTime::from_timestamp_millis(ms).unwrap_or_else(|| self.inner.now())
    }
}

impl<T: Clock + ?Sized> Clock for &T {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// A new `ORD-{YYYYMMDDHHMMSS}-{8 hex}` id. The random part is what the first 8 hex
/// digits of a UUID v4 are: 32 uniformly random bits.
pub fn ord_id(clock: &impl Clock, rng: &mut impl Rng) -> OrderId {
    OrderId::ord(clock.now(), rng.random())
}

/// A new pure-UUID (v4) order id.
pub fn uuid_id(rng: &mut impl Rng) -> OrderId {
    OrderId::Uuid(uuid::Builder::from_random_bytes(rng.random()).into_uuid())
}

/// Uuid v4 is what `uuid_id` must produce; kept as a named check for tests.
pub fn is_v4(id: &OrderId) -> bool {
    matches!(id, OrderId::Uuid(u) if u.get_version() == Some(uuid::Version::Random))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    /// A clock that replays a script of instants.
    struct Scripted(Mutex<Vec<i64>>);
    impl Clock for Scripted {
        fn now(&self) -> DateTime<Utc> {
            let ms = self.0.lock().unwrap().remove(0);
            DateTime::from_timestamp_millis(ms).unwrap()
        }
    }

    #[test]
    fn monotonic_clock_holds_through_a_step_back() {
        let clock = MonotonicClock::new(Scripted(Mutex::new(vec![5_000, 3_000, 4_000, 6_000])));
        let seen: Vec<i64> = (0..4).map(|_| clock.now().timestamp_millis()).collect();
        assert_eq!(seen, [5_000, 5_000, 5_000, 6_000]);
    }

    #[test]
    fn ids_from_a_backwards_clock_are_still_distinct_and_valid() {
        let clock = Scripted(Mutex::new((0..1000).map(|i| 1_700_000_000_000 - i * 1000).collect()));
        let mut rng = StdRng::seed_from_u64(1);
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| ord_id(&clock, &mut rng).to_string()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|s| OrderId::parse(s).is_ok()));
    }

    #[test]
    fn uuid_ids_are_version_4() {
        let mut rng = StdRng::seed_from_u64(2);
        let id = uuid_id(&mut rng);
        assert!(is_v4(&id), "{id}");
    }
}
