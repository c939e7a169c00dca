//! Whether a vendor's daily counter is healthy, decided from what the marketplace stored
//! (`counterId`, `sequence`, `lastUpdated`) and what the orders say. Free of database types:
//! storage reads, this judges, the page shows.
//!
//! Long (about 470 lines before its tests): every judgement of a counter (health, forecast,
//! gaps, forensics) reads the same few facts, and they are tested together.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
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
    /// At today's rate the counter reaches 99,999 before its day ends.
    CapForecast { at: DateTime<Utc>, hours: f64 },
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
            Self::CapForecast { at, hours } => {
                format!("reaches 99,999 at {} UTC, in {hours:.1} h, at today's rate", at.format("%H:%M"))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::NearCap { .. } => "near-cap",
            Self::Gaps { .. } => "gaps",
            Self::MoreOrdersThanNumbers { .. } => "more-orders",
            Self::UpdatedAfterDayEnded { .. } => "late-update",
            Self::Unparseable { .. } => "unparseable",
            Self::CapForecast { .. } => "cap-forecast",
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
    /// Where today's counter is heading (today's counters only).
    pub forecast: Option<Forecast>,
}

impl CounterRow {
    pub fn share(&self) -> f64 {
        self.sequence as f64 / f64::from(MAX_DAILY_SEQUENCE)
    }
}

/// One vendor's time-based counters of a day (one per time bucket), summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBasedRow {
    pub vendor: String,
    /// Buckets that issued a number.
    pub buckets: u32,
    /// Numbers issued over all of them.
    pub issued: u64,
    /// The bucket nearest its cap of 99,999, and how far it got.
    pub busiest: String,
    pub busiest_sequence: u64,
    pub last_updated: Option<DateTime<Utc>>,
    /// `NearCap` when the busiest bucket is near its cap.
    pub warnings: Vec<CounterWarning>,
}

impl TimeBasedRow {
    pub fn share(&self) -> f64 {
        self.busiest_sequence as f64 / f64::from(MAX_DAILY_SEQUENCE)
    }
}

/// Groups a day's time-bucket counters (`counter_id`, `sequence`, `last_updated`) per vendor,
/// the vendor with the busiest bucket first. Ids that do not parse are left to the
/// malformed list.
pub fn time_based_rows<'a>(
    counters: impl IntoIterator<Item = (&'a str, u64, Option<DateTime<Utc>>)>,
) -> Vec<TimeBasedRow> {
    let mut by_vendor: std::collections::BTreeMap<String, TimeBasedRow> = Default::default();
    for (id, sequence, last_updated) in counters {
        let Ok(parsed) = CounterId::parse(id) else { continue };
        let vendor = parsed.vendor.to_string();
        let row = by_vendor.entry(vendor.clone()).or_insert_with(|| TimeBasedRow {
            vendor,
            buckets: 0,
            issued: 0,
            busiest: id.to_owned(),
            busiest_sequence: 0,
            last_updated: None,
            warnings: Vec::new(),
        });
        row.buckets += 1;
        row.issued += sequence;
        if sequence > row.busiest_sequence {
            row.busiest = id.to_owned();
            row.busiest_sequence = sequence;
        }
        row.last_updated = row.last_updated.max(last_updated);
    }
    let mut rows: Vec<TimeBasedRow> = by_vendor
        .into_values()
        .map(|mut row| {
            let share = row.share();
            if share >= NEAR_CAP_SHARE {
                row.warnings.push(CounterWarning::NearCap { share });
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| b.busiest_sequence.cmp(&a.busiest_sequence).then_with(|| a.vendor.cmp(&b.vendor)));
    rows
}

/// The counters page: today's counters and the malformed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountersView {
    pub day: NaiveDate,
    pub time_zone: String,
    pub rows: Vec<CounterRow>,
    /// Today's time-based counters, per vendor.
    pub time_based: Vec<TimeBasedRow>,
    /// Minutes one time-based counter counts.
    pub time_bucket_minutes: u32,
    /// Counters whose `counterId` does not parse, from any day.
    pub malformed: Vec<CounterRow>,
    /// Set when the day has more counters than are listed: the rows are the ones with the
    /// highest sequence (nearest the cap), and this many were read at most.
    pub cut_at: Option<u64>,
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
        forecast: None,
    }
}

