//! Index checks and migrations on a database shaped like the shipping bot's and the
//! marketplace's legacy data, on the real mongod: the check finds every blocker, the
//! migrations fix them in batches, the unique index then builds, a re-run changes nothing,
//! and a migration killed with SIGKILL half way is finished by the next run.

use crate::helpers;

use std::{
    collections::{HashMap, HashSet},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};
use orderdesk::{
    domain::ids::{BbNumber, CounterId, LookupKey, OrderId, VendorId},
    domain::maintenance::{
        ApplyOutcome, FreshIdForm, IndexState, Migration, MigrationOptions, RunRecord, RunStatus, Task,
    },
    domain::{accounts::Role, audit::Actor},
    services::runs::{self, MaintenanceError},
    storage::Store,
};

async fn raw_orders(store: &Store) -> mongodb::Collection<Document> {
    helpers::raw_collection(store.database_name(), "orders").await
}

fn at(day: u32, hour: u32) -> BsonTime {
    BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap().timestamp_millis())
}

/// The bot's legacy orders: 5 without order_id, 4 null, 3 empty, two pairs and a triple of
/// duplicates, 20 good ones; and the marketplace's: 6 without a BB number (two vendors, two
/// days), one without a user id, 3 numbered.
async fn legacy_database() -> (Store, mongodb::Collection<Document>) {
    // No indexes yet: legacy data came first, as in production.
    let settings = helpers::settings(&helpers::mongodb_uri(), &helpers::unique_db("maint"));
    let store = Store::connect(&settings).await.unwrap();
    let orders = raw_orders(&store).await;
    let mut docs = Vec::new();
    for i in 0..20 {
        let id = OrderId::ord(Utc.with_ymd_and_hms(2026, 3, 1, 1, i as u32, 0).unwrap(), 0x1000_0000 + i as u32);
        docs.push(doc! { "order_id": id.to_string(), "display_id": id.display_id().to_string(), "id": format!("good_{i}"), "created_at": at(1, 1), "source": "shipping_bot" });
    }
    for i in 0..5 {
        docs.push(doc! { "id": format!("missing_{i}"), "created_at": at(2, i), "source": "shipping_bot" });
    }
    for i in 0..4 {
        docs.push(doc! { "id": format!("null_{i}"), "order_id": Bson::Null, "created_at": at(3, i), "source": "shipping_bot" });
    }
    // One of the empty ones has no created_at: it gets a pure UUID.
    docs.push(doc! { "id": "empty_0", "order_id": "", "source": "shipping_bot" });
    for i in 1..3 {
        docs.push(
            doc! { "id": format!("empty_{i}"), "order_id": "", "created_at": at(4, i), "source": "shipping_bot" },
        );
    }
    for (id, copies) in
        [("ORD-20260305010000-aaaaaaaa", 2), ("ORD-20260305020000-bbbbbbbb", 2), ("ORD-20260305030000-cccccccc", 3)]
    {
        for c in 0..copies {
            // Inserted newest first, so "oldest keeps it" is not simply "first inserted".
            docs.push(doc! { "order_id": id, "display_id": OrderId::parse(id).unwrap().display_id().to_string(), "id": format!("{id}#{c}"), "created_at": at(5, 10 - c), "source": "shipping_bot" });
        }
    }
    for (vendor, day, n) in [("pizza-palace", 6, 3), ("sushi-go", 6, 2), ("pizza-palace", 7, 1)] {
        for i in 0..n {
            docs.push(doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": vendor, "user_id": format!("6834622e10d75a5ba7b7{i:04}"), "created_at": at(day, 12 + i), "status": "pending" });
        }
    }
    docs.push(doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "pizza-palace", "created_at": at(6, 20), "status": "pending" });
    for i in 1..=3 {
        let n = BbNumber::parse(&format!("BB-1772798400000-00{i:02}-{i:05}")).unwrap();
        docs.push(doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "pizza-palace", "user_id": "u1", "order_number": n.to_string(), "created_at": at(6, 1) });
    }
    orders.insert_many(docs).await.unwrap();
    (store, orders)
}

async fn run(store: &Store, migration: Migration, dry_run: bool) -> RunRecord {
    let options = MigrationOptions { dry_run, batch: 4, id_form: FreshIdForm::OrdFromCreatedAt };
    let prepared =
        runs::prepare_migration(store, chrono_tz::UTC, migration, options, &Actor::staff("test", Role::Admin, ""))
            .await
            .unwrap_or_else(|e| panic!("{migration}: {e}"));
    let mut progress_calls = 0;
    let record = prepared.execute(|_| progress_calls += 1).await;
    assert!(progress_calls >= 1);
    assert_eq!(record.status, RunStatus::Completed, "{record:?}");
    record
}

async fn blank_ids(orders: &mongodb::Collection<Document>) -> u64 {
    orders.count_documents(doc! { "order_id": { "$in": [Bson::Null, ""] } }).await.unwrap()
}

