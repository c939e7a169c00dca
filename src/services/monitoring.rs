//! Assembles the monitoring pages: reads through the store, judges with `counter_health`,
//! and decides which days of the failures report to recompute.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::{
    domain::counters::{CountersView, DayShape, UsualDay, judge, time_based_rows},
    domain::failures::{DayFigures, FailureReport, OLDER_FIGURES_MAX_AGE, RECENT_FIGURES_MAX_AGE},
    domain::ids::CounterId,
    storage::{StorageError, Store},
};

/// Counters listed per day at most (vendors with a counter that day).
const MAX_COUNTERS: i64 = 5_000;

/// The first instant of `day` in `tz` (see [`crate::domain::days::day_start`]).
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    crate::domain::days::day_start(&tz, day)
}

pub fn day_end(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    crate::domain::days::day_end(&tz, day)
}

/// Today's counter for every vendor that has one, with its warnings, and the time-based
/// counters summed per vendor.
pub async fn counters_today(
    store: &Store,
    shapes: &DayShapes,
    tz: Tz,
    time_bucket_minutes: u32,
    now: DateTime<Utc>,
) -> Result<CountersView, StorageError> {
    let day = now.with_timezone(&tz).date_naive();
    // The highest sequences first, then the limit: made-up vendors cannot push real ones off.
    let mut counters = store.counters_with_prefix(&CounterId::day_prefix(day), MAX_COUNTERS + 1).await?;
    let cut_at = (counters.len() as i64 > MAX_COUNTERS).then(|| {
        counters.truncate(MAX_COUNTERS as usize);
        MAX_COUNTERS as u64
    });
    // The prefix query found them, so each parses; one that does not counts no orders.
    let vendor_of = |id: &str| CounterId::parse(id).map(|c| c.vendor.as_str().to_owned()).unwrap_or_default();
    let vendors: Vec<String> = counters.iter().map(|c| vendor_of(&c.counter_id)).filter(|v| !v.is_empty()).collect();
    let (start, end) = (day_start(tz, day), day_end(tz, day));
    let per_day = store.numbered_orders_by_vendor(&vendors, start, end, true).await?;
    let last_hour =
        store.numbered_orders_by_vendor(&vendors, now - Duration::hours(1), now + Duration::seconds(1), false).await?;
    let shapes = shapes.get(store, tz, day).await;
    let hour_of = |t: DateTime<Utc>| t.with_timezone(&tz).hour();
    let rows = counters
        .iter()
        .map(|c| {
            let vendor = vendor_of(&c.counter_id);
            let orders = per_day.get(&vendor).copied().unwrap_or(0);
            let hour = last_hour.get(&vendor).copied().unwrap_or(0);
            let shape = shapes.get(&vendor).map(|shape| UsualDay { shape, hour_of: &hour_of });
            judge(&c.counter_id, c.sequence, c.last_updated, orders, hour, |d| day_end(tz, d)).with_forecast(
                (start, end),
                now,
                shape,
            )
        })
        .collect();
    let malformed = store
        .malformed_counters()
        .await?
        .iter()
        .map(|c| judge(&c.counter_id, c.sequence, c.last_updated, c.sequence, 0, |d| day_end(tz, d)))
        .collect();
    let buckets = store.counters_with_prefix(&CounterId::bucket_prefix(day), MAX_COUNTERS).await?;
    let time_based = time_based_rows(buckets.iter().map(|c| (c.counter_id.as_str(), c.sequence, c.last_updated)));
    Ok(CountersView { day, time_zone: tz.name().to_owned(), rows, time_based, time_bucket_minutes, malformed, cut_at })
}

/// How long a vendor's learned day shape is used before it is counted again.
const SHAPES_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// How soon a count that failed is tried again.
const SHAPES_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

type Shapes = std::sync::Arc<std::collections::HashMap<String, DayShape>>;

/// Each vendor's usual day (from the numbered orders of the 14 days before a day), counted at
/// most every 10 minutes per zone and day: it changes with the day, not by the minute, and
/// the live counters page asks on every change. One per process, in its state. Without it
/// (the database did not answer) the forecast is flat.
#[derive(Debug, Default)]
pub struct DayShapes {
    counted: std::sync::Mutex<std::collections::HashMap<(Tz, NaiveDate), (std::time::Instant, Shapes)>>,
}

