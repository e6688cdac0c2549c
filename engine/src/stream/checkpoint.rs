//! Checkpoints: open windows and Kafka positions, stored together in SQLite.
//!
//! # The guarantee
//!
//! A checkpoint is one SQLite transaction holding, for one consumer group,
//! the state of every open window (each column's counts and values, each
//! fairness accumulator), the watermark and largest event time, and per
//! partition the **next offset to read**: every message below it has been
//! applied to the windows of this checkpoint (or was late, rejected, or
//! belongs to a window exported before it). Only after the commit are the
//! same offsets stored in Kafka for librdkafka to commit, so the group's
//! committed offsets — and the consumer-lag metric — follow the checkpoints.
//! On start the windows are restored, and each partition is assigned at its
//! checkpointed offset: SQLite, not Kafka, is the source of truth. Events
//! consumed after the last checkpoint are read again after a crash and, as
//! they are not in the restored state, counted once. Each event is therefore
//! counted exactly once into its windows, whether the engine stopped
//! gracefully or crashed.
//!
//! A window exported after the last checkpoint is recomputed from the
//! replayed events after a crash; the store records every exported window
//! right after its export (table `checkpoint_exported`), so the replay does
//! not export it a second time. Only a crash between an export and that
//! record can export a window twice — with the same values, which gauges
//! absorb and which webhook triggers deduplicate by their stable event id.
//!
//! # When
//!
//! Every `checkpoint.interval_ms`, and once more at shutdown. At shutdown
//! the open windows are checkpointed instead of being exported as partial
//! windows: they resume on restart and are exported once, complete.
//!
//! # Where
//!
//! In the engine's one SQLite file (`checkpoint.path`, by default the
//! baseline registry's file; migration `V3__checkpoint.sql`, see
//! [`crate::registry::db`]). An engine with neither (baselines from files,
//! no path) has nowhere to write and runs at-least-once as without
//! checkpoints: the committed offset of a partition stays below the events
//! of its open windows, which a restart reads again (see [`crate::stream::window`]).
//!
//! # Format and failures
//!
//! Accumulators are stored as JSON ([`ColumnState`] and
//! [`FairnessAccumulator`]'s serde form), tagged with [`FORMAT_VERSION`].
//! A numeric column's state holds its window's finite values up to the
//! detectors' exact cap (10,000 by default; KS and Wasserstein need them)
//! and bounded grid counts beyond, so a window's state is bounded whatever
//! its traffic: measured (`checkpoint_cost` below, dev profile), 9,000 events
//! of one numeric column make 45 kB of state, snapshotted and saved in 12 ms;
//! 500,000 events make 1.6 kB. Every checkpoint rewrites every open window.
//! A checkpoint that cannot be read — another
//! format version, another window shape, a state that does not fit the
//! baseline, unparsable JSON — stops the engine at start with an error
//! naming the file, the group and the window; it is never guessed at or
//! silently dropped. [`CheckpointStore::discard`] (or the SQL in the
//! message) deletes it to start over from the group's committed offsets.
//! One case is not an error: a window whose model has meanwhile got another
//! active baseline version cannot be finished against the version it was
//! opened with, so it is dropped with a warning (its events are lost).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftgauge_detectors::drift::{ColumnAccumulator, ColumnState};
use driftgauge_detectors::fairness::FairnessAccumulator;
use driftgauge_detectors::json::NonFinite;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::config::WindowSpec;
use crate::registry::db::{self, DbError};
use crate::stream::catalog::Catalog;
use crate::stream::compute::WindowState;
use crate::stream::source::PartitionKey;

/// The layout of a stored window state; a checkpoint of another version is refused.
pub const FORMAT_VERSION: u32 = 1;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Open(#[from] DbError),
    /// SQLite failed (busy, disk full, I/O).
    #[error("{path}: checkpoint {operation} failed")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The checkpoint cannot be resumed: written by another format or window
    /// shape, or damaged.
    #[error(
        "{path}: the checkpoint of consumer group `{group}` cannot be resumed: {reason}. \
         Fix the cause, or delete the checkpoint to start over from the group's committed \
         Kafka offsets (the events of its open windows are then lost): sqlite3 {path} \
         \"PRAGMA foreign_keys = ON; DELETE FROM checkpoints WHERE consumer_group = '{group}'\""
    )]
    Invalid {
        /// The database file.
        path: PathBuf,
        /// The consumer group.
        group: String,
        /// What is wrong, naming the window where there is one.
        reason: String,
    },
}

