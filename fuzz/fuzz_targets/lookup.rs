//! What a search box, the palette and `/orders/{key}` meet: any text as a lookup key, and
//! the explainer's reading of it. Neither may panic, and the explainer's answer for one text
//! is the same each time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderdesk::domain::ids::{LookupKey, explain::explain};

fuzz_target!(|text: &str| {
    if let Ok(key) = LookupKey::parse(text) {
        // A key reads back as itself.
        assert_eq!(LookupKey::parse(&key.to_string()).ok(), Some(key));
    }
    let first = explain(text, chrono_tz::UTC);
    assert_eq!(first, explain(text, chrono_tz::UTC));
});
