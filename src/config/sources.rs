//! The systems orderdesk reads: `[orderdesk.sources.<name>]` tables, each one system's own
//! database in its own shape. Without any, orderdesk reads both kinds of order from its own
//! database, in its own field names (the single-database deployment).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConfigError, valid_database_name, valid_uri};
use crate::domain::orders::Source as Kind;

/// One system orderdesk reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    /// The table's name (`bot` in `[orderdesk.sources.bot]`): in logs, pages and messages.
    pub name: String,
    pub kind: Kind,
    /// Another cluster; `None` is the same as orderdesk's `mongodb_uri`.
    pub uri: Option<String>,
    pub database: String,
    pub collections: Collections,
    pub fields: FieldMap,
    /// The field names the settings file wrote itself (checked against a sample at start-up).
    pub overridden: Vec<Fact>,
}

/// Where a system keeps its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collections {
    pub orders: String,
    pub sessions: String,
    pub payments: String,
    pub pending_orders: String,
    pub counters: String,
}

impl Default for Collections {
    /// Seed 000's names (the bot) and seed 001's `OrderCounter` model (the marketplace).
    fn default() -> Self {
        Self {
            orders: "orders".into(),
            sessions: "sessions".into(),
            payments: "payments".into(),
            pending_orders: "pending_orders".into(),
            counters: "ordercounters".into(),
        }
    }
}

/// One fact about an order that a system keeps under a name of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    OrderId,
    LegacyId,
    OrderNumber,
    TelegramId,
    User,
    Vendor,
    Status,
    Amount,
    CreatedAt,
    UpdatedAt,
}

impl Fact {
    pub const ALL: [Self; 10] = [
        Self::OrderId,
        Self::LegacyId,
        Self::OrderNumber,
        Self::TelegramId,
        Self::User,
        Self::Vendor,
        Self::Status,
        Self::Amount,
        Self::CreatedAt,
        Self::UpdatedAt,
    ];

    /// The name in `[orderdesk.sources.<name>.fields]`.
    pub fn key(self) -> &'static str {
        match self {
            Self::OrderId => "order_id",
            Self::LegacyId => "legacy_id",
            Self::OrderNumber => "order_number",
            Self::TelegramId => "telegram_id",
            Self::User => "user",
            Self::Vendor => "vendor",
            Self::Status => "status",
            Self::Amount => "amount",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

/// Where each fact is kept: a document field name, or `None` when the system keeps no such
/// fact (the bot's orders have no BB number; Mongoose orders no `order_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMap(BTreeMap<Fact, Option<String>>);

impl FieldMap {
    /// orderdesk's own names: the single-database deployment, both kinds in one collection.
    pub fn orderdesk() -> Self {
        Self::from_pairs(&[
            (Fact::OrderId, "order_id"),
            (Fact::LegacyId, "id"),
            (Fact::OrderNumber, "order_number"),
            (Fact::TelegramId, "telegram_id"),
            (Fact::User, "user_id"),
            (Fact::Vendor, "vendor_id"),
            (Fact::Status, "status"),
            (Fact::Amount, "amount"),
            (Fact::CreatedAt, "created_at"),
            (Fact::UpdatedAt, "updated_at"),
        ])
    }

    /// A kind's defaults: seed 000's snake_case for the bot, Mongoose's conventions
    /// (`timestamps: true`, references named after their model) for the marketplace.
    pub fn defaults(kind: Kind) -> Self {
        match kind {
            Kind::ShippingBot => Self::from_pairs(&[
                (Fact::OrderId, "order_id"),
                (Fact::LegacyId, "id"),
                (Fact::TelegramId, "telegram_id"),
                (Fact::Status, "status"),
                (Fact::Amount, "amount"),
                (Fact::CreatedAt, "created_at"),
                (Fact::UpdatedAt, "updated_at"),
            ]),
            Kind::Marketplace => Self::from_pairs(&[
                (Fact::OrderNumber, "orderNumber"),
                (Fact::User, "user"),
                (Fact::Vendor, "vendor"),
                (Fact::Status, "status"),
                (Fact::Amount, "totalAmount"),
                (Fact::CreatedAt, "createdAt"),
                (Fact::UpdatedAt, "updatedAt"),
            ]),
        }
    }

    fn from_pairs(pairs: &[(Fact, &str)]) -> Self {
        let mut map: BTreeMap<Fact, Option<String>> = Fact::ALL.into_iter().map(|f| (f, None)).collect();
        for (fact, name) in pairs {
            map.insert(*fact, Some((*name).to_owned()));
        }
        Self(map)
    }

    /// The field holding `fact`, if this system keeps it.
    pub fn get(&self, fact: Fact) -> Option<&str> {
        self.0.get(&fact).and_then(|n| n.as_deref())
    }

    fn set(&mut self, fact: Fact, name: Option<String>) {
        self.0.insert(fact, name);
    }
}

/// `[orderdesk.sources.<name>]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSource {
    kind: String,
    database: String,
    uri: Option<String>,
    #[serde(default)]
    collections: FileCollections,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileCollections {
    orders: Option<String>,
    sessions: Option<String>,
    payments: Option<String>,
    pending_orders: Option<String>,
    counters: Option<String>,
}

/// Reads and checks every source table; each error names the setting.
pub(super) fn parse(file: BTreeMap<String, FileSource>) -> Result<Vec<SourceSettings>, ConfigError> {
    let mut sources = Vec::new();
    for (name, source) in file {
        let setting = |what: &str| format!("sources.{name}.{what}");
        let invalid = |what: &str, value: &str, why: String| ConfigError::Invalid {
            name: "ORDERDESK_CONFIG",
            value: format!("{} = {value:?}", setting(what)),
            why,
        };
        if name.is_empty()
            || name.len() > 40
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid("", &name, "name a source with 1-40 letters, digits, '_' or '-'".into()));
        }
        let kind = Kind::parse(&source.kind).map_err(|e| invalid("kind", &source.kind, e.to_string()))?;
        if let Some(other) = sources.iter().find(|s: &&SourceSettings| s.kind == kind) {
            return Err(invalid(
                "kind",
                &source.kind,
                format!("source {:?} is already the {} one: name one source of each kind", other.name, kind.code()),
            ));
        }
        if !valid_database_name(&source.database) {
            return Err(invalid("database", &source.database, "use 1-63 letters, digits, '_' or '-'".into()));
        }
        if let Some(uri) = &source.uri {
            valid_uri(uri).map_err(|why| invalid("uri", &super::redact_uri(uri), why))?;
        }
        let mut collections = Collections::default();
        let c = source.collections;
        for (slot, given, what) in [
            (&mut collections.orders, c.orders, "collections.orders"),
            (&mut collections.sessions, c.sessions, "collections.sessions"),
            (&mut collections.payments, c.payments, "collections.payments"),
            (&mut collections.pending_orders, c.pending_orders, "collections.pending_orders"),
            (&mut collections.counters, c.counters, "collections.counters"),
        ] {
            if let Some(given) = given {
                check_name(&given).map_err(|why| invalid(what, &given, why))?;
                *slot = given;
            }
        }
        let mut fields = FieldMap::defaults(kind);
        let mut overridden = Vec::new();
        for (key, field) in source.fields {
            let Some(fact) = Fact::ALL.into_iter().find(|f| f.key() == key) else {
                let known: Vec<&str> = Fact::ALL.iter().map(|f| f.key()).collect();
                return Err(invalid(
                    &format!("fields.{key}"),
                    &field,
                    format!("no such fact; use one of {}", known.join(", ")),
                ));
            };
            if field.is_empty() {
                // "" says: this system does not keep this fact.
                fields.set(fact, None);
                continue;
            }
            check_name(&field).map_err(|why| invalid(&format!("fields.{key}"), &field, why))?;
            fields.set(fact, Some(field));
            overridden.push(fact);
        }
        sources.push(SourceSettings {
            name,
            kind,
            uri: source.uri,
            database: source.database,
            collections,
            fields,
            overridden,
        });
    }
    Ok(sources)
}

