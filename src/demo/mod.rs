//! Demo data in the source systems' own schema, so a newcomer clicks through something
//! that looks like production: bot orders with sessions and payments, marketplace orders
//! with BB numbers and the `ordercounters` documents that issued them, failures, refunds,
//! and legacy orders whose `order_id` is missing, null, empty or duplicated.
//!
//! Deterministic: the same `seed`, `orders` and `now` give the same documents.
//!
//! Long (about 600 lines before its tests): one generator walks one seeded random stream, so the
//! orders, sessions, payments and counters it makes agree with each other; a split would pass
//! the stream and half the state between files. The bots' keys are in `bots.rs`, each
//! system's document shape in `shapes.rs`.

pub mod bots;
pub mod shapes;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Span, Utc};
use chrono_tz::Tz;
use mongodb::bson::{Bson, DateTime as BsonTime, Document, doc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use crate::domain::ids::{
    BbNumber, BbStamp, BbVariant, CounterId, OrderId, UserSuffix, VendorId,
    generate::{ord_id, uuid_id},
};
use crate::storage::{StorageError, Store, fixtures::Fixtures};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoSpec {
    pub orders: usize,
    pub seed: u64,
    pub now: DateTime<Utc>,
    /// The day of the daily counters.
    pub time_zone: Tz,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub orders: usize,
    pub marketplace_orders: usize,
    pub legacy_without_order_id: usize,
    pub duplicated_order_ids: usize,
    pub legacy_without_order_number: usize,
    pub sessions: usize,
    pub payments: usize,
    pub counters: usize,
}

const VENDORS: &[&str] = &[
    "pizza-palace",
    "sushi-central",
    "burger-barn",
    "taco-town",
    "green-bowl",
    "noodle-nook",
    "6834622e10d75a5ba7b7740d",
    "6834622e10d75a5ba7b7741e",
    "curry-corner",
    "bagel-bros",
];
/// The display ID two demo orders share.
pub const SHOWCASE_DISPLAY_ID: &str = "ORD-DEC0DE";
/// A vendor in a rush: today's counter is near the 99,999 cap (`/counters` forecasts it).
pub const NEAR_CAP_VENDOR: &str = "night-owl-noodles";
/// Where its counter stood before the last hour's orders (only those are loaded).
const NEAR_CAP_BEFORE: u32 = 96_380;
/// Orders it took in the last hour.
const NEAR_CAP_RUSH: u32 = 40;
/// A vendor still on the marketplace's legacy year-based numbers, `BB-YYYYMMDD-…`.
pub const YEAR_BASED_VENDOR: &str = "curry-corner";
/// A vendor on time-based numbers, `BB-{seconds}-…`, counted per hour-long bucket.
pub const TIME_BASED_VENDOR: &str = "bagel-bros";
/// A vendor whose busiest day before today has gaps: an order that failed after drawing
/// its number, and three numbers drawn last that no order holds.
pub const GAP_VENDOR: &str = "burger-barn";

const CARRIERS: &[&str] = &["USPS", "UPS", "FedEx", "DHL"];
const CITIES: &[&str] = &["New York", "Austin", "Denver", "Seattle", "Miami", "Chicago", "Boston", "Phoenix"];
const FAILURES: &[&str] = &[
    "carrier API timeout",
    "address validation failed",
    "payment declined",
    "label purchase failed: insufficient balance",
    "vendor rejected the order",
];
const STEPS: &[&str] = &["START", "FROM_ADDRESS", "TO_ADDRESS", "PARCEL", "RATE", "PAYMENT"];

/// Status with the weight it appears with; failures and refunds are deliberately common.
const STATUSES: &[(&str, u32)] = &[
    ("completed", 58),
    ("fulfilled", 9),
    ("paid", 8),
    ("pending", 8),
    ("failed", 9),
    ("refunded", 5),
    ("cancelled", 3),
];

fn time(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(BsonTime::from_millis(t.timestamp_millis()))
}

fn money(rng: &mut StdRng, low: f64, high: f64) -> f64 {
    (rng.random_range(low..high) * 100.0).round() / 100.0
}

fn pick_status(rng: &mut StdRng) -> &'static str {
    let total: u32 = STATUSES.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for (status, weight) in STATUSES {
        if roll < *weight {
            return status;
        }
        roll -= weight;
    }
    "completed"
}

