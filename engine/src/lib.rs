//! The driftgauge engine: everything that touches the outside world.
//!
//! `detectors` computes statistics and knows nothing of files, Kafka or HTTP;
//! `alerting` decides when a window should fire and delivers what fired. This
//! crate reads data, decides where work runs and presents results: the batch
//! gate (`driftgauge check`), the baseline registry and the streaming engine
//! (`driftgauge run`).
//!
//! # Where code lives
//!
//! Folders follow the data, so a reader finds any line from the data flow
//! alone:
//!
//! ```text
//!  files ──▶ batch (read, compare, render) ──▶ terminal / CI exit code
//!
//!  Kafka ──▶ stream: source ─▶ decode ─▶ window ─▶ compute ─▶ export ──▶ observe (/metrics)
//!                      ▲  offsets after checkpoint  │            └─ sink ──▶ alerts ──▶ webhooks
//!                      └────────────────────────────┘                        (SQLite outbox)
//!  baselines: registry (SQLite, profile files) ──▶ stream::catalog, batch
//! ```
//!
//! | module | owns |
//! | --- | --- |
//! | [`cli`] | argument parsing and each command's glue, the demo |
//! | [`alerts`] | the bridge from closed windows to the alerting crate, the SQLite outbox store |
//! | [`stream`] | the streaming engine's stages and their assembly |
//! | [`batch`] | reading files, the `check` comparison, the model report, rendering |
//! | [`registry`] | the SQLite baseline registry, profile files, SQLite opening for every store |
//! | [`observe`] | the metric catalogue and the HTTP server |
//! | [`config`] | the engine's settings: one TOML file over embedded defaults |
//!
//! Imports run one way, from the top of that table down: `cli` → `alerts` →
//! `stream` | `batch` → `registry` | `observe` → `config`. Modules in one row
//! do not use each other. The alert bridge sits above the stream because it
//! consumes the stream's window reports; the stream hands them out through a
//! bounded, acknowledged sink it defines itself ([`stream::sink`]), so it never
//! names the alerting side. A constant lives with the stage that owns it
//! (reject reasons with decoding, reserved librdkafka properties with the Kafka
//! settings). `tests/architecture.rs` fails on an import against this order and
//! on any cycle between files.
//!
//! Errors name the file and, where there is one, the column at fault; the
//! binary maps them to exit code 2.

pub mod alerts;
pub mod batch;
pub mod cli;
pub mod config;
pub mod observe;
pub mod registry;
pub mod stream;

/// An error and its sources, joined with `: `, for log fields and stored
/// failure texts (a `Display` of the outer error alone often omits the cause).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