/// A collection or top-level field name MongoDB accepts and that cannot be an operator or a path.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 120 {
        return Err("use 1-120 characters".into());
    }
    if name.starts_with('$') || name.contains('.') || name.contains('\0') {
        return Err("a name may not start with '$' or hold '.'".into());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err("use letters, digits, '_' or '-'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<SourceSettings>, ConfigError> {
        #[derive(Deserialize)]
        struct Root {
            sources: BTreeMap<String, FileSource>,
        }
        let root: Root =
            toml::from_str(text).map_err(|e| ConfigError::Syntax { path: "-".into(), message: e.to_string() })?;
        parse(root.sources)
    }

    #[test]
    fn kinds_get_their_systems_defaults_and_overrides_win() {
        let sources = read(
            r#"
            [sources.bot]
            kind = "shipping-bot"
            database = "telegram_shipping_bot"
            [sources.marketplace]
            kind = "marketplace"
            database = "bitesbay"
            uri = "mongodb://10.0.0.5:27017/?replicaSet=rs1"
            collections.orders = "foodorders"
            [sources.marketplace.fields]
            amount = "grandTotal"
            user = ""
            "#,
        )
        .unwrap();
        let bot = &sources[0];
        assert_eq!((bot.name.as_str(), bot.kind), ("bot", Kind::ShippingBot));
        assert_eq!(bot.fields.get(Fact::OrderId), Some("order_id"));
        assert_eq!(bot.fields.get(Fact::OrderNumber), None);
        let market = &sources[1];
        assert_eq!(market.collections.orders, "foodorders");
        assert_eq!(market.collections.counters, "ordercounters");
        assert_eq!(market.fields.get(Fact::OrderNumber), Some("orderNumber"));
        assert_eq!(market.fields.get(Fact::Amount), Some("grandTotal"));
        assert_eq!(market.fields.get(Fact::User), None);
        assert_eq!(market.overridden, vec![Fact::Amount]);
    }

    #[test]
    fn wrong_settings_are_named() {
        let message = |text: &str| read(text).unwrap_err().to_string();
        let two = "[sources.a]\nkind = \"marketplace\"\ndatabase = \"x\"\n[sources.b]\nkind = \"marketplace\"\ndatabase = \"y\"";
        assert!(message(two).contains("already the marketplace one"), "{}", message(two));
        let fact = "[sources.a]\nkind = \"marketplace\"\ndatabase = \"x\"\nfields.total = \"t\"";
        assert!(message(fact).contains("sources.a.fields.total") && message(fact).contains("no such fact"));
        let operator = "[sources.a]\nkind = \"marketplace\"\ndatabase = \"x\"\nfields.amount = \"$where\"";
        assert!(message(operator).contains("may not start with '$'"));
        let kind = "[sources.a]\nkind = \"shop\"\ndatabase = \"x\"";
        assert!(message(kind).contains("sources.a.kind"));
        let path = "[sources.a]\nkind = \"shipping-bot\"\ndatabase = \"x\"\nfields.amount = \"total.value\"";
        assert!(message(path).contains("hold '.'"));
    }
}
