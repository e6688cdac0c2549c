//! What several modules of this test binary share: a reference profile for the
//! streaming tests. The loopback webhook receiver the alerting tests deliver to is
//! `driftgauge_testkit`'s, shared with the alerting crate's own tests.

use arrow::array::{Float64Array, StringArray};
use driftgauge_detectors::baseline::{
    ColumnProfileBuilder, FORMAT_VERSION, Profile, ProfileOptions,
};
use driftgauge_detectors::column::ColumnKind;

/// A baseline of `rows` reference rows: `x` numeric (0..100), `c` categorical
/// (`u`, `v`, `w` in equal shares) and, with `with_score`, `score` (0..1).
pub fn reference_profile(rows: u32, with_score: bool) -> Profile {
    let options = ProfileOptions::default();
    let x = Float64Array::from_iter_values((0..rows).map(|i| f64::from(i % 100)));
    let c = StringArray::from_iter_values((0..rows).map(|i| ["u", "v", "w"][i as usize % 3]));
    let score = Float64Array::from_iter_values((0..rows).map(|i| f64::from(i % 100) / 100.0));
    let fit = |name: &str, kind, array: &dyn arrow::array::Array| {
        let mut builder = ColumnProfileBuilder::new(kind, false);
        builder.update(name, array).unwrap();
        builder.finish(name, &options)
    };
    let mut columns =
        vec![fit("x", ColumnKind::Numeric, &x), fit("c", ColumnKind::Categorical, &c)];
    if with_score {
        columns.push(fit("score", ColumnKind::Numeric, &score));
    }
    Profile { format_version: FORMAT_VERSION, rows: u64::from(rows), options, columns }
}
