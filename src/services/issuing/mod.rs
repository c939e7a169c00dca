//! Issuing identifiers: order IDs from a clock and a random source, BB numbers from the
//! daily counters (stamped in this process's millisecond lane, so no two are alike), and new orders stored under the unique index with bounded retries.

pub mod create_order;
pub mod number_lanes;
pub mod order_ids;
pub mod order_numbers;

pub use create_order::{CreateOrderError, OrderCreator, Stored};
pub use order_ids::{IdGenerator, IdScheme};
pub use order_numbers::{IssuedNumber, NumberAllocator, NumberPolicy};
