//! Baseline profiles: what driftgauge keeps of a model's reference data.
//!
//! A [`Profile`] is fitted once, when a model is trained, and compared against
//! every window the model sees afterwards. It holds per column:
//!
//! * **numeric**: bin edges at the reference deciles (numpy's `linear`
//!   quantiles at `i / bins`, deduplicated, so tied or integer data gives fewer
//!   bins), the reference count in each of the `edges + 1` bins (the outer
//!   bins are open: `(-inf, e1)` and `[ek, +inf)`), null, NaN and ±inf counts,
//!   min, max, mean and population std of the finite values, and the sorted
//!   finite sample that KS and Wasserstein need — exact up to
//!   [`ProfileOptions::max_sample`] values, beyond that compressed to that many
//!   quantile points (see [`crate::sample`] for the stated error bound);
//! * **categorical**: counts of the `top_k` most frequent categories, the rest
//!   folded into an explicit `other` bucket, and the null count. Categories
//!   are sorted by name, or as numbers for integer codes
//!   ([`crate::column::compare_categories`]).
//!
//! A profile fitted with [`ProfileOptions::exact`] keeps every category and
//! every finite value: `driftgauge check --reference` fits one so that its
//! comparison is exact at any size and cardinality. A stored baseline keeps
//! at most `top_k` categories and `max_sample` points, and every report
//! against it says where it is approximate ([`crate::drift::Approximation`]).
//!
//! Profiles serialise to JSON through serde and carry [`FORMAT_VERSION`]; a
//! reader checks it with [`check_format_version`] before trusting the rest.

use std::collections::HashMap;

use arrow_array::Array;
use serde::{Deserialize, Serialize};

use crate::column::{self, ColumnKind};
use crate::error::{Error, Result};
use crate::histogram::ThresholdCounts;
use crate::sample::{self, SortedSample};

/// The profile format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Checks a profile's `format_version` before the rest of it is read.
///
/// # Errors
/// [`Error::UnsupportedFormatVersion`] for any other version.
pub fn check_format_version(found: u32) -> Result<()> {
    if found == FORMAT_VERSION {
        Ok(())
    } else {
        Err(Error::UnsupportedFormatVersion { found, supported: FORMAT_VERSION })
    }
}

/// How profiles are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileOptions {
    /// Quantile bins for numeric columns (default 10: decile edges).
    pub bins: usize,
    /// Largest exact reference sample kept for KS and Wasserstein (default
    /// 100,000); larger samples are compressed to this many quantile points.
    pub max_sample: usize,
    /// Categories kept per categorical column (default 1,000); the rest are
    /// counted in the `other` bucket.
    pub top_k: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self { bins: 10, max_sample: 100_000, top_k: 1_000 }
    }
}

impl ProfileOptions {
    /// These options without the limits of a stored baseline: every category
    /// is kept by name and every finite value in the sample, so comparisons
    /// against the profile are exact. For a profile that lives only as long
    /// as the comparison, as in `driftgauge check --reference`.
    pub fn exact(self) -> Self {
        Self { max_sample: usize::MAX, top_k: usize::MAX, ..self }
    }

    /// Rejects settings that cannot produce a profile.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |setting, reason: &str| Err(Error::InvalidConfig { setting, reason: reason.into() });
        if self.bins < 2 {
            return bad("bins", "must be at least 2");
        }
        if self.max_sample < 2 {
            return bad("max_sample", "must be at least 2");
        }
        if self.top_k < 1 {
            return bad("top_k", "must be at least 1");
        }
        Ok(())
    }
}

/// A fitted baseline: one profile per column of the reference data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Always [`FORMAT_VERSION`] for profiles this build writes.
    pub format_version: u32,
    /// Rows in the reference data.
    pub rows: u64,
    /// The options the profile was fitted with.
    pub options: ProfileOptions,
    /// Column profiles, in the reference data's column order.
    pub columns: Vec<ColumnProfile>,
    /// The model's label and prediction columns, when the fit was told them:
    /// a later comparison leaves the label out of drift and measures model
    /// quality without being told again. Absent in older profiles.
    #[serde(default, skip_serializing_if = "Roles::is_empty")]
    pub roles: Roles,
}

