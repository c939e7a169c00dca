//! The `orderdesk` command line. Every subcommand validates its flags and settings and
//! fails with one clear line and a non-zero exit.

use std::{path::Path, process::ExitCode, sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use crate::{
    config::{CONFIG_FILE, Settings},
    server::{self, AppState},
    storage::{
        Store, StorageError,
        demo::{DemoSpec, generate},
    },
};

/// orderdesk: the admin dashboard and ID service for ORD- and BB- order identifiers.
///
/// Settings come from Leptos.toml's [orderdesk] section and environment variables
/// (MONGODB_URI, ORDERDESK_DATABASE, LEPTOS_SITE_ADDR, …).
#[derive(Debug, Parser)]
#[command(name = "orderdesk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and the API (the default with no subcommand).
    Serve,
    /// Load deterministic demo data: both systems' orders, sessions, payments, counters.
    SeedDemo(SeedDemoArgs),
}

#[derive(Debug, clap::Args)]
pub struct SeedDemoArgs {
    /// How many orders to generate (1 to 5,000,000).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
    pub orders: u64,
    /// Random seed: the same seed (and --now) gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The moment the 30 days of data end at (RFC 3339); default: now.
    #[arg(long, value_parser = parse_rfc3339)]
    pub now: Option<DateTime<Utc>>,
    /// Do nothing if the database already holds orders (used by scripts/dev).
    #[arg(long, conflicts_with = "reset")]
    pub if_empty: bool,
    /// Drop the whole database first. Never point this at production.
    #[arg(long)]
    pub reset: bool,
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected a time like 2026-11-21T12:00:00Z ({e})"))
}

/// Runs the command; errors are printed as one line by `main`.
pub async fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::load(Path::new(CONFIG_FILE)).map_err(|e| e.to_string())?;
    init_tracing(&settings);
    let store = Store::connect(&settings).await.map_err(|e| e.to_string())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, store).await,
        Command::SeedDemo(args) => seed_demo(&settings, &store, args).await,
    }
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,mongodb=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if settings.log_json { builder.json().try_init() } else { builder.try_init() };
}

async fn serve(settings: Settings, store: Store) -> Result<(), String> {
    let leptos = if Path::new(CONFIG_FILE).exists() {
        leptos::config::get_configuration(Some(CONFIG_FILE))
    } else {
        leptos::config::get_configuration(None)
    }
    .map_err(|e| format!("Leptos settings in {CONFIG_FILE}: {e}"))?;
    let addr = leptos.leptos_options.site_addr;
    // Index builds over big collections take seconds: serve meanwhile.
    tokio::spawn({
        let store = store.clone();
        async move { report_indexes(&store).await }
    });
    let state = AppState {
        leptos_options: leptos.leptos_options,
        store,
        settings: Arc::new(settings),
        started: Instant::now(),
    };
    server::serve(state, addr).await.map_err(|e| format!("cannot serve on {addr}: {e}"))
}

/// Ensures indexes and says plainly which ones legacy data blocks; never stops start-up.
async fn report_indexes(store: &Store) {
    for outcome in store.ensure_indexes().await {
        match outcome.result {
            Ok(()) => {}
            Err(StorageError::DuplicateKey { .. }) => tracing::error!(
                collection = outcome.index.collection,
                index = outcome.index.name,
                "index {}.{} is blocked by existing data (missing, null or duplicate values); \
                 orderdesk runs without it — see the Maintenance page",
                outcome.index.collection,
                outcome.index.name
            ),
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable at start-up; indexes will be checked on the next start");
                return;
            }
            Err(e) => tracing::error!(index = outcome.index.name, error = %e, "could not create index"),
        }
    }
}

async fn seed_demo(settings: &Settings, store: &Store, args: SeedDemoArgs) -> Result<(), String> {
    let existing = store.order_count().await.map_err(|e| e.to_string())?;
    if existing > 0 {
        if args.if_empty {
            println!("database {} already holds {existing} orders; demo data not loaded", store.database_name());
            return Ok(());
        }
        if !args.reset {
            return Err(format!(
                "database {} already holds {existing} orders; pass --reset to replace everything in it, or --if-empty to skip",
                store.database_name()
            ));
        }
    }
    if args.reset {
        store.drop_database().await.map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let spec = DemoSpec {
        orders: args.orders as usize,
        seed: args.seed,
        now: args.now.unwrap_or_else(Utc::now),
        time_zone: settings.time_zone,
    };
    let report = store.insert_demo(generate(&spec)).await.map_err(|e| e.to_string())?;
    println!(
        "loaded {} orders ({} marketplace, {} legacy without order_id, {} duplicated order_id), {} sessions, {} payments, {} counters into {} in {:.1}s",
        report.orders,
        report.marketplace_orders,
        report.legacy_without_order_id,
        report.duplicated_order_ids,
        report.sessions,
        report.payments,
        report.counters,
        store.database_name(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Maps the outcome to the process exit code: 0, or 1 after one `error:` line.
pub fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
