//! `orderdesk users add|list|disable`: staff accounts. Passwords come from stdin (or a
//! prompt without echo on a terminal), never from the command line, where `ps` shows them.

use std::io::{BufRead, IsTerminal};

use chrono::Utc;
use clap::Subcommand;

use super::maintenance::audit;
use crate::{
    cli::CliError,
    domain::accounts::{Email, NewPassword, Role, password},
    storage::{StorageError, Store},
};

/// The demo accounts `seed-demo` creates (demo databases only).
pub const DEMO_USERS: &[(&str, Role, &str)] = &[
    ("admin@orderdesk.demo", Role::Admin, "demo-admin-password"),
    ("support@orderdesk.demo", Role::Support, "demo-support-password"),
];

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a staff account; the password is read from stdin (or prompted for on a terminal).
    Add {
        /// The email the person signs in with.
        email: String,
        /// support (read-only) or admin (also indexes, migrations, users, API keys).
        #[arg(long)]
        role: String,
    },
    /// List the accounts.
    List,
    /// Disable an account and end its sessions (the account and its audit trail stay).
    Disable { email: String },
    /// Change an account's role; its sessions end at once, so the new role applies from the
    /// next sign-in.
    Role {
        email: String,
        /// support or admin.
        #[arg(long)]
        role: String,
    },
}

fn read_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (12+ characters): ")
            .map_err(CliError::io("could not read the password"))?;
        let again = rpassword::prompt_password("Again: ").map_err(CliError::io("could not read the password"))?;
        if first != again {
            return Err(CliError::Refused("the two passwords differ; nothing was changed".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("could not read the password from stdin"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn run(store: &Store, command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Add { email, role } => {
            let email = Email::parse(&email)?;
            let role = Role::parse(&role)?;
            let password = NewPassword::parse(&read_password()?)?;
            // The unique index on email is what makes "already has an account" reliable.
            store.ensure_indexes().await;
            match store.add_staff(&email, role, &password::hash(&password), Utc::now()).await {
                Ok(()) => {
                    audit(store, "user.add", &format!("email={email}&role={role}"), "ok").await;
                    println!("added {email} as {role}");
                    Ok(())
                }
                Err(StorageError::DuplicateKey { .. }) => {
                    Err(CliError::Refused(format!("{email} already has an account")))
                }
                Err(e) => Err(e.into()),
            }
        }
        UsersCommand::List => {
            let accounts = store.list_staff().await?;
            if accounts.is_empty() {
                println!("no staff accounts yet; add one with: orderdesk users add <email> --role admin");
            }
            for a in accounts {
                let state = if a.disabled { "disabled" } else { "active" };
                let last = a.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
                println!("{:<40} {:<8} {:<9} last sign-in {last}", a.email, a.role, state);
            }
            Ok(())
        }
        UsersCommand::Role { email, role } => {
            let email = Email::parse(&email)?;
            let role = Role::parse(&role)?;
            if store.set_staff_role(&email, role).await? {
                audit(store, "user.role", &format!("email={email}&role={role}"), "ok").await;
                println!("{email} is now {role}; their sessions have ended");
                Ok(())
            } else {
                Err(CliError::Refused(format!("there is no account {email}")))
            }
        }
        UsersCommand::Disable { email } => {
            let email = Email::parse(&email)?;
            if store.disable_staff(&email, Utc::now()).await? {
                audit(store, "user.disable", &format!("email={email}"), "ok").await;
                println!("disabled {email} and ended its sessions");
                Ok(())
            } else {
                Err(CliError::Refused(format!("there is no account {email}")))
            }
        }
    }
}

/// Creates (or resets) the demo accounts and prints how to sign in.
pub async fn ensure_demo_users(store: &Store) -> Result<(), CliError> {
    for (email, role, pass) in DEMO_USERS {
        let email = Email::parse(email)?;
        let pass = NewPassword::parse(pass)?;
        store.upsert_staff(&email, *role, &password::hash(&pass), Utc::now()).await?;
    }
    println!("demo sign-ins (demo data only):");
    for (email, role, pass) in DEMO_USERS {
        println!("  {role:<8} {email}  password: {pass}");
    }
    Ok(())
}
