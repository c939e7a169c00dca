//! What a support agent pastes, read as exactly one kind of key.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BbNumber, DisplayId, OrderId, ParseError, PartialOrderId, check_len, preview};

/// A customer's Telegram id: digits only, as the bot stores it (an integer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TelegramId(pub i64);

/// The bot's older `id` field (`order_1700000000_3`): letters, digits, `_`, `-`, `.`, `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LegacyId(String);

impl LegacyId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok =
            !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ParseError::new(format!(
                "{} is not a legacy order id: letters, digits, '_', '-', '.', ':' only, at most 128",
                preview(s)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one way an input is read. Parsing tries the specific forms first, so `ORD-A3F8D2`
/// is a display id, never a legacy id; only text matching no ID scheme is a legacy id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LookupKey {
    OrderId(OrderId),
    DisplayId(DisplayId),
    OrderNumber(BbNumber),
    /// An ORD ID with digits missing (cut in a log line, the time of day dropped).
    Partial(PartialOrderId),
    TelegramId(TelegramId),
    LegacyId(LegacyId),
}

impl LookupKey {
    /// Reads pasted text: surrounding spaces and a leading `#` are ignored.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "a search")?;
        let s = input.trim();
        let s = s.strip_prefix('#').unwrap_or(s).trim();
        if s.is_empty() {
            return Err(ParseError::new(
                "type an order ID, a display ID (ORD-A3F8D2), a BB number, a legacy id or a telegram id",
            ));
        }
        if let Ok(id) = OrderId::parse(s) {
            return Ok(Self::OrderId(id));
        }
        if let Ok(id) = DisplayId::parse(s) {
            return Ok(Self::DisplayId(id));
        }
        let starts = |prefix: &str| s.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
        if starts("BB-") {
            return BbNumber::parse(s).map(Self::OrderNumber);
        }
        if starts("ORD-") {
            // Looks like an ORD id but is not whole: what is left of it, or why it is none
            // (rather than searching legacy ids).
            return match PartialOrderId::parse(s) {
                Ok(partial) => Ok(Self::Partial(partial)),
                // Fourteen digits and eight hex: the whole form, and its own reason.
                Err(_) if s.len() == 4 + 14 + 1 + 8 => {
                    Err(OrderId::parse(s).err().unwrap_or_else(|| ParseError::new("not an order ID")))
                }
                Err(e) => Err(e),
            };
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<i64>() {
                Ok(n) if n > 0 && s.len() <= 15 => Ok(Self::TelegramId(TelegramId(n))),
                _ => Err(ParseError::new(format!(
                    "{} is all digits but too long for a telegram id (at most 15 digits)",
                    preview(s)
                ))),
            };
        }
        LegacyId::parse(s).map(Self::LegacyId).map_err(|_| {
            ParseError::new(format!(
                "{} is not an order ID (ORD-YYYYMMDDHHMMSS-xxxxxxxx or a UUID), a display ID \
                 (ORD-A3F8D2), a BB number (BB-1701234567890-A1B2-00001), a telegram id or a legacy id",
                preview(s)
            ))
        })
    }

    /// How the input was read, in words for the search page.
    pub fn describe(&self) -> String {
        match self {
            Self::OrderId(id) => format!("an order ID ({})", id.scheme()),
            Self::DisplayId(_) => "a display ID (short form, may match several orders)".into(),
            Self::OrderNumber(n) => format!("a {} order number", n.variant().label()),
            Self::Partial(p) => p.describe(),
            Self::TelegramId(_) => "a telegram id".into(),
            Self::LegacyId(_) => "a legacy order id".into(),
        }
    }
}

