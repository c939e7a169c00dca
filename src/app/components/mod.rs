//! Widgets shared by pages.

pub mod copy_button;
pub mod error_notice;
pub mod header;
pub mod order_table;
pub mod search_form;
pub mod theme_toggle;
