//! The Kafka source: one consumer-group member per configured stream.
//!
//! # Delivery
//!
//! The automatic offset *store* is off (`enable.auto.offset.store=false`):
//! the source stores only positions sent back by the window stage, which
//! sends them after the windows holding the events below them were exported
//! (see [`crate::window`]). librdkafka commits the stored positions every
//! `kafka.commit_interval_ms` and once more when the consumer closes at
//! shutdown (the pattern of rust-rdkafka's `at_least_once` example):
//! at-least-once into exported windows. Window state is
//! not checkpointed yet, so after a crash or a rebalance the events of windows
//! that were open are read again — windows exported just before the crash can
//! then be exported a second time, with those events counted twice.
//!
//! # Loop
//!
//! `select!` over shutdown, commit requests, the flush tick and the next
//! message. A micro-batch is handed on when it holds `batch.max_rows` events
//! or its first event is `batch.max_delay_ms` old. The hand-off channel is
//! bounded, so a slow window stage stops consumption rather than filling
//! memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};

use crate::catalog::Catalog;
use crate::config::{Config, KafkaConfig, PayloadFormat, StreamConfig};
use crate::decode::{DecodeSettings, Decoder};
use crate::events;
use crate::metrics::Metrics;
use crate::window::{PartitionKey, PartitionRange, SourceBatch};

/// librdkafka properties the engine sets itself; `kafka.properties` may not name them.
pub const RESERVED_PROPERTIES: [&str; 8] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "statistics.interval.ms",
    "session.timeout.ms",
    "auto.offset.reset",
];

/// The effective librdkafka properties: the user's passthrough map first,
/// then the engine's own, so the ones delivery relies on cannot be overridden.
pub fn client_properties(kafka: &KafkaConfig) -> BTreeMap<String, String> {
    let mut properties = kafka.properties.clone();
    for (key, value) in [
        ("bootstrap.servers", kafka.brokers.clone()),
        ("group.id", kafka.group_id.clone()),
        ("session.timeout.ms", kafka.session_timeout_ms.to_string()),
        ("auto.offset.reset", kafka.auto_offset_reset.clone()),
        ("statistics.interval.ms", kafka.statistics_interval_ms.to_string()),
        // NOTE: positions are stored only after their windows are exported;
        // librdkafka commits what is stored, periodically and on close.
        ("enable.auto.commit", "true".to_owned()),
        ("auto.commit.interval.ms", kafka.commit_interval_ms.to_string()),
        ("enable.auto.offset.store", "false".to_owned()),
    ] {
        properties.insert(key.to_owned(), value);
    }
    properties
}

/// Shared readiness: how many streams have received a partition assignment.
#[derive(Debug, Default)]
pub struct Assignments {
    streams: AtomicUsize,
}

impl Assignments {
    /// Streams that have joined their group.
    pub fn assigned(&self) -> usize {
        self.streams.load(Ordering::Relaxed)
    }
}

/// Callbacks from librdkafka's threads: statistics (consumer lag), errors,
/// logs, rebalances and commit results.
pub struct SourceContext {
    stream: String,
    metrics: Arc<Metrics>,
    assignments: Arc<Assignments>,
    joined: std::sync::atomic::AtomicBool,
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let stream = self.stream.as_str();
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(stream, facility, message, "Kafka client reported a problem.");
            }
            _ => tracing::debug!(stream, facility, message, "Kafka client log."),
        }
    }

    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                // Partition -1 is librdkafka's internal unassigned queue.
                if *partition < 0 || p.consumer_lag < 0 {
                    continue;
                }
                self.metrics
                    .consumer_lag
                    .with_label_values(&[topic.as_str(), &partition.to_string()])
                    .set(p.consumer_lag);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        events::KafkaClientError { stream: &self.stream, error: &error, reason }
            .emit(&self.metrics);
    }
}

