//! Two systems, two databases, their own shapes: the bot's Motor snake_case orders with its
//! sessions and payments, the marketplace's Mongoose documents (camelCase, ObjectId
//! references, `__v`) with a field renamed by the settings, read through one store.

use chrono::Utc;
use futures::TryStreamExt;
use mongodb::bson::{DateTime as BsonTime, doc, oid::ObjectId};
use orderdesk::{
    config::Settings,
    domain::{ids::LookupKey, order_filter::OrderFilter, orders::Source},
    storage::{Store, orders::OrderLookup},
};

use crate::helpers;

struct Deployment {
    store: Store,
    settings: Settings,
    own: String,
    bot: String,
    market: String,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let names = [self.own.clone(), self.bot.clone(), self.market.clone()];
        // Dropped on a runtime of its own: `Drop` cannot await.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                for name in names {
                    helpers::drop_database(&name).await;
                }
            })
        })
        .join();
    }
}

async fn deployment() -> Deployment {
    deployment_with("", "").await
}

/// A settings file outside the checkout, as an operator writes it; `marketplace` and `fields`
/// add lines to the marketplace's tables.
async fn deployment_with(marketplace: &str, fields: &str) -> Deployment {
    let (own, bot, market) = (helpers::unique_db("own"), helpers::unique_db("bot"), helpers::unique_db("market"));
    let file = std::env::temp_dir().join(format!("{own}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"[orderdesk]
mongodb_uri = "{uri}"
database = "{own}"

[orderdesk.sources.bot]
kind = "shipping-bot"
database = "{bot}"

[orderdesk.sources.marketplace]
kind = "marketplace"
database = "{market}"
{marketplace}

[orderdesk.sources.marketplace.fields]
amount = "grandTotal"
{fields}
"#,
            uri = helpers::mongodb_uri()
        ),
    )
    .unwrap();
    let mut settings = Settings::load_for(Some(&file)).expect("the settings file reads");
    std::fs::remove_file(&file).unwrap();
    // The environment of `scripts/test` may name a database: the file's is the one here.
    settings.database = own.clone();
    settings.mongodb_uri = helpers::mongodb_uri();
    assert_eq!(settings.sources.len(), 2);
    let store = Store::connect(&settings).await.expect("connect");
    Deployment { store, settings, own, bot, market }
}

const BOT_ORDER: &str = "ORD-20261120093015-5eed1234";
const BB: &str = "BB-1763631015000-740D-00007";

async fn seed(d: &Deployment) {
    let at = BsonTime::from_millis(1_763_631_015_000);
    let later = BsonTime::from_millis(1_763_631_015_000 + 60_000);
    let bot = |c: &str| {
        let c = c.to_owned();
        let db = d.bot.clone();
        async move { helpers::raw_collection(&db, &c).await }
    };
    bot("orders")
        .await
        .insert_one(doc! {
            "_id": ObjectId::new(), "order_id": BOT_ORDER, "id": "legacy-77", "telegram_id": 4242_i64,
            "status": "failed", "amount": 19.5, "created_at": at, "updated_at": at,
        })
        .await
        .unwrap();
    bot("payments")
        .await
        .insert_one(
            doc! { "order_id": BOT_ORDER, "amount": 19.5, "currency": "USD", "status": "succeeded", "created_at": at },
        )
        .await
        .unwrap();
    bot("sessions")
        .await
        .insert_one(doc! { "user_id": 4242_i64, "order_id": BOT_ORDER, "current_step": "PAYMENT", "created_at": at })
        .await
        .unwrap();
    let vendor = ObjectId::parse_str("6834622e10d75a5ba7b77400").unwrap();
    let market = helpers::raw_collection(&d.market, "orders").await;
    market
        .insert_one(doc! {
            "_id": ObjectId::new(), "orderNumber": BB, "user": ObjectId::parse_str("6834622e10d75a5ba7b7740d").unwrap(),
            "vendor": vendor, "grandTotal": 31.0, "totalAmount": 1.0, "status": "delivered",
            "createdAt": later, "updatedAt": later, "__v": 0,
        })
        .await
        .unwrap();
    helpers::raw_collection(&d.market, "ordercounters")
        .await
        .insert_one(doc! { "counterId": format!("20261120-{}", vendor.to_hex()), "sequence": 7, "lastUpdated": later, "__v": 0 })
        .await
        .unwrap();
}

