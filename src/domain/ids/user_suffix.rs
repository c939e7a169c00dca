//! The four user characters inside a BB number.

use std::fmt;

use super::{ParseError, check_len};

/// The last four characters of a user id, upper case.
///
/// The marketplace takes `userId.slice(-4).toUpperCase()`, which for unusual ids yields
/// fewer than four characters or punctuation inside an order number. orderdesk decides:
/// only ASCII letters and digits count (others are dropped first), and an id with fewer
/// than four of them is left-padded with `0`. An id with none is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserSuffix([u8; 4]);

impl UserSuffix {
    /// Derives the suffix from a user id as the marketplace stores it.
    pub fn from_user_id(user_id: &str) -> Result<Self, ParseError> {
        check_len(user_id, "a user id")?;
        let kept: Vec<u8> = user_id.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_uppercase()).collect();
        if kept.is_empty() {
            return Err(ParseError::new("a user id needs at least one letter or digit (A-Z, a-z, 0-9)"));
        }
        let mut out = [b'0'; 4];
        let take = kept.len().min(4);
        out[4 - take..].copy_from_slice(&kept[kept.len() - take..]);
        Ok(Self(out))
    }

    /// Parses the suffix as it appears inside a BB number (any case in, upper case out).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bytes = s.as_bytes();
        if bytes.len() != 4 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ParseError::new("the user part must be 4 letters or digits"));
        }
        let mut out = [0; 4];
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b.to_ascii_uppercase();
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("0000")
    }
}

impl fmt::Display for UserSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_last_four_alphanumerics_upper_case() {
        let s = |id| UserSuffix::from_user_id(id).unwrap().to_string();
        assert_eq!(s("6834622e10d75a5ba7b7a1b2"), "A1B2");
        assert_eq!(s("user-42"), "ER42");
        assert_eq!(s("a_b-c.d"), "ABCD");
        assert_eq!(s("7"), "0007");
        assert_eq!(s("ab"), "00AB");
    }

    #[test]
    fn rejects_ids_without_letters_or_digits() {
        assert!(UserSuffix::from_user_id("").is_err());
        assert!(UserSuffix::from_user_id("--__").is_err());
        assert!(UserSuffix::from_user_id("üé").is_err());
    }
}
