//! Days in a time zone as instants: where a day starts and ends, for the counters, the
//! failure figures, the order list's dates and the audit log's, all in the configured zone.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The first instant of `day` in `tz`, as UTC. Where the clocks jump at midnight (America/
/// Santiago, Asia/Beirut, Africa/Cairo and others on their DST days) local midnight does not
/// exist, and the day starts at the jump: the first second whose local date is `day`.
pub fn day_start<Z: TimeZone>(tz: &Z, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    if let Some(t) = tz.from_local_datetime(&midnight).earliest() {
        return t.with_timezone(&Utc);
    }
    // No zone is more than a day off UTC: the start lies within a day of UTC midnight.
    // Search for the first second of `day`, local time (the local date only grows with time).
    // Whole seconds: zone transitions fall on them.
    let utc_midnight = midnight.and_utc().timestamp();
    let day_of = |secs: i64| DateTime::from_timestamp(secs, 0).map(|t| t.with_timezone(tz).date_naive());
    let (mut before, mut at) = (utc_midnight - 26 * 3600, utc_midnight + 26 * 3600);
    while at - before > 1 {
        let mid = before + (at - before) / 2;
        if day_of(mid).is_some_and(|d| d >= day) {
            at = mid;
        } else {
            before = mid;
        }
    }
    DateTime::from_timestamp(at, 0).unwrap_or_else(|| midnight.and_utc())
}

/// The instant a local time names in `tz`; one the clocks skip over reads as the first
/// instant after it (the day's start plus the local time, counted from midnight).
pub fn local_instant<Z: TimeZone>(tz: &Z, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => day_start(tz, local.date()) + (local.time() - chrono::NaiveTime::MIN),
    }
}

/// The first instant after `day` in `tz`.
pub fn day_end<Z: TimeZone>(tz: &Z, day: NaiveDate) -> DateTime<Utc> {
    day_start(tz, day.succ_opt().unwrap_or(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn a_fixed_zone_starts_its_day_at_its_midnight() {
        let tz = FixedOffset::east_opt(-3 * 3600).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        assert_eq!(day_start(&tz, day).to_rfc3339(), "2026-09-06T03:00:00+00:00");
        assert_eq!(day_end(&tz, day).to_rfc3339(), "2026-09-07T03:00:00+00:00");
        assert_eq!(day_start(&Utc, day).to_rfc3339(), "2026-09-06T00:00:00+00:00");
    }
}
