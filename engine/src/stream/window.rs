//! Event-time windows: tumbling and hopping, closed by the watermark.
//!
//! # Semantics
//!
//! * Windows are `[start, start + size)` in event time, with starts at
//!   multiples of the slide (the size, for tumbling windows) since the epoch.
//!   An event belongs to every window that contains its time.
//! * The **watermark** is the largest event time seen minus the allowed
//!   lateness. It advances after each micro-batch (so events of one batch
//!   never make each other late) and never goes back. An event older than
//!   the watermark is **late**: counted per model and dropped. A window
//!   closes once its end is at or before the watermark; since every event
//!   that is not late is at or after the watermark, a closed window can
//!   never receive another event.
//! * On a quiet stream (`window.idle_timeout_secs`), the watermark also
//!   advances with the wall clock, so the last windows close.
//! * Each model's window is keyed by the baseline version it is compared
//!   with; after an activation, old and new versions may be open side by side.
//!
//! # Offsets
//!
//! Each open window remembers, per partition, the smallest offset of the
//! micro-batches that fed it (a conservative bound). The position that may be
//! committed for a partition is the smallest of those over open windows, or
//! one past the last offset received when no open window holds its events.
//! Committing it after the closed windows are exported gives at-least-once
//! delivery into exported windows: a crash replays, and never skips, events
//! of windows not yet exported. That is the engine's mode without a
//! checkpoint database.
//!
//! With checkpoints ([`crate::stream::checkpoint`]), the operator's whole state is
//! stored instead: [`WindowOperator::snapshot`] takes every open window, the
//! watermark and the next offset of every partition (one past the last
//! message applied), and [`WindowOperator::restore`] rebuilds the operator
//! from them, so that resuming at those offsets neither skips nor repeats an
//! event.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use arrow::compute::filter_record_batch;
use driftgauge_detectors::drift::ColumnAccumulator;
use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessConfig};

use crate::config::WindowSpec;
use crate::stream::catalog::ModelPlan;
use crate::stream::checkpoint::{Restored, Snapshot, StoredState, WindowSnapshot};
use crate::stream::compute::WindowState;
use crate::stream::source::PartitionKey;

/// Offsets of the messages (good or bad) consumed from one partition into a micro-batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRange {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Smallest offset.
    pub first: i64,
    /// Largest offset.
    pub last: i64,
}

/// One micro-batch from a source: gathered events per model, and the offsets
/// of every message it consumed.
#[derive(Debug, Clone, Default)]
pub struct SourceBatch {
    /// Events per model (several batches per model are allowed).
    pub batches: Vec<(Arc<ModelPlan>, RecordBatch)>,
    /// Offsets consumed, per partition.
    pub offsets: Vec<PartitionRange>,
}

/// What applying a micro-batch found besides the windows it fed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Late events per model.
    pub late: Vec<(Arc<str>, u64)>,
    /// Events fed to windows (an event in k hopping windows counts once).
    pub accepted: u64,
    /// Accumulator updates that failed (internal errors).
    pub errors: Vec<String>,
}

/// A model's window: the model and the baseline version it is compared with.
type ModelKey = (Arc<str>, Arc<str>);

struct OpenWindow {
    state: WindowState,
    min_offsets: HashMap<PartitionKey, i64>,
}

/// The open windows of every model.
pub struct WindowOperator {
    spec: WindowSpec,
    fairness: FairnessConfig,
    max_event_ms: Option<i64>,
    watermark: Option<i64>,
    open: BTreeMap<i64, BTreeMap<ModelKey, OpenWindow>>,
    next_offset: HashMap<PartitionKey, i64>,
    committed: HashMap<PartitionKey, i64>,
    last_event_at: Option<Instant>,
}

impl std::fmt::Debug for WindowOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowOperator")
            .field("watermark", &self.watermark)
            .field("open", &self.open.len())
            .finish_non_exhaustive()
    }
}

