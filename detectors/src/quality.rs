//! Model quality over Arrow arrays: binary classification and regression
//! metrics, with scikit-learn 1.x's definitions.
//!
//! Both accumulators follow the crate's `update` / `merge` / `finish` shape,
//! and a report never depends on how the rows were split into batches or in
//! which order partial accumulators were merged: the proptests at the bottom
//! of this file check that split-then-merge equals one pass to the last bit.
//!
//! * **Confusion counts** are `u64`s; precision, recall and the rates are one
//!   division each, computed in [`BinaryClassificationAccumulator::finish`].
//! * **Scores** (for ROC AUC and log loss) are kept exactly as a table of
//!   `(score, positives, negatives)` per distinct score, sorted by score:
//!   24 bytes per distinct score, plus a buffer of at most
//!   `max(65 536, distinct scores)` not-yet-folded rows at 8 bytes each.
//!   Scores rounded to a few digits therefore cost almost nothing; raw model
//!   scores cost up to 24 bytes per row.
//! * **Regression** keeps every `(y_true, y_pred)` pair (16 bytes per row),
//!   because a float sum depends on the order of its terms. `finish` sorts a
//!   copy and sums in that canonical order with compensated summation.
//!
//! # Conventions (scikit-learn 1.9)
//!
//! | metric | definition | undefined case |
//! |---|---|---|
//! | accuracy | `(tp + tn) / rows` | NaN when no row was usable |
//! | precision | `tp / (tp + fp)` | 0.0 when `tp + fp = 0` (`zero_division=0`, the value sklearn's default `"warn"` returns) |
//! | recall | `tp / (tp + fn)` | 0.0 when `tp + fn = 0` |
//! | F1 | `2 tp / (2 tp + fp + fn)` | 0.0 when `tp + fp + fn = 0` |
//! | ROC AUC | Mann-Whitney `U / (P N)` with tied scores counting one half, which equals sklearn's trapezoid over the ROC curve | `None` with a single class (sklearn warns and returns NaN) or without scores |
//! | log loss | mean of `-ln(clip(p))` for positives and `-ln(clip(1 - p))` for negatives, `clip` to `[ε, 1 - ε]` with `ε = f64::EPSILON` (sklearn ≥ 1.5 uses the dtype's epsilon) | `None` without scores; defined with a single class, as sklearn's `log_loss(..., labels=[0, 1])` |
//! | MAE, RMSE | `mean(abs(y - ŷ))`, `sqrt(mean((y - ŷ)²))` | NaN when no row |
//! | MAPE | `mean(abs(y - ŷ) / max(abs(y), f64::EPSILON))`, a fraction, not a percentage | NaN when no row |
//! | R² | `1 - Σ(y - ŷ)² / Σ(y - ȳ)²` | NaN below two rows; constant `y`: 1.0 if every prediction is exact, else 0.0 (sklearn's `force_finite=True`) |
//!
//! Float32 scores are widened to `f64` and clipped with the `f64` epsilon;
//! sklearn would compute a float32 input in float32.

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sample::CompensatedSum;

/// The label value that counts as the positive class.
///
/// It is compared with each column in that column's own terms, so one setting
/// serves columns of any supported type:
///
/// | column type | `Int(i)` | `Bool(b)` | `Str(s)` |
/// |---|---|---|---|
/// | Boolean | `i = 1` means `true`, `i = 0` means `false` | `b` | `"true"`/`"1"` or `"false"`/`"0"` (ASCII case ignored) |
/// | integers | `i` | `1` or `0` | `s` parsed as an integer |
/// | strings | `i` in decimal | `"true"` or `"false"` | `s` |
///
/// The default is `1`, which therefore also matches `true` and `"1"`. Every
/// other value, including a third class, counts as negative (one-vs-rest). A
/// setting that cannot be compared with a column (`Str("yes")` against an
/// integer column) is an [`Error::InvalidConfig`].
///
/// In JSON or TOML, write the value itself: `1`, `true` or `"yes"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PositiveLabel {
    /// A Boolean positive label.
    Bool(bool),
    /// An integer positive label.
    Int(i64),
    /// A string positive label.
    Str(String),
}

impl Default for PositiveLabel {
    fn default() -> Self {
        Self::Int(1)
    }
}

impl PositiveLabel {
    fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            Self::Int(1) => Some(true),
            Self::Int(0) => Some(false),
            Self::Int(_) => None,
            Self::Str(s) if s == "1" || s.eq_ignore_ascii_case("true") => Some(true),
            Self::Str(s) if s == "0" || s.eq_ignore_ascii_case("false") => Some(false),
            Self::Str(_) => None,
        }
    }

    fn as_int(&self) -> Option<i128> {
        match self {
            Self::Bool(b) => Some(i128::from(*b)),
            Self::Int(i) => Some(i128::from(*i)),
            Self::Str(s) => s.parse().ok(),
        }
    }

    fn as_str(&self) -> Cow<'_, str> {
        match self {
            Self::Bool(b) => Cow::Owned(b.to_string()),
            Self::Int(i) => Cow::Owned(i.to_string()),
            Self::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// Default decision threshold on scores.
pub const fn default_threshold() -> f64 {
    0.5
}

/// Settings of a [`BinaryClassificationAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryClassificationConfig {
    /// Label value of the positive class. Default `1`; examples `true`, `"fraud"`.
    #[serde(default)]
    pub positive_label: PositiveLabel,
    /// When predictions are scores (Float32 or Float64 in `[0, 1]`), a row is
    /// predicted positive when `score >= threshold`. Default `0.5`; must lie in
    /// `[0, 1]`.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

impl Default for BinaryClassificationConfig {
    fn default() -> Self {
        Self { positive_label: PositiveLabel::default(), threshold: default_threshold() }
    }
}

pub(crate) fn validate_threshold(threshold: f64) -> Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            setting: "threshold",
            reason: format!("{threshold} is not in [0, 1]"),
        })
    }
}

