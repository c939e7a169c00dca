//! The command line: offline ID commands, parsing, and clear failures.

use crate::helpers;

use std::process::{Command, Output};

use orderdesk::domain::ids::OrderId;

fn run(args: &[&str]) -> Output {
    Command::new(helpers::orderdesk_bin()).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn id_ord_and_uuid_print_valid_ids() {
    let out = run(&["id", "ord"]);
    assert!(out.status.success());
    let id = OrderId::parse(text(&out.stdout).trim()).unwrap();
    assert_eq!(id.scheme(), "ORD");
    let out = run(&["id", "uuid"]);
    assert_eq!(OrderId::parse(text(&out.stdout).trim()).unwrap().scheme(), "UUID");
}

#[test]
fn id_parse_names_the_scheme_and_its_parts() {
    let out = run(&["id", "parse", "BB-1701234567890-A1B2-00042"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains("milliseconds") && s.contains("sequence: 42") && s.contains("2023-11-29T05:09:27.890"), "{s}");
    let s = text(&run(&["id", "parse", "#ord-a3f8d2"]).stdout);
    assert!(s.contains("display_id: ORD-A3F8D2"), "{s}");
    let s = text(&run(&["id", "parse", "ORD-20251114123456-a3f8d2b4"]).stdout);
    assert!(s.contains("created: 2025-11-14T12:34:56+00:00") && s.contains("display_id: ORD-A3F8D2"), "{s}");
}

/// Issue #17: `id explain` reads times in the configured zone, names the counter day, and
/// answers a typo with "did you mean" and exit 1.
#[test]
fn id_explain_reads_in_the_zone_and_suggests_near_forms() {
    let explain = |text: &str| {
        Command::new(helpers::orderdesk_bin())
            .args(["id", "explain", text])
            .env("ORDERDESK_TIME_ZONE", "America/Santiago")
            .output()
            .unwrap()
    };
    let out = explain("BB-1701234567890-A1B2-00042");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("Time: 2023-11-29 02:09:27 (America/Santiago)"), "{s}");
    assert!(s.contains("Daily sequence: 42 of 99999") && s.contains("counter day: 2023-11-29"), "{s}");
    let out = explain("hi, my order is ORD-DECODE");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("did you mean: ORD-DEC0DE"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("did you mean"), "{}", text(&out.stderr));
    let out = explain(&"x".repeat(5_000));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("paste at most 2048"), "{}", text(&out.stderr));
}

#[test]
fn id_parse_of_garbage_exits_1_with_the_reason() {
    for input in ["ORD-20251314123456-a3f8d2b4", "hello world", "BB-1-2-3"] {
        let out = run(&["id", "parse", input]);
        assert_eq!(out.status.code(), Some(1), "{input}");
        let err = text(&out.stderr);
        assert!(err.starts_with("error: ") && err.lines().count() == 1, "{err}");
    }
}

