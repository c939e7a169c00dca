//! orderdesk: order identifiers for the shipping bot and the marketplace, and the admin
//! dashboard over them. The crate builds twice: with `ssr` as the server (storage, API,
//! CLI) and with `hydrate` as the browser bundle (the same Leptos app, no database code).

pub mod accounts;
pub mod app;
pub mod audit;
pub mod counter_health;
pub mod error;
pub mod failures;
pub mod ids;
#[cfg(feature = "ssr")]
pub mod issuing;
pub mod maintenance;
pub mod order_filter;
pub mod orders;
pub mod performance;

#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod display_fill;
#[cfg(feature = "ssr")]
pub mod monitoring;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod storage;
#[cfg(feature = "ssr")]
pub mod tokens;
