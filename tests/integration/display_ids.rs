//! Orders the bots insert themselves carry `order_id` only; orderdesk fills in `display_id` so
//! the support desk finds them by `ORD-A3F8D2` too. On the real mongod: the server-side
//! derivation agrees with `OrderId::display_id`, the passes cover what they should and nothing
//! else, and a lookup that misses fills the recent orders in before answering.

use crate::helpers;

use chrono::{Duration, Utc};
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};
use orderdesk::{
    domain::ids::{LookupKey, OrderId},
    services::display_fill::fill_pass,
    storage::display_ids::LATE_INSERT,
};

fn at(t: chrono::DateTime<Utc>) -> BsonTime {
    BsonTime::from_millis(t.timestamp_millis())
}

async fn display_of(orders: &mongodb::Collection<Document>, id: &str) -> Option<String> {
    let d = orders.find_one(doc! { "id": id }).await.unwrap().expect("order");
    d.get_str("display_id").ok().map(str::to_owned)
}

#[tokio::test]
async fn passes_fill_display_ids_as_orderdesk_computes_them_and_touch_nothing_else() {
    let store = helpers::fresh_store("display_ids").await;
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    let now = Utc::now();
    let ord_lower = "ORD-20251114123456-a3f8d2b4";
    let ord_upper = "ORD-20251114123457-0C9E1F77";
    let uuid = "123e4567-e89b-12d3-a456-426614174000";
    orders
        .insert_many([
            // As the bot inserts them: order_id only, created over the last months.
            doc! { "id": "ord_lower", "order_id": ord_lower, "created_at": at(now - Duration::days(90)) },
            doc! { "id": "ord_upper", "order_id": ord_upper, "created_at": at(now - Duration::days(3)) },
            doc! { "id": "uuid", "order_id": uuid, "display_id": Bson::Null, "created_at": at(now) },
            doc! { "id": "no_time", "order_id": "ORD-20240101000000-00ff00ff" },
            // Nothing to derive a display form from: left alone.
            doc! { "id": "legacy", "order_id": "test_order_1", "created_at": at(now) },
            doc! { "id": "blank", "order_id": "", "created_at": at(now) },
            doc! { "id": "missing", "created_at": at(now) },
            // Already has one (say, written by a migration): kept as it is.
            doc! { "id": "kept", "order_id": "ORD-20251114123458-ffffffff", "display_id": "ORD-KEPT00", "created_at": at(now) },
        ])
        .await
        .unwrap();

    // The first pass covers all of history, orders without created_at too.
    assert_eq!(fill_pass(&store, now).await.unwrap(), 4);
    for (id, order_id) in [("ord_lower", ord_lower), ("ord_upper", ord_upper), ("uuid", uuid)] {
        let expected = OrderId::parse(order_id).unwrap().display_id().to_string();
        assert_eq!(display_of(&orders, id).await, Some(expected), "{id}");
    }
    assert_eq!(display_of(&orders, "ord_lower").await.as_deref(), Some("ORD-A3F8D2"));
    assert_eq!(display_of(&orders, "uuid").await.as_deref(), Some("ORD-123E45"));
    for id in ["legacy", "blank", "missing"] {
        assert_eq!(display_of(&orders, id).await, None, "{id}");
    }
    assert_eq!(display_of(&orders, "kept").await.as_deref(), Some("ORD-KEPT00"));
    assert_eq!(
        store.display_ids_filled_through().await.unwrap().map(|t| t.timestamp_millis()),
        Some(now.timestamp_millis())
    );

    // Later passes look only at what was created since the last one, and LATE_INSERT before:
    // an order inserted late with an old created_at inside that window is filled, one older
    // than the window is not (the first pass is the only one that walks all history).
    orders
        .insert_many([
            doc! { "id": "late", "order_id": "ORD-20261101000000-11111111", "created_at": at(now - LATE_INSERT / 2) },
            doc! { "id": "too_late", "order_id": "ORD-20261101000000-22222222", "created_at": at(now - LATE_INSERT * 2) },
        ])
        .await
        .unwrap();
    assert_eq!(fill_pass(&store, now + Duration::seconds(5)).await.unwrap(), 1);
    assert_eq!(display_of(&orders, "late").await.as_deref(), Some("ORD-111111"));
    assert_eq!(display_of(&orders, "too_late").await, None);
    // Nothing left in the window: a pass changes nothing.
    assert_eq!(fill_pass(&store, now + Duration::seconds(10)).await.unwrap(), 0);
    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn a_lookup_by_display_form_finds_an_order_the_bot_just_inserted() {
    let store = helpers::fresh_store("display_lookup").await;
    let orders = helpers::raw_collection(store.database_name(), "orders").await;
    // Background passes are not running in this test: only the lookup itself can fill it in.
    let order_id = "ORD-20261121101500-5eed1234";
    orders.insert_one(doc! { "id": "fresh", "order_id": order_id, "created_at": at(Utc::now()) }).await.unwrap();

    let found = store.find_orders(&LookupKey::parse("#ord-5eed12").unwrap()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].order_id.as_deref(), Some(order_id));
    assert_eq!(found[0].display_id.as_deref(), Some("ORD-5EED12"));
    assert_eq!(display_of(&orders, "fresh").await.as_deref(), Some("ORD-5EED12"), "stored for the next lookup");

    // A display form nobody has is still a clean empty answer, even when the fill cannot run
    // (here its index is gone): the lookup's own answer stands.
    assert!(store.find_orders(&LookupKey::parse("ORD-000000").unwrap()).await.unwrap().is_empty());
    orders.drop_index("display_id_1_created_at_-1").await.unwrap();
    assert!(store.fill_display_ids(None, std::time::Duration::from_secs(5)).await.is_err());
    assert!(store.find_orders(&LookupKey::parse("ORD-000000").unwrap()).await.unwrap().is_empty());
    store.drop_database().await.unwrap();
}

