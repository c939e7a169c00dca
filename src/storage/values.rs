//! Values as the server sends them back: a time stored as a BSON date (or, by older
//! writers, RFC 3339 text), a count as a 32- or 64-bit integer or a double.

use chrono::{DateTime, Utc};
use mongodb::bson::{Bson, DateTime as BsonTime, Document};

use super::StorageError;

/// One of orderdesk's own documents read as its type; a document that does not parse is
/// [`StorageError::Corrupt`], naming it, never a default.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(collection: &'static str, d: Document) -> Result<T, StorageError> {
    let id = match d.get("_id") {
        Some(Bson::ObjectId(oid)) => oid.to_hex(),
        Some(other) => other.to_string(),
        None => "without _id".to_owned(),
    };
    mongodb::bson::from_document(d).map_err(|e| StorageError::Corrupt { collection, id, problem: e.to_string() })
}

/// A time as a BSON date (milliseconds: what MongoDB keeps).
pub(crate) fn bson_time(t: DateTime<Utc>) -> BsonTime {
    BsonTime::from_millis(t.timestamp_millis())
}

/// A BSON date read back (one outside chrono's range, thousands of years off, as the epoch).
pub(crate) fn chrono_time(t: BsonTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

pub(crate) fn datetime(b: Option<&Bson>) -> Option<DateTime<Utc>> {
    match b? {
        Bson::DateTime(t) => DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()),
        Bson::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
        _ => None,
    }
}

/// A count as the server sends it (32- or 64-bit, or a double).
pub(crate) fn count(v: Option<&Bson>) -> u64 {
    match v {
        Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Double(x)) if *x >= 0.0 => *x as u64,
        _ => 0,
    }
}

/// An amount as a number of any BSON type.
pub(crate) fn number(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::Double(x) => Some(*x),
        Bson::Int32(x) => Some(f64::from(*x)),
        Bson::Int64(x) => Some(*x as f64),
        Bson::Decimal128(x) => x.to_string().parse().ok(),
        _ => None,
    }
}
