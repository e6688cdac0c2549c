//! Dead-letter copies of rejected messages (`streams[].dead_letter_topic`).
//!
//! A message the decoder rejects as a whole is copied unchanged — key,
//! payload and headers — to the stream's dead-letter topic, with headers
//! saying why and where it came from ([`REASON_HEADER`] and the others
//! below), so it can be inspected or replayed after the producer is fixed.
//!
//! # Never in the way of the stream
//!
//! Copying must not stall the partition the bad message came from, so it is
//! best-effort (at most once): [`DeadLetter::send`] only enqueues into the
//! producer's bounded queue ([`QUEUE_MESSAGES`], [`QUEUE_KBYTES`]) and returns
//! at once. A copy that cannot be queued (queue full), or that librdkafka
//! gives up delivering after [`MESSAGE_TIMEOUT_MS`], is counted in
//! `driftgauge_dead_letter_failures_total` and dropped; delivered copies are
//! counted in `driftgauge_dead_letter_messages_total`. Offsets of rejected
//! messages are committed with their micro-batch as usual, whether or not
//! the copy has been delivered yet, and at shutdown queued copies get
//! [`CLOSE_TIMEOUT`] to be delivered.
//!
//! The producer uses the brokers and passthrough properties of `[kafka]`
//! (security settings apply to it too); librdkafka logs, and ignores,
//! consumer-only properties there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::config::KafkaConfig;
use crate::observe::metrics::Metrics;
use crate::stream::decode::Rejection;
use crate::stream::events;

/// Header: the rejection reason, as the `reason` label of
/// `driftgauge_events_rejected_total` (`not_json`, `wrong_type`, ...).
pub const REASON_HEADER: &str = "driftgauge.reason";
/// Header: what was wrong and where, e.g. ``feature x is a string, not a number``.
pub const ERROR_HEADER: &str = "driftgauge.error";
/// Header: the configured name of the stream that rejected the message.
pub const STREAM_HEADER: &str = "driftgauge.stream";
/// Header: the topic the message was consumed from.
pub const TOPIC_HEADER: &str = "driftgauge.source.topic";
/// Header: its partition, in decimal.
pub const PARTITION_HEADER: &str = "driftgauge.source.partition";
/// Header: its offset, in decimal.
pub const OFFSET_HEADER: &str = "driftgauge.source.offset";

/// Copies the producer may hold undelivered (librdkafka `queue.buffering.max.messages`).
pub const QUEUE_MESSAGES: u32 = 10_000;
/// Bytes, in KiB, the producer may hold undelivered (`queue.buffering.max.kbytes`).
pub const QUEUE_KBYTES: u32 = 64 * 1024;
/// How long librdkafka tries to deliver a copy (`message.timeout.ms`).
pub const MESSAGE_TIMEOUT_MS: u32 = 30_000;
/// How long closing waits for queued copies.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// At most one warning per this interval; failures are counted regardless.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// One stream's dead-letter producer.
pub struct DeadLetter {
    topic: String,
    producer: ThreadedProducer<DeadLetterContext>,
}

impl std::fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetter").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// The librdkafka properties of a dead-letter producer: the `[kafka]`
/// passthrough map, then the brokers and the bounds it relies on.
pub fn producer_properties(kafka: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (key, value) in &kafka.properties {
        client.set(key, value);
    }
    client
        .set("bootstrap.servers", &kafka.brokers)
        .set("client.id", "driftgauge-dead-letter")
        .set("queue.buffering.max.messages", QUEUE_MESSAGES.to_string())
        .set("queue.buffering.max.kbytes", QUEUE_KBYTES.to_string())
        .set("message.timeout.ms", MESSAGE_TIMEOUT_MS.to_string())
        // Rejects are rare; a short linger batches bursts without delaying much.
        .set("linger.ms", "50");
    client
}

impl DeadLetter {
    /// A producer for `topic`, on behalf of `stream`.
    ///
    /// # Errors
    /// The Kafka client's error (a configuration problem).
    pub fn new(
        kafka: &KafkaConfig,
        stream: &str,
        topic: &str,
        metrics: Arc<Metrics>,
    ) -> KafkaResult<Self> {
        let context = DeadLetterContext {
            stream: stream.to_owned(),
            topic: topic.to_owned(),
            metrics,
            failures: FailureLog::default(),
        };
        let producer = super::create_client(&producer_properties(kafka), context)?;
        Ok(Self { topic: topic.to_owned(), producer })
    }

