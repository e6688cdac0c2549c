//! The batch comparison behind `driftgauge check` and `driftgauge baseline fit`.
//!
//! Columns are independent, so each one is profiled and compared on its own
//! rayon task; results are collected in column order, and every statistic is
//! computed from integer counts and sorted samples, so the output does not
//! depend on the number of threads.

use std::path::{Path, PathBuf};

use driftgauge_detectors::baseline::{
    self, ColumnProfile, ColumnProfileBuilder, Profile, ProfileOptions,
};
use driftgauge_detectors::column::{self, ColumnKind};
use driftgauge_detectors::decision;
use driftgauge_detectors::drift::{
    ColumnAccumulator, ColumnDrift, DatasetDrift, DriftOptions, WindowOptions,
};
use driftgauge_detectors::evidently::{self, ColumnSample};
use rayon::prelude::*;
use serde::Serialize;

use crate::batch::error::CheckError;
use crate::batch::input::{Skipped, Table};
use crate::batch::model::{self, ModelOptions, ModelReport};

/// Which contract the statistics follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Reference-fitted bins (decile edges, epsilon 1e-4): baselines can be
    /// precomputed and the streaming engine uses the same numbers.
    #[default]
    Default,
    /// Evidently 0.7's `DataDriftPreset`: its test per column, its binning
    /// over both samples, its thresholds. Needs both raw files.
    Evidently,
}

/// What to compare and how.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Columns to compare; all columns of the reference when empty.
    pub columns: Vec<String>,
    /// Columns never compared.
    pub exclude: Vec<String>,
    /// Columns compared as categories even though they hold numbers.
    pub categorical: Vec<String>,
    /// The ground-truth column: excluded from drift unless listed in `columns`.
    pub label: Option<String>,
    /// Profile fitting settings.
    pub profile: ProfileOptions,
    /// Drift statistics and decision settings.
    pub drift: DriftOptions,
    /// Model quality and fairness, when a label and a prediction are given.
    pub model: Option<ModelOptions>,
}

impl CheckOptions {
    fn selected(&self, available: Vec<String>) -> Vec<String> {
        let mut columns = if self.columns.is_empty() {
            available.into_iter().filter(|c| Some(c) != self.label.as_ref()).collect()
        } else {
            self.columns.clone()
        };
        columns.retain(|c| !self.exclude.contains(c));
        columns
    }
}

/// The outcome of a check: per-column reports and the dataset verdict.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `default` (reference-fitted bins) or `evidently`.
    pub mode: &'static str,
    /// The reference file or baseline.
    pub reference: PathBuf,
    /// The current file.
    pub current: PathBuf,
    /// Rows in the current file.
    pub current_rows: usize,
    /// One report per compared column, in column order.
    pub columns: ColumnReports,
    /// Whether the data set as a whole drifted.
    pub dataset: DatasetDrift,
    /// Model quality and fairness, when a label and a prediction were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelReport>,
    /// Reference columns left out by default (times, index columns, nested
    /// types), with their types and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// Per-column results of either mode.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ColumnReports {
    /// The reference-fitted mode's full reports.
    Default(Vec<ColumnDrift>),
    /// Evidently's test, score and verdict per column.
    Evidently(Vec<EvidentlyColumn>),
}

/// One column's result in the Evidently-compatible mode.
#[derive(Debug, Clone, Serialize)]
pub struct EvidentlyColumn {
    /// Column name.
    pub column: String,
    /// Numeric or categorical.
    pub kind: ColumnKind,
    /// Evidently's test, score, threshold and verdict.
    #[serde(flatten)]
    pub drift: evidently::ColumnDrift,
}

