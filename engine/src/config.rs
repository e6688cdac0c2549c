//! The streaming engine's configuration: one TOML file over embedded defaults.
//!
//! Loading has two phases. First the layers are merged as TOML tables
//! (precedence, lowest first: `config/default.toml` embedded in the binary,
//! the user's file, then `DRIFTGAUGE__SECTION__KEY` environment variables)
//! and each section is deserialised on its own with `deny_unknown_fields`, so
//! a typo in one section does not hide the errors of another. Then every
//! section is validated, NaN-aware (`!(x > 0.0)` rejects NaN too), together
//! with the rules that span sections. All errors are returned at once, each
//! naming its key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use driftgauge_alerting::alertmanager::AlertmanagerConfig;
use driftgauge_alerting::policy::PolicyConfig;
use driftgauge_alerting::webhook::WebhookConfig;
use driftgauge_detectors::decision::{Correction, DecisionRule, MinEffect};
use driftgauge_detectors::drift::{DriftOptions, DriftRule, DriftTest};
use driftgauge_detectors::ks::KsMethod;
use driftgauge_detectors::quality::PositiveLabel;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The embedded defaults; every key is documented there.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of environment overrides: `DRIFTGAUGE__SECTION__KEY`.
pub const ENV_PREFIX: &str = "DRIFTGAUGE__";

/// One problem with the configuration, located by its dotted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `window.size_secs`; the file for syntax errors.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found, in file order of sections.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} configuration error{}", if n == 1 { "" } else { "s" })?;
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`. Default `text`.
    pub format: LogFormat,
    /// A tracing filter directive. Default `info`; example `driftgauge_engine=debug,info`.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The HTTP server for `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address, `IP:port` or `host:port`. Default `127.0.0.1:9464`; `0.0.0.0:9464` exposes it.
    pub address: String,
}

/// The Kafka consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers. Default `127.0.0.1:9092`.
    pub brokers: String,
    /// Consumer group. Default `driftgauge`.
    pub group_id: String,
    /// `earliest` or `latest`. Default `earliest`.
    pub auto_offset_reset: String,
    /// librdkafka `session.timeout.ms`. Default 10000.
    pub session_timeout_ms: u64,
    /// librdkafka `auto.commit.interval.ms`: how often stored positions are committed. Default 5000.
    pub commit_interval_ms: u64,
    /// librdkafka `statistics.interval.ms` (consumer lag refresh). Default 5000.
    pub statistics_interval_ms: u64,
    /// Larger payloads are rejected as `oversize`. Default 1 MiB.
    pub max_message_bytes: usize,
    /// librdkafka properties passed through. Default empty.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// librdkafka properties the engine sets itself; `kafka.properties` may not name them.
    pub const RESERVED_PROPERTIES: [&str; 8] = [
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "enable.auto.offset.store",
        "statistics.interval.ms",
        "session.timeout.ms",
        "auto.offset.reset",
    ];

    /// The effective librdkafka properties: the user's passthrough map first,
    /// then the engine's own, so the ones delivery relies on cannot be overridden.
    pub fn client_properties(&self) -> BTreeMap<String, String> {
        let mut properties = self.properties.clone();
        for (key, value) in [
            ("bootstrap.servers", self.brokers.clone()),
            ("group.id", self.group_id.clone()),
            ("session.timeout.ms", self.session_timeout_ms.to_string()),
            ("auto.offset.reset", self.auto_offset_reset.clone()),
            ("statistics.interval.ms", self.statistics_interval_ms.to_string()),
            // NOTE: positions are stored only once the window state holding their
            // events is durable (checkpointed, or exported without checkpoints);
            // librdkafka commits what is stored, periodically and on close.
            ("enable.auto.commit", "true".to_owned()),
            ("auto.commit.interval.ms", self.commit_interval_ms.to_string()),
            ("enable.auto.offset.store", "false".to_owned()),
        ] {
            properties.insert(key.to_owned(), value);
        }
        properties
    }
}

/// The payload format of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// One JSON object per message.
    Json,
    /// An Arrow IPC stream holding one record batch of events per message.
    ArrowIpc,
}

/// Topics read with one payload format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// A name for logs. Default `predictions`.
    pub name: String,
    /// Topics. Default `["predictions"]`.
    pub topics: Vec<String>,
    /// `json` or `arrow_ipc`. Default `json`.
    pub format: PayloadFormat,
    /// Where rejected messages are copied (key, payload and headers, plus
    /// `driftgauge.*` headers naming the reason, the error and the source
    /// position). Absent by default: rejected messages are only counted.
    /// Example `predictions-dead-letter`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
}

/// Where the parts of an event are: dotted JSON paths, or Arrow column names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventConfig {
    /// Model id. Default `model`.
    pub model_field: String,
    /// Model version as sent (informational). Default `model_version`.
    pub version_field: String,
    /// Event time. Default `timestamp`.
    pub time_field: String,
    /// Unit of numeric event times. Default `ms`.
    pub time_unit: TimeUnit,
    /// JSON object of features. Default `features`.
    pub features_field: String,
    /// Prediction score. Default `score`.
    pub score_field: String,
    /// Predicted label. Default `prediction`.
    pub label_field: String,
    /// Ground-truth label, optional in events. Default `actual`.
    pub actual_field: String,
    /// JSON object of sensitive attributes. Default `attributes`.
    pub attributes_field: String,
}

/// Unit of numeric event times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds.
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl TimeUnit {
    /// Converts a count of this unit to milliseconds (truncating toward -inf).
    pub fn to_millis(self, value: i64) -> i64 {
        match self {
            Self::S => value.saturating_mul(1000),
            Self::Ms => value,
            Self::Us => value.div_euclid(1000),
            Self::Ns => value.div_euclid(1_000_000),
        }
    }

    /// Converts a float count of this unit to milliseconds, if finite.
    pub fn float_to_millis(self, value: f64) -> Option<i64> {
        let ms = match self {
            Self::S => value * 1e3,
            Self::Ms => value,
            Self::Us => value / 1e3,
            Self::Ns => value / 1e6,
        };
        // The cast saturates; the bound keeps window arithmetic far from overflow.
        (ms.is_finite() && ms.abs() < 1e17).then(|| ms.floor() as i64)
    }
}

