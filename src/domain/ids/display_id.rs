//! The bot's short display form `ORD-A3F8D2`, as customers quote it.

use std::fmt;

use super::{ParseError, check_len, preview, text_serde};

/// Six upper-case hex digits after `ORD-`: 24 bits, no time. Not unique — by about 4,800
/// orders there is an even chance two share one — so a lookup by it must list every match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DisplayId(u32);

impl DisplayId {
    pub(crate) fn from_bits(bits: u32) -> Self {
        Self(bits & 0x00FF_FFFF)
    }

    /// Accepts what customers paste: `#ORD-A3F8D2`, `ord-a3f8d2`, with spaces around.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        check_len(input, "a display ID")?;
        let s = input.trim();
        let s = s.strip_prefix('#').unwrap_or(s).trim_start();
        let hex = match s.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("ORD-") => &s[4..],
            _ => {
                return Err(ParseError::new(format!(
                    "{} is not a display ID: expected ORD- and 6 hex digits, like ORD-A3F8D2",
                    preview(input.trim())
                )));
            }
        };
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseError::new(format!(
                "{} is not a display ID: after ORD- come exactly 6 hex digits (0-9, A-F)",
                preview(input.trim())
            )));
        }
        let bits = u32::from_str_radix(hex, 16).map_err(|_| ParseError::new("a display ID's 6 digits must be hex"))?;
        Ok(Self(bits))
    }

    /// The six hex digits as stored in the indexed `display_id` field (upper case).
    pub fn bits(&self) -> u32 {
        self.0
    }
}

impl fmt::Display for DisplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ORD-{:06X}", self.0)
    }
}

text_serde!(DisplayId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_customers_paste() {
        for input in ["ORD-A3F8D2", "#ORD-A3F8D2", "ord-a3f8d2", "  #ord-A3f8D2 ", "# ORD-A3F8D2"] {
            assert_eq!(DisplayId::parse(input).unwrap().to_string(), "ORD-A3F8D2", "{input}");
        }
    }

    #[test]
    fn rejects_near_misses() {
        for input in ["ORD-A3F8D", "ORD-A3F8D2B", "ORD-A3F8DG", "A3F8D2", "##ORD-A3F8D2", "ORD-"] {
            assert!(DisplayId::parse(input).is_err(), "{input}");
        }
    }
}
