//! `driftgauge demo`: the whole engine against a live stream, with no
//! external service.
//!
//! It starts librdkafka's in-process mock cluster (or uses `--brokers`), fits
//! baselines for two models from generated reference data into a temporary
//! in-memory registry, produces a stream of prediction events stamped with the
//! wall clock, and runs the engine on it with `/metrics` on 127.0.0.1. After
//! `--drift-after-secs` the stream changes: some features' means shift, a
//! category's share grows, prediction scores move, and one group's scores move
//! apart from the others' (a fairness gap). One line per closed window says
//! what drifted and by how much.
//!
//! With `--webhook URL` the demo also runs the alert bridge
//! ([`crate::alerts`]): two rules per model (the dataset verdict, and PSI drift
//! of at least two features in two of the last three windows) fire once the
//! drift begins, and each firing rule POSTs a signed retraining CloudEvent to
//! every URL. A line is printed when a rule fires and when its webhook is
//! delivered (or given up). The outbox lives in memory unless `--alert-db`
//! names a file; the signing secret is `DRIFTGAUGE_WEBHOOK_SECRET`, or a random
//! one per run.
//!
//! The generator is a seeded SplitMix64, so the reference data and the
//! stream's values are the same on every run (the timing is not).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow::array::{ArrayRef, Float64Array, StringArray};
use driftgauge_alerting::signing::SigningKey;
use driftgauge_alerting::webhook::WebhookTarget;
use driftgauge_detectors::baseline::{
    ColumnProfileBuilder, FORMAT_VERSION, Profile, ProfileOptions,
};
use driftgauge_detectors::column::ColumnKind;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use tokio::sync::{broadcast, watch};

use crate::alerts::{AlertEvent, Alerting, AlertingError};
use crate::config::Config;
use crate::registry::Registry;
use crate::stream::catalog::RegistryBaselines;
use crate::stream::compute::WindowReport;
use crate::stream::events::{drift_summary, format_ms};
use crate::stream::pipeline::{Engine, EngineError};

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// A real cluster's bootstrap servers; the mock cluster when `None`.
    pub brokers: Option<String>,
    /// Stop after this long; run until Ctrl-C when `None`.
    pub duration: Option<Duration>,
    /// Window length.
    pub window_secs: u64,
    /// When the drift begins, after the start.
    pub drift_after_secs: u64,
    /// Events per second per model.
    pub rate: u32,
    /// Where `/metrics` is served.
    pub metrics_address: SocketAddr,
    /// Topic to produce to and consume from.
    pub topic: String,
    /// Retraining webhook receivers; none: no webhooks (rules are still evaluated).
    pub webhooks: Vec<String>,
    /// The webhook signing secret (`whsec_...`); a random one per run when `None`.
    pub webhook_secret: Option<String>,
    /// The SQLite file for the outbox and the policy state; in memory when `None`.
    pub alert_database: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            brokers: None,
            duration: None,
            window_secs: 10,
            drift_after_secs: 25,
            rate: 500,
            metrics_address: SocketAddr::from(([127, 0, 0, 1], 9464)),
            topic: "driftgauge-demo".into(),
            webhooks: Vec::new(),
            webhook_secret: None,
            alert_database: None,
        }
    }
}

/// Why the demo stopped early.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The mock cluster, topic or producer could not be set up.
    #[error("kafka")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Alerting could not start.
    #[error(transparent)]
    Alerting(#[from] AlertingError),
    /// The demo's settings are invalid.
    #[error("{0}")]
    Config(String),
    /// The temporary registry failed.
    #[error("registry: {0}")]
    Registry(String),
    /// Output could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What the demo saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// Model windows reported.
    pub windows: u64,
    /// Of those, windows in which the model's dataset drifted.
    pub drifted_windows: u64,
    /// Events produced.
    pub produced: u64,
    /// Alert rules that fired (retraining requested).
    pub triggers: u64,
    /// Webhooks delivered.
    pub delivered: u64,
    /// Webhooks given up.
    pub failed: u64,
    /// The `/metrics` exposition at the end of the run.
    pub metrics: String,
}

