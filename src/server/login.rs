//! Signing in and out: a plain HTML form (it works without JavaScript), Argon2 password
//! checks, rate limits per account and per address, and an audit entry for every attempt.
//!
//! Before sign-in there is no session to hold a CSRF token, so the form uses a
//! double-submit cookie: `od_login` and the form's `_csrf` field must match.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    Form,
    extract::{FromRequest, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use chrono::Utc;
use serde::Deserialize;

use super::{
    AppState,
    access::{self, CSRF_FIELD, SESSION_COOKIE, cookie, session_cookie},
};
use crate::{
    accounts::{Email, password},
    tokens::{random_token, same, sha256_hex},
};

const LOGIN_COOKIE: &str = "od_login";
/// Failed sign-ins allowed in [`WINDOW`] per account and per address.
const PER_ACCOUNT: usize = 5;
const PER_ADDRESS: usize = 20;
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Recent failed sign-ins, per `account:<email>` and `ip:<address>`. In memory: one
/// orderdesk process per deployment, and a restart forgets (documented in the README).
#[derive(Debug, Default)]
pub struct LoginLimiter(Mutex<HashMap<String, Vec<Instant>>>);

impl LoginLimiter {
    /// How long until `key` may try again, if it is over `limit`.
    fn wait(&self, key: &str, limit: usize) -> Option<Duration> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let failures = map.get_mut(key)?;
        failures.retain(|at| at.elapsed() < WINDOW);
        (failures.len() >= limit).then(|| WINDOW.saturating_sub(failures[0].elapsed()))
    }

    fn fail(&self, key: String) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, v| v.last().is_some_and(|at| at.elapsed() < WINDOW));
        }
        map.entry(key).or_default().push(Instant::now());
    }

    fn clear(&self, key: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

pub use crate::app::format::escape_html as escape;

/// A small server-rendered page in the dashboard's look (same stylesheet and theme).
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><script src="/theme.js"></script><link rel="stylesheet" href="/pkg/orderdesk.css"></head><body class="bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100 min-h-screen"><main class="mx-auto mt-16 max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900">{body}</main></body></html>"#,
        title = escape(title),
    ))
}

/// Only paths on this site, so `next` cannot send someone elsewhere.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_form(next: &str, token: &str, email: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="mt-3 rounded bg-red-50 p-2 text-sm text-red-900 dark:bg-red-950 dark:text-red-200" role="alert" data-testid="login-error">{}</p>"#, escape(e)))
        .unwrap_or_default();
    format!(
        r#"<h1 class="text-xl font-semibold">Sign in to orderdesk</h1>{error}
<form method="post" action="/auth/login" class="mt-4 space-y-3">
<input type="hidden" name="{CSRF_FIELD}" value="{token}">
<input type="hidden" name="next" value="{next}">
<label class="block text-sm">Email<input class="mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1.5 dark:border-slate-700 dark:bg-slate-800" type="email" name="email" value="{email}" autocomplete="username" required autofocus></label>
<label class="block text-sm">Password<input class="mt-1 w-full rounded border border-slate-300 bg-white px-2 py-1.5 dark:border-slate-700 dark:bg-slate-800" type="password" name="password" autocomplete="current-password" required></label>
<button class="w-full rounded bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-700" type="submit">Sign in</button>
</form>"#,
        next = escape(next),
        email = escape(email),
    )
}

