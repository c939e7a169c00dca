//! The error every server function returns: what a person needs to know, nothing more.
//! Storage and domain errors are mapped to it once, here.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// An error as the browser sees it. Messages are written for the support agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("The database is unavailable right now. orderdesk keeps retrying; reload in a few seconds. ({0})")]
    DatabaseUnavailable(String),
    /// A replica set electing its next primary: seconds, not an outage.
    #[error("The database is electing a new primary, which takes a few seconds; reload shortly. ({0})")]
    DatabaseElecting(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is fine but clashes with something under way (a migration running).
    #[error("{0}")]
    Conflict(String),
    /// Not signed in (or the session ended).
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// A limit of the caller's own was reached (too many at once, a rate): try again later.
    #[error("{0}")]
    Busy(String),
    #[error("Something went wrong on the server: {0}")]
    Internal(String),
    #[error("Could not reach orderdesk: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status this error is reported with.
    pub fn status(&self) -> u16 {
        match self {
            Self::DatabaseUnavailable(_) | Self::DatabaseElecting(_) => 503,
            Self::BadInput(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::Busy(_) => 429,
            Self::Internal(_) | Self::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Arguments that do not parse (a server function takes domain types, which parse as
    /// they are read) are the caller's to mend: 400 with the parser's words.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(why) => Self::BadInput(format!("The request's arguments are not valid: {why}")),
            other => Self::Transport(other.to_string()),
        }
    }
}

impl From<crate::domain::ids::ParseError> for AppError {
    fn from(e: crate::domain::ids::ParseError) -> Self {
        Self::BadInput(e.to_string())
    }
}
