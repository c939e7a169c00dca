//! Order identifiers of both source systems, as types that can only hold valid values.
//!
//! Every parser here takes untrusted text (a customer's message, a URL segment, a CLI
//! argument) and either returns a typed value or a [`ParseError`] saying what is wrong.
//! Nothing downstream of these types ever re-checks a string.

mod bb_number;
mod counter_id;
mod display_id;
pub mod explain;
mod order_id;
mod partial_order_id;
mod query;
mod user_suffix;
mod vendor_id;

#[cfg(feature = "ssr")]
pub mod generate;
#[cfg(test)]
mod properties;

pub use bb_number::{BbNumber, BbStamp, BbVariant, MAX_DAILY_SEQUENCE, MAX_SEGMENT_BLOCK};
pub use counter_id::CounterId;
pub use display_id::DisplayId;
pub use order_id::OrderId;
pub use partial_order_id::{Narrowing, PartialOrderId};
pub use query::{IdPrefix, LegacyId, LookupKey, PrefixField, TelegramId};
pub use user_suffix::UserSuffix;
pub use vendor_id::VendorId;

/// Why a piece of text is not the identifier it was parsed as; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Longest input any parser looks at; longer text is rejected before any other work.
pub(crate) const MAX_INPUT_LEN: usize = 256;

/// Rejects oversized input with a message that does not echo it back.
pub(crate) fn check_len(s: &str, what: &str) -> Result<(), ParseError> {
    if s.len() > MAX_INPUT_LEN {
        return Err(ParseError::new(format!("{what} is at most {MAX_INPUT_LEN} characters; got {}", s.len())));
    }
    Ok(())
}

/// Parses exactly `n` ASCII digits into a number; `None` for anything else.
pub(crate) fn digits(s: &str, n: usize) -> Option<u64> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A short, safe rendering of untrusted input for error messages.
pub(crate) fn preview(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().nth(40).is_some() {
        out.push('…');
    }
    format!("{out:?}")
}

/// Serialises an ID as its canonical text and deserialises through its parser, so an ID
/// read from JSON or a server-function argument is as trustworthy as one parsed by hand.
macro_rules! text_serde {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::domain::ids::ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }
    };
}
pub(crate) use text_serde;