/// Adds the timeline fields a status implies (`paid_at`, `fulfilled_at`, …).
fn add_timeline(rng: &mut StdRng, d: &mut Document, status: &str, created: DateTime<Utc>, now: DateTime<Utc>) {
    let step = |rng: &mut StdRng, from: DateTime<Utc>, max_min: i64| {
        (from + Span::seconds(rng.random_range(30..max_min * 60))).min(now)
    };
    let paid = step(rng, created, 20);
    let fulfilled = step(rng, paid, 180);
    let completed = step(rng, fulfilled, 60 * 24 * 2);
    let mut updated = created;
    match status {
        "paid" => {
            d.insert("paid_at", time(paid));
            updated = paid;
        }
        "fulfilled" => {
            d.insert("paid_at", time(paid));
            d.insert("fulfilled_at", time(fulfilled));
            updated = fulfilled;
        }
        "completed" => {
            d.insert("paid_at", time(paid));
            d.insert("fulfilled_at", time(fulfilled));
            d.insert("completed_at", time(completed));
            updated = completed;
        }
        "failed" => {
            let failed = step(rng, created, 30);
            d.insert("failed_at", time(failed));
            d.insert("failure_reason", *FAILURES.choose(rng).unwrap_or(&"unknown"));
            updated = failed;
        }
        "refunded" => {
            let refunded = step(rng, fulfilled, 60 * 24);
            d.insert("paid_at", time(paid));
            d.insert("refunded_at", time(refunded));
            d.insert("refund_status", "completed");
            updated = refunded;
        }
        "cancelled" => {
            let cancelled = step(rng, created, 60);
            d.insert("cancelled_at", time(cancelled));
            updated = cancelled;
        }
        _ => {}
    }
    d.insert("updated_at", time(updated));
}

/// Generates every document; pure, so tests can check it without a database.
pub fn generate(spec: &DemoSpec) -> DemoData {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let now = spec.now;
    let window = Span::days(30);
    let telegram_users: Vec<i64> =
        (0..(spec.orders / 8).max(20)).map(|_| rng.random_range(100_000_000..7_999_999_999)).collect();
    let market_users: Vec<String> =
        (0..(spec.orders / 10).max(20)).map(|_| format!("{:024x}", rng.random::<u128>() >> 32)).collect();

    let mut data = DemoData::default();
    // Two bot orders share the display ID ORD-DEC0DE, as real ones do by chance (24 bits):
    // the support desk lists both when someone searches for it.
    let mut showcase = if spec.orders >= 100 { vec![0xdec0_de02_u32, 0xdec0_de01] } else { Vec::new() };
    // Marketplace orders are numbered after all are drawn, in time order, per vendor-day.
    let mut market: Vec<(DateTime<Utc>, Document)> = Vec::new();

    // The near-cap vendor's rush is part of the count asked for.
    let rush = if spec.orders >= 100 { NEAR_CAP_RUSH as usize } else { 0 };
    for i in 0..spec.orders - rush {
        let created = now - Span::milliseconds(rng.random_range(0..window.num_milliseconds()));
        let status = pick_status(&mut rng);
        let marketplace = rng.random_bool(0.3);
        let id = if marketplace || rng.random_bool(0.15) {
            uuid_id(&mut rng)
        } else if let Some(random) = showcase.pop() {
            OrderId::ord(created, random)
        } else {
            ord_id(&at_clock(created), &mut rng)
        };
        let mut d = doc! {
            "order_id": id.to_string(),
            "display_id": id.display_id().to_string(),
            "status": status,
            "created_at": time(created),
        };
        add_timeline(&mut rng, &mut d, status, created, now);
        if marketplace {
            let vendor = *VENDORS.choose(&mut rng).unwrap_or(&"pizza-palace");
            let user = market_users.choose(&mut rng).cloned().unwrap_or_default();
            d.insert("source", "marketplace");
            d.insert("vendor_id", vendor);
            d.insert("user_id", user);
            d.insert("amount", money(&mut rng, 8.0, 60.0));
            d.insert("items", rng.random_range(1..6_i32));
            market.push((created, d));
        } else {
            let telegram_id = *telegram_users.choose(&mut rng).unwrap_or(&100_000_000);
            let amount = money(&mut rng, 5.0, 80.0);
            d.insert("source", "shipping_bot");
            d.insert("id", format!("order_{}_{i}", created.timestamp()));
            d.insert("telegram_id", telegram_id);
            d.insert("amount", amount);
            d.insert("currency", "USD");
            d.insert("carrier", *CARRIERS.choose(&mut rng).unwrap_or(&"USPS"));
            d.insert("from_city", *CITIES.choose(&mut rng).unwrap_or(&"Austin"));
            d.insert("to_city", *CITIES.choose(&mut rng).unwrap_or(&"Boston"));
            add_payment(&mut rng, &mut data, &d);
            data.orders.push(d);
        }
    }

    // Its own random stream, so the showcase leaves the rest of the data as it was.
    let mut showcase_rng = StdRng::seed_from_u64(spec.seed ^ 0x5eed);
    if spec.orders >= 100 {
        add_rush(spec, &mut showcase_rng, &market_users, &mut market);
    }
    number_marketplace_orders(spec, &mut rng, &mut market, &mut data);
    if spec.orders >= 100 {
        showcase_counters(spec, &mut data);
    }
    add_sessions(&mut rng, &mut data, now);
    spoil_legacy_orders(&mut rng, &mut data);
    add_lost_ids(&mut data, now);
    data
}

