//! Pushing firing and resolved alerts to Alertmanager's v2 API.
//!
//! Alertmanager expects its clients to behave like Prometheus: send an alert when it
//! starts firing, re-send it regularly while it keeps firing with an `endsAt` a few
//! resend intervals ahead (so that it resolves by itself if the sender dies), and send it
//! with `endsAt` set to the resolve time when it resolves. [`AlertmanagerPusher`] does
//! exactly that:
//!
//! * a fire is pushed at once, and again every `resend_interval_ms` while firing, with
//!   `endsAt = now + 4 × resend interval` (Prometheus uses the same factor);
//! * a resolve is pushed at once with `endsAt = now`, and re-sent on every tick for
//!   `resolved_retention_ms` (Prometheus: 15 minutes) so a briefly unreachable
//!   Alertmanager still learns of it;
//! * every configured URL gets every push (an Alertmanager cluster wants all members
//!   to receive alerts); a failed push is logged and repaired by the next tick.
//!
//! `startsAt`/`endsAt` are wall-clock times: Alertmanager compares them with its own
//! clock. The windows (event time) are in the `window` annotation.
//!
//! Unlike webhooks, alerts are not stored in the outbox: they are state, re-sent
//! periodically, and a restart re-creates them from the next firing window.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cloudevent::{CloudEvent, RETRAIN_REQUESTED, event_id};
use crate::error::{Error, Problems, Result};
use crate::observe::{DeliveryObserver, NoopObserver};
use crate::policy::{Decision, DecisionKind};
use crate::webhook::{error_chain, http_client};

/// Labels this crate sets; configuration may not override them.
const RESERVED_LABELS: [&str; 5] = ["alertname", "model", "version", "feature", "severity"];
/// Prometheus keeps `endsAt` this many resend intervals ahead of a firing alert.
const ENDS_AT_FACTOR: u32 = 4;
/// Decisions buffered between the engine and the pusher.
const CHANNEL_CAPACITY: usize = 256;

/// Alertmanager push settings (`[alerting.alertmanager]` in the engine's TOML).
///
/// ```toml
/// [alerting.alertmanager]
/// urls = ["http://alertmanager-0:9093", "http://alertmanager-1:9093"]
/// labels = { cluster = "prod-eu" }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Base URLs of the Alertmanagers; `api/v2/alerts` is appended. Required, at least one.
    pub urls: Vec<String>,
    /// Re-send firing alerts this often. Default: `60000` (Prometheus'
    /// `--rules.alert.resend-delay` default of 1 m).
    #[serde(default = "default_resend_interval_ms")]
    pub resend_interval_ms: u64,
    /// Keep re-sending resolved alerts for this long. Default: `900000` (15 min).
    #[serde(default = "default_resolved_retention_ms")]
    pub resolved_retention_ms: u64,
    /// Per-request timeout. Default: `10000`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra labels on every alert, for example `{ cluster = "prod-eu" }`. Names must
    /// match `[a-zA-Z_][a-zA-Z0-9_]*` and not be one of ours. Default: none.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `generatorURL` when a decision has no dashboard link. Default: none.
    #[serde(default)]
    pub generator_url: Option<String>,
}

const fn default_resend_interval_ms() -> u64 {
    60_000
}

const fn default_resolved_retention_ms() -> u64 {
    15 * 60_000
}

const fn default_timeout_ms() -> u64 {
    10_000
}

/// One alert in Alertmanager's `postableAlert` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostableAlert {
    /// Identity of the alert: `alertname` (the rule), `model`, `version`, `severity`,
    /// `feature` (comma-separated, for feature rules) and the configured extra labels.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `scores`, `thresholds`, `window`, `baseline_version`, `event_id`, and
    /// `dashboard` when known.
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing.
    #[serde(rename = "startsAt")]
    pub starts_at: DateTime<Utc>,
    /// When it ends: in the future while firing, the resolve time once resolved.
    #[serde(rename = "endsAt")]
    pub ends_at: DateTime<Utc>,
    /// Link back to the source (the dashboard).
    #[serde(rename = "generatorURL", default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
}

