//! Index checks and data migrations: what the maintenance page and `orderdesk indexes` /
//! `orderdesk migrate` show and do. The types here cross to the browser; the work itself
//! (`services::runs`) is server-only and reaches MongoDB through the storage layer.
//!
//! Long (about 480 lines before its tests): the types the maintenance page, the CLI and the
//! runner share (migrations, tasks, statuses, a run's record and progress).

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::ParseError;

/// The three migrations, named as on the command line (and so in JSON and forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Migration {
    /// Orders whose `order_id` is missing, null or empty get a fresh one.
    OrderIds,
    /// Orders sharing an `order_id`: the oldest keeps it, the others get fresh ones.
    Duplicates,
    /// Marketplace orders without a BB number get one from their vendor's counter for their day.
    OrderNumbers,
}

impl Migration {
    pub const ALL: [Migration; 3] = [Migration::OrderIds, Migration::Duplicates, Migration::OrderNumbers];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderIds => "order-ids",
            Self::Duplicates => "duplicates",
            Self::OrderNumbers => "order-numbers",
        }
    }

    /// One sentence for the page and `--help`.
    pub fn description(self) -> &'static str {
        match self {
            Self::OrderIds => {
                "Gives every order whose order_id is missing, null or empty a fresh one (ORD form from its created_at, or a pure UUID)."
            }
            Self::Duplicates => {
                "Where several orders share an order_id, the oldest keeps it and the others get fresh ones; the old ID stays searchable."
            }
            Self::OrderNumbers => {
                "Gives marketplace orders without a BB number one from their vendor's counter for the order's day, advancing that counter."
            }
        }
    }
}

impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Migration {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Migration> for &'static str {
    fn from(m: Migration) -> Self {
        m.as_str()
    }
}

impl FromStr for Migration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.as_str() == s.trim()).ok_or_else(|| {
            format!(
                "unknown migration '{}': use order-ids, duplicates or order-numbers",
                s.chars().take(40).collect::<String>()
            )
        })
    }
}

/// Which form fresh order IDs take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FreshIdForm {
    /// `ORD-{created_at}-{8 hex}` when the order has a `created_at`, else a pure UUID.
    #[default]
    OrdFromCreatedAt,
    /// Always a pure UUID.
    Uuid,
}

impl FromStr for FreshIdForm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "ord" => Ok(Self::OrdFromCreatedAt),
            "uuid" => Ok(Self::Uuid),
            other => Err(format!("unknown ID form '{}': use ord or uuid", other.chars().take(40).collect::<String>())),
        }
    }
}

/// Smallest and largest batch a migration accepts.
pub const BATCH_RANGE: std::ops::RangeInclusive<u32> = 1..=10_000;
/// Orders read (and progress saved) at once: 20 statements of `storage`'s chunk, enough to
/// keep 8 in flight (BENCHMARKS.md), and a cancel still lands within a second.
pub const DEFAULT_BATCH: u32 = 5_000;

/// How a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationOptions {
    pub dry_run: bool,
    /// Orders per bulk write (and per read).
    pub batch: u32,
    pub id_form: FreshIdForm,
}

impl Default for MigrationOptions {
    fn default() -> Self {
        Self { dry_run: true, batch: DEFAULT_BATCH, id_form: FreshIdForm::default() }
    }
}

impl MigrationOptions {
    /// What a person asked for on the page, checked: the batch in range, and applying
    /// confirmed by typing the migration's name.
    pub fn asked(migration: Migration, mode: RunMode, batch: u32, confirm: &str) -> Result<Self, ParseError> {
        if !BATCH_RANGE.contains(&batch) {
            return Err(ParseError::new("the batch size must be between 1 and 10,000"));
        }
        if mode == RunMode::Apply && confirm.trim() != migration.as_str() {
            return Err(ParseError::new(format!("type {migration} to confirm that the orders should be changed")));
        }
        Ok(Self { dry_run: mode == RunMode::DryRun, batch, ..Self::default() })
    }
}

/// Where a run is, named as stored and shown (`running`, `completed`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
    Cancelled,
    /// The process stopped without finishing (killed, crashed): no heartbeat for a while.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub const ALL: [Self; 5] = [Self::Running, Self::Completed, Self::Failed, Self::Cancelled, Self::Interrupted];

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            ParseError::new(format!(
                "run status {s:?} is not one of: running, completed, failed, cancelled, interrupted"
            ))
        })
    }

    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