/// A session that lost its ID (the seed's DuplicateKey troubleshooting).
pub const SESSION_WITHOUT_ID_USER: i64 = 700_000_001;
/// IDs that name no order, each seen somewhere else (the seed's "Order Not Found" checklist):
/// held by a bot session, named by a payment (paid, no order), named by a pending order.
pub const HELD_BY_A_SESSION: &str = "ORD-20261120093000-5e55a1d0";
pub const PAID_WITHOUT_ORDER: &str = "ORD-20261120094500-9a1dbeef";
pub const ONLY_PENDING: &str = "ORD-20261120100000-bead0001";

/// One of each case the seeds' troubleshooting names, and the newest failed bot order paid and
/// not refunded (seed 000's failed labels), so the desk's diagnoses have something to show.
fn add_lost_ids(data: &mut DemoData, now: DateTime<Utc>) {
    let at = |minutes: i64| time(now - Span::minutes(minutes));
    data.sessions.push(doc! {
        "user_id": SESSION_WITHOUT_ID_USER, "order_id": Bson::Null, "current_step": "CONFIRM_ADDRESS",
        "temp_data": {}, "created_at": at(95), "timestamp": at(90),
    });
    data.sessions.push(doc! {
        "user_id": SESSION_WITHOUT_ID_USER + 1, "order_id": HELD_BY_A_SESSION, "current_step": "PAYMENT",
        "temp_data": { "carrier": "UPS" }, "created_at": at(180), "timestamp": at(170),
    });
    data.payments.push(doc! {
        "order_id": PAID_WITHOUT_ORDER, "telegram_id": SESSION_WITHOUT_ID_USER + 2, "amount": 23.4,
        "currency": "USD", "method": "card", "status": "succeeded", "created_at": at(150),
    });
    data.pending_orders.push(doc! {
        "order_id": ONLY_PENDING, "telegram_id": SESSION_WITHOUT_ID_USER + 3, "status": "awaiting_payment",
        "current_step": "PAYMENT", "amount": 11.0, "created_at": at(60),
    });
    // The newest such order, so the week's report shows it.
    let failed = data
        .orders
        .iter_mut()
        .filter(|o| {
            o.get_str("status") == Ok("failed") && o.get_str("order_id").is_ok() && o.get_i64("telegram_id").is_ok()
        })
        .max_by_key(|o| o.get_datetime("created_at").map(|t| t.timestamp_millis()).unwrap_or(0));
    if let Some(order) = failed {
        order.insert("failure_reason", "label purchase failed at the carrier");
        let (id, amount) =
            (order.get_str("order_id").unwrap_or_default().to_owned(), order.get_f64("amount").unwrap_or(9.9));
        data.payments.retain(|p| p.get_str("order_id") != Ok(id.as_str()));
        data.payments.push(doc! {
            "order_id": id, "amount": amount, "currency": "USD", "method": "balance", "status": "succeeded",
            "created_at": order.get("created_at").cloned().unwrap_or(Bson::Null),
        });
    }
}

