//! The app end to end over HTTP against a real mongod: pages, health, outage and recovery.

use crate::helpers;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use orderdesk::demo::{DemoSpec, generate};
use orderdesk::startup::Background;

#[tokio::test]
async fn healthz_says_the_process_answers_and_readyz_the_database() {
    let app = helpers::spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }), "status only");
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ready" }), "status only");
}

/// The app over a database loaded with demo data first, as `scripts/dev` does it (legacy
/// orders then block the unique index, and the app must run regardless).
async fn app_with_demo(spec: &DemoSpec) -> helpers::TestApp {
    let db = helpers::unique_db("demo");
    let store = orderdesk::storage::Store::connect(&helpers::settings(&helpers::mongodb_uri(), &db)).await.unwrap();
    orderdesk::demo::insert(&store, generate(spec)).await.unwrap();
    helpers::spawn_app_on(&helpers::mongodb_uri(), &db, true, |_| {}).await
}

/// The demo's 500 orders of 2026-11-20 noon.
fn five_hundred_orders() -> DemoSpec {
    DemoSpec {
        orders: 500,
        seed: 3,
        now: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        time_zone: chrono_tz::UTC,
    }
}

#[tokio::test]
async fn home_page_is_server_rendered_with_the_order_count() {
    let app = app_with_demo(&five_hundred_orders()).await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-count="500""#), "{html}");
    assert!(html.contains("orders in the database"));
    assert!(html.contains(r#"data-testid="recent-order""#));
}

#[tokio::test]
async fn pages_go_to_a_browser_compressed_with_brotli() {
    let app = app_with_demo(&five_hundred_orders()).await;
    // Chromium's header; reqwest is built without decompression, so the body arrives as sent.
    let res = app
        .client
        .get(format!("{}/", app.address))
        .header(reqwest::header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[reqwest::header::CONTENT_ENCODING], "br");
    let sent = res.bytes().await.unwrap();
    let mut html = Vec::new();
    brotli::BrotliDecompress(&mut sent.as_ref(), &mut html).expect("a whole brotli stream");
    let html = String::from_utf8(html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains(r#"data-count="500""#), "{html}");
    assert!(sent.len() * 3 < html.len(), "{} bytes sent for {} of page", sent.len(), html.len());
}

#[tokio::test]
async fn search_by_telegram_id_lists_that_customers_orders() {
    let spec = DemoSpec { orders: 400, seed: 9, now: Utc::now(), time_zone: chrono_tz::UTC };
    let data = generate(&spec);
    let telegram_id = data.orders.iter().find_map(|d| d.get_i64("telegram_id").ok()).unwrap();
    let expected = data.orders.iter().filter(|d| d.get_i64("telegram_id") == Ok(telegram_id)).count();
    let app = app_with_demo(&spec).await;
    let html = app.get(&format!("/search?q=%20%23{telegram_id}%20")).await.text().await.unwrap();
    assert_eq!(html.matches(r#"data-testid="order-row""#).count(), expected.min(50), "{html}");
    assert!(html.contains("read as a telegram id"));
}

#[tokio::test]
async fn bad_search_input_is_a_400_with_a_reason() {
    let app = helpers::spawn_app().await;
    for q in ["%7B%22%24gt%22%3A%20%22%22%7D", ".*", "ORD-2025"] {
        let res = app.get(&format!("/search?q={q}")).await;
        assert_eq!(res.status(), 400, "{q}");
        let html = res.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{html}");
    }
}

/// The issue's acceptance check: kill mongod under a running app, see 503 and a clear page
/// within 3 s, start mongod again, see everything recover without restarting the app.
#[tokio::test]
async fn a_dead_database_is_reported_within_3s_and_the_app_recovers() {
    let mut mongod = helpers::OwnMongod::start();
    let app = helpers::spawn_app_on(&mongod.uri(), "outage", false, |_| {}).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    mongod.kill();
    // The last ping's answer stands for a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "readyz took {:?}", started.elapsed());
    assert_eq!(app.get("/healthz").await.status(), 200, "the process itself is alive");

    let started = Instant::now();
    let res = app.get("/").await;
    assert!(started.elapsed() < Duration::from_secs(3), "the page took {:?}", started.elapsed());
    assert_eq!(res.status(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("Database unavailable"), "{html}");

    mongod.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not recover after mongod came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/").await.status(), 200);
}

/// A burst of calls that give up (their per-call bound passes while they wait for a
/// connection) leaves the pool serving: a ping straight after answers. Before the fix the
/// driver's pool kept every abandoned checkout queued and served one per pool event, so every
/// later call timed out for minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_that_give_up_do_not_wedge_the_pool() {
    let seeded = helpers::fresh_store("wedge").await;
    let settings = helpers::settings(&helpers::mongodb_uri(), seeded.database_name());
    let store = orderdesk::storage::Store::connect(&settings).await.expect("connect");
    store.ping().await.expect("a ping before the burst");
    let hasty = store.with_operation_timeout(Duration::from_millis(1));
    let burst = (0..3000).map(|_| {
        let hasty = hasty.clone();
        tokio::spawn(async move { hasty.order_count().await.is_ok() })
    });
    let answered = futures::future::join_all(burst).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert!(answered < 3000, "some calls gave up: {answered} answered");
    let ping = store.ping().await;
    assert!(ping.is_ok(), "after the burst the pool still serves: {ping:?}");
    assert!(store.order_count().await.is_ok(), "and so does every other call");
    // A slow call's record is written in the background with a place of its own: wait for it.
    helpers::eventually_within(Duration::from_secs(5), || async { (store.pool().in_use == 0).then_some(()) }).await;
    seeded.drop_database().await.unwrap();
}

/// Clients that hang up half way through (as wrk does at the end of a run) leave the server
/// healthy: requests that follow are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_that_hang_up_do_not_wedge_the_server() {
    let app = helpers::spawn_app().await;
    let burst = (0..1500u64).map(|i| {
        let (address, cookie) = (app.address.clone(), app.cookie.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_millis(1 + i * 7919 % 30)).build().unwrap();
            let _ = client.get(format!("{address}/")).header("cookie", cookie).send().await;
        })
    });
    futures::future::join_all(burst).await;
    let started = Instant::now();
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200, "healthy after the burst");
    assert!(started.elapsed() < Duration::from_secs(3), "answered at once: {:?}", started.elapsed());
    assert_eq!(app.get("/orders").await.status(), 200);
}

/// Admission at the edge: with one request worked on at a time, a burst queues; with a
/// 1 ms queue the requests that get no turn are refused at once (503 + Retry-After, never a
/// database timeout), health checks skip the queue, and with a long queue the same burst is
/// served in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_working_bound_requests_queue_and_a_full_queue_answers_503_at_once() {
    use std::time::{Duration, Instant};
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    let burst = |app: &helpers::TestApp| {
        let url = format!("{}/orders/{id}", app.address);
        let client = app.client.clone();
        async move {
            let calls = (0..60).map(|_| {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let started = Instant::now();
                    let res = client.get(&url).send().await.unwrap();
                    (res.status().as_u16(), res.headers().contains_key("retry-after"), started.elapsed())
                }
            });
            futures::future::join_all(calls).await
        }
    };

    let tight = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("queue"), true, |s| {
        s.concurrent_requests = 1;
        s.queue_wait = Duration::from_millis(1);
    })
    .await;
    tight.store.insert_order(&id, &helpers::bot_order(Some(5), Some(1.0)), chrono::Utc::now()).await.unwrap();
    let (results, health) = tokio::join!(burst(&tight), async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        reqwest::get(format!("{}/healthz", tight.address)).await.unwrap().status()
    });
    assert_eq!(health, 200, "health checks skip the queue");
    let refused: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!refused.is_empty(), "a 1 ms queue behind one worker refuses some of 60: {results:?}");
    assert!(results.iter().any(|r| r.0 == 200), "{results:?}");
    assert!(results.iter().all(|r| r.0 == 200 || r.0 == 503), "{results:?}");
    assert!(refused.iter().all(|r| r.1), "every refusal says when to retry");
    let slowest = refused.iter().map(|r| r.2).max().unwrap();
    assert!(slowest < Duration::from_millis(1500), "refusals come at once, not after a database timeout: {slowest:?}");

    let patient = helpers::spawn_app_on(&helpers::mongodb_uri(), tight.store.database_name(), false, |s| {
        s.concurrent_requests = 1;
        s.queue_wait = Duration::from_secs(20);
    })
    .await;
    let results = burst(&patient).await;
    assert!(results.iter().all(|r| r.0 == 200), "one at a time, all 60 are served: {results:?}");

    // A queue wait longer than the request's deadline: the wait ends first, so a request
    // that gets no turn hears "busy" (503 + Retry-After), never a bare 504.
    let hurried = helpers::spawn_app_on(&helpers::mongodb_uri(), tight.store.database_name(), false, |s| {
        s.concurrent_requests = 1;
        s.queue_wait = Duration::from_secs(30);
        s.request_timeout = Duration::from_millis(300);
    })
    .await;
    let results = burst(&hurried).await;
    assert!(results.iter().any(|r| r.0 == 503), "one at a time, not all 60 fit in 300 ms: {results:?}");
    assert!(results.iter().all(|r| r.0 == 200 || (r.0 == 503 && r.1)), "{results:?}");
}