impl WindowOperator {
    /// No open windows yet.
    pub fn new(spec: WindowSpec, min_group_size: u64) -> Self {
        Self {
            spec,
            fairness: FairnessConfig { min_group_size, ..FairnessConfig::default() },
            max_event_ms: None,
            watermark: None,
            open: BTreeMap::new(),
            next_offset: HashMap::new(),
            committed: HashMap::new(),
            last_event_at: None,
        }
    }

    /// An operator resuming a checkpoint: its windows, watermark and
    /// positions. `now` starts the idle clock (see `window.idle_timeout_secs`).
    pub fn restore(
        spec: WindowSpec,
        min_group_size: u64,
        restored: Restored,
        now: Instant,
    ) -> Self {
        let mut operator = Self::new(spec, min_group_size);
        operator.watermark = restored.watermark_ms;
        operator.max_event_ms = restored.max_event_ms;
        operator.last_event_at = restored.max_event_ms.map(|_| now);
        for (key, offset) in restored.offsets {
            operator.next_offset.insert(key.clone(), offset);
            operator.committed.insert(key, offset);
        }
        for state in restored.windows {
            let key = (Arc::clone(&state.plan.model), Arc::clone(&state.plan.version));
            operator
                .open
                .entry(state.start_ms)
                .or_default()
                .insert(key, OpenWindow { state, min_offsets: HashMap::new() });
        }
        operator
    }

    /// Everything a checkpoint holds: open windows (oldest first, models in
    /// name order), the watermark and the next offset of every partition seen.
    pub fn snapshot(&self) -> Snapshot {
        let mut offsets: Vec<(PartitionKey, i64)> =
            self.next_offset.iter().map(|(k, &v)| (k.clone(), v)).collect();
        offsets.sort();
        let windows = self
            .open
            .values()
            .flat_map(BTreeMap::values)
            .map(|w| WindowSnapshot {
                model: Arc::clone(&w.state.plan.model),
                version: Arc::clone(&w.state.plan.version),
                start_ms: w.state.start_ms,
                end_ms: w.state.end_ms,
                state: StoredState::of(&w.state),
            })
            .collect();
        Snapshot { watermark_ms: self.watermark, max_event_ms: self.max_event_ms, offsets, windows }
    }

    /// The watermark, once an event has been seen.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// Open windows, over all models.
    pub fn open_windows(&self) -> usize {
        self.open.values().map(BTreeMap::len).sum()
    }

    /// Feeds a micro-batch to its windows, then advances the watermark.
    pub fn apply(&mut self, batch: SourceBatch, now: Instant) -> Applied {
        let mut applied = Applied::default();
        for range in &batch.offsets {
            let key = (Arc::clone(&range.topic), range.partition);
            // Committing the first position seen would change nothing.
            self.committed.entry(key.clone()).or_insert(range.first);
            let next = self.next_offset.entry(key).or_insert(0);
            *next = (*next).max(range.last + 1);
        }
        let mut batch_max: Option<i64> = None;
        for (plan, records) in &batch.batches {
            let (records, late) = match self.drop_late(plan, records) {
                Ok(split) => split,
                Err(error) => {
                    applied.errors.push(error);
                    continue;
                }
            };
            if late > 0 {
                match applied.late.iter_mut().find(|(m, _)| *m == plan.model) {
                    Some((_, n)) => *n += late,
                    None => applied.late.push((Arc::clone(&plan.model), late)),
                }
            }
            if records.num_rows() == 0 {
                continue;
            }
            let Some(times) = time_column(plan, &records) else {
                applied.errors.push(format!("model `{}`: no time column", plan.model));
                continue;
            };
            let (Some(min), Some(max)) = (arrow::compute::min(times), arrow::compute::max(times))
            else {
                continue;
            };
            batch_max = Some(batch_max.map_or(max, |m| m.max(max)));
            applied.accepted += records.num_rows() as u64;
            for start in self.window_starts(times, min, max) {
                let end = start + self.spec.size_ms;
                let slice = if start <= min && max < end {
                    records.clone()
                } else {
                    let mask: BooleanArray =
                        times.values().iter().map(|&t| Some(start <= t && t < end)).collect();
                    match filter_record_batch(&records, &mask) {
                        Ok(slice) => slice,
                        Err(error) => {
                            applied.errors.push(error.to_string());
                            continue;
                        }
                    }
                };
                if slice.num_rows() == 0 {
                    continue;
                }
                let fairness = &self.fairness;
                let window = self
                    .open
                    .entry(start)
                    .or_default()
                    .entry((Arc::clone(&plan.model), Arc::clone(&plan.version)))
                    .or_insert_with(|| OpenWindow {
                        state: new_state(plan, start, end, fairness),
                        min_offsets: HashMap::new(),
                    });
                if let Err(error) = update(&mut window.state, &slice) {
                    applied.errors.push(error);
                }
                for range in &batch.offsets {
                    let key = (Arc::clone(&range.topic), range.partition);
                    let min = window.min_offsets.entry(key).or_insert(range.first);
                    *min = (*min).min(range.first);
                }
            }
        }
        if let Some(max) = batch_max {
            self.last_event_at = Some(now);
            let max = self.max_event_ms.map_or(max, |m| m.max(max));
            self.max_event_ms = Some(max);
            self.raise_watermark(max - self.spec.allowed_lateness_ms);
        }
        applied
    }

