//! The `orderdesk` binary: see `orderdesk --help`.

use clap::Parser;
use orderdesk::cli::{Cli, exit, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit(run(Cli::parse()).await)
}
