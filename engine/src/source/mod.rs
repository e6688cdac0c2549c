//! Where events come from. Today: Kafka consumer groups ([`kafka`]), whose
//! messages are taken in batches from a queue of the source's own
//! ([`fetch`]), with optional copies of rejected messages to a dead-letter
//! topic ([`dead_letter`]).
//!
//! A source consumes messages, decodes them into per-model Arrow batches
//! (see [`crate::decode`]) and hands micro-batches, with the offsets they
//! consumed, to the window stage over a bounded channel. It stores, for
//! librdkafka to commit, only the positions the window stage sends back once the
//! state holding their events is durable: after a checkpoint (see
//! [`crate::checkpoint`]), or without one after exporting closed windows.

pub mod dead_letter;
pub mod fetch;
pub mod kafka;
