//! Deployments other than the one mongod `scripts/test` starts (a one-member replica set):
//! a three-member set whose primary is killed under load, and a standalone mongod.

use crate::helpers::{self, OwnMongod, OwnReplicaSet, TEST_KEY};

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use orderdesk::{config::Secret, domain::ids::BbNumber};
use serde_json::Value;

/// What one allocation through the API came to.
struct Call {
    status: u16,
    body: Value,
    took: Duration,
}

async fn allocate(client: &reqwest::Client, address: &str, vendor: &str) -> Call {
    let started = Instant::now();
    let res = client
        .post(format!("{address}/api/v1/vendors/{vendor}/order-numbers"))
        .header("X-API-Key", TEST_KEY)
        .header("content-type", "application/json")
        .body(r#"{"user_id": "6834622e10d75a5ba7b7a1b2"}"#)
        .send()
        .await;
    match res {
        Ok(res) => {
            let status = res.status().as_u16();
            Call { status, body: res.json().await.unwrap_or(Value::Null), took: started.elapsed() }
        }
        Err(e) => Call { status: 0, body: Value::String(e.to_string()), took: started.elapsed() },
    }
}

/// How long the election may take: about 10-12 s on an idle machine, but once more than 20 s
/// in CI with the rest of the suite running on its two cores. The apps wait as long (their
/// failover wait), so what is tested stays that a request waits an election out.
const ELECTION_BOUND: Duration = Duration::from_secs(60);

/// Issue #16: two orderdesk processes and eight workers allocating numbers for three vendors
/// and one customer; the primary is killed with SIGKILL mid-storm. Every request within the
/// failover wait succeeds, no number or sequence is issued twice, and while the set elects,
/// `/readyz` and the pages say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_primary_under_load_fails_no_request_and_repeats_no_number() {
    let mut set = OwnReplicaSet::start(3).await;
    let database = helpers::unique_db("failover");
    let mut apps = Vec::new();
    for _ in 0..2 {
        apps.push(
            helpers::spawn_app_on(&set.uri(), &database, false, |s| {
                s.bootstrap_api_key = Some(Secret::new(TEST_KEY.into()));
                s.failover_wait = ELECTION_BOUND;
            })
            .await,
        );
    }
    let client = reqwest::Client::builder().timeout(ELECTION_BOUND * 2).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let vendors = ["pizza-palace", "sushi-bar", "taco-town"];
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, address, stop) = (client.clone(), apps[w % 2].address.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                calls.push((Instant::now(), allocate(&client, &address, vendors[i % vendors.len()]).await));
                i += 1;
            }
            calls
        }));
    }
    // While the set elects, what a person sees: /healthz and a page, polled.
    let watcher = {
        let (app_client, address, stop) = (apps[0].client.clone(), apps[0].address.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut health_said, mut page_said) = (false, false);
            while !stop.load(Ordering::Relaxed) {
                if let Ok(res) = app_client.get(format!("{address}/readyz")).send().await {
                    health_said |= res.status() == 503 && res.text().await.unwrap_or_default().contains("electing");
                }
                if let Ok(res) = app_client.get(format!("{address}/orders")).send().await {
                    page_said |= res.status() == 503
                        && res.text().await.unwrap_or_default().contains("Database electing a new primary");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (health_said, page_said)
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let primary = set.primary().await.expect("a primary before the kill");
    let killed_at = Instant::now();
    set.members[primary].kill();
    // The election (about 10-12 s with the default settings), then some calls on the new primary.
    let next = helpers::eventually_within(ELECTION_BOUND, || async { set.primary().await }).await;
    let elected_after = killed_at.elapsed();
    assert_ne!(next, primary);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = Vec::new();
    for w in workers {
        calls.extend(w.await.unwrap());
    }
    let (health_said, page_said) = watcher.await.unwrap();

    let failed: Vec<String> =
        calls.iter().filter(|(_, c)| c.status != 200).map(|(_, c)| format!("{} {}", c.status, c.body)).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        calls.len(),
        &failed[..failed.len().min(5)]
    );
    let numbers: HashSet<&str> = calls.iter().map(|(_, c)| c.body["order_number"].as_str().unwrap()).collect();
    assert_eq!(numbers.len(), calls.len(), "a number was issued twice");
    let mut per_vendor: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (_, c) in &calls {
        let counter = c.body["counter_id"].as_str().unwrap().to_owned();
        let n = BbNumber::parse(c.body["order_number"].as_str().unwrap()).unwrap();
        per_vendor.entry(counter).or_default().push(n.sequence);
    }
    for (counter, mut seqs) in per_vendor {
        let issued = seqs.len();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), issued, "counter {counter} gave a sequence twice");
    }
    let after_kill = calls.iter().filter(|(at, _)| *at > killed_at + elected_after).count();
    assert!(after_kill > 0, "no allocation after the new primary was elected");
    let longest = calls.iter().map(|(_, c)| c.took).max().unwrap();
    eprintln!(
        "failover: {} allocations, 0 failed; primary elected {:.1} s after the kill; longest request {:.1} s",
        calls.len(),
        elected_after.as_secs_f64(),
        longest.as_secs_f64()
    );
    assert!(health_said, "/readyz never said the set was electing");
    assert!(page_said, "no page said the set was electing");
}

/// A standalone mongod (no replica set, so no transactions or change streams) stays
/// supported: numbers, order IDs, new orders, lookups and the order page all work on one.
#[tokio::test]
async fn a_standalone_mongod_serves_every_feature_the_bots_and_the_desk_use() {
    let mongod = OwnMongod::start();
    let app = helpers::spawn_app_on(&mongod.uri(), &helpers::unique_db("standalone"), false, |s| {
        s.bootstrap_api_key = Some(Secret::new(TEST_KEY.into()));
    })
    .await;
    let post = |path: &str, body: &str| {
        app.client
            .post(format!("{}{path}", app.address))
            .header("X-API-Key", TEST_KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    for expected in 1..=3 {
        let res = post("/api/v1/vendors/pizza-palace/order-numbers", r#"{"user_id": "u-77"}"#).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["sequence"], expected);
    }
    let res = post("/api/v1/order-ids", r#"{"telegram_id": 4455}"#).await.unwrap();
    assert_eq!(res.status(), 200);
    let res = post("/api/v1/orders", r#"{"telegram_id": 4455, "amount": 12.5}"#).await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let display = created["display_id"].as_str().unwrap();
    let page = app.get(&format!("/orders/{display}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(created["order_id"].as_str().unwrap()));
    let health: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(health["status"], "ready");
    // No change streams here: a bot's own order gets its display form from the polling pass.
    let orders = helpers::raw_collection_on(&mongod.uri(), app.store.database_name(), "orders").await;
    let inserted =
        mongodb::bson::doc! { "order_id": "ORD-20261120120000-abcdef12", "created_at": mongodb::bson::DateTime::now() };
    orders.insert_one(inserted).await.unwrap();
    helpers::eventually(|| async {
        orders.find_one(mongodb::bson::doc! { "display_id": "ORD-ABCDEF" }).await.unwrap()
    })
    .await;
}
