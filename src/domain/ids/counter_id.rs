//! The marketplace's counter keys: `YYYYMMDD-vendorId` for a vendor's day, and
//! `YYYYMMDDTHHMM-vendorId` for one time bucket of it (the time-based numbers' counters; the
//! bucket starts at HH:MM in the configured zone, its length is a setting).

use std::fmt;

use chrono::{NaiveDate, NaiveTime, Timelike};

use super::{ParseError, VendorId, check_len, preview, text_serde};

/// One vendor's counter for one day. A new day is a new counter, which is how the
/// marketplace "resets" its numbering at midnight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterId {
    pub day: NaiveDate,
    /// Where the time bucket starts, for a time-based counter; `None` for the daily one.
    pub bucket: Option<NaiveTime>,
    pub vendor: VendorId,
}

impl CounterId {
    pub fn new(day: NaiveDate, vendor: VendorId) -> Self {
        Self { day, bucket: None, vendor }
    }

    /// The counter of the time bucket starting at `start` (its seconds are dropped).
    pub fn bucket(day: NaiveDate, start: NaiveTime, vendor: VendorId) -> Self {
        let start = NaiveTime::from_hms_opt(start.hour(), start.minute(), 0).unwrap_or(start);
        Self { day, bucket: Some(start), vendor }
    }

    /// The counter a number of `variant` drawn at `local` counts on: the vendor's day, or
    /// for time-based numbers the `bucket_minutes` bucket of that day it falls in.
    pub fn for_number<Z: chrono::TimeZone>(
        vendor: &VendorId,
        variant: super::BbVariant,
        local: chrono::DateTime<Z>,
        bucket_minutes: u32,
    ) -> Self {
        if variant.daily() {
            return Self::new(local.date_naive(), vendor.clone());
        }
        let bucket = bucket_minutes.clamp(1, 1440);
        let minute = (local.hour() * 60 + local.minute()) / bucket * bucket;
        let start = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or(NaiveTime::MIN);
        Self::bucket(local.date_naive(), start, vendor.clone())
    }

    /// The instants the counter counts in: its day in `tz`, or its bucket of `bucket_minutes`.
    pub fn span<Z: chrono::TimeZone>(
        &self,
        tz: &Z,
        bucket_minutes: u32,
    ) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        use crate::domain::days;
        match self.bucket {
            None => (days::day_start(tz, self.day), days::day_end(tz, self.day)),
            Some(from) => {
                let start = days::local_instant(tz, self.day.and_time(from));
                (start, start + chrono::Duration::minutes(i64::from(bucket_minutes.clamp(1, 1440))))
            }
        }
    }

    /// What every counter id of `day`, daily or time bucket, begins with (`YYYYMMDD`).
    pub fn any_of_day_prefix(day: NaiveDate) -> String {
        day.format("%Y%m%d").to_string()
    }

    /// What every time-bucket counter id of `day` begins with (`YYYYMMDDT`).
    pub fn bucket_prefix(day: NaiveDate) -> String {
        format!("{}T", day.format("%Y%m%d"))
    }

    /// What every counter id of `day` begins with (`YYYYMMDD-`), for a prefix query.
    pub fn day_prefix(day: NaiveDate) -> String {
        format!("{}-", day.format("%Y%m%d"))
    }

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "a counter id")?;
        let (day, vendor) = input.split_once('-').ok_or_else(|| {
            ParseError::new(format!("{} is not a counter id: expected YYYYMMDD-vendorId", preview(input)))
        })?;
        let (day, bucket) = match day.split_once('T') {
            Some((day, hhmm)) => {
                let start = (hhmm.len() == 4 && hhmm.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| NaiveTime::parse_from_str(hhmm, "%H%M").ok())
                    .flatten()
                    .ok_or_else(|| {
                        ParseError::new(format!(
                            "{}: a time bucket is written THHMM after the date, e.g. 20241201T1400-vendor",
                            preview(input)
                        ))
                    })?;
                (day, Some(start))
            }
            None => (day, None),
        };
        if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(format!(
                "{} is not a counter id: it must start with 8 digits YYYYMMDD",
                preview(input)
            )));
        }
        let day = NaiveDate::parse_from_str(day, "%Y%m%d")
            .map_err(|_| ParseError::new(format!("{}: {day} is not a real date", preview(input))))?;
        Ok(Self { day, bucket, vendor: VendorId::parse(vendor)? })
    }
}

impl fmt::Display for CounterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.day.format("%Y%m%d"))?;
        if let Some(start) = self.bucket {
            write!(f, "T{}", start.format("%H%M"))?;
        }
        write!(f, "-{}", self.vendor)
    }
}

text_serde!(CounterId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example() {
        let id = CounterId::parse("20241201-6834622e10d75a5ba7b7740d").unwrap();
        assert_eq!(id.day, NaiveDate::from_ymd_opt(2024, 12, 1).unwrap());
        assert_eq!(id.vendor.as_str(), "6834622e10d75a5ba7b7740d");
        assert_eq!(id.to_string(), "20241201-6834622e10d75a5ba7b7740d");
    }

    #[test]
    fn vendor_ids_may_hold_dashes() {
        let id = CounterId::parse("20241201-pizza-palace").unwrap();
        assert_eq!(id.vendor.as_str(), "pizza-palace");
    }

    #[test]
    fn rejects_bad_days_and_vendors() {
        for bad in [
            "20241301-v1",
            "2024120-v1",
            "20241201-",
            "20241201",
            "x-v1",
            "20241201-a b",
            "20241201T2500-v1",
            "20241201T14-v1",
            "20241201T-v1",
        ] {
            assert!(CounterId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_buckets_round_trip() {
        let id = CounterId::parse("20241201T1430-pizza-palace").unwrap();
        assert_eq!(id.bucket, NaiveTime::from_hms_opt(14, 30, 0));
        assert_eq!(id.vendor.as_str(), "pizza-palace");
        assert_eq!(id.to_string(), "20241201T1430-pizza-palace");
        assert!(id.to_string().starts_with(&CounterId::bucket_prefix(id.day)));
        assert!(!id.to_string().starts_with(&CounterId::day_prefix(id.day)), "the daily list leaves buckets out");
    }
}
