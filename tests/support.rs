//! What several modules of this test binary share: a reference profile for the
//! streaming tests and a deterministic random-number generator for generated
//! data. The loopback webhook receiver the alerting tests deliver to is
//! `driftgauge_testkit`'s, shared with the alerting crate's own tests.

use arrow::array::{Float64Array, StringArray};
use driftgauge_detectors::baseline::{
    ColumnProfileBuilder, FORMAT_VERSION, Profile, ProfileOptions,
};
use driftgauge_detectors::column::ColumnKind;

/// SplitMix64: a tiny deterministic generator, so generated data needs no
/// random-number crate. `tests/golden/generate_exact.py` implements the same
/// one, and both draw the same values (integer arithmetic, and floats made
/// only by exact conversions).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`: the top 53 bits over 2^53.
    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `next() % n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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
    Profile {
        format_version: FORMAT_VERSION,
        rows: u64::from(rows),
        options,
        columns,
        roles: Default::default(),
    }
}

/// A number in a golden fixture or a report: a JSON number, one of the
/// non-finite strings both write (`"NaN"`, `"Infinity"`, `"-Infinity"`), or
/// `null` (`None`).
///
/// # Panics
/// On any other value.
pub fn json_float(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => Some(
            driftgauge_detectors::json::parse_non_finite(s)
                .unwrap_or_else(|| panic!("not a number: {s}")),
        ),
        other => panic!("not a number: {other}"),
    }
}
