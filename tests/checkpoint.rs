//! Exactly-once into windows: a run stopped mid-stream (gracefully, or
//! abruptly as in a crash) and restarted from its SQLite checkpoint exports
//! the same windows — rows, statistics, fairness — as a run that was never
//! interrupted; and a checkpoint that cannot be resumed is refused with an
//! error naming it.
//!
//! Each engine runs on a runtime of its own, so a crash is the runtime being
//! dropped: every task stops at its next await, with no final checkpoint and
//! no final export. The topic has one partition and events are produced in
//! event-time order, so nothing is late and every run sees the same windows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use driftgauge_detectors::baseline::Profile;
use driftgauge_engine::config::Config;
use driftgauge_engine::observe::metrics::Metrics;
use driftgauge_engine::stream::catalog::StaticBaselines;
use driftgauge_engine::stream::checkpoint::CheckpointStore;
use driftgauge_engine::stream::compute::WindowReport;
use driftgauge_engine::stream::pipeline::{Engine, ErrorClass, Running};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use tokio::sync::{broadcast, watch};

const T0: i64 = 1_700_000_000_000;
const TOPIC: &str = "predictions";
const GROUP: &str = "checkpoint-test";
/// Four 10 s windows of two models.
const WINDOWS: i64 = 4;
const PER_WINDOW: usize = 150;

fn profile() -> Profile {
    crate::support::reference_profile(3000, true)
}

fn baselines() -> Arc<StaticBaselines> {
    let mut baselines = StaticBaselines::new();
    for model in ["alpha", "beta"] {
        baselines.insert(model, "v1", profile());
    }
    Arc::new(baselines)
}

/// Every event of the test, in event-time order: both models in each of
/// `WINDOWS` windows (beta drifting from the third window on), then one
/// event per model far ahead that closes them all.
fn events() -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for w in 0..WINDOWS {
        for i in 0..PER_WINDOW {
            let time = T0 + w * 10_000 + (i as i64 * 9_000) / PER_WINDOW as i64;
            for (model, shift) in [("alpha", 0.0), ("beta", if w >= 2 { 40.0 } else { 0.0 })] {
                events.push(event(model, time, i + w as usize, shift));
            }
        }
    }
    events.push(event("alpha", T0 + 100_000, 0, 0.0));
    events.push(event("beta", T0 + 100_000, 1, 0.0));
    events
}

fn event(model: &str, time_ms: i64, i: usize, shift: f64) -> Vec<u8> {
    let category = ["u", "v", "w"][i % 3];
    let mut value = serde_json::json!({
        "model": model,
        "timestamp": time_ms,
        "features": { "x": ((i * 37) % 100) as f64 + shift, "c": category },
        "score": ((i * 53) % 100) as f64 / 100.0,
        "prediction": i64::from(i % 3 != 0),
        "attributes": { "group": if i % 2 == 0 { "f" } else { "m" } },
    });
    if i % 4 != 0 {
        value["actual"] = serde_json::json!(i64::from(i % 5 != 0));
    }
    value.to_string().into_bytes()
}

fn config(brokers: &str, db: &Path, interval_ms: u64) -> Config {
    let text = format!(
        r#"
[server]
address = "127.0.0.1:0"
[kafka]
brokers = "{brokers}"
group_id = "{GROUP}"
session_timeout_ms = 6000
statistics_interval_ms = 500
commit_interval_ms = 200
[[streams]]
name = "test"
topics = ["{TOPIC}"]
format = "json"
[batch]
max_delay_ms = 50
[window]
size_secs = 10
allowed_lateness_secs = 1
[fairness]
attributes = ["group"]
min_group_size = 5
[checkpoint]
path = "{}"
interval_ms = {interval_ms}
"#,
        db.display()
    );
    Config::from_layers(Some(("test", &text)), std::iter::empty()).unwrap()
}

/// A mock cluster with the topic, and a producer to it.
struct Cluster {
    producer: BaseProducer,
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Cluster {
    fn new() -> Self {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 1, 1).unwrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .unwrap();
        Self { producer, cluster }
    }

    fn send(&self, payloads: &[Vec<u8>]) {
        for payload in payloads {
            let record: BaseRecord<'_, str, [u8]> = BaseRecord::to(TOPIC).key("k").payload(payload);
            self.producer.send(record).map_err(|(e, _)| e).unwrap();
            self.producer.poll(Duration::ZERO);
        }
        self.producer.flush(Duration::from_secs(10)).unwrap();
    }
}

