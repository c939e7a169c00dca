//! Whether a vendor's daily counter is healthy, decided from what the marketplace stored
//! (`counterId`, `sequence`, `lastUpdated`) and what the orders say. Free of database types:
//! storage reads, this judges, the page shows.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{CounterId, MAX_DAILY_SEQUENCE};

/// A counter at or above this share of the daily cap gets a warning.
pub const NEAR_CAP_SHARE: f64 = 0.8;

/// What is wrong with a counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CounterWarning {
    /// At or above 80% of the 99,999 numbers of a day.
    NearCap { share: f64 },
    /// More numbers issued than orders hold (gaps: numbers lost, or segment blocks unused).
    Gaps { sequence: u64, orders: u64 },
    /// More orders hold this counter's numbers than it issued (duplicates, or numbers made
    /// elsewhere).
    MoreOrdersThanNumbers { sequence: u64, orders: u64 },
    /// Written after its day ended, in the configured time zone.
    UpdatedAfterDayEnded { last_updated: DateTime<Utc>, day_ended: DateTime<Utc> },
    /// The `counterId` is not `YYYYMMDD-vendorId`.
    Unparseable { reason: String },
}

impl CounterWarning {
    /// A short line for the page.
    pub fn describe(&self) -> String {
        match self {
            Self::NearCap { share } => format!("{:.0}% of the daily cap of 99,999", share * 100.0),
            Self::Gaps { sequence, orders } => {
                format!("{} numbers issued but {} orders hold them ({} gaps)", sequence, orders, sequence - orders)
            }
            Self::MoreOrdersThanNumbers { sequence, orders } => {
                format!("{orders} orders hold its numbers but only {sequence} were issued (duplicates?)")
            }
            Self::UpdatedAfterDayEnded { last_updated, day_ended } => {
                format!(
                    "updated {} after its day ended at {}",
                    last_updated.format("%Y-%m-%d %H:%M"),
                    day_ended.format("%Y-%m-%d %H:%M")
                )
            }
            Self::Unparseable { reason } => format!("counterId does not parse: {reason}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::NearCap { .. } => "near-cap",
            Self::Gaps { .. } => "gaps",
            Self::MoreOrdersThanNumbers { .. } => "more-orders",
            Self::UpdatedAfterDayEnded { .. } => "late-update",
            Self::Unparseable { .. } => "unparseable",
        }
    }
}

/// One counter with what the orders say about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterRow {
    pub counter_id: String,
    pub vendor: Option<String>,
    pub day: Option<NaiveDate>,
    pub sequence: u64,
    pub last_updated: Option<DateTime<Utc>>,
    /// Orders holding a number of this counter.
    pub orders: u64,
    /// The vendor's orders created in the last hour.
    pub orders_last_hour: u64,
    pub warnings: Vec<CounterWarning>,
}

impl CounterRow {
    pub fn share(&self) -> f64 {
        self.sequence as f64 / f64::from(MAX_DAILY_SEQUENCE)
    }
}

/// The counters page: today's counters and the malformed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountersView {
    pub day: NaiveDate,
    pub time_zone: String,
    pub rows: Vec<CounterRow>,
    /// Counters whose `counterId` does not parse, from any day.
    pub malformed: Vec<CounterRow>,
}

/// Judges one counter. `day_end` gives the end of a day in the configured time zone.
pub fn judge(
    counter_id: &str,
    sequence: u64,
    last_updated: Option<DateTime<Utc>>,
    orders: u64,
    orders_last_hour: u64,
    day_end: impl Fn(NaiveDate) -> DateTime<Utc>,
) -> CounterRow {
    let parsed = CounterId::parse(counter_id);
    let mut warnings = Vec::new();
    let share = sequence as f64 / f64::from(MAX_DAILY_SEQUENCE);
    if share >= NEAR_CAP_SHARE {
        warnings.push(CounterWarning::NearCap { share });
    }
    if sequence > orders {
        warnings.push(CounterWarning::Gaps { sequence, orders });
    } else if orders > sequence {
        warnings.push(CounterWarning::MoreOrdersThanNumbers { sequence, orders });
    }
    match &parsed {
        Ok(id) => {
            let ended = day_end(id.day);
            if let Some(at) = last_updated
                && at >= ended
            {
                warnings.push(CounterWarning::UpdatedAfterDayEnded { last_updated: at, day_ended: ended });
            }
        }
        Err(e) => warnings.push(CounterWarning::Unparseable { reason: e.message().to_owned() }),
    }
    CounterRow {
        counter_id: counter_id.to_owned(),
        vendor: parsed.as_ref().ok().map(|c| c.vendor.to_string()),
        day: parsed.as_ref().ok().map(|c| c.day),
        sequence,
        last_updated,
        orders,
        orders_last_hour,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn end_utc(d: NaiveDate) -> DateTime<Utc> {
        d.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
    }

    fn kinds(row: &CounterRow) -> Vec<&'static str> {
        row.warnings.iter().map(CounterWarning::kind).collect()
    }

    #[test]
    fn each_warning_fires_exactly_at_its_edge() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        assert!(kinds(&judge("20261121-pizza", 79_999, Some(at), 79_999, 0, end_utc)).is_empty(), "just under 80%");
        assert_eq!(kinds(&judge("20261121-pizza", 80_000, Some(at), 80_000, 0, end_utc)), ["near-cap"]);
        assert_eq!(kinds(&judge("20261121-pizza", 10, Some(at), 9, 0, end_utc)), ["gaps"]);
        assert_eq!(kinds(&judge("20261121-pizza", 10, Some(at), 11, 0, end_utc)), ["more-orders"]);
        let midnight = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        let just_before = midnight - chrono::Duration::milliseconds(1);
        assert!(kinds(&judge("20261121-pizza", 5, Some(just_before), 5, 0, end_utc)).is_empty());
        assert_eq!(kinds(&judge("20261121-pizza", 5, Some(midnight), 5, 0, end_utc)), ["late-update"]);
        assert_eq!(kinds(&judge("2026-11-21-pizza", 5, Some(at), 5, 0, end_utc)), ["unparseable"]);
        assert_eq!(kinds(&judge("20261131-pizza", 5, Some(at), 5, 0, end_utc)), ["unparseable"], "no 31 November");
    }

    #[test]
    fn describes_in_words() {
        let row = judge("20261121-pizza", 90_000, None, 89_000, 3, end_utc);
        assert_eq!(row.vendor.as_deref(), Some("pizza"));
        let lines: Vec<String> = row.warnings.iter().map(CounterWarning::describe).collect();
        assert_eq!(
            lines,
            ["90% of the daily cap of 99,999", "90000 numbers issued but 89000 orders hold them (1000 gaps)"]
        );
    }
}
