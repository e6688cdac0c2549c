//! Streaming throughput: events from Kafka to closed-window results.
//!
//! The payloads are produced to librdkafka's in-process mock cluster first;
//! then each iteration starts an engine (a fresh consumer group) that reads
//! them all, decodes, windows and finishes them, 20 numeric features per
//! event plus a score, every drift statistic on. An iteration ends when the
//! closed windows' reports are out (the shutdown closes the one open window).
//!
//! # Per core
//!
//! The time these benches hand criterion is **CPU time** (all threads of the
//! process summed, from `/proc/self/task/*/schedstat`), not wall time, so
//! criterion's throughput reads as events per second *per core* whatever the
//! machine's load. The mock cluster's own thread (`rdk:mock`, the stand-in
//! for the broker) is left out; the consumer's librdkafka threads, the tokio
//! workers, the compute pool and this thread are counted. Waiting (for the
//! group join) costs no CPU, so it needs no subtracting. Each iteration also
//! prints its wall-clock rate, where the CPU time went, and the engine's
//! wake-ups and page faults: counts that vary less than CPU time on a
//! shared machine, and show whether a change took effect.
//!
//! The mock cluster keeps at most 100,000 messages or 5 MiB per partition,
//! so the data is spread over [`PARTITIONS`] partitions of about 4.5 MiB.
//!
//! # References, measured in the same run
//!
//! * `arrow_ipc/ipc_read_only` and `json/serde_parse_only`: one thread reading
//!   the same payloads into record batches / `serde_json::Value`s, nothing
//!   else: the floor of decoding.
//! * `*/decode_window_finish`: one thread decoding, windowing and finishing
//!   the same payloads without Kafka: the engine's own work; `*/decode_only`:
//!   its decoding part.
//! * `memcpy`: copying the Arrow payloads' bytes, the machine's memory speed.
//!
//! Run: `cargo bench -p benches --bench streaming`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use driftgauge_engine::config::{Config, PayloadFormat};
use driftgauge_engine::stream::catalog::{Catalog, StaticBaselines};
use driftgauge_engine::stream::compute::{self, WindowReport};
use driftgauge_engine::stream::decode::{DecodeSettings, Decoder};
use driftgauge_engine::stream::pipeline::Engine;
use driftgauge_engine::stream::source::fetch::{Batch, FetchQueue};
use driftgauge_engine::stream::window::{SourceBatch, WindowOperator};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::watch;

/// Features per event.
const FEATURES: usize = 20;
/// Partitions of the benchmark topic.
const PARTITIONS: usize = 32;
/// Events per Arrow IPC message: about 370 KB each.
const ARROW_ROWS_PER_MESSAGE: usize = 2048;
/// Arrow IPC messages per partition: about 4.4 MiB.
const ARROW_MESSAGES_PER_PARTITION: usize = 12;
/// JSON events (messages) per partition: about 4.4 MiB.
const JSON_EVENTS_PER_PARTITION: usize = 8_500;
/// Every drift statistic driftgauge has.
const STATISTICS: &str =
    r#"["psi", "kl", "jensen_shannon", "hellinger", "wasserstein", "ks", "chi_square", "z"]"#;
/// The statistics that apply to a numeric column (all but the Z-test).
const NUMERIC_STATISTICS: usize = 7;

/// The benchmark's workload in one format.
struct Workload {
    format: PayloadFormat,
    name: &'static str,
    /// Payloads per partition.
    partitions: Vec<Vec<Vec<u8>>>,
    events: u64,
}

impl Workload {
    fn bytes(&self) -> usize {
        self.partitions.iter().flatten().map(Vec::len).sum()
    }
}

fn batches(rows_per_partition: usize, rows_per_batch: usize) -> Vec<Vec<RecordBatch>> {
    // Each partition covers the same 50 s of event time, in order: every
    // event lands in one 60 s window, and nothing is late however the
    // partitions interleave.
    (0..PARTITIONS)
        .map(|p| {
            let parts = rows_per_partition / rows_per_batch;
            (0..parts)
                .map(|k| {
                    let span = 50_000 / parts as i64;
                    let start = benches::STREAM_T0_MS + k as i64 * span;
                    let seed = 1 + (p * 1000 + k) as u64;
                    benches::stream_batch("m", rows_per_batch, FEATURES, start, span, seed)
                })
                .collect()
        })
        .collect()
}

fn arrow_workload() -> Workload {
    let partitions: Vec<Vec<Vec<u8>>> =
        batches(ARROW_ROWS_PER_MESSAGE * ARROW_MESSAGES_PER_PARTITION, ARROW_ROWS_PER_MESSAGE)
            .iter()
            .map(|p| p.iter().map(benches::arrow_ipc_payload).collect())
            .collect();
    let events = (PARTITIONS * ARROW_MESSAGES_PER_PARTITION * ARROW_ROWS_PER_MESSAGE) as u64;
    Workload { format: PayloadFormat::ArrowIpc, name: "arrow_ipc", partitions, events }
}