/// Binary classification metrics of one window, as scikit-learn computes them
/// (see the [module docs](self) for each definition and its undefined case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryClassificationReport {
    /// Rows used: label and prediction present (and the score valid).
    pub rows: u64,
    /// Rows not used: a null label or prediction, or an invalid score.
    pub skipped: u64,
    /// Of `skipped`, rows whose score was NaN or outside `[0, 1]`.
    pub invalid_scores: u64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// False negatives.
    pub fn_: u64,
    /// `(tp + tn) / rows`.
    pub accuracy: f64,
    /// `tp / (tp + fp)`, 0.0 when nothing was predicted positive.
    pub precision: f64,
    /// `tp / (tp + fn)`, 0.0 when no label was positive.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0.0 when `tp + fp + fn = 0`.
    pub f1: f64,
    /// Share of rows predicted positive.
    pub positive_rate: f64,
    /// Share of rows whose label is positive.
    pub label_positive_rate: f64,
    /// Area under the ROC curve; only when every row came with a score and
    /// both classes are present.
    pub roc_auc: Option<f64>,
    /// Mean log loss in nats; only when every row came with a score.
    pub log_loss: Option<f64>,
}

/// Window state for binary classification metrics. It serialises with serde
/// (settings included) for checkpoints; deserialising does not re-check the
/// threshold, so restore only what an accumulator serialised.
///
/// Labels may be Boolean, any integer type, Utf8, LargeUtf8, Utf8View or a
/// dictionary of those. Predictions may be labels of the same types, or
/// scores (Float32 / Float64 in `[0, 1]`), which also give ROC AUC and log
/// loss. A row is skipped when its label or prediction is null, or when its
/// score is NaN or outside `[0, 1]`.
///
/// # Example
/// ```
/// use arrow_array::{BooleanArray, Float64Array};
/// use driftgauge_detectors::quality::{BinaryClassificationAccumulator, BinaryClassificationConfig};
///
/// let mut acc = BinaryClassificationAccumulator::new(BinaryClassificationConfig::default())?;
/// let labels = BooleanArray::from(vec![Some(true), Some(false), Some(true), None]);
/// let scores = Float64Array::from(vec![0.9, 0.3, 0.4, 0.8]);
/// acc.update(&labels, &scores)?;
/// let report = acc.finish();
/// assert_eq!((report.rows, report.skipped, report.tp, report.fn_), (3, 1, 1, 1));
/// assert_eq!(report.roc_auc, Some(1.0));
/// # Ok::<(), driftgauge_detectors::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryClassificationAccumulator {
    config: BinaryClassificationConfig,
    counts: Confusion,
    skipped: u64,
    invalid_scores: u64,
    /// Rows counted that came with a score.
    scored: u64,
    scores: ScoreTable,
}

impl BinaryClassificationAccumulator {
    /// An empty accumulator.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the threshold is not in `[0, 1]` (or NaN).
    pub fn new(config: BinaryClassificationConfig) -> Result<Self> {
        validate_threshold(config.threshold)?;
        Ok(Self {
            config,
            counts: Confusion::default(),
            skipped: 0,
            invalid_scores: 0,
            scored: 0,
            scores: ScoreTable::default(),
        })
    }

    /// The settings this accumulator was built with.
    pub fn config(&self) -> &BinaryClassificationConfig {
        &self.config
    }

    /// Adds a batch of aligned labels and predictions.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the arrays differ in length,
    /// [`Error::UnsupportedType`] for a type listed nowhere above, and
    /// [`Error::InvalidConfig`] if the positive label cannot be compared with
    /// a column. The accumulator is unchanged on error.
    pub fn update(&mut self, labels: &dyn Array, predictions: &dyn Array) -> Result<()> {
        let outcomes = Outcomes::decode(
            labels,
            predictions,
            None,
            &self.config.positive_label,
            self.config.threshold,
        )?;
        self.counts.add(&outcomes.confusion());
        let used = outcomes.used();
        self.skipped += labels.len() as u64 - used;
        self.invalid_scores += outcomes.invalid_scores;
        if let Some(scores) = &outcomes.scores {
            self.scored += used;
            for i in outcomes.valid.set_indices() {
                self.scores.push(scores.get(i), outcomes.label.value(i));
            }
        }
        Ok(())
    }

    /// Adds another accumulator's rows. Accumulators should share one
    /// configuration; the result keeps this one's.
    pub fn merge(&mut self, other: &Self) {
        debug_assert_eq!(self.config, other.config, "merging accumulators of different settings");
        self.counts.add(&other.counts);
        self.skipped += other.skipped;
        self.invalid_scores += other.invalid_scores;
        self.scored += other.scored;
        self.scores.merge(&other.scores);
    }

    /// Clears the state for the next window, keeping allocations.
    pub fn clear(&mut self) {
        self.counts = Confusion::default();
        self.skipped = 0;
        self.invalid_scores = 0;
        self.scored = 0;
        self.scores.clear();
    }

    /// The metrics of the rows added so far.
    pub fn finish(&self) -> BinaryClassificationReport {
        let c = &self.counts;
        let rows = c.total();
        let scored = rows > 0 && self.scored == rows;
        let runs = if scored { self.scores.runs() } else { Cow::Borrowed(&[][..]) };
        BinaryClassificationReport {
            rows,
            skipped: self.skipped,
            invalid_scores: self.invalid_scores,
            tp: c.tp,
            fp: c.fp,
            tn: c.tn,
            fn_: c.fn_,
            accuracy: ratio_or_nan(c.tp + c.tn, rows),
            precision: ratio_or_zero(c.tp, c.tp + c.fp),
            recall: ratio_or_zero(c.tp, c.tp + c.fn_),
            f1: ratio_or_zero(2 * c.tp, 2 * c.tp + c.fp + c.fn_),
            positive_rate: ratio_or_nan(c.tp + c.fp, rows),
            label_positive_rate: ratio_or_nan(c.tp + c.fn_, rows),
            roc_auc: if scored { roc_auc(&runs) } else { None },
            log_loss: if scored { Some(log_loss(&runs, rows)) } else { None },
        }
    }
}

/// `num / den`, NaN when `den` is 0.
fn ratio_or_nan(num: u64, den: u64) -> f64 {
    if den == 0 { f64::NAN } else { num as f64 / den as f64 }
}

