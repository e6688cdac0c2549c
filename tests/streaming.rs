//! The streaming engine end to end against librdkafka's in-process mock
//! cluster: JSON and Arrow IPC payloads, several models on one topic, windows
//! closing on the watermark, late and bad events, `/metrics`, and the demo.
//!
//! Every test starts its own mock cluster and serves `/metrics` on a free
//! loopback port, so tests run in parallel and need no broker. Event times are
//! fixed, not the wall clock, so window boundaries are exact.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::writer::StreamWriter;
use driftgauge_detectors::baseline::Profile;
use driftgauge_engine::config::Config;
use driftgauge_engine::observe::metrics::Metrics;
use driftgauge_engine::stream::catalog::StaticBaselines;
use driftgauge_engine::stream::compute::WindowReport;
use driftgauge_engine::stream::pipeline::{Engine, Running};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};

/// A window boundary: windows in these tests are 10 s long.
const T0: i64 = 1_700_000_000_000;
const TOPIC: &str = "predictions";
/// Where the bad-messages test's stream copies rejected messages.
const DEAD_LETTERS: &str = "predictions-dead-letter";

fn profile() -> Profile {
    crate::support::reference_profile(5000, true)
}

fn baselines(models: &[&str]) -> Arc<StaticBaselines> {
    let mut baselines = StaticBaselines::new();
    for model in models {
        baselines.insert(model, "v1", profile());
    }
    Arc::new(baselines)
}

