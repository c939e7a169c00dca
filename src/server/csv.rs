//! CSV cells that no spreadsheet executes (OWASP's CSV-injection guidance): every text
//! cell is quoted, and one that starts with `=`, `+`, `-`, `@`, a tab, CR or LF gets a
//! leading `'`, so it is read as text, never as a formula. Numbers orderdesk formats
//! itself are written bare.

/// A text cell (order fields come from bots and customers: never trusted).
pub fn text(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']) { "'" } else { "" };
    format!("\"{defused}{}\"", s.replace('"', "\"\""))
}

/// One line of text cells and orderdesk's own numbers, in column order.
pub fn line(cells: impl IntoIterator<Item = String>) -> String {
    let mut line = cells.into_iter().collect::<Vec<_>>().join(",");
    line.push('\n');
    line
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