/// Starting a server lists the Leptos routes, which suspends every resource in the process
/// while it runs (leptos-rs/leptos#4773): a page another server began meanwhile never
/// answered. Several servers start in this process while one serves a crowd of order
/// views, and every view is answered (before the fix, some hung until the client gave up).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_starting_in_the_process_leave_pages_being_rendered_alone() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("starts"), true, |s| {
        s.request_timeout = Duration::from_secs(120);
        s.queue_wait = Duration::from_secs(120);
    })
    .await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(78), Some(1.0)), Utc::now()).await.unwrap();
    let url = format!("{}/orders/{id}", app.address);
    // Far longer than any view takes beside the rest of the suite; a hung view takes forever.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .default_headers([(reqwest::header::COOKIE, app.cookie.parse().unwrap())].into_iter().collect())
        .build()
        .unwrap();
    let views = futures::future::join_all((0..200).map(|_| client.get(&url).send()));
    // Servers start and stop one after another until the views are all answered.
    let done = std::sync::atomic::AtomicBool::new(false);
    let starts = async {
        let mut started = 0;
        while started < 12 && !done.load(std::sync::atomic::Ordering::Relaxed) {
            let settings = helpers::settings(&helpers::mongodb_uri(), app.store.database_name());
            let other = helpers::build_app(settings, Background::Manual).await;
            other.run_until(async {}).await.unwrap();
            started += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        started
    };
    let views = async {
        let views = views.await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        views
    };
    let (views, started) = tokio::join!(views, starts);
    assert!(started > 1, "servers started during the views: {started}");
    let statuses: Vec<String> =
        views.into_iter().map(|r| r.map_or_else(|e| format!("{e}"), |r| r.status().to_string())).collect();
    let answered = statuses.iter().filter(|s| *s == "200 OK").count();
    assert_eq!(answered, 200, "{started} servers started meanwhile: {statuses:?}");
}