#[tokio::test]
async fn each_order_is_found_where_its_system_keeps_it() {
    let d = deployment().await;
    seed(&d).await;
    let store = &d.store;

    let found = store.find_orders(&LookupKey::parse(BB).unwrap()).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let m = &found[0];
    assert_eq!((m.source, m.database.as_str()), (Source::Marketplace, d.market.as_str()));
    assert_eq!(m.amount, Some(31.0), "the overridden field is read, not the default one");
    assert_eq!(m.vendor_id.as_deref(), Some("6834622e10d75a5ba7b77400"), "an ObjectId reference reads as its hex");

    let OrderLookup::One { details: order, slow } =
        store.look_up_order(&LookupKey::parse(BOT_ORDER).unwrap()).await.unwrap()
    else {
        panic!("the bot's order is found by its order_id");
    };
    assert_eq!((order.summary.source, order.summary.database.as_str()), (Source::ShippingBot, d.bot.as_str()));
    assert!(slow.is_none(), "the slow log is in orderdesk's database, not joined from the bot's: {slow:?}");
    assert_eq!(order.payments.len(), 1, "its payment, joined from the bot's own payments");
    assert_eq!(order.session.as_ref().and_then(|s| s.current_step.clone()).as_deref(), Some("PAYMENT"));
    assert_eq!(store.find_orders(&LookupKey::parse("4242").unwrap()).await.unwrap().len(), 1, "by telegram id");

    // The display form: derived into orderdesk's database, never written into the bot's.
    let display = LookupKey::parse("#ORD-5EED12").unwrap();
    let by_display = store.find_orders(&display).await.unwrap();
    assert_eq!(by_display.len(), 1, "a lookup that misses derives the recent display forms and looks again");
    assert_eq!(by_display[0].order_id.as_deref(), Some(BOT_ORDER));
    let stored = helpers::raw_collection(&d.bot, "orders").await.find_one(doc! {}).await.unwrap().unwrap();
    assert!(!stored.contains_key("display_id"), "nothing is written into the bot's orders: {stored}");
    let derived = helpers::raw_collection(&d.own, "bot_display_ids").await;
    assert_eq!(derived.count_documents(doc! { "display_id": "ORD-5EED12" }).await.unwrap(), 1);
    // Shortened, as the seeds print it: by the derived display form, or by the bot's order_id
    // range under its own field name.
    let (stamp, random) = (&BOT_ORDER[4..18], &BOT_ORDER[19..]);
    for shortened in [format!("ORD-{}-{random}", &stamp[..8]), format!("ORD-{}", &stamp[..7])] {
        let found = store.find_orders(&LookupKey::parse(&shortened).unwrap()).await.unwrap();
        assert_eq!(found.iter().map(|o| o.headline()).collect::<Vec<_>>(), [BOT_ORDER], "{shortened}");
    }

    // Lists span both, newest first, and `source` filters.
    let all = store.list_orders(&OrderFilter::default(), None).await.unwrap().orders;
    let names: Vec<String> = all.iter().map(|o| o.headline()).collect();
    assert_eq!(names, [BB, BOT_ORDER], "merged newest first");
    let bots = OrderFilter { source: Some(Source::ShippingBot), ..OrderFilter::default() };
    let only = store.list_orders(&bots, None).await.unwrap().orders;
    assert_eq!(only.iter().map(|o| o.headline()).collect::<Vec<_>>(), [BOT_ORDER]);
    assert_eq!(store.order_count().await.unwrap(), 2);
    assert_eq!(store.recent_orders(8).await.unwrap().value.len(), 2);

    // The failures report reads the bot's failed, paid order.
    let candidates = store.refund_candidates(Utc::now() - chrono::Duration::days(4000), 10).await.unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].order.database, d.bot);

    // The settings' names all match what the systems hold.
    let reports = store.check_sources().await;
    assert_eq!(
        reports.iter().map(|r| (r.name.as_str(), r.sampled)).collect::<Vec<_>>(),
        [("bot", 1), ("marketplace", 1)]
    );
    assert!(reports.iter().all(|r| r.is_healthy()), "{reports:?}");
    assert!(reports[0].notes.iter().any(|n| n.contains("collections.pending_orders")), "{:?}", reports[0].notes);

    // The counters are the marketplace's own.
    let counters = store.counters_with_prefix("20261120-", 10).await.unwrap();
    assert_eq!(counters.iter().map(|c| c.sequence).collect::<Vec<_>>(), [7]);
}