/// Runs the demo, writing one line per closed window to `out`.
///
/// # Errors
/// [`DemoError`] if Kafka or the engine cannot start.
pub async fn run(options: DemoOptions, out: &mut dyn Write) -> Result<DemoSummary, DemoError> {
    if options.window_secs == 0 || options.rate == 0 {
        return Err(DemoError::Config("--window-secs and --rate must be positive".into()));
    }
    // The mock cluster lives as long as this function; it is dropped last.
    let mut _mock: Option<MockCluster<'static, DefaultProducerContext>> = None;
    let brokers = match &options.brokers {
        Some(brokers) => brokers.clone(),
        None => {
            let cluster = MockCluster::new(1)?;
            cluster.create_topic(&options.topic, 3, 1)?;
            let brokers = cluster.bootstrap_servers();
            _mock = Some(cluster);
            brokers
        }
    };

    // A temporary in-memory registry, as `driftgauge registry fit` would fill a real one.
    let mut registry =
        Registry::open_in_memory().map_err(|e| DemoError::Registry(e.to_string()))?;
    for model in &MODELS {
        let profile = fit_reference(model, 20_000);
        registry
            .store_profile(model.name, "v1", &profile, "driftgauge demo")
            .and_then(|_| registry.activate(model.name, "v1", "driftgauge demo"))
            .map_err(|e| DemoError::Registry(e.to_string()))?;
    }
    let baselines = RegistryBaselines::new(registry);
    let config = demo_config(&options, &brokers).map_err(DemoError::Config)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let engine = Engine::new(config.clone(), Arc::new(baselines));
    let secret = options.webhook_secret.clone().unwrap_or_else(random_secret);
    let secret_env = config.alerting.webhook.secret_env.clone();
    let metrics = engine.metrics();
    let (alerting, sink) =
        Alerting::start_with_env(&config, Arc::clone(&metrics), shutdown_rx.clone(), move |name| {
            (name == secret_env).then(|| secret.clone())
        })
        .await?;
    let engine = engine.with_window_sink(sink);
    let mut reports = engine.subscribe();
    let mut alerts = alerting.subscribe();
    let running = engine.start(shutdown_rx).await?;

    let start_ms = now_ms();
    let drift_at_ms = start_ms + options.drift_after_secs as i64 * 1000;
    writeln!(
        out,
        "driftgauge demo: {} at {brokers}, topic {}; models {}; {} events/s each.",
        if options.brokers.is_some() { "Kafka" } else { "mock Kafka cluster" },
        options.topic,
        MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
        options.rate,
    )?;
    writeln!(
        out,
        "Metrics: http://{}/metrics. Windows of {} s; drift begins at {} ({} s from now).",
        running.metrics_address,
        options.window_secs,
        format_ms(drift_at_ms),
        options.drift_after_secs,
    )?;
    writeln!(out, "{}", decision_note(&config))?;
    if !options.webhooks.is_empty() {
        writeln!(
            out,
            "Retraining webhooks to {}, signed with {}.",
            options.webhooks.join(", "),
            if options.webhook_secret.is_some() {
                "DRIFTGAUGE_WEBHOOK_SECRET"
            } else {
                "a random per-run secret (set DRIFTGAUGE_WEBHOOK_SECRET to verify signatures)"
            }
        )?;
    }
    out.flush()?;

    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (brokers, topic, stop) = (brokers.clone(), options.topic.clone(), Arc::clone(&stop));
        let rate = options.rate;
        std::thread::Builder::new()
            .name("driftgauge-demo-producer".into())
            .spawn(move || produce(&brokers, &topic, rate, drift_at_ms, &stop))?
    };

    let mut summary = DemoSummary::default();
    let deadline = async {
        match options.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            report = reports.recv() => match report {
                Ok(report) => print_report(&report, (start_ms, drift_at_ms), &mut summary, out)?,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    writeln!(out, "({missed} window reports skipped)")?;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            Ok(event) = alerts.recv() => print_alert(&event, &mut summary, out)?,
            _ = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (produced, producer) = match producer.join() {
        Ok(result) => result?,
        Err(_) => return Err(DemoError::Config("the producer thread panicked".into())),
    };
    summary.produced = produced;
    shutdown_tx.send_replace(true);
    let wait = running.wait();
    tokio::pin!(wait);
    loop {
        tokio::select! {
            report = reports.recv() => match report {
                Ok(report) => print_report(&report, (start_ms, drift_at_ms), &mut summary, out)?,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    // Every report is out, but the engine may still be closing
                    // its consumer, which must be gone before the mock cluster.
                    (&mut wait).await?;
                    break;
                }
            },
            Ok(event) = alerts.recv() => print_alert(&event, &mut summary, out)?,
            result = &mut wait => {
                result?;
                while let Ok(report) = reports.try_recv() {
                    print_report(&report, (start_ms, drift_at_ms), &mut summary, out)?;
                }
                break;
            }
        }
    }
    // The engine has dropped its sink: evaluation ends, and the delivery loops have
    // seen the shutdown signal.
    alerting.wait().await;
    while let Ok(event) = alerts.try_recv() {
        print_alert(&event, &mut summary, out)?;
    }
    drop(producer);
    summary.metrics = metrics.encode();
    writeln!(
        out,
        "Stopped: {} events produced, {} model windows reported, {} with dataset drift; \
         {} retraining triggers, {} webhooks delivered, {} failed.",
        summary.produced,
        summary.windows,
        summary.drifted_windows,
        summary.triggers,
        summary.delivered,
        summary.failed,
    )?;
    Ok(summary)
}

