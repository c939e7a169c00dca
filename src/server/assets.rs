//! The browser bundle's files: their hashed names when the build hashed them, the brotli and
//! gzip copies the release build wrote served as they are (never compressed per request).
//! Their cache headers are `middleware::cache_headers`.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use leptos::config::LeptosOptions;

/// Where the build writes the hashes: the site root (Cargo.toml's `hash-file-name` points
/// cargo-leptos there from beside the binary, for every profile).
const HASH_FILE: &str = "hash.txt";

/// Turns file hashing on when the build left a hash file, naming it by absolute path (Leptos
/// joins it to the binary's folder, which then does not matter: the server binary and the
/// front end can come from different profiles). Without one the plain names are used.
pub fn with_asset_hashes(mut options: LeptosOptions) -> LeptosOptions {
    let file = Path::new(options.site_root.as_ref()).join(HASH_FILE);
    options.hash_files = file.is_file();
    let file = std::path::absolute(&file).unwrap_or(file);
    options.hash_file = file.to_string_lossy().into_owned().into();
    options
}

/// The hash the build gave one kind of file (`css`, `js`, `wasm`), if it hashed them.
fn hash_of(options: &LeptosOptions, kind: &str) -> Option<String> {
    if !options.hash_files {
        return None;
    }
    let hashes = std::fs::read_to_string(PathBuf::from(options.hash_file.as_ref())).ok()?;
    hashes.lines().find_map(|line| {
        let (k, hash) = line.split_once(':')?;
        (k.trim() == kind).then(|| hash.trim().to_owned())
    })
}

/// The stylesheet's URL as the build named it.
pub fn stylesheet_href(options: &LeptosOptions) -> String {
    let name = match hash_of(options, "css") {
        Some(hash) => format!("{}.{hash}.css", options.output_name),
        None => format!("{}.css", options.output_name),
    };
    format!("/{}/{name}", options.site_pkg_dir)
}

/// The stylesheet for the pages the server writes itself (sign-in, refusals); set once when
/// the router is built, since every router of a process serves the same site.
static STYLESHEET: OnceLock<String> = OnceLock::new();

pub fn remember_stylesheet(options: &LeptosOptions) {
    let _ = STYLESHEET.set(stylesheet_href(options));
}

pub fn stylesheet() -> &'static str {
    STYLESHEET.get().map_or("/pkg/orderdesk.css", String::as_str)
}

/// The stylesheet the app's pages link: remembered in a release build; read afresh in a
/// debug build, where `cargo leptos watch` renames the CSS without restarting the server.
pub fn page_stylesheet(options: &LeptosOptions) -> std::borrow::Cow<'static, str> {
    if cfg!(debug_assertions) { stylesheet_href(options).into() } else { stylesheet().into() }
}

/// The back office's part of the bundle (`cargo leptos build --split`), as the URL of its
/// WebAssembly: a back-office page's hydration waits for it, so its head asks for it at once,
/// beside the main part, instead of once the main part has loaded and hydration reached the
/// page. (Leptos means to write this link itself, but its integration looks the split manifest
/// up outside the page's owner and finds it only at times; a second link to the same URL costs
/// no second fetch.) `None` for a build without parts.
fn split_part_href(options: &LeptosOptions) -> Option<String> {
    let manifest = match hash_of(options, "manifest") {
        Some(hash) => format!("__wasm_split_manifest.{hash}.json"),
        None => "__wasm_split_manifest.json".to_owned(),
    };
    let pkg = options.site_pkg_dir.as_ref();
    let text = std::fs::read_to_string(Path::new(options.site_root.as_ref()).join(pkg).join(manifest)).ok()?;
    let parts: std::collections::HashMap<String, Vec<String>> = serde_json::from_str(&text).ok()?;
    // One split point (`app::back_office::view_of`), so one part.
    let module = parts.values().flatten().next()?;
    Some(format!("/{pkg}/{module}.wasm"))
}

static SPLIT_PART: OnceLock<Option<String>> = OnceLock::new();

/// [`split_part_href`], remembered in a release build; read afresh in a debug build, where
/// `cargo leptos watch` renames the parts without restarting the server.
pub fn back_office_part(options: &LeptosOptions) -> Option<String> {
    if cfg!(debug_assertions) {
        split_part_href(options)
    } else {
        SPLIT_PART.get_or_init(|| split_part_href(options)).clone()
    }
}

/// The site's files outside `/pkg/` (from `public/`): open to anyone, like the bundle, and
/// asked about again on each use since their names carry no hash.
pub fn is_unhashed_site_file(path: &str) -> bool {
    matches!(path, "/theme.js" | "/favicon.ico" | "/favicon.svg")
}

/// The site's files: a request that accepts brotli or gzip gets the copy the build wrote.
pub fn static_files(site_root: &str) -> tower_http::services::ServeDir {
    tower_http::services::ServeDir::new(site_root).precompressed_br().precompressed_gzip()
}
