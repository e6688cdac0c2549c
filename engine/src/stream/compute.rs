//! Finishing closed windows on a dedicated rayon pool, off the tokio runtime.
//!
//! Finishing a window sorts each numeric column's values for KS and
//! Wasserstein and computes every statistic: CPU-bound work that would stall
//! the runtime's reactor. [`ComputePool::run`] runs a closure on the pool and
//! hands the result back through a `tokio::sync::oneshot`, so the async caller
//! only awaits. Columns are fanned out with `par_iter` and collected in column
//! order; every statistic comes from integer counts and sorted samples, so
//! the report does not depend on the pool's size.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use driftgauge_detectors::decision;
use driftgauge_detectors::drift::{
    ColumnAccumulator, ColumnDrift, DatasetDrift, DriftOptions, DriftTest,
};
use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessReport};
use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::stream::catalog::ModelPlan;

/// Why a computation returned nothing.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// The pool could not be built.
    #[error("cannot start the compute pool: {0}")]
    Pool(String),
    /// The closure panicked: a bug, logged and counted by the caller.
    #[error("computation panicked: {0}")]
    Panicked(String),
}

/// A rayon pool with an async front door.
#[derive(Debug, Clone)]
pub struct ComputePool {
    pool: Arc<rayon::ThreadPool>,
}

impl ComputePool {
    /// A pool of `threads` threads (0: one per core).
    ///
    /// # Errors
    /// [`ComputeError::Pool`] if the threads cannot be started.
    pub fn new(threads: usize) -> Result<Self, ComputeError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("driftgauge-compute-{i}"))
            .build()
            .map_err(|e| ComputeError::Pool(e.to_string()))?;
        Ok(Self { pool: Arc::new(pool) })
    }

    /// Runs `f` on the pool (where `par_iter` uses the pool's threads) and
    /// awaits its result.
    ///
    /// # Errors
    /// [`ComputeError::Panicked`] if `f` panicked.
    pub async fn run<F, R>(&self, f: F) -> Result<R, ComputeError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.pool.spawn(move || {
            let result = std::panic::catch_unwind(AssertUnwindSafe(f));
            // The receiver is gone only when the caller was cancelled.
            tx.send(result).ok();
        });
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Err(ComputeError::Panicked(message))
            }
            Err(_) => Err(ComputeError::Panicked("the pool dropped the task".into())),
        }
    }
}

/// The state of one model's window, handed over when it closes.
#[derive(Debug, Clone)]
pub struct WindowState {
    /// The plan the window was opened with.
    pub plan: Arc<ModelPlan>,
    /// Window start, ms since the epoch (inclusive).
    pub start_ms: i64,
    /// Window end, ms since the epoch (exclusive).
    pub end_ms: i64,
    /// Events in the window.
    pub rows: u64,
    /// One accumulator per plan column.
    pub columns: Vec<ColumnAccumulator>,
    /// Per attribute: selection rates over predictions (labels = predictions).
    pub selection: Vec<FairnessAccumulator>,
    /// Per attribute: outcome fairness over events with ground truth.
    pub outcomes: Vec<FairnessAccumulator>,
}

/// One statistic of one column, as exported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Statistic {
    /// Which statistic.
    pub test: DriftTest,
    /// Its value: the distance, or the test statistic of a p-value test.
    pub value: f64,
    /// The p-value of a test.
    pub p_value: Option<f64>,
    /// The threshold: configured for the deciding statistic, else the default.
    pub threshold: f64,
    /// Whether this statistic alone calls drift.
    pub drifted: bool,
    /// Whether this is the column's deciding statistic.
    pub deciding: bool,
    /// For a distance: the value a window of this size exceeds with the
    /// per-feature level's probability when nothing drifted.
    pub critical_value: Option<f64>,
}

/// Fairness of one sensitive attribute in one window.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeFairness {
    /// The attribute.
    pub attribute: String,
    /// Selection rates and demographic parity over all events.
    pub selection: FairnessReport,
    /// Rates against ground truth, over events that carried it.
    pub outcomes: FairnessReport,
}

