//! Evidently-compatible drift: the choices and numbers of Evidently 0.7's
//! `DataDriftPreset` (pandas engine), reproduced on exact samples.
//!
//! This is a second contract beside the reference-fitted mode of
//! [`crate::drift`]. It exists so that a user moving from Evidently gets the
//! same test, the same score and the same verdict for every column, and it
//! needs the whole reference *and* current sample, because Evidently bins
//! numeric columns on both together. The rules, read from Evidently's
//! `legacy/calculations/stattests` and checked by the golden fixtures in
//! `tests/golden/evidently/`:
//!
//! * **Missing values.** NaN, ±inf and nulls are dropped from each sample
//!   before anything else, including the choice of test: "reference rows"
//!   below means non-missing reference rows.
//! * **Default test** ([`default_test`]), from the non-missing reference
//!   rows and the number of distinct values in both samples together:
//!
//!   | reference rows | numeric | categorical |
//!   |---|---|---|
//!   | ≤ 1000 | ≤ 5 values: chi-square (> 2 values) or Z; else KS | chi-square (> 2 values) or Z |
//!   | > 1000 | ≤ 5 values: Jensen-Shannon; else Wasserstein (normed) | Jensen-Shannon |
//!
//! * **Verdicts.** Distances (PSI, KL, JS, Wasserstein, Hellinger) drift when
//!   `score >= threshold` (default 0.1); KS when `p <= threshold`; chi-square
//!   and Z when `p < threshold` (default 0.05).
//! * **Bins for PSI, KL and JS.** A numeric column whose reference has more
//!   than 20 distinct values gets equal-width bins over reference and current
//!   *combined*, with numpy's Sturges rule ([`sturges_edges`]); otherwise
//!   every distinct value (or category) of either sample is a bin.
//!   Proportions are over the non-missing rows.
//! * **Empty bins.** PSI and KL replace the zeros of each vector separately by
//!   `m / 1e6` when its smallest non-zero proportion `m` is at most `1e-4`,
//!   and by `1e-4` otherwise, without renormalising. KL renormalises anyway
//!   (as `scipy.stats.entropy`); PSI does not. JS uses the raw proportions.
//! * **Hellinger** on a numeric column bins the *distinct values* with
//!   Sturges (so the bin count depends on how many distinct values there
//!   are, and an integer 0/1 column gets a single bin and always scores 0)
//!   and integrates `sqrt(h_ref h_cur)` over density histograms.
//! * **Z-test.** The share of values other than the smallest one, reference
//!   first; `p = 2 (1 - Φ(|z|))` as Evidently writes it, which is exactly 0
//!   once `|z|` passes about 8.3. Both samples holding one shared value gives
//!   `p = 1`.
//!
//! Categories are sorted as Evidently's `sorted(set(...))` sorts them: text
//! as text, and the integer codes of an integer column declared categorical
//! as numbers (`2` before `10`), so the Z-test counts the same first value.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::column::{ColumnKind, compare_categories};
use crate::divergence::{self, TestResult};
use crate::drift::DatasetDrift;
use crate::error::{Error, Result};
use crate::ks::{self, KsMethod};
use crate::sample::{self, sort_finite};

/// Reference row counts above this get the large-sample tests (Evidently's
/// `reference_data.shape[0] <= 1000`).
const SMALL_SAMPLE_ROWS: usize = 1000;
/// Columns with at most this many distinct values (both samples together)
/// count as discrete in the default test choice.
const FEW_VALUES: usize = 5;
/// Numeric columns whose reference has more distinct values than this are
/// binned with Sturges for PSI, KL and JS; others get a bin per value.
const STURGES_MIN_REFERENCE_VALUES: usize = 20;
/// The floor of the Wasserstein normaliser (Evidently's `max(std, 0.001)`).
const MIN_STD: f64 = 0.001;

