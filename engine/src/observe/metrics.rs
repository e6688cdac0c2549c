//! The metric catalogue: every series the engine exports, on its own
//! [`prometheus::Registry`] (never the global one, so tests can run many
//! engines in one process).
//!
//! Names follow Prometheus conventions: the `driftgauge_` prefix, base units
//! (seconds, ratios), `_total` on counters. Label values come from baselines
//! and configuration (model, version, feature, statistic, attribute) or from
//! small fixed sets (reason, check, metric); fairness groups are capped per
//! attribute by `fairness.max_groups`, so cardinality is bounded. Per-window
//! series are written once per closed window, and the series of a model's
//! previous baseline version are removed when a window of a new version is
//! exported.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Every metric of the engine.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Messages consumed from Kafka.
    pub messages_consumed: IntCounter,
    /// Events decoded and handed to the windows.
    pub events_decoded: IntCounter,
    /// Events (or unreadable messages) rejected, by reason.
    pub events_rejected: IntCounterVec,
    /// Events older than the watermark, by model.
    pub events_late: IntCounterVec,
    /// Kafka lag per partition: log end offset minus committed offset.
    pub consumer_lag: IntGaugeVec,
    /// Errors reported by the Kafka client.
    pub kafka_errors: IntCounter,
    /// Offset commits that failed.
    pub commit_failures: IntCounter,
    /// Rejected messages delivered to their stream's dead-letter topic.
    pub dead_letter_messages: IntCounter,
    /// Rejected messages that could not be copied to the dead-letter topic.
    pub dead_letter_failures: IntCounter,
    /// When offsets were last committed.
    pub last_commit: Gauge,
    /// When the last checkpoint was committed to SQLite.
    pub last_checkpoint: Gauge,
    /// Seconds to take and write one checkpoint.
    pub checkpoint_seconds: Histogram,
    /// Internal errors (bugs), by stage.
    pub internal_errors: IntCounterVec,
    /// Seconds to finish one model's window.
    pub window_compute: Histogram,
    /// End of the last closed window.
    pub window_end: GaugeVec,
    /// Events in the last closed window.
    pub window_events: IntGaugeVec,
    /// Statistic value per feature.
    pub statistic: GaugeVec,
    /// P-value per feature, for tests.
    pub p_value: GaugeVec,
    /// Threshold per feature and statistic.
    pub threshold: GaugeVec,
    /// Drift flag (0/1) per feature and statistic.
    pub drift: GaugeVec,
    /// Whether the statistic is the feature's deciding one (0/1).
    pub deciding: GaugeVec,
    /// A distance's critical value at the window's size and per-feature level.
    pub critical_value: GaugeVec,
    /// Whether the window held too little of the feature for its test (0/1).
    pub insufficient: GaugeVec,
    /// Share of drifted features per model.
    pub dataset_drift_share: GaugeVec,
    /// Dataset drift flag per model.
    pub dataset_drift: GaugeVec,
    /// Data-quality shares per feature.
    pub data_quality: GaugeVec,
    /// Selection rate per attribute and group.
    pub fairness_selection_rate: GaugeVec,
    /// Events per attribute and group.
    pub fairness_group_events: IntGaugeVec,
    /// Disparities per attribute.
    pub fairness_disparity: GaugeVec,
    /// Alerting: rules that fired (retraining requested), by model, rule and severity.
    pub retrain_triggers: IntCounterVec,
    /// Alerting: webhook messages finished, by model, rule and outcome (`delivered`, `failed`).
    pub webhook_deliveries: IntCounterVec,
    /// Alerting: failed webhook attempts that will be retried, by model and rule.
    pub webhook_retries: IntCounterVec,
    /// Alerting: webhook messages in the outbox, not yet delivered, by model and rule.
    pub webhook_pending: IntGaugeVec,
    /// Alerting: seconds from enqueueing a webhook message to its delivery.
    pub webhook_delivery_seconds: Histogram,
    /// Alerting: 1 while a rule is firing for a model, else 0.
    pub alert_firing: IntGaugeVec,
    exported: Mutex<HashMap<String, Series>>,
}

