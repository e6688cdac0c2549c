//! The driftgauge engine: everything that touches the outside world.
//!
//! `detectors` computes statistics and knows nothing of files, Kafka or HTTP;
//! this crate reads data, decides where work runs (rayon across columns) and
//! presents results. Today it serves the batch gate `driftgauge check` and
//! `driftgauge baseline fit`; the streaming runtime builds on the same
//! baseline profiles and accumulators.
//!
//! Errors name the file and, where there is one, the column at fault; the
//! binary maps them to exit code 2.

pub mod alerts;
pub mod catalog;
pub mod check;
pub mod check_model;
pub mod checkpoint;
pub mod cli;
pub mod compute;
pub mod config;
pub mod decode;
pub mod demo;
pub mod events;
pub mod input;
pub mod metrics;
pub mod outbox_store;
pub mod pipeline;
pub mod registry;
pub mod render;
pub mod server;
pub mod source;
pub mod streaming_cli;
pub mod window;

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