/// One engine on a runtime of its own.
struct Run {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    shutdown: watch::Sender<bool>,
    reports: broadcast::Receiver<Arc<WindowReport>>,
    metrics: Arc<Metrics>,
    seen: Vec<Arc<WindowReport>>,
}

impl Run {
    fn start(config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let engine = Engine::new(config, baselines());
        let reports = engine.subscribe();
        let metrics = engine.metrics();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let running = runtime.block_on(engine.start(shutdown_rx)).unwrap();
        Self { runtime, running: Some(running), shutdown, reports, metrics, seen: Vec::new() }
    }

    fn drain(&mut self) {
        loop {
            match self.reports.try_recv() {
                Ok(report) => self.seen.push(report),
                Err(broadcast::error::TryRecvError::Lagged(n)) => panic!("missed {n} reports"),
                Err(_) => return,
            }
        }
    }

    fn until(&mut self, what: &str, mut condition: impl FnMut(&mut Self) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.drain();
            if condition(self) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what}: not within 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn consumed(&mut self, messages: u64) {
        self.until("messages consumed", |run| run.metrics.messages_consumed.get() >= messages);
    }

    /// Graceful stop: final checkpoint, offsets committed.
    fn stop(mut self) -> Vec<Arc<WindowReport>> {
        self.shutdown.send_replace(true);
        let running = self.running.take().unwrap();
        self.runtime.block_on(running.wait()).unwrap();
        self.drain();
        self.seen
    }

    /// A crash: the runtime is dropped with every task in flight.
    fn crash(mut self) -> Vec<Arc<WindowReport>> {
        self.drain();
        let Self { runtime, running, seen, .. } = self;
        drop(running);
        runtime.shutdown_timeout(Duration::from_secs(5));
        seen
    }
}

/// The checkpoint's next offset of partition 0 and its open windows.
fn stored(db: &Path) -> (Option<i64>, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let offset = conn
        .query_row(
            "SELECT next_offset FROM checkpoint_offsets WHERE consumer_group = ?1 AND partition = 0",
            [GROUP],
            |r| r.get(0),
        )
        .ok();
    let windows = conn
        .query_row(
            "SELECT count(*) FROM checkpoint_windows WHERE consumer_group = ?1",
            [GROUP],
            |r| r.get(0),
        )
        .unwrap_or(0);
    (offset, windows)
}

fn wait_for_checkpoint_at(run: &mut Run, db: &Path, offset: i64) {
    run.until("a checkpoint at the offset", |_| stored(db).0 == Some(offset));
}

type Key = (String, i64);

/// Complete windows by model and start, each compared by its exported
/// results; a window exported twice must have been exported identically.
fn by_window(reports: &[Arc<WindowReport>]) -> BTreeMap<Key, String> {
    let mut windows = BTreeMap::new();
    for report in reports.iter().filter(|r| r.complete) {
        let fairness: Vec<String> =
            report.fairness.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
        let result = format!(
            "rows={} columns={:?} statistics={:?} dataset={:?} fairness={fairness:?}",
            report.rows, report.columns, report.statistics, report.dataset
        );
        let key = (report.model.to_string(), report.start_ms);
        if let Some(previous) = windows.insert(key.clone(), result.clone()) {
            assert_eq!(previous, result, "{key:?} was exported twice, differently");
        }
    }
    windows
}

/// Equal window results, or a short account of the windows that differ.
fn assert_same(found: &BTreeMap<Key, String>, reference: &BTreeMap<Key, String>) {
    let differing: Vec<String> = reference
        .iter()
        .filter(|(key, result)| found.get(*key) != Some(*result))
        .map(|(key, result)| {
            let short = |r: Option<&String>| {
                r.map_or("missing".to_owned(), |r| {
                    r.split(" columns=").next().unwrap_or("").to_owned()
                })
            };
            format!("{key:?}: {} instead of {}", short(found.get(key)), short(Some(result)))
        })
        .collect();
    assert!(differing.is_empty(), "windows differ from the uninterrupted run: {differing:#?}");
    assert_eq!(found.len(), reference.len(), "extra windows");
}

fn expected_keys() -> Vec<Key> {
    let mut keys = Vec::new();
    for model in ["alpha", "beta"] {
        for w in 0..WINDOWS {
            keys.push((model.to_owned(), T0 + w * 10_000));
        }
    }
    keys.sort();
    keys
}

fn covers(reports: &[Arc<WindowReport>]) -> bool {
    let windows = by_window(reports);
    expected_keys().iter().all(|k| windows.contains_key(k))
}

