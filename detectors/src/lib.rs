//! Drift, data-quality, model-quality and fairness statistics over Arrow arrays.
//!
//! This crate is the pure core of driftgauge: it never performs I/O, never blocks and
//! never spawns threads. The engine feeds it Arrow arrays, decides where work runs and
//! exports what it returns.
//!
//! # Design
//!
//! * **Count in integers, compute floats once.** Window state is made of `u64` bin
//!   counts and exact samples. Floating-point statistics are computed only when a window
//!   is finished, so a result never depends on how rows were split into batches or
//!   across threads (see the split-then-merge property tests).
//! * **Bounded windows.** A window's memory does not grow with its events: numeric
//!   values are kept exactly up to a cap (10,000 by default), then counted on a grid
//!   of reference quantiles with exact integer counts ([`grid`]), where KS and
//!   Wasserstein carry stated, reported error bounds (KS within `1 / 4096`). Batch
//!   checks lift the cap and stay exact. See [`drift`] for the design and the bounds.
//! * **Checkpointable.** Every window accumulator serialises with serde (numeric and
//!   categorical columns through [`drift::ColumnState`] and
//!   [`drift::ColumnAccumulator::restore`], which rebuild what the profile determines);
//!   a restored accumulator finishes exactly like the original.
//! * **Baselines are data.** A [`baseline::Profile`] is fitted once from reference data,
//!   serialised to JSON with a format version, and compared against many windows.
//! * **Decisions with a stated false-alarm rate.** By default a column drifts when its
//!   test's p-value is below the per-feature level that keeps the false-alarm rate of a
//!   window at `alpha` (Holm or Benjamini–Hochberg over the window's columns), and a column
//!   too small for its test is insufficient rather than stable ([`decision`]).
//! * **Two contracts.** The default *reference-fitted* mode bins numeric columns on the
//!   reference deciles so a baseline can be precomputed; the Evidently-compatible mode
//!   reproduces Evidently 0.7's `DataDriftPreset` choices exactly on raw samples.
//!
//! Conventions (direction, log base, binning and smoothing of every statistic) are
//! documented on the functions in [`divergence`] and [`sample`]; how non-finite values
//! are written to JSON (`"Infinity"`, never `null`) in [`json`].
#![deny(missing_docs)]

pub mod baseline;
pub mod column;
pub mod decision;
pub mod divergence;
pub mod drift;
pub mod error;
pub mod evidently;
pub mod fairness;
pub mod grid;
pub mod histogram;
pub mod json;
pub mod ks;
pub mod quality;
pub mod sample;

pub use error::{Error, Result};
