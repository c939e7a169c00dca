//! Route and query parameters read as domain types (`#[derive(Params)]`), and what a person
//! reads when one does not parse: the parser's own words, as the server would say them.

use leptos_router::params::ParamsError;

use crate::domain::error::AppError;

/// A parameter the page needs, parsed; a 400's message when it is missing or does not parse.
pub fn required<T>(read: Result<Option<T>, ParamsError>, what: &str) -> Result<T, AppError> {
    match read {
        Ok(Some(value)) => Ok(value),
        Ok(None) | Err(ParamsError::MissingParam(_)) => {
            Err(AppError::BadInput(format!("The address names no {what}.")))
        }
        Err(ParamsError::Params(why)) => Err(AppError::BadInput(why.to_string())),
    }
}