struct Harness {
    // Dropped last: the consumer and producer need it until the end.
    producer: BaseProducer,
    reports: broadcast::Receiver<Arc<WindowReport>>,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    running: Option<Running>,
    brokers: String,
    _cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Harness {
    /// `kafka` holds extra keys of the `[kafka]` section.
    async fn start(format: &str, kafka: &str, models: &[&str]) -> Self {
        Self::start_with(format, kafka, "", models).await
    }

    /// `stream` holds extra keys of the stream.
    async fn start_with(format: &str, kafka: &str, stream: &str, models: &[&str]) -> Self {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 1, 1).unwrap();
        cluster.create_topic(DEAD_LETTERS, 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let text = format!(
            r#"
[server]
address = "127.0.0.1:0"
[kafka]
brokers = "{brokers}"
group_id = "streaming-test"
session_timeout_ms = 6000
statistics_interval_ms = 500
commit_interval_ms = 200
{kafka}
[[streams]]
name = "test"
topics = ["{TOPIC}"]
format = "{format}"
{stream}
[batch]
max_delay_ms = 50
[window]
size_secs = 10
allowed_lateness_secs = 1
[fairness]
attributes = ["group"]
min_group_size = 5
"#
        );
        let config = Config::from_layers(Some(("test", &text)), std::iter::empty()).unwrap();
        let engine = Engine::new(config, baselines(models));
        let reports = engine.subscribe();
        let metrics = engine.metrics();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let running = engine.start(shutdown_rx).await.unwrap();
        let producer: BaseProducer =
            ClientConfig::new().set("bootstrap.servers", &brokers).create().unwrap();
        Self {
            producer,
            reports,
            metrics,
            shutdown,
            running: Some(running),
            brokers,
            _cluster: cluster,
        }
    }

    fn address(&self) -> std::net::SocketAddr {
        self.running.as_ref().unwrap().metrics_address
    }

    fn send(&self, payloads: &[Option<Vec<u8>>]) {
        for payload in payloads {
            let headers = OwnedHeaders::new().insert(Header { key: "trace", value: Some("t-1") });
            let mut record: BaseRecord<'_, str, [u8]> =
                BaseRecord::to(TOPIC).key("k").headers(headers);
            if let Some(payload) = payload {
                record = record.payload(payload.as_slice());
            }
            self.producer.send(record).map_err(|(e, _)| e).unwrap();
            self.producer.poll(Duration::ZERO);
        }
        self.producer.flush(Duration::from_secs(10)).unwrap();
    }

    /// Waits until `count` messages have been consumed.
    async fn consumed(&self, count: u64) {
        let metrics = Arc::clone(&self.metrics);
        until(Duration::from_secs(30), || metrics.messages_consumed.get() >= count).await;
    }

    async fn next_reports(&mut self, count: usize) -> Vec<Arc<WindowReport>> {
        let mut reports = Vec::new();
        while reports.len() < count {
            let report = tokio::time::timeout(Duration::from_secs(30), self.reports.recv())
                .await
                .expect("a window report within 30 s")
                .unwrap();
            reports.push(report);
        }
        reports.sort_by(|a, b| (a.start_ms, &a.model).cmp(&(b.start_ms, &b.model)));
        reports
    }

    async fn stop(mut self) -> Vec<Arc<WindowReport>> {
        self.shutdown.send_replace(true);
        self.running.take().unwrap().wait().await.unwrap();
        let mut rest = Vec::new();
        while let Ok(report) = self.reports.try_recv() {
            rest.push(report);
        }
        rest
    }
}

async fn until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A JSON event whose x follows the baseline (plus `shift`).
fn event(model: &str, time_ms: i64, i: usize, shift: f64) -> Option<Vec<u8>> {
    let x = ((i * 37) % 100) as f64 + shift;
    let category = ["u", "v", "w"][i % 3];
    let value = serde_json::json!({
        "model": model,
        "model_version": "v1",
        "timestamp": time_ms,
        "features": { "x": x, "c": category },
        "score": ((i * 37) % 100) as f64 / 100.0,
        "prediction": 1,
        "attributes": { "group": if i % 2 == 0 { "f" } else { "m" } },
    });
    Some(value.to_string().into_bytes())
}

fn window_events(model: &str, n: usize, start: i64, shift: f64) -> Vec<Option<Vec<u8>>> {
    (0..n).map(|i| event(model, start + (i as i64 * 9_000) / n as i64, i, shift)).collect()
}

fn metric_value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .find(|line| labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_models_share_a_topic_and_windows_close_on_the_watermark() {
    let mut h = Harness::start("json", "", &["alpha", "beta"]).await;
    // Interleaved in event time: sent model after model, beta's early events
    // could land in a later micro-batch than alpha's last ones and be late.
    let alpha = window_events("alpha", 600, T0, 0.0);
    let beta = window_events("beta", 600, T0, 60.0);
    let first: Vec<_> = alpha.into_iter().zip(beta).flat_map(|(a, b)| [a, b]).collect();
    h.send(&first);
    h.consumed(1_200).await;
    // The watermark is 1 s behind the largest event time: 10.9 s does not close [T0, T0 + 10 s).
    h.send(&[event("alpha", T0 + 10_900, 0, 0.0)]);
    h.consumed(1_201).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.reports.try_recv().is_err(), "the window closed before the watermark passed its end");
    h.send(&[event("beta", T0 + 11_000, 1, 0.0)]);
    let reports = h.next_reports(2).await;

    let summary: Vec<(&str, i64, i64, u64)> =
        reports.iter().map(|r| (&*r.model, r.start_ms, r.end_ms, r.rows)).collect();
    assert_eq!(summary, vec![("alpha", T0, T0 + 10_000, 600), ("beta", T0, T0 + 10_000, 600)]);
    let x = |r: &WindowReport| r.columns.iter().find(|c| c.column == "x").unwrap().clone();
    assert!(!x(&reports[0]).decision.drifted, "alpha follows its baseline");
    assert!(x(&reports[1]).decision.drifted, "beta's x is shifted by 60");
    assert!(reports[1].dataset.share > 0.0);
    assert_eq!(reports[0].fairness[0].selection.groups.len(), 2);

    // /metrics has the window's series, the health endpoints answer.
    let (status, body) = http_get(h.address(), "/metrics").await;
    assert_eq!(status, 200);
    let psi = metric_value(
        &body,
        "driftgauge_drift_statistic",
        &["model=\"beta\"", "feature=\"x\"", "statistic=\"psi\"", "version=\"v1\""],
    )
    .expect("beta's PSI of x is exported");
    assert!(psi > 0.1, "{psi}");
    for (name, labels) in [
        (
            "driftgauge_drift_detected",
            &["model=\"beta\"", "feature=\"x\"", "statistic=\"psi\""][..],
        ),
        ("driftgauge_drift_threshold", &["model=\"alpha\"", "feature=\"c\"", "statistic=\"psi\""]),
        ("driftgauge_drift_p_value", &["model=\"alpha\"", "feature=\"x\"", "statistic=\"ks\""]),
        // The corrected decision's series: a distance's critical value at this
        // window's size, and whether a feature had too few values to test.
        (
            "driftgauge_drift_critical_value",
            &["model=\"beta\"", "feature=\"x\"", "statistic=\"psi\""],
        ),
        ("driftgauge_drift_insufficient", &["model=\"alpha\"", "feature=\"x\""]),
        ("driftgauge_dataset_drift_detected", &["model=\"beta\""]),
        ("driftgauge_dataset_drift_share_ratio", &["model=\"beta\""]),
        ("driftgauge_window_end_timestamp_seconds", &["model=\"alpha\""]),
        ("driftgauge_data_quality_ratio", &["feature=\"x\"", "check=\"missing\""]),
        ("driftgauge_fairness_selection_rate_ratio", &["attribute=\"group\"", "group=\"f\""]),
        ("driftgauge_fairness_disparity", &["metric=\"demographic_parity_difference\""]),
        ("driftgauge_events_decoded_total", &[]),
        ("driftgauge_messages_consumed_total", &[]),
        ("driftgauge_window_compute_seconds_count", &[]),
    ] {
        assert!(metric_value(&body, name, labels).is_some(), "{name} {labels:?} missing:\n{body}");
    }
    assert_eq!(
        metric_value(
            &body,
            "driftgauge_drift_detected",
            &["model=\"beta\"", "feature=\"x\"", "statistic=\"psi\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&body, "driftgauge_drift_insufficient", &["model=\"alpha\"", "feature=\"x\""]),
        Some(0.0),
        "600 events are enough to test x"
    );
    assert_eq!(
        metric_value(&body, "driftgauge_dataset_drift_detected", &["model=\"beta\""]),
        Some(1.0),
        "one drifted feature is dataset drift"
    );
    assert_eq!(metric_value(&body, "driftgauge_events_decoded_total", &[]), Some(1_202.0));
    assert!(body.contains("# TYPE driftgauge_events_rejected_total counter"));
    assert_eq!(http_get(h.address(), "/healthz").await.0, 200);
    assert_eq!(http_get(h.address(), "/readyz").await.0, 200);
    assert_eq!(http_get(h.address(), "/nope").await.0, 404);

    // Shutdown exports the open windows as partial ones.
    let rest = h.stop().await;
    assert_eq!(rest.len(), 2, "alpha and beta each have an open window [T0 + 10 s, T0 + 20 s)");
    assert!(rest.iter().all(|r| !r.complete && r.rows == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrow_ipc_payloads_are_gathered_per_model() {
    let mut h = Harness::start("arrow_ipc", "", &["alpha", "beta"]).await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("x", DataType::Int32, true),
        Field::new("c", DataType::Utf8, true),
        Field::new("score", DataType::Float32, true),
        Field::new("group", DataType::Utf8, true),
    ]));
    let message = |rows: std::ops::Range<usize>, time: i64| {
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.clone().map(|i| if i % 2 == 0 { "alpha" } else { "beta" }),
            )),
            Arc::new(Int64Array::from_iter_values(rows.clone().map(|i| time + i as i64))),
            Arc::new(arrow::array::Int32Array::from_iter_values(
                rows.clone().map(|i| (i * 37 % 100) as i32),
            )),
            Arc::new(StringArray::from_iter_values(rows.clone().map(|i| ["u", "v", "w"][i % 3]))),
            Arc::new(Float32Array::from_iter_values(
                rows.clone().map(|i| (i * 37 % 100) as f32 / 100.0),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.map(|i| if i % 4 < 2 { "f" } else { "m" }),
            )),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        assert_eq!(batch.num_rows(), n);
        let mut payload = Vec::new();
        let mut writer = StreamWriter::try_new(&mut payload, &schema).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        drop(writer);
        Some(payload)
    };
    let payloads: Vec<_> = (0..5).map(|k| message(k * 200..(k + 1) * 200, T0)).collect();
    h.send(&payloads);
    h.consumed(5).await;
    h.send(&[message(0..2, T0 + 20_000)]);
    let reports = h.next_reports(2).await;
    let summary: Vec<(&str, u64)> = reports.iter().map(|r| (&*r.model, r.rows)).collect();
    assert_eq!(summary, vec![("alpha", 500), ("beta", 500)]);
    // Every column of the baseline was fed (Int32 x and Float32 score were cast).
    for report in &reports {
        for column in &report.columns {
            assert_eq!(column.data_quality.rows, 500, "{}", column.column);
            assert_eq!(column.data_quality.missing.null, 0, "{}", column.column);
        }
    }
    assert_eq!(h.metrics.events_decoded.get(), 1_002);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_are_counted_per_model_and_dropped() {
    let mut h = Harness::start("json", "", &["alpha"]).await;
    h.send(&window_events("alpha", 100, T0, 0.0));
    h.consumed(100).await;
    h.send(&[event("alpha", T0 + 30_000, 0, 0.0)]);
    let reports = h.next_reports(1).await;
    assert_eq!(reports[0].rows, 100);
    // The watermark is now T0 + 29 s: these belong to closed windows.
    let late: Vec<_> = (0..7).map(|i| event("alpha", T0 + 5_000 + i, i as usize, 0.0)).collect();
    h.send(&late);
    h.send(&[event("alpha", T0 + 29_500, 1, 0.0)]);
    h.consumed(109).await;
    let metrics = Arc::clone(&h.metrics);
    until(Duration::from_secs(10), || metrics.events_late.with_label_values(&["alpha"]).get() == 7)
        .await;
    let rest = h.stop().await;
    // Only the two on-time events are in the open window [T0 + 20 s, T0 + 30 s)... and [T0 + 30 s, ...).
    let rows: u64 = rest.iter().map(|r| r.rows).sum();
    assert_eq!(rows, 2);
}

