//! `orderdesk indexes check|apply` and `orderdesk migrate …`: the maintenance page's work
//! from a terminal, with a progress bar on a terminal and plain lines otherwise.

use std::{
    io::{IsTerminal, Write},
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Args, Subcommand};

use crate::{
    cli::CliError,
    config::Settings,
    domain::ids::generate::{MonotonicClock, SystemClock},
    domain::maintenance::{
        BATCH_RANGE, DEFAULT_BATCH, FreshIdForm, IndexReport, IndexState, Migration, MigrationOptions, RunMode,
        RunRecord, RunStatus,
    },
    services::runs,
    storage::Store,
};

#[derive(Debug, Subcommand)]
pub enum IndexesCommand {
    /// Print every expected index as present, missing or different, with the documents
    /// blocking the missing unique ones; exit 1 when any is missing or different.
    Check,
    /// Create the missing indexes nothing blocks; refuse blocked ones (exit 1) and list why.
    Apply,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Which migration: order-ids, duplicates or order-numbers.
    #[arg(value_parser = clap::value_parser!(Migration))]
    pub migration: Migration,
    /// Report what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Orders per bulk write (1 to 10,000).
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(*BATCH_RANGE.start() as i64..=*BATCH_RANGE.end() as i64))]
    pub batch: u32,
    /// The form of fresh order IDs: ord (from the order's created_at, a UUID when it has
    /// none) or uuid.
    #[arg(long, default_value = "ord", value_parser = clap::value_parser!(FreshIdForm))]
    pub id_form: FreshIdForm,
}

impl clap::builder::ValueParserFactory for Migration {
    type Parser = fn(&str) -> Result<Migration, String>;
    fn value_parser() -> Self::Parser {
        |s| s.parse()
    }
}

impl clap::builder::ValueParserFactory for FreshIdForm {
    type Parser = fn(&str) -> Result<FreshIdForm, String>;
    fn value_parser() -> Self::Parser {
        |s| s.parse()
    }
}

/// Who runs this, for the run's record.
/// Appends an audit entry for a command run from a shell; a failure is a warning only.
pub(crate) async fn audit(store: &Store, action: &str, params: &str, outcome: &str) {
    let actor = crate::domain::audit::Actor::cli(&user_at_host());
    let entry = crate::domain::audit::AuditEntry::new(&actor, action, outcome).with_params(params);
    if let Err(e) = store.audit(&entry).await {
        eprintln!("warning: could not write the audit log: {e}");
    }
}

fn user_at_host() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
    if host.is_empty() { user } else { format!("{user}@{host}") }
}

pub async fn indexes(store: &Store, command: IndexesCommand) -> Result<(), CliError> {
    match command {
        IndexesCommand::Check => {
            let reports = store.check_indexes().await?;
            for r in &reports {
                print_report(r);
            }
            let bad = reports.iter().filter(|r| r.state != IndexState::Present).count();
            if bad > 0 {
                return Err(CliError::Refused(format!("{bad} of {} indexes are missing or different", reports.len())));
            }
            println!("all {} indexes are present", reports.len());
            Ok(())
        }
        IndexesCommand::Apply => {
            // The same recorded run as the page's button, in the foreground.
            let actor = crate::domain::audit::Actor::cli(&user_at_host());
            let run = runs::prepare_index_run(store, runs::IndexRun::Build, &actor).await?;
            let mut printed = 0;
            let record = run
                .execute(|r| {
                    for report in &r.reports[printed..] {
                        let problem = r
                            .error_samples
                            .iter()
                            .find(|e| e.starts_with(&format!("{}.{}:", report.collection, report.name)));
                        let what = match (&report.state, problem) {
                            (_, Some(p)) => format!("NOT CREATED: {}", p.split_once(": ").map_or(p.as_str(), |x| x.1)),
                            (IndexState::Present, None) => "present".to_owned(),
                            (_, None) => "not created".to_owned(),
                        };
                        println!("{:<14} {:<34} {what}", report.collection, report.name);
                        if report.is_blocked() {
                            print_report(report);
                        }
                    }
                    printed = r.reports.len();
                })
                .await;
            println!("{}", record.message);
            if record.status != RunStatus::Completed {
                return Err(CliError::Refused(format!(
                    "{} indexes were not created; fix the data with `orderdesk migrate` first",
                    record.errors
                )));
            }
            Ok(())
        }
    }
}

