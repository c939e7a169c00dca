//! Trust at the edge: what other systems wrote into MongoDB stays text on every page, and
//! clients that are slow or silent on purpose hold nothing that others need.

use std::time::Duration;

use mongodb::bson::{DateTime as BsonTime, doc, oid::ObjectId};
use orderdesk::domain::accounts::Role;

use crate::helpers;

/// Markup that would close the `<title>` and redirect the page, run a script, or load an
/// image with a handler, were it written into HTML as it is.
const HOSTILE: &str = r#"</title><meta http-equiv="refresh" content="0;url=https://evil.example/"><script>alert(1)</script><img src=x onerror=alert(2)>"#;

/// What must never appear in an HTML page, whichever of the values it came from.
const MARKUP: [&str; 4] = ["<meta http-equiv=\"refresh\"", "<script>alert", "<img src=x", "evil.example/\">"];

/// Plants [`HOSTILE`] in every stored field orderdesk shows: a bot order (its status, vendor,
/// user, currency, failure reason; an amount of the wrong type), its payment and session, a
/// marketplace order whose number is the payload, an order whose `order_id` is, an API key's
/// name, an audit entry's actor and a counter. Returns the API key's id.
async fn plant(app: &helpers::TestApp) -> String {
    let db = app.store.database_name().to_owned();
    let now = BsonTime::now();
    let orders = helpers::raw_collection(&db, "orders").await;
    orders
        .insert_many([
            doc! {
                "order_id": "ORD-20261121101502-5e17e1a1", "display_id": HOSTILE, "status": HOSTILE,
                "vendor_id": HOSTILE, "user_id": HOSTILE, "telegram_id": 4242_i64, "amount": HOSTILE,
                "currency": HOSTILE, "failure_reason": HOSTILE, "refund_status": HOSTILE,
                "created_at": now, "updated_at": HOSTILE,
            },
            doc! {
                "id": "legacy-hostile-number", "source": "marketplace", "order_number": HOSTILE,
                "vendor_id": HOSTILE, "user_id": HOSTILE, "status": "paid", "amount": 3.5, "created_at": now,
            },
            doc! { "id": "legacy-hostile-id", "order_id": HOSTILE, "status": "paid", "created_at": now },
        ])
        .await
        .unwrap();
    helpers::raw_collection(&db, "payments")
        .await
        .insert_one(doc! {
            "order_id": "ORD-20261121101502-5e17e1a1", "amount": HOSTILE, "currency": HOSTILE,
            "method": HOSTILE, "status": HOSTILE, "created_at": now,
        })
        .await
        .unwrap();
    helpers::raw_collection(&db, "sessions")
        .await
        .insert_one(doc! {
            "user_id": 4242_i64, "order_id": HOSTILE, "current_step": HOSTILE,
            "temp_data": { "note": HOSTILE }, "created_at": now, "timestamp": now,
        })
        .await
        .unwrap();
    let key_id = ObjectId::new();
    helpers::raw_collection(&db, "api_keys")
        .await
        .insert_one(doc! {
            "_id": key_id, "name": HOSTILE, "scope": "bots", "key_hash": "0".repeat(64),
            "created_at": now, "last_used_at": null, "revoked_at": null,
        })
        .await
        .unwrap();
    helpers::raw_collection(&db, "audit_log")
        .await
        .insert_one(doc! {
            "at": now, "actor": HOSTILE, "role": "admin", "ip": HOSTILE, "action": "test.hostile",
            "params": HOSTILE, "outcome": HOSTILE,
        })
        .await
        .unwrap();
    let day = chrono::Utc::now().format("%Y%m%d");
    helpers::raw_collection(&db, "ordercounters")
        .await
        .insert_many([
            doc! { "counterId": HOSTILE, "sequence": 7_i64, "lastUpdated": now, "__v": 0 },
            doc! { "counterId": format!("{day}-hostile-vendor"), "sequence": HOSTILE, "lastUpdated": HOSTILE },
        ])
        .await
        .unwrap();
    key_id.to_hex()
}

