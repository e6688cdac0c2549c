//! How one delivery attempt can fail.
//!
//! [`AttemptFailure`] is produced by the webhook delivery loop and reported to the
//! [`DeliveryObserver`](crate::observe::DeliveryObserver). It lives here, apart from
//! both, so that `observe` does not import `webhook` while `webhook` imports `observe`:
//! imports inside this crate run one way. Users name it as
//! `driftgauge_alerting::webhook::AttemptFailure`, where the retry table that it follows
//! is documented.

use std::fmt;
use std::time::Duration;

/// Why one delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptFailure {
    /// The connection could not be made (refused, DNS, TLS handshake).
    Connect {
        /// The client's error chain.
        detail: String,
    },
    /// No complete response within `timeout_ms`.
    Timeout,
    /// The connection failed after it was made (reset, malformed response).
    Transport {
        /// The client's error chain.
        detail: String,
    },
    /// The receiver answered with a non-success status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The parsed `Retry-After`, if any.
        retry_after: Option<Duration>,
        /// The start of the response body, for diagnosis.
        body: String,
    },
    /// The receiver answered with a redirect, which is not followed.
    Redirect {
        /// The HTTP status.
        status: u16,
    },
    /// The message's target is no longer in the configuration.
    TargetRemoved,
    /// The stored body is not JSON, so the target's template cannot be applied.
    InvalidBody {
        /// The parse error.
        detail: String,
    },
}

impl AttemptFailure {
    /// Whether a later attempt might succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout | Self::Transport { .. } => true,
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Redirect { .. } | Self::TargetRemoved | Self::InvalidBody { .. } => false,
        }
    }

    /// The HTTP status, when the receiver answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Redirect { status } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { detail } => write!(f, "connect failed: {detail}"),
            Self::Timeout => f.write_str("request timed out"),
            Self::Transport { detail } => write!(f, "transport error: {detail}"),
            Self::Status { status, retry_after, body } => {
                write!(f, "HTTP {status}")?;
                if let Some(d) = retry_after {
                    write!(f, " (Retry-After {} s)", d.as_secs())?;
                }
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                Ok(())
            }
            Self::Redirect { status } => {
                write!(f, "HTTP {status} redirect not followed; configure the final URL")
            }
            Self::TargetRemoved => f.write_str("target is no longer configured"),
            Self::InvalidBody { detail } => write!(f, "stored body is not JSON: {detail}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_classification() {
        let status =
            |s| AttemptFailure::Status { status: s, retry_after: None, body: String::new() };
        for s in [500, 502, 503, 504, 429, 408] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 410, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(AttemptFailure::Timeout.is_retryable());
        assert!(!AttemptFailure::Redirect { status: 301 }.is_retryable());
        assert_eq!(status(503).to_string(), "HTTP 503");
    }
}