fn json_workload() -> Workload {
    let partitions: Vec<Vec<Vec<u8>>> =
        batches(JSON_EVENTS_PER_PARTITION, JSON_EVENTS_PER_PARTITION)
            .iter()
            .map(|p| p.iter().flat_map(benches::json_payloads).collect())
            .collect();
    let events = (PARTITIONS * JSON_EVENTS_PER_PARTITION) as u64;
    Workload { format: PayloadFormat::Json, name: "json", partitions, events }
}

fn baselines() -> Arc<StaticBaselines> {
    let mut baselines = StaticBaselines::new();
    baselines.insert("m", "v1", benches::stream_profile(FEATURES, 20_000));
    Arc::new(baselines)
}

fn config(brokers: &str, group: &str, format: PayloadFormat) -> Config {
    let format = match format {
        PayloadFormat::Json => "json",
        PayloadFormat::ArrowIpc => "arrow_ipc",
    };
    let text = format!(
        r#"
[server]
address = "127.0.0.1:0"
[kafka]
brokers = "{brokers}"
group_id = "{group}"
session_timeout_ms = 6000
[[streams]]
name = "bench"
topics = ["bench"]
format = "{format}"
[window]
size_secs = 60
allowed_lateness_secs = 60
[drift]
statistics = {STATISTICS}
"#
    );
    match Config::from_layers(Some(("bench", &text)), std::iter::empty()) {
        Ok(config) => config,
        Err(errors) => panic!("{errors}"),
    }
}

/// A mock cluster holding the workload's payloads on topic `bench`.
fn produce(workload: &Workload) -> MockCluster<'static, DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("bench", PARTITIONS as i32, 1).expect("topic");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("linger.ms", "20")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    for (p, payloads) in workload.partitions.iter().enumerate() {
        for payload in payloads {
            let record: BaseRecord<'_, (), [u8]> =
                BaseRecord::to("bench").partition(p as i32).payload(payload.as_slice());
            producer.send(record).map_err(|(e, _)| e).expect("queued");
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).expect("produced");
    cluster
}

/// What one thread has used so far.
#[derive(Debug, Clone, Default)]
struct ThreadUse {
    name: String,
    cpu_ns: u64,
    /// Times it was switched in (`schedstat`'s third field): each wake-up counts.
    switches: u64,
    /// Minor page faults: fresh memory being mapped in.
    faults: u64,
}

/// What each live thread of this process has used: id → use.
fn thread_use() -> HashMap<u64, ThreadUse> {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return threads };
    for task in tasks.flatten() {
        let Some(id) = task.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let path = task.path();
        let read = |file: &str| std::fs::read_to_string(path.join(file)).unwrap_or_default();
        let schedstat: Vec<u64> =
            read("schedstat").split_whitespace().filter_map(|v| v.parse().ok()).collect();
        let Some(&cpu_ns) = schedstat.first() else { continue };
        // `stat`'s fields after the parenthesised name: minflt is the 8th.
        let stat = read("stat");
        let faults = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(7))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        threads.insert(
            id,
            ThreadUse {
                name: read("comm").trim().to_owned(),
                cpu_ns,
                switches: schedstat.get(2).copied().unwrap_or(0),
                faults,
            },
        );
    }
    threads
}

/// CPU seconds per kind of thread between two [`thread_use`] snapshots,
/// and the engine's wake-ups and page faults.
#[derive(Debug, Default)]
struct CpuSplit {
    kafka: f64,
    tokio: f64,
    compute: f64,
    other: f64,
    mock: f64,
    switches: u64,
    faults: u64,
}

impl CpuSplit {
    fn between(before: &HashMap<u64, ThreadUse>, after: &HashMap<u64, ThreadUse>) -> Self {
        let mut split = Self::default();
        for (id, now) in after {
            let start = before.get(id).filter(|b| b.name == now.name).cloned().unwrap_or_default();
            let seconds = now.cpu_ns.saturating_sub(start.cpu_ns) as f64 / 1e9;
            let name = now.name.as_str();
            let slot = if name.starts_with("rdk:mock") {
                &mut split.mock
            } else if name.starts_with("rdk:") {
                &mut split.kafka
            } else if name.starts_with("tokio") {
                &mut split.tokio
            } else if name.starts_with("driftgauge-comp") {
                &mut split.compute
            } else {
                &mut split.other
            };
            *slot += seconds;
            if !name.starts_with("rdk:mock") {
                split.switches += now.switches.saturating_sub(start.switches);
                split.faults += now.faults.saturating_sub(start.faults);
            }
        }
        split
    }

