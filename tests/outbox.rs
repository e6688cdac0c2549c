//! The webhook outbox on SQLite across an engine restart: triggers enqueued
//! while the receiver is down survive the process, and a new delivery loop on
//! the reopened file delivers each exactly once with its original event id.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use driftgauge_alerting::outbox::{MessageStatus, OutboxStore};
use driftgauge_alerting::policy::{
    Condition, DatasetDriftShareCondition, Decision, FeatureScore, PolicyConfig, PolicyEngine,
    RuleConfig, Severity, WindowOutcome,
};
use driftgauge_alerting::signing::{DEFAULT_TOLERANCE, SigningKey, WebhookHeaders};
use driftgauge_alerting::webhook::{WebhookConfig, WebhookDelivery, WebhookHandle, WebhookTarget};
use driftgauge_engine::alerts::outbox_store::SqliteOutbox;
use driftgauge_testkit::{Reply, TestServer, eventually, refused_addr};

/// The Standard Webhooks test-vector secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WAIT: Duration = Duration::from_secs(15);

/// A fire and a resolve for each model, from the real policy engine.
fn decisions(models: &[&str]) -> Vec<Decision> {
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
    let window = |model: &str, hour: i64, share: f64| WindowOutcome {
        model: model.into(),
        version: "v3".into(),
        window_start: start + TimeDelta::hours(hour),
        window_end: start + TimeDelta::hours(hour + 1),
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
        baseline_version: "v3".into(),
        dashboard_url: None,
    };
    let mut decisions = Vec::new();
    for model in models {
        decisions.extend(engine.evaluate(&window(model, 0, 0.75)));
        decisions.extend(engine.evaluate(&window(model, 1, 0.1)));
    }
    assert_eq!(decisions.len(), models.len() * 2, "a fire and a resolve per model");
    decisions
}

/// A running delivery loop: the engine's webhook half.
struct Engine {
    handle: WebhookHandle,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    fn start(url: &str, store: Arc<SqliteOutbox>) -> Self {
        let config = WebhookConfig {
            targets: vec![WebhookTarget { url: url.to_owned(), ..WebhookTarget::default() }],
            timeout_ms: 2_000,
            initial_backoff_ms: 20,
            max_backoff_ms: 100,
            poll_interval_ms: 50,
            send_resolved: true,
            ..WebhookConfig::default()
        };
        let (delivery, handle) = WebhookDelivery::builder(config, store)
            .env(|name| (name == "DRIFTGAUGE_WEBHOOK_SECRET").then(|| SECRET.to_owned()))
            .build()
            .expect("valid webhook config");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(delivery.run(async move {
            // Sent or dropped: either way, stop.
            drop(stopped.await);
        }));
        Self { handle, stop, task }
    }

    async fn stop(self) {
        // An error only means the loop has already ended.
        let _already_stopped = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("loop stops").expect("no panic");
    }
}

fn statuses(store: &SqliteOutbox) -> Vec<(MessageStatus, u32)> {
    store.messages().expect("read outbox").iter().map(|m| (m.status, m.message.attempts)).collect()
}

