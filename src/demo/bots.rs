//! The bots' keys and their last day of calls, so the API keys page has a story to tell: a
//! shipping bot working all day, a marketplace bot failing since a bad deploy 47 minutes
//! ago, and a stats scraper polling once a minute. The keys themselves are random and shown
//! to nobody; the demo's own calls use the bootstrap key.

use chrono::{DateTime, Duration, Timelike, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::domain::{
    accounts::{ApiKeyName, ApiKeyScope},
    api_usage::{MinuteUsage, Outcome, Tally, minute_of},
};
use crate::storage::{StorageError, Store};

/// The marketplace bot's last success was this long before `now`.
pub const FAILING_FOR: Duration = Duration::minutes(47);

/// One demo bot: its key's name and scope, and its calls per minute.
pub struct DemoBot {
    pub name: &'static str,
    pub scope: ApiKeyScope,
    pub minutes: Vec<MinuteUsage>,
}

/// Calls a bot makes in a minute at this hour of the day: quiet at night, busy at lunch and
/// dinner.
fn busy(hour: u32, peak: u32) -> u32 {
    match hour {
        0..6 => peak / 8,
        11..14 | 17..21 => peak,
        _ => peak / 3,
    }
}

/// The three bots' last day up to `now`.
pub fn generate(seed: u64, now: DateTime<Utc>) -> Vec<DemoBot> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xB07);
    let start = minute_of(now) - Duration::hours(24);
    let broke = now - FAILING_FOR;
    // Each bot with its calls a minute at its busiest; the scraper polls once a minute.
    let mut bots = [
        ("shipping-bot", ApiKeyScope::Bots, 12),
        ("marketplace-bot", ApiKeyScope::Bots, 20),
        ("stats-scraper", ApiKeyScope::Stats, 0),
    ]
    .map(|(name, scope, peak)| (DemoBot { name, scope, minutes: Vec::new() }, peak));
    for i in 1..=24 * 60 {
        let minute = start + Duration::minutes(i);
        for (bot, peak) in &mut bots {
            let mut tally = Tally::default();
            let calls = if *peak == 0 { 1 } else { rng.random_range(0..=busy(minute.hour(), *peak)) };
            for _ in 0..calls {
                let at = minute + Duration::milliseconds(rng.random_range(0..60_000));
                if at > now {
                    continue;
                }
                let ms = rng.random_range(2..9) + if rng.random_ratio(1, 50) { rng.random_range(20..300) } else { 0 };
                let (outcome, status) = match bot.name {
                    "marketplace-bot" if at > broke => (Outcome::Rejected, 400),
                    _ if rng.random_ratio(1, 200) => (Outcome::Rejected, 404),
                    _ if rng.random_ratio(1, 2000) => (Outcome::Limited, 503),
                    _ => (Outcome::Ok, 200),
                };
                tally.add(outcome, status, at, std::time::Duration::from_millis(ms));
            }
            if tally.calls > 0 {
                bot.minutes.push(MinuteUsage { minute, tally });
            }
        }
    }
    bots.into_iter().map(|(bot, _)| bot).collect()
}

/// Creates the bots' keys and writes their day of calls.
pub async fn insert(store: &Store, seed: u64, now: DateTime<Utc>) -> Result<usize, StorageError> {
    let bots = generate(seed, now);
    for bot in &bots {
        let name = ApiKeyName::parse(bot.name)
            .map_err(|e| StorageError::Database { op: "demo_bots", message: e.to_string() })?;
        let key = store.create_api_key(&name, bot.scope, now - Duration::days(30)).await?;
        store.insert_api_usage(&key.id, &bot.minutes).await?;
    }
    Ok(bots.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_usage::{Health, KeyUsage};

    #[test]
    fn one_bot_works_one_fails_since_a_known_time_and_the_day_is_the_same_for_a_seed() {
        let now: DateTime<Utc> = "2026-11-20T12:00:00Z".parse().unwrap();
        let bots = generate(7, now);
        assert_eq!(
            generate(7, now).iter().map(|b| b.minutes.clone()).collect::<Vec<_>>(),
            bots.iter().map(|b| b.minutes.clone()).collect::<Vec<_>>()
        );
        let day = |name: &str| KeyUsage::of(&bots.iter().find(|b| b.name == name).unwrap().minutes, now);
        assert_eq!(day("shipping-bot").health, Health::Working);
        assert!(day("shipping-bot").totals.calls > 1000);
        match day("marketplace-bot").health {
            Health::Failing { since, last_ok, last_status } => {
                assert!(last_ok.unwrap() <= now - FAILING_FOR && since > now - FAILING_FOR - Duration::minutes(1));
                assert_eq!(last_status, Some(400));
            }
            other => panic!("the marketplace bot should be failing: {other:?}"),
        }
        assert!((24 * 60 - 1..=24 * 60).contains(&day("stats-scraper").totals.calls));
    }
}