impl TryFrom<String> for RunStatus {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<RunStatus> for &'static str {
    fn from(s: RunStatus) -> Self {
        s.as_str()
    }
}

/// One change a migration makes (or, in a dry run, would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// The order's `_id` (hex).
    pub order: String,
    pub field: String,
    /// The value before: `missing`, `null`, `""` or the old text.
    pub from: String,
    pub to: String,
}

/// Most changes and errors a run keeps for review; the counts are always complete.
pub const SAMPLE_LIMIT: usize = 50;

/// What a recorded run did: a migration, an index build (`indexes apply`) or an index
/// check with its blocker scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Task {
    Migration(Migration),
    Indexes,
    IndexCheck,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Migration(m) => m.as_str(),
            Self::Indexes => "indexes",
            Self::IndexCheck => "index-check",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        for task in [Self::Indexes, Self::IndexCheck] {
            if s == task.as_str() {
                return Ok(task);
            }
        }
        s.parse::<Migration>().map(Self::Migration).map_err(|_| {
            ParseError::new(format!(
                "task {s:?} is not one of: order-ids, duplicates, order-numbers, indexes, index-check"
            ))
        })
    }

    /// Whether the run works through the expected indexes rather than orders.
    pub fn on_indexes(self) -> bool {
        matches!(self, Self::Indexes | Self::IndexCheck)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Task {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Task> for String {
    fn from(t: Task) -> Self {
        t.as_str().to_owned()
    }
}

/// Whether a run changes orders or only says what it would change (`dry-run`, `apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum RunMode {
    DryRun,
    Apply,
}

impl RunMode {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim() {
            "dry-run" => Ok(Self::DryRun),
            "apply" => Ok(Self::Apply),
            other => Err(ParseError::new(format!("mode {other:?} is not one of: dry-run, apply"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DryRun => "dry-run",
            Self::Apply => "apply",
        }
    }

    pub fn of(dry_run: bool) -> Self {
        if dry_run { Self::DryRun } else { Self::Apply }
    }
}

impl TryFrom<String> for RunMode {
    type Error = ParseError;

    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<RunMode> for &'static str {
    fn from(m: RunMode) -> Self {
        m.as_str()
    }
}

/// A recorded run of a migration or of an index apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub task: Task,
    pub dry_run: bool,
    pub actor: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Orders to look at, known at the start; `done` of them handled so far.
    pub total: u64,
    pub done: u64,
    /// Orders changed (or that would be, in a dry run).
    pub changed: u64,
    pub errors: u64,
    pub duration_ms: u64,
    /// Orders per second so far.
    pub rate: f64,
    pub message: String,
    pub changes: Vec<PlannedChange>,
    pub error_samples: Vec<String>,
    pub batch: u32,
    /// For index runs: each expected index as the run found (or left) it, saved as it goes.
    #[serde(default)]
    pub reports: Vec<IndexReport>,
    /// For the duplicates migration: the payments, sessions and pending orders that named a
    /// renamed ID, each moved, kept or left for a person (the first
    /// `storage::references::REFERENCES_KEPT`; the counts are whole).
    #[serde(default)]
    pub references: Vec<crate::domain::references::ReferenceMove>,
    #[serde(default)]
    pub references_moved: u64,
    #[serde(default)]
    pub references_undecided: u64,
    /// For a number migration, once it has run: the counters it drew from, checked against
    /// the numbers their orders hold.
    #[serde(default)]
    pub uniqueness: Option<UniquenessReport>,
}

impl RunRecord {
    /// A run as it begins: `total` things to look at, nothing done yet (the id comes from
    /// the database when it is recorded).
    pub fn begun(task: Task, dry_run: bool, actor: &str, started_at: DateTime<Utc>, total: u64) -> Self {
        Self {
            id: String::new(),
            task,
            dry_run,
            actor: actor.chars().take(200).collect(),
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            total,
            done: 0,
            changed: 0,
            errors: 0,
            duration_ms: 0,
            rate: 0.0,
            message: String::new(),
            changes: Vec::new(),
            error_samples: Vec::new(),
            batch: 0,
            reports: Vec::new(),
            references: Vec::new(),
            references_moved: 0,
            references_undecided: 0,
            uniqueness: None,
        }
    }
}

/// After a number migration, whether its numbers are still unique: each counter it drew
/// from compared with the numbers its orders hold (`/counters/{id}` has the whole of one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UniquenessReport {
    pub counters_checked: u64,
    /// Counters past `UNIQUENESS_COUNTERS`, not checked (a person can open them one by one).
    pub counters_unchecked: u64,
    /// The counters with something wrong; the rest are sound.
    pub problems: Vec<CounterCheck>,
}

/// How many counters a number migration's uniqueness report checks.
pub const UNIQUENESS_COUNTERS: usize = 500;

/// One counter's check after a number migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterCheck {
    pub counter_id: String,
    /// What the counter says it issued.
    pub issued: u32,
    /// Sequences held by more than one order: (sequence, orders).
    pub held_twice: Vec<(u32, u32)>,
    /// The highest sequence an order holds, when it is past what the counter issued: the
    /// counter is behind, and its next number would be one already held.
    pub highest_beyond: Option<u32>,
}

