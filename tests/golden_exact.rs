//! `driftgauge check --reference` is exact at any size and cardinality: on
//! data sets of 5,000, 20,000 and 200,000 rows and one with 100,000
//! categories, every statistic of `check --format json` equals numpy/scipy
//! (`tests/golden/generate_exact.py`) to 1e-9 relative, p-values to 1e-6
//! absolute, and infinite values read back as infinite.
//!
//! The data is not committed: this test generates it with the generator the
//! script documents and mirrors (SplitMix64 and IEEE +, -, *, / only, so both
//! languages draw the same doubles), writes Parquet files and runs the CLI on
//! them. `tests/golden/exact/<data set>.json` holds only the expected values.
//!
//! The measured agreement is printed per data set and statistic:
//! `cargo test -p integration-tests --test integration golden_exact -- --nocapture`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use driftgauge_engine::cli;
use serde_json::Value;

use crate::support::{SplitMix64, json_float as float};

/// Statistics agree to this relative error.
const RELATIVE: f64 = 1e-9;
/// Below this, values are compared absolutely (a distance of exactly 0 on
/// one side and 1e-17 on the other is agreement).
const ABSOLUTE_FLOOR: f64 = 1e-12;
/// p-values agree to this absolute error.
const P_VALUE_ABSOLUTE: f64 = 1e-6;

/// One generated value.
enum Cell {
    Float(Option<f64>),
    Int(i64),
    Text(Option<String>),
}

fn gauss(r: &mut SplitMix64) -> f64 {
    let mut total = 0.0;
    for _ in 0..12 {
        total += r.uniform();
    }
    total - 6.0
}

/// The columns' draws, as `COLUMNS` and `CARDINALITY_COLUMNS` in the script.
fn draw(column: &str, r: &mut SplitMix64, side: u64) -> Cell {
    let current = side == 1;
    match column {
        "gauss" => Cell::Float(Some(if current { gauss(r) * 1.05 + 0.03 } else { gauss(r) })),
        "heavy" => Cell::Float(Some(if current { 1.02 } else { 1.0 } / (r.uniform() + 0.001))),
        "spiky" => {
            let k = r.below(1000);
            let (null, nan, pos, neg) = if current { (30, 35, 45, 47) } else { (20, 30, 35, 40) };
            Cell::Float(if k < null {
                None
            } else if k < nan {
                Some(f64::NAN)
            } else if k < pos {
                Some(f64::INFINITY)
            } else if k < neg {
                Some(f64::NEG_INFINITY)
            } else {
                let x = (r.uniform() + r.uniform() + r.uniform() + r.uniform()) * 2.0;
                Some(if current { x + 0.2 } else { x })
            })
        }
        "count" => {
            let mut total = 0;
            for _ in 0..10 {
                total += r.below(7);
            }
            if current {
                total += r.below(2);
            }
            Cell::Int(total as i64)
        }
        "code" => {
            let k = r.below(100);
            let (low, mid) = if current { (35, 70) } else { (45, 75) };
            Cell::Int(if k < low {
                2
            } else if k < mid {
                3
            } else {
                10
            })
        }
        "code_many" => Cell::Int(r.below(if current { 520 } else { 500 }) as i64),
        "city" => Cell::Text(if r.below(100) == 0 {
            None
        } else {
            Some(format!("city_{:02}", r.below(if current { 42 } else { 40 })))
        }),
        "category" => Cell::Text(Some(if current && r.below(5) == 0 {
            format!("new_{:05}", r.below(30000))
        } else {
            format!("c{:05}", r.below(100_000))
        })),
        "code_id" => Cell::Int(r.below(if current { 120_000 } else { 100_000 }) as i64),
        other => panic!("no generator for column `{other}`"),
    }
}

