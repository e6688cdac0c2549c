//! The Kafka source: one consumer-group member per configured stream.
//!
//! # Delivery
//!
//! The automatic offset *store* is off (`enable.auto.offset.store=false`):
//! the source stores only positions sent back by the window stage, and
//! librdkafka commits the stored positions every `kafka.commit_interval_ms`
//! and once more when the consumer closes at shutdown. With checkpoints (see
//! [`crate::stream::checkpoint`]) the window stage sends the offsets of each
//! checkpoint after its SQLite commit: exactly-once into windows. Without,
//! it sends positions below every open window's events after the closed
//! windows are exported (rust-rdkafka's `at_least_once` pattern, see
//! [`crate::stream::window`]): at-least-once.
//!
//! # Positions and seeking
//!
//! Each source keeps the next offset to read of every partition it has
//! read ([`Positions`]): the checkpoint's offsets at start, then one past
//! each message received. The consumer context assigns partitions at those
//! offsets, not at the group's committed ones, which lag behind: on start
//! they resume the checkpoint, and after an eager rebalance that hands a
//! partition back, reading continues where it was instead of repeating what
//! the open windows already hold. Partitions the source has not read start
//! at the committed offset (or `auto.offset.reset`). A message below its
//! partition's position (fetched before a seek took effect) is skipped.
//!
//! # Loop
//!
//! `select!` over shutdown, commit requests, the flush tick, the consumer
//! queue (the group's events, read through one message stream kept for the
//! whole run) and the fetch queue ([`super::fetch`]), where the assigned
//! partitions' messages arrive. The fetch queue is read in batches, up to
//! [`DRAIN_MESSAGES`] per round of the `select!`; the consumer queue comes
//! first in each round, so a busy stream still serves rebalances and commits.
//! A micro-batch is handed on when it holds `batch.max_rows` events or its
//! first event is `batch.max_delay_ms` old. The hand-off channel is
//! bounded, so a slow window stage stops consumption rather than filling
//! memory. A message rejected as a whole is copied to the stream's
//! dead-letter topic when it has one ([`super::dead_letter`]), without waiting.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use futures_core::Stream;
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{
    BaseConsumer, Consumer, ConsumerContext, MessageStream, Rebalance, RebalanceProtocol,
    StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, PayloadFormat, StreamConfig};
use crate::observe::metrics::Metrics;
use crate::stream::catalog::Catalog;
use crate::stream::decode::{DecodeSettings, Decoder, Rejection};
use crate::stream::events;
use crate::stream::source::PartitionKey;
use crate::stream::source::dead_letter::{self, DeadLetter};
use crate::stream::source::fetch::{Batch, FetchQueue, Fetched};
use crate::stream::window::{PartitionRange, SourceBatch};

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

/// The next offset to read of every partition a source has read (see the
/// [module docs](self)). Locked once per message by the source and once per
/// rebalance by the consumer context: never contended for long.
#[derive(Debug, Default)]
pub struct Positions {
    next: std::sync::Mutex<FxHashMap<String, FxHashMap<i32, i64>>>,
}

