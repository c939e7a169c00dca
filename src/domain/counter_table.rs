//! The counters page's table of today's counters: its order, its filter, the two vendors "at
//! a glance", and the rows one page shows. Worked out on the server, so that a day of 5,000
//! vendors sends the browser the rows it shows, not all 5,000 (BENCHMARKS.md, "The counters
//! page as vendors grow").

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::counters::{CounterRow, CountersView, TimeBasedRow};

/// How many rows the table shows until "Show all" is asked for.
pub const ROWS_SHOWN: usize = 100;

/// The table's order (`?sort=`). Anything else reads as the default: nearest the cap first,
/// what an admin acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CounterSort {
    #[default]
    Cap,
    Vendor,
    Updated,
    Hour,
    Warnings,
    Share,
}

impl CounterSort {
    pub fn from_query(s: &str) -> Self {
        match s {
            "vendor" => Self::Vendor,
            "updated" => Self::Updated,
            "hour" => Self::Hour,
            "warnings" => Self::Warnings,
            "share" => Self::Share,
            _ => Self::Cap,
        }
    }

    pub fn as_query(self) -> &'static str {
        match self {
            Self::Cap => "cap",
            Self::Vendor => "vendor",
            Self::Updated => "updated",
            Self::Hour => "hour",
            Self::Warnings => "warnings",
            Self::Share => "share",
        }
    }

    fn sort(self, rows: &mut [CounterRow]) {
        match self {
            Self::Vendor => rows.sort_by(|a, b| a.counter_id.cmp(&b.counter_id)),
            Self::Updated => rows.sort_by_key(|r| std::cmp::Reverse(r.last_updated)),
            Self::Hour => rows.sort_by_key(|r| std::cmp::Reverse(r.orders_last_hour)),
            Self::Warnings => {
                rows.sort_by(|a, b| b.warnings.len().cmp(&a.warnings.len()).then(b.sequence.cmp(&a.sequence)))
            }
            Self::Share => rows.sort_by(|a, b| b.sequence.cmp(&a.sequence).then(a.counter_id.cmp(&b.counter_id))),
            Self::Cap => {
                rows.sort_by(|a, b| hours_to_cap(a).total_cmp(&hours_to_cap(b)).then(b.sequence.cmp(&a.sequence)))
            }
        }
    }
}

pub fn hours_to_cap(row: &CounterRow) -> f64 {
    row.forecast.as_ref().map_or(f64::INFINITY, |f| f.hours_to_cap)
}

/// What the counters page shows of a day: figures over all its counters, and the first rows
/// of those the filter keeps, in the asked order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterTable {
    pub day: NaiveDate,
    pub time_zone: String,
    /// Counters today, and how many of them carry a warning.
    pub total: usize,
    pub warned: usize,
    /// The busiest vendor in the last hour.
    pub busiest: Option<CounterRow>,
    /// The vendor whose counter reaches the cap soonest.
    pub nearest: Option<CounterRow>,
    /// Counters the filter keeps; `rows` holds the first of them.
    pub matching: usize,
    pub rows: Vec<CounterRow>,
    pub time_based: Vec<TimeBasedRow>,
    pub time_bucket_minutes: u32,
    pub malformed: Vec<CounterRow>,
    pub cut_at: Option<u64>,
}

impl CounterTable {
    /// The table of `view` for a vendor filter (part of the counter id, any case), in `sort`
    /// order, with at most `shown` rows.
    pub fn of(view: CountersView, filter: &str, sort: CounterSort, shown: usize) -> Self {
        let CountersView { day, time_zone, rows, time_based, time_bucket_minutes, malformed, cut_at } = view;
        let busiest =
            rows.iter().filter(|r| r.orders_last_hour > 0).max_by_key(|r| (r.orders_last_hour, r.sequence)).cloned();
        let nearest = rows
            .iter()
            .filter(|r| r.sequence > 0)
            .min_by(|a, b| hours_to_cap(a).total_cmp(&hours_to_cap(b)).then(b.sequence.cmp(&a.sequence)))
            .cloned();
        let (total, warned) = (rows.len(), rows.iter().filter(|r| !r.warnings.is_empty()).count());
        let needle = filter.trim().to_lowercase();
        let mut rows: Vec<CounterRow> =
            rows.into_iter().filter(|r| needle.is_empty() || r.counter_id.to_lowercase().contains(&needle)).collect();
        let matching = rows.len();
        sort.sort(&mut rows);
        rows.truncate(shown);
        Self {
            day,
            time_zone,
            total,
            warned,
            busiest,
            nearest,
            matching,
            rows,
            time_based,
            time_bucket_minutes,
            malformed,
            cut_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::counters::Forecast;

    fn row(vendor: &str, sequence: u64, hour: u64, hours_to_cap: Option<f64>) -> CounterRow {
        CounterRow {
            counter_id: format!("20261120-{vendor}"),
            vendor: Some(vendor.into()),
            day: NaiveDate::from_ymd_opt(2026, 11, 20),
            sequence,
            last_updated: None,
            orders: sequence,
            orders_last_hour: hour,
            warnings: Vec::new(),
            forecast: hours_to_cap.map(|h| Forecast {
                per_hour: 1.0,
                cap_at: None,
                hours_to_cap: h,
                shaped: false,
                segment_block: None,
            }),
        }
    }

    fn view(rows: Vec<CounterRow>) -> CountersView {
        CountersView {
            day: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            time_zone: "UTC".into(),
            rows,
            time_based: Vec::new(),
            time_bucket_minutes: 60,
            malformed: Vec::new(),
            cut_at: None,
        }
    }

    #[test]
    fn the_page_shows_the_first_rows_but_judges_them_all() {
        let rows: Vec<CounterRow> =
            (0..250).map(|i| row(&format!("v{i:03}"), i + 1, i % 7, Some(1000.0 - i as f64))).collect();
        let table = CounterTable::of(view(rows), "", CounterSort::Cap, ROWS_SHOWN);
        assert_eq!((table.total, table.matching, table.rows.len()), (250, 250, ROWS_SHOWN));
        // Nearest the cap first, and the glance looks past the rows shown.
        assert_eq!(table.rows[0].counter_id, "20261120-v249");
        assert_eq!(table.nearest.unwrap().counter_id, "20261120-v249");
        assert_eq!(table.busiest.unwrap().counter_id, "20261120-v244");
    }

    #[test]
    fn the_filter_keeps_matching_vendors_in_any_case_and_sorts_them() {
        let rows = vec![row("pizza-palace", 5, 0, None), row("taco-town", 9, 2, None), row("Pizza-Plaza", 7, 1, None)];
        let table = CounterTable::of(view(rows), " PIZZA ", CounterSort::Share, ROWS_SHOWN);
        assert_eq!((table.total, table.matching), (3, 2));
        let ids: Vec<_> = table.rows.iter().map(|r| r.counter_id.as_str()).collect();
        assert_eq!(ids, ["20261120-Pizza-Plaza", "20261120-pizza-palace"]);
        assert_eq!(table.busiest.unwrap().counter_id, "20261120-taco-town");
    }

    #[test]
    fn an_unknown_sort_reads_as_nearest_the_cap() {
        assert_eq!(CounterSort::from_query("drop table"), CounterSort::Cap);
        for sort in
            [CounterSort::Vendor, CounterSort::Updated, CounterSort::Hour, CounterSort::Warnings, CounterSort::Share]
        {
            assert_eq!(CounterSort::from_query(sort.as_query()), sort);
        }
    }
}
