//! Group fairness of a binary classifier across the values of a sensitive
//! attribute, with Fairlearn 0.15's definitions.
//!
//! The state is one set of integer confusion counts per group, so merging is
//! exact and a report never depends on how rows were batched or merged. Its
//! size is 32 bytes plus the group's name per distinct attribute value: the
//! attribute must be of low cardinality (a handful of groups, not user ids).
//!
//! # Definitions
//!
//! Rows count when label, prediction and attribute are all present (and a
//! score is valid). Per group, with Fairlearn's base metrics:
//!
//! * selection rate `(tp + fp) / count`;
//! * TPR `tp / (tp + fn)` and FPR `fp / (fp + tn)`. As in Fairlearn, whose
//!   `true_positive_rate` normalises sklearn's confusion matrix and replaces
//!   the `0 / 0` by 0 (`nan_to_num`), a group **without positive labels has
//!   TPR 0.0** and a group without negative labels has FPR 0.0. Such a group
//!   therefore pulls the equal-opportunity difference up to the largest TPR:
//!   read it together with the group's counts.
//!
//! Across the *included* groups (`method='between_groups'`, `agg='worst_case'`):
//!
//! * a difference is `max - min` of the per-group values, a ratio `min / max`;
//!   a ratio is NaN when every group's value is 0 (`0 / 0`, as Fairlearn);
//! * demographic parity uses the selection rate, equal opportunity the TPR;
//! * the equalized-odds difference is the larger of the TPR and FPR
//!   differences, the equalized-odds ratio the smaller of the TPR and FPR
//!   ratios. Fairlearn takes these with Python's `max` / `min` over
//!   `[tpr, fpr]`, which keep the TPR value unless the FPR value compares
//!   strictly beyond it; so a NaN FPR ratio yields the TPR ratio, and a NaN
//!   TPR ratio yields NaN. This module does the same.
//!
//! # Small groups
//!
//! A group with fewer than [`FairnessConfig::min_group_size`] rows (default
//! 30, the usual rule of thumb below which a rate's sampling error, up to
//! ±0.18 at 95 % for 30 rows, swamps the gaps being measured) is reported
//! with `included: false` and left out of the differences and ratios. With
//! fewer than two included groups there is nothing to compare, and every
//! difference and ratio is `None` (Fairlearn would report 0 and 1 for a
//! single group).

use std::borrow::Cow;
use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::quality::{
    Confusion, Outcomes, PositiveLabel, default_threshold, ratio_or_zero, validate_threshold,
};

/// Default for [`FairnessConfig::min_group_size`].
pub const fn default_min_group_size() -> u64 {
    30
}

/// Settings of a [`FairnessAccumulator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessConfig {
    /// Label value of the positive (favourable) class. Default `1`; examples
    /// `true`, `"approved"`. See [`PositiveLabel`].
    #[serde(default)]
    pub positive_label: PositiveLabel,
    /// Decision threshold when predictions are scores: positive when
    /// `score >= threshold`. Default `0.5`; must lie in `[0, 1]`.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Groups with fewer rows are reported but left out of the differences
    /// and ratios. Default `30`; `0` includes every group.
    #[serde(default = "default_min_group_size")]
    pub min_group_size: u64,
}

impl Default for FairnessConfig {
    fn default() -> Self {
        Self {
            positive_label: PositiveLabel::default(),
            threshold: default_threshold(),
            min_group_size: default_min_group_size(),
        }
    }
}

/// The metrics of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// The attribute value: the string itself, an integer in decimal, or
    /// `"true"` / `"false"`.
    pub group: String,
    /// Rows of this group.
    pub count: u64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// False negatives.
    pub fn_: u64,
    /// Share predicted positive.
    pub selection_rate: f64,
    /// True positive rate; 0.0 without positive labels (as Fairlearn).
    pub tpr: f64,
    /// False positive rate; 0.0 without negative labels (as Fairlearn).
    pub fpr: f64,
    /// Share predicted correctly.
    pub accuracy: f64,
    /// Whether the group has at least `min_group_size` rows and takes part
    /// in the differences and ratios.
    pub included: bool,
}

