//! The streaming engine against a real Kafka-API broker, over TCP: topics
//! created through the admin API, a consumer group with real rebalancing and
//! commits, and the dead-letter producer.
//!
//! The broker's address comes from `DRIFTGAUGE_TEST_BROKERS`; `.ci/tansu.sh`
//! starts Tansu on a free loopback port and runs this module with it:
//!
//! ```text
//! bash .ci/tansu.sh            # or, with a broker of your own:
//! DRIFTGAUGE_TEST_BROKERS=127.0.0.1:9092 cargo test --workspace -- --ignored kafka_broker::
//! ```
//!
//! The test fails, rather than passes, when the variable is missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use driftgauge_detectors::baseline::Profile;
use driftgauge_engine::config::Config;
use driftgauge_engine::registry::Registry;
use driftgauge_engine::stream::catalog::RegistryBaselines;
use driftgauge_engine::stream::compute::WindowReport;
use driftgauge_engine::stream::pipeline::Engine;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::watch;

/// Where the broker is: `host:port[,host:port...]`.
const BROKERS_VARIABLE: &str = "DRIFTGAUGE_TEST_BROKERS";
/// A window boundary; windows here are 10 s long.
const T0: i64 = 1_700_000_000_000;
const PARTITIONS: i32 = 3;

fn brokers() -> String {
    match std::env::var(BROKERS_VARIABLE) {
        Ok(brokers) if !brokers.trim().is_empty() => brokers,
        _ => panic!(
            "{BROKERS_VARIABLE} is not set: this test needs a Kafka-API broker \
             (`bash .ci/tansu.sh` starts one and runs it)"
        ),
    }
}

/// Names no earlier run on the same broker used.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn profile() -> Profile {
    crate::support::reference_profile(5000, false)
}

/// A JSON event whose x follows the baseline, plus `shift`.
fn event(model: &str, time_ms: i64, i: usize, shift: f64) -> Vec<u8> {
    let (x, c) = (((i * 37) % 100) as f64 + shift, ["u", "v", "w"][i % 3]);
    serde_json::json!({ "model": model, "timestamp": time_ms, "features": { "x": x, "c": c } })
        .to_string()
        .into_bytes()
}

async fn create_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin.create_topics(&new, &options).await.expect("CreateTopics answered");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("cannot create {topic}: {error}"));
    }
}

/// Sends `(key, payload)` pairs and waits until the broker has them all.
fn produce(brokers: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (key, payload) in messages {
        let record = BaseRecord::to(topic).key(key.as_str()).payload(payload.as_slice());
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30)).expect("the broker acknowledged every message");
}

/// Reads `count` messages of every partition of `topic` from the start.
fn read_all(brokers: &str, topic: &str, count: usize) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("dead-letter-reader"))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "2000")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&partitions).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    while messages.len() < count {
        assert!(Instant::now() < deadline, "read {} of {count} messages", messages.len());
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            messages.push(message.expect("a message").detach());
        }
    }
    messages
}

fn header<'a>(message: &'a OwnedMessage, key: &str) -> Option<&'a str> {
    let headers = message.headers()?;
    let value = headers.iter().find(|h| h.key == key)?.value?;
    std::str::from_utf8(value).ok()
}

