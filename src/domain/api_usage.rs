//! How each bot uses its API key: its calls by the minute, what became of them and how long
//! they took, so an admin can tell which bot is failing and since when. The server counts
//! calls in memory (`services::api_usage`) and adds them every few seconds to one document
//! per (key, minute) in MongoDB, so every process's calls add up in one place.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::accounts::ApiKeyInfo;

/// Upper bounds of the latency buckets, in milliseconds; one more bucket holds the slower.
/// Fixed buckets add up across processes (a `$inc` per bucket), which percentile sketches
/// do not; a percentile is then known to its bucket, and the page says "≤ 20 ms".
pub const LATENCY_BOUNDS_MS: [u32; 16] = [1, 2, 5, 10, 20, 30, 50, 75, 100, 200, 300, 500, 1000, 2000, 5000, 10000];
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The period the key's page covers.
pub const DAY: Duration = Duration::hours(24);

/// The key the bootstrap key from `ORDERDESK_API_KEY` is counted under (stored keys are
/// counted under their ObjectId, which is never this).
pub const ENV_KEY: &str = "env";

/// What became of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx or 3xx.
    Ok,
    /// 4xx: the bot sent something the API refused (bad input, an unknown order).
    Rejected,
    /// 5xx: orderdesk or its database could not answer.
    Failed,
    /// Refused by a limit: the server's overload bound (503 busy), a rate limit (429) or a
    /// vendor's daily counter at its cap (409 `counter_exhausted`).
    Limited,
}

impl Outcome {
    /// The outcome of a call answered `status`; `limit_hit` when a limit refused it.
    pub fn of(status: u16, limit_hit: bool) -> Self {
        match status {
            _ if limit_hit || status == 429 => Self::Limited,
            0..400 => Self::Ok,
            400..500 => Self::Rejected,
            _ => Self::Failed,
        }
    }
}

/// Calls counted together: one key's in one minute, a day's, or one process's since its
/// last write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub calls: u64,
    pub ok: u64,
    pub rejected: u64,
    pub failed: u64,
    pub limited: u64,
    /// Calls per latency bucket ([`LATENCY_BOUNDS_MS`], then the slower).
    pub latency: [u64; BUCKETS],
    pub last_at: Option<DateTime<Utc>>,
    pub last_ok_at: Option<DateTime<Utc>>,
    /// The first and the last call that did not succeed (rejected, failed or limited).
    pub first_error_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The status of the last call that did not succeed.
    pub last_error_status: Option<u16>,
}

/// The latest of two optional times.
fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// The earliest of two optional times (`None` is no time, not the earliest).
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The bucket a call of `took` falls in.
pub fn bucket_of(took: std::time::Duration) -> usize {
    let ms = took.as_secs_f64() * 1000.0;
    LATENCY_BOUNDS_MS.iter().position(|&bound| ms <= f64::from(bound)).unwrap_or(LATENCY_BOUNDS_MS.len())
}

impl Tally {
    /// Counts one call.
    pub fn add(&mut self, outcome: Outcome, status: u16, at: DateTime<Utc>, took: std::time::Duration) {
        self.calls += 1;
        self.latency[bucket_of(took)] += 1;
        self.last_at = latest(self.last_at, Some(at));
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.last_ok_at = latest(self.last_ok_at, Some(at));
                return;
            }
            Outcome::Rejected => self.rejected += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Limited => self.limited += 1,
        }
        self.first_error_at = earliest(self.first_error_at, Some(at));
        if self.last_error_at.is_none_or(|last| at >= last) {
            self.last_error_at = Some(at);
            self.last_error_status = Some(status);
        }
    }

    /// Adds `other`'s calls to these.
    pub fn merge(&mut self, other: &Tally) {
        self.calls += other.calls;
        self.ok += other.ok;
        self.rejected += other.rejected;
        self.failed += other.failed;
        self.limited += other.limited;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
        self.last_at = latest(self.last_at, other.last_at);
        self.last_ok_at = latest(self.last_ok_at, other.last_ok_at);
        self.first_error_at = earliest(self.first_error_at, other.first_error_at);
        if other.last_error_at > self.last_error_at {
            self.last_error_at = other.last_error_at;
            self.last_error_status = other.last_error_status;
        }
    }

    /// Whether the latest call counted did not succeed.
    pub fn last_call_failed(&self) -> bool {
        self.last_error_at.is_some() && self.last_error_at > self.last_ok_at
    }

    /// Calls the API refused or could not answer (limit hits are counted apart).
    pub fn errors(&self) -> u64 {
        self.rejected + self.failed
    }

    /// The latency under which a share `q` (0.5 for p50) of the calls fell, to its bucket.
    pub fn percentile(&self, q: f64) -> Option<Latency> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        let index = self.latency.iter().position(|&n| {
            seen += n;
            seen >= rank
        })?;
        Some(Latency { at_most_ms: LATENCY_BOUNDS_MS.get(index).copied() })
    }
}