/// Micro-batch bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Events per micro-batch. Default 8192.
    pub max_rows: usize,
    /// Age of a micro-batch's first event when it is handed on. Default 250.
    pub max_delay_ms: u64,
}

/// Window settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// `tumbling` or `hopping`. Default `tumbling`.
    pub kind: WindowKind,
    /// Length. Default 60.
    pub size_secs: u64,
    /// Hopping only: start-to-start distance. Default 0.
    pub slide_secs: u64,
    /// Watermark delay. Default 5.
    pub allowed_lateness_secs: u64,
    /// Quiet time after which the watermark follows the wall clock; 0 disables. Default 0.
    pub idle_timeout_secs: u64,
}

/// Window shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Back-to-back windows of one size.
    Tumbling,
    /// Overlapping windows: a new one every `slide_secs`.
    Hopping,
}

/// Drift settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Deciding statistic of numeric columns. Default `psi`.
    pub numeric_test: DriftTest,
    /// Deciding statistic of categorical columns. Default `psi`.
    pub categorical_test: DriftTest,
    /// Threshold of `numeric_test`; default 0.1 for distances, 0.05 for p-values.
    #[serde(default)]
    pub numeric_threshold: Option<f64>,
    /// Threshold of `categorical_test`; same default.
    #[serde(default)]
    pub categorical_threshold: Option<f64>,
    /// Share of drifted columns at which a model's window drifts. Default 0.5.
    pub drift_share: f64,
    /// PSI and KL smoothing. Default 1e-4.
    pub epsilon: f64,
    /// KS p-value method. Default `auto`.
    pub ks_method: KsMethod,
    /// Statistics exported per feature. Default psi, ks, wasserstein, jensen_shannon, chi_square.
    pub statistics: Vec<DriftTest>,
    /// `corrected` (p-values at a per-feature level keeping the window's
    /// false-alarm rate at `alpha`) or `share` (the tests and thresholds
    /// above, and `drift_share`). Default `corrected`.
    pub decision: DecisionRule,
    /// The false-alarm budget of one window of one model. Default 0.05.
    pub alpha: f64,
    /// `holm` (family-wise) or `benjamini_hochberg` (false discovery). Default `holm`.
    pub correction: Correction,
    /// A distance a drifting feature must also reach; absent by default.
    /// Example `{ statistic = "psi", at_least = 0.1 }`.
    #[serde(default)]
    pub min_effect: Option<MinEffect>,
}

/// Fairness settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessSettings {
    /// Sensitive attributes. Default none.
    pub attributes: Vec<String>,
    /// Groups per attribute with their own series. Default 10.
    pub max_groups: usize,
    /// The positive class. Default 1.
    pub positive_label: PositiveLabel,
    /// Scores at or above are positive. Default 0.5.
    pub threshold: f64,
    /// Smaller groups are left out of disparities. Default 30.
    pub min_group_size: u64,
}

/// A baseline read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    /// Model id as events name it.
    pub model: String,
    /// Version label of the baseline.
    pub version: String,
    /// JSON written by `driftgauge baseline fit`.
    pub path: PathBuf,
}

/// Where baselines come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselinesConfig {
    /// Re-read interval. Default 30.
    pub refresh_secs: u64,
    /// The baseline registry (SQLite file); absent by default. Example `/var/lib/driftgauge/registry.db`.
    #[serde(default)]
    pub registry_path: Option<PathBuf>,
    /// Baseline files, instead of a registry. Default none.
    pub files: Vec<BaselineFile>,
}

/// The compute pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeConfig {
    /// Threads; 0 means one per core. Default 0.
    pub threads: usize,
}

/// Checkpoints of window state and Kafka positions (see [`crate::stream::checkpoint`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Whether to checkpoint at all. Default `true`; with no database (see
    /// `path`) there is nothing to checkpoint into and delivery is at-least-once.
    pub enabled: bool,
    /// How often open windows and positions are checkpointed. Default 5000.
    pub interval_ms: u64,
    /// The SQLite file; absent by default, meaning the baseline registry's
    /// file (`baselines.registry_path`). Example `/var/lib/driftgauge/engine.db`.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// Alert policies and their delivery (`[alerting]`): retraining webhooks and,
/// optionally, Alertmanager. Every key is documented in `config/default.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// The SQLite file holding the webhook outbox and the policies' state (cooldowns,
    /// hysteresis, K-of-N history). Default: the registry file (`baselines.registry_path`);
    /// required when webhooks are configured without a registry. `":memory:"` keeps both
    /// in memory, lost on restart (the demo). Example `/var/lib/driftgauge/driftgauge.db`.
    #[serde(default)]
    pub database_path: Option<PathBuf>,
    /// Dashboard link put in every event, with `{model}`, `{version}`, `{start_ms}` and
    /// `{end_ms}` replaced. Default none. Example
    /// `https://grafana.example.com/d/driftgauge?var-model={model}&from={start_ms}&to={end_ms}`.
    #[serde(default)]
    pub dashboard_url: Option<String>,
    /// Windows with fewer events are not evaluated. Default 30: under the corrected
    /// decision a feature with fewer than 30 values is insufficient, so a smaller window
    /// decides nothing; larger ones are tested at the false-alarm budget already.
    #[serde(default = "default_min_window_events")]
    pub min_window_events: u64,
    /// The rules (`[[alerting.policies.defaults]]`, `[[alerting.policies.models.NAME.rules]]`).
    #[serde(default)]
    pub policies: PolicyConfig,
    /// Webhook delivery (`[alerting.webhook]`, `[[alerting.webhook.targets]]`). Default: no targets.
    #[serde(default)]
    pub webhook: WebhookConfig,
    /// Alertmanager push (`[alerting.alertmanager]`). Default: off.
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
}

const fn default_min_window_events() -> u64 {
    driftgauge_detectors::decision::MIN_ROWS
}

/// Placeholders of `alerting.dashboard_url`.
pub const DASHBOARD_PLACEHOLDERS: [&str; 4] = ["model", "version", "start_ms", "end_ms"];

