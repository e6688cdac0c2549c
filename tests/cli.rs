//! `driftgauge check` and `driftgauge baseline fit` as a CI gate: exit codes,
//! every input format, baselines, and messages that name the file, the column
//! and the reason.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use driftgauge_engine::cli::{self, EXIT_DRIFT, EXIT_ERROR, EXIT_OK};
use serde_json::Value;

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

fn driftgauge(args: &[&str]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("driftgauge").chain(args.iter().copied());
    let code = cli::run(argv, &mut out, &mut err);
    Run { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

/// A deterministic table: `shift` moves the numeric columns and the category mix.
fn table(rows: usize, shift: f64) -> RecordBatch {
    let x = |i: usize| ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 4.0;
    let amount: Float64Array = (0..rows).map(|i| Some(x(i) + shift)).collect();
    let age: Int64Array =
        (0..rows).map(|i| Some(30 + (i % 40) as i64 + (shift * 10.0) as i64)).collect();
    let country: StringArray = (0..rows)
        .map(|i| {
            let k = (i + (shift * 3.0) as usize * (i % 2)) % 4;
            Some(["de", "fr", "nl", "us"][k])
        })
        .collect();
    let active: BooleanArray = (0..rows).map(|i| Some(i % 3 != 0)).collect();
    let schema = Schema::new(vec![
        Field::new("amount", DataType::Float64, true),
        Field::new("age", DataType::Int64, true),
        Field::new("country", DataType::Utf8, true),
        Field::new("active", DataType::Boolean, true),
    ]);
    let columns: Vec<ArrayRef> =
        vec![Arc::new(amount), Arc::new(age), Arc::new(country), Arc::new(active)];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

/// Writes a batch to a file in one format.
type Writer = fn(&Path, &RecordBatch);

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None)
            .unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn write_csv(path: &Path, batch: &RecordBatch) {
    let mut writer = arrow::csv::Writer::new(File::create(path).unwrap());
    writer.write(batch).unwrap();
}

fn write_ipc_file(path: &Path, batch: &RecordBatch) {
    let mut writer =
        arrow::ipc::writer::FileWriter::try_new(File::create(path).unwrap(), &batch.schema())
            .unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

fn write_ipc_stream(path: &Path, batch: &RecordBatch) {
    let mut writer =
        arrow::ipc::writer::StreamWriter::try_new(File::create(path).unwrap(), &batch.schema())
            .unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

struct Files {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        Self { _dir: dir, root }
    }

    fn path(&self, name: &str) -> String {
        self.root.join(name).to_str().unwrap().to_owned()
    }
}

#[test]
fn same_data_passes_and_shifted_data_fails_the_gate() {
    let files = Files::new();
    write_parquet(Path::new(&files.path("ref.parquet")), &table(5000, 0.0));
    write_parquet(Path::new(&files.path("same.parquet")), &table(3000, 0.0));
    write_parquet(Path::new(&files.path("shifted.parquet")), &table(3000, 1.0));

    let same = driftgauge(&[
        "check",
        "--reference",
        &files.path("ref.parquet"),
        "--current",
        &files.path("same.parquet"),
    ]);
    assert_eq!(same.code, EXIT_OK, "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("dataset drift: 0 of 4 columns drifted"), "{}", same.stdout);

    let shifted = driftgauge(&[
        "check",
        "--reference",
        &files.path("ref.parquet"),
        "--current",
        &files.path("shifted.parquet"),
        "--format",
        "json",
    ]);
    assert_eq!(shifted.code, EXIT_DRIFT, "{}", shifted.stderr);
    let report: Value = serde_json::from_str(&shifted.stdout).unwrap();
    assert_eq!(report["dataset"]["drifted"], true);
    let drifted: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["decision"]["drifted"] == true)
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["amount", "age", "country"]);
}

#[test]
fn every_format_gives_the_same_report() {
    let files = Files::new();
    let (reference, current) = (table(2000, 0.0), table(1500, 0.3));
    write_parquet(Path::new(&files.path("ref.parquet")), &reference);
    let writers: [(&str, Writer); 4] = [
        ("cur.parquet", write_parquet),
        ("cur.csv", write_csv),
        ("cur.feather", write_ipc_file),
        ("cur.arrows", write_ipc_stream),
    ];
    let mut reports = Vec::new();
    for (name, write) in writers {
        write(Path::new(&files.path(name)), &current);
        let run = driftgauge(&[
            "check",
            "--reference",
            &files.path("ref.parquet"),
            "--current",
            &files.path(name),
            "--format",
            "json",
        ]);
        assert!(run.code == EXIT_OK || run.code == EXIT_DRIFT, "{name}: {}", run.stderr);
        let mut report: Value = serde_json::from_str(&run.stdout).unwrap();
        report["current"] = Value::Null;
        reports.push((name, report));
    }
    for (name, report) in &reports[1..] {
        assert_eq!(report["columns"], reports[0].1["columns"], "{name} differs from parquet");
    }

    // An extension that says nothing is overridden with --current-format.
    std::fs::copy(files.path("cur.csv"), files.path("cur.data")).unwrap();
    let unknown = driftgauge(&[
        "check",
        "--reference",
        &files.path("ref.parquet"),
        "--current",
        &files.path("cur.data"),
    ]);
    assert_eq!(unknown.code, EXIT_ERROR);
    assert!(unknown.stderr.contains("cur.data: cannot tell the format"), "{}", unknown.stderr);
    let overridden = driftgauge(&[
        "check",
        "--reference",
        &files.path("ref.parquet"),
        "--current",
        &files.path("cur.data"),
        "--current-format",
        "csv",
    ]);
    assert_ne!(overridden.code, EXIT_ERROR, "{}", overridden.stderr);
}

#[test]
fn a_fitted_baseline_gives_the_same_verdict_as_the_reference_file() {
    let files = Files::new();
    write_parquet(Path::new(&files.path("ref.parquet")), &table(4000, 0.0));
    write_parquet(Path::new(&files.path("cur.parquet")), &table(2000, 1.0));
    let fit = driftgauge(&[
        "baseline",
        "fit",
        "--input",
        &files.path("ref.parquet"),
        "--out",
        &files.path("baseline.json"),
    ]);
    assert_eq!(fit.code, EXIT_OK, "{}", fit.stderr);
    let baseline: Value =
        serde_json::from_str(&std::fs::read_to_string(files.path("baseline.json")).unwrap())
            .unwrap();
    assert_eq!(baseline["format_version"], 1);

    let (current, reference, baseline) =
        (files.path("cur.parquet"), files.path("ref.parquet"), files.path("baseline.json"));
    let from_file = ["check", "--reference", &reference, "--current", &current, "--format", "json"];
    let from_baseline =
        ["check", "--baseline", &baseline, "--current", &current, "--format", "json"];
    let (a, b) = (driftgauge(&from_file), driftgauge(&from_baseline));
    assert_eq!((a.code, b.code), (EXIT_DRIFT, EXIT_DRIFT), "{}{}", a.stderr, b.stderr);
    let columns =
        |run: &Run| serde_json::from_str::<Value>(&run.stdout).unwrap()["columns"].clone();
    assert_eq!(columns(&a), columns(&b));
}

#[test]
fn bad_input_exits_2_naming_file_column_and_reason() {
    let files = Files::new();
    write_parquet(Path::new(&files.path("ref.parquet")), &table(100, 0.0));
    let reference = files.path("ref.parquet");
    let check = |current: &str, extra: &[&str]| {
        let mut args = vec!["check", "--reference", reference.as_str(), "--current", current];
        args.extend_from_slice(extra);
        driftgauge(&args)
    };

    // A column the current file lacks.
    let batch = table(50, 0.0);
    let without_age = batch.project(&[0, 2, 3]).unwrap();
    write_parquet(Path::new(&files.path("no_age.parquet")), &without_age);
    let run = check(&files.path("no_age.parquet"), &[]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("no_age.parquet: column `age` not found"), "{}", run.stderr);

    // A type that cannot be compared with the reference's.
    let text_amount = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("amount", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef],
    )
    .unwrap();
    write_parquet(Path::new(&files.path("text.parquet")), &text_amount);
    let run = check(&files.path("text.parquet"), &["--columns", "amount"]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(
        run.stderr.contains("text.parquet: column `amount`: the baseline profiles it as numeric, but the current data is categorical"),
        "{}",
        run.stderr
    );

    // Unreadable, empty and missing files.
    std::fs::write(files.path("broken.parquet"), b"PAR1 but not really").unwrap();
    let run = check(&files.path("broken.parquet"), &[]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("broken.parquet: not a readable Parquet file"), "{}", run.stderr);
    std::fs::write(files.path("empty.csv"), "amount,age,country,active\n").unwrap();
    let run = check(&files.path("empty.csv"), &[]);
    assert!(
        run.code == EXIT_ERROR && run.stderr.contains("empty.csv: the file has no rows"),
        "{}",
        run.stderr
    );
    let run = check(&files.path("absent.parquet"), &[]);
    assert!(
        run.code == EXIT_ERROR && run.stderr.contains("absent.parquet: cannot open"),
        "{}",
        run.stderr
    );

    // A baseline from an unknown format version.
    std::fs::write(files.path("future.json"), r#"{"format_version": 7, "columns": []}"#).unwrap();
    let run =
        driftgauge(&["check", "--baseline", &files.path("future.json"), "--current", &reference]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(
        run.stderr.contains(
            "future.json: baseline format version 7 is not supported (this build reads version 1)"
        ),
        "{}",
        run.stderr
    );

    // Usage errors are errors too.
    let run = driftgauge(&["check", "--current", &reference]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("--reference"), "{}", run.stderr);
}

/// A golden Evidently fixture written out as Parquet, one column per entry.
fn fixture_batch(columns: &serde_json::Map<String, Value>, side: &str) -> RecordBatch {
    let number = |v: &Value| match v {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        Value::String(s) => Some(match s.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => panic!("not a number: {other}"),
        }),
        other => panic!("not a number: {other}"),
    };
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, column) in columns {
        let values = column[side].as_array().unwrap();
        let (data_type, array): (DataType, ArrayRef) = match column["dtype"].as_str().unwrap() {
            "float64" => {
                (DataType::Float64, Arc::new(values.iter().map(number).collect::<Float64Array>()))
            }
            "int64" => (
                DataType::Int64,
                Arc::new(values.iter().map(Value::as_i64).collect::<Int64Array>()),
            ),
            "str" => (
                DataType::Utf8,
                Arc::new(values.iter().map(Value::as_str).collect::<StringArray>()),
            ),
            other => panic!("unknown dtype {other}"),
        };
        fields.push(Field::new(name, data_type, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

#[test]
fn evidently_mode_from_files_matches_evidently() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/evidently");
    for case in ["small", "large", "with_missing"] {
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{case}.json"))).unwrap(),
        )
        .unwrap();
        let columns = fixture["columns"].as_object().unwrap();
        let files = Files::new();
        write_parquet(Path::new(&files.path("ref.parquet")), &fixture_batch(columns, "reference"));
        write_parquet(Path::new(&files.path("cur.parquet")), &fixture_batch(columns, "current"));
        let run = driftgauge(&[
            "check",
            "--mode",
            "evidently",
            "--reference",
            &files.path("ref.parquet"),
            "--current",
            &files.path("cur.parquet"),
            "--format",
            "json",
        ]);
        let expected = &fixture["expected"];
        let code = if expected["dataset_drift"] == true { EXIT_DRIFT } else { EXIT_OK };
        assert_eq!(run.code, code, "{case}: {}", run.stderr);
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        for column in report["columns"].as_array().unwrap() {
            let name = column["column"].as_str().unwrap();
            let want = &expected["columns"][name];
            assert_eq!(column["test"], want["stattest"], "{case}/{name}: test");
            assert_eq!(column["drifted"], want["drifted"], "{case}/{name}: verdict");
            let (got, want) = (column["score"].as_f64().unwrap(), want["score"].as_f64().unwrap());
            assert!(
                (got - want).abs() <= 1e-6_f64.max(1e-9 * want.abs()),
                "{case}/{name}: {got} vs {want}"
            );
        }
        assert_eq!(
            report["dataset"]["drifted_columns"], expected["number_of_drifted_columns"],
            "{case}"
        );
    }
}

#[test]
fn model_quality_and_fairness_are_reported_with_label_and_prediction() {
    let files = Files::new();
    let rows = 400;
    let label: Int64Array = (0..rows).map(|i| Some(i64::from(i % 3 == 0))).collect();
    let score: Float64Array = (0..rows)
        .map(|i| Some(if i % 3 == 0 { 0.8 } else { 0.3 } + f64::from(i % 7) * 0.02))
        .collect();
    let group: StringArray = (0..rows).map(|i| Some(if i % 2 == 0 { "a" } else { "b" })).collect();
    let schema = Schema::new(vec![
        Field::new("label", DataType::Int64, true),
        Field::new("score", DataType::Float64, true),
        Field::new("group", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(label), Arc::new(score), Arc::new(group)],
    )
    .unwrap();
    write_parquet(Path::new(&files.path("data.parquet")), &batch);
    let data = files.path("data.parquet");
    let base = [
        "check",
        "--reference",
        &data,
        "--current",
        &data,
        "--label",
        "label",
        "--prediction",
        "score",
    ];

    let mut json_args = base.to_vec();
    json_args.extend(["--sensitive", "group", "--format", "json"]);
    let run = driftgauge(&json_args);
    assert_eq!(run.code, EXIT_OK, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let current = &report["model"]["current"];
    assert_eq!(current["task"], "classification");
    assert_eq!(current["accuracy"], 1.0);
    assert_eq!(current["roc_auc"], 1.0);
    assert_eq!(report["model"]["reference"]["rows"], 400);
    let slice = &report["model"]["fairness"][0];
    assert_eq!(slice["attribute"], "group");
    assert_eq!(slice["groups"].as_array().unwrap().len(), 2);
    // The label is not a drift column; the score and the group are.
    let names: Vec<&str> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["score", "group"]);

    let mut table_args = base.to_vec();
    table_args.extend(["--sensitive", "group"]);
    let table = driftgauge(&table_args).stdout;
    assert!(table.contains("model quality") && table.contains("fairness by `group`"), "{table}");

    let run = driftgauge(&[&base[..], &["--sensitive", "missing"]].concat());
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("column `missing` not found"), "{}", run.stderr);
}

/// One column of one type, as a batch.
fn single(name: &str, array: ArrayRef) -> RecordBatch {
    let schema = Schema::new(vec![Field::new(name, array.data_type().clone(), true)]);
    RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap()
}

fn check_json(files: &Files, reference: &str, current: &str, extra: &[&str]) -> (u8, Value) {
    let (reference, current) = (files.path(reference), files.path(current));
    let mut args = vec!["check", "--reference", &reference, "--current", &current];
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    let run = driftgauge(&args);
    assert!(run.code != EXIT_ERROR, "{}", run.stderr);
    (run.code, serde_json::from_str(&run.stdout).unwrap())
}

#[test]
fn infinite_statistics_are_written_as_infinity_not_null() {
    let files = Files::new();
    let write = |name: &str, values: &[&str]| {
        let array: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        write_parquet(Path::new(&files.path(name)), &single("c", array));
    };
    write("ref.parquet", &["a", "a", "b"]);
    write("cur.parquet", &["a", "b", "z"]);
    let (_, report) = check_json(&files, "ref.parquet", "cur.parquet", &[]);
    // A bin the reference never saw makes the goodness of fit infinite.
    let gof = &report["columns"][0]["chi_square"];
    assert_eq!(gof["statistic"], "Infinity");
    assert_eq!(gof["p_value"], 0.0);

    // A baseline whose moments overflow is written and read back.
    let huge: ArrayRef = Arc::new(Float64Array::from(vec![1.7e308, 1.7e308, 1.0]));
    write_parquet(Path::new(&files.path("huge.parquet")), &single("x", huge));
    let (huge, baseline) = (files.path("huge.parquet"), files.path("huge.json"));
    let fit = driftgauge(&["baseline", "fit", "--input", &huge, "--out", &baseline]);
    assert_eq!(fit.code, EXIT_OK, "{}", fit.stderr);
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(!text.contains(": null"), "{text}");
    let check = driftgauge(&["check", "--baseline", &baseline, "--current", &huge]);
    assert_eq!(check.code, EXIT_OK, "{}", check.stderr);
}

#[test]
fn integer_codes_declared_categorical_sort_as_numbers() {
    let files = Files::new();
    let codes = |counts: [(i64, usize); 3]| -> ArrayRef {
        Arc::new(
            counts
                .iter()
                .flat_map(|&(code, n)| std::iter::repeat_n(Some(code), n))
                .collect::<Int64Array>(),
        )
    };
    let reference = single("code", codes([(2, 40), (3, 30), (10, 30)]));
    let current = single("code", codes([(2, 20), (3, 30), (10, 50)]));
    write_parquet(Path::new(&files.path("ref.parquet")), &reference);
    write_parquet(Path::new(&files.path("cur.parquet")), &current);
    let extra = ["--categorical", "code"];
    let (_, report) = check_json(&files, "ref.parquet", "cur.parquet", &extra);
    let column = &report["columns"][0];
    assert_eq!(column["categories"], serde_json::json!(["2", "3", "10"]));
    // numpy/scipy: the share of values other than 2, p1 = 0.6 and p2 = 0.8:
    // z = -3.086066999241839, 2 * norm.sf(|z|) = 0.0020282311484520745
    let z = column["z"]["statistic"].as_f64().unwrap();
    assert!((z - -3.086066999241839).abs() < 1e-12, "{z}");
    // Text order would have put "10" first: the share other than 10, z = +2.886...
    assert_eq!(
        column["z"]["p_value"].as_f64().map(|p| (p - 0.0020282311484520745).abs() < 1e-12),
        Some(true)
    );
}

#[test]
fn check_reference_bins_every_category_at_any_cardinality() {
    let files = Files::new();
    // 1,001 categories, each five times, and the same file as current: the
    // stored-baseline default of 1,000 categories no longer applies.
    let names: StringArray = (0..5005).map(|i| Some(format!("c{:04}", i % 1001))).collect();
    write_parquet(Path::new(&files.path("same.parquet")), &single("city", Arc::new(names)));
    let (code, report) = check_json(&files, "same.parquet", "same.parquet", &[]);
    let city = &report["columns"][0];
    assert_eq!(code, EXIT_OK);
    assert_eq!(city["categories"].as_array().unwrap().len(), 1001);
    assert_eq!(city["data_quality"]["unseen_share"], 0.0);
    assert!(city["data_quality"].get("unseen_categories").is_none(), "{}", city["data_quality"]);
    assert!(city.get("approximate").is_none());
    assert_eq!(city["psi"], 0.0);

    // 5,000 reference categories; a fifth of the current rows in new ones.
    let reference: StringArray = (0..20_000).map(|i| Some(format!("c{:05}", i % 5000))).collect();
    let current: StringArray = (0..10_000)
        .map(|i| {
            Some(if i % 5 == 0 { format!("new{}", i % 10) } else { format!("c{:05}", i % 5000) })
        })
        .collect();
    write_parquet(Path::new(&files.path("ref.parquet")), &single("city", Arc::new(reference)));
    write_parquet(Path::new(&files.path("cur.parquet")), &single("city", Arc::new(current)));
    let (code, report) = check_json(&files, "ref.parquet", "cur.parquet", &[]);
    let city = &report["columns"][0];
    assert_eq!(code, EXIT_DRIFT, "{}", city["psi"]);
    assert_eq!(city["data_quality"]["unseen_share"], 0.2);
    assert_eq!(city["categories"].as_array().unwrap().len(), 5002);
    assert!(city["psi"].as_f64().unwrap() > 1.0, "{}", city["psi"]);
}

#[test]
fn check_reference_keeps_every_value_beyond_the_stored_sample() {
    use driftgauge_detectors::sample::{SortedSample, ks_statistic, wasserstein};
    let files = Files::new();
    let x = |i: usize, shift: f64| ((i as f64 * 0.618_033_988_75).fract() - 0.5).powi(3) + shift;
    let reference: Vec<f64> = (0..150_000).map(|i| x(i, 0.0)).collect();
    let current: Vec<f64> = (0..120_000).map(|i| x(i * 7 + 3, 0.001)).collect();
    let write = |name: &str, values: &[f64]| {
        let array: ArrayRef = Arc::new(Float64Array::from(values.to_vec()));
        write_parquet(Path::new(&files.path(name)), &single("x", array));
    };
    write("ref.parquet", &reference);
    write("cur.parquet", &current);
    let (_, report) = check_json(&files, "ref.parquet", "cur.parquet", &[]);
    let column = &report["columns"][0];
    let (reference, current) = (SortedSample::exact(reference), SortedSample::exact(current));
    let d = ks_statistic(reference.values(), current.values());
    let w = wasserstein(reference.values(), current.values());
    assert_eq!(column["ks"]["reference_exact"], true);
    assert_eq!(column["ks"]["statistic"].as_f64(), Some(d));
    assert_eq!(column["wasserstein"].as_f64(), Some(w));
    assert!(column.get("approximate").is_none());
}

#[test]
fn evidently_mode_refuses_options_it_would_ignore() {
    let files = Files::new();
    write_parquet(Path::new(&files.path("ref.parquet")), &table(200, 0.0));
    let reference = files.path("ref.parquet");
    let base = ["check", "--reference", &reference, "--current", &reference, "--mode", "evidently"];
    let run = driftgauge(&[&base[..], &["--numeric-test", "ks"]].concat());
    assert_eq!(run.code, EXIT_ERROR);
    assert!(
        run.stderr.contains("--numeric-test cannot be used with --mode evidently"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("chooses each column's test"), "{}", run.stderr);
    let run = driftgauge(
        &[&base[..], &["--categorical-test", "z", "--threshold", "0.2", "--epsilon", "0.01"]]
            .concat(),
    );
    assert_eq!(run.code, EXIT_ERROR);
    assert!(
        run.stderr.contains("--categorical-test, --threshold, --epsilon cannot be used"),
        "{}",
        run.stderr
    );
    // The options it honours, and the default mode with every option, still run.
    assert_eq!(driftgauge(&[&base[..], &["--drift-share", "0.3"]].concat()).code, EXIT_OK);
    let default = ["check", "--reference", &reference, "--current", &reference];
    let run =
        driftgauge(&[&default[..], &["--numeric-test", "ks", "--threshold", "0.01"]].concat());
    assert_eq!(run.code, EXIT_OK, "{}", run.stderr);
}

#[test]
fn a_stored_baseline_that_folded_categories_says_so() {
    let files = Files::new();
    let names = |n: usize, shift: usize| -> ArrayRef {
        Arc::new(
            (0..n).map(|i| Some(format!("c{:02}", (i * 7 + shift) % 30))).collect::<StringArray>(),
        )
    };
    write_parquet(Path::new(&files.path("ref.parquet")), &single("city", names(3000, 0)));
    write_parquet(Path::new(&files.path("cur.parquet")), &single("city", names(1000, 3)));
    let (reference, baseline) = (files.path("ref.parquet"), files.path("baseline.json"));
    let fit = driftgauge(&[
        "baseline", "fit", "--input", &reference, "--out", &baseline, "--top-k", "10",
    ]);
    assert_eq!(fit.code, EXIT_OK, "{}", fit.stderr);
    let current = files.path("cur.parquet");
    let table = driftgauge(&["check", "--baseline", &baseline, "--current", &current]);
    assert!(table.stdout.contains("approximate comparisons"), "{}", table.stdout);
    assert!(
        table.stdout.contains("city: the baseline lists 10 categories and folded 20 more"),
        "{}",
        table.stdout
    );
    let json =
        driftgauge(&["check", "--baseline", &baseline, "--current", &current, "--format", "json"]);
    let column = &serde_json::from_str::<Value>(&json.stdout).unwrap()["columns"][0];
    assert_eq!(column["approximate"]["reason"], "folded_categories");
    assert_eq!(column["approximate"]["kept"], 10);
    assert_eq!(column["approximate"]["reference_categories"], 20);
    assert_eq!(column["data_quality"]["unseen_share"], Value::Null);
    assert!(column["data_quality"].get("unseen_categories").is_none());
    // The same comparison from the file is exact.
    let (_, exact) = check_json(&files, "ref.parquet", "cur.parquet", &[]);
    assert!(exact["columns"][0].get("approximate").is_none());
    assert_eq!(exact["columns"][0]["categories"].as_array().unwrap().len(), 30);
}

/// Each cause is printed once, and a flag an error suggests exists.
#[test]
fn errors_print_their_cause_once_and_name_real_flags() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.csv");
    let absent = absent.to_str().unwrap();
    let run = driftgauge(&["check", "--reference", absent, "--current", absent]);
    assert_eq!(run.code, EXIT_ERROR);
    assert_eq!(run.stderr.matches("No such file or directory").count(), 1, "{}", run.stderr);

    let odd = dir.path().join("data.txt");
    std::fs::write(&odd, "a\n1\n").unwrap();
    let odd = odd.to_str().unwrap();
    let run = driftgauge(&["check", "--reference", odd, "--current", odd]);
    assert_eq!(run.code, EXIT_ERROR);
    let help =
        [&["check", "--help"][..], &["baseline", "fit", "--help"], &["registry", "fit", "--help"]]
            .map(|args| driftgauge(args).stdout)
            .concat();
    let flags: Vec<&str> = run
        .stderr
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|word| word.starts_with("--"))
        .collect();
    assert!(!flags.is_empty(), "{}", run.stderr);
    for flag in flags {
        assert!(help.contains(flag), "{flag} is not a flag: {}", run.stderr);
    }
}

/// The README's "fit once, compare many" gives the same verdict and exit code
/// as its one-step `check`: the baseline remembers the label and prediction.
#[test]
fn a_baseline_remembers_label_and_prediction() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let reference = examples.join("reference.csv");
    let current = examples.join("current.csv");
    let (reference, current) = (reference.to_str().unwrap(), current.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let baseline = baseline.to_str().unwrap();

    let one_step = driftgauge(&[
        "check",
        "--reference",
        reference,
        "--current",
        current,
        "--label",
        "label",
        "--prediction",
        "score",
        "--format",
        "json",
    ]);
    let fit = driftgauge(&[
        "baseline",
        "fit",
        "--input",
        reference,
        "--out",
        baseline,
        "--label",
        "label",
        "--prediction",
        "score",
    ]);
    assert_eq!(fit.code, EXIT_OK, "{}", fit.stderr);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(baseline).unwrap()).unwrap();
    assert_eq!(stored["roles"], serde_json::json!({"label": "label", "prediction": "score"}));
    let two_step =
        driftgauge(&["check", "--baseline", baseline, "--current", current, "--format", "json"]);

    assert_eq!(one_step.code, EXIT_DRIFT, "{}", one_step.stderr);
    assert_eq!(two_step.code, one_step.code, "{}", two_step.stderr);
    let (one, two): (Value, Value) = (
        serde_json::from_str(&one_step.stdout).unwrap(),
        serde_json::from_str(&two_step.stdout).unwrap(),
    );
    assert_eq!(one["dataset"], two["dataset"]);
    let names = |report: &Value| -> Vec<String> {
        report["columns"].as_array().unwrap().iter().map(|c| c["column"].to_string()).collect()
    };
    assert_eq!(names(&one), names(&two));
    assert!(!names(&two).contains(&"\"label\"".to_owned()), "the label is no feature");
    assert!(two["model"].is_object(), "model quality from the remembered roles: {two}");
}

#[test]
fn one_drifted_column_is_dataset_drift_and_small_files_are_insufficient() {
    let files = Files::new();
    write_parquet(Path::new(&files.path("ref.parquet")), &table(5000, 0.0));
    // Only `amount` moves, by 0.3 (its values span [-2, 2]): one column of four.
    let same = table(3000, 0.0);
    let moved = table(3000, 0.3);
    let mut columns = same.columns().to_vec();
    columns[0] = Arc::clone(moved.column(0));
    let one = RecordBatch::try_new(same.schema(), columns).unwrap();
    write_parquet(Path::new(&files.path("one.parquet")), &one);
    let (reference, current) = (files.path("ref.parquet"), files.path("one.parquet"));
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--reference", &reference, "--current", &current];
        args.extend_from_slice(extra);
        driftgauge(&args)
    };

    let corrected = check(&["--format", "json"]);
    assert_eq!(corrected.code, EXIT_DRIFT, "{}{}", corrected.stdout, corrected.stderr);
    let report: Value = serde_json::from_str(&corrected.stdout).unwrap();
    let dataset = &report["dataset"];
    assert_eq!(
        (dataset["drifted_columns"].as_u64(), dataset["columns"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(dataset["corrected"]["alpha"], 0.05);
    let amount = &report["columns"][0];
    assert_eq!(amount["decision"]["test"], "ks");
    assert_eq!(amount["decision"]["status"], "drift");
    // Holm with one rejection among four: the level is alpha / 3.
    let level = amount["decision"]["threshold"].as_f64().unwrap();
    assert!((level - 0.05 / 3.0).abs() < 1e-15, "{level}");
    assert_eq!(report["columns"][2]["decision"]["test"], "chi_square_contingency");

    // The share rule (the old default) is drowned by the three stable columns.
    let share = check(&["--numeric-test", "psi", "--threshold", "0.1", "--drift-share", "0.5"]);
    assert_eq!(share.code, EXIT_OK, "{}{}", share.stdout, share.stderr);
    let explicit = check(&["--decision", "share"]);
    assert_eq!(explicit.code, EXIT_OK, "{}", explicit.stderr);
    // A minimum effect the move does not reach keeps the column stable.
    let effect = check(&["--min-effect", "psi=5"]);
    assert_eq!(effect.code, EXIT_OK, "{}", effect.stderr);

    // Flags of the two decisions do not mix, and Evidently mode decides its own way.
    let mixed = check(&["--alpha", "0.01", "--drift-share", "0.5"]);
    assert_eq!(mixed.code, EXIT_ERROR);
    assert!(
        mixed.stderr.contains("--alpha only apply to --decision corrected"),
        "{}",
        mixed.stderr
    );
    let mixed = check(&["--decision", "corrected", "--threshold", "0.2"]);
    assert_eq!(mixed.code, EXIT_ERROR);
    assert!(
        mixed.stderr.contains("--threshold only apply to --decision share"),
        "{}",
        mixed.stderr
    );
    let evidently = check(&["--mode", "evidently", "--alpha", "0.01"]);
    assert_eq!(evidently.code, EXIT_ERROR);
    assert!(
        evidently.stderr.contains("--mode evidently decides as Evidently does"),
        "{}",
        evidently.stderr
    );

    // Ten rows are too few for any test: said, not guessed.
    write_parquet(Path::new(&files.path("tiny.parquet")), &table(10, 3.0));
    let tiny =
        driftgauge(&["check", "--reference", &reference, "--current", &files.path("tiny.parquet")]);
    assert_eq!(tiny.code, EXIT_OK, "{}{}", tiny.stdout, tiny.stderr);
    assert!(tiny.stdout.contains("insufficient data"), "{}", tiny.stdout);
    // One verdict per column, and the count on the dataset line.
    assert_eq!(tiny.stdout.matches("  insufficient  ").count(), 4, "{}", tiny.stdout);
    assert!(tiny.stdout.contains("(4 insufficient;"), "{}", tiny.stdout);
}
