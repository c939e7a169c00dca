//! The bot's `payments` collection, read by order.

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::{StorageError, Store, names::PAYMENTS, orders::number, values::datetime};
use crate::domain::orders::PaymentRecord;

impl Store {
    /// An order's payments, oldest first.
    pub async fn payments_for(&self, order_id: &str) -> Result<Vec<PaymentRecord>, StorageError> {
        let payments = self.collection(PAYMENTS);
        let docs: Vec<Document> = self
            .run("payments_for", PAYMENTS, async {
                payments
                    .find(doc! { "order_id": order_id })
                    .max_time(self.op_timeout)
                    .sort(doc! { "created_at": 1 })
                    .limit(100)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        let text = |d: &Document, k: &str| d.get_str(k).ok().map(str::to_owned);
        Ok(docs
            .iter()
            .map(|d| PaymentRecord {
                amount: number(d.get("amount")),
                currency: text(d, "currency"),
                method: text(d, "method"),
                status: text(d, "status"),
                created_at: datetime(d.get("created_at")),
            })
            .collect())
    }
}
