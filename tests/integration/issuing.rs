//! Issuing IDs and numbers against a real mongod: concurrency, processes, the daily
//! reset, the cap, segment mode, sessions and creation with colliding IDs.

use crate::helpers;

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, TimeZone, Utc};
use futures::{StreamExt, stream};
use orderdesk::{
    domain::ids::{
        BbNumber, BbStamp, BbVariant, CounterId, OrderId, TelegramId, UserSuffix, VendorId, generate::Clock,
    },
    services::issuing::{IdGenerator, IdScheme, NumberAllocator, NumberPolicy, OrderCreator},
    storage::{Store, counters::CounterError},
};
use rand::{RngCore, SeedableRng, rngs::StdRng};

/// A clock the test moves by hand.
struct HandClock(Mutex<DateTime<Utc>>);

impl HandClock {
    fn at(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn vendor(s: &str) -> VendorId {
    VendorId::parse(s).unwrap()
}

fn user() -> UserSuffix {
    UserSuffix::from_user_id("6834622e10d75a5ba7b7a1b2").unwrap()
}

/// The millisecond a BB number was stamped with.
fn stamped_ms(number: &str) -> u64 {
    match BbNumber::parse(number).unwrap().stamp {
        BbStamp::Millis(ms) => ms,
        other => panic!("{number} is not a millisecond number: {other:?}"),
    }
}

fn policy(zone: chrono_tz::Tz, segment_sizes: BTreeMap<VendorId, u32>) -> NumberPolicy {
    NumberPolicy { zone, segment_sizes, ..NumberPolicy::default() }
}

fn strict(store: &Store, clock: Arc<dyn Clock>) -> NumberAllocator {
    NumberAllocator::new(store.clone(), clock, policy(chrono_tz::UTC, BTreeMap::new()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_of_2000_strict_allocations_give_exactly_1_to_16000() {
    let store = helpers::fresh_store("strict").await;
    let clock = HandClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap());
    let allocator = Arc::new(strict(&store, clock));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let allocator = allocator.clone();
            tokio::spawn(async move {
                let mut got = Vec::with_capacity(2000);
                for _ in 0..2000 {
                    let issued = allocator.allocate(&vendor("hot"), user(), None).await.unwrap();
                    let number = BbNumber::parse(&issued.order_number).unwrap();
                    assert_eq!(number.sequence, issued.sequence);
                    got.push(issued.sequence);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "one task's numbers must rise");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=16_000).collect::<Vec<u32>>());
    assert_eq!(store.counter_sequence("20261120-hot").await.unwrap(), Some(16_000));
}

/// `orderdesk id bb` for one user, 1,500 numbers of `vendor`, as a process of its own.
fn id_bb(store: &Store, vendor: &str) -> std::process::Child {
    std::process::Command::new(helpers::orderdesk_bin())
        .args(["id", "bb", "--vendor", vendor, "--user", "u-1234", "--count", "1500"])
        .env("MONGODB_URI", helpers::mongodb_uri())
        .env("ORDERDESK_DATABASE", store.database_name())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn two_orderdesk_processes_never_issue_the_same_number() {
    let store = helpers::fresh_store("procs").await;
    let (a, b) = (id_bb(&store, "shared-vendor"), id_bb(&store, "shared-vendor"));
    let mut sequences = Vec::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            sequences.push(BbNumber::parse(line).unwrap().sequence);
        }
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=3000).collect::<Vec<u32>>());
}

#[tokio::test]
async fn the_counter_resets_at_midnight_in_the_configured_zone() {
    let store = helpers::fresh_store("midnight").await;
    // 23:59:59.999 in New York on 20 November is 04:59:59.999 UTC on the 21st.
    let before = Utc.with_ymd_and_hms(2026, 11, 21, 4, 59, 59).unwrap() + chrono::Duration::milliseconds(999);
    let clock = HandClock::at(before);
    let allocator =
        NumberAllocator::new(store.clone(), clock.clone(), policy(chrono_tz::America::New_York, BTreeMap::new()));
    let v = vendor("pizza-palace");
    let a = allocator.allocate(&v, user(), None).await.unwrap();
    let b = allocator.allocate(&v, user(), None).await.unwrap();
    assert_eq!((a.counter_id.as_str(), a.sequence), ("20261120-pizza-palace", 1));
    assert_eq!(b.sequence, 2);
    clock.set(before + chrono::Duration::milliseconds(1));
    let c = allocator.allocate(&v, user(), None).await.unwrap();
    assert_eq!((c.counter_id.as_str(), c.sequence), ("20261121-pizza-palace", 1));
    // The number's time is the instant asked for, moved on to this process's lane (< 32 ms).
    // `a` (sequence 1 of the 20th, stamped at 23:59:59.999 + up to 31 ms) may already hold
    // this user's sequence 1 in one of the first milliseconds of the 21st: then `c` moves on
    // by one more turn of the lanes rather than repeat `a`'s number.
    let stamped = stamped_ms(&c.order_number);
    assert!((1_795_237_200_000..1_795_237_200_064).contains(&stamped), "{}", c.order_number);
    assert_ne!(c.order_number, a.order_number);
}

/// Issue #16: one customer (one user suffix) ordering from several vendors through two
/// processes at the same instant. Every vendor's counter gives 1, 2, 3, … and the format names
/// no vendor, so without the lanes the same millisecond, suffix and sequence made one number
/// for several vendors. The clock is frozen, which makes every such clash certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_eight_tasks_many_vendors_one_user_never_issue_a_number_twice() {
    let store = helpers::fresh_store("lanes").await;
    // A second process: its own client, pool and instance name, on the same database.
    let other = Store::connect(&helpers::settings(&helpers::mongodb_uri(), store.database_name())).await.unwrap();
    assert_ne!(store.instance(), other.instance());
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    // Three strict vendors and one in segment mode.
    let vendors = ["pizza-palace", "sushi-bar", "taco-town", "hot-wok"].map(vendor);
    let sizes = BTreeMap::from([(vendor("hot-wok"), 40)]);
    let processes = [&store, &other]
        .map(|s| Arc::new(NumberAllocator::new(s.clone(), HandClock::at(now), policy(chrono_tz::UTC, sizes.clone()))));
    let mut tasks = Vec::new();
    for (p, allocator) in processes.iter().enumerate() {
        for t in 0..8 {
            let (allocator, vendors) = (allocator.clone(), vendors.clone());
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..200 {
                    let v = &vendors[(i + t) % vendors.len()];
                    got.push((p, allocator.allocate(v, user(), None).await.unwrap()));
                }
                got
            }));
        }
    }
    let mut issued = Vec::new();
    for t in tasks {
        issued.extend(t.await.unwrap());
    }
    assert_eq!(issued.len(), 2 * 8 * 200);
    let numbers: HashSet<&str> = issued.iter().map(|(_, n)| n.order_number.as_str()).collect();
    assert_eq!(numbers.len(), issued.len(), "a number was issued twice");
    // The clashes were there to be had: sequences repeat across vendors.
    let sequences: HashSet<u32> = issued.iter().map(|(_, n)| n.sequence).collect();
    assert!(sequences.len() * 2 < issued.len(), "{} distinct sequences", sequences.len());
    // Each process stamps its own lane, never the other's; no time before the instant asked.
    let lane_of = |p: usize| -> HashSet<u64> {
        issued
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, n)| stamped_ms(&n.order_number))
            .inspect(|ms| assert!(*ms >= now.timestamp_millis() as u64))
            .map(|ms| ms % 32)
            .collect()
    };
    let (a, b) = (lane_of(0), lane_of(1));
    assert_eq!((a.len(), b.len()), (1, 1), "one lane per process: {a:?} {b:?}");
    assert_ne!(a, b);
}

