//! Property tests: every generated ID parses back to itself, and no input makes a
//! parser panic.

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;

use super::*;

fn ord_ids() -> impl Strategy<Value = OrderId> {
    // Years 1970-9999: the ID's timestamp field has four digits.
    (0i64..253_402_300_799, any::<u32>())
        .prop_map(|(secs, random)| OrderId::ord(DateTime::<Utc>::from_timestamp(secs, 0).unwrap(), random))
}

fn uuid_ids() -> impl Strategy<Value = OrderId> {
    any::<[u8; 16]>().prop_map(|b| OrderId::Uuid(uuid::Builder::from_random_bytes(b).into_uuid()))
}

fn suffixes() -> impl Strategy<Value = UserSuffix> {
    "[A-Za-z0-9]{1,30}".prop_map(|s| UserSuffix::from_user_id(&s).unwrap())
}

fn bb_numbers() -> impl Strategy<Value = BbNumber> {
    let stamp = prop_oneof![
        (0u64..=9_999_999_999_999).prop_map(BbStamp::Millis),
        (0u64..=9_999_999_999).prop_map(BbStamp::Seconds),
        (0i32..3_000_000).prop_map(|d| BbStamp::Date(
            NaiveDate::from_num_days_from_ce_opt(d)
                .unwrap_or(NaiveDate::MIN)
                .max(NaiveDate::from_ymd_opt(1, 1, 1).unwrap())
        )),
    ];
    (stamp, suffixes(), 1u32..=MAX_DAILY_SEQUENCE).prop_map(|(stamp, user, sequence)| BbNumber {
        stamp,
        user,
        sequence,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn ord_ids_round_trip(id in ord_ids()) {
        let text = id.to_string();
        prop_assert_eq!(OrderId::parse(&text)?, id);
        prop_assert_eq!(LookupKey::parse(&text)?, LookupKey::OrderId(id));
        let display = id.display_id();
        prop_assert_eq!(DisplayId::parse(&format!("#{}", display.to_string().to_lowercase()))?, display);
    }

    #[test]
    fn uuid_ids_round_trip_in_any_case(id in uuid_ids()) {
        let text = id.to_string();
        prop_assert_eq!(OrderId::parse(&text.to_uppercase())?, id);
        prop_assert_eq!(text.to_lowercase(), text);
    }

    #[test]
    fn bb_numbers_round_trip(n in bb_numbers()) {
        let text = n.to_string();
        prop_assert_eq!(BbNumber::parse(&text)?, n);
        prop_assert_eq!(LookupKey::parse(&format!(" #{text} "))?, LookupKey::OrderNumber(n));
    }

    #[test]
    fn counter_ids_round_trip(days in 0i32..3_000_000, vendor in "[A-Za-z0-9_-]{1,64}") {
        let day = NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        prop_assume!(day.format("%Y").to_string().len() == 4);
        let id = CounterId::new(day, VendorId::parse(&vendor)?);
        prop_assert_eq!(CounterId::parse(&id.to_string())?, id);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in "\\PC{0,300}") {
        let _ = OrderId::parse(&s);
        let _ = DisplayId::parse(&s);
        let _ = BbNumber::parse(&s);
        let _ = CounterId::parse(&s);
        let _ = VendorId::parse(&s);
        let _ = UserSuffix::from_user_id(&s);
        let _ = LookupKey::parse(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(s in "(#| )?(ORD|ord|BB|bb)-[0-9A-Fa-f]{0,20}(-[0-9A-Za-z]{0,8}){0,4}") {
        let _ = LookupKey::parse(&s);
        let _ = BbNumber::parse(&s);
        let _ = OrderId::parse(&s);
    }
}

#[test]
fn parsers_refuse_a_megabyte_quickly_and_without_panicking() {
    for filler in ["a", "é", "9", "-"] {
        let big = format!("ORD-{}", filler.repeat(1_000_000));
        assert!(OrderId::parse(&big).is_err());
        assert!(DisplayId::parse(&big).is_err());
        assert!(BbNumber::parse(&big).is_err());
        assert!(CounterId::parse(&big).is_err());
        assert!(VendorId::parse(&big).is_err());
        assert!(UserSuffix::from_user_id(&big).is_err());
        let err = LookupKey::parse(&big).unwrap_err();
        assert!(err.message().contains("at most"), "{err}");
    }
}

/// Near-ID text: a valid ORD or UUID id in any case, with at most one character dropped,
/// doubled or changed.
fn near_ids() -> impl Strategy<Value = String> {
    let id = prop_oneof![ord_ids(), uuid_ids()].prop_map(|id| id.to_string());
    (id, any::<bool>(), 0usize..40, 0u8..4, "[0-9a-zA-Z\\-]").prop_map(|(id, upper, at, how, c)| {
        let id = if upper { id.to_uppercase() } else { id.to_lowercase() };
        let at = at.min(id.len().saturating_sub(1));
        match how {
            0 => id,
            1 => format!("{}{}", &id[..at], &id[at + 1..]),
            2 => format!("{}{}{}", &id[..at], &id[at..=at], &id[at..]),
            _ => format!("{}{c}{}", &id[..at], &id[at + 1..]),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    /// The database's view of a stored `order_id` (the patterns in its queries) and
    /// `OrderId::parse` agree, except for ORD digits that are no date (the pattern's limit).
    #[test]
    fn the_stored_form_patterns_agree_with_the_parser(text in near_ids()) {
        let (ord, uuid) = (regex::Regex::new(OrderId::ORD_PATTERN).unwrap(), regex::Regex::new(OrderId::UUID_PATTERN).unwrap());
        match OrderId::parse(&text) {
            Ok(OrderId::Ord { .. }) => prop_assert!(ord.is_match(&text) && !uuid.is_match(&text), "{}", text),
            Ok(OrderId::Uuid(_)) => prop_assert!(uuid.is_match(&text) && !ord.is_match(&text), "{}", text),
            Err(_) => {
                prop_assert!(!uuid.is_match(&text), "{}", text);
                if ord.is_match(&text) {
                    let digits = &text[4..18];
                    prop_assert!(NaiveDate::parse_from_str(&digits[..8], "%Y%m%d").is_err()
                        || chrono::NaiveTime::parse_from_str(&digits[8..], "%H%M%S").is_err(), "{}", text);
                }
            }
        }
    }
}
