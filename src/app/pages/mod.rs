//! One module per page.

pub mod api_key;
pub mod api_keys;
pub mod audit;
pub mod counter_day;
pub mod counters;
pub mod failures;
pub mod home;
pub mod maintenance;
pub mod not_found;
pub mod order;
pub mod orders;
pub mod performance;
pub mod search;
