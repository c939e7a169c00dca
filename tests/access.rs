//! Staff accounts, roles, CSRF and the audit log, through the real router on the real
//! mongod: every page and every server function called as anonymous, support and admin.

mod common;

use std::collections::HashMap;

use chrono::Utc;
use orderdesk::{
    accounts::Role,
    audit::{AuditEntry, AuditFilter},
    tokens::{random_token, sha256_hex},
};
use reqwest::{Method, StatusCode};

/// Every server function the app registers, with its method.
fn server_functions() -> Vec<(String, Method)> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), Method::from_bytes(method.as_str().as_bytes()).unwrap()))
        .collect()
}

async fn entries(app: &common::TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter { action: Some(action.into()), ..Default::default() };
    app.store.audit_entries(&filter, None, 1000).await.unwrap()
}

/// Calls `path` as one caller; POSTs carry `csrf` when given.
async fn call(client: &reqwest::Client, base: &str, method: &Method, path: &str, csrf: Option<&str>) -> StatusCode {
    let url = format!("{base}{path}");
    let req = if *method == Method::GET {
        client.get(url)
    } else {
        let form: Vec<(&str, &str)> = csrf.map(|c| vec![("_csrf", c)]).unwrap_or_default();
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

    let app = common::spawn_app().await;
    let anonymous = common::client_with("theme=dark", false);
    let support = common::client_with(&app.cookie, false);
    let (admin_cookie, admin_csrf) = common::signed_in(&app.store, Role::Admin).await;
    let admin = common::client_with(&admin_cookie, false);

    let mut calls: Vec<(Method, String, bool)> =
        fns.iter().map(|(p, m)| (m.clone(), p.clone(), p.starts_with("/api/admin/"))).collect();
    for page in ["/", "/search?q=ORD-A3F8D2", "/orders", "/counters", "/performance", "/failures", "/orders.csv"] {
        calls.push((Method::GET, page.into(), false));
    }
    for page in ["/maintenance", "/audit", "/audit.csv", "/api-keys"] {
        calls.push((Method::GET, page.into(), true));
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
    assert_eq!(call(&admin, &app.address, &Method::POST, "/api/apply_indexes1", Some(&admin_csrf)).await, 404);

    // Each refusal of support is on record.
    let denied = entries(&app, "access_denied").await;
    let admin_calls = calls.iter().filter(|c| c.2).count();
    assert_eq!(denied.len(), admin_calls, "{denied:#?}");
    assert!(denied.iter().all(|e| e.actor == "support@test.example" && e.outcome == "denied"));
}

#[tokio::test]
async fn state_changing_requests_need_the_session_csrf_token() {
    let app = common::spawn_app().await;
    let (cookie, csrf) = common::signed_in(&app.store, Role::Admin).await;
    let admin = common::client_with(&cookie, false);
    let apply = server_functions().into_iter().find(|(p, _)| p.contains("/apply_indexes")).unwrap().0;
    assert_eq!(call(&admin, &app.address, &Method::POST, &apply, None).await, 403, "missing");
    assert_eq!(call(&admin, &app.address, &Method::POST, &apply, Some(&random_token())).await, 403, "wrong");
    // Another session's token is wrong too.
    assert_eq!(call(&admin, &app.address, &Method::POST, &apply, Some(&app.csrf)).await, 403, "someone else's");
    assert_eq!(call(&admin, &app.address, &Method::POST, &apply, Some(&csrf)).await, 200);
    // Signing out is state-changing too.
    assert_eq!(call(&admin, &app.address, &Method::POST, "/auth/logout", None).await, 403);

    let rejected = entries(&app, "csrf_rejected").await;
    assert_eq!(rejected.len(), 4);
    let applied = entries(&app, "apply_indexes").await;
    assert_eq!(applied.len(), 1, "each admin action is audited once");
    assert!(applied.iter().all(|e| e.outcome == "ok" && !e.params.contains(&csrf)));
    // And listed with the migrations' runs, under who applied it.
    let runs = app.store.recent_runs(10, chrono::Utc::now()).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!((runs[0].task.as_str(), runs[0].actor.as_str()), ("indexes", "admin@test.example"));
    assert_eq!(runs[0].status, orderdesk::maintenance::RunStatus::Completed);
}

/// Signs in through the form: GET /login for the cookie and token, then POST.
async fn sign_in(app: &common::TestApp, email: &str, password: &str) -> reqwest::Response {
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
    let app = common::spawn_app().await;
    // signed_in() gave support@test.example this password.
    let ok = sign_in(&app, " Support@Test.example ", "test password for staff").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/orders");
    let set = ok.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("od_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    let cookie = session.split(';').next().unwrap().to_owned();
    let res = common::client_with(&cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
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
    assert_eq!(outcomes.get("denied: rate limited"), Some(&1), "{outcomes:?}");
    assert!(logins.iter().all(|e| !e.params.contains("password") && !e.params.contains("still not it")));
}

#[tokio::test]
async fn expired_and_disabled_sessions_sign_you_out() {
    let app = common::spawn_app().await;
    let account = app
        .store
        .find_staff(&orderdesk::accounts::Email::parse("support@test.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    let token = random_token();
    let past = Utc::now() - chrono::Duration::minutes(1);
    app.store
        .create_session(&sha256_hex(&token), &account, "csrf", past - chrono::Duration::hours(1), past, past)
        .await
        .unwrap();
    let expired = common::client_with(&format!("od_session={token}"), false);
    let res = expired.get(format!("{}/orders?status=paid", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login?next=%2Forders%3Fstatus%3Dpaid");

    // Disabling an account ends its live sessions at once.
    assert_eq!(app.get("/orders").await.status(), 200);
    app.store
        .disable_staff(&orderdesk::accounts::Email::parse("support@test.example").unwrap(), Utc::now())
        .await
        .unwrap();
    let res = common::client_with(&app.cookie, false).get(format!("{}/orders", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn opening_an_order_is_audited_with_who_and_which() {
    let app = common::spawn_app().await;
    let id = orderdesk::issuing::IdGenerator::system(orderdesk::issuing::IdScheme::Ord).next_id();
    app.store.insert_order(&id, &common::bot_order(Some(4242), Some(9.5)), Utc::now()).await.unwrap();
    let res = app.get(&format!("/orders/{id}")).await;
    assert_eq!(res.status(), 200);
    let views = entries(&app, "order.view").await;
    assert_eq!(views.len(), 1, "{views:#?}");
    assert_eq!(views[0].actor, "support@test.example");
    assert_eq!(views[0].params, format!("order={id}"));
    assert_eq!(views[0].ip, "127.0.0.1");
}

/// The real binary, logging at `debug` for everything: sign-ins (right and wrong) and API
/// calls leave no password, key or session token in its output.
#[tokio::test]
async fn passwords_keys_and_tokens_never_reach_the_logs() {
    use std::process::Command;
    let store = common::fresh_store("logs").await;
    let (_cookie, _) = common::signed_in(&store, Role::Admin).await;
    let key = "log-test-bootstrap-key-0123456789abcdef";
    let (server, port) =
        common::serve_binary(store.database_name(), &[("ORDERDESK_API_KEY", key), ("RUST_LOG", "debug")]);
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