/// What the demo's verdicts and its alert mean, since its settings are not
/// the defaults `driftgauge run` has (the README quotes its output).
fn decision_note(config: &Config) -> String {
    use driftgauge_alerting::policy::Condition;
    use driftgauge_detectors::drift::{Correction, DecisionRule};
    let verdict = |config: &Config| {
        let drift = &config.drift;
        match drift.decision {
            DecisionRule::Corrected => format!(
                "when any feature's test is below the level that keeps a window's false-alarm \
                 rate at {} ({})",
                drift.alpha,
                match drift.correction {
                    Correction::Holm => "Holm",
                    Correction::BenjaminiHochberg => "Benjamini-Hochberg",
                }
            ),
            DecisionRule::Share => format!(
                "when at least {:.0}% of a model's features drifted",
                drift.drift_share * 100.0
            ),
        }
    };
    let rule = |config: &Config| {
        let found = config.alerting.policies.defaults.iter().find_map(|rule| {
            let when = match &rule.when {
                Condition::DatasetDrift(c) => {
                    format!("after {} of the last {} windows with a verdict drifted", c.k, c.n)
                }
                Condition::DatasetDriftShare(c) => format!("at a share of {}", c.at_least),
                _ => return None,
            };
            Some(format!("`{}` fires as {} {when}", rule.name, rule.severity.as_str()))
        });
        found.unwrap_or_else(|| "no dataset rule fires".to_owned())
    };
    let defaults = Config::defaults();
    format!(
        "A window shows DATASET DRIFT {}, and {}: the demo's settings, chosen to fire early \
         without false alarms; `driftgauge run` defaults to DATASET DRIFT {}, and {}.",
        verdict(config),
        rule(config),
        verdict(&defaults),
        rule(&defaults),
    )
}