/// `num / den`, 0.0 when `den` is 0 (sklearn's `zero_division=0`).
pub(crate) fn ratio_or_zero(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Integer confusion counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Confusion {
    pub(crate) tp: u64,
    pub(crate) fp: u64,
    pub(crate) tn: u64,
    pub(crate) fn_: u64,
}

impl Confusion {
    pub(crate) fn add(&mut self, other: &Self) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.tn += other.tn;
        self.fn_ += other.fn_;
    }

    /// Adds one row, `class` as returned by [`Outcomes::class`].
    pub(crate) fn add_class(&mut self, class: usize, n: u64) {
        match class {
            0b11 => self.tp += n,
            0b01 => self.fp += n,
            0b10 => self.fn_ += n,
            _ => self.tn += n,
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }
}

/// ROC AUC from score runs sorted by score: the Mann-Whitney statistic with
/// ties counted one half, `U / (P N)`. Computed as the integer `2 U` so that
/// only the final division rounds.
fn roc_auc(runs: &[ScoreRun]) -> Option<f64> {
    let (mut twice_u, mut negatives_below) = (0u128, 0u128);
    let (mut positives, mut negatives) = (0u128, 0u128);
    for run in runs {
        let (pos, neg) = (u128::from(run.positives), u128::from(run.negatives));
        twice_u += pos * (2 * negatives_below + neg);
        negatives_below += neg;
        positives += pos;
        negatives += neg;
    }
    if positives == 0 || negatives == 0 {
        return None;
    }
    Some(twice_u as f64 / (2 * positives * negatives) as f64)
}

/// Mean log loss over score runs, `rows` rows in all.
fn log_loss(runs: &[ScoreRun], rows: u64) -> f64 {
    let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
    let mut sum = CompensatedSum::default();
    for run in runs {
        let p = f64::from_bits(run.bits);
        if run.positives > 0 {
            sum.add(run.positives as f64 * -clip(p).ln());
        }
        if run.negatives > 0 {
            // As sklearn: the negative column is `1 - p`, clipped after the subtraction.
            sum.add(run.negatives as f64 * -clip(1.0 - p).ln());
        }
    }
    sum.total() / rows as f64
}

/// The rows of one run of equal scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ScoreRun {
    /// Bit pattern of the score, a non-negative `f64` (`-0.0` is stored as
    /// `0.0`), so integer order is numeric order.
    bits: u64,
    positives: u64,
    negatives: u64,
}

/// The exact multiset of `(score, label)` pairs, as runs sorted by score.
///
/// New rows go to `pending` as `bits << 1 | label` (the sign bit of a
/// non-negative score is free) and are sorted and folded into `runs` when the
/// buffer outgrows `max(COMPACT_AT, runs.len())`, so the amortised cost is
/// `O(log n)` per row and the buffer never dominates memory. Whatever the
/// order of pushes and merges, the folded runs are the same, so reports are too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ScoreTable {
    runs: Vec<ScoreRun>,
    pending: Vec<u64>,
}

/// Rows buffered before the first fold.
/// (Small in tests, so that the proptests fold often.)
const COMPACT_AT: usize = if cfg!(test) { 8 } else { 1 << 16 };

impl ScoreTable {
    fn push(&mut self, score: f64, positive: bool) {
        // `+ 0.0` turns `-0.0` into `0.0`, so that the two tie.
        let bits = (score + 0.0).to_bits();
        self.pending.push(bits << 1 | u64::from(positive));
        if self.pending.len() >= COMPACT_AT.max(self.runs.len()) {
            self.compact();
        }
    }

    fn merge(&mut self, other: &Self) {
        if !other.runs.is_empty() {
            self.runs = merge_runs(&self.runs, &other.runs);
        }
        self.pending.extend_from_slice(&other.pending);
        if self.pending.len() >= COMPACT_AT.max(self.runs.len()) {
            self.compact();
        }
    }

    fn clear(&mut self) {
        self.runs.clear();
        self.pending.clear();
    }

    fn compact(&mut self) {
        self.pending.sort_unstable();
        let folded = runs_of_sorted(&self.pending);
        self.runs = merge_runs(&self.runs, &folded);
        self.pending.clear();
    }

    /// All rows as runs sorted by score.
    fn runs(&self) -> Cow<'_, [ScoreRun]> {
        if self.pending.is_empty() {
            return Cow::Borrowed(&self.runs);
        }
        let mut pending = self.pending.clone();
        pending.sort_unstable();
        Cow::Owned(merge_runs(&self.runs, &runs_of_sorted(&pending)))
    }
}

/// Runs of sorted `bits << 1 | label` keys.
fn runs_of_sorted(keys: &[u64]) -> Vec<ScoreRun> {
    let mut runs: Vec<ScoreRun> = Vec::new();
    for &key in keys {
        let (bits, positive) = (key >> 1, key & 1 == 1);
        match runs.last_mut() {
            Some(run) if run.bits == bits => {}
            _ => runs.push(ScoreRun { bits, positives: 0, negatives: 0 }),
        }
        if let Some(run) = runs.last_mut() {
            if positive {
                run.positives += 1;
            } else {
                run.negatives += 1;
            }
        }
    }
    runs
}

