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

/// The header's links mark the page they lead to (`<A>`), by whole path segments: on a
/// counter's day page the Counters link is current, and no other.
#[tokio::test]
async fn the_header_marks_the_page_a_link_leads_to() {
    let app = crate::helpers::spawn_app().await;
    let body = app.client.get(format!("{}/counters", app.address)).send().await.unwrap().text().await.unwrap();
    let current: Vec<&str> = body.match_indices("aria-current=\"page\"").map(|(at, _)| &body[at..]).collect();
    assert!(!current.is_empty(), "no link is marked current");
    for marked in &current {
        let link = &marked[..marked.find("</a>").unwrap_or(marked.len())];
        assert!(link.contains(">Counters<"), "another link is marked current: {link}");
    }
    crate::helpers::drop_database(app.store.database_name()).await;
}
