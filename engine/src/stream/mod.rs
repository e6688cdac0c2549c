//! The streaming engine (`driftgauge run`): Kafka in, event-time windows
//! compared with each model's baseline, results out.
//!
//! ```text
//!  source ──▶ decode ──▶ window ──▶ compute ──▶ export (metric catalogue)
//!    ▲                     │  checkpoint          └─▶ sink (closed windows, acknowledged)
//!    └── positions to commit once durable ◀───────────┘
//! ```
//!
//! Stages in the order data meets them:
//!
//! * [`source`]: Kafka consumer groups, the batched fetch queue, dead letters;
//! * [`decode`]: JSON and Arrow IPC messages into per-model Arrow batches, and
//!   the reasons a message is rejected;
//! * [`window`]: event-time windows closed by the watermark, and the offsets
//!   that may be committed;
//! * [`compute`]: finishing closed windows on a rayon pool behind a oneshot;
//! * [`export`]: a finished window's series in the metric catalogue;
//! * [`sink`]: closed windows handed out (to the alert bridge) with backpressure;
//! * [`checkpoint`]: window state and offsets in SQLite, for exactly-once windows.
//!
//! Around them: [`catalog`] (each model's plan and active baseline),
//! [`events`] (internal events that log and count together) and
//! [`pipeline`] (the stages joined by bounded channels, and their lifecycle).
//!
//! May use: `detectors`, [`crate::registry`], [`crate::observe`],
//! [`crate::config`]. Must not use: the CLI, the alert bridge (it reads the
//! [`sink`]), or the batch path.

pub mod catalog;
pub mod checkpoint;
pub mod compute;
pub mod decode;
pub mod events;
pub mod export;
pub mod pipeline;
pub mod sink;
pub mod source;
pub mod window;
