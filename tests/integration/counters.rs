//! The counters page's judgement on crafted data in the marketplace's own shape (Mongoose's
//! `__v`, 32-bit sequences): each warning fires exactly where it should.

use crate::helpers;

use chrono::{TimeZone, Utc};
use mongodb::bson::{DateTime as BsonTime, doc};
use orderdesk::domain::counters::CounterRow;

fn at(h: u32, m: u32) -> BsonTime {
    BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap().timestamp_millis())
}

fn kinds(rows: &[CounterRow], id: &str) -> Vec<&'static str> {
    let row = rows.iter().find(|r| r.counter_id == id).unwrap_or_else(|| panic!("{id} missing in {rows:#?}"));
    row.warnings.iter().map(|w| w.kind()).collect()
}

#[tokio::test]
async fn each_counter_warning_fires_exactly_when_it_should() {
    let store = helpers::fresh_store("counters").await;
    let counters = helpers::raw_collection(store.database_name(), "ordercounters").await;
    counters
        .insert_many([
            doc! { "counterId": "20261121-hot", "sequence": 80_000_i32, "lastUpdated": at(11, 0), "__v": 0 },
            doc! { "counterId": "20261121-calm", "sequence": 3_i32, "lastUpdated": at(10, 0), "__v": 0 },
            doc! { "counterId": "20261121-double", "sequence": 2_i32, "lastUpdated": at(10, 0), "__v": 0 },
            doc! { "counterId": "20261121-late", "sequence": 1_i64, "lastUpdated": BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 5).unwrap().timestamp_millis()), "__v": 0 },
            doc! { "counterId": "20261120-calm", "sequence": 7_i32, "lastUpdated": at(1, 0), "__v": 0 },
            // Time-based counters: one per vendor and hour, summed per vendor, never malformed.
            doc! { "counterId": "20261121T0900-calm", "sequence": 2_i32, "lastUpdated": at(9, 30), "__v": 0 },
            doc! { "counterId": "20261121T1000-calm", "sequence": 90_000_i32, "lastUpdated": at(10, 59), "__v": 0 },
            doc! { "counterId": "calm-2026", "sequence": 1_i32, "lastUpdated": at(1, 0), "__v": 0 },
        ])
        .await
        .unwrap();
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    let order = |vendor: &str, n: u32, h: u32| doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": vendor, "order_number": format!("BB-{vendor}-{n}"), "created_at": at(h, 0) };
    orders
        .insert_many([
            order("calm", 1, 9),
            order("calm", 2, 9),
            order("calm", 3, 11),
            order("double", 1, 9),
            order("double", 2, 9),
            order("double", 3, 9),
            order("late", 1, 23),
            // A time-based number of calm's counts on its bucket, not on its daily counter.
            doc! { "source": "marketplace", "order_id": "time-based", "vendor_id": "calm", "order_number": "BB-1795258800-A1B2-00001", "created_at": at(9, 0) },
            // Yesterday's order does not count for today.
            doc! { "source": "marketplace", "order_id": "yesterday", "vendor_id": "hot", "order_number": "BB-y", "created_at": BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 11, 20, 23, 0, 0).unwrap().timestamp_millis()) },
        ])
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 11, 30, 0).unwrap();
    let view = orderdesk::services::monitoring::counters_today(&store, &Default::default(), chrono_tz::UTC, 60, now)
        .await
        .unwrap();
    assert_eq!(view.rows.len(), 4, "today's counters only");
    // 80,000 by 11:30 is ~7,000 an hour: the last 19,999 go by about 14:20, before midnight.
    assert_eq!(kinds(&view.rows, "20261121-hot"), ["near-cap", "gaps", "cap-forecast"]);
    assert!(kinds(&view.rows, "20261121-calm").is_empty());
    assert_eq!(kinds(&view.rows, "20261121-double"), ["more-orders"]);
    assert_eq!(kinds(&view.rows, "20261121-late"), ["late-update"]);
    let calm = view.rows.iter().find(|r| r.counter_id == "20261121-calm").unwrap();
    assert_eq!((calm.sequence, calm.orders, calm.orders_last_hour), (3, 3, 1), "one order in the last hour (11:00)");
    assert_eq!(view.time_based.len(), 1, "{:?}", view.time_based);
    let calm_buckets = &view.time_based[0];
    assert_eq!(
        (calm_buckets.vendor.as_str(), calm_buckets.buckets, calm_buckets.issued, calm_buckets.busiest.as_str()),
        ("calm", 2, 90_002, "20261121T1000-calm")
    );
    assert_eq!(calm_buckets.warnings.iter().map(|w| w.kind()).collect::<Vec<_>>(), ["near-cap"]);
    assert_eq!(view.malformed.len(), 1);
    assert_eq!(view.malformed[0].counter_id, "calm-2026");
    assert_eq!(kinds(&view.malformed, "calm-2026"), ["unparseable"]);

    // In Berlin, 23:00 UTC on the 21st is already the 22nd: the late order leaves "late"'s day.
    let berlin = orderdesk::services::monitoring::counters_today(
        &store,
        &Default::default(),
        chrono_tz::Europe::Berlin,
        60,
        now,
    )
    .await
    .unwrap();
    assert_eq!(kinds(&berlin.rows, "20261121-late"), ["gaps", "late-update"]);

    let history = orderdesk::services::monitoring::vendor_history(
        &store,
        chrono_tz::UTC,
        &orderdesk::domain::ids::VendorId::parse("calm").unwrap(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(history.len(), 30);
    assert_eq!(history[29], (now.date_naive(), 3, 3));
    assert_eq!(history[28], (now.date_naive().pred_opt().unwrap(), 7, 0));
    store.drop_database().await.unwrap();
}

/// The counters page names today's vendors in an `$in` up to a thousand of them and reads
/// every vendor's orders past that (mongod's cost of a long `$in`): both count the same.
#[tokio::test]
async fn many_vendors_count_their_orders_as_few_do() {
    let store = helpers::fresh_store("counters_many").await;
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    let oid = mongodb::bson::oid::ObjectId::new();
    let order = |vendor: mongodb::bson::Bson, number: &str, h: u32| doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": vendor, "order_number": number, "created_at": at(h, 0) };
    orders
        .insert_many([
            order("calm".into(), "BB-c-1", 9),
            order("calm".into(), "BB-c-2", 10),
            order(oid.into(), "BB-o-1", 9),
            order(42_i32.into(), "BB-n-1", 9),
            order(42_i64.into(), "BB-n-2", 10),
            // Not a listed vendor, and a time-based number: neither counts.
            order("unlisted".into(), "BB-u-1", 9),
            order("calm".into(), "BB-1795258800-A1B2-00001", 9),
            // Yesterday.
            doc! { "source": "marketplace", "order_id": "old", "vendor_id": "calm", "order_number": "BB-c-0", "created_at": BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 11, 20, 23, 0, 0).unwrap().timestamp_millis()) },
        ])
        .await
        .unwrap();
    let few: Vec<String> = vec!["calm".into(), oid.to_hex(), "42".into()];
    let many: Vec<String> = few.iter().cloned().chain((0..1_500).map(|i| format!("made-up-{i}"))).collect();
    let utc = |h, m| Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap();
    let (from, to) = (utc(0, 0), utc(23, 59));
    let by_few = store.numbered_orders_by_vendor(&few, from, to, true).await.unwrap();
    let by_many = store.numbered_orders_by_vendor(&many, from, to, true).await.unwrap();
    let expected: std::collections::HashMap<String, u64> =
        [("calm".to_owned(), 2), (oid.to_hex(), 1), ("42".to_owned(), 2)].into_iter().collect();
    assert_eq!(by_few, expected);
    assert_eq!(by_many, expected);
    // Every order in the window, numbered or not, of listed vendors only.
    let hour = store.numbered_orders_by_vendor(&many, utc(9, 0), utc(9, 30), false).await.unwrap();
    let expected: std::collections::HashMap<String, u64> =
        [("calm".to_owned(), 2), (oid.to_hex(), 1), ("42".to_owned(), 1)].into_iter().collect();
    assert_eq!(hour, expected);
    store.drop_database().await.unwrap();
}

