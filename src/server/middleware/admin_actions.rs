//! Every state-changing request to what needs the admin role is an admin action, audited
//! with its parameters (never the CSRF token) and its outcome.

use axum::{extract::Request, extract::State, middleware::Next, response::Response};

use super::{body::bytes_of, csrf::changes_state, signed_in::Required};
use crate::{
    domain::accounts::Role,
    server::{
        AppState,
        access::{Caller, action_name, audit, params_without_token},
    },
    storage::audit::AuditEntry,
};

pub async fn audit_each(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let caller = req.extensions().get::<Caller>().cloned();
    let admin = req.extensions().get::<Required>() == Some(&Required(Role::Admin));
    let Some(caller) = caller.filter(|_| admin && changes_state(req.method())) else {
        return next.run(req).await;
    };
    let (req, bytes) = match bytes_of(req).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let action = action_name(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    let outcome = if status.is_success() || status.is_redirection() {
        "ok".to_owned()
    } else {
        format!("failed: HTTP {}", status.as_u16())
    };
    let entry = AuditEntry::new(&caller.actor(), &action, &outcome).with_params(&params_without_token(&bytes));
    let _ = audit(&state, entry).await;
    response
}
