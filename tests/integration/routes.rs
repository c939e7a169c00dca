//! The routes table and the router agree: every page in the table is routed, and nothing is
//! routed that the table (and so the header and the access rules) does not know.

use std::collections::BTreeSet;

use orderdesk::app::routes::{Kind, ROUTES};

#[test]
fn the_router_serves_exactly_the_pages_of_the_routes_table() {
    let routed: BTreeSet<String> = orderdesk::startup::router_pages().into_iter().collect();
    let listed: BTreeSet<String> = ROUTES.iter().filter(|r| r.kind == Kind::Page).map(|r| r.path.to_owned()).collect();
    assert_eq!(routed, listed, "app/mod.rs's <Routes> and app/routes.rs's ROUTES differ");
    assert!(routed.contains("/orders/:key") && routed.contains("/"), "{routed:?}");
}
