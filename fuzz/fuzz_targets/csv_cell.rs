//! The CSV cell guard: a cell is one quoted field whatever the text, and never starts a
//! formula in a spreadsheet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orderdesk::domain::text::csv_cell;

fuzz_target!(|text: &str| {
    let cell = csv_cell(text);
    assert!(cell.len() >= 2 && cell.starts_with('"') && cell.ends_with('"'));
    let inner = &cell[1..cell.len() - 1];
    // Every quote inside is doubled: the cell is one field.
    assert!(!inner.replace("\"\"", "").contains('"'), "{cell:?}");
    assert!(!inner.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']), "{cell:?}");
});
