//! The source's fetch queue: its partitions' messages, taken in batches.
//!
//! rust-rdkafka hands out one message per poll of the consumer queue,
//! through librdkafka's event API. Each message costs a poll (the queue's
//! lock and three clock reads), an event wrapped in a reference count, and
//! its release. On the streaming bench's messages (575-byte JSON events,
//! 2-core Xeon VM, 2026-12-07) that came to 520–630 ns of the polling
//! thread's CPU per message, against 190–290 ns for the same messages taken
//! with `rd_kafka_consume_batch_queue`, in six alternating runs of a one-off
//! comparison: about a tenth of what an event cost the engine in all.
//! `cargo bench -p benches --bench streaming -- kafka_consume_only` measures
//! this path alone.
//!
//! So each source creates a queue of its own. When a partition is assigned,
//! the consumer context routes (forwards) the partition's fetch queue here,
//! before the assignment starts fetching; librdkafka drops that routing
//! when it stops fetching a partition, so every assignment routes again. The
//! group's own events (rebalances, commits, statistics, errors) stay on the
//! consumer queue, which the source still polls through rust-rdkafka, so
//! rebalance handling is rust-rdkafka's. librdkafka calls back from its
//! threads when the fetch queue turns non-empty; the callback wakes the
//! source through a [`Notify`].
//!
//! # Lifetimes
//!
//! A queue, and the messages taken from it, must be destroyed before the
//! client they came from: the source drops its [`Batch`] and its
//! [`FetchQueue`] before its consumer, and the consumer context keeps only a
//! [`std::sync::Weak`] reference for routing.

