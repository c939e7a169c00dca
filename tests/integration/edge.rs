//! Trust at the edge: what other systems wrote into MongoDB stays text on every page, and
//! clients that are slow or silent on purpose hold nothing that others need.

use std::time::Duration;

use mongodb::bson::{DateTime as BsonTime, doc, oid::ObjectId};
use orderdesk::domain::accounts::{ApiKeyName, ApiKeyScope, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers;

/// Markup that would close the `<title>` and redirect the page, run a script, or load an
/// image with a handler, were it written into HTML as it is.
const HOSTILE: &str = r#"</title><meta http-equiv="refresh" content="0;url=https://evil.example/"><script>alert(1)</script><img src=x onerror=alert(2)>"#;

/// What must never appear in an HTML page, whichever of the values it came from.
const MARKUP: [&str; 4] = ["<meta http-equiv=\"refresh\"", "<script>alert", "<img src=x", "evil.example/\">"];

/// Plants [`HOSTILE`] in every stored field orderdesk shows: a bot order (its status, vendor,
/// user, currency, failure reason; an amount of the wrong type), its payment, pending order and session, a
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
    helpers::raw_collection(&db, "pending_orders")
        .await
        .insert_one(doc! {
            "order_id": "ORD-20261121101502-5e17e1a1", "status": HOSTILE, "current_step": HOSTILE, "amount": HOSTILE,
            "created_at": now,
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
    let title = text.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or("");
    assert!(
        title.starts_with("&lt;/title&gt;&lt;meta http-equiv="),
        "the title holds the escaped number: {title} {}",
        &text[text.len().saturating_sub(3000)..]
    );
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

/// The one server function path that starts with `prefix`.
fn server_fn(prefix: &str) -> String {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .find(|p| p.starts_with(prefix))
        .expect("the server function is registered")
}

fn host(app: &helpers::TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// A connection from `local` (a loopback address) with a small receive buffer, so a body the
/// test does not read backs up into the server at once.
async fn connect_from(host: &str, local: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(host.parse().unwrap()).await.unwrap()
}

/// True when the server closed the connection (or answered and closed) within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let ends = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(ends, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exports_that_stop_reading_hold_no_database_place_and_are_capped() {
    let app = helpers::spawn_app().await;
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    // About 9 MB of CSV: more than the sockets' buffers hold, so an export not read stalls.
    let now = BsonTime::now();
    for batch in 0..6 {
        let docs = (0..10_000).map(|i| {
            doc! { "order_id": format!("ORD-20260101000000-{:08x}", batch * 10_000 + i), "status": "paid", "vendor_id": "pizza-palace",
            "user_id": format!("user-with-a-long-identifier-{i}"), "amount": 12.5, "created_at": now }
        });
        orders.insert_many(docs).await.unwrap();
    }
    let host = host(&app);
    let mut accounts = Vec::new();
    for i in 0..5 {
        let (cookie, _) = helpers::signed_in_as(&app.store, Role::Support, &format!("exporter{i}@test.example")).await;
        accounts.push(cookie);
    }
    let export = |cookie: String| {
        let host = host.clone();
        async move {
            let mut s = connect_from(&host, "127.0.0.1").await;
            let request = format!("GET /orders.csv HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n");
            s.write_all(request.as_bytes()).await.unwrap();
            let mut head = [0u8; 512];
            let n = s.read(&mut head).await.unwrap();
            (String::from_utf8_lossy(&head[..n]).into_owned(), s)
        }
    };
    // Two exports each from four accounts, none read past its first bytes: the process's 8.
    let mut stalled = Vec::new();
    for cookie in &accounts[..4] {
        for _ in 0..2 {
            let (head, s) = export(cookie.clone()).await;
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            stalled.push(s);
        }
    }
    let (third, _s) = export(accounts[0].clone()).await;
    assert!(third.starts_with("HTTP/1.1 429") && third.to_lowercase().contains("retry-after"), "{third}");
    let (ninth, _s) = export(accounts[4].clone()).await;
    assert!(ninth.starts_with("HTTP/1.1 429"), "the process's exports are all running: {ninth}");
    // Between pages an export holds no place in the driver: with all eight stalled, none is in use.
    helpers::eventually_within(Duration::from_secs(5), || async { (app.store.pool().in_use == 0).then_some(()) }).await;
    for _ in 0..20 {
        let started = std::time::Instant::now();
        assert_eq!(app.get("/orders").await.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(3), "a page took {:?}", started.elapsed());
    }
    // A stalled export that is let go gives its place back.
    drop(stalled.pop());
    helpers::eventually(|| async {
        let (head, _s) = export(accounts[4].clone()).await;
        head.starts_with("HTTP/1.1 200").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_that_never_arrive_hold_no_turn() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("bodies"), true, |s| {
        s.concurrent_requests = 4;
    })
    .await;
    let host = host(&app);
    let mut waiting = Vec::new();
    for _ in 0..80 {
        let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 4000\r\n\r\nemail="
        );
        s.write_all(head.as_bytes()).await.unwrap();
        waiting.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(5), Some(1.0)), chrono::Utc::now()).await.unwrap();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        assert_eq!(app.get("/orders").await.status(), 200, "staff pages are served");
        let res = app
            .client
            .get(format!("{}/api/v1/orders/{id}", app.address))
            .header("x-api-key", "wrong-but-answered")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "the bots' API answers");
        assert!(started.elapsed() < Duration::from_secs(2), "answered at once: {:?}", started.elapsed());
    }
    // The bodies' time runs out: each hears 408, and the connection is let go.
    let answers = futures::future::join_all(waiting.iter_mut().map(|s| async move {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.ok()?.ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }))
    .await;
    let timed_out = answers.iter().filter(|a| a.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 408"))).count();
    assert_eq!(timed_out, 80, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_that_send_nothing_or_half_a_preface_are_closed_and_capped_per_address() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("silent"), true, |s| {
        s.header_read_timeout = Duration::from_secs(1);
        s.max_connections_per_address = 150;
    })
    .await;
    let host = host(&app);
    let mut silent = Vec::new();
    for i in 0..300 {
        let mut s = connect_from(&host, "127.0.0.3").await;
        match i % 3 {
            0 => {}
            1 => s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap(),
            _ => s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n").await.unwrap(),
        }
        silent.push(s);
    }
    // Past the address's 150, a connection is closed at once; another address is served.
    let mut over = silent.split_off(150);
    let refused =
        futures::future::join_all(over.iter_mut().map(|s| closed_within(s, Duration::from_millis(500)))).await;
    assert!(refused.iter().all(|c| *c), "connections past the address's cap are closed at once");
    let other = helpers::client_with(&app.cookie, true);
    assert_eq!(other.get(format!("{}/orders", app.address)).send().await.unwrap().status(), 200);
    // The rest are closed once the header read timeout passes.
    let closed = futures::future::join_all(silent.iter_mut().map(|s| closed_within(s, Duration::from_secs(4)))).await;
    assert_eq!(closed.iter().filter(|c| **c).count(), 150, "every silent connection was closed");
}

#[tokio::test]
async fn a_kept_alive_connection_with_no_request_is_closed_after_the_idle_time() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("idle"), true, |s| {
        s.connection_idle = Duration::from_secs(1);
    })
    .await;
    let host = host(&app);
    let mut kept = connect_from(&host, "127.0.0.4").await;
    kept.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await, "an idle kept-alive connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_polls_give_their_turn_back_and_a_session_holds_few() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("polls"), true, |s| {
        s.concurrent_requests = 2;
        s.queue_wait = Duration::from_millis(500);
    })
    .await;
    let path = server_fn("/api/staff/counters_changed");
    let url = |seen: u64| format!("{}{path}?seen={seen}", app.address);
    let current: Option<u64> = app.client.get(url(0)).send().await.unwrap().json().await.unwrap();
    let Some(seen) = current else { panic!("the test mongod is a replica set: counters are followed") };
    let polls: Vec<_> = (0..orderdesk::server::LONG_POLLS_PER_SESSION)
        .map(|_| {
            let req = app.client.get(url(seen));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let extra = app.client.get(url(seen)).send().await.unwrap();
    assert_eq!(extra.status(), 429, "the session has all its long polls");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Two turns, three long polls waiting: pages are still served, at once.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        assert_eq!(app.get("/orders").await.status(), 200);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    for poll in polls {
        assert_eq!(poll.await.unwrap(), 200, "each long poll ends in time with an answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_under_attack_is_a_rate_not_a_sleep() {
    use orderdesk::server::login;
    let app = helpers::spawn_app().await;
    helpers::signed_in(&app.store, Role::Admin).await;
    let guess = |local: String, password: String| {
        let address = app.address.clone();
        async move {
            let started = std::time::Instant::now();
            let res = helpers::sign_in_from(&address, &local, "admin@test.example", &password).await;
            let retry = res.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            (res.status().as_u16(), retry, started.elapsed())
        }
    };
    // The owner signs in from their own address as every day, which makes it known.
    let (status, _, _) = guess("127.0.4.1".into(), "test password for staff".into()).await;
    assert_eq!(status, 303);
    // The account's free attempts, from addresses of their own.
    for i in 0..login::ACCOUNT_FREE {
        let (status, _, _) = guess(format!("127.0.1.{}", i + 1), format!("wrong {i}")).await;
        assert_eq!(status, 401);
    }
    // Twenty parallel guesses from twenty addresses: one takes the account's next slot, the
    // rest are refused at once with when to come back; none is made to wait.
    let burst = (0..20).map(|i| guess(format!("127.0.2.{}", i + 1), format!("burst {i}")));
    let answers = futures::future::join_all(burst).await;
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert!(checked <= 2, "at most the slot's attempt was checked: {answers:?}");
    assert_eq!(checked + refused.len(), 20, "{answers:?}");
    assert!(refused.iter().all(|a| a.1.is_some_and(|s| (1..=5).contains(&s))), "{answers:?}");
    assert!(answers.iter().all(|a| a.2 < Duration::from_secs(3)), "nobody slept: {answers:?}");
    // From the address they signed in from before, the owner is not held to the account's
    // rate: in at once, whoever took the slot.
    let (status, _, _) = guess("127.0.4.1".into(), "test password for staff".into()).await;
    assert_eq!(status, 303, "the owner from a known address");
    // The owner, from an address new to the account, gets in once the slot comes round.
    let mut owner = guess("127.0.3.1".into(), "test password for staff".into()).await;
    for _ in 0..3 {
        if owner.0 != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(owner.1.unwrap_or(1))).await;
        owner = guess("127.0.3.1".into(), "test password for staff".into()).await;
    }
    assert_eq!(owner.0, 303, "the owner signs in: {owner:?}");
}

/// A sign-in attempt from `client`'s address as a proxy names it (`X-Forwarded-For`).
async fn sign_in_as_client(app: &helpers::TestApp, forwarded_for: &str, password: &str) -> u16 {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    client
        .post(format!("{}/auth/login", app.address))
        .header("cookie", "od_login=x")
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", "admin@test.example"), ("password", password), ("_csrf", "x")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn api_call(app: &helpers::TestApp, forwarded_for: Option<&str>, key: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/order-ids", app.address))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(r#"{"telegram_id": 4242}"#);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_itself() {
    // orderdesk behind a proxy on loopback: every connection comes from 127.0.0.1.
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("proxy"), true, |s| {
        s.trusted_proxies = vec![orderdesk::domain::net::IpNet::parse("127.0.0.1").unwrap()];
    })
    .await;
    helpers::signed_in(&app.store, Role::Admin).await;
    // One client's 21 bad sign-ins (from addresses the client made up, left of the proxy's)
    // lock that client out, not everyone behind the proxy.
    for i in 0..21 {
        let status = sign_in_as_client(&app, &format!("6.6.6.{i}, 203.0.113.7"), "a wrong password").await;
        assert!([401, 429].contains(&status), "{status}");
    }
    assert_eq!(sign_in_as_client(&app, "203.0.113.7", "a wrong password").await, 429, "the abuser is limited");
    assert_eq!(sign_in_as_client(&app, "198.51.100.2", "test password for staff").await, 303, "another gets in");
    // Junk API keys from one client: that client's junk is refused, nobody else's call.
    let key = app
        .store
        .create_api_key(&ApiKeyName::parse("shipping-bot").unwrap(), ApiKeyScope::Bots, chrono::Utc::now())
        .await
        .unwrap();
    for i in 0..31 {
        let status = api_call(&app, Some("203.0.113.7"), &format!("odk_junk_{i}")).await.status();
        assert!([403, 429].contains(&status.as_u16()), "{status}");
    }
    assert_eq!(api_call(&app, Some("203.0.113.7"), "odk_junk").await.status(), 429);
    assert_eq!(api_call(&app, Some("198.51.100.2"), &key.key).await.status(), 200, "another client's valid key");
    assert_eq!(api_call(&app, Some("198.51.100.2"), "odk_junk").await.status(), 403, "another client is not blocked");
    // The audit log names the client, not the proxy.
    let filter = orderdesk::domain::audit::AuditFilter { action: Some("login".into()), ..Default::default() };
    let entries = app.store.audit_entries(&filter, None, 100).await.unwrap();
    assert!(entries.iter().any(|e| e.ip == "198.51.100.2" && e.outcome == "ok"), "{entries:#?}");
    assert!(entries.iter().all(|e| e.ip != "127.0.0.1" && !e.ip.starts_with("6.6.6.")), "{entries:#?}");
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_headers_change_nothing_and_valid_keys_always_work() {
    let app = helpers::spawn_app().await;
    let key = app
        .store
        .create_api_key(&ApiKeyName::parse("shipping-bot").unwrap(), ApiKeyScope::Bots, chrono::Utc::now())
        .await
        .unwrap();
    // 35 junk keys, each claiming another address: all are counted against the socket's.
    for i in 0..35 {
        let _ = api_call(&app, Some(&format!("192.0.2.{i}")), &format!("odk_junk_{i}")).await;
    }
    let junk = api_call(&app, Some("192.0.2.200"), "odk_junk").await;
    assert_eq!(junk.status(), 429, "the address is over its limit for invalid keys");
    assert!(junk.headers().contains_key("retry-after"));
    // A valid stored key from that same address still works, also after the key cache's
    // 30 s would have run out (the key is checked in memory, not refused by the limit).
    assert_eq!(api_call(&app, None, &key.key).await.status(), 200);
    assert_eq!(api_call(&app, None, &key.key).await.status(), 200);
}

#[tokio::test]
async fn keys_are_scoped_per_job_bound_to_a_vendor_and_budgeted() {
    let app = helpers::spawn_app().await;
    let now = chrono::Utc::now();
    let make = |name: &'static str, scope: ApiKeyScope, vendor: Option<&'static str>| {
        let store = app.store.clone();
        async move {
            let vendor = vendor.map(|v| orderdesk::domain::ids::VendorId::parse(v).unwrap());
            store.create_bound_api_key(&ApiKeyName::parse(name).unwrap(), scope, vendor.as_ref(), now).await.unwrap()
        }
    };
    let reader = make("reader", ApiKeyScope::OrdersRead, None).await;
    let numbers = make("pizza-numbers", ApiKeyScope::Numbers, Some("pizza-palace")).await;
    let client = reqwest::Client::new();
    let draw = |vendor: &'static str, key: String| {
        let (client, address) = (client.clone(), app.address.clone());
        async move {
            let res = client
                .post(format!("{address}/api/v1/vendors/{vendor}/order-numbers"))
                .header("x-api-key", key)
                .header("content-type", "application/json")
                .body(r#"{"user_id": "6834622e10d75a5ba7b7a1b2"}"#)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let retry = res.headers().contains_key("retry-after");
            (status, retry, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    // A reading key reads and does nothing else.
    let res = api_call(&app, None, &reader.key).await;
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "wrong_scope");
    assert!(body["message"].as_str().unwrap().contains("orders-write"), "{body}");
    let (status, _, body) = draw("pizza-palace", reader.key.clone()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("wrong_scope")));
    let missing = client
        .get(format!("{}/api/v1/orders/ORD-20260101000000-00000001", app.address))
        .header("x-api-key", &reader.key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404, "a reading key reads");
    // A numbers key bound to a vendor draws for it alone, and cannot create orders.
    let (status, _, body) = draw("pizza-palace", numbers.key.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = draw("burger-barn", numbers.key.clone()).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("wrong_vendor")), "{body}");
    assert_eq!(api_call(&app, None, &numbers.key).await.status(), 403);
    // The day's budget for that vendor, spent (as the budget's own count says), refuses more.
    let day = chrono::Utc::now().format("%Y%m%d");
    let limits = helpers::raw_collection(app.store.database_name(), "rate_limits").await;
    let budget = format!("numbers:{}:{day}:pizza-palace", numbers.id);
    let tomorrow = BsonTime::from_millis(BsonTime::now().timestamp_millis() + 86_400_000);
    let spent = orderdesk::domain::accounts::NUMBERS_PER_VENDOR_DAY as i64;
    limits
        .update_one(doc! { "_id": &budget }, doc! { "$set": { "count": spent, "expires_at": tomorrow } })
        .upsert(true)
        .await
        .unwrap();
    let (status, retry, body) = draw("pizza-palace", numbers.key.clone()).await;
    assert_eq!((status, retry, body["error"].as_str()), (429, true, Some("over_budget")), "{body}");
    // And a key that has drawn for its day's share of vendors draws for no new one.
    let any = make("any-vendor", ApiKeyScope::Numbers, None).await;
    let vendors = format!("vendors:{}:{day}", any.id);
    let most = orderdesk::domain::accounts::VENDORS_PER_DAY as i64;
    limits
        .update_one(doc! { "_id": &vendors }, doc! { "$set": { "count": most, "expires_at": tomorrow } })
        .upsert(true)
        .await
        .unwrap();
    let (status, _, body) = draw("made-up-vendor-1", any.key.clone()).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("over_budget")), "{body}");
    // The key's page says its scope, binding and limits.
    let (admin, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let page = helpers::client_with(&admin, true)
        .get(format!("{}/api-keys/{}", app.address, numbers.id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Scope numbers") && page.contains("for vendor pizza-palace only"), "{page}");
    assert!(page.contains("numbers per vendor"), "the limits are said");
}

#[tokio::test]
async fn authenticated_answers_are_never_stored_and_health_and_metrics_are_apart() {
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("headers"), true, |s| {
        s.metrics_token = Some(orderdesk::config::Secret::new("metrics-token-0123456789abcdef".into()));
        s.secure_cookies = Some(true);
    })
    .await;
    let (cookie, _) = helpers::signed_in(&app.store, Role::Support).await;
    // Secure cookies are `__Host-` ones.
    let secure_cookie = cookie.replacen("od_session", "__Host-od_session", 1);
    let client = helpers::client_with(&secure_cookie, false);
    let path = server_fn("/api/staff/counters_changed");
    for target in ["/", "/orders", "/orders.csv", &format!("{path}?seen=1")] {
        let res = client.get(format!("{}{target}", app.address)).send().await.unwrap();
        assert!(res.status().is_success(), "{target}: {}", res.status());
        assert_eq!(res.headers()["cache-control"], "no-store", "{target}");
        assert!(res.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="), "{target}");
    }
    // /metrics with the token only.
    let anonymous = reqwest::Client::new();
    assert_eq!(anonymous.get(format!("{}/metrics", app.address)).send().await.unwrap().status(), 401);
    let wrong = anonymous.get(format!("{}/metrics", app.address)).bearer_auth("not-it").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let metrics = anonymous
        .get(format!("{}/metrics", app.address))
        .bearer_auth("metrics-token-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("orderdesk_db_operation_seconds") && !text.contains("@test.example"), "no person in labels");
}

#[tokio::test]
async fn refusals_of_a_signed_in_user_are_audited_as_counts() {
    let app = helpers::spawn_app().await;
    for _ in 0..150 {
        assert_eq!(app.get("/audit").await.status(), 403);
    }
    let filter = orderdesk::domain::audit::AuditFilter { action: Some("access_denied".into()), ..Default::default() };
    let entries = app.store.audit_entries(&filter, None, 1000).await.unwrap();
    assert_eq!(entries.len(), 2, "the first refusal and the 100th: {entries:#?}");
    // A different refusal of the same session is on record too (up to 100 of them a window).
    assert!(entries.iter().any(|e| e.outcome.contains("100 refusals of this session")), "{entries:#?}");
}

#[tokio::test]
async fn a_guesser_behind_the_same_address_does_not_lock_out_an_owner_who_signed_in_there() {
    let app = helpers::spawn_app().await;
    helpers::signed_in(&app.store, Role::Admin).await;
    helpers::signed_in_as(&app.store, Role::Support, "colleague@test.example").await;
    let sign_in = |email: &'static str, password: &'static str| {
        let address = app.address.clone();
        async move { helpers::sign_in_from(&address, "127.0.0.5", email, password).await.status().as_u16() }
    };
    assert_eq!(sign_in("admin@test.example", "test password for staff").await, 303, "the owner, as every day");
    // Someone at the same address (one office, one NAT) guesses at other accounts.
    for i in 0..orderdesk::server::login::PER_ADDRESS {
        let email = if i % 2 == 0 { "nobody@test.example" } else { "someone@test.example" };
        let _ = sign_in(email, "a guess").await;
    }
    assert_eq!(sign_in("nobody@test.example", "a guess").await, 429, "the address is over its limit");
    assert_eq!(sign_in("colleague@test.example", "test password for staff").await, 429, "new here: limited");
    assert_eq!(sign_in("admin@test.example", "test password for staff").await, 303, "the owner still gets in");
}

#[tokio::test]
async fn the_counters_page_lists_the_highest_sequences_and_says_when_it_cuts() {
    let app = helpers::spawn_app().await;
    let day = chrono::Utc::now().format("%Y%m%d");
    let counters = helpers::raw_collection(app.store.database_name(), "ordercounters").await;
    let made_up = (0..5_000).map(|i| {
        doc! { "counterId": format!("{day}-made-up-{i:05}"), "sequence": 1_i64, "lastUpdated": BsonTime::now(), "__v": 0 }
    });
    counters.insert_many(made_up).await.unwrap();
    counters
        .insert_one(doc! { "counterId": format!("{day}-zz-real-vendor"), "sequence": 90_000_i64, "lastUpdated": BsonTime::now() })
        .await
        .unwrap();
    let page = app.get("/counters").await.text().await.unwrap();
    assert!(page.contains(&format!("{day}-zz-real-vendor")), "the real vendor near its cap is listed");
    assert!(page.contains("data-testid=\"counters-cut\""), "the page says the list is cut");
}
