//! Internal events: each struct emits its log line and its metric together,
//! so the two never disagree and no call site forgets one of them.
//!
//! Events are emitted per micro-batch or per closed window, never per record.

use std::fmt::Write as _;

use rdkafka::error::{KafkaError, KafkaResult};

use crate::observe::metrics::Metrics;
use crate::stream::compute::{WindowReport, statistic_name};
use crate::stream::decode::{DecodeCounts, Reject};

/// A micro-batch was decoded and handed on.
#[derive(Debug)]
pub struct BatchDecoded<'a> {
    /// Messages consumed into it.
    pub messages: u64,
    /// Events gathered and rejected.
    pub counts: &'a DecodeCounts,
}

impl BatchDecoded<'_> {
    /// Counts the messages and events; logs rejections at debug level.
    pub fn emit(&self, metrics: &Metrics) {
        metrics.messages_consumed.inc_by(self.messages);
        metrics.events_decoded.inc_by(self.counts.decoded);
        for reason in Reject::ALL {
            let rejected = self.counts.rejected[reason.index()];
            if rejected > 0 {
                metrics.events_rejected.with_label_values(&[reason.as_str()]).inc_by(rejected);
                tracing::debug!(reason = reason.as_str(), rejected, "Events rejected.");
            }
        }
    }
}

/// Events older than the watermark were dropped.
#[derive(Debug)]
pub struct LateEvents<'a> {
    /// The model.
    pub model: &'a str,
    /// How many.
    pub count: u64,
    /// The watermark they missed, ms since the epoch.
    pub watermark_ms: Option<i64>,
}

impl LateEvents<'_> {
    /// Counts them; logs at debug level.
    pub fn emit(&self, metrics: &Metrics) {
        metrics.events_late.with_label_values(&[self.model]).inc_by(self.count);
        tracing::debug!(
            model = self.model,
            late = self.count,
            watermark_ms = self.watermark_ms,
            "Late events dropped."
        );
    }
}

/// A model's window closed and was finished.
#[derive(Debug)]
pub struct WindowClosed<'a> {
    /// Its report.
    pub report: &'a WindowReport,
}

impl WindowClosed<'_> {
    /// Exports the window's series and logs one line.
    pub fn emit(&self, metrics: &Metrics) {
        let r = self.report;
        crate::stream::export::export_window(metrics, r);
        tracing::info!(
            model = &*r.model,
            version = &*r.version,
            start = %format_ms(r.start_ms),
            end = %format_ms(r.end_ms),
            complete = r.complete,
            events = r.rows,
            drifted_features = r.dataset.drifted_columns,
            features = r.dataset.columns,
            dataset_drift = r.dataset.drifted,
            compute_ms = (r.compute_seconds * 1000.0).round() as u64,
            drift = %drift_summary(r, 5),
            "Window closed."
        );
    }
}

/// The Kafka client reported an error.
#[derive(Debug)]
pub struct KafkaClientError<'a> {
    /// The stream.
    pub stream: &'a str,
    /// The error.
    pub error: &'a KafkaError,
    /// What the client was doing.
    pub reason: &'a str,
}

impl KafkaClientError<'_> {
    /// Counts it and logs a warning: the client retries by itself.
    pub fn emit(&self, metrics: &Metrics) {
        metrics.kafka_errors.inc();
        tracing::warn!(
            stream = self.stream,
            error = %self.error,
            reason = self.reason,
            "Kafka client error; it retries by itself."
        );
    }
}

/// Offsets were committed (or the commit failed).
#[derive(Debug)]
pub struct OffsetsCommitted<'a> {
    /// The stream.
    pub stream: &'a str,
    /// Partitions in the commit.
    pub partitions: usize,
    /// The outcome.
    pub result: &'a KafkaResult<()>,
}

impl OffsetsCommitted<'_> {
    /// Records the time of success, or counts and logs the failure (the
    /// next closed window commits again).
    pub fn emit(&self, metrics: &Metrics) {
        match self.result {
            Ok(()) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                metrics.last_commit.set(now);
                tracing::debug!(
                    stream = self.stream,
                    partitions = self.partitions,
                    "Offsets committed."
                );
            }
            Err(error) => {
                metrics.commit_failures.inc();
                tracing::warn!(
                    stream = self.stream,
                    partitions = self.partitions,
                    %error,
                    "Offset commit failed; the next closed window retries."
                );
            }
        }
    }
}

/// A bug: something that validated input should never produce.
#[derive(Debug)]
pub struct InternalError<'a> {
    /// Where.
    pub stage: &'static str,
    /// What.
    pub error: &'a str,
}

impl InternalError<'_> {
    /// Counts and logs it.
    pub fn emit(&self, metrics: &Metrics) {
        metrics.internal_errors.with_label_values(&[self.stage]).inc();
        tracing::error!(
            stage = self.stage,
            error = self.error,
            "Internal error; please report it."
        );
    }
}

/// `2024-05-01T12:00:00Z` for a time in ms since the epoch.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The drifted features, largest deciding score first: `income psi=0.412, ...`;
/// `none` when nothing drifted.
pub fn drift_summary(report: &WindowReport, limit: usize) -> String {
    // A p-value decision is shown with the feature's PSI first, the size of
    // the move, and sorted by it: p-values of large windows all underflow.
    let mut drifted: Vec<(&str, &'static str, f64, bool, Option<f64>)> = report
        .columns
        .iter()
        .filter(|c| c.decision.drifted)
        .filter_map(|c| {
            let score = c.decision.score?;
            let p_value = c.decision.test.is_p_value();
            let psi = c.psi.filter(|_| p_value);
            Some((c.column.as_str(), statistic_name(c.decision.test), score, p_value, psi))
        })
        .collect();
    // Distances: larger is worse; p-values: smaller is worse.
    drifted.sort_by(|a, b| {
        let key = |x: &(&str, &str, f64, bool, Option<f64>)| match (x.3, x.4) {
            (true, Some(psi)) => psi,
            (true, None) => -x.2.ln_1p(),
            (false, _) => x.2,
        };
        key(b).total_cmp(&key(a)).then_with(|| a.0.cmp(b.0))
    });
    if drifted.is_empty() {
        return "none".to_owned();
    }
    let mut text = String::new();
    for (i, (feature, statistic, score, p_value, psi)) in drifted.iter().take(limit).enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        // Below f64's smallest normal number a p-value is 0 to print.
        let p = if *score < 1e-300 { "p<1e-300".to_owned() } else { format!("p={score:.1e}") };
        match (p_value, psi) {
            (true, Some(psi)) => write!(text, "{feature} psi={psi:.3} ({statistic} {p})"),
            (true, None) => write!(text, "{feature} {statistic} {p}"),
            (false, _) => write!(text, "{feature} {statistic}={score:.3}"),
        }
        .ok();
    }
    if drifted.len() > limit {
        write!(text, " (+{} more)", drifted.len() - limit).ok();
    }
    text
}