/// The near-cap vendor's last hour of orders.
fn add_rush(spec: &DemoSpec, rng: &mut StdRng, users: &[String], market: &mut Vec<(DateTime<Utc>, Document)>) {
    for i in 0..NEAR_CAP_RUSH {
        let created = spec.now - Span::seconds(i64::from(NEAR_CAP_RUSH - i) * 75);
        let id = uuid_id(rng);
        market.push((
            created,
            doc! {
                "order_id": id.to_string(),
                "display_id": id.display_id().to_string(),
                "status": "paid",
                "created_at": time(created),
                "paid_at": time(created + Span::seconds(20)),
                "source": "marketplace",
                "vendor_id": NEAR_CAP_VENDOR,
                "user_id": users.choose(rng).cloned().unwrap_or_default(),
                "amount": money(rng, 8.0, 30.0),
                "items": rng.random_range(1..4_i32),
            },
        ));
    }
}

/// Moves the near-cap vendor's numbers up to where a day of rush would have them, and
/// takes an order and three numbers away from the gap vendor's day before yesterday.
fn showcase_counters(spec: &DemoSpec, data: &mut DemoData) {
    let today = spec.now.with_timezone(&spec.time_zone).date_naive();
    let counter_of = |vendor: &str, day: chrono::NaiveDate| {
        VendorId::parse(vendor).map(|v| CounterId::new(day, v).to_string()).unwrap_or_default()
    };
    let near_cap = counter_of(NEAR_CAP_VENDOR, today);
    // The gap vendor's busiest day before today: enough orders to lose one in the middle.
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for d in &data.orders {
        if let Ok(c) = d.get_str("counter_id")
            && c.ends_with(GAP_VENDOR)
            && CounterId::parse(c).is_ok_and(|c| c.day < today)
        {
            *per_day.entry(c.to_owned()).or_default() += 1;
        }
    }
    let gap_day =
        per_day.iter().max_by_key(|(id, n)| (**n, (*id).clone())).map(|(id, _)| id.clone()).unwrap_or_default();
    for d in data.orders.iter_mut().filter(|d| d.get_str("counter_id") == Ok(near_cap.as_str())) {
        if let Ok(n) = d.get_str("order_number").map(BbNumber::parse)
            && let Ok(n) = n
            && let BbStamp::Millis(ms) = n.stamp
            && let Some(moved) = BbNumber::millis(ms, n.user, n.sequence + NEAR_CAP_BEFORE)
        {
            d.insert("order_number", moved.to_string());
        }
    }
    let mut held: Vec<(u32, usize)> = data
        .orders
        .iter()
        .enumerate()
        .filter(|(_, d)| d.get_str("counter_id") == Ok(gap_day.as_str()))
        .filter_map(|(i, d)| Some((BbNumber::parse(d.get_str("order_number").ok()?).ok()?.sequence, i)))
        .collect();
    held.sort_unstable();
    let failed = (held.len() >= 3).then(|| held[held.len() / 2].1);
    if let Some(i) = failed {
        data.orders.remove(i);
    }
    for c in &mut data.counters {
        let id = c.get_str("counterId").unwrap_or_default().to_owned();
        let bump = if id == near_cap {
            NEAR_CAP_BEFORE
        } else if id == gap_day {
            3
        } else {
            continue;
        };
        let sequence = c.get_i64("sequence").unwrap_or(0) + i64::from(bump);
        c.insert("sequence", sequence);
    }
}

