//! driftgauge's integration tests: one binary, one module per area.

mod cli;
mod golden_drift;
mod golden_evidently;
mod golden_quality;
mod outbox;
mod registry;
mod streaming;