/// One column of one sample, with its missing values already dropped.
///
/// Evidently drops NaN, ±inf and nulls before every test, so they carry no
/// information here: [`ColumnSample::numeric`] and
/// [`ColumnSample::categorical`] drop them for you, and [`column_drift`]
/// ignores any non-finite value left in a `Numeric` sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ColumnSample {
    /// A numeric column.
    Numeric {
        /// The finite values, in any order.
        values: Vec<f64>,
        /// Whether the column has an integer type. Sturges binning clamps the
        /// bin width to at least 1 only when both samples are integers, as
        /// numpy does for an integer array.
        integer: bool,
    },
    /// A categorical column.
    Categorical {
        /// The non-null category names, in any order.
        values: Vec<String>,
        /// Whether the names are the integer codes of an integer column,
        /// which sort as numbers ([`crate::column::compare_categories`]).
        #[serde(default)]
        integer: bool,
    },
}

impl ColumnSample {
    /// A numeric sample of the finite `values` (NaN and ±inf are dropped).
    pub fn numeric(values: impl IntoIterator<Item = f64>, integer: bool) -> Self {
        let values = values.into_iter().filter(|x| x.is_finite()).collect();
        Self::Numeric { values, integer }
    }

    /// A categorical sample of the non-null `values` (text, sorted as text).
    pub fn categorical<S: Into<String>>(values: impl IntoIterator<Item = Option<S>>) -> Self {
        let values = values.into_iter().flatten().map(Into::into).collect();
        Self::Categorical { values, integer: false }
    }

    /// A categorical sample of the non-null integer codes `values`, sorted as
    /// numbers as Evidently sorts an integer column.
    pub fn integer_codes(values: impl IntoIterator<Item = Option<i64>>) -> Self {
        let values = values.into_iter().flatten().map(|v| v.to_string()).collect();
        Self::Categorical { values, integer: true }
    }

    /// Whether the sample is numeric or categorical.
    pub fn kind(&self) -> ColumnKind {
        match self {
            Self::Numeric { .. } => ColumnKind::Numeric,
            Self::Categorical { .. } => ColumnKind::Categorical,
        }
    }
}

/// A drift test as Evidently names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EvidentlyTest {
    /// Two-sample Kolmogorov-Smirnov p-value (`ks`), numeric only.
    #[serde(rename = "ks")]
    Ks,
    /// Wasserstein-1 distance over `max(std_ref, 0.001)` (`wasserstein`), numeric only.
    #[serde(rename = "wasserstein")]
    Wasserstein,
    /// Jensen-Shannon distance, natural log (`jensenshannon`).
    #[serde(rename = "jensenshannon")]
    JensenShannon,
    /// Chi-square goodness-of-fit p-value (`chisquare`).
    #[serde(rename = "chisquare")]
    ChiSquare,
    /// Two-proportion Z-test p-value (`z`).
    #[serde(rename = "z")]
    Z,
    /// Population stability index (`psi`).
    #[serde(rename = "psi")]
    Psi,
    /// `KL(reference ‖ current)` in nats (`kl_div`).
    #[serde(rename = "kl_div")]
    KlDiv,
    /// Hellinger distance (`hellinger`).
    #[serde(rename = "hellinger")]
    Hellinger,
}

impl EvidentlyTest {
    /// Evidently's registry name (`"ks"`, `"kl_div"`, ...), as serialised.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ks => "ks",
            Self::Wasserstein => "wasserstein",
            Self::JensenShannon => "jensenshannon",
            Self::ChiSquare => "chisquare",
            Self::Z => "z",
            Self::Psi => "psi",
            Self::KlDiv => "kl_div",
            Self::Hellinger => "hellinger",
        }
    }

    /// Whether the score is a p-value (small means drift).
    pub fn is_p_value(self) -> bool {
        matches!(self, Self::Ks | Self::ChiSquare | Self::Z)
    }

    /// Evidently's default threshold: 0.05 for p-values, 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// Evidently's verdict for `score` at `threshold`. Note the mix of strict
    /// and non-strict comparisons: KS drifts at `p <= threshold`, chi-square
    /// and Z at `p < threshold`, distances at `score >= threshold`. A NaN
    /// score never drifts.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Self::Ks => score <= threshold,
            Self::ChiSquare | Self::Z => score < threshold,
            _ => score >= threshold,
        }
    }

    /// Whether the test applies to `kind`: KS and Wasserstein need numbers,
    /// the others take both kinds. (Evidently registers chi-square and Z for
    /// categorical columns only, but its default choice gives them to
    /// numeric columns with few values too.)
    pub fn supports(self, kind: ColumnKind) -> bool {
        kind == ColumnKind::Numeric || !matches!(self, Self::Ks | Self::Wasserstein)
    }
}

