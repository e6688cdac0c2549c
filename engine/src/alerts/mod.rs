//! The alert bridge: closed windows in, retraining webhooks and alerts out.
//!
//! Owns the evaluator that turns the stream's window reports into the alerting
//! crate's decisions, the delivery loops' wiring, and the SQLite outbox store
//! ([`outbox_store`]) those loops are handed. May use: the alerting crate,
//! [`crate::stream`] (window reports and the receiving end of its
//! [`sink`](crate::stream::sink)), [`crate::observe`], [`crate::registry`]'s
//! SQLite opening and [`crate::config`]. Must not use: the CLI. The policy
//! itself (rules, hysteresis, cooldowns) is the alerting crate's; this module
//! only feeds it and stores what it decides.
//!
//! ```text
//!  window stage ──WindowReport──▶ evaluator ──Decision──▶ SQLite (outbox rows + policy state, one transaction)
//!   (pipeline)   bounded mpsc,      (PolicyEngine)                │ wake
//!       ▲        ack when stored          │                       ▼
//!       └──────────── ack ◀───────────────┘        WebhookDelivery loop ──▶ receivers
//!                                                  AlertmanagerPusher   ──▶ Alertmanager
//! ```
//!
//! # Why it is built this way
//!
//! * **No lost windows.** Reports reach the evaluator through a bounded `mpsc`
//!   ([`WindowSink`]), not the engine's broadcast, which drops the oldest reports for a
//!   slow receiver: a dropped window could be the one that fires. The window stage waits
//!   for each report to be evaluated and its triggers stored before it commits the
//!   window's Kafka positions, so a crash after the commit cannot lose a trigger, and a
//!   slow database slows the stage down instead of growing a queue (backpressure).
//! * **One transaction per window.** The outbox rows of the triggers a window fired and
//!   the policy state after the window ([`PolicyState`] as JSON, table
//!   `alert_policy_state`) are committed together. After a restart, cooldowns,
//!   hysteresis and K-of-N histories go on where they were, so a model that is still
//!   drifting does not fire again, and every stored trigger is still sent.
//! * **Store, then send.** The delivery loop only ever sends what is in the outbox; it is
//!   woken after each commit and retries with backoff (see
//!   [`driftgauge_alerting::webhook`]). Receivers deduplicate on the stable event id.
//! * **Pure policy.** [`window_outcome`] converts a [`WindowReport`] into the alerting
//!   crate's [`WindowOutcome`]; the decision itself is
//!   [`PolicyEngine::evaluate`], a plain function of windows and state.
//!
//! Windows flushed at shutdown (`complete: false`) hold only part of a window's events
//! and are not evaluated, nor are windows with fewer than `alerting.min_window_events`
//! events, whose statistics are mostly noise. The signing secret is read from the environment variable
//! named in the configuration and never logged.
//!
//! # Signals handed to the rules
//!
//! | rule kind | values from the window |
//! | --- | --- |
//! | `feature_drift` | each exported statistic of each feature with its threshold and verdict (p-value tests as p-values) |
//! | `dataset_drift` | the window's dataset verdict under `drift.decision` (none, so no change, when no feature could be tested) |
//! | `dataset_drift_share` | the share of drifted features (`NaN`, so no change, when no feature was scored) |
//! | `fairness` | `<metric>`: the worst over the sensitive attributes (largest difference, smallest ratio); `<attribute>.<metric>` for one attribute |
//! | `data_quality` | per feature: the share of values missing, out of the baseline's range or of unseen categories |
//! | `quality` | none yet: model quality needs labels joined to predictions |

pub mod outbox_store;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use driftgauge_alerting::alertmanager::{AlertmanagerHandle, AlertmanagerPusher};
use driftgauge_alerting::observe::DeliveryObserver;
use driftgauge_alerting::outbox::{OutboxMessage, OutboxStore};
use driftgauge_alerting::policy::{
    DatasetVerdict, Decision, DecisionKind, FeatureScore, PolicyConfig, PolicyEngine, PolicyState,
    Severity, WindowOutcome,
};
use driftgauge_alerting::webhook::{AttemptFailure, WebhookDelivery, WebhookHandle};
use driftgauge_detectors::json::NonFinite;
use rusqlite::OptionalExtension as _;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{AlertingConfig, Config};
use crate::observe::metrics::Metrics;
use crate::registry::db::DbError;
use crate::stream::compute::{WindowReport, statistic_name};
use crate::stream::sink::{ClosedWindows, WindowSink, window_sink};
use outbox_store::SqliteOutbox;

