//! Reading a text: the facts of each scheme, and the near forms tried when it is none.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Explanation, Fact, Suggestion};
use crate::domain::ids::{
    BbNumber, BbStamp, LookupKey, MAX_DAILY_SEQUENCE, Narrowing, OrderId, PartialOrderId, preview,
};

fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact { label: label.into(), value: value.into() }
}

fn zoned(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    let local = at.with_timezone(&zone);
    format!("{} ({}) · {} UTC", local.format("%Y-%m-%d %H:%M:%S"), zone, at.format("%Y-%m-%d %H:%M:%S"))
}

/// Explains `input`, reading times in `zone` (the configured business zone).
pub fn explain(input: &str, zone: chrono_tz::Tz) -> Explanation {
    let parsed = LookupKey::parse(input);
    let mut out = match &parsed {
        Ok(key) => Explanation {
            key: Some(key.to_string()),
            read_as: key.describe(),
            is_id: !matches!(key, LookupKey::LegacyId(_)),
            facts: facts(key, zone),
            counter_day: counter_day(key, zone),
            suggestions: Vec::new(),
            hint: None,
        },
        Err(e) => Explanation {
            key: None,
            read_as: e.message().to_owned(),
            is_id: false,
            facts: Vec::new(),
            counter_day: None,
            suggestions: Vec::new(),
            hint: None,
        },
    };
    if !out.is_id {
        out.suggestions = near_forms(input);
        if out.suggestions.is_empty() {
            out.hint = digit_count_hint(input);
        }
    }
    out
}

fn facts(key: &LookupKey, zone: chrono_tz::Tz) -> Vec<Fact> {
    match key {
        LookupKey::OrderId(id @ OrderId::Ord { random, .. }) => vec![
            fact("Scheme", "ORD: the shipping bot's ORD-{YYYYMMDDHHMMSS}-{8 hex}"),
            fact("Created", id.timestamp().map(|t| zoned(t, zone)).unwrap_or_default()),
            fact("Random part", format!("{random:08x} (the first 32 bits of a UUID v4)")),
            fact("Display form", format!("{} (what the bot shows the customer)", id.display_id())),
        ],
        LookupKey::OrderId(id @ OrderId::Uuid(u)) => {
            let version = match u.get_version_num() {
                4 => "4 (random)".to_owned(),
                7 => "7 (time-ordered)".to_owned(),
                1 => "1 (time and node)".to_owned(),
                n => n.to_string(),
            };
            vec![
                fact("Scheme", "UUID: a marketplace order, or a bot order in its UUID mode"),
                fact("UUID version", version),
                fact("Display form", id.display_id().to_string()),
            ]
        }
        LookupKey::DisplayId(d) => vec![
            fact("Scheme", "display form: the first 6 hex digits of an order ID's random part"),
            fact("Display form", d.to_string()),
            fact("Unique?", "no: 16.7 million values, so several orders can share one"),
        ],
        LookupKey::OrderNumber(n) => bb_facts(n, zone),
        LookupKey::Partial(p) => partial_facts(p),
        LookupKey::TelegramId(t) => vec![
            fact("Scheme", "a Telegram user id: the customer, not one order"),
            fact("Telegram id", t.0.to_string()),
        ],
        LookupKey::LegacyId(l) => {
            vec![fact("Scheme", "the shipping bot's older `id` field (any word is one)"), fact("Legacy id", l.as_str())]
        }
    }
}