/// The payment record a bot order's status implies, if any.
fn add_payment(rng: &mut StdRng, data: &mut DemoData, order: &Document) {
    let (Ok(order_id), Ok(telegram_id), Ok(amount), Ok(status), Ok(created)) = (
        order.get_str("order_id"),
        order.get_i64("telegram_id"),
        order.get_f64("amount"),
        order.get_str("status"),
        order.get_datetime("created_at"),
    ) else {
        return;
    };
    let payment_status = match status {
        "pending" | "cancelled" => return,
        "failed" if rng.random_bool(0.5) => "failed",
        "failed" => return,
        "refunded" => "refunded",
        _ => "succeeded",
    };
    let at = match order.get("paid_at") {
        Some(Bson::DateTime(t)) => Bson::DateTime(*t),
        _ => Bson::DateTime(BsonTime::from_millis(created.timestamp_millis() + 40_000)),
    };
    data.payments.push(doc! {
        "order_id": order_id,
        "telegram_id": telegram_id,
        "amount": amount,
        "currency": "USD",
        "method": *["balance", "card", "crypto"].choose(rng).unwrap_or(&"card"),
        "status": payment_status,
        "created_at": at,
    });
}

/// Gives marketplace orders their BB numbers in time order per vendor and day (in the
/// configured time zone) and writes the matching counters, exactly as the allocator would.
/// About one in 250 is left without a number, as orders from before numbering were.
fn number_marketplace_orders(
    spec: &DemoSpec,
    rng: &mut StdRng,
    market: &mut [(DateTime<Utc>, Document)],
    data: &mut DemoData,
) {
    market.sort_by_key(|(t, _)| *t);
    let mut counters: BTreeMap<String, (u32, DateTime<Utc>)> = BTreeMap::new();
    for (created, d) in market.iter_mut() {
        let vendor = d.get_str("vendor_id").unwrap_or("pizza-palace").to_owned();
        let user = d.get_str("user_id").unwrap_or("0000").to_owned();
        let (Ok(vendor), Ok(suffix)) = (VendorId::parse(&vendor), UserSuffix::from_user_id(&user)) else {
            continue;
        };
        data.marketplace_orders += 1;
        if rng.random_bool(0.004) {
            data.legacy_without_order_number += 1;
            data.orders.push(std::mem::take(d));
            continue;
        }
        let variant = match vendor.as_str() {
            YEAR_BASED_VENDOR => BbVariant::Dated,
            TIME_BASED_VENDOR => BbVariant::Seconds,
            _ => BbVariant::Millis,
        };
        // Hour-long buckets, as `time_bucket_minutes` is by default.
        let counter = CounterId::for_number(&vendor, variant, created.with_timezone(&spec.time_zone), 60);
        let id = counter.to_string();
        let entry = counters.entry(id.clone()).or_insert((0, *created));
        entry.0 += 1;
        entry.1 = *created;
        let number = match variant {
            BbVariant::Millis => BbNumber::millis(created.timestamp_millis() as u64, suffix, entry.0),
            BbVariant::Seconds => BbNumber::seconds(created.timestamp() as u64, suffix, entry.0),
            BbVariant::Dated => BbNumber::dated(counter.day, suffix, entry.0),
        };
        let (Some(number), counter) = (number, id) else {
            continue;
        };
        d.insert("order_number", number.to_string());
        d.insert("counter_id", counter);
        data.orders.push(std::mem::take(d));
    }
    for (counter_id, (sequence, last)) in counters {
        data.counters.push(doc! {
            "counterId": counter_id,
            "sequence": i64::from(sequence),
            "lastUpdated": time(last),
            "__v": 0,
        });
    }
}

/// One session per bot customer who has an unfinished order, as the bot's session
/// manager would have left it.
fn add_sessions(rng: &mut StdRng, data: &mut DemoData, now: DateTime<Utc>) {
    let mut seen = std::collections::HashSet::new();
    for order in &data.orders {
        let (Ok(status), Ok(telegram_id), Ok(order_id)) =
            (order.get_str("status"), order.get_i64("telegram_id"), order.get_str("order_id"))
        else {
            continue;
        };
        if status != "pending" || !seen.insert(telegram_id) {
            continue;
        }
        let created = match order.get("created_at") {
            Some(Bson::DateTime(t)) => *t,
            _ => BsonTime::from_millis(now.timestamp_millis()),
        };
        data.sessions.push(doc! {
            "user_id": telegram_id,
            "order_id": order_id,
            "current_step": *STEPS.choose(rng).unwrap_or(&"START"),
            "temp_data": { "carrier": *CARRIERS.choose(rng).unwrap_or(&"USPS") },
            "created_at": created,
            "timestamp": created,
        });
    }
}