impl DayShapes {
    async fn get(&self, store: &Store, tz: Tz, day: NaiveDate) -> Shapes {
        let key = (tz, day);
        let cached = self
            .counted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .filter(|(at, _)| at.elapsed() < SHAPES_FOR)
            .map(|(_, s)| s.clone());
        if let Some(shapes) = cached {
            return shapes;
        }
        let from = day_start(tz, day - Duration::days(DayShape::HISTORY_DAYS));
        let now = std::time::Instant::now();
        let (shapes, counted_at): (Shapes, _) = match store
            .numbered_orders_by_vendor_hour(from, day_start(tz, day), tz.name())
            .await
        {
            Ok(counts) => (
                std::sync::Arc::new(
                    counts.into_iter().filter_map(|(v, c)| DayShape::from_counts(c).map(|s| (v, s))).collect(),
                ),
                now,
            ),
            Err(e) => {
                // Flat for a minute, not at every page load: a count that timed out would
                // otherwise cost every page its timeout.
                tracing::warn!(error = %e, "could not learn the vendors' usual day; the forecast is flat for a minute");
                (Shapes::default(), now.checked_sub(SHAPES_FOR - SHAPES_RETRY).unwrap_or(now))
            }
        };
        let mut counted = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        counted.retain(|_, (at, _)| at.elapsed() < SHAPES_FOR);
        counted.insert(key, (counted_at, shapes.clone()));
        shapes
    }
}

/// One vendor-day's numbers: issued by its counter against held by its orders, the gaps
/// classified. `None` when there is no such counter.
pub async fn counter_forensics(
    store: &Store,
    tz: Tz,
    counter: &CounterId,
    segment_block: Option<u32>,
    time_bucket_minutes: u32,
) -> Result<Option<crate::domain::counters::Forensics>, StorageError> {
    let id = counter.to_string();
    let Some(raw) = store.counters_by_id(std::slice::from_ref(&id)).await?.into_iter().next() else {
        return Ok(None);
    };
    use crate::domain::ids::{BbNumber, BbStamp};
    // A daily counter issues the ultra and year-based numbers of its day; a time bucket's, the
    // time-based numbers stamped inside it (the allocator never stamps one past its bucket).
    let (start, end) = counter.span(&tz, time_bucket_minutes);
    let issued_here = |n: &BbNumber| match (n.stamp, counter.bucket) {
        (BbStamp::Seconds(s), Some(_)) => {
            (start.timestamp()..end.timestamp()).contains(&i64::try_from(s).unwrap_or(i64::MAX))
        }
        (BbStamp::Seconds(_), None) | (_, Some(_)) => false,
        (_, None) => true,
    };
    // Orders are read by their creation time, a little past the bucket: one stored late.
    let held: Vec<u32> = store
        .numbers_held(counter.vendor.as_str(), start, end + Duration::minutes(1))
        .await?
        .iter()
        .filter_map(|n| BbNumber::parse(n).ok().filter(issued_here).map(|n| n.sequence))
        .collect();
    let issued = u32::try_from(raw.sequence).unwrap_or(u32::MAX);
    Ok(Some(crate::domain::counters::forensics(&id, issued, held, segment_block)))
}

/// One vendor's last 30 days: (day, counter sequence, numbered orders that day).
pub async fn vendor_history(
    store: &Store,
    tz: Tz,
    vendor: &crate::domain::ids::VendorId,
    now: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, u64, u64)>, StorageError> {
    let today = now.with_timezone(&tz).date_naive();
    let days: Vec<NaiveDate> =
        (0..30).rev().filter_map(|back| today.checked_sub_days(chrono::Days::new(back))).collect();
    let ids: Vec<String> = days.iter().map(|d| CounterId::new(*d, vendor.clone()).to_string()).collect();
    let counters = store.counters_by_id(&ids).await?;
    let first = days.first().copied().unwrap_or(today);
    let orders =
        store.vendor_orders_per_day(vendor.as_str(), day_start(tz, first), day_end(tz, today), tz.name()).await?;
    Ok(days
        .iter()
        .zip(&ids)
        .map(|(day, id)| {
            let sequence = counters.iter().find(|c| &c.counter_id == id).map(|c| c.sequence).unwrap_or(0);
            let key = day.format("%Y%m%d").to_string();
            (*day, sequence, orders.get(&key).copied().unwrap_or(0))
        })
        .collect())
}

/// One background recomputation at a time per process.
static RECOMPUTING: AtomicBool = AtomicBool::new(false);

/// Consecutive days grouped into runs, so each run is one pass over its orders.
fn runs(days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(d) => *last = d,
            _ => out.push((d, d)),
        }
    }
    out
}