#[test]
fn bad_flags_and_settings_fail_with_one_clear_line() {
    let out = run(&["seed-demo", "--orders", "0"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--orders"));
    let out = Command::new(helpers::orderdesk_bin())
        .args(["seed-demo"])
        .env("ORDERDESK_TIME_ZONE", "Mars/Olympus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("ORDERDESK_TIME_ZONE"), "{err}");
    let out = run(&["id", "bb", "--vendor", "a b", "--user", "u1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--vendor"));
    let out = run(&["id", "bb", "--vendor", "v1", "--user", "u1", "--variant", "daily"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("--variant") && err.contains("year-based"), "{err}");
}

#[test]
fn help_is_there_for_every_command() {
    for args in [
        &["--help"][..],
        &["id", "--help"],
        &["id", "bb", "--help"],
        &["seed-demo", "--help"],
        &["api-keys", "create", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage"), "{args:?}");
    }
}

/// `users add` reads the password from stdin; `list` shows the account; a second `add` and a
/// short password are refused with a reason; `disable` works; each change is audited.
#[tokio::test]
async fn users_are_added_listed_and_disabled_from_the_command_line() {
    use std::io::Write;
    let store = helpers::fresh_store("cli_users").await;
    let users = |args: &[&str], stdin: &str| {
        let mut child = Command::new(helpers::orderdesk_bin())
            .args(args)
            .env("MONGODB_URI", helpers::mongodb_uri())
            .env("ORDERDESK_DATABASE", store.database_name())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let added = users(&["users", "add", "Ana@Shop.example", "--role", "admin"], "a long enough password\n");
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(text(&added.stdout).trim(), "added ana@shop.example as admin");
    let again = users(&["users", "add", "ana@shop.example", "--role", "support"], "another long password\n");
    assert!(text(&again.stderr).contains("already has an account"), "{}", text(&again.stderr));
    let short = users(&["users", "add", "bo@shop.example", "--role", "support"], "short\n");
    assert!(!short.status.success() && text(&short.stderr).contains("at least 12"));
    let bad_role = users(&["users", "add", "bo@shop.example", "--role", "root"], "a long enough password\n");
    assert!(text(&bad_role.stderr).contains("support, admin"));
    let list = users(&["users", "list"], "");
    assert!(text(&list.stdout).contains("ana@shop.example") && text(&list.stdout).contains("active"));
    assert!(!text(&list.stdout).contains("argon2"), "hashes are never printed");
    let role = users(&["users", "role", "ana@shop.example", "--role", "support"], "");
    assert!(role.status.success(), "{}", text(&role.stderr));
    assert!(text(&role.stdout).contains("sessions have ended"));
    assert!(users(&["users", "disable", "ana@shop.example"], "").status.success());
    assert!(text(&users(&["users", "list"], "").stdout).contains("disabled"));
    let missing = users(&["users", "disable", "nobody@shop.example"], "");
    assert!(text(&missing.stderr).contains("there is no account"));

    let account = store
        .find_staff(&orderdesk::domain::accounts::Email::parse("ana@shop.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(orderdesk::domain::accounts::password::verify("a long enough password", &account.password_hash));
    let log = store.audit_entries(&Default::default(), None, 100).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.disable", "user.role", "user.add"], "newest first");
    assert!(log.iter().all(|e| e.actor.starts_with("cli:") && !e.params.contains("password")));
    store.drop_database().await.unwrap();
}

/// `seed-demo --if-empty` on a database it did not fill (real orders in it) plants no demo
/// account with its published password; on one it filled, it keeps them.
#[tokio::test]
async fn demo_accounts_exist_only_where_seed_demo_filled_the_database() {
    let store = helpers::fresh_store("cli_demo").await;
    let id = orderdesk::services::issuing::IdGenerator::system(orderdesk::services::issuing::IdScheme::Ord).next_id();
    store.insert_order(&id, &helpers::bot_order(Some(1), Some(2.0)), chrono::Utc::now()).await.unwrap();
    let seed = |args: &[&str], db: &str| {
        Command::new(helpers::orderdesk_bin())
            .args(args)
            .env("MONGODB_URI", helpers::mongodb_uri())
            .env("ORDERDESK_DATABASE", db)
            .output()
            .unwrap()
    };
    let demo_admin = orderdesk::domain::accounts::Email::parse("admin@orderdesk.demo").unwrap();
    let out = seed(&["seed-demo", "--if-empty"], store.database_name());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no demo accounts"), "{}", text(&out.stdout));
    assert!(store.find_staff(&demo_admin).await.unwrap().is_none(), "no known admin planted in live data");

    let demo = helpers::fresh_store("cli_demo_filled").await;
    assert!(seed(&["seed-demo", "--orders", "50"], demo.database_name()).status.success());
    let again = seed(&["seed-demo", "--if-empty"], demo.database_name());
    assert!(text(&again.stdout).contains("demo sign-ins"), "{}", text(&again.stdout));
    assert!(demo.find_staff(&demo_admin).await.unwrap().is_some());
    store.drop_database().await.unwrap();
    demo.drop_database().await.unwrap();
}
