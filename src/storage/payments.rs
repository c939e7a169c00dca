//! The bot's `payments` collection, read with their order (see `orders::lookup_pipeline`).

use mongodb::bson::Document;

use super::{values::datetime, values::number};
use crate::domain::orders::PaymentRecord;

/// One stored payment, read leniently.
pub(crate) fn payment_from_document(d: &Document) -> PaymentRecord {
    let text = |k: &str| d.get_str(k).ok().map(str::to_owned);
    PaymentRecord {
        amount: number(d.get("amount")),
        currency: text("currency"),
        method: text("method"),
        status: text("status"),
        created_at: datetime(d.get("created_at")),
    }
}
