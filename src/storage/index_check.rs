//! Expected indexes against `listIndexes`, the documents that block the unique ones, and
//! creating what is missing when nothing blocks it.

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::{
    IndexModel,
    bson::{Bson, Document, doc},
};

use super::{
    StorageError, Store,
    indexes::{
        ExpectedIndex, SOURCE_COLLECTIONS, covers, expected_indexes, keys_equal, model, model_named, stand_in_name,
    },
    names::ORDERS,
};
use crate::domain::maintenance::{ApplyOutcome, BlockerSample, Blockers, IndexReport, IndexState};

/// Documents listed per blocker kind.
const SAMPLE_PER_KIND: i64 = 5;
/// Index builds and whole-collection counts over millions of orders take a while.
const LONG: Duration = Duration::from_secs(600);

/// Whether a check counts the documents that block the unique indexes: a scan of the whole
/// collection, so only in a background run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Blockers,
    StatesOnly,
}

impl Store {
    /// The expected indexes in orderdesk's database as `(collection, name)`, in the order
    /// checks and builds go through them. With sources configured, the orders, sessions and
    /// counters are the systems' own: their indexes are in the Sources check, not here.
    pub fn expected_index_names(&self) -> Vec<(&'static str, &'static str)> {
        self.own_expected_indexes().into_iter().map(|i| (i.collection, i.name)).collect()
    }

    pub(crate) fn own_expected_indexes(&self) -> Vec<ExpectedIndex> {
        let single = self.single_database();
        expected_indexes().into_iter().filter(|i| single || !SOURCE_COLLECTIONS.contains(&i.collection)).collect()
    }

    /// Every expected index, compared with what the database has. Unique indexes on
    /// `orders` also get their blockers counted, present or not.
    #[tracing::instrument(skip(self))]
    pub async fn check_indexes(&self) -> Result<Vec<IndexReport>, StorageError> {
        let mut reports = Vec::new();
        for (collection, name) in self.expected_index_names() {
            reports.push(self.check_index(collection, name, Scan::Blockers).await?);
        }
        Ok(reports)
    }

    /// Every expected index against `listIndexes`, without counting blockers: one cheap
    /// call per collection, for pages.
    pub async fn index_states(&self) -> Result<Vec<IndexReport>, StorageError> {
        let mut listed: std::collections::HashMap<&str, Vec<IndexModel>> = std::collections::HashMap::new();
        let mut reports = Vec::new();
        for index in self.own_expected_indexes() {
            if !listed.contains_key(index.collection) {
                listed.insert(index.collection, self.list_indexes(index.collection).await?);
            }
            let actual = listed.get(index.collection).map(Vec::as_slice).unwrap_or_default();
            reports.push(report(&index, actual, None));
        }
        Ok(reports)
    }

    /// One expected index (by collection and name, as [`expected_index_names`] lists them).
    pub async fn check_index(&self, collection: &str, name: &str, scan: Scan) -> Result<IndexReport, StorageError> {
        let index = expected(collection, name)?;
        let actual = self.list_indexes(index.collection).await?;
        let state = compare(&index, &actual);
        let blockers =
            if scan == Scan::Blockers && index.unique && (index.collection == ORDERS || state == IndexState::Missing) {
                Some(self.blockers(&index).await?)
            } else {
                None
            };
        Ok(report(&index, &actual, blockers))
    }

    /// Creates each missing index that nothing blocks; a blocked unique index is refused
    /// (its stand-in stays), an index with other options is left for a person to decide.
    #[tracing::instrument(skip(self))]
    pub async fn apply_indexes(&self) -> Result<Vec<(IndexReport, ApplyOutcome)>, StorageError> {
        let mut out = Vec::new();
        for report in self.check_indexes().await? {
            let outcome = self.apply_index(&report).await;
            out.push((report, outcome));
        }
        Ok(out)
    }

    /// What `indexes apply` does to one checked index.
    pub async fn apply_index(&self, report: &IndexReport) -> ApplyOutcome {
        match &report.state {
            IndexState::Present | IndexState::Covered { .. } => ApplyOutcome::AlreadyPresent,
            IndexState::Different { .. } => ApplyOutcome::LeftDifferent,
            IndexState::Missing if report.is_blocked() => ApplyOutcome::Blocked,
            IndexState::Missing => self.create_expected(report).await,
        }
    }

