//! Widgets shared by pages.

pub mod charts;
pub mod command_palette;
pub mod copy_button;
pub mod error_notice;
pub mod figure;
pub mod header;
pub mod order_table;
pub mod search_form;
pub mod source_reports;
pub mod theme_toggle;