/// The union of two sorted run lists, adding the counts of equal scores.
fn merge_runs(a: &[ScoreRun], b: &[ScoreRun]) -> Vec<ScoreRun> {
    if b.is_empty() {
        return a.to_vec();
    }
    if a.is_empty() {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.bits < y.bits {
            out.push(x);
            i += 1;
        } else if y.bits < x.bits {
            out.push(y);
            j += 1;
        } else {
            out.push(ScoreRun {
                bits: x.bits,
                positives: x.positives + y.positives,
                negatives: x.negatives + y.negatives,
            });
            i += 1;
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// A score column.
pub(crate) enum Scores<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Scores<'_> {
    fn get(&self, i: usize) -> f64 {
        match self {
            Self::F32(v) => f64::from(v[i]),
            Self::F64(v) => v[i],
        }
    }
}

/// One batch of labels and predictions reduced to bitmaps.
pub(crate) struct Outcomes<'a> {
    /// Rows to use: label, prediction (and attribute, when given) present,
    /// and the score valid.
    pub(crate) valid: BooleanBuffer,
    /// Label is the positive class (any value under invalid rows).
    pub(crate) label: BooleanBuffer,
    /// Predicted positive (any value under invalid rows).
    pub(crate) predicted: BooleanBuffer,
    /// The score column, when predictions are scores.
    pub(crate) scores: Option<Scores<'a>>,
    /// Rows with label, prediction (and attribute) present but an invalid score.
    pub(crate) invalid_scores: u64,
}

impl<'a> Outcomes<'a> {
    /// Decodes `labels` and `predictions` (and requires `attribute`, if given,
    /// to be non-null for a row to count).
    pub(crate) fn decode(
        labels: &dyn Array,
        predictions: &'a dyn Array,
        attribute: Option<&dyn Array>,
        positive: &PositiveLabel,
        threshold: f64,
    ) -> Result<Self> {
        check_lengths("label", labels, "prediction", predictions)?;
        if let Some(attribute) = attribute {
            check_lengths("label", labels, "sensitive attribute", attribute)?;
        }
        let len = labels.len();
        let label = positive_mask(labels, positive, "label")?;
        let (predicted, scores, score_ok) = match predictions.data_type() {
            DataType::Float64 => {
                let v = predictions.as_primitive::<Float64Type>().values();
                let (predicted, ok) = score_masks(v, threshold);
                (predicted, Some(Scores::F64(v)), Some(ok))
            }
            DataType::Float32 => {
                let v = predictions.as_primitive::<Float32Type>().values();
                let (predicted, ok) = score_masks(v, threshold);
                (predicted, Some(Scores::F32(v)), Some(ok))
            }
            _ => (positive_mask(predictions, positive, "prediction")?, None, None),
        };
        let nulls = NullBuffer::union(
            labels.logical_nulls().as_ref(),
            predictions.logical_nulls().as_ref(),
        );
        let nulls =
            NullBuffer::union(nulls.as_ref(), attribute.and_then(|a| a.logical_nulls()).as_ref());
        let present = match nulls {
            Some(nulls) => nulls.into_inner(),
            None => BooleanBuffer::new_set(len),
        };
        let (valid, invalid_scores) = match score_ok {
            Some(ok) => {
                let valid = &present & &ok;
                let invalid = present.count_set_bits() - valid.count_set_bits();
                (valid, invalid as u64)
            }
            None => (present, 0),
        };
        Ok(Self { valid, label, predicted, scores, invalid_scores })
    }

    /// Number of rows to use.
    pub(crate) fn used(&self) -> u64 {
        self.valid.count_set_bits() as u64
    }

    /// The confusion counts of the valid rows.
    pub(crate) fn confusion(&self) -> Confusion {
        let positives = &self.valid & &self.label;
        let negatives = &self.valid & &!&self.label;
        let tp = (&positives & &self.predicted).count_set_bits() as u64;
        let fp = (&negatives & &self.predicted).count_set_bits() as u64;
        let pos = positives.count_set_bits() as u64;
        let neg = negatives.count_set_bits() as u64;
        Confusion { tp, fp, tn: neg - fp, fn_: pos - tp }
    }

    /// Row `i`'s cell of the confusion matrix: `label << 1 | predicted`.
    pub(crate) fn class(&self, i: usize) -> usize {
        usize::from(self.label.value(i)) << 1 | usize::from(self.predicted.value(i))
    }
}

/// `(score >= threshold, 0 <= score <= 1)` for every slot.
fn score_masks<T: Copy + Into<f64>>(
    values: &[T],
    threshold: f64,
) -> (BooleanBuffer, BooleanBuffer) {
    let predicted = BooleanBuffer::collect_bool(values.len(), |i| values[i].into() >= threshold);
    let ok = BooleanBuffer::collect_bool(values.len(), |i| (0.0..=1.0).contains(&values[i].into()));
    (predicted, ok)
}

pub(crate) fn check_lengths(
    left: &'static str,
    a: &dyn Array,
    right: &'static str,
    b: &dyn Array,
) -> Result<()> {
    if a.len() == b.len() {
        Ok(())
    } else {
        Err(Error::LengthMismatch { left, left_len: a.len(), right, right_len: b.len() })
    }
}

const LABEL_TYPES: &str =
    "expected Boolean, an integer, Utf8, LargeUtf8, Utf8View or a dictionary of those";

/// Whether each slot of `array` holds the positive label (any value under nulls).
fn positive_mask(
    array: &dyn Array,
    positive: &PositiveLabel,
    column: &str,
) -> Result<BooleanBuffer> {
    let len = array.len();
    let not_comparable = || Error::InvalidConfig {
        setting: "positive_label",
        reason: format!(
            "{positive:?} cannot be compared with the {} column `{column}`",
            array.data_type()
        ),
    };
    macro_rules! int_mask {
        ($t:ty) => {{
            let target = positive.as_int().ok_or_else(not_comparable)?;
            Ok(int_mask::<$t>(array.as_primitive::<$t>(), target))
        }};
    }
    match array.data_type() {
        DataType::Boolean => {
            let target = positive.as_bool().ok_or_else(not_comparable)?;
            let values = array.as_boolean().values();
            Ok(if target { values.clone() } else { !values })
        }
        DataType::Int8 => int_mask!(Int8Type),
        DataType::Int16 => int_mask!(Int16Type),
        DataType::Int32 => int_mask!(Int32Type),
        DataType::Int64 => int_mask!(Int64Type),
        DataType::UInt8 => int_mask!(UInt8Type),
        DataType::UInt16 => int_mask!(UInt16Type),
        DataType::UInt32 => int_mask!(UInt32Type),
        DataType::UInt64 => int_mask!(UInt64Type),
        DataType::Utf8 => {
            let (a, target) = (array.as_string::<i32>(), positive.as_str());
            Ok(BooleanBuffer::collect_bool(len, |i| a.value(i) == target))
        }
        DataType::LargeUtf8 => {
            let (a, target) = (array.as_string::<i64>(), positive.as_str());
            Ok(BooleanBuffer::collect_bool(len, |i| a.value(i) == target))
        }
        DataType::Utf8View => {
            let (a, target) = (array.as_string_view(), positive.as_str());
            Ok(BooleanBuffer::collect_bool(len, |i| a.value(i) == target))
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            if dict.values().is_empty() {
                // Every slot is null.
                return Ok(BooleanBuffer::new_unset(len));
            }
            let matches = positive_mask(dict.values().as_ref(), positive, column)?;
            let keys = dict.normalized_keys();
            Ok(BooleanBuffer::collect_bool(len, |i| matches.value(keys[i])))
        }
        other => Err(Error::UnsupportedType {
            column: column.to_owned(),
            data_type: other.clone(),
            reason: LABEL_TYPES,
        }),
    }
}

fn int_mask<T: ArrowPrimitiveType>(array: &PrimitiveArray<T>, target: i128) -> BooleanBuffer
where
    T::Native: TryFrom<i128> + PartialEq,
{
    match T::Native::try_from(target) {
        Ok(target) => {
            let values = array.values();
            BooleanBuffer::collect_bool(values.len(), |i| values[i] == target)
        }
        // The label does not fit the column's type, so no slot holds it.
        Err(_) => BooleanBuffer::new_unset(array.len()),
    }
}

/// Regression metrics of one window, as scikit-learn computes them (see the
/// [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Rows used: both values present and finite.
    pub rows: u64,
    /// Rows not used: a null, NaN or infinite value.
    pub skipped: u64,
    /// Of `skipped`, rows where a present value was NaN or infinite.
    pub non_finite: u64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error as a fraction, `|y|` floored at `f64::EPSILON`.
    pub mape: f64,
    /// Coefficient of determination.
    pub r2: f64,
}

