//! The order list's filter and cursor, parsed from query parameters; shared by the page,
//! its server function and the CSV export so all three mean exactly the same set.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    ids::{ParseError, VendorId},
    orders::{OrderStatus, Source},
};

/// Which identifier an order carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemeFilter {
    Ord,
    Uuid,
    Bb,
    /// `order_id` missing, null or empty: the legacy orders the migration fixes.
    Missing,
}

impl SchemeFilter {
    pub const ALL: [(Self, &'static str, &'static str); 4] = [
        (Self::Ord, "ord", "ORD-…"),
        (Self::Uuid, "uuid", "UUID"),
        (Self::Bb, "bb", "with BB number"),
        (Self::Missing, "missing", "order_id missing"),
    ];

    fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL
            .iter()
            .find(|(_, code, _)| *code == s)
            .map(|(f, _, _)| *f)
            .ok_or_else(|| ParseError::new(format!("scheme must be one of ord, uuid, bb, missing; got {s:?}")))
    }

    pub fn code(self) -> &'static str {
        Self::ALL.iter().find(|(f, _, _)| *f == self).map(|(_, c, _)| *c).unwrap_or("ord")
    }
}

/// Where a page starts: after this (created_at, _id) in newest-first order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub created_ms: i64,
    /// The document's ObjectId as 24 hex digits.
    pub oid: String,
}

impl Cursor {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("the page cursor is damaged; go back to the first page");
        let (ms, oid) = s.split_once('.').ok_or_else(bad)?;
        let created_ms = ms.parse::<i64>().map_err(|_| bad())?;
        if oid.len() != 24 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Self { created_ms, oid: oid.to_ascii_lowercase() })
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_ms, self.oid)
    }
}

/// A validated list filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub vendor: Option<VendorId>,
    /// Inclusive UTC day bounds.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub scheme: Option<SchemeFilter>,
    /// Which system's orders (the shipping bot's or the marketplace's).
    pub source: Option<Source>,
}

/// The raw query parameters, as a form sends them (empty means "any").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub after: String,
}

impl ListParams {
    /// Parses the filter and cursor; the error names the field to fix.
    pub fn parse(&self) -> Result<(OrderFilter, Option<Cursor>), ParseError> {
        let some = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        let day = |name: &str, s: &str| -> Result<Option<NaiveDate>, ParseError> {
            some(s)
                .map(|d| {
                    NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|_| ParseError::new(format!("{name} must be a date like 2026-11-21; got {d:?}")))
                })
                .transpose()
        };
        let filter = OrderFilter {
            status: some(&self.status).map(|s| OrderStatus::parse(&s)).transpose()?,
            vendor: some(&self.vendor).map(|v| VendorId::parse(&v)).transpose()?,
            from: day("from", &self.from)?,
            to: day("to", &self.to)?,
            scheme: some(&self.scheme).map(|s| SchemeFilter::parse(&s)).transpose()?,
            source: some(&self.source).map(|s| Source::parse(&s)).transpose()?,
        };
        if let (Some(f), Some(t)) = (filter.from, filter.to)
            && f > t
        {
            return Err(ParseError::new("from must not be after to"));
        }
        let cursor = some(&self.after).map(|c| Cursor::parse(&c)).transpose()?;
        Ok((filter, cursor))
    }

    /// The same filter as a query string (no cursor), for links and the CSV export.
    pub fn query(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("vendor", &self.vendor),
            ("from", &self.from),
            ("to", &self.to),
            ("scheme", &self.scheme),
            ("source", &self.source),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", crate::domain::text::urlencode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl OrderFilter {
    /// Start of `from` and end of `to`: days in `tz`, the zone the counters' days are in.
    pub fn bounds<Z: chrono::TimeZone>(&self, tz: &Z) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let start = self.from.map(|d| crate::domain::days::day_start(tz, d));
        let end = self.to.map(|d| crate::domain::days::day_end(tz, d));
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut p = ListParams::default();
        for (k, v) in pairs {
            let v = v.to_string();
            match *k {
                "status" => p.status = v,
                "vendor" => p.vendor = v,
                "from" => p.from = v,
                "to" => p.to = v,
                "scheme" => p.scheme = v,
                "source" => p.source = v,
                _ => p.after = v,
            }
        }
        p
    }

    #[test]
    fn empty_fields_mean_any() {
        let (f, c) = params(&[("status", " "), ("vendor", "")]).parse().unwrap();
        assert_eq!(f, OrderFilter::default());
        assert!(c.is_none());
    }

    #[test]
    fn each_bad_field_is_named() {
        for (field, value) in [
            ("status", "lost"),
            ("vendor", "$gt"),
            ("from", "yesterday"),
            ("scheme", "xml"),
            ("source", "erp"),
            ("after", "12.zz"),
        ] {
            let err = params(&[(field, value)]).parse().unwrap_err().to_string();
            assert!(err.contains(field) || err.contains("vendor id") || err.contains("cursor"), "{field}: {err}");
        }
        assert!(params(&[("from", "2026-02-02"), ("to", "2026-02-01")]).parse().is_err());
    }

    #[test]
    fn dates_are_days_in_the_configured_zone_to_is_inclusive() {
        let (f, _) = params(&[("from", "2026-03-08"), ("to", "2026-03-08")]).parse().unwrap();
        let (start, end) = f.bounds(&Utc);
        assert_eq!(
            (start.unwrap().to_rfc3339(), end.unwrap().to_rfc3339()),
            ("2026-03-08T00:00:00+00:00".into(), "2026-03-09T00:00:00+00:00".into())
        );
        let zone = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
        let (start, end) = f.bounds(&zone);
        assert_eq!(
            (start.unwrap().to_rfc3339(), end.unwrap().to_rfc3339()),
            ("2026-03-07T22:00:00+00:00".into(), "2026-03-08T22:00:00+00:00".into())
        );
    }

    #[test]
    fn cursors_round_trip_and_queries_keep_the_filter() {
        let c = Cursor { created_ms: 1_700_000_000_000, oid: "65a1b2c3d4e5f60718293a4b".into() };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        let p = params(&[
            ("status", "failed"),
            ("vendor", "pizza-palace"),
            ("source", "marketplace"),
            ("after", &c.encode()),
        ]);
        assert_eq!(p.query(), "status=failed&vendor=pizza-palace&source=marketplace");
        assert_eq!(p.parse().unwrap().0.source, Some(Source::Marketplace));
    }
}