/// Event-time window shape, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length in milliseconds.
    pub size_ms: i64,
    /// Start-to-start distance in milliseconds (`size_ms` for tumbling windows).
    pub slide_ms: i64,
    /// Watermark delay in milliseconds.
    pub allowed_lateness_ms: i64,
    /// Quiet time after which the watermark follows the wall clock.
    pub idle_timeout: Option<Duration>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Log output.
    pub log: LogConfig,
    /// The metrics server's address.
    pub server_address: SocketAddr,
    /// The Kafka consumer.
    pub kafka: KafkaConfig,
    /// Streams.
    pub streams: Vec<StreamConfig>,
    /// Event field names.
    pub event: EventConfig,
    /// Micro-batch bounds.
    pub batch: BatchConfig,
    /// Windows.
    pub window: WindowSpec,
    /// How drift is decided.
    pub drift: DriftOptions,
    /// Statistics exported per feature (deciding ones included).
    pub statistics: Vec<DriftTest>,
    /// Fairness.
    pub fairness: FairnessSettings,
    /// Baselines.
    pub baselines: BaselinesConfig,
    /// The compute pool.
    pub compute: ComputeConfig,
    /// Checkpoints.
    pub checkpoint: CheckpointConfig,
    /// Alert policies, retraining webhooks and Alertmanager.
    pub alerting: AlertingConfig,
}

impl Config {
    /// The defaults alone (as `load` with no file and no environment).
    ///
    /// # Panics
    /// Never in a released build: the embedded defaults are tested to load.
    pub fn defaults() -> Self {
        match Self::from_layers(None, std::iter::empty()) {
            Ok(config) => config,
            Err(errors) => panic!("the embedded defaults are invalid: {errors}"),
        }
    }