const REGRESSION_TYPES: &str = "expected Float32, Float64 or an integer type";

/// Window state for regression metrics: every `(y_true, y_pred)` pair, 16
/// bytes per row (so, unlike the drift accumulators, it grows with the
/// window). It serialises with serde for checkpoints.
///
/// Inputs may be Float32, Float64 or any integer type (converted to `f64`).
/// A row is skipped when either value is null, NaN or infinite.
///
/// # Example
/// ```
/// use arrow_array::Float64Array;
/// use driftgauge_detectors::quality::RegressionAccumulator;
///
/// let mut acc = RegressionAccumulator::new();
/// acc.update(&Float64Array::from(vec![3.0, -0.5, 2.0, 7.0]), &Float64Array::from(vec![2.5, 0.0, 2.0, 8.0]))?;
/// let report = acc.finish();
/// assert_eq!(report.mae, 0.5); // sklearn.metrics.mean_absolute_error
/// assert!((report.r2 - 0.9486081370449679).abs() < 1e-15); // sklearn.metrics.r2_score
/// # Ok::<(), driftgauge_detectors::Error>(())
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegressionAccumulator {
    pairs: Vec<(f64, f64)>,
    skipped: u64,
    non_finite: u64,
}

impl RegressionAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch of aligned true and predicted values.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the arrays differ in length and
    /// [`Error::UnsupportedType`] for a non-numeric column. The accumulator
    /// is unchanged on error.
    pub fn update(&mut self, y_true: &dyn Array, y_pred: &dyn Array) -> Result<()> {
        check_lengths("y_true", y_true, "y_pred", y_pred)?;
        let truth = numeric_values(y_true, "y_true")?;
        let pred = numeric_values(y_pred, "y_pred")?;
        let nulls =
            NullBuffer::union(y_true.logical_nulls().as_ref(), y_pred.logical_nulls().as_ref());
        let present = nulls.as_ref().map_or(y_true.len(), |n| y_true.len() - n.null_count());
        let before = self.pairs.len();
        let mut push = |i: usize| {
            let (t, p) = (truth[i], pred[i]);
            if t.is_finite() && p.is_finite() {
                self.pairs.push((t, p));
            }
        };
        match &nulls {
            Some(nulls) => nulls.valid_indices().for_each(&mut push),
            None => (0..y_true.len()).for_each(&mut push),
        }
        let used = (self.pairs.len() - before) as u64;
        self.non_finite += present as u64 - used;
        self.skipped += y_true.len() as u64 - used;
        Ok(())
    }

    /// Adds another accumulator's rows.
    pub fn merge(&mut self, other: &Self) {
        self.pairs.extend_from_slice(&other.pairs);
        self.skipped += other.skipped;
        self.non_finite += other.non_finite;
    }

    /// Clears the state for the next window, keeping allocations.
    pub fn clear(&mut self) {
        self.pairs.clear();
        self.skipped = 0;
        self.non_finite = 0;
    }

    /// The metrics of the rows added so far. Sorts a copy of the pairs
    /// (`O(n log n)`, 16 bytes per row).
    pub fn finish(&self) -> RegressionReport {
        let mut pairs = self.pairs.clone();
        // A canonical order, whatever order the rows arrived in.
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let rows = pairs.len() as u64;
        let n = pairs.len() as f64;
        let [mut abs, mut sq, mut pct, mut truth] = [CompensatedSum::default(); 4];
        for &(t, p) in &pairs {
            let e = (p - t).abs();
            abs.add(e);
            sq.add(e * e);
            pct.add(e / t.abs().max(f64::EPSILON));
            truth.add(t);
        }
        let r2 = match (pairs.first(), pairs.last()) {
            _ if pairs.len() < 2 => f64::NAN,
            // Sorted by y_true, so it is constant iff both ends are equal.
            // Tested exactly: sklearn compares a floating-point mean instead,
            // which can leave a spurious non-zero denominator.
            (Some(first), Some(last)) if first.0 == last.0 => {
                if sq.total() == 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            _ => {
                let mean = truth.total() / n;
                let mut total = CompensatedSum::default();
                pairs.iter().for_each(|&(t, _)| total.add((t - mean) * (t - mean)));
                let residual = sq.total();
                if residual == 0.0 { 1.0 } else { 1.0 - residual / total.total() }
            }
        };
        let mean = |sum: CompensatedSum| if rows == 0 { f64::NAN } else { sum.total() / n };
        RegressionReport {
            rows,
            skipped: self.skipped,
            non_finite: self.non_finite,
            mae: mean(abs),
            rmse: mean(sq).sqrt(),
            mape: mean(pct),
            r2,
        }
    }
}

