//! Deterministic data for driftgauge's benchmarks.
//!
//! The generators use a fixed-seed xorshift so every run measures the same
//! values; they are not statistically perfect and do not need to be.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};

// The `driftgauge` binary's allocator (see the workspace Cargo.toml), so that
// every bench linking this crate measures allocation as the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A small, fast, deterministic random source (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// `n` standard normal values shifted by `shift`.
pub fn normal_values(n: usize, shift: f64, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.normal() + shift).collect()
}

/// A validity mask with about `null_share` of the slots null.
pub fn validity(n: usize, null_share: f64, seed: u64) -> Vec<bool> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform() >= null_share).collect()
}

/// The 14-column table of the `check` benchmark, laid out as
/// `benches/evidently_compare.py` writes it (same names, types and kinds of
/// drift), so either data set can be used.
pub fn mixed_table(rows: usize, current: bool, seed: u64) -> RecordBatch {
    let mut rng = Rng::new(seed);
    let drift = if current { 1.0 } else { 0.0 };
    let mut floats = |f: &mut dyn FnMut(&mut Rng) -> Option<f64>| -> ArrayRef {
        Arc::new((0..rows).map(|_| f(&mut rng)).collect::<Float64Array>())
    };
    let f0 = floats(&mut |r| Some(r.normal()));
    let f1 = floats(&mut |r| Some(r.normal() + 0.1 * drift));
    let f2 = floats(&mut |r| Some((0.5 * r.normal()).exp()));
    let f3 = floats(&mut |r| (r.uniform() >= 0.01).then(|| 5.0 + 2.0 * r.normal()));
    let f4 = floats(&mut |r| Some(10.0 * r.uniform() + 0.5 * drift));
    let f5 = floats(&mut |r| (r.uniform() >= 0.01).then(|| r.normal() * (1.0 + 0.3 * drift)));
    let f6 = floats(&mut |r| Some(-r.uniform().max(f64::MIN_POSITIVE).ln()));
    let f7 = floats(&mut |r| Some(100.0 + 15.0 * r.normal()));
    let mut ints = |f: &mut dyn FnMut(&mut Rng) -> i64| -> ArrayRef {
        Arc::new((0..rows).map(|_| Some(f(&mut rng))).collect::<Int64Array>())
    };
    let i0 = ints(&mut |r| poisson(r, 3.0 + 0.3 * drift));
    let i1 = ints(&mut |r| (r.next_u64() % 1000) as i64);
    let b0 = ints(&mut |r| i64::from(r.uniform() < 0.10 + 0.02 * drift));
    let c0_weights: &[f64] =
        if current { &[0.25, 0.25, 0.2, 0.15, 0.15] } else { &[0.3, 0.25, 0.2, 0.15, 0.1] };
    let c2_weights: Vec<f64> = (1..=50).map(|k| 1.0 / f64::from(k)).collect();
    let c0 = categories(&mut rng, "c0_", c0_weights, rows);
    let c1 = categories(&mut rng, "c1_", &[1.0; 20], rows);
    let c2 = categories(&mut rng, "c2_", &c2_weights, rows);
    let columns = [
        ("f0", f0),
        ("f1", f1),
        ("f2", f2),
        ("f3", f3),
        ("f4", f4),
        ("f5", f5),
        ("f6", f6),
        ("f7", f7),
        ("i0", i0),
        ("i1", i1),
        ("c0", c0),
        ("c1", c1),
        ("c2", c2),
        ("b0", b0),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("columns match the schema")
}

fn poisson(rng: &mut Rng, lambda: f64) -> i64 {
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, rng.uniform());
    while p > limit {
        k += 1;
        p *= rng.uniform();
    }
    k
}

fn categories(rng: &mut Rng, prefix: &str, weights: &[f64], rows: usize) -> ArrayRef {
    let total: f64 = weights.iter().sum();
    let names: Vec<String> = (0..weights.len()).map(|k| format!("{prefix}{k}")).collect();
    let values = (0..rows).map(|_| {
        let mut u = rng.uniform() * total;
        let k = weights.iter().position(|w| {
            u -= w;
            u < 0.0
        });
        Some(names[k.unwrap_or(weights.len() - 1)].as_str())
    });
    Arc::new(values.collect::<StringArray>())
}

/// Writes `batch` to a Parquet file in row groups of 128Ki rows.
///
/// # Panics
/// If the file cannot be written.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(128 * 1024))
        .build();
    let file = std::fs::File::create(path).expect("create the bench file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props))
        .expect("parquet writer");
    writer.write(batch).expect("write the bench data");
    writer.close().expect("finish the bench file");
}

