//! What looking an order up answers, shared by the search box, the search page and the order
//! page: the order page's data, the search's answer (which carries that page when one order
//! matches), and the hand-off that passes an answer already fetched to the page the router
//! opens next, so that paste to painted is one call (BENCHMARKS.md, "Paste to painted").

use leptos::{prelude::*, server_fn::codec::GetUrl};
use serde::{Deserialize, Serialize};

use crate::{
    domain::error::AppError,
    domain::ids::explain::Explanation,
    domain::orders::{OrderDetails, OrderSummary, Trace},
    domain::performance::SlowQuery,
};

/// What `/orders/{key}` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderPageData {
    One {
        details: Box<OrderDetails>,
        tracking_url: Option<String>,
        /// The tracking QR code, an image of its own (`/qr/{order_id}.svg`).
        qr_href: Option<String>,
        /// How the order's name reads, part by part.
        explanation: Explanation,
        /// The latest slow operations that named this order, by any of its names.
        slow: Vec<SlowQuery>,
    },
    /// The key names several orders (a short display ID, a shared legacy ID).
    Many { read_as: String, orders: Vec<OrderSummary> },
    /// The order's canonical address differs from the one asked for.
    Moved(String),
}

/// The order page's data for `lookup`, asked for as `key`: the order page's server function
/// and the search's, which hands it to this page when one order matches. Audited (in `open`).
#[cfg(feature = "ssr")]
pub(crate) async fn open_page(
    state: &crate::server::AppState,
    caller: &crate::server::access::Caller,
    lookup: &crate::domain::ids::LookupKey,
    key: &str,
) -> Result<OrderPageData, AppError> {
    let (zone, actor) = (state.settings.time_zone, caller.actor());
    let opened = crate::services::order_page::open(&state.store, &state.audit, zone, &actor, lookup, key);
    Ok(page_data(state, opened.await?))
}

/// What the order page shows of an opened order.
#[cfg(feature = "ssr")]
fn page_data(state: &crate::server::AppState, opened: crate::services::order_page::Opened) -> OrderPageData {
    use crate::services::order_page::Opened;
    match opened {
        Opened::One { details, explanation, slow } => {
            let id = details.summary.order_id.as_deref();
            let tracking_url =
                id.map(|id| format!("{}{}", state.settings.tracking_url_base, crate::app::format::urlencode(id)));
            let qr_href = id.map(crate::server::qr::href);
            OrderPageData::One { details, tracking_url, qr_href, explanation, slow }
        }
        Opened::Many { read_as, orders } => OrderPageData::Many { read_as, orders },
        Opened::Elsewhere(page_key) => OrderPageData::Moved(crate::app::format::order_href(&page_key)),
    }
}

/// The answer to one search: how the input was read and what matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupResult {
    pub read_as: String,
    pub key: String,
    pub orders: Vec<OrderSummary>,
    /// For an order ID that names no order: where it was seen instead.
    pub traces: Vec<Trace>,
    /// Whether the lookup filled its list, so more orders may match (a shortened ID, a telegram id).
    pub cut: bool,
}

/// What one search answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SearchAnswer {
    /// The input names one order: its page's key and, when asked for, the page itself.
    Order { key: String, page: Option<OrderPageData> },
    /// Anything else: what matched (or why nothing could), and how the input reads (no
    /// database: the same answer as `orderdesk id explain`).
    Listed { found: Result<LookupResult, AppError>, explanation: Option<Explanation> },
}