/// A percentile known to its bucket: at most `at_most_ms`, or slower than the last bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub at_most_ms: Option<u32>,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at_most_ms {
            Some(ms) => write!(f, "≤ {ms} ms"),
            None => write!(f, "> {} s", LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1] / 1000),
        }
    }
}

/// One key's calls in one minute, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteUsage {
    pub minute: DateTime<Utc>,
    pub tally: Tally,
}

/// The minute `at` falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap_or(at)
}

/// Whether the key's calls succeed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Health {
    /// No call in the period.
    Idle,
    /// Its last call succeeded.
    Working,
    /// Its last call did not succeed, nor any since `since`: the first failure after the last
    /// success (to the minute of that success, when both fell in one minute), or the first of
    /// the period when no call in it succeeded (`last_ok` is then `None`).
    Failing { since: DateTime<Utc>, last_ok: Option<DateTime<Utc>>, last_status: Option<u16> },
}

impl Health {
    /// From one key's minutes (any order).
    pub fn of(minutes: &[MinuteUsage]) -> Self {
        let mut all = Tally::default();
        for m in minutes {
            all.merge(&m.tally);
        }
        Self::given(&all, minutes)
    }

    /// [`Health::of`] when the minutes' sum, `all`, is already at hand.
    fn given(all: &Tally, minutes: &[MinuteUsage]) -> Self {
        if all.calls == 0 {
            return Self::Idle;
        }
        if !all.last_call_failed() {
            return Self::Working;
        }
        let last_ok = all.last_ok_at;
        let since = minutes
            .iter()
            .filter_map(|m| {
                let t = &m.tally;
                match last_ok {
                    None => t.first_error_at,
                    Some(ok) if t.first_error_at > Some(ok) => t.first_error_at,
                    // This minute's failures began before the last success and went on after it.
                    Some(ok) if t.last_error_at > Some(ok) => Some(ok),
                    Some(_) => None,
                }
            })
            .min();
        match since {
            Some(since) => Self::Failing { since, last_ok, last_status: all.last_error_status },
            None => Self::Working,
        }
    }
}

/// One hour of a key's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourUsage {
    pub hour: DateTime<Utc>,
    pub tally: Tally,
}

/// One key's last day, as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyUsage {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub totals: Tally,
    pub health: Health,
    /// The 25 hours from the one `since` falls in to the one `until` falls in (the first and
    /// the last partial), oldest first, hours without calls included.
    pub hours: Vec<HourUsage>,
}

impl KeyUsage {
    /// The day up to `now` from the key's minutes in it.
    pub fn of(minutes: &[MinuteUsage], now: DateTime<Utc>) -> Self {
        let since = now - DAY;
        let hour = |t: DateTime<Utc>| t.duration_trunc(Duration::hours(1)).unwrap_or(t);
        let first_hour = hour(since);
        let count = (hour(now) - first_hour).num_hours() + 1;
        let mut hours: Vec<HourUsage> =
            (0..count).map(|i| HourUsage { hour: first_hour + Duration::hours(i), tally: Tally::default() }).collect();
        let minutes: Vec<MinuteUsage> =
            minutes.iter().filter(|m| m.minute > since && m.minute <= now).cloned().collect();
        let mut totals = Tally::default();
        for m in &minutes {
            totals.merge(&m.tally);
            let index = (hour(m.minute) - first_hour).num_hours();
            if let Some(h) = usize::try_from(index).ok().and_then(|i| hours.get_mut(i)) {
                h.tally.merge(&m.tally);
            }
        }
        let health = Health::given(&totals, &minutes);
        Self { since: now - DAY, until: now, totals, health, hours }
    }
}

