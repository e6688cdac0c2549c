//! Where events come from. Today: Kafka consumer groups ([`kafka`]), whose
//! messages are taken in batches from a queue of the source's own
//! ([`fetch`]), with optional copies of rejected messages to a dead-letter
//! topic ([`dead_letter`]).
//!
//! A source consumes messages, decodes them into per-model Arrow batches
//! (see [`crate::stream::decode`]) and hands micro-batches, with the offsets they
//! consumed, to the window stage over a bounded channel. It stores, for
//! librdkafka to commit, only the positions the window stage sends back once the
//! state holding their events is durable: after a checkpoint (see
//! [`crate::stream::checkpoint`]), or without one after exporting closed windows.
//!
//! The source is the engine's only Kafka consumer and owns all of its FFI
//! ([`fetch`]). It may use [`crate::stream::decode`], [`crate::stream::window`]
//! (the micro-batch it hands on), the catalogue of models, events and the
//! metric catalogue, and the Kafka settings of [`crate::config`]. It must not
//! reach past the window stage: what happens to a window is not its business.

pub mod dead_letter;
pub mod fetch;
pub mod kafka;

/// A topic and partition: the unit positions are tracked, stored and committed in.
pub type PartitionKey = (std::sync::Arc<str>, i32);