fn open(path: &Path) -> Arc<SqliteOutbox> {
    Arc::new(SqliteOutbox::open(path).expect("open outbox"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_triggers_survive_an_engine_restart_and_are_delivered_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("driftgauge.db");
    let addr = refused_addr().await;
    let url = format!("http://{addr}/hooks/retrain");
    let decisions = decisions(&["fraud", "churn"]);

    // First run: the receiver is down. Every trigger is stored, tried, and left pending.
    let store = open(&db);
    let first = Engine::start(&url, Arc::clone(&store));
    for decision in &decisions {
        assert_eq!(first.handle.submit(decision).await.expect("stored"), 1);
    }
    // Every trigger tried at least once.
    eventually(WAIT, || {
        let tried = statuses(&store);
        (tried.len() == 4 && tried.iter().all(|(_, attempts)| *attempts >= 1)).then_some(())
    })
    .await;
    let original: Vec<String> =
        store.messages().expect("read").into_iter().map(|m| m.message.event_id).collect();
    first.stop().await;
    assert_eq!(store.pending_count().expect("count"), 4);
    // The engine stops: nothing survives but the file.
    drop(store);

    // Second run: a new process opens the file while the receiver is up.
    let receiver = TestServer::start_at(addr, |_| Reply::status(200)).await;
    let store = open(&db);
    assert_eq!(store.pending_count().expect("count"), 4, "the triggers are in the file");
    let second = Engine::start(&url, Arc::clone(&store));
    eventually(WAIT, || (store.pending_count().ok()? == 0).then_some(())).await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.requests();
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| r.header("webhook-id").expect("webhook-id header").to_owned())
        .collect();
    ids.sort();
    let mut want = original.clone();
    want.sort();
    assert_eq!(ids, want, "each trigger exactly once, with its original id");

    let key = SigningKey::from_whsec(SECRET).expect("secret");
    for request in &received {
        let headers = WebhookHeaders::from_lookup(|name| request.header(name));
        key.verify(&headers, &request.body, Utc::now(), DEFAULT_TOLERANCE).expect("signed");
        assert_eq!(request.json()["id"].as_str(), request.header("webhook-id"));
    }
    assert!(
        statuses(&store)
            .iter()
            .all(|(status, attempts)| { *status == MessageStatus::Delivered && *attempts >= 2 })
    );

    // A replayed window after the restart is recognised and not sent again.
    for decision in &decisions {
        assert_eq!(second.handle.submit(decision).await.expect("ok"), 0);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.requests().len(), 4);
    second.stop().await;
}

/// Runs the CLI in-process: (exit code, stdout, stderr).
fn driftgauge(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = driftgauge_engine::cli::run(
        std::iter::once("driftgauge").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    (code, String::from_utf8(out).expect("utf-8"), String::from_utf8(err).expect("utf-8"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_up_triggers_are_listed_and_sent_again_with_their_original_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("driftgauge.db");
    let db_arg = db.to_str().expect("utf-8 path");
    // The receiver refuses every trigger (a 4xx is not retried), so all are given
    // up, until it is fixed.
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let receiver = TestServer::start({
        let fixed = Arc::clone(&fixed);
        move |_| {
            Reply::status(if fixed.load(std::sync::atomic::Ordering::SeqCst) { 200 } else { 400 })
        }
    })
    .await;
    let url = receiver.url("/hooks/retrain");
    let decisions = decisions(&["fraud"]);
    let store = open(&db);
    let first = Engine::start(&url, Arc::clone(&store));
    for decision in &decisions {
        first.handle.submit(decision).await.expect("stored");
    }
    eventually(WAIT, || {
        let given_up = statuses(&store);
        (given_up.len() == 2 && given_up.iter().all(|(s, _)| *s == MessageStatus::Dead))
            .then_some(())
    })
    .await;
    first.stop().await;
    let ids: Vec<String> =
        store.messages().expect("read").into_iter().map(|m| m.message.event_id).collect();

    let (code, listed, _) = driftgauge(&["outbox", "list", "--db", db_arg, "--format", "json"]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|m| m["status"] == "dead" && m["last_error"].is_string()));
    let (_, table, _) = driftgauge(&["outbox", "list", "--db", db_arg]);
    assert!(
        table.starts_with("ID ") && table.contains(&ids[0]) && table.contains("dead"),
        "{table}"
    );

    let (code, _, err) = driftgauge(&["outbox", "retry", "--db", db_arg, "--id", "no-such-id"]);
    assert_eq!(code, 2);
    assert!(err.contains("no given-up trigger has event id no-such-id"), "{err}");
    let (code, _, err) = driftgauge(&["outbox", "retry", "--db", db_arg, "--id", &ids[0]]);
    assert_eq!((code, err.trim_end()), (0, format!("1 trigger(s) pending again in {db_arg}; the engine sends them at its next look at the outbox").as_str()));
    let (code, _, _) = driftgauge(&["outbox", "retry", "--db", db_arg, "--all"]);
    assert_eq!(code, 0);
    assert!(
        statuses(&store).iter().all(|(s, attempts)| *s == MessageStatus::Pending && *attempts == 0)
    );

    // The receiver is fixed; the next delivery loop sends both, each with its original id.
    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = receiver.requests().len();
    let second = Engine::start(&url, Arc::clone(&store));
    let received = receiver.wait_for(refused + 2, WAIT).await;
    second.stop().await;
    let mut sent: Vec<&str> =
        received[refused..].iter().filter_map(|r| r.header("webhook-id")).collect();
    sent.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(sent, want);
    assert!(statuses(&store).iter().all(|(s, _)| *s == MessageStatus::Delivered));
}
