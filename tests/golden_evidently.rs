//! The Evidently-compatible mode against Evidently 0.7.23's own
//! `DataDriftPreset`: every fixture in `tests/golden/evidently/` (written by
//! `tests/golden/generate_drift.py`) must give the same test, score and
//! verdict per column, the same dataset verdict, and the same PSI, KL, JS and
//! Hellinger when those tests are forced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use driftgauge_detectors::evidently::{self, ColumnDrift, ColumnSample, EvidentlyTest};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Distances and divergences agree to this relative error (only summation
/// order differs from numpy).
const SCORE_RELATIVE: f64 = 1e-9;
/// Below this, scores are compared absolutely: Hellinger's `sqrt(1 - BC)`
/// turns rounding in BC ≈ 1 into absolute, not relative, error.
const SCORE_ABSOLUTE_FLOOR: f64 = 1e-12;
/// p-values agree to this absolute error (scipy and statrs tail algorithms differ).
const P_VALUE_ABSOLUTE: f64 = 1e-6;

#[derive(Deserialize)]
struct Fixture {
    case: String,
    drift_share: f64,
    columns: BTreeMap<String, Column>,
    expected: Expected,
    forced: BTreeMap<String, Forced>,
}

#[derive(Deserialize)]
struct Column {
    #[serde(rename = "type")]
    kind: String,
    dtype: String,
    reference: Vec<Value>,
    current: Vec<Value>,
}

#[derive(Deserialize)]
struct Expected {
    columns: BTreeMap<String, ExpectedColumn>,
    number_of_drifted_columns: usize,
    share_of_drifted_columns: f64,
    dataset_drift: bool,
}

#[derive(Deserialize)]
struct ExpectedColumn {
    stattest: EvidentlyTest,
    #[serde(deserialize_with = "strict_float")]
    score: f64,
    threshold: f64,
    drifted: bool,
}

#[derive(Deserialize)]
struct Forced {
    #[serde(deserialize_with = "strict_float")]
    psi: f64,
    #[serde(deserialize_with = "strict_float")]
    kl_div: f64,
    #[serde(deserialize_with = "strict_float")]
    jensenshannon: f64,
    #[serde(deserialize_with = "strict_float")]
    hellinger: f64,
}

/// A float written as a JSON number or as `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn strict_float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    number(&value)
        .flatten()
        .ok_or_else(|| serde::de::Error::custom(format!("expected a float, got {value}")))
}

/// `Some(None)` for null, `Some(Some(x))` for a number or a non-finite string,
/// `None` for anything else.
fn number(value: &Value) -> Option<Option<f64>> {
    match value {
        Value::Null => Some(None),
        Value::Number(n) => n.as_f64().map(Some),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(Some(f64::NAN)),
            "Infinity" => Some(Some(f64::INFINITY)),
            "-Infinity" => Some(Some(f64::NEG_INFINITY)),
            _ => None,
        },
        _ => None,
    }
}

fn sample(name: &str, column: &Column, values: &[Value]) -> ColumnSample {
    match column.kind.as_str() {
        "numerical" => {
            // null and non-finite values are missing; ColumnSample drops them.
            let values = values.iter().map(|v| {
                number(v)
                    .unwrap_or_else(|| panic!("column {name}: not a number: {v}"))
                    .unwrap_or(f64::NAN)
            });
            ColumnSample::numeric(values, column.dtype == "int64")
        }
        "categorical" => ColumnSample::categorical(values.iter().map(|v| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => panic!("column {name}: not a category: {other}"),
        })),
        other => panic!("column {name}: unknown type {other}"),
    }
}

fn close(actual: f64, expected: f64, p_value: bool) -> bool {
    if actual.is_nan() || expected.is_nan() {
        return actual.is_nan() && expected.is_nan();
    }
    if actual == expected {
        return true;
    }
    let error = (actual - expected).abs();
    if p_value {
        error <= P_VALUE_ABSOLUTE
    } else {
        error <= (SCORE_RELATIVE * expected.abs()).max(SCORE_ABSOLUTE_FLOOR)
    }
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/evidently");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
}

/// Checks one fixture; returns every mismatch.
fn check(fixture: &Fixture) -> Vec<String> {
    let mut failures = Vec::new();
    let case = &fixture.case;
    let mut verdicts: Vec<ColumnDrift> = Vec::new();
    for (name, column) in &fixture.columns {
        let reference = sample(name, column, &column.reference);
        let current = sample(name, column, &column.current);
        let expected = &fixture.expected.columns[name];
        match evidently::column_drift(&reference, &current, None) {
            Ok(drift) => {
                if drift.test != expected.stattest {
                    failures.push(format!(
                        "{case}/{name}: test {:?}, Evidently {:?}",
                        drift.test, expected.stattest
                    ));
                }
                if !close(drift.score, expected.score, expected.stattest.is_p_value()) {
                    failures.push(format!(
                        "{case}/{name}: score {}, Evidently {}",
                        drift.score, expected.score
                    ));
                }
                if drift.threshold != expected.threshold {
                    failures.push(format!(
                        "{case}/{name}: threshold {}, Evidently {}",
                        drift.threshold, expected.threshold
                    ));
                }
                if drift.drifted != expected.drifted {
                    failures.push(format!(
                        "{case}/{name}: drifted {}, Evidently {}",
                        drift.drifted, expected.drifted
                    ));
                }
                verdicts.push(drift);
            }
            Err(e) => {
                failures.push(format!("{case}/{name}: {e}"));
            }
        }

        let Some(forced) = fixture.forced.get(name) else { continue };
        for (test, want) in [
            (EvidentlyTest::Psi, forced.psi),
            (EvidentlyTest::KlDiv, forced.kl_div),
            (EvidentlyTest::JensenShannon, forced.jensenshannon),
            (EvidentlyTest::Hellinger, forced.hellinger),
        ] {
            match evidently::column_drift(&reference, &current, Some(test)) {
                Ok(drift) if close(drift.score, want, false) => {}
                Ok(drift) => {
                    failures.push(format!(
                        "{case}/{name}: forced {} {}, Evidently {want}",
                        test.name(),
                        drift.score
                    ));
                }
                Err(e) => {
                    failures.push(format!("{case}/{name}: forced {}: {e}", test.name()));
                }
            }
        }
    }

    let dataset = evidently::dataset_drift(&verdicts, fixture.drift_share);
    let expected = &fixture.expected;
    if dataset.drifted_columns != expected.number_of_drifted_columns
        || dataset.share != expected.share_of_drifted_columns
        || dataset.drifted != expected.dataset_drift
    {
        failures.push(format!(
            "{case}: dataset {}/{} drifted (share {}, drift {}), Evidently {} (share {}, drift {})",
            dataset.drifted_columns,
            dataset.columns,
            dataset.share,
            dataset.drifted,
            expected.number_of_drifted_columns,
            expected.share_of_drifted_columns,
            expected.dataset_drift,
        ));
    }
    failures
}

#[test]
fn evidently_data_drift_preset() {
    let paths = fixtures();
    assert!(paths.len() >= 5, "expected the Evidently fixtures, found {paths:?}");
    let mut failures = Vec::new();
    for path in &paths {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let fixture: Fixture =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        failures.extend(check(&fixture));
    }
    assert!(failures.is_empty(), "mismatches against Evidently:\n{}", failures.join("\n"));
}