/// The real binary on a database that has orders but no indexes yet, as on a first start:
/// the first pass waits for the indexes (it goes by the `display_id` one) instead of failing
/// and leaving the orders unfilled for a minute.
#[tokio::test]
async fn serve_fills_in_history_on_its_first_start() {
    use std::process::Command;
    let database = helpers::unique_db("display_serve");
    let orders = helpers::raw_collection(&database, "orders").await;
    let created = at(Utc::now() - Duration::days(2));
    orders
        .insert_one(doc! { "id": "old", "order_id": "ORD-20261119090000-0abcdef1", "created_at": created })
        .await
        .unwrap();
    let (mut server, _port) = helpers::serve_binary(&database, &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let filled = loop {
        if let Some(d) = display_of(&orders, "old").await {
            break Some(d);
        }
        if std::time::Instant::now() > deadline || server.try_wait().unwrap().is_some() {
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(filled.as_deref(), Some("ORD-0ABCDE"), "{log}");
    assert!(!log.contains("could not fill in display_id"), "{log}");
    helpers::drop_database(&database).await;
}

/// Issue #16: on a replica set one orderdesk process follows a change stream of new orders
/// and fills each bot order's `display_id`, storing where it stands; the other stands by.
/// No polling pass runs meanwhile (the passes' mark stays where start-up left it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_replica_set_one_process_follows_new_orders_and_fills_them() {
    let database = helpers::unique_db("display_feed");
    let a = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, true, |_| {}).await;
    let b = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, false, |_| {}).await;
    let sweeps = helpers::raw_collection(&database, "sweeps").await;
    let lease = helpers::eventually(|| async {
        sweeps
            .find_one(doc! { "_id": "lease:display_fill" })
            .await
            .unwrap()
            .and_then(|d| d.get_str("holder").ok().map(str::to_owned))
    })
    .await;
    assert!(lease == a.store.instance() || lease == b.store.instance(), "{lease}");
    // The watcher has opened its feed when it has stored a point to resume from.
    helpers::eventually(|| async {
        sweeps.find_one(doc! { "_id": "display_ids_resume", "token": { "$type": "object" } }).await.unwrap()
    })
    .await;
    let pass_mark = sweeps.find_one(doc! { "_id": "display_ids" }).await.unwrap().unwrap().get("through").cloned();

    let orders = helpers::raw_collection(&database, "orders").await;
    for i in 0..5 {
        let order_id = format!("ORD-20261120120000-{i:02}c0ffee");
        orders
            .insert_one(doc! { "id": format!("bot_{i}"), "order_id": order_id, "created_at": at(Utc::now()) })
            .await
            .unwrap();
    }
    for i in 0..5 {
        let expected = format!("ORD-{i:02}C0FF");
        helpers::eventually(|| async {
            (display_of(&orders, &format!("bot_{i}")).await == Some(expected.clone())).then_some(())
        })
        .await;
    }
    let after = sweeps.find_one(doc! { "_id": "display_ids" }).await.unwrap().unwrap().get("through").cloned();
    assert_eq!(after, pass_mark, "a polling pass ran: the feed should have filled them");
    let holders = sweeps.count_documents(doc! { "_id": "lease:display_fill" }).await.unwrap();
    assert_eq!(holders, 1);
}

/// A stored resume point that only moved with new orders sent a restarted watcher back hours
/// through the oplog (every audit entry since), at 40 % of a core of mongod's. It now moves
/// with the feed while no order arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeds_stored_point_moves_on_while_no_order_arrives() {
    let database = helpers::unique_db("display_point");
    let _app = helpers::spawn_app_on(&helpers::mongodb_uri(), &database, true, |_| {}).await;
    let sweeps = helpers::raw_collection(&database, "sweeps").await;
    let stored = || async {
        sweeps.find_one(doc! { "_id": "display_ids_resume", "token": { "$type": "object" } }).await.unwrap()
    };
    let first = helpers::eventually(&stored).await.get("token").cloned();
    // Other writes only: the oplog moves on, no order is inserted.
    let other = helpers::raw_collection(&database, "not_orders").await;
    let moved = helpers::eventually_within(std::time::Duration::from_secs(40), || async {
        other.insert_one(doc! { "at": at(Utc::now()) }).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = stored().await.and_then(|d| d.get("token").cloned());
        (now != first).then_some(now)
    })
    .await;
    assert!(moved.is_some());
}