fn bb_facts(n: &BbNumber, zone: chrono_tz::Tz) -> Vec<Fact> {
    let time = match n.stamp {
        BbStamp::Millis(ms) => DateTime::from_timestamp_millis(ms as i64).map(|t| zoned(t, zone)),
        BbStamp::Seconds(s) => DateTime::from_timestamp(s as i64, 0).map(|t| zoned(t, zone)),
        BbStamp::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
    };
    let variant = match n.stamp {
        BbStamp::Millis(_) => "ultra: 13-digit Unix time in milliseconds (the seed calls it microtime)",
        BbStamp::Seconds(_) => "time-based: 10-digit Unix time in seconds",
        BbStamp::Date(_) => "year-based: the legacy YYYYMMDD",
    };
    vec![
        fact("Scheme", "BB: the marketplace's order number"),
        fact("Variant", variant),
        fact("Time", time.unwrap_or_default()),
        fact("User suffix", format!("{} (the last 4 characters of the customer's user id)", n.user)),
        fact("Daily sequence", format!("{} of {MAX_DAILY_SEQUENCE} (the vendor's counter that day)", n.sequence)),
    ]
}

/// What a shortened ORD ID still says, what it lacks, and so what it can find.
fn partial_facts(p: &PartialOrderId) -> Vec<Fact> {
    let (time_missing, random_missing) = p.missing();
    let days = p.days().map(|(from, to)| {
        if from == to { format!("the day {from} (UTC)") } else { format!("a day from {from} to {to} (UTC)") }
    });
    let time = match (p.stamp().len(), p.narrowing()) {
        (0, _) => "missing: all 14 digits".to_owned(),
        (_, Narrowing::ByTimePrefix) => format!(
            "{}: {time_missing} of 14 digits missing, cut at the end{}",
            p.time_shape(),
            days.map(|d| format!(", so {d}")).unwrap_or_default()
        ),
        (_, Narrowing::ByRandom) if p.may_have_lost_digits() => format!(
            "{} of 14 digits given, {time_missing} missing: cut at the end, that reads {}{}; an order \
             whose time starts so is the one, and only when none does, one whose time holds the digits \
             in order (a digit lost inside)",
            p.stamp().len(),
            p.time_shape(),
            days.map(|d| format!(", {d}")).unwrap_or_default()
        ),
        (_, Narrowing::ByRandom) => format!(
            "{} of 14 digits given, {time_missing} missing: too many to be lost inside, so the end was \
             cut, and it reads {}{}",
            p.stamp().len(),
            p.time_shape(),
            days.map(|d| format!(", {d}")).unwrap_or_default()
        ),
    };
    let random = match random_missing {
        0 => format!("{}: whole, 32 random bits that almost always name one order on their own", p.random()),
        8 => "missing: without it the ID cannot name one order".to_owned(),
        n => format!("{}: {n} of 8 hex digits missing", p.random()),
    };
    let finds = match (p.narrowing(), p.display_id()) {
        (Narrowing::ByRandom, Some(display)) => format!(
            "the orders of display form {display} whose random part starts {} and whose time fits the \
             digits given: usually one, then straight to it",
            p.random()
        ),
        _ => format!(
            "every order whose ID starts {}, newest first: a short list to choose from, not one order",
            p.stored_prefix()
        ),
    };
    vec![
        fact("Scheme", "ORD, shortened: the shipping bot's ORD-{YYYYMMDDHHMMSS}-{8 hex} with digits missing"),
        fact("Time", time),
        fact("Random part", random),
        fact("Finds", finds),
    ]
}

fn counter_day(key: &LookupKey, zone: chrono_tz::Tz) -> Option<NaiveDate> {
    let LookupKey::OrderNumber(n) = key else { return None };
    match n.stamp {
        BbStamp::Millis(ms) => DateTime::from_timestamp_millis(ms as i64).map(|t| t.with_timezone(&zone).date_naive()),
        BbStamp::Seconds(s) => DateTime::from_timestamp(s as i64, 0).map(|t| t.with_timezone(&zone).date_naive()),
        BbStamp::Date(d) => Some(d),
    }
}

/// Whether `text` reads as a real ID scheme (a legacy id is any word: no suggestion).
fn is_scheme(text: &str) -> bool {
    matches!(LookupKey::parse(text), Ok(LookupKey::OrderId(_) | LookupKey::DisplayId(_) | LookupKey::OrderNumber(_)))
}

