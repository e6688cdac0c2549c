//! Window accumulators and the drift report of one column against its baseline
//! (the reference-fitted mode, driftgauge's default contract).
//!
//! An accumulator is built from a column's [`ColumnProfile`], fed Arrow arrays
//! with [`ColumnAccumulator::update`], combined with
//! [`ColumnAccumulator::merge`] and turned into a [`ColumnDrift`] by
//! [`ColumnAccumulator::finish`]. The report is the same however the window
//! was split into batches or threads, and merged in whatever order.
//!
//! # Bounded window state
//!
//! A window's memory does not grow with the events it holds. Its state is:
//!
//! * integer counts against the profile's bin thresholds and of missing values
//!   (PSI, KL, JS, Hellinger, chi-square and data quality use only these, so
//!   they are exact at any size);
//! * for numeric columns, the values KS and Wasserstein need: kept exactly
//!   while the window holds at most [`WindowOptions::exact_cap`] finite values
//!   (default 10,000, the size up to which scipy's `ks_2samp` gives an exact
//!   p-value), then counted on a [`Grid`] of `B` = [`WindowOptions::grid_cells`]
//!   (default 4,096) cells cut at reference quantiles (see [`crate::grid`]).
//!
//! Whether a window is exact depends only on its total count, never on how it
//! was split: parts are exact or gridded on their own, and a merge that passes
//! the cap converts both sides; grid counts are integers, so merging them is
//! addition. Beyond the cap the report states its error bounds
//! ([`KsReport::statistic_error_bound`], [`ColumnDrift::wasserstein_error_bound`]):
//! `D_grid <= D <= D_grid + max reference mass of a cell` (below `1 / B`, 0 for
//! references with at most `B` distinct values), and Wasserstein-1 is exact
//! outside the reference range and within `Σ 2 μ (1 − μ) width · mass` over
//! the cells inside it (`μ` the cell's mean position, at most half a cell's
//! width per unit of mass). The p-values follow from the bounded D with the
//! asymptotic method, which scipy's `auto` uses at these sizes too.
//!
//! A numeric window's state never exceeds
//! [`WindowOptions::max_numeric_state_bytes`]: about 175 KiB per column with
//! the defaults, whether the window holds 20,000 or 20 million events
//! ([`ColumnAccumulator::state_bytes`] reports it; the tests check both). A
//! categorical column keeps one count per category seen.
//!
//! Batch comparisons (`driftgauge check`) hold the whole file anyway and use
//! [`WindowOptions::unbounded`], so they stay exact to the last digit.
//!
//! # Checkpoints
//!
//! [`ColumnAccumulator::state`] returns a serde-serialisable [`ColumnState`]
//! and [`ColumnAccumulator::restore`] rebuilds the accumulator from it and the
//! same profile; what the profile determines (thresholds, grid edges, the
//! category index) is not serialised but rebuilt, and the state is checked
//! against it. A restored accumulator finishes, merges and keeps accumulating
//! exactly like the original.
//!
//! # Conventions
//!
//! * **Bins.** Numeric columns use the profile's decile edges with open outer
//!   bins, so current values outside the reference range land in the outer
//!   bins (and are also counted as out of range). Categorical columns use the
//!   sorted union of reference and current categories (integer codes sorted
//!   as numbers, [`column::compare_categories`]).
//! * **Folded baselines.** A stored profile that kept only its `top_k` most
//!   frequent categories cannot tell a category it folded into `other` from
//!   one it never saw. Every current category it does not list is therefore
//!   counted in one `(other)` bin, compared with the reference's `other`
//!   rows; no category is reported unseen (`unseen_share` is absent), the
//!   Z-test is not computed (the first category of the union is unknown), and
//!   the report carries [`Approximation::FoldedCategories`]. A profile whose
//!   numeric sample was compressed gives KS and Wasserstein within the bounds
//!   of [`Approximation::CompressedReference`]. Profiles fitted with
//!   [`crate::baseline::ProfileOptions::exact`] are never approximate.
//! * **Missing values.** Nulls, NaN and ±inf are counted and reported, and left
//!   out of every bin and sample: proportions are over the non-missing values.
//! * **Smoothing.** PSI and KL replace empty-bin proportions by
//!   [`DriftOptions::epsilon`] (default `1e-4`) without renormalising; JS and
//!   Hellinger use the raw proportions.
//! * **Directions and bases.** PSI `Σ (q − p) ln(q / p)` (symmetric); KL in
//!   both directions, `KL(reference ‖ current)` and `KL(current ‖ reference)`,
//!   in nats; JS distance in base e (maximum `sqrt(ln 2)`) and base 2 (maximum
//!   1); Hellinger `sqrt(1 − Σ sqrt(p q))` in `[0, 1]`. `p` is the reference.
//! * **Tests.** KS follows `scipy.stats.ks_2samp` (both `auto` and `asymp`
//!   p-values are reported); chi-square in Evidently's goodness-of-fit form and
//!   as a 2 × K contingency test; the Z-test compares the share of rows not in
//!   the first sorted category (categorical columns only).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::Array;
use serde::{Deserialize, Serialize};

use crate::baseline::{
    CategoricalProfile, ColumnProfile, ColumnStats, MissingCounts, NumericProfile,
};
use crate::column::{self, ColumnKind};
use crate::divergence::{self, TestResult};
use crate::error::{Error, Result};
use crate::grid::{self, Grid, GridCounts};
use crate::histogram::ThresholdCounts;
use crate::ks::{self, KsMethod, KsTest};
use crate::sample::{self, SortedSample};

/// A statistic that can decide whether a column drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftTest {
    /// Population stability index; drift when `psi >= threshold` (default 0.1).
    Psi,
    /// `KL(reference ‖ current)`; drift when `>= threshold` (default 0.1).
    Kl,
    /// Jensen-Shannon distance, base e; drift when `>= threshold` (default 0.1).
    #[serde(alias = "jensen-shannon")]
    JensenShannon,
    /// Hellinger distance; drift when `>= threshold` (default 0.1).
    Hellinger,
    /// Wasserstein-1 over the reference std; drift when `>= threshold` (default 0.1).
    Wasserstein,
    /// KS p-value; drift when `p < threshold` (default 0.05). Numeric only.
    Ks,
    /// Chi-square goodness-of-fit p-value; drift when `p < threshold` (default 0.05).
    #[serde(alias = "chi-square")]
    ChiSquare,
    /// Chi-square test of homogeneity (2 × K, the reference's sampling error
    /// included) on bins pooled to at least 5 expected window rows each (see
    /// [`divergence::pooled_contingency`]); drift when `p < threshold` (default 0.05).
    ChiSquareContingency,
    /// Two-proportion Z-test p-value; drift when `p < threshold` (default 0.05). Categorical only.
    Z,
}

impl DriftTest {
    /// The threshold used when none is configured.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// The statistic's name in configuration, reports and metric labels
    /// (`psi`, `jensen_shannon`, `chi_square_contingency`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Psi => "psi",
            Self::Kl => "kl",
            Self::JensenShannon => "jensen_shannon",
            Self::Hellinger => "hellinger",
            Self::Wasserstein => "wasserstein",
            Self::Ks => "ks",
            Self::ChiSquare => "chi_square",
            Self::ChiSquareContingency => "chi_square_contingency",
            Self::Z => "z",
        }
    }

    /// Whether the statistic is a p-value (small means drift) rather than a
    /// distance (large means drift).
    pub fn is_p_value(self) -> bool {
        matches!(self, Self::Ks | Self::ChiSquare | Self::ChiSquareContingency | Self::Z)
    }
}

/// A statistic and the threshold at which it calls drift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftRule {
    /// The deciding statistic.
    pub test: DriftTest,
    /// Its threshold; see [`DriftTest`] for the comparison.
    pub threshold: f64,
}

impl DriftRule {
    /// `test` with its default threshold.
    pub fn new(test: DriftTest) -> Self {
        Self { test, threshold: test.default_threshold() }
    }
}

/// Fewest non-missing window values a column needs for any test. Below it a
/// test at a corrected level has almost no power, so "no drift" would be a
/// guess; it is also the conventional floor for the chi-square and
/// Kolmogorov approximations.
pub const MIN_ROWS: u64 = 30;

/// Fewest window rows each pooled bin of a chi-square test must expect
/// (Cochran's rule): below it the chi-square tail is not trustworthy at a
/// corrected level.
pub const MIN_EXPECTED: f64 = 5.0;

/// A numeric column whose reference has a single value holding at least this
/// share of its finite rows is tested on its bins (chi-square), not with KS:
/// KS's p-value assumes no ties and is conservative with large atoms.
pub const DISCRETE_ATOM_SHARE: f64 = 0.05;

/// How a window's columns and the window itself are called drifted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// P-values against a corrected per-feature level; the window drifts when
    /// any column drifts (the default).
    #[default]
    Corrected,
    /// Each column's deciding statistic against a fixed threshold; the window
    /// drifts when at least `drift_share` of its columns drift (Evidently's rule).
    Share,
}

/// How the per-feature level is derived from `alpha`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm's step-down procedure: the family-wise false-alarm rate of a
    /// window (any false alarm) is at most `alpha` (the default).
    #[default]
    Holm,
    /// Benjamini–Hochberg: the expected share of false alarms among the
    /// drifted columns is at most `alpha` (more power with many features).
    BenjaminiHochberg,
}

/// A minimum effect size a drifting column must also show.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinEffect {
    /// A distance: psi, kl, jensen_shannon, hellinger or wasserstein.
    pub statistic: DriftTest,
    /// The column drifts only when the distance is at least this.
    pub at_least: f64,
}

