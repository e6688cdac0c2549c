//! Window accumulators and the drift report of one column against its baseline
//! (the reference-fitted mode, driftgauge's default contract).
//!
//! An accumulator is built from a column's [`ColumnProfile`], fed Arrow arrays
//! with [`ColumnAccumulator::update`], combined with
//! [`ColumnAccumulator::merge`] and turned into a [`ColumnDrift`] by
//! [`ColumnAccumulator::finish`]. Its state is integer counts plus the current
//! window's finite values (which KS and Wasserstein need exactly), so the
//! report is the same however the window was split into batches or threads.
//!
//! # Conventions
//!
//! * **Bins.** Numeric columns use the profile's decile edges with open outer
//!   bins, so current values outside the reference range land in the outer
//!   bins (and are also counted as out of range). Categorical columns use the
//!   sorted union of reference and current categories; when the profile folded
//!   rare categories into `other`, categories it does not list share that bin.
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
    JensenShannon,
    /// Hellinger distance; drift when `>= threshold` (default 0.1).
    Hellinger,
    /// Wasserstein-1 over the reference std; drift when `>= threshold` (default 0.1).
    Wasserstein,
    /// KS p-value; drift when `p < threshold` (default 0.05). Numeric only.
    Ks,
    /// Chi-square goodness-of-fit p-value; drift when `p < threshold` (default 0.05).
    ChiSquare,
    /// Two-proportion Z-test p-value; drift when `p < threshold` (default 0.05). Categorical only.
    Z,
}

