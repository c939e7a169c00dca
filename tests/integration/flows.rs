//! The seeds' flows through the API as the bots run them, retries and races included: one ID
//! per session, one order per ID, one BB number per checkout.

use mongodb::bson::{Bson, doc};
use serde_json::{Value, json};

use crate::helpers::{self, TEST_KEY, TestApp};

async fn call(app: &TestApp, path: &str, body: Value, idempotency_key: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}{path}", app.address))
        .header("x-api-key", TEST_KEY)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = idempotency_key {
        req = req.header("idempotency-key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The same call `n` times at once.
async fn at_once(app: &TestApp, n: usize, path: &str, body: Value, key: Option<&str>) -> Vec<(u16, Value)> {
    futures::future::join_all((0..n).map(|_| call(app, path, body.clone(), key))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_that_lost_its_id_gets_one_once_and_keeps_it() {
    let app = helpers::spawn_app_with_key().await;
    let sessions = helpers::raw_collection(app.store.database_name(), "sessions").await;
    sessions
        .insert_many([
            doc! { "user_id": 7001_i64, "order_id": Bson::Null, "current_step": "SHIPPING" },
            doc! { "user_id": 7002_i64, "current_step": "START" },
            doc! { "user_id": 7003_i64, "order_id": "", "current_step": "START" },
        ])
        .await
        .unwrap();
    for user in [7001_i64, 7002, 7003] {
        let answers = at_once(&app, 8, "/api/v1/order-ids", json!({ "telegram_id": user }), None).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let ids: std::collections::BTreeSet<String> =
            answers.iter().map(|(_, b)| b["order_id"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(ids.len(), 1, "racing calls agree on one ID: {ids:?}");
        let id = ids.first().unwrap();
        let stored = sessions.find_one(doc! { "user_id": user }).await.unwrap().unwrap();
        assert_eq!(stored.get_str("order_id").unwrap(), id, "and it is stored");
        let (_, again) = call(&app, "/api/v1/order-ids", json!({ "telegram_id": user }), None).await;
        assert_eq!(again["order_id"], id.as_str(), "the same call later gives the same ID");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_or_concurrent_create_stores_one_order_and_the_session_moves_on() {
    let app = helpers::spawn_app_with_key().await;
    let (_, session) = call(&app, "/api/v1/order-ids", json!({ "telegram_id": 8001 }), None).await;
    let id = session["order_id"].as_str().unwrap().to_owned();
    let body = json!({ "telegram_id": 8001, "amount": 25.5, "order_id": id });
    let answers = at_once(&app, 8, "/api/v1/orders", body.clone(), None).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let already = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, already), (1, 7), "{answers:?}");
    assert!(answers.iter().all(|(_, b)| b["order_id"] == id.as_str()), "{answers:?}");
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    assert_eq!(orders.count_documents(doc! { "order_id": &id }).await.unwrap(), 1, "one order stored");
    // A retry later: the same answer, still one order.
    let (status, again) = call(&app, "/api/v1/orders", body, None).await;
    assert_eq!((status, again["order_id"].as_str()), (200, Some(id.as_str())));
    assert_eq!(orders.count_documents(doc! {}).await.unwrap(), 1);
    // The session moved on: the ID went to the order, the next order gets a new one.
    let sessions = helpers::raw_collection(app.store.database_name(), "sessions").await;
    let stored = sessions.find_one(doc! { "user_id": 8001_i64 }).await.unwrap().unwrap();
    assert_eq!(stored.get_str("current_step").unwrap(), "ORDER_CREATED");
    assert_eq!(stored.get_str("last_order_id").unwrap(), id);
    assert!(stored.get("order_id").is_none(), "{stored}");
    let (_, next) = call(&app, "/api/v1/order-ids", json!({ "telegram_id": 8001 }), None).await;
    assert_ne!(next["order_id"], id.as_str(), "the user's next order has its own ID");
    // The same ID with another amount or customer is refused, naming what differs.
    let (status, clash) =
        call(&app, "/api/v1/orders", json!({ "telegram_id": 8001, "amount": 30, "order_id": id }), None).await;
    assert_eq!((status, clash["error"].as_str()), (409, Some("order_id_conflict")), "{clash}");
    let message = clash["message"].as_str().unwrap();
    assert!(message.contains("amount 25.5 (not 30)") && !message.contains("telegram_id"), "{message}");
    let (status, clash) =
        call(&app, "/api/v1/orders", json!({ "telegram_id": 9, "amount": 25.5, "order_id": id }), None).await;
    assert_eq!(status, 409);
    assert!(clash["message"].as_str().unwrap().contains("telegram_id 8001 (not 9)"), "{clash}");
    // An order_id that is no ID is a clear 400.
    let (status, bad) = call(&app, "/api/v1/orders", json!({ "telegram_id": 9, "order_id": "ORD-1" }), None).await;
    assert_eq!(status, 400);
    assert!(bad["message"].as_str().unwrap().starts_with("order_id:"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_checkout_never_burns_a_second_number() {
    let app = helpers::spawn_app_with_key().await;
    let path = "/api/v1/vendors/pizza-palace/orders";
    let body = json!({ "user_id": "6834622e10d75a5ba7b7a1b2", "amount": 18.0 });
    // Eight at once with one key: one draws, the others hear "in progress" or the answer.
    let mut answers = at_once(&app, 8, path, body.clone(), Some("checkout-1")).await;
    for answer in answers.iter_mut() {
        for _ in 0..20 {
            if answer.0 != 409 || answer.1["error"] != "in_progress" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            *answer = call(&app, path, body.clone(), Some("checkout-1")).await;
        }
    }
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| [200, 201].contains(s)), "{answers:?}");
    let numbers: std::collections::BTreeSet<String> =
        answers.iter().map(|(_, b)| b["order_number"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(numbers.len(), 1, "one number for the checkout: {numbers:?}");
    let counters = helpers::raw_collection(app.store.database_name(), "ordercounters").await;
    let counter = counters.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(counter.get_i32("sequence").map(i64::from).or_else(|_| counter.get_i64("sequence")).unwrap(), 1);
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    assert_eq!(orders.count_documents(doc! { "order_number": numbers.first().unwrap() }).await.unwrap(), 1);
    // The same key for another order is refused; another key is another checkout.
    let (status, reused) =
        call(&app, path, json!({ "user_id": "6834622e10d75a5ba7b7a1b2", "amount": 99.0 }), Some("checkout-1")).await;
    assert_eq!((status, reused["error"].as_str()), (409, Some("idempotency_key_reused")));
    let (status, second) = call(&app, path, body.clone(), Some("checkout-2")).await;
    assert_eq!(status, 201);
    assert_eq!(second["sequence"], 2);
    // Without a key the call is refused before anything is drawn.
    let (status, missing) = call(&app, path, body.clone(), None).await;
    assert_eq!(status, 400);
    assert!(missing["message"].as_str().unwrap().contains("Idempotency-Key"), "{missing}");
}

#[tokio::test]
async fn a_checkout_whose_first_call_died_after_drawing_finishes_with_that_number() {
    use orderdesk::{domain::ids::VendorId, storage::idempotency};
    let app = helpers::spawn_app_with_key().await;
    // As a call leaves it that drew its number and died before storing the order.
    let record = idempotency::record_id(orderdesk::domain::api_usage::ENV_KEY, "checkout-9");
    let vendor = VendorId::parse("pizza-palace").unwrap();
    let fingerprint = idempotency::checkout_fingerprint(&vendor, "6834622e10d75a5ba7b7a1b2", Some(18.0), None);
    let keys = helpers::raw_collection(app.store.database_name(), "idempotency_keys").await;
    let number = "BB-1795255502123-A1B2-00042";
    keys.insert_one(doc! {
        "_id": &record, "fingerprint": &fingerprint, "state": "numbered", "created_at": mongodb::bson::DateTime::now(),
        "drawn": { "order_number": number, "sequence": 42, "counter_id": "20261121-pizza-palace", "order_id": Bson::Null },
    })
    .await
    .unwrap();
    let body = json!({ "user_id": "6834622e10d75a5ba7b7a1b2", "amount": 18.0 });
    let (status, answer) = call(&app, "/api/v1/vendors/pizza-palace/orders", body, Some("checkout-9")).await;
    assert_eq!((status, answer["order_number"].as_str()), (201, Some(number)), "{answer}");
    let counters = helpers::raw_collection(app.store.database_name(), "ordercounters").await;
    assert_eq!(counters.count_documents(doc! {}).await.unwrap(), 0, "no second number was drawn");
    let stored = keys.find_one(doc! { "_id": &record }).await.unwrap().unwrap();
    assert_eq!(stored.get_str("state").unwrap(), "done");
}

#[tokio::test]
async fn an_id_that_names_no_order_says_where_it_was_seen() {
    let app = helpers::spawn_app().await;
    let db = app.store.database_name().to_owned();
    let now = mongodb::bson::DateTime::now();
    let (held, paid, pending, nowhere) = (
        "ORD-20261121101502-aaaa0001",
        "ORD-20261121101502-bbbb0002",
        "ORD-20261121101502-cccc0003",
        "ORD-20261121101502-dddd0004",
    );
    helpers::raw_collection(&db, "sessions")
        .await
        .insert_one(
            doc! { "user_id": 5150_i64, "order_id": held, "current_step": "CONFIRM_ADDRESS", "created_at": now },
        )
        .await
        .unwrap();
    helpers::raw_collection(&db, "payments")
        .await
        .insert_one(
            doc! { "order_id": paid, "amount": 12.5, "currency": "USD", "status": "succeeded", "created_at": now },
        )
        .await
        .unwrap();
    helpers::raw_collection(&db, "pending_orders")
        .await
        .insert_one(doc! { "order_id": pending, "telegram_id": 6160_i64, "created_at": now })
        .await
        .unwrap();
    let page = |q: &'static str| {
        let app = &app;
        async move { app.get(&format!("/search?q={q}")).await.text().await.unwrap() }
    };
    let text = page(held).await;
    assert!(text.contains("data-trace=\"session\"") && text.contains("telegram user 5150"), "{text}");
    assert!(text.contains("CONFIRM_ADDRESS") && text.contains("the bot stopped before it created the order"));
    let text = page(paid).await;
    assert!(text.contains("data-trace=\"payment\"") && text.contains("12.50 USD (succeeded)"), "{text}");
    assert!(text.contains("a case for a refund"));
    let text = page(pending).await;
    assert!(text.contains("data-trace=\"pending\"") && text.contains("telegram user 6160"), "{text}");
    let text = page(nowhere).await;
    assert!(text.contains("data-testid=\"no-match\"") && !text.contains("data-testid=\"traces\""), "seen nowhere");
}

#[tokio::test]
async fn the_order_page_shows_the_bots_pending_orders_under_its_id() {
    let app = helpers::spawn_app().await;
    let db = app.store.database_name().to_owned();
    let id = "ORD-20261121101502-eeee0005";
    let now = mongodb::bson::DateTime::now();
    helpers::raw_collection(&db, "orders")
        .await
        .insert_one(doc! { "order_id": id, "telegram_id": 42_i64, "status": "pending", "created_at": now })
        .await
        .unwrap();
    helpers::raw_collection(&db, "pending_orders")
        .await
        .insert_one(doc! { "order_id": id, "telegram_id": 42_i64, "status": "awaiting_label", "current_step": "PAYMENT", "amount": 9.5, "created_at": now })
        .await
        .unwrap();
    let page = app.get(&format!("/orders/{id}")).await.text().await.unwrap();
    let pending = page.split("data-testid=\"pending-orders\"").nth(1).expect("the pending orders are listed");
    assert!(pending.contains("awaiting_label") && pending.contains("step PAYMENT"), "{pending}");
    let timeline = page.split("data-testid=\"timeline\"").nth(1).and_then(|t| t.split("</ol>").next()).unwrap();
    assert!(timeline.contains("Pending order") && timeline.contains("step PAYMENT · awaiting_label"), "{timeline}");
}

/// Seed 000's `@profile_db_query("create_order", order_id=…)`: the whole create (insert, read
/// back, session) is timed as one operation, its slow-query record names the order, and the
/// order's page lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_create_order_names_the_order_in_the_log_and_on_its_page() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("slowcreate"), true, |s| {
        s.bootstrap_api_key = Some(orderdesk::config::Secret::new(TEST_KEY.into()));
        s.slow_query = std::time::Duration::from_nanos(1);
        s.operation_timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let (_, session) = call(&app, "/api/v1/order-ids", json!({ "telegram_id": 9101 }), None).await;
    let id = session["order_id"].as_str().unwrap().to_owned();
    let (status, _) =
        call(&app, "/api/v1/orders", json!({ "telegram_id": 9101, "amount": 3.0, "order_id": id }), None).await;
    assert_eq!(status, 201);
    let kept = helpers::eventually(|| async {
        let kept = app.store.slow_queries_for(std::slice::from_ref(&id), 50).await.unwrap();
        kept.iter().any(|s| s.op == "create_order").then_some(kept)
    })
    .await;
    assert!(kept.iter().all(|s| s.order.as_deref() == Some(id.as_str())), "{kept:#?}");
    assert!(kept.iter().any(|s| s.op == "insert_order"), "the calls inside name it too: {kept:#?}");
    let other = app.store.slow_queries_for(&["ORD-20260101000000-00000000".into()], 50).await.unwrap();
    assert!(other.is_empty(), "another order's list is its own: {other:#?}");
    let page = app.get(&format!("/orders/{id}")).await.text().await.unwrap();
    let listed = page.split("data-testid=\"order-slow\"").nth(1).expect("the page lists them");
    assert!(listed.contains("create_order"), "{listed}");
}

/// In one database the order page's lookup joins the slow-operations log itself: the latest
/// ten that named the order by any of its names, newest first, and none that named another
/// order or no order at all (a missing name must not match them).
#[tokio::test]
async fn an_orders_page_lists_its_latest_slow_operations_by_any_of_its_names() {
    use orderdesk::{domain::ids::LookupKey, storage::orders::OrderLookup};
    let app = helpers::spawn_app().await;
    let db = app.store.database_name().to_owned();
    let (id, display) = ("ORD-20261121101502-a3f8d2c1", "ORD-A3F8D2");
    let now = mongodb::bson::DateTime::now().timestamp_millis();
    helpers::raw_collection(&db, "orders")
        .await
        .insert_one(doc! { "order_id": id, "display_id": display, "status": "pending", "created_at": mongodb::bson::DateTime::from_millis(now) })
        .await
        .unwrap();
    let at = |minutes: i64| mongodb::bson::DateTime::from_millis(now - 3_600_000 + minutes * 60_000);
    let entry = |op: String, minutes: i64, order: Bson| {
        doc! { "at": at(minutes), "op": op, "collection": "orders", "ms": 120.5, "ok": true, "app": "orderdesk", "order": order }
    };
    let mut entries: Vec<_> = (0..12)
        .map(|i| entry(format!("slow-op-{i:02}"), i, Bson::String([id, display][i as usize % 2].into())))
        .collect();
    // Newer than all of the order's own: another order's, one naming no order, one without the field.
    entries.push(entry("another-order".into(), 30, Bson::String("ORD-20261121101502-ffffffff".into())));
    entries.push(entry("no-order".into(), 31, Bson::Null));
    let mut unnamed = entry("unnamed".into(), 32, Bson::Null);
    unnamed.remove("order");
    entries.push(unnamed);
    helpers::raw_collection(&db, "slow_queries").await.insert_many(entries).await.unwrap();

    let expected: Vec<String> = (2..12).rev().map(|i| format!("slow-op-{i:02}")).collect();
    for key in [id, "#ORD-A3F8D2"] {
        let found = app.store.look_up_order(&LookupKey::parse(key).unwrap()).await.unwrap();
        let OrderLookup::One { slow: Some(slow), .. } = found else {
            panic!("{key}: one order, its slow operations joined: {found:?}");
        };
        assert_eq!(slow.iter().map(|s| s.op.clone()).collect::<Vec<_>>(), expected, "{key}");
    }
    let page = app.get(&format!("/orders/{id}")).await.text().await.unwrap();
    let listed = page.split("data-testid=\"order-slow\"").nth(1).expect("the page lists them");
    assert!(listed.contains("slow-op-11") && listed.contains("slow-op-02"), "{listed}");
    for absent in ["slow-op-01", "another-order", "no-order", "unnamed"] {
        assert!(!listed.contains(absent), "{absent} is listed: {listed}");
    }
    // mongod serves the join by the log's index, not by reading the log.
    let plan = app.store.explain_order_page(&LookupKey::parse(id).unwrap()).await.unwrap();
    let join = plan.split("\"from\": \"slow_queries\"").nth(1).expect("the slow log is joined");
    assert!(join.contains("order_1_at_-1"), "the join does not use the log's index: {plan}");
    assert!(join.contains("\"collectionScans\": 0"), "the join scans the log: {plan}");
}

#[tokio::test]
async fn failed_orders_that_were_paid_and_not_refunded_are_listed_with_the_sum() {
    let app = helpers::spawn_app().await;
    let db = app.store.database_name().to_owned();
    let now = mongodb::bson::DateTime::now();
    let orders = helpers::raw_collection(&db, "orders").await;
    let order = |id: &str, status: &str, refund: Option<&str>| {
        let mut d = doc! { "order_id": id, "status": status, "created_at": now, "failure_reason": "label failed" };
        if let Some(r) = refund {
            d.insert("refund_status", r);
        }
        d
    };
    orders
        .insert_many([
            order("ORD-20261121101502-f0000001", "failed", None),
            order("ORD-20261121101502-f0000002", "failed", Some("refunded")),
            order("ORD-20261121101502-f0000003", "failed", None),
            order("ORD-20261121101502-f0000004", "completed", None),
        ])
        .await
        .unwrap();
    let payment = |id: &str, amount: f64, status: &str| {
        doc! { "order_id": id, "amount": amount, "currency": "USD", "status": status, "created_at": now }
    };
    helpers::raw_collection(&db, "payments")
        .await
        .insert_many([
            payment("ORD-20261121101502-f0000001", 12.5, "succeeded"),
            payment("ORD-20261121101502-f0000001", 2.5, "succeeded"),
            payment("ORD-20261121101502-f0000002", 30.0, "succeeded"),
            payment("ORD-20261121101502-f0000003", 8.0, "failed"),
            payment("ORD-20261121101502-f0000004", 9.0, "succeeded"),
        ])
        .await
        .unwrap();
    let page = app.get("/failures?days=7").await.text().await.unwrap();
    let section = page.split("data-testid=\"refund-candidates\"").nth(1).expect("the section is there");
    assert!(section.contains("ORD-20261121101502-f0000001"), "paid, failed, not refunded");
    for left_out in ["f0000002", "f0000003", "f0000004"] {
        assert!(!section.contains(left_out), "{left_out} is refunded, unpaid or not failed");
    }
    assert!(section.contains("1 order, $15.00 owed to customers."), "{section}");
}

#[tokio::test]
async fn a_days_counters_back_up_as_csv_and_json() {
    let app = helpers::spawn_app().await;
    let counters = helpers::raw_collection(app.store.database_name(), "ordercounters").await;
    let now = mongodb::bson::DateTime::now();
    counters
        .insert_many([
            doc! { "counterId": "20261121-pizza-palace", "sequence": 42_i64, "lastUpdated": now, "__v": 0 },
            doc! { "counterId": "20261121-burger-barn", "sequence": 7_i32, "lastUpdated": now, "__v": 0 },
            doc! { "counterId": "20261122-pizza-palace", "sequence": 3_i64, "lastUpdated": now, "__v": 0 },
        ])
        .await
        .unwrap();
    let csv = app.get("/counters.csv?day=2026-11-21").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("counters-20261121.csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "counterId,sequence,lastUpdated");
    assert_eq!(lines.len(), 3, "that day's two counters: {text}");
    assert!(
        lines[1].starts_with("\"20261121-burger-barn\",7,") && lines[2].starts_with("\"20261121-pizza-palace\",42,")
    );
    let json: Value = app.get("/counters.json?day=2026-11-21").await.json().await.unwrap();
    assert_eq!(json["day"], "2026-11-21");
    assert_eq!(json["counters"][1]["counterId"], "20261121-pizza-palace");
    assert_eq!(json["counters"][1]["sequence"], 42);
    let bad = app.get("/counters.csv?day=21.11.2026").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("2026-11-21"), "the message shows the form");
}

#[tokio::test]
async fn the_order_list_and_its_export_filter_by_system() {
    let app = helpers::spawn_app().await;
    let now = mongodb::bson::DateTime::now();
    helpers::raw_collection(app.store.database_name(), "orders")
        .await
        .insert_many([
            doc! { "order_id": "ORD-20261121101502-b0000001", "telegram_id": 1_i64, "status": "paid", "created_at": now },
            doc! { "order_id": "ORD-20261121101502-b0000002", "source": "shipping_bot", "status": "paid", "created_at": now },
            doc! { "order_id": "ORD-20261121101502-c0000003", "source": "marketplace", "order_number": "BB-1795255502123-A1B2-00001", "vendor_id": "pizza-palace", "created_at": now },
            doc! { "order_id": "ORD-20261121101502-c0000004", "order_number": "BB-1795255502124-A1B2-00002", "created_at": now },
        ])
        .await
        .unwrap();
    let list = |q: &'static str| {
        let app = &app;
        async move { app.get(&format!("/orders?{q}")).await.text().await.unwrap() }
    };
    let market = list("source=marketplace").await;
    assert!(market.contains("BB-1795255502123-A1B2-00001") && market.contains("BB-1795255502124-A1B2-00002"));
    assert!(!market.contains("b0000001") && !market.contains("b0000002"), "no bot order");
    let bot = list("source=shipping-bot").await;
    assert!(
        bot.contains("b0000001") && bot.contains("b0000002") && !bot.contains("BB-17952555021"),
        "no marketplace order"
    );
    let csv = app.get("/orders.csv?source=marketplace").await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "the header and the two marketplace orders: {csv}");
    let bad = app.get("/orders?source=erp").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("source must be shipping-bot or marketplace"));
}

#[tokio::test]
async fn the_demo_shows_one_of_each_lost_id_case() {
    use orderdesk::demo::{self, DemoSpec};
    let spec = DemoSpec { orders: 600, seed: 7, now: chrono::Utc::now(), time_zone: chrono_tz::UTC };
    let database = helpers::unique_db("demo_cases");
    let store =
        orderdesk::storage::Store::connect(&helpers::settings(&helpers::mongodb_uri(), &database)).await.unwrap();
    demo::insert(&store, demo::generate(&spec)).await.unwrap();
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, true, |_| {}).await;
    for (id, trace) in
        [(demo::HELD_BY_A_SESSION, "session"), (demo::PAID_WITHOUT_ORDER, "payment"), (demo::ONLY_PENDING, "pending")]
    {
        let page = app.get(&format!("/search?q={id}")).await.text().await.unwrap();
        assert!(page.contains(&format!("data-trace=\"{trace}\"")), "{id} is traced to a {trace}");
    }
    let failures = app.get("/failures?days=30").await.text().await.unwrap();
    let section = failures.split("data-testid=\"refund-candidates\"").nth(1).unwrap();
    assert!(section.contains("owed to customers"), "a failed order paid and not refunded is listed");
    let sessions = helpers::raw_collection(&database, "sessions").await;
    let lost = sessions.find_one(doc! { "user_id": demo::SESSION_WITHOUT_ID_USER }).await.unwrap().unwrap();
    assert_eq!(lost.get("order_id"), Some(&Bson::Null), "a session that lost its ID");
}

#[tokio::test]
async fn a_bad_period_on_the_failures_page_is_said_once() {
    let app = helpers::spawn_app().await;
    let res = app.get("/failures?days=400").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert_eq!(page.matches("role=\"alert\"").count(), 1, "one notice for one bad input: {page}");
}

#[tokio::test]
async fn sessions_that_lost_their_id_are_counted_and_repaired_once_dry_run_first() {
    let app = helpers::spawn_app().await;
    let sessions = helpers::raw_collection(app.store.database_name(), "sessions").await;
    sessions
        .insert_many([
            doc! { "user_id": 9101_i64, "order_id": Bson::Null, "current_step": "SHIPPING" },
            doc! { "user_id": 9102_i64, "current_step": "START" },
            doc! { "user_id": 9103_i64, "order_id": "", "current_step": "START" },
            doc! { "user_id": 9104_i64, "order_id": "ORD-20261121101502-a0a0a0a0", "current_step": "START" },
        ])
        .await
        .unwrap();
    let (cookie, csrf) = helpers::signed_in(&app.store, orderdesk::domain::accounts::Role::Admin).await;
    let admin = helpers::client_with(&cookie, true);
    let page = admin.get(format!("{}/maintenance", app.address)).send().await.unwrap().text().await.unwrap();
    let section = page.split("data-testid=\"sessions-without-id\"").nth(1).expect("the dry run is shown");
    assert!(
        section.contains("Dry run: 3 sessions would get an ID") && section.contains("telegram user 9101"),
        "{section}"
    );
    let missing = || doc! { "order_id": { "$in": [Bson::Null, ""] } };
    assert_eq!(sessions.count_documents(missing()).await.unwrap(), 3, "nothing written");
    let repair = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_owned())
        .find(|p| p.starts_with("/api/admin/repair_sessions"))
        .unwrap();
    let url = format!("{}{repair}", app.address);
    let send = |confirm: &'static str| admin.post(&url).form(&[("confirm", confirm), ("_csrf", csrf.as_str())]).send();
    assert_eq!(send("yes").await.unwrap().status(), 400, "the repair asks for its confirmation");
    let repaired: u64 = send("sessions").await.unwrap().json().await.unwrap();
    assert_eq!(repaired, 3);
    assert_eq!(sessions.count_documents(missing()).await.unwrap(), 0);
    let kept = sessions.find_one(doc! { "user_id": 9104_i64 }).await.unwrap().unwrap();
    assert_eq!(kept.get_str("order_id").unwrap(), "ORD-20261121101502-a0a0a0a0", "a session with an ID keeps it");
    let again: u64 = send("sessions").await.unwrap().json().await.unwrap();
    assert_eq!(again, 0, "a second repair finds nothing to do");
    let audited = app
        .store
        .audit_entries(
            &orderdesk::domain::audit::AuditFilter { action: Some("repair_sessions".into()), ..Default::default() },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(audited.len(), 3, "each admin request is on record: {audited:#?}");
}