/// A column's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The column drifted.
    Drift,
    /// The column was tested and did not drift.
    #[default]
    Stable,
    /// The window holds too little of the column for its test: no verdict.
    Insufficient,
}

/// The window-level outcome of the corrected decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorrectedVerdict {
    /// The false-alarm budget of one window of one model.
    pub alpha: f64,
    /// Holm or Benjamini–Hochberg.
    pub correction: Correction,
    /// The per-feature level: a decided column drifts when its p-value is at
    /// or below it.
    pub level: f64,
    /// Columns tested (not insufficient).
    pub decided_columns: usize,
    /// Columns too small for their test.
    pub insufficient_columns: usize,
    /// The minimum effect also required, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<MinEffect>,
}

/// How a critical value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalMethod {
    /// The chi-square approximation (every bin expects at least 5 rows on both sides).
    ChiSquare,
    /// A seeded simulation from the reference profile.
    Simulation,
}

/// The value of a distance that a window of this size exceeds with
/// probability `level` when nothing drifted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CriticalValue {
    /// The distance.
    pub statistic: DriftTest,
    /// Its critical value.
    pub value: f64,
    /// The false-alarm probability it stands for (the per-feature level).
    pub level: f64,
    /// Approximation or simulation.
    pub method: CriticalMethod,
}

/// How drift is measured and decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftOptions {
    /// Proportion that replaces empty bins in PSI and KL (default `1e-4`).
    pub epsilon: f64,
    /// KS p-value method for the decision and the `p_value` field (default `auto`).
    pub ks_method: KsMethod,
    /// Deciding rule for numeric columns (default PSI ≥ 0.1).
    pub numeric_rule: DriftRule,
    /// Deciding rule for categorical columns (default PSI ≥ 0.1).
    pub categorical_rule: DriftRule,
    /// The dataset drifts when at least this share of columns drift (default
    /// 0.5); the share rule only.
    pub drift_share: f64,
    /// How columns and windows are decided (default
    /// [`DecisionRule::Corrected`]); the rules above apply to
    /// [`DecisionRule::Share`] only.
    pub decision: DecisionRule,
    /// The false-alarm budget of one window of one model (default 0.05); see
    /// [`crate::decision`].
    pub alpha: f64,
    /// How `alpha` becomes a per-feature level (default Holm).
    pub correction: Correction,
    /// A distance a drifting column must also reach (default none).
    pub min_effect: Option<MinEffect>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            epsilon: 1e-4,
            ks_method: KsMethod::Auto,
            numeric_rule: DriftRule::new(DriftTest::Psi),
            categorical_rule: DriftRule::new(DriftTest::Psi),
            drift_share: 0.5,
            decision: DecisionRule::Corrected,
            alpha: 0.05,
            correction: Correction::Holm,
            min_effect: None,
        }
    }
}

impl DriftOptions {
    /// Whether Wasserstein's null distribution is needed: it decides under the
    /// share rule, or it is the minimum effect.
    pub(crate) fn wants_wasserstein(&self) -> bool {
        (self.decision == DecisionRule::Share && self.numeric_rule.test == DriftTest::Wasserstein)
            || self.min_effect.is_some_and(|e| e.statistic == DriftTest::Wasserstein)
    }

    /// The share rule with `numeric` and `categorical` deciding, the other
    /// settings at their defaults: the decision before the corrected one.
    pub fn share(numeric: DriftRule, categorical: DriftRule, drift_share: f64) -> Self {
        Self {
            numeric_rule: numeric,
            categorical_rule: categorical,
            drift_share,
            decision: DecisionRule::Share,
            ..Self::default()
        }
    }
}

impl DriftOptions {
    /// Checks every setting, reporting the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |setting, reason: String| Err(Error::InvalidConfig { setting, reason });
        if !(self.epsilon > 0.0 && self.epsilon < 1.0) {
            return bad("epsilon", format!("{} is not in (0, 1)", self.epsilon));
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            return bad("drift_share", format!("{} is not in (0, 1]", self.drift_share));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad("alpha", format!("{} is not in (0, 1)", self.alpha));
        }
        if let Some(effect) = self.min_effect {
            if effect.statistic.is_p_value() {
                return bad("min_effect", "the minimum effect is a distance, not a test".into());
            }
            if !(effect.at_least >= 0.0 && effect.at_least.is_finite()) {
                return bad(
                    "min_effect",
                    format!("{} must be finite and non-negative", effect.at_least),
                );
            }
        }
        if self.numeric_rule.test == DriftTest::Z {
            return bad("numeric_rule", "the Z-test applies to categorical columns only".into());
        }
        if matches!(self.categorical_rule.test, DriftTest::Ks | DriftTest::Wasserstein) {
            return bad(
                "categorical_rule",
                "KS and Wasserstein apply to numeric columns only".into(),
            );
        }
        for (setting, rule) in
            [("numeric_rule", self.numeric_rule), ("categorical_rule", self.categorical_rule)]
        {
            if !rule.threshold.is_finite() || rule.threshold < 0.0 {
                return bad(
                    setting,
                    format!("threshold {} must be finite and non-negative", rule.threshold),
                );
            }
        }
        Ok(())
    }
}

/// How much of a numeric window's values is kept exactly; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowOptions {
    /// Finite values per column kept exactly (default 10,000, the size up to
    /// which scipy's `ks_2samp(method='auto')` computes an exact p-value).
    /// Windows with more switch to the grid; `u64::MAX` never switches.
    pub exact_cap: u64,
    /// Reference-quantile cells of the grid (default 4,096): the KS statistic
    /// is then within `1 / grid_cells` of the exact one.
    pub grid_cells: usize,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self { exact_cap: 10_000, grid_cells: grid::DEFAULT_CELLS }
    }
}

impl WindowOptions {
    /// Keeps every value exactly, whatever the window's size: for batch
    /// comparisons, whose memory grows with the data anyway.
    pub fn unbounded() -> Self {
        Self { exact_cap: u64::MAX, ..Self::default() }
    }

    /// The most heap bytes a numeric window's state takes with these
    /// options, for a profile with `bins` bins: the larger of the exact values
    /// (`exact_cap` plus one step of 4,096) and the grid counters (`3B + 3`),
    /// plus the bin counts, the two exact distance sums and two reused
    /// 4,096-value buffers. About 175 KiB with the defaults; unbounded with
    /// [`WindowOptions::unbounded`].
    pub fn max_numeric_state_bytes(&self, bins: usize) -> usize {
        let exact = usize::try_from(self.exact_cap)
            .map_or(usize::MAX, |cap| cap.saturating_add(STEP).saturating_mul(8));
        let grid = 8 * (3 * self.grid_cells + 3);
        exact.max(grid).saturating_add(8 * (bins + 1) + 2 * grid::EXACT_SUM_BYTES + 2 * 8 * STEP)
    }

    /// Checks every setting, reporting the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        if !(1..=grid::MAX_CELLS).contains(&self.grid_cells) {
            return Err(Error::InvalidConfig {
                setting: "grid_cells",
                reason: format!("{} is not in [1, {}]", self.grid_cells, grid::MAX_CELLS),
            });
        }
        Ok(())
    }
}

/// Window state for one column; see the module docs.
#[derive(Debug, Clone)]
pub enum ColumnAccumulator {
    /// State of a numeric column.
    Numeric(NumericAccumulator),
    /// State of a categorical column.
    Categorical(CategoricalAccumulator),
}

impl ColumnAccumulator {
    /// An empty accumulator for the column `profile` describes, with the
    /// default [`WindowOptions`] (bounded memory).
    pub fn new(profile: &ColumnProfile) -> Self {
        match &profile.stats {
            ColumnStats::Numeric(p) => {
                Self::Numeric(NumericAccumulator::new(p, &WindowOptions::default()))
            }
            ColumnStats::Categorical(p) => Self::Categorical(CategoricalAccumulator::new(p)),
        }
    }

    /// An empty accumulator with the given [`WindowOptions`] (which only
    /// matter for numeric columns).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the options are invalid.
    pub fn with_options(profile: &ColumnProfile, options: &WindowOptions) -> Result<Self> {
        options.validate()?;
        Ok(match &profile.stats {
            ColumnStats::Numeric(p) => Self::Numeric(NumericAccumulator::new(p, options)),
            ColumnStats::Categorical(p) => Self::Categorical(CategoricalAccumulator::new(p)),
        })
    }

    /// Heap bytes of window state held, leaving out what is shared by every
    /// window of the column (thresholds, grid edges, the category index; see
    /// the module docs for the bound).
    pub fn state_bytes(&self) -> usize {
        match self {
            Self::Numeric(acc) => acc.state_bytes(),
            Self::Categorical(acc) => {
                8 * acc.counts.capacity()
                    + acc.unseen.keys().map(|k| k.capacity() + 2 * 8).sum::<usize>()
            }
        }
    }

    /// Whether a numeric window still holds its values exactly (always true
    /// for categorical columns).
    pub fn is_exact(&self) -> bool {
        match self {
            Self::Numeric(acc) => matches!(acc.values, Values::Exact(_)),
            Self::Categorical(_) => true,
        }
    }

    /// Makes room for `rows` more values in an exact numeric window, as far
    /// as its cap allows, when the caller knows how many are coming (a file
    /// read whole).
    pub fn reserve(&mut self, rows: usize) {
        if let Self::Numeric(NumericAccumulator { values: Values::Exact(kept), options, .. }) = self
        {
            let most =
                usize::try_from(options.exact_cap).map_or(usize::MAX, |c| c.saturating_add(STEP));
            reserve_within_cap(kept, rows.min(most.saturating_sub(kept.len())), options.exact_cap);
        }
    }