/// Reads the input as one kind of key and finds the orders it names. With `with_page`, one
/// match comes with its order page, which the browser's router opens next without another
/// call; a server render redirects instead (and the order page it redirects to is audited).
#[server(prefix = "/api/staff", endpoint = "search", input = GetUrl)]
pub async fn search(q: String, with_page: bool) -> Result<SearchAnswer, AppError> {
    let (state, caller) = crate::server::require(crate::domain::accounts::Role::Support)?;
    use crate::domain::ids::{LookupKey, explain::MAX_PASTE};
    // Only a listed answer shows how the input reads: a single match goes without it.
    let explanation =
        || (q.len() <= MAX_PASTE).then(|| crate::domain::ids::explain::explain(&q, state.settings.time_zone));
    let key = match LookupKey::parse(&q) {
        Ok(key) => key,
        Err(e) => return Ok(SearchAnswer::Listed { found: Err(e.into()), explanation: explanation() }),
    };
    // A key that names one order, asked from the browser: the order page's own lookup (with
    // everything about the order) answers at once, so the order is read once, not listed and
    // then read again for its page. Telegram ids and shortened IDs mostly list several.
    let orders = if with_page && !matches!(key, LookupKey::TelegramId(_) | LookupKey::Partial(_)) {
        use crate::storage::orders::OrderLookup;
        match crate::storage::for_order(key.to_string(), state.store.look_up_order(&key)).await {
            Ok(OrderLookup::One { details, slow }) => match details.summary.page_key().map(str::to_owned) {
                Some(page_key) => {
                    let (zone, actor) = (state.settings.time_zone, caller.actor());
                    let shown = crate::services::order_page::show(
                        &state.store,
                        &state.audit,
                        zone,
                        &actor,
                        details,
                        slow,
                        &page_key,
                    );
                    // Should the view not be recorded, the order page asks for itself and says so.
                    let page = shown.await.ok().map(|opened| page_data(&state, opened));
                    return Ok(SearchAnswer::Order { key: page_key, page });
                }
                None => Ok(vec![details.summary]),
            },
            Ok(OrderLookup::Many(orders)) => Ok(orders),
            Ok(OrderLookup::None) => Ok(Vec::new()),
            Err(e) => Err(AppError::from(e)),
        }
    } else {
        state.store.find_orders(&key).await.map_err(AppError::from)
    };
    let found = async {
        let orders = orders?;
        let traces = match &key {
            LookupKey::OrderId(id) if orders.is_empty() => state.store.trace_order_id(id).await?,
            _ => Vec::new(),
        };
        let cut = orders.len() >= crate::storage::orders::LOOKUP_LIMIT as usize;
        Ok::<_, AppError>(LookupResult { read_as: key.describe(), key: key.to_string(), orders, traces, cut })
    }
    .await;
    let one = match &found {
        Ok(found) if found.orders.len() == 1 => found.orders[0].page_key().map(str::to_owned),
        _ => None,
    };
    let Some(page_key) = one else {
        return Ok(SearchAnswer::Listed { found, explanation: explanation() });
    };
    if !with_page {
        return Ok(SearchAnswer::Order { key: page_key, page: None });
    }
    // The page as its own server function would answer it; should the order have gone in
    // between, the order page asks for itself.
    let page = match LookupKey::parse(&page_key) {
        Ok(key) => open_page(&state, &caller, &key, &page_key).await.ok(),
        Err(_) => None,
    };
    Ok(SearchAnswer::Order { key: page_key, page })
}

/// An answer already fetched, handed to the page the router opens next so that it needs no
/// second call. Taken once, and only by the page asking for the same key; the server's render
/// never fills it. One for order pages (from the search), one for search answers (from the
/// search box).
pub struct Handoff<T: Send + Sync + 'static>(StoredValue<Option<(String, T)>>);

impl<T: Send + Sync + 'static> Clone for Handoff<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Handoff<T> {}

impl<T: Send + Sync + 'static> Handoff<T> {
    pub fn provide() {
        provide_context(Self(StoredValue::new(None)));
    }

    pub fn get() -> Option<Self> {
        use_context::<Self>()
    }

    /// Gives `value`, the answer for `key`, to the page about to open.
    pub fn give(self, key: String, value: T) {
        self.0.set_value(Some((key, value)));
    }

    /// What was given for `key`, once; anything given for another key is dropped.
    pub fn take(self, key: &str) -> Option<T> {
        let mut taken = None;
        self.0.update_value(|held| {
            if held.as_ref().is_some_and(|(k, _)| k == key) {
                taken = held.take().map(|(_, value)| value);
            } else {
                *held = None;
            }
        });
        taken
    }
}
