//! The shipping bot's `order_id`: `ORD-{YYYYMMDDHHMMSS}-{8 hex}` or a pure UUID.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use super::{DisplayId, ParseError, check_len, preview, text_serde};

/// An order's primary identifier.
///
/// The `Ord` form's random part is the first 32 bits of a UUID v4 (which are all random),
/// so it is kept as a `u32`; the timestamp is UTC to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderId {
    Ord { at: NaiveDateTime, random: u32 },
    Uuid(Uuid),
}

const TIME_FORMAT: &str = "%Y%m%d%H%M%S";

impl OrderId {
    /// The stored text [`OrderId::parse`] reads as an ORD id, as a regular expression for the
    /// database. The 14 digits are not checked as a date there, so a few strings match that
    /// `parse` refuses (`ORD-20251314…`); a test holds the two together otherwise.
    pub const ORD_PATTERN: &str = "^[Oo][Rr][Dd]-[0-9]{14}-[0-9a-fA-F]{8}$";
    /// A hyphenated UUID, the form both systems store, as a regular expression.
    pub const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

    /// Parses either form. Case is ignored on the way in (`ord-…-A3F8…` and upper-case
    /// UUIDs are accepted); [`Display`](fmt::Display) always writes the canonical form.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "an order ID")?;
        let s = input.trim();
        if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("ORD-")) {
            return Self::parse_ord(&s[4..]).map_err(|why| {
                ParseError::new(format!(
                    "{} is not an ORD order ID: {why} (expected ORD-YYYYMMDDHHMMSS-xxxxxxxx)",
                    preview(s)
                ))
            });
        }
        if s.len() == 36
            && let Ok(uuid) = Uuid::try_parse(s)
        {
            return Ok(Self::Uuid(uuid));
        }
        Err(ParseError::new(format!(
            "{} is not an order ID: expected ORD-YYYYMMDDHHMMSS-xxxxxxxx or a UUID like \
             123e4567-e89b-12d3-a456-426614174000",
            preview(s)
        )))
    }

    fn parse_ord(rest: &str) -> Result<Self, &'static str> {
        let (stamp, hex) = rest.split_once('-').ok_or("missing the '-' before the random part")?;
        if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the timestamp must be 14 digits");
        }
        let at = NaiveDateTime::parse_from_str(stamp, TIME_FORMAT)
            .map_err(|_| "the timestamp is not a real date and time")?;
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the random part must be 8 hex digits");
        }
        let random = u32::from_str_radix(hex, 16).map_err(|_| "the random part must be 8 hex digits")?;
        Ok(Self::Ord { at, random })
    }

    /// The ORD form for a moment and a random part.
    pub fn ord(at: DateTime<Utc>, random: u32) -> Self {
        use chrono::Timelike;
        let at = at.naive_utc().with_nanosecond(0).unwrap_or(at.naive_utc());
        Self::Ord { at, random }
    }

    /// Which scheme this is, for people and for statistics.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Ord { .. } => "ORD",
            Self::Uuid(_) => "UUID",
        }
    }

    /// When the ID says the order was made; a UUID says nothing.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Ord { at, .. } => Some(at.and_utc()),
            Self::Uuid(_) => None,
        }
    }

    /// The short form the bot shows customers (`ORD-A3F8D2`): not unique, 24 bits only.
    pub fn display_id(&self) -> DisplayId {
        match self {
            Self::Ord { random, .. } => DisplayId::from_bits(random >> 8),
            Self::Uuid(uuid) => {
                let b = uuid.as_bytes();
                DisplayId::from_bits(u32::from_be_bytes([0, b[0], b[1], b[2]]))
            }
        }
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ord { at, random } => f.write_str(encode_ord(at, *random).as_str()),
            Self::Uuid(uuid) => write!(f, "{}", uuid.hyphenated()),
        }
    }
}

text_serde!(OrderId);

/// `ORD-YYYYMMDDHHMMSS-xxxxxxxx` written into a stack buffer: generation is hot (the
/// bots ask for an id per order), and chrono's formatter costs more than the whole id.
struct OrdText([u8; 27]);

impl OrdText {
    fn as_str(&self) -> &str {
        // Only ASCII digits, hex and '-' are written.
        std::str::from_utf8(&self.0).unwrap_or("ORD-invalid")
    }
}

fn encode_ord(at: &NaiveDateTime, random: u32) -> OrdText {
    use chrono::{Datelike, Timelike};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = *b"ORD-00000000000000-00000000";
    let mut put = |start: usize, width: usize, mut value: u32| {
        for i in (start..start + width).rev() {
            b[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(4, 4, at.year().clamp(0, 9999) as u32);
    put(8, 2, at.month());
    put(10, 2, at.day());
    put(12, 2, at.hour());
    put(14, 2, at.minute());
    put(16, 2, at.second());
    for i in 0..8 {
        b[19 + i] = HEX[((random >> (28 - 4 * i)) & 0xF) as usize];
    }
    OrdText(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example() {
        let id = OrderId::parse("ORD-20251114123456-a3f8d2b4").unwrap();
        assert_eq!(id.scheme(), "ORD");
        assert_eq!(id.to_string(), "ORD-20251114123456-a3f8d2b4");
        assert_eq!(id.display_id().to_string(), "ORD-A3F8D2");
        assert_eq!(id.timestamp().unwrap().to_rfc3339(), "2025-11-14T12:34:56+00:00");
    }

    #[test]
    fn any_case_in_canonical_out() {
        let id = OrderId::parse("  ord-20251114123456-A3F8D2B4 ").unwrap();
        assert_eq!(id.to_string(), "ORD-20251114123456-a3f8d2b4");
        let uuid = OrderId::parse("123E4567-E89B-12D3-A456-426614174000").unwrap();
        assert_eq!(uuid.to_string(), "123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(uuid.display_id().to_string(), "ORD-123E45");
    }

    #[test]
    fn rejects_impossible_dates_and_bad_parts() {
        for bad in [
            "ORD-20251314123456-a3f8d2b4", // month 13
            "ORD-20250230123456-a3f8d2b4", // 30 February
            "ORD-20251114246060-a3f8d2b4",
            "ORD-2025111412345-a3f8d2b4",
            "ORD-20251114123456-a3f8d2b",
            "ORD-20251114123456-a3f8d2bz",
            "ORD-20251114-a3f8d2b4", // the seed's own "tracking" example is not a valid ID
            "ORD-A3F8D2",
            "123e4567e89b12d3a456426614174000",
            "",
        ] {
            let err = OrderId::parse(bad).unwrap_err();
            assert!(!err.message().is_empty(), "{bad}");
        }
    }

    #[test]
    fn says_what_is_wrong() {
        let err = OrderId::parse("ORD-20251314123456-a3f8d2b4").unwrap_err();
        assert!(err.message().contains("not a real date"), "{err}");
        let err = OrderId::parse("ORD-20251114123456-xyz").unwrap_err();
        assert!(err.message().contains("8 hex digits"), "{err}");
    }
}