/// Fits a baseline profile of `table`'s selected columns.
///
/// # Errors
/// A [`CheckError`] naming the file and column at fault.
pub fn fit_baseline(table: &Table, options: &CheckOptions) -> Result<Profile, CheckError> {
    options.profile.validate()?;
    let columns = options.selected(table.column_names());
    if columns.is_empty() {
        return Err(CheckError::NoColumns);
    }
    let profiles = columns
        .par_iter()
        .map(|name| fit_column(table, name, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Profile {
        format_version: baseline::FORMAT_VERSION,
        roles: Default::default(),
        rows: table.rows() as u64,
        options: options.profile,
        columns: profiles,
    })
}

fn column_kind(
    table: &Table,
    name: &str,
    options: &CheckOptions,
) -> Result<ColumnKind, CheckError> {
    let data_type = table.data_type(name)?;
    let column_error = |source| CheckError::Column { path: table.path.clone(), source };
    if options.categorical.iter().any(|c| c == name) {
        if !column::is_categorical(data_type) {
            return Err(column_error(driftgauge_detectors::Error::UnsupportedType {
                column: name.to_owned(),
                data_type: data_type.clone(),
                reason: "--categorical needs strings, booleans, dictionaries or integers",
            }));
        }
        Ok(ColumnKind::Categorical)
    } else {
        ColumnKind::infer(name, data_type).map_err(column_error)
    }
}

fn fit_column(
    table: &Table,
    name: &str,
    options: &CheckOptions,
) -> Result<ColumnProfile, CheckError> {
    let data_type = table.data_type(name)?;
    let column_error = |source| CheckError::Column { path: table.path.clone(), source };
    let kind = column_kind(table, name, options)?;
    let mut builder = ColumnProfileBuilder::new(kind, column::is_integer(data_type));
    builder.reserve(table.rows());
    for array in table.column(name)? {
        builder.update(name, array.as_ref()).map_err(column_error)?;
    }
    Ok(builder.finish(name, &options.profile))
}

/// Compares `current` against a fitted `baseline` (from `reference`, a file
/// or baseline path used in messages and the report).
///
/// # Errors
/// A [`CheckError`] naming the file and column at fault.
pub fn check_against(
    baseline: &Profile,
    reference: &Path,
    current: &Table,
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    options.drift.validate()?;
    let selected = options.selected(baseline.columns.iter().map(|c| c.name.clone()).collect());
    if selected.is_empty() {
        return Err(CheckError::NoColumns);
    }
    let profiles = selected
        .iter()
        .map(|name| {
            baseline.column(name).ok_or_else(|| CheckError::Baseline {
                path: reference.to_owned(),
                reason: format!("no profile for column `{name}`"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut columns = profiles
        .par_iter()
        .map(|profile| compare_column(profile, current, &options.drift))
        .collect::<Result<Vec<_>, _>>()?;
    let dataset = decision::decide_window(&mut columns, &options.drift);
    decision::attach_critical_values(&mut columns, &dataset, &options.drift);
    Ok(CheckReport {
        mode: "default",
        reference: reference.to_owned(),
        current: current.path.clone(),
        current_rows: current.rows(),
        columns: ColumnReports::Default(columns),
        dataset,
        model: None,
        skipped: Vec::new(),
    })
}

/// Compares `current` with the raw `reference` in `mode`, with model quality
/// and fairness when [`CheckOptions::model`] is set.
///
/// In the default mode the reference is profiled with
/// [`ProfileOptions::exact`]: every category and every value is kept, so no
/// statistic is approximate, whatever [`CheckOptions::profile`] limits a
/// stored baseline to.
///
/// # Errors
/// A [`CheckError`] naming the file and column at fault.
pub fn check(
    reference: &Table,
    current: &Table,
    mode: Mode,
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    let mut report = match mode {
        Mode::Default => {
            // The profile lives only for this comparison: keep every category
            // and every value, so the report is exact at any size and
            // cardinality (the limits are for stored baselines).
            let exact = CheckOptions { profile: options.profile.exact(), ..options.clone() };
            let baseline = fit_baseline(reference, &exact)?;
            check_against(&baseline, &reference.path, current, options)?
        }
        Mode::Evidently => check_evidently(reference, current, options)?,
    };
    report.model = model_report(Some(reference), current, options)?;
    if options.columns.is_empty() {
        report.skipped = reference.skipped().to_vec();
    }
    Ok(report)
}

/// Model quality and fairness as configured, `None` when no label and
/// prediction are set.
///
/// # Errors
/// A [`CheckError`] naming the file and column at fault.
pub fn model_report(
    reference: Option<&Table>,
    current: &Table,
    options: &CheckOptions,
) -> Result<Option<ModelReport>, CheckError> {
    options.model.as_ref().map(|model| model::model_report(reference, current, model)).transpose()
}

fn check_evidently(
    reference: &Table,
    current: &Table,
    options: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    options.drift.validate()?;
    let selected = options.selected(reference.column_names());
    if selected.is_empty() {
        return Err(CheckError::NoColumns);
    }
    let columns = selected
        .par_iter()
        .map(|name| {
            let kind = column_kind(reference, name, options)?;
            let (ref_sample, cur_sample) =
                rayon::join(|| sample(reference, name, kind), || sample(current, name, kind));
            let (ref_sample, cur_sample) = (ref_sample?, cur_sample?);
            let drift = evidently::column_drift(&ref_sample, &cur_sample, None).map_err(|e| {
                CheckError::Column { path: current.path.clone(), source: name_column(e, name) }
            })?;
            Ok(EvidentlyColumn { column: name.clone(), kind, drift })
        })
        .collect::<Result<Vec<_>, CheckError>>()?;
    let verdicts: Vec<_> = columns.iter().map(|c| c.drift).collect();
    Ok(CheckReport {
        mode: "evidently",
        reference: reference.path.clone(),
        current: current.path.clone(),
        current_rows: current.rows(),
        dataset: evidently::dataset_drift(&verdicts, options.drift.drift_share),
        columns: ColumnReports::Evidently(columns),
        model: None,
        skipped: Vec::new(),
    })
}

/// Evidently's errors do not know the column; give them its name.
fn name_column(error: driftgauge_detectors::Error, name: &str) -> driftgauge_detectors::Error {
    use driftgauge_detectors::Error;
    match error {
        Error::NotApplicable { reason, .. } => {
            Error::NotApplicable { column: name.to_owned(), reason }
        }
        Error::KindMismatch { expected, found, .. } => {
            Error::KindMismatch { column: name.to_owned(), expected, found }
        }
        other => other,
    }
}

/// The raw non-missing values of a column, as Evidently sees them.
fn sample(table: &Table, name: &str, kind: ColumnKind) -> Result<ColumnSample, CheckError> {
    let data_type = table.data_type(name)?;
    let column_error = |source| CheckError::Column { path: table.path.clone(), source };
    let arrays = table.column(name)?;
    match kind {
        ColumnKind::Numeric => {
            if !column::is_numeric(data_type) {
                return Err(column_error(driftgauge_detectors::Error::KindMismatch {
                    column: name.to_owned(),
                    expected: "numeric",
                    found: "categorical",
                }));
            }
            let mut values = Vec::with_capacity(table.rows());
            let mut scratch = Vec::new();
            for array in &arrays {
                column::for_each_f64_chunk(
                    name,
                    array.as_ref(),
                    &mut scratch,
                    |chunk, validity| column::extend_finite(&mut values, chunk, validity),
                )
                .map_err(column_error)?;
            }
            Ok(ColumnSample::Numeric { values, integer: column::is_integer(data_type) })
        }
        ColumnKind::Categorical => {
            let mut values = Vec::with_capacity(table.rows());
            for array in &arrays {
                column::for_each_category(name, array.as_ref(), |category, rows| {
                    if let Some(category) = category {
                        values.extend(std::iter::repeat_n(category.to_owned(), rows as usize));
                    }
                })
                .map_err(column_error)?;
            }
            Ok(ColumnSample::Categorical { values, integer: column::is_integer(data_type) })
        }
    }
}

fn compare_column(
    profile: &ColumnProfile,
    current: &Table,
    options: &DriftOptions,
) -> Result<ColumnDrift, CheckError> {
    let column_error = |source| CheckError::Column { path: current.path.clone(), source };
    // A batch check holds the whole file anyway: keep every value exactly, so
    // KS and Wasserstein match scipy to the last digit at any size.
    let mut accumulator = ColumnAccumulator::with_options(profile, &WindowOptions::unbounded())
        .map_err(column_error)?;
    accumulator.reserve(current.rows());
    for array in current.column(&profile.name)? {
        accumulator.update(&profile.name, array.as_ref()).map_err(column_error)?;
    }
    Ok(accumulator.finish(profile, options))
}
