//! The bots' JSON API over HTTP: keys, IDs, numbers, lookups and every kind of bad input.

use crate::helpers;
use orderdesk::domain::accounts::{ApiKeyName, ApiKeyScope, Role};

use crate::helpers::{TEST_KEY, TestApp};
use chrono::Utc;
use orderdesk::domain::ids::{BbNumber, BbVariant, DisplayId, OrderId};
use serde_json::{Value, json};

async fn post(app: &TestApp, path: &str, key: Option<&str>, body: Option<&str>) -> (u16, Value) {
    let mut req = app.client.post(format!("{}{path}", app.address));
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A stored key of scope `bots`.
async fn create_key(app: &TestApp, name: &str) -> orderdesk::storage::api_keys::NewApiKey {
    app.store.create_api_key(&ApiKeyName::parse(name).unwrap(), ApiKeyScope::Bots, Utc::now()).await.unwrap()
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app.client.get(format!("{}{path}", app.address)).header("X-API-Key", TEST_KEY).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_missing_key_is_401_and_a_wrong_key_403() {
    let app = helpers::spawn_app_with_key().await;
    let (status, body) = post(&app, "/api/v1/order-ids", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "missing_api_key");
    assert!(body["message"].as_str().unwrap().contains("X-API-Key"));
    let (status, body) = post(&app, "/api/v1/order-ids", Some("not-the-key"), None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "invalid_api_key");
}

#[tokio::test]
async fn keys_stored_hashed_in_the_database_work_and_are_never_stored_in_clear() {
    let app = helpers::spawn_app_with_key().await;
    let created = create_key(&app, "shipping-bot").await;
    assert_eq!(app.store.list_api_keys().await.unwrap()[0].id, created.id);
    let (status, _) = post(&app, "/api/v1/order-ids", Some(&created.key), None).await;
    assert_eq!(status, 200);
    let stored = app.store.raw_api_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    let text = stored[0].to_string();
    assert!(!text.contains(&created.key) && text.contains("key_hash"));
    assert!(stored[0].get_datetime("last_used_at").is_ok(), "last use is recorded");
}

/// A key document that does not parse (a scope no version wrote, a name missing) is named as
/// corrupt on the keys page and opens nothing: never read as an empty name or some scope.
#[tokio::test]
async fn a_stored_key_that_does_not_parse_is_named_and_opens_nothing() {
    use mongodb::bson::{doc, oid::ObjectId};
    let app = helpers::spawn_app_with_key().await;
    let good = create_key(&app, "shipping-bot").await;
    let keys = helpers::raw_collection(app.store.database_name(), "api_keys").await;
    let bad = ObjectId::new();
    let hash = orderdesk::storage::api_keys::hash_key("odk_a-key-with-a-scope-no-version-wrote");
    keys.insert_one(doc! { "_id": bad, "scope": "root", "key_hash": &hash, "revoked_at": null }).await.unwrap();
    let err = app.store.list_api_keys().await.unwrap_err();
    assert!(
        matches!(&err, orderdesk::storage::StorageError::Corrupt { collection: "api_keys", id, .. } if *id == bad.to_hex()),
        "{err:?}"
    );
    let live = app.store.live_api_keys().await.unwrap();
    assert_eq!(live.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), [good.id.as_str()], "the bad key opens nothing");
    assert!(app.store.live_api_key(&hash).await.unwrap().is_none());
    let (status, _) = post(&app, "/api/v1/order-ids", Some("odk_a-key-with-a-scope-no-version-wrote"), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn order_ids_are_valid_and_distinct() {
    let app = helpers::spawn_app_with_key().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let (status, body) = post(&app, "/api/v1/order-ids", Some(TEST_KEY), None).await;
        assert_eq!(status, 200);
        let id = OrderId::parse(body["order_id"].as_str().unwrap()).unwrap();
        assert_eq!(body["display_id"], id.display_id().to_string());
        assert!(seen.insert(id));
    }
}

#[tokio::test]
async fn a_telegram_id_gets_its_sessions_order_id_every_time() {
    let app = helpers::spawn_app_with_key().await;
    let body = r#"{"telegram_id": 123456789}"#;
    let (s1, first) = post(&app, "/api/v1/order-ids", Some(TEST_KEY), Some(body)).await;
    let (s2, second) = post(&app, "/api/v1/order-ids", Some(TEST_KEY), Some(body)).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["order_id"], second["order_id"]);
    assert_eq!(first["session"]["current_step"], "START");
}

#[tokio::test]
async fn vendor_numbers_count_up_per_vendor() {
    let app = helpers::spawn_app_with_key().await;
    let body = r#"{"user_id": "6834622e10d75a5ba7b7a1b2"}"#;
    for expected in 1..=3 {
        let (status, got) = post(&app, "/api/v1/vendors/pizza-palace/order-numbers", Some(TEST_KEY), Some(body)).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["sequence"], expected);
        let n = BbNumber::parse(got["order_number"].as_str().unwrap()).unwrap();
        assert_eq!((n.sequence, n.user.as_str()), (expected, "A1B2"));
        assert!(got["counter_id"].as_str().unwrap().ends_with("-pizza-palace"));
    }
    let (_, other) = post(&app, "/api/v1/vendors/taco-town/order-numbers", Some(TEST_KEY), Some(body)).await;
    assert_eq!(other["sequence"], 1);
}