impl ConsumerContext for SourceContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                if !self.joined.swap(true, Ordering::Relaxed) {
                    self.assignments.streams.fetch_add(1, Ordering::Relaxed);
                }
                tracing::info!(
                    stream = self.stream.as_str(),
                    partitions = partitions.count(),
                    "Partitions assigned."
                );
            }
            Rebalance::Revoke(partitions) => {
                for element in partitions.elements() {
                    let labels = [element.topic(), &element.partition().to_string()];
                    self.metrics.consumer_lag.remove_label_values(&labels).ok();
                }
                tracing::info!(
                    stream = self.stream.as_str(),
                    partitions = partitions.count(),
                    "Partitions revoked."
                );
            }
            Rebalance::Error(error) => {
                events::KafkaClientError { stream: &self.stream, error, reason: "rebalance" }
                    .emit(&self.metrics);
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        events::OffsetsCommitted {
            stream: &self.stream,
            partitions: offsets.count(),
            result: &result,
        }
        .emit(&self.metrics);
    }
}

/// Commit positions for one stream: (topic and partition, next offset to read).
pub type Commit = Vec<(PartitionKey, i64)>;

/// One stream's consumer and decoder.
pub struct KafkaSource {
    name: String,
    format: PayloadFormat,
    consumer: StreamConsumer<SourceContext>,
    decoder: Decoder,
    max_rows: usize,
    max_delay: Duration,
    catalog: watch::Receiver<Arc<Catalog>>,
    out: mpsc::Sender<SourceBatch>,
    commits: mpsc::Receiver<Commit>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The channels a source is wired with.
#[derive(Debug)]
pub struct SourceWiring {
    /// Active baselines, updated by the refresher.
    pub catalog: watch::Receiver<Arc<Catalog>>,
    /// Micro-batches to the window stage.
    pub out: mpsc::Sender<SourceBatch>,
    /// Positions to commit, from the window stage.
    pub commits: mpsc::Receiver<Commit>,
    /// Shared readiness.
    pub assignments: Arc<Assignments>,
}

impl KafkaSource {
    /// Creates the consumer and subscribes to the stream's topics.
    ///
    /// # Errors
    /// The Kafka client's error (a configuration problem).
    pub fn new(
        config: &Config,
        stream: &StreamConfig,
        metrics: Arc<Metrics>,
        wiring: SourceWiring,
    ) -> KafkaResult<Self> {
        let mut client = ClientConfig::new();
        for (key, value) in client_properties(&config.kafka) {
            client.set(key, value);
        }
        let context = SourceContext {
            stream: stream.name.clone(),
            metrics: Arc::clone(&metrics),
            assignments: wiring.assignments,
            joined: std::sync::atomic::AtomicBool::new(false),
        };
        let consumer: StreamConsumer<SourceContext> = client.create_with_context(context)?;
        let topics: Vec<&str> = stream.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let decoder = Decoder::new(
            Arc::new(DecodeSettings::new(config)),
            Arc::clone(&wiring.catalog.borrow()),
        );
        Ok(Self {
            name: stream.name.clone(),
            format: stream.format,
            consumer,
            decoder,
            max_rows: config.batch.max_rows,
            max_delay: Duration::from_millis(config.batch.max_delay_ms),
            catalog: wiring.catalog,
            out: wiring.out,
            commits: wiring.commits,
            metrics,
        })
    }

