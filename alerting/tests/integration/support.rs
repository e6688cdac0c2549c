//! Test support for this crate alone: a recording observer and helpers to produce
//! decisions through the public policy API. The HTTP server on 127.0.0.1 these tests
//! deliver to is `driftgauge_testkit`'s, shared with the workspace's tests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use driftgauge_alerting::observe::DeliveryObserver;
use driftgauge_alerting::outbox::OutboxMessage;
use driftgauge_alerting::policy::{
    Condition, DatasetDriftShareCondition, Decision, FeatureScore, PolicyConfig, PolicyEngine,
    RuleConfig, Severity, WindowOutcome,
};
use driftgauge_alerting::webhook::AttemptFailure;

/// The whsec_ secret of the Standard Webhooks test vector (see src/signing.rs).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the observer saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Enqueued(String),
    Delivered { id: String, attempts: u32 },
    Retrying { id: String, attempts: u32, failure: AttemptFailure, delay: Duration },
    Dead { id: String, attempts: u32, failure: AttemptFailure },
    Pushed { url: String, alerts: usize, ok: bool },
}

#[derive(Debug, Default)]
pub struct Recorder {
    seen: Mutex<Vec<Seen>>,
}

impl Recorder {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn push(&self, s: Seen) {
        self.seen.lock().expect("lock").push(s);
    }
}

impl DeliveryObserver for Recorder {
    fn enqueued(&self, m: &OutboxMessage) {
        self.push(Seen::Enqueued(m.event_id.clone()));
    }

    fn delivered(&self, m: &OutboxMessage, attempts: u32, _: Duration) {
        self.push(Seen::Delivered { id: m.event_id.clone(), attempts });
    }

    fn retrying(
        &self,
        m: &OutboxMessage,
        attempts: u32,
        failure: &AttemptFailure,
        delay: Duration,
    ) {
        self.push(Seen::Retrying {
            id: m.event_id.clone(),
            attempts,
            failure: failure.clone(),
            delay,
        });
    }

    fn dead(&self, m: &OutboxMessage, attempts: u32, failure: &AttemptFailure) {
        self.push(Seen::Dead { id: m.event_id.clone(), attempts, failure: failure.clone() });
    }

    fn alertmanager_pushed(&self, url: &str, alerts: usize, ok: bool) {
        self.push(Seen::Pushed { url: url.to_owned(), alerts, ok });
    }
}

/// A fire and then a resolve for model `fraud`, produced by a real [`PolicyEngine`].
pub fn fire_and_resolve() -> (Decision, Decision) {
    let config = PolicyConfig {
        defaults: vec![RuleConfig {
            name: "dataset-drift".into(),
            severity: Severity::Critical,
            cooldown_secs: 3600,
            when: Condition::DatasetDriftShare(DatasetDriftShareCondition {
                at_least: 0.5,
                resolve: Some(0.2),
            }),
        }],
        models: BTreeMap::new(),
    };
    let mut engine = PolicyEngine::new(&config).expect("valid policy");
    let start = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("date");
    let window = |i: i64, share: f64| WindowOutcome {
        model: "fraud".into(),
        version: "v3".into(),
        window_start: start + TimeDelta::hours(i),
        window_end: start + TimeDelta::hours(i + 1),
        features: vec![FeatureScore {
            feature: "amount".into(),
            statistic: "psi".into(),
            score: 0.4,
            threshold: 0.2,
            drifted: share > 0.5,
        }],
        dataset_drift_share: share,
        dataset_drift: None,
        quality: BTreeMap::new(),
        fairness: BTreeMap::new(),
        data_quality: BTreeMap::new(),
        baseline_version: "2024-04".into(),
        dashboard_url: Some("https://grafana.example/d/drift?var-model=fraud".into()),
    };
    let fire = engine.evaluate(&window(0, 0.75)).pop().expect("fires");
    let resolve = engine.evaluate(&window(1, 0.1)).pop().expect("resolves");
    (fire, resolve)
}

/// A shutdown signal for `run` loops.
pub fn shutdown_pair()
-> (tokio::sync::oneshot::Sender<()>, impl std::future::Future<Output = ()> + Send + 'static) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        // Sent or sender dropped: either way, stop.
        match rx.await {
            Ok(()) | Err(_) => {}
        }
    })
}
