//! Retraining webhooks fired by the running engine: the demo stream (mock Kafka
//! cluster, wall-clock events, windows of 1 s) drifts after a few windows, the alert
//! bridge evaluates every closed window, and real HTTP listeners on 127.0.0.1 receive
//! the events.
//!
//! * drift begins: exactly one signed CloudEvent per model and rule arrives within a
//!   few windows, and the metrics count it;
//! * the receiver is down when the engine stops: the triggers stay in the SQLite outbox
//!   with the policy state, and after a restart with the receiver up each is delivered
//!   once, with its original id, and nothing fires again;
//! * the receiver answers 400: no retry, counted as failed.
//!
//! Retries with backoff, `Retry-After`, timeouts and the Python cross-check live in the
//! alerting crate's own tests (`alerting/tests/integration`); `outbox.rs` restarts the
//! delivery loop alone.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use driftgauge_alerting::outbox::MessageStatus;
use driftgauge_alerting::signing::{DEFAULT_TOLERANCE, SigningKey, WebhookHeaders};
use driftgauge_engine::alerts::outbox_store::SqliteOutbox;
use driftgauge_engine::cli::demo::{self, DemoOptions, DemoSummary};
use driftgauge_testkit::{Recorded, Reply, TestServer, refused_addr};

/// The Standard Webhooks test-vector secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The demo's rules, for every model.
const RULES: [&str; 2] = ["dataset-drift", "feature-drift"];
const MODELS: [&str; 2] = ["churn", "credit"];
const WINDOW_MS: i64 = 1_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn options(topic: &str, webhook: String, duration_secs: u64, drift_after_secs: u64) -> DemoOptions {
    DemoOptions {
        duration: Some(Duration::from_secs(duration_secs)),
        window_secs: 1,
        drift_after_secs,
        rate: 300,
        metrics_address: "127.0.0.1:0".parse().unwrap(),
        topic: topic.into(),
        webhooks: vec![webhook],
        webhook_secret: Some(SECRET.into()),
        ..DemoOptions::default()
    }
}

async fn run_demo(options: DemoOptions) -> (DemoSummary, String) {
    let mut out = Vec::new();
    let summary = demo::run(options, &mut out).await.expect("the demo runs");
    (summary, String::from_utf8(out).unwrap())
}

/// The value of the series `name` whose labels include every one of `labels`.
fn metric(body: &str, name: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Checks the Standard Webhooks signature and the CloudEvent's shape; returns the
/// event's `data`.
fn verify_event(request: &Recorded) -> serde_json::Value {
    let key = SigningKey::from_whsec(SECRET).unwrap();
    let headers = WebhookHeaders::from_lookup(|name| request.header(name));
    key.verify(&headers, &request.body, Utc::now(), DEFAULT_TOLERANCE)
        .expect("a valid Standard Webhooks signature");
    assert!(
        request.headers["content-type"].starts_with("application/cloudevents+json"),
        "structured mode: {:?}",
        request.headers
    );
    let event = request.json();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "dev.driftgauge.retrain.requested");
    assert_eq!(event["source"], "driftgauge-demo");
    assert_eq!(event["datacontenttype"], "application/json");
    assert_eq!(event["id"].as_str(), request.header("webhook-id"), "id = webhook-id");
    let data = event["data"].clone();
    let model = data["model"].as_str().expect("data.model");
    assert_eq!(event["subject"], format!("{model}/v1"));
    assert_eq!(data["decision"], "fire");
    assert!(!data["signals"].as_array().expect("signals").is_empty(), "evidence: {data}");
    event["time"].as_str().expect("time").parse::<DateTime<Utc>>().expect("RFC 3339 time");
    data
}

fn webhook_id(request: &Recorded) -> String {
    request.header("webhook-id").expect("webhook-id header").to_owned()
}

fn model_rule(data: &serde_json::Value) -> (String, String) {
    (data["model"].as_str().unwrap().to_owned(), data["rule"].as_str().unwrap().to_owned())
}