/// One side of a data set, as `generate` in the script.
fn generate(seed: u64, rows: usize, columns: &[(String, String)], side: u64) -> RecordBatch {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (index, (name, arrow_type)) in columns.iter().enumerate() {
        let mut r = SplitMix64(seed * 1_000_003 + 2 * index as u64 + side);
        let cells: Vec<Cell> = (0..rows).map(|_| draw(name, &mut r, side)).collect();
        let (data_type, array): (DataType, ArrayRef) = match arrow_type.as_str() {
            "float64" => (
                DataType::Float64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Cell::Float(x) => *x,
                            _ => unreachable!(),
                        })
                        .collect::<Float64Array>(),
                ),
            ),
            "int64" => (
                DataType::Int64,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Cell::Int(x) => Some(*x),
                            _ => unreachable!(),
                        })
                        .collect::<Int64Array>(),
                ),
            ),
            "utf8" => (
                DataType::Utf8,
                Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Cell::Text(x) => x.as_deref(),
                            _ => unreachable!(),
                        })
                        .collect::<StringArray>(),
                ),
            ),
            other => panic!("unknown type {other}"),
        };
        fields.push(Field::new(name, data_type, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None)
            .unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// The largest error seen per statistic, and whether each stayed in bounds.
#[derive(Default)]
struct Agreement {
    /// statistic -> (largest error, "rel" or "abs").
    worst: BTreeMap<&'static str, (f64, &'static str)>,
    failures: Vec<String>,
    infinities: usize,
}

impl Agreement {
    fn note(&mut self, statistic: &'static str, error: f64, kind: &'static str) {
        let entry = self.worst.entry(statistic).or_insert((0.0, kind));
        entry.0 = entry.0.max(error);
    }

    /// Relative agreement (absolute below [`ABSOLUTE_FLOOR`]); infinities
    /// must be equal infinities.
    fn close(&mut self, column: &str, statistic: &'static str, actual: &Value, expected: &Value) {
        let (a, e) = (float(actual), float(expected));
        let ok = match (a, e) {
            (Some(a), Some(e)) if a.is_infinite() || e.is_infinite() => {
                self.infinities += usize::from(a == e);
                a == e
            }
            (Some(a), Some(e)) if a.is_nan() || e.is_nan() => a.is_nan() && e.is_nan(),
            (Some(a), Some(e)) => {
                let error = (a - e).abs();
                let relative = if e.abs() > ABSOLUTE_FLOOR { error / e.abs() } else { 0.0 };
                self.note(statistic, relative, "rel");
                error <= (RELATIVE * e.abs()).max(ABSOLUTE_FLOOR)
            }
            (a, e) => a.is_none() && e.is_none(),
        };
        if !ok {
            self.failures.push(format!("{column}: {statistic} = {actual}, numpy/scipy {expected}"));
        }
    }

    fn p_value(&mut self, column: &str, statistic: &'static str, actual: &Value, expected: &Value) {
        let ok = match (float(actual), float(expected)) {
            (Some(a), Some(e)) => {
                let error = (a - e).abs();
                self.note(statistic, error, "abs");
                error <= P_VALUE_ABSOLUTE
            }
            (a, e) => a.is_none() && e.is_none(),
        };
        if !ok {
            self.failures.push(format!("{column}: {statistic} = {actual}, scipy {expected}"));
        }
    }

    fn equal(&mut self, column: &str, what: &str, actual: &Value, expected: &Value) {
        if actual != expected {
            self.failures.push(format!("{column}: {what} = {actual}, numpy {expected}"));
        }
    }
}

/// `_digest` of the script: bins, total and the position-weighted sum.
fn digest(counts: &Value) -> Value {
    let counts: Vec<u64> = counts.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    let weighted: u128 = counts.iter().zip(1u128..).map(|(&c, i)| i * u128::from(c)).sum();
    serde_json::json!({
        "bins": counts.len(),
        "total": counts.iter().sum::<u64>(),
        "weighted": u64::try_from(weighted).unwrap(),
    })
}

