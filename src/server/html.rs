//! The few pages the server writes without the Leptos app (sign-in, refusals), in the
//! dashboard's look: the same stylesheet and theme. They are Leptos views rendered to HTML,
//! so every value in them is escaped the one way the app's pages are.

use axum::response::Html;
use leptos::{prelude::*, tachys::view::RenderHtml};

use crate::domain::tokens::CSRF_FIELD;

/// A small page around `main`.
fn page(title: String, main: impl IntoView + 'static) -> Html<String> {
    let stylesheet = super::assets::stylesheet();
    let document = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Set as its escaped whole: text in <title> is never parsed as markup, so the
                // markers the renderer puts after text would show in the tab.
                <title inner_html=crate::domain::text::escape_html(&title)></title>
                <script src="/theme.js"></script>
                <link rel="stylesheet" href=stylesheet />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
            </head>
            <body class="bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 min-h-screen">
                <main class="mx-auto mt-16 max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                    {main}
                </main>
            </body>
        </html>
    };
    Html(document.to_html())
}

/// A refusal a person reads: what happened, why, and the way back.
pub fn refusal(title: &str, message: &str) -> Html<String> {
    let (title, message) = (title.to_owned(), message.to_owned());
    page(
        "orderdesk".to_owned(),
        view! {
            <h1 class="text-xl font-semibold">{title}</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">{message}</p>
            <p class="mt-4">
                <a class="text-indigo-700 underline dark:text-indigo-300" href="/">
                    "Go to search"
                </a>
            </p>
        },
    )
}

/// The sign-in form: `next` to go on to, the double-submit `token`, the email typed so far
/// and, after a refusal, why.
pub fn sign_in(next: &str, token: &str, email: &str, error: Option<&str>) -> Html<String> {
    let input =
        "mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1.5 dark:border-slate-700 dark:bg-slate-800";
    let error = error.map(|e| {
        let e = e.to_owned();
        view! {
            <p
                class="mt-3 rounded bg-red-50 p-2 text-sm text-red-900 dark:bg-red-950 dark:text-red-200"
                role="alert"
                data-testid="login-error"
            >
                {e}
            </p>
        }
    });
    let (next, token, email) = (next.to_owned(), token.to_owned(), email.to_owned());
    page(
        "Sign in · orderdesk".to_owned(),
        view! {
            <h1 class="text-xl font-semibold">"Sign in to orderdesk"</h1>
            {error}
            <form method="post" action="/auth/login" class="mt-4 space-y-3">
                <input type="hidden" name=CSRF_FIELD value=token />
                <input type="hidden" name="next" value=next />
                <label class="block text-sm">
                    "Email"
                    <input
                        class=input
                        type="email"
                        name="email"
                        value=email
                        autocomplete="username"
                        required
                        autofocus
                    />
                </label>
                <label class="block text-sm">
                    "Password"
                    <input class=input type="password" name="password" autocomplete="current-password" required />
                </label>
                <button
                    class="w-full rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700"
                    type="submit"
                >
                    "Sign in"
                </button>
            </form>
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_a_page_shows_is_escaped() {
        let html = super::refusal("<b>Busy</b>", "a \"quote\" & <script>alert(1)</script>").0;
        assert!(!html.contains("<script>alert") && !html.contains("<b>Busy"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("&lt;b&gt;Busy"), "{html}");
        let form = super::sign_in("/orders?a=1&b=\"2\"", "tok", "x\"><script>", Some("<i>no</i>")).0;
        assert!(!form.contains("<script>") && !form.contains("<i>no"), "{form}");
        assert!(form.contains("name=\"_csrf\" value=\"tok\""), "{form}");
        assert!(form.starts_with("<!DOCTYPE html>"), "{form}");
        assert!(form.contains("<title>Sign in · orderdesk</title>"), "{form}");
        let hostile = super::page("<x>\"".to_owned(), ()).0;
        assert!(hostile.contains("<title>&lt;x&gt;&quot;</title>"), "{hostile}");
    }
}
