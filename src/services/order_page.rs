//! Opening one order by any form of its ID, as the order page shows it: the order (or the
//! orders the key names, or the order's own address when asked by another), how its name
//! reads, the slow operations that named it. Opening an order is access to customer data:
//! it is audited, and the page is not shown when the entry could not be written.

use crate::{
    domain::{
        audit::{Actor, AuditEntry},
        ids::{LookupKey, explain::Explanation},
        orders::{OrderDetails, OrderSummary},
        performance::{SLOW_PER_ORDER, SlowQuery},
    },
    storage::{StorageError, Store, audit::AuditWriter, orders::OrderLookup},
};

/// What opening a key found.
#[derive(Debug)]
pub enum Opened {
    One {
        details: Box<OrderDetails>,
        /// How the order's name reads, part by part.
        explanation: Explanation,
        /// The latest slow operations that named this order, by any of its names.
        slow: Vec<SlowQuery>,
    },
    /// The key names several orders (a short display ID, a shared legacy ID).
    Many { read_as: String, orders: Vec<OrderSummary> },
    /// The order's own page key, when it was asked for by another.
    Elsewhere(String),
}

/// Why an order could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenRefusal {
    #[error("No order matches {key}, read as {read_as}.")]
    NoSuchOrder { key: String, read_as: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<OpenRefusal> for crate::domain::error::AppError {
    fn from(e: OpenRefusal) -> Self {
        match e {
            OpenRefusal::NoSuchOrder { .. } => Self::NotFound(e.to_string()),
            OpenRefusal::Storage(s) => s.into(),
        }
    }
}

/// Opens `lookup`, which `actor` asked for as `asked` (the address's key, as typed).
pub async fn open(
    store: &Store,
    audit: &AuditWriter,
    zone: chrono_tz::Tz,
    actor: &Actor,
    lookup: &LookupKey,
    asked: &str,
) -> Result<Opened, OpenRefusal> {
    let found = crate::storage::for_order(lookup.to_string(), store.look_up_order(lookup)).await?;
    let (details, slow) = match found {
        OrderLookup::None => {
            return Err(OpenRefusal::NoSuchOrder { key: lookup.to_string(), read_as: lookup.describe() });
        }
        OrderLookup::Many(orders) => return Ok(Opened::Many { read_as: lookup.describe(), orders }),
        OrderLookup::One { details, slow } => (details, slow),
    };
    if let Some(page_key) = details.summary.page_key()
        && page_key != asked
    {
        return Ok(Opened::Elsewhere(page_key.to_owned()));
    }
    show(store, audit, zone, actor, details, slow, asked).await
}

/// Opens an order already read with everything about it (`Store::look_up_order`), asked for
/// as `asked`: audits the view, reads its slow operations (unless the lookup joined them) and
/// explains its name.
pub async fn show(
    store: &Store,
    audit: &AuditWriter,
    zone: chrono_tz::Tz,
    actor: &Actor,
    details: Box<OrderDetails>,
    slow: Option<Vec<SlowQuery>>,
    asked: &str,
) -> Result<Opened, OpenRefusal> {
    let o = &details.summary;
    let opened = o.page_key().unwrap_or(asked);
    let entry = AuditEntry::new(actor, "order.view", "ok").with_params(&format!("order={opened}"));
    let read_slow = async {
        let Some(joined) = slow else {
            let names: Vec<String> =
                [Some(asked), o.order_id.as_deref(), o.display_id.as_deref(), o.order_number.as_deref()]
                    .into_iter()
                    .chain([o.legacy_id.as_deref()])
                    .flatten()
                    .map(str::to_owned)
                    .collect();
            return store.slow_queries_for(&names, SLOW_PER_ORDER).await;
        };
        Ok(joined)
    };
    let (audited, slow) = tokio::join!(audit.append(entry), read_slow);
    if let Err(e) = audited {
        tracing::error!(action = "order.view", actor = actor.name(), error = %e, "could not write the audit log");
        return Err(e.into());
    }
    // The list is a side note: the order's page stands without it.
    let slow = slow.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read the order's slow operations");
        Vec::new()
    });
    let explanation = crate::domain::ids::explain::explain(&o.headline(), zone);
    Ok(Opened::One { details, explanation, slow })
}