    /// Consumes until `shutdown` turns true (or its sender is dropped), then
    /// hands on the last micro-batch and commits what the window stage sends
    /// until it closes the commit channel.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Self {
            name,
            format,
            consumer,
            mut decoder,
            max_rows,
            max_delay,
            mut catalog,
            out,
            mut commits,
            metrics,
        } = self;
        let mut pending = Pending::default();
        let mut tick = tokio::time::interval(max_delay.min(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut commits_open = true;
        if *shutdown.borrow() {
            tracing::debug!(stream = name.as_str(), "Shut down before consuming.");
        } else {
            loop {
                tokio::select! {
                    biased;
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                    commit = commits.recv(), if commits_open => match commit {
                        Some(positions) => store_positions(&consumer, &positions, &name, &metrics),
                        None => commits_open = false,
                    },
                    _ = tick.tick() => {
                        let due = pending.first_at.is_some_and(|t| t.elapsed() >= max_delay);
                        if due && !flush(&mut decoder, &mut pending, &out, &metrics).await {
                            break;
                        }
                        if catalog.has_changed().unwrap_or(false) {
                            if !flush(&mut decoder, &mut pending, &out, &metrics).await {
                                break;
                            }
                            decoder.set_catalog(Arc::clone(&catalog.borrow_and_update()));
                        }
                    }
                    message = consumer.recv() => {
                        match message {
                            Ok(message) => {
                                pending.consumed(message.topic(), message.partition(), message.offset());
                                decoder.decode(format, message.payload());
                            }
                            Err(error) => {
                                events::KafkaClientError { stream: &name, error: &error, reason: "consume" }
                                    .emit(&metrics);
                                // Errors such as a broker going away repeat fast; pace them.
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                        if decoder.buffered_rows() >= max_rows
                            && !flush(&mut decoder, &mut pending, &out, &metrics).await
                        {
                            break;
                        }
                    }
                }
            }
        }
        flush(&mut decoder, &mut pending, &out, &metrics).await;
        drop(out);
        // The window stage exports what it holds and sends the final positions.
        // Polling goes on meanwhile, so the client keeps serving its group
        // session and callbacks; what it reads now is not handed on, and is
        // read again after a restart because its positions are never stored.
        while commits_open {
            tokio::select! {
                commit = commits.recv() => match commit {
                    Some(positions) => store_positions(&consumer, &positions, &name, &metrics),
                    None => commits_open = false,
                },
                _ = consumer.recv() => {}
            }
        }
        // Closing commits the stored positions and leaves the group; it blocks.
        tokio::task::spawn_blocking(move || drop(consumer)).await.ok();
        tracing::info!(stream = name.as_str(), "Source stopped.");
    }
}

/// Offsets and counts since the last hand-off.
#[derive(Debug, Default)]
struct Pending {
    offsets: HashMap<PartitionKey, (i64, i64)>,
    topics: HashMap<String, Arc<str>>,
    messages: u64,
    first_at: Option<Instant>,
}

impl Pending {
    fn consumed(&mut self, topic: &str, partition: i32, offset: i64) {
        let topic = match self.topics.get(topic) {
            Some(topic) => Arc::clone(topic),
            None => {
                let interned: Arc<str> = topic.into();
                self.topics.insert(topic.to_owned(), Arc::clone(&interned));
                interned
            }
        };
        let range = self.offsets.entry((topic, partition)).or_insert((offset, offset));
        range.0 = range.0.min(offset);
        range.1 = range.1.max(offset);
        self.messages += 1;
        self.first_at.get_or_insert_with(Instant::now);
    }
}

/// Hands the micro-batch on; false when the window stage is gone.
async fn flush(
    decoder: &mut Decoder,
    pending: &mut Pending,
    out: &mpsc::Sender<SourceBatch>,
    metrics: &Metrics,
) -> bool {
    pending.first_at = None;
    let counts = decoder.take_counts();
    events::BatchDecoded { messages: std::mem::take(&mut pending.messages), counts: &counts }
        .emit(metrics);
    let batches = decoder.take_batches();
    let mut offsets: Vec<PartitionRange> = pending
        .offsets
        .drain()
        .map(|((topic, partition), (first, last))| PartitionRange { topic, partition, first, last })
        .collect();
    if batches.is_empty() && offsets.is_empty() {
        return true;
    }
    offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out.send(SourceBatch { batches, offsets }).await.is_ok()
}

fn store_positions(
    consumer: &StreamConsumer<SourceContext>,
    positions: &[(PartitionKey, i64)],
    stream: &str,
    metrics: &Metrics,
) {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), position) in positions {
        if let Err(error) = list.add_partition_offset(topic, *partition, Offset::Offset(*position))
        {
            events::KafkaClientError { stream, error: &error, reason: "store offsets" }
                .emit(metrics);
        }
    }
    if list.count() == 0 {
        return;
    }
    // Fails for partitions revoked meanwhile: their new owner re-reads them.
    if let Err(error) = consumer.store_offsets(&list) {
        events::KafkaClientError { stream, error: &error, reason: "store offsets" }.emit(metrics);
    }
}
