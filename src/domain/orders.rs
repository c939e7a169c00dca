//! What the dashboard shows about an order, shared by the server and the browser.
//!
//! Fields are optional because legacy documents lack many of them; the UI shows "—".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The statuses the two systems use. A stored order may carry another (legacy data, a newer
/// bot): it is shown as stored, but only these can be filtered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Fulfilled,
    Completed,
    Failed,
    Refunded,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [Self; 7] =
        [Self::Pending, Self::Paid, Self::Fulfilled, Self::Completed, Self::Failed, Self::Refunded, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, crate::domain::ids::ParseError> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            let all: Vec<&str> = Self::ALL.iter().map(|x| x.as_str()).collect();
            crate::domain::ids::ParseError::new(format!("status must be one of {}; got {:?}", all.join(", "), s.trim()))
        })
    }

    /// What the failures report counts as failed.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Cancelled)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which system an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    ShippingBot,
    Marketplace,
}

impl Source {
    pub const ALL: [Self; 2] = [Self::ShippingBot, Self::Marketplace];

    pub fn label(self) -> &'static str {
        match self {
            Self::ShippingBot => "Shipping bot",
            Self::Marketplace => "Marketplace",
        }
    }

    /// The name in URLs (`/orders?source=…`).
    pub fn code(self) -> &'static str {
        match self {
            Self::ShippingBot => "shipping-bot",
            Self::Marketplace => "marketplace",
        }
    }

    pub fn parse(s: &str) -> Result<Self, crate::domain::ids::ParseError> {
        Self::ALL.into_iter().find(|source| source.code() == s.trim()).ok_or_else(|| {
            crate::domain::ids::ParseError::new(format!(
                "source must be shipping-bot or marketplace; got {:?}",
                s.trim()
            ))
        })
    }
}

/// A source that could not answer, on a page that shows what the others did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOutage {
    /// The settings' name (`marketplace`).
    pub source: String,
    pub database: String,
    /// What went wrong, for people (`could not be reached`, `is electing a new primary`).
    pub message: String,
}

impl std::fmt::Display for SourceOutage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} source (database {}) did not answer: {}", self.source, self.database, self.message)
    }
}

/// What the sources that answered gave, and which did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partial<T> {
    pub value: T,
    pub outages: Vec<SourceOutage>,
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
    /// The database it was read from (the system's own, or orderdesk's).
    pub database: String,
}

impl OrderSummary {
    /// The order's name as customers quote it: the BB number when it has one (a marketplace
    /// order's UUID means nothing to its customer or vendor), else the ORD ID, else the
    /// legacy id.
    pub fn headline(&self) -> String {
        self.order_number
            .clone()
            .or_else(|| self.order_id.clone())
            .or_else(|| self.legacy_id.clone())
            .unwrap_or_else(|| "(no ID)".into())
    }

    /// The short form shown beside the name (`ORD-A3F8D2`, what the bot tells customers),
    /// for bot orders; a marketplace order's customers never see one.
    pub fn display_beside(&self) -> Option<String> {
        (self.order_number.is_none()).then(|| self.display_id.clone()).flatten()
    }
}

/// When each step of an order happened, as stored (legacy orders lack most of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderTimes {
    pub created: Option<DateTime<Utc>>,
    pub paid: Option<DateTime<Utc>>,
    pub fulfilled: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    pub failed: Option<DateTime<Utc>>,
    pub refunded: Option<DateTime<Utc>>,
    pub cancelled: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Where a timeline step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    Done,
    Failed,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineStep {
    pub label: &'static str,
    /// What else there is to say about the step (a pending order's step and status).
    pub detail: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub state: StepState,
}

/// created → paid → fulfilled (label) → completed, ending early in failed, cancelled or
/// refunded when that happened. A step with a time is done even if a later one is missing.
/// The bot's pending orders under the order's ID stand among the steps by time: where the
/// customer was before the order (or instead of it).
pub fn timeline(times: &OrderTimes, pending: &[PendingRecord]) -> Vec<TimelineStep> {
    let mut steps = order_steps(times);
    let mut begun: Vec<(DateTime<Utc>, &PendingRecord)> =
        pending.iter().filter_map(|p| p.created_at.map(|at| (at, p))).collect();
    begun.sort_by_key(|(at, _)| *at);
    for (at, p) in begun {
        // Before the first step that came later or has not happened.
        let place = steps.iter().position(|s| s.at.is_none_or(|s| s > at)).unwrap_or(steps.len());
        let ended = matches!(p.status.as_deref(), Some("failed" | "cancelled" | "expired"));
        let detail = [p.step.as_deref().map(|s| format!("step {s}")), p.status.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ");
        steps.insert(
            place,
            TimelineStep {
                label: "Pending order",
                detail: (!detail.is_empty()).then_some(detail),
                at: Some(at),
                state: if ended { StepState::Failed } else { StepState::Done },
            },
        );
    }
    steps
}

fn order_steps(times: &OrderTimes) -> Vec<TimelineStep> {
    let step = |label, at: Option<DateTime<Utc>>| TimelineStep {
        label,
        detail: None,
        at,
        state: if at.is_some() { StepState::Done } else { StepState::Pending },
    };
    let mut steps = vec![step("Created", times.created), step("Paid", times.paid)];
    let ended = |label, at: Option<DateTime<Utc>>| TimelineStep { label, detail: None, at, state: StepState::Failed };
    if times.failed.is_some() {
        steps.push(ended("Failed", times.failed));
        return steps;
    }
    if times.cancelled.is_some() {
        steps.push(ended("Cancelled", times.cancelled));
        return steps;
    }
    steps.push(step("Fulfilled (label)", times.fulfilled));
    if times.refunded.is_some() {
        steps.push(ended("Refunded", times.refunded));
    } else {
        steps.push(step("Completed", times.completed));
    }
    steps
}

/// One record from `payments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub method: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}

/// A pending order of the bot's (`pending_orders`) under the order's ID: begun, with the
/// step and status it stopped at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRecord {
    pub status: Option<String>,
    pub step: Option<String>,
    pub amount: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
}