    /// Loads `path` over the defaults, with the process environment's overrides.
    ///
    /// # Errors
    /// Every problem found, each with its key.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigErrors> {
        let file = match path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => Some((path.display().to_string(), text)),
                Err(error) => {
                    return Err(ConfigErrors(vec![ConfigError {
                        key: path.display().to_string(),
                        message: format!("cannot read: {error}"),
                    }]));
                }
            },
            None => None,
        };
        Self::from_layers(
            file.as_ref().map(|(name, text)| (name.as_str(), text.as_str())),
            std::env::vars(),
        )
    }

    /// Loads from a file's text (named `name` in errors) and `env` overrides.
    ///
    /// # Errors
    /// Every problem found, each with its key.
    pub fn from_layers(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let mut table: toml::Table = match toml::from_str(DEFAULT_TOML) {
            Ok(table) => table,
            Err(error) => {
                return Err(ConfigErrors(vec![ConfigError {
                    key: "(embedded defaults)".into(),
                    message: error.to_string(),
                }]));
            }
        };
        if let Some((name, text)) = file {
            match toml::from_str::<toml::Table>(text) {
                Ok(user) => merge(&mut table, user),
                Err(error) => {
                    errors.push(ConfigError {
                        key: name.to_owned(),
                        message: error.to_string().trim_end().to_owned(),
                    });
                    return Err(ConfigErrors(errors));
                }
            }
        }
        let overrides = apply_env(&mut table, env, &mut errors);
        let mut take =
            |key: &str| table.remove(key).unwrap_or(toml::Value::Table(toml::Table::new()));
        let log: Option<LogConfig> = section("log", take("log"), &mut errors);
        let server: Option<ServerConfig> = section("server", take("server"), &mut errors);
        let kafka: Option<KafkaConfig> = section("kafka", take("kafka"), &mut errors);
        let streams: Option<Vec<StreamConfig>> = section(
            "streams",
            table.remove("streams").unwrap_or(toml::Value::Array(Vec::new())),
            &mut errors,
        );
        let mut take =
            |key: &str| table.remove(key).unwrap_or(toml::Value::Table(toml::Table::new()));
        let event: Option<EventConfig> = section("event", take("event"), &mut errors);
        let batch: Option<BatchConfig> = section("batch", take("batch"), &mut errors);
        let window: Option<WindowConfig> = section("window", take("window"), &mut errors);
        let drift: Option<DriftConfig> = section("drift", take("drift"), &mut errors);
        let fairness: Option<FairnessSettings> = section("fairness", take("fairness"), &mut errors);
        let baselines: Option<BaselinesConfig> =
            section("baselines", take("baselines"), &mut errors);
        let compute: Option<ComputeConfig> = section("compute", take("compute"), &mut errors);
        let checkpoint: Option<CheckpointConfig> =
            section("checkpoint", take("checkpoint"), &mut errors);
        let alerting: Option<AlertingConfig> = section("alerting", take("alerting"), &mut errors);
        for key in table.keys() {
            errors.push(ConfigError { key: key.clone(), message: "unknown section".into() });
        }

        let mut check = Checker { errors: &mut errors };
        let server_address = server.and_then(|s| match resolve_address(&s.address) {
            Ok(address) => Some(address),
            Err(message) => {
                check.fail("server.address", message);
                None
            }
        });
        if let Some(log) = &log {
            if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log.level) {
                check.fail("log.level", format!("`{}` is not a tracing filter: {e}", log.level));
            }
        }
        if let Some(kafka) = &kafka {
            check.non_empty("kafka.brokers", &kafka.brokers);
            check.non_empty("kafka.group_id", &kafka.group_id);
            if !matches!(kafka.auto_offset_reset.as_str(), "earliest" | "latest") {
                check.fail(
                    "kafka.auto_offset_reset",
                    format!("`{}` is neither `earliest` nor `latest`", kafka.auto_offset_reset),
                );
            }
            if !(1000..=3_600_000).contains(&kafka.session_timeout_ms) {
                check.fail("kafka.session_timeout_ms", "must be between 1000 and 3600000".into());
            }
            if kafka.commit_interval_ms == 0 {
                check.fail("kafka.commit_interval_ms", "must be positive".into());
            }
            if kafka.max_message_bytes == 0 {
                check.fail("kafka.max_message_bytes", "must be positive".into());
            }
            for key in kafka.properties.keys() {
                if KafkaConfig::RESERVED_PROPERTIES.contains(&key.as_str()) {
                    check.fail(
                        &format!("kafka.properties.\"{key}\""),
                        "is set by the engine (see [kafka]); remove it".into(),
                    );
                }
            }
        }
        if let Some(streams) = &streams {
            if streams.is_empty() {
                check.fail("streams", "at least one stream is needed".into());
            }
            let mut seen = std::collections::HashSet::new();
            for (i, stream) in streams.iter().enumerate() {
                if stream.topics.is_empty() {
                    check.fail(&format!("streams[{i}].topics"), "no topics".into());
                }
                for topic in &stream.topics {
                    check.non_empty(&format!("streams[{i}].topics"), topic);
                    if !seen.insert(topic.clone()) {
                        check.fail(
                            &format!("streams[{i}].topics"),
                            format!("topic `{topic}` is in more than one stream"),
                        );
                    }
                }
            }
            for (i, stream) in streams.iter().enumerate() {
                let Some(topic) = &stream.dead_letter_topic else { continue };
                let key = format!("streams[{i}].dead_letter_topic");
                check.non_empty(&key, topic);
                // Reading its own rejects back would loop them forever.
                if seen.contains(topic) {
                    check.fail(&key, format!("`{topic}` is a topic the engine consumes"));
                }
            }
        }
        if let Some(event) = &event {
            check.non_empty("event.model_field", &event.model_field);
            check.non_empty("event.time_field", &event.time_field);
        }
        if let Some(batch) = &batch {
            if batch.max_rows == 0 {
                check.fail("batch.max_rows", "must be positive".into());
            }
            if batch.max_delay_ms == 0 {
                check.fail("batch.max_delay_ms", "must be positive".into());
            }
        }
        let window = window.and_then(|w| window_spec(&w, &mut check));
        if let (Some(window), Some(batch)) = (&window, &batch) {
            // A micro-batch older than a window would hold every window open
            // until it is handed on; keep batching well inside a window.
            if batch.max_delay_ms as i64 >= window.size_ms {
                check.fail(
                    "batch.max_delay_ms",
                    format!("must be shorter than the window ({} ms)", window.size_ms),
                );
            }
        }
        let drift_pair = drift.and_then(|d| drift_options(&d, &mut check));
        if let Some(fairness) = &fairness {
            if !(fairness.threshold >= 0.0 && fairness.threshold <= 1.0) {
                check
                    .fail("fairness.threshold", format!("{} is not in [0, 1]", fairness.threshold));
            }
            if fairness.max_groups == 0 {
                check.fail("fairness.max_groups", "must be positive".into());
            }
            for attribute in &fairness.attributes {
                check.non_empty("fairness.attributes", attribute);
            }
        }
        if let Some(baselines) = &baselines {
            if baselines.refresh_secs == 0 {
                check.fail("baselines.refresh_secs", "must be positive".into());
            }
            if baselines.registry_path.is_some() && !baselines.files.is_empty() {
                check.fail(
                    "baselines.files",
                    "set either baselines.registry_path or baselines.files, not both".into(),
                );
            }
            let mut seen = std::collections::HashSet::new();
            for (i, file) in baselines.files.iter().enumerate() {
                check.non_empty(&format!("baselines.files[{i}].model"), &file.model);
                check.non_empty(&format!("baselines.files[{i}].version"), &file.version);
                if !seen.insert(file.model.clone()) {
                    check.fail(
                        &format!("baselines.files[{i}].model"),
                        format!("model `{}` has more than one baseline file", file.model),
                    );
                }
            }
        }
        if let Some(checkpoint) = &checkpoint {
            if !(100..=3_600_000).contains(&checkpoint.interval_ms) {
                check.fail(
                    "checkpoint.interval_ms",
                    "must be between 100 and 3600000 (one hour)".into(),
                );
            }
            if checkpoint.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                check.fail("checkpoint.path", "must not be empty (leave it out instead)".into());
            }
        }

        if let Some(alerting) = &alerting {
            check_alerting(alerting, baselines.as_ref(), &mut check);
            check_rule_names(&alerting.policies, fairness.as_ref(), &mut check);
        }

        match (
            log,
            server_address,
            kafka,
            streams,
            event,
            batch,
            window,
            drift_pair,
            fairness,
            baselines,
            compute,
            checkpoint,
            alerting,
        ) {
            (
                Some(log),
                Some(server_address),
                Some(kafka),
                Some(streams),
                Some(event),
                Some(batch),
                Some(window),
                Some((drift, statistics)),
                Some(fairness),
                Some(baselines),
                Some(compute),
                Some(checkpoint),
                Some(alerting),
            ) if errors.is_empty() => Ok(Self {
                log,
                server_address,
                kafka,
                streams,
                event,
                batch,
                window,
                drift,
                statistics,
                fairness,
                baselines,
                compute,
                checkpoint,
                alerting,
            }),
            _ => {
                attribute_env(&mut errors, &overrides);
                Err(ConfigErrors(errors))
            }
        }
    }

    /// The database checkpoints are written to: `checkpoint.path`, else the
    /// baseline registry's file; `None` when checkpoints are disabled or there
    /// is no database.
    pub fn checkpoint_path(&self) -> Option<&Path> {
        if !self.checkpoint.enabled {
            return None;
        }
        self.checkpoint.path.as_deref().or(self.baselines.registry_path.as_deref())
    }

    /// The database of the webhook outbox and the alert policies' state:
    /// `alerting.database_path`, else the baseline registry's file.
    pub fn alerting_database_path(&self) -> Option<&Path> {
        self.alerting.database_path.as_deref().or(self.baselines.registry_path.as_deref())
    }

    /// The effective librdkafka properties of this configuration, secrets masked,
    /// for logs and `config check`.
    pub fn masked_kafka_properties(&self) -> BTreeMap<String, String> {
        self.kafka
            .client_properties()
            .into_iter()
            .map(|(key, value)| {
                let value = if is_secret_property(&key) { SECRET_MASK.to_owned() } else { value };
                (key, value)
            })
            .collect()
    }
}

/// What stands for a secret's value wherever a value would be shown.
pub const SECRET_MASK: &str = "********";

