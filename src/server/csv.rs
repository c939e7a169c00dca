//! CSV cells that no spreadsheet executes (OWASP's CSV-injection guidance): every text
//! cell is quoted, and one that starts with `=`, `+`, `-`, `@`, a tab, CR or LF gets a
//! leading `'`, so it is read as text, never as a formula. Numbers orderdesk formats
//! itself are written bare.

pub use crate::domain::text::csv_cell as text;

/// One line of text cells and orderdesk's own numbers, in column order.
pub fn line(cells: impl IntoIterator<Item = String>) -> String {
    let mut line = cells.into_iter().collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

/// An export may run this long in all; past it the download ends broken, and the person
/// narrows the filter.
pub const EXPORT_TIME: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// One page of an export and the cursor of the page after it (`None`: it was the last).
pub type Page<T, C> = (Vec<T>, Option<C>);

/// A CSV download read page by page: `first` (read before the status is sent, so an outage
/// is a clear 503), then `next(cursor)` for each page after it, each one bounded call read
/// only when the client has taken the page before. Nothing is held between pages but
/// `place` (the export's own place, given back when the body ends, when the client leaves, or
/// after [`EXPORT_TIME`] at the latest: a client that stops reading holds only its socket then).
/// A failure half way, or [`EXPORT_TIME`] passing, ends the body early, which the client sees
/// as a broken download rather than a silently short file.
pub fn download<T, C, F, Fut>(
    file: &'static str,
    header: &'static str,
    first: Page<T, C>,
    next: F,
    row: fn(&T) -> String,
    place: super::places::Place,
) -> axum::response::Response
where
    T: Send + 'static,
    C: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Page<T, C>, crate::storage::StorageError>> + Send,
{
    use axum::{
        http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE},
        response::IntoResponse,
    };
    use futures::StreamExt;

    let ends = tokio::time::Instant::now() + EXPORT_TIME;
    // The place is held by a small task that lets it go when the body does (the sender inside
    // the body is dropped) or when the export's time is up, whichever comes first: a body the
    // client no longer reads is never polled, so it could not end itself.
    let (held, body_gone) = tokio::sync::oneshot::channel::<std::convert::Infallible>();
    tokio::spawn(async move {
        let _place = place;
        let _ = tokio::time::timeout_at(ends, body_gone).await;
    });
    let next = std::sync::Arc::new(next);
    let pages = futures::stream::unfold(Some((Some(first), None::<C>, held)), move |state| {
        let next = next.clone();
        async move {
            let (page, cursor, held) = state?;
            let (rows, after) = match (page, cursor) {
                (Some(page), _) => page,
                (None, Some(cursor)) if tokio::time::Instant::now() < ends => match next(cursor).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(file, error = %e, "an export failed half way");
                        return Some((Err(std::io::Error::other(e)), None));
                    }
                },
                (None, Some(_)) => {
                    tracing::warn!(file, "an export ran past its time and was ended");
                    return Some((Err(std::io::Error::other("the export ran past its time")), None));
                }
                (None, None) => return None,
            };
            let chunk: String = rows.iter().map(row).collect();
            let state = after.map(|cursor| (None, Some(cursor), held));
            Some((Ok(chunk), state))
        }
    });
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(header.to_owned()) })
        .chain(pages)
        // The body may be polled again after its end; an unfused stream would panic.
        .fuse();
    let disposition = format!("attachment; filename=\"{file}\"");
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// The answer when an export cannot start: the caller, or the process, has as many
/// running as it may.
pub fn too_many_exports() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, "10")],
        format!(
            "You (or everyone together) have as many exports running as may run at once ({} each, {} in all). \
             Let one finish and try again.\n",
            super::EXPORTS_PER_ACCOUNT,
            super::EXPORTS
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn text_is_quoted_and_every_formula_start_defused() {
        assert_eq!(text("plain"), "\"plain\"");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        for start in ["=", "+", "-", "@", "\t", "\r", "\n"] {
            let cell = format!("{start}HYPERLINK(\"http://x\")");
            assert!(text(&cell).starts_with("\"'"), "{cell:?} → {}", text(&cell));
        }
        assert_eq!(text("-2+3+cmd|' /C calc'!A0"), "\"'-2+3+cmd|' /C calc'!A0\"");
    }
}
