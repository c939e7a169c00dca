//! What orderdesk is about, free of web and database types: the IDs, orders, counters,
//! failures, the audit log, accounts and maintenance. Builds for both targets and imports no
//! other layer.

pub mod accounts;
pub mod api_usage;
pub mod audit;
pub mod counter_table;
pub mod counters;
pub mod days;
pub mod error;
pub mod failures;
pub mod ids;
pub mod maintenance;
pub mod net;
pub mod order_filter;
pub mod orders;
pub mod paths;
pub mod performance;
pub mod references;
pub mod sources;
pub mod text;
#[cfg(feature = "ssr")]
pub mod tokens;