/// Valid IDs near `input`, each once, in the order they were found.
fn near_forms(input: &str) -> Vec<Suggestion> {
    let mut found: Vec<Suggestion> = Vec::new();
    let mut offer = |text: String, why: &str| {
        if is_scheme(&text) && !found.iter().any(|s| s.text == text) {
            found.push(Suggestion { text: canonical(&text), why: why.to_owned() });
        }
    };
    let trimmed = input.trim().trim_start_matches('#').trim();
    // Inside a URL or a sentence: every run of ID characters.
    let words: Vec<&str> = trimmed
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.len() >= 6)
        .collect();
    if words.len() > 1 || words.first().is_some_and(|w| *w != trimmed) {
        for w in &words {
            offer(w.to_string(), "found inside the pasted text");
        }
    }
    for w in std::iter::once(trimmed).chain(words.iter().copied()) {
        offer(letters_for_digits(w), "a letter where a digit belongs (O for 0, I or l for 1)");
        offer(with_dashes(w), "a dash was missing");
        offer(with_dashes(&letters_for_digits(w)), "a dash was missing and a letter stood for a digit");
        if let Some(bb) = microseconds_to_millis(w) {
            offer(bb, "16 digits of microseconds: BB numbers carry 13 (milliseconds)");
        }
        if let Some(uuid) = hyphenated_uuid(w) {
            offer(uuid, "a UUID without its dashes");
        }
    }
    found
}

fn canonical(text: &str) -> String {
    LookupKey::parse(text).map(|k| k.to_string()).unwrap_or_else(|_| text.to_owned())
}

fn prefix_is(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// `O`/`o` → `0` and `I`/`l` → `1` where only digits (or hex) belong: after `ORD`, and in a
/// BB number's time and sequence (its user suffix may hold any letter).
fn letters_for_digits(s: &str) -> String {
    let fix = |part: &str| part.replace(['O', 'o'], "0").replace(['I', 'l'], "1");
    if prefix_is(s, "ORD") {
        return format!("{}{}", &s[..3], fix(&s[3..]));
    }
    if prefix_is(s, "BB") {
        let parts: Vec<&str> = s.split('-').collect();
        if parts.len() == 4 {
            return format!("{}-{}-{}-{}", parts[0], fix(parts[1]), parts[2], fix(parts[3]));
        }
    }
    s.to_owned()
}

/// The dashes put back where the scheme has them, judged by the length of what is left.
fn with_dashes(s: &str) -> String {
    if prefix_is(s, "ORD") {
        let body: String = s[3..].chars().filter(|c| *c != '-').collect();
        return match body.len() {
            22 if body.is_char_boundary(14) => format!("ORD-{}-{}", &body[..14], &body[14..]),
            6 => format!("ORD-{body}"),
            _ => s.to_owned(),
        };
    }
    if prefix_is(s, "BB") {
        let body: String = s[2..].chars().filter(|c| *c != '-').collect();
        let time = match body.len() {
            22 => 13,
            19 => 10,
            17 => 8,
            _ => return s.to_owned(),
        };
        if body.is_ascii() {
            return format!("BB-{}-{}-{}", &body[..time], &body[time..time + 4], &body[time + 4..]);
        }
    }
    s.to_owned()
}

fn microseconds_to_millis(s: &str) -> Option<String> {
    if !prefix_is(s, "BB-") {
        return None;
    }
    let parts: Vec<&str> = s.split('-').collect();
    (parts.len() == 4 && parts[1].len() == 16 && parts[1].bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("BB-{}-{}-{}", &parts[1][..13], parts[2], parts[3]))
}

fn hyphenated_uuid(s: &str) -> Option<String> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{}-{}-{}-{}-{}", &s[..8], &s[8..12], &s[12..16], &s[16..20], &s[20..]))
}