/// Fairness of one window: per-group metrics and the disparities between the
/// included groups (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// Rows used.
    pub rows: u64,
    /// Rows not used: a null label, prediction or attribute, or an invalid score.
    pub skipped: u64,
    /// Rows whose attribute was null (all of them are in `skipped`).
    pub null_attribute: u64,
    /// Every group seen, sorted by `group` (byte order of the strings).
    pub groups: Vec<GroupMetrics>,
    /// Largest minus smallest selection rate.
    pub demographic_parity_difference: Option<f64>,
    /// Smallest over largest selection rate.
    pub demographic_parity_ratio: Option<f64>,
    /// Largest minus smallest TPR.
    pub equal_opportunity_difference: Option<f64>,
    /// Smallest over largest TPR.
    pub equal_opportunity_ratio: Option<f64>,
    /// The larger of the TPR and FPR differences.
    pub equalized_odds_difference: Option<f64>,
    /// The smaller of the TPR and FPR ratios.
    pub equalized_odds_ratio: Option<f64>,
}

/// Window state for group fairness: integer confusion counts per value of a
/// sensitive attribute. It serialises with serde (settings included), so a
/// window can be checkpointed and restored; a restored accumulator finishes
/// exactly like the original.
///
/// Labels and predictions are read as by
/// [`BinaryClassificationAccumulator`](crate::quality::BinaryClassificationAccumulator).
/// The attribute may be Boolean, any integer type, Utf8, LargeUtf8, Utf8View
/// or a dictionary of those.
///
/// # Example
/// ```
/// use arrow_array::{Int32Array, StringArray};
/// use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessConfig};
///
/// let config = FairnessConfig { min_group_size: 1, ..FairnessConfig::default() };
/// let mut acc = FairnessAccumulator::new(config)?;
/// let labels = Int32Array::from(vec![1, 0, 1, 0]);
/// let predictions = Int32Array::from(vec![1, 1, 0, 0]);
/// let group = StringArray::from(vec![Some("a"), Some("a"), Some("b"), None]);
/// acc.update(&labels, &predictions, &group)?;
/// let report = acc.finish();
/// assert_eq!((report.rows, report.null_attribute), (3, 1));
/// assert_eq!(report.demographic_parity_difference, Some(1.0));
/// # Ok::<(), driftgauge_detectors::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FairnessAccumulator {
    config: FairnessConfig,
    groups: BTreeMap<String, Confusion>,
    skipped: u64,
    null_attribute: u64,
}

impl FairnessAccumulator {
    /// An empty accumulator.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the threshold is not in `[0, 1]` (or NaN).
    pub fn new(config: FairnessConfig) -> Result<Self> {
        validate_threshold(config.threshold)?;
        Ok(Self { config, groups: BTreeMap::new(), skipped: 0, null_attribute: 0 })
    }

    /// The settings this accumulator was built with.
    pub fn config(&self) -> &FairnessConfig {
        &self.config
    }

    /// Adds a batch of aligned labels, predictions and attribute values.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if the arrays differ in length,
    /// [`Error::UnsupportedType`] for an unsupported column type, and
    /// [`Error::InvalidConfig`] if the positive label cannot be compared with
    /// a column. The accumulator is unchanged on error.
    pub fn update(
        &mut self,
        labels: &dyn Array,
        predictions: &dyn Array,
        attribute: &dyn Array,
    ) -> Result<()> {
        let outcomes = Outcomes::decode(
            labels,
            predictions,
            Some(attribute),
            &self.config.positive_label,
            self.config.threshold,
        )?;
        let tallies = tally(attribute, &outcomes)?;
        for (group, counts) in tallies {
            match self.groups.get_mut(group.as_ref()) {
                Some(existing) => existing.add(&counts),
                None => {
                    self.groups.insert(group.into_owned(), counts);
                }
            }
        }
        self.skipped += labels.len() as u64 - outcomes.used();
        self.null_attribute += attribute.logical_nulls().map_or(0, |n| n.null_count()) as u64;
        Ok(())
    }