/// Where a counter is heading at its current rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Numbers per hour assumed now: the higher of the last hour's and the day's average, so
    /// a morning rush warns at once and a quiet last hour does not hide a busy day.
    pub per_hour: f64,
    /// When it reaches 99,999 at that rate (following the vendor's usual day when
    /// `shaped`), if that is before its day ends.
    pub cap_at: Option<DateTime<Utc>>,
    /// Hours from now to the cap (at the flat rate when the cap is not reached today;
    /// infinite when nothing is being issued).
    pub hours_to_cap: f64,
    /// Whether the rate was carried through the rest of the day along the vendor's usual
    /// shape of a day ([`DayShape`]), not flat.
    pub shaped: bool,
    /// A block size for segment mode when the rate makes the counter document hot (more
    /// than one number a second): about ten seconds of numbers per block.
    pub segment_block: Option<u32>,
}

/// Above this many numbers an hour (one a second) the counter document is hot enough that
/// segment mode pays: one database write per block instead of per number.
pub const SEGMENT_ADVICE_PER_HOUR: f64 = 3_600.0;

/// How a vendor's day usually goes: the share of its numbered orders placed in each hour of
/// the day (in the business zone), from its orders of the last [`DayShape::HISTORY_DAYS`]
/// days before today.
#[derive(Debug, Clone, PartialEq)]
pub struct DayShape {
    share: [f64; 24],
}

impl DayShape {
    pub const HISTORY_DAYS: i64 = 14;
    /// Fewer orders than this in the history say too little about the shape of a day.
    pub const MIN_HISTORY: u64 = 200;
    /// The least share an hour is given, so an hour that was always quiet still scales a rate
    /// (a share of zero would make a rush in it look infinite, or vanish).
    const FLOOR: f64 = 0.002;

    /// The shape from orders counted per hour of the day; `None` when there are too few.
    pub fn from_counts(counts: [u64; 24]) -> Option<Self> {
        let total: u64 = counts.iter().sum();
        (total >= Self::MIN_HISTORY).then(|| Self { share: counts.map(|n| (n as f64 / total as f64).max(Self::FLOOR)) })
    }

    fn share(&self, hour: u32) -> f64 {
        self.share[(hour % 24) as usize]
    }
}

/// A vendor's usual day, with how to read an instant's hour of the day in the business zone.
#[derive(Clone, Copy)]
pub struct UsualDay<'a> {
    pub shape: &'a DayShape,
    pub hour_of: &'a dyn Fn(DateTime<Utc>) -> u32,
}

/// Forecasts a counter of today from its sequence and the numbered orders of the last hour.
/// With the vendor's `shape` (and `hour_of`, the hour of the day of an instant in the
/// business zone), today's rate is carried through the rest of the day as the vendor's days
/// usually go: twice the orders in the hours that are usually twice as busy as this one.
/// Without one, the rate stays flat.
pub fn forecast(
    sequence: u64,
    orders_last_hour: u64,
    day: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    shape: Option<UsualDay<'_>>,
) -> Forecast {
    let (day_start, day_end) = day;
    let elapsed_h = ((now - day_start).num_seconds() as f64 / 3600.0).max(1.0 / 60.0);
    let per_hour = (sequence as f64 / elapsed_h).max(orders_last_hour as f64);
    let left = u64::from(MAX_DAILY_SEQUENCE).saturating_sub(sequence) as f64;
    let hours_to_cap = if left == 0.0 {
        0.0
    } else if per_hour > 0.0 {
        left / per_hour
    } else {
        f64::INFINITY
    };
    let (cap_at, hours_to_cap) = match shape {
        Some(usual) if per_hour > 0.0 && left > 0.0 => match shaped_cap(left, per_hour, now, day_end, usual) {
            Some(at) => (Some(at), (at - now).num_milliseconds() as f64 / 3_600_000.0),
            None => (None, hours_to_cap),
        },
        // Flat: today's rate to the end of the day.
        _ => (hours_to_cap.is_finite().then(|| now + hours(hours_to_cap)).filter(|at| *at < day_end), hours_to_cap),
    };
    let segment_block = (per_hour > SEGMENT_ADVICE_PER_HOUR).then(|| {
        let ten_seconds = (per_hour / 360.0).ceil() as u32;
        // Rounded up to a round number an admin would type.
        let round = 10u32.pow(ten_seconds.max(1).ilog10());
        (ten_seconds.div_ceil(round) * round).clamp(2, crate::domain::ids::MAX_SEGMENT_BLOCK)
    });
    Forecast { per_hour, cap_at, hours_to_cap, shaped: shape.is_some(), segment_block }
}