/// Label sets written for one model's current version, to remove on retirement.
#[derive(Debug, Default)]
struct Series {
    version: String,
    model_version: bool,
    features: Vec<[String; 2]>,
    insufficient: Vec<String>,
    quality: Vec<[String; 2]>,
    groups: Vec<[String; 2]>,
    disparities: Vec<[String; 2]>,
}

/// Data-quality checks (the `check` label).
pub const QUALITY_CHECKS: [&str; 3] = ["missing", "out_of_range", "unseen"];

/// Fairness disparities (the `metric` label).
pub const DISPARITIES: [&str; 6] = crate::config::FAIRNESS_METRICS;

const FEATURE: &[&str] = &["model", "version", "feature", "statistic"];
const MODEL: &[&str] = &["model", "version"];

impl Metrics {
    /// A fresh catalogue on its own registry.
    ///
    /// # Panics
    /// Never: names and labels are constants, registered once each.
    pub fn new() -> Self {
        let registry = Registry::new();
        macro_rules! register {
            ($metric:expr) => {{
                let metric = $metric.expect("metric definitions are valid");
                registry.register(Box::new(metric.clone())).expect("metric names are distinct");
                metric
            }};
        }
        let buckets =
            vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
        Self {
            messages_consumed: register!(IntCounter::new(
                "driftgauge_messages_consumed_total",
                "Kafka messages consumed."
            )),
            events_decoded: register!(IntCounter::new(
                "driftgauge_events_decoded_total",
                "Events decoded and handed to the windows."
            )),
            events_rejected: register!(IntCounterVec::new(
                Opts::new(
                    "driftgauge_events_rejected_total",
                    "Events rejected (or messages, when a message cannot be read at all), by reason."
                ),
                &["reason"]
            )),
            events_late: register!(IntCounterVec::new(
                Opts::new(
                    "driftgauge_events_late_total",
                    "Events older than the watermark, counted and dropped, by model."
                ),
                &["model"]
            )),
            consumer_lag: register!(IntGaugeVec::new(
                Opts::new(
                    "driftgauge_kafka_consumer_lag_messages",
                    "Log end offset minus committed offset, per partition."
                ),
                &["topic", "partition"]
            )),
            kafka_errors: register!(IntCounter::new(
                "driftgauge_kafka_errors_total",
                "Errors reported by the Kafka client."
            )),
            commit_failures: register!(IntCounter::new(
                "driftgauge_kafka_commit_failures_total",
                "Offset commits that failed (retried with the next closed window)."
            )),
            dead_letter_messages: register!(IntCounter::new(
                "driftgauge_dead_letter_messages_total",
                "Rejected messages delivered to their stream's dead-letter topic."
            )),
            dead_letter_failures: register!(IntCounter::new(
                "driftgauge_dead_letter_failures_total",
                "Rejected messages not copied to the dead-letter topic (queue full, or delivery failed); dropped."
            )),
            last_commit: register!(Gauge::new(
                "driftgauge_last_commit_timestamp_seconds",
                "When offsets were last committed, seconds since the epoch."
            )),
            last_checkpoint: register!(Gauge::new(
                "driftgauge_last_checkpoint_timestamp_seconds",
                "When window state and offsets were last checkpointed to SQLite, seconds since the epoch."
            )),
            checkpoint_seconds: register!(Histogram::with_opts(
                HistogramOpts::new(
                    "driftgauge_checkpoint_seconds",
                    "Time to snapshot the open windows and commit them with the offsets to SQLite."
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
                ])
            )),
            internal_errors: register!(IntCounterVec::new(
                Opts::new("driftgauge_internal_errors_total", "Internal errors (bugs), by stage."),
                &["stage"]
            )),
            window_compute: register!(Histogram::with_opts(
                HistogramOpts::new(
                    "driftgauge_window_compute_seconds",
                    "Time to finish one model's closed window."
                )
                .buckets(buckets)
            )),
            window_end: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_window_end_timestamp_seconds",
                    "End of the model's last closed window, seconds since the epoch."
                ),
                MODEL
            )),
            window_events: register!(IntGaugeVec::new(
                Opts::new("driftgauge_window_events", "Events in the model's last closed window."),
                MODEL
            )),
            statistic: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_statistic",
                    "Drift statistic of a feature in the last closed window (a distance, or a test statistic)."
                ),
                FEATURE
            )),
            p_value: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_p_value",
                    "P-value of a drift test (ks, chi_square, z)."
                ),
                FEATURE
            )),
            threshold: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_threshold",
                    "Threshold of the statistic: drift at or above it for distances, below it for p-values."
                ),
                FEATURE
            )),
            drift: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_detected",
                    "1 if the statistic crossed its threshold in the last closed window, else 0."
                ),
                FEATURE
            )),
            deciding: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_deciding",
                    "1 for the statistic that decides the feature's drift, else 0."
                ),
                FEATURE
            )),
            critical_value: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_critical_value",
                    "Value of a distance that a window of this size exceeds with the per-feature false-alarm level when nothing drifted."
                ),
                FEATURE
            )),
            insufficient: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_drift_insufficient",
                    "1 if the last closed window held too few values of the feature for its test (no verdict), else 0."
                ),
                &["model", "version", "feature"]
            )),
            dataset_drift_share: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_dataset_drift_share_ratio",
                    "Share of the model's tested features that drifted in the last closed window."
                ),
                MODEL
            )),
            dataset_drift: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_dataset_drift_detected",
                    "1 if the model's last closed window drifted (any feature under the corrected level, or the share rule), 0 if not; absent when no feature could be tested."
                ),
                MODEL
            )),
            data_quality: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_data_quality_ratio",
                    "Share of a feature's values that are missing, out of the baseline range, or unseen categories."
                ),
                &["model", "version", "feature", "check"]
            )),
            fairness_selection_rate: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_fairness_selection_rate_ratio",
                    "Share of a group's events predicted positive."
                ),
                &["model", "version", "attribute", "group"]
            )),
            fairness_group_events: register!(IntGaugeVec::new(
                Opts::new(
                    "driftgauge_fairness_group_events",
                    "Events of a group in the last closed window."
                ),
                &["model", "version", "attribute", "group"]
            )),
            fairness_disparity: register!(GaugeVec::new(
                Opts::new(
                    "driftgauge_fairness_disparity",
                    "Disparity between an attribute's groups (differences and ratios, Fairlearn's definitions)."
                ),
                &["model", "version", "attribute", "metric"]
            )),
            retrain_triggers: register!(IntCounterVec::new(
                Opts::new(
                    "driftgauge_retrain_triggers_total",
                    "Alert rules that fired (a retraining request), by model, rule and severity."
                ),
                &["model", "rule", "severity"]
            )),
            webhook_deliveries: register!(IntCounterVec::new(
                Opts::new(
                    "driftgauge_webhook_deliveries_total",
                    "Webhook messages finished, by outcome: delivered, or failed (a non-retryable response or retries exhausted)."
                ),
                &["model", "rule", "outcome"]
            )),
            webhook_retries: register!(IntCounterVec::new(
                Opts::new(
                    "driftgauge_webhook_retries_total",
                    "Failed webhook attempts that are retried (connection errors, timeouts, 5xx, 408, 429)."
                ),
                &["model", "rule"]
            )),
            webhook_pending: register!(IntGaugeVec::new(
                Opts::new(
                    "driftgauge_webhook_pending",
                    "Webhook messages in the outbox that are not delivered or given up yet."
                ),
                &["model", "rule"]
            )),
            webhook_delivery_seconds: register!(Histogram::with_opts(
                HistogramOpts::new(
                    "driftgauge_webhook_delivery_seconds",
                    "Seconds from storing a webhook message in the outbox to its delivery, retries included."
                )
                .buckets(vec![
                    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
                    3600.0, 21600.0, 43200.0,
                ])
            )),
            alert_firing: register!(IntGaugeVec::new(
                Opts::new(
                    "driftgauge_alert_firing",
                    "1 while an alert rule is firing for a model (between its fire and its resolve), else 0."
                ),
                &["model", "rule", "severity"]
            )),
            exported: Mutex::new(HashMap::new()),
            registry,
        }
    }

    /// The registry, for embedding in another exporter.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition of every series.
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer).ok();
        String::from_utf8(buffer).unwrap_or_default()
    }

    /// Starts writing the series of one closed window of `model`, compared
    /// with baseline `version`. If the model's last window was compared with
    /// another version, that version's series are removed first, so a model
    /// exports one version at a time.
    pub fn window_series(&self, model: &str, version: &str) -> WindowSeries<'_> {
        let mut exported = self.exported.lock().unwrap_or_else(|p| p.into_inner());
        let series = exported.entry(model.to_owned()).or_default();
        if series.model_version && series.version != version {
            self.retire(model, series);
        }
        series.version = version.to_owned();
        series.model_version = true;
        WindowSeries {
            metrics: self,
            model: model.to_owned(),
            version: version.to_owned(),
            exported,
        }
    }

    /// Removes every series of `model`'s previous version.
    fn retire(&self, model: &str, series: &mut Series) {
        let version = series.version.as_str();
        // Removing a series that was never written is harmless.
        for vec in [&self.window_end, &self.dataset_drift_share, &self.dataset_drift] {
            vec.remove_label_values(&[model, version]).ok();
        }
        self.window_events.remove_label_values(&[model, version]).ok();
        for [feature, name] in series.features.drain(..) {
            let labels = [model, version, feature.as_str(), name.as_str()];
            for vec in [
                &self.statistic,
                &self.p_value,
                &self.threshold,
                &self.drift,
                &self.deciding,
                &self.critical_value,
            ] {
                vec.remove_label_values(&labels).ok();
            }
        }
        for feature in series.insufficient.drain(..) {
            self.insufficient.remove_label_values(&[model, version, feature.as_str()]).ok();
        }
        for [feature, check] in series.quality.drain(..) {
            self.data_quality
                .remove_label_values(&[model, version, feature.as_str(), check.as_str()])
                .ok();
        }
        for [attribute, group] in series.groups.drain(..) {
            let labels = [model, version, attribute.as_str(), group.as_str()];
            self.fairness_selection_rate.remove_label_values(&labels).ok();
            self.fairness_group_events.remove_label_values(&labels).ok();
        }
        for [attribute, metric] in series.disparities.drain(..) {
            self.fairness_disparity
                .remove_label_values(&[model, version, attribute.as_str(), metric.as_str()])
                .ok();
        }
    }
}