/// Malformed counters are found by reading every counter kept (no index serves "does not look
/// like a counter ID"), so a process believes what it found for a minute.
#[tokio::test]
async fn malformed_counters_are_read_again_only_after_a_minute() {
    let store = helpers::fresh_store("counters_malformed").await;
    let counters = helpers::raw_collection(store.database_name(), "ordercounters").await;
    let counter = |id: &str| doc! { "counterId": id, "sequence": 1_i32, "lastUpdated": at(1, 0), "__v": 0 };
    counters.insert_one(counter("calm-2026")).await.unwrap();
    let ids = |found: Vec<orderdesk::storage::counters::RawCounter>| {
        let mut ids: Vec<String> = found.into_iter().map(|c| c.counter_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(store.malformed_counters().await.unwrap()), ["calm-2026"]);
    counters.insert_one(counter("2026-11-21-calm")).await.unwrap();
    assert_eq!(
        ids(store.malformed_counters().await.unwrap()),
        ["calm-2026"],
        "what was found is believed for a minute"
    );
    // Another process (a store of its own) reads them afresh.
    let other = store.with_database(store.database_name());
    assert_eq!(ids(other.malformed_counters().await.unwrap()), ["2026-11-21-calm", "calm-2026"]);
    store.drop_database().await.unwrap();
}

/// A vendor whose evenings are usually a hundred times busier than its mornings: at a
/// morning's rate the cap is days away, by its usual day it comes tonight.
#[tokio::test]
async fn a_vendors_usual_day_shapes_its_cap_forecast() {
    let store = helpers::fresh_store("shape").await;
    let counters = helpers::raw_collection(store.database_name(), "ordercounters").await;
    counters
        .insert_many([
            doc! { "counterId": "20261121-evening", "sequence": 20_000_i32, "lastUpdated": at(11, 0) },
            doc! { "counterId": "20261121-newcomer", "sequence": 20_000_i32, "lastUpdated": at(11, 0) },
        ])
        .await
        .unwrap();
    let mut history = Vec::new();
    for days_ago in 1..=10 {
        let day = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap() - chrono::Duration::days(days_ago);
        for (hour, count) in [(11, 3), (20, 300)] {
            for i in 0..count {
                let created = day + chrono::Duration::hours(hour) + chrono::Duration::seconds(i);
                history.push(doc! {
                    "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "evening",
                    "order_number": format!("BB-{days_ago}-{hour}-{i}"), "created_at": BsonTime::from_millis(created.timestamp_millis()),
                });
            }
        }
    }
    helpers::raw_collection(store.database_name(), "orders").await.insert_many(history).await.unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 11, 30, 0).unwrap();
    let view = orderdesk::services::monitoring::counters_today(&store, &Default::default(), chrono_tz::UTC, 60, now)
        .await
        .unwrap();
    let row = |id: &str| view.rows.iter().find(|r| r.counter_id == id).unwrap().forecast.clone().unwrap();
    // 20,000 by 11:30 is ~1,740 an hour: flat, 80,000 more take two days.
    let newcomer = row("20261121-newcomer");
    assert!(!newcomer.shaped && newcomer.cap_at.is_none(), "no history, flat: {newcomer:?}");
    assert_eq!(kinds(&view.rows, "20261121-newcomer"), ["gaps"]);
    // Its 20:00 hour is usually 100 times its 11:00 hour: ~174,000 an hour then, so the cap
    // comes at about 20:26.
    let evening = row("20261121-evening");
    assert!(evening.shaped, "{evening:?}");
    let cap = evening.cap_at.expect("the cap comes tonight");
    assert_eq!(cap.format("%H").to_string(), "20", "{evening:?}");
    assert!(kinds(&view.rows, "20261121-evening").contains(&"cap-forecast"));
    store.drop_database().await.unwrap();
}

