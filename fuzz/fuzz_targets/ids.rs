//! Every ID parser: none panics, and whatever parses prints as text that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderdesk::domain::ids::{BbNumber, CounterId, DisplayId, OrderId, VendorId};

fuzz_target!(|text: &str| {
    if let Ok(id) = OrderId::parse(text) {
        assert_eq!(OrderId::parse(&id.to_string()).ok(), Some(id));
    }
    if let Ok(id) = DisplayId::parse(text) {
        assert_eq!(DisplayId::parse(&id.to_string()).ok(), Some(id));
    }
    if let Ok(n) = BbNumber::parse(text) {
        assert_eq!(BbNumber::parse(&n.to_string()).ok(), Some(n));
    }
    if let Ok(c) = CounterId::parse(text) {
        assert_eq!(CounterId::parse(&c.to_string()).ok(), Some(c));
    }
    if let Ok(v) = VendorId::parse(text) {
        assert_eq!(VendorId::parse(v.as_str()).ok(), Some(v));
    }
});
