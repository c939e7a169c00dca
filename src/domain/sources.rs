//! What the dashboard knows about each system it reads: where, and whether the names the
//! settings give match what the system's documents hold.

use serde::{Deserialize, Serialize};

/// One source, as checked against a sample of its newest orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The settings' name (`bot`).
    pub name: String,
    /// `shipping-bot` or `marketplace`.
    pub kind: String,
    pub database: String,
    /// `None` when it answered; what went wrong otherwise (then nothing else was checked).
    pub unreachable: Option<String>,
    /// How many of its newest orders the names were checked against.
    pub sampled: u64,
    /// Names the settings file wrote that no sampled document holds: a mistake, one line each.
    pub wrong: Vec<String>,
    /// Default names no sampled document holds, and collections that do not exist: fine when
    /// the system never keeps that fact, otherwise a name to set.
    pub notes: Vec<String>,
    /// Indexes the system's own data needs and lacks (under any name), one line each: what a
    /// missing one costs. orderdesk builds none in a source by itself.
    pub indexes: Vec<String>,
}

impl SourceReport {
    pub fn is_healthy(&self) -> bool {
        self.unreachable.is_none() && self.wrong.is_empty()
    }
}
