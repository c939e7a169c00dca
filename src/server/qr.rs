//! QR codes as SVG, rendered on the server so they show without JavaScript, served as an
//! image of their own (`/qr/{order_id}.svg`): the order page only names it, so the browser
//! caches it and the page is not held up by the QR encoder (a fifth of the page's CPU when
//! it was inline; BENCHMARKS.md).

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use qrcode::{EcLevel, QrCode, render::svg};

use super::{AppState, access::SupportCaller};

/// Longest order_id a QR code is drawn for: stored IDs are at most 64 characters.
const MAX_ID: usize = 128;

/// Where an order's tracking QR code is served.
pub fn href(order_id: &str) -> String {
    format!("/qr/{}.svg", crate::domain::text::urlencode(order_id))
}

/// `GET /qr/{order_id}.svg`: the tracking URL of that order_id as a QR code. It reads no
/// data (the code is the configured base and the ID), but is for signed-in staff only.
pub async fn image(_caller: SupportCaller, State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".svg").filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID) else {
        return (
            StatusCode::NOT_FOUND,
            "a QR code is at /qr/{order_id}.svg, for an order_id of at most 128 characters\n",
        )
            .into_response();
    };
    let url = format!("{}{}", state.settings.tracking_url_base, crate::domain::text::urlencode(id));
    match svg(&url) {
        Some(svg) => {
            let mut response = svg.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
            // The same ID always draws the same code, unless the tracking base is reconfigured.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
            response
        }
        None => (StatusCode::UNPROCESSABLE_ENTITY, "this tracking URL is too long for a QR code\n").into_response(),
    }
}

/// An SVG QR code of a URL; `None` if it is too long to encode.
pub fn svg(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    let doc = code.render::<svg::Color>().min_dimensions(160, 160).quiet_zone(true).build();
    // Inline in HTML: drop the XML declaration before <svg>.
    doc.find("<svg").map(|at| doc[at..].to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_an_svg() {
        let svg = super::svg("https://track.example.com/t/ORD-20251114123456-a3f8d2b4").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }
}
