//! The crate's error type.
//!
//! Variants carry structured context so the engine can classify them (see the style
//! guide, §4): [`Error::InvalidConfig`], [`Error::MissingSecret`] and
//! [`Error::InvalidSecret`] are *user* errors (fail fast at start-up);
//! [`Error::Store`] is *external* (the engine's outbox database; retry);
//! [`Error::Verification`] is what a receiver gets for a bad request.

use std::fmt;

/// Errors returned by this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid. Every problem found is listed, not just the first.
    #[error("invalid alerting configuration ({} problem(s)):\n{}", problems.len(), ConfigProblems(problems))]
    InvalidConfig {
        /// Each problem, with the path of the offending field.
        problems: Vec<ConfigProblem>,
    },

    /// The environment variable that should hold the webhook signing secret is unset
    /// or not valid UTF-8.
    #[error("webhook signing secret: environment variable {var} is not set")]
    MissingSecret {
        /// Name of the environment variable.
        var: String,
    },

    /// The signing secret is not `whsec_` followed by base64 of 24 to 64 bytes.
    #[error("webhook signing secret{}: {reason}", source_hint(var.as_deref()))]
    InvalidSecret {
        /// The environment variable it was read from, when it came from one.
        var: Option<String>,
        /// What is wrong with it.
        reason: SecretProblem,
    },

    /// A webhook request failed Standard Webhooks verification.
    #[error("webhook verification failed: {0}")]
    Verification(#[from] VerifyError),

    /// A body template refers to a field the event does not have.
    #[error(
        "body template for {target}: placeholder {{{{{placeholder}}}}} does not name a field of the event"
    )]
    TemplatePlaceholder {
        /// The webhook target (URL) whose template is wrong.
        target: String,
        /// The unknown placeholder path, for example `data.nope`.
        placeholder: String,
    },

    /// The outbox store failed. The engine's SQLite implementation wraps its own error here.
    #[error("outbox store: {operation} failed")]
    Store {
        /// The [`OutboxStore`](crate::outbox::OutboxStore) operation, for example `enqueue`.
        operation: &'static str,
        /// The store's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The HTTP client could not be built (for example, no usable TLS root store).
    #[error("building the HTTP client for {component}")]
    HttpClient {
        /// `webhook` or `alertmanager`.
        component: &'static str,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },

    /// An event or a stored body could not be (de)serialised as JSON.
    #[error("JSON encoding of {what}")]
    Json {
        /// What was being encoded or decoded.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// The background task this handle feeds has stopped (shutdown, or it panicked).
    #[error("{component} delivery task has stopped")]
    Closed {
        /// `webhook` or `alertmanager`.
        component: &'static str,
    },
}

/// A `Result` whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// One configuration problem: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the field, for example `policies.defaults[0].when.k`.
    pub field: String,
    /// What is wrong, as a lower-case phrase.
    pub message: String,
}

impl ConfigProblem {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

struct ConfigProblems<'a>(&'a [ConfigProblem]);

impl fmt::Display for ConfigProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}

fn source_hint(var: Option<&str>) -> String {
    var.map(|v| format!(" from {v}")).unwrap_or_default()
}

/// Collects configuration problems so that all of them are reported at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ConfigProblem>);

impl Problems {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem::new(field, message));
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn into_result(self) -> Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::InvalidConfig { problems: self.0 }) }
    }
}

/// Why a signing secret was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretProblem {
    /// The part after `whsec_` is not base64.
    #[error("not base64 after the whsec_ prefix")]
    NotBase64,
    /// The decoded key is shorter than 24 bytes or longer than 64 bytes.
    #[error("decoded key is {0} bytes; the Standard Webhooks spec asks for 24 to 64")]
    BadLength(usize),
}

/// Why a webhook request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent or empty.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `webhook-id` contains a `.`, which would make the signed content ambiguous.
    #[error("webhook-id must not contain '.'")]
    InvalidId,
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("webhook-timestamp is not integer unix seconds")]
    InvalidTimestamp,
    /// The timestamp is further from the receiver's clock than the tolerance allows.
    #[error("webhook-timestamp is {skew_secs} s from now, beyond the {tolerance_secs} s tolerance")]
    TimestampOutOfTolerance {
        /// Signed difference `timestamp - now`, in seconds.
        skew_secs: i64,
        /// The tolerance in seconds.
        tolerance_secs: u64,
    },
    /// No `v1,` signature in the header matches the body.
    #[error("no matching v1 signature")]
    NoMatchingSignature,
}