impl CheckpointError {
    /// Whether an operator must act (an unreadable checkpoint) rather than
    /// the engine retrying (SQLite busy or failing).
    pub fn is_user_error(&self) -> bool {
        matches!(self, Self::Invalid { .. } | Self::Open(DbError::TooNew { .. }))
    }
}

/// What a checkpoint holds, taken from the window operator
/// ([`crate::stream::window::WindowOperator::snapshot`]).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The watermark, once an event has been seen.
    pub watermark_ms: Option<i64>,
    /// The largest event time seen.
    pub max_event_ms: Option<i64>,
    /// Next offset to read per partition, sorted.
    pub offsets: Vec<(PartitionKey, i64)>,
    /// Every open window.
    pub windows: Vec<WindowSnapshot>,
}

/// One open window of one model.
#[derive(Debug, Clone)]
pub struct WindowSnapshot {
    /// Model id.
    pub model: Arc<str>,
    /// Baseline version.
    pub version: Arc<str>,
    /// Window start, ms.
    pub start_ms: i64,
    /// Window end, ms.
    pub end_ms: i64,
    /// The accumulators.
    pub state: StoredState,
}

/// The JSON stored per window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredState {
    /// Events in the window.
    pub rows: u64,
    /// Column names, in plan order (checked against the baseline on restore).
    pub column_names: Vec<String>,
    /// One state per column.
    pub columns: Vec<ColumnState>,
    /// Per sensitive attribute.
    pub attributes: Vec<String>,
    /// Selection-rate accumulators, per attribute.
    pub selection: Vec<FairnessAccumulator>,
    /// Outcome accumulators, per attribute.
    pub outcomes: Vec<FairnessAccumulator>,
}

impl StoredState {
    /// The state of `window`.
    pub fn of(window: &WindowState) -> Self {
        Self {
            rows: window.rows,
            column_names: window.plan.columns.iter().map(|c| c.name.clone()).collect(),
            columns: window.columns.iter().map(ColumnAccumulator::state).collect(),
            attributes: window.plan.attributes.clone(),
            selection: window.selection.clone(),
            outcomes: window.outcomes.clone(),
        }
    }
}

/// A checkpoint read back, ready for [`crate::stream::window::WindowOperator::restore`].
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// The checkpoint's sequence number (0: there was none).
    pub sequence: u64,
    /// The watermark.
    pub watermark_ms: Option<i64>,
    /// The largest event time seen.
    pub max_event_ms: Option<i64>,
    /// Next offset to read per partition.
    pub offsets: Vec<(PartitionKey, i64)>,
    /// The open windows, rebuilt against the current baselines.
    pub windows: Vec<WindowState>,
    /// Windows already exported that a replay could close again.
    pub exported: HashSet<ExportedKey>,
    /// Windows dropped because their baseline version is no longer active.
    pub dropped: Vec<ExportedKey>,
}

/// A model's window: model, baseline version, start (ms).
pub type ExportedKey = (Arc<str>, Arc<str>, i64);

/// A window just exported, to record.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Model, version and start.
    pub key: ExportedKey,
    /// Window end, ms.
    pub end_ms: i64,
}

/// The checkpoint tables of one consumer group in the engine's database.
/// Every method blocks: call them from `spawn_blocking`.
#[derive(Debug)]
pub struct CheckpointStore {
    conn: Connection,
    path: PathBuf,
    group: String,
}

