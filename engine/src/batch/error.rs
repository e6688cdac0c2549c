//! Why a batch command could not run. Every variant names the file, and
//! where there is one the column, at fault; the CLI maps them to exit code 2.

use std::path::PathBuf;

use crate::batch::input::InputError;

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file could not be read, or lacks a column.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A column could not be profiled or compared.
    #[error("{path}")]
    Column {
        /// The file whose column is at fault.
        path: PathBuf,
        /// What is wrong with the column (the message names it).
        source: driftgauge_detectors::Error,
    },
    /// A baseline file could not be used.
    #[error("{path}: {reason}")]
    Baseline {
        /// The baseline file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An option is invalid.
    #[error("invalid option")]
    Options(#[from] driftgauge_detectors::Error),
    /// Nothing was left to compare.
    #[error("no columns to compare (all were excluded)")]
    NoColumns,
}
