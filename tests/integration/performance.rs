//! Slow-query metrics on the real mongod: every operation is counted, slow ones are kept in
//! the capped collection, `/api/performance/stats` is behind a `stats` key, and `/metrics`
//! is valid Prometheus text open to monitoring.

use crate::helpers;
use orderdesk::domain::accounts::{ApiKeyName, ApiKeyScope};

use std::time::Duration;

use chrono::Utc;

/// A small validator of the Prometheus text format (0.0.4): comments are `# HELP`/`# TYPE`,
/// every sample is `name{label="value",…} number`, every sample's family has a TYPE.
fn parse_prometheus(text: &str) -> Vec<(String, String, f64)> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap();
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                let l = l.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {line}"));
                for pair in l.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label {pair}: {line}"));
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "label name {k}");
                    assert!(!v.trim_end_matches('"').contains('"') || v.contains("\\\""), "{line}");
                }
                (n, l.to_owned())
            }
            None => (series, String::new()),
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "metric name {name}");
        let family = ["_bucket", "_sum", "_count"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
        assert!(typed.contains(name) || typed.contains(family), "{name} has no # TYPE");
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

#[tokio::test]
async fn every_operation_is_counted_and_exposed_as_stats_and_prometheus() {
    // Every operation counts as slow here, so the capped collection fills too.
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("perf"), true, |s| {
        s.slow_query = Duration::from_nanos(1);
        // Every operation then also writes its slow-query record through the same 16 places
        // in the driver, next to start-up's background work. Under CI's parallel suite a search
        // here once answered 5xx (not reproduced since; a 2.5 s wait for a place, a 503, is
        // the likely cause). This test counts operations; it does not time them.
        s.operation_timeout = Duration::from_secs(60);
    })
    .await;
    for _ in 0..5 {
        let res = app.get("/search?q=4242").await;
        let status = res.status();
        assert!(status.as_u16() < 500, "{status}: {}", res.text().await.unwrap_or_default());
    }
    let client = reqwest::Client::new();
    let stats_url = format!("{}/api/performance/stats", app.address);
    assert_eq!(client.get(&stats_url).send().await.unwrap().status(), 401);
    assert_eq!(client.get(&stats_url).header("x-api-key", "nope").send().await.unwrap().status(), 403);
    let bots =
        app.store.create_api_key(&ApiKeyName::parse("bot").unwrap(), ApiKeyScope::Bots, Utc::now()).await.unwrap();
    assert_eq!(
        client.get(&stats_url).header("x-api-key", &bots.key).send().await.unwrap().status(),
        403,
        "wrong scope"
    );
    let stats_key =
        app.store.create_api_key(&ApiKeyName::parse("grafana").unwrap(), ApiKeyScope::Stats, Utc::now()).await.unwrap();
    let res = client.get(&stats_url).header("x-api-key", &stats_key.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let ops = body["operations"].as_array().unwrap();
    let lookups = ops.iter().find(|o| o["op"] == "find_orders").unwrap_or_else(|| panic!("{ops:#?}"));
    assert!(lookups["count"].as_u64().unwrap() >= 5, "{lookups}");
    assert!(lookups["p50_ms"].as_f64().unwrap() <= lookups["p99_ms"].as_f64().unwrap());
    assert!(lookups["p99_ms"].as_f64().unwrap() <= lookups["max_ms"].as_f64().unwrap());
    // The slow ones reach the capped collection in the background.
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept = app.store.recent_slow_queries(50).await.unwrap();
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kept.iter().any(|s| s.op == "find_orders" && s.collection == "orders"), "{kept:#?}");

    let res = client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 200, "open without signing in");
    let text = res.text().await.unwrap();
    let samples = parse_prometheus(&text);
    let count = samples
        .iter()
        .find(|(n, l, _)| n == "orderdesk_db_operation_seconds_count" && l.contains("op=\"find_orders\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(count.2 >= 5.0);
    let inf = samples.iter().find(|(n, l, _)| {
        n == "orderdesk_db_operation_seconds_bucket" && l.contains(&format!("{},le=\"+Inf\"", count.1))
    });
    assert_eq!(inf.map(|s| s.2), Some(count.2), "the +Inf bucket holds every call");
    for name in
        ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"]
    {
        assert!(samples.iter().any(|(n, _, v)| n == name && *v > 0.0), "{name} missing in {text}");
    }

    // The page shows the table and the chart.
    let html = app.get("/performance").await.text().await.unwrap();
    assert!(html.contains("data-testid=\"operations\"") && html.contains("<svg"), "{html}");
}

/// With the profiler on, another client's operations (a bot with its own appName) are listed;
/// orderdesk's own are left out.
#[tokio::test]
async fn the_profiler_shows_other_clients_operations() {
    let store = helpers::fresh_store("profiler").await;
    store.set_profiling(2, 100).await.unwrap();
    let uri = format!("{}&appName=shipping-bot", helpers::mongodb_uri());
    let bot = mongodb::Client::with_uri_str(uri).await.unwrap();
    let orders = bot.database(store.database_name()).collection::<mongodb::bson::Document>("orders");
    orders.find_one(mongodb::bson::doc! { "telegram_id": 4242 }).await.unwrap();
    let profiler = store.profiler().await.unwrap();
    assert_eq!(profiler.level, 2);
    assert!(
        profiler.others.iter().any(|o| o.app == "shipping-bot" && o.namespace.ends_with(".orders")),
        "{profiler:#?}"
    );
    assert!(profiler.others.iter().all(|o| o.app != "orderdesk"));
    store.set_profiling(0, 100).await.unwrap();
    assert_eq!(store.profiler().await.unwrap().level, 0);
    store.drop_database().await.unwrap();
}