/// The same with two real `orderdesk` processes on the system clock: two vendors, one user.
#[tokio::test]
async fn two_cli_processes_for_two_vendors_and_one_user_issue_distinct_numbers() {
    let store = helpers::fresh_store("lanecli").await;
    let (a, b) = (id_bb(&store, "vendor-a"), id_bb(&store, "vendor-b"));
    let mut numbers = HashSet::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
        let sequences: Vec<u32> = lines.iter().map(|l| BbNumber::parse(l).unwrap().sequence).collect();
        assert_eq!(sequences, (1..=1500).collect::<Vec<u32>>());
        numbers.extend(lines);
    }
    assert_eq!(numbers.len(), 3000, "a number was issued to both vendors");
    // Both processes handed their lanes back when they were done: a third takes one at once
    // and starts at the present, not at the end of a lease.
    let lane = store.take_number_lane(Utc::now().timestamp_millis()).await.unwrap().unwrap();
    assert!(lane.from_ms <= Utc::now().timestamp_millis());
}

#[tokio::test]
async fn at_99999_the_allocator_refuses_and_the_counter_stays_at_the_cap() {
    let store = helpers::fresh_store("cap").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let counter = CounterId::new(now.date_naive(), vendor("busy"));
    store.set_counter(&counter, 99_998, now).await.unwrap();
    let allocator = strict(&store, HandClock::at(now));
    let last = allocator.allocate(&vendor("busy"), user(), None).await.unwrap();
    assert_eq!(last.sequence, 99_999);
    assert!(last.order_number.ends_with("-99999"));
    for _ in 0..3 {
        match allocator.allocate(&vendor("busy"), user(), None).await {
            Err(CounterError::Exhausted { max: 99_999, .. }) => {}
            other => panic!("expected CounterExhausted, got {other:?}"),
        }
    }
    assert_eq!(store.counter_sequence("20261120-busy").await.unwrap(), Some(99_999));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn segment_mode_hands_out_unique_numbers_across_processes() {
    let store = helpers::fresh_store("segment").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let sizes = BTreeMap::from([(vendor("hot"), 50)]);
    // Two allocators stand for two processes: each holds its own blocks.
    let make =
        || Arc::new(NumberAllocator::new(store.clone(), HandClock::at(now), policy(chrono_tz::UTC, sizes.clone())));
    let (a, b) = (make(), make());
    let run = |alloc: Arc<NumberAllocator>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..700 {
                got.push(alloc.allocate(&vendor("hot"), user(), None).await.unwrap().sequence);
            }
            got
        })
    };
    let (ra, rb) = (run(a), run(b));
    let (ga, gb) = (ra.await.unwrap(), rb.await.unwrap());
    assert!(ga.windows(2).all(|w| w[0] < w[1]) && gb.windows(2).all(|w| w[0] < w[1]));
    let all: HashSet<u32> = ga.iter().chain(&gb).copied().collect();
    assert_eq!(all.len(), 1400, "no number is issued twice");
    let reserved = store.counter_sequence("20261120-hot").await.unwrap().unwrap();
    assert!(all.iter().all(|&n| n >= 1 && n <= reserved));
    // Blocks of 50, prefetched: at most two unused blocks per process remain as gaps.
    assert!((1400..=1400 + 4 * 50).contains(&reserved), "reserved {reserved}");
}