/// The reference: every event in one run.
fn uninterrupted() -> BTreeMap<Key, String> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let cluster = Cluster::new();
    let mut run = Run::start(config(&cluster.cluster.bootstrap_servers(), &db, 500));
    cluster.send(&events());
    run.until("every window", |run| covers(&run.seen));
    let windows = by_window(&run.stop());
    assert_eq!(windows.keys().cloned().collect::<Vec<_>>(), expected_keys());
    windows
}

#[test]
fn a_graceful_restart_resumes_open_windows_without_loss_or_double_count() {
    let reference = uninterrupted();
    let all = events();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let cluster = Cluster::new();
    let brokers = cluster.cluster.bootstrap_servers();

    // Halfway through the second window: the first is closed, the second open.
    let split = PER_WINDOW * 2 + PER_WINDOW;
    let mut first = Run::start(config(&brokers, &db, 300));
    cluster.send(&all[..split]);
    first.consumed(split as u64);
    wait_for_checkpoint_at(&mut first, &db, split as i64);
    assert!(stored(&db).1 >= 2, "the checkpoint holds both models' open windows");
    let before = first.stop();
    assert!(before.iter().all(|r| r.complete), "a checkpointing engine exports no partial windows");
    let (offset, windows) = stored(&db);
    assert_eq!(offset, Some(split as i64), "the final checkpoint holds every consumed event");
    assert!(windows >= 2);

    let mut second = Run::start(config(&brokers, &db, 300));
    cluster.send(&all[split..]);
    second.until("the rest of the windows", |run| {
        let mut all = before.clone();
        all.extend(run.seen.iter().cloned());
        covers(&all)
    });
    let after = second.stop();
    let before_keys = by_window(&before);
    assert!(
        by_window(&after).keys().all(|k| !before_keys.contains_key(k)),
        "no window is exported twice after a graceful stop"
    );
    let mut reports = before;
    reports.extend(after);
    assert_same(&by_window(&reports), &reference);
}

#[test]
fn a_crash_after_a_checkpoint_replays_only_what_the_checkpoint_lacks() {
    let reference = uninterrupted();
    let all = events();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let cluster = Cluster::new();
    let brokers = cluster.cluster.bootstrap_servers();

    // Long checkpoint interval: after the first checkpoint, the next one is
    // seconds away, so the events read after it are in memory only. The
    // checkpoint comes 8 events per model into the third window, within the
    // allowed lateness of the second: both are open and stored.
    let split = PER_WINDOW * 2 * 2 + 2 * 8;
    let mut first = Run::start(config(&brokers, &db, 2_500));
    cluster.send(&all[..split]);
    first.consumed(split as u64);
    wait_for_checkpoint_at(&mut first, &db, split as i64);
    assert_eq!(stored(&db).1, 4, "the second and third windows of both models are stored");
    // More events: the second window closes and is exported after the
    // checkpoint, the third grows — then the process dies.
    let crash_at = PER_WINDOW * 2 * 2 + PER_WINDOW * 2 * 3 / 4;
    cluster.send(&all[split..crash_at]);
    first.consumed(crash_at as u64);
    let second_window = [("alpha".to_owned(), T0 + 10_000), ("beta".to_owned(), T0 + 10_000)];
    first.until("the second window's export", |run| {
        let windows = by_window(&run.seen);
        second_window.iter().all(|k| windows.contains_key(k))
    });
    first.until("the export's record", |_| exported_records(&db) == 2);
    let before = first.crash();
    let (offset, _) = stored(&db);
    assert_eq!(offset, Some(split as i64), "no checkpoint came between the first and the crash");
    // SQLite, not the group's committed offset, says where to resume: move
    // the committed offset back to the start, as a tool resetting it would.
    reset_committed_offset(&brokers, 0);

    let mut second = Run::start(config(&brokers, &db, 300));
    cluster.send(&all[crash_at..]);
    second.until("the rest of the windows", |run| {
        let mut all = before.clone();
        all.extend(run.seen.iter().cloned());
        covers(&all)
    });
    let after = second.stop();
    let again = by_window(&after);
    assert!(
        second_window.iter().all(|k| !again.contains_key(k)),
        "the replay closed the second window again but did not export it again"
    );
    let mut reports = before;
    reports.extend(after);
    assert_same(&by_window(&reports), &reference);
}