    /// The engine's CPU time: everything but the mock broker.
    fn engine(&self) -> f64 {
        self.kafka + self.tokio + self.compute + self.other
    }
}

static GROUPS: AtomicUsize = AtomicUsize::new(0);

/// One engine run over the whole topic; returns its CPU time (mock excluded).
fn run_engine(
    runtime: &tokio::runtime::Runtime,
    brokers: &str,
    workload: &Workload,
    baselines: &Arc<StaticBaselines>,
) -> Duration {
    let group = format!("bench-{}", GROUPS.fetch_add(1, Ordering::Relaxed));
    let config = config(brokers, &group, workload.format);
    runtime.block_on(async {
        let before = thread_use();
        let started = Instant::now();
        let engine = Engine::new(config, Arc::clone(baselines) as _);
        let mut reports = engine.subscribe();
        let metrics = engine.metrics();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let running = engine.start(shutdown_rx).await.expect("engine starts");
        let mut first: Option<Instant> = None;
        while metrics.events_decoded.get() < workload.events {
            if first.is_none() && metrics.messages_consumed.get() > 0 {
                first = Some(Instant::now());
            }
            assert!(started.elapsed() < Duration::from_secs(300), "stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Everything is decoded; closing the open window finishes it.
        shutdown.send_replace(true);
        let mut rows = 0;
        let mut last: Option<Arc<WindowReport>> = None;
        while rows < workload.events {
            let report = reports.recv().await.expect("a report");
            rows += report.rows;
            last = Some(report);
        }
        let done = Instant::now();
        let after = thread_use();
        running.wait().await.expect("engine stops");
        assert_eq!(rows, workload.events, "every event in a window");
        let report = last.expect("a report");
        check_report(&report);
        assert_eq!(metrics.events_rejected.with_label_values(&["wrong_type"]).get(), 0);
        let split = CpuSplit::between(&before, &after);
        let wall = done.duration_since(first.unwrap_or(started)).as_secs_f64();
        let cpu = split.engine();
        let events = workload.events as f64;
        eprintln!(
            "  {}: {} events in {wall:.2} s wall from the first micro-batch ({:.0} events/s); \
             {cpu:.2} CPU s = {:.0} events/s per core [librdkafka {:.2}, tokio {:.2}, compute {:.2}, \
             other {:.2}; mock broker {:.2} left out]; {} wake-ups, {} page faults; \
             drift={} ({} of {} features)",
            workload.name,
            workload.events,
            events / wall,
            events / cpu,
            split.kafka,
            split.tokio,
            split.compute,
            split.other,
            split.mock,
            split.switches,
            split.faults,
            report.dataset.drifted,
            report.dataset.drifted_columns,
            report.dataset.columns,
        );
        Duration::from_secs_f64(cpu)
    })
}

/// The Kafka client alone: a consumer of all partitions reading every
/// message through a fetch queue, in batches as the engine's source takes
/// them, and releasing it; returns the CPU time (mock excluded).
fn consume_only(runtime: &tokio::runtime::Runtime, brokers: &str, workload: &Workload) -> Duration {
    let group = format!("bench-{}", GROUPS.fetch_add(1, Ordering::Relaxed));
    let before = thread_use();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    // SAFETY: the batch and the queue are dropped below, before the consumer.
    let fetch = unsafe { FetchQueue::new(consumer.client()) }.expect("fetch queue");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        assert!(fetch.route("bench", partition), "routed");
        partitions.add_partition_offset("bench", partition, Offset::Beginning).expect("partition");
    }
    consumer.assign(&partitions).expect("assigned");
    let mut batch = Batch::default();
    let total: usize = workload.partitions.iter().map(Vec::len).sum();
    let (mut messages, mut bytes) = (0, 0);
    runtime.block_on(async {
        while messages < total {
            consumer.poll(Duration::ZERO);
            if fetch.take(&mut batch, driftgauge_engine::stream::source::kafka::DRAIN_MESSAGES) == 0
            {
                fetch.non_empty().await;
            }
            for message in batch.iter() {
                messages += 1;
                bytes += message.payload().map_or(0, <[u8]>::len);
            }
        }
    });
    assert_eq!(bytes, workload.bytes(), "every payload");
    let split = CpuSplit::between(&before, &thread_use());
    drop(batch);
    drop(fetch);
    Duration::from_secs_f64(split.engine())
}

fn check_report(report: &WindowReport) {
    assert_eq!(report.columns.len(), FEATURES + 1, "20 features and the score");
    for statistics in &report.statistics {
        assert_eq!(statistics.len(), NUMERIC_STATISTICS, "every numeric statistic");
    }
}

/// Decode, window and finish on this thread, without Kafka.
fn decode_window_finish(workload: &Workload, config: &Config, catalog: &Arc<Catalog>) -> u64 {
    let mut decoder = Decoder::new(Arc::new(DecodeSettings::new(config)), Arc::clone(catalog));
    let mut windows = WindowOperator::new(config.window, config.fairness.min_group_size);
    let now = Instant::now();
    // One partition after another, handing on micro-batches as the source does.
    for payloads in &workload.partitions {
        for payload in payloads {
            decoder.decode(workload.format, Some(payload)).ok();
            if decoder.buffered_rows() >= config.batch.max_rows {
                let batches = decoder.take_batches();
                windows.apply(SourceBatch { batches, offsets: Vec::new() }, now);
            }
        }
    }
    windows.apply(SourceBatch { batches: decoder.take_batches(), offsets: Vec::new() }, now);
    let rows = windows
        .close_all()
        .iter()
        .map(|w| compute::finish(w, false, &config.drift, &config.statistics))
        .inspect(check_report)
        .map(|r| r.rows)
        .sum();
    assert_eq!(rows, workload.events);
    rows
}

/// Decode alone on this thread: payloads to per-model record batches.
fn decode_only(workload: &Workload, config: &Config, catalog: &Arc<Catalog>) -> u64 {
    let mut decoder = Decoder::new(Arc::new(DecodeSettings::new(config)), Arc::clone(catalog));
    let mut rows = 0;
    for payload in workload.partitions.iter().flatten() {
        decoder.decode(workload.format, Some(payload)).ok();
        if decoder.buffered_rows() >= config.batch.max_rows {
            rows += decoder.take_batches().iter().map(|(_, b)| b.num_rows() as u64).sum::<u64>();
        }
    }
    rows += decoder.take_batches().iter().map(|(_, b)| b.num_rows() as u64).sum::<u64>();
    assert_eq!(rows, workload.events);
    rows
}

fn streaming(c: &mut Criterion) {
    // As the binary's `main` does.
    driftgauge_engine::stream::source::kafka::reuse_fetch_buffers();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let baselines = baselines();
    for workload in [arrow_workload(), json_workload()] {
        eprintln!(
            "{}: {} events in {} messages, {:.0} MiB over {PARTITIONS} partitions",
            workload.name,
            workload.events,
            workload.partitions.iter().map(Vec::len).sum::<usize>(),
            workload.bytes() as f64 / (1 << 20) as f64
        );
        let cluster = produce(&workload);
        let brokers = cluster.bootstrap_servers();
        let mut group = c.benchmark_group(format!("streaming/{}", workload.name));
        group.throughput(Throughput::Elements(workload.events));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(100));
        group.measurement_time(Duration::from_secs(1));
        group.bench_function("kafka_to_windows_per_core", |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| run_engine(&runtime, &brokers, &workload, &baselines)).sum()
            })
        });

        group.bench_function("kafka_consume_only", |b| {
            b.iter_custom(|iters| {
                (0..iters).map(|_| consume_only(&runtime, &brokers, &workload)).sum()
            })
        });

        let config = config(&brokers, "unused", workload.format);
        let catalog =
            Arc::new(Catalog::load(baselines.as_ref(), &config, None).expect("the baseline loads"));
        group.bench_function("decode_window_finish", |b| {
            b.iter(|| decode_window_finish(&workload, &config, &catalog))
        });
        group.bench_function("decode_only", |b| {
            b.iter(|| decode_only(&workload, &config, &catalog))
        });
        match workload.format {
            PayloadFormat::ArrowIpc => {
                group.bench_function("ipc_read_only", |b| {
                    b.iter(|| {
                        let mut rows = 0;
                        for payload in workload.partitions.iter().flatten() {
                            let reader = arrow::ipc::reader::StreamReader::try_new(
                                std::io::Cursor::new(payload.as_slice()),
                                None,
                            )
                            .expect("IPC");
                            for batch in reader {
                                rows += batch.expect("batch").num_rows();
                            }
                        }
                        rows
                    })
                });
                group.bench_function("memcpy", |b| {
                    let mut target = vec![0u8; workload.bytes()];
                    b.iter(|| {
                        let mut at = 0;
                        for payload in workload.partitions.iter().flatten() {
                            target[at..at + payload.len()].copy_from_slice(payload);
                            at += payload.len();
                        }
                        black_box(&target);
                    })
                });
            }
            PayloadFormat::Json => {
                group.bench_function("serde_parse_only", |b| {
                    b.iter(|| {
                        let mut fields = 0;
                        for payload in workload.partitions.iter().flatten() {
                            let value: serde_json::Value =
                                serde_json::from_slice(payload).expect("JSON");
                            fields += value.as_object().map_or(0, serde_json::Map::len);
                        }
                        fields
                    })
                });
            }
        }
        group.finish();
        drop(cluster);
    }
}

criterion_group!(benches, streaming);
criterion_main!(benches);