    fn raise_watermark(&mut self, to: i64) {
        self.watermark = Some(self.watermark.map_or(to, |w| w.max(to)));
    }

    /// On a quiet stream, advances the watermark with the wall clock.
    /// Returns whether it moved.
    pub fn advance_idle(&mut self, now: Instant) -> bool {
        let (Some(idle), Some(last), Some(max)) =
            (self.spec.idle_timeout, self.last_event_at, self.max_event_ms)
        else {
            return false;
        };
        let quiet = now.saturating_duration_since(last);
        if quiet < idle {
            return false;
        }
        let before = self.watermark;
        let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX / 4);
        self.raise_watermark(max.saturating_add(quiet_ms) - self.spec.allowed_lateness_ms);
        self.watermark != before
    }

    /// Removes and returns the windows whose end is at or before the
    /// watermark, oldest first (models in name order within a window).
    pub fn close_ready(&mut self) -> Vec<WindowState> {
        let Some(watermark) = self.watermark else { return Vec::new() };
        let mut closed = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() + self.spec.size_ms > watermark {
                break;
            }
            closed.extend(entry.remove().into_values().map(|w| w.state));
        }
        closed
    }

    /// Removes and returns every open window (at shutdown).
    pub fn close_all(&mut self) -> Vec<WindowState> {
        std::mem::take(&mut self.open)
            .into_values()
            .flat_map(BTreeMap::into_values)
            .map(|w| w.state)
            .collect()
    }

    /// Positions (next offset to read) that may now be committed, for the
    /// partitions whose position advanced since the last call.
    pub fn commit_positions(&mut self) -> Vec<(PartitionKey, i64)> {
        let mut safe: HashMap<&PartitionKey, i64> =
            self.next_offset.iter().map(|(k, &v)| (k, v)).collect();
        for windows in self.open.values() {
            for window in windows.values() {
                for (key, &min) in &window.min_offsets {
                    if let Some(position) = safe.get_mut(key) {
                        *position = (*position).min(min);
                    }
                }
            }
        }
        let mut advanced: Vec<(PartitionKey, i64)> = safe
            .into_iter()
            .filter(|(key, position)| self.committed.get(*key).is_none_or(|c| position > c))
            .map(|(key, position)| (key.clone(), position))
            .collect();
        advanced.sort();
        for (key, position) in &advanced {
            self.committed.insert(key.clone(), *position);
        }
        advanced
    }

    /// Forgets the commit state of a partition this consumer no longer owns.
    pub fn forget_partition(&mut self, key: &PartitionKey) {
        self.next_offset.remove(key);
        self.committed.remove(key);
    }

    fn drop_late(
        &self,
        plan: &ModelPlan,
        records: &RecordBatch,
    ) -> Result<(RecordBatch, u64), String> {
        let Some(watermark) = self.watermark else { return Ok((records.clone(), 0)) };
        let times = time_column(plan, records)
            .ok_or_else(|| format!("model `{}`: no time column", plan.model))?;
        let late = times.values().iter().filter(|&&t| t < watermark).count();
        if late == 0 {
            return Ok((records.clone(), 0));
        }
        let keep: BooleanArray = times.values().iter().map(|&t| Some(t >= watermark)).collect();
        let kept = filter_record_batch(records, &keep).map_err(|e| e.to_string())?;
        Ok((kept, late as u64))
    }

    /// Starts of the windows containing any of `times`, ascending.
    fn window_starts(&self, times: &Int64Array, min: i64, max: i64) -> Vec<i64> {
        let (size, slide) = (self.spec.size_ms, self.spec.slide_ms);
        let last_start = |t: i64| t.div_euclid(slide) * slide;
        let mut lasts: Vec<i64> = if last_start(min) == last_start(max) {
            vec![last_start(min)]
        } else {
            let mut lasts: Vec<i64> = times.values().iter().map(|&t| last_start(t)).collect();
            lasts.sort_unstable();
            lasts.dedup();
            lasts
        };
        if size != slide {
            let overlap = size / slide;
            let mut all: Vec<i64> =
                lasts.iter().flat_map(|&s| (0..overlap).map(move |k| s - k * slide)).collect();
            all.sort_unstable();
            all.dedup();
            lasts = all;
        }
        lasts
    }
}