/// Breaks some bot orders the way production data was broken: `order_id` missing, null,
/// empty, or shared by two orders. These block the unique index until migrated.
fn spoil_legacy_orders(rng: &mut StdRng, data: &mut DemoData) {
    // The two orders sharing the showcase display ID stay whole: the README searches for them.
    let bot: Vec<usize> = (0..data.orders.len())
        .filter(|&i| data.orders[i].get_str("source") == Ok("shipping_bot"))
        .filter(|&i| data.orders[i].get_str("display_id") != Ok(SHOWCASE_DISPLAY_ID))
        .collect();
    if bot.len() < 40 {
        return;
    }
    let n = |share: usize, min: usize| (bot.len() / share).max(min);
    let picks: Vec<usize> =
        bot.choose_multiple(rng, n(300, 4) + n(600, 4) + n(2000, 2) + n(1000, 3)).copied().collect();
    let (missing, rest) = picks.split_at(n(300, 4));
    let (null, rest) = rest.split_at(n(600, 4));
    let (empty, dup) = rest.split_at(n(2000, 2));
    for &i in missing {
        data.orders[i].remove("order_id");
        data.orders[i].remove("display_id");
    }
    for &i in null {
        data.orders[i].insert("order_id", Bson::Null);
        data.orders[i].remove("display_id");
    }
    for &i in empty {
        data.orders[i].insert("order_id", "");
        data.orders[i].remove("display_id");
    }
    // Each of these takes the order_id of another bot order: a duplicate pair.
    let mut duplicated = 0;
    for &i in dup {
        let Some(&j) = bot.choose(rng).filter(|&&j| !picks.contains(&j)) else {
            continue;
        };
        let (Ok(id), Ok(display)) = (
            data.orders[j].get_str("order_id").map(str::to_owned),
            data.orders[j].get_str("display_id").map(str::to_owned),
        ) else {
            continue;
        };
        data.orders[i].insert("order_id", id);
        data.orders[i].insert("display_id", display);
        duplicated += 1;
    }
    data.legacy_without_order_id = missing.len() + null.len() + empty.len();
    data.duplicated_order_ids = duplicated;
}

/// A clock stuck at one instant, for drawing an ORD id "as of" an order's creation.
fn at_clock(at: DateTime<Utc>) -> impl crate::domain::ids::generate::Clock {
    struct At(DateTime<Utc>);
    impl crate::domain::ids::generate::Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }
    At(at)
}

/// The generated documents, by collection.
#[derive(Debug, Default)]
pub struct DemoData {
    pub orders: Vec<Document>,
    pub sessions: Vec<Document>,
    pub payments: Vec<Document>,
    pub pending_orders: Vec<Document>,
    pub counters: Vec<Document>,
    pub marketplace_orders: usize,
    pub legacy_without_order_id: usize,
    pub duplicated_order_ids: usize,
    pub legacy_without_order_number: usize,
}

