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

pub use crate::domain::text::{escape_html, urlencode};

/// The order page of an order key.
pub fn order_href(key: &str) -> String {
    format!("/orders/{}", urlencode(key))
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
    fn shows_missing_values_as_a_dash() {
        assert_eq!(money(None, None), "—");
        assert_eq!(money(Some(25.5), Some("USD")), "$25.50");
        assert_eq!(text(Some("")), "—");
    }
}
