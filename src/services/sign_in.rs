//! Signing in, as policy: each attempt counted before its password is looked at (per account
//! and address, per address, per account), the Argon2 check against a dummy hash when there
//! is no account (so timing does not tell), the session, and an audit entry for the outcome.
//! The HTTP side (the form, its double-submit cookie, statuses) is `server::login`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    domain::accounts::{Email, password},
    domain::audit::{Actor, AuditEntry, audit_due},
    domain::tokens::{random_token, sha256_hex},
    storage::{StorageError, Store, audit::AuditWriter, limits::Reservation},
};

/// Attempts per account *and* address in [`WINDOW`]: past it, that pair waits the window out.
pub const PER_PAIR: u64 = 5;
/// Attempts per address (any accounts) in [`WINDOW`].
pub const PER_ADDRESS: u64 = 20;
/// Attempts per account (any addresses) before the account is held to a rate: one attempt
/// per [`account_delay`], the rest refused with `Retry-After` (never made to wait, so
/// parallel guesses do not all proceed). An attacker with many addresses is slowed down,
/// while the owner, from an address of their own, still signs in (a few seconds later, not
/// never).
pub const ACCOUNT_FREE: u64 = 10;
const MAX_DELAY: Duration = Duration::from_secs(4);
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address an account signed in from stays known to it.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The time between attempts on one account let through once it has had `n` (counted over
/// every address).
pub fn account_delay(n: u64) -> Duration {
    if n <= ACCOUNT_FREE {
        return Duration::ZERO;
    }
    let steps = (n - ACCOUNT_FREE - 1).min(16) as u32;
    (Duration::from_millis(125) * 2u32.pow(steps)).min(MAX_DELAY)
}

/// Argon2 runs on the blocking pool, at most this many at once (one per core): a burst of
/// sign-ins queues here instead of starving the async workers that serve everything else.
#[derive(Debug)]
pub struct PasswordChecks(tokio::sync::Semaphore);

impl Default for PasswordChecks {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
    }
}

impl PasswordChecks {
    /// `None` when no slot came free in time.
    async fn verify(&self, password: String, stored: String, queue: Duration) -> Option<bool> {
        let _slot = tokio::time::timeout(queue, self.0.acquire()).await.ok()?.ok()?;
        tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.ok()
    }
}

/// What signing in works with.
pub struct SignIn<'a> {
    pub store: &'a Store,
    pub audit: &'a AuditWriter,
    pub password_checks: &'a PasswordChecks,
    pub session_idle: Duration,
    pub session_max: Duration,
}

/// One attempt, parsed at the edge.
pub struct Attempt {
    pub email: Email,
    pub password: String,
    /// The client's address, for the audit log.
    pub ip: String,
    /// The key its address is counted under (an IPv6 address as its /64).
    pub counted: String,
    /// How long the Argon2 check may wait for a slot (what the request's deadline leaves).
    pub hash_wait: Duration,
}

/// A session made: its token goes into the cookie, only its hash is stored.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
}

/// Why an attempt did not sign in; each is one answer to the person at the form.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefusal {
    /// The pair's or the address's limit: the window must pass.
    #[error("Too many failed sign-ins. Try again in {} minute{}.", minutes(*wait), plural(minutes(*wait)))]
    TooManyAttempts { wait: Duration },
    /// The account is held to a rate and this attempt came before its next slot.
    #[error("This account has had many sign-in attempts. Try again in {} s.", crate::domain::net::retry_after_secs(*wait))]
    AccountRate { wait: Duration },
    /// No Argon2 slot came free in time.
    #[error("orderdesk is busy checking other sign-ins. Try again in a few seconds.")]
    Busy,
    /// No such account, a disabled one, or the wrong password: the person is not told which.
    #[error("That email and password do not match an active account.")]
    WrongCredentials,
    #[error("The database is unavailable. Try again in a few seconds.")]
    Unavailable(#[source] StorageError),
}