/// Which columns of the reference data are the model's ground truth and output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// The ground-truth label column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The prediction (class or score) column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<String>,
}

impl Roles {
    /// Whether no role is known.
    pub fn is_empty(&self) -> bool {
        self.label.is_none() && self.prediction.is_none()
    }
}

impl Profile {
    /// The profile of `name`, if the baseline has one.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Checks what serde cannot: the version, and that every column is consistent.
    ///
    /// # Errors
    /// [`Error::UnsupportedFormatVersion`] or [`Error::InvalidBaseline`].
    pub fn validate(&self) -> Result<()> {
        check_format_version(self.format_version)?;
        self.columns.iter().try_for_each(ColumnProfile::validate)
    }
}

/// The profile of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// The statistics of its kind.
    pub stats: ColumnStats,
}

/// Per-kind reference statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ColumnStats {
    /// A numeric column.
    Numeric(NumericProfile),
    /// A categorical column.
    Categorical(CategoricalProfile),
}

impl ColumnProfile {
    /// Whether the column is numeric or categorical.
    pub fn kind(&self) -> ColumnKind {
        match self.stats {
            ColumnStats::Numeric(_) => ColumnKind::Numeric,
            ColumnStats::Categorical(_) => ColumnKind::Categorical,
        }
    }

    fn validate(&self) -> Result<()> {
        let invalid =
            |reason: String| Err(Error::InvalidBaseline { column: self.name.clone(), reason });
        match &self.stats {
            ColumnStats::Numeric(p) => {
                if p.counts.len() != p.edges.len() + 1 {
                    return invalid(format!(
                        "{} bin counts for {} edges (expected edges + 1)",
                        p.counts.len(),
                        p.edges.len()
                    ));
                }
                if p.edges.iter().any(|e| !e.is_finite())
                    || p.edges.windows(2).any(|w| w[0] >= w[1])
                {
                    return invalid("edges must be finite and strictly increasing".into());
                }
                let finite: u64 = p.counts.iter().sum();
                if finite != p.sample.count() {
                    return invalid(format!(
                        "bins hold {finite} values but the sample stands for {}",
                        p.sample.count()
                    ));
                }
                if (finite > 0) != p.range.is_some() {
                    return invalid(
                        "range must be present exactly when there are finite values".into(),
                    );
                }
                if let Some(range) = &p.range {
                    if !(range.min <= range.max) {
                        return invalid("min is above max".into());
                    }
                }
            }
            ColumnStats::Categorical(p) => {
                if p.integer {
                    if let Some(c) =
                        p.categories.iter().find(|c| column::integer_code(&c.name).is_none())
                    {
                        return invalid(format!(
                            "category `{}` of an integer column is not an integer",
                            c.name
                        ));
                    }
                }
                if p.categories
                    .windows(2)
                    .any(|w| column::compare_categories(&w[0].name, &w[1].name, p.integer).is_ge())
                {
                    let order = if p.integer { "as numbers" } else { "by name" };
                    return invalid(format!("categories must be distinct and sorted {order}"));
                }
            }
        }
        Ok(())
    }
}

/// Missing-value counts of a numeric column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingCounts {
    /// Null slots.
    pub null: u64,
    /// NaN values.
    pub nan: u64,
    /// `+inf` values.
    pub pos_inf: u64,
    /// `-inf` values.
    pub neg_inf: u64,
}

impl MissingCounts {
    /// All four added up.
    pub fn total(&self) -> u64 {
        self.null + self.nan + self.pos_inf + self.neg_inf
    }

    pub(crate) fn of(counts: &ThresholdCounts) -> Self {
        Self {
            null: counts.null,
            nan: counts.nan,
            pos_inf: counts.pos_inf,
            neg_inf: counts.neg_inf,
        }
    }
}

