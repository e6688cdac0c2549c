//! Webhook delivery against real listeners on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use driftgauge_alerting::cloudevent::{CloudEvent, RETRAIN_REQUESTED, STRUCTURED_CONTENT_TYPE};
use driftgauge_alerting::outbox::{MemoryOutbox, MessageStatus, OutboxStore};
use driftgauge_alerting::signing::{DEFAULT_TOLERANCE, SigningKey, WebhookHeaders};
use driftgauge_alerting::webhook::{
    AttemptFailure, WebhookConfig, WebhookDelivery, WebhookHandle, WebhookTarget,
};
use driftgauge_testkit::{Recorded, Reply, TestServer, eventually, refused_addr};

use crate::support::{Recorder, SECRET, Seen, fire_and_resolve, shutdown_pair};

const WAIT: Duration = Duration::from_secs(10);

fn config(urls: &[String]) -> WebhookConfig {
    WebhookConfig {
        targets: urls
            .iter()
            .map(|u| WebhookTarget { url: u.clone(), ..Default::default() })
            .collect(),
        timeout_ms: 2_000,
        initial_backoff_ms: 20,
        max_backoff_ms: 100,
        poll_interval_ms: 50,
        ..WebhookConfig::default()
    }
}

struct Running {
    handle: WebhookHandle,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        // An error only means the loop already ended.
        let _already_stopped = self.stop.send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("loop stops")
            .expect("loop did not panic");
    }
}

fn start(config: WebhookConfig, store: Arc<MemoryOutbox>, observer: Arc<Recorder>) -> Running {
    let (delivery, handle) = WebhookDelivery::builder(config, store)
        .observer(observer)
        .env(|name| (name == "DRIFTGAUGE_WEBHOOK_SECRET").then(|| SECRET.to_owned()))
        .build()
        .expect("valid webhook config");
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(delivery.run(shutdown));
    Running { handle, stop, task }
}

fn verify(req: &Recorded) {
    let key = SigningKey::from_whsec(SECRET).expect("secret");
    let headers = WebhookHeaders::from_lookup(|name| req.header(name));
    key.verify(&headers, &req.body, Utc::now(), DEFAULT_TOLERANCE).expect("signature verifies");
}