fn print_report(r: &IndexReport) {
    let state = match &r.state {
        IndexState::Present => "present".to_owned(),
        IndexState::Missing => "MISSING".to_owned(),
        IndexState::Different { actual } => format!("DIFFERENT: {actual}"),
        IndexState::Covered { by } => format!("covered by {by}"),
    };
    let unique = if r.unique { " unique" } else { "" };
    println!("{:<14} {:<34} {state} ({}{unique})", r.collection, r.name, r.keys);
    if let Some(stand_in) = &r.stand_in {
        println!("    stand-in {stand_in} serves lookups meanwhile");
    }
    if let Some(b) = r.blockers.as_ref().filter(|b| b.any()) {
        println!(
            "    {}: {} missing, {} null, {} empty, {} values held by {} orders{}",
            if b.block() { "BLOCKED" } else { "needs fixing" },
            b.missing,
            b.null,
            b.empty,
            b.duplicate_values,
            b.duplicate_documents,
            b.fixed_by().iter().map(|m| format!("; fix: orderdesk migrate {m}")).collect::<String>()
        );
        for s in &b.sample {
            println!(
                "      _id {} {}{}",
                s.object_id,
                s.problem,
                s.lookup.as_ref().map(|l| format!(" ({l})")).unwrap_or_default()
            );
        }
    }
}

pub async fn migrate(settings: &Settings, store: &Store, args: MigrateArgs) -> Result<(), CliError> {
    let options = MigrationOptions { dry_run: args.dry_run, batch: args.batch, id_form: args.id_form };
    let clock = Arc::new(MonotonicClock::new(SystemClock));
    let kind = runs::migration(args.migration, options, settings.time_zone);
    let run = runs::prepare(store, clock, kind, &crate::domain::audit::Actor::cli(&user_at_host())).await?;
    let tty = std::io::stderr().is_terminal();
    eprintln!(
        "{} {} (run {}): {} orders to look at, batches of {}",
        if args.dry_run { "dry run of" } else { "running" },
        args.migration,
        run.record().id,
        run.record().total,
        args.batch
    );
    let mut last_line = Instant::now() - Duration::from_secs(10);
    let record = run
        .execute(|r| {
            if tty {
                eprint!("\r{}", progress_bar(r));
                let _ = std::io::stderr().flush();
            } else if last_line.elapsed() >= Duration::from_secs(1) || r.status.is_finished() {
                eprintln!("{}", progress_line(r));
                last_line = Instant::now();
            }
        })
        .await;
    if tty {
        eprintln!();
    }
    print_summary(&record);
    let params = format!(
        "migration={}&mode={}&batch={}&run={}",
        args.migration,
        RunMode::of(args.dry_run).as_str(),
        args.batch,
        record.id
    );
    audit(store, "start_migration", &params, &format!("{}: {}", record.status.as_str(), record.message)).await;
    match record.status {
        RunStatus::Completed => Ok(()),
        _ => Err(CliError::Refused(record.message)),
    }
}

fn progress_line(r: &RunRecord) -> String {
    let eta = r.eta_seconds().map(|s| format!(", {s} s left")).unwrap_or_default();
    format!(
        "{}/{} orders ({:.0}%), {} changed, {} errors, {:.0} orders/s{eta}",
        r.done,
        r.total,
        r.percent(),
        r.changed,
        r.errors,
        r.rate
    )
}

fn progress_bar(r: &RunRecord) -> String {
    const WIDTH: usize = 30;
    let filled = ((r.percent() / 100.0) * WIDTH as f64).round() as usize;
    format!("[{}{}] {}", "#".repeat(filled), "-".repeat(WIDTH - filled.min(WIDTH)), progress_line(r))
}

fn print_summary(r: &RunRecord) {
    println!(
        "{} {}: {} ({} orders in {:.1} s)",
        r.task,
        r.status.as_str(),
        r.message,
        r.done,
        r.duration_ms as f64 / 1000.0
    );
    if !r.changes.is_empty() {
        let shown = if r.dry_run { "would change (first" } else { "changed (first" };
        println!("{shown} {}):", r.changes.len());
        for c in &r.changes {
            println!("  {} {}: {} -> {}", c.order, c.field, c.from, c.to);
        }
    }
    for e in &r.error_samples {
        println!("  error: {e}");
    }
}
