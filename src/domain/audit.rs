//! The audit log as the pages see it: entries and the filter over them. Storage is in
//! `storage::audit`; entries are only ever appended.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Refusals are audited as counts per session (or address) and window: the first of a window,
/// then every [`AUDIT_REFUSALS_EVERY`]th with the count so far, so no one, signed in or not,
/// can flood the log by asking again and again.
pub const AUDIT_REFUSALS_EVERY: u64 = 100;

/// Whether the `n`th refusal of a window is written to the audit log.
pub fn audit_due(n: u64) -> bool {
    n == 1 || n.is_multiple_of(AUDIT_REFUSALS_EVERY)
}

/// One thing someone did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    /// An email, `anonymous`, `api-key:<name>` or `cli:<user>@<host>`.
    pub actor: String,
    pub role: String,
    pub ip: String,
    /// What was attempted, e.g. `login`, `order.view`, `maintenance.start_migration`.
    pub action: String,
    /// The parameters, as text (never passwords, keys or tokens).
    pub params: String,
    /// `ok`, `denied`, `failed: <why>`, or an HTTP status.
    pub outcome: String,
}

/// Who did something, as the log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    name: String,
    role: String,
    ip: String,
}

impl Actor {
    /// A signed-in staff member.
    pub fn staff(email: &str, role: crate::domain::accounts::Role, ip: &str) -> Self {
        Self { name: email.to_owned(), role: role.as_str().to_owned(), ip: ip.to_owned() }
    }

    /// Someone not signed in: by the account they tried, or `anonymous`.
    pub fn visitor(account: Option<&str>, ip: &str) -> Self {
        Self { name: account.unwrap_or("anonymous").to_owned(), role: String::new(), ip: ip.to_owned() }
    }

    /// The name the log gives them.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command run from a shell, as `cli:<user>@<host>`.
    pub fn cli(user_at_host: &str) -> Self {
        Self { name: format!("cli:{user_at_host}"), role: "cli".to_owned(), ip: String::new() }
    }
}

impl AuditEntry {
    /// Longest actor and params kept: a request cannot write a huge entry.
    const MAX_ACTOR: usize = 256;
    const MAX_PARAMS: usize = 2000;

    /// `actor` did `action` just now, with this `outcome`.
    pub fn new(actor: &Actor, action: &str, outcome: &str) -> Self {
        Self {
            id: String::new(),
            at: Utc::now(),
            actor: actor.name.chars().take(Self::MAX_ACTOR).collect(),
            role: actor.role.clone(),
            ip: actor.ip.clone(),
            action: action.to_owned(),
            params: String::new(),
            outcome: outcome.to_owned(),
        }
    }

    pub fn with_params(mut self, params: &str) -> Self {
        self.params = params.chars().take(Self::MAX_PARAMS).collect();
        self
    }
}

/// Which entries to list; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The audit page's query string, as typed: `actor`, `action` (a prefix), `since` and
/// `until` (days, `YYYY-MM-DD`, `until` inclusive).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
}

impl AuditQuery {
    /// The filter; `since` and `until` are days in `tz` (the configured zone).
    pub fn parse<Z: chrono::TimeZone>(&self, tz: &Z) -> Result<AuditFilter, String> {
        let text = |v: &Option<String>, what: &str| -> Result<Option<String>, String> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) if s.len() > 200 => Err(format!("{what} is at most 200 characters")),
                other => Ok(other.map(str::to_owned)),
            }
        };
        let day = |v: &Option<String>, what: &str| -> Result<Option<NaiveDate>, String> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("{what} {s:?} is not a date like 2026-11-21")),
            }
        };
        let since = day(&self.since, "since")?;
        let until = day(&self.until, "until")?;
        if let (Some(a), Some(b)) = (since, until)
            && a > b
        {
            return Err(format!("since ({a}) is after until ({b})"));
        }
        Ok(AuditFilter {
            actor: text(&self.actor, "actor")?.map(|a| a.to_lowercase()),
            action: text(&self.action, "action")?,
            since: since.map(|d| crate::domain::days::day_start(tz, d)),
            until: until.map(|d| crate::domain::days::day_end(tz, d)),
        })
    }

    /// The same query as a URL query string (for the CSV link).
    pub fn to_query_string(&self) -> String {
        [("actor", &self.actor), ("action", &self.action), ("since", &self.since), ("until", &self.until)]
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|v| format!("{k}={}", crate::domain::text::urlencode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_with_reasons() {
        let q = AuditQuery {
            actor: Some(" Ana@Shop.example ".into()),
            since: Some("2026-11-01".into()),
            until: Some("2026-11-01".into()),
            ..Default::default()
        };
        let f = q.parse(&Utc).unwrap();
        assert_eq!(f.actor.as_deref(), Some("ana@shop.example"));
        assert_eq!(f.until.unwrap() - f.since.unwrap(), chrono::Duration::days(1), "until is inclusive");
        // Days are the configured zone's: in UTC-3 the day starts at 03:00 UTC.
        let zone = chrono::FixedOffset::west_opt(3 * 3600).unwrap();
        let f = q.parse(&zone).unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-11-01T03:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-11-02T03:00:00+00:00");
        let bad = AuditQuery { since: Some("yesterday".into()), ..Default::default() };
        assert!(bad.parse(&Utc).unwrap_err().contains("not a date"));
        let backwards =
            AuditQuery { since: Some("2026-11-02".into()), until: Some("2026-11-01".into()), ..Default::default() };
        assert!(backwards.parse(&Utc).unwrap_err().contains("after"));
        assert_eq!(
            AuditQuery { action: Some("order.view".into()), actor: Some("a b".into()), ..Default::default() }
                .to_query_string(),
            "actor=a%20b&action=order.view"
        );
    }
}