impl CheckpointStore {
    /// Opens (creating and migrating as needed) the database at `path`, for
    /// the checkpoints of consumer group `group`.
    ///
    /// # Errors
    /// [`CheckpointError::Open`] naming the file.
    pub fn open(path: &Path, group: &str) -> Result<Self, CheckpointError> {
        Ok(Self { conn: db::open(path)?, path: path.to_owned(), group: group.to_owned() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> CheckpointError + '_ {
        move |source| CheckpointError::Sql { path: self.path.clone(), operation, source }
    }

    fn invalid(&self, reason: String) -> CheckpointError {
        CheckpointError::Invalid { path: self.path.clone(), group: self.group.clone(), reason }
    }

    /// Writes `snapshot` as the group's checkpoint, replacing the previous
    /// one, in one transaction; returns its sequence number.
    ///
    /// # Errors
    /// [`CheckpointError::Sql`]; the previous checkpoint is then unchanged.
    pub fn save(&mut self, snapshot: &Snapshot, spec: &WindowSpec) -> Result<u64, CheckpointError> {
        let mut states = Vec::with_capacity(snapshot.windows.len());
        for window in &snapshot.windows {
            let json = serde_json::to_string(&NonFinite(&window.state)).map_err(|e| {
                self.invalid(format!(
                    "model `{}` window {}: cannot encode its state: {e}",
                    window.model, window.start_ms
                ))
            })?;
            states.push(json);
        }
        let path = self.path.clone();
        let group = self.group.clone();
        let fail = |operation| {
            let path = path.clone();
            move |source| CheckpointError::Sql { path, operation, source }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail("begin"))?;
        let previous: Option<u64> = tx
            .query_row(
                "SELECT sequence FROM checkpoints WHERE consumer_group = ?1",
                [&group],
                |row| row.get(0),
            )
            .optional()
            .map_err(fail("read sequence"))?;
        let sequence = previous.unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO checkpoints (consumer_group, format_version, window_size_ms, \
             window_slide_ms, watermark_ms, max_event_ms, sequence, written_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (consumer_group) DO UPDATE SET format_version = excluded.format_version, \
             window_size_ms = excluded.window_size_ms, window_slide_ms = excluded.window_slide_ms, \
             watermark_ms = excluded.watermark_ms, max_event_ms = excluded.max_event_ms, \
             sequence = excluded.sequence, written_at_ms = excluded.written_at_ms",
            rusqlite::params![
                group,
                FORMAT_VERSION,
                spec.size_ms,
                spec.slide_ms,
                snapshot.watermark_ms,
                snapshot.max_event_ms,
                sequence,
                now_ms(),
            ],
        )
        .map_err(fail("write"))?;
        tx.execute("DELETE FROM checkpoint_windows WHERE consumer_group = ?1", [&group])
            .map_err(fail("write windows"))?;
        tx.execute("DELETE FROM checkpoint_offsets WHERE consumer_group = ?1", [&group])
            .map_err(fail("write offsets"))?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO checkpoint_windows (consumer_group, model, version, start_ms, \
                     end_ms, row_count, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(fail("write windows"))?;
            for (window, state) in snapshot.windows.iter().zip(&states) {
                insert
                    .execute(rusqlite::params![
                        group,
                        &*window.model,
                        &*window.version,
                        window.start_ms,
                        window.end_ms,
                        window.state.rows,
                        state,
                    ])
                    .map_err(fail("write windows"))?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT INTO checkpoint_offsets (consumer_group, topic, partition, next_offset) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(fail("write offsets"))?;
            for ((topic, partition), offset) in &snapshot.offsets {
                insert
                    .execute(rusqlite::params![group, &**topic, partition, offset])
                    .map_err(fail("write offsets"))?;
            }
        }
        // A window ending at or before the watermark can never be closed
        // again from this checkpoint on: its record has done its job.
        if let Some(watermark) = snapshot.watermark_ms {
            tx.execute(
                "DELETE FROM checkpoint_exported WHERE consumer_group = ?1 AND end_ms <= ?2",
                rusqlite::params![group, watermark],
            )
            .map_err(fail("prune exported"))?;
        }
        tx.commit().map_err(fail("commit"))?;
        Ok(sequence)
    }

    /// Records windows just exported, so that a replay after a crash does not
    /// export them again.
    ///
    /// # Errors
    /// [`CheckpointError::Sql`].
    pub fn record_exported(&mut self, windows: &[Exported]) -> Result<(), CheckpointError> {
        if windows.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let path = self.path.clone();
        let fail =
            move |source| CheckpointError::Sql { path: path.clone(), operation: "record", source };
        let tx = self.conn.transaction().map_err(&fail)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR REPLACE INTO checkpoint_exported (consumer_group, model, version, \
                     start_ms, end_ms, exported_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&fail)?;
            for window in windows {
                let (model, version, start) = &window.key;
                insert
                    .execute(rusqlite::params![
                        self.group,
                        &**model,
                        &**version,
                        start,
                        window.end_ms,
                        now
                    ])
                    .map_err(&fail)?;
            }
        }
        tx.commit().map_err(&fail)
    }

    /// Reads the group's checkpoint and rebuilds its windows against the
    /// current baselines; `None` when the group has none.
    ///
    /// # Errors
    /// [`CheckpointError::Invalid`] if it cannot be resumed (see the module
    /// docs), [`CheckpointError::Sql`] if SQLite fails.
    pub fn load(
        &self,
        spec: &WindowSpec,
        catalog: &Catalog,
    ) -> Result<Option<Restored>, CheckpointError> {
        type Head = (i64, i64, i64, Option<i64>, Option<i64>, i64);
        let head: Option<Head> = self
            .conn
            .query_row(
                "SELECT format_version, window_size_ms, window_slide_ms, watermark_ms, \
                 max_event_ms, sequence FROM checkpoints WHERE consumer_group = ?1",
                [&self.group],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()
            .map_err(self.sql("read"))?;
        let mut exported = HashSet::new();
        {
            let mut select = self
                .conn
                .prepare(
                    "SELECT model, version, start_ms FROM checkpoint_exported \
                     WHERE consumer_group = ?1",
                )
                .map_err(self.sql("read exported"))?;
            let rows = select
                .query_map([&self.group], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(self.sql("read exported"))?;
            for row in rows {
                let (model, version, start) = row.map_err(self.sql("read exported"))?;
                exported.insert((Arc::from(model), Arc::from(version), start));
            }
        }
        let Some((format, size_ms, slide_ms, watermark_ms, max_event_ms, sequence)) = head else {
            return Ok(None);
        };
        if format != i64::from(FORMAT_VERSION) {
            return Err(self.invalid(format!(
                "it has format version {format}, this driftgauge reads version {FORMAT_VERSION}"
            )));
        }
        if (size_ms, slide_ms) != (spec.size_ms, spec.slide_ms) {
            return Err(self.invalid(format!(
                "it holds windows of {size_ms} ms every {slide_ms} ms, the configuration has \
                 {} ms every {} ms",
                spec.size_ms, spec.slide_ms
            )));
        }
        let sequence = u64::try_from(sequence)
            .map_err(|_| self.invalid(format!("negative sequence {sequence}")))?;

        let mut offsets = Vec::new();
        {
            let mut select = self
                .conn
                .prepare(
                    "SELECT topic, partition, next_offset FROM checkpoint_offsets \
                     WHERE consumer_group = ?1 ORDER BY topic, partition",
                )
                .map_err(self.sql("read offsets"))?;
            let rows = select
                .query_map([&self.group], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(self.sql("read offsets"))?;
            let mut topics: BTreeMap<String, Arc<str>> = BTreeMap::new();
            for row in rows {
                let (topic, partition, offset) = row.map_err(self.sql("read offsets"))?;
                let topic = Arc::clone(
                    topics.entry(topic.clone()).or_insert_with(|| Arc::from(topic.as_str())),
                );
                offsets.push(((topic, partition), offset));
            }
        }

        let mut windows = Vec::new();
        let mut dropped = Vec::new();
        let mut select = self
            .conn
            .prepare(
                "SELECT model, version, start_ms, end_ms, state FROM checkpoint_windows \
                 WHERE consumer_group = ?1 ORDER BY start_ms, model, version",
            )
            .map_err(self.sql("read windows"))?;
        let rows = select
            .query_map([&self.group], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sql("read windows"))?;
        for row in rows {
            let (model, version, start_ms, end_ms, json) = row.map_err(self.sql("read windows"))?;
            let at = |reason: String| {
                self.invalid(format!(
                    "model `{model}` version `{version}` window {start_ms}: {reason}"
                ))
            };
            if end_ms - start_ms != spec.size_ms || start_ms.rem_euclid(spec.slide_ms) != 0 {
                return Err(at(format!("[{start_ms}, {end_ms}) is not a window of this shape")));
            }
            let plan = match catalog.get(&model) {
                Some(plan) if *plan.version == *version => Arc::clone(plan),
                _ => {
                    dropped.push((
                        Arc::from(model.as_str()),
                        Arc::from(version.as_str()),
                        start_ms,
                    ));
                    continue;
                }
            };
            let state: StoredState = serde_json::from_str(&json).map_err(|e| {
                at(format!("its state is not valid JSON of format {FORMAT_VERSION}: {e}"))
            })?;
            let names: Vec<&str> = plan.columns.iter().map(|c| c.name.as_str()).collect();
            if state.column_names.iter().map(String::as_str).ne(names.iter().copied())
                || state.columns.len() != names.len()
            {
                return Err(at(format!(
                    "its columns {:?} are not the baseline's {names:?}",
                    state.column_names
                )));
            }
            if state.attributes != plan.attributes
                || state.selection.len() != plan.attributes.len()
                || state.outcomes.len() != plan.attributes.len()
            {
                return Err(at(format!(
                    "its sensitive attributes {:?} are not the configured {:?}",
                    state.attributes, plan.attributes
                )));
            }
            let columns = state
                .columns
                .into_iter()
                .zip(&plan.profile.columns)
                .map(|(column, profile)| ColumnAccumulator::restore(profile, column))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| at(e.to_string()))?;
            windows.push(WindowState {
                plan,
                start_ms,
                end_ms,
                rows: state.rows,
                columns,
                selection: state.selection,
                outcomes: state.outcomes,
            });
        }
        Ok(Some(Restored {
            sequence,
            watermark_ms,
            max_event_ms,
            offsets,
            windows,
            exported,
            dropped,
        }))
    }

    /// Deletes the group's checkpoint and export records.
    ///
    /// # Errors
    /// [`CheckpointError::Sql`].
    pub fn discard(&mut self) -> Result<(), CheckpointError> {
        let path = self.path.clone();
        let fail =
            move |source| CheckpointError::Sql { path: path.clone(), operation: "discard", source };
        let tx = self.conn.transaction().map_err(&fail)?;
        for table in
            ["checkpoint_windows", "checkpoint_offsets", "checkpoint_exported", "checkpoints"]
        {
            tx.execute(&format!("DELETE FROM {table} WHERE consumer_group = ?1"), [&self.group])
                .map_err(&fail)?;
        }
        tx.commit().map_err(&fail)
    }
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use arrow::array::{
        ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    };
    use driftgauge_detectors::baseline::{
        ColumnProfileBuilder, FORMAT_VERSION as PROFILE_FORMAT, Profile, ProfileOptions,
    };
    use driftgauge_detectors::column::ColumnKind;

    use super::*;
    use crate::config::Config;
    use crate::stream::catalog::{ModelPlan, StaticBaselines};
    use crate::stream::window::{PartitionRange, SourceBatch, WindowOperator};

    const T0: i64 = 1_700_000_000_000;

    fn setup() -> (Config, Catalog) {
        let options = ProfileOptions::default();
        let mut x = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        x.update("x", &Float64Array::from_iter_values((0..100).map(f64::from))).unwrap();
        let profile = Profile {
            format_version: PROFILE_FORMAT,
            roles: Default::default(),
            rows: 100,
            options,
            columns: vec![x.finish("x", &options)],
        };
        let mut baselines = StaticBaselines::new();
        baselines.insert("m", "v1", profile);
        let text = "[window]\nsize_secs = 10\n[fairness]\nattributes = [\"g\"]\n";
        let config = Config::from_layers(Some(("test", text)), std::iter::empty()).unwrap();
        let catalog = Catalog::load(&baselines, &config, None).unwrap();
        (config, catalog)
    }

    fn batch(plan: &Arc<ModelPlan>, times: &[i64], first: i64) -> SourceBatch {
        let n = times.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| (i * 7 % 100) as f64))),
            Arc::new(Int64Array::from(times.to_vec())),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 3 == 0)))),
            Arc::new(BooleanArray::from_iter((0..n).map(|i| (i % 2 == 0).then_some(i % 5 == 0)))),
            Arc::new(StringArray::from_iter_values((0..n).map(|i| ["a", "b"][i % 2]))),
        ];
        SourceBatch {
            batches: vec![(
                Arc::clone(plan),
                RecordBatch::try_new(Arc::clone(&plan.schema), columns).unwrap(),
            )],
            offsets: vec![PartitionRange {
                topic: "t".into(),
                partition: 0,
                first,
                last: first + n as i64 - 1,
            }],
        }
    }

    fn finished(windows: Vec<WindowState>, config: &Config) -> Vec<String> {
        windows
            .iter()
            .map(|w| {
                let r = crate::stream::compute::finish(w, false, &config.drift, &config.statistics);
                let fairness: Vec<String> =
                    r.fairness.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
                format!("{} {} {:?} {:?} {fairness:?}", r.start_ms, r.rows, r.columns, r.statistics)
            })
            .collect()
    }

    #[test]
    fn a_saved_checkpoint_restores_the_same_windows_and_offsets() {
        let (config, catalog) = setup();
        let plan = Arc::clone(catalog.get("m").unwrap());
        let now = Instant::now();
        let mut operator = WindowOperator::new(config.window, 5);
        let times: Vec<i64> = (0..40).map(|i| T0 + i * 400).collect();
        operator.apply(batch(&plan, &times[..25], 0), now);
        operator.apply(batch(&plan, &times[25..], 25), now);
        assert!(operator.open_windows() >= 2);

        let dir = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::open(&dir.path().join("db"), "g").unwrap();
        assert!(store.load(&config.window, &catalog).unwrap().is_none(), "nothing stored yet");
        let snapshot = operator.snapshot();
        assert_eq!(store.save(&snapshot, &config.window).unwrap(), 1);
        assert_eq!(store.save(&snapshot, &config.window).unwrap(), 2, "one sequence per save");
        let key = (Arc::from("m"), Arc::from("v1"), T0 - 10_000);
        store.record_exported(&[Exported { key: key.clone(), end_ms: T0 }]).unwrap();

        let restored = store.load(&config.window, &catalog).unwrap().unwrap();
        assert_eq!(restored.sequence, 2);
        assert_eq!(restored.offsets, vec![((Arc::from("t"), 0), 40)]);
        assert_eq!(restored.watermark_ms, operator.watermark());
        assert!(restored.exported.contains(&key));
        let mut back = WindowOperator::restore(config.window, 5, restored, now);
        assert_eq!(back.snapshot().offsets, snapshot.offsets);
        assert_eq!(finished(back.close_all(), &config), finished(operator.close_all(), &config));

        // The next save prunes export records the watermark has passed.
        store.save(&snapshot, &config.window).unwrap();
        let restored = store.load(&config.window, &catalog).unwrap().unwrap();
        assert!(restored.exported.is_empty());
    }

    #[test]
    fn another_window_shape_or_a_changed_baseline_is_reported_not_guessed() {
        let (config, catalog) = setup();
        let plan = Arc::clone(catalog.get("m").unwrap());
        let mut operator = WindowOperator::new(config.window, 5);
        operator.apply(batch(&plan, &[T0, T0 + 1], 0), Instant::now());
        let dir = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::open(&dir.path().join("db"), "g").unwrap();
        store.save(&operator.snapshot(), &config.window).unwrap();

        let mut wider = config.window;
        wider.size_ms *= 2;
        wider.slide_ms *= 2;
        let error = store.load(&wider, &catalog).unwrap_err();
        assert!(error.is_user_error());
        assert!(error.to_string().contains("the configuration has 20000 ms"), "{error}");

        // Another active version: the window is dropped, the offsets stay.
        let mut baselines = StaticBaselines::new();
        baselines.insert("m", "v2", (*plan.profile).clone());
        let other = Catalog::load(&baselines, &config, None).unwrap();
        let restored = store.load(&config.window, &other).unwrap().unwrap();
        assert!(restored.windows.is_empty());
        assert_eq!(restored.dropped, vec![(Arc::from("m"), Arc::from("v1"), T0)]);
        assert_eq!(restored.offsets.len(), 1);

        store.discard().unwrap();
        assert!(store.load(&config.window, &catalog).unwrap().is_none());
    }

    /// The cost of one checkpoint of a large window. Run with
    /// `cargo test -p driftgauge-engine --lib -- --ignored checkpoint_cost --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn checkpoint_cost() {
        let (config, catalog) = setup();
        let plan = Arc::clone(catalog.get("m").unwrap());
        for events in [9_000usize, 500_000] {
            let mut operator = WindowOperator::new(config.window, 5);
            for (k, chunk) in (0..events).collect::<Vec<_>>().chunks(50_000).enumerate() {
                let times: Vec<i64> =
                    chunk.iter().map(|&i| T0 + (i as i64 * 9_000) / events as i64).collect();
                operator.apply(batch(&plan, &times, (k * 50_000) as i64), Instant::now());
            }
            let dir = tempfile::tempdir().unwrap();
            let mut store = CheckpointStore::open(&dir.path().join("db"), "g").unwrap();
            let started = Instant::now();
            let snapshot = operator.snapshot();
            store.save(&snapshot, &config.window).unwrap();
            let saved = started.elapsed();
            let bytes: i64 = store
                .conn
                .query_row("SELECT sum(length(state)) FROM checkpoint_windows", [], |r| r.get(0))
                .unwrap();
            let loaded = Instant::now();
            store.load(&config.window, &catalog).unwrap().unwrap();
            println!(
                "{events} events (one numeric column, one attribute) in one window: \
                 snapshot + save {:.4} s, {bytes} bytes of state, load {:.4} s",
                saved.as_secs_f64(),
                loaded.elapsed().as_secs_f64()
            );
        }
    }
}
