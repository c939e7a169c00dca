//! Where an order ID that names no order was seen: the bot's sessions, payments and pending
//! orders, asked at once (the seed's "Order Not Found" checklist, done by the desk).

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use super::{
    StorageError, Store,
    names::{PAYMENTS, PENDING_ORDERS, SESSIONS},
    sources::{integer, text},
    values::datetime,
    values::number,
};
use crate::domain::{ids::OrderId, orders::Trace};

/// At most this many of each kind.
const EACH: i64 = 5;

impl Store {
    /// Every place `id` is named though no order carries it.
    pub async fn trace_order_id(&self, id: &OrderId) -> Result<Vec<Trace>, StorageError> {
        let filter = doc! { "order_id": id.to_string() };
        let bot = self.bot()?;
        let find = |collection: mongodb::Collection<Document>, name: &'static str, op: &'static str| {
            let filter = filter.clone();
            async move {
                self.run_in(bot, op, name, async {
                    collection.find(filter).max_time(self.op_timeout).limit(EACH).await?.try_collect::<Vec<_>>().await
                })
                .await
            }
        };
        // All three run to the end (`join!`): a call is never dropped half way in the driver.
        let (sessions, payments, pending) = tokio::join!(
            find(bot.sessions(), SESSIONS, "trace_sessions"),
            find(bot.payments(), PAYMENTS, "trace_payments"),
            find(bot.pending_orders(), PENDING_ORDERS, "trace_pending"),
        );
        let mut traces: Vec<Trace> = sessions?
            .iter()
            .map(|d| Trace::Session {
                telegram_id: integer(d.get("user_id")),
                step: text(d.get("current_step")),
                since: datetime(d.get("created_at")),
            })
            .collect();
        traces.extend(payments?.iter().map(|d| Trace::Payment {
            amount: number(d.get("amount")),
            currency: text(d.get("currency")),
            status: text(d.get("status")),
            at: datetime(d.get("created_at")),
        }));
        traces.extend(pending?.iter().map(|d| Trace::PendingOrder {
            telegram_id: integer(d.get("telegram_id")).or_else(|| integer(d.get("user_id"))),
            at: datetime(d.get("created_at")),
        }));
        Ok(traces)
    }
}