/// The series of one closed window being written ([`Metrics::window_series`]).
/// Each label set written is remembered, to be removed when the model's
/// baseline version changes.
#[derive(Debug)]
pub struct WindowSeries<'a> {
    metrics: &'a Metrics,
    model: String,
    version: String,
    exported: MutexGuard<'a, HashMap<String, Series>>,
}

impl WindowSeries<'_> {
    fn labels(&mut self) -> (&Metrics, [&str; 2], &mut Series) {
        let series = self.exported.entry(self.model.clone()).or_default();
        (self.metrics, [self.model.as_str(), self.version.as_str()], series)
    }

    /// The window's end (seconds since the epoch), events and dataset verdict
    /// (`None`: no feature could be tested, so the verdict series is removed
    /// rather than left stale).
    pub fn window(
        &mut self,
        end_seconds: f64,
        events: u64,
        drift_share: f64,
        drifted: Option<bool>,
    ) {
        let (m, labels, _) = self.labels();
        m.window_end.with_label_values(&labels).set(end_seconds);
        m.window_events.with_label_values(&labels).set(i64::try_from(events).unwrap_or(i64::MAX));
        m.dataset_drift_share.with_label_values(&labels).set(drift_share);
        match drifted {
            Some(drifted) => {
                m.dataset_drift.with_label_values(&labels).set(f64::from(u8::from(drifted)))
            }
            None => {
                m.dataset_drift.remove_label_values(&labels).ok();
            }
        }
    }

    /// Whether the window was too small for `feature`'s test. When it was,
    /// the verdict series of its deciding statistic is removed: insufficient
    /// is neither drift (1) nor stable (0).
    pub fn insufficient(&mut self, feature: &str, deciding: &str, insufficient: bool) {
        let (m, [model, version], series) = self.labels();
        m.insufficient
            .with_label_values(&[model, version, feature])
            .set(f64::from(u8::from(insufficient)));
        if insufficient {
            m.drift.remove_label_values(&[model, version, feature, deciding]).ok();
        }
        if !series.insufficient.iter().any(|f| f == feature) {
            series.insufficient.push(feature.to_owned());
        }
    }

    /// One statistic of one feature: its value, p-value (tests only),
    /// threshold, verdict, whether it is the feature's deciding one, and its
    /// critical value (distances).
    #[allow(clippy::too_many_arguments)]
    pub fn statistic(
        &mut self,
        feature: &str,
        statistic: &str,
        value: f64,
        p_value: Option<f64>,
        threshold: f64,
        drifted: bool,
        deciding: bool,
        critical_value: Option<f64>,
    ) {
        let (m, [model, version], series) = self.labels();
        let labels = [model, version, feature, statistic];
        m.statistic.with_label_values(&labels).set(value);
        if let Some(p) = p_value {
            m.p_value.with_label_values(&labels).set(p);
        }
        match critical_value.filter(|c| c.is_finite()) {
            Some(c) => m.critical_value.with_label_values(&labels).set(c),
            None => {
                m.critical_value.remove_label_values(&labels).ok();
            }
        }
        m.threshold.with_label_values(&labels).set(threshold);
        m.drift.with_label_values(&labels).set(f64::from(u8::from(drifted)));
        m.deciding.with_label_values(&labels).set(f64::from(u8::from(deciding)));
        remember(&mut series.features, [feature, statistic]);
    }

    /// A data-quality share of one feature (`check` is one of [`QUALITY_CHECKS`]).
    pub fn data_quality(&mut self, feature: &str, check: &str, share: f64) {
        let (m, [model, version], series) = self.labels();
        m.data_quality.with_label_values(&[model, version, feature, check]).set(share);
        remember(&mut series.quality, [feature, check]);
    }

    /// One fairness group's selection rate and events.
    pub fn group(&mut self, attribute: &str, group: &str, selection_rate: f64, events: u64) {
        let (m, [model, version], series) = self.labels();
        let labels = [model, version, attribute, group];
        m.fairness_selection_rate.with_label_values(&labels).set(selection_rate);
        m.fairness_group_events
            .with_label_values(&labels)
            .set(i64::try_from(events).unwrap_or(i64::MAX));
        remember(&mut series.groups, [attribute, group]);
    }

    /// A fairness disparity (`metric` is one of [`DISPARITIES`]); `None` removes
    /// the series, so a disparity that cannot be computed this window is absent
    /// rather than stale.
    pub fn disparity(&mut self, attribute: &str, metric: &str, value: Option<f64>) {
        let (m, [model, version], series) = self.labels();
        let labels = [model, version, attribute, metric];
        match value {
            Some(value) => {
                m.fairness_disparity.with_label_values(&labels).set(value);
                remember(&mut series.disparities, [attribute, metric]);
            }
            None => {
                m.fairness_disparity.remove_label_values(&labels).ok();
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn remember(list: &mut Vec<[String; 2]>, labels: [&str; 2]) {
    if !list.iter().any(|l| l[0] == labels[0] && l[1] == labels[1]) {
        list.push([labels[0].to_owned(), labels[1].to_owned()]);
    }
}