fn cli(store: &Store, args: &[&str]) -> std::process::Output {
    Command::new(helpers::orderdesk_bin())
        .args(args)
        .env("MONGODB_URI", helpers::mongodb_uri())
        .env("ORDERDESK_DATABASE", store.database_name())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_check_finds_every_blocker_and_the_migrations_fix_them_once() {
    let (store, orders) = legacy_database().await;
    for outcome in store.ensure_indexes().await {
        if (outcome.index.collection, outcome.index.name) == ("orders", "order_id_1") {
            assert!(outcome.result.is_err(), "legacy data must block the unique index: {outcome:?}");
            assert_eq!(outcome.stand_in.as_deref(), Some("order_id_1_nonunique"));
        }
    }

    // The check names each kind of blocker.
    let reports = store.check_indexes().await.unwrap();
    let order_id = reports.iter().find(|r| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(order_id.state, IndexState::Missing);
    assert_eq!(order_id.stand_in.as_deref(), Some("order_id_1_nonunique"));
    let b = order_id.blockers.as_ref().unwrap();
    assert_eq!((b.missing, b.null, b.empty, b.duplicate_values, b.duplicate_documents), (5, 4, 3, 3, 7));
    assert!(b.block());
    assert_eq!(b.fixed_by(), vec![Migration::OrderIds, Migration::Duplicates]);
    assert!(b.sample.iter().any(|s| s.problem == "null" && s.lookup.as_deref() == Some("null_0")));
    assert!(
        reports
            .iter()
            .filter(|r| r.collection != "orders" || r.name != "order_id_1")
            .all(|r| r.state == IndexState::Present),
        "{reports:#?}"
    );
    let out = cli(&store, &["indexes", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("MISSING") && printed.contains("BLOCKED: 5 missing, 4 null, 3 empty"), "{printed}");

    // Apply refuses while data blocks it, and keeps the stand-in.
    let payments = helpers::raw_collection(store.database_name(), "payments").await;
    payments.drop_index("order_id_1").await.unwrap();
    let applied = store.apply_indexes().await.unwrap();
    let (_, outcome) = applied.iter().find(|(r, _)| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(*outcome, ApplyOutcome::Blocked);
    // The rest are created, each on its own collection: `payments.order_id_1` shares its name
    // with the blocked one and once was built as the orders' unique index by mistake.
    let (_, payments) = applied.iter().find(|(r, _)| r.collection == "payments" && r.name == "order_id_1").unwrap();
    assert_eq!(*payments, ApplyOutcome::Created);
    assert!(!applied.iter().any(|(_, o)| matches!(o, ApplyOutcome::Failed(_))), "{applied:#?}");
    assert_eq!(cli(&store, &["indexes", "apply"]).status.code(), Some(1));

    // order-ids: the dry run reports exactly the 12 and writes nothing.
    let dry = run(&store, Migration::OrderIds, true).await;
    assert_eq!((dry.total, dry.done, dry.changed), (12, 12, 12));
    assert_eq!(dry.changes.len(), 12);
    assert!(dry.changes.iter().any(|c| c.from == "missing") && dry.changes.iter().any(|c| c.from == "\"\""));
    assert_eq!(blank_ids(&orders).await, 12);
    let real = run(&store, Migration::OrderIds, false).await;
    assert_eq!(real.changed, 12);
    assert_eq!(blank_ids(&orders).await, 0);
    let fixed = orders.find_one(doc! { "id": "missing_3" }).await.unwrap().unwrap();
    let id = OrderId::parse(fixed.get_str("order_id").unwrap()).unwrap();
    assert_eq!(id.timestamp().unwrap().timestamp_millis(), at(2, 3).timestamp_millis(), "ORD from created_at");
    assert_eq!(fixed.get_str("display_id").unwrap(), id.display_id().to_string());
    let no_time = orders.find_one(doc! { "id": "empty_0" }).await.unwrap().unwrap();
    assert_eq!(OrderId::parse(no_time.get_str("order_id").unwrap()).unwrap().scheme(), "UUID");
    let again = run(&store, Migration::OrderIds, false).await;
    assert_eq!((again.total, again.changed), (0, 0));
    assert!(again.message.starts_with("nothing to do"), "{}", again.message);

    // duplicates: the oldest keeps its ID; the others are findable by the old one.
    let dry = run(&store, Migration::Duplicates, true).await;
    assert_eq!((dry.total, dry.changed), (4, 4));
    let real = run(&store, Migration::Duplicates, false).await;
    assert_eq!(real.changed, 4);
    let triple = "ORD-20260305030000-cccccccc";
    let keeper = orders.find_one(doc! { "order_id": triple }).await.unwrap().unwrap();
    assert_eq!(keeper.get_str("id").unwrap(), format!("{triple}#2"), "the oldest (created first) keeps the ID");
    let found = store.find_orders(&LookupKey::parse(triple).unwrap()).await.unwrap();
    assert_eq!(found.len(), 3, "the keeper and both renamed orders");
    assert_eq!(found.iter().filter(|o| o.order_id.as_deref() == Some(triple)).count(), 1);
    assert_eq!(found[0].order_id.as_deref(), Some(triple), "the order holding the key comes first");
    let again = run(&store, Migration::Duplicates, false).await;
    assert_eq!(again.changed, 0);

    // order-numbers: continue the vendor's counter for that day, in time order.
    let vendor = VendorId::parse("pizza-palace").unwrap();
    let day6 = CounterId::new(chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(), vendor.clone());
    store.set_counter(&day6, 3, Utc::now()).await.unwrap();
    let dry = run(&store, Migration::OrderNumbers, true).await;
    assert_eq!((dry.total, dry.changed, dry.errors), (7, 6, 1));
    assert!(dry.error_samples[0].contains("no user_id"), "{:?}", dry.error_samples);
    assert_eq!(store.counter_sequence(&day6.to_string()).await.unwrap(), Some(3), "a dry run advances nothing");
    let real = run(&store, Migration::OrderNumbers, false).await;
    assert_eq!((real.changed, real.errors), (6, 1));
    assert_eq!(store.counter_sequence(&day6.to_string()).await.unwrap(), Some(6));
    let numbered: Vec<Document> = orders
        .find(doc! { "vendor_id": "pizza-palace", "counter_id": day6.to_string() })
        .sort(doc! { "created_at": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let sequences: Vec<u32> =
        numbered.iter().map(|d| BbNumber::parse(d.get_str("order_number").unwrap()).unwrap().sequence).collect();
    assert_eq!(sequences, vec![4, 5, 6]);
    assert_eq!(dry.changes.iter().filter(|c| c.to.ends_with("-00004")).count(), 1, "the dry run predicted them");
    let again = run(&store, Migration::OrderNumbers, false).await;
    assert_eq!((again.changed, again.errors), (0, 1), "only the order without a user id is left");
    let report = real.uniqueness.as_ref().expect("a number migration checks its counters");
    assert_eq!((report.counters_checked, report.problems.len()), (3, 0), "{report:#?}");
    assert!(real.message.contains("every number unique, no counter behind (3 counters checked)"), "{}", real.message);
    let stored = store.find_run(&real.id, Utc::now()).await.unwrap().unwrap();
    assert_eq!(stored.uniqueness, real.uniqueness, "the report is kept with the run");

    // Now the unique index builds, replacing the stand-in.
    let applied = store.apply_indexes().await.unwrap();
    let (_, outcome) = applied.iter().find(|(r, _)| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(*outcome, ApplyOutcome::Created);
    let reports = store.check_indexes().await.unwrap();
    assert!(reports.iter().all(|r| r.state == IndexState::Present), "{reports:#?}");
    assert!(reports.iter().all(|r| r.stand_in.is_none()));
    assert!(cli(&store, &["indexes", "check"]).status.success());

    // Every run is on record, newest first: the migrations, and the refused `indexes apply`
    // from the command line with what blocked it.
    let runs = store.recent_runs(50, Utc::now()).await.unwrap();
    let (applies, migrations): (Vec<_>, Vec<_>) = runs.iter().partition(|r| r.task == Task::Indexes);
    assert_eq!(migrations.len(), 9);
    assert!(migrations.iter().all(|r| r.status == RunStatus::Completed && r.actor == "test"));
    assert_eq!(migrations.iter().filter(|r| r.dry_run).count(), 3);
    let [apply] = applies[..] else { panic!("one recorded index apply: {applies:#?}") };
    assert!(apply.actor.starts_with("cli:"), "{}", apply.actor);
    assert_eq!((apply.status, apply.changed, apply.errors), (RunStatus::Failed, 0, 1));
    assert_eq!(apply.unit(), "indexes");
    let apply = store.find_run(&apply.id, Utc::now()).await.unwrap().expect("the run's details");
    assert!(apply.error_samples[0].starts_with("orders.order_id_1: not created, data blocks it"), "{apply:#?}");
    store.drop_database().await.unwrap();
}

/// A chunk of orders is written with one statement; when one order in it fails (here its
/// new BB number is already taken), the others are still written and the error names it.
#[tokio::test]
async fn an_order_that_cannot_be_written_is_named_and_the_rest_of_its_chunk_is_written() {
    let store = helpers::fresh_store("maint_conflict").await;
    let orders = raw_orders(&store).await;
    let user = "6834622e10d75a5ba7b70042";
    let docs: Vec<Document> = (1..=10)
        .map(|hour| doc! { "source": "marketplace", "order_id": uuid::Uuid::new_v4().to_string(), "vendor_id": "taco-town", "user_id": user, "created_at": at(9, hour), "status": "pending" })
        .collect();
    let ids = orders.insert_many(docs).await.unwrap().inserted_ids;
    // The number the third order will get (the counter starts at 1 and follows time order).
    let suffix = orderdesk::domain::ids::UserSuffix::from_user_id(user).unwrap();
    let taken = BbNumber::millis(at(9, 3).timestamp_millis() as u64, suffix, 3).unwrap().to_string();
    orders.insert_one(doc! { "source": "marketplace", "order_id": "taken-by-someone-else", "vendor_id": "other", "user_id": "x", "order_number": &taken, "created_at": at(9, 3) }).await.unwrap();

    let options = MigrationOptions { dry_run: false, batch: 1000, id_form: FreshIdForm::OrdFromCreatedAt };
    let prepared = runs::prepare_migration(
        &store,
        chrono_tz::UTC,
        Migration::OrderNumbers,
        options,
        &Actor::staff("test", Role::Admin, ""),
    )
    .await
    .unwrap();
    let record = prepared.execute(|_| {}).await;
    assert_eq!((record.changed, record.errors), (9, 1), "{record:?}");
    let third = ids[&2].as_object_id().unwrap().to_hex();
    assert!(
        record.error_samples[0].contains(&third) && record.error_samples[0].contains("E11000"),
        "{:?}",
        record.error_samples
    );
    let unnumbered: Vec<Document> =
        orders.find(doc! { "order_number": { "$exists": false } }).await.unwrap().try_collect().await.unwrap();
    assert_eq!(unnumbered.len(), 1);
    assert_eq!(unnumbered[0].get_object_id("_id").unwrap().to_hex(), third);
    let numbers: HashSet<String> = orders
        .find(doc! { "vendor_id": "taco-town", "order_number": { "$exists": true } })
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_str("order_number").unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 9, "nine distinct numbers");
    assert!(!numbers.contains(&taken));
    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_second_writing_run_waits_for_the_first_but_a_dry_run_does_not() {
    let store = helpers::fresh_store("maint_lock").await;
    assert!(store.acquire_migration_lock("000000000000000000000001", Utc::now()).await.unwrap());
    let options = MigrationOptions { dry_run: false, ..MigrationOptions::default() };
    let refused = runs::prepare_migration(
        &store,
        chrono_tz::UTC,
        Migration::OrderIds,
        options,
        &Actor::staff("test", Role::Admin, ""),
    )
    .await;
    assert!(
        matches!(refused, Err(MaintenanceError::AlreadyRunning(ref holder)) if holder == "000000000000000000000001")
    );
    let dry = MigrationOptions { dry_run: true, ..MigrationOptions::default() };
    let prepared = runs::prepare_migration(
        &store,
        chrono_tz::UTC,
        Migration::OrderIds,
        dry,
        &Actor::staff("test", Role::Admin, ""),
    )
    .await
    .unwrap();
    assert_eq!(prepared.execute(|_| {}).await.status, RunStatus::Completed);
    store.release_migration_lock("000000000000000000000001").await.unwrap();
    store.drop_database().await.unwrap();
}

/// A database of `count` legacy orders without `order_id` (then the indexes, as start-up
/// makes them: the unique one stands in).
async fn orders_without_ids(prefix: &str, count: usize) -> (Store, mongodb::Collection<Document>) {
    let settings = helpers::settings(&helpers::mongodb_uri(), &helpers::unique_db(prefix));
    let store = Store::connect(&settings).await.unwrap();
    let orders = raw_orders(&store).await;
    let docs: Vec<Document> =
        (0..count).map(|i| doc! { "id": format!("legacy_{i}"), "created_at": at(1 + (i % 28) as u32, 0) }).collect();
    for chunk in docs.chunks(10_000) {
        orders.insert_many(chunk).await.unwrap();
    }
    store.ensure_indexes().await;
    (store, orders)
}

/// Issue #16: a run whose heartbeat was late loses the lock to another run. It must stop
/// writing at once, not go on beside the new holder. (Before, the heartbeat was renewed once a
/// batch and never checked: this run wrote all 40,000 orders.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_lock_was_taken_over_stops_writing_at_once() {
    const ORDERS: usize = 40_000;
    let (store, orders) = orders_without_ids("maint_fence", ORDERS).await;
    let options = MigrationOptions { dry_run: false, batch: 2_000, id_form: FreshIdForm::OrdFromCreatedAt };
    let prepared = runs::prepare_migration(
        &store,
        chrono_tz::UTC,
        Migration::OrderIds,
        options,
        &Actor::staff("test", Role::Admin, ""),
    )
    .await
    .unwrap();
    let run_id = prepared.record().id.clone();
    let running = tokio::spawn(prepared.execute(|_| {}));
    let fixed = || async { ORDERS as u64 - blank_ids(&orders).await };
    helpers::eventually(|| async { (fixed().await >= 2_000).then_some(()) }).await;
    // Another admin's run takes the lock over, as after a late heartbeat.
    let locks = helpers::raw_collection(store.database_name(), "maintenance_locks").await;
    let stolen = locks
        .update_one(
            doc! { "_id": "migrations", "run_id": &run_id },
            doc! { "$set": { "run_id": "000000000000000000000002" } },
        )
        .await
        .unwrap();
    assert_eq!(stolen.matched_count, 1, "the run held the lock");
    let at_takeover = fixed().await;
    let record = running.await.unwrap();
    assert_eq!(record.status, RunStatus::Failed, "{record:?}");
    assert!(record.message.contains("took over the maintenance lock"), "{}", record.message);
    // Only the chunks already sent when the lock was lost may land (8 of 250 orders).
    let after = fixed().await;
    assert!(after <= at_takeover + 2_000, "{} orders written after the takeover", after - at_takeover);
    assert!(after < ORDERS as u64, "the run went on to the end");
    // The run did not release the new holder's lock on its way out.
    assert!(locks.find_one(doc! { "run_id": "000000000000000000000002" }).await.unwrap().is_some());
    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_migration_killed_half_way_is_finished_by_the_next_run_without_changing_anything_twice() {
    const ORDERS: usize = 40_000;
    let (store, orders) = orders_without_ids("maint_kill", ORDERS).await;

    let mut child = Command::new(helpers::orderdesk_bin())
        .args(["migrate", "order-ids", "--batch", "50"])
        .env("MONGODB_URI", helpers::mongodb_uri())
        .env("ORDERDESK_DATABASE", store.database_name())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = orders.count_documents(doc! { "order_id": { "$type": "string", "$ne": "" } }).await.unwrap();
        if done >= 2_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the migration made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The server finishes a bulk update already sent when its client dies: let it land.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before: HashMap<String, String> = orders
        .find(doc! { "order_id": { "$type": "string", "$ne": "" } })
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| (d.get_str("id").unwrap().to_owned(), d.get_str("order_id").unwrap().to_owned()))
        .collect();
    assert!(before.len() >= 2_000 && before.len() < ORDERS, "killed half way: {} of {ORDERS} had IDs", before.len());

    // The next run takes over the dead run's lock at once and finishes the rest.
    let out = Command::new(helpers::orderdesk_bin())
        .args(["migrate", "order-ids", "--batch", "1000"])
        .env("MONGODB_URI", helpers::mongodb_uri())
        .env("ORDERDESK_DATABASE", store.database_name())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("changed {} of", ORDERS - before.len())));

    let after: Vec<Document> = orders.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(after.len(), ORDERS);
    let mut seen = HashSet::new();
    for d in &after {
        let id = d.get_str("order_id").expect("every order has an ID");
        assert!(OrderId::parse(id).is_ok(), "{id}");
        assert!(seen.insert(id.to_owned()), "{id} given twice");
        if let Some(old) = before.get(d.get_str("id").unwrap()) {
            assert_eq!(old, id, "an order that had its ID before the kill kept it");
        }
    }
    let runs = store.recent_runs(10, Utc::now()).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.status).collect::<Vec<_>>(), vec![RunStatus::Completed, RunStatus::Interrupted]);
    store.drop_database().await.unwrap();
}

/// `orders` with `count` orders and two without `order_id` (which block the unique index),
/// and every expected index as start-up leaves it: `order_id_1` replaced by its stand-in.
async fn blocked_orders(count: usize) -> (Store, mongodb::Collection<Document>) {
    let store = helpers::fresh_store("standin").await;
    let orders = raw_orders(&store).await;
    orders.drop_index("order_id_1").await.unwrap();
    let docs = (0..count).map(|i| doc! { "order_id": format!("ORD-20261120120000-{i:08x}") });
    orders.insert_many(docs.chain([doc! { "note": "legacy" }, doc! { "note": "legacy" }])).await.unwrap();
    (store, orders)
}

/// Lists `orders`' indexes until told to stop: how many times it looked, and how many of
/// those found no finished index that starts with `order_id`.
fn watch_order_id_index(
    orders: mongodb::Collection<Document>,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<(u32, u32)>) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(async move {
        let (mut looks, mut without) = (0, 0);
        while stopped.try_recv().is_err() {
            // The catalog may change under `$indexStats` (IndexNotFound): that look is taken again.
            let stats = async { orders.aggregate([doc! { "$indexStats": {} }]).await?.try_collect::<Vec<_>>().await };
            let Ok(names) = stats.await else { continue };
            let serving = names.iter().any(|s| {
                s.get_document("spec").is_ok_and(|spec| {
                    spec.get_document("key").is_ok_and(|k| k.keys().next().is_some_and(|f| f == "order_id"))
                }) && !s.contains_key("building")
            });
            looks += 1;
            without += u32::from(!serving);
        }
        (looks, without)
    });
    (stop, watcher)
}

#[tokio::test]
async fn building_the_unique_index_never_leaves_orders_without_an_order_id_index() {
    let (store, orders) = blocked_orders(20_000).await;
    store.ensure_indexes().await;
    let names = orders.list_index_names().await.unwrap();
    assert!(names.contains(&"order_id_1_nonunique".to_owned()) && !names.contains(&"order_id_1".to_owned()));
    // The data is fixed, then the unique index is built while the watcher looks.
    orders.delete_many(doc! { "note": "legacy" }).await.unwrap();
    let (stop, watcher) = watch_order_id_index(orders.clone());
    let outcomes = store.apply_indexes().await.unwrap();
    stop.send(()).unwrap();
    let (looks, without) = watcher.await.unwrap();
    let outcome = outcomes.iter().find(|(r, _)| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(outcome.1, ApplyOutcome::Created);
    assert!(looks > 3, "the watcher looked during the build ({looks} times)");
    assert_eq!(without, 0, "{without} of {looks} looks found no order_id index");
    let names = orders.list_index_names().await.unwrap();
    assert!(
        names.contains(&"order_id_1".to_owned()) && !names.iter().any(|n| n.starts_with("order_id_1_")),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_stand_in_on_the_unique_keys_gives_way_to_a_cover_and_the_index_is_never_missing() {
    let (store, orders) = blocked_orders(20_000).await;
    store.ensure_indexes().await;
    // The stand-in as an older orderdesk made it: the unique index's very keys.
    orders.drop_index("order_id_1_nonunique").await.unwrap();
    let old = mongodb::IndexModel::builder()
        .keys(doc! { "order_id": 1 })
        .options(mongodb::options::IndexOptions::builder().name("order_id_1_nonunique".to_owned()).build())
        .build();
    orders.create_index(old).await.unwrap();
    orders.delete_many(doc! { "note": "legacy" }).await.unwrap();
    let (stop, watcher) = watch_order_id_index(orders.clone());
    let outcomes = store.apply_indexes().await.unwrap();
    stop.send(()).unwrap();
    let (looks, without) = watcher.await.unwrap();
    let outcome = outcomes.iter().find(|(r, _)| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(outcome.1, ApplyOutcome::Created, "{outcome:?}");
    assert_eq!(without, 0, "{without} of {looks} looks found no order_id index");
    let names = orders.list_index_names().await.unwrap();
    assert!(
        names.contains(&"order_id_1".to_owned()) && !names.iter().any(|n| n.starts_with("order_id_1_")),
        "{names:?}"
    );
}

#[tokio::test]
async fn index_checks_and_builds_run_in_the_background_recorded_audited_and_locked() {
    use orderdesk::domain::audit::AuditFilter;
    use orderdesk::services::runs::IndexRun;
    let (store, _orders) = legacy_database().await;
    store.ensure_indexes().await;
    let admin = Actor::staff("admin@test.example", orderdesk::domain::accounts::Role::Admin, "127.0.0.1");

    // Before any scan the page has the states, no blockers.
    let before = runs::overview(&store).await.unwrap();
    assert!(before.scanned.is_none());
    assert!(before.reports.iter().all(|r| r.blockers.is_none()));

    // A check: every index looked at, progress after each, the blockers saved with the run.
    let check = runs::prepare_index_run(&store, IndexRun::Check, &admin).await.unwrap();
    let id = check.record().id.clone();
    assert_eq!(store.find_run(&id, Utc::now()).await.unwrap().unwrap().status, RunStatus::Running);
    let mut seen = Vec::new();
    let done = check.execute(|r| seen.push(r.done)).await;
    assert_eq!(done.task, Task::IndexCheck);
    assert_eq!(seen.first(), Some(&1), "progress after the first index: {seen:?}");
    assert_eq!(done.done, done.total);
    assert_eq!(done.status, RunStatus::Completed, "{done:?}");
    let stored = store.find_run(&id, Utc::now()).await.unwrap().unwrap();
    assert_eq!(stored.reports.len() as u64, stored.total);
    let order_id = stored.reports.iter().find(|r| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert!(order_id.is_blocked(), "{order_id:?}");
    assert!(stored.message.contains("1 blocked by data"), "{}", stored.message);

    // The page now shows those blockers, and says from which run.
    let after = runs::overview(&store).await.unwrap();
    assert_eq!(after.scanned.as_ref().map(|s| s.run_id.as_str()), Some(id.as_str()));
    let row = after.reports.iter().find(|r| r.collection == "orders" && r.name == "order_id_1").unwrap();
    assert_eq!(row.blockers.as_ref().map(|b| (b.missing, b.null, b.empty)), Some((5, 4, 3)));

    // A cancel is honoured after the index in hand: a build cancelled at once builds nothing.
    let payments = helpers::raw_collection(store.database_name(), "payments").await;
    payments.drop_index("order_id_1").await.unwrap();
    let build = runs::prepare_index_run(&store, IndexRun::Build, &admin).await.unwrap();
    assert!(store.request_cancel(&build.record().id).await.unwrap());
    let cancelled = build.execute(|_| {}).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled, "{cancelled:?}");
    assert_eq!(cancelled.done, 1, "stopped after the first index");
    assert!(cancelled.message.starts_with("cancelled after 1 of"), "{}", cancelled.message);
    assert!(!payments.list_index_names().await.unwrap().contains(&"order_id_1".to_owned()), "nothing was built");

    // A build is refused while a migration holds the lock.
    let migration = runs::prepare_migration(
        &store,
        chrono_tz::UTC,
        Migration::OrderIds,
        MigrationOptions { dry_run: false, ..Default::default() },
        &Actor::staff("test", Role::Admin, ""),
    )
    .await
    .unwrap();
    assert!(matches!(
        runs::prepare_index_run(&store, IndexRun::Build, &admin).await,
        Err(MaintenanceError::AlreadyRunning(_))
    ));
    migration.execute(|_| {}).await;

    // Duplicates still block: the build fails on that index, says why, keeps the stand-in.
    let build = runs::prepare_index_run(&store, IndexRun::Build, &admin).await.unwrap().execute(|_| {}).await;
    assert_eq!(build.status, RunStatus::Failed, "{build:?}");
    assert!(build.error_samples.iter().any(|e| e.starts_with("orders.order_id_1: not created")), "{build:?}");
    assert_eq!(build.message, "created payments.order_id_1; 1 not created (see the errors)");
    assert!(store.index_states().await.unwrap().iter().any(|r| r.stand_in.as_deref() == Some("order_id_1_nonunique")));
    // The lock is free again: the duplicates migration runs, then the build succeeds.
    run(&store, Migration::Duplicates, false).await;
    let build = runs::prepare_index_run(&store, IndexRun::Build, &admin).await.unwrap().execute(|_| {}).await;
    assert_eq!(build.status, RunStatus::Completed, "{build:?}");
    assert_eq!(build.message, "created orders.order_id_1");
    assert!(store.index_states().await.unwrap().iter().all(|r| r.state == IndexState::Present));

    // Each end is on the audit log, under who started it.
    let filter = AuditFilter { action: Some("maintenance.index_build".into()), ..Default::default() };
    let audited = store.audit_entries(&filter, None, 10).await.unwrap();
    assert_eq!(audited.len(), 3, "the cancelled build too: {audited:#?}");
    assert!(audited.iter().all(|e| e.actor == "admin@test.example"));
    assert!(audited.iter().any(|e| e.outcome.starts_with("completed: created orders.order_id_1")));
    helpers::drop_database(store.database_name()).await;
}

/// The duplicates migration renames the newer order of a pair: the payments, sessions and
/// pending orders that were the renamed order's follow it, told apart by their telegram id,
/// amount or time; what nothing tells apart is listed (on the run and in its CSV), never guessed.
#[tokio::test]
async fn references_follow_the_renamed_order_and_the_rest_is_listed() {
    // Legacy data first, as in production: its duplicates keep the unique index from building.
    let db = helpers::unique_db("refs");
    let (pair, twins) = ("ORD-20260305010000-aaaaaaaa", "ORD-20260305020000-bbbbbbbb");
    let order = |id: &str, tag: &str, telegram: i64, amount: f64, hour: u32| doc! { "order_id": id, "id": tag, "telegram_id": telegram, "amount": amount, "created_at": at(5, hour), "source": "shipping_bot", "status": "paid" };
    helpers::raw_collection(&db, "orders")
        .await
        .insert_many([
            order(pair, "keeper", 1, 10.0, 9),
            order(pair, "renamed", 2, 20.0, 11),
            order(twins, "twin-a", 3, 5.0, 9),
            order(twins, "twin-b", 3, 5.0, 9),
        ])
        .await
        .unwrap();
    let payment = |id: &str, telegram: i64, amount: f64, hour: u32, minute: u32| doc! { "order_id": id, "telegram_id": telegram, "amount": amount, "status": "succeeded", "created_at": BsonTime::from_millis(Utc.with_ymd_and_hms(2026, 3, 5, hour, minute, 0).unwrap().timestamp_millis()) };
    let payments = helpers::raw_collection(&db, "payments").await;
    payments
        .insert_many([payment(pair, 2, 20.0, 11, 1), payment(pair, 1, 10.0, 9, 1), payment(twins, 3, 5.0, 9, 30)])
        .await
        .unwrap();
    let sessions = helpers::raw_collection(&db, "sessions").await;
    sessions.insert_one(doc! { "user_id": 2_i64, "order_id": pair, "current_step": "PAYMENT" }).await.unwrap();
    let pending = helpers::raw_collection(&db, "pending_orders").await;
    pending.insert_one(doc! { "order_id": pair, "status": "awaiting_payment" }).await.unwrap();
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &db, true, |_| {}).await;
    let store = app.store.clone();

    let dry = run(&store, Migration::Duplicates, true).await;
    assert_eq!((dry.references_moved, dry.references_undecided), (2, 2), "{:#?}", dry.references);
    assert_eq!(payments.count_documents(doc! { "order_id": pair }).await.unwrap(), 2, "a dry run moves nothing");
    let real = run(&store, Migration::Duplicates, false).await;
    assert_eq!((real.references_moved, real.references_undecided), (2, 2), "{:#?}", real.references);
    assert!(real.message.contains("2 left for a person"), "{}", real.message);
    let renamed =
        helpers::raw_collection(&db, "orders").await.find_one(doc! { "id": "renamed" }).await.unwrap().unwrap();
    let new_id = renamed.get_str("order_id").unwrap();
    assert_ne!(new_id, pair);
    let paid = payments.find_one(doc! { "telegram_id": 2_i64 }).await.unwrap().unwrap();
    assert_eq!(paid.get_str("order_id").unwrap(), new_id, "the renamed order's payment follows it");
    let kept = payments.find_one(doc! { "telegram_id": 1_i64 }).await.unwrap().unwrap();
    assert_eq!(kept.get_str("order_id").unwrap(), pair, "the keeper's stays");
    let session = sessions.find_one(doc! { "user_id": 2_i64 }).await.unwrap().unwrap();
    assert_eq!(session.get_str("order_id").unwrap(), new_id, "by its telegram id");
    let left = pending.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(left.get_str("order_id").unwrap(), pair, "nothing tells: left as it was");
    let undecided: Vec<&str> =
        real.references.iter().filter(|r| !r.decided).map(|r| r.kind.label()).collect::<Vec<_>>();
    assert_eq!(undecided.len(), 2);
    assert!(undecided.contains(&"pending order") && undecided.contains(&"payment"), "{undecided:?}");

    let csv_path = format!("/maintenance/runs/{}/references.csv", real.id);
    let (admin, _) = helpers::signed_in(&store, orderdesk::domain::accounts::Role::Admin).await;
    let csv = helpers::client_with(&admin, false).get(format!("{}{csv_path}", app.address)).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    assert_eq!(body.lines().count(), 1 + 5, "three payments, a session, a pending order: {body}");
    assert!(body.lines().any(|l| l.starts_with("\"pending order\"") && l.contains(",no,")), "{body}");
    assert_eq!(app.get(&csv_path).await.status(), 403, "support staff do not see runs");
    let bad = helpers::client_with(&admin, false)
        .get(format!("{}/maintenance/runs/nope/references.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// A counter put back behind the numbers its orders hold (a restore from an old backup): the
/// migration draws numbers already held, and its report names the counter, the sequence held
/// twice, and the highest number past the counter.
#[tokio::test]
async fn a_number_migration_reports_numbers_held_twice_and_a_counter_behind() {
    let settings = helpers::settings(&helpers::mongodb_uri(), &helpers::unique_db("unique"));
    let store = Store::connect(&settings).await.unwrap();
    let orders = raw_orders(&store).await;
    let mut docs: Vec<Document> = (1..=3)
        .map(|i| {
            let n = BbNumber::parse(&format!("BB-1772798400000-00{i:02}-{i:05}")).unwrap();
            doc! { "source": "marketplace", "vendor_id": "taco-town", "user_id": "u1", "order_number": n.to_string(), "created_at": at(6, 1) }
        })
        .collect();
    docs.push(doc! { "source": "marketplace", "vendor_id": "taco-town", "user_id": "6834622e10d75a5ba7b70001", "created_at": at(6, 15) });
    docs.push(doc! { "source": "marketplace", "vendor_id": "taco-town", "user_id": "6834622e10d75a5ba7b70002", "created_at": at(7, 15) });
    orders.insert_many(docs).await.unwrap();
    let day6 =
        CounterId::new(chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap(), VendorId::parse("taco-town").unwrap());
    store.set_counter(&day6, 1, Utc::now()).await.unwrap();
    let record = run(&store, Migration::OrderNumbers, false).await;
    assert_eq!(record.changed, 2);
    let report = record.uniqueness.expect("a report");
    assert_eq!(report.counters_checked, 2, "both days' counters");
    let [problem] = &report.problems[..] else { panic!("only day 6 is wrong: {report:#?}") };
    assert_eq!(problem.counter_id, day6.to_string());
    assert_eq!((problem.issued, problem.held_twice.clone(), problem.highest_beyond), (2, vec![(2, 2)], Some(3)));
    assert!(record.message.contains("1 of 2 counters checked hold a number twice"), "{}", record.message);
    store.drop_database().await.unwrap();
}

/// A run record is read as its type: one written by hand with a status orderdesk does not know,
/// or without its actor, is named as corrupt, never shown as a guess; the others still list.
#[tokio::test]
async fn a_run_record_that_does_not_parse_is_named_as_corrupt() {
    let store = helpers::fresh_store("maint_corrupt").await;
    let dry = MigrationOptions { dry_run: true, ..MigrationOptions::default() };
    let actor = Actor::staff("test", Role::Admin, "");
    let good = runs::prepare_migration(&store, chrono_tz::UTC, Migration::OrderIds, dry, &actor).await.unwrap();
    let good = good.execute(|_| {}).await;
    let found = store.find_run(&good.id, Utc::now()).await.unwrap().unwrap();
    assert_eq!((found.status, found.actor.as_str(), found.task), (RunStatus::Completed, "test", good.task));

    let raw = helpers::raw_collection(store.database_name(), "maintenance_runs").await;
    let odd = mongodb::bson::oid::ObjectId::new();
    let mut d = raw
        .find_one(doc! { "_id": mongodb::bson::oid::ObjectId::parse_str(&good.id).unwrap() })
        .await
        .unwrap()
        .unwrap();
    d.insert("_id", odd);
    d.insert("status", "half-done");
    raw.insert_one(&d).await.unwrap();
    let err = store.find_run(&odd.to_hex(), Utc::now()).await.unwrap_err();
    assert!(
        matches!(&err, orderdesk::storage::StorageError::Corrupt { collection: "maintenance_runs", id, problem } if *id == odd.to_hex() && problem.contains("half-done")),
        "{err:?}"
    );
    let anonymous = mongodb::bson::oid::ObjectId::new();
    d.insert("_id", anonymous);
    d.insert("status", "completed");
    d.remove("actor");
    raw.insert_one(&d).await.unwrap();
    let err = store.find_run(&anonymous.to_hex(), Utc::now()).await.unwrap_err();
    assert!(
        matches!(&err, orderdesk::storage::StorageError::Corrupt { problem, .. } if problem.contains("actor")),
        "{err:?}"
    );
    store.drop_database().await.unwrap();
}

/// A lock document missing its fields (edited by hand, or left by an old writer) belongs to
/// no live run: it is taken over, never left to block every run.
#[tokio::test]
async fn a_lock_without_its_run_is_taken_over() {
    let store = helpers::fresh_store("maint_lock_odd").await;
    let locks = helpers::raw_collection(store.database_name(), "maintenance_locks").await;
    locks.insert_one(doc! { "_id": "migrations", "instance": "gone" }).await.unwrap();
    assert!(store.acquire_migration_lock("000000000000000000000002", Utc::now()).await.unwrap());
    assert_eq!(store.migration_lock_holder(Utc::now()).await.unwrap().as_deref(), Some("000000000000000000000002"));
    store.drop_database().await.unwrap();
}