impl DriftTest {
    /// The threshold used when none is configured.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// Whether the statistic is a p-value (small means drift) rather than a
    /// distance (large means drift).
    pub fn is_p_value(self) -> bool {
        matches!(self, Self::Ks | Self::ChiSquare | Self::Z)
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
    /// The dataset drifts when at least this share of columns drift (default 0.5).
    pub drift_share: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        Self {
            epsilon: 1e-4,
            ks_method: KsMethod::Auto,
            numeric_rule: DriftRule::new(DriftTest::Psi),
            categorical_rule: DriftRule::new(DriftTest::Psi),
            drift_share: 0.5,
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

/// Window state for one column; see the module docs.
#[derive(Debug, Clone)]
pub enum ColumnAccumulator {
    /// State of a numeric column.
    Numeric(NumericAccumulator),
    /// State of a categorical column.
    Categorical(CategoricalAccumulator),
}

impl ColumnAccumulator {
    /// An empty accumulator for the column `profile` describes.
    pub fn new(profile: &ColumnProfile) -> Self {
        match &profile.stats {
            ColumnStats::Numeric(p) => Self::Numeric(NumericAccumulator::new(p)),
            ColumnStats::Categorical(p) => Self::Categorical(CategoricalAccumulator::new(p)),
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

fn mismatch(column: &str, expected: ColumnKind, array: &dyn Array) -> Error {
    let found = match ColumnKind::infer(column, array.data_type()) {
        Ok(kind) => kind.name(),
        Err(_) => "of an unsupported type",
    };
    Error::KindMismatch { column: column.to_owned(), expected: expected.name(), found }
}

/// Window state of a numeric column: counts against the thresholds
/// `[min, e1, ..., ek, next_up(max)]` (so one pass yields the bins and the
/// values below and above the reference range) plus the finite values.
#[derive(Debug, Clone)]
pub struct NumericAccumulator {
    thresholds: Arc<[f64]>,
    counts: ThresholdCounts,
    values: Vec<f64>,
    scratch: Vec<f64>,
}

impl NumericAccumulator {
    fn new(profile: &NumericProfile) -> Self {
        let thresholds: Arc<[f64]> = match &profile.range {
            Some(range) => std::iter::once(range.min)
                .chain(profile.edges.iter().copied())
                .chain(std::iter::once(range.max.next_up()))
                .collect(),
            None => Arc::new([]),
        };
        let counts = ThresholdCounts::new(thresholds.len());
        Self { thresholds, counts, values: Vec::new(), scratch: Vec::new() }
    }

    fn update(&mut self, column: &str, array: &dyn Array) -> Result<()> {
        let Self { thresholds, counts, values, scratch } = self;
        column::for_each_f64_chunk(column, array, scratch, |chunk, validity| {
            counts.update(chunk, validity, thresholds);
            column::extend_finite(values, chunk, validity);
        })
    }

    fn merge(&mut self, other: &Self) {
        self.counts.merge(&other.counts);
        self.values.extend_from_slice(&other.values);
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

        let mut current = self.values.clone();
        sample::sort_finite(&mut current);
        let reference = &profile.sample;
        if !reference.is_empty() && !current.is_empty() {
            report.ks = Some(ks_report(reference, &current, options.ks_method));
            let w = sample::wasserstein(reference.values(), &current);
            let std = profile.range.map_or(0.0, |r| r.std);
            report.wasserstein = Some(w);
            report.wasserstein_normed = Some(w / std.max(0.001));
        }
        report.decide(options.numeric_rule);
        report
    }
}

fn ks_report(reference: &SortedSample, current: &[f64], method: KsMethod) -> KsReport {
    let test = if reference.is_exact() {
        ks::ks_2samp_sorted(reference.values(), current, method)
    } else {
        let d = sample::ks_statistic(reference.values(), current);
        ks::ks_2samp_from_statistic(d, reference.count(), current.len() as u64, method)
    };
    // Large samples already used the asymptotic method; the exact one
    // re-rounds D onto its lattice, so the asymptotic p starts from raw D.
    let p_value_asymp = if test.method == KsMethod::Asymp {
        test.p_value
    } else {
        let d = sample::ks_statistic(reference.values(), current);
        ks::ks_2samp_from_statistic(d, reference.count(), current.len() as u64, KsMethod::Asymp)
            .p_value
    };
    KsReport { test, p_value_asymp, reference_exact: reference.is_exact() }
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
        // Bins: the sorted union of categories. A truncated profile cannot tell
        // an unseen category from a folded one, so those share the `other` bin.
        let mut bins: Vec<(&str, u64, u64)> = Vec::new();
        let truncated = profile.other > 0 || profile.other_categories > 0;
        let mut unseen = self.unseen.iter().peekable();
        for (category, &current) in profile.categories.iter().zip(&self.counts) {
            if !truncated {
                while let Some((extra, &rows)) =
                    unseen.next_if(|(extra, _)| extra.as_str() < category.name.as_str())
                {
                    bins.push((extra.as_str(), 0, rows));
                }
            }
            bins.push((category.name.as_str(), category.count, current));
        }
        if truncated {
            bins.push(("(other)", profile.other, unseen_rows));
        } else {
            bins.extend(unseen.map(|(extra, &rows)| (extra.as_str(), 0, rows)));
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
        let unseen_share_rows = (!truncated).then_some(unseen_rows);
        report.data_quality = DataQuality::new(rows, missing, Some(0), unseen_share_rows);
        report.data_quality.unseen_categories =
            self.unseen.keys().take(MAX_LISTED_UNSEEN).cloned().collect();

        let (n_ref, n_cur) =
            (reference_counts.iter().sum::<u64>(), current_counts.iter().sum::<u64>());
        if n_ref > 0 && n_cur > 0 && !truncated {
            report.z = Some(divergence::two_proportion_z(
                n_ref - reference_counts[0],
                n_ref,
                n_cur - current_counts[0],
                n_cur,
            ));
        }
        report.decide(options.categorical_rule);
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
    /// Up to 20 of the unseen categories, sorted.
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
    pub p_value_asymp: f64,
    /// Whether the reference sample was exact (else the statistic carries the
    /// compression error stated in [`crate::sample`]).
    pub reference_exact: bool,
}

/// A chi-square contingency test with its degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContingencyTest {
    /// The chi-square statistic.
    pub statistic: f64,
    /// Its p-value.
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
    pub score: Option<f64>,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// Whether the column drifted.
    pub drifted: bool,
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
    pub psi: Option<f64>,
    /// `KL(reference ‖ current)`, nats.
    pub kl_reference_current: Option<f64>,
    /// `KL(current ‖ reference)`, nats.
    pub kl_current_reference: Option<f64>,
    /// Jensen-Shannon distance, base e.
    pub jensen_shannon: Option<f64>,
    /// Jensen-Shannon distance, base 2.
    pub jensen_shannon_base2: Option<f64>,
    /// Hellinger distance.
    pub hellinger: Option<f64>,
    /// Chi-square goodness of fit of current counts to scaled reference counts.
    pub chi_square: Option<TestResult>,
    /// Chi-square test of homogeneity on the 2 × K table.
    pub chi_square_contingency: Option<ContingencyTest>,
    /// Two-sample KS test (numeric).
    pub ks: Option<KsReport>,
    /// Wasserstein-1 distance (numeric), in the column's units.
    pub wasserstein: Option<f64>,
    /// Wasserstein-1 over `max(reference std, 0.001)` (numeric).
    pub wasserstein_normed: Option<f64>,
    /// Two-proportion Z-test (categorical).
    pub z: Option<TestResult>,
    /// The drift decision.
    pub decision: Decision,
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
            ks: None,
            wasserstein: None,
            wasserstein_normed: None,
            z: None,
            decision: Decision {
                test: DriftTest::Psi,
                score: None,
                threshold: 0.0,
                drifted: false,
            },
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
            DriftTest::Z => self.z.map(|z| z.p_value),
        }
    }

    fn decide(&mut self, rule: DriftRule) {
        let score = self.score(rule.test).filter(|s| !s.is_nan());
        let drifted = score.is_some_and(|s| {
            if rule.test.is_p_value() { s < rule.threshold } else { s >= rule.threshold }
        });
        self.decision = Decision { test: rule.test, score, threshold: rule.threshold, drifted };
    }
}

/// Whether the data set as a whole drifted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    /// Columns compared.
    pub columns: usize,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// `drifted_columns / columns` (0 when no column was compared).
    pub share: f64,
    /// The share that counts as dataset drift.
    pub threshold: f64,
    /// Whether `share >= threshold`.
    pub drifted: bool,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Float64Array, Int32Array, StringArray};
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
        ) {
            let reference: Float64Array = (0..200).map(|i| Some(f64::from(i) * 0.5)).collect();
            let numeric = profile(ColumnKind::Numeric, &reference);
            let categories: StringArray = (0..200).map(|i| Some(format!("c{}", i % 7))).collect();
            let categorical = profile(ColumnKind::Categorical, &categories);

            let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
            let labels: ArrayRef = Arc::new(values.iter().map(|v| v.map(|x| format!("c{}", (x.abs() as i64) % 9))).collect::<StringArray>());
            for (p, array) in [(&numeric, &array), (&categorical, &labels)] {
                let whole = one_pass(p, array.as_ref());
                let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (array.len() + 1)).collect();
                bounds.extend([0, array.len()]);
                bounds.sort_unstable();
                let mut parts: Vec<ColumnAccumulator> = bounds.windows(2).map(|w| {
                    let mut acc = ColumnAccumulator::new(p);
                    acc.update("c", array.slice(w[0], w[1] - w[0]).as_ref()).unwrap();
                    acc
                }).collect();
                let k = parts.len();
                parts.rotate_left(rotate % k);
                let mut merged = ColumnAccumulator::new(p);
                for part in &parts {
                    merged.merge(part);
                }
                let split = merged.finish(p, &DriftOptions::default());
                prop_assert_eq!(format!("{whole:?}"), format!("{split:?}"));
            }
        }
    }
}