impl CounterCheck {
    /// `None` when the counter is sound.
    pub fn of(f: &crate::domain::counters::Forensics) -> Option<Self> {
        let highest_beyond = f.beyond.iter().copied().filter(|&n| n > f.issued).max();
        (!f.duplicates.is_empty() || highest_beyond.is_some()).then(|| Self {
            counter_id: f.counter_id.clone(),
            issued: f.issued,
            held_twice: f.duplicates.iter().copied().take(20).collect(),
            highest_beyond,
        })
    }
}

impl RunRecord {
    /// What the run is, for headings: "Dry run of order-ids", "Index build".
    pub fn title(&self) -> String {
        match self.task {
            Task::Indexes => "Index build".to_owned(),
            Task::IndexCheck => "Index check".to_owned(),
            Task::Migration(m) => format!("{} of {m}", if self.dry_run { "Dry run" } else { "Run" }),
        }
    }

    /// Seconds left at the current rate, when it can be told.
    pub fn eta_seconds(&self) -> Option<u64> {
        (self.status == RunStatus::Running && self.rate > 0.0 && self.total >= self.done)
            .then(|| ((self.total - self.done) as f64 / self.rate).ceil() as u64)
    }

    /// What `total` and `done` count.
    pub fn unit(&self) -> &'static str {
        if self.task.on_indexes() { "indexes" } else { "orders" }
    }

    /// Share done, 0–100.
    pub fn percent(&self) -> f64 {
        if self.total == 0 { 100.0 } else { (self.done as f64 * 100.0 / self.total as f64).min(100.0) }
    }
}

/// The bot sessions whose `order_id` is missing, null or empty (the seed's DuplicateKey
/// troubleshooting): how many, and the first few, as the repair's dry run shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionsWithoutId {
    pub count: u64,
    /// `(telegram user, step, since)`.
    pub sample: Vec<(i64, Option<String>, Option<DateTime<Utc>>)>,
}

/// Sessions given an ID per click of the repair (each one atomic; click again for more).
pub const SESSION_REPAIR_BATCH: i64 = 500;

/// How an expected index compares with the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum IndexState {
    Present,
    Missing,
    /// An index on the same keys or with the same name exists with other options.
    Different {
        actual: String,
    },
    /// An index under another name has the same keys and options at least as strong (a
    /// system's own, named its way): it serves, and nothing is built beside it.
    Covered {
        by: String,
    },
}

/// Documents that keep a unique index from being built (or would break it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Blockers {
    pub missing: u64,
    pub null: u64,
    pub empty: u64,
    /// Values held by more than one document, and how many documents hold them.
    pub duplicate_values: u64,
    pub duplicate_documents: u64,
    pub sample: Vec<BlockerSample>,
}

impl Blockers {
    /// Whether a unique index would fail to build: missing and null both index as null, so
    /// two of them together collide, as do two empty strings or any duplicate value.
    pub fn block(&self) -> bool {
        self.missing + self.null > 1 || self.empty > 1 || self.duplicate_values > 0
    }

    /// Whether any document needs fixing, blocking or not (one null is allowed by the index
    /// but is still an order nobody can look up).
    pub fn any(&self) -> bool {
        self.missing + self.null + self.empty + self.duplicate_values > 0
    }