    /// Adds a batch of the column named `column`.
    ///
    /// # Errors
    /// [`Error::KindMismatch`] if the array's type does not match the
    /// profile's kind; nothing is counted then.
    pub fn update(&mut self, column: &str, array: &dyn Array) -> Result<()> {
        match self {
            Self::Numeric(acc) => {
                if !column::is_numeric(array.data_type()) {
                    return Err(mismatch(column, ColumnKind::Numeric, array));
                }
                acc.update(column, array)
            }
            Self::Categorical(acc) => {
                if !column::is_categorical(array.data_type()) {
                    return Err(mismatch(column, ColumnKind::Categorical, array));
                }
                acc.update(column, array)
            }
        }
    }

    /// Adds another accumulator's state for the same column and profile.
    ///
    /// # Panics
    /// If the accumulators are of different kinds.
    pub fn merge(&mut self, other: &Self) {
        match (self, other) {
            (Self::Numeric(a), Self::Numeric(b)) => a.merge(b),
            (Self::Categorical(a), Self::Categorical(b)) => a.merge(b),
            _ => panic!("merging accumulators of different kinds"),
        }
    }

    /// Rows seen so far, missing ones included.
    pub fn rows(&self) -> u64 {
        match self {
            Self::Numeric(acc) => acc.counts.finite + MissingCounts::of(&acc.counts).total(),
            Self::Categorical(acc) => {
                acc.counts.iter().sum::<u64>() + acc.unseen.values().sum::<u64>() + acc.null
            }
        }
    }

    /// A copy of the window state, for checkpointing: serialise it with serde
    /// and rebuild the accumulator with [`ColumnAccumulator::restore`].
    ///
    /// The state leaves out what the profile determines (thresholds, the
    /// category index), so a checkpoint stays small and is only meaningful
    /// together with the same profile.
    pub fn state(&self) -> ColumnState {
        match self {
            Self::Numeric(acc) => ColumnState::Numeric(acc.state()),
            Self::Categorical(acc) => ColumnState::Categorical(acc.state()),
        }
    }

    /// Rebuilds an accumulator from a [`ColumnAccumulator::state`] taken from
    /// an accumulator built for `profile`. Finishing the restored accumulator
    /// gives the same report as finishing the original.
    ///
    /// # Errors
    /// [`Error::InvalidState`] if the state does not fit `profile` (another
    /// kind, another number of bins or categories, inconsistent counts).
    pub fn restore(profile: &ColumnProfile, state: ColumnState) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidState { column: profile.name.clone(), reason };
        match (&profile.stats, state) {
            (ColumnStats::Numeric(p), ColumnState::Numeric(state)) => {
                NumericAccumulator::restore(p, state).map(Self::Numeric).map_err(invalid)
            }
            (ColumnStats::Categorical(p), ColumnState::Categorical(state)) => {
                CategoricalAccumulator::restore(p, state).map(Self::Categorical).map_err(invalid)
            }
            _ => Err(invalid(format!(
                "the baseline profiles the column as {}, the state is of the other kind",
                profile.kind().name()
            ))),
        }
    }

    /// The drift report against `profile`, the profile this accumulator was built from.
    ///
    /// # Panics
    /// If `profile` is of the other kind.
    pub fn finish(&self, profile: &ColumnProfile, options: &DriftOptions) -> ColumnDrift {
        match (self, &profile.stats) {
            (Self::Numeric(acc), ColumnStats::Numeric(p)) => acc.finish(&profile.name, p, options),
            (Self::Categorical(acc), ColumnStats::Categorical(p)) => {
                acc.finish(&profile.name, p, options)
            }
            _ => panic!("column `{}`: accumulator and profile kinds differ", profile.name),
        }
    }
}

/// The checkpointable part of a [`ColumnAccumulator`]: integer counts and
/// the window's values; see [`ColumnAccumulator::state`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnState {
    /// State of a numeric column.
    Numeric(NumericState),
    /// State of a categorical column.
    Categorical(CategoricalState),
}

/// The checkpointable state of a [`NumericAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericState {
    options: WindowOptions,
    ge: Vec<u64>,
    finite: u64,
    missing: MissingCounts,
    values: Values,
}

/// The checkpointable state of a [`CategoricalAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalState {
    counts: Vec<u64>,
    unseen: BTreeMap<String, u64>,
    null: u64,
}

fn mismatch(column: &str, expected: ColumnKind, array: &dyn Array) -> Error {
    let found = match ColumnKind::infer(column, array.data_type()) {
        Ok(kind) => kind.name(),
        Err(_) => "of an unsupported type",
    };
    Error::KindMismatch { column: column.to_owned(), expected: expected.name(), found }
}

/// Window state of a numeric column: counts against the thresholds
/// `[min, e1, ..., ek, next_up(max)]` (so one pass yields the bins and the
/// values below and above the reference range) plus the finite values, exact
/// up to [`WindowOptions::exact_cap`] of them and counted on a [`Grid`] beyond.
#[derive(Debug, Clone)]
pub struct NumericAccumulator {
    thresholds: Arc<[f64]>,
    /// `None` when the reference has no finite value: KS and Wasserstein are
    /// then not computed, and no values are kept.
    grid: Option<Arc<Grid>>,
    /// The reference has a large atom: decided on its bins, not with KS.
    discrete: bool,
    options: WindowOptions,
    counts: ThresholdCounts,
    values: Values,
    scratch: Vec<f64>,
    finite: Vec<f64>,
}

/// The finite values of a window, or their counts on the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Values {
    Exact(Vec<f64>),
    Grid(Box<GridCounts>),
}

/// Values filtered and counted per step, so that an exact window switches to
/// the grid soon after it passes its cap and buffers stay small.
const STEP: usize = 4096;

impl NumericAccumulator {
    fn new(profile: &NumericProfile, options: &WindowOptions) -> Self {
        let thresholds: Arc<[f64]> = match &profile.range {
            Some(range) => std::iter::once(range.min)
                .chain(profile.edges.iter().copied())
                .chain(std::iter::once(range.max.next_up()))
                .collect(),
            None => Arc::new([]),
        };
        let counts = ThresholdCounts::new(thresholds.len());
        Self {
            thresholds,
            grid: Grid::new(profile.sample.values(), options.grid_cells.max(1)).map(Arc::new),
            discrete: sample::largest_tie_share(profile.sample.values()) >= DISCRETE_ATOM_SHARE,
            options: *options,
            counts,
            values: Values::Exact(Vec::new()),
            scratch: Vec::new(),
            finite: Vec::new(),
        }
    }

    fn state(&self) -> NumericState {
        let c = &self.counts;
        NumericState {
            options: self.options,
            ge: c.ge.clone(),
            finite: c.finite,
            missing: MissingCounts::of(c),
            values: self.values.clone(),
        }
    }

    fn restore(profile: &NumericProfile, state: NumericState) -> Result<Self, String> {
        let NumericState { options, ge, finite, missing, values } = state;
        options.validate().map_err(|e| e.to_string())?;
        let mut acc = Self::new(profile, &options);
        if ge.len() != acc.thresholds.len() {
            return Err(format!(
                "{} threshold counts, the baseline has {} thresholds",
                ge.len(),
                acc.thresholds.len()
            ));
        }
        if ge.first().is_some_and(|&c| c > finite) || ge.windows(2).any(|w| w[0] < w[1]) {
            return Err("threshold counts are not decreasing from the finite count".into());
        }
        match (&values, &acc.grid) {
            (Values::Exact(v), grid) => {
                let kept = if grid.is_some() { finite } else { 0 };
                if v.len() as u64 != kept || kept > options.exact_cap {
                    return Err(format!("{} exact values for {finite} finite values", v.len()));
                }
                if v.iter().any(|x| !x.is_finite()) {
                    return Err("a kept value is not finite".into());
                }
            }
            (Values::Grid(counts), Some(grid)) => {
                counts.check(grid)?;
                if counts.total() != finite || finite <= options.exact_cap {
                    return Err(format!(
                        "{} grid counts for {finite} finite values (exact cap {})",
                        counts.total(),
                        options.exact_cap
                    ));
                }
            }
            (Values::Grid(_), None) => {
                return Err("grid counts, but the baseline has no finite value".into());
            }
        }
        acc.counts = ThresholdCounts {
            ge,
            finite,
            null: missing.null,
            nan: missing.nan,
            pos_inf: missing.pos_inf,
            neg_inf: missing.neg_inf,
        };
        acc.values = values;
        Ok(acc)
    }

    fn state_bytes(&self) -> usize {
        let values = match &self.values {
            Values::Exact(v) => 8 * v.capacity(),
            Values::Grid(counts) => counts.state_bytes(),
        };
        8 * (self.counts.ge.capacity() + self.scratch.capacity() + self.finite.capacity()) + values
    }

    fn update(&mut self, column: &str, array: &dyn Array) -> Result<()> {
        let Self { thresholds, grid, options, counts, values, scratch, finite, .. } = self;
        column::for_each_f64_chunk(column, array, scratch, |chunk, validity| {
            counts.update(chunk, validity, thresholds);
            let Some(grid) = grid else { return };
            let mut start = 0;
            while start < chunk.len() {
                let len = STEP.min(chunk.len() - start);
                let valid = validity.map(|v| v.slice(start, len));
                let piece = &chunk[start..start + len];
                match values {
                    Values::Exact(kept) => {
                        reserve_within_cap(kept, len, options.exact_cap);
                        column::extend_finite(kept, piece, valid.as_ref());
                        if kept.len() as u64 > options.exact_cap {
                            *values = Values::Grid(to_grid(grid, kept));
                        }
                    }
                    Values::Grid(grid_counts) => {
                        finite.clear();
                        column::extend_finite(finite, piece, valid.as_ref());
                        grid_counts.add(grid, finite);
                    }
                }
                start += len;
            }
        })
    }