    /// Builds a missing index. The collection keeps an index on the lookup field at every
    /// moment: the unique one is built while the stand-in still serves, and only then is the
    /// stand-in dropped; a failed build leaves the stand-in as it was.
    async fn create_expected(&self, report: &IndexReport) -> ApplyOutcome {
        let index = match expected(&report.collection, &report.name) {
            Ok(index) => index,
            Err(e) => return ApplyOutcome::Failed(e.to_string()),
        };
        let coll = self.collection(index.collection);
        let build = |model| self.run_for("create_index", index.collection, LONG, coll.create_index(model));
        let drop = |name: String| self.run("drop_index", index.collection, coll.drop_index(name));
        let Some(stand_in) = &report.stand_in else {
            return build(model(&index, false))
                .await
                .map_or_else(|e| ApplyOutcome::Failed(e.to_string()), |_| ApplyOutcome::Created);
        };
        // A stand-in made before it carried `_id` has the unique index's very keys, and MongoDB
        // refuses two indexes that differ only in uniqueness: a cover (the keys and `_id`)
        // serves while that stand-in makes way, and takes its place if the build fails.
        let old_style = self.has_index_with_keys(index.collection, stand_in, &index.keys).await;
        let cover = format!("{}_cover", index.name);
        if old_style {
            if let Err(e) = build(model_named(&index, &cover)).await {
                return ApplyOutcome::Failed(format!("could not build a cover for the stand-in {stand_in}: {e}"));
            }
            if let Err(e) = drop(stand_in.clone()).await {
                return ApplyOutcome::Failed(format!("could not replace the old stand-in {stand_in}: {e}"));
            }
        }
        match build(model(&index, false)).await {
            Ok(_) => {
                let serving = if old_style { cover } else { stand_in.clone() };
                if let Err(e) = drop(serving.clone()).await {
                    tracing::warn!(index = serving, error = %e, "the unique index is built; the stand-in could not be dropped");
                }
                ApplyOutcome::Created
            }
            Err(e) => {
                if old_style {
                    // The stand-in comes back in its new shape, then the cover goes.
                    match build(model(&index, true)).await {
                        Ok(_) => {
                            let _ = drop(cover).await;
                        }
                        Err(r) => tracing::error!(index = index.name, error = %r, "the cover stays as the stand-in"),
                    }
                }
                ApplyOutcome::Failed(e.to_string())
            }
        }
    }

    /// Whether `collection` has an index named `name` on exactly `keys`.
    async fn has_index_with_keys(&self, collection: &'static str, name: &str, keys: &Document) -> bool {
        self.list_indexes(collection)
            .await
            .is_ok_and(|all| all.iter().any(|m| index_name(m) == Some(name) && keys_equal(&m.keys, keys)))
    }

