//! Assembles the counters page: reads through the store, judges with `counter_health`.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{
    counter_health::{CountersView, judge},
    storage::{StorageError, Store},
};

/// Counters listed per day at most (vendors with a counter that day).
const MAX_COUNTERS: i64 = 5_000;

/// The start of `day` in `tz`, as UTC (the earliest instant if the zone skips midnight).
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or_else(|| midnight.and_utc())
}

pub fn day_end(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    day_start(tz, day.succ_opt().unwrap_or(day))
}

/// Today's counter for every vendor that has one, with its warnings.
pub async fn counters_today(store: &Store, tz: Tz, now: DateTime<Utc>) -> Result<CountersView, StorageError> {
    let day = now.with_timezone(&tz).date_naive();
    let counters = store.counters_with_prefix(&format!("{}-", day.format("%Y%m%d")), MAX_COUNTERS).await?;
    let vendors: Vec<String> =
        counters.iter().filter_map(|c| c.counter_id.split_once('-').map(|(_, v)| v.to_owned())).collect();
    let (start, end) = (day_start(tz, day), day_end(tz, day));
    let per_day = store.numbered_orders_by_vendor(&vendors, start, end, true).await?;
    let last_hour =
        store.numbered_orders_by_vendor(&vendors, now - Duration::hours(1), now + Duration::seconds(1), false).await?;
    let rows = counters
        .iter()
        .map(|c| {
            let vendor = c.counter_id.split_once('-').map(|(_, v)| v).unwrap_or("");
            let orders = per_day.get(vendor).copied().unwrap_or(0);
            let hour = last_hour.get(vendor).copied().unwrap_or(0);
            judge(&c.counter_id, c.sequence, c.last_updated, orders, hour, |d| day_end(tz, d))
        })
        .collect();
    let malformed = store
        .malformed_counters()
        .await?
        .iter()
        .map(|c| judge(&c.counter_id, c.sequence, c.last_updated, c.sequence, 0, |d| day_end(tz, d)))
        .collect();
    Ok(CountersView { day, time_zone: tz.name().to_owned(), rows, malformed })
}

/// One vendor's last 30 days: (day, counter sequence, numbered orders that day).
pub async fn vendor_history(
    store: &Store,
    tz: Tz,
    vendor: &crate::ids::VendorId,
    now: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, u64, u64)>, StorageError> {
    let today = now.with_timezone(&tz).date_naive();
    let days: Vec<NaiveDate> =
        (0..30).rev().filter_map(|back| today.checked_sub_days(chrono::Days::new(back))).collect();
    let ids: Vec<String> = days.iter().map(|d| format!("{}-{vendor}", d.format("%Y%m%d"))).collect();
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
