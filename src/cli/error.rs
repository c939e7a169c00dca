//! What a command says when it cannot do what was asked: one line, naming the flag, the
//! setting or the state to fix. Exit status 1.

use crate::{
    config::ConfigError,
    domain::ids::ParseError,
    services::runs::MaintenanceError,
    startup::StartupError,
    storage::{StorageError, counters::CounterError},
};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag or argument that does not parse.
    #[error("{flag}: {error}")]
    Input { flag: &'static str, error: ParseError },
    #[error(transparent)]
    Settings(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Counter(#[from] CounterError),
    #[error(transparent)]
    Maintenance(#[from] MaintenanceError),
    #[error("{what}: {error}")]
    Io { what: &'static str, error: std::io::Error },
    /// The command ran and found something wrong (missing indexes, a refused apply, an
    /// account that exists): the message says what and what to do.
    #[error("{0}")]
    Refused(String),
}

impl CliError {
    pub fn input(flag: &'static str, error: ParseError) -> Self {
        Self::Input { flag, error }
    }

    pub fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |error| Self::Io { what, error }
    }
}

impl From<ParseError> for CliError {
    /// An argument without a flag name (`id parse <text>`, an email).
    fn from(error: ParseError) -> Self {
        Self::Refused(error.to_string())
    }
}
