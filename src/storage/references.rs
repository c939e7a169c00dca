//! What names a bot order by its `order_id` outside `orders`: its payments, its bot session
//! (`order_id`, or `last_order_id` once the order was made) and its pending order, in the
//! bot's own database and shape. The duplicates migration reads them for the IDs it renames
//! and moves the ones that belong to the renamed order.

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};

use super::{
    StorageError, Store,
    names::{PAYMENTS, PENDING_ORDERS, SESSIONS},
    sources::{integer, text},
    values::datetime,
    values::number,
};
use crate::domain::references::{Clues, ReferenceKind};

/// One document naming an order by ID.
#[derive(Debug, Clone)]
pub struct OrderReference {
    pub kind: ReferenceKind,
    pub key: Bson,
    pub field: &'static str,
    pub order_id: String,
    pub clues: Clues,
}

impl OrderReference {
    pub fn key_text(&self) -> String {
        match &self.key {
            Bson::ObjectId(o) => o.to_hex(),
            Bson::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Where each kind lives and what it names the order and its user with.
fn fields(kind: ReferenceKind) -> (&'static [&'static str], &'static str) {
    match kind {
        ReferenceKind::Payment => (&["order_id"], "telegram_id"),
        ReferenceKind::Session => (&["order_id", "last_order_id"], "user_id"),
        ReferenceKind::PendingOrder => (&["order_id"], "telegram_id"),
    }
}

const KINDS: [ReferenceKind; 3] = [ReferenceKind::Payment, ReferenceKind::Session, ReferenceKind::PendingOrder];

/// Most references read for one batch of IDs: a duplicated ID has a handful.
const MOST: i64 = 10_000;

impl Store {
    fn reference_collection(
        &self,
        kind: ReferenceKind,
    ) -> Result<(mongodb::Collection<Document>, &'static str), StorageError> {
        let bot = self.bot()?;
        let c = bot.collections();
        let (name, op_collection) = match kind {
            ReferenceKind::Payment => (&c.payments, PAYMENTS),
            ReferenceKind::Session => (&c.sessions, SESSIONS),
            ReferenceKind::PendingOrder => (&c.pending_orders, PENDING_ORDERS),
        };
        Ok((bot.database().collection(name), op_collection))
    }

    /// Every payment, session and pending order that names one of `order_ids`.
    pub async fn references_to(&self, order_ids: &[String]) -> Result<Vec<OrderReference>, StorageError> {
        let mut out = Vec::new();
        if order_ids.is_empty() {
            return Ok(out);
        }
        let bot = self.bot()?;
        for kind in KINDS {
            let (collection, name) = self.reference_collection(kind)?;
            let (id_fields, user_field) = fields(kind);
            let any: Vec<Document> = id_fields.iter().map(|f| doc! { *f: { "$in": order_ids } }).collect();
            let docs: Vec<Document> = self
                .run_in(bot, "references_read", name, async {
                    collection
                        .find(doc! { "$or": any })
                        .limit(MOST)
                        .max_time(self.op_timeout)
                        .await?
                        .try_collect()
                        .await
                })
                .await?;
            for d in &docs {
                for field in id_fields {
                    let Some(order_id) = text(d.get(*field)).filter(|id| order_ids.contains(id)) else { continue };
                    out.push(OrderReference {
                        kind,
                        key: d.get("_id").cloned().unwrap_or(Bson::Null),
                        field,
                        order_id,
                        clues: Clues {
                            telegram_id: integer(d.get(user_field)),
                            amount: number(d.get("amount")),
                            at: datetime(d.get("created_at")),
                        },
                    });
                }
            }
        }
        Ok(out)
    }

    /// Points each reference at its new ID, only while it still names the old one (a run
    /// started again, or the bot writing meanwhile, is never overwritten). Returns how many
    /// moved.
    pub async fn repoint_references(&self, moves: &[(&OrderReference, String)]) -> Result<u64, StorageError> {
        let bot = self.bot()?;
        let mut moved = 0;
        for kind in KINDS {
            let updates: Vec<Document> = moves
                .iter()
                .filter(|(r, _)| r.kind == kind)
                .map(|(r, new)| {
                    doc! {
                        "q": { "_id": r.key.clone(), r.field: &r.order_id },
                        "u": { "$set": { r.field: new } },
                        "multi": false,
                    }
                })
                .collect();
            if updates.is_empty() {
                continue;
            }
            let (collection, name) = self.reference_collection(kind)?;
            let command = doc! { "update": collection.name(), "updates": updates, "ordered": false };
            let reply = self.run_in(bot, "references_repoint", name, bot.database().run_command(command)).await?;
            if let Ok(errs) = reply.get_array("writeErrors")
                && let Some(first) = errs.iter().filter_map(Bson::as_document).next()
            {
                return Err(StorageError::Database {
                    op: "references_repoint",
                    message: first.get_str("errmsg").unwrap_or("write error").to_owned(),
                });
            }
            moved += super::values::count(reply.get("nModified"));
        }
        Ok(moved)
    }
}

impl Store {
    /// Adds a batch's reference outcomes to its run: the counts in full, the rows up to
    /// [`REFERENCES_KEPT`] (the run's page and CSV show them).
    pub async fn record_references(
        &self,
        run_id: &str,
        rows: &[crate::domain::references::ReferenceMove],
        moved: u64,
        undecided: u64,
    ) -> Result<(), StorageError> {
        if rows.is_empty() {
            return Ok(());
        }
        let runs = self.collection(super::names::RUNS);
        let rows = mongodb::bson::to_bson(rows)
            .map_err(|e| StorageError::Database { op: "record_references", message: e.to_string() })?;
        let id = mongodb::bson::oid::ObjectId::parse_str(run_id)
            .map_err(|_| StorageError::Unavailable(format!("{run_id:?} is no run id")))?;
        let update = doc! {
            "$push": { "references": { "$each": rows, "$slice": REFERENCES_KEPT as i64 } },
            "$inc": { "references_moved": moved as i64, "references_undecided": undecided as i64 },
        };
        self.run("record_references", super::names::RUNS, runs.update_one(doc! { "_id": id }, update)).await.map(drop)
    }
}

/// Reference rows a run keeps (the counts are always whole).
pub const REFERENCES_KEPT: usize = 2_000;
