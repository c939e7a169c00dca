//! The `orderdesk` binary: see `orderdesk --help`.

use clap::Parser;
use orderdesk::cli::{Cli, exit, run};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands freed memory back to the OS 10 ms after it is freed. mimalloc v3's default, a second,
/// held more memory under 500 clients; at 1 ms, what shipped before, memory handed back after
/// one page was faulted in again by the next. 10 ms took about 4 % off the server's CPU per
/// page with the resident set as low as at 1 ms (BENCHMARKS.md, "mimalloc's purge delay").
/// An operator's own `MIMALLOC_PURGE_DELAY` (milliseconds) is left to mimalloc, which reads it.
fn purge_freed_memory_soon() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // `mi_option_purge_delay` in mimalloc's option enum (the same in its v2 and v3 headers).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a process-wide integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) }
}

fn main() -> std::process::ExitCode {
    purge_freed_memory_soon();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime {
        Ok(runtime) => exit(runtime.block_on(run(Cli::parse()))),
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