impl fmt::Display for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OrderId(id) => id.fmt(f),
            Self::DisplayId(id) => id.fmt(f),
            Self::OrderNumber(n) => n.fmt(f),
            Self::Partial(p) => p.fmt(f),
            Self::TelegramId(t) => t.0.fmt(f),
            Self::LegacyId(l) => f.write_str(l.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> &'static str {
        match LookupKey::parse(s) {
            Ok(LookupKey::OrderId(_)) => "order",
            Ok(LookupKey::DisplayId(_)) => "display",
            Ok(LookupKey::OrderNumber(_)) => "bb",
            Ok(LookupKey::Partial(_)) => "partial",
            Ok(LookupKey::TelegramId(_)) => "telegram",
            Ok(LookupKey::LegacyId(_)) => "legacy",
            Err(_) => "error",
        }
    }

    #[test]
    fn reads_every_form() {
        assert_eq!(kind("ORD-20251114123456-a3f8d2b4"), "order");
        assert_eq!(kind("123e4567-e89b-12d3-a456-426614174000"), "order");
        assert_eq!(kind("#ORD-A3F8D2"), "display");
        assert_eq!(kind(" ord-a3f8d2 "), "display");
        assert_eq!(kind("BB-1701234567890-A1B2-00001"), "bb");
        assert_eq!(kind("123456789"), "telegram");
        assert_eq!(kind("order_1700000000_3"), "legacy");
        assert_eq!(kind("ORD-2025111"), "partial");
        assert_eq!(kind("ORD-20251114-a3f8d2b4"), "partial");
        assert_eq!(kind("ORD-202511"), "display", "six hex digits are a display form first");
    }

    #[test]
    fn refuses_garbage_and_operators_with_a_reason() {
        for bad in [
            "",
            "   ",
            "#",
            ".*",
            "{\"$gt\": \"\"}",
            "'; db.dropDatabase()",
            "ORD-12",
            "BB-1-2-3",
            "0",
            "12345678901234567890",
        ] {
            let err = LookupKey::parse(bad).unwrap_err();
            assert!(!err.message().is_empty(), "{bad}");
        }
        assert!(LookupKey::parse(&"x".repeat(10_000)).is_err());
    }
}

/// Which stored field a typed prefix can be the start of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrefixField {
    OrderId,
    DisplayId,
    OrderNumber,
}

/// The start of an ID as someone types it, normalised to how IDs are stored, for
/// search-as-you-type. Only ID characters are kept; the storage layer turns it into an
/// index range (`$gte prefix`, `$lt prefix~`), never a regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdPrefix {
    pub field: PrefixField,
    pub text: String,
}

impl IdPrefix {
    /// Every field the input could be the start of; empty when it is too short (under 4
    /// characters) or could start no ID.
    pub fn candidates(input: &str) -> Vec<Self> {
        let s = input.trim();
        let s = s.strip_prefix('#').unwrap_or(s).trim();
        if !(4..=40).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Vec::new();
        }
        let starts = |p: &str| s.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p));
        let mut out = Vec::new();
        if starts("ORD-") {
            let rest = &s[4..];
            if rest.len() <= 6 && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(Self { field: PrefixField::DisplayId, text: format!("ORD-{}", rest.to_ascii_uppercase()) });
            }
            let (stamp, hex) = rest.split_once('-').unwrap_or((rest, ""));
            if stamp.len() <= 14
                && stamp.bytes().all(|b| b.is_ascii_digit())
                && (hex.is_empty()
                    || (stamp.len() == 14 && hex.len() <= 8 && hex.bytes().all(|b| b.is_ascii_hexdigit())))
            {
                out.push(Self {
                    field: PrefixField::OrderId,
                    text: format!(
                        "ORD-{stamp}{}",
                        if rest.contains('-') { format!("-{}", hex.to_ascii_lowercase()) } else { String::new() }
                    ),
                });
            }
        } else if starts("BB-") {
            out.push(Self { field: PrefixField::OrderNumber, text: s.to_ascii_uppercase() });
        } else if s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') && s.len() <= 36 {
            out.push(Self { field: PrefixField::OrderId, text: s.to_ascii_lowercase() });
        }
        out
    }
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    fn fields(s: &str) -> Vec<(PrefixField, String)> {
        IdPrefix::candidates(s).into_iter().map(|p| (p.field, p.text)).collect()
    }

    #[test]
    fn reads_prefixes_as_stored() {
        assert_eq!(fields("#ord-a3f"), [(PrefixField::DisplayId, "ORD-A3F".into())]);
        assert_eq!(
            fields("ORD-2025"),
            [(PrefixField::DisplayId, "ORD-2025".into()), (PrefixField::OrderId, "ORD-2025".into())]
        );
        assert_eq!(fields("ORD-20251114123456-A3F8"), [(PrefixField::OrderId, "ORD-20251114123456-a3f8".into())]);
        assert_eq!(fields("bb-1701"), [(PrefixField::OrderNumber, "BB-1701".into())]);
        assert_eq!(fields("123E4567-e8"), [(PrefixField::OrderId, "123e4567-e8".into())]);
    }

    #[test]
    fn ignores_short_and_foreign_text() {
        for s in ["ORD", "ab", ".*", "ORD-2025$", "a b c d", "hello"] {
            assert!(IdPrefix::candidates(s).is_empty(), "{s}");
        }
    }
}
