//! Whatever was pasted, how orderdesk reads it: the parts of the ID, and "did you mean …"
//! when the text is not quite an ID (a lost digit, `O` for `0`, a missing dash, a URL or a
//! sentence around it). Pure: the search page, the order page and `orderdesk id explain`
//! show the same answer.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

// Reading needs the time-zone database, which only the server carries.
#[cfg(feature = "ssr")]
mod reading;
#[cfg(feature = "ssr")]
pub use reading::explain;

/// The longest text read for IDs inside it (a message or a URL pasted whole).
pub const MAX_PASTE: usize = 2_048;

/// One part of an ID and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

/// A valid ID near the text, and what was changed to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub text: String,
    pub why: String,
}

/// How a text was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The key as orderdesk writes it, when the text is one.
    pub key: Option<String>,
    /// What kind of key, in words ("an order ID (ORD)"), or why it is none.
    pub read_as: String,
    /// Whether the text was read as an ID scheme (not as a legacy id, which any word is).
    pub is_id: bool,
    pub facts: Vec<Fact>,
    /// The vendor-day counter a BB number's sequence came from: its day in the zone.
    pub counter_day: Option<NaiveDate>,
    /// Near forms that are IDs, when the text is none (or only a legacy id, which any
    /// word is).
    pub suggestions: Vec<Suggestion>,
    /// Said when the text cannot be read as an ID and nothing near it is one.
    pub hint: Option<String>,
}
