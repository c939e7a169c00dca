//! The marketplace's order number `BB-{time}-{user}-{sequence}`.

use std::fmt;

use chrono::NaiveDate;

use super::{ParseError, UserSuffix, check_len, digits, preview, text_serde};

/// The largest daily sequence a 5-digit counter can show. The marketplace documents call the
/// capacity "unlimited"; it is 99,999 per vendor per day, and orderdesk refuses to go past it.
pub const MAX_DAILY_SEQUENCE: u32 = 99_999;

/// Largest block a segment-mode vendor may reserve at once.
pub const MAX_SEGMENT_BLOCK: u32 = 10_000;

/// Which of the marketplace's three formats a number uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BbVariant {
    /// `BB-{13-digit Unix time in milliseconds}-…`, the primary format. The marketplace
    /// calls it "microtime", but it is `Date.now()`: milliseconds (microseconds have 16 digits).
    Millis,
    /// `BB-{10-digit Unix time in seconds}-…`, the "time-based" alternative.
    Seconds,
    /// `BB-{YYYYMMDD}-…`, the legacy "year-based" format.
    Dated,
}

impl BbVariant {
    pub const ALL: [Self; 3] = [Self::Millis, Self::Seconds, Self::Dated];

    /// The name the marketplace's documents give it, used in the API, the CLI and settings.
    pub fn name(self) -> &'static str {
        match self {
            Self::Millis => "ultra",
            Self::Seconds => "time-based",
            Self::Dated => "year-based",
        }
    }

    /// Reads a variant by [`Self::name`].
    pub fn from_name(input: &str) -> Result<Self, ParseError> {
        let name = input.trim();
        Self::ALL.into_iter().find(|v| v.name().eq_ignore_ascii_case(name)).ok_or_else(|| {
            ParseError::new(format!(
                "{} is no number variant: use ultra (BB-{{13-digit ms}}-…), time-based (BB-{{10-digit seconds}}-…) or year-based (BB-YYYYMMDD-…)",
                preview(name)
            ))
        })
    }

    /// Whether its numbers come from the vendor's daily counter (`YYYYMMDD-vendor`); the
    /// time-based ones come from a counter per time bucket (`YYYYMMDDTHHMM-vendor`).
    pub fn daily(self) -> bool {
        !matches!(self, Self::Seconds)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Millis => "BB (13-digit Unix time in milliseconds)",
            Self::Seconds => "BB (10-digit Unix time in seconds)",
            Self::Dated => "BB (legacy YYYYMMDD)",
        }
    }
}

/// The time part of a BB number, by variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BbStamp {
    Millis(u64),
    Seconds(u64),
    Date(NaiveDate),
}

/// A parsed BB order number. The vendor is not part of it, so two vendors' counters can give
/// the same number: orderdesk's allocator stamps each in a millisecond lane of its process
/// (`services::issuing::number_lanes`), and the unique index on `orders.order_number` holds
/// what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BbNumber {
    pub stamp: BbStamp,
    pub user: UserSuffix,
    pub sequence: u32,
}

impl BbNumber {
    /// Builds the primary (millisecond) form; `None` if the sequence is out of range.
    pub fn millis(ms: u64, user: UserSuffix, sequence: u32) -> Option<Self> {
        ((1..=MAX_DAILY_SEQUENCE).contains(&sequence) && ms <= 9_999_999_999_999).then_some(Self {
            stamp: BbStamp::Millis(ms),
            user,
            sequence,
        })
    }

    /// Builds the time-based form from Unix seconds; `None` if out of range.
    pub fn seconds(secs: u64, user: UserSuffix, sequence: u32) -> Option<Self> {
        ((1..=MAX_DAILY_SEQUENCE).contains(&sequence) && secs <= 9_999_999_999).then_some(Self {
            stamp: BbStamp::Seconds(secs),
            user,
            sequence,
        })
    }

    /// Builds the year-based form for a day; `None` if out of range.
    pub fn dated(day: NaiveDate, user: UserSuffix, sequence: u32) -> Option<Self> {
        use chrono::Datelike;
        ((1..=MAX_DAILY_SEQUENCE).contains(&sequence) && (1000..=9999).contains(&day.year())).then_some(Self {
            stamp: BbStamp::Date(day),
            user,
            sequence,
        })
    }

