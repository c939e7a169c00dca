//! The `orderdesk` binary: see `orderdesk --help`.

use clap::Parser;
use orderdesk::cli::{Cli, exit, run};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit(run(Cli::parse()).await)
}
