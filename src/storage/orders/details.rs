//! Everything the order page shows about one order, read from the document the lookup
//! joined its payments, pending orders and bot session into.

use mongodb::bson::{Bson, Document};

use super::{PAYMENTS_FIELD, PENDING_FIELD, RENAMED_FIELD, SESSION_FIELD, SLOW_FIELD};
use crate::storage::values::number;
use crate::storage::{metrics::SlowDocument, names::SLOW_QUERIES, values::typed};
use crate::storage::{
    payments::payment_from_document, sessions::session_from_document, sources::SourceDb, values::datetime,
};
use crate::{
    config::Fact,
    domain::orders::{OrderDetails, OrderTimes, PendingRecord},
    domain::performance::SlowQuery,
};

/// A pending order as the order page shows it, read leniently (it is the bot's document).
fn pending_from_document(d: &Document) -> PendingRecord {
    let text = |k: &str| d.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned);
    PendingRecord {
        status: text("status"),
        step: text("current_step").or_else(|| text("step")),
        amount: number(d.get("amount")),
        created_at: datetime(d.get("created_at")),
    }
}

/// `paid_at` as a Mongoose schema would name it (`paidAt`).
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Everything the order page shows about one order read by [`lookup_pipeline`] with details,
/// and its slow operations when they were joined.
pub(super) fn details_from_document(source: &SourceDb, mut order: Document) -> (OrderDetails, Option<Vec<SlowQuery>>) {
    let joined = |order: &mut Document, field: &str| match order.remove(field) {
        Some(Bson::Array(items)) => items
            .into_iter()
            .filter_map(|b| match b {
                Bson::Document(d) => Some(d),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let payments = joined(&mut order, PAYMENTS_FIELD);
    let pending = joined(&mut order, PENDING_FIELD);
    let sessions = joined(&mut order, SESSION_FIELD);
    let slow = order.contains_key(SLOW_FIELD).then(|| joined(&mut order, SLOW_FIELD));
    order.remove(RENAMED_FIELD);
    let summary = source.summary(&order);
    // $lookup matches a missing local field to foreign documents without one: only an order
    // with an ID (or a telegram id) has payments (or a session).
    let payments =
        if summary.order_id.is_some() { payments.iter().map(payment_from_document).collect() } else { Vec::new() };
    let pending =
        if summary.order_id.is_some() { pending.iter().map(pending_from_document).collect() } else { Vec::new() };
    let session = summary.telegram_id.and(sessions.first()).map(session_from_document);
    // The seeds name these times in their own case: the bot's snake_case, Mongoose's camelCase.
    let time = |k: &str| datetime(order.get(k)).or_else(|| datetime(order.get(camel(k))));
    let times = OrderTimes {
        created: summary.created_at,
        paid: time("paid_at"),
        fulfilled: time("fulfilled_at").or_else(|| time("label_created_at")),
        completed: time("completed_at"),
        failed: time("failed_at"),
        refunded: time("refunded_at"),
        cancelled: time("cancelled_at"),
        updated: source.time_of(&order, Fact::UpdatedAt),
    };
    let text = |k: &str| {
        let camel = camel(k);
        [k, camel.as_str()].into_iter().find_map(|k| order.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned))
    };
    let raw = Bson::Document(order.clone()).into_relaxed_extjson();
    // The list is a side note: an entry that does not read is left out, not the page.
    let slow = slow.map(|docs| {
        docs.into_iter()
            .filter_map(|d| match typed::<SlowDocument>(SLOW_QUERIES, d) {
                Ok(s) => Some(s.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "a slow operation joined to an order does not read");
                    None
                }
            })
            .collect()
    });
    let details = OrderDetails {
        times,
        currency: text("currency"),
        failure_reason: text("failure_reason"),
        refund_status: text("refund_status"),
        refund_amount: number(order.get("refund_amount")).or_else(|| number(order.get("refundAmount"))),
        payments,
        pending,
        session,
        raw_json: serde_json::to_string_pretty(&raw).unwrap_or_else(|_| raw.to_string()),
        summary,
    };
    (details, slow)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_times_as_mongoose_does() {
        assert_eq!(super::camel("label_created_at"), "labelCreatedAt");
        assert_eq!(super::camel("paid"), "paid");
    }
}