    /// Adds another accumulator's rows. Accumulators should share one
    /// configuration; the result keeps this one's.
    pub fn merge(&mut self, other: &Self) {
        debug_assert_eq!(self.config, other.config, "merging accumulators of different settings");
        for (group, counts) in &other.groups {
            match self.groups.get_mut(group) {
                Some(existing) => existing.add(counts),
                None => {
                    self.groups.insert(group.clone(), *counts);
                }
            }
        }
        self.skipped += other.skipped;
        self.null_attribute += other.null_attribute;
    }

    /// Clears the state for the next window.
    pub fn clear(&mut self) {
        self.groups.clear();
        self.skipped = 0;
        self.null_attribute = 0;
    }

    /// The per-group metrics and disparities of the rows added so far.
    pub fn finish(&self) -> FairnessReport {
        let groups: Vec<GroupMetrics> = self
            .groups
            .iter()
            .map(|(group, c)| {
                let count = c.total();
                GroupMetrics {
                    group: group.clone(),
                    count,
                    tp: c.tp,
                    fp: c.fp,
                    tn: c.tn,
                    fn_: c.fn_,
                    selection_rate: ratio_or_zero(c.tp + c.fp, count),
                    tpr: ratio_or_zero(c.tp, c.tp + c.fn_),
                    fpr: ratio_or_zero(c.fp, c.fp + c.tn),
                    accuracy: ratio_or_zero(c.tp + c.tn, count),
                    included: count >= self.config.min_group_size,
                }
            })
            .collect();
        let included: Vec<&GroupMetrics> = groups.iter().filter(|g| g.included).collect();
        let spread = |metric: fn(&GroupMetrics) -> f64| {
            (included.len() >= 2).then(|| Spread::of(included.iter().map(|g| metric(g))))
        };
        let selection = spread(|g| g.selection_rate);
        let tpr = spread(|g| g.tpr);
        let fpr = spread(|g| g.fpr);
        let odds = tpr.zip(fpr);
        FairnessReport {
            rows: groups.iter().map(|g| g.count).sum(),
            skipped: self.skipped,
            null_attribute: self.null_attribute,
            demographic_parity_difference: selection.map(|s| s.difference()),
            demographic_parity_ratio: selection.map(|s| s.ratio()),
            equal_opportunity_difference: tpr.map(|s| s.difference()),
            equal_opportunity_ratio: tpr.map(|s| s.ratio()),
            // Python's `max([tpr, fpr])` and `min([tpr, fpr])`, NaN included.
            equalized_odds_difference: odds.map(|(t, f)| {
                let (t, f) = (t.difference(), f.difference());
                if f > t { f } else { t }
            }),
            equalized_odds_ratio: odds.map(|(t, f)| {
                let (t, f) = (t.ratio(), f.ratio());
                if f < t { f } else { t }
            }),
            groups,
        }
    }
}

/// Smallest and largest of a per-group metric.
#[derive(Debug, Clone, Copy)]
struct Spread {
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        values.fold(Self { min: f64::INFINITY, max: f64::NEG_INFINITY }, |s, v| Self {
            min: s.min.min(v),
            max: s.max.max(v),
        })
    }

    fn difference(self) -> f64 {
        self.max - self.min
    }

    /// `min / max`; NaN when both are 0, as Fairlearn.
    fn ratio(self) -> f64 {
        self.min / self.max
    }
}

const ATTRIBUTE_TYPES: &str =
    "expected Boolean, an integer, Utf8, LargeUtf8, Utf8View or a dictionary of those";