async fn until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka-API broker; run by .ci/run with --ignored"]
async fn json_events_through_a_real_broker_close_windows_with_drift_verdicts() {
    let brokers = brokers();
    let (topic, dead_letters, group) =
        (unique("predictions"), unique("predictions-dead-letter"), unique("driftgauge-it"));
    create_topics(&brokers, &[&topic, &dead_letters]).await;

    // Baselines come from a registry file, as in production.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let mut registry = Registry::open(&db).unwrap();
    for model in ["alpha", "beta"] {
        registry.store_profile(model, "v1", &profile(), "test").unwrap();
        registry.activate(model, "v1", "test").unwrap();
    }
    drop(registry);
    let text = format!(
        r#"
[server]
address = "127.0.0.1:0"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
session_timeout_ms = 2000
statistics_interval_ms = 500
commit_interval_ms = 200
[[streams]]
name = "predictions"
topics = ["{topic}"]
format = "json"
dead_letter_topic = "{dead_letters}"
[batch]
max_delay_ms = 50
[window]
size_secs = 10
allowed_lateness_secs = 1
[baselines]
registry_path = "{}"
"#,
        db.display()
    );
    let config = Config::from_layers(Some(("test", &text)), std::iter::empty()).unwrap();
    let engine = Engine::new(config, Arc::new(RegistryBaselines::open(&db).unwrap()));
    let mut reports = engine.subscribe();
    let metrics = engine.metrics();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let running = engine.start(shutdown_rx).await.unwrap();

    // 600 events per model in [T0, T0 + 10 s), keyed by model over the
    // partitions; beta's x is shifted by 60. One message is not JSON.
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..600 {
        let time = T0 + (i as i64 * 9_000) / 600;
        messages.push(("alpha".into(), event("alpha", time, i, 0.0)));
        messages.push(("beta".into(), event("beta", time, i, 60.0)));
    }
    messages.push(("alpha".into(), b"{not json".to_vec()));
    let (b, t) = (brokers.clone(), topic.clone());
    tokio::task::spawn_blocking(move || produce(&b, &t, &messages)).await.unwrap();
    until(Duration::from_secs(60), "every message consumed", || {
        metrics.messages_consumed.get() >= 1_201
    })
    .await;
    // Only now move the watermark past the window's end: events still unread
    // in another partition would otherwise be late.
    let closing: Vec<(String, Vec<u8>)> = ["alpha", "beta"]
        .iter()
        .map(|m| ((*m).to_owned(), event(m, T0 + 20_000, 0, 0.0)))
        .collect();
    let (b, t) = (brokers.clone(), topic.clone());
    tokio::task::spawn_blocking(move || produce(&b, &t, &closing)).await.unwrap();

    let mut closed: Vec<Arc<WindowReport>> = Vec::new();
    while closed.len() < 2 {
        let report = tokio::time::timeout(Duration::from_secs(30), reports.recv())
            .await
            .expect("a closed window within 30 s")
            .unwrap();
        closed.push(report);
    }
    closed.sort_by(|a, b| a.model.cmp(&b.model));
    let summary: Vec<(&str, &str, i64, u64, bool)> =
        closed.iter().map(|r| (&*r.model, &*r.version, r.start_ms, r.rows, r.complete)).collect();
    assert_eq!(summary, vec![("alpha", "v1", T0, 600, true), ("beta", "v1", T0, 600, true)]);
    let x = |r: &WindowReport| r.columns.iter().find(|c| c.column == "x").unwrap().clone();
    assert!(!x(&closed[0]).decision.drifted, "alpha follows its baseline");
    assert!(x(&closed[1]).decision.drifted, "beta's x is shifted by 60");
    assert!(!closed[0].dataset.drifted && closed[1].dataset.drifted);
    assert_eq!(metrics.events_rejected.with_label_values(&["not_json"]).get(), 1);
    assert_eq!(metrics.events_late.with_label_values(&["alpha"]).get(), 0);

    // The rejected message went to the dead-letter topic with its origin.
    let (b, d) = (brokers.clone(), dead_letters.clone());
    let copies = tokio::task::spawn_blocking(move || read_all(&b, &d, 1)).await.unwrap();
    assert_eq!(copies[0].payload(), Some(&b"{not json"[..]));
    assert_eq!(copies[0].key(), Some(&b"alpha"[..]));
    assert_eq!(header(&copies[0], "driftgauge.reason"), Some("not_json"));
    assert_eq!(header(&copies[0], "driftgauge.source.topic"), Some(topic.as_str()));
    until(Duration::from_secs(10), "the dead-letter delivery counted", || {
        metrics.dead_letter_messages.get() == 1
    })
    .await;

    // The window's positions are committed to the group on the broker.
    shutdown.send_replace(true);
    running.wait().await.unwrap();
    let (b, t, g) = (brokers.clone(), topic.clone(), group.clone());
    let committed: i64 = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &b)
            .set("group.id", &g)
            .set("session.timeout.ms", "2000")
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            partitions.add_partition(&t, p);
        }
        let committed = consumer.committed_offsets(partitions, Duration::from_secs(10)).unwrap();
        committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum()
    })
    .await
    .unwrap();
    // 1,203 messages in all; the two closing events' window was exported
    // (partially) at shutdown, so everything was committed.
    assert_eq!(committed, 1_203, "committed positions over all partitions");
}
