//! The one table of what the dashboard serves to signed-in staff: every page and download,
//! who may open it and its label in the header. The router (`app::App`), the header and the
//! access middleware (through `startup`) are all built from it; a test checks that the
//! router registers exactly the pages listed here.

use crate::domain::accounts::Role;

/// A page (rendered by the Leptos router) or a download (an axum handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// As the router writes it: `/orders/:key` has one parameter segment.
    pub path: &'static str,
    pub role: Role,
    /// Shown in the header's navigation, for callers whose role allows it.
    pub nav: Option<&'static str>,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Download,
}

const fn page(path: &'static str, role: Role, nav: Option<&'static str>) -> Route {
    Route { path, role, nav, kind: Kind::Page }
}

pub const HOME: Route = page("/", Role::Support, None);
pub const SEARCH: Route = page("/search", Role::Support, Some("Search"));
pub const ORDERS: Route = page("/orders", Role::Support, Some("Orders"));
pub const ORDER: Route = page("/orders/:key", Role::Support, None);
pub const COUNTERS: Route = page("/counters", Role::Support, Some("Counters"));
pub const COUNTER_DAY: Route = page("/counters/:counter", Role::Support, None);
pub const PERFORMANCE: Route = page("/performance", Role::Support, Some("Performance"));
pub const FAILURES: Route = page("/failures", Role::Support, Some("Failures"));
pub const MAINTENANCE: Route = page("/maintenance", Role::Admin, Some("Maintenance"));
pub const AUDIT: Route = page("/audit", Role::Admin, Some("Audit"));
pub const API_KEYS: Route = page("/api-keys", Role::Admin, Some("API keys"));
pub const API_KEY: Route = page("/api-keys/:key", Role::Admin, None);
pub const ORDERS_CSV: Route = Route { path: "/orders.csv", role: Role::Support, nav: None, kind: Kind::Download };
pub const AUDIT_CSV: Route = Route { path: "/audit.csv", role: Role::Admin, nav: None, kind: Kind::Download };
pub const GAPS_CSV: Route =
    Route { path: "/counters/:counter/gaps.csv", role: Role::Support, nav: None, kind: Kind::Download };
pub const COUNTERS_CSV: Route = Route { path: "/counters.csv", role: Role::Support, nav: None, kind: Kind::Download };
pub const COUNTERS_JSON: Route = Route { path: "/counters.json", role: Role::Support, nav: None, kind: Kind::Download };

/// In header order.
pub const ROUTES: &[Route] = &[
    HOME,
    SEARCH,
    ORDERS,
    ORDER,
    COUNTERS,
    COUNTER_DAY,
    PERFORMANCE,
    FAILURES,
    MAINTENANCE,
    AUDIT,
    API_KEYS,
    API_KEY,
    ORDERS_CSV,
    AUDIT_CSV,
    GAPS_CSV,
    COUNTERS_CSV,
    COUNTERS_JSON,
];

impl Route {
    /// The first segment without its slash, for the router's `StaticSegment`.
    pub fn segment(&self) -> &'static str {
        let path = &self.path[1..];
        path.split('/').next().unwrap_or(path)
    }

    /// Whether a concrete path is this route (`:name` matches any one segment).
    pub fn matches(&self, path: &str) -> bool {
        let (mut want, mut got) = (self.path.split('/'), path.split('/'));
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some(w), Some(g)) if w.starts_with(':') && !g.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// The role a path needs, when it is one of ours.
pub fn role_for(path: &str) -> Option<Role> {
    ROUTES.iter().find(|r| r.matches(path)).map(|r| r.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_route() {
        assert_eq!(role_for("/"), Some(Role::Support));
        assert_eq!(role_for("/orders/ORD-A3F8D2"), Some(Role::Support));
        assert_eq!(role_for("/orders/a/b"), None);
        assert_eq!(role_for("/maintenance"), Some(Role::Admin));
        assert_eq!(role_for("/audit.csv"), Some(Role::Admin));
        assert_eq!(role_for("/audits"), None);
        assert_eq!(ORDER.segment(), "orders");
        assert_eq!(HOME.segment(), "");
    }
}