fn demo_config(options: &DemoOptions, brokers: &str) -> Result<Config, String> {
    let text = format!(
        r#"
[server]
address = "{address}"
[kafka]
brokers = "{brokers}"
group_id = "driftgauge-demo-{pid}"
session_timeout_ms = 6000
statistics_interval_ms = 1000
commit_interval_ms = 1000
[[streams]]
name = "demo"
topics = ["{topic}"]
format = "json"
[batch]
max_delay_ms = 200
[window]
size_secs = {window}
allowed_lateness_secs = 1
idle_timeout_secs = 2
[fairness]
attributes = ["group"]
[drift]
# The default, corrected decision with a smaller budget: a run shows tens of
# windows, each called drifted with probability alpha when nothing changed,
# and the demo's shifts are found at any level.
alpha = 0.0001
statistics = ["psi", "ks", "wasserstein", "jensen_shannon", "chi_square"]
# The demo's registry lives in memory and each run starts a fresh stream:
# there is nothing to resume, so no checkpoints (and no warning about them).
[checkpoint]
enabled = false
[alerting]
database_path = {database}

# An hour of cooldown: one trigger per model and rule in a demo run.
[[alerting.policies.defaults]]
name = "dataset-drift"
severity = "critical"
cooldown_secs = 3600
when = {{ kind = "dataset_drift" }}

[[alerting.policies.defaults]]
name = "feature-drift"
severity = "warning"
cooldown_secs = 3600
when = {{ kind = "feature_drift", statistic = "psi", k = 2, n = 3, min_features = 2, resolve = 0.05 }}

# Quick retries, so a receiver that comes back is served within seconds.
[alerting.webhook]
source = "driftgauge-demo"
timeout_ms = 5000
max_attempts = 200
initial_backoff_ms = 250
max_backoff_ms = 2000
poll_interval_ms = 500
"#,
        address = options.metrics_address,
        pid = std::process::id(),
        topic = options.topic,
        window = options.window_secs,
        database = toml::Value::String(
            options
                .alert_database
                .as_ref()
                .map_or_else(|| crate::alerts::IN_MEMORY.to_owned(), |p| p.display().to_string())
        ),
    );
    // The demo ignores DRIFTGAUGE__* variables: it is meant to run the same everywhere.
    let mut config = Config::from_layers(Some(("demo settings", &text)), std::iter::empty())
        .map_err(|e| e.to_string())?;
    config.alerting.webhook.targets = options
        .webhooks
        .iter()
        .map(|url| WebhookTarget { url: url.clone(), ..WebhookTarget::default() })
        .collect();
    Ok(config)
}

/// A random `whsec_` secret for a demo run. `RandomState` is seeded from the
/// operating system's randomness once per process, and new states step on from
/// it: good enough for a demo that never shows the secret, not for production
/// secrets (generate those as docs/alerting.md shows).
fn random_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut key = Vec::with_capacity(32);
    for i in 0..4u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(i);
        hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        key.extend_from_slice(&hasher.finish().to_le_bytes());
    }
    SigningKey::from_bytes(key)
        .map_or_else(|_| unreachable!("32 bytes is a valid key"), |k| k.to_whsec())
}

fn print_alert(
    event: &AlertEvent,
    summary: &mut DemoSummary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M:%S").to_string();
    match event {
        AlertEvent::Fired { decision, event_id } => {
            summary.triggers += 1;
            let key = &decision.key;
            write!(
                out,
                ">>> RETRAINING TRIGGERED: {} rule {} ({}) in window {}-{}: {}",
                key.model,
                key.rule,
                decision.severity,
                time(decision.window.start),
                time(decision.window.end),
                decision.evidence.summary,
            )?;
            match event_id {
                Some(id) => writeln!(out, " Webhook {id} queued.")?,
                None => writeln!(out)?,
            }
        }
        AlertEvent::Resolved { decision } => {
            writeln!(
                out,
                ">>> resolved: {} rule {} in window {}-{}.",
                decision.key.model,
                decision.key.rule,
                time(decision.window.start),
                time(decision.window.end),
            )?;
        }
        AlertEvent::Delivered { model, rule, event_id, target, attempts, latency } => {
            summary.delivered += 1;
            writeln!(
                out,
                ">>> WEBHOOK DELIVERED: {model} rule {rule}, event {event_id} to {target} \
                 (attempt {attempts}, {} ms after it was queued).",
                latency.as_millis()
            )?;
        }
        AlertEvent::Failed { model, rule, event_id, target, attempts, reason } => {
            summary.failed += 1;
            writeln!(
                out,
                ">>> WEBHOOK FAILED: {model} rule {rule}, event {event_id} to {target} \
                 given up after {attempts} attempt(s): {reason}"
            )?;
        }
    }
    out.flush()
}

