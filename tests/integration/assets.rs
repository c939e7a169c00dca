//! The browser bundle as a release build leaves it (hashed names, brotli and gzip copies):
//! pages name the hashed files, a browser that accepts brotli gets the copy the build wrote
//! (nothing compressed per request), and hashed files are cached for a year.

use orderdesk::startup::{self, Application, Background};
use reqwest::header;

use crate::helpers;

const WASM_HASH: &str = "uX4cE0S7-Pm0jV_Y3kKpQw";
const JS_HASH: &str = "Jq0c2bW3Jj1Q4uX9mWc0Hg";
const CSS_HASH: &str = "Cs5s0000000000000000Aa";

#[tokio::test]
async fn hashed_bundles_are_named_by_the_pages_served_precompressed_and_cached_for_a_year() {
    let site = std::env::temp_dir().join(helpers::unique_db("site"));
    let pkg = site.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let wasm = format!("orderdesk.{WASM_HASH}.wasm");
    std::fs::write(pkg.join(&wasm), vec![0_u8; 50_000]).unwrap();
    std::fs::write(pkg.join(format!("{wasm}.br")), b"the build's brotli copy").unwrap();
    std::fs::write(pkg.join(format!("{wasm}.gz")), b"the build's gzip copy").unwrap();
    std::fs::write(pkg.join(format!("orderdesk.{JS_HASH}.js")), b"// js").unwrap();
    std::fs::write(pkg.join(format!("orderdesk.{CSS_HASH}.css")), b"body{}").unwrap();
    std::fs::write(pkg.join("unhashed.js"), b"// js").unwrap();
    std::fs::write(site.join("theme.js"), b"// theme").unwrap();
    std::fs::write(site.join("hash.txt"), format!("js: {JS_HASH}\nwasm: {WASM_HASH}\ncss: {CSS_HASH}\n")).unwrap();

    let mut leptos = startup::leptos_options().unwrap();
    leptos.site_root = site.to_string_lossy().into_owned().into();
    let mut leptos = orderdesk::server::assets::with_asset_hashes(leptos);
    assert!(leptos.hash_files, "the hash file turns hashing on");
    leptos.site_addr = "127.0.0.1:0".parse().unwrap();
    let database = helpers::unique_db("assets");
    let app = Application::build(helpers::settings(&helpers::mongodb_uri(), &database), leptos, Background::Manual)
        .await
        .unwrap();
    assert!(app.tasks().ensure_indexes().await);
    let store = app.state().store.clone();
    let address = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));

    // The app's pages name the hashed script, bundle and stylesheet.
    let (cookie, _) = helpers::signed_in(&store, orderdesk::domain::accounts::Role::Support).await;
    let page = helpers::client_with(&cookie, false).get(format!("{address}/orders")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for name in [format!("orderdesk.{JS_HASH}.js"), wasm.clone(), format!("orderdesk.{CSS_HASH}.css")] {
        assert!(html.contains(&format!("/pkg/{name}")), "the page names {name}");
    }

    // The build's own brotli and gzip copies, byte for byte, with the year-long cache.
    // reqwest is built without decompression: bodies arrive as sent.
    let client = reqwest::Client::new();
    for (encoding, body) in [("br", "the build's brotli copy"), ("gzip", "the build's gzip copy")] {
        let res =
            client.get(format!("{address}/pkg/{wasm}")).header(header::ACCEPT_ENCODING, encoding).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], encoding);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(res.text().await.unwrap(), body);
    }
    // No encoding accepted: the file itself.
    let plain = client.get(format!("{address}/pkg/{wasm}")).send().await.unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.bytes().await.unwrap().len(), 50_000);
    // A file without a hash may change under the same name: browsers ask each time.
    let unhashed = client.get(format!("{address}/pkg/unhashed.js")).send().await.unwrap();
    assert_eq!(unhashed.headers()[header::CACHE_CONTROL], "no-cache");
    let theme = client.get(format!("{address}/theme.js")).send().await.unwrap();
    assert_eq!(theme.headers()[header::CACHE_CONTROL], "no-cache", "the site's own files are checked, not no-store");
    // A missing hashed name is a 404, not cached.
    let missing = client.get(format!("{address}/pkg/orderdesk.{JS_HASH}x.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get(header::CACHE_CONTROL).is_none_or(|v| v != "public, max-age=31536000, immutable"));

    helpers::drop_database(&database).await;
    std::fs::remove_dir_all(&site).unwrap();
}