/// Whether the librdkafka property `key` may hold a secret: its value is never
/// shown, neither in logs and `config check` nor in a client's errors.
/// File locations (`ssl.key.location`) are not secret; an inline
/// `sasl.oauthbearer.config` may carry credentials and is.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "key", "sasl.oauthbearer.config", "sasl.jaas"]
        .iter()
        .any(|word| key.contains(word) && !key.ends_with(".location"))
}

struct Checker<'a> {
    errors: &'a mut Vec<ConfigError>,
}

impl Checker<'_> {
    fn fail(&mut self, key: &str, message: String) {
        self.errors.push(ConfigError { key: key.to_owned(), message });
    }

    fn non_empty(&mut self, key: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(key, "must not be empty".into());
        }
    }
}

/// Reads section `name`. serde stops at a section's first bad key; so that one
/// error does not hide another in the same section, the bad key is taken out
/// and the rest read again, until the section reads or no key can be blamed.
fn section<T: DeserializeOwned>(
    name: &str,
    mut value: toml::Value,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let mut blamed = false;
    // A section has a few dozen keys at most.
    for _ in 0..64 {
        let error = match value.clone().try_into::<T>() {
            Ok(parsed) => return (!blamed).then_some(parsed),
            Err(error) => error,
        };
        let message = error.to_string().trim_end().replace('\n', " ");
        let culprit = blamed_key(&message)
            .filter(|key| value.as_table().is_some_and(|table| table.contains_key(key.as_str())));
        match culprit {
            Some(key) => {
                if let Some(table) = value.as_table_mut() {
                    table.remove(&key);
                }
                errors.push(ConfigError { key: format!("{name}.{key}"), message });
                blamed = true;
            }
            None => {
                errors.push(ConfigError { key: name.to_owned(), message });
                return None;
            }
        }
    }
    None
}

/// The key a deserialization error is about: "unknown field `x`" or "... in `x`".
fn blamed_key(message: &str) -> Option<String> {
    let quoted = |text: &str| {
        let rest = text.strip_prefix('`')?;
        rest.find('`').map(|end| rest[..end].to_owned())
    };
    if let Some(at) = message.find("unknown field ") {
        return quoted(&message[at + "unknown field ".len()..]);
    }
    message.rfind(" in `").and_then(|at| quoted(&message[at + 4..]))
}

/// The `[alerting]` rules that need no network or secret: policies (every rule
/// problem), the dashboard link's placeholders, and where the outbox lives. Webhook
/// targets and secrets are checked when the engine starts (`alerts::Alerting::start`).
fn check_alerting(
    alerting: &AlertingConfig,
    baselines: Option<&BaselinesConfig>,
    check: &mut Checker<'_>,
) {
    if let Err(driftgauge_alerting::Error::InvalidConfig { problems }) =
        driftgauge_alerting::policy::PolicyEngine::new(&alerting.policies)
    {
        for problem in problems {
            check.fail(&format!("alerting.{}", problem.field), problem.message);
        }
    }
    if let Some(url) = &alerting.dashboard_url {
        let mut rest = url.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                check.fail("alerting.dashboard_url", "has a `{` without a closing `}`".into());
                break;
            };
            let name = &rest[open + 1..open + close];
            if !DASHBOARD_PLACEHOLDERS.contains(&name) {
                check.fail(
                    "alerting.dashboard_url",
                    format!(
                        "unknown placeholder `{{{name}}}` (known: {})",
                        DASHBOARD_PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                    ),
                );
            }
            rest = &rest[open + close + 1..];
        }
    }
    if alerting.database_path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        check.fail("alerting.database_path", "must not be empty (leave it out instead)".into());
    }
    let registry = baselines.and_then(|b| b.registry_path.as_ref());
    if !alerting.webhook.targets.is_empty()
        && alerting.database_path.is_none()
        && registry.is_none()
    {
        check.fail(
            "alerting.database_path",
            "webhook targets need a database for their outbox: set alerting.database_path \
             (or baselines.registry_path, which is then used)"
                .into(),
        );
    }
}

/// The model-quality metrics a `quality` rule may name: those of a binary
/// classifier and of a regressor.
pub const QUALITY_METRICS: [&str; 11] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "positive_rate",
    "roc_auc",
    "log_loss",
    "mae",
    "rmse",
    "mape",
    "r2",
];

/// The fairness disparities a `fairness` rule may name, alone (the worst over
/// the sensitive attributes) or as `<attribute>.<metric>`.
pub const FAIRNESS_METRICS: [&str; 6] = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
];

