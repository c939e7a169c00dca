//! Staff accounts as the domain sees them: who may do what, and the input types that sign
//! someone in. Free of web and database types; the browser bundle uses `Role` and `Viewer`.

#[cfg(feature = "ssr")]
pub mod password;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::ids::ParseError;

/// What a staff member may do. `Support` reads (lookups, lists, counters, metrics); `Admin`
/// also changes data (indexes, migrations, profiling, users, API keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Support,
    Admin,
}

impl Role {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "support" => Ok(Self::Support),
            "admin" => Ok(Self::Admin),
            other => Err(ParseError::new(format!("role {other:?} is not one of: support, admin"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::Admin => "admin",
        }
    }

    /// Whether this role includes `needed` (admins can do all that support can).
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A staff member's sign-in name: an email address, trimmed and in lower case, so
/// `Ana@Shop.example ` and `ana@shop.example` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(ParseError::new("enter an email address"));
        }
        if s.len() > 254 {
            return Err(ParseError::new(format!("an email address is at most 254 characters; got {}", s.len())));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ParseError::new(format!("{s:?} is not an email address: it has no '@'")));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
            return Err(ParseError::new(format!("{s:?} is not an email address like name@example.com")));
        }
        if let Some(bad) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::new(format!("an email address cannot contain {bad:?}")));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// A password that meets the policy, for a new account. Length is what matters (NIST
/// SP 800-63B): 12 to 128 characters, no composition rules. Never printed.
pub struct NewPassword(String);

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

impl NewPassword {
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(ParseError::new(format!(
                "a password needs at least {MIN_PASSWORD_CHARS} characters; this one has {chars}"
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(ParseError::new(format!("a password is at most {MAX_PASSWORD_CHARS} characters")));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

/// The signed-in staff member, as the pages see them. `csrf` is the session's token that
/// every state-changing request must carry back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub role: Role,
    pub csrf: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// An API key as the admin page lists it: never the key or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub scope: ApiKeyScope,
    /// The one vendor the key may draw numbers for, when it is bound to one.
    pub vendor: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Calls one key may make per minute in one orderdesk process (the bootstrap key from the
/// environment has no rate and no budget).
pub const CALLS_PER_MINUTE: u32 = 6_000;
/// BB numbers one key may draw for one vendor in a day (in the configured zone)...
pub const NUMBERS_PER_VENDOR_DAY: u64 = 20_000;
/// ...and vendors it may draw numbers for in a day.
pub const VENDORS_PER_DAY: u64 = 1_000;

/// What an API key may do, one job each: read orders, create orders and sessions (order
/// IDs), draw BB numbers, or read the performance stats; `bots` is every bot job at once
/// (the one scope keys had before jobs were told apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApiKeyScope {
    Bots,
    OrdersRead,
    OrdersWrite,
    Numbers,
    Stats,
}

impl ApiKeyScope {
    pub const ALL: [Self; 5] = [Self::OrdersRead, Self::OrdersWrite, Self::Numbers, Self::Stats, Self::Bots];

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|s| s.as_str() == input.trim()).ok_or_else(|| {
            ParseError::new(format!(
                "scope {:?} is not one of: orders-read, orders-write, numbers, stats, bots",
                input.trim()
            ))
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bots => "bots",
            Self::OrdersRead => "orders-read",
            Self::OrdersWrite => "orders-write",
            Self::Numbers => "numbers",
            Self::Stats => "stats",
        }
    }

    /// Whether a key of this scope may do what needs `needed`.
    pub fn grants(self, needed: Self) -> bool {
        self == needed || (self == Self::Bots && matches!(needed, Self::OrdersRead | Self::OrdersWrite | Self::Numbers))
    }

    /// What the key opens, as the admin page explains it.
    pub fn opens(self) -> &'static str {
        match self {
            Self::Bots => "every /api/v1 call",
            Self::OrdersRead => "GET /api/v1/orders/{id}",
            Self::OrdersWrite => "POST /api/v1/orders and /api/v1/order-ids",
            Self::Numbers => "POST /api/v1/vendors/{v}/order-numbers",
            Self::Stats => "/api/performance/stats",
        }
    }
}

impl fmt::Display for ApiKeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key's name, for the admin who reads the list: 1 to 64 characters, trimmed, on
/// the page and on the command line alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let name = input.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(ParseError::new(format!(
                "give the key a name of 1 to {} characters without control characters, e.g. shipping-bot",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_key_names_parse_or_say_why_not() {
        assert_eq!(ApiKeyScope::parse("bots").unwrap(), ApiKeyScope::Bots);
        assert_eq!(ApiKeyScope::parse(" stats ").unwrap(), ApiKeyScope::Stats);
        assert!(ApiKeyScope::parse("admin").unwrap_err().to_string().contains("numbers, stats, bots"));
        assert_eq!(ApiKeyScope::parse("orders-read").unwrap(), ApiKeyScope::OrdersRead);
        assert!(ApiKeyScope::Bots.grants(ApiKeyScope::Numbers) && !ApiKeyScope::Bots.grants(ApiKeyScope::Stats));
        assert!(!ApiKeyScope::OrdersRead.grants(ApiKeyScope::OrdersWrite));
        assert!(ApiKeyScope::Numbers.grants(ApiKeyScope::Numbers));
        assert_eq!(ApiKeyName::parse(" shipping-bot ").unwrap().as_str(), "shipping-bot");
        assert!(ApiKeyName::parse("").is_err());
        assert!(ApiKeyName::parse(&"k".repeat(65)).is_err());
        assert!(ApiKeyName::parse("a\u{7}b").is_err());
        assert!(ApiKeyName::parse(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn roles_parse_and_order() {
        assert_eq!(Role::parse(" Admin ").unwrap(), Role::Admin);
        assert!(Role::parse("root").unwrap_err().to_string().contains("support, admin"));
        assert!(Role::Admin.allows(Role::Support));
        assert!(!Role::Support.allows(Role::Admin));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ana@Shop.Example ").unwrap().as_str(), "ana@shop.example");
        for bad in ["", "ana", "@shop.example", "ana@", "ana@shop", "a b@shop.example", "a@b@c.example"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.example", "a".repeat(300))).is_err());
    }

    #[test]
    fn passwords_need_twelve_characters_and_are_never_shown() {
        assert!(NewPassword::parse("short").unwrap_err().to_string().contains("at least 12"));
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
        let p = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword(…)");
    }
}