fn check_column(agreement: &mut Agreement, name: &str, actual: &Value, expected: &Value) {
    let (a, e) = (actual, expected);
    agreement.equal(name, "kind", &a["kind"], &e["kind"]);
    agreement.equal(name, "reference_rows", &a["reference_rows"], &e["reference_rows"]);
    if e["categories"].is_array() {
        agreement.equal(name, "categories", &a["categories"], &e["categories"]);
    }
    if let Some(d) = e.get("categories_digest") {
        let categories = a["categories"].as_array().unwrap();
        let n = categories.len();
        agreement.equal(name, "first categories", &Value::from(&categories[..5]), &d["first"]);
        agreement.equal(name, "last categories", &Value::from(&categories[n - 5..]), &d["last"]);
    }
    for side in ["reference_counts", "current_counts"] {
        match e.get(side) {
            Some(counts) => agreement.equal(name, side, &a[side], counts),
            None => {
                let key = format!("{side}_digest");
                agreement.equal(name, side, &digest(&a[side]), &e[key.as_str()]);
            }
        }
    }
    let missing = &a["data_quality"]["missing"];
    agreement.equal(name, "current missing counts", missing, &e["current_missing"]);
    let quality = &a["data_quality"];
    agreement.equal(name, "rows", &quality["rows"], &e["data_quality"]["rows"]);
    for share in ["missing_share", "out_of_range_share", "unseen_share"] {
        agreement.close(name, share, &quality[share], &e["data_quality"][share]);
    }
    if let Some(unseen) = e.get("unseen_categories") {
        let listed = quality.get("unseen_categories").cloned().unwrap_or(Value::Array(vec![]));
        agreement.equal(name, "unseen categories", &listed, unseen);
    }
    for (statistic, ours, theirs) in [
        ("psi", "psi", "psi"),
        ("kl(ref||cur)", "kl_reference_current", "kl_ref_cur"),
        ("kl(cur||ref)", "kl_current_reference", "kl_cur_ref"),
        ("js base e", "jensen_shannon", "js_e"),
        ("js base 2", "jensen_shannon_base2", "js_2"),
        ("hellinger", "hellinger", "hellinger"),
    ] {
        agreement.close(name, statistic, &a[ours], &e[theirs]);
    }
    let gof = (&a["chi_square"], &e["chisquare_gof"]);
    agreement.close(name, "chi-square gof", &gof.0["statistic"], &gof.1["statistic"]);
    agreement.p_value(name, "chi-square gof p", &gof.0["p_value"], &gof.1["p_value"]);
    let table = (&a["chi_square_contingency"], &e["chi2_contingency"]);
    agreement.close(name, "contingency", &table.0["statistic"], &table.1["statistic"]);
    agreement.p_value(name, "contingency p", &table.0["p_value"], &table.1["p_value"]);
    agreement.equal(name, "contingency dof", &table.0["dof"], &table.1["dof"]);
    if e["kind"] == "numeric" {
        let ks = (&a["ks"], &e["ks"]);
        agreement.close(name, "ks statistic", &ks.0["statistic"], &ks.1["statistic"]);
        agreement.p_value(name, "ks p (auto)", &ks.0["p_value"], &ks.1["p_auto"]);
        agreement.p_value(name, "ks p (asymp)", &ks.0["p_value_asymp"], &ks.1["p_asymp"]);
        agreement.equal(name, "ks method", &ks.0["method"], &ks.1["method"]);
        agreement.equal(name, "ks reference exact", &ks.0["reference_exact"], &Value::Bool(true));
        agreement.close(name, "wasserstein", &a["wasserstein"], &e["wasserstein"]);
        agreement.close(
            name,
            "wasserstein normed",
            &a["wasserstein_normed"],
            &e["wasserstein_normed"],
        );
    } else {
        agreement.close(name, "z", &a["z"]["statistic"], &e["z"]["statistic"]);
        agreement.p_value(name, "z p", &a["z"]["p_value"], &e["z"]["p_value"]);
    }
    agreement.equal(
        name,
        "approximate",
        &a.get("approximate").cloned().unwrap_or(Value::Null),
        &Value::Null,
    );
    agreement.equal(name, "drifted", &a["decision"]["drifted"], &e["drifted"]);
}