    pub(crate) async fn list_indexes(&self, collection: &'static str) -> Result<Vec<IndexModel>, StorageError> {
        let coll = self.collection(collection);
        let listed = self
            .run("list_indexes", collection, async { coll.list_indexes().await?.try_collect::<Vec<_>>().await })
            .await;
        match listed {
            Ok(models) => Ok(models),
            // A collection that does not exist yet has no indexes.
            Err(StorageError::Database { message, .. }) if message.contains("NamespaceNotFound") => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Counts and samples the documents that would collide under `index` as unique.
    async fn blockers(&self, index: &ExpectedIndex) -> Result<Blockers, StorageError> {
        let field = index.keys.keys().next().map(String::as_str).unwrap_or("_id").to_owned();
        let coll = self.collection(index.collection);
        let count = |filter: Document| {
            let coll = coll.clone();
            async move {
                self.run_for("count_blockers", index.collection, LONG, coll.count_documents(filter).max_time(LONG))
                    .await
            }
        };
        let mut blockers = Blockers::default();
        // A partial index only covers the documents its filter selects: for order_number,
        // strings. Missing and null values are outside it and block nothing.
        if index.partial.is_none() {
            blockers.missing = count(doc! { &field: { "$exists": false } }).await?;
            blockers.null = count(doc! { &field: { "$type": "null" } }).await?;
            blockers.empty = count(doc! { &field: "" }).await?;
        }
        let pipeline = vec![
            doc! { "$match": { &field: { "$type": "string", "$ne": "" } } },
            doc! { "$group": { "_id": format!("${field}"), "n": { "$sum": 1 } } },
            doc! { "$match": { "n": { "$gt": 1 } } },
            doc! { "$sort": { "n": -1, "_id": 1 } },
        ];
        let groups: Vec<Document> = self
            .run_for("find_duplicates", index.collection, LONG, async {
                coll.aggregate(pipeline).max_time(LONG).allow_disk_use(true).await?.try_collect().await
            })
            .await?;
        blockers.duplicate_values = groups.len() as u64;
        blockers.duplicate_documents = groups.iter().map(|g| super::values::count(g.get("n"))).sum();

        let mut samples = Vec::new();
        for (problem, filter) in [
            ("missing", doc! { &field: { "$exists": false } }),
            ("null", doc! { &field: { "$type": "null" } }),
            ("\"\"", doc! { &field: "" }),
        ] {
            if index.partial.is_some() {
                break;
            }
            samples.extend(self.sample(index.collection, filter, problem).await?);
        }
        for group in groups.iter().take(SAMPLE_PER_KIND as usize) {
            let Some(Bson::String(value)) = group.get("_id") else { continue };
            samples.extend(self.sample(index.collection, doc! { &field: value }, &format!("duplicate {value}")).await?);
        }
        blockers.sample = samples;
        Ok(blockers)
    }

    async fn sample(
        &self,
        collection: &'static str,
        filter: Document,
        problem: &str,
    ) -> Result<Vec<BlockerSample>, StorageError> {
        let coll = self.collection(collection);
        let docs: Vec<Document> = self
            .run("sample_blockers", collection, async {
                coll.find(filter)
                    .max_time(self.op_timeout)
                    .sort(doc! { "_id": 1 })
                    .limit(SAMPLE_PER_KIND)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs
            .iter()
            .map(|d| BlockerSample {
                object_id: d.get_object_id("_id").map(|o| o.to_hex()).unwrap_or_default(),
                problem: problem.to_owned(),
                lookup: ["order_number", "id", "display_id"]
                    .iter()
                    .find_map(|k| d.get_str(k).ok().filter(|s| !s.is_empty()).map(str::to_owned)),
            })
            .collect())
    }
}

/// The expected index of that collection and name (names repeat across collections:
/// `order_id_1` is on orders and on payments).
fn expected(collection: &str, name: &str) -> Result<ExpectedIndex, StorageError> {
    expected_indexes().into_iter().find(|i| i.collection == collection && i.name == name).ok_or_else(|| {
        StorageError::Database { op: "check_index", message: format!("{collection}.{name} is not an expected index") }
    })
}

/// The report of `index` among `actual`, with what a scan found.
fn report(index: &ExpectedIndex, actual: &[IndexModel], blockers: Option<Blockers>) -> IndexReport {
    // The stand-in, or the cover an interrupted apply left in its place.
    let stand_in = [stand_in_name(index.name), format!("{}_cover", index.name)]
        .into_iter()
        .find(|n| actual.iter().any(|m| index_name(m) == Some(n.as_str())));
    IndexReport {
        collection: index.collection.to_owned(),
        name: index.name.to_owned(),
        keys: index.keys.to_string(),
        unique: index.unique,
        partial: index.partial.as_ref().map(ToString::to_string),
        purpose: index.purpose.to_owned(),
        state: compare(index, actual),
        blockers,
        stand_in,
    }
}

fn index_name(m: &IndexModel) -> Option<&str> {
    m.options.as_ref().and_then(|o| o.name.as_deref())
}

/// Present when an index of that name has the same keys, uniqueness and partial filter.
fn compare(index: &ExpectedIndex, actual: &[IndexModel]) -> IndexState {
    let describe = |m: &IndexModel| {
        let o = m.options.as_ref();
        let mut s = format!("{} on {}", index_name(m).unwrap_or("?"), m.keys);
        if o.and_then(|o| o.unique).unwrap_or(false) {
            s.push_str(", unique");
        }
        if let Some(p) = o.and_then(|o| o.partial_filter_expression.as_ref()) {
            s.push_str(&format!(", partial {p}"));
        }
        if let Some(ttl) = o.and_then(|o| o.expire_after) {
            s.push_str(&format!(", expires after {} s", ttl.as_secs()));
        }
        s
    };
    let same_keys = |m: &IndexModel| keys_equal(&m.keys, &index.keys);
    match actual.iter().find(|m| index_name(m) == Some(index.name)) {
        Some(m) => {
            let o = m.options.as_ref();
            let unique = o.and_then(|o| o.unique).unwrap_or(false);
            let partial = o.and_then(|o| o.partial_filter_expression.as_ref());
            let ttl = o.and_then(|o| o.expire_after);
            if same_keys(m) && unique == index.unique && partial == index.partial.as_ref() && ttl == index.ttl {
                IndexState::Present
            } else {
                IndexState::Different { actual: describe(m) }
            }
        }
        None => {
            let stand_in = stand_in_name(index.name);
            let others = || actual.iter().filter(|m| same_keys(m) && index_name(m) != Some(stand_in.as_str()));
            if let Some(m) = others().find(|m| covers(m, index)) {
                return IndexState::Covered { by: describe(m) };
            }
            match others().next() {
                Some(m) => IndexState::Different { actual: describe(m) },
                None => IndexState::Missing,
            }
        }
    }
}
