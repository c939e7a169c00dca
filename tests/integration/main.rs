//! The integration tests, one binary (one link of leptos, axum and the driver instead of one
//! per file): the real app and CLI against a real mongod, a fresh database per test.
//! `scripts/test` starts the mongod and sets `MONGODB_URI`.

mod helpers;

mod access;
mod api;
mod assets;
mod cli;
mod counters;
mod display_ids;
mod edge;
mod failover;
mod failures;
mod flows;
mod foundation;
mod issuing;
mod layers;
mod maintenance;
mod performance;
mod routes;
mod sources;
mod startup;
mod support_desk;
