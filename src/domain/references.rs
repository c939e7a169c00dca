//! Which order a payment, a bot session or a pending order belongs to, when several orders
//! held the `order_id` it names and the duplicates migration gives all but the oldest a new
//! one. Told apart by what the reference itself says (its telegram id, its amount, its time)
//! and only when exactly one order fits; anything else is left for a person to decide.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What kind of document names the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReferenceKind {
    Payment,
    /// A bot session: its `order_id`, or `last_order_id` once the order was created.
    Session,
    PendingOrder,
}

impl ReferenceKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Session => "bot session",
            Self::PendingOrder => "pending order",
        }
    }
}

/// What a reference says about the order it is for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clues {
    pub telegram_id: Option<i64>,
    pub amount: Option<f64>,
    /// When the reference was made: an order created after it cannot be its order.
    pub at: Option<DateTime<Utc>>,
}

/// One of the orders that held the old ID.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub telegram_id: Option<i64>,
    pub amount: Option<f64>,
    pub created_at: Option<DateTime<Utc>>,
}

/// Where a reference goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Belongs {
    /// To the holder at this index; `by` says what told it.
    To { holder: usize, by: String },
    /// No clue picks one order: `why` names what was tried.
    Undecided { why: String },
}

/// Cents are what a payment is compared in.
fn same_amount(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

/// Narrows the holders by each clue the reference has, in turn: its telegram id, its
/// amount, then its time (orders created after it are out). A clue that would leave no
/// holder is ignored rather than trusted. Decided when exactly one holder is left.
pub fn belongs(clues: &Clues, holders: &[Holder]) -> Belongs {
    let mut left: Vec<usize> = (0..holders.len()).collect();
    let mut used = Vec::new();
    let mut narrow = |left: &mut Vec<usize>, what: String, fits: &dyn Fn(&Holder) -> bool| {
        let kept: Vec<usize> = left.iter().copied().filter(|&i| fits(&holders[i])).collect();
        if !kept.is_empty() && kept.len() < left.len() {
            *left = kept;
            used.push(what);
        }
    };
    if let Some(t) = clues.telegram_id {
        narrow(&mut left, format!("telegram id {t}"), &|h| h.telegram_id == Some(t));
    }
    if let Some(a) = clues.amount {
        narrow(&mut left, format!("amount {a}"), &|h| h.amount.is_some_and(|b| same_amount(a, b)));
    }
    if let Some(at) = clues.at {
        narrow(&mut left, format!("made at {}", at.format("%Y-%m-%d %H:%M:%S UTC")), &|h| {
            h.created_at.is_some_and(|c| c <= at)
        });
    }
    match left.as_slice() {
        [one] if !used.is_empty() => Belongs::To { holder: *one, by: used.join(", ") },
        _ => Belongs::Undecided {
            why: if used.is_empty() {
                format!("nothing it holds tells the {} orders apart", left.len())
            } else {
                format!("{} orders still fit after {}", left.len(), used.join(", "))
            },
        },
    }
}

/// One reference the duplicates migration looked at: moved to the renamed order, left on the
/// order that kept the ID, or left for a person (`decided: false`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceMove {
    pub kind: ReferenceKind,
    /// The reference's `_id` as people read it.
    pub reference: String,
    /// The field that names the order (`order_id`, `last_order_id`).
    pub field: String,
    pub old_order_id: String,
    /// The ID it names after the run: the renamed order's new one, or the old one kept.
    pub now_names: String,
    pub decided: bool,
    /// What told it, or why nothing did.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap())
    }

    fn holder(t: i64, amount: f64, h: u32) -> Holder {
        Holder { telegram_id: Some(t), amount: Some(amount), created_at: at(h) }
    }

    #[test]
    fn each_clue_alone_tells_two_orders_apart() {
        let two = [holder(1, 10.0, 9), holder(2, 20.0, 11)];
        let by_user = belongs(&Clues { telegram_id: Some(2), ..Clues::default() }, &two);
        assert_eq!(by_user, Belongs::To { holder: 1, by: "telegram id 2".into() });
        let by_amount = belongs(&Clues { amount: Some(10.001), ..Clues::default() }, &two);
        assert!(matches!(by_amount, Belongs::To { holder: 0, .. }), "{by_amount:?}");
        // Paid at 10:00: the 11:00 order did not exist yet.
        let by_time = belongs(&Clues { at: at(10), ..Clues::default() }, &two);
        assert!(matches!(by_time, Belongs::To { holder: 0, .. }), "{by_time:?}");
    }

    #[test]
    fn what_no_clue_settles_is_left_for_a_person() {
        let twins = [holder(1, 10.0, 9), holder(1, 10.0, 9)];
        let clues = Clues { telegram_id: Some(1), amount: Some(10.0), at: at(12) };
        assert!(matches!(belongs(&clues, &twins), Belongs::Undecided { .. }));
        let Belongs::Undecided { why } = belongs(&Clues::default(), &twins) else { panic!() };
        assert!(why.contains("nothing"), "{why}");
        // Made after both: time says nothing; a telegram id neither has is ignored, not trusted.
        let two = [holder(1, 10.0, 9), holder(2, 10.0, 11)];
        let clues = Clues { telegram_id: Some(3), amount: Some(10.0), at: at(12) };
        assert!(matches!(belongs(&clues, &two), Belongs::Undecided { .. }));
    }

    #[test]
    fn clues_combine() {
        let three = [holder(1, 10.0, 9), holder(1, 20.0, 10), holder(2, 20.0, 11)];
        let clues = Clues { telegram_id: Some(1), amount: Some(20.0), at: None };
        assert_eq!(belongs(&clues, &three), Belongs::To { holder: 1, by: "telegram id 1, amount 20".into() });
    }
}
