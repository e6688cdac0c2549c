//! What the engine tells its operators: the metric catalogue and the HTTP
//! server that serves it.
//!
//! * [`metrics`]: every metric the engine exports, on a registry of its own
//!   (never the global one), with the label sets each model has written so a
//!   retired baseline version's series can be removed;
//! * [`server`]: `/metrics`, `/healthz` and `/readyz`.
//!
//! May use: [`crate::config`]. Must not use: any stage. The stages write into
//! the catalogue (`stream::export`, `stream::events`, the alert bridge), so the
//! catalogue knows metric names and labels, never window reports or messages.

pub mod metrics;
pub mod server;
