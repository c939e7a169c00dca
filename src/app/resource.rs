//! The pages' resources, read in the browser as server functions' answers are.
//!
//! A resource's value reaches the browser in two ways: written into the page for hydration (a
//! string) and as its server function's answer (bytes). Leptos's default codec reads the first
//! with `serde_json::from_str` and the server function reads the second with `from_slice`, so
//! the bundle held each answer type's JSON reader twice, one per input kind. Reading both from
//! bytes keeps one (BENCHMARKS.md, "The bundle").

use leptos::{
    prelude::*,
    server::codee::{Decoder, Encoder},
};
use serde::{Serialize, de::DeserializeOwned};

/// JSON, read from bytes whichever way it came.
pub struct JsonBytes;

impl<T: Serialize> Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(encoded: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(encoded.as_bytes())
    }
}

/// A page's resource (what `Resource::new` makes, with [`JsonBytes`]).
pub type PageResource<T> = Resource<T, JsonBytes>;

/// `Resource::new` for the pages: `fetcher` runs whenever `source` changes.
#[track_caller]
pub fn page_resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> PageResource<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_back_as_it_went() {
        let value: Result<Vec<(String, Option<f64>)>, String> = Ok(vec![("ORD-A3F8D2 \"é\"".into(), Some(49.49))]);
        let encoded = JsonBytes::encode(&value).unwrap();
        let decoded: Result<Vec<(String, Option<f64>)>, String> = JsonBytes::decode(&encoded).unwrap();
        assert_eq!(decoded, value);
        assert!(<JsonBytes as Decoder<u8>>::decode("256").is_err());
    }
}
