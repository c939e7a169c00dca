//! Storing a new order under the unique `order_id` index.
//!
//! 32 random bits per second are not unique at volume (at 1,000 orders/s about ten clashes
//! a day), so a clash is expected: draw a new ID and try again, a bounded number of times,
//! and count every retry so the rate is visible.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use crate::{
    domain::{
        ids::{LookupKey, OrderId},
        orders::OrderSummary,
    },
    services::issuing::IdGenerator,
    storage::{
        StorageError, Store,
        orders::{InsertOrderError, NewOrder},
    },
};

/// Attempts before giving up; eight clashes in a row mean something other than chance.
pub const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CreateOrderError {
    #[error("{attempts} order IDs in a row were already taken; the ID generator or the data needs a look")]
    IdsExhausted { attempts: u32 },
    #[error("order number {0} is already used by another order")]
    DuplicateOrderNumber(String),
    /// The ID names a stored order that is not this one: what differs, field by field.
    #[error("order {order_id} already exists with {}", .differs.join(", "))]
    OrderIdConflict { order_id: OrderId, differs: Vec<String> },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Creates orders; shared by every request.
#[derive(Debug, Clone)]
pub struct OrderCreator {
    store: Store,
    ids: Arc<IdGenerator>,
    retries: Arc<AtomicU64>,
}

impl OrderCreator {
    pub fn new(store: Store, ids: Arc<IdGenerator>) -> Self {
        Self { store, ids, retries: Arc::default() }
    }

    /// How many ID clashes were retried since start.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Inserts the order with a fresh ID, retrying on an `order_id` clash.
    #[tracing::instrument(skip(self, order))]
    pub async fn create(&self, order: &NewOrder) -> Result<OrderId, CreateOrderError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let id = self.ids.next_id();
            let insert = self.store.insert_order(&id, order, self.ids.clock().now());
            // A slow insert's log line names the order, as the seed's `create_order` does.
            match self.store.profiled("create_order", id.to_string(), insert).await {
                Ok(()) => return Ok(id),
                Err(InsertOrderError::OrderIdTaken(_)) => {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(attempt, order_id = %id, "order_id already taken; drawing another");
                }
                Err(InsertOrderError::OrderNumberTaken(number)) => {
                    return Err(CreateOrderError::DuplicateOrderNumber(number));
                }
                Err(InsertOrderError::Storage(e)) => return Err(e.into()),
            }
        }
        Err(CreateOrderError::IdsExhausted { attempts: MAX_ATTEMPTS })
    }

    /// Stores the order under `id` (the bot's session's ID), once: a repeat of the same order
    /// (a retried call, or several at once) finds the stored one (`Stored::Already`), and the
    /// unique `order_id` index makes sure only one insert lands; the same ID with other
    /// contents is [`CreateOrderError::OrderIdConflict`]. Either way the user's session moves
    /// on (`Store::session_order_created`), so a retry after a lost answer finishes that too.
    #[tracing::instrument(skip(self, order), fields(order_id = %id))]
    pub async fn create_under(&self, id: &OrderId, order: &NewOrder) -> Result<Stored, CreateOrderError> {
        // The whole of it, as the seed profiles `create_order`: insert, read back, session.
        self.store.profiled("create_order", id.to_string(), self.store_under(id, order)).await
    }

    async fn store_under(&self, id: &OrderId, order: &NewOrder) -> Result<Stored, CreateOrderError> {
        let now = self.ids.clock().now();
        let stored = match self.store.insert_order(id, order, now).await {
            Ok(()) => Stored::Created,
            Err(InsertOrderError::OrderIdTaken(_)) => {
                let found = self.store.find_orders(&LookupKey::OrderId(*id)).await?;
                let Some(existing) = found.into_iter().find(|o| o.order_id.as_deref() == Some(&id.to_string())) else {
                    // Taken a moment ago and gone now (deleted by hand): say so rather than guess.
                    return Err(CreateOrderError::OrderIdConflict {
                        order_id: *id,
                        differs: vec!["an order that was removed meanwhile".into()],
                    });
                };
                let differs = differences(&existing, order);
                if !differs.is_empty() {
                    return Err(CreateOrderError::OrderIdConflict { order_id: *id, differs });
                }
                Stored::Already(Box::new(existing))
            }
            Err(InsertOrderError::OrderNumberTaken(number)) => {
                return Err(CreateOrderError::DuplicateOrderNumber(number));
            }
            Err(InsertOrderError::Storage(e)) => return Err(e.into()),
        };
        if let Some(user) = order.telegram_id {
            self.store.session_order_created(user, id, now).await?;
        }
        Ok(stored)
    }
}

/// What [`OrderCreator::create_under`] did.
#[derive(Debug, Clone)]
pub enum Stored {
    Created,
    /// The same order was already stored (a retry): as it is.
    Already(Box<OrderSummary>),
}

/// The facts of `order` that the stored `existing` order does not share, as "field (stored,
/// not sent)".
fn differences(existing: &OrderSummary, order: &NewOrder) -> Vec<String> {
    let mut differs = Vec::new();
    let telegram_id = order.telegram_id.map(|t| t.0);
    if existing.telegram_id != telegram_id {
        differs.push(format!("telegram_id {} (not {})", shown(existing.telegram_id), shown(telegram_id)));
    }
    if existing.amount != order.amount {
        differs.push(format!("amount {} (not {})", shown(existing.amount), shown(order.amount)));
    }
    if existing.source != order.source {
        differs.push(format!("source {} (not {})", existing.source.label(), order.source.label()));
    }
    differs
}

fn shown<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}