/// Writes the demo data with unordered bulk inserts.
pub async fn insert(store: &Store, data: DemoData) -> Result<DemoReport, StorageError> {
    let report = DemoReport {
        orders: data.orders.len(),
        marketplace_orders: data.marketplace_orders,
        legacy_without_order_id: data.legacy_without_order_id,
        duplicated_order_ids: data.duplicated_order_ids,
        legacy_without_order_number: data.legacy_without_order_number,
        sessions: data.sessions.len(),
        payments: data.payments.len(),
        counters: data.counters.len(),
    };
    let fixtures = if store.single_database() {
        Fixtures {
            orders: data.orders,
            sessions: data.sessions,
            payments: data.payments,
            pending_orders: data.pending_orders,
            counters: data.counters,
            ..Fixtures::default()
        }
    } else {
        // Each system's orders into its own database, in its own shape.
        let (market, bots): (Vec<Document>, Vec<Document>) =
            data.orders.into_iter().partition(|d| d.get_str("source") == Ok("marketplace"));
        Fixtures {
            orders: bots.into_iter().map(shapes::bot_order).collect(),
            marketplace_orders: market.into_iter().map(shapes::mongoose_order).collect(),
            sessions: data.sessions,
            payments: data.payments,
            pending_orders: data.pending_orders,
            counters: data.counters.into_iter().map(shapes::mongoose_counter).collect(),
        }
    };
    store.insert_fixtures(fixtures).await?;
    store.create_demo_source_indexes().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeZone;

    use super::*;

    fn spec(orders: usize, seed: u64) -> DemoSpec {
        DemoSpec {
            orders,
            seed,
            now: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
            time_zone: chrono_tz::America::New_York,
        }
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate(&spec(2_000, 1));
        let b = generate(&spec(2_000, 1));
        let c = generate(&spec(2_000, 2));
        assert_eq!(a.orders, b.orders);
        assert_eq!(a.counters, b.counters);
        assert_ne!(a.orders, c.orders);
    }

    #[test]
    fn the_showcase_has_a_near_cap_counter_and_a_day_with_gaps() {
        let s = spec(5_000, 7);
        let data = generate(&s);
        let today = s.now.with_timezone(&s.time_zone).date_naive();
        let sequence = |vendor: &str, day: chrono::NaiveDate| {
            let id = CounterId::new(day, VendorId::parse(vendor).unwrap()).to_string();
            let c = data.counters.iter().find(|c| c.get_str("counterId") == Ok(id.as_str())).expect("counter");
            (id, c.get_i64("sequence").unwrap() as u32)
        };
        let held = |id: &str| -> Vec<u32> {
            let mut v: Vec<u32> = data
                .orders
                .iter()
                .filter(|o| o.get_str("counter_id") == Ok(id))
                .map(|o| BbNumber::parse(o.get_str("order_number").unwrap()).unwrap().sequence)
                .collect();
            v.sort_unstable();
            v
        };
        let (id, n) = sequence(NEAR_CAP_VENDOR, today);
        assert_eq!(n, NEAR_CAP_BEFORE + NEAR_CAP_RUSH);
        assert_eq!(held(&id), (NEAR_CAP_BEFORE + 1..=n).collect::<Vec<_>>(), "the rush holds the last numbers");
        let gappy: Vec<_> = data
            .counters
            .iter()
            .map(|c| c.get_str("counterId").unwrap().to_owned())
            .filter(|id| id.ends_with(GAP_VENDOR))
            .map(|id| {
                let n = data.counters.iter().find(|c| c.get_str("counterId") == Ok(id.as_str())).unwrap();
                crate::domain::counters::forensics(&id, n.get_i64("sequence").unwrap() as u32, held(&id), None)
            })
            .filter(|f| !f.gaps.is_empty())
            .collect();
        assert_eq!(gappy.len(), 1, "one day with gaps: {gappy:?}");
        assert_eq!(gappy[0].missing(), 4, "one failed order in the middle and three drawn last: {gappy:?}");
        assert_eq!(gappy[0].gaps.len(), 2);
    }

    #[test]
    fn counters_match_the_bb_numbers_they_issued() {
        let data = generate(&spec(5_000, 7));
        let mut issued: HashMap<String, Vec<u32>> = HashMap::new();
        for o in &data.orders {
            if let (Ok(n), Ok(c)) = (o.get_str("order_number"), o.get_str("counter_id")) {
                let n = BbNumber::parse(n).unwrap();
                issued.entry(c.to_owned()).or_default().push(n.sequence);
            }
        }
        assert_eq!(issued.len(), data.counters.len());
        for counter in &data.counters {
            let id = counter.get_str("counterId").unwrap();
            // The showcase's two counters are off on purpose (the test above).
            if id.ends_with(NEAR_CAP_VENDOR) || id.ends_with(GAP_VENDOR) {
                continue;
            }
            CounterId::parse(id).unwrap();
            let mut seqs = issued.remove(id).unwrap();
            seqs.sort_unstable();
            let n = counter.get_i64("sequence").unwrap() as u32;
            assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "{id}");
        }
    }

    #[test]
    fn one_vendor_is_year_based_and_one_time_based() {
        let data = generate(&spec(5_000, 7));
        let variant_of = |vendor: &str| -> Vec<BbVariant> {
            let mut seen: Vec<BbVariant> = data
                .orders
                .iter()
                .filter(|o| o.get_str("vendor_id") == Ok(vendor))
                .filter_map(|o| BbNumber::parse(o.get_str("order_number").ok()?).ok())
                .map(|n| n.variant())
                .collect();
            seen.dedup();
            seen
        };
        assert_eq!(variant_of(YEAR_BASED_VENDOR), [BbVariant::Dated]);
        assert_eq!(variant_of(TIME_BASED_VENDOR), [BbVariant::Seconds]);
        assert_eq!(variant_of("pizza-palace"), [BbVariant::Millis]);
        let buckets = data.counters.iter().filter_map(|c| c.get_str("counterId").ok()).filter(|id| id.contains('T'));
        assert!(buckets.clone().count() > 1 && buckets.clone().all(|id| id.ends_with(TIME_BASED_VENDOR)));
    }

    #[test]
    fn legacy_damage_is_present_and_counted() {
        let data = generate(&spec(10_000, 3));
        let broken =
            data.orders.iter().filter(|o| !matches!(o.get("order_id"), Some(Bson::String(s)) if !s.is_empty())).count();
        assert_eq!(broken, data.legacy_without_order_id);
        assert!(data.orders.iter().any(|o| o.get("order_id") == Some(&Bson::Null)));
        assert!(data.orders.iter().any(|o| !o.contains_key("order_id")));
        let mut seen = std::collections::HashSet::new();
        let dups = data
            .orders
            .iter()
            .filter_map(|o| o.get_str("order_id").ok().filter(|s| !s.is_empty()))
            .filter(|id| !seen.insert(*id))
            .count();
        assert_eq!(dups, data.duplicated_order_ids);
        assert!(dups > 0);
        let unnumbered = data
            .orders
            .iter()
            .filter(|o| o.get_str("source") == Ok("marketplace") && !o.contains_key("order_number"))
            .count();
        assert_eq!(unnumbered, data.legacy_without_order_number);
        assert!(unnumbered > 0);
    }

    #[test]
    fn two_orders_share_the_showcase_display_id() {
        let data = generate(&spec(1_000, 9));
        let sharing: Vec<_> =
            data.orders.iter().filter(|o| o.get_str("display_id") == Ok(SHOWCASE_DISPLAY_ID)).collect();
        assert_eq!(sharing.len(), 2);
        assert_ne!(sharing[0].get_str("order_id"), sharing[1].get_str("order_id"));
    }

    #[test]
    fn statuses_include_failures_refunds_and_sessions_exist() {
        let data = generate(&spec(3_000, 5));
        let status = |s: &str| data.orders.iter().filter(|o| o.get_str("status") == Ok(s)).count();
        assert!(status("failed") > 0 && status("refunded") > 0 && status("completed") > 0);
        assert!(!data.sessions.is_empty() && !data.payments.is_empty());
        // One of each of the seeds' troubleshooting cases.
        assert!(
            data.sessions
                .iter()
                .any(|s| s.get_i64("user_id") == Ok(SESSION_WITHOUT_ID_USER) && s.get("order_id") == Some(&Bson::Null))
        );
        assert!(data.payments.iter().any(|p| p.get_str("order_id") == Ok(PAID_WITHOUT_ORDER)));
        assert!(data.pending_orders.iter().any(|p| p.get_str("order_id") == Ok(ONLY_PENDING)));
        let paid_and_failed = data.orders.iter().filter(|o| o.get_str("status") == Ok("failed")).any(|o| {
            let id = o.get_str("order_id").unwrap_or_default();
            data.payments.iter().any(|p| p.get_str("order_id") == Ok(id) && p.get_str("status") == Ok("succeeded"))
        });
        assert!(paid_and_failed, "a failed order that was paid and not refunded");
        assert!(data.orders.iter().filter_map(|o| o.get_str("failure_reason").ok()).count() == status("failed"));
    }
}