/// Summary of the finite reference values.
///
/// The mean and std of finite values can still overflow to `±inf` (values
/// near `f64::MAX`); they are written to JSON as `"Infinity"` and read back
/// ([`crate::json`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Smallest finite value.
    #[serde(with = "crate::json::float")]
    pub min: f64,
    /// Largest finite value.
    #[serde(with = "crate::json::float")]
    pub max: f64,
    /// Mean.
    #[serde(with = "crate::json::float")]
    pub mean: f64,
    /// Population standard deviation (ddof 0, as `np.std`).
    #[serde(with = "crate::json::float")]
    pub std: f64,
}

/// Reference statistics of a numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericProfile {
    /// Interior bin edges, strictly increasing.
    pub edges: Vec<f64>,
    /// Reference counts of the `edges.len() + 1` bins.
    pub counts: Vec<u64>,
    /// Null, NaN and infinite counts (never binned).
    pub missing: MissingCounts,
    /// Min, max, mean and std of the finite values; absent if there are none.
    pub range: Option<Range>,
    /// Whether the column has an integer type.
    pub integer: bool,
    /// The sorted finite values, exact or compressed.
    pub sample: SortedSample,
}

/// One category and its reference count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryCount {
    /// Category name.
    pub name: String,
    /// Reference rows in it.
    pub count: u64,
}

/// Reference statistics of a categorical column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoricalProfile {
    /// The kept categories, sorted by [`column::compare_categories`]: by
    /// name, or as numbers when `integer`.
    pub categories: Vec<CategoryCount>,
    /// Rows in categories beyond the `top_k` kept ones.
    pub other: u64,
    /// How many distinct categories were folded into `other`.
    pub other_categories: u64,
    /// Null rows.
    pub null: u64,
    /// Whether the categories are the integer codes of an integer column,
    /// ordered as numbers. Absent (false) in baselines of text columns and
    /// in baselines written before integer codes were ordered as numbers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub integer: bool,
}

impl CategoricalProfile {
    /// Rows with a category (kept or other).
    pub fn non_null(&self) -> u64 {
        self.categories.iter().map(|c| c.count).sum::<u64>() + self.other
    }

    /// Whether categories were folded into `other`: comparisons against the
    /// profile then pool every category it does not list.
    pub fn is_folded(&self) -> bool {
        self.other > 0 || self.other_categories > 0
    }
}

/// Collects a reference column batch by batch and fits its profile.
///
/// Fitting needs every finite value (for quantiles and the sample), so state
/// grows with the reference; `merge` combines builders fed from different
/// batches, and the result does not depend on the split.
#[derive(Debug, Clone)]
pub enum ColumnProfileBuilder {
    /// Builds a [`NumericProfile`].
    Numeric {
        /// Missing-value counts so far.
        counts: ThresholdCounts,
        /// Finite values so far, unsorted.
        values: Vec<f64>,
        /// Whether the column has an integer type.
        integer: bool,
        /// Reused buffer for widening non-`f64` arrays.
        scratch: Vec<f64>,
    },
    /// Builds a [`CategoricalProfile`].
    Categorical {
        /// Rows per category so far.
        counts: HashMap<String, u64>,
        /// Null rows so far.
        null: u64,
        /// Whether the column holds integer codes (ordered as numbers).
        integer: bool,
    },
}

impl ColumnProfileBuilder {
    /// An empty builder for a column of `kind`; `integer` records whether the
    /// column has an integer type (Sturges' width clamp for numeric columns,
    /// numeric order of the codes for categorical ones).
    pub fn new(kind: ColumnKind, integer: bool) -> Self {
        match kind {
            ColumnKind::Numeric => Self::Numeric {
                counts: ThresholdCounts::new(0),
                values: Vec::new(),
                integer,
                scratch: Vec::new(),
            },
            ColumnKind::Categorical => {
                Self::Categorical { counts: HashMap::new(), null: 0, integer }
            }
        }
    }

