//! What the dashboard shows about an order, shared by the server and the browser.
//!
//! Fields are optional because legacy documents lack many of them; the UI shows "—".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which system an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    ShippingBot,
    Marketplace,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Self::ShippingBot => "Shipping bot",
            Self::Marketplace => "Marketplace",
        }
    }
}

/// One row of a result list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// As stored; may be missing or not a valid ID on legacy orders.
    pub order_id: Option<String>,
    pub display_id: Option<String>,
    pub order_number: Option<String>,
    pub legacy_id: Option<String>,
    pub source: Source,
    pub status: Option<String>,
    pub amount: Option<f64>,
    pub telegram_id: Option<i64>,
    pub vendor_id: Option<String>,
    pub user_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

impl OrderSummary {
    /// The best identifier to show for this order.
    pub fn headline(&self) -> String {
        self.order_id
            .clone()
            .or_else(|| self.order_number.clone())
            .or_else(|| self.legacy_id.clone())
            .unwrap_or_else(|| "(no ID)".into())
    }
}