fn every_model_and_rule() -> BTreeSet<(String, String)> {
    MODELS
        .iter()
        .flat_map(|m| RULES.iter().map(move |r| ((*m).to_owned(), (*r).to_owned())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_in_the_demo_stream_fires_one_signed_event_per_model_and_rule() {
    let receiver = TestServer::start(|_| Reply::status(200)).await;
    let started_ms = now_ms();
    let drift_after_secs = 4;
    let url = receiver.url("/hooks/retrain");
    let (summary, out) = run_demo(options("alerting-e2e-drift", url, 13, drift_after_secs)).await;

    let received = receiver.requests();
    let mut seen = BTreeSet::new();
    let drift_ms = started_ms + drift_after_secs as i64 * 1000;
    for request in &received {
        let data = verify_event(request);
        assert!(seen.insert(model_rule(&data)), "a second event for {data}\n{out}");
        let start: DateTime<Utc> = data["window"]["start"].as_str().unwrap().parse().unwrap();
        let start_ms = start.timestamp_millis();
        // The window holds drifted events, and is at most a few windows into the drift.
        assert!(start_ms + WINDOW_MS > drift_ms - 500, "fired before the drift: {data}\n{out}");
        assert!(start_ms < drift_ms + 5 * WINDOW_MS, "fired too late: {data}\n{out}");
    }
    assert_eq!(seen, every_model_and_rule(), "one event per model and rule\n{out}");
    assert_eq!(received.len(), 4, "no retries or duplicates\n{out}");

    assert_eq!((summary.triggers, summary.delivered, summary.failed), (4, 4, 0), "{out}");
    assert_eq!(out.matches(">>> RETRAINING TRIGGERED").count(), 4, "{out}");
    assert_eq!(out.matches(">>> WEBHOOK DELIVERED").count(), 4, "{out}");
    let m = &summary.metrics;
    for (model, rule) in every_model_and_rule() {
        let (model, rule) = (format!("model=\"{model}\""), format!("rule=\"{rule}\""));
        let labels = [model.as_str(), rule.as_str()];
        let with = |extra: &'static str| [labels[0], labels[1], extra];
        assert_eq!(metric(m, "driftgauge_retrain_triggers_total", &labels), Some(1.0), "{m}");
        assert_eq!(metric(m, "driftgauge_alert_firing", &labels), Some(1.0), "{m}");
        assert_eq!(
            metric(m, "driftgauge_webhook_deliveries_total", &with("outcome=\"delivered\"")),
            Some(1.0),
            "{m}"
        );
        assert_eq!(metric(m, "driftgauge_webhook_pending", &labels), Some(0.0), "{m}");
    }
    assert_eq!(metric(m, "driftgauge_webhook_delivery_seconds_count", &[]), Some(4.0), "{m}");
    assert!(metric(m, "driftgauge_webhook_retries_total", &[]).is_none(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_pending_at_shutdown_are_delivered_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("driftgauge.db");
    let addr = refused_addr().await;
    let url = format!("http://{addr}/hooks/retrain");

    // First run: the receiver is down. Every trigger is stored and tried, and the
    // engine stops with all of them pending.
    let mut first = options("alerting-e2e-restart-1", url.clone(), 10, 3);
    first.alert_database = Some(db.clone());
    let (summary, out) = run_demo(first).await;
    assert_eq!((summary.triggers, summary.delivered), (4, 0), "{out}");
    let stored = SqliteOutbox::open(&db).unwrap().messages().unwrap();
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert!(
        stored.iter().all(|m| m.status == MessageStatus::Pending && m.message.attempts >= 1),
        "{stored:?}"
    );
    let mut original: Vec<String> = stored.iter().map(|m| m.message.event_id.clone()).collect();
    original.sort();
    assert_eq!(
        metric(&summary.metrics, "driftgauge_webhook_pending", &["model=\"credit\""]),
        Some(1.0),
        "{}",
        summary.metrics
    );

    // Second run, the receiver up, the stream drifting from the start. The stored
    // triggers go out; the restored policy state (still firing, in cooldown) fires
    // nothing new.
    let receiver = TestServer::start_at(addr, |_| Reply::status(200)).await;
    let mut second = options("alerting-e2e-restart-2", url, 6, 0);
    second.alert_database = Some(db.clone());
    let (summary, out) = run_demo(second).await;
    assert_eq!((summary.triggers, summary.delivered), (0, 4), "{out}");
    let received = receiver.requests();
    let mut ids: Vec<String> = received.iter().map(webhook_id).collect();
    ids.sort();
    assert_eq!(ids, original, "each trigger once, with its original id\n{out}");
    let kinds: BTreeSet<(String, String)> =
        received.iter().map(|r| model_rule(&verify_event(r))).collect();
    assert_eq!(kinds, every_model_and_rule());
    let stored = SqliteOutbox::open(&db).unwrap().messages().unwrap();
    assert!(stored.iter().all(|m| m.status == MessageStatus::Delivered), "{stored:?}");
    let m = &summary.metrics;
    assert_eq!(
        metric(m, "driftgauge_alert_firing", &["model=\"churn\"", "rule=\"feature-drift\""]),
        Some(1.0),
        "the firing state survived the restart\n{m}"
    );
    assert!(metric(m, "driftgauge_retrain_triggers_total", &[]).is_none(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_is_not_retried_and_is_counted_as_failed() {
    let receiver = TestServer::start(|_| Reply::status(400)).await;
    let (summary, out) =
        run_demo(options("alerting-e2e-4xx", receiver.url("/hooks/retrain"), 10, 3)).await;
    let received = receiver.requests();
    assert_eq!(received.len(), 4, "one attempt per trigger, no retry\n{out}");
    assert_eq!((summary.triggers, summary.delivered, summary.failed), (4, 0, 4), "{out}");
    assert_eq!(out.matches(">>> WEBHOOK FAILED").count(), 4, "{out}");
    assert!(out.contains("HTTP 400"), "{out}");
    let m = &summary.metrics;
    for (model, rule) in every_model_and_rule() {
        let (model, rule) = (format!("model=\"{model}\""), format!("rule=\"{rule}\""));
        let labels = [model.as_str(), rule.as_str(), "outcome=\"failed\""];
        assert_eq!(metric(m, "driftgauge_webhook_deliveries_total", &labels), Some(1.0), "{m}");
        assert_eq!(
            metric(m, "driftgauge_webhook_pending", &[labels[0], labels[1]]),
            Some(0.0),
            "{m}"
        );
    }
    assert!(metric(m, "driftgauge_webhook_retries_total", &[]).is_none(), "{m}");
    assert!(
        metric(m, "driftgauge_webhook_deliveries_total", &["outcome=\"delivered\""]).is_none(),
        "{m}"
    );
}
