//! The start-up check of each source's settings against what its database holds: every field
//! name against a sample of its newest orders, every collection against the database's list.
//! A wrong name would otherwise read as "this system never keeps that fact", silently.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::{StorageError, Store, sources::SourceDb};
use crate::{
    config::Fact,
    domain::{orders::Source as Kind, sources::SourceReport},
};

/// How many of a source's newest orders the field names are checked against.
pub const SAMPLE: i64 = 200;

impl Store {
    /// Every configured source, checked (none in the single-database deployment, whose names
    /// are orderdesk's own). One source's failure is its report, never the others'.
    pub async fn check_sources(&self) -> Vec<SourceReport> {
        let checks = self.sources().iter().filter(|s| !s.is_own()).map(|s| async move {
            let mut report = SourceReport {
                name: s.name.clone(),
                kind: s.kind.map_or("", Kind::code).to_owned(),
                database: s.database_name().to_owned(),
                unreachable: None,
                sampled: 0,
                wrong: Vec::new(),
                notes: Vec::new(),
                indexes: Vec::new(),
            };
            if let Err(e) = self.check_source(s, &mut report).await {
                report.unreachable = Some(e.to_string());
            }
            report
        });
        futures::future::join_all(checks).await
    }

    async fn check_source(&self, s: &SourceDb, report: &mut SourceReport) -> Result<(), StorageError> {
        let names = self.run_in(s, "check_source", "*", s.database().list_collection_names()).await?;
        let c = s.collections();
        let needed: Vec<(&str, &str)> = match s.kind {
            Some(Kind::ShippingBot) => vec![
                ("orders", &c.orders),
                ("sessions", &c.sessions),
                ("payments", &c.payments),
                ("pending_orders", &c.pending_orders),
            ],
            _ => vec![("orders", &c.orders), ("counters", &c.counters)],
        };
        for (key, name) in needed {
            if !names.iter().any(|n| n == name) {
                report.notes.push(format!(
                    "sources.{}.collections.{key} = {name:?}: the database {} has no such collection (yet)",
                    s.name, report.database
                ));
            }
        }
        // Each collection's indexes listed once, however many of its fields need one.
        let mut lists: BTreeMap<&str, Vec<mongodb::IndexModel>> = BTreeMap::new();
        for (collection, fact_or_field, unique, cost) in needed_indexes(s) {
            let Some(field) = fact_or_field else { continue };
            if !names.iter().any(|n| n == collection) {
                continue;
            }
            if !lists.contains_key(collection) {
                let coll = s.database().collection::<Document>(collection);
                let listed = self
                    .run_in(s, "check_source", "*", async { coll.list_indexes().await?.try_collect::<Vec<_>>().await })
                    .await?;
                lists.insert(collection, listed);
            }
            let listed = &lists[collection];
            // Any name: the system's own index, if it leads with the field (lookups), and is on
            // the field alone and unique (the guard) where that is the point.
            let leads = |m: &&mongodb::IndexModel| m.keys.keys().next().map(String::as_str) == Some(field);
            let lookups = listed.iter().any(|m| leads(&m));
            let guarded = listed
                .iter()
                .filter(leads)
                .any(|m| m.keys.len() == 1 && m.options.as_ref().and_then(|o| o.unique).unwrap_or(false));
            let line = match (lookups, unique && !guarded) {
                (false, true) => Some(format!("no index on {field}: every lookup by it reads every order, and {cost}")),
                (false, false) => Some(format!("no index on {field}: {cost}")),
                (true, true) => Some(format!("no unique index on {field}: {cost}")),
                (true, false) => None,
            };
            if let Some(line) = line {
                report.indexes.push(format!("{}.{collection}: {line}", report.database));
            }
        }
        let sample = self.find_in(s, "check_source", doc! {}, doc! { "_id": -1 }, SAMPLE).await?;
        report.sampled = sample.len() as u64;
        if sample.is_empty() {
            report.notes.push(format!(
                "{}.{} holds no orders yet: the field names are checked when it does",
                report.database, c.orders
            ));
            return Ok(());
        }
        // What the sampled orders do hold, most common first: the names an operator may have meant.
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for d in &sample {
            for key in d.keys() {
                *seen.entry(key.as_str()).or_default() += 1;
            }
        }
        let mut common: Vec<(&str, usize)> = seen.iter().map(|(k, n)| (*k, *n)).collect();
        common.sort_by_key(|(k, n)| (std::cmp::Reverse(*n), *k));
        let held: Vec<&str> = common.iter().take(16).map(|(k, _)| *k).collect();
        for fact in Fact::ALL {
            let Some(field) = s.field(fact) else { continue };
            if seen.contains_key(field) {
                continue;
            }
            let given = s.overridden.contains(&fact);
            let line = format!(
                "sources.{}.fields.{} = {field:?}{}: none of the {} newest orders in {}.{} has it; they hold {}",
                s.name,
                fact.key(),
                if given { "" } else { " (the default)" },
                sample.len(),
                report.database,
                c.orders,
                held.join(", ")
            );
            if given { report.wrong.push(line) } else { report.notes.push(line) }
        }
        Ok(())
    }
}

/// The indexes a source's own data needs, in its own names: (collection, field, unique, what
/// goes wrong without it).
fn needed_indexes(s: &SourceDb) -> Vec<(&str, Option<&str>, bool, &'static str)> {
    let c = s.collections();
    match s.kind {
        Some(Kind::ShippingBot) => vec![
            (c.orders.as_str(), s.field(Fact::OrderId), true, "a retried create can store two orders under one ID"),
            (c.orders.as_str(), s.field(Fact::TelegramId), false, "a telegram-id search reads every order"),
            (c.orders.as_str(), s.field(Fact::CreatedAt), false, "lists read every order to sort them"),
            (c.payments.as_str(), Some("order_id"), false, "each order page reads every payment"),
            (c.sessions.as_str(), Some("user_id"), true, "a user can hold two sessions, so $setOnInsert runs twice"),
            (c.pending_orders.as_str(), Some("order_id"), false, "each order page reads every pending order"),
        ],
        _ => vec![
            (c.orders.as_str(), s.field(Fact::OrderNumber), true, "two orders can hold one BB number"),
            (c.orders.as_str(), s.field(Fact::CreatedAt), false, "lists read every order to sort them"),
            (
                c.counters.as_str(),
                Some("counterId"),
                true,
                "two counters can exist for one vendor and day, and numbers repeat",
            ),
        ],
    }
}