/// Rules naming a statistic or metric that does not exist (`psii`,
/// `acuracy`) would never fire; they are configuration errors, with the
/// closest name suggested.
fn check_rule_names(
    policies: &PolicyConfig,
    fairness: Option<&FairnessSettings>,
    check: &mut Checker<'_>,
) {
    use driftgauge_alerting::policy::Condition;
    let statistics: Vec<String> = [
        DriftTest::Psi,
        DriftTest::Kl,
        DriftTest::JensenShannon,
        DriftTest::Hellinger,
        DriftTest::Wasserstein,
        DriftTest::Ks,
        DriftTest::ChiSquare,
        DriftTest::Z,
    ]
    .iter()
    .filter_map(|test| toml::Value::try_from(test).ok())
    .filter_map(|value| value.as_str().map(str::to_owned))
    .collect();
    let attributes = fairness.map_or(&[][..], |f| f.attributes.as_slice());
    let rules = policies.defaults.iter().enumerate().map(|(i, r)| (format!("defaults[{i}]"), r));
    let model_rules = policies.models.iter().flat_map(|(model, policy)| {
        policy.rules.iter().enumerate().map(move |(i, r)| (format!("models.{model}.rules[{i}]"), r))
    });
    for (at, rule) in rules.chain(model_rules) {
        let key = format!("alerting.policies.{at}.when");
        match &rule.when {
            // An empty name is the policy check's error already.
            Condition::FeatureDrift(c)
                if !c.statistic.is_empty() && !statistics.contains(&c.statistic) =>
            {
                let known: Vec<&str> = statistics.iter().map(String::as_str).collect();
                check.fail(
                    &format!("{key}.statistic"),
                    unknown_name("statistic", &c.statistic, &known),
                );
            }
            Condition::Quality(c)
                if !c.metric.is_empty() && !QUALITY_METRICS.contains(&c.metric.as_str()) =>
            {
                check.fail(
                    &format!("{key}.metric"),
                    unknown_name("quality metric", &c.metric, &QUALITY_METRICS),
                );
            }
            Condition::Fairness(c) if !c.metric.is_empty() => {
                let (attribute, metric) = match c.metric.split_once('.') {
                    Some((attribute, metric)) => (Some(attribute), metric),
                    None => (None, c.metric.as_str()),
                };
                if !FAIRNESS_METRICS.contains(&metric) {
                    check.fail(
                        &format!("{key}.metric"),
                        unknown_name("fairness metric", metric, &FAIRNESS_METRICS),
                    );
                } else if let Some(attribute) =
                    attribute.filter(|a| !attributes.iter().any(|x| x == a))
                {
                    check.fail(
                        &format!("{key}.metric"),
                        format!(
                            "`{attribute}` is not one of fairness.attributes ({})",
                            attributes.join(", ")
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

/// "unknown statistic `psii` (did you mean `psi`?); known: ..."
fn unknown_name(what: &str, name: &str, known: &[&str]) -> String {
    let closest = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .min()
        .filter(|(distance, _)| *distance <= 2);
    let hint = closest.map(|(_, k)| format!(" (did you mean `{k}`?)")).unwrap_or_default();
    format!("unknown {what} `{name}`{hint}; known: {}", known.join(", "))
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn window_spec(w: &WindowConfig, check: &mut Checker<'_>) -> Option<WindowSpec> {
    let before = check.errors.len();
    if w.size_secs == 0 {
        check.fail("window.size_secs", "must be positive".into());
    }
    let slide_secs = match w.kind {
        WindowKind::Tumbling => {
            if w.slide_secs != 0 && w.slide_secs != w.size_secs {
                check.fail(
                    "window.slide_secs",
                    "applies to hopping windows only (set kind = \"hopping\")".into(),
                );
            }
            w.size_secs
        }
        WindowKind::Hopping => {
            if w.slide_secs == 0 || w.slide_secs > w.size_secs {
                check.fail("window.slide_secs", "must be positive and at most size_secs".into());
            } else if w.size_secs % w.slide_secs != 0 {
                check.fail(
                    "window.slide_secs",
                    format!("must divide size_secs ({}) evenly", w.size_secs),
                );
            } else if w.size_secs / w.slide_secs > 60 {
                check.fail(
                    "window.slide_secs",
                    "at most 60 windows may overlap (size_secs / slide_secs)".into(),
                );
            }
            w.slide_secs
        }
    };
    if w.allowed_lateness_secs > 7 * 24 * 3600 {
        check.fail("window.allowed_lateness_secs", "must be at most a week".into());
    }
    (check.errors.len() == before).then(|| WindowSpec {
        size_ms: w.size_secs as i64 * 1000,
        slide_ms: slide_secs as i64 * 1000,
        allowed_lateness_ms: w.allowed_lateness_secs as i64 * 1000,
        idle_timeout: (w.idle_timeout_secs > 0).then(|| Duration::from_secs(w.idle_timeout_secs)),
    })
}

fn drift_options(
    d: &DriftConfig,
    check: &mut Checker<'_>,
) -> Option<(DriftOptions, Vec<DriftTest>)> {
    let before = check.errors.len();
    let rule = |test: DriftTest, threshold: Option<f64>| DriftRule {
        test,
        threshold: threshold.unwrap_or(test.default_threshold()),
    };
    let options = DriftOptions {
        epsilon: d.epsilon,
        ks_method: d.ks_method,
        numeric_rule: rule(d.numeric_test, d.numeric_threshold),
        categorical_rule: rule(d.categorical_test, d.categorical_threshold),
        drift_share: d.drift_share,
        decision: d.decision,
        alpha: d.alpha,
        correction: d.correction,
        min_effect: d.min_effect,
    };
    if !(d.alpha > 0.0 && d.alpha < 1.0) {
        check.fail("drift.alpha", format!("{} is not in (0, 1)", d.alpha));
    }
    if let Some(effect) = d.min_effect {
        if effect.statistic.is_p_value() {
            check.fail(
                "drift.min_effect.statistic",
                "must be a distance: psi, kl, jensen_shannon, hellinger or wasserstein".into(),
            );
        }
        if !(effect.at_least >= 0.0 && effect.at_least.is_finite()) {
            check.fail(
                "drift.min_effect.at_least",
                format!("{} must be finite and non-negative", effect.at_least),
            );
        }
    }
    if !(d.epsilon > 0.0 && d.epsilon < 1.0) {
        check.fail("drift.epsilon", format!("{} is not in (0, 1)", d.epsilon));
    }
    if !(d.drift_share > 0.0 && d.drift_share <= 1.0) {
        check.fail("drift.drift_share", format!("{} is not in (0, 1]", d.drift_share));
    }
    if d.numeric_test == DriftTest::Z {
        check.fail("drift.numeric_test", "the Z-test applies to categorical columns only".into());
    }
    if matches!(d.categorical_test, DriftTest::Ks | DriftTest::Wasserstein) {
        check.fail(
            "drift.categorical_test",
            "KS and Wasserstein apply to numeric columns only".into(),
        );
    }
    for (key, threshold) in [
        ("drift.numeric_threshold", d.numeric_threshold),
        ("drift.categorical_threshold", d.categorical_threshold),
    ] {
        if let Some(t) = threshold {
            if !(t >= 0.0 && t.is_finite()) {
                check.fail(key, format!("{t} must be finite and non-negative"));
            }
        }
    }
    let mut statistics = Vec::new();
    // The statistics that decide are always exported: the share rule's
    // configured tests, or the corrected rule's KS and pooled chi-square,
    // and the minimum effect's distance.
    let deciding = match d.decision {
        DecisionRule::Share => [d.numeric_test, d.categorical_test],
        DecisionRule::Corrected => [DriftTest::Ks, DriftTest::ChiSquareContingency],
    };
    let effect = d.min_effect.map(|e| e.statistic);
    for test in d.statistics.iter().chain(&deciding).chain(effect.iter()) {
        if !statistics.contains(test) {
            statistics.push(*test);
        }
    }
    (check.errors.len() == before).then_some((options, statistics))
}

/// Merges `overlay` into `base`: tables key by key, everything else replaced.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(overlay)) => merge(base, overlay),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `DRIFTGAUGE__SECTION__KEY=value` overrides. A value replacing a
/// string stays a string; any other is read as a TOML value (`300`, `true`,
/// `["a", "b"]`), falling back to a string.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, String)> {
    let mut overrides: Vec<(String, String)> =
        env.into_iter().filter(|(name, _)| name.starts_with(ENV_PREFIX)).collect();
    overrides.sort();
    let mut applied = Vec::new();
    for (name, raw) in overrides {
        let mut keys: Vec<String> =
            name[ENV_PREFIX.len()..].split("__").map(str::to_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            errors.push(ConfigError { key: name, message: "empty key segment".into() });
            continue;
        }
        // librdkafka names use dots, which environment names cannot hold.
        if keys.len() == 3 && keys[0] == "kafka" && keys[1] == "properties" {
            keys[2] = keys[2].replace('_', ".");
        }
        let properties = keys.len() == 3 && keys[1] == "properties";
        match set_path(table, &keys, raw, properties) {
            Ok(()) => applied.push((keys.join("."), name)),
            Err(message) => errors.push(ConfigError { key: name, message }),
        }
    }
    applied
}

/// Sets `keys` (a dotted path) in `table` to `raw`, typed as described on [`apply_env`].
fn set_path(
    table: &mut toml::Table,
    keys: &[String],
    raw: String,
    string: bool,
) -> Result<(), String> {
    match keys {
        [] => Ok(()),
        [last] => {
            let value = match table.get(last) {
                Some(toml::Value::String(_)) => toml::Value::String(raw),
                _ if string => toml::Value::String(raw),
                _ => parse_value(&raw).unwrap_or(toml::Value::String(raw)),
            };
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, raw, string),
                _ => Err(format!("`{first}` is not a section")),
            }
        }
    }
}

/// `address` as a socket address: an IP and port (`0.0.0.0:9464`, `[::1]:9464`)
/// or a host name and port (`localhost:9464`), resolved once, to its first
/// address.
fn resolve_address(address: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(address) = address.parse::<SocketAddr>() {
        return Ok(address);
    }
    if address
        .rsplit_once(':')
        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "`{address}` is not host:port (for example `127.0.0.1:9464` or `localhost:9464`)"
        ));
    }
    match address.to_socket_addrs() {
        Ok(mut found) => {
            found.next().ok_or_else(|| format!("`{address}`: the host has no address"))
        }
        Err(e) => Err(format!("`{address}`: cannot resolve the host: {e}")),
    }
}

/// Renames each error an environment override caused after its variable: the
/// value came from there, not from the file. `overrides` holds each variable
/// and the dotted key it set. A whole-section error (serde's, keyed by the
/// section) is the variable's when it names the variable's key.
fn attribute_env(errors: &mut [ConfigError], overrides: &[(String, String)]) {
    for error in errors {
        let culprit = overrides.iter().find(|(key, _)| {
            if error.key == *key || error.key.starts_with(&format!("{key}.")) {
                return true;
            }
            let Some((section, leaf)) = key.rsplit_once('.') else { return false };
            (error.key == section || key.starts_with(&format!("{}.", error.key)))
                && error.message.contains(&format!("`{leaf}`"))
        });
        if let Some((key, variable)) = culprit {
            error.key = format!("{variable} (sets {key})");
        }
    }
}

fn parse_value(raw: &str) -> Option<toml::Value> {
    let mut table: toml::Table = toml::from_str(&format!("v = {raw}")).ok()?;
    table.remove("v")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        Config::from_layers(
            Some(("test.toml", text)),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_load() {
        let config = Config::defaults();
        assert_eq!(config.server_address.to_string(), "127.0.0.1:9464");
        assert_eq!(config.window.size_ms, 60_000);
        assert_eq!(config.streams[0].format, PayloadFormat::Json);
        assert!(config.statistics.contains(&DriftTest::Psi));
    }

    #[test]
    fn file_then_env_override_defaults() {
        let config = load(
            "[window]\nsize_secs = 10\n[kafka]\nbrokers = \"a:1\"\n",
            &[
                ("DRIFTGAUGE__WINDOW__SIZE_SECS", "20"),
                ("DRIFTGAUGE__KAFKA__PROPERTIES__SASL_PASSWORD", "hunter2"),
                ("DRIFTGAUGE__KAFKA__GROUP_ID", "123"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        assert_eq!(config.window.size_ms, 20_000);
        assert_eq!(config.kafka.brokers, "a:1");
        assert_eq!(config.kafka.group_id, "123");
        assert_eq!(config.kafka.properties["sasl.password"], "hunter2");
        assert_eq!(config.masked_kafka_properties()["sasl.password"], "********");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors = load(
            "[window]\nsize_secs = 0\nkind = \"hopping\"\nslide_secs = 7\n\
             [drift]\ndrift_share = nan\nbogus = 1\n[kafka]\nbrokers = \"\"\n\
             [kafka.properties]\n\"enable.auto.commit\" = \"true\"\n[nonsense]\n",
            &[],
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
        for key in
            ["drift.bogus", "kafka.brokers", "window.size_secs", "window.slide_secs", "nonsense"]
        {
            assert!(keys.contains(&key), "{key} missing from {errors}");
        }
        assert!(keys.iter().any(|k| k.contains("enable.auto.commit")), "{errors}");
        assert!(errors.to_string().contains("unknown field `bogus`"), "{errors}");
    }

    #[test]
    fn errors_from_the_environment_name_the_variable() {
        let errors = load(
            "[window]\nsize_secs = 10\n",
            &[
                ("DRIFTGAUGE__WINDOW__SIZE_SECS", "ten"),
                ("DRIFTGAUGE__KAFKA__BROKERS", ""),
                ("DRIFTGAUGE__SERVER__ADDRESS", "nowhere"),
            ],
        )
        .unwrap_err();
        let text = errors.to_string();
        for variable in [
            "DRIFTGAUGE__WINDOW__SIZE_SECS",
            "DRIFTGAUGE__KAFKA__BROKERS",
            "DRIFTGAUGE__SERVER__ADDRESS",
        ] {
            assert!(text.contains(variable), "{variable} missing from {text}");
        }
        assert!(!text.contains("test.toml"), "{text}");
    }

    #[test]
    fn rules_naming_unknown_statistics_or_metrics_are_refused() {
        let errors = load(
            "[fairness]\nattributes = [\"sex\"]\n\
             [[alerting.policies.defaults]]\nname = \"a\"\n\
             when = { kind = \"feature_drift\", statistic = \"psii\", k = 1, n = 1 }\n\
             [[alerting.policies.defaults]]\nname = \"b\"\n\
             when = { kind = \"quality\", metric = \"acuracy\", below = 0.8 }\n\
             [[alerting.policies.defaults]]\nname = \"c\"\n\
             when = { kind = \"fairness\", metric = \"race.demographic_parity_ratio\", below = 0.8 }\n\
             [[alerting.policies.defaults]]\nname = \"d\"\n\
             when = { kind = \"fairness\", metric = \"sex.equalized_odds_ratio\", below = 0.8 }\n",
            &[],
        )
        .unwrap_err();
        let text = errors.to_string();
        assert_eq!(errors.0.len(), 3, "{text}");
        assert!(text.contains("unknown statistic `psii` (did you mean `psi`?)"), "{text}");
        assert!(
            text.contains("unknown quality metric `acuracy` (did you mean `accuracy`?)"),
            "{text}"
        );
        assert!(text.contains("`race` is not one of fairness.attributes"), "{text}");
    }

    #[test]
    fn one_error_does_not_hide_another_in_the_same_section() {
        let errors = load(
            "[window]\nsize_secs = \"ten\"\nbogus = 1\nallowed_lateness_secs = -1\n",
            &[("DRIFTGAUGE__KAFKA__SESSION_TIMEOUT_MS", "soon")],
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
        for key in ["window.size_secs", "window.bogus", "window.allowed_lateness_secs"] {
            assert!(keys.contains(&key), "{key} missing from {errors}");
        }
        assert!(
            keys.contains(&"DRIFTGAUGE__KAFKA__SESSION_TIMEOUT_MS (sets kafka.session_timeout_ms)"),
            "{errors}"
        );
    }

    #[test]
    fn the_server_address_may_be_a_host_name() {
        let config = load("[server]\naddress = \"localhost:9464\"\n", &[]).unwrap();
        assert_eq!(config.server_address.port(), 9464);
        assert!(config.server_address.ip().is_loopback());
        for bad in ["localhost", ":9464", "localhost:http", "no-such-host.invalid:9464"] {
            let errors = load(&format!("[server]\naddress = \"{bad}\"\n"), &[]).unwrap_err();
            assert_eq!(errors.0[0].key, "server.address", "{errors}");
        }
    }

    #[test]
    fn dead_letter_topics_are_optional_and_never_consumed() {
        assert_eq!(Config::defaults().streams[0].dead_letter_topic, None);
        let stream = |dead: &str| {
            format!(
                "[[streams]]\nname = \"a\"\ntopics = [\"in\"]\nformat = \"json\"\n\
                 dead_letter_topic = \"{dead}\"\n"
            )
        };
        let config = load(&stream("in-dead"), &[]).unwrap();
        assert_eq!(config.streams[0].dead_letter_topic.as_deref(), Some("in-dead"));
        for (bad, message) in [("in", "a topic the engine consumes"), (" ", "must not be empty")] {
            let errors = load(&stream(bad), &[]).unwrap_err();
            assert_eq!(errors.0[0].key, "streams[0].dead_letter_topic", "{errors}");
            assert!(errors.0[0].message.contains(message), "{errors}");
        }
    }

    #[test]
    fn checkpoints_go_to_their_own_path_or_the_registry() {
        assert_eq!(Config::defaults().checkpoint_path(), None, "no database by default");
        let registry = load("[baselines]\nregistry_path = \"r.db\"\n", &[]).unwrap();
        assert_eq!(registry.checkpoint_path(), Some(Path::new("r.db")));
        let own =
            load("[baselines]\nregistry_path = \"r.db\"\n[checkpoint]\npath = \"c.db\"\n", &[])
                .unwrap();
        assert_eq!(own.checkpoint_path(), Some(Path::new("c.db")));
        let off = load("[checkpoint]\nenabled = false\npath = \"c.db\"\n", &[]).unwrap();
        assert_eq!(off.checkpoint_path(), None);
        let errors = load("[checkpoint]\ninterval_ms = 0\n", &[]).unwrap_err();
        assert_eq!(errors.0[0].key, "checkpoint.interval_ms");
    }

    #[test]
    fn nan_thresholds_and_syntax_errors_are_rejected() {
        let errors = load("[drift]\nnumeric_threshold = nan\n", &[]).unwrap_err();
        assert_eq!(errors.0[0].key, "drift.numeric_threshold");
        let errors = load("[window\n", &[]).unwrap_err();
        assert_eq!(errors.0[0].key, "test.toml");
    }

    #[test]
    fn the_corrected_decision_is_the_default_and_its_settings_are_checked() {
        let config = Config::defaults();
        assert_eq!(config.drift.decision, DecisionRule::Corrected);
        assert_eq!((config.drift.alpha, config.drift.correction), (0.05, Correction::Holm));
        // Its deciding tests are exported even when drift.statistics omits them.
        assert!(config.statistics.contains(&DriftTest::ChiSquareContingency));
        assert_eq!(config.alerting.min_window_events, 30);
        let errors = load(
            "[drift]\nalpha = 1.5\nmin_effect = { statistic = \"ks\", at_least = -1.0 }\n",
            &[],
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["drift.alpha", "drift.min_effect.statistic", "drift.min_effect.at_least"]
        );
        let share =
            load("[drift]\ndecision = \"share\"\ncorrection = \"benjamini_hochberg\"\n", &[])
                .unwrap();
        assert_eq!(share.drift.decision, DecisionRule::Share);
        assert_eq!(share.drift.correction, Correction::BenjaminiHochberg);
    }
}