    /// Makes room for `rows` more values, when the caller knows how many are
    /// coming (a file read whole): the values are then gathered without the
    /// reallocations of a growing buffer.
    pub fn reserve(&mut self, rows: usize) {
        if let Self::Numeric { values, .. } = self {
            values.reserve_exact(rows);
        }
    }

    /// Adds a batch of the column.
    ///
    /// # Errors
    /// [`Error::UnsupportedType`] if the array cannot be read as this kind.
    pub fn update(&mut self, column: &str, array: &dyn Array) -> Result<()> {
        match self {
            Self::Numeric { counts, values, scratch, .. } => {
                column::for_each_f64_chunk(column, array, scratch, |chunk, validity| {
                    counts.update(chunk, validity, &[]);
                    column::extend_finite(values, chunk, validity);
                })
            }
            Self::Categorical { counts, null, .. } => {
                column::for_each_category(column, array, |category, rows| match category {
                    Some(name) => match counts.get_mut(name) {
                        Some(count) => *count += rows,
                        None => {
                            counts.insert(name.to_owned(), rows);
                        }
                    },
                    None => *null += rows,
                })
            }
        }
    }

    /// Adds another builder's state for the same column.
    ///
    /// # Panics
    /// If the two builders are of different kinds.
    pub fn merge(&mut self, other: Self) {
        match (self, other) {
            (Self::Numeric { counts, values, .. }, Self::Numeric { counts: c, values: v, .. }) => {
                counts.merge(&c);
                values.extend(v);
            }
            (
                Self::Categorical { counts, null, .. },
                Self::Categorical { counts: c, null: n, .. },
            ) => {
                for (name, rows) in c {
                    *counts.entry(name).or_default() += rows;
                }
                *null += n;
            }
            _ => panic!("merging profile builders of different kinds"),
        }
    }

    /// Fits the profile.
    pub fn finish(self, name: &str, options: &ProfileOptions) -> ColumnProfile {
        let stats = match self {
            Self::Numeric { counts, values, integer, .. } => ColumnStats::Numeric(fit_numeric(
                MissingCounts::of(&counts),
                values,
                integer,
                options,
            )),
            Self::Categorical { counts, null, integer } => {
                ColumnStats::Categorical(fit_categorical(counts, null, integer, options))
            }
        };
        ColumnProfile { name: name.to_owned(), stats }
    }
}

fn fit_numeric(
    missing: MissingCounts,
    values: Vec<f64>,
    integer: bool,
    options: &ProfileOptions,
) -> NumericProfile {
    let sample = SortedSample::exact(values);
    let sorted = sample.values();
    let mut edges: Vec<f64> = Vec::with_capacity(options.bins - 1);
    if !sorted.is_empty() {
        for i in 1..options.bins {
            // i / bins is correctly rounded, so for 10 bins these are the same
            // doubles as the literals 0.1, ..., 0.9 that numpy is given.
            let edge = sample::quantile_linear(sorted, i as f64 / options.bins as f64);
            if edges.last() != Some(&edge) {
                edges.push(edge);
            }
        }
    }
    let mut counts = vec![0u64; edges.len() + 1];
    let mut bin = 0;
    for &x in sorted {
        while bin < edges.len() && x >= edges[bin] {
            bin += 1;
        }
        counts[bin] += 1;
    }
    let range = (!sorted.is_empty()).then(|| {
        let (mean, std) = sample::mean_std(sorted);
        Range { min: sorted[0], max: sorted[sorted.len() - 1], mean, std }
    });
    NumericProfile {
        edges,
        counts,
        missing,
        range,
        integer,
        sample: sample.compress(options.max_sample),
    }
}