#[tokio::test]
async fn stored_values_stay_text_on_every_page_export_and_answer() {
    let app = helpers::spawn_app_with_key().await;
    let key_id = plant(&app).await;
    let (admin_cookie, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&admin_cookie, true);
    let pages = [
        "/".to_owned(),
        "/orders".into(),
        "/orders?status=paid".into(),
        "/orders?scheme=missing".into(),
        "/orders/ORD-20261121101502-5e17e1a1".into(),
        "/orders/legacy-hostile-number".into(),
        "/orders/legacy-hostile-id".into(),
        "/search?q=4242".into(),
        "/search?q=ORD-5E17E1".into(),
        "/counters".into(),
        "/counters?vendor=hostile-vendor".into(),
        format!("/counters/{}-hostile-vendor", chrono::Utc::now().format("%Y%m%d")),
        "/failures".into(),
        "/performance".into(),
        "/audit".into(),
        "/api-keys".into(),
        format!("/api-keys/{key_id}"),
        "/maintenance".into(),
    ];
    for page in &pages {
        let res = helpers::send_past_overload(admin.get(format!("{}{page}", app.address))).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert!(status < 500, "{page}: HTTP {status}: {text}");
        for markup in MARKUP {
            assert!(!text.contains(markup), "{page} carries stored markup {markup:?}");
        }
        let head = text.split("</head>").next().unwrap_or("");
        assert_eq!(head.matches("<title>").count(), 1, "{page}: one title: {head}");
        assert!(!head.contains("</title><meta"), "{page}: the title was closed by stored text");
    }
    // The values were shown, as text: escaped in the title and on the page.
    let order = admin.get(format!("{}/orders/legacy-hostile-number", app.address)).send().await.unwrap();
    let text = order.text().await.unwrap();
    assert!(text.contains("<title>&lt;/title&gt;&lt;meta http-equiv="), "the title holds the escaped number");
    let key = admin.get(format!("{}/api-keys/{key_id}", app.address)).send().await.unwrap().text().await.unwrap();
    assert!(key.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the key's name is shown as text");

    for export in ["/orders.csv", "/orders.csv?status=paid", "/audit.csv"] {
        let res = admin.get(format!("{}{export}", app.address)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{export}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/csv"), "{export}: {kind}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{export}");
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"), "{export}");
        let body = res.text().await.unwrap();
        assert!(body.lines().count() >= 2, "{export} lists the planted rows: {body}");
    }

    for call in ["/api/v1/orders/ORD-20261121101502-5e17e1a1", "/api/v1/orders/legacy-hostile-number"] {
        let res = app
            .client
            .get(format!("{}{call}", app.address))
            .header("x-api-key", helpers::TEST_KEY)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert!(status < 500, "{call}: HTTP {status}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("application/json"), "{call}: {kind}");
        let _: serde_json::Value = res.json().await.expect("a JSON answer");
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A source test: every `<title>` and head tag a page sets goes through `app::head`, which
/// escapes it for the server's HTML (leptos_meta writes title text as it is).
#[test]
fn every_head_element_goes_through_the_escaping_component() {
    let head_tag = regex::Regex::new(r"\b(Title|Meta|Link|Style|Script|Body|Html|Stylesheet)\b").unwrap();
    let in_view = regex::Regex::new(r"<(Title|Meta|Link|Style|Script|Body|Html|Stylesheet)[\s/>]").unwrap();
    for path in helpers::rust_sources("src/app") {
        if path.ends_with("head.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (n, line) in source.lines().enumerate() {
            let imported = line.contains("leptos_meta") && head_tag.is_match(line);
            assert!(
                !imported && !in_view.is_match(line),
                "{}:{}: set head elements through app::head, which escapes them on the server: {line}",
                path.display(),
                n + 1
            );
        }
    }
}