fn print_report(
    report: &WindowReport,
    (start_ms, drift_at_ms): (i64, i64),
    summary: &mut DemoSummary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    summary.windows += 1;
    summary.drifted_windows += u64::from(report.dataset.drifted);
    let time = |ms: i64| format_ms(ms)[11..19].to_owned();
    // The first window usually began before the stream did: it holds few
    // events, and its statistics are noisy enough to flag drift now and then.
    let phase = if report.start_ms < start_ms {
        "partial: the stream began mid-window"
    } else if report.start_ms >= drift_at_ms {
        "drifting"
    } else if report.end_ms > drift_at_ms {
        "drift begins"
    } else {
        "reference-like"
    };
    let verdict = if report.dataset.drifted { "DATASET DRIFT" } else { "no dataset drift" };
    let mut line = format!(
        "{}-{} {:<6} {:>6} events [{phase}]: {verdict}, {}/{} features drifted ({:.0}%): {}",
        time(report.start_ms),
        time(report.end_ms),
        report.model,
        report.rows,
        report.dataset.drifted_columns,
        report.dataset.columns,
        report.dataset.share * 100.0,
        drift_summary(report, 6),
    );
    for fairness in &report.fairness {
        let groups: Vec<String> = fairness
            .selection
            .groups
            .iter()
            .map(|g| format!("{} {:.2}", g.group, g.selection_rate))
            .collect();
        if let Some(gap) = fairness.selection.demographic_parity_difference {
            let flag = if gap >= 0.1 { "FAIRNESS GAP " } else { "" };
            line.push_str(&format!(
                "; {flag}{} selection-rate gap {gap:.2} ({})",
                fairness.attribute,
                groups.join(", ")
            ));
        }
    }
    if !report.complete {
        line.push_str(" (partial window at shutdown)");
    }
    writeln!(out, "{line}")?;
    out.flush()
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Produces events until `stop`; returns how many were sent, and the producer.
///
/// NOTE: the caller keeps the producer until the engine has stopped: measured
/// with librdkafka 2.12, destroying a producer connected to the mock cluster
/// made the cluster refuse connections, so the engine's final commit and
/// group leave then hung.
fn produce(
    brokers: &str,
    topic: &str,
    rate: u32,
    drift_at_ms: i64,
    stop: &AtomicBool,
) -> Result<(u64, ThreadedProducer<DefaultProducerContext>), rdkafka::error::KafkaError> {
    let producer: ThreadedProducer<_> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "200000")
        .create()?;
    let mut rngs: Vec<Rng> = (0..MODELS.len() as u64).map(|i| Rng::new(1000 + i)).collect();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut payload = String::new();
    while !stop.load(Ordering::Relaxed) {
        let due = (started.elapsed().as_secs_f64() * f64::from(rate)) as u64 * MODELS.len() as u64;
        if sent >= due {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let now = now_ms();
        let drifting = now >= drift_at_ms;
        while sent < due {
            let i = (sent % MODELS.len() as u64) as usize;
            let model = &MODELS[i];
            let row = model.generate(&mut rngs[i], drifting);
            payload.clear();
            row.write_json(model, now, &mut payload);
            let mut record = BaseRecord::to(topic).payload(payload.as_str()).key(model.name);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, returned)) => {
                        // Queue full: let the background thread deliver.
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                        record = returned;
                    }
                }
            }
            sent += 1;
        }
    }
    producer.flush(Duration::from_secs(5))?;
    Ok((sent, producer))
}

/// SplitMix64: small, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn pick<'a>(&mut self, choices: &[(&'a str, f64)]) -> &'a str {
        let total: f64 = choices.iter().map(|c| c.1).sum();
        let mut x = self.uniform() * total;
        for (name, weight) in choices {
            if x < *weight {
                return name;
            }
            x -= weight;
        }
        choices[choices.len() - 1].0
    }
}

struct Model {
    name: &'static str,
    numeric: &'static [&'static str],
    categorical: &'static [&'static str],
}

const MODELS: [Model; 2] = [
    Model {
        name: "credit",
        numeric: &[
            "age",
            "income",
            "debt_ratio",
            "credit_lines",
            "utilization",
            "tenure_months",
            "inquiries",
            "savings",
        ],
        categorical: &["region", "channel"],
    },
    Model {
        name: "churn",
        numeric: &[
            "sessions_per_week",
            "session_minutes",
            "days_since_login",
            "support_tickets",
            "monthly_spend",
            "tenure_days",
            "discount_rate",
            "nps",
        ],
        categorical: &["plan", "device"],
    },
];