/// The result of one model's closed window.
#[derive(Debug, Clone)]
pub struct WindowReport {
    /// Model id.
    pub model: Arc<str>,
    /// Baseline version compared against.
    pub version: Arc<str>,
    /// Window start, ms since the epoch.
    pub start_ms: i64,
    /// Window end, ms since the epoch.
    pub end_ms: i64,
    /// Whether the window closed on the watermark (false: flushed at shutdown).
    pub complete: bool,
    /// Events in the window.
    pub rows: u64,
    /// Per column, in plan order.
    pub columns: Vec<ColumnDrift>,
    /// Per column: the exported statistics.
    pub statistics: Vec<Vec<Statistic>>,
    /// The model's verdict.
    pub dataset: DatasetDrift,
    /// Per sensitive attribute.
    pub fairness: Vec<AttributeFairness>,
    /// Seconds spent finishing.
    pub compute_seconds: f64,
}

/// Finishes a closed window: every column on the current rayon pool, in column order.
pub fn finish(
    state: &WindowState,
    complete: bool,
    options: &DriftOptions,
    statistics: &[DriftTest],
) -> WindowReport {
    let started = std::time::Instant::now();
    let profile = &state.plan.profile;
    let mut columns: Vec<ColumnDrift> = state
        .columns
        .par_iter()
        .zip(profile.columns.par_iter())
        .map(|(acc, column)| acc.finish(column, options))
        .collect();
    let dataset = decision::decide_window(&mut columns, options);
    decision::attach_critical_values(&mut columns, &dataset, options);
    let exported = columns.iter().map(|c| column_statistics(c, options, statistics)).collect();
    let fairness = state
        .plan
        .attributes
        .iter()
        .zip(state.selection.iter().zip(&state.outcomes))
        .map(|(attribute, (selection, outcomes))| AttributeFairness {
            attribute: attribute.clone(),
            selection: selection.finish(),
            outcomes: outcomes.finish(),
        })
        .collect();
    WindowReport {
        model: Arc::clone(&state.plan.model),
        version: Arc::clone(&state.plan.version),
        start_ms: state.start_ms,
        end_ms: state.end_ms,
        complete,
        rows: state.rows,
        columns,
        statistics: exported,
        dataset,
        fairness,
        compute_seconds: started.elapsed().as_secs_f64(),
    }
}

/// The statistics of `column` that are configured and were computed.
fn column_statistics(
    column: &ColumnDrift,
    options: &DriftOptions,
    statistics: &[DriftTest],
) -> Vec<Statistic> {
    let deciding = column.decision.test;
    statistics
        .iter()
        .filter_map(|&test| {
            let score = column.score(test).filter(|s| !s.is_nan())?;
            let (value, p_value) = match test {
                DriftTest::Ks => (column.ks.as_ref().map(|k| k.test.statistic)?, Some(score)),
                DriftTest::ChiSquare => {
                    (column.chi_square.as_ref().map(|c| c.statistic)?, Some(score))
                }
                DriftTest::ChiSquareContingency => {
                    (column.chi_square_pooled.as_ref().map(|c| c.statistic)?, Some(score))
                }
                DriftTest::Z => (column.z.as_ref().map(|z| z.statistic)?, Some(score)),
                _ => (score, None),
            };
            let threshold = if test == deciding {
                column.decision.threshold
            } else if test == options.numeric_rule.test {
                options.numeric_rule.threshold
            } else if test == options.categorical_rule.test {
                options.categorical_rule.threshold
            } else {
                test.default_threshold()
            };
            let drifted = if test == deciding {
                column.decision.drifted
            } else if test.is_p_value() {
                score < threshold
            } else {
                score >= threshold
            };
            let critical_value =
                column.critical_values.iter().find(|c| c.statistic == test).map(|c| c.value);
            Some(Statistic {
                test,
                value,
                p_value,
                threshold,
                drifted,
                deciding: test == deciding,
                critical_value,
            })
        })
        .collect()
}

/// The exported name of a statistic (the `statistic` label).
pub fn statistic_name(test: DriftTest) -> &'static str {
    test.name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_come_back_and_panics_become_errors() {
        let pool = ComputePool::new(2).unwrap();
        let sum = pool.run(|| (0..100u64).into_par_iter().sum::<u64>()).await.unwrap();
        assert_eq!(sum, 4950);
        let error = pool.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(error.to_string().contains("boom"), "{error}");
    }
}
