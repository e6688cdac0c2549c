//! The batch path: files in, a comparison out (`driftgauge check`,
//! `driftgauge baseline fit`, `driftgauge registry fit`).
//!
//! * [`input`]: Parquet, CSV and Arrow IPC files read into a [`input::Table`]
//!   whose columns decode on demand;
//! * [`check`]: fitting a baseline profile and comparing a current table with a
//!   reference table or a profile, column by column on rayon;
//! * [`model`]: model quality and fairness from label and prediction columns;
//! * [`render`]: the report as a table for people (JSON is its serde form).
//!
//! May use: `detectors`, [`crate::registry`] (profile files), [`crate::config`].
//! Must not use: the streaming engine, the CLI, Kafka or the tokio runtime; a
//! comparison is a plain function of its inputs.

pub mod check;
pub mod error;
pub mod input;
pub mod model;
pub mod render;
