//! The few pages the server writes without the Leptos app (sign-in, refusals), in the
//! dashboard's look: the same stylesheet and theme.

use axum::response::Html;

pub use crate::domain::text::escape_html as escape;

/// A small server-rendered page; `body` is HTML the caller has escaped.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><script src="/theme.js"></script><link rel="stylesheet" href="{css}"></head><body class="bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 min-h-screen"><main class="mx-auto mt-16 max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">{body}</main></body></html>"#,
        title = escape(title),
        css = super::assets::stylesheet(),
    ))
}