/// A numeric column as `f64` values (nulls included, with arbitrary values).
fn numeric_values<'a>(array: &'a dyn Array, column: &str) -> Result<Cow<'a, [f64]>> {
    macro_rules! widen {
        ($t:ty) => {
            Cow::Owned(array.as_primitive::<$t>().values().iter().map(|&v| v as f64).collect())
        };
    }
    Ok(match array.data_type() {
        DataType::Float64 => Cow::Borrowed(array.as_primitive::<Float64Type>().values()),
        DataType::Float32 => widen!(Float32Type),
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        other => {
            return Err(Error::UnsupportedType {
                column: column.to_owned(),
                data_type: other.clone(),
                reason: REGRESSION_TYPES,
            });
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int8Array, Int64Array,
        LargeStringArray, StringArray, StringViewArray, UInt64Array,
    };
    use proptest::prelude::*;

    use super::*;

    fn binary(labels: &dyn Array, predictions: &dyn Array) -> BinaryClassificationReport {
        let mut acc = BinaryClassificationAccumulator::new(BinaryClassificationConfig::default())
            .expect("default config is valid");
        acc.update(labels, predictions).expect("supported types");
        acc.finish()
    }

    #[test]
    fn binary_matches_sklearn_on_a_small_case() {
        // y = [1,0,1,1,0,0,1,0], s = [.9,.1,.4,.4,.4,.8,.6,0]; sklearn 1.9:
        // roc_auc_score 0.75, log_loss 0.5842989568787555, precision 2/3,
        // recall 0.5, f1 0.5714285714285714, accuracy 0.625.
        let labels = Int64Array::from(vec![1, 0, 1, 1, 0, 0, 1, 0]);
        let scores = Float64Array::from(vec![0.9, 0.1, 0.4, 0.4, 0.4, 0.8, 0.6, 0.0]);
        let r = binary(&labels, &scores);
        assert_eq!((r.tp, r.fp, r.tn, r.fn_), (2, 1, 3, 2));
        assert_eq!(r.roc_auc, Some(0.75));
        let log_loss = r.log_loss.expect("scores given");
        assert!((log_loss - 0.5842989568787555).abs() < 1e-15, "{log_loss}");
        assert_eq!(r.precision, 2.0 / 3.0);
        assert_eq!(r.recall, 0.5);
        assert_eq!(r.f1, 0.5714285714285714);
        assert_eq!(r.accuracy, 0.625);
        assert_eq!(r.positive_rate, 3.0 / 8.0);
        assert_eq!(r.label_positive_rate, 0.5);
    }

    #[test]
    fn zero_division_gives_zero_and_one_class_has_no_auc() {
        let labels = BooleanArray::from(vec![false, false, false]);
        let r = binary(&labels, &Float32Array::from(vec![0.1, 0.2, 0.3]));
        assert_eq!((r.precision, r.recall, r.f1), (0.0, 0.0, 0.0));
        assert_eq!(r.accuracy, 1.0);
        assert_eq!(r.roc_auc, None);
        // log_loss(y, s, labels=[0, 1])
        let expected =
            [0.1f32, 0.2, 0.3].iter().map(|&p| -(1.0 - f64::from(p)).ln()).sum::<f64>() / 3.0;
        assert!((r.log_loss.expect("scores") - expected).abs() < 1e-15);
    }

    #[test]
    fn empty_window_is_nan_not_a_panic() {
        let r = binary(&Int8Array::from(Vec::<i8>::new()), &Int8Array::from(Vec::<i8>::new()));
        assert_eq!(r.rows, 0);
        assert!(r.accuracy.is_nan() && r.positive_rate.is_nan());
        assert_eq!((r.precision, r.roc_auc, r.log_loss), (0.0, None, None));
    }

    #[test]
    fn log_loss_clips_certain_mistakes() {
        let r = binary(&Int8Array::from(vec![1, 0]), &Float64Array::from(vec![0.0, 1.0]));
        assert_eq!(r.log_loss, Some(-f64::EPSILON.ln()));
    }

    #[test]
    fn label_types_and_positive_labels() {
        let yes = || BinaryClassificationConfig {
            positive_label: PositiveLabel::Str("yes".into()),
            ..BinaryClassificationConfig::default()
        };
        let strings: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["yes", "no", "maybe", "yes"])),
            Arc::new(LargeStringArray::from(vec!["yes", "no", "maybe", "yes"])),
            Arc::new(StringViewArray::from(vec!["yes", "no", "maybe", "yes"])),
            Arc::new(
                vec!["yes", "no", "maybe", "yes"]
                    .into_iter()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ];
        let predicted = StringArray::from(vec!["yes", "yes", "no", "no"]);
        for labels in &strings {
            let mut acc = BinaryClassificationAccumulator::new(yes()).expect("valid");
            acc.update(labels.as_ref(), &predicted).expect("strings are supported");
            let r = acc.finish();
            assert_eq!((r.tp, r.fp, r.tn, r.fn_), (1, 1, 1, 1), "{}", labels.data_type());
        }
        // The default label 1 matches `true`, 1 and "1".
        let r = binary(&StringArray::from(vec!["1", "0"]), &BooleanArray::from(vec![true, true]));
        assert_eq!((r.tp, r.fp), (1, 1));
        let r = binary(&UInt64Array::from(vec![1, 2]), &Int8Array::from(vec![1, 1]));
        assert_eq!((r.tp, r.fp), (1, 1));
        // A label that does not fit the column's type matches nothing.
        let config = BinaryClassificationConfig {
            positive_label: PositiveLabel::Int(1000),
            ..BinaryClassificationConfig::default()
        };
        let mut acc = BinaryClassificationAccumulator::new(config).expect("valid");
        acc.update(&Int8Array::from(vec![1]), &Int8Array::from(vec![1])).expect("supported");
        assert_eq!(acc.finish().tn, 1);
        // "yes" cannot be compared with integers.
        let mut acc = BinaryClassificationAccumulator::new(yes()).expect("valid");
        let err = acc.update(&Int8Array::from(vec![1]), &Int8Array::from(vec![1]));
        assert!(matches!(err, Err(Error::InvalidConfig { setting: "positive_label", .. })));
    }

    #[test]
    fn nulls_and_invalid_scores_are_skipped() {
        let labels = Int64Array::from(vec![Some(1), None, Some(0), Some(1), Some(0)]);
        let scores =
            Float64Array::from(vec![Some(0.7), Some(0.2), None, Some(f64::NAN), Some(1.5)]);
        let r = binary(&labels, &scores);
        assert_eq!((r.rows, r.skipped, r.invalid_scores), (1, 4, 2));
        // A null dictionary value is a null label.
        let dict = DictionaryArray::<Int32Type>::try_new(
            vec![0, 1].into(),
            Arc::new(StringArray::from(vec![Some("1"), None])),
        )
        .expect("valid dictionary");
        let r = binary(&dict, &Int8Array::from(vec![1, 1]));
        assert_eq!((r.rows, r.skipped, r.tp), (1, 1, 1));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let config = BinaryClassificationConfig { threshold: f64::NAN, ..Default::default() };
        assert!(matches!(
            BinaryClassificationAccumulator::new(config),
            Err(Error::InvalidConfig { setting: "threshold", .. })
        ));
        let mut acc = BinaryClassificationAccumulator::new(BinaryClassificationConfig::default())
            .expect("valid");
        let err = acc.update(&Int8Array::from(vec![1, 0]), &Int8Array::from(vec![1]));
        assert!(matches!(err, Err(Error::LengthMismatch { left_len: 2, right_len: 1, .. })));
        let err = acc.update(&Float64Array::from(vec![1.0]), &Int8Array::from(vec![1]));
        assert!(matches!(err, Err(Error::UnsupportedType { .. })));
        assert_eq!(acc.finish().rows, 0);
        let mut acc = RegressionAccumulator::new();
        let err = acc.update(&StringArray::from(vec!["1"]), &Float64Array::from(vec![1.0]));
        assert!(matches!(err, Err(Error::UnsupportedType { .. })));
    }

    #[test]
    fn positive_label_deserialises_from_the_bare_value() {
        use serde::de::IntoDeserializer;
        use serde::de::value::Error as DeError;
        let int = PositiveLabel::deserialize(IntoDeserializer::<DeError>::into_deserializer(1i64));
        assert_eq!(int, Ok(PositiveLabel::Int(1)));
        let b = PositiveLabel::deserialize(IntoDeserializer::<DeError>::into_deserializer(true));
        assert_eq!(b, Ok(PositiveLabel::Bool(true)));
        let s = PositiveLabel::deserialize(IntoDeserializer::<DeError>::into_deserializer("yes"));
        assert_eq!(s, Ok(PositiveLabel::Str("yes".into())));
    }

    #[test]
    fn regression_matches_sklearn() {
        // sklearn 1.9 on t = [3, -0.5, 2, 7, 0], p = [2.5, 0, 2, 8, 0.1]
        let t = Float64Array::from(vec![3.0, -0.5, 2.0, 7.0, 0.0]);
        let p = Float64Array::from(vec![2.5, 0.0, 2.0, 8.0, 0.1]);
        let mut acc = RegressionAccumulator::new();
        acc.update(&t, &p).expect("floats");
        let r = acc.finish();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs().max(1.0);
        assert!(close(r.mae, 0.42000000000000004), "{}", r.mae);
        assert!(close(r.rmse, 0.5495452665613635), "{}", r.rmse);
        assert!(close(r.mape, 90071992547410.19), "{}", r.mape);
        assert!(close(r.r2, 0.9578212290502793), "{}", r.r2);
    }

    #[test]
    fn regression_edge_cases() {
        let run = |t: Vec<Option<f64>>, p: Vec<Option<f64>>| {
            let mut acc = RegressionAccumulator::new();
            acc.update(&Float64Array::from(t), &Float64Array::from(p)).expect("floats");
            acc.finish()
        };
        // Constant y_true: 1.0 when perfect, else 0.0 (sklearn's force_finite).
        assert_eq!(run(vec![Some(0.1); 3], vec![Some(0.1); 3]).r2, 1.0);
        assert_eq!(run(vec![Some(0.1); 3], vec![Some(0.1), Some(0.1), Some(0.2)]).r2, 0.0);
        // Fewer than two rows: R² is undefined.
        let r =
            run(vec![Some(1.0), None, Some(f64::INFINITY)], vec![Some(2.0), Some(1.0), Some(1.0)]);
        assert_eq!((r.rows, r.skipped, r.non_finite, r.mae), (1, 2, 1, 1.0));
        assert!(r.r2.is_nan());
        let r = run(vec![], vec![]);
        assert!(r.mae.is_nan() && r.rmse.is_nan() && r.mape.is_nan() && r.r2.is_nan());
        // Integers are widened.
        let mut acc = RegressionAccumulator::new();
        acc.update(&Int64Array::from(vec![1, 2, 3]), &Int8Array::from(vec![1, 2, 4]))
            .expect("ints");
        assert_eq!(acc.finish().mae, 1.0 / 3.0);
    }

    /// Splits `0..len` at sorted cut points into chunk ranges.
    pub(crate) fn chunks(len: usize, cuts: &[prop::sample::Index]) -> Vec<(usize, usize)> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(len + 1)).collect();
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.windows(2).map(|w| (w[0], w[1] - w[0])).collect()
    }

    /// A permutation of `0..n` from a seed (Fisher-Yates with a 64-bit LCG).
    pub(crate) fn shuffled(n: usize, mut seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        order
    }

    /// One accumulator per chunk, merged in `order`.
    pub(crate) fn merged<A: Clone>(
        parts: Vec<A>,
        order: &[usize],
        merge: impl Fn(&mut A, &A),
    ) -> Option<A> {
        let mut iter = order.iter().map(|&i| &parts[i]);
        let mut acc = iter.next()?.clone();
        iter.for_each(|part| merge(&mut acc, part));
        Some(acc)
    }

    /// Label: null, 0 or 1. Score: null, one of a few tied values, any value
    /// in [0, 1], or an invalid one.
    fn scored_rows() -> impl Strategy<Value = Vec<(Option<bool>, Option<f64>)>> {
        let score = prop_oneof![
            1 => Just(None),
            4 => (0u8..=10).prop_map(|k| Some(f64::from(k) / 10.0)),
            4 => (0.0f64..=1.0).prop_map(Some),
            1 => prop::sample::select(vec![f64::NAN, -0.0, 1.5, -0.25]).prop_map(Some),
        ];
        let label = prop_oneof![1 => Just(None), 9 => any::<bool>().prop_map(Some)];
        prop::collection::vec((label, score), 0..300)
    }

    proptest! {
        #[test]
        fn binary_split_and_merge_equals_one_pass(
            rows in scored_rows(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            seed in any::<u64>(),
            threshold in 0.0f64..=1.0,
        ) {
            let labels = BooleanArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let scores = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
            let config = BinaryClassificationConfig { threshold, ..Default::default() };
            let fresh = || BinaryClassificationAccumulator::new(config.clone()).expect("valid");
            let mut whole = fresh();
            whole.update(&labels, &scores).expect("supported");
            let ranges = chunks(rows.len(), &cuts);
            let parts: Vec<_> = ranges.iter().map(|&(start, len)| {
                let mut acc = fresh();
                acc.update(&labels.slice(start, len), &scores.slice(start, len)).expect("supported");
                acc
            }).collect();
            let mut sequential = fresh();
            for &(start, len) in &ranges {
                sequential.update(&labels.slice(start, len), &scores.slice(start, len)).expect("ok");
            }
            let order = shuffled(parts.len(), seed);
            let merged = merged(parts, &order, BinaryClassificationAccumulator::merge)
                .expect("at least one chunk");
            // Debug prints every f64 in its shortest round-trip form, so equal
            // strings mean bit-identical reports.
            let expected = format!("{:?}", whole.finish());
            prop_assert_eq!(format!("{:?}", merged.finish()), expected.clone());
            prop_assert_eq!(format!("{:?}", sequential.finish()), expected);
        }

        #[test]
        fn binary_matches_a_naive_reference(rows in scored_rows()) {
            let labels = BooleanArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let scores = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
            let r = binary(&labels, &scores);
            let used: Vec<(bool, f64)> = rows.iter().filter_map(|&(l, s)| match (l, s) {
                (Some(l), Some(s)) if (0.0..=1.0).contains(&s) => Some((l, s)),
                _ => None,
            }).collect();
            prop_assert_eq!(r.rows as usize, used.len());
            let tp = used.iter().filter(|&&(l, s)| l && s >= 0.5).count() as u64;
            let fp = used.iter().filter(|&&(l, s)| !l && s >= 0.5).count() as u64;
            prop_assert_eq!((r.tp, r.fp), (tp, fp));
            let pos: Vec<f64> = used.iter().filter(|u| u.0).map(|u| u.1).collect();
            let neg: Vec<f64> = used.iter().filter(|u| !u.0).map(|u| u.1).collect();
            if pos.is_empty() || neg.is_empty() {
                prop_assert_eq!(r.roc_auc, None);
            } else {
                let mut wins = 0.0;
                for &p in &pos {
                    for &n in &neg {
                        wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
                    }
                }
                let naive = wins / (pos.len() * neg.len()) as f64;
                let auc = r.roc_auc.expect("both classes");
                prop_assert!((auc - naive).abs() <= 1e-12, "{} vs {}", auc, naive);
            }
            if used.is_empty() {
                prop_assert_eq!(r.log_loss, None);
            } else {
                let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
                let naive = used.iter()
                    .map(|&(l, s)| if l { -clip(s).ln() } else { -clip(1.0 - s).ln() })
                    .sum::<f64>() / used.len() as f64;
                let loss = r.log_loss.expect("scores");
                prop_assert!((loss - naive).abs() <= 1e-12 * naive.max(1.0), "{} vs {}", loss, naive);
            }
        }

        #[test]
        fn regression_split_and_merge_equals_one_pass(
            rows in prop::collection::vec((
                prop_oneof![1 => Just(None), 1 => Just(Some(f64::NAN)), 18 => (-1e3f64..1e3).prop_map(Some)],
                prop_oneof![1 => Just(None), 19 => (-1e3f64..1e3).prop_map(Some)],
            ), 0..300),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            seed in any::<u64>(),
        ) {
            let t = Float64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let p = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
            let mut whole = RegressionAccumulator::new();
            whole.update(&t, &p).expect("floats");
            let parts: Vec<_> = chunks(rows.len(), &cuts).into_iter().map(|(start, len)| {
                let mut acc = RegressionAccumulator::new();
                acc.update(&t.slice(start, len), &p.slice(start, len)).expect("floats");
                acc
            }).collect();
            let order = shuffled(parts.len(), seed);
            let merged = merged(parts, &order, RegressionAccumulator::merge).expect("a chunk");
            let (a, b) = (whole.finish(), merged.finish());
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            // Against a naive two-pass computation.
            let used: Vec<(f64, f64)> = rows.iter().filter_map(|&(t, p)| match (t, p) {
                (Some(t), Some(p)) if t.is_finite() => Some((t, p)),
                _ => None,
            }).collect();
            if used.len() >= 2 {
                let n = used.len() as f64;
                let mae = used.iter().map(|(t, p)| (p - t).abs()).sum::<f64>() / n;
                prop_assert!((a.mae - mae).abs() <= 1e-9 * mae.max(1.0));
                let mean = used.iter().map(|u| u.0).sum::<f64>() / n;
                let ss_tot: f64 = used.iter().map(|u| (u.0 - mean).powi(2)).sum();
                let ss_res: f64 = used.iter().map(|u| (u.0 - u.1).powi(2)).sum();
                if ss_tot > 0.0 {
                    let r2 = 1.0 - ss_res / ss_tot;
                    prop_assert!((a.r2 - r2).abs() <= 1e-9 * r2.abs().max(1.0), "{} vs {}", a.r2, r2);
                }
            }
        }
    }

    #[test]
    fn accumulators_survive_a_serde_round_trip() {
        // More rows than COMPACT_AT, so the table holds both runs and pending rows.
        let labels: Int64Array = (0..21).map(|i| Some(i % 3 % 2)).collect();
        let scores: Float64Array = (0..21).map(|i| Some(f64::from(i % 7) / 7.0)).collect();
        let mut binary =
            BinaryClassificationAccumulator::new(BinaryClassificationConfig::default()).unwrap();
        binary.update(&labels, &scores).unwrap();
        binary
            .update(&Int64Array::from(vec![Some(1), None]), &Float64Array::from(vec![0.3, 0.2]))
            .unwrap();
        let json = serde_json::to_string(&binary).unwrap();
        let restored: BinaryClassificationAccumulator = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{:?}", restored.finish()), format!("{:?}", binary.finish()));

        let mut regression = RegressionAccumulator::new();
        let truth: Float64Array = (0..50).map(|i| Some(f64::from(i).sqrt())).collect();
        let pred: Float64Array = (0..50).map(|i| Some(f64::from(i) / 7.0)).collect();
        regression.update(&truth, &pred).unwrap();
        let json = serde_json::to_string(&regression).unwrap();
        let restored: RegressionAccumulator = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{:?}", restored.finish()), format!("{:?}", regression.finish()));
    }
}
