//! The command line: offline ID commands, parsing, and clear failures.

mod common;

use std::process::{Command, Output};

use orderdesk::ids::OrderId;

fn run(args: &[&str]) -> Output {
    Command::new(common::orderdesk_bin()).args(args).output().unwrap()
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
    let out = Command::new(common::orderdesk_bin())
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
