//! Baseline profiles as single JSON files: what `driftgauge baseline fit`
//! writes, and what `check --baseline` and `[[baselines.files]]` read.
//!
//! The registry's tables are the way to keep many versions; a file is the
//! way to hand one profile to a CI job or a process without a database.

use std::path::{Path, PathBuf};

use driftgauge_detectors::baseline::{self, Profile};

/// A profile file that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ProfileFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads and validates a baseline written by `driftgauge baseline fit`.
///
/// The format version is checked before the rest is parsed, so a baseline
/// from a newer driftgauge gets a clear message rather than a parse error.
///
/// # Errors
/// [`ProfileFileError`] naming the file and the reason.
pub fn read_profile(path: &Path) -> Result<Profile, ProfileFileError> {
    let bad = |reason: String| ProfileFileError { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("no `format_version`; is this a driftgauge baseline?".into()))?;
    baseline::check_format_version(u32::try_from(version).unwrap_or(u32::MAX))
        .map_err(|e| bad(e.to_string()))?;
    let profile: Profile =
        serde_json::from_value(value).map_err(|e| bad(format!("invalid baseline: {e}")))?;
    profile.validate().map_err(|e| bad(e.to_string()))?;
    Ok(profile)
}
