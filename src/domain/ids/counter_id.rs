//! The marketplace's daily counter key `YYYYMMDD-vendorId`.

use std::fmt;

use chrono::NaiveDate;

use super::{ParseError, VendorId, check_len, preview, text_serde};

/// One vendor's counter for one day. A new day is a new counter, which is how the
/// marketplace "resets" its numbering at midnight.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterId {
    pub day: NaiveDate,
    pub vendor: VendorId,
}

impl CounterId {
    pub fn new(day: NaiveDate, vendor: VendorId) -> Self {
        Self { day, vendor }
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
        if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(format!(
                "{} is not a counter id: it must start with 8 digits YYYYMMDD",
                preview(input)
            )));
        }
        let day = NaiveDate::parse_from_str(day, "%Y%m%d")
            .map_err(|_| ParseError::new(format!("{}: {day} is not a real date", preview(input))))?;
        Ok(Self { day, vendor: VendorId::parse(vendor)? })
    }
}

impl fmt::Display for CounterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.day.format("%Y%m%d"), self.vendor)
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
        for bad in ["20241301-v1", "2024120-v1", "20241201-", "20241201", "x-v1", "20241201-a b"] {
            assert!(CounterId::parse(bad).is_err(), "{bad}");
        }
    }
}