fn hours(h: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((h * 3_600_000.0) as i64)
}

/// When `left` numbers are issued, walking the rest of the day hour by hour at `per_hour`
/// scaled by each hour's usual share against this hour's; `None` when not before `day_end`.
fn shaped_cap(
    mut left: f64,
    per_hour: f64,
    now: DateTime<Utc>,
    day_end: DateTime<Utc>,
    UsualDay { shape, hour_of }: UsualDay<'_>,
) -> Option<DateTime<Utc>> {
    let base = shape.share(hour_of(now));
    let mut t = now;
    while t < day_end {
        // The end of t's hour in UTC: a whole hour locally too, except in half-hour zones,
        // where each step's share is then that of the hour it starts in.
        let next = (t + chrono::Duration::hours(1))
            .with_minute(0)
            .and_then(|n| n.with_second(0))
            .and_then(|n| n.with_nanosecond(0))
            .unwrap_or(day_end)
            .min(day_end);
        let rate = per_hour * shape.share(hour_of(t)) / base;
        let span = (next - t).num_milliseconds() as f64 / 3_600_000.0;
        if rate * span >= left {
            return Some(t + hours(left / rate));
        }
        left -= rate * span;
        t = next;
    }
    None
}

impl CounterRow {
    /// Adds today's forecast, and a warning when the cap comes before the day ends.
    pub fn with_forecast(
        mut self,
        day: (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
        shape: Option<UsualDay<'_>>,
    ) -> Self {
        let f = forecast(self.sequence, self.orders_last_hour, day, now, shape);
        if let Some(at) = f.cap_at
            && self.sequence < u64::from(MAX_DAILY_SEQUENCE)
        {
            self.warnings.push(CounterWarning::CapForecast { at, hours: f.hours_to_cap });
        }
        self.forecast = Some(f);
        self
    }
}

/// Why a run of numbers was issued and no order holds it, as far as orderdesk can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GapCause {
    /// The vendor is in segment mode and the run ends a reserved block: the block's process
    /// stopped, or the day ended, before it was used up.
    SegmentBlockUnused,
    /// The last numbers drawn: an allocation whose order was never stored (it failed or was
    /// abandoned), or one still being written.
    LastDrawn,
    /// Drawn, but no order holds them: an order that failed after its number was taken, or a
    /// bot's retry after a failover. orderdesk cannot tell these apart.
    Unexplained,
}

impl GapCause {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SegmentBlockUnused => "the rest of a segment block, never used",
            Self::LastDrawn => "drawn last, no order stored",
            Self::Unexplained => "drawn, no order holds it (a failed order or a retry)",
        }
    }
}

/// Consecutive numbers no order holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapRun {
    pub from: u32,
    pub to: u32,
    pub cause: GapCause,
}

impl GapRun {
    pub fn numbers(&self) -> u32 {
        self.to - self.from + 1
    }
}

/// One vendor-day: numbers its counter issued against the numbers its orders hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forensics {
    pub counter_id: String,
    pub issued: u32,
    /// Distinct sequences held by orders, within what was issued.
    pub held: u32,
    pub gaps: Vec<GapRun>,
    /// Sequences held by more than one order: (sequence, orders).
    pub duplicates: Vec<(u32, u32)>,
    /// Sequences orders hold that the counter never issued.
    pub beyond: Vec<u32>,
    /// The vendor's segment block, when it is in segment mode.
    pub segment_block: Option<u32>,
}

impl Forensics {
    /// Numbers issued that no order holds.
    pub fn missing(&self) -> u32 {
        self.gaps.iter().map(GapRun::numbers).sum()
    }
}

