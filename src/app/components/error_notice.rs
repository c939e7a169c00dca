use leptos::prelude::*;

use crate::domain::error::AppError;

/// Shows an error as a person should read it, and (on the server) gives the response the
/// matching HTTP status, so a dead database is a 503 page rather than a spinner. `part`: the
/// error is of one part of a page that otherwise stands, and leaves the page's status alone.
#[component]
pub fn ErrorNotice(error: AppError, #[prop(optional)] part: bool) -> impl IntoView {
    // Only the server sets a status; in the browser the response is long gone.
    #[cfg(not(feature = "ssr"))]
    let _ = part;
    #[cfg(feature = "ssr")]
    if !part
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    let title = match &error {
        AppError::DatabaseUnavailable(_) => "Database unavailable",
        AppError::DatabaseElecting(_) => "Database electing a new primary",
        AppError::BadInput(_) => "Check the input",
        AppError::NotFound(_) => "Not found",
        AppError::Conflict(_) => "Busy",
        AppError::Unauthorized(_) => "Signed out",
        AppError::Forbidden(_) => "Not allowed",
        AppError::Busy(_) => "Try again shortly",
        AppError::Internal(_) | AppError::Transport(_) => "Something went wrong",
    };
    view! {
        <div
            role="alert"
            data-error=title
            class="rounded-lg border border-amber-300 bg-amber-50 p-4 text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
        >
            <p class="font-semibold">{title}</p>
            <p class="mt-1 text-sm">{error.to_string()}</p>
        </div>
    }
}

/// The error of an action's last call (`action.value()`), as a notice under the control that
/// made it; nothing while it has not failed.
#[component]
pub fn ActionError<T>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    #[prop(optional)] class: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || {
        let error = value.with(|v| v.as_ref().and_then(|r| r.as_ref().err().cloned()));
        error.map(|error| {
            view! {
                <div class=class>
                    <ErrorNotice error />
                </div>
            }
        })
    }
}

/// A page's one boundary for what it loads: each part inside renders `Result<view, AppError>`,
/// and an error in any of them is shown as an [`ErrorNotice`] in place of the whole (with the
/// page's status), instead of every part matching on its own error.
#[component]
pub fn PageErrors(children: Children, #[prop(optional)] class: &'static str) -> impl IntoView {
    view! {
        <ErrorBoundary fallback=move |errors| {
            let first = errors.with(|all| all.iter().next().map(|(_, e)| app_error(e)));
            first
                .map(|error| {
                    // The first error is the one a person acts on; the others usually share its cause.
                    view! {
                        <div class=class>
                            <ErrorNotice error />
                        </div>
                    }
                })
        }>{children()}</ErrorBoundary>
    }
}

/// The [`AppError`] inside an error the boundary caught (every page loads through server
/// functions, whose errors are `AppError`s).
fn app_error(e: &leptos::error::Error) -> AppError {
    e.downcast_ref::<AppError>().cloned().unwrap_or_else(|| AppError::Internal(e.to_string()))
}

/// The systems that did not answer a page that shows the others' orders: said above the
/// list, so a short list is never taken for all there is.
#[component]
pub fn OutageNotice(outages: Vec<crate::domain::orders::SourceOutage>) -> impl IntoView {
    (!outages.is_empty()).then(|| {
        view! {
            <div
                role="status"
                data-testid="source-outage"
                class="mb-3 rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
            >
                <p class="font-semibold">"Only part of the orders: a system did not answer"</p>
                <ul class="mt-1 list-disc pl-5">
                    {outages
                        .into_iter()
                        .map(|o| {
                            view! { <li>{o.to_string()} ". Its orders are missing below; reload to try again."</li> }
                        })
                        .collect_view()}
                </ul>
            </div>
        }
    })
}