/// Each variant the marketplace names, asked for by the call or set per vendor.
#[tokio::test]
async fn every_number_variant_is_issued_by_the_call_or_the_vendors_setting() {
    let key = TEST_KEY.to_owned();
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("variants"), true, |s| {
        s.bootstrap_api_key = Some(orderdesk::config::Secret::new(key));
        s.number_variants.insert(orderdesk::domain::ids::VendorId::parse("old-deli").unwrap(), BbVariant::Dated);
    })
    .await;
    let path = "/api/v1/vendors/pizza-palace/order-numbers";
    let ask = |variant: &str| format!(r#"{{"user_id": "6834622e10d75a5ba7b7a1b2", "variant": "{variant}"}}"#);
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let (status, got) = post(&app, path, Some(TEST_KEY), Some(ask("year-based").as_str())).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["variant"], "year-based");
    assert_eq!(got["order_number"], format!("BB-{today}-A1B2-00001"));
    assert_eq!(got["counter_id"], format!("{today}-pizza-palace"));
    // Ultra and year-based share the vendor's daily counter.
    let (_, got) = post(&app, path, Some(TEST_KEY), Some(ask("ultra").as_str())).await;
    assert_eq!((got["variant"].as_str(), got["sequence"].as_u64()), (Some("ultra"), Some(2)), "{got}");
    assert_eq!(BbNumber::parse(got["order_number"].as_str().unwrap()).unwrap().variant(), BbVariant::Millis);
    let (_, got) = post(&app, path, Some(TEST_KEY), Some(ask("time-based").as_str())).await;
    let number = BbNumber::parse(got["order_number"].as_str().unwrap()).unwrap();
    assert_eq!((number.variant(), number.sequence), (BbVariant::Seconds, 1), "{got}");
    assert!(got["counter_id"].as_str().unwrap().starts_with(&format!("{today}T")), "{got}");
    // A vendor set to year-based gets it without asking.
    let body = r#"{"user_id": "6834622e10d75a5ba7b7a1b2"}"#;
    let (_, got) = post(&app, "/api/v1/vendors/old-deli/order-numbers", Some(TEST_KEY), Some(body)).await;
    assert_eq!(got["variant"], "year-based", "{got}");
    let (status, got) = post(&app, path, Some(TEST_KEY), Some(ask("microtime").as_str())).await;
    assert_eq!(status, 400, "{got}");
    assert!(got["message"].as_str().unwrap().contains("year-based"), "{got}");
}

