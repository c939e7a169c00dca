//! Staff accounts, roles, CSRF and the audit log, through the real router on the real
//! mongod: every page and every server function called as anonymous, support and admin.

use crate::helpers;
use orderdesk::domain::accounts::{ApiKeyName, ApiKeyScope};

use std::collections::HashMap;

use chrono::Utc;
use orderdesk::server::login;
use orderdesk::{
    domain::accounts::Role,
    domain::audit::{AuditEntry, AuditFilter},
    domain::tokens::{random_token, sha256_hex},
};
use reqwest::{Method, StatusCode};

/// Every server function the app registers, with its method.
fn server_functions() -> Vec<(String, Method)> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), Method::from_bytes(method.as_str().as_bytes()).unwrap()))
        .collect()
}

/// The pages and downloads only admins may open, one API key's page among them (a key is
/// created for it).
async fn admin_pages(app: &helpers::TestApp) -> Vec<String> {
    let key = app
        .store
        .create_api_key(&ApiKeyName::parse("matrix-bot").unwrap(), ApiKeyScope::Bots, Utc::now())
        .await
        .unwrap()
        .id;
    let mut pages: Vec<String> = ["/maintenance", "/audit", "/audit.csv", "/api-keys"].map(str::to_owned).into();
    pages.push(format!("/api-keys/{key}"));
    pages
}

async fn entries(app: &helpers::TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter { action: Some(action.into()), ..Default::default() };
    app.store.audit_entries(&filter, None, 1000).await.unwrap()
}

/// Calls `path` as one caller; POSTs carry `csrf` when given.
async fn call(client: &reqwest::Client, base: &str, method: &Method, path: &str, csrf: Option<&str>) -> StatusCode {
    call_with(client, base, method, path, csrf, &[]).await
}

/// [`call`] with more form fields.
async fn call_with(
    client: &reqwest::Client,
    base: &str,
    method: &Method,
    path: &str,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> StatusCode {
    let url = format!("{base}{path}");
    let req = if *method == Method::GET {
        client.get(url)
    } else {
        let mut form: Vec<(&str, &str)> = csrf.map(|c| vec![("_csrf", c)]).unwrap_or_default();
        form.extend_from_slice(fields);
        client.post(url).form(&form)
    };
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn every_server_function_is_classified_and_the_role_matrix_holds() {
    let fns = server_functions();
    assert!(fns.len() >= 15, "the server functions are registered: {fns:?}");
    for (path, _) in &fns {
        assert!(
            path.starts_with("/api/staff/") || path.starts_with("/api/admin/"),
            "{path} has no access class: declare it with #[server(prefix = \"/api/staff\")] or \"/api/admin\""
        );
    }

    let app = helpers::spawn_app().await;
    helpers::raw_collection(app.store.database_name(), "ordercounters")
        .await
        .insert_one(mongodb::bson::doc! { "counterId": "20261121-pizza", "sequence": 3_i32 })
        .await
        .unwrap();
    let anonymous = helpers::client_with("theme=dark", false);
    let support = helpers::client_with(&app.cookie, false);
    let (admin_cookie, admin_csrf) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&admin_cookie, false);

    let mut calls: Vec<(Method, String, bool)> =
        fns.iter().map(|(p, m)| (m.clone(), p.clone(), p.starts_with("/api/admin/"))).collect();
    for page in [
        "/",
        "/search?q=ORD-A3F8D2",
        "/orders",
        "/counters",
        "/counters/20261121-pizza",
        "/counters/20261121-pizza/gaps.csv",
        "/performance",
        "/failures",
        "/orders.csv",
    ] {
        calls.push((Method::GET, page.into(), false));
    }
    for page in admin_pages(&app).await {
        calls.push((Method::GET, page, true));
    }
    for (method, path, admin_only) in &calls {
        let api = path.starts_with("/api/");
        let anon = call(&anonymous, &app.address, method, path, Some("x")).await;
        let expected_anon = if api { StatusCode::UNAUTHORIZED } else { StatusCode::SEE_OTHER };
        assert_eq!(anon, expected_anon, "anonymous {method} {path}");

        let as_support = call(&support, &app.address, method, path, Some(&app.csrf)).await;
        if *admin_only {
            assert_eq!(as_support, StatusCode::FORBIDDEN, "support {method} {path}");
        } else {
            assert!(![401, 403, 404].contains(&as_support.as_u16()), "support {method} {path}: {as_support}");
        }
        let as_admin = call(&admin, &app.address, method, path, Some(&admin_csrf)).await;
        assert!(![401, 403, 404].contains(&as_admin.as_u16()), "admin {method} {path}: {as_admin}");
    }
    // A server function outside the two classes is refused even to an admin.
    assert_eq!(call(&admin, &app.address, &Method::POST, "/api/start_index_run1", Some(&admin_csrf)).await, 404);

    // Each refusal of support is on record.
    let denied = entries(&app, "access_denied").await;
    let admin_calls = calls.iter().filter(|c| c.2).count();
    assert_eq!(denied.len(), admin_calls, "{denied:#?}");
    assert!(denied.iter().all(|e| e.actor == "support@test.example" && e.outcome.starts_with("denied")));
}

#[tokio::test]
async fn state_changing_requests_need_the_session_csrf_token() {
    let app = helpers::spawn_app().await;
    let (cookie, csrf) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&cookie, false);
    let apply = server_functions().into_iter().find(|(p, _)| p.contains("/start_index_run")).unwrap().0;
    let post = |token: Option<String>| {
        let (admin, address, apply) = (admin.clone(), app.address.clone(), apply.clone());
        async move { call_with(&admin, &address, &Method::POST, &apply, token.as_deref(), &[("kind", "apply")]).await }
    };
    assert_eq!(post(None).await, 403, "missing");
    assert_eq!(post(Some(random_token())).await, 403, "wrong");
    // Another session's token is wrong too.
    assert_eq!(post(Some(app.csrf.clone())).await, 403, "someone else's");
    assert_eq!(post(Some(csrf.clone())).await, 200);
    // Signing out is state-changing too.
    assert_eq!(call(&admin, &app.address, &Method::POST, "/auth/logout", None).await, 403);

    // Each different refusal is on record once (the two "wrong" tokens are one refusal, counted).
    let rejected = entries(&app, "csrf_rejected").await;
    assert_eq!(rejected.len(), 3, "{rejected:#?}");
    let applied = entries(&app, "start_index_run").await;
    assert_eq!(applied.len(), 1, "each admin action is audited once");
    assert!(applied.iter().all(|e| e.outcome == "ok" && !e.params.contains(&csrf)));
    // And listed with the migrations' runs, under who applied it, once the background run ends.
    let runs = helpers::eventually(|| async {
        let runs = app.store.recent_runs(10, chrono::Utc::now()).await.unwrap();
        runs.iter().all(|r| r.status.is_finished()).then_some(runs)
    })
    .await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!((runs[0].task.as_str(), runs[0].actor.as_str()), ("indexes", "admin@test.example"));
    assert_eq!(runs[0].status, orderdesk::domain::maintenance::RunStatus::Completed);
}