/// The drift verdict of one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// The test that decided.
    pub test: EvidentlyTest,
    /// Its score: a p-value or a distance (see [`EvidentlyTest`]).
    #[serde(with = "crate::json::float")]
    pub score: f64,
    /// The threshold it was compared with.
    pub threshold: f64,
    /// Whether the column drifted ([`EvidentlyTest::drifted`]).
    pub drifted: bool,
}

/// The test Evidently's `DataDriftPreset` picks for a column.
///
/// `reference_rows` is the number of *non-missing* reference values and
/// `n_unique` the number of distinct non-missing values in reference and
/// current together (Evidently's `pd.concat([ref, cur]).nunique()`). See the
/// module docs for the table.
///
/// # Example
/// ```
/// use driftgauge_detectors::column::ColumnKind;
/// use driftgauge_detectors::evidently::{default_test, EvidentlyTest};
///
/// assert_eq!(default_test(ColumnKind::Numeric, 1000, 300), EvidentlyTest::Ks);
/// assert_eq!(default_test(ColumnKind::Numeric, 1001, 300), EvidentlyTest::Wasserstein);
/// assert_eq!(default_test(ColumnKind::Categorical, 500, 2), EvidentlyTest::Z);
/// ```
pub fn default_test(kind: ColumnKind, reference_rows: usize, n_unique: usize) -> EvidentlyTest {
    let few = n_unique <= FEW_VALUES;
    let small_set = if n_unique > 2 { EvidentlyTest::ChiSquare } else { EvidentlyTest::Z };
    match (kind, reference_rows <= SMALL_SAMPLE_ROWS) {
        (ColumnKind::Numeric, true) if few => small_set,
        (ColumnKind::Numeric, true) => EvidentlyTest::Ks,
        (ColumnKind::Categorical, true) => small_set,
        (ColumnKind::Numeric, false) if few => EvidentlyTest::JensenShannon,
        (ColumnKind::Numeric, false) => EvidentlyTest::Wasserstein,
        (ColumnKind::Categorical, false) => EvidentlyTest::JensenShannon,
    }
}

/// Scores one column as Evidently does, with `test` or, when `None`, the test
/// [`default_test`] picks; the threshold is the test's default.
///
/// # Errors
/// * [`Error::KindMismatch`] when one sample is numeric and the other
///   categorical;
/// * [`Error::NotApplicable`] when a sample has no non-missing value
///   (Evidently raises too) or `test` does not apply to the kind.
///
/// This function does not know the column's name: the `column` field of the
/// error is empty, for the caller to name in its message.
///
/// # Example
/// ```
/// use driftgauge_detectors::evidently::{column_drift, ColumnSample, EvidentlyTest};
///
/// let reference = ColumnSample::categorical(["a", "a", "b", "b"].map(Some));
/// let current = ColumnSample::categorical(["a", "b", "b", "b"].map(Some));
/// let drift = column_drift(&reference, &current, None)?;
/// assert_eq!(drift.test, EvidentlyTest::Z);
/// assert!(!drift.drifted);
/// # Ok::<(), driftgauge_detectors::Error>(())
/// ```
pub fn column_drift(
    reference: &ColumnSample,
    current: &ColumnSample,
    test: Option<EvidentlyTest>,
) -> Result<ColumnDrift> {
    column_drift_with_threshold(reference, current, test, None)
}

/// [`column_drift`] with an explicit threshold (`None` for the test's
/// default).
///
/// # Errors
/// As [`column_drift`], plus [`Error::InvalidConfig`] for a NaN or infinite
/// threshold.
pub fn column_drift_with_threshold(
    reference: &ColumnSample,
    current: &ColumnSample,
    test: Option<EvidentlyTest>,
    threshold: Option<f64>,
) -> Result<ColumnDrift> {
    if let Some(t) = threshold.filter(|t| !t.is_finite()) {
        return Err(Error::InvalidConfig {
            setting: "threshold",
            reason: format!("must be a finite number, got {t}"),
        });
    }
    let samples = Samples::new(reference, current)?;
    let test = test.unwrap_or_else(|| samples.default_test());
    if !test.supports(samples.kind()) {
        return Err(not_applicable("the test needs a numeric column"));
    }
    let score = samples.score(test);
    let threshold = threshold.unwrap_or_else(|| test.default_threshold());
    Ok(ColumnDrift { test, score, threshold, drifted: test.drifted(score, threshold) })
}