fn fit_categorical(
    counts: HashMap<String, u64>,
    null: u64,
    integer: bool,
    options: &ProfileOptions,
) -> CategoricalProfile {
    let order = |a: &CategoryCount, b: &CategoryCount| {
        column::compare_categories(&a.name, &b.name, integer)
    };
    let mut kept: Vec<CategoryCount> =
        counts.into_iter().map(|(name, count)| CategoryCount { name, count }).collect();
    let mut folded = Vec::new();
    if kept.len() > options.top_k {
        // Most frequent first, ties in category order, so the kept set does
        // not depend on the hash map's order.
        kept.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| order(a, b)));
        folded = kept.split_off(options.top_k);
    }
    kept.sort_unstable_by(order);
    CategoricalProfile {
        categories: kept,
        other: folded.iter().map(|c| c.count).sum(),
        other_categories: folded.len() as u64,
        null,
        integer,
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{Float64Array, StringArray};

    use super::*;

    fn numeric(values: Vec<Option<f64>>, options: &ProfileOptions) -> NumericProfile {
        let mut builder = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        builder.update("x", &Float64Array::from(values)).unwrap();
        match builder.finish("x", options).stats {
            ColumnStats::Numeric(p) => p,
            ColumnStats::Categorical(_) => unreachable!(),
        }
    }

    #[test]
    fn numeric_profile_matches_numpy() {
        // np.unique(np.quantile(np.arange(1, 101), np.arange(1, 10) / 10))
        // == [10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.10000000000001] (numpy 2.4.6)
        let mut values: Vec<Option<f64>> = (1..=100).map(|i| Some(f64::from(i))).collect();
        values.extend([None, Some(f64::NAN), Some(f64::INFINITY)]);
        let p = numeric(values, &ProfileOptions::default());
        assert_eq!(
            p.edges,
            vec![10.9, 20.8, 30.7, 40.6, 50.5, 60.4, 70.3, 80.2, 90.10000000000001]
        );
        assert_eq!(p.counts, vec![10; 10]);
        assert_eq!(p.missing, MissingCounts { null: 1, nan: 1, pos_inf: 1, neg_inf: 0 });
        let range = p.range.unwrap();
        assert_eq!((range.min, range.max, range.mean), (1.0, 100.0, 50.5));
        assert!(p.sample.is_exact());
    }

    #[test]
    fn tied_values_give_fewer_bins_and_large_samples_are_compressed() {
        let values = (0..1000).map(|i| Some(f64::from(i % 3))).collect();
        let options = ProfileOptions { max_sample: 100, ..ProfileOptions::default() };
        let p = numeric(values, &options);
        assert_eq!(p.edges, vec![0.0, 1.0, 2.0]);
        assert_eq!(p.counts, vec![0, 334, 333, 333]);
        assert_eq!((p.sample.count(), p.sample.values().len()), (1000, 100));
    }

    #[test]
    fn categorical_profile_keeps_top_k_and_counts_the_rest() {
        let mut builder = ColumnProfileBuilder::new(ColumnKind::Categorical, false);
        let array = StringArray::from(vec![
            Some("b"),
            Some("a"),
            Some("b"),
            None,
            Some("c"),
            Some("d"),
            Some("b"),
        ]);
        builder.update("c", &array).unwrap();
        let options = ProfileOptions { top_k: 2, ..ProfileOptions::default() };
        let ColumnStats::Categorical(p) = builder.finish("c", &options).stats else {
            unreachable!()
        };
        let kept: Vec<_> = p.categories.iter().map(|c| (c.name.as_str(), c.count)).collect();
        assert_eq!(kept, vec![("a", 1), ("b", 3)]);
        assert_eq!((p.other, p.other_categories, p.null, p.non_null()), (2, 2, 1, 6));
    }

    fn categorical(
        array: &dyn Array,
        integer: bool,
        options: &ProfileOptions,
    ) -> CategoricalProfile {
        let mut builder = ColumnProfileBuilder::new(ColumnKind::Categorical, integer);
        builder.update("c", array).unwrap();
        match builder.finish("c", options).stats {
            ColumnStats::Categorical(p) => p,
            ColumnStats::Numeric(_) => unreachable!(),
        }
    }

    #[test]
    fn exact_options_keep_every_category_and_every_value() {
        let names: StringArray = (0..2500).map(|i| Some(format!("c{}", i % 1001))).collect();
        let stored = categorical(&names, false, &ProfileOptions::default());
        assert_eq!((stored.categories.len(), stored.other_categories), (1000, 1));
        assert!(stored.is_folded());
        let exact = categorical(&names, false, &ProfileOptions::default().exact());
        assert_eq!((exact.categories.len(), exact.other, exact.is_folded()), (1001, 0, false));

        let values = (0..150_000).map(|i| Some(f64::from(i % 7919))).collect();
        let p = numeric(values, &ProfileOptions::default().exact());
        assert!(p.sample.is_exact());
        assert_eq!(p.sample.values().len(), 150_000);
    }

    #[test]
    fn integer_codes_are_sorted_as_numbers_and_checked() {
        let codes = arrow_array::Int64Array::from(vec![10, 2, 2, 3, 10, 10, -1]);
        let p = categorical(&codes, true, &ProfileOptions::default());
        let names: Vec<_> = p.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["-1", "2", "3", "10"]);
        assert!(p.integer);
        // Serialised with the flag; text columns leave it out, so their
        // baselines read as before.
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""integer":true"#), "{json}");
        let text = categorical(&StringArray::from(vec!["10", "2"]), false, &Default::default());
        assert!(!serde_json::to_string(&text).unwrap().contains("integer"));
        assert_eq!(text.categories[0].name, "10");

        // An integer profile in text order, or with a name that is no integer, is rejected.
        let mut wrong = p.clone();
        wrong.categories.sort_by(|a, b| a.name.cmp(&b.name));
        let column = |p: CategoricalProfile| ColumnProfile {
            name: "code".into(),
            stats: ColumnStats::Categorical(p),
        };
        let error = column(wrong).validate().unwrap_err().to_string();
        assert!(error.contains("`code`") && error.contains("as numbers"), "{error}");
        let mut not_code = p.clone();
        not_code.categories[0].name = "x".into();
        let error = column(not_code).validate().unwrap_err().to_string();
        assert!(error.contains("category `x`"), "{error}");
    }

    #[test]
    fn overflowing_moments_round_trip_through_json() {
        // The mean of finite values near f64::MAX overflows.
        let p = numeric(vec![Some(1.7e308), Some(1.7e308), Some(1.0)], &ProfileOptions::default());
        let range = p.range.unwrap();
        assert!(!range.mean.is_finite() && !range.std.is_finite(), "{range:?}");
        let profile = Profile {
            format_version: FORMAT_VERSION,
            rows: 3,
            options: ProfileOptions::default(),
            columns: vec![ColumnProfile { name: "x".into(), stats: ColumnStats::Numeric(p) }],
            roles: Roles::default(),
        };
        let json = serde_json::to_string(&profile).unwrap();
        assert!(!json.contains(":null"), "{json}");
        let back: Profile = serde_json::from_str(&json).unwrap();
        // Debug, because NaN != NaN.
        assert_eq!(format!("{back:?}"), format!("{profile:?}"));
        back.validate().unwrap();
        for (x, text) in [(f64::INFINITY, "\"Infinity\""), (f64::NEG_INFINITY, "\"-Infinity\"")] {
            let range = Range { min: 0.0, max: 1.0, mean: x, std: x };
            let json = serde_json::to_string(&range).unwrap();
            assert!(json.contains(&format!("\"mean\":{text}")), "{json}");
            assert_eq!(serde_json::from_str::<Range>(&json).unwrap(), range);
        }
    }

    #[test]
    fn validation_names_the_column_and_the_problem() {
        let mut p = numeric(vec![Some(1.0), Some(2.0)], &ProfileOptions::default());
        p.counts.push(3);
        let profile = ColumnProfile { name: "age".into(), stats: ColumnStats::Numeric(p) };
        let error = profile.validate().unwrap_err().to_string();
        assert!(error.contains("`age`") && error.contains("bin counts"), "{error}");
        assert!(check_format_version(99).unwrap_err().to_string().contains("99"));
    }
}