/// Signs in through the form: GET /login for the cookie and token, then POST.
async fn sign_in(app: &helpers::TestApp, email: &str, password: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = client.get(format!("{}/login?next=/orders", app.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| v.to_str().ok()?.strip_prefix("od_login=").map(|v| v.split(';').next().unwrap().to_owned()))
        .expect("the login cookie");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("value=\"{cookie}\"")), "the form carries the same token");
    client
        .post(format!("{}/auth/login", app.address))
        .header("cookie", format!("od_login={cookie}"))
        .form(&[("email", email), ("password", password), ("_csrf", &cookie), ("next", "/orders")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_works_fails_clearly_is_rate_limited_and_audited() {
    let app = helpers::spawn_app().await;
    // signed_in() gave support@test.example this password.
    let ok = sign_in(&app, " Support@Test.example ", "test password for staff").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/orders");
    let set = ok.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("od_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    let cookie = session.split(';').next().unwrap().to_owned();
    let res = helpers::client_with(&cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // Without the form's token: refused before the password is looked at.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client
        .post(format!("{}/auth/login", app.address))
        .form(&[("email", "support@test.example"), ("password", "test password for staff")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let wrong = sign_in(&app, "support@test.example", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("do not match an active account"));
    for _ in 0..4 {
        sign_in(&app, "support@test.example", "still not it").await;
    }
    let limited = sign_in(&app, "support@test.example", "test password for staff").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "five failures lock the account for a while");
    assert!(limited.text().await.unwrap().contains("Try again in"));

    let logins = entries(&app, "login").await;
    let outcomes: HashMap<&str, usize> = logins.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.outcome.as_str()).or_default() += 1;
        m
    });
    assert_eq!(outcomes.get("ok"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("failed: wrong password"), Some(&5), "{outcomes:?}");
    assert_eq!(outcomes.get("denied: rate limited (6 attempts in this window)"), Some(&1), "{outcomes:?}");
    assert!(logins.iter().all(|e| !e.params.contains("password") && !e.params.contains("still not it")));
}

#[tokio::test]
async fn expired_and_disabled_sessions_sign_you_out() {
    let app = helpers::spawn_app().await;
    let account = app
        .store
        .find_staff(&orderdesk::domain::accounts::Email::parse("support@test.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = random_token();
    let past = Utc::now() - chrono::Duration::minutes(1);
    app.store
        .create_session(&sha256_hex(&token), &account, "csrf", past - chrono::Duration::hours(1), past, past)
        .await
        .unwrap();
    let expired = helpers::client_with(&format!("od_session={token}"), false);
    let res = expired.get(format!("{}/orders?status=paid", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=%2Forders%3Fstatus%3Dpaid");

    // Disabling an account ends its live sessions at once.
    assert_eq!(app.get("/orders").await.status(), 200);
    app.store
        .disable_staff(&orderdesk::domain::accounts::Email::parse("support@test.example").unwrap(), Utc::now())
        .await
        .unwrap();
    let res = helpers::client_with(&app.cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// A stored session or account that does not parse is never read as some default: the
/// session signs nobody in, the account is named as corrupt.
#[tokio::test]
async fn a_session_or_account_that_does_not_parse_opens_nothing() {
    use mongodb::bson::doc;
    let app = helpers::spawn_app().await;
    let (cookie, _) = helpers::signed_in_as(&app.store, Role::Admin, "odd@test.example").await;
    let sessions = helpers::raw_collection(app.store.database_name(), "staff_sessions").await;
    let changed =
        sessions.update_many(doc! { "email": "odd@test.example" }, doc! { "$set": { "role": "root" } }).await.unwrap();
    assert_eq!(changed.modified_count, 1);
    // Past the second this process trusts a session it has read.
    tokio::time::sleep(orderdesk::storage::staff::SESSION_TRUST + std::time::Duration::from_millis(100)).await;
    let res = helpers::client_with(&cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a session with a role no version wrote signs nobody in");
    let staff = helpers::raw_collection(app.store.database_name(), "staff").await;
    staff.update_one(doc! { "email": "odd@test.example" }, doc! { "$unset": { "password_hash": "" } }).await.unwrap();
    let email = orderdesk::domain::accounts::Email::parse("odd@test.example").unwrap();
    let err = app.store.find_staff(&email).await.unwrap_err();
    assert!(matches!(err, orderdesk::storage::StorageError::Corrupt { collection: "staff", .. }), "{err:?}");
    assert!(app.store.list_staff().await.is_err(), "the list names it instead of leaving it out");
    let res = helpers::sign_in_from(&app.address, "127.0.0.77", "odd@test.example", "test password for staff").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "it cannot sign in, and the form says so plainly");
}

#[tokio::test]
async fn opening_an_order_is_audited_with_who_and_which() {
    let app = helpers::spawn_app().await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(4242), Some(9.5)), Utc::now()).await.unwrap();
    let res = app.get(&format!("/orders/{id}")).await;
    assert_eq!(res.status(), 200);
    let views = entries(&app, "order.view").await;
    assert_eq!(views.len(), 1, "{views:#?}");
    assert_eq!(views[0].actor, "support@test.example");
    assert_eq!(views[0].params, format!("order={id}"));
    assert_eq!(views[0].ip, "127.0.0.1");
}

/// The search's answer hands the browser's router the order's page, and opening it that way
/// is audited once, as the page itself is; the server's own render (no page asked for, it
/// redirects) audits nothing.
#[tokio::test]
async fn a_search_that_hands_over_the_order_page_is_audited_once() {
    let app = helpers::spawn_app().await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(4243), Some(12.0)), Utc::now()).await.unwrap();
    let search = async |with_page: bool| {
        let res = app.get(&format!("/api/staff/search?q=%23{}&with_page={with_page}", id.display_id())).await;
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let answer = search(false).await;
    assert_eq!(answer["Order"]["key"], id.to_string());
    assert!(answer["Order"]["page"].is_null(), "{answer}");
    assert!(entries(&app, "order.view").await.is_empty(), "no page, no view");
    let answer = search(true).await;
    assert_eq!(answer["Order"]["page"]["One"]["details"]["summary"]["order_id"], id.to_string(), "{answer}");
    let views = entries(&app, "order.view").await;
    assert_eq!(views.len(), 1, "{views:#?}");
    assert_eq!(views[0].params, format!("order={id}"));
}

/// From the browser (`with_page`) a key that names several orders or none is listed as the
/// search page lists it, and nothing is audited as opened.
#[tokio::test]
async fn the_browsers_search_lists_several_and_none_and_opens_nothing() {
    let app = helpers::spawn_app().await;
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    let now = mongodb::bson::DateTime::now();
    let ids: Vec<String> = (0..2)
        .map(|_| {
            orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord)
                .next_id()
                .to_string()
        })
        .collect();
    let docs = ids.iter().map(
        |id| mongodb::bson::doc! { "order_id": id, "id": "order_1700000000_7", "status": "paid", "created_at": now },
    );
    orders.insert_many(docs).await.unwrap();
    let search = async |q: &str| {
        let res = app.get(&format!("/api/staff/search?q={q}&with_page=true")).await;
        assert_eq!(res.status(), 200);
        res.json::<serde_json::Value>().await.unwrap()
    };
    let shared = search("order_1700000000_7").await;
    let listed = shared["Listed"]["found"]["Ok"]["orders"].as_array().unwrap_or_else(|| panic!("{shared}"));
    assert_eq!(listed.len(), 2, "{shared}");
    let missing = search("ORD-20200101000000-0badc0de").await;
    assert_eq!(missing["Listed"]["found"]["Ok"]["orders"], serde_json::json!([]), "{missing}");
    assert_eq!(missing["Listed"]["found"]["Ok"]["read_as"], "an order ID (ORD)", "{missing}");
    assert!(missing["Listed"]["explanation"].is_object(), "{missing}");
    assert!(entries(&app, "order.view").await.is_empty());
}

/// The real binary, logging at `debug` for everything: sign-ins (right and wrong) and API
/// calls leave no password, key or session token in its output.
#[tokio::test]
async fn passwords_keys_and_tokens_never_reach_the_logs() {
    use std::process::Command;
    let store = helpers::fresh_store("logs").await;
    let (_cookie, _) = helpers::signed_in(&store, Role::Admin).await;
    let key = "log-test-bootstrap-key-0123456789abcdef";
    let (server, port) =
        helpers::serve_binary(store.database_name(), &[("ORDERDESK_API_KEY", key), ("RUST_LOG", "debug")]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut session = String::new();
    for password in ["wrong-password-in-the-log-test", "test password for staff"] {
        let form = client.get(format!("{base}/login")).send().await.unwrap();
        let token = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .find_map(|v| v.to_str().ok()?.strip_prefix("od_login=").map(|v| v.split(';').next().unwrap().to_owned()))
            .unwrap();
        let res = client
            .post(format!("{base}/auth/login"))
            .header("cookie", format!("od_login={token}"))
            .form(&[("email", "admin@test.example"), ("password", password), ("_csrf", &token)])
            .send()
            .await
            .unwrap();
        if let Some(c) = res.headers().get("set-cookie").and_then(|v| v.to_str().ok())
            && let Some(v) = c.strip_prefix("od_session=")
        {
            session = v.split(';').next().unwrap().to_owned();
        }
    }
    assert!(!session.is_empty(), "the right password signed in");
    let res =
        client.get(format!("{base}/orders")).header("cookie", format!("od_session={session}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = client.post(format!("{base}/api/v1/order-ids")).header("x-api-key", key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let out = server.wait_with_output().unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("orderdesk listening"), "the log was captured: {log}");
    for secret in ["wrong-password-in-the-log-test", "test password for staff", key, session.as_str()] {
        assert!(!log.contains(secret), "{secret:?} is in the log");
    }
    store.drop_database().await.unwrap();
}

// ---- Security at depth: paths, the guard, sign-in abuse, exports, redirects, limits ----

const SENTINEL: &str = "sentinel7f3a";

/// An order, an audit entry and an API key that carry [`SENTINEL`], so a body that leaks
/// any of them is caught.
async fn plant_sentinels(app: &helpers::TestApp) {
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    let now = mongodb::bson::DateTime::now();
    orders
        .insert_one(mongodb::bson::doc! {
            "order_id": "ORD-20261121101502-5e17e1a1", "display_id": "ORD-5E17E1", "status": "paid",
            "vendor_id": SENTINEL, "user_id": SENTINEL, "amount": 12.5, "created_at": now,
        })
        .await
        .unwrap();
    let entry = AuditEntry {
        id: String::new(),
        at: Utc::now(),
        actor: format!("{SENTINEL}@test.example"),
        role: "admin".into(),
        ip: "127.0.0.1".into(),
        action: "test.sentinel".into(),
        params: SENTINEL.into(),
        outcome: "ok".into(),
    };
    app.store.audit(&entry).await.unwrap();
    app.store.create_api_key(&ApiKeyName::parse(SENTINEL).unwrap(), ApiKeyScope::Bots, Utc::now()).await.unwrap();
}

/// One request as bytes on a socket, so paths reach the server exactly as written (HTTP
/// clients resolve `..` before sending). Status and body.
async fn raw(address: &str, method: &str, path: &str, cookie: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let body = if method == "POST" { "_csrf=x" } else { "" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("the server answered")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn no_path_form_reads_past_access_control() {
    let app = helpers::spawn_app_with_key().await;
    plant_sentinels(&app).await;
    let (admin_cookie, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let callers = [("anonymous", "theme=dark".to_owned()), ("support", app.cookie.clone()), ("admin", admin_cookie)];
    let mut targets: Vec<(&str, String)> =
        server_functions().into_iter().map(|(p, m)| (if m == Method::GET { "GET" } else { "POST" }, p)).collect();
    for page in [
        "/",
        "/search?q=ORD-5E17E1",
        "/orders",
        "/orders?status=paid",
        "/orders/ORD-5E17E1",
        "/counters",
        "/counters/20261121-pizza",
        "/counters/20261121-pizza/gaps.csv",
        "/performance",
        "/failures",
        "/orders.csv",
    ] {
        targets.push(("GET", page.to_owned()));
    }
    let admin_only_pages = admin_pages(&app).await;
    for page in &admin_only_pages {
        targets.push(("GET", page.clone()));
    }
    for api in ["/api/v1/orders/ORD-5E17E1", "/api/performance/stats"] {
        targets.push(("GET", api.to_owned()));
    }
    targets.push(("POST", "/api/v1/order-ids".to_owned()));
    let mut checked = 0;
    for (method, target) in &targets {
        let (path, query) = target.split_once('?').map_or((target.as_str(), ""), |(p, q)| (p, q));
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        let rest = path.trim_start_matches('/');
        let forms = [
            format!("/pkg/../{rest}{query}"),
            format!("/pkg/%2e%2e/{rest}{query}"),
            format!("/pkg/%2E%2E/{rest}{query}"),
            format!("/x/../{rest}{query}"),
            format!("/./{rest}{query}"),
            format!("/pkg%2f..%2f{rest}{query}"),
            format!("/pkg%5c..%5c{rest}{query}"),
            format!("/pkg\\..\\{rest}{query}"),
            format!("//{rest}{query}"),
            format!("/{rest}/{query}"),
        ];
        for form in forms {
            for (who, cookie) in &callers {
                let (status, text) = raw(&app.address, method, &form, cookie).await;
                let redirect_slash = form == format!("/{rest}/{query}") && *method == "GET" && !rest.is_empty();
                if redirect_slash {
                    assert_eq!(status, 308, "{who} {method} {form}");
                    assert!(text.contains(&format!("location: /{rest}{query}")), "{who} {form}: {text}");
                } else {
                    assert_eq!(status, 400, "{who} {method} {form}");
                }
                assert!(!text.contains(SENTINEL), "{who} {method} {form} leaked data: {text}");
                checked += 1;
            }
        }
        // The canonical path itself: nothing for anonymous callers, nothing admin for support.
        let (status, text) = raw(&app.address, method, target, "theme=dark").await;
        assert!([303, 401].contains(&status), "anonymous {method} {target}: {status}");
        assert!(!text.contains(SENTINEL), "anonymous {method} {target} leaked data");
        let admin_only = target.starts_with("/api/admin/") || admin_only_pages.iter().any(|p| p == path);
        if admin_only {
            let (status, text) = raw(&app.address, method, target, &app.cookie).await;
            assert_eq!(status, 403, "support {method} {target}");
            assert!(!text.contains(SENTINEL), "support {method} {target} leaked data");
        }
    }
    assert!(checked > 500, "the matrix ran: {checked}");
    // A path that no route matches renders no page, only the static 404.
    for path in ["/pkg/orders", "/pkg/audit", "/favicon.ico/x", "/Orders"] {
        let (status, text) = raw(&app.address, "GET", path, &app.cookie).await;
        assert_eq!(status, 404, "{path}");
        assert!(!text.contains(SENTINEL) && !text.contains("__RESOLVED_RESOURCES"), "{path}: {text}");
    }
    // The planted data is there for those allowed to see it.
    let (status, text) = raw(&app.address, "GET", "/orders?status=paid", &app.cookie).await;
    assert_eq!(status, 200);
    assert!(text.contains(SENTINEL), "the sentinel order is listed for support");
}

/// Every server function gets its store from the role guard, first thing: read from the
/// source, so a new function without it fails here by name.
#[test]
fn every_server_function_starts_with_the_role_guard() {
    let files = helpers::rust_sources("src");
    let mut found = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("#[server(") {
            let chunk = &text[at + "#[server(".len()..];
            if text[..at].ends_with('`') {
                continue; // a doc comment naming the attribute
            }
            let class = if chunk.starts_with("prefix = \"/api/admin\"") {
                "Admin"
            } else if chunk.starts_with("prefix = \"/api/staff\"") {
                "Support"
            } else {
                panic!("{}: a server function without an access class", file.display());
            };
            let name = chunk.split("pub async fn ").nth(1).and_then(|r| r.split('(').next()).unwrap_or("?");
            let body = chunk.split_once("{\n").map(|(_, b)| b.trim_start()).unwrap_or("");
            let guard = format!("crate::server::require(crate::domain::accounts::Role::{class})?;");
            assert!(
                body.lines().next().is_some_and(|l| l.contains(&guard)),
                "{}: server function {name} must begin with `let (state, _) = {guard}`",
                file.display()
            );
            found += 1;
        }
    }
    assert_eq!(found, server_functions().len(), "every registered server function was found in the source");
}

#[tokio::test]
async fn a_sign_in_burst_checks_no_more_than_the_limit_and_locks_nobody_out() {
    let app = helpers::spawn_app().await;
    // A second process on the same database: the limits are shared.
    let second = helpers::spawn_app_on(&helpers::mongodb_uri(), app.store.database_name(), false, |_| {}).await;
    helpers::signed_in(&app.store, Role::Admin).await;
    let burst = (0..40).map(|i| {
        let address = if i % 2 == 0 { app.address.clone() } else { second.address.clone() };
        async move {
            let res =
                helpers::sign_in_from(&address, "127.0.0.1", "admin@test.example", &format!("guess number {i}")).await;
            (res.status().as_u16(), res.text().await.unwrap_or_default())
        }
    });
    let answers = futures::future::join_all(burst).await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    // An attempt let through may also be told the server is busy hashing other sign-ins
    // (a designed 503, checking nothing): with the whole suite on CI's two cores, the fifth
    // Argon2 check can wait past its queue. Never a database failure, never a sixth check.
    let busy = answers.iter().filter(|(s, body)| *s == 503 && body.contains("busy checking other sign-ins")).count();
    assert_eq!(count(401) + busy, login::PER_PAIR as usize, "{statuses:?}");
    assert!(count(401) >= 1, "{statuses:?}");
    assert_eq!(count(429), 40 - login::PER_PAIR as usize, "{statuses:?}");
    assert_eq!(count(503), busy, "{statuses:?}");
    let logins = entries(&app, "login").await;
    let checked = logins.iter().filter(|e| e.outcome == "failed: wrong password").count();
    assert_eq!(checked, count(401), "each checked attempt is audited, and no more were checked");
    assert!(logins.iter().any(|e| e.outcome.starts_with("denied: rate limited")), "{logins:#?}");
    // The real admin, from another address, still gets in with the right password. Past its
    // free attempts the account is held to one attempt per few seconds (`account_delay`, at
    // most 4 s), and under CI's load an attempt of the burst can take that turn just before:
    // then the admin is told how long to wait, waits that once, and gets in.
    let sign_in = || helpers::sign_in_from(&app.address, "127.0.0.2", "admin@test.example", "test password for staff");
    let mut ok = sign_in().await;
    if ok.status() == StatusCode::TOO_MANY_REQUESTS {
        let wait = ok.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap();
        assert!(wait <= 4, "the account rate waits at most 4 s, not {wait}");
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        ok = sign_in().await;
    }
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    // The attacker's address stays refused, even with the right password.
    let still =
        helpers::sign_in_from(&second.address, "127.0.0.1", "admin@test.example", "test password for staff").await;
    assert_eq!(still.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(still.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_crowd_of_sign_ins_hears_busy_before_the_request_deadline_never_a_504() {
    // A short deadline, and more Argon2 checks at once than two cores finish within it.
    const CROWD: usize = 150;
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("crowd"), true, |s| {
        s.request_timeout = std::time::Duration::from_millis(2500);
    })
    .await;
    let crowd = (0..CROWD).map(|i| {
        let address = app.address.clone();
        // Ten addresses and an account each: no rate limit or account delay comes into it.
        async move {
            let local = format!("127.0.0.{}", 10 + i % 10);
            let res =
                helpers::sign_in_from(&address, &local, &format!("nobody{i}@test.example"), "a wrong password").await;
            let retry = res.headers().contains_key("retry-after");
            (res.status().as_u16(), retry, res.text().await.unwrap_or_default())
        }
    });
    let answers = futures::future::join_all(crowd).await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    // Busy waiting for an Argon2 slot, or for a turn at the edge (more sign-ins than the
    // server works on at once): either way a 503 that says when to try again.
    let busy =
        |body: &str| body.contains("busy checking other sign-ins") || body.contains("as many requests as it can");
    let told_to_retry = answers.iter().filter(|(s, retry, body)| *s == 503 && *retry && busy(body)).count();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked >= 1, "{statuses:?}");
    assert_eq!(checked + told_to_retry, CROWD, "each checked, or told to try again: {statuses:?}");
}

#[test]
fn attempts_past_the_account_ceiling_are_slowed_not_refused() {
    assert_eq!(login::account_delay(login::ACCOUNT_FREE), std::time::Duration::ZERO);
    assert!(login::account_delay(login::ACCOUNT_FREE + 3) > login::account_delay(login::ACCOUNT_FREE + 1));
}

#[tokio::test]
async fn anonymous_refusals_cannot_flood_the_audit_log() {
    let app = helpers::spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let long_email = "x".repeat(2000);
    let bursts = (0..150).map(|_| {
        client
            .post(format!("{}/auth/login", app.address))
            .header("cookie", "od_login=one")
            .form(&[("email", long_email.as_str()), ("password", "p"), ("_csrf", "other")])
            .send()
    });
    for res in futures::future::join_all(bursts).await {
        assert_eq!(res.unwrap().status(), 403);
    }
    let logged = entries(&app, "login").await;
    assert_eq!(logged.len(), 2, "the first refusal and the 100th: {}", logged.len());
    assert!(logged.iter().all(|e| e.params.len() <= 300), "entries are capped");
    assert!(logged.iter().any(|e| e.outcome.contains("100 from this address")), "{logged:#?}");
}

#[tokio::test]
async fn wrong_api_keys_are_limited_per_address() {
    let app = helpers::spawn_app_with_key().await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let res = client
            .post(format!("{}/api/v1/order-ids", app.address))
            .header("x-api-key", format!("odk_wrong_{i}"))
            .send()
            .await
            .unwrap();
        statuses.push((res.status().as_u16(), res.headers().contains_key("retry-after")));
    }
    let limit = 30;
    assert!(statuses[..limit].iter().all(|s| s.0 == 403), "{statuses:?}");
    assert!(statuses[limit..].iter().all(|s| *s == (429, true)), "{statuses:?}");
    // The stats endpoint shares the address's budget.
    let res = client
        .get(format!("{}/api/performance/stats", app.address))
        .header("x-api-key", "odk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // A valid key is still served: the bootstrap key is checked before the budget.
    let res = client
        .post(format!("{}/api/v1/order-ids", app.address))
        .header("x-api-key", helpers::TEST_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn csv_exports_defuse_every_formula_and_stream_the_audit_log() {
    let app = helpers::spawn_app().await;
    let orders = helpers::raw_collection(app.store.database_name(), "orders").await;
    let hostile = ["=1+1", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\t=HYPERLINK(\"http://x\")", "\r=1", "\n=1"];
    for (i, value) in hostile.iter().enumerate() {
        orders
            .insert_one(mongodb::bson::doc! {
                "order_id": format!("ORD-20261121101502-0000000{i}"), "status": *value, "user_id": *value,
                "vendor_id": "v", "created_at": mongodb::bson::DateTime::now(),
            })
            .await
            .unwrap();
    }
    let csv = app.get("/orders.csv").await.text().await.unwrap();
    for value in hostile {
        let quoted = format!("\"'{}\"", value.replace('"', "\"\""));
        assert_eq!(csv.matches(&quoted).count(), 2, "{value:?} as status and user_id, defused: {csv}");
    }
    // The audit log: more than one page of 5,000, streamed.
    let entries: Vec<AuditEntry> = (0..12_000)
        .map(|i| AuditEntry {
            id: String::new(),
            at: Utc::now(),
            actor: "bulk@test.example".into(),
            role: "admin".into(),
            ip: "127.0.0.1".into(),
            action: "test.bulk".into(),
            params: format!("=n{i}"),
            outcome: "ok".into(),
        })
        .collect();
    // Through the server's own group-committing writer, each write checked: an entry lost
    // here (500 lone inserts once timed out under a loaded suite) would read as a short export.
    let (writer, writing) = orderdesk::storage::audit::AuditWriter::new(app.store.clone());
    tokio::spawn(writing);
    for chunk in entries.chunks(1000) {
        for written in futures::future::join_all(chunk.iter().cloned().map(|e| writer.append(e))).await {
            written.expect("a seeded audit entry");
        }
    }
    let (cookie, _) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&cookie, false);
    let res = admin.get(format!("{}/audit.csv?action=test.bulk", app.address)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-length").is_none(), "streamed, not built in memory");
    let body = res.text().await.unwrap();
    assert_eq!(body.lines().count(), 12_001, "header and every entry");
    assert!(body.contains("\"'=n11999\"") && !body.contains(",\"=n"), "defused");
}

#[tokio::test]
async fn sign_in_redirects_stay_on_the_site() {
    let app = helpers::spawn_app().await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for next in
        ["/%09/evil.example", "/%5Cevil.example", "//evil.example", "https://evil.example", "/%2F%2Fevil.example"]
    {
        let page = client.get(format!("{}/login?next={next}", app.address)).send().await.unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains(r#"name="next" value="/""#), "{next}: the form sends people home");
        let res = client
            .post(format!("{}/auth/login", app.address))
            .header("cookie", "od_login=t")
            .form(&[
                ("email", "support@test.example"),
                ("password", "test password for staff"),
                ("_csrf", "t"),
                ("next", &next.replace("%09", "\t").replace("%5C", "\\")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/", "{next}");
    }
}

#[tokio::test]
async fn requests_cannot_cost_more_than_their_limits() {
    use tokio::io::AsyncWriteExt;
    let app = helpers::spawn_app().await;
    // A 32 MB sign-in body is refused at once, from its Content-Length, before it is sent.
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut big = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\nemail=",
        32 << 20
    );
    big.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), {
        use tokio::io::AsyncReadExt;
        big.read(&mut answer)
    })
    .await
    .expect("answered at once")
    .unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 413"), "{:?}", &answer[..read]);
    // Connections that send half a header are cut off; meanwhile real requests are served.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(s);
    }
    assert_eq!(app.get("/orders").await.status(), 200, "served while 300 clients dawdle");
    tokio::time::sleep(std::time::Duration::from_secs(10) + std::time::Duration::from_secs(2)).await;
    let reads = slow.into_iter().map(|mut s| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        // Closed (or answered and closed) by the server, rather than still waiting.
        tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf)).await.is_ok()
    });
    let closed = futures::future::join_all(reads).await.into_iter().filter(|c| *c).count();
    assert_eq!(closed, 300, "every half-sent request was cut off");
}

/// What the profiler test cannot reach (reads only some paths take: issuing numbers, jobs,
/// exports): every read the storage layer sends sets a server-side `maxTimeMS`. A call is read
/// from its name to the `.await` that sends it.
#[test]
fn every_read_in_the_storage_layer_sets_max_time() {
    const READS: &[&str] = &[
        ".find(",
        ".find_one(",
        ".aggregate(",
        ".count_documents(",
        ".distinct(",
        ".find_one_and_update(",
        ".find_one_and_replace(",
        ".find_one_and_delete(",
    ];
    let mut checked = 0;
    for file in helpers::rust_sources("src/storage") {
        let text = std::fs::read_to_string(&file).unwrap();
        for read in READS {
            for (at, _) in text.match_indices(read) {
                let rest = &text[at + read.len()..];
                // An iterator's or a string's `find`, not the driver's.
                if rest.starts_with('|') || rest.starts_with('"') {
                    continue;
                }
                let call = rest.split(".await").next().unwrap();
                let line = text[..at].lines().count();
                assert!(call.contains(".max_time("), "{}:{line}: {read}..) without .max_time(..)", file.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "the storage layer's reads were found: {checked}");
}

#[tokio::test]
async fn every_read_carries_a_server_side_time_limit() {
    let app = helpers::spawn_app().await;
    let client = mongodb::Client::with_uri_str(helpers::mongodb_uri()).await.unwrap();
    let db = client.database(app.store.database_name());
    db.run_command(mongodb::bson::doc! { "profile": 2 }).await.unwrap();
    let (cookie, csrf) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&cookie, true);
    for page in ["/", "/orders", "/search?q=ORD-A3F8D2", "/counters", "/failures", "/audit", "/api-keys", "/orders.csv"]
    {
        assert!(admin.get(format!("{}{page}", app.address)).send().await.unwrap().status().is_success(), "{page}");
    }
    let _ = csrf;
    db.run_command(mongodb::bson::doc! { "profile": 0 }).await.unwrap();
    let profile = db.collection::<mongodb::bson::Document>("system.profile");
    let filter = mongodb::bson::doc! {
        "appName": "orderdesk",
        "op": { "$in": ["query", "command"] },
        "$or": [
            { "command.find": { "$exists": true } }, { "command.aggregate": { "$exists": true } },
            { "command.count": { "$exists": true } }, { "command.findAndModify": { "$exists": true } },
        ],
    };
    use futures::TryStreamExt;
    let reads: Vec<mongodb::bson::Document> = profile.find(filter).await.unwrap().try_collect().await.unwrap();
    assert!(reads.len() >= 8, "the pages read: {}", reads.len());
    for r in &reads {
        let command = r.get_document("command").unwrap();
        assert!(command.contains_key("maxTimeMS"), "a read without maxTimeMS: {command}");
    }
}

#[tokio::test]
async fn a_role_change_ends_sessions_and_pages_carry_security_headers() {
    let app = helpers::spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("referrer-policy"));
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("'unsafe-inline' 'self'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce").to_owned();
    let html = res.text().await.unwrap();
    let scripts = html.matches("<script").count();
    let nonced = html.matches(&format!("nonce=\"{nonce}\"")).count();
    let external = html.matches("<script src=").count();
    assert!(scripts > 0 && nonced + external >= scripts, "every inline script carries the nonce: {html}");
    let login = reqwest::get(format!("{}/login", app.address)).await.unwrap();
    assert!(login.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));

    app.store
        .set_staff_role(&orderdesk::domain::accounts::Email::parse("support@test.example").unwrap(), Role::Admin)
        .await
        .unwrap();
    let res = helpers::client_with(&app.cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the old session ended with the role change");

    // Behind TLS, cookies are Secure and named __Host-.
    let secure = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("tls"), true, |s| {
        s.secure_cookies = Some(true)
    })
    .await;
    let page = reqwest::Client::new().get(format!("{}/login", secure.address)).send().await.unwrap();
    let set = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-od_login=") && set.contains("; Secure") && set.contains("Path=/;"), "{set}");
}

/// Every order page shown is on record: N concurrent views, N entries (one group-commit
/// writer, each view waiting for its own entry's acknowledgement).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_concurrent_order_view_is_audited() {
    // What is tested is the audit, not the deadlines: a debug build beside the other tests on
    // two cores may take longer than the 10 s request timeout (or the test client's 20 s) for
    // the last of 300 in the queue.
    let app = helpers::spawn_app_on(&helpers::mongodb_uri(), &helpers::unique_db("views"), true, |s| {
        s.request_timeout = std::time::Duration::from_secs(120);
        s.queue_wait = std::time::Duration::from_secs(120);
    })
    .await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &helpers::bot_order(Some(77), Some(1.0)), Utc::now()).await.unwrap();
    let url = format!("{}/orders/{id}", app.address);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .default_headers([(reqwest::header::COOKIE, app.cookie.parse().unwrap())].into_iter().collect())
        .build()
        .unwrap();
    let views = (0..300).map(|_| client.get(&url).send());
    let statuses: Vec<u16> =
        futures::future::join_all(views).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    let shown = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(shown, 300, "{statuses:?}");
    assert_eq!(entries(&app, "order.view").await.len(), shown, "each page shown is audited");
}

/// Server functions take domain types: an argument that does not parse is the caller's to
/// mend (400, in the parser's words), and nothing runs.
#[tokio::test]
async fn a_server_function_argument_that_does_not_parse_is_a_400_in_words() {
    let app = helpers::spawn_app().await;
    let (admin_cookie, admin_csrf) = helpers::signed_in(&app.store, Role::Admin).await;
    let admin = helpers::client_with(&admin_cookie, false);
    let start = |migration: &'static str, mode: &'static str| {
        let form = [("migration", migration), ("mode", mode), ("batch", "10"), ("confirm", ""), ("_csrf", &admin_csrf)];
        admin.post(format!("{}/api/admin/start_migration", app.address)).form(&form).send()
    };
    let started = start("order_ids", "apply").await.unwrap();
    assert_eq!(started.status(), StatusCode::BAD_REQUEST);
    let body = started.text().await.unwrap();
    assert!(body.contains("unknown migration 'order_ids'"), "{body}");
    assert!(app.store.recent_runs(5, Utc::now()).await.unwrap().is_empty(), "no run was recorded");

    let history =
        app.client.get(format!("{}/api/staff/vendor_history?vendor=%24where", app.address)).send().await.unwrap();
    assert_eq!(history.status(), StatusCode::BAD_REQUEST);
    let body = history.text().await.unwrap();
    assert!(body.contains("BadInput") && !body.contains("Transport"), "{body}");

    let fine = start("order-ids", "dry-run").await.unwrap();
    assert_eq!(fine.status(), StatusCode::OK, "{}", fine.text().await.unwrap());
    helpers::drop_database(app.store.database_name()).await;
}

/// An audit entry that does not parse (written by hand without its outcome) is named as
/// corrupt: the log is never shown with a hole where an entry could not be read.
#[tokio::test]
async fn an_audit_entry_that_does_not_parse_is_named_not_skipped() {
    let store = helpers::fresh_store("audit_corrupt").await;
    store.audit(&AuditEntry::new(&orderdesk::domain::audit::Actor::cli("t@h"), "test.one", "ok")).await.unwrap();
    assert_eq!(store.audit_entries(&AuditFilter::default(), None, 10).await.unwrap().len(), 1);
    let raw = helpers::raw_collection(store.database_name(), "audit_log").await;
    let bad = mongodb::bson::oid::ObjectId::new();
    raw.insert_one(mongodb::bson::doc! { "_id": bad, "at": mongodb::bson::DateTime::now(), "actor": "x", "role": "", "ip": "", "action": "test.two", "params": "" }).await.unwrap();
    let err = store.audit_entries(&AuditFilter::default(), None, 10).await.unwrap_err();
    assert!(
        matches!(&err, orderdesk::storage::StorageError::Corrupt { collection: "audit_log", id, problem } if *id == bad.to_hex() && problem.contains("outcome")),
        "{err:?}"
    );
    store.drop_database().await.unwrap();
}