async fn compute(
    store: &Store,
    tz: Tz,
    days: &[NaiveDate],
    now: DateTime<Utc>,
) -> Result<Vec<DayFigures>, StorageError> {
    let mut out = Vec::new();
    for (first, last) in runs(days) {
        let span = (day_start(tz, first), day_end(tz, last));
        out.extend(store.compute_day_figures(tz.name(), (first, last), span, now).await?);
    }
    Ok(out)
}

/// Failure rates over the last `days` days in `tz` (today included), summed from per-day
/// figures: missing days and stale recent days are computed first, stale older days are
/// served as they are and recomputed in the background.
pub async fn failure_report(
    store: &Store,
    tz: Tz,
    now: DateTime<Utc>,
    days: u32,
) -> Result<FailureReport, StorageError> {
    let today = now.with_timezone(&tz).date_naive();
    let wanted: Vec<NaiveDate> =
        (0..days).rev().filter_map(|back| today.checked_sub_days(chrono::Days::new(u64::from(back)))).collect();
    let mut stored: BTreeMap<NaiveDate, (DayFigures, DateTime<Utc>)> = store
        .stored_day_figures(tz.name(), &wanted)
        .await?
        .into_iter()
        .map(|s| (s.figures.day, (s.figures, s.built_at)))
        .collect();
    let (mut now_due, mut later_due) = (Vec::new(), Vec::new());
    for day in &wanted {
        let recent = *day + Duration::days(1) >= today;
        match stored.get(day) {
            None => now_due.push(*day),
            Some((_, built)) if recent && now - *built > RECENT_FIGURES_MAX_AGE => now_due.push(*day),
            Some((_, built)) if now - *built > OLDER_FIGURES_MAX_AGE => later_due.push(*day),
            Some(_) => {}
        }
    }
    for f in compute(store, tz, &now_due, now).await? {
        stored.insert(f.day, (f, now));
    }
    if !later_due.is_empty() && !RECOMPUTING.swap(true, Ordering::AcqRel) {
        let store = store.clone();
        /// Lowers the flag however the task ends, a panic included.
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                RECOMPUTING.store(false, Ordering::Release);
            }
        }
        tokio::spawn(async move {
            let _done = Done;
            if let Err(e) = compute(&store, tz, &later_due, Utc::now()).await {
                tracing::warn!(error = %e, "recomputing failure figures in the background failed; the next report retries");
            }
        });
    }
    let as_of = stored.values().map(|(_, built)| *built).min();
    let figures: Vec<DayFigures> = stored.into_values().map(|(f, _)| f).collect();
    Ok(FailureReport::from_days(days, &figures, as_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_days_form_one_run() {
        let d = |n| NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        assert_eq!(runs(&[d(1), d(2), d(3), d(5), d(7), d(8)]), [(d(1), d(3)), (d(5), d(5)), (d(7), d(8))]);
        assert!(runs(&[]).is_empty());
    }

    /// Every day of 2025–2027 in the zones whose clocks jump at midnight starts at its first
    /// local second: the instant before it is still the day before. The old fallback (UTC
    /// midnight) was 3 to 4 hours off on those days.
    #[test]
    fn days_start_at_their_first_instant_even_where_midnight_is_skipped() {
        use chrono::{Datelike, TimeZone};
        let zones: [Tz; 5] = [
            chrono_tz::America::Santiago,
            chrono_tz::America::Havana,
            chrono_tz::Asia::Beirut,
            chrono_tz::Africa::Cairo,
            chrono_tz::Europe::Berlin,
        ];
        for tz in zones {
            let mut skipped = 0;
            let mut day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
            while day.year() < 2028 {
                let start = day_start(tz, day);
                assert_eq!(start.with_timezone(&tz).date_naive(), day, "{tz} {day}");
                let before = (start - Duration::seconds(1)).with_timezone(&tz).date_naive();
                assert!(before < day, "{tz} {day}: {start} is not the first second");
                if tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap()).earliest().is_none() {
                    skipped += 1;
                    assert_eq!(
                        start.with_timezone(&tz).time(),
                        chrono::NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
                        "{tz} {day}"
                    );
                    assert_ne!(start, day.and_hms_opt(0, 0, 0).unwrap().and_utc(), "not UTC midnight");
                }
                day = day.succ_opt().unwrap();
            }
            let expected = if tz == chrono_tz::Europe::Berlin { 0 } else { 1 };
            assert!(skipped >= expected, "{tz}: {skipped} days without a midnight in 2025-2027");
        }
    }
}
