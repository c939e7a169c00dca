//! QR codes as SVG, rendered on the server so they show without JavaScript.

use qrcode::{EcLevel, QrCode, render::svg};

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