/// Builds the alert for a decision, firing at `now` (see [`AlertmanagerPusher`] for how
/// `endsAt` is then maintained).
pub fn alert_for(
    decision: &Decision,
    extra_labels: &BTreeMap<String, String>,
    generator_url: Option<&str>,
    now: DateTime<Utc>,
) -> PostableAlert {
    let key = &decision.key;
    let mut labels = extra_labels.clone();
    labels.insert("alertname".into(), key.rule.clone());
    labels.insert("model".into(), key.model.clone());
    labels.insert("version".into(), key.version.clone());
    labels.insert("severity".into(), decision.severity.as_str().into());
    if !decision.evidence.features.is_empty() {
        labels.insert("feature".into(), decision.evidence.features.join(","));
    }

    let signals = &decision.evidence.signals;
    let name = |s: &crate::policy::Signal| match &s.statistic {
        Some(stat) => format!("{} {stat}", s.name),
        None => s.name.clone(),
    };
    let scores = signals
        .iter()
        .map(|s| match (s.hits, s.of) {
            (Some(h), Some(n)) => format!("{}={} ({h} of {n} windows)", name(s), s.value),
            _ => format!("{}={}", name(s), s.value),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let thresholds = signals
        .iter()
        .map(|s| match s.resolve {
            Some(r) => format!("{}: fire {}, resolve {r}", name(s), s.threshold),
            None => format!("{}: {}", name(s), s.threshold),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".into(), decision.evidence.summary.clone());
    annotations.insert("scores".into(), scores);
    annotations.insert("thresholds".into(), thresholds);
    annotations.insert(
        "window".into(),
        format!("{}/{}", rfc3339(decision.window.start), rfc3339(decision.window.end)),
    );
    annotations.insert("baseline_version".into(), decision.baseline_version.clone());
    // The id of the retraining event of the fire, to correlate with webhook receivers.
    let fired = match decision.kind {
        DecisionKind::Fire => CloudEvent::from_decision(decision, "").id,
        DecisionKind::Resolve => {
            let mut k = key.clone();
            k.window_start = decision.fired_window.map_or(k.window_start, |w| w.start);
            event_id(RETRAIN_REQUESTED, &k)
        }
    };
    annotations.insert("event_id".into(), fired);
    if let Some(url) = &decision.dashboard_url {
        annotations.insert("dashboard".into(), url.clone());
    }
    PostableAlert {
        labels,
        annotations,
        starts_at: now,
        ends_at: now,
        generator_url: decision.dashboard_url.clone().or_else(|| generator_url.map(str::to_owned)),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The submitting half: passes decisions to the pusher task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertmanagerHandle {
    tx: mpsc::Sender<Decision>,
}

impl AlertmanagerHandle {
    /// Hands a decision to the pusher (waits if its small buffer is full).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the pusher has stopped.
    pub async fn send(&self, decision: &Decision) -> Result<()> {
        self.tx
            .send(decision.clone())
            .await
            .map_err(|_| Error::Closed { component: "alertmanager" })
    }
}

/// Builds an [`AlertmanagerPusher`].
#[derive(Debug)]
pub struct AlertmanagerPusherBuilder {
    config: AlertmanagerConfig,
    observer: std::sync::Arc<dyn DeliveryObserver>,
}

impl AlertmanagerPusherBuilder {
    /// Reports push outcomes to `observer` (default: [`NoopObserver`]).
    pub fn observer(mut self, observer: std::sync::Arc<dyn DeliveryObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Validates the configuration and builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] listing every problem; [`Error::HttpClient`] if the
    /// client cannot be built.
    pub fn build(self) -> Result<(AlertmanagerPusher, AlertmanagerHandle)> {
        let c = self.config;
        let mut problems = Problems::default();
        if c.urls.is_empty() {
            problems.push("alertmanager.urls", "must list at least one Alertmanager");
        }
        let mut endpoints = Vec::new();
        for (i, url) in c.urls.iter().enumerate() {
            match reqwest::Url::parse(url) {
                Ok(mut u) if matches!(u.scheme(), "http" | "https") => {
                    if !u.path().ends_with('/') {
                        let path = format!("{}/", u.path());
                        u.set_path(&path);
                    }
                    match u.join("api/v2/alerts") {
                        Ok(endpoint) => endpoints.push(endpoint),
                        Err(e) => problems.push(
                            format!("alertmanager.urls[{i}]"),
                            format!("is not a base URL: {e}"),
                        ),
                    }
                }
                Ok(_) => {
                    problems.push(format!("alertmanager.urls[{i}]"), "must be an http or https URL")
                }
                Err(e) => {
                    problems.push(format!("alertmanager.urls[{i}]"), format!("is not a URL: {e}"))
                }
            }
        }
        for (field, value) in
            [("resend_interval_ms", c.resend_interval_ms), ("timeout_ms", c.timeout_ms)]
        {
            if value == 0 {
                problems.push(format!("alertmanager.{field}"), "must be at least 1");
            }
        }
        for name in c.labels.keys() {
            if !valid_label_name(name) {
                problems.push(format!("alertmanager.labels.{name}"), "is not a valid label name");
            } else if RESERVED_LABELS.contains(&name.as_str()) {
                problems.push(
                    format!("alertmanager.labels.{name}"),
                    "is set by driftgauge and cannot be overridden",
                );
            }
        }
        problems.into_result()?;
        let client = http_client(Duration::from_millis(c.timeout_ms), "alertmanager")?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let pusher = AlertmanagerPusher {
            client,
            endpoints,
            resend: Duration::from_millis(c.resend_interval_ms),
            retention: Duration::from_millis(c.resolved_retention_ms),
            labels: c.labels,
            generator_url: c.generator_url,
            rx,
            observer: self.observer,
        };
        Ok((pusher, AlertmanagerHandle { tx }))
    }
}

#[derive(Debug)]
struct Active {
    alert: PostableAlert,
    resolved_at: Option<Instant>,
}

/// The pushing task. Construct with [`AlertmanagerPusher::builder`]; run with
/// [`run`](Self::run).
pub struct AlertmanagerPusher {
    client: reqwest::Client,
    endpoints: Vec<reqwest::Url>,
    resend: Duration,
    retention: Duration,
    labels: BTreeMap<String, String>,
    generator_url: Option<String>,
    rx: mpsc::Receiver<Decision>,
    observer: std::sync::Arc<dyn DeliveryObserver>,
}

impl fmt::Debug for AlertmanagerPusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertmanagerPusher")
            .field(
                "endpoints",
                &self.endpoints.iter().map(reqwest::Url::as_str).collect::<Vec<_>>(),
            )
            .field("resend", &self.resend)
            .finish_non_exhaustive()
    }
}

impl AlertmanagerPusher {
    /// Starts building a pusher.
    pub fn builder(config: AlertmanagerConfig) -> AlertmanagerPusherBuilder {
        AlertmanagerPusherBuilder { config, observer: std::sync::Arc::new(NoopObserver) }
    }

    fn ends_at_while_firing(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let ahead = self.resend.saturating_mul(ENDS_AT_FACTOR);
        now + chrono::TimeDelta::from_std(ahead).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// Receives decisions and keeps Alertmanager informed until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = std::pin::pin!(shutdown);
        // Keyed by (model, rule): a rule fires at most once at a time per model.
        let mut active: BTreeMap<(String, String), Active> = BTreeMap::new();
        let mut tick = tokio::time::interval_at(Instant::now() + self.resend, self.resend);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut open = true;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                received = self.rx.recv(), if open => {
                    let Some(decision) = received else {
                        // Every handle is gone; keep re-sending what is active.
                        open = false;
                        continue;
                    };
                    let alert = self.apply(&mut active, &decision);
                    self.push(&[alert]).await;
                }
                _ = tick.tick() => {
                    let now = Utc::now();
                    let ends_at = self.ends_at_while_firing(now);
                    let retention = self.retention;
                    active.retain(|_, a| a.resolved_at.is_none_or(|at| at.elapsed() < retention));
                    let alerts: Vec<PostableAlert> = active
                        .values_mut()
                        .map(|a| {
                            if a.resolved_at.is_none() {
                                a.alert.ends_at = ends_at;
                            }
                            a.alert.clone()
                        })
                        .collect();
                    if !alerts.is_empty() {
                        self.push(&alerts).await;
                    }
                }
            }
        }
        tracing::info!(alerts = active.len(), "Alertmanager push stopped.");
    }

    /// Updates the active set with a decision; returns the alert to push now.
    fn apply(
        &self,
        active: &mut BTreeMap<(String, String), Active>,
        decision: &Decision,
    ) -> PostableAlert {
        let now = Utc::now();
        let slot = (decision.key.model.clone(), decision.key.rule.clone());
        match decision.kind {
            DecisionKind::Fire => {
                let mut alert =
                    alert_for(decision, &self.labels, self.generator_url.as_deref(), now);
                alert.ends_at = self.ends_at_while_firing(now);
                active.insert(slot, Active { alert: alert.clone(), resolved_at: None });
                alert
            }
            DecisionKind::Resolve => {
                // Keep the labels of the fire (the `feature` label in particular), so
                // Alertmanager sees the same alert end. Without it (a restart in between)
                // the resolve's own labels are the best available.
                let entry = active.entry(slot).or_insert_with(|| Active {
                    alert: alert_for(decision, &self.labels, self.generator_url.as_deref(), now),
                    resolved_at: None,
                });
                entry.alert.ends_at = now;
                entry.alert.annotations.insert("summary".into(), decision.evidence.summary.clone());
                entry.resolved_at = Some(Instant::now());
                entry.alert.clone()
            }
        }
    }

    async fn push(&self, alerts: &[PostableAlert]) {
        for endpoint in &self.endpoints {
            let result = self.client.post(endpoint.clone()).json(alerts).send().await;
            let outcome = match result {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(error_chain(&e)),
            };
            match &outcome {
                Ok(()) => {
                    tracing::debug!(url = %endpoint, alerts = alerts.len(), "Pushed alerts to Alertmanager.")
                }
                Err(error) => tracing::warn!(
                    url = %endpoint,
                    alerts = alerts.len(),
                    %error,
                    "Alertmanager push failed; the next resend will repeat it."
                ),
            }
            self.observer.alertmanager_pushed(endpoint.as_str(), alerts.len(), outcome.is_ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudevent::tests::decision;

    fn config(urls: Vec<&str>) -> AlertmanagerConfig {
        AlertmanagerConfig {
            urls: urls.into_iter().map(str::to_owned).collect(),
            resend_interval_ms: default_resend_interval_ms(),
            resolved_retention_ms: default_resolved_retention_ms(),
            timeout_ms: default_timeout_ms(),
            labels: BTreeMap::new(),
            generator_url: None,
        }
    }

    #[test]
    fn alert_carries_labels_and_annotations() {
        let d = decision(DecisionKind::Fire);
        let extra = [("cluster".to_owned(), "prod".to_owned())].into();
        let now = Utc::now();
        let a = alert_for(&d, &extra, Some("http://fallback"), now);
        let labels: Vec<(&str, &str)> =
            a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            labels,
            vec![
                ("alertname", "feature-drift"),
                ("cluster", "prod"),
                ("feature", "amount"),
                ("model", "fraud"),
                ("severity", "critical"),
                ("version", "v3"),
            ]
        );
        assert_eq!(a.annotations["scores"], "amount psi=0.31 (2 of 3 windows)");
        assert_eq!(a.annotations["thresholds"], "amount psi: fire 0.2, resolve 0.1");
        assert_eq!(a.annotations["dashboard"], "https://grafana.example/d/drift?var-model=fraud");
        assert_eq!(a.annotations["event_id"], CloudEvent::from_decision(&d, "x").id);
        assert_eq!(
            a.generator_url.as_deref(),
            Some("https://grafana.example/d/drift?var-model=fraud")
        );
        let json = serde_json::to_value(&a).expect("json");
        assert!(
            json.get("startsAt").is_some()
                && json.get("endsAt").is_some()
                && json.get("generatorURL").is_some()
        );
    }

    #[test]
    fn resolve_annotation_points_at_the_fire_event() {
        let fire = decision(DecisionKind::Fire);
        let mut resolve = decision(DecisionKind::Resolve);
        resolve.fired_window = Some(fire.window);
        resolve.key.window_start += chrono::TimeDelta::hours(3);
        let a = alert_for(&resolve, &BTreeMap::new(), None, Utc::now());
        assert_eq!(a.annotations["event_id"], CloudEvent::from_decision(&fire, "x").id);
    }

    #[test]
    fn config_validation() {
        let mut c = config(vec!["ftp://x", "not a url", "http://am:9093/prefix"]);
        c.labels.insert("severity".into(), "x".into());
        c.labels.insert("9bad".into(), "x".into());
        c.resend_interval_ms = 0;
        let err = AlertmanagerPusher::builder(c).build().expect_err("invalid");
        let Error::InvalidConfig { problems } = &err else { panic!("{err}") };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "alertmanager.urls[0]",
                "alertmanager.urls[1]",
                "alertmanager.resend_interval_ms",
                "alertmanager.labels.9bad",
                "alertmanager.labels.severity",
            ]
        );
        let (p, _) = AlertmanagerPusher::builder(config(vec!["http://am:9093", "http://lb/am"]))
            .build()
            .expect("valid");
        let endpoints: Vec<&str> = p.endpoints.iter().map(reqwest::Url::as_str).collect();
        assert_eq!(endpoints, vec!["http://am:9093/api/v2/alerts", "http://lb/am/api/v2/alerts"]);
    }
}