/// The customer's bot session, when there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub current_step: Option<String>,
    pub order_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
}

/// Where an order ID that names no order was seen (the seed's "Order Not Found" checklist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Trace {
    /// A bot session holds it: the bot stopped before it created the order.
    Session { telegram_id: Option<i64>, step: Option<String>, since: Option<DateTime<Utc>> },
    /// A payment names it: paid, and no order — a case for a refund.
    Payment { amount: Option<f64>, currency: Option<String>, status: Option<String>, at: Option<DateTime<Utc>> },
    /// A pending order names it: the order was started and never completed.
    PendingOrder { telegram_id: Option<i64>, at: Option<DateTime<Utc>> },
}

impl Trace {
    /// What the desk reads of it.
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Session { .. } => "held by a bot session: the bot stopped before it created the order",
            Self::Payment { .. } => "named by a payment with no order: paid, no order — a case for a refund",
            Self::PendingOrder { .. } => "named by a pending order that was never completed",
        }
    }
}

/// Everything the order page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDetails {
    pub summary: OrderSummary,
    pub times: OrderTimes,
    pub currency: Option<String>,
    pub failure_reason: Option<String>,
    pub refund_status: Option<String>,
    pub refund_amount: Option<f64>,
    pub payments: Vec<PaymentRecord>,
    /// The bot's pending orders under this ID (seed 000's `pending_orders`).
    pub pending: Vec<PendingRecord>,
    pub session: Option<SessionView>,
    /// The stored document as relaxed extended JSON, pretty-printed.
    pub raw_json: String,
}

impl OrderSummary {
    /// The key the order page is reached by: its order_id, else BB number, else legacy id,
    /// the first that reads as what it claims to be (another system may have stored anything
    /// in a field: a page address made of it would lead nowhere, or round in a circle).
    pub fn page_key(&self) -> Option<&str> {
        use super::ids::{BbNumber, LegacyId, OrderId};
        let order_id = self.order_id.as_deref().filter(|s| OrderId::parse(s).is_ok());
        let number = || self.order_number.as_deref().filter(|s| BbNumber::parse(s).is_ok());
        let legacy = || self.legacy_id.as_deref().filter(|s| LegacyId::parse(s).is_ok());
        order_id.or_else(number).or_else(legacy)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap())
    }

    #[test]
    fn a_completed_order_has_four_done_steps() {
        let t = OrderTimes { created: at(1), paid: at(2), fulfilled: at(3), completed: at(4), ..Default::default() };
        let steps = timeline(&t, &[]);
        assert_eq!(
            steps.iter().map(|s| s.label).collect::<Vec<_>>(),
            ["Created", "Paid", "Fulfilled (label)", "Completed"]
        );
        assert!(steps.iter().all(|s| s.state == StepState::Done));
    }

    #[test]
    fn failures_and_refunds_end_the_timeline() {
        let failed = timeline(&OrderTimes { created: at(1), failed: at(2), ..Default::default() }, &[]);
        assert_eq!(failed.last().map(|s| (s.label, s.state)), Some(("Failed", StepState::Failed)));
        assert_eq!(failed[1].state, StepState::Pending, "never paid");
        let refunded =
            timeline(&OrderTimes { created: at(1), paid: at(2), refunded: at(5), ..Default::default() }, &[]);
        assert_eq!(refunded.last().map(|s| s.label), Some("Refunded"));
    }

    #[test]
    fn pending_orders_stand_among_the_steps_by_time() {
        let t = OrderTimes { created: at(3), paid: at(5), ..Default::default() };
        let pending = |h, status: &str| PendingRecord {
            status: Some(status.into()),
            step: Some("payment".into()),
            amount: None,
            created_at: at(h),
        };
        let steps = timeline(&t, &[pending(4, "pending"), pending(1, "expired")]);
        let labels: Vec<_> = steps.iter().map(|s| (s.label, s.at)).collect();
        assert_eq!(
            &labels[..4],
            [("Pending order", at(1)), ("Created", at(3)), ("Pending order", at(4)), ("Paid", at(5))]
        );
        assert_eq!(steps[0].state, StepState::Failed, "an expired pending order ended");
        assert_eq!(steps[2].detail.as_deref(), Some("step payment · pending"));
        assert_eq!(steps[4].label, "Fulfilled (label)", "steps not yet done stay last");
        let undated = PendingRecord { created_at: None, ..pending(1, "pending") };
        assert_eq!(timeline(&t, &[undated]).len(), 4, "an undated one is only listed");
    }

    #[test]
    fn a_legacy_order_without_times_is_all_pending() {
        assert!(timeline(&OrderTimes::default(), &[]).iter().all(|s| s.state == StepState::Pending && s.at.is_none()));
    }
}