#[tokio::test]
async fn a_bot_order_created_through_orderdesk_lands_in_the_bots_shape() {
    let d = deployment().await;
    let id = orderdesk::domain::ids::OrderId::parse(BOT_ORDER).unwrap();
    d.store.insert_order(&id, &helpers::bot_order(Some(5), Some(2.0)), Utc::now()).await.unwrap();
    let stored = helpers::raw_collection(&d.bot, "orders").await.find_one(doc! {}).await.unwrap().unwrap();
    assert_eq!(stored.get_str("order_id").unwrap(), BOT_ORDER);
    assert!(
        !stored.contains_key("display_id") && !stored.contains_key("source"),
        "orderdesk's own fields stay out: {stored}"
    );
    let again = d.store.insert_order(&id, &helpers::bot_order(Some(5), Some(2.0)), Utc::now()).await;
    // No unique index in the bot's database was made by orderdesk: the bot's own would say so.
    assert!(again.is_ok() || matches!(again, Err(orderdesk::storage::orders::InsertOrderError::OrderIdTaken(_))));
    let own = helpers::raw_collection(&d.own, "orders").await;
    assert_eq!(own.count_documents(doc! {}).await.unwrap(), 0, "orderdesk's database holds no orders");
}

#[tokio::test]
async fn a_source_that_is_down_is_named_while_the_other_serves() {
    // The marketplace on its own cluster, which is down: nothing listens on port 9.
    let d = deployment_with(r#"uri = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300&connectTimeoutMS=300""#, "")
        .await;
    seed(&d).await;
    let store = &d.store;

    let page = store.list_orders(&OrderFilter::default(), None).await.unwrap();
    assert_eq!(page.orders.iter().map(|o| o.headline()).collect::<Vec<_>>(), [BOT_ORDER], "the bot's orders stand");
    let outages = page.outages();
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert_eq!((outages[0].source.as_str(), outages[0].database.as_str()), ("marketplace", d.market.as_str()));
    let recent = store.recent_orders(8).await.unwrap();
    assert_eq!((recent.value.len(), recent.outages.len()), (1, 1));

    assert!(matches!(store.look_up_order(&LookupKey::parse(BOT_ORDER).unwrap()).await, Ok(OrderLookup::One { .. })));
    // Not "no such order": the system that would hold it did not answer.
    let bb = store.look_up_order(&LookupKey::parse(BB).unwrap()).await.unwrap_err();
    assert!(bb.is_unavailable() && bb.to_string().contains("marketplace source"), "{bb}");
    let export = store.export_page(&OrderFilter::default(), None).await.unwrap_err();
    assert!(export.to_string().contains("marketplace source"), "an export never leaves a system out: {export}");

    // Through the pages: the list says what is missing; the search says why it cannot answer.
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &d.own, false, |s| {
        s.sources = d.settings.sources.clone();
    })
    .await;
    let list = app.get("/orders").await;
    assert_eq!(list.status(), 200);
    let body = list.text().await.unwrap();
    assert!(body.contains("data-testid=\"source-outage\"") && body.contains(BOT_ORDER), "{body}");
    assert!(body.contains(&format!("the marketplace source (database {})", d.market)));
    let home = app.get("/").await;
    assert_eq!(home.status(), 200, "the home page stands on the bot's orders");
    let home = home.text().await.unwrap();
    assert!(home.contains("not counting the marketplace"), "{home}");
    assert!(store.order_count().await.is_err(), "a bare count says which system is missing");
    let order = app.get(&format!("/orders/{BOT_ORDER}")).await.text().await.unwrap();
    assert!(
        order.contains(&format!("database <span class=\"font-mono\">{}<!>", d.bot)),
        "the page says where the order lives: {order}"
    );
    let search = app.get(&format!("/search?q={BB}")).await;
    assert_eq!(search.status(), 503);
    let body = search.text().await.unwrap();
    assert!(body.contains("marketplace source") && !body.contains("No order"), "{body}");
}