    /// The topic copies go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues a copy of `message` with the rejection headers; never waits.
    /// A copy that cannot be queued is counted as a failure and dropped.
    pub fn send<M: Message>(&self, message: &M, rejection: &Rejection) {
        let context = self.producer.context();
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let original = message.headers();
        let mut headers = OwnedHeaders::new_with_capacity(original.map_or(0, |h| h.count()) + 6);
        if let Some(original) = original {
            for header in original.iter() {
                headers = headers.insert(header);
            }
        }
        for (key, value) in [
            (REASON_HEADER, rejection.reason.as_str()),
            (ERROR_HEADER, rejection.detail.as_str()),
            (STREAM_HEADER, context.stream.as_str()),
            (TOPIC_HEADER, message.topic()),
            (PARTITION_HEADER, partition.as_str()),
            (OFFSET_HEADER, offset.as_str()),
        ] {
            headers = headers.insert(Header { key, value: Some(value) });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Err((error, _)) = self.producer.send(record) {
            context.failed(&error);
        }
    }

    /// Waits up to `timeout` for queued copies, then stops the producer;
    /// copies still undelivered are counted as failures. Blocks: call it
    /// from a blocking thread.
    pub fn close(self, timeout: Duration) {
        if let Err(error) = self.producer.flush(timeout) {
            tracing::warn!(
                stream = self.producer.context().stream.as_str(),
                topic = self.topic.as_str(),
                %error,
                in_flight = self.producer.in_flight_count(),
                "Dead-letter copies still queued at shutdown are dropped."
            );
        }
        // Dropping purges what is left; the delivery callback counts it.
        drop(self.producer);
    }
}

/// Callbacks from the producer's threads: delivery results, errors and logs.
struct DeadLetterContext {
    stream: String,
    topic: String,
    metrics: Arc<Metrics>,
    failures: FailureLog,
}

impl DeadLetterContext {
    fn failed(&self, error: &KafkaError) {
        self.metrics.dead_letter_failures.inc();
        if let Some(dropped) = self.failures.due() {
            tracing::warn!(
                stream = self.stream.as_str(),
                topic = self.topic.as_str(),
                %error,
                dropped,
                "Cannot copy rejected messages to the dead-letter topic; they are counted and dropped."
            );
        }
    }
}

impl ClientContext for DeadLetterContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let stream = self.stream.as_str();
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(
                    stream,
                    facility,
                    message,
                    "Dead-letter producer reported a problem."
                );
            }
            _ => tracing::debug!(stream, facility, message, "Dead-letter producer log."),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        events::KafkaClientError { stream: &self.stream, error: &error, reason }
            .emit(&self.metrics);
    }
}

impl ProducerContext for DeadLetterContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        match result {
            Ok(_) => self.metrics.dead_letter_messages.inc(),
            Err((error, _)) => self.failed(error),
        }
    }
}

/// Rate-limits the failure warning: failures since the last one, and when it was.
#[derive(Debug, Default)]
struct FailureLog {
    since: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl FailureLog {
    /// Counts a failure; returns the failures to report when a warning is due.
    fn due(&self) -> Option<u64> {
        self.since.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means another thread panicked while logging.
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < WARN_INTERVAL) {
            return None;
        }
        *last = Some(Instant::now());
        Some(self.since.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_warnings_are_rate_limited_but_counted() {
        let log = FailureLog::default();
        assert_eq!(log.due(), Some(1));
        assert_eq!(log.due(), None);
        assert_eq!(log.due(), None);
        *log.last.lock().unwrap() = Some(Instant::now() - WARN_INTERVAL);
        assert_eq!(log.due(), Some(3));
    }

    #[test]
    fn the_bounds_override_the_passthrough_map() {
        let mut kafka = crate::config::Config::defaults().kafka;
        kafka.properties.insert("queue.buffering.max.messages".into(), "999999".into());
        kafka.properties.insert("security.protocol".into(), "plaintext".into());
        let client = producer_properties(&kafka);
        assert_eq!(client.get("queue.buffering.max.messages"), Some("10000"));
        assert_eq!(client.get("security.protocol"), Some("plaintext"));
        assert_eq!(client.get("bootstrap.servers"), Some(kafka.brokers.as_str()));
    }
}
