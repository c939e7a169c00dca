//! The canonical-path check every request meets, and the sign-in's `next`: no panic; a path
//! let through has no dot segment, encoded separator or control character; a redirect's
//! target is itself canonical; `next` is always a local path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderdesk::domain::paths::{canonical, local_path};

fuzz_target!(|text: &str| {
    match canonical(text) {
        Ok(()) => {
            assert!(text.starts_with('/') && !text.contains("//") && !text.contains('\\'));
            assert!(!text.split('/').any(|s| s == "." || s == ".."), "{text:?}");
        }
        Err(Ok(to)) => assert_eq!(canonical(&to), Ok(()), "{text:?} → {to:?}"),
        Err(Err(_)) => {}
    }
    let next = local_path(Some(text));
    assert!(next == "/" || next == text, "{text:?} → {next:?}");
    assert!(next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'), "{next:?}");
});
