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
    domain::ids::OrderId,
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
            match self.store.insert_order(&id, order, self.ids.clock().now()).await {
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
}