    /// Parses any of the three variants; leading/trailing spaces and a leading `#` are
    /// ignored, and `bb-` is accepted for `BB-`.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "an order number")?;
        let s = input.trim();
        let s = s.strip_prefix('#').unwrap_or(s);
        let fail = |why: &str| {
            ParseError::new(format!(
                "{} is not a BB order number: {why} (expected BB-1701234567890-A1B2-00001)",
                preview(s)
            ))
        };
        let mut parts = s.split('-');
        let (Some(bb), Some(time), Some(user), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("it must have four parts separated by '-'"));
        };
        if !bb.eq_ignore_ascii_case("BB") {
            return Err(fail("it must start with BB-"));
        }
        let stamp = match time.len() {
            13 => BbStamp::Millis(digits(time, 13).ok_or_else(|| fail("the time must be digits"))?),
            10 => BbStamp::Seconds(digits(time, 10).ok_or_else(|| fail("the time must be digits"))?),
            8 => {
                digits(time, 8).ok_or_else(|| fail("the date must be digits"))?;
                BbStamp::Date(
                    NaiveDate::parse_from_str(time, "%Y%m%d")
                        .map_err(|_| fail("the date YYYYMMDD is not a real date"))?,
                )
            }
            _ => {
                return Err(fail("the time must be 13 digits (milliseconds), 10 (seconds) or 8 (YYYYMMDD)"));
            }
        };
        let user = UserSuffix::parse(user).map_err(|e| fail(e.message()))?;
        let sequence = digits(seq, 5).ok_or_else(|| fail("the sequence must be 5 digits"))? as u32;
        if sequence == 0 {
            return Err(fail("the sequence starts at 00001"));
        }
        Ok(Self { stamp, user, sequence })
    }

    pub fn variant(&self) -> BbVariant {
        match self.stamp {
            BbStamp::Millis(_) => BbVariant::Millis,
            BbStamp::Seconds(_) => BbVariant::Seconds,
            BbStamp::Date(_) => BbVariant::Dated,
        }
    }
}

impl fmt::Display for BbNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stamp {
            BbStamp::Millis(ms) => write!(f, "BB-{ms:013}")?,
            BbStamp::Seconds(s) => write!(f, "BB-{s:010}")?,
            BbStamp::Date(d) => write!(f, "BB-{}", d.format("%Y%m%d"))?,
        }
        write!(f, "-{}-{:05}", self.user, self.sequence)
    }
}

text_serde!(BbNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_three_variants() {
        let n = BbNumber::parse("BB-1701234567890-A1B2-00001").unwrap();
        assert_eq!(n.variant(), BbVariant::Millis);
        assert_eq!(n.sequence, 1);
        assert_eq!(n.to_string(), "BB-1701234567890-A1B2-00001");

        let n = BbNumber::parse("bb-1701234567-a1b2-00042").unwrap();
        assert_eq!(n.variant(), BbVariant::Seconds);
        assert_eq!(n.to_string(), "BB-1701234567-A1B2-00042");

        let n = BbNumber::parse(" #BB-20241201-1234-99999 ").unwrap();
        assert_eq!(n.variant(), BbVariant::Dated);
        assert_eq!(n.to_string(), "BB-20241201-1234-99999");
    }

    #[test]
    fn rejects_what_the_allocator_never_issues() {
        for bad in [
            "BB-1701234567890-A1B2-100000", // six digits
            "BB-1701234567890-A1B2-00000",
            "BB-1701234567890-A1-00001",
            "BB-170123456789-A1B2-00001",
            "BB-20241301-1234-00001",
            "BX-1701234567890-A1B2-00001",
            "BB-1701234567890-A1B2-00001-7",
            "BB-1701234567890-A!B2-00001",
        ] {
            assert!(BbNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millis_constructor_keeps_the_cap() {
        let u = UserSuffix::parse("A1B2").unwrap();
        assert!(BbNumber::millis(1, u, 0).is_none());
        assert!(BbNumber::millis(1, u, MAX_DAILY_SEQUENCE + 1).is_none());
        assert_eq!(BbNumber::millis(5, u, 7).unwrap().to_string(), "BB-0000000000005-A1B2-00007");
        assert_eq!(BbNumber::seconds(1_701_234_567, u, 7).unwrap().to_string(), "BB-1701234567-A1B2-00007");
        assert!(BbNumber::seconds(10_000_000_000, u, 7).is_none());
        let day = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        assert_eq!(BbNumber::dated(day, u, 99_999).unwrap().to_string(), "BB-20241201-A1B2-99999");
        assert!(BbNumber::dated(day, u, 100_000).is_none());
    }

    #[test]
    fn variants_read_by_the_names_the_marketplace_gives_them() {
        for v in BbVariant::ALL {
            assert_eq!(BbVariant::from_name(v.name()).unwrap(), v);
        }
        assert_eq!(BbVariant::from_name(" Year-Based ").unwrap(), BbVariant::Dated);
        let e = BbVariant::from_name("daily").unwrap_err();
        assert!(e.message().contains("ultra") && e.message().contains("year-based"), "{}", e.message());
    }
}
