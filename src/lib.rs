//! orderdesk: order identifiers for the shipping bot and the marketplace, and the admin
//! dashboard over them. The crate builds twice: with `ssr` as the server (storage, API,
//! CLI) and with `hydrate` as the browser bundle (the same Leptos app, no database code).
//!
//! Layers, each importing only those below it (`tests/integration/layers.rs` enforces it):
//! `cli` → `startup` → `app` → `server` → `demo` → `services` → `storage` → `config` → `domain`.

pub mod app;
pub mod domain;

#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod demo;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod startup;
#[cfg(feature = "ssr")]
pub mod storage;