#[tokio::test]
async fn a_field_name_the_orders_do_not_hold_is_named_in_one_line() {
    let d = deployment_with("", r#"status = "state""#).await;
    seed(&d).await;
    let reports = d.store.check_sources().await;
    let market = reports.iter().find(|r| r.name == "marketplace").unwrap();
    assert!(!market.is_healthy());
    assert_eq!(market.wrong.len(), 1, "{:?}", market.wrong);
    let line = &market.wrong[0];
    assert!(line.starts_with(r#"sources.marketplace.fields.status = "state": none of the 1 newest orders"#), "{line}");
    assert!(line.contains("status") && line.contains("orderNumber"), "it lists what the orders do hold: {line}");
    assert!(reports.iter().find(|r| r.name == "bot").unwrap().is_healthy());

    // The indexes the systems' data needs, under any name: none was made yet, so each is named.
    let lacks = |reports: &[orderdesk::domain::sources::SourceReport], source: &str, what: &str| {
        reports.iter().find(|r| r.name == source).unwrap().indexes.iter().any(|l| l.contains(what))
    };
    assert!(lacks(&reports, "marketplace", "orders: no index on orderNumber: every lookup"), "{reports:?}");
    assert!(lacks(&reports, "marketplace", "ordercounters: no index on counterId"));
    assert!(lacks(&reports, "bot", "orders: no index on order_id"));
    let unique = mongodb::options::IndexOptions::builder().unique(true).name("orderNumber_unique".to_owned()).build();
    helpers::raw_collection(&d.market, "orders")
        .await
        .create_index(mongodb::IndexModel::builder().keys(doc! { "orderNumber": 1 }).options(unique).build())
        .await
        .unwrap();
    let reports = d.store.check_sources().await;
    assert!(!lacks(&reports, "marketplace", "orderNumber"), "the system's own index, named its way, serves");
    assert!(lacks(&reports, "marketplace", "counterId"));

    // A source that does not answer is reported as such, not as wrong names.
    let down = deployment_with(r#"uri = "mongodb://127.0.0.1:9/""#, "").await;
    let reports = down.store.check_sources().await;
    let market = reports.iter().find(|r| r.name == "marketplace").unwrap();
    assert!(market.unreachable.as_deref().is_some_and(|e| e.contains("could not be reached")), "{market:?}");
    assert!(market.wrong.is_empty());
}

/// The deployment the README advises: orderdesk's user may only read the systems' databases
/// (and write its own). Every page works; each write into a system says which permission it
/// lacks, in words, instead of the driver's error.
#[tokio::test]
async fn with_read_only_access_to_the_sources_pages_work_and_writes_say_what_is_missing() {
    use orderdesk::domain::ids::{CounterId, OrderId, TelegramId};
    let mongod = helpers::OwnMongod::start_with_auth();
    let (own, bot, market) = (helpers::unique_db("own"), helpers::unique_db("bot"), helpers::unique_db("market"));
    // The localhost exception lets the first user in; that user makes orderdesk's.
    let first = mongodb::Client::with_uri_str(mongod.uri()).await.unwrap();
    first
        .database("admin")
        .run_command(doc! { "createUser": "root", "pwd": "root-pw", "roles": ["root"] })
        .await
        .unwrap();
    let root_uri = format!("mongodb://root:root-pw@127.0.0.1:{}/?directConnection=true", mongod.port);
    let root = mongodb::Client::with_uri_str(&root_uri).await.unwrap();
    root.database("admin")
        .run_command(doc! { "createUser": "desk", "pwd": "desk-pw", "roles": [
            { "role": "readWrite", "db": &own }, { "role": "read", "db": &bot }, { "role": "read", "db": &market },
        ] })
        .await
        .unwrap();
    let at = BsonTime::from_millis(1_763_631_015_000);
    let bot_db = root.database(&bot);
    bot_db
        .collection("orders")
        .insert_one(
            doc! { "order_id": BOT_ORDER, "telegram_id": 4242_i64, "status": "paid", "amount": 5.0, "created_at": at },
        )
        .await
        .unwrap();
    bot_db
        .collection("payments")
        .insert_one(doc! { "order_id": BOT_ORDER, "amount": 5.0, "created_at": at })
        .await
        .unwrap();
    bot_db
        .collection("sessions")
        .insert_one(doc! { "user_id": 4242_i64, "order_id": null, "created_at": at })
        .await
        .unwrap();
    root.database(&market)
        .collection("orders")
        .insert_one(doc! { "orderNumber": BB, "vendor": "pizza-palace", "totalAmount": 9.0, "status": "paid", "createdAt": at, "__v": 0 })
        .await
        .unwrap();

    let mut settings = helpers::settings(
        &format!("mongodb://desk:desk-pw@127.0.0.1:{}/?directConnection=true&authSource=admin", mongod.port),
        &own,
    );
    let file = std::env::temp_dir().join(format!("{own}.toml"));
    std::fs::write(
        &file,
        format!(
            "[orderdesk.sources.bot]\nkind = \"shipping-bot\"\ndatabase = \"{bot}\"\n\n[orderdesk.sources.marketplace]\nkind = \"marketplace\"\ndatabase = \"{market}\"\n"
        ),
    )
    .unwrap();
    settings.sources = Settings::load_for(Some(&file)).expect("the settings file reads").sources;
    std::fs::remove_file(&file).unwrap();
    let store = Store::connect(&settings).await.unwrap();

    // Reading: lists, lookups with their joins, the display form (derived into orderdesk's
    // own database), the source check.
    assert_eq!(store.list_orders(&OrderFilter::default(), None).await.unwrap().orders.len(), 2);
    let OrderLookup::One { details: order, .. } =
        store.look_up_order(&LookupKey::parse(BOT_ORDER).unwrap()).await.unwrap()
    else {
        panic!("the bot's order is found");
    };
    assert_eq!(order.payments.len(), 1);
    assert_eq!(store.find_orders(&LookupKey::parse("#ORD-5EED12").unwrap()).await.unwrap().len(), 1);
    assert!(store.check_sources().await.iter().all(|r| r.unreachable.is_none() && r.wrong.is_empty()));
    assert!(
        store.ensure_indexes().await.iter().all(|o| o.result.is_ok()),
        "orderdesk's own indexes, in its own database"
    );

    // Writing into a system: refused by mongod, said in words.
    let says = |e: &dyn std::fmt::Display, database: &str| {
        let text = e.to_string();
        assert!(
            text.contains(&format!("may not write in the database {database}")) && text.contains("readWrite"),
            "{text}"
        );
        assert!(!text.contains("not authorized on"), "no driver text: {text}");
    };
    let candidate = OrderId::parse("ORD-20261120093015-00c0ffee").unwrap();
    let repair = store.fill_session_order_id(TelegramId(4242), &candidate).await.unwrap_err();
    says(&repair, &bot);
    let create =
        store.insert_order(&candidate, &helpers::bot_order(Some(4242), Some(1.0)), Utc::now()).await.unwrap_err();
    says(&create, &bot);
    let counter = CounterId::parse("20261120-pizza-palace").unwrap();
    let number = store.next_in_counter(&counter, Utc::now()).await.unwrap_err();
    says(&number, &market);
    let app_error = orderdesk::domain::error::AppError::from(repair);
    assert_eq!(app_error.status(), 403);

    // The pages, as `serve` runs them (its background work included: no change streams on a
    // standalone, so the derived display forms are kept by polling).
    let app = helpers::spawn_app_on(&settings.mongodb_uri, &own, false, |s| s.sources = settings.sources.clone()).await;
    for page in ["/", "/orders", &format!("/orders/{BOT_ORDER}"), &format!("/orders/{BB}"), "/counters", "/failures"] {
        let response = app.get(page).await;
        assert_eq!(response.status(), 200, "{page}: {}", response.text().await.unwrap());
    }
    let (cookie, _) = helpers::signed_in(&app.store, orderdesk::domain::accounts::Role::Admin).await;
    let admin = helpers::client_with(&cookie, true);
    for page in ["/maintenance", "/audit", "/api-keys", "/performance", "/search?q=4242", "/orders.csv"] {
        let response = admin.get(format!("{}{page}", app.address)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{page}: {body}");
        if page == "/performance" {
            // MongoDB's profiler is closed to this user: that part says which role opens it.
            assert!(body.contains("may not read or set MongoDB's profiler") && body.contains("dbAdmin"), "{body}");
        }
    }
}

/// The back-fills in each system's own database and names: order IDs only for the bot's
/// orders, BB numbers only for the marketplace's (from its own counters), nothing of
/// orderdesk's own fields written into either.
#[tokio::test]
async fn each_back_fill_runs_in_its_own_system_and_names() {
    use orderdesk::{
        domain::{
            accounts::Role,
            audit::Actor,
            maintenance::{FreshIdForm, Migration, MigrationOptions, RunStatus},
        },
        services::runs,
    };
    let d = deployment().await;
    let at = BsonTime::from_millis(1_763_631_015_000); // 2025-11-20 09:30:15 UTC
    let bot = helpers::raw_collection(&d.bot, "orders").await;
    bot.insert_many([
        doc! { "id": "legacy-1", "telegram_id": 1_i64, "status": "paid", "created_at": at },
        doc! { "order_id": null, "id": "legacy-2", "telegram_id": 2_i64, "status": "paid", "created_at": at },
        doc! { "order_id": BOT_ORDER, "telegram_id": 3_i64, "status": "paid", "created_at": at },
    ])
    .await
    .unwrap();
    let vendor = ObjectId::parse_str("6834622e10d75a5ba7b77400").unwrap();
    let user = ObjectId::parse_str("6834622e10d75a5ba7b7740d").unwrap();
    let market = helpers::raw_collection(&d.market, "orders").await;
    market
        .insert_many([
            doc! { "user": user, "vendor": vendor, "grandTotal": 5.0, "status": "paid", "createdAt": at, "__v": 0 },
            doc! { "orderNumber": BB, "user": user, "vendor": vendor, "grandTotal": 6.0, "createdAt": at, "__v": 0 },
        ])
        .await
        .unwrap();

    for migration in [Migration::OrderIds, Migration::OrderNumbers] {
        let options = MigrationOptions { dry_run: false, batch: 10, id_form: FreshIdForm::OrdFromCreatedAt };
        let run = runs::prepare_migration(
            &d.store,
            chrono_tz::UTC,
            migration,
            options,
            &Actor::staff("test", Role::Admin, ""),
        )
        .await
        .unwrap_or_else(|e| panic!("{migration}: {e}"))
        .execute(|_| {})
        .await;
        assert_eq!(
            (run.status, run.changed),
            (RunStatus::Completed, 1 + u64::from(migration == Migration::OrderIds)),
            "{run:?}"
        );
    }
    let bots: Vec<_> = bot.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    for o in &bots {
        let id = o.get_str("order_id").unwrap_or_else(|_| panic!("every bot order has an order_id: {o}"));
        assert!(id == BOT_ORDER || id.starts_with("ORD-20251120093015-"), "a fresh ID from its created_at: {id}");
        assert!(!o.contains_key("display_id"), "orderdesk's derived field stays out of the bot's orders: {o}");
    }
    let numbered = market.find_one(doc! { "grandTotal": 5.0 }).await.unwrap().unwrap();
    let number = numbered.get_str("orderNumber").unwrap();
    assert!(number.starts_with("BB-") && number.contains("-740D-"), "{number}");
    assert!(!numbered.contains_key("order_id") && !numbered.contains_key("counter_id"), "{numbered}");
    assert_eq!(
        market.count_documents(doc! { "order_id": { "$exists": true } }).await.unwrap(),
        0,
        "no ORD ID on a marketplace order"
    );
    let counters = helpers::raw_collection(&d.market, "ordercounters").await;
    let counter = counters.find_one(doc! { "counterId": format!("20251120-{}", vendor.to_hex()) }).await.unwrap();
    assert!(counter.is_some(), "the number came from the marketplace's own counter");
    let own = helpers::raw_collection(&d.own, "orders").await;
    assert_eq!(own.count_documents(doc! {}).await.unwrap(), 0);

    // Duplicates: the oldest keeps the ID, the other gets a fresh one in the bot's database,
    // and the old ID still finds both (the alias is in orderdesk's database).
    const DUP: &str = "ORD-20251120093015-d0d0d0d0";
    let later = BsonTime::from_millis(1_763_631_015_000 + 60_000);
    bot.insert_many([
        doc! { "order_id": DUP, "telegram_id": 4_i64, "status": "paid", "created_at": later },
        doc! { "order_id": DUP, "telegram_id": 5_i64, "status": "paid", "created_at": at },
    ])
    .await
    .unwrap();
    let options = MigrationOptions { dry_run: false, batch: 10, id_form: FreshIdForm::OrdFromCreatedAt };
    let run = runs::prepare_migration(
        &d.store,
        chrono_tz::UTC,
        Migration::Duplicates,
        options,
        &Actor::staff("test", Role::Admin, ""),
    )
    .await
    .unwrap()
    .execute(|_| {})
    .await;
    assert_eq!((run.status, run.changed), (RunStatus::Completed, 1), "{run:?}");
    let keeper = bot.find_one(doc! { "order_id": DUP }).await.unwrap().unwrap();
    assert_eq!(keeper.get_i64("telegram_id").unwrap(), 5, "the oldest keeps it");
    let found = d.store.find_orders(&LookupKey::parse(DUP).unwrap()).await.unwrap();
    assert_eq!(found.len(), 2, "the keeper and the renamed one: {found:?}");
    assert_eq!(found[0].order_id.as_deref(), Some(DUP), "the order holding the key comes first");
    assert_eq!(found[1].telegram_id, Some(4));
    assert!(helpers::raw_collection(&d.own, "order_id_aliases").await.count_documents(doc! {}).await.unwrap() == 1);
}

/// The display forms are derived as the bot inserts orders: the running server follows the
/// bot's own orders (a change stream here, on a replica set) and writes the derived form into
/// orderdesk's database, before anyone looks the order up.
#[tokio::test]
async fn a_bot_order_inserted_in_its_own_database_gets_its_display_form_derived() {
    let d = deployment().await;
    let _app = helpers::spawn_app_on(&helpers::mongodb_uri(), &d.own, false, |s| {
        s.sources = d.settings.sources.clone();
    })
    .await;
    let derived = helpers::raw_collection(&d.own, "bot_display_ids").await;
    // The server's feed is open once its first pass is done and its resume point stored:
    // what is inserted from then on reaches it through the feed.
    let sweeps = helpers::raw_collection(&d.own, "sweeps").await;
    helpers::eventually(|| async { sweeps.find_one(doc! { "_id": "display_ids_resume" }).await.ok().flatten() }).await;
    let bot = helpers::raw_collection(&d.bot, "orders").await;
    bot.insert_one(
        doc! { "order_id": "ORD-20261120093015-abcdef12", "telegram_id": 9_i64, "created_at": BsonTime::now() },
    )
    .await
    .unwrap();
    let held =
        helpers::eventually(|| async { derived.find_one(doc! { "display_id": "ORD-ABCDEF" }).await.ok().flatten() })
            .await;
    assert_eq!(held.get_str("_id").unwrap(), "ORD-20261120093015-abcdef12");
}

/// Each source on its own replica set: the marketplace's primary is killed, and while its
/// members elect the next one the bot's order and the lists keep answering (the marketplace
/// named as missing, if it is), and the marketplace's order is found again after.
#[tokio::test]
async fn an_election_in_one_source_leaves_the_other_serving() {
    let mut set = helpers::OwnReplicaSet::start(3).await;
    let d = deployment_with(&format!(r#"uri = "{}""#, set.uri()), "").await;
    let at = BsonTime::from_millis(1_763_631_015_000);
    helpers::raw_collection(&d.bot, "orders")
        .await
        .insert_one(doc! { "order_id": BOT_ORDER, "telegram_id": 4242_i64, "status": "paid", "created_at": at })
        .await
        .unwrap();
    helpers::raw_collection_on(&set.uri(), &d.market, "orders")
        .await
        .insert_one(doc! { "orderNumber": BB, "vendor": "pizza-palace", "status": "paid", "createdAt": at, "__v": 0 })
        .await
        .unwrap();
    let store = &d.store;
    assert_eq!(store.list_orders(&OrderFilter::default(), None).await.unwrap().orders.len(), 2);

    let primary = set.primary().await.expect("a primary");
    set.members[primary].kill();
    let bot = LookupKey::parse(BOT_ORDER).unwrap();
    let started = std::time::Instant::now();
    let mut asked = 0;
    loop {
        asked += 1;
        assert!(
            matches!(store.look_up_order(&bot).await, Ok(OrderLookup::One { .. })),
            "the bot's order answers throughout"
        );
        let page = store.list_orders(&OrderFilter::default(), None).await.expect("the list answers throughout");
        assert!(page.orders.iter().any(|o| o.order_id.as_deref() == Some(BOT_ORDER)));
        for outage in page.outages() {
            assert_eq!(outage.source, "marketplace", "{outage:?}");
        }
        if page.orders.len() == 2 && set.primary().await.is_some() {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the marketplace never came back");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(asked > 1, "the list went on without the marketplace for a while");
    assert!(matches!(store.look_up_order(&LookupKey::parse(BB).unwrap()).await, Ok(OrderLookup::One { .. })));
}

/// The first derivation of display forms walks all of the bot's orders in batches, also past
/// a batch that starts with legacy orders holding no ID (they are read, and not derived).
#[tokio::test]
async fn every_bot_order_gets_its_display_form_past_orders_without_an_id() {
    let d = deployment().await;
    let at = BsonTime::from_millis(1_763_631_015_000);
    let mut docs: Vec<mongodb::bson::Document> =
        (0..20).map(|i| doc! { "id": format!("legacy-{i}"), "created_at": at }).collect();
    docs.extend((0..6_000).map(|i| doc! { "order_id": format!("ORD-20261120093015-{i:06x}ab"), "created_at": at }));
    helpers::raw_collection(&d.bot, "orders").await.insert_many(docs).await.unwrap();
    let derived = d.store.fill_display_ids(None, std::time::Duration::from_secs(60)).await.unwrap();
    assert_eq!(derived, 6_000);
    let forms = helpers::raw_collection(&d.own, "bot_display_ids").await;
    assert_eq!(forms.count_documents(doc! {}).await.unwrap(), 6_000);
    // The last one read: 5,999 is 0x00176f.
    let last = d.store.find_orders(&LookupKey::parse("#ORD-00176F").unwrap()).await.unwrap();
    assert_eq!(last.iter().map(|o| o.order_id.clone().unwrap()).collect::<Vec<_>>(), ["ORD-20261120093015-00176fab"]);
}

/// `seed-demo` with sources writes only into databases that are empty or that it filled
/// itself: a system's database holding anything (here a bot with sessions and no orders yet)
/// is named and left as it was, `--reset` included.
#[tokio::test]
async fn seed_demo_never_writes_into_a_systems_database_it_did_not_fill() {
    let d = deployment().await;
    let file = std::env::temp_dir().join(format!("{}-demo.toml", d.own));
    std::fs::write(
        &file,
        format!(
            "[orderdesk]\ndatabase = \"{}\"\n[orderdesk.sources.bot]\nkind = \"shipping-bot\"\ndatabase = \"{}\"\n[orderdesk.sources.marketplace]\nkind = \"marketplace\"\ndatabase = \"{}\"\n",
            d.own, d.bot, d.market
        ),
    )
    .unwrap();
    let seed = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(helpers::orderdesk_bin());
        cmd.arg("--config").arg(&file).args(["seed-demo", "--orders", "200", "--seed", "3"]).args(extra);
        cmd.env("MONGODB_URI", helpers::mongodb_uri()).env_remove("ORDERDESK_DATABASE").output().unwrap()
    };
    let sessions = helpers::raw_collection(&d.bot, "sessions").await;
    sessions.insert_one(doc! { "user_id": 1_i64, "current_step": "START" }).await.unwrap();
    for extra in [&[][..], &["--reset"][..]] {
        let out = seed(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&d.bot) && err.contains("never writes into or drops"), "{err}");
        assert_eq!(sessions.count_documents(doc! {}).await.unwrap(), 1, "the bot's data is as it was");
    }
    sessions.drop().await.unwrap();
    // Empty: filled, then replaced (seed-demo's own by its mark).
    for extra in [&[][..], &["--reset"][..]] {
        let out = seed(extra);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(helpers::raw_collection(&d.bot, "orders").await.count_documents(doc! {}).await.unwrap() > 0);
    std::fs::remove_file(&file).unwrap();
}