/// Compares what a counter issued (`1..=issued`) with the sequences its orders hold.
pub fn forensics(counter_id: &str, issued: u32, mut held: Vec<u32>, segment_block: Option<u32>) -> Forensics {
    held.sort_unstable();
    let mut duplicates = Vec::new();
    let mut beyond = Vec::new();
    let mut distinct: Vec<u32> = Vec::with_capacity(held.len());
    for chunk in held.chunk_by(|a, b| a == b) {
        let n = chunk[0];
        if chunk.len() > 1 {
            duplicates.push((n, chunk.len() as u32));
        }
        if n == 0 || n > issued {
            beyond.push(n);
        } else {
            distinct.push(n);
        }
    }
    let mut gaps = Vec::new();
    let mut next = 1u32;
    for &n in distinct.iter().chain(std::iter::once(&(issued + 1))) {
        if n > next {
            let (from, to) = (next, n - 1);
            let cause = match segment_block {
                Some(block) if to % block == 0 || to == issued => GapCause::SegmentBlockUnused,
                _ if to == issued => GapCause::LastDrawn,
                _ => GapCause::Unexplained,
            };
            gaps.push(GapRun { from, to, cause });
        }
        next = n + 1;
    }
    Forensics {
        counter_id: counter_id.to_owned(),
        issued,
        held: distinct.len() as u32,
        gaps,
        duplicates,
        beyond,
        segment_block,
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
    fn time_buckets_sum_up_per_vendor() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let rows = time_based_rows([
            ("20261121T0900-taco", 12, Some(at)),
            ("20261121T1000-taco", 85_000, Some(at + chrono::Duration::minutes(5))),
            ("20261121T1000-pizza", 3, Some(at)),
            ("20261121T10-bad", 9, None),
        ]);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].vendor.as_str(), rows[0].buckets, rows[0].issued, rows[0].busiest.as_str()),
            ("taco", 2, 85_012, "20261121T1000-taco")
        );
        assert_eq!(rows[0].last_updated, Some(at + chrono::Duration::minutes(5)));
        assert_eq!(kinds_of(&rows[0].warnings), ["near-cap"]);
        assert!(rows[1].warnings.is_empty());
    }

    fn kinds_of(warnings: &[CounterWarning]) -> Vec<&'static str> {
        warnings.iter().map(CounterWarning::kind).collect()
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
    fn the_usual_shape_of_a_day_carries_todays_rate_through_the_rest_of_it() {
        let start = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let end = start + chrono::Duration::days(1);
        let hour_of = |t: DateTime<Utc>| t.hour();
        // Too little history: no shape.
        assert!(DayShape::from_counts([5; 24]).is_none());
        // A day whose evening (18:00 to 21:00) is usually four times as busy as its afternoon.
        let mut counts = [100; 24];
        counts[18..21].fill(400);
        let shape = DayShape::from_counts(counts).unwrap();
        let at_two = start + chrono::Duration::hours(14);
        // 5,000 an hour at 14:00 with 40,000 issued: 59,999 left. Flat, 12 h: not today.
        let flat = forecast(40_000, 5_000, (start, end), at_two, None);
        assert!(flat.cap_at.is_none() && !flat.shaped, "{flat:?}");
        // Shaped: 20,000 by 18:00, then 20,000 an hour: the other 39,999 take 2 h, by 20:00.
        let shaped = forecast(40_000, 5_000, (start, end), at_two, Some(UsualDay { shape: &shape, hour_of: &hour_of }));
        assert!(shaped.shaped);
        assert_eq!(shaped.cap_at.map(|t| t.format("%H:%M").to_string()).as_deref(), Some("19:59"), "{shaped:?}");
        assert!((shaped.hours_to_cap - 6.0).abs() < 0.01, "{shaped:?}");
        // A rush in the usual rush hour is followed by the usual quiet: later than flat.
        let at_seven = start + chrono::Duration::hours(19);
        let flat = forecast(50_000, 20_000, (start, end), at_seven, None);
        assert_eq!(flat.cap_at.map(|t| t.format("%H:%M").to_string()).as_deref(), Some("21:29"), "{flat:?}");
        // 40,000 to 21:00, then 5,000 an hour: the last 9,999 take 2 h.
        let f = forecast(50_000, 20_000, (start, end), at_seven, Some(UsualDay { shape: &shape, hour_of: &hour_of }));
        assert_eq!(f.cap_at.map(|t| t.format("%H:%M").to_string()).as_deref(), Some("22:59"), "{f:?}");
        let row = judge("20261121-pizza", 40_000, Some(at_two), 40_000, 5_000, end_utc).with_forecast(
            (start, end),
            at_two,
            Some(UsualDay { shape: &shape, hour_of: &hour_of }),
        );
        assert_eq!(kinds(&row), ["cap-forecast"]);
    }

    #[test]
    fn the_forecast_takes_the_busier_rate_and_warns_only_before_the_day_ends() {
        let start = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let end = start + chrono::Duration::days(1);
        let noon = start + chrono::Duration::hours(12);
        // 60,000 by noon is 5,000 an hour: 39,999 left take 8 h, at 20:00, before midnight.
        let f = forecast(60_000, 100, (start, end), noon, None);
        assert_eq!(f.per_hour, 5_000.0);
        assert!((f.hours_to_cap - 7.9998).abs() < 0.001, "{f:?}");
        assert_eq!(f.cap_at.map(|t| t.format("%H:%M").to_string()).as_deref(), Some("19:59"));
        assert_eq!(f.segment_block, Some(20), "5,000/h is 14 numbers in 10 s, rounded up to 20");
        // A quiet day whose last hour is a rush: the last hour's rate decides.
        let f = forecast(1_200, 30_000, (start, end), noon, None);
        assert_eq!(f.per_hour, 30_000.0);
        assert!(f.cap_at.is_some());
        assert_eq!(f.segment_block, Some(90));
        // Slow enough to last the day: no cap time, no warning, no segment advice.
        let f = forecast(1_000, 50, (start, end), noon, None);
        assert!(f.cap_at.is_none() && f.segment_block.is_none(), "{f:?}");
        let row =
            judge("20261121-pizza", 1_000, Some(noon), 1_000, 50, end_utc).with_forecast((start, end), noon, None);
        assert!(kinds(&row).is_empty());
        let row =
            judge("20261121-pizza", 60_000, Some(noon), 60_000, 100, end_utc).with_forecast((start, end), noon, None);
        assert_eq!(kinds(&row), ["cap-forecast"]);
        // Nothing issued yet: never, not a division by zero.
        let f = forecast(0, 0, (start, end), start, None);
        assert!(f.hours_to_cap.is_infinite() && f.cap_at.is_none());
        // Already at the cap: no forecast warning on top of the near-cap one.
        let row =
            judge("20261121-pizza", 99_999, Some(noon), 99_999, 0, end_utc).with_forecast((start, end), noon, None);
        assert_eq!(kinds(&row), ["near-cap"]);
    }

    #[test]
    fn forensics_lists_and_classifies_every_gap() {
        // Issued 1..=12; orders hold 1, 2, 4, 5, 5 (twice), 8, 9 and 14 (never issued).
        let f = forensics("20261121-pizza", 12, vec![9, 1, 2, 4, 5, 5, 8, 14], None);
        assert_eq!(f.held, 6);
        assert_eq!(f.missing(), 6);
        assert_eq!(
            f.gaps.iter().map(|g| (g.from, g.to, g.cause)).collect::<Vec<_>>(),
            [(3, 3, GapCause::Unexplained), (6, 7, GapCause::Unexplained), (10, 12, GapCause::LastDrawn)]
        );
        assert_eq!(f.duplicates, [(5, 2)]);
        assert_eq!(f.beyond, [14]);
        // In segment mode with blocks of 5: 6..=10 would end a block; 13..=15 is the tail.
        let f = forensics("20261121-pizza", 15, vec![1, 2, 3, 4, 5, 11, 12], Some(5));
        assert_eq!(
            f.gaps.iter().map(|g| (g.from, g.to, g.cause)).collect::<Vec<_>>(),
            [(6, 10, GapCause::SegmentBlockUnused), (13, 15, GapCause::SegmentBlockUnused)]
        );
        // Nothing missing: no gaps.
        let f = forensics("20261121-pizza", 3, vec![1, 2, 3], None);
        assert!(f.gaps.is_empty() && f.duplicates.is_empty() && f.beyond.is_empty());
        // Nothing held at all: one run, all of it.
        assert_eq!(
            forensics("20261121-pizza", 4, vec![], None).gaps,
            [GapRun { from: 1, to: 4, cause: GapCause::LastDrawn }]
        );
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