/// One key's day in a line, for the list of keys (its latency buckets are left empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageLine {
    pub key: String,
    pub totals: Tally,
}

/// The list of keys with each one's last day; `bootstrap` is the environment's key, when
/// one is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysOverview {
    pub keys: Vec<(ApiKeyInfo, Tally)>,
    pub bootstrap: Option<Tally>,
}

/// One key's page: the key (`None` for the bootstrap key) and its last day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyReport {
    pub key: Option<ApiKeyInfo>,
    pub usage: KeyUsage,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration as StdDuration;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn minute(s: &str, calls: &[(Outcome, u16, &str, u64)]) -> MinuteUsage {
        let mut tally = Tally::default();
        for &(outcome, status, time, ms) in calls {
            tally.add(outcome, status, at(time), StdDuration::from_millis(ms));
        }
        MinuteUsage { minute: at(s), tally }
    }

    #[test]
    fn statuses_read_as_outcomes() {
        assert_eq!(Outcome::of(200, false), Outcome::Ok);
        assert_eq!(Outcome::of(201, false), Outcome::Ok);
        assert_eq!(Outcome::of(400, false), Outcome::Rejected);
        assert_eq!(Outcome::of(404, false), Outcome::Rejected);
        assert_eq!(Outcome::of(429, false), Outcome::Limited);
        assert_eq!(Outcome::of(503, true), Outcome::Limited);
        assert_eq!(Outcome::of(503, false), Outcome::Failed);
        assert_eq!(Outcome::of(409, true), Outcome::Limited);
    }

    #[test]
    fn latencies_fall_in_their_buckets_and_percentiles_name_the_bucket() {
        assert_eq!(bucket_of(StdDuration::from_micros(300)), 0);
        assert_eq!(bucket_of(StdDuration::from_millis(1)), 0);
        assert_eq!(bucket_of(StdDuration::from_micros(1001)), 1);
        assert_eq!(bucket_of(StdDuration::from_millis(20)), 4);
        assert_eq!(bucket_of(StdDuration::from_secs(60)), BUCKETS - 1);
        let mut t = Tally::default();
        assert_eq!(t.percentile(0.5), None);
        let now = at("2026-12-01T10:00:00Z");
        for _ in 0..90 {
            t.add(Outcome::Ok, 200, now, StdDuration::from_millis(4));
        }
        for _ in 0..10 {
            t.add(Outcome::Ok, 200, now, StdDuration::from_millis(250));
        }
        assert_eq!(t.percentile(0.5), Some(Latency { at_most_ms: Some(5) }));
        assert_eq!(t.percentile(0.9), Some(Latency { at_most_ms: Some(5) }));
        assert_eq!(t.percentile(0.95), Some(Latency { at_most_ms: Some(300) }));
        t.add(Outcome::Failed, 504, now, StdDuration::from_secs(30));
        assert_eq!(t.percentile(1.0).unwrap().to_string(), "> 10 s");
        assert_eq!(t.percentile(0.5).unwrap().to_string(), "≤ 5 ms");
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_extreme_times() {
        let a = minute(
            "2026-12-01T10:00:00Z",
            &[(Outcome::Ok, 200, "2026-12-01T10:00:05Z", 3), (Outcome::Rejected, 400, "2026-12-01T10:00:10Z", 3)],
        );
        let b = minute(
            "2026-12-01T10:00:00Z",
            &[(Outcome::Failed, 503, "2026-12-01T10:00:02Z", 3), (Outcome::Limited, 503, "2026-12-01T10:00:40Z", 3)],
        );
        let mut t = a.tally.clone();
        t.merge(&b.tally);
        assert_eq!((t.calls, t.ok, t.rejected, t.failed, t.limited, t.errors()), (4, 1, 1, 1, 1, 2));
        assert_eq!(t.latency[2], 4);
        assert_eq!(t.first_error_at, Some(at("2026-12-01T10:00:02Z")));
        assert_eq!(t.last_error_at, Some(at("2026-12-01T10:00:40Z")));
        assert_eq!(t.last_error_status, Some(503));
        assert_eq!(t.last_at, Some(at("2026-12-01T10:00:40Z")));
        assert_eq!(t.last_ok_at, Some(at("2026-12-01T10:00:05Z")));
    }

    #[test]
    fn a_key_whose_last_call_succeeded_is_working() {
        assert_eq!(Health::of(&[]), Health::Idle);
        let m = [
            minute("2026-12-01T10:00:00Z", &[(Outcome::Failed, 500, "2026-12-01T10:00:05Z", 3)]),
            minute("2026-12-01T10:01:00Z", &[(Outcome::Ok, 200, "2026-12-01T10:01:05Z", 3)]),
        ];
        assert_eq!(Health::of(&m), Health::Working);
    }

    #[test]
    fn a_failing_key_is_failing_since_its_first_failure_after_the_last_success() {
        let m = [
            minute("2026-12-01T10:00:00Z", &[(Outcome::Ok, 200, "2026-12-01T10:00:05Z", 3)]),
            minute(
                "2026-12-01T10:07:00Z",
                &[(Outcome::Failed, 503, "2026-12-01T10:07:30Z", 3), (Outcome::Failed, 503, "2026-12-01T10:07:50Z", 3)],
            ),
            minute("2026-12-01T10:09:00Z", &[(Outcome::Rejected, 400, "2026-12-01T10:09:01Z", 3)]),
        ];
        assert_eq!(
            Health::of(&m),
            Health::Failing {
                since: at("2026-12-01T10:07:30Z"),
                last_ok: Some(at("2026-12-01T10:00:05Z")),
                last_status: Some(400),
            }
        );
        // No success at all: failing since the first failure seen.
        assert_eq!(
            Health::of(&m[1..]),
            Health::Failing { since: at("2026-12-01T10:07:30Z"), last_ok: None, last_status: Some(400) }
        );
        // Failures on both sides of the last success in one minute: since that success.
        let mixed = [minute(
            "2026-12-01T11:00:00Z",
            &[
                (Outcome::Failed, 500, "2026-12-01T11:00:01Z", 3),
                (Outcome::Ok, 200, "2026-12-01T11:00:20Z", 3),
                (Outcome::Failed, 500, "2026-12-01T11:00:40Z", 3),
            ],
        )];
        match Health::of(&mixed) {
            Health::Failing { since, .. } => assert_eq!(since, at("2026-12-01T11:00:20Z")),
            other => panic!("expected failing, got {other:?}"),
        }
    }

    #[test]
    fn a_day_is_its_hours_with_every_minute_in_its_hour() {
        let now = at("2026-12-01T10:30:00Z");
        let m = [
            minute("2026-11-30T10:20:00Z", &[(Outcome::Ok, 200, "2026-11-30T10:20:01Z", 3)]),
            minute("2026-11-30T11:05:00Z", &[(Outcome::Ok, 200, "2026-11-30T11:05:01Z", 3)]),
            minute(
                "2026-12-01T10:29:00Z",
                &[(Outcome::Ok, 200, "2026-12-01T10:29:01Z", 3), (Outcome::Rejected, 404, "2026-12-01T10:29:02Z", 3)],
            ),
        ];
        let day = KeyUsage::of(&m, now);
        assert_eq!(day.hours.len(), 25, "10:30 to 10:30: the first and the last hour are partial");
        assert_eq!(day.hours[0].hour, at("2026-11-30T10:00:00Z"));
        assert_eq!(day.totals.calls, 3, "the minute older than a day is left out");
        assert_eq!(day.hours[0].tally.calls, 0);
        assert_eq!(day.hours[1].tally.calls, 1);
        assert_eq!(day.hours[24].tally.calls, 2);
        assert_eq!(day.hours[24].tally.errors(), 1);
        assert_eq!(day.hours.iter().map(|h| h.tally.calls).sum::<u64>(), 3);
        // On the hour too: the first hour is all but its first minute, the last only that one.
        assert_eq!(KeyUsage::of(&m, at("2026-12-01T10:00:00Z")).hours.len(), 25);
    }
}