    /// Which migration fixes these.
    pub fn fixed_by(&self) -> Vec<Migration> {
        let mut out = Vec::new();
        if self.missing + self.null + self.empty > 0 {
            out.push(Migration::OrderIds);
        }
        if self.duplicate_values > 0 {
            out.push(Migration::Duplicates);
        }
        out
    }
}

/// One document in a blocker sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockerSample {
    pub object_id: String,
    /// `missing`, `null`, `""` or `duplicate ORD-…`.
    pub problem: String,
    /// A form the support desk finds the document by, if it has one.
    pub lookup: Option<String>,
}

/// One expected index, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexReport {
    pub collection: String,
    pub name: String,
    pub keys: String,
    pub unique: bool,
    pub partial: Option<String>,
    pub purpose: String,
    pub state: IndexState,
    /// For unique indexes on `orders` (checked whether present or not, since a stand-in or a
    /// missing index lets bad data in).
    pub blockers: Option<Blockers>,
    /// The non-unique index standing in for this one while data blocks it.
    pub stand_in: Option<String>,
}

impl IndexReport {
    pub fn is_blocked(&self) -> bool {
        self.state == IndexState::Missing && self.blockers.as_ref().is_some_and(Blockers::block)
    }
}

/// The maintenance page's index table: what `listIndexes` says now, with the blockers the
/// latest finished scan (an index check or build) counted, and when it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexOverview {
    pub reports: Vec<IndexReport>,
    /// The run the blockers come from; `None` until a scan has finished.
    pub scanned: Option<ScanInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanInfo {
    pub run_id: String,
    pub finished_at: DateTime<Utc>,
}

/// What `indexes apply` did to one index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    AlreadyPresent,
    Created,
    /// Not created: data blocks it (the report says which documents).
    Blocked,
    /// Left alone: an index with other options is in the way; it needs a decision by a person.
    LeftDifferent,
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_names_round_trip_and_unknown_ones_are_explained() {
        for m in Migration::ALL {
            assert_eq!(m.as_str().parse::<Migration>(), Ok(m));
        }
        let err = "order_ids".parse::<Migration>().unwrap_err();
        assert!(err.contains("order-ids, duplicates or order-numbers"), "{err}");
    }

    #[test]
    fn one_null_does_not_block_but_a_null_and_a_missing_do() {
        let one = Blockers { null: 1, ..Blockers::default() };
        assert!(!one.block() && one.any());
        let two = Blockers { null: 1, missing: 1, ..Blockers::default() };
        assert!(two.block());
        assert!(Blockers { duplicate_values: 1, duplicate_documents: 2, ..Blockers::default() }.block());
        assert!(!Blockers { empty: 1, ..Blockers::default() }.block());
        assert_eq!(two.fixed_by(), vec![Migration::OrderIds]);
    }

    #[test]
    fn tasks_statuses_and_modes_parse_and_unknown_ones_are_errors() {
        assert_eq!(Task::parse("indexes").unwrap(), Task::Indexes);
        assert_eq!(Task::parse("index-check").unwrap(), Task::IndexCheck);
        assert_eq!(Task::parse("order-ids").unwrap(), Task::Migration(Migration::OrderIds));
        assert!(Task::parse("drop-everything").is_err());
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()).unwrap(), status);
        }
        assert!(RunStatus::parse("paused").is_err());
        assert_eq!(RunMode::parse("dry-run").unwrap(), RunMode::DryRun);
        assert_eq!(RunMode::parse("apply").unwrap(), RunMode::Apply);
        assert!(RunMode::parse("Apply!").is_err());
        assert_eq!(serde_json::to_string(&Task::Indexes).unwrap(), "\"indexes\"");
    }

    #[test]
    fn eta_follows_the_rate() {
        let run = RunRecord {
            id: "x".into(),
            task: Task::Migration(Migration::OrderIds),
            dry_run: false,
            actor: "cli".into(),
            status: RunStatus::Running,
            started_at: DateTime::UNIX_EPOCH,
            finished_at: None,
            total: 1_000,
            done: 400,
            changed: 400,
            errors: 0,
            duration_ms: 4_000,
            rate: 100.0,
            message: String::new(),
            changes: Vec::new(),
            error_samples: Vec::new(),
            batch: 100,
            reports: Vec::new(),
            references: Vec::new(),
            references_moved: 0,
            references_undecided: 0,
            uniqueness: None,
        };
        assert_eq!(run.eta_seconds(), Some(6));
        assert_eq!(run.percent(), 40.0);
    }
}