struct Row {
    numeric: Vec<f64>,
    categorical: Vec<&'static str>,
    score: f64,
    group: &'static str,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    fn generate(&self, rng: &mut Rng, drifting: bool) -> Row {
        let d = if drifting { 1.0 } else { 0.0 };
        if self.name == "credit" {
            let group = rng.pick(&[("f", 0.5), ("m", 0.5)]);
            let age = (40.0 + 12.0 * rng.normal()).clamp(18.0, 90.0);
            // Drift: incomes fall and utilization rises.
            let income = (55_000.0 - 15_000.0 * d + 15_000.0 * rng.normal()).max(5_000.0);
            let debt_ratio = (0.35 + 0.12 * rng.normal()).clamp(0.0, 1.5);
            let credit_lines = (4.0 + 2.0 * rng.normal()).round().clamp(0.0, 20.0);
            let utilization = (0.30 + 0.18 * d + 0.10 * rng.normal()).clamp(0.0, 1.0);
            let tenure = (rng.uniform() * 240.0).floor();
            let inquiries = (rng.uniform() * 4.0).floor();
            let savings = (12_000.0 + 6_000.0 * rng.normal()).max(0.0);
            // Drift: the west's share grows from 10 % to 40 %.
            let region = rng.pick(&[
                ("north", 0.4 - 0.15 * d),
                ("south", 0.3 - 0.1 * d),
                ("east", 0.2 - 0.05 * d),
                ("west", 0.1 + 0.3 * d),
            ]);
            let channel = rng.pick(&[("web", 0.6), ("branch", 0.3), ("phone", 0.1)]);
            let logit = 0.8 * (income - 55_000.0) / 15_000.0 - 2.0 * (utilization - 0.3)
                - 1.5 * (debt_ratio - 0.35)
                + 0.3 * rng.normal()
                // Drift: group f's scores fall (a fairness gap).
                - if group == "f" { 0.9 * d } else { 0.0 };
            Row {
                numeric: vec![
                    age,
                    income,
                    debt_ratio,
                    credit_lines,
                    utilization,
                    tenure,
                    inquiries,
                    savings,
                ],
                categorical: vec![region, channel],
                score: sigmoid(logit),
                group,
            }
        } else {
            let group = rng.pick(&[("18-34", 0.4), ("35-54", 0.35), ("55+", 0.25)]);
            // Drift: engagement drops.
            let sessions = (5.0 - 1.5 * d + 1.5 * rng.normal()).max(0.0).round();
            let minutes = (12.0 + 4.0 * rng.normal()).max(0.5);
            let days_since = (rng.uniform() * 14.0 + 7.0 * d * rng.uniform()).floor();
            let tickets = (rng.uniform() * 3.0).floor();
            let spend = (40.0 + 15.0 * rng.normal()).max(0.0);
            let tenure = (rng.uniform() * 1000.0).floor();
            let discount = (0.1 + 0.05 * rng.normal()).clamp(0.0, 0.5);
            let nps = (7.0 + 2.0 * rng.normal()).round().clamp(0.0, 10.0);
            // Drift: customers move from pro to basic.
            let plan = rng.pick(&[
                ("basic", 0.5 + 0.25 * d),
                ("pro", 0.4 - 0.25 * d),
                ("enterprise", 0.1),
            ]);
            let device = rng.pick(&[("ios", 0.45), ("android", 0.45), ("web", 0.1)]);
            let logit = -0.6 * (sessions - 5.0) / 1.5 + 0.1 * (days_since - 7.0) - 0.2 * (nps - 7.0)
                + 0.3 * rng.normal()
                // Drift: the oldest group is flagged far more often.
                + if group == "55+" { 1.2 * d } else { 0.0 };
            Row {
                numeric: vec![sessions, minutes, days_since, tickets, spend, tenure, discount, nps],
                categorical: vec![plan, device],
                score: sigmoid(logit),
                group,
            }
        }
    }
}

