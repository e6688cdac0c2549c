//! Model quality and fairness slices for `driftgauge check`: computed when the
//! data carries a label and a prediction, on the current file and, when it
//! has the same columns, on the reference file for comparison.

use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessConfig, FairnessReport};
use driftgauge_detectors::quality::{
    BinaryClassificationAccumulator, BinaryClassificationConfig, BinaryClassificationReport,
    PositiveLabel, RegressionAccumulator, RegressionReport,
};
use serde::Serialize;

use crate::batch::error::CheckError;
use crate::batch::input::Table;

/// Which model-quality metrics apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    /// Binary classification: the label is a class, the prediction a class or a score.
    Classification,
    /// Regression: label and prediction are numbers.
    Regression,
}

/// Settings for model quality and fairness.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Ground-truth column.
    pub label: String,
    /// Prediction column: a class, a score in `[0, 1]`, or a number (regression).
    pub prediction: String,
    /// Sensitive attribute columns to slice fairness by.
    pub sensitive: Vec<String>,
    /// The task; inferred when `None` (a floating-point label means regression).
    pub task: Option<Task>,
    /// Positive class and score threshold of binary classification.
    pub classification: BinaryClassificationConfig,
    /// Groups smaller than this are reported but left out of fairness differences.
    pub min_group_size: u64,
}

impl ModelOptions {
    /// Options for `label` and `prediction` with the defaults of the detectors.
    pub fn new(label: String, prediction: String) -> Self {
        Self {
            label,
            prediction,
            sensitive: Vec::new(),
            task: None,
            classification: BinaryClassificationConfig::default(),
            min_group_size: FairnessConfig::default().min_group_size,
        }
    }
}

/// Parses a positive label as written on the command line: `true`/`false`,
/// an integer, or any other text.
pub fn parse_positive_label(text: &str) -> PositiveLabel {
    match text {
        "true" => PositiveLabel::Bool(true),
        "false" => PositiveLabel::Bool(false),
        _ => text.parse().map_or_else(|_| PositiveLabel::Str(text.to_owned()), PositiveLabel::Int),
    }
}

/// Model quality of one file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum Quality {
    /// Binary classification metrics.
    Classification(BinaryClassificationReport),
    /// Regression metrics.
    Regression(RegressionReport),
}

/// Fairness of the current file by one sensitive attribute.
#[derive(Debug, Clone, Serialize)]
pub struct FairnessSlice {
    /// The sensitive attribute column.
    pub attribute: String,
    /// Per-group metrics and the parity differences and ratios.
    #[serde(flatten)]
    pub report: FairnessReport,
}

/// Model quality on both files and fairness on the current one.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// Quality on the reference file, if it has the label and prediction.
    pub reference: Option<Quality>,
    /// Quality on the current file.
    pub current: Quality,
    /// Fairness slices of the current file (classification only).
    pub fairness: Vec<FairnessSlice>,
}

/// Computes the model report.
///
/// # Errors
/// A [`CheckError`] naming the file and the column at fault.
pub fn model_report(
    reference: Option<&Table>,
    current: &Table,
    options: &ModelOptions,
) -> Result<ModelReport, CheckError> {
    let task = match options.task {
        Some(task) => task,
        None if current.data_type(&options.label)?.is_floating() => Task::Regression,
        None => Task::Classification,
    };
    let reference = reference
        .filter(|r| r.data_type(&options.label).is_ok() && r.data_type(&options.prediction).is_ok())
        .map(|r| quality(r, task, options))
        .transpose()?;
    let current_quality = quality(current, task, options)?;
    let mut fairness = Vec::new();
    if task == Task::Classification {
        for attribute in &options.sensitive {
            fairness.push(fairness_slice(current, attribute, options)?);
        }
    }
    Ok(ModelReport { reference, current: current_quality, fairness })
}

fn column_error(table: &Table, source: driftgauge_detectors::Error) -> CheckError {
    CheckError::Column { path: table.path.clone(), source }
}

fn quality(table: &Table, task: Task, options: &ModelOptions) -> Result<Quality, CheckError> {
    let labels = table.column(&options.label)?;
    let predictions = table.column(&options.prediction)?;
    let pairs = labels.iter().zip(&predictions);
    match task {
        Task::Classification => {
            let mut acc = BinaryClassificationAccumulator::new(options.classification.clone())
                .map_err(CheckError::Options)?;
            for (label, prediction) in pairs {
                acc.update(label.as_ref(), prediction.as_ref())
                    .map_err(|e| column_error(table, e))?;
            }
            Ok(Quality::Classification(acc.finish()))
        }
        Task::Regression => {
            let mut acc = RegressionAccumulator::new();
            for (label, prediction) in pairs {
                acc.update(label.as_ref(), prediction.as_ref())
                    .map_err(|e| column_error(table, e))?;
            }
            Ok(Quality::Regression(acc.finish()))
        }
    }
}

fn fairness_slice(
    table: &Table,
    attribute: &str,
    options: &ModelOptions,
) -> Result<FairnessSlice, CheckError> {
    let config = FairnessConfig {
        positive_label: options.classification.positive_label.clone(),
        threshold: options.classification.threshold,
        min_group_size: options.min_group_size,
    };
    let mut acc = FairnessAccumulator::new(config).map_err(CheckError::Options)?;
    let (labels, predictions, groups) = (
        table.column(&options.label)?,
        table.column(&options.prediction)?,
        table.column(attribute)?,
    );
    for ((label, prediction), group) in labels.iter().zip(&predictions).zip(&groups) {
        acc.update(label.as_ref(), prediction.as_ref(), group.as_ref())
            .map_err(|e| column_error(table, e))?;
    }
    Ok(FairnessSlice { attribute: attribute.to_owned(), report: acc.finish() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_labels_parse_as_their_type() {
        assert_eq!(parse_positive_label("1"), PositiveLabel::Int(1));
        assert_eq!(parse_positive_label("true"), PositiveLabel::Bool(true));
        assert_eq!(parse_positive_label("fraud"), PositiveLabel::Str("fraud".into()));
    }
}