fn minutes(wait: Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl SignInRefusal {
    /// How long the client should wait before trying again, when there is a time to say.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TooManyAttempts { wait } | Self::AccountRate { wait } => Some(*wait),
            Self::Busy => Some(Duration::from_secs(3)),
            Self::WrongCredentials | Self::Unavailable(_) => None,
        }
    }
}

impl From<StorageError> for SignInRefusal {
    fn from(e: StorageError) -> Self {
        Self::Unavailable(e)
    }
}

/// The rate-limit keys of one attempt.
struct Keys {
    pair: String,
    address: String,
    account: String,
    known: String,
}

impl Keys {
    fn of(email: &Email, counted: &str) -> Self {
        Self {
            pair: format!("login:{email}|{counted}"),
            address: format!("login-ip:{counted}"),
            account: format!("login-account:{email}"),
            known: format!("login-known:{email}|{counted}"),
        }
    }
}

impl SignIn<'_> {
    pub async fn sign_in(&self, attempt: Attempt, now: DateTime<Utc>) -> Result<NewSession, SignInRefusal> {
        let keys = Keys::of(&attempt.email, &attempt.counted);
        self.within_limits(&attempt, &keys, now).await?;
        let account = match self.store.find_staff(&attempt.email).await {
            Ok(account) => account,
            // An account that does not parse signs nobody in: as no account, named in the log.
            Err(e @ StorageError::Corrupt { .. }) => {
                tracing::error!(error = %e, "a staff account does not parse; it cannot sign in");
                None
            }
            Err(e) => return Err(e.into()),
        };
        let stored =
            account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| password::dummy_hash().to_owned());
        let password_ok = self
            .password_checks
            .verify(attempt.password, stored, attempt.hash_wait)
            .await
            .ok_or(SignInRefusal::Busy)?;
        let visitor = Actor::visitor(Some(attempt.email.as_str()), &attempt.ip);
        let account = match account {
            Some(a) if password_ok && !a.disabled => a,
            other => {
                let why = match other {
                    None => "failed: no such account",
                    Some(a) if a.disabled => "failed: account disabled",
                    _ => "failed: wrong password",
                };
                self.audit(AuditEntry::new(&visitor, "login", why)).await;
                return Err(SignInRefusal::WrongCredentials);
            }
        };
        self.forgive(&keys, now).await;
        let token = random_token();
        let idle = chrono::Duration::from_std(self.session_idle).unwrap_or(chrono::Duration::minutes(30));
        let max = chrono::Duration::from_std(self.session_max).unwrap_or(chrono::Duration::hours(12));
        self.store
            .create_session(&sha256_hex(&token), &account, &random_token(), now, now + idle.min(max), now + max)
            .await?;
        if let Err(e) = self.store.record_login(&account.email, now).await {
            tracing::warn!(error = %e, "could not record the sign-in time");
        }
        self.audit(AuditEntry::new(&Actor::staff(&account.email, account.role, &attempt.ip), "login", "ok")).await;
        Ok(NewSession { token })
    }

    /// Counts the attempt and refuses it when a limit is passed.
    async fn within_limits(&self, attempt: &Attempt, keys: &Keys, now: DateTime<Utc>) -> Result<(), SignInRefusal> {
        let store = self.store;
        // All three run to the end (`join!`, not `try_join!`): a database call is never
        // dropped half way through the driver (see `storage::PoolGate`).
        let (pair, by_address, by_account) = tokio::join!(
            store.reserve_attempt(&keys.pair, WINDOW, now),
            store.reserve_attempt(&keys.address, WINDOW, now),
            store.reserve_attempt(&keys.account, WINDOW, now),
        );
        let (pair, by_address, by_account) = (pair?, by_address?, by_account?);
        // Where the account's owner signed in before, neither the address's limit (an office
        // behind one NAT is not locked out by one guesser among them) nor the account's rate
        // (a flood from elsewhere cannot take every slot from the owner) refuses them; the
        // pair's own limit still holds there. Asked only when one of the two would refuse.
        let gap = account_delay(by_account.count);
        let known = if by_address.count > PER_ADDRESS || !gap.is_zero() {
            matches!(store.attempt_count(&keys.known, now).await, Ok(Some(n)) if n > 0)
        } else {
            false
        };
        let visitor = Actor::visitor(Some(attempt.email.as_str()), &attempt.ip);
        let over: Option<(Reservation, u64)> = if pair.count > PER_PAIR {
            Some((pair, PER_PAIR))
        } else if by_address.count > PER_ADDRESS && !known {
            Some((by_address, PER_ADDRESS))
        } else {
            None
        };
        if let Some((r, limit)) = over {
            if audit_due(r.count - limit) {
                let outcome = format!("denied: rate limited ({} attempts in this window)", r.count);
                self.audit(AuditEntry::new(&visitor, "login", &outcome)).await;
            }
            return Err(SignInRefusal::TooManyAttempts { wait: r.wait(now) });
        }
        // Past its free attempts the account is held to a rate: this attempt takes the next
        // slot or is refused at once, so a turn is never spent asleep.
        if gap.is_zero() || known || store.take_slot(&keys.account, now, gap).await? {
            return Ok(());
        }
        let wait = match store.next_slot(&keys.account, now).await {
            Ok(at) => at.and_then(|at| (at - now).to_std().ok()).unwrap_or(gap),
            Err(_) => gap,
        };
        if audit_due(by_account.count - ACCOUNT_FREE) {
            let outcome = format!("denied: account rate ({} attempts in this window)", by_account.count);
            self.audit(AuditEntry::new(&visitor, "login", &outcome)).await;
        }
        Err(SignInRefusal::AccountRate { wait })
    }

    /// A good sign-in is not a failure: its pair starts afresh, it counts against nothing,
    /// and its address is remembered for a month as one this account's owner uses.
    async fn forgive(&self, keys: &Keys, now: DateTime<Utc>) {
        let store = self.store;
        let released = tokio::join!(
            store.clear_attempts(&keys.pair),
            store.release_attempt(&keys.address),
            store.release_attempt(&keys.account)
        );
        if let (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) = released {
            tracing::warn!(error = %e, "could not give back a good sign-in's rate-limit reservation");
        }
        if let Err(e) = store.reserve_attempt(&keys.known, KNOWN_FOR, now).await {
            tracing::warn!(error = %e, "could not remember a good sign-in's address");
        }
    }

    /// The outcome goes to the audit log; a log that cannot be written is logged, and the
    /// sign-in's answer stands.
    async fn audit(&self, entry: AuditEntry) {
        let (action, actor) = (entry.action.clone(), entry.actor.clone());
        if let Err(e) = self.audit.append(entry).await {
            tracing::error!(action, actor, error = %e, "could not write the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_delay_grows_and_is_capped() {
        assert_eq!(account_delay(ACCOUNT_FREE), Duration::ZERO);
        assert_eq!(account_delay(ACCOUNT_FREE + 1), Duration::from_millis(125));
        assert_eq!(account_delay(ACCOUNT_FREE + 2), Duration::from_millis(250));
        assert_eq!(account_delay(ACCOUNT_FREE + 1000), MAX_DELAY);
        assert!(audit_due(1) && !audit_due(2) && audit_due(crate::domain::audit::AUDIT_REFUSALS_EVERY));
    }

    #[test]
    fn a_refusal_says_how_long_to_wait() {
        let r = SignInRefusal::TooManyAttempts { wait: Duration::from_secs(61) };
        assert_eq!(r.to_string(), "Too many failed sign-ins. Try again in 2 minutes.");
        let r = SignInRefusal::TooManyAttempts { wait: Duration::from_secs(5) };
        assert_eq!(r.to_string(), "Too many failed sign-ins. Try again in 1 minute.");
        assert_eq!(r.retry_after(), Some(Duration::from_secs(5)));
        assert_eq!(SignInRefusal::WrongCredentials.retry_after(), None);
    }
}