/// Reads `count` messages of `topic`'s partition 0 from the start.
fn read_topic(brokers: &str, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "dead-letter-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&partitions).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut messages = Vec::new();
    while messages.len() < count {
        assert!(std::time::Instant::now() < deadline, "{} of {count} messages", messages.len());
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            messages.push(message.unwrap().detach());
        }
    }
    messages
}

fn header<'a>(message: &'a rdkafka::message::OwnedMessage, key: &str) -> &'a str {
    use rdkafka::Message;
    use rdkafka::message::Headers;
    let headers = message.headers().expect("headers");
    let value = headers.iter().find(|h| h.key == key).and_then(|h| h.value);
    std::str::from_utf8(value.unwrap_or_else(|| panic!("no {key} header"))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_counted_by_reason_while_good_data_flows() {
    let mut h = Harness::start_with(
        "json",
        "max_message_bytes = 2000",
        &format!("dead_letter_topic = \"{DEAD_LETTERS}\""),
        &["alpha"],
    )
    .await;
    let mut payloads = Vec::new();
    let good = window_events("alpha", 50, T0, 0.0);
    let bad: Vec<(Option<Vec<u8>>, &str)> = vec![
        (Some(b"{not json".to_vec()), "not_json"),
        (Some(b"42".to_vec()), "not_json"),
        (Some(br#"{"model":"alpha","features":{"x":1}}"#.to_vec()), "missing_field"),
        (Some(br#"{"timestamp":1700000000000}"#.to_vec()), "missing_field"),
        (
            Some(
                format!(r#"{{"model":"alpha","timestamp":{T0},"features":{{"x":"high"}}}}"#)
                    .into_bytes(),
            ),
            "wrong_type",
        ),
        (Some(br#"{"model":"alpha","timestamp":"last tuesday"}"#.to_vec()), "wrong_type"),
        (Some(format!(r#"{{"model":"gamma","timestamp":{T0}}}"#).into_bytes()), "unknown_model"),
        (Some(vec![b' '; 5_000]), "oversize"),
        (None, "empty"),
    ];
    for (i, event) in good.into_iter().enumerate() {
        payloads.push(event);
        if let Some((payload, _)) = bad.get(i) {
            payloads.push(payload.clone());
        }
    }
    // The i-th bad message follows the i-th good one: offset 2i + 1.
    h.send(&payloads);
    h.consumed(59).await;
    h.send(&[event("alpha", T0 + 20_000, 0, 0.0)]);
    let reports = h.next_reports(1).await;
    assert_eq!(reports[0].rows, 50, "every good event reached the window");
    let (_, body) = http_get(h.address(), "/metrics").await;
    for (reason, expected) in [
        ("not_json", 2.0),
        ("missing_field", 2.0),
        ("wrong_type", 2.0),
        ("unknown_model", 1.0),
        ("oversize", 1.0),
        ("empty", 1.0),
        ("bad_arrow", 0.0),
    ] {
        let label = format!("reason=\"{reason}\"");
        assert_eq!(
            metric_value(&body, "driftgauge_events_rejected_total", &[&label]),
            Some(expected),
            "{reason}"
        );
    }
    assert_eq!(metric_value(&body, "driftgauge_messages_consumed_total", &[]), Some(60.0));

    // Every rejected message was copied, unchanged, with why and where.
    let brokers = h.brokers.clone();
    let copies =
        tokio::task::spawn_blocking(move || read_topic(&brokers, DEAD_LETTERS, 9)).await.unwrap();
    for (i, ((payload, reason), copy)) in bad.iter().zip(&copies).enumerate() {
        use rdkafka::Message;
        assert_eq!(header(copy, "driftgauge.reason"), *reason, "copy {i}");
        assert_eq!(header(copy, "driftgauge.source.topic"), TOPIC);
        assert_eq!(header(copy, "driftgauge.source.partition"), "0");
        assert_eq!(header(copy, "driftgauge.source.offset"), (2 * i + 1).to_string());
        assert_eq!(header(copy, "driftgauge.stream"), "test");
        assert!(!header(copy, "driftgauge.error").is_empty(), "copy {i}");
        assert_eq!(copy.payload(), payload.as_deref(), "copy {i}");
        assert_eq!(copy.key(), Some(&b"k"[..]));
        assert_eq!(header(copy, "trace"), "t-1", "the original headers are kept");
    }
    let errors: Vec<&str> = copies.iter().map(|c| header(c, "driftgauge.error")).collect();
    assert!(errors[0].contains("key must be a string"), "serde's message: {}", errors[0]);
    assert_eq!(errors[1], "the payload is a number, not a JSON object");
    assert_eq!(errors[2], "no `timestamp` field");
    assert_eq!(errors[4], "feature `x` is a string, not a number");
    assert!(errors[5].contains("\"last tuesday\""), "{}", errors[5]);
    assert_eq!(errors[6], "model `gamma` has no active baseline");
    assert_eq!(errors[7], "the payload of 5000 bytes is over kafka.max_message_bytes (2000)");
    let metrics = Arc::clone(&h.metrics);
    until(Duration::from_secs(10), || metrics.dead_letter_messages.get() == 9).await;
    assert_eq!(h.metrics.dead_letter_failures.get(), 0);
    h.stop().await;
}

#[test]
fn demo_detects_drift_within_its_duration() {
    let args = [
        "driftgauge",
        "demo",
        "--duration-secs",
        "13",
        "--window-secs",
        "2",
        "--drift-after-secs",
        "5",
        "--rate",
        "400",
        "--metrics-address",
        "127.0.0.1:0",
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = driftgauge_engine::cli::run(args, &mut out, &mut err);
    let (out, err) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let drifting: Vec<&str> = out.lines().filter(|l| l.contains("[drifting]")).collect();
    assert!(!drifting.is_empty(), "no window after the drift began:\n{out}");
    assert!(drifting.iter().any(|l| l.contains("DATASET DRIFT")), "{out}");
    assert!(drifting.iter().any(|l| l.contains("income psi=")), "{out}");
    assert!(drifting.iter().any(|l| l.contains("FAIRNESS GAP")), "{out}");
    let before: Vec<&str> = out.lines().filter(|l| l.contains("[reference-like]")).collect();
    assert!(before.iter().all(|l| l.contains("no dataset drift")), "{out}");
}

/// librdkafka echoes the value of a property it refuses; `run` must not print
/// a secret's value, neither for the consumer nor for the dead-letter producer.
#[test]
fn run_never_prints_a_refused_secret() {
    const SECRET: &str = "oidc-client-secret-never-shown";
    let dir = tempfile::tempdir().unwrap();
    for dead_letters in ["", "dead_letter_topic = \"rejects\""] {
        let path = dir.path().join("engine.toml");
        std::fs::write(
            &path,
            format!(
                "[server]\naddress = \"127.0.0.1:0\"\n\
                 [kafka.properties]\n\"sasl.oauthbearer.client.secret\" = \"{SECRET}\"\n\
                 [[streams]]\nname = \"events\"\ntopics = [\"events\"]\nformat = \"json\"\n\
                 {dead_letters}\n"
            ),
        )
        .unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = ["driftgauge", "run", "--config", path.to_str().unwrap()];
        let code = driftgauge_engine::cli::run(args, &mut out, &mut err);
        let (out, err) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
        assert_eq!(code, driftgauge_engine::cli::EXIT_ERROR, "{out}{err}");
        assert!(err.contains("sasl.oauthbearer.client.secret"), "{err}");
        assert!(!out.contains(SECRET) && !err.contains(SECRET), "{out}{err}");
    }
}
