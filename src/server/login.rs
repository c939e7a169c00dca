//! Signing in and out: a plain HTML form (it works without JavaScript), Argon2 password
//! checks, rate limits per account and per address, and an audit entry for every attempt.
//!
//! Before sign-in there is no session to hold a CSRF token, so the form uses a
//! double-submit cookie: `od_login` and the form's `_csrf` field must match.

use std::time::Duration;

use axum::{
    Form,
    extract::{FromRequest, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use serde::Deserialize;

use super::{
    AppState,
    access::{self, CSRF_FIELD, cookie, session_cookie, session_cookie_name},
    html::{escape, page},
};
use crate::{
    domain::accounts::{Email, password},
    domain::audit::{Actor, AuditEntry},
    domain::tokens::{random_token, same, sha256_hex},
};

/// The sign-in form's double-submit cookie; `__Host-` when cookies are `Secure`.
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-od_login" } else { "od_login" }
}
/// Attempts per account *and* address in [`WINDOW`]: past it, that pair waits the window out.
pub const PER_PAIR: u64 = 5;
/// Attempts per address (any accounts) in [`WINDOW`].
pub const PER_ADDRESS: u64 = 20;
/// Attempts per account (any addresses) before the account is held to a rate: one attempt
/// per [`account_delay`], the rest refused with 429 and `Retry-After` (never made to wait, so
/// parallel guesses do not all proceed). An attacker with many addresses is slowed down,
/// while the owner, from an address of their own, still signs in (a few seconds later, not
/// never).
pub const ACCOUNT_FREE: u64 = 10;
const MAX_DELAY: Duration = Duration::from_secs(4);
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address an account signed in from stays known to it.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a sign-in waits for an Argon2 slot before it is told to retry...
const HASH_QUEUE: Duration = Duration::from_secs(5);
/// ...and never so long that the hash and the writes after it would pass the request's
/// deadline: past it the sign-in would end in a bare 504 instead of "busy, try again".
const AFTER_QUEUE: Duration = Duration::from_secs(2);

/// The time between attempts on one account let through once it has had `n` (counted over
/// every address).
pub fn account_delay(n: u64) -> Duration {
    if n <= ACCOUNT_FREE {
        return Duration::ZERO;
    }
    let steps = (n - ACCOUNT_FREE - 1).min(16) as u32;
    (Duration::from_millis(125) * 2u32.pow(steps)).min(MAX_DELAY)
}

/// Refusals that check nothing (rate-limited, bad form token) are audited as a count
/// (`access::audit_due`), so nobody can flood the log anonymously.
use access::audit_due as audit_refusal;

/// Argon2 runs on the blocking pool, at most this many at once (one per core): a burst of
/// sign-ins queues here instead of starving the async workers that serve everything else.
#[derive(Debug)]
pub struct PasswordChecks(tokio::sync::Semaphore);

impl Default for PasswordChecks {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
    }
}

impl PasswordChecks {
    /// `None` when no slot came free in time.
    async fn verify(&self, password: String, stored: String, queue: Duration) -> Option<bool> {
        let _slot = tokio::time::timeout(queue, self.0.acquire()).await.ok()?.ok()?;
        tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.ok()
    }
}

use crate::domain::paths::local_path;

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

fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn with_login_cookie(mut response: Response, token: &str, secure: bool) -> Response {
    let name = login_cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    if let Ok(v) =
        HeaderValue::from_str(&format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"))
    {
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
    with_login_cookie(response, &token, state.settings.secure_cookies())
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
    let deadline = req
        .extensions()
        .get::<super::Deadline>()
        .copied()
        .unwrap_or_else(|| super::Deadline(tokio::time::Instant::now() + state.settings.request_timeout));
    let ip = access::client_ip(&req);
    // Limits count a client's address (an IPv6 address as its /64), found behind trusted proxies.
    let counted = access::client_limit_key(req.extensions());
    let headers = req.headers().clone();
    // Refused from its declared length, before a byte of it is read.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > super::LOGIN_BODY_LIMIT) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the sign-in form is larger than 4 KiB").into_response();
    }
    let form = match Form::<LoginForm>::from_request(req, &state).await {
        Ok(Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the sign-in form is larger than 4 KiB").into_response();
        }
        Err(_) => return (StatusCode::BAD_REQUEST, "send the sign-in form: email, password and _csrf").into_response(),
    };
    let next = local_path(form.next.as_deref());
    let again = |status: StatusCode, email: &str, message: &str| {
        let token = random_token();
        let response =
            (status, page("Sign in · orderdesk", &login_form(&next, &token, email, Some(message)))).into_response();
        with_login_cookie(response, &token, state.settings.secure_cookies())
    };
    let secure = state.settings.secure_cookies();
    let cookie_token = cookie(&headers, login_cookie_name(secure)).unwrap_or("");
    let now = Utc::now();
    if form.csrf.is_empty() || !same(&form.csrf, cookie_token) {
        if let Ok(r) = state.store.reserve_attempt(&format!("csrf:{counted}"), WINDOW, now).await
            && audit_refusal(r.count)
        {
            let params = format!("email={}", form.email.trim().chars().take(254).collect::<String>());
            let outcome = format!("denied: CSRF token missing or wrong ({} from this address in this window)", r.count);
            let entry = AuditEntry::new(&Actor::visitor(None, &ip), "login", &outcome).with_params(&params);
            let _ = access::audit(&state, entry).await;
        }
        return again(StatusCode::FORBIDDEN, &form.email, "The sign-in form expired. Please sign in again.");
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return again(StatusCode::BAD_REQUEST, &form.email, e.message()),
    };
    let unavailable = |e: crate::storage::StorageError| {
        tracing::warn!(error = %e, "sign-in could not reach the database");
        again(
            StatusCode::SERVICE_UNAVAILABLE,
            email.as_str(),
            "The database is unavailable. Try again in a few seconds.",
        )
    };
    // Each attempt is counted before its password is looked at.
    let (pair_key, ip_key, account_key) =
        (format!("login:{email}|{counted}"), format!("login-ip:{counted}"), format!("login-account:{email}"));
    let store = &state.store;
    // All three run to the end (`join!`, not `try_join!`): a database call is never dropped
    // half way through the driver (see `storage::PoolGate`).
    let (pair, by_ip, by_account) = match tokio::join!(
        store.reserve_attempt(&pair_key, WINDOW, now),
        store.reserve_attempt(&ip_key, WINDOW, now),
        store.reserve_attempt(&account_key, WINDOW, now),
    ) {
        (Ok(pair), Ok(by_ip), Ok(by_account)) => (pair, by_ip, by_account),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unavailable(e),
    };
    // Where the account's owner signed in before, neither the address's limit (an office
    // behind one NAT is not locked out by one guesser among them) nor the account's rate (a
    // flood from elsewhere cannot take every slot from the owner) refuses them; the pair's own
    // limit still holds there. Asked only when one of the two would refuse.
    let known_key = format!("login-known:{email}|{counted}");
    let gap = account_delay(by_account.count);
    let known = if by_ip.count > PER_ADDRESS || !gap.is_zero() {
        matches!(store.attempt_count(&known_key, now).await, Ok(Some(n)) if n > 0)
    } else {
        false
    };
    let address_over = by_ip.count > PER_ADDRESS && !known;
    let over = [(pair, PER_PAIR, pair.count > PER_PAIR), (by_ip, PER_ADDRESS, address_over)]
        .into_iter()
        .find(|(_, _, over)| *over)
        .map(|(r, limit, _)| (r, limit));
    if let Some((r, limit)) = over {
        if audit_refusal(r.count - limit) {
            let outcome = format!("denied: rate limited ({} attempts in this window)", r.count);
            let _ =
                access::audit(&state, AuditEntry::new(&Actor::visitor(Some(email.as_str()), &ip), "login", &outcome))
                    .await;
        }
        let minutes = r.wait(now).as_secs().div_ceil(60).max(1);
        return with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                email.as_str(),
                &format!(
                    "Too many failed sign-ins. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            ),
            r.wait(now),
        );
    }
    // Past its free attempts the account is held to a rate: this attempt takes the next slot
    // or is refused at once, so a turn is never spent asleep.
    if !gap.is_zero() && !known {
        let taken = match store.take_slot(&account_key, now, gap).await {
            Ok(taken) => taken,
            Err(e) => return unavailable(e),
        };
        if !taken {
            let wait = match store.next_slot(&account_key, now).await {
                Ok(at) => at.and_then(|at| (at - now).to_std().ok()).unwrap_or(gap),
                Err(_) => gap,
            };
            if audit_refusal(by_account.count - ACCOUNT_FREE) {
                let outcome = format!("denied: account rate ({} attempts in this window)", by_account.count);
                let entry = AuditEntry::new(&Actor::visitor(Some(email.as_str()), &ip), "login", &outcome);
                let _ = access::audit(&state, entry).await;
            }
            let seconds = wait.as_secs().max(1);
            return with_retry_after(
                again(
                    StatusCode::TOO_MANY_REQUESTS,
                    email.as_str(),
                    &format!("This account has had many sign-in attempts. Try again in {seconds} s."),
                ),
                wait,
            );
        }
    }
    let account = match store.find_staff(&email).await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    // Verify against a dummy hash when there is no account, so timing does not tell.
    let stored = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| password::dummy_hash().to_owned());
    let left = deadline.left().saturating_sub(AFTER_QUEUE);
    let Some(password_ok) = state.password_checks.verify(form.password, stored, HASH_QUEUE.min(left)).await else {
        let mut response = again(
            StatusCode::SERVICE_UNAVAILABLE,
            email.as_str(),
            "orderdesk is busy checking other sign-ins. Try again in a few seconds.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        return response;
    };
    let account = match account {
        Some(a) if password_ok && !a.disabled => a,
        other => {
            let why = match other {
                None => "failed: no such account",
                Some(a) if a.disabled => "failed: account disabled",
                _ => "failed: wrong password",
            };
            let _ =
                access::audit(&state, AuditEntry::new(&Actor::visitor(Some(email.as_str()), &ip), "login", why)).await;
            return again(
                StatusCode::UNAUTHORIZED,
                email.as_str(),
                "That email and password do not match an active account.",
            );
        }
    };
    // A good sign-in is not a failure: its pair starts afresh and it counts against nothing.
    let released = tokio::join!(
        store.clear_attempts(&pair_key),
        store.release_attempt(&ip_key),
        store.release_attempt(&account_key)
    );
    if let (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) = released {
        tracing::warn!(error = %e, "could not give back a good sign-in's rate-limit reservation");
    }
    // Remembered for a month: this account's owner signs in from this address.
    if let Err(e) = store.reserve_attempt(&known_key, KNOWN_FOR, now).await {
        tracing::warn!(error = %e, "could not remember a good sign-in's address");
    }
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
    let _ =
        access::audit(&state, AuditEntry::new(&Actor::staff(&account.email, account.role, &ip), "login", "ok")).await;
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&token, state.settings.session_max.as_secs(), state.settings.secure_cookies()),
    );
    response
}

/// `POST /auth/logout` (behind the middleware, so it carries the session's CSRF token).
pub async fn logout(
    access::SupportCaller(caller): access::SupportCaller,
    State(state): State<AppState>,
    req: Request,
) -> Response {
    if let Some(token) = cookie(req.headers(), session_cookie_name(state.settings.secure_cookies()))
        && let Err(e) = state.store.delete_session(&sha256_hex(token)).await
    {
        tracing::warn!(error = %e, "could not delete a session at sign-out");
    }
    let _ = access::audit(&state, AuditEntry::new(&caller.actor(), "logout", "ok")).await;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, session_cookie("", 0, state.settings.secure_cookies()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_delay_grows_and_is_capped() {
        assert_eq!(account_delay(ACCOUNT_FREE), Duration::ZERO);
        assert_eq!(account_delay(ACCOUNT_FREE + 1), Duration::from_millis(125));
        assert_eq!(account_delay(ACCOUNT_FREE + 2), Duration::from_millis(250));
        assert_eq!(account_delay(ACCOUNT_FREE + 1000), MAX_DELAY);
        assert!(audit_refusal(1) && !audit_refusal(2) && audit_refusal(access::AUDIT_REFUSALS_EVERY));
    }
}