/// The reference and current Parquet files of the `check` benchmark: those
/// `benches/evidently_compare.py` wrote into `target/bench-data/` if present
/// (so driftgauge and Evidently read the same files), else files of the same
/// layout generated here into `target/bench-data-rust/`.
pub fn check_files(rows: usize) -> (PathBuf, PathBuf) {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let python =
        (target.join("bench-data/reference.parquet"), target.join("bench-data/current.parquet"));
    if python.0.exists() && python.1.exists() {
        return python;
    }
    let dir = target.join("bench-data-rust");
    std::fs::create_dir_all(&dir).expect("create target/bench-data-rust");
    let files = (
        dir.join(format!("reference-{rows}.parquet")),
        dir.join(format!("current-{rows}.parquet")),
    );
    if !files.0.exists() || !files.1.exists() {
        write_parquet(&files.0, &mixed_table(rows, false, 1));
        write_parquet(&files.1, &mixed_table(rows, true, 2));
    }
    files
}

/// Event time of the first streaming event: a minute boundary.
pub const STREAM_T0_MS: i64 = 1_700_000_040_000;

/// Names of the `features` numeric features of the streaming benchmark.
pub fn feature_names(features: usize) -> Vec<String> {
    (0..features).map(|f| format!("f{f}")).collect()
}

/// The baseline of the streaming benchmark: `features` standard normal
/// features (feature `k` shifted by `k / 10`) and a uniform `score`, fitted
/// on `rows` rows.
pub fn stream_profile(features: usize, rows: usize) -> driftgauge_detectors::baseline::Profile {
    use driftgauge_detectors::baseline::{
        ColumnProfileBuilder, FORMAT_VERSION, Profile, ProfileOptions,
    };
    use driftgauge_detectors::column::ColumnKind;
    let options = ProfileOptions::default();
    let fit = |name: &str, values: Vec<f64>| {
        let mut builder = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
        builder.update(name, &Float64Array::from(values)).expect("finite values");
        builder.finish(name, &options)
    };
    let mut columns: Vec<_> = feature_names(features)
        .iter()
        .enumerate()
        .map(|(k, name)| fit(name, normal_values(rows, k as f64 / 10.0, 100 + k as u64)))
        .collect();
    let mut rng = Rng::new(99);
    columns.push(fit("score", (0..rows).map(|_| rng.uniform()).collect()));
    Profile {
        format_version: FORMAT_VERSION,
        rows: rows as u64,
        options,
        columns,
        roles: Default::default(),
    }
}

/// `rows` events of model `model` as the streaming benchmark sends them:
/// `model`, `timestamp` (ms, spread evenly over `[start_ms, start_ms + span_ms)`),
/// the features as [`stream_profile`] describes them and `score`.
pub fn stream_batch(
    model: &str,
    rows: usize,
    features: usize,
    start_ms: i64,
    span_ms: i64,
    seed: u64,
) -> RecordBatch {
    let mut rng = Rng::new(seed);
    let mut fields = vec![
        Field::new("model", arrow::datatypes::DataType::Utf8, false),
        Field::new("timestamp", arrow::datatypes::DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(model, rows))),
        Arc::new(Int64Array::from_iter_values(
            (0..rows as i64).map(|i| start_ms + i * span_ms / rows.max(1) as i64),
        )),
    ];
    for (k, name) in feature_names(features).into_iter().enumerate() {
        fields.push(Field::new(name, arrow::datatypes::DataType::Float64, false));
        let shift = k as f64 / 10.0;
        columns.push(Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|_| rng.normal() + shift),
        )));
    }
    fields.push(Field::new("score", arrow::datatypes::DataType::Float64, false));
    columns.push(Arc::new(Float64Array::from_iter_values((0..rows).map(|_| rng.uniform()))));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("columns match the schema")
}

/// `batch` as one Arrow IPC stream message (what an `arrow_ipc` stream reads).
///
/// # Panics
/// If the batch cannot be written (it always can).
pub fn arrow_ipc_payload(batch: &RecordBatch) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut payload, &batch.schema())
        .expect("IPC writer");
    writer.write(batch).expect("write the batch");
    writer.finish().expect("finish the stream");
    drop(writer);
    payload
}

/// The rows of a [`stream_batch`] as JSON events (what a `json` stream reads):
/// `{"model":..,"timestamp":..,"features":{"f0":..,..},"score":..}`.
///
/// # Panics
/// If `batch` is not laid out as [`stream_batch`] makes it.
pub fn json_payloads(batch: &RecordBatch) -> Vec<Vec<u8>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int64Type};
    let models = batch.column(0).as_string::<i32>();
    let times = batch.column(1).as_primitive::<Int64Type>();
    let n = batch.num_columns();
    let features: Vec<(&str, &Float64Array)> = (2..n - 1)
        .map(|c| {
            (
                batch.schema_ref().field(c).name().as_str(),
                batch.column(c).as_primitive::<Float64Type>(),
            )
        })
        .collect();
    let score = batch.column(n - 1).as_primitive::<Float64Type>();
    (0..batch.num_rows())
        .map(|i| {
            let mut values = serde_json::Map::new();
            for (name, array) in &features {
                values.insert((*name).to_owned(), serde_json::json!(array.value(i)));
            }
            serde_json::json!({
                "model": models.value(i),
                "timestamp": times.value(i),
                "features": values,
                "score": score.value(i),
            })
            .to_string()
            .into_bytes()
        })
        .collect()
}