    fn merge(&mut self, other: &Self) {
        self.counts.merge(&other.counts);
        let Some(grid) = &self.grid else { return };
        match (&mut self.values, &other.values) {
            (Values::Exact(a), Values::Exact(b)) => {
                if (a.len() + b.len()) as u64 > self.options.exact_cap {
                    let mut counts = to_grid(grid, a);
                    counts.add(grid, b);
                    self.values = Values::Grid(counts);
                } else {
                    reserve_within_cap(a, b.len(), self.options.exact_cap);
                    a.extend_from_slice(b);
                }
            }
            (Values::Exact(a), Values::Grid(b)) => {
                let mut counts = b.clone();
                counts.add(grid, a);
                self.values = Values::Grid(counts);
            }
            (Values::Grid(a), Values::Exact(b)) => a.add(grid, b),
            (Values::Grid(a), Values::Grid(b)) => a.merge(b),
        }
    }

    fn finish(&self, name: &str, profile: &NumericProfile, options: &DriftOptions) -> ColumnDrift {
        let missing = MissingCounts::of(&self.counts);
        let rows = self.counts.finite + missing.total();
        let current_counts = if profile.range.is_some() {
            self.counts.bins(1, profile.edges.len())
        } else {
            vec![self.counts.finite]
        };
        let out_of_range = profile.range.map(|_| {
            let below = self.counts.finite - self.counts.ge[0];
            let above = self.counts.ge[self.thresholds.len() - 1];
            below + above + missing.pos_inf + missing.neg_inf
        });
        let mut report =
            binned_report(name, ColumnKind::Numeric, &profile.counts, &current_counts, options);
        report.reference_rows = profile.sample.count() + profile.missing.total();
        report.data_quality = DataQuality::new(rows, missing, out_of_range, Some(0));

        let reference = &profile.sample;
        let std = profile.range.map_or(0.0, |r| r.std);
        if let (false, Some(range)) = (reference.is_exact(), profile.range) {
            let (points, count) = (reference.values().len() as u64, reference.count());
            let ks_bound = 1.0 / points as f64 + 1.0 / count as f64;
            report.approximate = Some(Approximation::CompressedReference {
                points,
                count,
                ks_statistic_error_bound: ks_bound,
                wasserstein_error_bound: (range.max - range.min) * ks_bound,
            });
        }
        match (&self.values, &self.grid) {
            (Values::Exact(values), _) if !reference.is_empty() && !values.is_empty() => {
                // One sorted copy serves KS and Wasserstein.
                let mut current = values.clone();
                sample::sort_finite(&mut current);
                report.ks = Some(ks_report(reference, &current, options.ks_method));
                let w = sample::wasserstein(reference.values(), &current);
                report.wasserstein = Some(w);
                report.wasserstein_normed = Some(w / std.max(0.001));
            }
            (Values::Grid(counts), Some(grid)) => {
                if let Some(stats) = grid::stats(grid, reference.values(), counts) {
                    let n = counts.total();
                    let test = ks::ks_2samp_from_statistic(
                        stats.ks_statistic,
                        reference.count(),
                        n,
                        options.ks_method,
                    );
                    let p_value_asymp = if test.method == KsMethod::Asymp {
                        test.p_value
                    } else {
                        ks::ks_2samp_from_statistic(
                            stats.ks_statistic,
                            reference.count(),
                            n,
                            KsMethod::Asymp,
                        )
                        .p_value
                    };
                    report.ks = Some(KsReport {
                        test,
                        p_value_asymp,
                        reference_exact: reference.is_exact(),
                        statistic_error_bound: Some(stats.ks_bound),
                    });
                    report.wasserstein = Some(stats.wasserstein);
                    report.wasserstein_normed = Some(stats.wasserstein / std.max(0.001));
                    report.wasserstein_error_bound = Some(stats.wasserstein_bound);
                }
            }
            _ => {}
        }
        if options.wants_wasserstein() {
            let n = report.current_counts.iter().sum::<u64>();
            report.wasserstein_null = Some(wasserstein_null(reference, std, n));
        }
        let test = if self.discrete { DriftTest::ChiSquareContingency } else { DriftTest::Ks };
        report.decide(options, options.numeric_rule, test);
        report
    }
}

/// Makes room for `extra` more values, doubling the capacity as `Vec` does but
/// never past `exact_cap + STEP`, the most an exact window ever holds.
fn reserve_within_cap(kept: &mut Vec<f64>, extra: usize, exact_cap: u64) {
    let needed = kept.len() + extra;
    if needed > kept.capacity() {
        let most = usize::try_from(exact_cap).map_or(usize::MAX, |cap| cap.saturating_add(STEP));
        let target = needed.max(2 * kept.capacity()).min(most).max(needed);
        kept.reserve_exact(target - kept.len());
    }
}

/// Grid counts of exact values, which are then dropped.
fn to_grid(grid: &Grid, values: &mut Vec<f64>) -> Box<GridCounts> {
    let mut counts = Box::new(GridCounts::new(grid));
    counts.add(grid, values);
    *values = Vec::new();
    counts
}

/// Sorted bootstrap draws of the normed Wasserstein distance under no drift
/// for a window of `n` values: `n' = min(n, 1000)` values drawn from the
/// reference 1,000 times (seeded by the sizes), each distance scaled by
/// `sqrt(n' (1/n + 1/m))` (W1 shrinks as `1/sqrt(n)`, and the reference's own
/// noise adds `1/m`) and divided by `max(std, 0.001)` as the report's is.
fn wasserstein_null(reference: &SortedSample, std: f64, n: u64) -> Vec<f64> {
    let m = reference.count();
    if reference.values().len() < 2 || n == 0 {
        return Vec::new();
    }
    let size = n.min(1000) as usize;
    let scale = (size as f64 * (1.0 / n as f64 + 1.0 / m as f64)).sqrt() / std.max(0.001);
    let mut values = sample::wasserstein_bootstrap(reference.values(), size, 1000, n ^ (m << 20));
    for v in &mut values {
        *v *= scale;
    }
    values.sort_by(f64::total_cmp);
    values
}

fn ks_report(reference: &SortedSample, current: &[f64], method: KsMethod) -> KsReport {
    // D once: `ks_2samp_sorted` is `ks_2samp_from_statistic` of this same D
    // and the reference's count (its length when exact).
    let d = sample::ks_statistic(reference.values(), current);
    let n = current.len() as u64;
    let test = ks::ks_2samp_from_statistic(d, reference.count(), n, method);
    // Large samples already used the asymptotic method; the exact one
    // re-rounds D onto its lattice, so the asymptotic p starts from raw D.
    let p_value_asymp = if test.method == KsMethod::Asymp {
        test.p_value
    } else {
        ks::ks_2samp_from_statistic(d, reference.count(), n, KsMethod::Asymp).p_value
    };
    KsReport {
        test,
        p_value_asymp,
        reference_exact: reference.is_exact(),
        statistic_error_bound: None,
    }
}

/// Window state of a categorical column: counts per profile category, per
/// category the profile does not list, and nulls.
#[derive(Debug, Clone)]
pub struct CategoricalAccumulator {
    index: Arc<HashMap<String, usize>>,
    counts: Vec<u64>,
    unseen: BTreeMap<String, u64>,
    null: u64,
}

impl CategoricalAccumulator {
    fn new(profile: &CategoricalProfile) -> Self {
        let index: HashMap<String, usize> =
            profile.categories.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        Self {
            counts: vec![0; index.len()],
            index: Arc::new(index),
            unseen: BTreeMap::new(),
            null: 0,
        }
    }

    fn state(&self) -> CategoricalState {
        CategoricalState {
            counts: self.counts.clone(),
            unseen: self.unseen.clone(),
            null: self.null,
        }
    }

    fn restore(profile: &CategoricalProfile, state: CategoricalState) -> Result<Self, String> {
        let mut acc = Self::new(profile);
        let CategoricalState { counts, unseen, null } = state;
        if counts.len() != acc.counts.len() {
            return Err(format!(
                "{} category counts, the baseline has {} categories",
                counts.len(),
                acc.counts.len()
            ));
        }
        if let Some(name) = unseen.keys().find(|name| acc.index.contains_key(name.as_str())) {
            return Err(format!("category `{name}` is listed as unseen but the baseline has it"));
        }
        acc.counts = counts;
        acc.unseen = unseen;
        acc.null = null;
        Ok(acc)
    }

    fn update(&mut self, column: &str, array: &dyn Array) -> Result<()> {
        let Self { index, counts, unseen, null } = self;
        column::for_each_category(column, array, |category, rows| match category {
            None => *null += rows,
            Some(name) => match index.get(name) {
                Some(&i) => counts[i] += rows,
                None => match unseen.get_mut(name) {
                    Some(count) => *count += rows,
                    None => {
                        unseen.insert(name.to_owned(), rows);
                    }
                },
            },
        })
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (name, rows) in &other.unseen {
            *self.unseen.entry(name.clone()).or_default() += rows;
        }
        self.null += other.null;
    }