fn status_of(store: &MemoryOutbox) -> Vec<(MessageStatus, u32)> {
    store.snapshot().iter().map(|r| (r.status, r.message.attempts)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_a_signed_structured_cloudevent() {
    let server = TestServer::start(|_| Reply::status(204)).await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running =
        start(config(&[server.url("/hooks/retrain")]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();

    assert_eq!(running.handle.submit(&fire).await.expect("stored"), 1);
    let req = server.wait_for(1, WAIT).await.remove(0);
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hooks/retrain"));
    assert_eq!(req.header("content-type"), Some(STRUCTURED_CONTENT_TYPE));
    verify(&req);

    let event: CloudEvent = serde_json::from_slice(&req.body).expect("a CloudEvent");
    assert_eq!(req.header("webhook-id"), Some(event.id.as_str()));
    assert_eq!(event.event_type, RETRAIN_REQUESTED);
    assert_eq!(event.subject, "fraud/v3");
    assert_eq!(event.data.rule, "dataset-drift");
    assert_eq!(event.data.signals[0].name, "dataset_drift_share");
    assert_eq!(
        event,
        CloudEvent::from_decision(&fire, "driftgauge"),
        "body is the event of the decision"
    );

    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Delivered, 1)]).then_some(())).await;
    // The observer hears of a delivery just after the store records it, and the
    // `enqueued` callback may come after `delivered` (the loop can be faster than submit).
    let seen = eventually(WAIT, || Some(observer.seen()).filter(|s| s.len() == 2)).await;
    assert!(seen.contains(&Seen::Enqueued(event.id.clone())), "{seen:?}");
    assert!(seen.contains(&Seen::Delivered { id: event.id, attempts: 1 }), "{seen:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_gets_the_same_id() {
    let addr = refused_addr().await;
    let url = format!("http://{addr}/hook");
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running = start(config(&[url]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");

    // Connection refused, retried with backoff.
    let failures = |s: &[Seen]| {
        s.iter()
            .filter(|e| matches!(e, Seen::Retrying { failure: AttemptFailure::Connect { .. }, .. }))
            .count()
    };
    eventually(WAIT, || (failures(&observer.seen()) >= 2).then_some(())).await;
    let pending = store.snapshot().remove(0);
    assert_eq!(pending.status, MessageStatus::Pending);
    assert!(
        pending.message.last_error.as_deref().is_some_and(|e| e.starts_with("connect failed")),
        "{pending:?}"
    );

    let server = TestServer::start_at(addr, |_| Reply::status(200)).await;
    let req = server.wait_for(1, WAIT).await.remove(0);
    verify(&req);
    let id = CloudEvent::from_decision(&fire, "driftgauge").id;
    assert_eq!(req.header("webhook-id"), Some(id.as_str()));
    let delivered = eventually(WAIT, || {
        let row = store.snapshot().remove(0);
        (row.status == MessageStatus::Delivered).then_some(row)
    })
    .await;
    assert!(delivered.message.attempts >= 3, "{delivered:?}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_error_is_not_retried_and_is_reported() {
    let server = TestServer::start(|_| Reply::status(422).body("conf.model is required")).await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running = start(config(&[server.url("/")]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");

    let dead = eventually(WAIT, || {
        observer.seen().into_iter().find_map(|s| match s {
            Seen::Dead { attempts, failure, .. } => Some((attempts, failure)),
            _ => None,
        })
    })
    .await;
    assert_eq!(dead.0, 1);
    assert_eq!(dead.1.status(), Some(422));
    assert!(!dead.1.is_retryable());
    assert_eq!(dead.1.to_string(), "HTTP 422: conf.model is required");
    // Several poll intervals later, still exactly one request.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests().len(), 1);
    let row = store.snapshot().remove(0);
    assert_eq!(row.status, MessageStatus::Dead);
    assert_eq!(row.message.last_error.as_deref(), Some("HTTP 422: conf.model is required"));
    assert!(!observer.seen().iter().any(|s| matches!(s, Seen::Retrying { .. })));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_honours_retry_after_seconds() {
    let server = TestServer::start(|n| {
        if n == 0 { Reply::status(503).header("Retry-After", "1") } else { Reply::status(200) }
    })
    .await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running = start(config(&[server.url("/")]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");

    let reqs = server.wait_for(2, WAIT).await;
    let gap = reqs[1].at - reqs[0].at;
    // Backoff alone would be at most 20 ms; Retry-After asks for 1 s.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert_eq!(
        reqs[0].header("webhook-id"),
        reqs[1].header("webhook-id"),
        "same id on every attempt"
    );
    reqs.iter().for_each(verify);
    let retry =
        observer.seen().into_iter().find(|s| matches!(s, Seen::Retrying { .. })).expect("a retry");
    let Seen::Retrying { failure, delay, .. } = retry else { unreachable!() };
    assert_eq!(failure.status(), Some(503));
    assert!(delay >= Duration::from_secs(1));
    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Delivered, 2)]).then_some(())).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_is_retried_and_honours_an_http_date() {
    let server = TestServer::start(|n| match n {
        // An HTTP-date two seconds ahead (one-second resolution: at least one second).
        0 => {
            let at = Utc::now() + chrono::TimeDelta::seconds(2);
            Reply::status(429)
                .header("Retry-After", &at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        }
        1 => Reply::status(429),
        _ => Reply::status(202),
    })
    .await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running = start(config(&[server.url("/")]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");

    let reqs = server.wait_for(3, WAIT).await;
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(950), "Retry-After date honoured");
    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Delivered, 3)]).then_some(())).await;
    let retries = observer.seen().iter().filter(|s| matches!(s, Seen::Retrying { .. })).count();
    assert_eq!(retries, 2);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_is_retried() {
    let server = TestServer::start(|n| {
        let reply = Reply::status(200);
        if n == 0 { reply.delay(Duration::from_secs(3)) } else { reply }
    })
    .await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let mut cfg = config(&[server.url("/")]);
    cfg.timeout_ms = 300;
    let running = start(cfg, Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");

    let reqs = server.wait_for(2, WAIT).await;
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(300) && gap < Duration::from_secs(2),
        "gave up after the timeout: {gap:?}"
    );
    let first =
        observer.seen().into_iter().find(|s| matches!(s, Seen::Retrying { .. })).expect("a retry");
    assert!(
        matches!(first, Seen::Retrying { failure: AttemptFailure::Timeout, attempts: 1, .. }),
        "{first:?}"
    );
    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Delivered, 2)]).then_some(())).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_triggers_survive_a_restart_with_their_ids() {
    // The engine stops with triggers pending (receiver down), then starts again with the
    // same store: each trigger is delivered once, with its original id.
    let addr = refused_addr().await;
    let url = format!("http://{addr}/hook");
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let mut cfg = config(&[url]);
    cfg.send_resolved = true;
    let first = start(cfg.clone(), Arc::clone(&store), Arc::clone(&observer));
    let (fire, resolve) = fire_and_resolve();
    first.handle.submit(&fire).await.expect("stored");
    first.handle.submit(&resolve).await.expect("stored");
    eventually(WAIT, || store.snapshot().iter().all(|r| r.message.attempts >= 1).then_some(()))
        .await;
    first.stop().await;
    assert_eq!(store.pending_count().expect("count"), 2);
    let ids: Vec<String> = store.snapshot().iter().map(|r| r.message.event_id.clone()).collect();

    let server = TestServer::start_at(addr, |_| Reply::status(200)).await;
    let second = start(cfg, Arc::clone(&store), Arc::clone(&observer));
    let reqs = server.wait_for(2, WAIT).await;
    let mut got: Vec<String> =
        reqs.iter().map(|r| r.header("webhook-id").expect("id").to_owned()).collect();
    got.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(got, want);
    reqs.iter().for_each(verify);
    eventually(WAIT, || (store.pending_count().expect("count") == 0).then_some(())).await;
    // Submitting the same decision again (a replayed window) does not re-deliver it.
    assert_eq!(second.handle.submit(&fire).await.expect("ok"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.requests().len(), 2);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_target_is_delivered_independently() {
    let up = TestServer::start(|_| Reply::status(200)).await;
    let down = TestServer::start(|_| Reply::status(500)).await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let mut cfg = config(&[up.url("/a"), down.url("/b")]);
    cfg.max_attempts = 3;
    let running = start(cfg, Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    assert_eq!(running.handle.submit(&fire).await.expect("stored"), 2);

    up.wait_for(1, WAIT).await;
    down.wait_for(3, WAIT).await;
    let by_target = eventually(WAIT, || {
        let rows = store.snapshot();
        rows.iter().all(|r| r.status != MessageStatus::Pending).then_some(rows)
    })
    .await;
    let outcome = |url: &str| {
        by_target.iter().find(|r| r.message.target == url).map(|r| (r.status, r.message.attempts))
    };
    assert_eq!(outcome(&up.url("/a")), Some((MessageStatus::Delivered, 1)));
    assert_eq!(
        outcome(&down.url("/b")),
        Some((MessageStatus::Dead, 3)),
        "gave up after max_attempts"
    );
    let dead =
        eventually(WAIT, || observer.seen().into_iter().find(|s| matches!(s, Seen::Dead { .. })))
            .await;
    assert!(
        matches!(dead, Seen::Dead { ref failure, .. } if failure.is_retryable()),
        "exhausted, not rejected: {dead:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let server = TestServer::start(|_| {
        Reply::status(301).header("Location", "http://127.0.0.1:1/elsewhere")
    })
    .await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let running = start(config(&[server.url("/")]), Arc::clone(&store), Arc::clone(&observer));
    let (fire, _) = fire_and_resolve();
    running.handle.submit(&fire).await.expect("stored");
    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Dead, 1)]).then_some(())).await;
    assert_eq!(server.requests().len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airflow_template_with_token_and_conflict_as_success() {
    // A redelivered dag_run_id makes Airflow answer 409; listed in accept_status, it
    // counts as delivered instead of dead.
    let server =
        TestServer::start(|_| Reply::status(409).body(r#"{"title": "DAGRun already exists"}"#))
            .await;
    let store = Arc::new(MemoryOutbox::new());
    let observer = Arc::new(Recorder::default());
    let mut cfg = config(&[]);
    cfg.targets = vec![WebhookTarget {
        url: server.url("/api/v1/dags/retrain_fraud/dagRuns"),
        template: Some(r#"{"dag_run_id": "driftgauge-{{id}}", "conf": "{{data}}", "note": "{{data.summary}}"}"#.into()),
        headers: [("Accept".to_owned(), "application/json".to_owned())].into(),
        authorization_env: Some("AIRFLOW_AUTH".into()),
        accept_status: vec![409],
        ..Default::default()
    }];
    let (delivery, handle) =
        WebhookDelivery::builder(cfg, Arc::clone(&store) as Arc<dyn OutboxStore>)
            .observer(Arc::clone(&observer) as _)
            .env(|name| match name {
                "DRIFTGAUGE_WEBHOOK_SECRET" => Some(SECRET.to_owned()),
                "AIRFLOW_AUTH" => Some("Bearer s3cr3t".to_owned()),
                _ => None,
            })
            .build()
            .expect("valid");
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(delivery.run(shutdown));
    let (fire, _) = fire_and_resolve();
    handle.submit(&fire).await.expect("stored");

    let req = server.wait_for(1, WAIT).await.remove(0);
    verify(&req);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("authorization"), Some("Bearer s3cr3t"));
    assert_eq!(req.header("accept"), Some("application/json"));
    let body = req.json();
    let id = CloudEvent::from_decision(&fire, "driftgauge").id;
    assert_eq!(body["dag_run_id"], format!("driftgauge-{id}"));
    assert_eq!(body["conf"]["model"], "fraud");
    assert_eq!(body["conf"]["rule"], "dataset-drift");
    assert_eq!(body["note"], fire.evidence.summary);
    eventually(WAIT, || (status_of(&store) == [(MessageStatus::Delivered, 1)]).then_some(())).await;
    let _already_stopped = stop.send(());
    task.await.expect("loop stops");
}
