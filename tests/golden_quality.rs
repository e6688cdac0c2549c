//! Model-quality and fairness accumulators against scikit-learn 1.9 and
//! Fairlearn 0.15, on the fixtures written by `golden/generate_quality.py`.
//!
//! Every `golden/quality/*.json` case is run twice: in one batch, and in
//! batches of 7 rows merged in reverse order, which must give a bit-identical
//! report. Floats are compared with a tolerance of `1e-12 * max(1, |expected|)`:
//! absolute for rates and other values up to 1, relative for larger ones
//! (RMSE, MAPE over zero targets). Counts must be equal.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, StringArray, UInt8Array,
};
use driftgauge_detectors::fairness::{FairnessAccumulator, FairnessConfig, FairnessReport};
use driftgauge_detectors::quality::{
    BinaryClassificationAccumulator, BinaryClassificationConfig, BinaryClassificationReport,
    RegressionAccumulator, RegressionReport,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-12;
const BATCH: usize = 7;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/quality");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Builds an Arrow array from a fixture column `{"type": T, "values": [...]}`.
fn column(spec: &Value) -> ArrayRef {
    let values = spec["values"].as_array().expect("values");
    let ints = || values.iter().map(|v| v.as_i64()).collect::<Vec<_>>();
    let strs = || values.iter().map(|v| v.as_str()).collect::<Vec<_>>();
    match spec["type"].as_str().expect("type") {
        "bool" => {
            Arc::new(BooleanArray::from(values.iter().map(|v| v.as_bool()).collect::<Vec<_>>()))
        }
        "int64" => Arc::new(Int64Array::from(ints())),
        "int32" => Arc::new(Int32Array::from(
            ints()
                .into_iter()
                .map(|v| v.map(|x| i32::try_from(x).expect("int32")))
                .collect::<Vec<_>>(),
        )),
        "uint8" => Arc::new(UInt8Array::from(
            ints()
                .into_iter()
                .map(|v| v.map(|x| u8::try_from(x).expect("uint8")))
                .collect::<Vec<_>>(),
        )),
        "utf8" => Arc::new(StringArray::from(strs())),
        "large_utf8" => Arc::new(LargeStringArray::from(strs())),
        "dict_utf8" => Arc::new(strs().into_iter().collect::<DictionaryArray<Int32Type>>()),
        "float64" => Arc::new(Float64Array::from(values.iter().map(float).collect::<Vec<_>>())),
        other => panic!("unknown column type {other}"),
    }
}

/// A fixture float: a number, null, or one of the strings "NaN", "Infinity", "-Infinity".
fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(match s.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            other => panic!("not a float: {other}"),
        }),
        other => Some(other.as_f64().expect("a number")),
    }
}

/// Compares an actual metric with its expected value (null = undefined).
fn check(case: &str, name: &str, actual: Option<f64>, expected: &Value) {
    match (actual, float(expected)) {
        (None, None) => {}
        (Some(a), Some(e)) if e.is_nan() => {
            assert!(a.is_nan(), "{case}: {name} = {a}, expected NaN")
        }
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= TOLERANCE * e.abs().max(1.0),
            "{case}: {name} = {a:?}, expected {e:?} (difference {:e})",
            a - e
        ),
        (a, e) => panic!("{case}: {name} = {a:?}, expected {e:?}"),
    }
}

fn count(case: &str, name: &str, actual: u64, expected: &Value) {
    assert_eq!(Some(actual), expected.as_u64(), "{case}: {name}");
}

/// Runs `update` over the whole columns, and over batches of `BATCH` rows
/// merged in reverse order; asserts both give the same report to the bit.
fn both_ways<A, R: std::fmt::Debug>(
    fresh: impl Fn() -> A,
    columns: &[ArrayRef],
    update: impl Fn(&mut A, &[ArrayRef]),
    merge: impl Fn(&mut A, &A),
    finish: impl Fn(&A) -> R,
) -> R {
    let mut whole = fresh();
    update(&mut whole, columns);
    let len = columns[0].len();
    let mut parts = Vec::new();
    for start in (0..len).step_by(BATCH) {
        let slice: Vec<ArrayRef> =
            columns.iter().map(|c| c.slice(start, BATCH.min(len - start))).collect();
        let mut part = fresh();
        update(&mut part, &slice);
        parts.push(part);
    }
    let mut merged = fresh();
    parts.iter().rev().for_each(|part| merge(&mut merged, part));
    let report = finish(&whole);
    // Debug prints each f64 in its shortest round-trip form: equal strings
    // mean bit-identical reports.
    assert_eq!(format!("{report:?}"), format!("{:?}", finish(&merged)), "split and merge differ");
    report
}

