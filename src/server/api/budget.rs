//! A key's daily budget for BB numbers, so a buggy or stolen key cannot use up a vendor's
//! 99,999 numbers of the day, nor make up thousands of vendors' counters. Counted in MongoDB
//! (shared by every process) per key, vendor and day in the configured zone; the bootstrap
//! key from the environment has none.

use chrono::{Duration as Days, Utc};

use super::ApiError;
use crate::{
    domain::{
        accounts::{NUMBERS_PER_VENDOR_DAY, VENDORS_PER_DAY},
        ids::VendorId,
    },
    server::AppState,
};

/// Counts one number that key `key_id` draws for `vendor` now, or refuses it with 429 when
/// the key's day is spent (until the day ends).
pub async fn spend(state: &AppState, key_id: &str, vendor: &VendorId) -> Result<(), ApiError> {
    let now = Utc::now();
    let zone = state.settings.time_zone;
    let today = now.with_timezone(&zone).date_naive();
    let day_ends = (today + Days::days(1))
        .and_hms_opt(0, 0, 0)
        .and_then(|midnight| midnight.and_local_timezone(zone).earliest())
        .map(|end| end.with_timezone(&Utc))
        .unwrap_or(now + Days::days(1));
    let window = (day_ends - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1));
    let day = today.format("%Y%m%d");
    let store = &state.store;
    let drawn = store.reserve_attempt(&format!("numbers:{key_id}:{day}:{vendor}"), window, now).await?;
    if drawn.count > NUMBERS_PER_VENDOR_DAY {
        return Err(ApiError::OverBudget {
            message: format!(
                "this API key has drawn its {NUMBERS_PER_VENDOR_DAY} numbers for vendor {vendor} today; the budget starts afresh at midnight"
            ),
            retry_after: drawn.wait(now),
        });
    }
    if drawn.count == 1 {
        let vendors = store.reserve_attempt(&format!("vendors:{key_id}:{day}"), window, now).await?;
        if vendors.count > VENDORS_PER_DAY {
            return Err(ApiError::OverBudget {
                message: format!(
                    "this API key has drawn numbers for {VENDORS_PER_DAY} vendors today; a new vendor waits until midnight"
                ),
                retry_after: vendors.wait(now),
            });
        }
    }
    Ok(())
}
