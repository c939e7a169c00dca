//! The demo's documents in each system's own shape, for a deployment with sources: the bot's
//! orders as Motor writes them (snake_case, nothing of orderdesk's), the marketplace's as
//! Mongoose does (camelCase, an ObjectId reference to the user, `timestamps: true`, `__v`).

use mongodb::bson::{Bson, Document, oid::ObjectId};

/// What orderdesk keeps on an order in its own schema and no system writes.
const ORDERDESK_ONLY: [&str; 3] = ["source", "display_id", "counter_id"];

/// A bot order as the bot stores it.
pub fn bot_order(mut d: Document) -> Document {
    for field in ORDERDESK_ONLY {
        d.remove(field);
    }
    d
}

/// A marketplace order as Mongoose stores it. The UUID orderdesk's own schema gives
/// marketplace orders is not the marketplace's: its orders are named by their numbers.
pub fn mongoose_order(d: Document) -> Document {
    let mut out = Document::new();
    for (key, value) in d {
        if ORDERDESK_ONLY.contains(&key.as_str()) || key == "order_id" {
            continue;
        }
        let (name, value) = match key.as_str() {
            "order_number" => ("orderNumber".to_owned(), value),
            "vendor_id" => ("vendor".to_owned(), value),
            "user_id" => ("user".to_owned(), object_id(value)),
            "amount" => ("totalAmount".to_owned(), value),
            other => (camel(other), value),
        };
        out.insert(name, value);
    }
    out.insert("__v", 0_i32);
    out
}

/// A counter as the `OrderCounter` model stores it: seed 001's own fields, and `__v`.
pub fn mongoose_counter(mut d: Document) -> Document {
    d.insert("__v", 0_i32);
    d
}

fn object_id(value: Bson) -> Bson {
    match &value {
        Bson::String(s) => ObjectId::parse_str(s).map(Bson::ObjectId).unwrap_or(value),
        _ => value,
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use mongodb::bson::doc;

    use super::*;

    #[test]
    fn a_marketplace_order_takes_the_mongoose_shape() {
        let d = doc! {
            "order_id": "b3c1…", "display_id": "B3C1", "source": "marketplace", "counter_id": "20261120-pizza-palace",
            "order_number": "BB-1", "vendor_id": "pizza-palace", "user_id": "6834622e10d75a5ba7b7740d",
            "amount": 12.5, "created_at": 1, "paid_at": 2, "status": "paid",
        };
        let m = mongoose_order(d);
        assert_eq!(
            m.keys().map(String::as_str).collect::<Vec<_>>(),
            ["orderNumber", "vendor", "user", "totalAmount", "createdAt", "paidAt", "status", "__v"]
        );
        assert!(matches!(m.get("user"), Some(Bson::ObjectId(_))));
        let b =
            bot_order(doc! { "order_id": "ORD-1", "display_id": "ORD-1", "source": "shipping_bot", "telegram_id": 5 });
        assert_eq!(b, doc! { "order_id": "ORD-1", "telegram_id": 5 });
    }
}
