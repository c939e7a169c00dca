//! Paths from outside: whether a request's path is canonical (one reading for the access
//! layer, the router and the file server), and whether a sign-in's `next` stays on this site.
//! Pure text checks, fuzzed (`fuzz/`).

/// Why `path` is not canonical, or the canonical path to redirect to (a trailing `/`).
/// Dot segments, encoded dots, slashes and backslashes, empty segments and control
/// characters are refused: the middleware, the router and the file server would each read
/// them differently.
pub fn canonical(path: &str) -> Result<(), Result<String, &'static str>> {
    if !path.starts_with('/') {
        return Err(Err("the path must start with /"));
    }
    let lower = path.to_ascii_lowercase();
    if path.contains('\\') || ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
        return Err(Err("the path contains an encoded dot, slash or a backslash"));
    }
    if path.bytes().any(|b| b.is_ascii_control())
        || lower.contains("%0")
        || lower.contains("%1")
        || lower.contains("%7f")
    {
        return Err(Err("the path contains a control character"));
    }
    if path.contains("//") {
        return Err(Err("the path contains an empty segment (//)"));
    }
    let inner = if path.len() > 1 { path.strip_suffix('/') } else { None };
    let body = inner.unwrap_or(path);
    if body.len() > 1 && body[1..].split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(Err("the path contains an empty, . or .. segment"));
    }
    match inner {
        Some(trimmed) => Err(Ok(trimmed.to_owned())),
        None => Ok(()),
    }
}

/// Only paths on this site, so `next` cannot send someone elsewhere. The value is read as
/// a browser would: percent-decoded (until it stops changing), it must still be a plain
/// path: no control characters or spaces, no backslash, no `//`, no dot segments.
pub fn local_path(next: Option<&str>) -> String {
    fn plain(p: &str) -> bool {
        p.starts_with('/')
            && !p.contains("//")
            && !p.contains('\\')
            && !p.chars().any(|c| c.is_control() || c.is_whitespace())
            && !p.split(['?', '#']).next().unwrap_or("").split('/').any(|seg| seg == "." || seg == "..")
    }
    let Some(next) = next else { return "/".to_owned() };
    let mut decoded = next.to_owned();
    for _ in 0..4 {
        if !plain(&decoded) {
            return "/".to_owned();
        }
        let again = percent_decode(&decoded);
        if again == decoded {
            return next.to_owned();
        }
        decoded = again;
    }
    "/".to_owned()
}

/// `%XX` sequences as bytes (anything else as it is), read as UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_paths_pass() {
        for ok in ["/", "/orders", "/orders/%23ORD-A3F8D2", "/api/v1/orders/BB-1-A1B2-00001", "/pkg/orderdesk.wasm"] {
            assert_eq!(canonical(ok), Ok(()), "{ok}");
        }
        assert_eq!(canonical("/orders/"), Err(Ok("/orders".to_owned())));
        for bad in [
            "/pkg/../audit",
            "/pkg/%2e%2e/orders",
            "/pkg/%2E%2E/orders",
            "/x/./audit",
            "/pkg%2f..%2faudit",
            "/pkg%5c..%5caudit",
            "/pkg\\..\\audit",
            "//audit",
            "//",
            "/orders//x",
            "/orders/..",
            "/orders/%00",
            "/orders/../",
        ] {
            assert!(matches!(canonical(bad), Err(Err(_))), "{bad}");
        }
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/orders/ORD-A3F8D2?x=1")), "/orders/ORD-A3F8D2?x=1");
        assert_eq!(local_path(Some("/orders/%23ORD-A3F8D2")), "/orders/%23ORD-A3F8D2");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "orders",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%2F/evil.example",
            "/%252F%252Fevil.example",
            "/%5Cevil.example",
            "/ /evil.example",
            "/x/../../evil",
            "/%2e%2e/audit",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
    }
}