/// The dataset verdict: drifted when the share of drifted columns is at least
/// `drift_share` (Evidently's default is 0.5; note `>=`).
pub fn dataset_drift(columns: &[ColumnDrift], drift_share: f64) -> DatasetDrift {
    DatasetDrift::from_decisions(columns.iter().map(|c| c.drifted), drift_share)
}

/// `np.histogram_bin_edges(a, bins="sturges")` for an array with minimum
/// `min`, maximum `max`, `n` values and an integer (`integer = true`) or
/// float dtype, to the last bit.
///
/// # Details
/// The width is `(max - min) / (log2 n + 1)`, raised to 1 for integer data
/// when below it; the bin count is `ceil((max - min) / width)`. When
/// `min == max` the range widens to `[min - 0.5, max + 0.5]` with one bin.
/// Edges are numpy's `linspace`: `min + i * step` with
/// `step = (max - min) / bins`, the last one set to `max` exactly.
///
/// # Panics
/// In debug builds, if `min` or `max` is not finite, `min > max` or `n == 0`.
///
/// # Example
/// ```
/// use driftgauge_detectors::evidently::sturges_edges;
///
/// // np.histogram_bin_edges(np.array([0.0, 1.0]), "sturges")
/// assert_eq!(sturges_edges(0.0, 1.0, 2, false), [0.0, 0.5, 1.0]);
/// // the same values as int64: the width 0.5 is clamped to 1
/// assert_eq!(sturges_edges(0.0, 1.0, 2, true), [0.0, 1.0]);
/// ```
pub fn sturges_edges(min: f64, max: f64, n: usize, integer: bool) -> Vec<f64> {
    debug_assert!(min.is_finite() && max.is_finite() && min <= max && n > 0);
    let (first, last) = if min == max { (min - 0.5, max + 0.5) } else { (min, max) };
    let mut width = (max - min) / ((n as f64).log2() + 1.0);
    let bins = if width == 0.0 {
        1
    } else {
        if integer && width < 1.0 {
            width = 1.0;
        }
        ((last - first) / width).ceil() as usize
    };
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// Counts of ascending `sorted` values in the bins of `edges`, as
/// `np.histogram(x, edges)`: `[e_i, e_{i+1})`, the last bin closed, values
/// outside `[e_0, e_k]` not counted.
fn histogram(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let below = |e: f64| sorted.partition_point(|&x| x < e);
    let last = edges.len() - 1;
    (0..last)
        .map(|i| {
            let hi = if i + 1 == last {
                sorted.partition_point(|&x| x <= edges[last])
            } else {
                below(edges[i + 1])
            };
            (hi - below(edges[i])) as u64
        })
        .collect()
}

/// Evidently's zero fill for PSI and KL, per vector: `m / 1e6` where `m`,
/// the smallest non-zero proportion, is at most `1e-4`, else `1e-4`.
fn fill_zeros(proportions: &[f64]) -> Vec<f64> {
    let smallest = proportions.iter().copied().filter(|&p| p != 0.0).fold(f64::INFINITY, f64::min);
    let epsilon = if smallest <= 1e-4 { smallest / 1e6 } else { 1e-4 };
    divergence::fill_zeros(proportions, epsilon)
}

/// The two cleaned samples, sorted, with the distinct values of both.
enum Samples {
    Numeric {
        reference: Vec<f64>,
        current: Vec<f64>,
        integer: bool,
        /// Distinct values of both samples, ascending, with their counts in
        /// the reference and the current sample.
        values: Vec<(f64, u64, u64)>,
    },
    Categorical {
        /// Categories of both samples, sorted, with their two counts.
        categories: Vec<(String, u64, u64)>,
        reference_rows: usize,
    },
}

impl Samples {
    fn new(reference: &ColumnSample, current: &ColumnSample) -> Result<Self> {
        let samples = match (reference, current) {
            (
                ColumnSample::Numeric { values: r, integer: ri },
                ColumnSample::Numeric { values: c, integer: ci },
            ) => {
                let sorted = |v: &[f64]| {
                    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                    sort_finite(&mut v);
                    v
                };
                let (reference, current) = (sorted(r), sorted(c));
                let values = distinct_values(&reference, &current);
                Self::Numeric { reference, current, integer: *ri && *ci, values }
            }
            (
                ColumnSample::Categorical { values: r, integer: ri },
                ColumnSample::Categorical { values: c, integer: ci },
            ) => {
                let mut counts: HashMap<&str, (u64, u64)> = HashMap::new();
                for v in r {
                    counts.entry(v).or_default().0 += 1;
                }
                for v in c {
                    counts.entry(v).or_default().1 += 1;
                }
                let mut categories: Vec<(String, u64, u64)> =
                    counts.into_iter().map(|(k, (a, b))| (k.to_owned(), a, b)).collect();
                // Codes sort as numbers only when both samples are integer
                // columns, as pandas sorts a concatenation of two int64 columns.
                let integer = *ri && *ci;
                categories.sort_unstable_by(|a, b| compare_categories(&a.0, &b.0, integer));
                Self::Categorical { categories, reference_rows: r.len() }
            }
            (r, c) => {
                return Err(Error::KindMismatch {
                    column: String::new(),
                    expected: r.kind().name(),
                    found: c.kind().name(),
                });
            }
        };
        let (n_ref, n_cur) = samples.totals();
        if n_ref == 0 || n_cur == 0 {
            return Err(not_applicable(
                "Evidently needs at least one non-missing value in each sample",
            ));
        }
        Ok(samples)
    }

    fn kind(&self) -> ColumnKind {
        match self {
            Self::Numeric { .. } => ColumnKind::Numeric,
            Self::Categorical { .. } => ColumnKind::Categorical,
        }
    }

    fn totals(&self) -> (u64, u64) {
        match self {
            Self::Numeric { reference, current, .. } => {
                (reference.len() as u64, current.len() as u64)
            }
            Self::Categorical { categories, .. } => {
                categories.iter().fold((0, 0), |(a, b), &(_, r, c)| (a + r, b + c))
            }
        }
    }

    fn default_test(&self) -> EvidentlyTest {
        match self {
            Self::Numeric { reference, values, .. } => {
                default_test(ColumnKind::Numeric, reference.len(), values.len())
            }
            Self::Categorical { categories, reference_rows } => {
                default_test(ColumnKind::Categorical, *reference_rows, categories.len())
            }
        }
    }

    /// Counts per distinct value (or category), reference then current.
    fn value_counts(&self) -> (Vec<u64>, Vec<u64>) {
        match self {
            Self::Numeric { values, .. } => values.iter().map(|&(_, r, c)| (r, c)).unzip(),
            Self::Categorical { categories, .. } => {
                categories.iter().map(|&(_, r, c)| (r, c)).unzip()
            }
        }
    }

    /// Evidently's `get_binned_data` counts: Sturges over both samples for a
    /// numeric column with more than 20 distinct reference values, else one
    /// bin per distinct value.
    fn binned_counts(&self) -> (Vec<u64>, Vec<u64>) {
        if let Self::Numeric { reference, current, integer, values } = self {
            let reference_distinct = values.iter().filter(|v| v.1 > 0).count();
            if reference_distinct > STURGES_MIN_REFERENCE_VALUES {
                let (min, max) = (values[0].0, values[values.len() - 1].0);
                let edges = sturges_edges(min, max, reference.len() + current.len(), *integer);
                return (histogram(reference, &edges), histogram(current, &edges));
            }
        }
        self.value_counts()
    }

    fn score(&self, test: EvidentlyTest) -> f64 {
        match test {
            EvidentlyTest::Ks => match self {
                Self::Numeric { reference, current, .. } => {
                    ks::ks_2samp_sorted(reference, current, KsMethod::Auto).p_value
                }
                Self::Categorical { .. } => f64::NAN,
            },
            EvidentlyTest::Wasserstein => match self {
                Self::Numeric { reference, current, .. } => {
                    let (_, std) = sample::mean_std(reference);
                    sample::wasserstein(reference, current) / std.max(MIN_STD)
                }
                Self::Categorical { .. } => f64::NAN,
            },
            EvidentlyTest::JensenShannon => {
                let (r, c) = self.binned_counts();
                divergence::jensen_shannon(
                    &divergence::proportions(&r),
                    &divergence::proportions(&c),
                    None,
                )
            }
            EvidentlyTest::Psi => {
                let (r, c) = self.binned_counts();
                let p = fill_zeros(&divergence::proportions(&r));
                let q = fill_zeros(&divergence::proportions(&c));
                divergence::psi(&p, &q)
            }
            EvidentlyTest::KlDiv => {
                let (r, c) = self.binned_counts();
                let p = fill_zeros(&divergence::proportions(&r));
                let q = fill_zeros(&divergence::proportions(&c));
                divergence::kl_divergence(&p, &q)
            }
            EvidentlyTest::ChiSquare => {
                let (r, c) = self.value_counts();
                divergence::chi_square_gof(&r, &c).p_value
            }
            EvidentlyTest::Z => self.z_test().p_value,
            EvidentlyTest::Hellinger => self.hellinger(),
        }
    }

    /// Evidently's Z-test: the share of values other than the smallest.
    fn z_test(&self) -> TestResult {
        let (r, c) = self.value_counts();
        let (n_ref, n_cur) = self.totals();
        // Every value is a bin, in ascending order, so bin 0 is the smallest.
        let (ref_hits, cur_hits) = (n_ref - r[0], n_cur - c[0]);
        let TestResult { statistic, p_value } =
            divergence::two_proportion_z(ref_hits, n_ref, cur_hits, n_cur);
        if p_value == 1.0 && statistic == 0.0 {
            return TestResult { statistic, p_value };
        }
        // Evidently writes 2 (1 - Φ(|z|)), not 2 sf(|z|); keep its rounding.
        let p_value = 2.0 * (1.0 - Normal::standard().cdf(statistic.abs()));
        TestResult { statistic, p_value }
    }

    /// Evidently's Hellinger distance (see the module docs for the numeric
    /// binning). Sums in Evidently's order: one running sum.
    fn hellinger(&self) -> f64 {
        let overlap = match self {
            Self::Categorical { .. } => {
                let (r, c) = self.value_counts();
                let (p, q) = (divergence::proportions(&r), divergence::proportions(&c));
                p.iter().zip(&q).fold(0.0, |sum, (&a, &b)| sum + (a * b).sqrt())
            }
            Self::Numeric { reference, current, integer, values } => {
                let (min, max) = (values[0].0, values[values.len() - 1].0);
                let edges = sturges_edges(min, max, values.len(), *integer);
                let bins = edges.len() - 1;
                let bin_width = (edges[bins] - edges[0]) / bins as f64;
                let density = |sorted: &[f64]| {
                    let n = sorted.len() as f64;
                    histogram(sorted, &edges)
                        .into_iter()
                        .zip(edges.windows(2))
                        .map(|(count, w)| count as f64 / (w[1] - w[0]) / n)
                        .collect::<Vec<f64>>()
                };
                let (h_ref, h_cur) = (density(reference), density(current));
                h_ref.iter().zip(&h_cur).fold(0.0, |sum, (&a, &b)| sum + (a * b).sqrt() * bin_width)
            }
        };
        (1.0 - overlap.clamp(0.0, 1.0)).sqrt()
    }
}

/// The distinct values of two ascending samples with their counts in each;
/// `-0.0` and `0.0` are one value, as in pandas.
fn distinct_values(reference: &[f64], current: &[f64]) -> Vec<(f64, u64, u64)> {
    let mut out: Vec<(f64, u64, u64)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < reference.len() || j < current.len() {
        let x = match (reference.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let start = (i, j);
        while i < reference.len() && reference[i] == x {
            i += 1;
        }
        while j < current.len() && current[j] == x {
            j += 1;
        }
        out.push((x, (i - start.0) as u64, (j - start.1) as u64));
    }
    out
}

fn not_applicable(reason: &'static str) -> Error {
    Error::NotApplicable { column: String::new(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(values: &[f64]) -> ColumnSample {
        ColumnSample::numeric(values.iter().copied(), false)
    }

    fn strings(values: &[&str]) -> ColumnSample {
        ColumnSample::categorical(values.iter().map(|&s| Some(s)))
    }

    #[test]
    fn sturges_matches_numpy() {
        // np.histogram_bin_edges(np.array([0.0, 1.0, 2.5, 10.0]), "sturges")
        assert_eq!(
            sturges_edges(0.0, 10.0, 4, false),
            [0.0, 3.3333333333333335, 6.666666666666667, 10.0]
        );
        // np.histogram_bin_edges(np.array([3, 3, 3]), "sturges")
        assert_eq!(sturges_edges(3.0, 3.0, 3, true), [2.5, 3.5]);
        // np.histogram_bin_edges(np.array([-1.3, 0.1, 0.2, 7.77, 2.0, 3.3, 4.4]), "sturges")
        assert_eq!(
            sturges_edges(-1.3, 7.77, 7, false),
            [-1.3, 0.9675, 3.2350000000000003, 5.5025, 7.77]
        );
    }

    #[test]
    fn sturges_integer_clamp_at_scale() {
        // 600000 int64 values spanning 0..=20: width 20 / (log2(6e5) + 1) = 0.99
        // is clamped to 1, giving 20 bins; as float64 it stays 0.99 and gives 21.
        let ints = sturges_edges(0.0, 20.0, 600_000, true);
        assert_eq!(ints.len() - 1, 20);
        assert_eq!(&ints[..3], [0.0, 1.0, 2.0]);
        let floats = sturges_edges(0.0, 20.0, 600_000, false);
        assert_eq!(floats.len() - 1, 21);
        assert_eq!(&floats[..3], [0.0, 0.9523809523809523, 1.9047619047619047]);
        assert_eq!(&floats[20..], [19.047619047619047, 20.0]);
    }

    #[test]
    fn histogram_closes_the_last_bin() {
        let x = [-1.3, 0.1, 0.2, 2.0, 3.3, 4.4, 7.77];
        // np.histogram(x, np.histogram_bin_edges(x, "sturges"))[0] == [3, 1, 2, 1]
        assert_eq!(histogram(&x, &sturges_edges(-1.3, 7.77, 7, false)), [3, 1, 2, 1]);
    }

    #[test]
    fn zero_fill_follows_the_smallest_proportion() {
        assert_eq!(fill_zeros(&[0.5, 0.5, 0.0]), [0.5, 0.5, 1e-4]);
        assert_eq!(fill_zeros(&[1e-4, 0.9999, 0.0])[2], 1e-4 / 1e6);
    }

    #[test]
    fn default_choices() {
        use ColumnKind::{Categorical, Numeric};
        assert_eq!(default_test(Numeric, 1000, 6), EvidentlyTest::Ks);
        assert_eq!(default_test(Numeric, 1000, 5), EvidentlyTest::ChiSquare);
        assert_eq!(default_test(Numeric, 1000, 2), EvidentlyTest::Z);
        assert_eq!(default_test(Numeric, 1001, 5), EvidentlyTest::JensenShannon);
        assert_eq!(default_test(Numeric, 1001, 6), EvidentlyTest::Wasserstein);
        assert_eq!(default_test(Categorical, 1000, 3), EvidentlyTest::ChiSquare);
        assert_eq!(default_test(Categorical, 1001, 2), EvidentlyTest::JensenShannon);
    }

    #[test]
    fn missing_values_do_not_count_as_rows() {
        // 1200 values of which 300 are NaN: 900 non-missing rows -> small-sample KS.
        let mut values: Vec<f64> = (0..1200).map(|i| f64::from(i) * 0.37).collect();
        values.iter_mut().step_by(4).for_each(|v| *v = f64::NAN);
        let reference = numeric(&values);
        let drift = column_drift(&reference, &reference, None).unwrap();
        assert_eq!(drift.test, EvidentlyTest::Ks);
        assert_eq!(drift.score, 1.0);
        assert!(!drift.drifted);
    }

    #[test]
    fn verdict_comparisons() {
        assert!(EvidentlyTest::Ks.drifted(0.05, 0.05));
        assert!(!EvidentlyTest::ChiSquare.drifted(0.05, 0.05));
        assert!(!EvidentlyTest::Z.drifted(0.05, 0.05));
        assert!(EvidentlyTest::Psi.drifted(0.1, 0.1));
        assert!(!EvidentlyTest::Hellinger.drifted(f64::NAN, 0.1));
    }

    #[test]
    fn binary_integer_hellinger_is_blind() {
        // Keys {0, 1} as int64: Sturges width 0.5 is clamped to 1 -> one bin.
        let reference = ColumnSample::numeric([0.0, 0.0, 0.0, 1.0], true);
        let current = ColumnSample::numeric([0.0, 1.0, 1.0, 1.0], true);
        let drift = column_drift(&reference, &current, Some(EvidentlyTest::Hellinger)).unwrap();
        assert_eq!(drift.score, 0.0);
        let as_float = column_drift(
            &numeric(&[0.0, 0.0, 0.0, 1.0]),
            &numeric(&[0.0, 1.0, 1.0, 1.0]),
            Some(EvidentlyTest::Hellinger),
        )
        .unwrap();
        assert!(as_float.score > 0.3);
    }

    #[test]
    fn z_test_single_shared_value_and_unseen_category() {
        let only_x = strings(&["x", "x"]);
        let drift = column_drift(&only_x, &strings(&["x"]), None).unwrap();
        assert_eq!((drift.test, drift.score), (EvidentlyTest::Z, 1.0));
        // A current-only category makes the chi-square GOF infinite: p = 0.
        let drift =
            column_drift(&strings(&["a", "b", "a"]), &strings(&["a", "b", "c"]), None).unwrap();
        assert_eq!((drift.test, drift.score, drift.drifted), (EvidentlyTest::ChiSquare, 0.0, true));
    }

    #[test]
    fn integer_codes_sort_as_numbers_for_the_z_test() {
        // Codes {2, 3, 10}: numpy sorts 2 first, text order would put "10" first.
        let codes = |counts: [(i64, usize); 3]| {
            ColumnSample::integer_codes(
                counts.iter().flat_map(|&(code, n)| std::iter::repeat_n(Some(code), n)),
            )
        };
        let reference = codes([(2, 40), (3, 30), (10, 30)]);
        let current = codes([(2, 20), (3, 30), (10, 50)]);
        let samples = Samples::new(&reference, &current).unwrap();
        // p1 = 0.6, p2 = 0.8 (share other than 2); numpy/scipy:
        // z = -3.086066999241839, 2 (1 - norm.cdf(|z|)) = 0.0020282311484520754
        let z = samples.z_test();
        assert!((z.statistic - -3.086066999241839).abs() < 1e-12, "{z:?}");
        assert!((z.p_value - 0.0020282311484520754).abs() < 1e-12, "{z:?}");
        // The same codes as text sort "10" first: the share other than "10".
        let text = |s: &ColumnSample| match s {
            ColumnSample::Categorical { values, .. } => {
                ColumnSample::categorical(values.iter().map(Some))
            }
            ColumnSample::Numeric { .. } => unreachable!(),
        };
        let z_text = Samples::new(&text(&reference), &text(&current)).unwrap().z_test();
        assert!((z_text.statistic - 2.886751345948128).abs() < 1e-12, "{z_text:?}");
    }

    #[test]
    fn errors() {
        let empty = ColumnSample::numeric([f64::NAN, f64::INFINITY], false);
        let some = numeric(&[1.0, 2.0]);
        assert!(matches!(column_drift(&empty, &some, None), Err(Error::NotApplicable { .. })));
        assert!(matches!(column_drift(&some, &empty, None), Err(Error::NotApplicable { .. })));
        assert!(matches!(
            column_drift(&some, &strings(&["a"]), None),
            Err(Error::KindMismatch { .. })
        ));
        assert!(matches!(
            column_drift(&strings(&["a"]), &strings(&["b"]), Some(EvidentlyTest::Ks)),
            Err(Error::NotApplicable { .. })
        ));
        assert!(matches!(
            column_drift_with_threshold(&some, &some, None, Some(f64::NAN)),
            Err(Error::InvalidConfig { .. })
        ));
    }

    #[test]
    fn dataset_share_is_inclusive() {
        let column =
            |drifted| ColumnDrift { test: EvidentlyTest::Psi, score: 0.0, threshold: 0.1, drifted };
        let columns = [column(true), column(false), column(true), column(false)];
        assert!(dataset_drift(&columns, 0.5).drifted);
        assert!(!dataset_drift(&columns, 0.6).drifted);
    }
}