    fn finish(
        &self,
        name: &str,
        profile: &CategoricalProfile,
        options: &DriftOptions,
    ) -> ColumnDrift {
        let unseen_rows: u64 = self.unseen.values().sum();
        let rows = self.counts.iter().sum::<u64>() + unseen_rows + self.null;
        let order = |a: &str, b: &str| column::compare_categories(a, b, profile.integer);
        // The map keeps text order; integer codes are listed and binned as numbers.
        let mut unseen_sorted: Vec<(&str, u64)> =
            self.unseen.iter().map(|(name, &rows)| (name.as_str(), rows)).collect();
        if profile.integer {
            unseen_sorted.sort_unstable_by(|a, b| order(a.0, b.0));
        }
        // Bins: the sorted union of categories. A folded profile cannot tell
        // an unseen category from a folded one, so those share the `other` bin
        // (module docs).
        let mut bins: Vec<(&str, u64, u64)> = Vec::new();
        let folded = profile.is_folded();
        let mut unseen = unseen_sorted.iter().copied().peekable();
        for (category, &current) in profile.categories.iter().zip(&self.counts) {
            if !folded {
                while let Some((extra, rows)) =
                    unseen.next_if(|(extra, _)| order(extra, &category.name).is_lt())
                {
                    bins.push((extra, 0, rows));
                }
            }
            bins.push((category.name.as_str(), category.count, current));
        }
        if folded {
            bins.push(("(other)", profile.other, unseen_rows));
        } else {
            bins.extend(unseen.map(|(extra, rows)| (extra, 0, rows)));
        }
        let reference_counts: Vec<u64> = bins.iter().map(|b| b.1).collect();
        let current_counts: Vec<u64> = bins.iter().map(|b| b.2).collect();

        let mut report = binned_report(
            name,
            ColumnKind::Categorical,
            &reference_counts,
            &current_counts,
            options,
        );
        report.reference_rows = profile.non_null() + profile.null;
        report.categories = Some(bins.iter().map(|b| b.0.to_owned()).collect());
        let missing = MissingCounts { null: self.null, ..MissingCounts::default() };
        let unseen_share_rows = (!folded).then_some(unseen_rows);
        report.data_quality = DataQuality::new(rows, missing, Some(0), unseen_share_rows);
        if folded {
            // The current categories the profile does not list may be ones it
            // folded: none is called unseen, the report says what was pooled.
            report.approximate = Some(Approximation::FoldedCategories {
                kept: profile.categories.len() as u64,
                reference_categories: profile.other_categories,
                reference_rows: profile.other,
                current_categories: self.unseen.len() as u64,
                current_rows: unseen_rows,
            });
        } else {
            report.data_quality.unseen_categories = unseen_sorted
                .iter()
                .take(MAX_LISTED_UNSEEN)
                .map(|(name, _)| (*name).to_owned())
                .collect();
        }

        let (n_ref, n_cur) =
            (reference_counts.iter().sum::<u64>(), current_counts.iter().sum::<u64>());
        if n_ref > 0 && n_cur > 0 && !folded {
            report.z = Some(divergence::two_proportion_z(
                n_ref - reference_counts[0],
                n_ref,
                n_cur - current_counts[0],
                n_cur,
            ));
        }
        report.decide(options, options.categorical_rule, DriftTest::ChiSquareContingency);
        report
    }
}

/// Unseen categories listed by name in a report (all are counted).
const MAX_LISTED_UNSEEN: usize = 20;

fn binned_report(
    name: &str,
    kind: ColumnKind,
    reference_counts: &[u64],
    current_counts: &[u64],
    options: &DriftOptions,
) -> ColumnDrift {
    let mut report = ColumnDrift::empty(name, kind);
    report.reference_counts = reference_counts.to_vec();
    report.current_counts = current_counts.to_vec();
    let (n_ref, n_cur) = (reference_counts.iter().sum::<u64>(), current_counts.iter().sum::<u64>());
    if n_ref == 0 || n_cur == 0 {
        return report;
    }
    let (p, q) =
        (divergence::proportions(reference_counts), divergence::proportions(current_counts));
    let (p_eps, q_eps) =
        (divergence::fill_zeros(&p, options.epsilon), divergence::fill_zeros(&q, options.epsilon));
    report.psi = Some(divergence::psi(&p_eps, &q_eps));
    report.kl_reference_current = Some(divergence::kl_divergence(&p_eps, &q_eps));
    report.kl_current_reference = Some(divergence::kl_divergence(&q_eps, &p_eps));
    report.jensen_shannon = Some(divergence::jensen_shannon(&p, &q, None));
    report.jensen_shannon_base2 = Some(divergence::jensen_shannon(&p, &q, Some(2.0)));
    report.hellinger = Some(divergence::hellinger(&p, &q));
    // Bins empty on both sides carry no evidence (0/0 in scipy); Evidently's
    // GOF form never sees them because it only bins observed values.
    let (gof_ref, gof_cur): (Vec<u64>, Vec<u64>) =
        reference_counts.iter().zip(current_counts).filter(|(r, c)| **r + **c > 0).unzip();
    report.chi_square = Some(divergence::chi_square_gof(&gof_ref, &gof_cur));
    let (test, dof) = divergence::chi_square_contingency(reference_counts, current_counts);
    report.chi_square_contingency =
        Some(ContingencyTest { statistic: test.statistic, p_value: test.p_value, dof });
    report.chi_square_pooled =
        divergence::pooled_contingency(reference_counts, current_counts, MIN_ROWS, MIN_EXPECTED)
            .map(|(test, dof)| ContingencyTest {
                statistic: test.statistic,
                p_value: test.p_value,
                dof,
            });
    report
}

/// Data quality of the current window of one column. Shares are over all
/// current rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Current rows, missing ones included.
    pub rows: u64,
    /// Null, NaN and infinite counts.
    pub missing: MissingCounts,
    /// Share of rows that are null or NaN (infinities are out of range instead).
    pub missing_share: Option<f64>,
    /// Share of rows outside the reference `[min, max]`, infinities included;
    /// absent when the reference had no finite value. Always 0 for categorical columns.
    pub out_of_range_share: Option<f64>,
    /// Share of rows whose category the reference never had; absent when the
    /// profile folded rare categories and cannot tell. Always 0 for numeric columns.
    pub unseen_share: Option<f64>,
    /// Up to 20 of the unseen categories, in category order; none when the
    /// profile folded rare categories.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unseen_categories: Vec<String>,
}

impl DataQuality {
    fn new(
        rows: u64,
        missing: MissingCounts,
        out_of_range: Option<u64>,
        unseen: Option<u64>,
    ) -> Self {
        let share = |count: u64| if rows == 0 { None } else { Some(count as f64 / rows as f64) };
        Self {
            rows,
            missing,
            missing_share: share(missing.null + missing.nan),
            out_of_range_share: out_of_range.and_then(share),
            unseen_share: unseen.and_then(share),
            unseen_categories: Vec::new(),
        }
    }
}

/// A KS test with the extra figures the report carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsReport {
    /// The test with the configured method.
    #[serde(flatten)]
    pub test: KsTest,
    /// The p-value with `method = asymp`, for comparison across sample sizes.
    #[serde(with = "crate::json::float")]
    pub p_value_asymp: f64,
    /// Whether the reference sample was exact (else the statistic carries the
    /// compression error stated in [`crate::sample`]).
    pub reference_exact: bool,
    /// Present when the current window was counted on the grid (it held more
    /// than [`WindowOptions::exact_cap`] values): the exact statistic lies in
    /// `[statistic, statistic + statistic_error_bound]` (see [`crate::grid`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::json::option_float")]
    pub statistic_error_bound: Option<f64>,
}

/// A chi-square contingency test with its degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContingencyTest {
    /// The chi-square statistic.
    #[serde(with = "crate::json::float")]
    pub statistic: f64,
    /// Its p-value.
    #[serde(with = "crate::json::float")]
    pub p_value: f64,
    /// Degrees of freedom (non-empty bins − 1).
    pub dof: usize,
}

/// The drift decision of one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The deciding statistic.
    pub test: DriftTest,
    /// Its value; absent when it could not be computed (e.g. an empty window).
    #[serde(default, with = "crate::json::option_float")]
    pub score: Option<f64>,
    /// The threshold it was compared with: under the corrected rule, the
    /// window's per-feature level (a p-value at or below it drifts).
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
    /// Drift, stable, or insufficient (too little data for the test; the
    /// corrected rule only). Absent from reports of the share rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Everything measured for one column in one window. Statistics that cannot
/// be computed (no values on one side) are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
    /// Reference rows (missing ones included).
    pub reference_rows: u64,
    /// Category of each bin (categorical columns).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub categories: Option<Vec<String>>,
    /// Reference counts per bin.
    pub reference_counts: Vec<u64>,
    /// Current counts per bin.
    pub current_counts: Vec<u64>,
    /// Data quality of the current window.
    pub data_quality: DataQuality,
    /// Population stability index.
    #[serde(default, with = "crate::json::option_float")]
    pub psi: Option<f64>,
    /// `KL(reference ‖ current)`, nats.
    #[serde(default, with = "crate::json::option_float")]
    pub kl_reference_current: Option<f64>,
    /// `KL(current ‖ reference)`, nats.
    #[serde(default, with = "crate::json::option_float")]
    pub kl_current_reference: Option<f64>,
    /// Jensen-Shannon distance, base e.
    #[serde(default, with = "crate::json::option_float")]
    pub jensen_shannon: Option<f64>,
    /// Jensen-Shannon distance, base 2.
    #[serde(default, with = "crate::json::option_float")]
    pub jensen_shannon_base2: Option<f64>,
    /// Hellinger distance.
    #[serde(default, with = "crate::json::option_float")]
    pub hellinger: Option<f64>,
    /// Chi-square goodness of fit of current counts to scaled reference counts.
    pub chi_square: Option<TestResult>,
    /// Chi-square test of homogeneity on the 2 × K table.
    pub chi_square_contingency: Option<ContingencyTest>,
    /// The same test on bins pooled to at least 5 expected window rows each
    /// ([`divergence::pooled_contingency`]); absent when the window is too small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi_square_pooled: Option<ContingencyTest>,
    /// Two-sample KS test (numeric).
    pub ks: Option<KsReport>,
    /// Wasserstein-1 distance (numeric), in the column's units.
    #[serde(default, with = "crate::json::option_float")]
    pub wasserstein: Option<f64>,
    /// Wasserstein-1 over `max(reference std, 0.001)` (numeric).
    #[serde(default, with = "crate::json::option_float")]
    pub wasserstein_normed: Option<f64>,
    /// Present when the current window was counted on the grid: the largest
    /// difference between `wasserstein` and the exact distance, in the
    /// column's units (see [`crate::grid`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::json::option_float")]
    pub wasserstein_error_bound: Option<f64>,
    /// Two-proportion Z-test (categorical).
    pub z: Option<TestResult>,
    /// Present when the comparison is not exact because the baseline kept
    /// only part of the reference: what was approximated and the bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate: Option<Approximation>,
    /// The drift decision.
    pub decision: Decision,
    /// Critical values of the distances at the window's size and per-feature
    /// level, set by [`crate::decision::attach_critical_values`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub critical_values: Vec<CriticalValue>,
    /// Sorted bootstrap draws of the normed Wasserstein distance under no
    /// drift, when the options need its critical value (not serialised).
    #[serde(skip)]
    pub(crate) wasserstein_null: Option<Vec<f64>>,
}