fn binary(case: &str, fixture: &Value) {
    let config: BinaryClassificationConfig =
        serde_json::from_value(fixture["config"].clone()).expect("binary config");
    let inputs = &fixture["inputs"];
    let columns = [column(&inputs["labels"]), column(&inputs["predictions"])];
    let r: BinaryClassificationReport = both_ways(
        || BinaryClassificationAccumulator::new(config.clone()).expect("valid config"),
        &columns,
        |acc, c| acc.update(c[0].as_ref(), c[1].as_ref()).expect("supported columns"),
        BinaryClassificationAccumulator::merge,
        BinaryClassificationAccumulator::finish,
    );
    let e = &fixture["expected"];
    for (name, actual) in [
        ("rows", r.rows),
        ("skipped", r.skipped),
        ("invalid_scores", r.invalid_scores),
        ("tp", r.tp),
        ("fp", r.fp),
        ("tn", r.tn),
        ("fn", r.fn_),
    ] {
        count(case, name, actual, &e[name]);
    }
    for (name, actual) in [
        ("accuracy", Some(r.accuracy)),
        ("precision", Some(r.precision)),
        ("recall", Some(r.recall)),
        ("f1", Some(r.f1)),
        ("positive_rate", Some(r.positive_rate)),
        ("label_positive_rate", Some(r.label_positive_rate)),
        ("roc_auc", r.roc_auc),
        ("log_loss", r.log_loss),
    ] {
        check(case, name, actual, &e[name]);
    }
}

fn regression(case: &str, fixture: &Value) {
    let inputs = &fixture["inputs"];
    let columns = [column(&inputs["y_true"]), column(&inputs["y_pred"])];
    let r: RegressionReport = both_ways(
        RegressionAccumulator::new,
        &columns,
        |acc, c| acc.update(c[0].as_ref(), c[1].as_ref()).expect("supported columns"),
        RegressionAccumulator::merge,
        RegressionAccumulator::finish,
    );
    let e = &fixture["expected"];
    count(case, "rows", r.rows, &e["rows"]);
    count(case, "skipped", r.skipped, &e["skipped"]);
    count(case, "non_finite", r.non_finite, &e["non_finite"]);
    for (name, actual) in [("mae", r.mae), ("rmse", r.rmse), ("mape", r.mape), ("r2", r.r2)] {
        check(case, name, Some(actual), &e[name]);
    }
}

fn fairness(case: &str, fixture: &Value) {
    let config: FairnessConfig =
        serde_json::from_value(fixture["config"].clone()).expect("fairness config");
    let inputs = &fixture["inputs"];
    let columns =
        [column(&inputs["labels"]), column(&inputs["predictions"]), column(&inputs["attribute"])];
    let r: FairnessReport = both_ways(
        || FairnessAccumulator::new(config.clone()).expect("valid config"),
        &columns,
        |acc, c| acc.update(c[0].as_ref(), c[1].as_ref(), c[2].as_ref()).expect("supported"),
        FairnessAccumulator::merge,
        FairnessAccumulator::finish,
    );
    let e = &fixture["expected"];
    count(case, "rows", r.rows, &e["rows"]);
    count(case, "skipped", r.skipped, &e["skipped"]);
    count(case, "null_attribute", r.null_attribute, &e["null_attribute"]);
    let groups = e["groups"].as_array().expect("groups");
    let names: Vec<&str> = r.groups.iter().map(|g| g.group.as_str()).collect();
    let expected_names: Vec<&str> =
        groups.iter().map(|g| g["group"].as_str().expect("group name")).collect();
    assert_eq!(names, expected_names, "{case}: groups");
    for (g, eg) in r.groups.iter().zip(groups) {
        let at = format!("{case} group {}", g.group);
        count(&at, "count", g.count, &eg["count"]);
        assert_eq!(Some(g.included), eg["included"].as_bool(), "{at}: included");
        for (name, actual) in [
            ("selection_rate", g.selection_rate),
            ("tpr", g.tpr),
            ("fpr", g.fpr),
            ("accuracy", g.accuracy),
        ] {
            check(&at, name, Some(actual), &eg[name]);
        }
    }
    for (name, actual) in [
        ("demographic_parity_difference", r.demographic_parity_difference),
        ("demographic_parity_ratio", r.demographic_parity_ratio),
        ("equal_opportunity_difference", r.equal_opportunity_difference),
        ("equal_opportunity_ratio", r.equal_opportunity_ratio),
        ("equalized_odds_difference", r.equalized_odds_difference),
        ("equalized_odds_ratio", r.equalized_odds_ratio),
    ] {
        check(case, name, actual, &e[name]);
    }
}

#[test]
fn quality_and_fairness_match_sklearn_and_fairlearn() {
    let files = fixtures();
    assert!(files.len() >= 11, "expected the quality fixtures, found {}", files.len());
    for path in files {
        let case = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let fixture: Value = serde_json::from_str(&text).expect("valid JSON");
        match fixture["kind"].as_str() {
            Some("binary") => binary(&case, &fixture),
            Some("regression") => regression(&case, &fixture),
            Some("fairness") => fairness(&case, &fixture),
            other => panic!("{case}: unknown kind {other:?}"),
        }
    }
}
