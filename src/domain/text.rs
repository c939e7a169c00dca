//! Text for addresses and hand-built HTML, shared by every layer that writes either.

/// Percent-encodes a path segment or query value (IDs are ASCII; anything else is encoded).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML and SVG built as strings (the sign-in page, refusals, charts).
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A CSV text cell, quoted, and defused when it starts like a formula (OWASP's CSV-injection
/// guidance; order fields come from bots and customers: never trusted).
pub fn csv_cell(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']) { "'" } else { "" };
    format!("\"{defused}{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_values_and_escapes_markup() {
        assert_eq!(urlencode("ORD-20251114123456-a3f8d2b4"), "ORD-20251114123456-a3f8d2b4");
        assert_eq!(urlencode("#a b&c"), "%23a%20b%26c");
        assert_eq!(escape_html(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
