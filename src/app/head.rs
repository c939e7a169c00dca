//! What pages put in the document's `<head>`.
//!
//! leptos_meta 0.8 writes a `<Title>`'s text into the server's HTML as it is, unescaped
//! (`ServerMetaContext` pushes `<title>{text}</title>`), so a stored value in a title, such as
//! an order number another system wrote, could close the tag and add markup to the head.
//! Every page title goes through [`PageTitle`], which escapes it for the server's HTML; in
//! the browser the text is set as `document.title`, which is never parsed, so it stays as it
//! is there. `tests/integration/access.rs` fails on any other use of leptos_meta's tags.

use leptos::prelude::*;

/// The page's `<title>`: `text` is plain text, whatever it holds.
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <leptos_meta::Title text=for_head(text) /> }
}

/// Text as it may be placed in the server's `<head>`: escaped on the server only.
fn for_head(text: String) -> String {
    #[cfg(feature = "ssr")]
    let text = crate::domain::text::escape_html(&text);
    text
}
