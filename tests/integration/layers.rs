//! The layers import downwards only, and the domain imports no other layer: every
//! `crate::…` path in `src/` is read and its first segment checked against this order.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

/// Lowest first. A file may use its own layer and any layer before it.
const LAYERS: &[&str] = &["domain", "config", "storage", "services", "demo", "server", "app", "startup", "cli"];

/// The layer a file belongs to: its folder under `src/`, or its own name for `src/x.rs`.
fn layer_of(relative: &Path) -> String {
    let first = relative.components().next().expect("a path under src/").as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The first segment of every `crate::` path in `code`, including each item of a
/// `crate::{a::…, b}` group.
fn crate_roots(code: &str) -> BTreeSet<String> {
    let mut roots = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in macros names this crate too.
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item, mut end) = (1, String::new(), group.len());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
                if depth == 1 && c == ',' {
                    roots.insert(first_segment(&item));
                    item.clear();
                } else {
                    item.push(c);
                }
            }
            roots.insert(first_segment(&item));
            rest = &group[end..];
        } else {
            roots.insert(first_segment(rest));
        }
    }
    roots.remove("");
    roots
}

fn first_segment(path: &str) -> String {
    path.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// The code without `//` comments, which may name other layers freely.
fn without_comments(code: &str) -> String {
    code.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Every source file under `src/`: its path there, its layer and its code without comments.
fn source_files() -> Vec<(PathBuf, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    crate::helpers::rust_sources("src")
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap().to_path_buf();
            let layer = layer_of(&relative);
            (relative, layer, without_comments(&std::fs::read_to_string(file).unwrap()))
        })
        .collect()
}

#[test]
fn layers_import_downwards_only() {
    let mut wrong = Vec::new();
    for (relative, layer, code) in source_files() {
        if layer == "lib" || layer == "main" {
            continue;
        }
        let rank = LAYERS.iter().position(|l| *l == layer).unwrap_or_else(|| {
            panic!("src/{} is in no layer: add `{layer}` to LAYERS in this test and to lib.rs", relative.display())
        });
        for root in crate_roots(&code) {
            match LAYERS.iter().position(|l| *l == root) {
                Some(used) if used <= rank => {}
                Some(_) => wrong.push(format!("src/{} ({layer}) imports {root}", relative.display())),
                None => wrong.push(format!("src/{} uses crate::{root}, which is no layer", relative.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run up the layers ({}):\n{}", LAYERS.join(" < "), wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_and_nested_paths() {
    let roots = crate_roots("use crate::{app::{a, b}, domain::ids::X};\nlet x = crate::storage::Store::f();");
    assert_eq!(roots.into_iter().collect::<Vec<_>>(), ["app", "domain", "storage"]);
}

#[test]
fn only_storage_uses_the_driver_and_the_demo_generator_only_its_document_type() {
    let mut wrong = Vec::new();
    for (relative, layer, code) in source_files() {
        let uses: Vec<&str> = code.match_indices("mongodb::").map(|(at, _)| &code[at..]).collect();
        let allowed = |path: &&str| match layer.as_str() {
            "storage" => true,
            // Raw documents in the bots' own shapes, written by storage::fixtures.
            "demo" => path.starts_with("mongodb::bson"),
            _ => false,
        };
        if let Some(path) = uses.iter().find(|p| !allowed(p)) {
            let shown: String = path.chars().take(40).collect();
            wrong.push(format!("src/{} ({layer}) uses {shown}", relative.display()));
        }
    }
    assert!(wrong.is_empty(), "the driver outside storage:\n{}", wrong.join("\n"));
}

/// A server function's URL is its own name, never a hash: the access rules, the audit log and
/// the long-poll places read it.
#[test]
fn every_server_function_names_its_endpoint_after_itself() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (relative, _, code) in source_files() {
        for (at, _) in code.match_indices("#[server(") {
            seen += 1;
            let attribute = &code[at..at + code[at..].find(")]").unwrap_or(0)];
            let name = code[at..].split("pub async fn ").nth(1).and_then(|rest| rest.split('(').next()).unwrap_or("?");
            if !attribute.contains(&format!("endpoint = \"{name}\"")) {
                wrong.push(format!("src/{}: {name}: {attribute}", relative.display()));
            }
        }
    }
    assert!(seen >= 25, "the server functions were not found ({seen})");
    assert!(wrong.is_empty(), "server functions without their own endpoint:\n{}", wrong.join("\n"));
}

#[test]
fn every_rule_on_all_requests_is_stacked_in_one_place() {
    let mut elsewhere = Vec::new();
    let mut in_stack = 0;
    for (relative, _, code) in source_files() {
        if relative == Path::new("server/middleware/mod.rs") {
            in_stack = code.matches(".layer(").count();
        } else if code.contains("middleware::from_fn") {
            elsewhere.push(format!("src/{}", relative.display()));
        }
    }
    assert!(in_stack >= 10, "the middleware stack was not found ({in_stack} rules)");
    assert!(elsewhere.is_empty(), "middleware stacked outside server/middleware/mod.rs: {elsewhere:?}");
}

#[test]
fn pages_and_start_up_start_workers_only_through_the_owner() {
    let mut spawning = Vec::new();
    for (relative, _, code) in source_files() {
        let owner_side = relative.starts_with("app") || relative == Path::new("startup.rs");
        if owner_side && code.contains("tokio::spawn(") {
            spawning.push(format!("src/{}", relative.display()));
        }
    }
    assert!(spawning.is_empty(), "spawned beside services::workers::Workers: {spawning:?}");
}

#[test]
fn pages_make_their_resources_with_one_json_reader() {
    // Leptos's `Resource::new` reads hydration data with another serde_json reader than the
    // server functions' answers: a second copy of every answer type's reader in the bundle.
    let mut default_codec = Vec::new();
    for (relative, _, code) in source_files() {
        if relative.starts_with("app") && (code.contains("Resource::new(") || code.contains("Resource::new_blocking("))
        {
            default_codec.push(format!("src/{}", relative.display()));
        }
    }
    assert!(default_codec.is_empty(), "use app::resource::page_resource, not Resource::new: {default_codec:?}");
}