/// Confusion counts per group of the valid rows of one batch, before they are
/// added to the accumulator (so that an error leaves it unchanged).
fn tally<'a>(
    attribute: &'a dyn Array,
    outcomes: &Outcomes<'_>,
) -> Result<Vec<(Cow<'a, str>, Confusion)>> {
    macro_rules! by_value {
        ($values:expr) => {{
            let values = $values;
            let mut groups: BTreeMap<_, Confusion> = BTreeMap::new();
            for i in outcomes.valid.set_indices() {
                groups.entry(values(i)).or_default().add_class(outcomes.class(i), 1);
            }
            groups
        }};
    }
    macro_rules! ints {
        ($t:ty) => {
            int_tallies::<$t>(attribute, outcomes)
        };
    }
    Ok(match attribute.data_type() {
        DataType::Utf8 => {
            let a = attribute.as_string::<i32>();
            by_value!(|i| a.value(i)).into_iter().map(|(k, c)| (Cow::Borrowed(k), c)).collect()
        }
        DataType::LargeUtf8 => {
            let a = attribute.as_string::<i64>();
            by_value!(|i| a.value(i)).into_iter().map(|(k, c)| (Cow::Borrowed(k), c)).collect()
        }
        DataType::Utf8View => {
            let a = attribute.as_string_view();
            by_value!(|i| a.value(i)).into_iter().map(|(k, c)| (Cow::Borrowed(k), c)).collect()
        }
        DataType::Boolean => {
            let a = attribute.as_boolean();
            by_value!(|i| a.value(i))
                .into_iter()
                .map(|(k, c)| (Cow::Owned(k.to_string()), c))
                .collect()
        }
        DataType::Int8 => ints!(Int8Type),
        DataType::Int16 => ints!(Int16Type),
        DataType::Int32 => ints!(Int32Type),
        DataType::Int64 => ints!(Int64Type),
        DataType::UInt8 => ints!(UInt8Type),
        DataType::UInt16 => ints!(UInt16Type),
        DataType::UInt32 => ints!(UInt32Type),
        DataType::UInt64 => ints!(UInt64Type),
        DataType::Dictionary(_, value_type) if is_key_type(value_type) => {
            let dict = attribute.as_any_dictionary();
            let values = dict.values();
            if values.is_empty() {
                // Every slot is null.
                return Ok(Vec::new());
            }
            let keys = dict.normalized_keys();
            let mut slots = vec![Confusion::default(); values.len()];
            for i in outcomes.valid.set_indices() {
                slots[keys[i]].add_class(outcomes.class(i), 1);
            }
            let mut out = Vec::new();
            for (slot, counts) in slots.into_iter().enumerate() {
                if counts.total() > 0 {
                    out.push((Cow::Owned(key_of(values.as_ref(), slot)), counts));
                }
            }
            out
        }
        other => {
            return Err(Error::UnsupportedType {
                column: "sensitive attribute".to_owned(),
                data_type: other.clone(),
                reason: ATTRIBUTE_TYPES,
            });
        }
    })
}