fn check_data_set(path: &Path) -> Agreement {
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let generator = &expected["generator"];
    let seed = generator["seed"].as_u64().unwrap();
    let columns: Vec<(String, String)> = expected["columns"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| (name.clone(), c["type"].as_str().unwrap().to_owned()))
        .collect();
    // The script's column order (its dicts), which seeds each column's stream.
    let order =
        ["gauss", "heavy", "spiky", "count", "code", "code_many", "city", "category", "code_id"];
    let mut columns = columns;
    columns.sort_by_key(|(name, _)| order.iter().position(|o| o == name).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let (reference, current) =
        (dir.path().join("reference.parquet"), dir.path().join("current.parquet"));
    let rows = |key: &str| generator[key].as_u64().unwrap() as usize;
    write_parquet(&reference, &generate(seed, rows("reference_rows"), &columns, 0));
    write_parquet(&current, &generate(seed, rows("current_rows"), &columns, 1));
    let categorical: Vec<&str> = columns
        .iter()
        .filter(|(name, t)| t == "int64" && expected["columns"][name]["kind"] == "categorical")
        .map(|(name, _)| name.as_str())
        .collect();

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut args = vec![
        "driftgauge".to_owned(),
        "check".into(),
        "--reference".into(),
        reference.to_str().unwrap().into(),
        "--current".into(),
        current.to_str().unwrap().into(),
        "--format".into(),
        "json".into(),
        // The expected verdicts are the share rule's (PSI >= 0.1, half of the
        // columns), as the script computes them; the statistics do not depend
        // on the decision.
        "--decision".into(),
        "share".into(),
    ];
    if !categorical.is_empty() {
        args.extend(["--categorical".into(), categorical.join(",")]);
    }
    let code = cli::run(args, &mut out, &mut err);
    let stderr = String::from_utf8(err).unwrap();
    assert!(code == cli::EXIT_OK || code == cli::EXIT_DRIFT, "exit {code}: {stderr}");
    let report: Value = serde_json::from_slice(&out).unwrap();

    let mut agreement = Agreement::default();
    let dataset = &expected["dataset"];
    agreement.equal(
        "dataset",
        "drifted columns",
        &report["dataset"]["drifted_columns"],
        &dataset["drifted_columns"],
    );
    agreement.equal("dataset", "drifted", &report["dataset"]["drifted"], &dataset["drifted"]);
    let drifted = dataset["drifted"].as_bool().unwrap();
    let exit = if drifted { cli::EXIT_DRIFT } else { cli::EXIT_OK };
    agreement.equal("dataset", "exit code", &Value::from(code), &Value::from(exit));
    for column in report["columns"].as_array().unwrap() {
        let name = column["column"].as_str().unwrap();
        check_column(&mut agreement, name, column, &expected["columns"][name]);
    }
    let reported = report["columns"].as_array().unwrap().len();
    agreement.equal("dataset", "columns", &Value::from(reported), &Value::from(columns.len()));
    agreement
}

#[test]
fn check_is_exact_at_every_size_and_cardinality() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/exact");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|x| x == "json"));
    paths.sort();
    assert_eq!(paths.len(), 4, "data sets missing from {}", dir.display());
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let agreement = check_data_set(path);
        println!(
            "{name}: largest error against numpy/scipy ({} infinities read back)",
            agreement.infinities
        );
        for (statistic, (error, kind)) in &agreement.worst {
            println!("  {statistic:<20} {error:.2e} {kind}");
        }
        // Every data set has a category the reference never saw: the
        // goodness of fit is +inf, written as "Infinity".
        if agreement.infinities == 0 {
            failures.push(format!("{name}: no infinite statistic read back"));
        }
        failures.extend(agreement.failures.into_iter().map(|f| format!("{name}: {f}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