/// Said when nothing near the text is an ID but its time has too many digits (too few are
/// read as a shortened ID).
fn digit_count_hint(input: &str) -> Option<String> {
    let s = input.trim().trim_start_matches('#').trim();
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if prefix_is(s, "ORD-") && parts.len() == 3 && digits(parts[1]) && parts[1].len() > 14 {
        let n = parts[1].len();
        return Some(format!(
            "{} has {n} digits in its time where ORD IDs have 14 (YYYYMMDDHHMMSS): {} too many. \
             Search by the random part after the last dash (ORD--xxxxxxxx), or ask for the ID again.",
            preview(s),
            n - 14
        ));
    }
    if prefix_is(s, "BB-") && parts.len() == 4 && digits(parts[1]) && ![8, 10, 13].contains(&parts[1].len()) {
        return Some(format!(
            "{} has {} digits in its time where BB numbers have 13 (milliseconds), 10 (seconds) or 8 (YYYYMMDD).",
            preview(s),
            parts[1].len()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: chrono_tz::Tz = chrono_tz::America::Santiago;

    fn first_suggestion(input: &str) -> String {
        let e = explain(input, ZONE);
        e.suggestions.first().map(|s| s.text.clone()).unwrap_or_else(|| panic!("no suggestion for {input}: {e:?}"))
    }

    #[test]
    fn an_ord_id_gives_its_time_in_the_zone_and_its_display_form() {
        let e = explain("ORD-20251114123456-a3f8d2b4", ZONE);
        assert!(e.is_id);
        assert_eq!(e.key.as_deref(), Some("ORD-20251114123456-a3f8d2b4"));
        let created = &e.facts.iter().find(|f| f.label == "Created").unwrap().value;
        assert!(created.starts_with("2025-11-14 09:34:56 (America/Santiago)"), "{created}");
        assert!(e.facts.iter().any(|f| f.value.starts_with("ORD-A3F8D2")));
        assert!(e.suggestions.is_empty());
    }

    #[test]
    fn a_bb_number_gives_variant_time_user_sequence_and_counter_day() {
        // 1701234567890 ms = 2023-11-29 05:09:27.890 UTC = 02:09:27 in Santiago (UTC-3).
        let e = explain("BB-1701234567890-A1B2-00042", ZONE);
        assert!(e.facts.iter().any(|f| f.label == "Variant" && f.value.starts_with("ultra")));
        assert!(e.facts.iter().any(|f| f.label == "User suffix" && f.value.starts_with("A1B2")));
        assert!(e.facts.iter().any(|f| f.label == "Daily sequence" && f.value.starts_with("42 of 99999")));
        assert_eq!(e.counter_day, NaiveDate::from_ymd_opt(2023, 11, 29));
        // Late in the UTC evening is the day before in Santiago: the counter's day is local.
        let e = explain("BB-1701224000000-A1B2-00001", ZONE); // 2023-11-29 02:13 UTC
        assert_eq!(e.counter_day, NaiveDate::from_ymd_opt(2023, 11, 28));
        assert!(explain("BB-1701234567-A1B2-00042", ZONE).facts.iter().any(|f| f.value.starts_with("time-based")));
        assert!(explain("BB-20241201-A1B2-00042", ZONE).facts.iter().any(|f| f.value.starts_with("year-based")));
    }

    #[test]
    fn a_uuid_gives_its_version() {
        let e = explain("123e4567-e89b-42d3-a456-426614174000", ZONE);
        assert!(e.facts.iter().any(|f| f.label == "UUID version" && f.value == "4 (random)"), "{e:?}");
        let e = explain("123e4567-e89b-12d3-a456-426614174000", ZONE);
        assert!(e.facts.iter().any(|f| f.label == "UUID version" && f.value.starts_with('1')));
    }

    #[test]
    fn near_forms_are_suggested() {
        assert_eq!(first_suggestion("ORD-2O251114123456-a3f8d2b4"), "ORD-20251114123456-a3f8d2b4", "O for 0");
        assert_eq!(first_suggestion("ORD-A3FOD2"), "ORD-A3F0D2", "O for 0 in a display form");
        assert_eq!(first_suggestion("ORD20251114123456-a3f8d2b4"), "ORD-20251114123456-a3f8d2b4", "missing dash");
        assert_eq!(first_suggestion("ORD20251114123456a3f8d2b4"), "ORD-20251114123456-a3f8d2b4", "both dashes");
        assert_eq!(first_suggestion("ORDA3F8D2"), "ORD-A3F8D2", "display form without its dash");
        assert_eq!(first_suggestion("bb1701234567890a1b200042"), "BB-1701234567890-A1B2-00042");
        assert_eq!(first_suggestion("BB-1701234567890123-A1B2-00042"), "BB-1701234567890-A1B2-00042", "microseconds");
        assert_eq!(first_suggestion("BB-17012345678I0-A1B2-0OO42"), "BB-1701234567810-A1B2-00042");
        assert_eq!(
            first_suggestion("https://track.example.com/orders/ORD-20251114123456-a3f8d2b4?ref=mail"),
            "ORD-20251114123456-a3f8d2b4",
            "a pasted URL"
        );
        assert_eq!(first_suggestion("hi, my order is ORD-A3F8D2 thanks"), "ORD-A3F8D2", "surrounding text");
        assert_eq!(first_suggestion("123e4567e89b42d3a456426614174000"), "123e4567-e89b-42d3-a456-426614174000");
        let lower = explain("ord-20251114123456-A3F8D2B4", ZONE);
        assert_eq!(lower.key.as_deref(), Some("ORD-20251114123456-a3f8d2b4"), "case is read, not suggested");
    }

    fn fact_of(e: &Explanation, label: &str) -> String {
        e.facts.iter().find(|f| f.label == label).map(|f| f.value.clone()).unwrap_or_else(|| panic!("{label}: {e:?}"))
    }

    #[test]
    fn a_shortened_id_says_what_is_certain_and_what_is_missing() {
        // The seed's slow-query log line: seven digits of the time, nothing else.
        let e = explain("ORD-2025111", ZONE);
        assert!(e.is_id && e.suggestions.is_empty() && e.hint.is_none(), "{e:?}");
        let time = fact_of(&e, "Time");
        assert!(time.contains("7 of 14 digits missing") && time.contains("2025-11-10 to 2025-11-19"), "{time}");
        assert!(fact_of(&e, "Random part").starts_with("missing"));
        assert!(fact_of(&e, "Finds").contains("short list"));
        // The seed's tracking example: the time of day dropped, the random part whole.
        let e = explain("ORD-20251114-a3f8d2b4", ZONE);
        let time = fact_of(&e, "Time");
        assert!(time.contains("6 missing") && time.contains("the day 2025-11-14"), "{time}");
        assert!(fact_of(&e, "Random part").contains("whole"));
        assert!(fact_of(&e, "Finds").contains("ORD-A3F8D2"));
        // One digit short: one is missing, and the random part still finds the order.
        let e = explain("ORD-2025111412345-a3f8d2b4", ZONE);
        assert!(fact_of(&e, "Time").starts_with("13 of 14 digits given, 1 missing"), "{e:?}");
    }

    #[test]
    fn a_wrong_digit_count_is_named_when_nothing_near_is_an_id() {
        let e = explain("ORD-202511141234567-a3f8d2b4", ZONE);
        assert!(!e.is_id && e.suggestions.is_empty());
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("15 digits") && h.contains("14")), "{e:?}");
        let e = explain("BB-170123456789-A1B2-00001", ZONE);
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("12 digits")), "{e:?}");
    }

    #[test]
    fn nothing_is_invented_for_plain_words_or_garbage() {
        for text in ["order_1700000000_3", "hello", "{\"$gt\": \"\"}", "", "ORD-ZZZZZZ"] {
            let e = explain(text, ZONE);
            assert!(e.suggestions.is_empty(), "{text}: {e:?}");
            assert!(!e.is_id, "{text}");
        }
        assert!(explain(&"x".repeat(10_000), ZONE).suggestions.is_empty());
    }
}
