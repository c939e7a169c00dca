//! How values read on screen. Missing values are "—", never an error.

use chrono::{DateTime, Utc};

pub const MISSING: &str = "—";

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| MISSING.into())
}

pub fn money(amount: Option<f64>, currency: Option<&str>) -> String {
    match (amount, currency) {
        (Some(a), Some(c)) if c != "USD" => format!("{a:.2} {c}"),
        (Some(a), _) => format!("${a:.2}"),
        (None, _) => MISSING.into(),
    }
}

pub fn text(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or(MISSING).to_owned()
}

/// 1234567 → "1,234,567".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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

/// The order page of an order key.
pub fn order_href(key: &str) -> String {
    format!("/orders/{}", urlencode(key))
}

/// Escapes text for HTML and SVG built as strings (charts).
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }

    #[test]
    fn encodes_values_and_shows_missing_ones_as_a_dash() {
        assert_eq!(urlencode("ORD-20251114123456-a3f8d2b4"), "ORD-20251114123456-a3f8d2b4");
        assert_eq!(urlencode("#a b&c"), "%23a%20b%26c");
        assert_eq!(money(None, None), "—");
        assert_eq!(money(Some(25.5), Some("USD")), "$25.50");
        assert_eq!(text(Some("")), "—");
    }
}