/// The live counters' long poll, over HTTP as the page calls it.
async fn counters_changed(app: &helpers::TestApp, seen: u64) -> Option<u64> {
    let path = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|p| p.starts_with("/api/staff/counters_changed"))
        .expect("the server function is registered");
    let res = app.client.get(format!("{}{path}?seen={seen}", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Issue #16: on a replica set a counter change reaches a waiting page as it happens (a long
/// poll on a change stream), and every process reports it under the same cluster time, so a
/// page behind a balancer can ask any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_change_ends_the_pages_wait_in_every_process() {
    let database = helpers::unique_db("live_counters");
    let a = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, true, |_| {}).await;
    let b = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, false, |_| {}).await;
    let counter = orderdesk::domain::ids::CounterId::new(
        Utc::now().date_naive(),
        orderdesk::domain::ids::VendorId::parse("pizza-palace").unwrap(),
    );
    // Once both follow the counters, a change is seen by both under one cluster time.
    let first = helpers::eventually(|| async {
        a.store.next_in_counter(&counter, Utc::now()).await.unwrap();
        let (va, vb) = (counters_changed(&a, 0).await, counters_changed(&b, 0).await);
        (va.is_some_and(|v| v > 0) && va == vb).then_some(va.unwrap())
    })
    .await;
    // A page waiting on `b` hears of a change made through `a`.
    let waiting = {
        let (client, address) = (b.client.clone(), b.address.clone());
        let path = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.to_owned())
            .find(|p| p.starts_with("/api/staff/counters_changed"))
            .unwrap();
        tokio::spawn(async move {
            let res = client.get(format!("{address}{path}?seen={first}")).send().await.unwrap();
            res.json::<Option<u64>>().await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    a.store.next_in_counter(&counter, Utc::now()).await.unwrap();
    let after = waiting.await.unwrap().expect("a replica set has change streams");
    assert!(after > first, "the wait ended without the change: {after} <= {first}");
    // Asked with a time it has not reached yet (the other process is ahead), a process waits
    // rather than answer with an older one.
    assert!(counters_changed(&b, after + 1).await.is_some_and(|v| v > after));
}

/// Issue #17: a vendor-day's numbers issued against numbers held, gap by gap, on its page
/// and as CSV; a counterId that does not parse is a 400, one that does not exist a 404.
#[tokio::test]
async fn a_vendor_days_gaps_are_listed_on_its_page_and_in_the_csv() {
    let app = helpers::spawn_app().await;
    let db = app.store.database_name().to_owned();
    helpers::raw_collection(&db, "ordercounters")
        .await
        .insert_one(doc! { "counterId": "20261121-pizza", "sequence": 6_i32, "lastUpdated": at(12, 0), "__v": 0 })
        .await
        .unwrap();
    let order = |n: u32| {
        doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "pizza",
        "order_number": format!("BB-1763726400000-A1B2-{n:05}"), "created_at": at(10, n) }
    };
    helpers::raw_collection(&db, "orders").await.insert_many([order(1), order(2), order(4)]).await.unwrap();

    let page = app.get("/counters/20261121-pizza").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"gaps\""), "{html}");
    assert!(html.contains("00003") && html.contains("00005–00006"), "{html}");
    assert!(html.contains("drawn last, no order stored"), "{html}");

    let csv = app.get("/counters/20261121-pizza/gaps.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(
        csv.text().await.unwrap(),
        "counter_id,from,to,numbers,cause\n20261121-pizza,3,3,1,Unexplained\n20261121-pizza,5,6,2,LastDrawn\n"
    );
    assert_eq!(app.get("/counters/not-a-counter/gaps.csv").await.status(), 400);
    assert_eq!(app.get("/counters/20261121-nobody/gaps.csv").await.status(), 404);
    let missing = app.get("/counters/20261121-nobody").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("There is no counter 20261121-nobody"));
    // An address that names no counter: the parser's words, as a 400 page.
    let bad = app.get("/counters/not-a-counter").await;
    assert_eq!(bad.status(), 400);
    let html = bad.text().await.unwrap();
    assert!(html.contains("data-error=\"Check the input\"") && html.contains("not-a-counter"), "{html}");
}