fn int_tallies<'a, T: ArrowPrimitiveType>(
    attribute: &'a dyn Array,
    outcomes: &Outcomes<'_>,
) -> Vec<(Cow<'a, str>, Confusion)>
where
    T::Native: Ord + ToString,
{
    let values = attribute.as_primitive::<T>().values();
    let mut groups: BTreeMap<T::Native, Confusion> = BTreeMap::new();
    for i in outcomes.valid.set_indices() {
        groups.entry(values[i]).or_default().add_class(outcomes.class(i), 1);
    }
    groups.into_iter().map(|(k, c)| (Cow::Owned(k.to_string()), c)).collect()
}

/// Whether a dictionary's values can name groups.
fn is_key_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// The group name of slot `i` of `array`, whose type passed [`is_key_type`].
fn key_of(array: &dyn Array, i: usize) -> String {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_owned(),
        DataType::Utf8View => array.as_string_view().value(i).to_owned(),
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{
        BooleanArray, DictionaryArray, Float64Array, Int8Array, Int32Array, Int64Array,
        StringArray, UInt8Array,
    };
    use proptest::prelude::*;

    use super::*;
    use crate::quality::tests::{chunks, merged, shuffled};

    fn config(min_group_size: u64) -> FairnessConfig {
        FairnessConfig { min_group_size, ..FairnessConfig::default() }
    }

    fn run(
        min_group_size: u64,
        labels: &dyn Array,
        predictions: &dyn Array,
        attribute: &dyn Array,
    ) -> FairnessReport {
        let mut acc = FairnessAccumulator::new(config(min_group_size)).expect("valid config");
        acc.update(labels, predictions, attribute).expect("supported types");
        acc.finish()
    }

    #[test]
    fn three_groups_match_fairlearn() {
        // a: y=[1,1,0,0] ŷ=[1,0,1,0]; b: y=[1,0,0] ŷ=[1,1,1]; c: y=[1,1,0] ŷ=[0,0,0].
        // fairlearn 0.15: demographic_parity_difference 1.0, ratio 0.0,
        // equalized_odds_difference 1.0, ratio 0.0, equal_opportunity 1.0 / 0.0.
        let labels = Int32Array::from(vec![1, 1, 0, 0, 1, 0, 0, 1, 1, 0]);
        let predictions = Int32Array::from(vec![1, 0, 1, 0, 1, 1, 1, 0, 0, 0]);
        let groups = StringArray::from(vec!["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]);
        let r = run(1, &labels, &predictions, &groups);
        let names: Vec<&str> = r.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let a = &r.groups[0];
        assert_eq!((a.count, a.selection_rate, a.tpr, a.fpr, a.accuracy), (4, 0.5, 0.5, 0.5, 0.5));
        assert_eq!(r.demographic_parity_difference, Some(1.0));
        assert_eq!(r.demographic_parity_ratio, Some(0.0));
        assert_eq!(r.equal_opportunity_difference, Some(1.0));
        assert_eq!(r.equalized_odds_difference, Some(1.0));
        assert_eq!(r.equalized_odds_ratio, Some(0.0));
    }

    #[test]
    fn a_group_without_positives_has_tpr_zero() {
        let labels = Int8Array::from(vec![1, 0, 0, 0]);
        let predictions = Int8Array::from(vec![1, 0, 1, 0]);
        let groups = UInt8Array::from(vec![1, 1, 2, 2]);
        let r = run(0, &labels, &predictions, &groups);
        assert_eq!(r.groups[1].group, "2");
        assert_eq!((r.groups[1].tpr, r.groups[1].fpr), (0.0, 0.5));
        assert_eq!(r.equal_opportunity_difference, Some(1.0));
        assert_eq!(r.equal_opportunity_ratio, Some(0.0));
    }

    #[test]
    fn ratios_of_zero_rates_are_nan_as_in_fairlearn() {
        // No false positive anywhere: the FPR ratio is 0/0 = NaN, and
        // Python's min([tpr_ratio, nan]) keeps the TPR ratio.
        let labels = BooleanArray::from(vec![true, true, false, true, false]);
        let predictions = BooleanArray::from(vec![true, false, false, true, false]);
        let groups = BooleanArray::from(vec![true, true, true, false, false]);
        let r = run(0, &labels, &predictions, &groups);
        assert_eq!(r.equal_opportunity_ratio, Some(0.5));
        assert_eq!(r.equalized_odds_ratio, Some(0.5));
        assert_eq!(r.equalized_odds_difference, Some(0.5));
        // No positive prediction anywhere: every ratio is NaN.
        let predictions = BooleanArray::from(vec![false; 5]);
        let r = run(0, &labels, &predictions, &groups);
        assert_eq!(r.demographic_parity_difference, Some(0.0));
        assert!(r.demographic_parity_ratio.is_some_and(f64::is_nan));
        assert!(r.equalized_odds_ratio.is_some_and(f64::is_nan));
    }

    #[test]
    fn small_groups_are_reported_but_not_compared() {
        let n = 40;
        let mut labels = vec![1i64; n];
        let mut predictions = vec![1i64; n];
        let mut groups = vec!["big"; n];
        labels.extend([1, 0]);
        predictions.extend([0, 0]);
        groups.extend(["tiny", "tiny"]);
        let (l, p, g) =
            (Int64Array::from(labels), Int64Array::from(predictions), StringArray::from(groups));
        let r = run(30, &l, &p, &g);
        assert_eq!(r.groups.len(), 2);
        assert!(r.groups[0].included && !r.groups[1].included);
        // One included group: nothing to compare.
        assert_eq!(r.demographic_parity_difference, None);
        assert_eq!(r.equalized_odds_ratio, None);
        let r = run(2, &l, &p, &g);
        assert_eq!(r.demographic_parity_difference, Some(1.0));
    }

    #[test]
    fn nulls_dictionaries_and_errors() {
        let labels = Int64Array::from(vec![Some(1), Some(1), None, Some(0)]);
        let scores = Float64Array::from(vec![0.9, 0.2, 0.5, 0.7]);
        let keys = Int8Array::from(vec![Some(0), Some(1), Some(0), None]);
        let values = Arc::new(StringArray::from(vec!["x", "y"]));
        let groups = DictionaryArray::<Int8Type>::try_new(keys, values).expect("valid");
        let r = run(0, &labels, &scores, &groups);
        assert_eq!((r.rows, r.skipped, r.null_attribute), (2, 2, 1));
        assert_eq!(r.groups.iter().map(|g| g.count).collect::<Vec<_>>(), [1, 1]);
        let mut acc = FairnessAccumulator::new(config(0)).expect("valid");
        let err = acc.update(&labels, &scores, &Float64Array::from(vec![1.0; 4]));
        assert!(matches!(err, Err(Error::UnsupportedType { .. })));
        let err = acc.update(&labels, &scores, &StringArray::from(vec!["a"]));
        assert!(matches!(err, Err(Error::LengthMismatch { .. })));
        assert!(acc.finish().groups.is_empty());
        let bad = FairnessConfig { threshold: 2.0, ..FairnessConfig::default() };
        assert!(FairnessAccumulator::new(bad).is_err());
    }

    proptest! {
        #[test]
        fn split_and_merge_equals_one_pass(
            rows in prop::collection::vec((
                prop::option::weighted(0.95, any::<bool>()),
                prop::option::weighted(0.95, 0.0f64..=1.0),
                prop::option::weighted(0.9, 0u8..5),
            ), 0..300),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
            seed in any::<u64>(),
            min_group_size in 0u64..40,
        ) {
            let labels = BooleanArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
            let scores = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
            let names = ["a", "b", "c", "d", "e"];
            let groups = StringArray::from(
                rows.iter().map(|r| r.2.map(|g| names[usize::from(g)])).collect::<Vec<_>>(),
            );
            let fresh = || FairnessAccumulator::new(config(min_group_size)).expect("valid");
            let mut whole = fresh();
            whole.update(&labels, &scores, &groups).expect("supported");
            let parts: Vec<_> = chunks(rows.len(), &cuts).into_iter().map(|(start, len)| {
                let mut acc = fresh();
                acc.update(
                    &labels.slice(start, len),
                    &scores.slice(start, len),
                    &groups.slice(start, len),
                ).expect("supported");
                acc
            }).collect();
            let order = shuffled(parts.len(), seed);
            let merged = merged(parts, &order, FairnessAccumulator::merge).expect("a chunk");
            let (a, b) = (whole.finish(), merged.finish());
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            prop_assert_eq!(a.rows + a.skipped, rows.len() as u64);
            if let Some(d) = a.demographic_parity_difference {
                prop_assert!((0.0..=1.0).contains(&d));
            }
        }
    }

    #[test]
    fn accumulator_survives_a_serde_round_trip() {
        let labels = Int32Array::from(vec![1, 0, 1, 0, 1, 1]);
        let predictions = Int32Array::from(vec![1, 1, 0, 0, 1, 0]);
        let group =
            StringArray::from(vec![Some("a"), Some("a"), Some("b"), None, Some("b"), Some("c")]);
        let mut acc = FairnessAccumulator::new(config(1)).expect("valid config");
        acc.update(&labels, &predictions, &group).expect("supported types");
        let json = serde_json::to_string(&acc).unwrap();
        let restored: FairnessAccumulator = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{:?}", restored.finish()), format!("{:?}", acc.finish()));
        assert_eq!(restored.config(), acc.config());
    }
}