fn time_column<'a>(plan: &ModelPlan, records: &'a RecordBatch) -> Option<&'a Int64Array> {
    records.column(plan.time_index()).as_any().downcast_ref::<Int64Array>()
}

fn new_state(
    plan: &Arc<ModelPlan>,
    start: i64,
    end: i64,
    fairness: &FairnessConfig,
) -> WindowState {
    let accumulator = || {
        // The configuration is validated: the default threshold is in range.
        FairnessAccumulator::new(fairness.clone())
            .unwrap_or_else(|_| unreachable!("fairness settings are validated"))
    };
    WindowState {
        plan: Arc::clone(plan),
        start_ms: start,
        end_ms: end,
        rows: 0,
        columns: plan.profile.columns.iter().map(ColumnAccumulator::new).collect(),
        selection: plan.attributes.iter().map(|_| accumulator()).collect(),
        outcomes: plan.attributes.iter().map(|_| accumulator()).collect(),
    }
}

fn update(state: &mut WindowState, records: &RecordBatch) -> Result<(), String> {
    let plan = Arc::clone(&state.plan);
    state.rows += records.num_rows() as u64;
    for (i, (accumulator, column)) in state.columns.iter_mut().zip(&plan.columns).enumerate() {
        accumulator.update(&column.name, records.column(i).as_ref()).map_err(|e| e.to_string())?;
    }
    let predicted = records.column(plan.predicted_index());
    let actual = records.column(plan.actual_index());
    for (i, (selection, outcomes)) in
        state.selection.iter_mut().zip(&mut state.outcomes).enumerate()
    {
        let attribute = records.column(plan.attribute_index(i));
        selection
            .update(predicted.as_ref(), predicted.as_ref(), attribute.as_ref())
            .map_err(|e| e.to_string())?;
        if actual.null_count() < actual.len() {
            outcomes
                .update(actual.as_ref(), predicted.as_ref(), attribute.as_ref())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray};
    use driftgauge_detectors::baseline::{ColumnProfileBuilder, Profile, ProfileOptions};
    use driftgauge_detectors::column::ColumnKind;

    use super::*;

    fn plan() -> Arc<ModelPlan> {
        let options = ProfileOptions::default();
        let mut x = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        x.update("x", &Float64Array::from(vec![1.0, 2.0, 3.0])).unwrap();
        let profile = Profile {
            format_version: driftgauge_detectors::baseline::FORMAT_VERSION,
            roles: Default::default(),
            rows: 3,
            options,
            columns: vec![x.finish("x", &options)],
        };
        Arc::new(ModelPlan::new("m", "v1", Arc::new(profile), "score", "prediction", &["g".into()]))
    }

    fn batch(plan: &Arc<ModelPlan>, times: &[i64]) -> RecordBatch {
        let n = times.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![1.0; n])),
            Arc::new(Int64Array::from(times.to_vec())),
            Arc::new(BooleanArray::from(vec![true; n])),
            Arc::new(BooleanArray::new_null(n)),
            Arc::new(StringArray::from(vec!["a"; n])),
        ];
        RecordBatch::try_new(Arc::clone(&plan.schema), columns).unwrap()
    }

    fn spec(size: i64, slide: i64, lateness: i64) -> WindowSpec {
        WindowSpec {
            size_ms: size,
            slide_ms: slide,
            allowed_lateness_ms: lateness,
            idle_timeout: None,
        }
    }

    fn source(plan: &Arc<ModelPlan>, times: &[i64], first: i64) -> SourceBatch {
        SourceBatch {
            batches: vec![(Arc::clone(plan), batch(plan, times))],
            offsets: vec![PartitionRange {
                topic: "t".into(),
                partition: 0,
                first,
                last: first + times.len() as i64 - 1,
            }],
        }
    }

    #[test]
    fn tumbling_windows_close_on_the_watermark_and_late_events_are_dropped() {
        let plan = plan();
        let mut op = WindowOperator::new(spec(10, 10, 2), 30);
        let now = Instant::now();
        op.apply(source(&plan, &[1, 5, 9, 11], 0), now);
        assert_eq!(op.watermark(), Some(9));
        assert!(op.close_ready().is_empty());
        // Nothing is committable while window [0, 10) is open.
        assert_eq!(op.commit_positions(), vec![]);
        let applied = op.apply(source(&plan, &[12, 3, 25], 4), now);
        assert_eq!(applied.late, vec![(Arc::from("m"), 1)]);
        assert_eq!(op.watermark(), Some(23));
        let closed = op.close_ready();
        let summary: Vec<(i64, u64)> = closed.iter().map(|w| (w.start_ms, w.rows)).collect();
        assert_eq!(summary, vec![(0, 3), (10, 2)]);
        // Window [20, 30) still holds offsets from 4 on.
        assert_eq!(op.commit_positions(), vec![((Arc::from("t"), 0), 4)]);
        let rest = op.close_all();
        assert_eq!(rest.len(), 1);
        assert_eq!(op.commit_positions(), vec![((Arc::from("t"), 0), 7)]);
    }

    #[test]
    fn hopping_windows_hold_each_event_in_every_window_containing_it() {
        let plan = plan();
        let mut op = WindowOperator::new(spec(10, 5, 0), 30);
        op.apply(source(&plan, &[7, 12], 0), Instant::now());
        op.apply(source(&plan, &[100], 2), Instant::now());
        let summary: Vec<(i64, u64)> =
            op.close_ready().iter().map(|w| (w.start_ms, w.rows)).collect();
        assert_eq!(summary, vec![(0, 1), (5, 2), (10, 1)]);
    }

    #[test]
    fn the_watermark_follows_the_wall_clock_on_a_quiet_stream() {
        let plan = plan();
        let mut op = WindowOperator::new(
            WindowSpec { idle_timeout: Some(Duration::from_millis(50)), ..spec(1000, 1000, 0) },
            30,
        );
        let start = Instant::now();
        op.apply(source(&plan, &[10], 0), start);
        assert!(!op.advance_idle(start + Duration::from_millis(10)));
        assert!(op.advance_idle(start + Duration::from_millis(2000)));
        assert_eq!(op.close_ready().len(), 1);
    }
}