impl Positions {
    /// Positions starting at `offsets` (a checkpoint's).
    pub fn new(offsets: impl IntoIterator<Item = (PartitionKey, i64)>) -> Self {
        let mut next: FxHashMap<String, FxHashMap<i32, i64>> = FxHashMap::default();
        for ((topic, partition), offset) in offsets {
            next.entry(topic.to_string()).or_default().insert(partition, offset);
        }
        Self { next: std::sync::Mutex::new(next) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<String, FxHashMap<i32, i64>>> {
        // A map of integers: a panic elsewhere cannot leave it half-updated.
        self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a message; false if it is below its partition's position
    /// (already read), to be skipped.
    pub fn admit(&self, topic: &str, partition: i32, offset: i64) -> bool {
        let mut next = self.lock();
        let partitions = match next.get_mut(topic) {
            Some(partitions) => partitions,
            None => next.entry(topic.to_owned()).or_default(),
        };
        let position = partitions.entry(partition).or_insert(offset);
        if offset < *position {
            return false;
        }
        *position = offset + 1;
        true
    }

    /// The next offset to read of a partition, if it has been read.
    pub fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.lock().get(topic).and_then(|p| p.get(&partition)).copied()
    }

    /// Sets the start offset of every partition of `list` that has a position.
    fn seek(&self, list: &mut TopicPartitionList) -> Vec<(String, i32, i64)> {
        let known: Vec<(String, i32, i64)> = list
            .elements()
            .iter()
            .filter_map(|e| {
                self.get(e.topic(), e.partition()).map(|o| (e.topic().to_owned(), e.partition(), o))
            })
            .collect();
        for (topic, partition, offset) in &known {
            // Fails only for a partition not in the list, which cannot be.
            list.set_partition_offset(topic, *partition, Offset::Offset(*offset)).ok();
        }
        known
    }
}

/// Callbacks from librdkafka's threads: statistics (consumer lag), errors,
/// logs, rebalances and commit results.
pub struct SourceContext {
    stream: String,
    metrics: Arc<Metrics>,
    assignments: Arc<Assignments>,
    joined: std::sync::atomic::AtomicBool,
    positions: Arc<Positions>,
    /// Where assigned partitions' messages are routed; the source owns it.
    fetch: OnceLock<Weak<FetchQueue>>,
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

impl SourceContext {
    /// Routes the messages of the partitions of `list`, about to be
    /// assigned, to the source's fetch queue (see [`super::fetch`]).
    fn route(&self, list: &TopicPartitionList) {
        // Gone only while the source shuts down: nothing is read then.
        let Some(fetch) = self.fetch.get().and_then(Weak::upgrade) else { return };
        for element in list.elements() {
            if !fetch.route(element.topic(), element.partition()) {
                tracing::warn!(
                    stream = self.stream.as_str(),
                    topic = element.topic(),
                    partition = element.partition(),
                    "The Kafka client has no such partition to route; its messages \
                     are read one at a time."
                );
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    /// librdkafka's default rebalance (as rust-rdkafka implements it), except
    /// that assigned partitions start at their [`Positions`].
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        error: RDKafkaRespErr,
        list: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let (result, rebalance) = match error {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.route(list);
                let seeks = self.positions.seek(list);
                if !seeks.is_empty() {
                    tracing::info!(
                        stream = self.stream.as_str(),
                        positions = ?seeks,
                        "Resuming partitions at their positions."
                    );
                }
                let result = if cooperative {
                    consumer.incremental_assign(list)
                } else {
                    consumer.assign(list)
                };
                (result, Rebalance::Assign(list))
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let result = if cooperative {
                    consumer.incremental_unassign(list)
                } else {
                    consumer.unassign()
                };
                (result, Rebalance::Revoke(list))
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                (Ok(()), Rebalance::Error(KafkaError::Rebalance(code)))
            }
        };
        if let Err(error) = result {
            events::KafkaClientError { stream: &self.stream, error: &error, reason: "rebalance" }
                .emit(&self.metrics);
        }
        self.post_rebalance(consumer, &rebalance);
    }

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

/// Lets librdkafka's fetch buffers be reused instead of page-faulted in
/// afresh. Takes effect for threads that have not yet allocated through
/// glibc, so call it first thing in `main`; later calls do nothing.
///
/// librdkafka reads each fetch response into one buffer from glibc's malloc
/// (Rust's allocations go to mimalloc). By default its broker threads get
/// arenas of their own, and glibc unmaps such an arena's heap as soon as it
/// empties, so at full speed every fetched page is mapped, faulted in and
/// zeroed anew: in the streaming bench, about 30,000 faults and a quarter of
/// librdkafka's CPU per 150 MB. One arena (the main one, which glibc only
/// trims above a threshold), buffers of up to 32 MiB carved from it rather
/// than mmapped, and 128 MiB of free space kept (twice librdkafka's default
/// `queued.max.messages.kbytes`) bring that to about 4,000.
pub fn reuse_fetch_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            for (parameter, value) in [
                (libc::M_ARENA_MAX, 1),
                (libc::M_MMAP_THRESHOLD, 32 << 20),
                (libc::M_TRIM_THRESHOLD, 128 << 20),
            ] {
                // SAFETY: `mallopt` only sets a tuning parameter of glibc's
                // allocator, under its own lock; a value out of range is
                // refused (returns 0), which leaves glibc's default.
                unsafe { libc::mallopt(parameter, value) };
            }
        });
    }
}

/// Commit positions for one stream: (topic and partition, next offset to read).
pub type Commit = Vec<(PartitionKey, i64)>;

/// Messages taken at most between two rounds of the source's `select!`:
/// bounds how long shutdown, commits and the flush tick wait (a JSON event
/// decodes in about two microseconds, so about two milliseconds).
pub const DRAIN_MESSAGES: usize = 1024;

/// The consumer queue, read through one [`MessageStream`] for the source's
/// whole run: the group's events, served by the context's callbacks, and
/// the messages of any partition not routed to the fetch queue.
struct Messages<'c>(MessageStream<'c, SourceContext>);