impl Row {
    fn write_json(&self, model: &Model, time_ms: i64, out: &mut String) {
        use std::fmt::Write as _;
        let mut features = serde_json::Map::new();
        for (name, value) in model.numeric.iter().zip(&self.numeric) {
            features.insert((*name).into(), serde_json::json!(value));
        }
        for (name, value) in model.categorical.iter().zip(&self.categorical) {
            features.insert((*name).into(), serde_json::json!(value));
        }
        let event = serde_json::json!({
            "model": model.name,
            "model_version": "v1",
            "timestamp": time_ms,
            "features": features,
            "score": self.score,
            "prediction": u8::from(self.score >= 0.5),
            "attributes": { "group": self.group },
        });
        write!(out, "{event}").ok();
    }
}

/// Fits the model's baseline from `rows` reference events.
fn fit_reference(model: &Model, rows: usize) -> Profile {
    let mut rng = Rng::new(7 + model.name.len() as u64);
    let generated: Vec<Row> = (0..rows).map(|_| model.generate(&mut rng, false)).collect();
    let options = ProfileOptions::default();
    let mut columns = Vec::new();
    for (i, name) in model.numeric.iter().enumerate() {
        let array: ArrayRef =
            Arc::new(Float64Array::from_iter_values(generated.iter().map(|r| r.numeric[i])));
        columns.push(fit_column(name, ColumnKind::Numeric, &array, &options));
    }
    for (i, name) in model.categorical.iter().enumerate() {
        let array: ArrayRef =
            Arc::new(StringArray::from_iter_values(generated.iter().map(|r| r.categorical[i])));
        columns.push(fit_column(name, ColumnKind::Categorical, &array, &options));
    }
    let scores: ArrayRef =
        Arc::new(Float64Array::from_iter_values(generated.iter().map(|r| r.score)));
    columns.push(fit_column("score", ColumnKind::Numeric, &scores, &options));
    let labels: ArrayRef = Arc::new(StringArray::from_iter_values(
        generated.iter().map(|r| if r.score >= 0.5 { "1" } else { "0" }),
    ));
    columns.push(fit_column("prediction", ColumnKind::Categorical, &labels, &options));
    Profile {
        format_version: FORMAT_VERSION,
        rows: rows as u64,
        options,
        columns,
        roles: Default::default(),
    }
}

fn fit_column(
    name: &str,
    kind: ColumnKind,
    array: &ArrayRef,
    options: &ProfileOptions,
) -> driftgauge_detectors::baseline::ColumnProfile {
    let mut builder = ColumnProfileBuilder::new(kind, false);
    // Generated arrays are Float64 or Utf8, which each kind reads.
    builder
        .update(name, array.as_ref())
        .unwrap_or_else(|e| unreachable!("generated column `{name}`: {e}"));
    builder.finish(name, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_profiles_are_valid_and_cover_every_column() {
        for model in &MODELS {
            let profile = fit_reference(model, 2_000);
            profile.validate().unwrap();
            assert_eq!(profile.columns.len(), model.numeric.len() + model.categorical.len() + 2);
        }
    }

    /// The README quotes the demo's output: it must say that its decision
    /// and rule are its own, not the defaults.
    #[test]
    fn the_demo_explains_its_decision_and_rule() {
        let config = demo_config(&DemoOptions::default(), "127.0.0.1:9").unwrap();
        let note = decision_note(&config);
        assert!(note.contains("false-alarm rate at 0.0001 (Holm), and `dataset-drift` fires as critical after 1 of the last 1 windows"), "{note}");
        assert!(note.contains("defaults to DATASET DRIFT when any feature's test is below the level that keeps a window's false-alarm rate at 0.05 (Holm), and `dataset-drift` fires as warning after 3 of the last 3 windows"), "{note}");
    }

    #[test]
    fn events_are_json_with_the_configured_fields() {
        let mut rng = Rng::new(1);
        let row = MODELS[0].generate(&mut rng, true);
        let mut text = String::new();
        row.write_json(&MODELS[0], 1_000, &mut text);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["model"], "credit");
        assert!(value["features"]["income"].is_number());
        assert!(value["attributes"]["group"].is_string());
    }
}
