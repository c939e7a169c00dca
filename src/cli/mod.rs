//! The `orderdesk` command line. Every subcommand validates its flags and settings and
//! fails with one clear line and a non-zero exit.
//!
//! Long (about 400 lines): the subcommands' parsing and dispatch in one place; maintenance and
//! users have files of their own.

use std::{process::ExitCode, time::Instant};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

mod error;
mod maintenance;
pub mod users;

pub use error::CliError;

use crate::{
    config::Settings,
    demo::{self, DemoSpec, generate},
    domain::accounts::{ApiKeyName, ApiKeyScope},
    server,
    services::issuing::{IdGenerator, IdScheme, NumberAllocator},
    startup::{self, Application, Background},
    storage::Store,
};

/// orderdesk: the admin dashboard and ID service for ORD- and BB- order identifiers.
///
/// Settings come from the [orderdesk] section of --config PATH (or ORDERDESK_CONFIG, else
/// Leptos.toml) and environment variables (MONGODB_URI, ORDERDESK_DATABASE, LEPTOS_SITE_ADDR, …).
#[derive(Debug, Parser)]
#[command(name = "orderdesk", version, about)]
pub struct Cli {
    /// A settings file holding an [orderdesk] section (overrides ORDERDESK_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and the API (the default with no subcommand).
    Serve,
    /// Load deterministic demo data: both systems' orders, sessions, payments, counters.
    SeedDemo(SeedDemoArgs),
    /// Make, parse or allocate order identifiers.
    #[command(subcommand)]
    Id(IdCommand),
    /// Manage the keys the bots use for the JSON API.
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Compare the expected indexes with the database, and create the missing ones.
    #[command(subcommand)]
    Indexes(maintenance::IndexesCommand),
    /// Fix legacy order data in batches: order-ids, duplicates, order-numbers.
    Migrate(maintenance::MigrateArgs),
    /// Staff accounts for the dashboard: add, list, disable.
    #[command(subcommand)]
    Users(users::UsersCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Print a new ORD-{YYYYMMDDHHMMSS}-{8 hex} order ID (no database needed).
    Ord,
    /// Print a new pure-UUID order ID (no database needed).
    Uuid,
    /// Say which scheme a text is and print its parts; exit 1 with the reason if none.
    Parse {
        /// The text to read, e.g. "#ORD-A3F8D2" or "BB-1701234567890-A1B2-00001".
        text: String,
    },
    /// Explain whatever a customer sent: the ID's parts (times in the configured zone), or
    /// "did you mean …" for a near form (a lost dash, O for 0, a URL around it); exit 1 if
    /// it is no ID.
    Explain {
        /// The text as pasted, e.g. "my order is ORD-DECODE" or a tracking URL.
        text: String,
    },
    /// Allocate BB order numbers for a vendor from its counter in the database.
    Bb {
        /// The vendor id (letters, digits, '_' and '-').
        #[arg(long)]
        vendor: String,
        /// The user id; its last 4 letters or digits go into the number.
        #[arg(long)]
        user: String,
        /// How many numbers to allocate (1 to 99,999), one per line.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99_999))]
        count: u32,
        /// ultra (BB-{13-digit ms}-…), time-based (BB-{10-digit seconds}-…) or year-based
        /// (BB-YYYYMMDD-…); default: the vendor's setting (number_variants), else ultra.
        #[arg(long)]
        variant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key and print it once; only its hash is stored.
    Create {
        /// Who the key is for, e.g. "shipping-bot".
        #[arg(long)]
        name: String,
        /// What it may do: orders-read, orders-write, numbers, stats, or bots (every bot job).
        #[arg(long, default_value = "bots")]
        scope: String,
        /// The one vendor whose numbers it may draw (any, when not given).
        #[arg(long)]
        vendor: Option<String>,
    },
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
pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Commands that need no settings and no database answer at once.
    match &cli.command {
        Some(Command::Id(IdCommand::Ord)) => {
            println!("{}", IdGenerator::system(IdScheme::Ord).next_id());
            return Ok(());
        }
        Some(Command::Id(IdCommand::Uuid)) => {
            println!("{}", IdGenerator::system(IdScheme::Uuid).next_id());
            return Ok(());
        }
        Some(Command::Id(IdCommand::Parse { text })) => return parse_id(text),
        _ => {}
    }
    let settings = Settings::load_for(cli.config.as_deref())?;
    if let Some(Command::Id(IdCommand::Explain { text })) = &cli.command {
        return explain_id(text, settings.time_zone);
    }
    init_tracing(&settings);
    let command = cli.command.unwrap_or(Command::Serve);
    // Serving connects through start-up, like the tests; every other command here.
    let store = match command {
        Command::Serve => return serve(settings).await,
        _ => Store::connect(&settings).await?,
    };
    match command {
        Command::SeedDemo(args) => seed_demo(&settings, &store, args).await,
        Command::Id(IdCommand::Bb { vendor, user, count, variant }) => {
            allocate_bb(&settings, store, &vendor, &user, count, variant.as_deref()).await
        }
        Command::ApiKeys(ApiKeysCommand::Create { name, scope, vendor }) => {
            create_api_key(&store, &name, &scope, vendor.as_deref()).await
        }
        Command::Indexes(command) => maintenance::indexes(&store, command).await,
        Command::Migrate(args) => maintenance::migrate(&settings, &store, args).await,
        Command::Users(command) => users::run(&store, command).await,
        // Served above; the offline ID commands answered before the database was reached.
        Command::Serve | Command::Id(_) => Ok(()),
    }
}

/// Prints how a pasted text reads; a refusal (exit 1) when it is no ID.
fn explain_id(text: &str, zone: chrono_tz::Tz) -> Result<(), CliError> {
    use crate::domain::ids::explain::{MAX_PASTE, explain};
    if text.len() > MAX_PASTE {
        return Err(CliError::Refused(format!("that is {} characters; paste at most {MAX_PASTE}", text.len())));
    }
    let e = explain(text, zone);
    if let Some(key) = &e.key {
        println!("key: {key}");
    }
    println!("read as: {}", e.read_as);
    for f in &e.facts {
        println!("{}: {}", f.label, f.value);
    }
    if let Some(day) = e.counter_day {
        println!("counter day: {day} (counterId {}-<vendor>)", day.format("%Y%m%d"));
    }
    for s in &e.suggestions {
        println!("did you mean: {} ({})", s.text, s.why);
    }
    if let Some(hint) = &e.hint {
        println!("hint: {hint}");
    }
    if e.is_id {
        Ok(())
    } else if e.suggestions.is_empty() {
        Err(CliError::Refused("this is no order ID, display ID or BB number".into()))
    } else {
        Err(CliError::Refused("this is no ID as it stands; see \"did you mean\" above".into()))
    }
}

/// Prints what a text is, part by part.
fn parse_id(text: &str) -> Result<(), CliError> {
    use crate::domain::ids::{BbStamp, LookupKey, OrderId};
    match LookupKey::parse(text)? {
        LookupKey::OrderId(id @ OrderId::Ord { random, .. }) => {
            println!(
                "scheme: ORD\norder_id: {id}\ncreated: {}\nrandom: {random:08x}\ndisplay_id: {}",
                id.timestamp().map(|t| t.to_rfc3339()).unwrap_or_default(),
                id.display_id()
            );
        }
        LookupKey::OrderId(id @ OrderId::Uuid(u)) => {
            println!("scheme: UUID\norder_id: {id}\nversion: {}\ndisplay_id: {}", u.get_version_num(), id.display_id());
        }
        LookupKey::DisplayId(d) => {
            println!("scheme: display ID (24 bits, not unique)\ndisplay_id: {d}");
        }
        LookupKey::OrderNumber(n) => {
            let time = match n.stamp {
                BbStamp::Millis(ms) => DateTime::from_timestamp_millis(ms as i64).map(|t| t.to_rfc3339()),
                BbStamp::Seconds(s) => DateTime::from_timestamp(s as i64, 0).map(|t| t.to_rfc3339()),
                BbStamp::Date(d) => Some(d.to_string()),
            };
            println!(
                "scheme: {}\norder_number: {n}\ntime: {}\nuser: {}\nsequence: {}",
                n.variant().label(),
                time.unwrap_or_default(),
                n.user,
                n.sequence
            );
        }
        LookupKey::Partial(p) => {
            let (time_missing, random_missing) = p.missing();
            println!(
                "scheme: ORD, shortened\nread_as: {p}\ntime: {} ({time_missing} digits missing)\nrandom: {} ({random_missing} \
                 digits missing)\nfinds_by: {}",
                p.time_shape(),
                p.random(),
                match p.display_id() {
                    Some(d) if p.narrowing() == crate::domain::ids::Narrowing::ByRandom => format!("display_id {d}"),
                    _ => format!("order_id prefix {}", p.stored_prefix()),
                }
            );
        }
        LookupKey::TelegramId(t) => println!("scheme: telegram id\ntelegram_id: {}", t.0),
        LookupKey::LegacyId(l) => {
            return Err(CliError::Refused(format!(
                "{:?} is no order identifier scheme (it could only be a legacy `id` value)",
                l.as_str()
            )));
        }
    }
    Ok(())
}

async fn allocate_bb(
    settings: &Settings,
    store: Store,
    vendor: &str,
    user: &str,
    count: u32,
    variant: Option<&str>,
) -> Result<(), CliError> {
    use crate::domain::ids::{
        BbVariant, UserSuffix, VendorId,
        generate::{MonotonicClock, SystemClock},
    };
    let vendor = VendorId::parse(vendor).map_err(|e| CliError::input("--vendor", e))?;
    let user = UserSuffix::from_user_id(user).map_err(|e| CliError::input("--user", e))?;
    let variant = variant.map(BbVariant::from_name).transpose().map_err(|e| CliError::input("--variant", e))?;
    let allocator = NumberAllocator::new(
        store,
        std::sync::Arc::new(MonotonicClock::new(SystemClock)),
        crate::services::issuing::NumberPolicy::from_settings(settings),
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for _ in 0..count {
        let issued = allocator.allocate(&vendor, user, variant).await?;
        use std::io::Write;
        writeln!(out, "{}", issued.order_number).map_err(CliError::io("could not write to stdout"))?;
    }
    // The lane is free for the next process at once, instead of when its lease runs out.
    allocator.release().await?;
    Ok(())
}

async fn create_api_key(store: &Store, name: &str, scope: &str, vendor: Option<&str>) -> Result<(), CliError> {
    let name = ApiKeyName::parse(name).map_err(|e| CliError::input("--name", e))?;
    let scope = ApiKeyScope::parse(scope).map_err(|e| CliError::input("--scope", e))?;
    let vendor =
        vendor.map(crate::domain::ids::VendorId::parse).transpose().map_err(|e| CliError::input("--vendor", e))?;
    let key = store.create_bound_api_key(&name, scope, vendor.as_ref(), Utc::now()).await?;
    println!("created API key {:?} (scope {scope}); it is shown only now, store it safely:\n{}", key.name, key.key);
    Ok(())
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,mongodb=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if settings.log_json { builder.json().try_init() } else { builder.try_init() };
}

async fn serve(settings: Settings) -> Result<(), CliError> {
    let leptos = startup::leptos_options()?;
    let app = Application::build(settings, leptos, Background::Run).await?;
    app.run_until(server::shutdown_signal()).await.map_err(CliError::io("serving stopped"))
}

async fn seed_demo(settings: &Settings, store: &Store, args: SeedDemoArgs) -> Result<(), CliError> {
    let existing = store.order_count().await?;
    if existing > 0 {
        if args.if_empty {
            println!("database {} already holds {existing} orders; demo data not loaded", store.database_name());
            // Demo accounts have published passwords: only in a database seed-demo filled.
            if store.is_demo().await? {
                return users::ensure_demo_users(store).await;
            }
            println!(
                "it was not filled by seed-demo, so no demo accounts were created; add staff with `orderdesk users add`"
            );
            return Ok(());
        }
        if !args.reset {
            return Err(CliError::Refused(format!(
                "database {} already holds {existing} orders; pass --reset to replace everything in it, or --if-empty to skip",
                store.database_name()
            )));
        }
    }
    // A system's database is written or dropped only when it is empty or seed-demo filled it
    // (the mark is in orderdesk's own): never a production system's that a settings file
    // points at, even one with no orders yet.
    if !store.single_database() {
        let used = store.source_databases_in_use().await?;
        if !used.is_empty() {
            return Err(CliError::Refused(format!(
                "the sources' databases {} already hold data seed-demo did not write; it never writes into or drops a system's database (point [orderdesk.sources] at empty ones for the demo)",
                used.join(", ")
            )));
        }
    }
    if args.reset {
        if !store.single_database() {
            store.drop_source_databases().await?;
        }
        store.drop_database().await?;
    }
    let started = Instant::now();
    let spec = DemoSpec {
        orders: args.orders as usize,
        seed: args.seed,
        now: args.now.unwrap_or_else(Utc::now),
        time_zone: settings.time_zone,
    };
    let report = demo::insert(store, generate(&spec)).await?;
    let bots = demo::bots::insert(store, spec.seed, Utc::now()).await?;
    store.mark_demo(Utc::now()).await?;
    println!(
        "loaded {} orders ({} marketplace, {} legacy without order_id, {} duplicated order_id, {} without BB number), {} sessions, {} payments, {} counters, {bots} bot API keys with a day of calls into {} in {:.1}s",
        report.orders,
        report.marketplace_orders,
        report.legacy_without_order_id,
        report.duplicated_order_ids,
        report.legacy_without_order_number,
        report.sessions,
        report.payments,
        report.counters,
        store.database_name(),
        started.elapsed().as_secs_f64()
    );
    for source in store.sources().iter().filter(|s| !s.is_own()) {
        println!(
            "  {} ({}) orders are in its own database {}, in its own shape",
            source.name,
            source.kind.map_or("", |k| k.code()),
            source.database_name()
        );
    }
    users::ensure_demo_users(store).await
}

/// Maps the outcome to the process exit code: 0, or 1 after one `error:` line.
pub fn exit(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