use std::ffi::{CStr, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::Notify;

/// A librdkafka queue that assigned partitions' messages are routed to.
pub struct FetchQueue {
    /// The client the queue belongs to, which outlives it (see [`FetchQueue::new`]).
    client: NonNull<rd::rd_kafka_t>,
    queue: NonNull<rd::rd_kafka_queue_t>,
    /// Notified when the queue turns non-empty; librdkafka's callback holds
    /// a pointer to it.
    non_empty: Arc<Notify>,
}

// SAFETY: every operation on a librdkafka queue takes the queue's own lock,
// and a client may be used from any thread; `Notify` is `Send + Sync`.
unsafe impl Send for FetchQueue {}
// SAFETY: as above.
unsafe impl Sync for FetchQueue {}

/// Called by librdkafka, under the queue's lock, when an op lands in the
/// empty queue.
unsafe extern "C" fn queue_turned_non_empty(_: *mut rd::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Notify` of a live `FetchQueue`: its drop
    // removes this callback (under the same lock) before releasing it.
    let non_empty = unsafe { &*opaque.cast::<Notify>() };
    non_empty.notify_one();
}

impl FetchQueue {
    /// A new queue of `client`'s; `None` if librdkafka cannot make one.
    ///
    /// # Safety
    /// The queue, and every [`Batch`] taken from it, must be dropped before
    /// `client`: librdkafka's queues and messages hold no reference to their
    /// client, and destroying them after it is a use after free.
    pub unsafe fn new<C: ClientContext>(client: &Client<C>) -> Option<Self> {
        let client = NonNull::new(client.native_ptr())?;
        // SAFETY: the client is live.
        let queue = NonNull::new(unsafe { rd::rd_kafka_queue_new(client.as_ptr()) })?;
        let non_empty = Arc::new(Notify::new());
        // SAFETY: the queue is live, and the `Notify` outlives the callback
        // (see `queue_turned_non_empty`).
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(
                queue.as_ptr(),
                Some(queue_turned_non_empty),
                Arc::as_ptr(&non_empty).cast_mut().cast(),
            );
        }
        Some(Self { client, queue, non_empty })
    }

    /// Routes the messages fetched for `topic`/`partition` to this queue.
    /// Call it before the partition is assigned, at each assignment. False
    /// if librdkafka has no such partition (its messages then go to the
    /// consumer queue).
    pub fn route(&self, topic: &str, partition: i32) -> bool {
        let Ok(topic) = std::ffi::CString::new(topic) else { return false };
        // SAFETY: the client (which outlives this queue) and the queue are
        // live; the partition queue handle is released right after
        // forwarding (the forwarding keeps its own references to both queues).
        unsafe {
            let source =
                rd::rd_kafka_queue_get_partition(self.client.as_ptr(), topic.as_ptr(), partition);
            if source.is_null() {
                return false;
            }
            rd::rd_kafka_queue_forward(source, self.queue.as_ptr());
            rd::rd_kafka_queue_destroy(source);
        }
        true
    }

    /// Waits until the queue may hold messages: it turned non-empty since
    /// the last wait, or [`FetchQueue::wake`] was called.
    pub async fn non_empty(&self) {
        self.non_empty.notified().await;
    }

    /// Makes the next [`FetchQueue::non_empty`] return at once: for a
    /// reader that stopped before the queue was empty.
    pub fn wake(&self) {
        self.non_empty.notify_one();
    }

    /// Replaces `batch` with up to `most` messages the queue holds now,
    /// without waiting; returns how many.
    pub fn take(&self, batch: &mut Batch, most: usize) -> usize {
        batch.clear();
        batch.messages.reserve(most);
        // SAFETY: the queue is live and the buffer has room for `most`
        // pointers; librdkafka writes as many as it returns (a negative
        // return, an error, writes none).
        let taken = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                0,
                batch.messages.as_mut_ptr(),
                most,
            )
        };
        let taken = usize::try_from(taken).unwrap_or(0).min(most);
        // SAFETY: the first `taken` elements were written just now.
        unsafe { batch.messages.set_len(taken) };
        batch.name_topics();
        taken
    }
}

impl Drop for FetchQueue {
    fn drop(&mut self) {
        // SAFETY: removing the callback takes the queue's lock, which
        // librdkafka holds while calling back, so none runs after this;
        // then the queue is released (partitions still routed here see it
        // disabled and drop what they would have added).
        unsafe {
            rd::rd_kafka_queue_cb_event_enable(self.queue.as_ptr(), None, std::ptr::null_mut());
            rd::rd_kafka_queue_destroy(self.queue.as_ptr());
        }
    }
}

/// Messages taken from a [`FetchQueue`], released when the batch is
/// cleared or dropped (which must happen before their client is dropped).
#[derive(Default)]
pub struct Batch {
    messages: Vec<*mut rd::rd_kafka_message_t>,
    /// The names of the messages' topics, read (measured and checked) once
    /// per batch: usually one.
    topics: Vec<(*const rd::rd_kafka_topic_t, Box<str>)>,
}

// SAFETY: a librdkafka message, and the topic handle it holds, may be read
// and released on any thread.
unsafe impl Send for Batch {}

impl Batch {
    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The `index`-th message, in the order taken (each partition's in
    /// offset order).
    pub fn get(&self, index: usize) -> Option<Fetched<'_>> {
        // SAFETY: the batch holds the message until it is cleared, which
        // needs `&mut self`.
        let message = unsafe { &**self.messages.get(index)? };
        let topic = self.topics.iter().find(|(rkt, _)| *rkt == message.rkt.cast_const());
        Some(Fetched { message, topic: topic.map_or("", |(_, name)| name) })
    }

    /// The messages, in the order taken.
    pub fn iter(&self) -> impl Iterator<Item = Fetched<'_>> {
        (0..self.len()).filter_map(|index| self.get(index))
    }

    /// Reads the names of topics not seen yet in the batch.
    fn name_topics(&mut self) {
        for &message in &self.messages {
            // SAFETY: a message just taken, held by the batch.
            let rkt = unsafe { (*message).rkt.cast_const() };
            if !self.topics.iter().any(|(known, _)| *known == rkt) {
                // SAFETY: the message holds a reference to its topic, whose
                // name lives as long.
                let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(rkt)) };
                // Kafka topic names are ASCII.
                self.topics.push((rkt, name.to_str().unwrap_or_default().into()));
            }
        }
    }

    /// Releases the messages.
    pub fn clear(&mut self) {
        self.topics.clear();
        for message in self.messages.drain(..) {
            // SAFETY: each message was taken from librdkafka once and is
            // released once, here.
            unsafe { rd::rd_kafka_message_destroy(message) };
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One message of a [`Batch`].
pub struct Fetched<'b> {
    message: &'b rd::rd_kafka_message_t,
    topic: &'b str,
}

impl<'b> Fetched<'b> {
    /// The topic it was read from.
    pub fn topic(&self) -> &'b str {
        self.topic
    }

    /// Its partition.
    pub fn partition(&self) -> i32 {
        self.message.partition
    }

    /// Its offset.
    pub fn offset(&self) -> i64 {
        self.message.offset
    }

    /// The consumer error it carries instead of a message, if it is one.
    pub fn error(&self) -> Option<KafkaError> {
        match self.message.err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR => None,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__PARTITION_EOF => {
                Some(KafkaError::PartitionEOF(self.message.partition))
            }
            error => Some(KafkaError::MessageConsumption(error.into())),
        }
    }

    /// Its payload; `None` for a tombstone.
    pub fn payload(&self) -> Option<&'b [u8]> {
        // SAFETY: librdkafka's payload pointer and length describe a buffer
        // the message owns.
        unsafe { bytes(self.message.payload.cast_const(), self.message.len) }
    }

    /// A copy, with key, headers and timestamp: for the dead-letter topic.
    pub fn to_owned_message(&self) -> OwnedMessage {
        let message: *const rd::rd_kafka_message_t = self.message;
        // SAFETY: the key is a buffer the message owns, as the payload is.
        let key = unsafe { bytes(self.message.key.cast_const(), self.message.key_len) };
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: reads a field of the live message.
        let millis = unsafe { rd::rd_kafka_message_timestamp(message, &raw mut kind) };
        let timestamp = match kind {
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_CREATE_TIME => {
                Timestamp::CreateTime(millis)
            }
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME => {
                Timestamp::LogAppendTime(millis)
            }
            rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE => {
                Timestamp::NotAvailable
            }
        };
        OwnedMessage::new(
            self.payload().map(<[u8]>::to_vec),
            key.map(<[u8]>::to_vec),
            self.topic.to_owned(),
            timestamp,
            self.partition(),
            self.offset(),
            self.headers(),
        )
    }

    /// A copy of its headers, if it has any.
    fn headers(&self) -> Option<OwnedHeaders> {
        let mut headers = std::ptr::null_mut();
        // SAFETY: the headers stay owned by the live message; they are only read.
        unsafe {
            let found = rd::rd_kafka_message_headers(self.message, &raw mut headers);
            if found != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
                return None;
            }
            let mut copy = OwnedHeaders::new();
            for index in 0.. {
                let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0);
                let read = rd::rd_kafka_header_get_all(
                    headers,
                    index,
                    &raw mut name,
                    &raw mut value,
                    &raw mut size,
                );
                if read != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                    break;
                }
                let key = CStr::from_ptr(name).to_string_lossy();
                copy = copy.insert(Header { key: &key, value: bytes(value, size) });
            }
            Some(copy)
        }
    }
}

/// The bytes at `data`, `None` if it is null.
///
/// # Safety
/// `data` must be null or point to `len` readable bytes that live for `'a`.
unsafe fn bytes<'a>(data: *const c_void, len: usize) -> Option<&'a [u8]> {
    // SAFETY: as the caller promises.
    (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}
