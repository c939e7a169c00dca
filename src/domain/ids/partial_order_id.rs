//! An ORD ID with parts missing, in the shapes the seeds themselves print: their slow-query
//! log cuts it (`[order: ORD-2025111]`), their tracking example drops the time of day
//! (`ORD-20251114-a3f8d2b4`), and a person loses a digit. What is certain in it narrows the
//! search; nothing is guessed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ParseError, check_len, preview};

/// The digits of an ORD ID's time: `YYYYMMDDHHMMSS`.
pub const STAMP_DIGITS: usize = 14;
/// The hex digits of an ORD ID's random part.
pub const RANDOM_DIGITS: usize = 8;
/// A random part this long starts with the display form: it is looked up by that index.
const DISPLAY_DIGITS: usize = 6;
/// Without the random part, a cut time narrows only by its leading digits; fewer than seven
/// would name a month or more of orders (and six hex digits are a display form).
const MIN_PREFIX_DIGITS: usize = 7;
/// At most this many time digits are read as lost inside the time rather than cut off.
const MAX_LOST_DIGITS: usize = 2;

/// An ORD ID with time digits or random digits missing, normalised (hex in lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartialOrderId {
    /// The time digits given, in order; some of the 14 are missing.
    stamp: String,
    /// The first hex digits of the random part, 0 to 8.
    random: String,
}

/// How a partial ID finds its orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Narrowing {
    /// Six or more random digits: by the display form they start with; the time digits given
    /// lead the order's time (cut at the end), or with one or two missing, appear in it in
    /// order (see [`PartialOrderId::may_have_lost_digits`]).
    ByRandom,
    /// The leading time digits: every order whose ID starts with them.
    ByTimePrefix,
}

