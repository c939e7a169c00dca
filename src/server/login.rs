//! Signing in and out over HTTP: a plain HTML form (it works without JavaScript) whose
//! answer is `services::sign_in`'s (rate limits, Argon2, the session, the audit entry).
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
    access::{self, cookie, session_cookie, session_cookie_name},
    html,
};
use crate::{
    domain::accounts::Email,
    domain::audit::{Actor, AuditEntry, audit_due},
    domain::paths::local_path,
    domain::tokens::{random_token, same, sha256_hex},
    services::sign_in::{Attempt, SignIn, SignInRefusal},
};

/// The sign-in form's double-submit cookie; `__Host-` when cookies are `Secure`.
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-od_login" } else { "od_login" }
}

pub use crate::services::sign_in::{ACCOUNT_FREE, PER_ADDRESS, PER_PAIR, PasswordChecks, WINDOW, account_delay};

/// How long a sign-in waits for an Argon2 slot before it is told to retry...
const HASH_QUEUE: Duration = Duration::from_secs(5);
/// ...and never so long that the hash and the writes after it would pass the request's
/// deadline: past it the sign-in would end in a bare 504 instead of "busy, try again".
const AFTER_QUEUE: Duration = Duration::from_secs(2);

fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    if let Ok(v) = HeaderValue::from_str(&crate::domain::net::retry_after_secs(wait).to_string()) {
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
    let response = html::sign_in(&next, &token, "", None).into_response();
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

/// `POST /auth/login`: the form parsed and its double-submit token checked here, the sign-in
/// itself in `services::sign_in`, its refusal mapped to an answer once.
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
    let secure = state.settings.secure_cookies();
    let again = |status: StatusCode, email: &str, message: &str| {
        let token = random_token();
        let response = (status, html::sign_in(&next, &token, email, Some(message))).into_response();
        with_login_cookie(response, &token, secure)
    };
    let now = Utc::now();
    let cookie_token = cookie(&headers, login_cookie_name(secure)).unwrap_or("");
    if form.csrf.is_empty() || !same(&form.csrf, cookie_token) {
        if let Ok(r) = state.store.reserve_attempt(&format!("csrf:{counted}"), WINDOW, now).await
            && audit_due(r.count)
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
    let sign_in = SignIn {
        store: &state.store,
        audit: &state.audit,
        password_checks: &state.password_checks,
        session_idle: state.settings.session_idle,
        session_max: state.settings.session_max,
    };
    let hash_wait = HASH_QUEUE.min(deadline.left().saturating_sub(AFTER_QUEUE));
    let attempt = Attempt { email: email.clone(), password: form.password, ip, counted, hash_wait };
    match sign_in.sign_in(attempt, now).await {
        Ok(session) => {
            let mut response = Redirect::to(&next).into_response();
            let max_age = state.settings.session_max.as_secs();
            response.headers_mut().append(header::SET_COOKIE, session_cookie(&session.token, max_age, secure));
            response
        }
        Err(refusal) => {
            let status = match &refusal {
                SignInRefusal::TooManyAttempts { .. } | SignInRefusal::AccountRate { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                SignInRefusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
                SignInRefusal::WrongCredentials => StatusCode::UNAUTHORIZED,
                SignInRefusal::Unavailable(e) => {
                    tracing::warn!(error = %e, "sign-in could not reach the database");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            let response = again(status, email.as_str(), &refusal.to_string());
            match refusal.retry_after() {
                Some(wait) => with_retry_after(response, wait),
                None => response,
            }
        }
    }
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