/// Why a comparison against a stored baseline is approximate (see the module
/// docs), with the figures a reader needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case", deny_unknown_fields)]
pub enum Approximation {
    /// The baseline kept only its most frequent categories: every current
    /// category it does not list is counted in one `(other)` bin against the
    /// reference rows it folded.
    FoldedCategories {
        /// Categories the baseline lists by name.
        kept: u64,
        /// Reference categories folded into `(other)`.
        reference_categories: u64,
        /// Reference rows in them.
        reference_rows: u64,
        /// Current categories the baseline does not list (folded or new:
        /// the baseline cannot tell).
        current_categories: u64,
        /// Current rows in them.
        current_rows: u64,
    },
    /// The baseline kept `points` quantile points of `count` finite values
    /// (see [`crate::sample`]).
    CompressedReference {
        /// Points kept.
        points: u64,
        /// Finite reference values they stand for.
        count: u64,
        /// The KS statistic is within this of the exact one: `1/points + 1/count`.
        #[serde(with = "crate::json::float")]
        ks_statistic_error_bound: f64,
        /// Wasserstein-1 is within this of the exact one, in the column's
        /// units: `(max − min)` of the reference times the KS bound.
        #[serde(with = "crate::json::float")]
        wasserstein_error_bound: f64,
    },
}

impl ColumnDrift {
    fn empty(column: &str, kind: ColumnKind) -> Self {
        Self {
            column: column.to_owned(),
            kind,
            reference_rows: 0,
            categories: None,
            reference_counts: Vec::new(),
            current_counts: Vec::new(),
            data_quality: DataQuality::default(),
            psi: None,
            kl_reference_current: None,
            kl_current_reference: None,
            jensen_shannon: None,
            jensen_shannon_base2: None,
            hellinger: None,
            chi_square: None,
            chi_square_contingency: None,
            chi_square_pooled: None,
            ks: None,
            wasserstein: None,
            wasserstein_normed: None,
            wasserstein_error_bound: None,
            z: None,
            approximate: None,
            decision: Decision {
                test: DriftTest::Psi,
                score: None,
                threshold: 0.0,
                drifted: false,
                status: None,
            },
            critical_values: Vec::new(),
            wasserstein_null: None,
        }
    }

    /// The value of `test` in this report, if it was computed.
    pub fn score(&self, test: DriftTest) -> Option<f64> {
        match test {
            DriftTest::Psi => self.psi,
            DriftTest::Kl => self.kl_reference_current,
            DriftTest::JensenShannon => self.jensen_shannon,
            DriftTest::Hellinger => self.hellinger,
            DriftTest::Wasserstein => self.wasserstein_normed,
            DriftTest::Ks => self.ks.map(|k| k.test.p_value),
            DriftTest::ChiSquare => self.chi_square.map(|c| c.p_value),
            DriftTest::ChiSquareContingency => self.chi_square_pooled.map(|c| c.p_value),
            DriftTest::Z => self.z.map(|z| z.p_value),
        }
    }

    /// The column's decision on its own: under the share rule, `rule`; under
    /// the corrected rule, `test` at level `alpha`, as in a window of one
    /// column ([`crate::decision::decide_window`] then decides the whole window).
    fn decide(&mut self, options: &DriftOptions, rule: DriftRule, test: DriftTest) {
        if options.decision == DecisionRule::Share {
            let score = self.score(rule.test).filter(|s| !s.is_nan());
            let drifted = score.is_some_and(|s| {
                if rule.test.is_p_value() { s < rule.threshold } else { s >= rule.threshold }
            });
            self.decision = Decision {
                test: rule.test,
                score,
                threshold: rule.threshold,
                drifted,
                status: None,
            };
            return;
        }
        let rows = self.current_counts.iter().sum::<u64>();
        let score = self.score(test).filter(|s| !s.is_nan());
        let status =
            if rows < MIN_ROWS || score.is_none() { Status::Insufficient } else { Status::Stable };
        self.decision = Decision {
            test,
            score,
            threshold: options.alpha,
            drifted: false,
            status: Some(status),
        };
        self.decide_at(options.alpha, options.min_effect);
    }

    /// Applies the corrected decision at per-feature `level` (see
    /// [`crate::decision::decide_window`]); an insufficient column stays so.
    pub(crate) fn decide_at(&mut self, level: f64, min_effect: Option<MinEffect>) {
        let distance = |test: DriftTest| match test {
            DriftTest::Psi => self.psi,
            DriftTest::Kl => self.kl_reference_current,
            DriftTest::JensenShannon => self.jensen_shannon,
            DriftTest::Hellinger => self.hellinger,
            DriftTest::Wasserstein => self.wasserstein_normed,
            _ => None,
        };
        let large_enough = min_effect
            .is_none_or(|e| distance(e.statistic).is_some_and(|v| !v.is_nan() && v >= e.at_least));
        let d = &mut self.decision;
        d.threshold = level;
        if d.status == Some(Status::Insufficient) {
            d.drifted = false;
            return;
        }
        d.drifted = large_enough && d.score.is_some_and(|p| p <= level);
        d.status = Some(if d.drifted { Status::Drift } else { Status::Stable });
    }
}

/// Whether the data set as a whole drifted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// Columns compared.
    pub columns: usize,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// `drifted_columns / columns` (0 when no column was compared); under the
    /// corrected rule, over the decided columns.
    pub share: f64,
    /// The share that counts as dataset drift; under the corrected rule, `alpha`.
    pub threshold: f64,
    /// Share rule: whether `share >= threshold`. Corrected rule: whether any
    /// column drifted under the per-feature level.
    pub drifted: bool,
    /// The corrected rule's level and counts; absent under the share rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<CorrectedVerdict>,
}

impl DatasetDrift {
    /// The dataset verdict from per-column decisions.
    pub fn from_decisions(drifted: impl IntoIterator<Item = bool>, drift_share: f64) -> Self {
        let (mut columns, mut drifted_columns) = (0, 0);
        for d in drifted {
            columns += 1;
            drifted_columns += usize::from(d);
        }
        let share = if columns == 0 { 0.0 } else { drifted_columns as f64 / columns as f64 };
        Self {
            columns,
            drifted_columns,
            share,
            threshold: drift_share,
            drifted: columns > 0 && share >= drift_share,
            corrected: None,
        }
    }