/// A time bucket's forensics count only the time-based numbers stamped inside it.
#[tokio::test]
async fn a_time_buckets_forensics_read_its_own_numbers() {
    let store = helpers::fresh_store("bucketgaps").await;
    let counters = helpers::raw_collection(store.database_name(), "ordercounters").await;
    counters
        .insert_many([
            doc! { "counterId": "20261121T1000-deli", "sequence": 3_i32, "lastUpdated": at(10, 30) },
            doc! { "counterId": "20261121-deli", "sequence": 2_i32, "lastUpdated": at(10, 30) },
        ])
        .await
        .unwrap();
    // 10:00 UTC on 21 November 2026 is 1795255200.
    let order = |number: &str, h: u32, m: u32| doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "deli", "order_number": number, "created_at": at(h, m) };
    helpers::raw_collection(store.database_name(), "orders")
        .await
        .insert_many([
            order("BB-1795255260-A1B2-00001", 10, 1),
            order("BB-1795257000-A1B2-00003", 10, 30),
            // The next bucket's first number, and the daily counter's: neither is this bucket's.
            order("BB-1795258800-A1B2-00002", 11, 0),
            order("BB-1795255300000-A1B2-00002", 10, 2),
        ])
        .await
        .unwrap();
    let bucket = orderdesk::domain::ids::CounterId::parse("20261121T1000-deli").unwrap();
    let f = orderdesk::services::monitoring::counter_forensics(&store, chrono_tz::UTC, &bucket, None, 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.issued, f.held), (3, 2), "{f:?}");
    assert_eq!(f.gaps.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(), [(2, 2)]);
    let day = orderdesk::domain::ids::CounterId::parse("20261121-deli").unwrap();
    let f = orderdesk::services::monitoring::counter_forensics(&store, chrono_tz::UTC, &day, None, 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((f.issued, f.held), (2, 1), "only the ultra number is the daily counter's: {f:?}");
    store.drop_database().await.unwrap();
}