impl PartialOrderId {
    /// Reads `ORD-{some time digits}[-{some hex}]`; the complete form is an [`super::OrderId`]
    /// and six hex digits alone are a [`super::DisplayId`]: parse those first.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "an order ID")?;
        let s = input.trim();
        let s = s.strip_prefix('#').unwrap_or(s).trim();
        let rest = match s.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("ORD-") => &s[4..],
            _ => return Err(ParseError::new(format!("{} is not an ORD order ID", preview(s)))),
        };
        let is_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let is_hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
        let (stamp, random) = match rest.split_once('-') {
            Some((stamp, random)) => (stamp, random),
            // One part with a letter in it is the random part without its time (ORD-a3f8d2b4).
            None if !is_digits(rest) && is_hex(rest) => ("", rest),
            None => (rest, ""),
        };
        let why = if !is_digits(stamp) {
            Some("the time part holds something other than digits".to_owned())
        } else if stamp.len() > STAMP_DIGITS {
            Some(format!("its time has {} digits, more than the {STAMP_DIGITS} of YYYYMMDDHHMMSS", stamp.len()))
        } else if !is_hex(random) || random.len() > RANDOM_DIGITS {
            Some(format!("the random part must be at most {RANDOM_DIGITS} hex digits (0-9, a-f)"))
        } else if stamp.len() == STAMP_DIGITS && random.len() == RANDOM_DIGITS {
            Some("the timestamp is not a real date and time".to_owned())
        } else if random.len() < DISPLAY_DIGITS && stamp.len() < MIN_PREFIX_DIGITS {
            Some(format!(
                "too little of it is left to narrow the search: give at least {MIN_PREFIX_DIGITS} digits of the \
                 time (ORD-YYYYMMD…), {DISPLAY_DIGITS} hex digits of the random part, or the display form \
                 (ORD-A3F8D2)"
            ))
        } else if random.len() < DISPLAY_DIGITS && !random.is_empty() && stamp.len() < STAMP_DIGITS {
            Some("a cut random part after a cut time narrows nothing: give the time whole, or 6 hex digits".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ParseError::new(format!("{} is not an ORD order ID: {why}", preview(s))));
        }
        let id = Self { stamp: stamp.to_owned(), random: random.to_ascii_lowercase() };
        if id.narrowing() == Narrowing::ByTimePrefix && !id.time_is_possible() {
            return Err(ParseError::new(format!(
                "{} is not an ORD order ID: {} is no date and time",
                preview(s),
                id.time_shape()
            )));
        }
        Ok(id)
    }

    pub fn narrowing(&self) -> Narrowing {
        if self.random.len() >= DISPLAY_DIGITS { Narrowing::ByRandom } else { Narrowing::ByTimePrefix }
    }

    /// The time digits given.
    pub fn stamp(&self) -> &str {
        &self.stamp
    }

    /// The random digits given, lower case.
    pub fn random(&self) -> &str {
        &self.random
    }

    /// How many time digits and random digits are missing.
    pub fn missing(&self) -> (usize, usize) {
        (STAMP_DIGITS - self.stamp.len(), RANDOM_DIGITS - self.random.len())
    }

    /// The display form the random part starts with, when it is long enough to hold one.
    pub fn display_id(&self) -> Option<super::DisplayId> {
        let six = self.random.get(..DISPLAY_DIGITS)?;
        u32::from_str_radix(six, 16).ok().map(super::DisplayId::from_bits)
    }

    /// The stored text an index range can start from: `ORD-` and the leading time digits
    /// (and the random digits, when the time is whole). Only for [`Narrowing::ByTimePrefix`].
    pub fn stored_prefix(&self) -> String {
        if self.stamp.len() == STAMP_DIGITS && !self.random.is_empty() {
            format!("ORD-{}-{}", self.stamp, self.random)
        } else {
            format!("ORD-{}", self.stamp)
        }
    }

    /// The stored IDs this can be, as a regular expression for the database. Built from
    /// digits and hex only, never from the text as typed.
    pub fn pattern(&self) -> String {
        let stamp = if self.may_have_lost_digits() {
            // 14 digits in all, the given ones among them in order.
            let mut p = format!("(?=[0-9]{{{STAMP_DIGITS}}}-)[0-9]*");
            for d in self.stamp.chars() {
                p.push(d);
                p.push_str("[0-9]*");
            }
            p
        } else {
            format!("{}[0-9]{{{}}}", self.stamp, STAMP_DIGITS - self.stamp.len())
        };
        let rest = RANDOM_DIGITS - self.random.len();
        format!("^ORD-{stamp}-{}[0-9a-fA-F]{{{rest}}}$", self.random)
    }

    /// Whether a stored ID is one this can be: what [`Self::pattern`] matches, in Rust, as
    /// the tests state it (the database applies the pattern).
    #[cfg(test)]
    fn matches(&self, id: &super::OrderId) -> bool {
        let Some((stamp, random)) = ord_parts(id) else { return false };
        if !random.starts_with(&self.random) {
            return false;
        }
        if self.may_have_lost_digits() {
            let mut left = stamp.chars();
            self.stamp.chars().all(|d| left.any(|c| c == d))
        } else {
            stamp.starts_with(&self.stamp)
        }
    }

    /// Whether the time may have lost a digit or two anywhere, rather than been cut at its
    /// end: only a random part that finds the order on its own can tell, and only one or two
    /// missing are read so (`20251116` holds in order the digits of many a day's times).
    pub fn may_have_lost_digits(&self) -> bool {
        self.narrowing() == Narrowing::ByRandom
            && !self.stamp.is_empty()
            && STAMP_DIGITS - self.stamp.len() <= MAX_LOST_DIGITS
    }

    /// Whether `id` is this with its end cut off (the time's digits are its first ones): of
    /// the orders [`Self::pattern`] finds, those are the better reading.
    pub fn is_cut_from(&self, id: &super::OrderId) -> bool {
        ord_parts(id).is_some_and(|(stamp, random)| stamp.starts_with(&self.stamp) && random.starts_with(&self.random))
    }

    /// The time as `YYYY-MM-DD hh:mm:ss` with `?` for each missing digit, reading the given
    /// digits from the start (how a cut ID reads).
    pub fn time_shape(&self) -> String {
        let mut digits = self.stamp.chars().chain(std::iter::repeat('?'));
        let mut out = String::with_capacity(19);
        for (i, sep) in [(4, '-'), (2, '-'), (2, ' '), (2, ':'), (2, ':'), (2, '\0')] {
            out.extend(digits.by_ref().take(i));
            if sep != '\0' {
                out.push(sep);
            }
        }
        out
    }

    /// Whether some date and time starts with the given digits (read from the start).
    pub fn time_is_possible(&self) -> bool {
        // Each field's bounds; a field cut short must still be able to reach a valid value.
        const FIELDS: [(usize, u32, u32); 6] =
            [(4, 0, 9999), (2, 1, 12), (2, 1, 31), (2, 0, 23), (2, 0, 59), (2, 0, 59)];
        let mut rest = self.stamp.as_str();
        for (width, low, high) in FIELDS {
            let given = &rest[..rest.len().min(width)];
            rest = &rest[given.len()..];
            if given.is_empty() {
                return true;
            }
            let value: u32 = given.parse().unwrap_or(u32::MAX);
            let scale = 10u32.pow((width - given.len()) as u32);
            // The smallest and largest values the field can still take.
            let (least, most) = (value * scale, value * scale + scale - 1);
            if most < low || least > high {
                return false;
            }
        }
        true
    }

    /// The span of days a cut time names, when its date is at least partly given:
    /// `2025-11-1?` is 2025-11-10 to 2025-11-19.
    pub fn days(&self) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
        use chrono::NaiveDate;
        if self.stamp.len() < 6 || !self.time_is_possible() {
            return None;
        }
        let date: String = self.stamp.chars().take(8).collect();
        let year: i32 = date[..4].parse().ok()?;
        let month: u32 = date[4..6].parse().ok()?;
        let last_of_month = (28..=31).rev().find(|d| NaiveDate::from_ymd_opt(year, month, *d).is_some())?;
        let (first, last) = match date.len() {
            6 => (1, last_of_month),
            7 => {
                let tens: u32 = date[6..7].parse().ok()?;
                ((tens * 10).max(1), (tens * 10 + 9).min(last_of_month))
            }
            _ => {
                let day: u32 = date[6..8].parse().ok()?;
                (day, day)
            }
        };
        Some((NaiveDate::from_ymd_opt(year, month, first)?, NaiveDate::from_ymd_opt(year, month, last)?))
    }

    /// What is certain and what is missing, in words.
    pub fn describe(&self) -> String {
        let (time_missing, random_missing) = self.missing();
        let time = match time_missing {
            0 => "its time whole".to_owned(),
            STAMP_DIGITS => "no time".to_owned(),
            n => format!("{n} of its {STAMP_DIGITS} time digits missing"),
        };
        let random = match random_missing {
            0 => "its random part whole".to_owned(),
            RANDOM_DIGITS => "no random part".to_owned(),
            n => format!("{n} of its {RANDOM_DIGITS} random digits missing"),
        };
        format!("a shortened order ID (ORD) with {time} and {random}")
    }
}

