//! The bots' JSON API over HTTP: keys, IDs, numbers, lookups and every kind of bad input.

use crate::helpers;
use orderdesk::domain::accounts::{ApiKeyName, ApiKeyScope};

use crate::helpers::{TEST_KEY, TestApp};
use chrono::Utc;
use orderdesk::domain::ids::{BbNumber, DisplayId, OrderId};
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
    let created = app
        .store
        .create_api_key(&ApiKeyName::parse("shipping-bot").unwrap(), ApiKeyScope::Bots, Utc::now())
        .await
        .unwrap();
    let (status, _) = post(&app, "/api/v1/order-ids", Some(&created.key), None).await;
    assert_eq!(status, 200);
    let stored = app.store.raw_api_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    let text = stored[0].to_string();
    assert!(!text.contains(&created.key) && text.contains("key_hash"));
    assert!(stored[0].get_datetime("last_used_at").is_ok(), "last use is recorded");
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
