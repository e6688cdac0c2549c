//! The registry's error type.
//!
//! Classes (style guide §4): [`Error::Db`] with `TooNew`, and the not-found,
//! exists, conflict and invalid-name variants, are *user* errors: report and
//! stop. [`Error::Sqlite`] is *external* (a busy or failing disk): the
//! streaming engine may retry it. [`Error::CorruptProfile`] is *internal*: the
//! registry only stores profiles it has validated.

use std::path::PathBuf;

use super::db::DbError;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Db(#[from] DbError),

    /// A statement failed.
    #[error("{path}: {operation} failed")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the registry was doing, for example `store profile`.
        operation: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// A model or version name cannot be used.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// `model` or `version`.
        what: &'static str,
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// No such model.
    #[error("model `{model}` is not in the registry")]
    ModelNotFound {
        /// The model name.
        model: String,
    },

    /// No such version of an existing model.
    #[error("model `{model}` has no version `{version}`")]
    VersionNotFound {
        /// The model name.
        model: String,
        /// The version name.
        version: String,
    },

    /// Versions are immutable: storing the same name twice is refused.
    #[error(
        "`{model}/{version}` already exists; versions are immutable, so store the new \
         profile under a new version (or delete this one first)"
    )]
    VersionExists {
        /// The model name.
        model: String,
        /// The version name.
        version: String,
    },

    /// The model has no active version (where one was needed).
    #[error("model `{model}` has no active version; name one (`{model}/VERSION`) or activate one")]
    NoActiveVersion {
        /// The model name.
        model: String,
    },

    /// Deleting the active version was refused.
    #[error(
        "`{model}/{version}` is the active version; activate another version first, or \
         pass --force to delete it and leave `{model}` without an active baseline"
    )]
    DeleteActive {
        /// The model name.
        model: String,
        /// The active version.
        version: String,
    },

    /// A profile failed validation (or has a format this build does not read).
    #[error("profile for `{model}/{version}`")]
    InvalidProfile {
        /// The model name.
        model: String,
        /// The version name.
        version: String,
        /// What the profile check found.
        #[source]
        source: driftgauge_detectors::Error,
    },

    /// A stored or imported profile is not readable JSON of the profile format.
    #[error("profile for `{model}/{version}` is not a readable baseline profile")]
    CorruptProfile {
        /// The model name.
        model: String,
        /// The version name.
        version: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// An export document could not be produced or read.
    #[error("registry export document: {reason}")]
    Document {
        /// What is wrong.
        reason: String,
    },

    /// An import would change existing data; every conflict is listed.
    #[error(
        "import refused, nothing was changed: {} conflict(s) with the registry \
         (pass --replace to overwrite):\n  {}",
        conflicts.len(),
        conflicts.join("\n  ")
    )]
    ImportConflicts {
        /// One line per conflict, naming the model and version.
        conflicts: Vec<String>,
    },
}

/// A `Result` whose error is the registry's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