/// An ORD ID's 14 time digits and 8 random digits, as written.
fn ord_parts(id: &super::OrderId) -> Option<(String, String)> {
    let super::OrderId::Ord { .. } = id else { return None };
    let text = id.to_string();
    Some((text[4..4 + STAMP_DIGITS].to_owned(), text[5 + STAMP_DIGITS..].to_owned()))
}

impl fmt::Display for PartialOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.random.is_empty() {
            write!(f, "ORD-{}", self.stamp)
        } else {
            // `ORD--a3f8d2b4` when no time is given: it reads back the same.
            write!(f, "ORD-{}-{}", self.stamp, self.random)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::OrderId;

    fn id(s: &str) -> PartialOrderId {
        PartialOrderId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn reads_the_seeds_own_shortened_forms() {
        let log = id("ORD-2025111");
        assert_eq!(log.narrowing(), Narrowing::ByTimePrefix);
        assert_eq!(log.missing(), (7, 8));
        assert_eq!(log.time_shape(), "2025-11-1? ??:??:??");
        let (from, to) = log.days().unwrap();
        assert_eq!((from.to_string(), to.to_string()), ("2025-11-10".into(), "2025-11-19".into()));
        let tracking = id("ORD-20251114-A3F8D2B4");
        assert_eq!(tracking.to_string(), "ORD-20251114-a3f8d2b4");
        assert_eq!(tracking.narrowing(), Narrowing::ByRandom);
        assert_eq!(tracking.missing(), (6, 0));
        assert_eq!(tracking.display_id().unwrap().to_string(), "ORD-A3F8D2");
    }

    #[test]
    fn finds_what_it_can_be_and_nothing_else() {
        let order = OrderId::parse("ORD-20251114123456-a3f8d2b4").unwrap();
        let other_day = OrderId::parse("ORD-20251115123456-a3f8d2b4").unwrap();
        let other_random = OrderId::parse("ORD-20251114123456-a3f8d2b5").unwrap();
        for s in
            ["ORD-2025111", "ORD-20251114-a3f8d2b4", "ORD-2025111412345-a3f8d2b4", "ORD-a3f8d2b4", "ORD-20251114123456"]
        {
            assert!(id(s).matches(&order), "{s}");
        }
        assert!(id("ORD-2025111412356-a3f8d2b4").matches(&order), "a digit lost in the middle");
        assert!(!id("ORD-2025111412356-a3f8d2b4").is_cut_from(&order));
        assert!(!id("ORD-20251114-a3f8d2b4").matches(&other_random));
        // 2025111(5)1234 holds 20251114 in order, but six digits missing are a cut end.
        assert!(!id("ORD-20251114-a3f8d2b4").matches(&other_day));
        assert!(id("ORD-2025111123456-a3f8d2b4").matches(&other_day), "one lost from 20251115123456");
        assert!(!id("ORD-2025111123456-a3f8d2b4").is_cut_from(&other_day));
        assert!(
            id("ORD-20251114-a3f8d2b4").is_cut_from(&order) && !id("ORD-20251114-a3f8d2b4").is_cut_from(&other_day)
        );
        assert!(!id("ORD-20251114123456-a3f8").matches(&OrderId::parse("ORD-20251114123456-a3f9d2b4").unwrap()));
    }

    #[test]
    fn its_pattern_agrees_with_its_matching() {
        let re = |p: &PartialOrderId| regex_lite(&p.pattern());
        let order = "ORD-20251114123456-a3f8d2b4";
        assert!(re(&id("ORD-2025111")).is_match(order));
        assert!(!re(&id("ORD-2025112")).is_match(order));
        assert!(re(&id("ORD-2025111412356-a3f8d2b4")).is_match(order));
        assert!(!re(&id("ORD-2025111412356-a3f8d2b4")).is_match("ORD-2025111412356-a3f8d2b4"), "13 digits stored");
        assert!(re(&id("ORD-20251114123456-a3f")).is_match(order));
    }

    // The `regex` crate has no look-ahead; the pattern's is only the 14-digit count, checked
    // here by hand, and mongod (PCRE) reads the rest as the crate does.
    fn regex_lite(pattern: &str) -> Checker {
        let lookahead = "(?=[0-9]{14}-)";
        let (count, plain) = match pattern.find(lookahead) {
            Some(at) => (true, format!("{}{}", &pattern[..at], &pattern[at + lookahead.len()..])),
            None => (false, pattern.to_owned()),
        };
        Checker { count, re: regex::Regex::new(&plain).unwrap() }
    }

    struct Checker {
        count: bool,
        re: regex::Regex,
    }

    impl Checker {
        fn is_match(&self, s: &str) -> bool {
            let fourteen =
                s.get(4..19).is_some_and(|t| t.as_bytes()[14] == b'-' && t[..14].bytes().all(|b| b.is_ascii_digit()));
            self.re.is_match(s) && (!self.count || fourteen)
        }
    }

    #[test]
    fn refuses_what_narrows_nothing_and_says_why() {
        for (bad, says) in [
            ("ORD-12", "too little"),
            ("ORD-2025", "too little"),
            ("ORD-2025111-a3", "cut random part"),
            ("ORD-20251314", "no date"),
            ("ORD-2025-a3f8", "too little"),
            ("ORD-20251114123456-a3f8d2b4", "not a real date"),
            ("ORD-202511141234567", "more than the 14"),
            ("ORD-2025x114", "other than digits"),
            ("ORD-20251114-xyz", "hex"),
        ] {
            let err = PartialOrderId::parse(bad).map(|p| p.to_string()).unwrap_err();
            assert!(err.message().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn reads_back_what_it_writes() {
        for s in ["ORD-2025111", "ORD--12345678", "ORD-a3f8d2b4", "ORD-20251114123456-a3f", "ORD-20251114-a3f8d2"] {
            let p = id(s);
            assert_eq!(id(&p.to_string()), p, "{s}");
        }
    }
}