/// Closed windows buffered between the window stage and the evaluator.
const SINK_CAPACITY: usize = 64;
/// Attempts to store a window's decisions before it is given up (logged at ERROR).
const STORE_ATTEMPTS: u32 = 6;
/// `alerting.database_path` value that keeps the outbox and state in memory.
pub const IN_MEMORY: &str = ":memory:";

/// Why alerting could not start. All are user errors: fix the configuration, the
/// environment or the database file.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// Webhook targets, secrets or the Alertmanager settings are invalid (every problem
    /// is listed).
    #[error("[alerting]")]
    Config(#[source] driftgauge_alerting::Error),
    /// The outbox database cannot be opened.
    #[error("alerting.database_path")]
    Database(#[source] DbError),
    /// The saved policy state cannot be read.
    #[error("alerting.database_path: cannot read the alert policy state")]
    State(#[source] driftgauge_alerting::Error),
}

/// What alerting did, for the demo and tests. Sent on a broadcast channel; a slow
/// receiver misses the oldest (the outbox and the metrics are the record).
#[derive(Debug, Clone)]
pub enum AlertEvent {
    /// A rule fired: retraining requested. `event_id` is set when webhooks were queued.
    Fired {
        /// The decision, with its evidence.
        decision: Box<Decision>,
        /// The CloudEvent id, when at least one webhook message was queued.
        event_id: Option<String>,
    },
    /// A firing rule resolved.
    Resolved {
        /// The decision.
        decision: Box<Decision>,
    },
    /// A receiver accepted a webhook.
    Delivered {
        /// Model.
        model: String,
        /// Rule.
        rule: String,
        /// The event id (`webhook-id`).
        event_id: String,
        /// The target URL.
        target: String,
        /// Attempts it took.
        attempts: u32,
        /// From enqueueing to acceptance.
        latency: Duration,
    },
    /// A webhook was given up: a non-retryable response or retries exhausted.
    Failed {
        /// Model.
        model: String,
        /// Rule.
        rule: String,
        /// The event id (`webhook-id`).
        event_id: String,
        /// The target URL.
        target: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
}

/// Running alerting: the evaluator and the delivery loops.
#[derive(Debug)]
pub struct Alerting {
    events: broadcast::Sender<AlertEvent>,
    evaluator: JoinHandle<()>,
    loops: Vec<JoinHandle<()>>,
}

/// Checks, without starting anything, what [`Alerting::start_with_env`] checks of
/// the webhook targets (URLs, templates, headers, secrets read through `env`) and
/// the Alertmanager settings: for `driftgauge config check`. Every problem of
/// both is returned.
pub fn check_delivery(
    config: &Config,
    env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
) -> Vec<AlertingError> {
    let settings = &config.alerting;
    let mut problems = Vec::new();
    if !settings.webhook.targets.is_empty() {
        match SqliteOutbox::open_in_memory() {
            Ok(store) => {
                let built = WebhookDelivery::builder(settings.webhook.clone(), Arc::new(store))
                    .env(env)
                    .build();
                if let Err(error) = built {
                    problems.push(AlertingError::Config(error));
                }
            }
            Err(error) => problems.push(AlertingError::Database(error)),
        }
    }
    if let Some(am) = settings.alertmanager.clone() {
        if let Err(error) = AlertmanagerPusher::builder(am).build() {
            problems.push(AlertingError::Config(error));
        }
    }
    problems
}

impl Alerting {
    /// Starts alerting for `config`, reading secrets from the process environment.
    /// See [`start_with_env`](Self::start_with_env).
    ///
    /// # Errors
    /// As [`start_with_env`](Self::start_with_env).
    pub async fn start(
        config: &Config,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(Self, WindowSink), AlertingError> {
        Self::start_with_env(config, metrics, shutdown, |name| std::env::var(name).ok()).await
    }

    /// Opens the outbox and the saved policy state, validates webhook targets and
    /// secrets (read through `env`) and the Alertmanager settings, and starts the
    /// evaluator and the delivery loops on the current runtime.
    ///
    /// Hand the returned [`WindowSink`] to the engine
    /// ([`Engine::with_window_sink`](crate::stream::pipeline::Engine::with_window_sink)). The
    /// evaluator runs until every sink is dropped (the engine has stopped); the
    /// delivery loops stop when `shutdown` turns true, finishing requests in flight and
    /// leaving the rest pending in the outbox.
    ///
    /// # Errors
    /// [`AlertingError`], each a configuration or database problem.
    pub async fn start_with_env(
        config: &Config,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<(Self, WindowSink), AlertingError> {
        let settings = config.alerting.clone();
        let path = config.alerting_database_path().map(Path::to_owned);
        let (store, state, pending) = tokio::task::spawn_blocking(move || open_store(path))
            .await
            .map_err(|e| AlertingError::State(store_error("open", e)))??;

        let policy =
            PolicyEngine::with_state(&settings.policies, state).map_err(AlertingError::Config)?;
        let (events, _) = broadcast::channel(256);
        let observer: Arc<dyn DeliveryObserver> =
            Arc::new(Observer { metrics: Arc::clone(&metrics), events: events.clone() });

        // Series that outlive a restart: what is still pending, and what is still firing.
        for (model, rule, count) in &pending {
            metrics
                .webhook_pending
                .with_label_values(&[model, rule])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
        for (model, rule, _) in policy.state().firing() {
            if let Some(severity) = severity_of(&settings.policies, model, rule) {
                metrics.alert_firing.with_label_values(&[model, rule, severity.as_str()]).set(1);
            }
        }

        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone: stop too.
            rx.wait_for(|stop| *stop).await.ok();
        };
        let mut loops = Vec::new();
        let has_pending = pending.iter().any(|(_, _, n)| *n > 0);
        let webhook = if !settings.webhook.targets.is_empty() || has_pending {
            let (delivery, handle) = WebhookDelivery::builder(
                settings.webhook.clone(),
                Arc::clone(&store) as Arc<dyn OutboxStore>,
            )
            .observer(Arc::clone(&observer))
            .env(env)
            .build()
            .map_err(AlertingError::Config)?;
            loops.push(tokio::spawn(delivery.run(stopped(shutdown.clone()))));
            Some(handle)
        } else {
            None
        };
        let alertmanager = match settings.alertmanager.clone() {
            Some(am) => {
                let (pusher, handle) = AlertmanagerPusher::builder(am)
                    .observer(Arc::clone(&observer))
                    .build()
                    .map_err(AlertingError::Config)?;
                loops.push(tokio::spawn(pusher.run(stopped(shutdown.clone()))));
                Some(handle)
            }
            None => None,
        };
        tracing::info!(
            database = %store.path().display(),
            targets = settings.webhook.targets.len(),
            alertmanager = alertmanager.is_some(),
            pending = pending.iter().map(|(_, _, n)| n).sum::<u64>(),
            "Alerting started."
        );

        let (sink, windows) = window_sink(SINK_CAPACITY);
        let evaluator = Evaluator {
            policy,
            settings,
            store,
            webhook,
            alertmanager,
            metrics,
            events: events.clone(),
            seen_models: HashSet::new(),
        };
        let evaluator = tokio::spawn(evaluator.run(windows));
        Ok((Self { events, evaluator, loops }, sink))
    }

    /// Every fire, resolve, delivery and failure from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertEvent> {
        self.events.subscribe()
    }

    /// Waits until the evaluator (after the engine has dropped its sinks) and the
    /// delivery loops (after the shutdown signal) have stopped.
    pub async fn wait(self) {
        for task in std::iter::once(self.evaluator).chain(self.loops) {
            if let Err(error) = task.await {
                tracing::error!(%error, "An alerting task failed.");
            }
        }
    }
}

type Opened = (Arc<SqliteOutbox>, PolicyState, Vec<(String, String, u64)>);

/// Opens the outbox database and reads the saved state (blocking).
fn open_store(path: Option<std::path::PathBuf>) -> Result<Opened, AlertingError> {
    let store = match path.as_deref() {
        Some(path) if path.as_os_str() != IN_MEMORY => SqliteOutbox::open(path),
        _ => SqliteOutbox::open_in_memory(),
    }
    .map_err(AlertingError::Database)?;
    let mut saved: Option<String> = None;
    // A read inside the store's write transaction: the simplest way to reach its
    // connection, and start-up is the only time it happens.
    store
        .enqueue_with(&[], |conn| {
            saved = conn
                .query_row("SELECT state FROM alert_policy_state WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()?;
            Ok(())
        })
        .map_err(AlertingError::State)?;
    let state = match saved.map(|json| serde_json::from_str::<PolicyState>(&json)) {
        None => PolicyState::default(),
        Some(Ok(state)) => state,
        Some(Err(error)) => {
            tracing::warn!(
                database = %store.path().display(),
                %error,
                "The saved alert policy state is unreadable; starting with none (cooldowns restart)."
            );
            PolicyState::default()
        }
    };
    let pending = store.pending_by_rule().map_err(AlertingError::State)?;
    Ok((Arc::new(store), state, pending))
}

fn store_error(
    operation: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> driftgauge_alerting::Error {
    driftgauge_alerting::Error::Store { operation, source: Box::new(e) }
}

/// The severity of `rule` for `model` under `policies`, if the rule applies to it.
fn severity_of(policies: &PolicyConfig, model: &str, rule: &str) -> Option<Severity> {
    rules_for(policies, model).into_iter().find(|(name, _)| name == rule).map(|(_, s)| s)
}

/// The rules that apply to `model` (name and severity), as the policy engine resolves
/// them: the model's own rules replace defaults of the same name.
fn rules_for(policies: &PolicyConfig, model: &str) -> Vec<(String, Severity)> {
    let Some(own) = policies.models.get(model) else {
        return policies.defaults.iter().map(|r| (r.name.clone(), r.severity)).collect();
    };
    let mut rules: Vec<(String, Severity)> = Vec::new();
    if own.inherit_defaults {
        for default in &policies.defaults {
            let rule = own.rules.iter().find(|r| r.name == default.name).unwrap_or(default);
            rules.push((rule.name.clone(), rule.severity));
        }
    }
    for rule in &own.rules {
        if !rules.iter().any(|(name, _)| *name == rule.name) {
            rules.push((rule.name.clone(), rule.severity));
        }
    }
    rules
}

struct Evaluator {
    policy: PolicyEngine,
    settings: AlertingConfig,
    store: Arc<SqliteOutbox>,
    webhook: Option<WebhookHandle>,
    alertmanager: Option<AlertmanagerHandle>,
    metrics: Arc<Metrics>,
    events: broadcast::Sender<AlertEvent>,
    seen_models: HashSet<String>,
}

/// What storing one window produced.
struct Stored {
    decisions: Vec<Decision>,
    /// The messages that were new in the outbox.
    queued: Vec<OutboxMessage>,
}

impl Evaluator {
    async fn run(mut self, mut windows: ClosedWindows) {
        while let Some(closed) = windows.recv().await {
            let report = &closed.report;
            if !report.complete {
                // Partial: flushed at shutdown.
            } else if report.rows < self.settings.min_window_events {
                tracing::debug!(
                    model = &*report.model,
                    start_ms = report.start_ms,
                    events = report.rows,
                    "Window below alerting.min_window_events; not evaluated."
                );
            } else {
                self.window(report).await;
            }
            closed.acknowledge();
        }
        tracing::debug!("Alert evaluation stopped.");
    }

    async fn window(&mut self, report: &WindowReport) {
        let Some(outcome) = window_outcome(report, self.settings.dashboard_url.as_deref()) else {
            tracing::warn!(
                model = &*report.model,
                start_ms = report.start_ms,
                "A window's bounds are out of range; it is not evaluated."
            );
            return;
        };
        if self.seen_models.insert(outcome.model.clone()) {
            // Every rule's series exists (at 0) from the model's first window on.
            for (rule, severity) in rules_for(&self.settings.policies, &outcome.model) {
                self.metrics.alert_firing.with_label_values(&[
                    &outcome.model,
                    &rule,
                    severity.as_str(),
                ]);
            }
        }
        let Some(Stored { decisions, queued }) = self.store_window(outcome).await else {
            return;
        };
        for decision in decisions {
            let key = &decision.key;
            let labels = [key.model.as_str(), key.rule.as_str(), decision.severity.as_str()];
            let event_id = queued
                .iter()
                .find(|m| m.model == key.model && m.rule == key.rule)
                .map(|m| m.event_id.clone());
            match decision.kind {
                DecisionKind::Fire => {
                    self.metrics.retrain_triggers.with_label_values(&labels).inc();
                    self.metrics.alert_firing.with_label_values(&labels).set(1);
                    tracing::info!(
                        model = %key.model,
                        version = %key.version,
                        rule = %key.rule,
                        severity = %decision.severity,
                        window_start = %decision.window.start,
                        event_id = event_id.as_deref().unwrap_or("-"),
                        summary = %decision.evidence.summary,
                        "Alert rule fired: retraining requested."
                    );
                }
                DecisionKind::Resolve => {
                    self.metrics.alert_firing.with_label_values(&labels).set(0);
                    tracing::info!(
                        model = %key.model,
                        rule = %key.rule,
                        window_start = %decision.window.start,
                        "Alert rule resolved."
                    );
                }
            }
            if let Some(alertmanager) = &self.alertmanager {
                if let Err(error) = alertmanager.send(&decision).await {
                    tracing::warn!(%error, "The Alertmanager pusher has stopped; alert not sent.");
                }
            }
            let event = match decision.kind {
                DecisionKind::Fire => AlertEvent::Fired { decision: Box::new(decision), event_id },
                DecisionKind::Resolve => AlertEvent::Resolved { decision: Box::new(decision) },
            };
            // No subscriber is fine: events are for the demo and tests.
            self.events.send(event).ok();
        }
        for message in &queued {
            self.metrics.webhook_pending.with_label_values(&[&message.model, &message.rule]).inc();
            tracing::info!(
                event_id = %message.event_id,
                target = %message.target,
                model = %message.model,
                rule = %message.rule,
                "Queued a retraining webhook."
            );
        }
        if !queued.is_empty() {
            if let Some(webhook) = &self.webhook {
                webhook.wake();
            }
        }
    }

    /// Evaluates the window and commits its triggers and the new policy state in one
    /// transaction, retrying a failing database with backoff. `None` if it kept
    /// failing: the window is then not evaluated (its state change is rolled back).
    async fn store_window(&mut self, outcome: WindowOutcome) -> Option<Stored> {
        let outcome = Arc::new(outcome);
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=STORE_ATTEMPTS {
            let mut policy = self.policy.clone();
            let (store, webhook, window) =
                (Arc::clone(&self.store), self.webhook.clone(), Arc::clone(&outcome));
            let result = tokio::task::spawn_blocking(move || {
                let decisions = policy.evaluate(&window);
                let now = Utc::now();
                let mut messages = Vec::new();
                if let Some(webhook) = &webhook {
                    for decision in &decisions {
                        messages.extend(webhook.messages_for(decision, now)?);
                    }
                }
                let state =
                    serde_json::to_string(&NonFinite(policy.state())).map_err(|source| {
                        driftgauge_alerting::Error::Json { what: "policy state", source }
                    })?;
                let inserted = store.enqueue_with(&messages, |conn| {
                    conn.execute(
                        "INSERT INTO alert_policy_state (id, state, updated_at_ms)
                         VALUES (1, ?1, ?2)
                         ON CONFLICT (id) DO UPDATE
                         SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
                        (&state, now.timestamp_millis()),
                    )
                    .map(drop)
                })?;
                let queued =
                    messages.into_iter().zip(inserted).filter(|(_, new)| *new).map(|(m, _)| m);
                Ok::<_, driftgauge_alerting::Error>((policy, decisions, queued.collect()))
            })
            .await;
            match result {
                Ok(Ok((policy, decisions, queued))) => {
                    self.policy = policy;
                    return Some(Stored { decisions, queued });
                }
                Ok(Err(error)) if attempt < STORE_ATTEMPTS => {
                    tracing::warn!(
                        error = %crate::error_chain(&error),
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        "Could not store a window's alert decisions; retrying."
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Ok(Err(error)) => {
                    tracing::error!(
                        model = %outcome.model,
                        window_start = %outcome.window_start,
                        error = %crate::error_chain(&error),
                        "Could not store a window's alert decisions; the window is not evaluated. Check the alerting database."
                    );
                    self.metrics.internal_errors.with_label_values(&["alerting"]).inc();
                    return None;
                }
                Err(error) => {
                    tracing::error!(%error, "Alert evaluation task failed.");
                    self.metrics.internal_errors.with_label_values(&["alerting"]).inc();
                    return None;
                }
            }
        }
        None
    }
}

/// Converts a closed window's report into the alerting crate's input (see the
/// [module docs](self) for what each rule kind sees). `None` if the window's bounds are
/// not representable as times.
pub fn window_outcome(report: &WindowReport, dashboard_url: Option<&str>) -> Option<WindowOutcome> {
    let window_start = DateTime::<Utc>::from_timestamp_millis(report.start_ms)?;
    let window_end = DateTime::<Utc>::from_timestamp_millis(report.end_ms)?;
    let mut features = Vec::new();
    let mut data_quality = BTreeMap::new();
    for (column, statistics) in report.columns.iter().zip(&report.statistics) {
        for stat in statistics {
            features.push(FeatureScore {
                feature: column.column.clone(),
                statistic: statistic_name(stat.test).to_owned(),
                // Thresholds of p-value tests are p-values.
                score: stat.p_value.unwrap_or(stat.value),
                threshold: stat.threshold,
                drifted: stat.drifted,
            });
        }
        let quality = &column.data_quality;
        let shares = [quality.missing_share, quality.out_of_range_share, quality.unseen_share];
        // The three are disjoint: null/NaN, numeric out of range, categorical unseen.
        let known: Vec<f64> = shares.into_iter().flatten().filter(|s| !s.is_nan()).collect();
        if !known.is_empty() {
            data_quality.insert(column.column.clone(), known.iter().sum::<f64>().min(1.0));
        }
    }
    let mut fairness = BTreeMap::new();
    for attribute in &report.fairness {
        let (selection, outcomes) = (&attribute.selection, &attribute.outcomes);
        for (metric, value, ratio) in [
            ("demographic_parity_difference", selection.demographic_parity_difference, false),
            ("demographic_parity_ratio", selection.demographic_parity_ratio, true),
            ("equal_opportunity_difference", outcomes.equal_opportunity_difference, false),
            ("equal_opportunity_ratio", outcomes.equal_opportunity_ratio, true),
            ("equalized_odds_difference", outcomes.equalized_odds_difference, false),
            ("equalized_odds_ratio", outcomes.equalized_odds_ratio, true),
        ] {
            let Some(value) = value.filter(|v| !v.is_nan()) else { continue };
            fairness.insert(format!("{}.{metric}", attribute.attribute), value);
            let worst = fairness.entry(metric.to_owned()).or_insert(value);
            *worst = if ratio { worst.min(value) } else { worst.max(value) };
        }
    }
    let dashboard_url = dashboard_url.map(|template| {
        template
            .replace("{model}", &report.model)
            .replace("{version}", &report.version)
            .replace("{start_ms}", &report.start_ms.to_string())
            .replace("{end_ms}", &report.end_ms.to_string())
    });
    Some(WindowOutcome {
        model: report.model.to_string(),
        version: report.version.to_string(),
        window_start,
        window_end,
        features,
        dataset_drift_share: if report.dataset.is_decided() {
            report.dataset.share
        } else {
            f64::NAN
        },
        dataset_drift: report.dataset.is_decided().then(|| DatasetVerdict {
            drifted: report.dataset.drifted,
            features: report
                .columns
                .iter()
                .filter(|c| c.decision.drifted)
                .map(|c| c.column.clone())
                .collect(),
        }),
        quality: BTreeMap::new(),
        fairness,
        data_quality,
        baseline_version: report.version.to_string(),
        dashboard_url,
    })
}

/// Delivery outcomes to Prometheus and to [`AlertEvent`] subscribers.
struct Observer {
    metrics: Arc<Metrics>,
    events: broadcast::Sender<AlertEvent>,
}

impl DeliveryObserver for Observer {
    fn delivered(&self, m: &OutboxMessage, attempts: u32, latency: Duration) {
        let metrics = &self.metrics;
        metrics.webhook_deliveries.with_label_values(&[&m.model, &m.rule, "delivered"]).inc();
        metrics.webhook_pending.with_label_values(&[&m.model, &m.rule]).dec();
        metrics.webhook_delivery_seconds.observe(latency.as_secs_f64());
        // The delivery loop logs the outcome itself; this only counts and relays it.
        self.events
            .send(AlertEvent::Delivered {
                model: m.model.clone(),
                rule: m.rule.clone(),
                event_id: m.event_id.clone(),
                target: m.target.clone(),
                attempts,
                latency,
            })
            .ok();
    }

    fn retrying(&self, m: &OutboxMessage, _: u32, _: &AttemptFailure, _: Duration) {
        self.metrics.webhook_retries.with_label_values(&[&m.model, &m.rule]).inc();
    }

    fn dead(&self, m: &OutboxMessage, attempts: u32, failure: &AttemptFailure) {
        let metrics = &self.metrics;
        metrics.webhook_deliveries.with_label_values(&[&m.model, &m.rule, "failed"]).inc();
        metrics.webhook_pending.with_label_values(&[&m.model, &m.rule]).dec();
        self.events
            .send(AlertEvent::Failed {
                model: m.model.clone(),
                rule: m.rule.clone(),
                event_id: m.event_id.clone(),
                target: m.target.clone(),
                attempts,
                reason: failure.to_string(),
            })
            .ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftgauge_alerting::policy::{Condition, DatasetDriftShareCondition, RuleConfig};
    use driftgauge_detectors::decision::Status;

    fn rule(name: &str, severity: Severity) -> RuleConfig {
        RuleConfig {
            name: name.into(),
            severity,
            cooldown_secs: 60,
            when: Condition::DatasetDriftShare(DatasetDriftShareCondition {
                at_least: 0.5,
                resolve: None,
            }),
        }
    }

    /// A real report: 40 events, `x` half missing and a quarter out of range, group `a`
    /// always predicted positive and group `b` never.
    fn report() -> WindowReport {
        use arrow::array::{BooleanArray, Float64Array, StringArray};
        use driftgauge_detectors::baseline::{ColumnProfileBuilder, FORMAT_VERSION, Profile};
        use driftgauge_detectors::drift::DriftTest;
        use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessConfig};

        use crate::stream::catalog::ModelPlan;
        use crate::stream::compute::WindowState;

        let options = driftgauge_detectors::baseline::ProfileOptions::default();
        let mut x =
            ColumnProfileBuilder::new(driftgauge_detectors::column::ColumnKind::Numeric, false);
        x.update("x", &Float64Array::from_iter_values((0..100).map(f64::from))).unwrap();
        let profile = Profile {
            format_version: FORMAT_VERSION,
            roles: Default::default(),
            rows: 100,
            options,
            columns: vec![x.finish("x", &options)],
        };
        let plan = Arc::new(ModelPlan::new(
            "fraud",
            "v3",
            Arc::new(profile),
            "score",
            "prediction",
            &["g".into()],
        ));
        let fairness = FairnessConfig { min_group_size: 1, ..FairnessConfig::default() };
        let mut state = WindowState {
            plan: Arc::clone(&plan),
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_060_000,
            rows: 40,
            columns: plan
                .profile
                .columns
                .iter()
                .map(driftgauge_detectors::drift::ColumnAccumulator::new)
                .collect(),
            selection: vec![FairnessAccumulator::new(fairness.clone()).unwrap()],
            outcomes: vec![FairnessAccumulator::new(fairness).unwrap()],
        };
        // 20 missing, 10 out of range (above 99), 10 in range.
        let values: Float64Array = (0..40)
            .map(|i| match i % 4 {
                0 | 1 => None,
                2 => Some(500.0),
                _ => Some(f64::from(i)),
            })
            .collect();
        state.columns[0].update("x", &values).unwrap();
        let predicted = BooleanArray::from((0..40).map(|i| i % 2 == 0).collect::<Vec<_>>());
        let groups = StringArray::from((0..40).map(|i| ["a", "b"][i % 2]).collect::<Vec<_>>());
        state.selection[0].update(&predicted, &predicted, &groups).unwrap();
        let drift = crate::config::Config::defaults().drift;
        crate::stream::compute::finish(&state, true, &drift, &[DriftTest::Psi, DriftTest::Ks])
    }

    #[test]
    fn reports_become_window_outcomes() {
        let report = report();
        let outcome = window_outcome(
            &report,
            Some("https://d/{model}/{version}?from={start_ms}&to={end_ms}"),
        )
        .unwrap();
        assert_eq!((outcome.model.as_str(), outcome.version.as_str()), ("fraud", "v3"));
        assert_eq!(outcome.window_start.timestamp_millis(), 1_700_000_000_000);
        assert_eq!(outcome.window_end.timestamp_millis(), 1_700_000_060_000);
        assert_eq!(
            outcome.dashboard_url.as_deref(),
            Some("https://d/fraud/v3?from=1700000000000&to=1700000060000")
        );
        let stat = |name: &str| outcome.features.iter().find(|f| f.statistic == name).unwrap();
        assert_eq!((stat("psi").feature.as_str(), stat("psi").threshold), ("x", 0.1));
        // KS is compared as a p-value: the score is the p-value, not the D statistic.
        let ks = &report.statistics[0].iter().find(|s| s.test.is_p_value()).unwrap();
        assert_eq!(stat("ks").score, ks.p_value.unwrap());
        assert_eq!(stat("ks").drifted, ks.drifted);
        assert!((outcome.data_quality["x"] - 0.75).abs() < 1e-12, "{:?}", outcome.data_quality);
        assert_eq!(outcome.fairness["g.demographic_parity_difference"], 1.0);
        assert_eq!(outcome.fairness["demographic_parity_difference"], 1.0);
        assert_eq!(outcome.fairness["demographic_parity_ratio"], 0.0);
        assert!(!outcome.fairness.contains_key("equal_opportunity_ratio"), "no ground truth");
        // Only 20 of the 40 events have an x: too few for its test (30), so the
        // window has no verdict, and the dataset rules see nothing to act on.
        assert_eq!(report.columns[0].decision.status, Some(Status::Insufficient));
        assert!(outcome.dataset_drift_share.is_nan());
        assert_eq!(outcome.dataset_drift, None);
        assert!(outcome.quality.is_empty());
    }

    #[test]
    fn model_rules_replace_defaults_by_name() {
        let mut policies = PolicyConfig {
            defaults: vec![rule("a", Severity::Warning), rule("b", Severity::Info)],
            models: BTreeMap::new(),
        };
        policies.models.insert(
            "m".into(),
            driftgauge_alerting::policy::ModelPolicyConfig {
                inherit_defaults: true,
                rules: vec![rule("b", Severity::Critical), rule("c", Severity::Info)],
            },
        );
        let names = |model| rules_for(&policies, model);
        assert_eq!(
            names("m"),
            [
                ("a".to_owned(), Severity::Warning),
                ("b".to_owned(), Severity::Critical),
                ("c".to_owned(), Severity::Info)
            ]
        );
        assert_eq!(names("other").len(), 2);
        assert_eq!(severity_of(&policies, "m", "b"), Some(Severity::Critical));
        assert_eq!(severity_of(&policies, "other", "c"), None);
    }
}