/// A day of 250 vendors: the page lists the 100 nearest their cap and says how to see the
/// rest; "Show all" lists every one, and the vendor filter narrows on the server.
#[tokio::test]
async fn the_counters_page_lists_a_hundred_and_all_on_request() {
    let app = helpers::spawn_app().await;
    let counters = helpers::raw_collection(app.store.database_name(), "ordercounters").await;
    let day = Utc::now().format("%Y%m%d").to_string();
    let docs = (0..250).map(|i| {
        doc! { "counterId": format!("{day}-bulk-{i:03}"), "sequence": i + 1, "lastUpdated": BsonTime::now(), "__v": 0 }
    });
    counters.insert_many(docs).await.unwrap();
    let page = async |path: &str| {
        let res = helpers::send_past_overload(app.client.get(format!("{}{path}", app.address))).await;
        assert_eq!(res.status(), 200, "{path}");
        res.text().await.unwrap()
    };
    let rows = |html: &str| html.matches("data-counter=\"").count();
    let first = page("/counters").await;
    assert_eq!(rows(&first), 100);
    assert!(first.contains("Showing the first 100 of 250 counters"), "{first}");
    // Nearest the cap first: the highest sequence leads.
    assert!(first.find(&format!("{day}-bulk-249")) < first.find(&format!("{day}-bulk-150")));
    assert!(!first.contains(&format!("data-counter=\"{day}-bulk-000\"")));
    let all = page("/counters?all=1").await;
    assert_eq!(rows(&all), 250);
    assert!(!all.contains("counters-more"));
    // bulk-240 … bulk-249, in any case.
    let some = page("/counters?q=BULK-24").await;
    assert_eq!(rows(&some), 10);
    assert!(some.contains("10 of 250 counters match “BULK-24”."), "{some}");
    assert!(!first.contains("counters-matching"), "no filter, no count of matches");
}
