//! Where events come from. Today: Kafka consumer groups ([`kafka`]).
//!
//! A source consumes messages, decodes them into per-model Arrow batches
//! (see [`crate::decode`]) and hands micro-batches, with the offsets they
//! consumed, to the window stage over a bounded channel. It stores, for
//! librdkafka to commit, only the positions the window stage sends back after
//! exporting closed windows.

pub mod kafka;