fn with_login_cookie(mut response: Response, token: &str, secure: bool) -> Response {
    let secure = if secure { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/auth; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the form (or straight on, when already signed in).
pub async fn show(State(state): State<AppState>, Query(q): Query<LoginQuery>, headers: HeaderMap) -> Response {
    let next = local_path(q.next.as_deref());
    if let Ok(Some(_)) = access::session_viewer(&state, &headers, Utc::now()).await {
        return Redirect::to(&next).into_response();
    }
    let token = random_token();
    let response = page("Sign in · orderdesk", &login_form(&next, &token, "", None)).into_response();
    with_login_cookie(response, &token, state.settings.secure_cookies)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// `POST /auth/login`.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let ip = access::client_ip(&req);
    let headers = req.headers().clone();
    let form = match Form::<LoginForm>::from_request(req, &state).await {
        Ok(Form(f)) => f,
        Err(_) => return (StatusCode::BAD_REQUEST, "send the sign-in form: email, password and _csrf").into_response(),
    };
    let next = local_path(form.next.as_deref());
    let again = |status: StatusCode, email: &str, message: &str| {
        let token = random_token();
        let response =
            (status, page("Sign in · orderdesk", &login_form(&next, &token, email, Some(message)))).into_response();
        with_login_cookie(response, &token, state.settings.secure_cookies)
    };
    let cookie_token = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if form.csrf.is_empty() || !same(&form.csrf, cookie_token) {
        access::audit(
            &state,
            "anonymous",
            "",
            &ip,
            "login",
            &format!("email={}", form.email.trim()),
            "denied: CSRF token missing or wrong",
        )
        .await;
        return again(StatusCode::FORBIDDEN, &form.email, "The sign-in form expired. Please sign in again.");
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return again(StatusCode::BAD_REQUEST, &form.email, e.message()),
    };
    let (account_key, ip_key) = (format!("account:{email}"), format!("ip:{ip}"));
    let limiter = &state.logins;
    if let Some(wait) = limiter.wait(&account_key, PER_ACCOUNT).or_else(|| limiter.wait(&ip_key, PER_ADDRESS)) {
        access::audit(&state, email.as_str(), "", &ip, "login", "", "denied: rate limited").await;
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            email.as_str(),
            &format!("Too many failed sign-ins. Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" }),
        );
    }
    let account = match state.store.find_staff(&email).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in could not read the account");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                email.as_str(),
                "The database is unavailable. Try again in a few seconds.",
            );
        }
    };
    // Verify against a dummy hash when there is no account, so timing does not tell.
    let stored = account.as_ref().map(|a| a.password_hash.as_str()).unwrap_or_else(|| password::dummy_hash());
    let password_ok = password::verify(&form.password, stored);
    let account = match account {
        Some(a) if password_ok && !a.disabled => a,
        other => {
            limiter.fail(account_key);
            limiter.fail(ip_key);
            let why = match other {
                None => "failed: no such account",
                Some(a) if a.disabled => "failed: account disabled",
                _ => "failed: wrong password",
            };
            access::audit(&state, email.as_str(), "", &ip, "login", "", why).await;
            return again(
                StatusCode::UNAUTHORIZED,
                email.as_str(),
                "That email and password do not match an active account.",
            );
        }
    };
    limiter.clear(&account_key);
    let now = Utc::now();
    let token = random_token();
    let idle = chrono::Duration::from_std(state.settings.session_idle).unwrap_or(chrono::Duration::minutes(30));
    let max = chrono::Duration::from_std(state.settings.session_max).unwrap_or(chrono::Duration::hours(12));
    let created = state
        .store
        .create_session(&sha256_hex(&token), &account, &random_token(), now, now + idle.min(max), now + max)
        .await;
    if let Err(e) = created {
        tracing::warn!(error = %e, "sign-in could not store the session");
        return again(
            StatusCode::SERVICE_UNAVAILABLE,
            email.as_str(),
            "The database is unavailable. Try again in a few seconds.",
        );
    }
    if let Err(e) = state.store.record_login(&account.email, now).await {
        tracing::warn!(error = %e, "could not record the sign-in time");
    }
    access::audit(&state, &account.email, account.role.as_str(), &ip, "login", "", "ok").await;
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&token, state.settings.session_max.as_secs(), state.settings.secure_cookies),
    );
    response
}

/// `POST /auth/logout` (behind the middleware, so it carries the session's CSRF token).
pub async fn logout(State(state): State<AppState>, req: Request) -> Response {
    if let Some(token) = cookie(req.headers(), SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(&sha256_hex(token)).await
    {
        tracing::warn!(error = %e, "could not delete a session at sign-out");
    }
    if let Some(caller) = req.extensions().get::<access::Caller>() {
        access::audit(&state, &caller.viewer.email, caller.viewer.role.as_str(), &caller.ip, "logout", "", "ok").await;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, session_cookie("", 0, state.settings.secure_cookies));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/orders/ORD-A3F8D2?x=1")), "/orders/ORD-A3F8D2?x=1");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "orders"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn the_limiter_counts_failures_in_its_window() {
        let l = LoginLimiter::default();
        for _ in 0..PER_ACCOUNT {
            assert!(l.wait("account:a@b.example", PER_ACCOUNT).is_none());
            l.fail("account:a@b.example".into());
        }
        assert!(l.wait("account:a@b.example", PER_ACCOUNT).is_some());
        l.clear("account:a@b.example");
        assert!(l.wait("account:a@b.example", PER_ACCOUNT).is_none());
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