#[tokio::test]
async fn a_segment_near_the_cap_is_cut_to_what_is_left() {
    let store = helpers::fresh_store("segcap").await;
    let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    store.set_counter(&CounterId::new(now.date_naive(), vendor("hot")), 99_990, now).await.unwrap();
    let alloc = NumberAllocator::new(
        store.clone(),
        HandClock::at(now),
        policy(chrono_tz::UTC, BTreeMap::from([(vendor("hot"), 100)])),
    );
    let mut got = Vec::new();
    loop {
        match alloc.allocate(&vendor("hot"), user(), None).await {
            Ok(n) => got.push(n.sequence),
            Err(CounterError::Exhausted { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, (99_991..=99_999).collect::<Vec<u32>>());
}

/// An RNG whose u32 draws come from a small space, so generated IDs collide often.
struct Colliding {
    inner: StdRng,
    draws: Arc<AtomicU64>,
}

impl RngCore for Colliding {
    fn next_u32(&mut self) -> u32 {
        self.draws.fetch_add(1, Ordering::Relaxed);
        self.inner.next_u32() % 100_000
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.next_u32())
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.inner.fill_bytes(dst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_creates_with_colliding_ids_lose_nothing() {
    let store = helpers::fresh_store("collide").await;
    let draws = Arc::new(AtomicU64::new(0));
    let rng = Colliding { inner: StdRng::seed_from_u64(11), draws: draws.clone() };
    // One fixed second: every ID differs only in its 32 "random" bits, here 17 bits.
    let clock = HandClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap());
    let creator = OrderCreator::new(store.clone(), Arc::new(IdGenerator::new(clock, Box::new(rng), IdScheme::Ord)));
    let order = helpers::bot_order(Some(42), Some(12.5));
    let ids: Vec<OrderId> = stream::iter(0..10_000)
        .map(|_| {
            let (creator, order) = (creator.clone(), order.clone());
            async move { creator.create(&order).await.unwrap() }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let distinct: HashSet<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(distinct.len(), 10_000);
    assert_eq!(store.order_count().await.unwrap(), 10_000);
    let retries = creator.retries();
    assert!(retries > 50, "a 100,000-value space must collide often; got {retries} retries");
    assert_eq!(draws.load(Ordering::Relaxed), 10_000 + retries, "every clash was retried and counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_session_requests_for_one_user_get_one_session_and_one_order_id() {
    let store = helpers::fresh_store("sessions").await;
    let ids = Arc::new(IdGenerator::system(IdScheme::Ord));
    let results: Vec<_> = stream::iter(0..64)
        .map(|_| {
            let (store, ids) = (store.clone(), ids.clone());
            async move { store.get_or_create_session(TelegramId(777), &ids.next_id(), Utc::now()).await.unwrap() }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let order_ids: HashSet<_> = results.iter().map(|s| s.order_id.clone()).collect();
    assert_eq!(order_ids.len(), 1, "{order_ids:?}");
    assert!(results.iter().all(|s| s.current_step.as_deref() == Some("START")));
    OrderId::parse(order_ids.iter().next().unwrap().as_deref().unwrap()).unwrap();
}

/// Many vendors, two processes, one user, a frozen clock, `variant` numbers: every clash the
/// format allows is there to be had (same day or second, same suffix, same sequence).
/// Noon (UTC) of the real day: number claims expire `KEEP` after the clock's time, and
/// mongod's TTL monitor (every 60 s) dropped claims stamped on a fixed day long past in the
/// middle of a run, which then issued numbers twice.
fn claims_noon() -> chrono::DateTime<Utc> {
    Utc::now().date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc()
}

async fn numbers_of_many_vendors_one_user(
    store: &Store,
    variant: BbVariant,
    sizes: BTreeMap<VendorId, u32>,
) -> Vec<String> {
    let other = Store::connect(&helpers::settings(&helpers::mongodb_uri(), store.database_name())).await.unwrap();
    let now = claims_noon();
    let vendors = ["pizza-palace", "sushi-bar", "taco-town", "hot-wok"].map(vendor);
    let processes = [store, &other]
        .map(|s| Arc::new(NumberAllocator::new(s.clone(), HandClock::at(now), policy(chrono_tz::UTC, sizes.clone()))));
    let mut tasks = Vec::new();
    for allocator in &processes {
        for t in 0..4 {
            let (allocator, vendors) = (allocator.clone(), vendors.clone());
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..40 {
                    let issued =
                        allocator.allocate(&vendors[(i + t) % vendors.len()], user(), Some(variant)).await.unwrap();
                    assert_eq!(issued.variant, variant.name());
                    got.push(issued);
                }
                got
            }));
        }
    }
    let mut issued = Vec::new();
    for t in tasks {
        issued.extend(t.await.unwrap());
    }
    for n in &issued {
        let number = BbNumber::parse(&n.order_number).unwrap();
        assert_eq!((number.variant(), number.sequence), (variant, n.sequence), "{}", n.order_number);
    }
    issued.into_iter().map(|n| n.order_number).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn year_based_numbers_are_unique_across_vendors_and_processes() {
    let store = helpers::fresh_store("yearbased").await;
    let sizes = BTreeMap::from([(vendor("hot-wok"), 20)]);
    let numbers = numbers_of_many_vendors_one_user(&store, BbVariant::Dated, sizes).await;
    let distinct: HashSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "a year-based number was issued twice");
    let day = claims_noon().format("%Y%m%d").to_string();
    assert!(numbers.iter().all(|n| n.starts_with(&format!("BB-{day}-A1B2-"))), "{numbers:?}");
    // Each clash cost its vendor one sequence (a gap): the four daily counters together drew
    // more than the 320 numbers handed out, and no more than one number was lost per clash.
    let mut drawn = 0;
    for v in ["pizza-palace", "sushi-bar", "taco-town", "hot-wok"] {
        drawn += store.counter_sequence(&format!("{day}-{v}")).await.unwrap().unwrap();
    }
    assert!(drawn > 320, "the vendors' sequences clashed, so some were skipped: {drawn}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn time_based_numbers_are_unique_and_count_per_time_bucket() {
    let store = helpers::fresh_store("timebased").await;
    let numbers = numbers_of_many_vendors_one_user(&store, BbVariant::Seconds, BTreeMap::new()).await;
    let day = claims_noon().format("%Y%m%d").to_string();
    let distinct: HashSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "a time-based number was issued twice");
    // A clash moves the number to the next second, so each bucket counter stays gapless:
    // 12:00 UTC is the hour-long bucket T1200, 80 numbers per vendor.
    for v in ["pizza-palace", "sushi-bar", "taco-town", "hot-wok"] {
        assert_eq!(store.counter_sequence(&format!("{day}T1200-{v}")).await.unwrap(), Some(80), "{v}");
        assert_eq!(store.counter_sequence(&format!("{day}-{v}")).await.unwrap(), None, "no daily counter");
    }
    let earliest = numbers
        .iter()
        .map(|n| match BbNumber::parse(n).unwrap().stamp {
            BbStamp::Seconds(s) => s,
            other => panic!("{other:?}"),
        })
        .min();
    assert_eq!(earliest, Some(claims_noon().timestamp() as u64), "never before the instant asked for");
    // The next bucket is a new counter from 00001; with 15-minute buckets 12:44 is T1230.
    let clock = HandClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 12, 44, 59).unwrap());
    let alloc = NumberAllocator::new(
        store.clone(),
        clock.clone(),
        NumberPolicy {
            time_bucket_minutes: 15,
            variants: BTreeMap::from([(vendor("taco-town"), BbVariant::Seconds)]),
            ..NumberPolicy::default()
        },
    );
    let a = alloc.allocate(&vendor("taco-town"), user(), None).await.unwrap();
    assert_eq!((a.counter_id.as_str(), a.sequence, a.variant), ("20261120T1230-taco-town", 1, "time-based"));
    clock.set(Utc.with_ymd_and_hms(2026, 11, 20, 12, 45, 0).unwrap());
    let b = alloc.allocate(&vendor("taco-town"), user(), None).await.unwrap();
    assert_eq!((b.counter_id.as_str(), b.sequence), ("20261120T1245-taco-town", 1));
    // A vendor without a setting gets ultra numbers from its daily counter.
    let c = alloc.allocate(&vendor("sushi-bar"), user(), None).await.unwrap();
    assert_eq!((c.variant, c.counter_id.as_str()), ("ultra", "20261120-sushi-bar"));
}

#[tokio::test]
async fn the_cli_issues_each_variant() {
    let store = helpers::fresh_store("clivariant").await;
    let today = Utc::now().format("%Y%m%d").to_string();
    let bb = |variant: &str| {
        let out = std::process::Command::new(helpers::orderdesk_bin())
            .args(["id", "bb", "--vendor", "deli", "--user", "u-1234", "--count", "3", "--variant", variant])
            .env("MONGODB_URI", helpers::mongodb_uri())
            .env("ORDERDESK_DATABASE", store.database_name())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| BbNumber::parse(l).unwrap()).collect::<Vec<_>>()
    };
    let dated = bb("year-based");
    assert_eq!(
        dated.iter().map(ToString::to_string).collect::<Vec<_>>(),
        (1..=3).map(|n| format!("BB-{today}-1234-{n:05}")).collect::<Vec<_>>()
    );
    let timed = bb("time-based");
    assert!(timed.iter().all(|n| n.variant() == BbVariant::Seconds), "{timed:?}");
    assert_eq!(timed.iter().map(|n| n.sequence).collect::<Vec<_>>(), [1, 2, 3], "a fresh bucket counter");
}