    /// Whether the window could be decided at all: some column was scored
    /// (share rule) or tested (corrected rule).
    pub fn is_decided(&self) -> bool {
        match &self.corrected {
            Some(c) => c.decided_columns > 0,
            None => self.columns > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, StringArray};
    use proptest::prelude::*;

    use super::*;
    use crate::baseline::{ColumnProfileBuilder, ProfileOptions};

    fn profile(kind: ColumnKind, array: &dyn Array) -> ColumnProfile {
        let mut builder = ColumnProfileBuilder::new(kind, false);
        builder.update("c", array).unwrap();
        builder.finish("c", &ProfileOptions::default())
    }

    fn one_pass(profile: &ColumnProfile, array: &dyn Array) -> ColumnDrift {
        let mut acc = ColumnAccumulator::new(profile);
        acc.update("c", array).unwrap();
        acc.finish(profile, &DriftOptions::default())
    }

    #[test]
    fn identical_data_does_not_drift() {
        let values: Float64Array = (0..1000).map(|i| Some(f64::from(i).sin())).collect();
        let p = profile(ColumnKind::Numeric, &values);
        let report = one_pass(&p, &values);
        assert_eq!(report.psi, Some(0.0));
        assert_eq!(report.ks.unwrap().test.statistic, 0.0);
        assert_eq!(report.data_quality.out_of_range_share, Some(0.0));
        assert!(!report.decision.drifted);
    }

    #[test]
    fn out_of_range_and_non_finite_values_are_counted_not_binned() {
        let reference: Float64Array = (0..100).map(|i| Some(f64::from(i))).collect();
        let p = profile(ColumnKind::Numeric, &reference);
        let current = Float64Array::from(vec![
            Some(-1.0),
            Some(50.0),
            Some(99.0),
            Some(99.5),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
        ]);
        let report = one_pass(&p, &current);
        assert_eq!(report.current_counts.iter().sum::<u64>(), 4);
        assert_eq!(
            report.data_quality.missing,
            MissingCounts { null: 1, nan: 1, pos_inf: 1, neg_inf: 0 }
        );
        // -1, 99.5 and +inf lie outside [0, 99].
        assert_eq!(report.data_quality.out_of_range_share, Some(3.0 / 7.0));
        assert_eq!(report.data_quality.missing_share, Some(2.0 / 7.0));
    }

    #[test]
    fn unseen_categories_get_their_own_bins() {
        let reference = StringArray::from(vec!["a", "b", "b", "d"]);
        let p = profile(ColumnKind::Categorical, &reference);
        let report = one_pass(&p, &StringArray::from(vec![Some("c"), Some("b"), None, Some("e")]));
        assert_eq!(report.categories.as_deref().unwrap(), ["a", "b", "c", "d", "e"]);
        assert_eq!(report.reference_counts, vec![1, 2, 0, 1, 0]);
        assert_eq!(report.current_counts, vec![0, 1, 1, 0, 1]);
        assert_eq!(report.data_quality.unseen_share, Some(0.5));
        assert_eq!(report.data_quality.unseen_categories, vec!["c", "e"]);
    }

    #[test]
    fn a_type_of_the_wrong_kind_is_rejected_with_the_column_name() {
        let p = profile(ColumnKind::Numeric, &Float64Array::from(vec![1.0, 2.0]));
        let mut acc = ColumnAccumulator::new(&p);
        let error = acc.update("age", &StringArray::from(vec!["x"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "column `age`: the baseline profiles it as numeric, but the current data is categorical"
        );
        assert_eq!(acc.rows(), 0);
    }

    #[test]
    fn empty_window_has_no_scores_and_does_not_drift() {
        let p = profile(ColumnKind::Numeric, &Int32Array::from(vec![1, 2, 3]));
        let report = one_pass(&p, &Float64Array::from(Vec::<f64>::new()));
        assert_eq!((report.psi, report.ks, report.decision.drifted), (None, None, false));
    }

    #[test]
    fn dataset_drift_share_rule() {
        assert!(DatasetDrift::from_decisions([true, false], 0.5).drifted);
        assert!(!DatasetDrift::from_decisions([true, false, false], 0.5).drifted);
        assert!(!DatasetDrift::from_decisions([], 0.5).drifted);
    }

    fn round_trip(p: &ColumnProfile, acc: &ColumnAccumulator) -> ColumnAccumulator {
        let json = serde_json::to_string(&acc.state()).unwrap();
        ColumnAccumulator::restore(p, serde_json::from_str(&json).unwrap()).unwrap()
    }

    #[test]
    fn state_survives_a_serde_round_trip() {
        let reference: Float64Array = (0..500).map(|i| Some(f64::from(i).sin())).collect();
        let numeric = profile(ColumnKind::Numeric, &reference);
        let current: Float64Array = (0..300)
            .map(|i| match i % 50 {
                0 => None,
                1 => Some(f64::NAN),
                2 => Some(5.0),
                _ => Some(f64::from(i).cos()),
            })
            .collect();
        let labels = StringArray::from(vec![Some("a"), Some("b"), None, Some("z")]);
        let categorical = profile(ColumnKind::Categorical, &StringArray::from(vec!["a", "b", "b"]));
        for (p, array) in [(&numeric, &current as &dyn Array), (&categorical, &labels)] {
            let mut acc = ColumnAccumulator::new(p);
            acc.update("c", array).unwrap();
            let restored = round_trip(p, &acc);
            let options = DriftOptions::default();
            assert_eq!(
                format!("{:?}", restored.finish(p, &options)),
                format!("{:?}", acc.finish(p, &options))
            );
            assert_eq!(restored.rows(), acc.rows());
            // The restored accumulator keeps accumulating like the original.
            let (mut a, mut b) = (acc.clone(), restored);
            a.update("c", array).unwrap();
            b.update("c", array).unwrap();
            assert_eq!(
                format!("{:?}", a.finish(p, &options)),
                format!("{:?}", b.finish(p, &options))
            );
        }
    }

    #[test]
    fn state_of_another_profile_is_rejected() {
        let numeric = profile(ColumnKind::Numeric, &Float64Array::from(vec![1.0, 2.0, 3.0]));
        let categorical = profile(ColumnKind::Categorical, &StringArray::from(vec!["a", "b"]));
        let state = ColumnAccumulator::new(&categorical).state();
        let error = ColumnAccumulator::restore(&numeric, state).unwrap_err().to_string();
        assert!(error.contains("column `c`") && error.contains("numeric"), "{error}");
        let wider = profile(ColumnKind::Categorical, &StringArray::from(vec!["a", "b", "c"]));
        let state = ColumnAccumulator::new(&wider).state();
        assert!(ColumnAccumulator::restore(&categorical, state).is_err());
        // Grid counts only fit the grid of the reference they were taken on.
        let options = WindowOptions { exact_cap: 2, grid_cells: 64 };
        let mut gridded = ColumnAccumulator::with_options(&numeric, &options).unwrap();
        gridded.update("c", &Float64Array::from(vec![1.5, 2.5, 0.5, 9.0])).unwrap();
        assert!(!gridded.is_exact());
        let longer: Float64Array = (0..100).map(|i| Some(f64::from(i))).collect();
        let other = profile(ColumnKind::Numeric, &longer);
        let error = ColumnAccumulator::restore(&other, gridded.state()).unwrap_err().to_string();
        assert!(error.contains("grid slots"), "{error}");
        let restored = ColumnAccumulator::restore(&numeric, gridded.state()).unwrap();
        let drift = DriftOptions::default();
        assert_eq!(restored.finish(&numeric, &drift), gridded.finish(&numeric, &drift));
    }

    /// A deterministic generator (SplitMix64), so the large tests need no
    /// random-number crate.
    struct Rng(u64);

    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (1.0 - self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }

        fn array(&mut self, n: usize, draw: impl Fn(&mut Self) -> f64) -> Float64Array {
            (0..n).map(|_| Some(draw(self))).collect()
        }
    }

    fn window(
        p: &ColumnProfile,
        options: &WindowOptions,
        array: &Float64Array,
    ) -> ColumnAccumulator {
        let mut acc = ColumnAccumulator::with_options(p, options).unwrap();
        // Batches of 64K rows, as the engine sees them.
        for start in (0..array.len()).step_by(1 << 16) {
            let len = (1 << 16).min(array.len() - start);
            acc.update("c", &array.slice(start, len)).unwrap();
        }
        acc
    }

    #[test]
    fn grid_windows_stay_within_the_stated_bounds_of_the_exact_statistics() {
        let mut rng = Rng(7);
        type Draw = fn(&mut Rng) -> f64;
        let cases: [(&str, Draw, Draw, usize, usize); 6] = [
            ("normal, shifted", |r| r.normal(), |r| r.normal() + 0.02, 20_000, 300_000),
            ("normal, same", |r| r.normal(), |r| r.normal(), 150_000, 250_000),
            (
                "lognormal, scaled",
                |r| (1.5 * r.normal()).exp(),
                |r| 1.1 * (1.5 * r.normal()).exp(),
                50_000,
                400_000,
            ),
            (
                "discrete, tied",
                |r| (r.uniform() * 20.0).floor() + (r.uniform() * 3.0).floor(),
                |r| (r.uniform() * 21.0).floor(),
                50_000,
                300_000,
            ),
            ("beyond the range", |r| r.normal(), |r| 3.0 * r.normal() + 4.0, 10_000, 300_000),
            ("below the range", |r| r.uniform(), |r| -r.uniform() * 5.0 + 0.5, 30_000, 200_000),
        ];
        for (case, reference, current, n_ref, n_cur) in cases {
            let p = profile(ColumnKind::Numeric, &rng.array(n_ref, reference));
            let data = rng.array(n_cur, current);
            let bounded = window(&p, &WindowOptions::default(), &data);
            let exact = window(&p, &WindowOptions::unbounded(), &data);
            assert!(!bounded.is_exact() && exact.is_exact(), "{case}");
            let options = DriftOptions::default();
            let (g, e) = (bounded.finish(&p, &options), exact.finish(&p, &options));
            // Binned statistics and data quality do not depend on the grid.
            assert_eq!(
                (g.psi, g.jensen_shannon, &g.data_quality),
                (e.psi, e.jensen_shannon, &e.data_quality),
                "{case}"
            );
            let (gk, ek) = (g.ks.unwrap(), e.ks.unwrap());
            let bound = gk.statistic_error_bound.unwrap();
            assert!(bound <= 1.0 / 4096.0, "{case}: KS bound {bound}");
            let (dg, de) = (gk.test.statistic, ek.test.statistic);
            assert!(
                dg <= de + 1e-12 && de <= dg + bound + 1e-12,
                "{case}: D {dg} vs {de} (bound {bound})"
            );
            let (wg, we) = (g.wasserstein.unwrap(), e.wasserstein.unwrap());
            let w_bound = g.wasserstein_error_bound.unwrap();
            assert!(
                (wg - we).abs() <= w_bound + 1e-9 * we,
                "{case}: W {wg} vs {we} (bound {w_bound})"
            );
            // The stated worst case: at most half the widest cell.
            let edges = match &bounded {
                ColumnAccumulator::Numeric(acc) => acc.grid.as_ref().unwrap().edges().to_vec(),
                ColumnAccumulator::Categorical(_) => unreachable!(),
            };
            let widest = edges.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
            assert!(w_bound <= widest * (0.5 + 1e-6), "{case}");
            if case.starts_with("discrete") {
                // Every reference value is an edge: KS is exact.
                assert_eq!((bound, dg), (0.0, de), "{case}");
            }
        }
    }

    #[test]
    fn window_state_is_bounded_whatever_the_window_holds() {
        let mut rng = Rng(11);
        let p = profile(ColumnKind::Numeric, &rng.array(100_000, Rng::normal));
        let mut state_size = |n: usize| {
            let acc = window(&p, &WindowOptions::default(), &rng.array(n, |r| 1.5 * r.normal()));
            (acc.state_bytes(), serde_json::to_vec(&acc.state()).unwrap().len())
        };
        let (small, small_json) = state_size(50_000);
        let (large, large_json) = state_size(2_000_000);
        let bins = match &p.stats {
            ColumnStats::Numeric(n) => n.counts.len(),
            ColumnStats::Categorical(_) => unreachable!(),
        };
        let bound = WindowOptions::default().max_numeric_state_bytes(bins);
        assert!(bound < 200 * 1024, "{bound}");
        assert!(small <= bound && large <= bound, "{small} {large} > {bound}");
        assert_eq!(small, large);
        // JSON grows with the digits of the counts only.
        assert!(large_json < 2 * small_json + 16_384, "{small_json} {large_json}");
        // An exact window of the same column holds its values.
        let exact = window(&p, &WindowOptions::unbounded(), &rng.array(50_000, Rng::normal));
        assert!(exact.state_bytes() >= 8 * 50_000);
        // At the cap, an exact window is within the bound too.
        let at_cap = window(&p, &WindowOptions::default(), &rng.array(10_000, Rng::normal));
        assert!(at_cap.is_exact() && at_cap.state_bytes() <= bound, "{}", at_cap.state_bytes());
    }

    fn fitted(
        kind: ColumnKind,
        integer: bool,
        array: &dyn Array,
        options: &ProfileOptions,
    ) -> ColumnProfile {
        let mut builder = ColumnProfileBuilder::new(kind, integer);
        builder.update("c", array).unwrap();
        builder.finish("c", options)
    }

    #[test]
    fn a_folded_profile_never_calls_a_folded_category_unseen() {
        // 1,001 categories seen five times each; the stored default keeps 1,000.
        let names: StringArray = (0..5005).map(|i| Some(format!("c{:04}", i % 1001))).collect();
        let stored = fitted(ColumnKind::Categorical, false, &names, &ProfileOptions::default());
        let report = one_pass(&stored, &names);
        assert_eq!(report.data_quality.unseen_categories, Vec::<String>::new());
        assert_eq!(report.data_quality.unseen_share, None);
        assert_eq!(report.categories.as_ref().unwrap().last().unwrap(), "(other)");
        assert_eq!(
            report.approximate,
            Some(Approximation::FoldedCategories {
                kept: 1000,
                reference_categories: 1,
                reference_rows: 5,
                current_categories: 1,
                current_rows: 5,
            })
        );
        assert_eq!((report.psi, report.decision.drifted, report.z), (Some(0.0), false, None));

        // Fitted exactly, every category is a bin of its own and none is unseen.
        let exact =
            fitted(ColumnKind::Categorical, false, &names, &ProfileOptions::default().exact());
        let report = one_pass(&exact, &names);
        assert_eq!(report.categories.as_ref().unwrap().len(), 1001);
        assert_eq!(report.data_quality.unseen_share, Some(0.0));
        assert_eq!((report.approximate, report.psi), (None, Some(0.0)));
        assert!(report.z.is_some());
    }

    #[test]
    fn integer_codes_are_binned_in_numeric_order() {
        let codes = |counts: &[(i64, usize)]| -> Int64Array {
            counts.iter().flat_map(|&(code, n)| std::iter::repeat_n(Some(code), n)).collect()
        };
        let reference = codes(&[(2, 40), (3, 30), (10, 30)]);
        let p = fitted(ColumnKind::Categorical, true, &reference, &ProfileOptions::default());
        let report = one_pass(&p, &codes(&[(2, 20), (3, 30), (10, 50)]));
        assert_eq!(report.categories.as_deref().unwrap(), ["2", "3", "10"]);
        // Share other than 2 (numpy's first): p1 = 0.6, p2 = 0.8. scipy:
        // z = -3.086066999241839, 2 * norm.sf(|z|) = 0.0020282311484520745
        let z = report.z.unwrap();
        assert!((z.statistic - -3.086066999241839).abs() < 1e-12, "{z:?}");
        assert!((z.p_value - 0.0020282311484520745).abs() < 1e-12, "{z:?}");
        // Unseen codes are merged into the bins in numeric order too.
        let report = one_pass(&p, &codes(&[(100, 1), (7, 2), (2, 1), (-4, 1)]));
        assert_eq!(report.categories.as_deref().unwrap(), ["-4", "2", "3", "7", "10", "100"]);
        assert_eq!(report.current_counts, vec![1, 1, 0, 2, 0, 1]);
        assert_eq!(report.data_quality.unseen_categories, vec!["-4", "7", "100"]);
    }

    #[test]
    fn a_compressed_reference_is_reported_and_stays_within_its_bounds() {
        let mut rng = Rng(5);
        let reference = rng.array(20_000, |r| (1.2 * r.normal()).exp());
        let current = rng.array(5_000, |r| 1.1 * (1.2 * r.normal()).exp());
        let options = ProfileOptions { max_sample: 1000, ..ProfileOptions::default() };
        let stored = fitted(ColumnKind::Numeric, false, &reference, &options);
        let exact = fitted(ColumnKind::Numeric, false, &reference, &options.exact());
        let (approximate, report) = (one_pass(&stored, &current), one_pass(&exact, &current));
        assert_eq!(report.approximate, None);
        let Some(Approximation::CompressedReference {
            points,
            count,
            ks_statistic_error_bound,
            wasserstein_error_bound,
        }) = approximate.approximate
        else {
            panic!("{:?}", approximate.approximate)
        };
        assert_eq!((points, count), (1000, 20_000));
        assert_eq!(ks_statistic_error_bound, 1.0 / 1000.0 + 1.0 / 20_000.0);
        let (d, d_exact) =
            (approximate.ks.unwrap().test.statistic, report.ks.unwrap().test.statistic);
        assert!((d - d_exact).abs() <= ks_statistic_error_bound, "{d} {d_exact}");
        let (w, w_exact) = (approximate.wasserstein.unwrap(), report.wasserstein.unwrap());
        assert!((w - w_exact).abs() <= wasserstein_error_bound, "{w} {w_exact}");
        // Binned statistics do not use the sample.
        assert_eq!(approximate.psi, report.psi);
    }

    #[test]
    fn infinite_statistics_survive_json() {
        let p = profile(ColumnKind::Categorical, &StringArray::from(vec!["a", "a", "b"]));
        let report = one_pass(&p, &StringArray::from(vec!["a", "c"]));
        assert_eq!(report.chi_square.unwrap().statistic, f64::INFINITY);
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains(r#""chi_square":{"statistic":"Infinity","p_value":0.0}"#), "{json}");
        let back: ColumnDrift = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
        let folded = Approximation::CompressedReference {
            points: 2,
            count: 3,
            ks_statistic_error_bound: 0.5,
            wasserstein_error_bound: f64::INFINITY,
        };
        let json = serde_json::to_string(&folded).unwrap();
        assert!(json.contains(r#""reason":"compressed_reference""#), "{json}");
        assert_eq!(serde_json::from_str::<Approximation>(&json).unwrap(), folded);
    }

    fn value_strategy() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            8 => (-50.0f64..150.0).prop_map(Some),
            1 => Just(None),
            1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)].prop_map(Some),
        ]
    }

    proptest! {
        #[test]
        fn any_split_merged_in_any_order_equals_one_pass(
            values in prop::collection::vec(value_strategy(), 0..600),
            cuts in prop::collection::vec(0usize..600, 0..6),
            rotate in 0usize..6,
            // Small caps make splits straddle the switch to the grid.
            exact_cap in prop_oneof![Just(10_000u64), 0u64..400],
            grid_cells in 1usize..64,
            checkpoint in any::<bool>(),
        ) {
            let reference: Float64Array = (0..200).map(|i| Some(f64::from(i) * 0.5)).collect();
            let numeric = profile(ColumnKind::Numeric, &reference);
            let categories: StringArray = (0..200).map(|i| Some(format!("c{}", i % 7))).collect();
            let categorical = profile(ColumnKind::Categorical, &categories);
            let window = WindowOptions { exact_cap, grid_cells };
            let new = |p: &ColumnProfile| ColumnAccumulator::with_options(p, &window).unwrap();

            let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
            let labels: ArrayRef = Arc::new(values.iter().map(|v| v.map(|x| format!("c{}", (x.abs() as i64) % 9))).collect::<StringArray>());
            for (p, array) in [(&numeric, &array), (&categorical, &labels)] {
                let mut acc = new(p);
                acc.update("c", array.as_ref()).unwrap();
                let whole = acc.finish(p, &DriftOptions::default());
                let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (array.len() + 1)).collect();
                bounds.extend([0, array.len()]);
                bounds.sort_unstable();
                let mut parts: Vec<ColumnAccumulator> = bounds.windows(2).map(|w| {
                    let mut acc = new(p);
                    acc.update("c", array.slice(w[0], w[1] - w[0]).as_ref()).unwrap();
                    if checkpoint { round_trip(p, &acc) } else { acc }
                }).collect();
                let k = parts.len();
                parts.rotate_left(rotate % k);
                let mut merged = new(p);
                for part in &parts {
                    merged.merge(part);
                }
                prop_assert_eq!(merged.is_exact(), acc.is_exact());
                let split = merged.finish(p, &DriftOptions::default());
                prop_assert_eq!(format!("{whole:?}"), format!("{split:?}"));
            }
        }
    }
}