#[tokio::test]
async fn bad_bodies_and_vendors_are_400_with_the_reason() {
    let app = helpers::spawn_app_with_key().await;
    let cases = [
        ("/api/v1/vendors/pizza-palace/order-numbers", Some("{not json"), "not valid"),
        ("/api/v1/vendors/pizza-palace/order-numbers", Some("{}"), "user_id"),
        ("/api/v1/vendors/pizza-palace/order-numbers", Some(r#"{"user_id": "--"}"#), "letter or digit"),
        ("/api/v1/vendors/pizza-palace/order-numbers", Some(r#"{"user_id": 5}"#), "not valid"),
        ("/api/v1/vendors/pizza%20palace/order-numbers", Some(r#"{"user_id": "u1"}"#), "only letters"),
        ("/api/v1/vendors/%24gt/order-numbers", Some(r#"{"user_id": "u1"}"#), "only letters"),
        ("/api/v1/order-ids", Some(r#"{"telegram_id": "abc"}"#), "not valid"),
        ("/api/v1/order-ids", Some(r#"{"telegram_id": -5}"#), "positive"),
        ("/api/v1/order-ids", Some(r#"{"unexpected": 1}"#), "unknown field"),
    ];
    for (path, body, needle) in cases {
        let (status, got) = post(&app, path, Some(TEST_KEY), body).await;
        assert_eq!(status, 400, "{path} {body:?}: {got}");
        assert_eq!(got["error"], "bad_request");
        assert!(got["message"].as_str().unwrap().contains(needle), "{path} {body:?}: {got}");
    }
}

#[tokio::test]
async fn orders_are_found_by_any_form_of_their_id() {
    let app = helpers::spawn_app_with_key().await;
    let (_, issued) = post(&app, "/api/v1/order-ids", Some(TEST_KEY), None).await;
    let id = OrderId::parse(issued["order_id"].as_str().unwrap()).unwrap();
    let order = helpers::bot_order(Some(5550001), Some(9.99));
    app.store.insert_order(&id, &order, Utc::now()).await.unwrap();
    let display = id.display_id().to_string();
    for form in [id.to_string(), display.to_lowercase(), format!("%23{display}"), "5550001".to_owned()] {
        let (status, body) = get(&app, &format!("/api/v1/orders/{form}")).await;
        assert_eq!(status, 200, "{form}: {body}");
        assert_eq!(body["order_id"], id.to_string());
    }
    let (status, body) = get(&app, "/api/v1/orders/ORD-20251114123456-a3f8d2b4").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, body) = get(&app, "/api/v1/orders/ORD-2025").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    DisplayId::parse(&display).unwrap();
}

#[tokio::test]
async fn an_ambiguous_short_id_is_409_with_the_matches() {
    let app = helpers::spawn_app_with_key().await;
    let order = helpers::bot_order(Some(42), None);
    let now = Utc::now();
    for random in [0xa3f8_d201, 0xa3f8_d2ff] {
        app.store.insert_order(&OrderId::ord(now, random), &order, now).await.unwrap();
    }
    let (status, body) = get(&app, "/api/v1/orders/ORD-A3F8D2").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["matches"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let app = helpers::spawn_app_with_key().await;
    let (status, body) = get(&app, "/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let _ = json!({});
}

#[tokio::test]
async fn a_bot_creates_an_order_that_the_desk_then_finds_by_its_display_form() {
    let app = helpers::spawn_app_with_key().await;
    let (status, body) =
        post(&app, "/api/v1/orders", Some(TEST_KEY), Some(r#"{"telegram_id": 4455, "amount": 12.5}"#)).await;
    assert_eq!(status, 201, "{body}");
    let id = OrderId::parse(body["order_id"].as_str().unwrap()).unwrap();
    assert_eq!(body["display_id"], id.display_id().to_string());
    let (status, found) = get(&app, &format!("/api/v1/orders/%23{}", id.display_id())).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["order_id"], id.to_string());
    assert_eq!(found["telegram_id"], 4455);
    for (bad, says) in [
        ("", "telegram_id"),
        (r#"{"telegram_id": -3}"#, "positive"),
        (r#"{"telegram_id": 1, "amount": 1e12}"#, "amount"),
        (r#"{"telegram_id": 1, "amount": -1}"#, "amount"),
        (r#"{"telegram_id": 1, "status": "paid"}"#, "unknown field"),
        (r#"{"telegram_id": "1"}"#, "not valid"),
    ] {
        let (status, body) = post(&app, "/api/v1/orders", Some(TEST_KEY), Some(bad)).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{bad} → {body}");
    }
    assert_eq!(app.store.order_count().await.unwrap(), 1, "a refused body stores nothing");
}

/// A key's page as JSON, as its server function returns it to an admin.
async fn key_report(app: &TestApp, admin: &reqwest::Client, id: &str) -> (u16, Value) {
    let path = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|p| p.starts_with("/api/admin/api_key_usage"))
        .expect("the key page's server function");
    let res = admin.get(format!("{}{path}", app.address)).query(&[("key", id)]).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_call_with_a_key_counts_on_its_page_and_a_failing_bot_shows_since_when() {
    let app = helpers::spawn_app_with_key().await;
    let created = create_key(&app, "shipping-bot").await;
    let id = created.id.clone();
    let key = Some(created.key.as_str());
    for _ in 0..3 {
        assert_eq!(post(&app, "/api/v1/order-ids", key, None).await.0, 200);
    }
    let started_failing = Utc::now();
    assert_eq!(post(&app, "/api/v1/orders", key, Some(r#"{"telegram_id": -1}"#)).await.0, 400);
    assert_eq!(post(&app, "/api/v1/orders", key, Some("{not json")).await.0, 400);
    // An unknown path never reaches the key check: it counts for the key it came with.
    assert_eq!(post(&app, "/api/v1/no-such-endpoint", key, None).await.0, 404);
    // Wrong and missing keys are nobody's calls.
    assert_eq!(post(&app, "/api/v1/order-ids", Some("odk_made-up"), None).await.0, 403);
    assert_eq!(post(&app, "/api/v1/order-ids", None, None).await.0, 401);
    assert_eq!(post(&app, "/api/v1/order-ids", Some(TEST_KEY), None).await.0, 200);

    let (admin_cookie, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&admin_cookie, true);
    let (status, report) = key_report(&app, &admin, &id).await;
    assert_eq!(status, 200, "{report}");
    let totals = &report["usage"]["totals"];
    assert_eq!(
        (&totals["calls"], &totals["ok"], &totals["rejected"], &totals["failed"], &totals["limited"]),
        (&json!(6), &json!(3), &json!(3), &json!(0), &json!(0)),
        "{report}"
    );
    assert_eq!(totals["latency"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).sum::<u64>(), 6);
    let failing = &report["usage"]["health"]["Failing"];
    assert_eq!(failing["last_status"], 404, "{report}");
    let since: chrono::DateTime<Utc> = failing["since"].as_str().unwrap().parse().unwrap();
    assert!(since >= started_failing - chrono::Duration::milliseconds(5), "{since} vs {started_failing}");
    assert!(failing["last_ok"].is_string());
    assert_eq!(report["key"]["name"], "shipping-bot");

    // It works again: the page says so.
    assert_eq!(post(&app, "/api/v1/order-ids", key, None).await.0, 200);
    let (_, report) = key_report(&app, &admin, &id).await;
    assert_eq!(report["usage"]["health"], "Working", "{report}");
    assert_eq!(report["usage"]["totals"]["calls"], 7);

    // The bootstrap key counts apart; unknown ids are 404s; support may not look.
    let (status, env) = key_report(&app, &admin, "env").await;
    assert_eq!(status, 200);
    assert_eq!(env["usage"]["totals"]["calls"], 1);
    assert!(env["key"].is_null());
    for unknown in ["000000000000000000000000", "not-an-id", "<script>"] {
        assert_eq!(key_report(&app, &admin, unknown).await.0, 404, "{unknown}");
    }
    assert_eq!(key_report(&app, &app.client, &id).await.0, 403);

    // Usage is stored under the two keys' ids only: a made-up key leaves nothing.
    let usage = helpers::raw_collection(app.store.database_name(), "api_key_usage").await;
    let mut keys: Vec<String> = usage
        .distinct("key", mongodb::bson::doc! {})
        .await
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    let mut expected = vec![id.clone(), "env".to_owned()];
    expected.sort();
    assert_eq!(keys, expected);

    // The pages: the list says which key is failing, the key's page says since when.
    assert_eq!(post(&app, "/api/v1/orders", key, Some("[]")).await.0, 400);
    let list = admin.get(format!("{}/api-keys", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(list.contains(&format!("href=\"/api-keys/{id}\"")) && list.contains("failing (HTTP 400)"), "{list}");
    let page = admin.get(format!("{}/api-keys/{id}", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Failing since") && page.contains("shipping-bot"), "{page}");
    let missing = admin.get(format!("{}/api-keys/nope", app.address)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_shed_at_the_door_count_as_limit_hits_for_their_key() {
    // One request at a time and a 1 ms queue: a burst of lookups is partly shed with 503.
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("shed"), true, |s| {
        s.bootstrap_api_key = Some(orderdesk::config::Secret::new(TEST_KEY.into()));
        s.concurrent_requests = 1;
        s.queue_wait = std::time::Duration::from_millis(1);
    })
    .await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(5), Some(1.0)), Utc::now()).await.unwrap();
    let path = format!("/api/v1/orders/{id}");
    let burst = (0..60).map(|_| get(&app, &path));
    let statuses: Vec<u16> = futures::future::join_all(burst).await.into_iter().map(|(s, _)| s).collect();
    let shed = statuses.iter().filter(|s| **s == 503).count() as u64;
    assert!(shed > 0 && statuses.iter().all(|s| [200, 503].contains(s)), "{statuses:?}");
    let (admin_cookie, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&admin_cookie, true);
    let (status, env) = key_report(&app, &admin, "env").await;
    assert_eq!(status, 200, "{env}");
    assert_eq!(env["usage"]["totals"]["calls"], 60);
    assert_eq!(env["usage"]["totals"]["limited"], shed, "{env}");
    assert_eq!(env["usage"]["totals"]["failed"], 0, "{env}");
}

#[tokio::test]
async fn a_minute_written_whole_or_added_call_by_call_reads_back_the_same() {
    use orderdesk::domain::api_usage::{MinuteUsage, Outcome, Tally, minute_of};
    use std::time::Duration;
    let store = helpers::fresh_store("usage").await;
    // Millisecond times: what BSON keeps.
    let minute = minute_of(Utc::now() - chrono::Duration::minutes(3));
    let at = |s: i64| minute + chrono::Duration::milliseconds(s * 1000 + 250);
    let mut tally = Tally::default();
    tally.add(Outcome::Ok, 200, at(1), Duration::from_millis(3));
    tally.add(Outcome::Rejected, 422, at(7), Duration::from_millis(40));
    tally.add(Outcome::Failed, 503, at(20), Duration::from_secs(3));
    tally.add(Outcome::Limited, 429, at(31), Duration::from_millis(1));
    tally.add(Outcome::Ok, 201, at(45), Duration::from_millis(900));
    let usage = MinuteUsage { minute, tally: tally.clone() };

    store.insert_api_usage("whole", std::slice::from_ref(&usage)).await.unwrap();
    // Two processes' shares of the same minute add up to the whole.
    let (mut first, mut second) = (Tally::default(), Tally::default());
    first.add(Outcome::Ok, 200, at(1), Duration::from_millis(3));
    first.add(Outcome::Failed, 503, at(20), Duration::from_secs(3));
    second.add(Outcome::Rejected, 422, at(7), Duration::from_millis(40));
    second.add(Outcome::Limited, 429, at(31), Duration::from_millis(1));
    second.add(Outcome::Ok, 201, at(45), Duration::from_millis(900));
    for part in [first, second] {
        store.add_api_usage("added", &MinuteUsage { minute, tally: part }).await.unwrap();
    }

    let since = minute - chrono::Duration::minutes(1);
    assert_eq!(store.api_usage("whole", since).await.unwrap(), vec![usage.clone()]);
    assert_eq!(store.api_usage("added", since).await.unwrap(), vec![usage]);
    let mut lines = store.api_usage_by_key(since).await.unwrap();
    lines.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(lines.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(), ["added", "whole"]);
    // The list of keys sums the counts and times; latency is on each key's own page only.
    let listed = Tally { latency: Default::default(), ..tally };
    for line in lines {
        assert_eq!(line.totals, listed, "{}", line.key);
    }
    store.drop_database().await.unwrap();
}
