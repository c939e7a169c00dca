//! The work between a request and the store: issuing IDs, assembling the monitoring pages,
//! running maintenance, keeping display IDs filled. Imports domain and storage only.

pub mod api_usage;
pub mod display_fill;
pub mod issuing;
pub mod live_counters;
pub mod monitoring;
pub mod order_page;
pub mod runs;
pub mod sign_in;
pub mod workers;