#[test]
fn a_rebalance_resumes_where_the_engine_was_reading_not_at_the_committed_offset() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use rdkafka::ClientContext;
    use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};

    struct Joined(AtomicBool);
    impl ClientContext for Joined {}
    impl ConsumerContext for Joined {
        fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
            if matches!(rebalance, Rebalance::Assign(_)) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }

    let reference = uninterrupted();
    let all = events();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let cluster = Cluster::new();
    let brokers = cluster.cluster.bootstrap_servers();

    // No checkpoint until the stop: the group has no committed offset, so a
    // partition assigned without a position would be read from the start.
    let split = PER_WINDOW * 2 + PER_WINDOW / 2;
    let mut run = Run::start(config(&brokers, &db, 60_000));
    cluster.send(&all[..split]);
    run.consumed(split as u64);
    // A second member joins and leaves: two rebalances, each revoking the
    // partition and assigning it again (to it or to the engine).
    let intruder: BaseConsumer<Joined> = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", GROUP)
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create_with_context(Joined(AtomicBool::new(false)))
        .unwrap();
    intruder.subscribe(&[TOPIC]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !intruder.context().0.load(Ordering::SeqCst) {
        assert!(std::time::Instant::now() < deadline, "the second member never joined");
        intruder.poll(Duration::from_millis(100));
    }
    drop(intruder);

    cluster.send(&all[split..]);
    run.until("every window", |run| covers(&run.seen));
    let reports = run.stop();
    assert_same(&by_window(&reports), &reference);
}

/// Windows recorded as exported since the last checkpoint.
fn exported_records(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM checkpoint_exported", [], |r| r.get(0)).unwrap_or(0)
}

/// Commits `offset` for the test's group and partition 0, as a member that
/// joins the group after the crash would.
fn reset_committed_offset(brokers: &str, offset: i64) {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", GROUP)
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while consumer.assignment().unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "never joined the group");
        consumer.poll(Duration::from_millis(100));
    }
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(TOPIC, 0, Offset::Offset(offset)).unwrap();
    consumer.commit(&list, CommitMode::Sync).unwrap();
    let committed = consumer.committed(Duration::from_secs(10)).unwrap();
    let found = committed.find_partition(TOPIC, 0).map(|p| p.offset());
    assert_eq!(found, Some(Offset::Offset(offset)));
}

/// Writes a checkpoint row directly, as a damaged or foreign file would have it.
fn tamper(db: &Path, sql: &str) {
    // Creates the schema, then the test damages it.
    drop(CheckpointStore::open(db, GROUP).unwrap());
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_checkpoint_that_cannot_be_resumed_is_refused_with_its_reason() {
    let header = |format: i64, size: i64| {
        format!(
            "INSERT INTO checkpoints VALUES ('{GROUP}', {format}, {size}, {size}, {T0}, {T0}, 3, 0);"
        )
    };
    let window = |state: &str| {
        format!(
            "INSERT INTO checkpoint_windows VALUES ('{GROUP}', 'alpha', 'v1', {T0}, {}, 5, '{state}');",
            T0 + 10_000
        )
    };
    let cases = [
        (header(99, 10_000), "format version 99"),
        (header(1, 60_000), "windows of 60000 ms"),
        (header(1, 10_000) + &window("{not json"), "model `alpha` version `v1` window"),
        (
            header(1, 10_000)
                + &window(
                    r#"{"rows":5,"column_names":["x"],"columns":[],"attributes":["group"],"selection":[],"outcomes":[]}"#,
                ),
            "are not the baseline's",
        ),
    ];
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for (sql, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("engine.db");
        tamper(&db, &sql);
        // No broker is needed: the checkpoint is read before any consumer exists.
        let engine = Engine::new(config("127.0.0.1:1", &db, 500), baselines());
        let (_tx, rx) = watch::channel(false);
        let error = runtime.block_on(engine.start(rx)).expect_err(expected);
        let message = error.to_string();
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(&db.display().to_string()), "names the file: {message}");
        assert!(message.contains("DELETE FROM checkpoints"), "says how to start over: {message}");
        assert_eq!(error.class(), ErrorClass::User);

        // Discarding it lets the engine start afresh.
        CheckpointStore::open(&db, GROUP).unwrap().discard().unwrap();
        let engine = Engine::new(config("127.0.0.1:1", &db, 500), baselines());
        let (tx, rx) = watch::channel(false);
        let running = runtime.block_on(engine.start(rx)).unwrap();
        tx.send_replace(true);
        runtime.block_on(running.wait()).unwrap();
    }
}
