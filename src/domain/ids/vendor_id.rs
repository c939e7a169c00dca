//! A marketplace vendor's id, as used in counter ids and API paths.

use std::fmt;

use super::{ParseError, preview, text_serde};

/// 1 to 64 ASCII letters, digits, `_` or `-` (a Mongo ObjectId's 24 hex digits fit).
/// Kept exactly as given: vendor ids are case-sensitive in the marketplace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendorId(String);

pub(crate) const MAX_VENDOR_LEN: usize = 64;

impl VendorId {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        if input.is_empty() {
            return Err(ParseError::new("a vendor id must not be empty"));
        }
        if input.len() > MAX_VENDOR_LEN {
            return Err(ParseError::new(format!(
                "a vendor id is at most {MAX_VENDOR_LEN} characters; got {}",
                input.len()
            )));
        }
        if let Some(bad) = input.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
            return Err(ParseError::new(format!(
                "vendor id {} has {bad:?}: only letters, digits, '_' and '-' are allowed",
                preview(input)
            )));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VendorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_serde!(VendorId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_object_ids_and_slugs() {
        for ok in ["6834622e10d75a5ba7b7740d", "pizza-palace", "V_1"] {
            assert_eq!(VendorId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_empty_long_and_operators() {
        assert!(VendorId::parse("").is_err());
        assert!(VendorId::parse(&"a".repeat(65)).is_err());
        for bad in ["$gt", "a b", "a/b", "a.b", "{}"] {
            assert!(VendorId::parse(bad).is_err(), "{bad}");
        }
    }
}