impl<'c> Messages<'c> {
    /// The next message, waiting for one.
    async fn next(&mut self) -> KafkaResult<BorrowedMessage<'c>> {
        let message = std::future::poll_fn(|cx| Pin::new(&mut self.0).poll_next(cx)).await;
        message.expect("a Kafka message stream never ends")
    }
}

/// One stream's consumer and decoder.
pub struct KafkaSource {
    name: String,
    /// Before the consumer: fields drop in order, and the queue must go
    /// before its client.
    fetch: Arc<FetchQueue>,
    consumer: StreamConsumer<SourceContext>,
    intake: Intake,
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
    /// Where each partition resumes (a checkpoint's offsets; empty without).
    pub positions: Arc<Positions>,
}

impl KafkaSource {
    /// Creates the consumer and its fetch queue, and subscribes to the
    /// stream's topics.
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
        for (key, value) in config.kafka.client_properties() {
            client.set(key, value);
        }
        let context = SourceContext {
            stream: stream.name.clone(),
            metrics: Arc::clone(&metrics),
            assignments: wiring.assignments,
            joined: std::sync::atomic::AtomicBool::new(false),
            positions: Arc::clone(&wiring.positions),
            fetch: OnceLock::new(),
        };
        let consumer: StreamConsumer<SourceContext> = super::create_client(&client, context)?;
        // SAFETY: the queue drops before the consumer, also when the source
        // does (field order) or its task is cancelled (binding order in `run`),
        // and `run` drops its batch before the consumer too.
        let fetch = unsafe { FetchQueue::new(consumer.client()) };
        let fetch = fetch.map(Arc::new).ok_or_else(|| {
            KafkaError::ClientCreation("librdkafka did not create a fetch queue".to_owned())
        })?;
        // Set before the first poll can serve an assignment.
        consumer.context().fetch.set(Arc::downgrade(&fetch)).ok();
        let topics: Vec<&str> = stream.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let decoder = Decoder::new(
            Arc::new(DecodeSettings::new(config)),
            Arc::clone(&wiring.catalog.borrow()),
        );
        let dead_letter = match &stream.dead_letter_topic {
            Some(topic) => {
                Some(DeadLetter::new(&config.kafka, &stream.name, topic, Arc::clone(&metrics))?)
            }
            None => None,
        };
        Ok(Self {
            name: stream.name.clone(),
            fetch,
            consumer,
            intake: Intake {
                format: stream.format,
                decoder,
                pending: Pending::default(),
                positions: wiring.positions,
                dead_letter,
            },
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
        // Bound after the consumer, so dropped before it should the task
        // be cancelled.
        let Self {
            name,
            consumer,
            fetch,
            mut intake,
            max_rows,
            max_delay,
            mut catalog,
            out,
            mut commits,
            metrics,
        } = self;
        let mut messages = Messages(consumer.stream());
        let mut batch = Batch::default();
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
                        let due = intake.pending.first_at.is_some_and(|t| t.elapsed() >= max_delay);
                        if due && !intake.flush(&out, &metrics).await {
                            break;
                        }
                        if catalog.has_changed().unwrap_or(false) {
                            if !intake.flush(&out, &metrics).await {
                                break;
                            }
                            intake.decoder.set_catalog(Arc::clone(&catalog.borrow_and_update()));
                        }
                    }
                    // Before the fetch queue, so that a busy stream still
                    // serves the group's events once per round.
                    message = messages.next() => {
                        match message {
                            Ok(message) => {
                                // `topic()` measures and checks the C string: once.
                                let (topic, partition, offset) =
                                    (message.topic(), message.partition(), message.offset());
                                intake.take(topic, partition, offset, message.payload(), |copy, rejection| {
                                    copy.send(&message, rejection);
                                });
                            }
                            Err(error) => {
                                events::KafkaClientError { stream: &name, error: &error, reason: "consume" }
                                    .emit(&metrics);
                                // Errors such as a broker going away repeat fast; pace them.
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                        if intake.decoder.buffered_rows() >= max_rows
                            && !intake.flush(&out, &metrics).await
                        {
                            break;
                        }
                    }
                    () = fetch.non_empty() => {
                        let mut taken = 0;
                        let mut failed = false;
                        let mut open = true;
                        'drain: while taken < DRAIN_MESSAGES {
                            let more = fetch.take(&mut batch, DRAIN_MESSAGES - taken);
                            if more == 0 {
                                break;
                            }
                            taken += more;
                            for index in 0..batch.len() {
                                // By index: no borrow of the batch is held
                                // across the hand-off's await.
                                if let Some(message) = batch.get(index) {
                                    failed |= !intake.take_fetched(&message, &name, &metrics);
                                }
                                if intake.decoder.buffered_rows() >= max_rows
                                    && !intake.flush(&out, &metrics).await
                                {
                                    open = false;
                                    break 'drain;
                                }
                            }
                        }
                        batch.clear();
                        if !open {
                            break;
                        }
                        if taken == DRAIN_MESSAGES {
                            // Stopped before the queue was empty: no callback
                            // will say it holds more.
                            fetch.wake();
                        }
                        if failed {
                            // As for errors on the consumer queue.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }
        intake.flush(&out, &metrics).await;
        drop(out);
        // The window stage exports what it holds and sends the final positions.
        // Polling goes on meanwhile, so the client keeps serving its group
        // session and callbacks; what it fetches now is not handed on, and is
        // read again after a restart because its positions are never stored.
        while commits_open {
            tokio::select! {
                commit = commits.recv() => match commit {
                    Some(positions) => store_positions(&consumer, &positions, &name, &metrics),
                    None => commits_open = false,
                },
                _ = messages.next() => {}
            }
        }
        drop(messages);
        // Queue and messages go before their client (see `super::fetch`).
        drop(batch);
        drop(fetch);
        // Closing commits the stored positions and leaves the group; it blocks.
        tokio::task::spawn_blocking(move || drop(consumer)).await.ok();
        if let Some(dead_letter) = intake.dead_letter {
            tokio::task::spawn_blocking(move || dead_letter.close(dead_letter::CLOSE_TIMEOUT))
                .await
                .ok();
        }
        tracing::info!(stream = name.as_str(), "Source stopped.");
    }
}

/// What the source does with each message: skip it if already read,
/// decode it, and account for its offset until the micro-batch is cut.
struct Intake {
    format: PayloadFormat,
    decoder: Decoder,
    pending: Pending,
    positions: Arc<Positions>,
    dead_letter: Option<DeadLetter>,
}

impl Intake {
    /// Takes in one message; `copy` sends a rejected one to the
    /// dead-letter topic, when the stream has one.
    fn take(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
        copy: impl FnOnce(&DeadLetter, &Rejection),
    ) {
        // One not admitted was read before a seek took effect: it is
        // already in the windows.
        if !self.positions.admit(topic, partition, offset) {
            return;
        }
        self.pending.consumed(topic, partition, offset);
        let decoded = self.decoder.decode(self.format, payload);
        if let (Err(rejection), Some(dead_letter)) = (decoded, &self.dead_letter) {
            copy(dead_letter, &rejection);
        }
    }

    /// Takes in a message from the fetch queue; false if it carries a
    /// consumer error instead, which is reported.
    fn take_fetched(&mut self, message: &Fetched<'_>, stream: &str, metrics: &Metrics) -> bool {
        if let Some(error) = message.error() {
            events::KafkaClientError { stream, error: &error, reason: "consume" }.emit(metrics);
            return false;
        }
        self.take(
            message.topic(),
            message.partition(),
            message.offset(),
            message.payload(),
            |copy, rejection| copy.send(&message.to_owned_message(), rejection),
        );
        true
    }

    /// Hands the micro-batch on; false when the window stage is gone.
    async fn flush(&mut self, out: &mpsc::Sender<SourceBatch>, metrics: &Metrics) -> bool {
        self.pending.first_at = None;
        let counts = self.decoder.take_counts();
        events::BatchDecoded {
            messages: std::mem::take(&mut self.pending.messages),
            counts: &counts,
        }
        .emit(metrics);
        let batches = self.decoder.take_batches();
        let offsets = self.pending.take_offsets();
        if batches.is_empty() && offsets.is_empty() {
            return true;
        }
        out.send(SourceBatch { batches, offsets }).await.is_ok()
    }
}

/// Offsets and counts since the last hand-off.
#[derive(Debug, Default)]
struct Pending {
    /// First and last offset consumed, by topic and partition. Topics stay
    /// (interned, their partition maps emptied at each hand-off), so a
    /// message costs two lookups and no allocation or reference count.
    offsets: FxHashMap<Arc<str>, FxHashMap<i32, (i64, i64)>>,
    messages: u64,
    first_at: Option<Instant>,
}

impl Pending {
    fn consumed(&mut self, topic: &str, partition: i32, offset: i64) {
        let partitions = match self.offsets.get_mut(topic) {
            Some(partitions) => partitions,
            None => self.offsets.entry(Arc::from(topic)).or_default(),
        };
        let range = partitions.entry(partition).or_insert((offset, offset));
        range.0 = range.0.min(offset);
        range.1 = range.1.max(offset);
        self.messages += 1;
        self.first_at.get_or_insert_with(Instant::now);
    }

    /// The offset ranges consumed since the last call, sorted.
    fn take_offsets(&mut self) -> Vec<PartitionRange> {
        let mut offsets: Vec<PartitionRange> = self
            .offsets
            .iter_mut()
            .flat_map(|(topic, partitions)| {
                partitions.drain().map(|(partition, (first, last))| PartitionRange {
                    topic: Arc::clone(topic),
                    partition,
                    first,
                    last,
                })
            })
            .collect();
        offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        offsets
    }
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

#[cfg(test)]
mod tests {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::BaseConsumer;

    use crate::config::Config;

    /// Managed clusters require TLS and SASL: librdkafka refuses these
    /// properties at client creation unless it was built with OpenSSL.
    #[test]
    fn tls_and_sasl_properties_are_accepted() {
        for (protocol, mechanism) in
            [("ssl", None), ("sasl_ssl", Some("SCRAM-SHA-512")), ("sasl_ssl", Some("PLAIN"))]
        {
            let mut kafka = Config::defaults().kafka;
            kafka.properties.insert("security.protocol".into(), protocol.into());
            if let Some(mechanism) = mechanism {
                kafka.properties.insert("sasl.mechanism".into(), mechanism.into());
                kafka.properties.insert("sasl.username".into(), "user".into());
                kafka.properties.insert("sasl.password".into(), "secret".into());
            }
            let mut config = ClientConfig::new();
            for (key, value) in kafka.client_properties() {
                config.set(key, value);
            }
            let created = config.create::<BaseConsumer>();
            assert!(created.is_ok(), "{protocol} {mechanism:?}: {:?}", created.err());
        }
    }

    /// What the docs say of OAUTHBEARER: librdkafka's unsecured tokens work;
    /// OIDC (a token endpoint with a client id and secret) is not built in
    /// (librdkafka's OIDC needs libcurl), and its properties are refused.
    #[test]
    fn oauthbearer_works_with_unsecured_tokens_only() {
        let client = |extra: &[(&str, &str)]| {
            let mut config = ClientConfig::new();
            config
                .set("bootstrap.servers", "127.0.0.1:9")
                .set("security.protocol", "sasl_plaintext")
                .set("sasl.mechanism", "OAUTHBEARER");
            for (key, value) in extra {
                config.set(*key, *value);
            }
            config.create::<BaseConsumer>().err().map(|e| e.to_string())
        };
        assert_eq!(client(&[("sasl.oauthbearer.config", "principal=driftgauge")]), None);
        for (key, value) in [
            ("sasl.oauthbearer.method", "oidc"),
            ("sasl.oauthbearer.client.id", "driftgauge"),
            ("sasl.oauthbearer.token.endpoint.url", "http://127.0.0.1:9/token"),
        ] {
            let refused = client(&[(key, value)]).unwrap_or_else(|| panic!("{key} was accepted"));
            assert!(refused.contains(key), "{refused}");
        }
    }
}
