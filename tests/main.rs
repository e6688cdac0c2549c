//! driftgauge's integration tests: one binary, one module per area.

mod alerting_e2e;
mod architecture;
mod check_properties;
mod checkpoint;
mod cli;
mod detection_quality;
mod docs;
mod golden_drift;
mod golden_evidently;
mod golden_exact;
mod golden_quality;
mod kafka_broker;
mod outbox;
mod real_world;
mod registry;
mod streaming;
mod support;
