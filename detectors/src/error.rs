//! The one error type of this crate.

use arrow_schema::DataType;

/// Why a statistic could not be computed. Variants carry structured context
/// (the column, the type) so that the engine can name them in its messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Arrow type of a column cannot be profiled or compared.
    #[error("column `{column}`: type {data_type} is not supported ({reason})")]
    UnsupportedType {
        /// Column name.
        column: String,
        /// The offending Arrow type.
        data_type: DataType,
        /// What is supported instead.
        reason: &'static str,
    },
    /// A current column's kind (numeric or categorical) does not match its baseline.
    #[error(
        "column `{column}`: the baseline profiles it as {expected}, but the current data is {found}"
    )]
    KindMismatch {
        /// Column name.
        column: String,
        /// The kind in the baseline.
        expected: &'static str,
        /// The kind of the current data.
        found: &'static str,
    },
    /// A baseline was written by a format this version does not read.
    #[error(
        "baseline format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedFormatVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// A baseline is internally inconsistent (hand-edited or corrupt).
    #[error("column `{column}`: invalid baseline: {reason}")]
    InvalidBaseline {
        /// Column name.
        column: String,
        /// What is inconsistent.
        reason: String,
    },
    /// A checkpointed window state does not fit the baseline it is restored
    /// against (a different baseline, or a corrupt checkpoint).
    #[error("column `{column}`: window state does not match the baseline: {reason}")]
    InvalidState {
        /// Column name.
        column: String,
        /// What does not match.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidConfig {
        /// The setting's name.
        setting: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// Two arrays that must be aligned row by row have different lengths.
    #[error("`{left}` has {left_len} rows but `{right}` has {right_len}")]
    LengthMismatch {
        /// First array's role.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Second array's role.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// The statistic needs data the input does not provide.
    #[error("column `{column}`: {reason}")]
    NotApplicable {
        /// Column name.
        column: String,
        /// Why the statistic cannot be computed here.
        reason: &'static str,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
