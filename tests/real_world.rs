//! Files as pandas, polars and pyarrow write them (tests/data/real_world/,
//! made by its generate.py; these tests need no Python): every
//! reference/current pair goes through `check`, index columns and times are
//! left out with a note, decimals and float16 are numbers, and a nested
//! column named explicitly is an error.

use std::path::{Path, PathBuf};

use driftgauge_engine::cli::{self, EXIT_DRIFT, EXIT_ERROR, EXIT_OK};
use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/real_world")
}

fn driftgauge(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("driftgauge").chain(args.iter().copied());
    let code = cli::run(argv, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

/// Every `<name>.reference.<ext>` with its `<name>.current.<ext>`.
fn pairs() -> Vec<(String, PathBuf, PathBuf)> {
    let mut pairs: Vec<_> = std::fs::read_dir(data())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let (stem, ext) = name.split_once(".reference.")?;
            let current = data().join(format!("{stem}.current.{ext}"));
            Some((format!("{stem}.{ext}"), path, current))
        })
        .collect();
    pairs.sort();
    pairs
}

fn check_json(reference: &Path, current: &Path, extra: &[&str]) -> (u8, Value, String) {
    let mut args = vec![
        "check",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = driftgauge(&args);
    let json = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, json, err)
}

fn names(report: &Value, key: &str, field: &str) -> Vec<String> {
    report[key]
        .as_array()
        .map(|items| items.iter().map(|c| c[field].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn every_pair_goes_through_check() {
    let pairs = pairs();
    assert!(pairs.len() >= 9, "{pairs:?}");
    for (name, reference, current) in &pairs {
        for format in ["table", "json"] {
            let args = [
                "check",
                "--reference",
                reference.to_str().unwrap(),
                "--current",
                current.to_str().unwrap(),
                "--format",
                format,
            ];
            let (code, out, err) = driftgauge(&args);
            assert!(code == EXIT_OK || code == EXIT_DRIFT, "{name} {format}: {code} {err}");
            assert!(out.contains("amount"), "{name} {format}: {out}");
        }
        let (_, report, _) = check_json(reference, current, &[]);
        let columns = names(&report, "columns", "column");
        assert!(columns.len() >= 3, "{name}: {columns:?}");
        for index in ["", "__index_level_0__", "row_id"] {
            assert!(!columns.iter().any(|c| c == index), "{name}: index `{index}` compared");
        }
    }
}

#[test]
fn index_columns_are_left_out_with_a_note() {
    for (stem, index) in [
        ("pandas_parquet_index.parquet", "__index_level_0__"),
        ("pandas_parquet_named_index.parquet", "row_id"),
        ("pandas_csv.csv", ""),
    ] {
        let (base, ext) = stem.split_once('.').unwrap();
        let reference = data().join(format!("{base}.reference.{ext}"));
        let current = data().join(format!("{base}.current.{ext}"));
        let (_, report, _) = check_json(&reference, &current, &[]);
        assert_eq!(names(&report, "skipped", "column"), vec![index.to_owned()], "{stem}");
        assert!(report["skipped"][0]["reason"].as_str().unwrap().contains("index"), "{stem}");
        let columns = names(&report, "columns", "column");
        assert_eq!(columns, ["amount", "age", "country", "active", "score", "label"], "{stem}");
    }
}

#[test]
fn decimals_and_float16_are_numbers_and_times_and_nested_types_are_skipped() {
    for ext in ["parquet", "feather"] {
        let reference = data().join(format!("pyarrow_types.reference.{ext}"));
        let current = data().join(format!("pyarrow_types.current.{ext}"));
        let (code, report, err) = check_json(&reference, &current, &[]);
        assert!(code == EXIT_OK || code == EXIT_DRIFT, "{ext}: {err}");
        let columns: Vec<(String, String)> = report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (c["column"].as_str().unwrap().to_owned(), c["kind"].as_str().unwrap().to_owned())
            })
            .collect();
        for (column, kind) in [
            ("amount", "numeric"),
            ("price", "numeric"),
            ("ratio", "numeric"),
            ("country", "categorical"),
        ] {
            assert!(columns.contains(&(column.to_owned(), kind.to_owned())), "{ext}: {columns:?}");
        }
        let skipped = names(&report, "skipped", "column");
        assert_eq!(skipped, ["seen_at", "day", "tags", "meta"], "{ext}");
        let (_, text, _) = driftgauge(&[
            "check",
            "--reference",
            reference.to_str().unwrap(),
            "--current",
            current.to_str().unwrap(),
        ]);
        assert!(text.contains("skipped `seen_at` (Timestamp("), "{text}");

        // Named, a time is compared as seconds since the epoch; its month
        // moved, so it drifts.
        let (code, report, err) =
            check_json(&reference, &current, &["--columns", "seen_at,day,amount"]);
        assert_eq!(code, EXIT_DRIFT, "{ext}: {err}");
        assert_eq!(names(&report, "columns", "column"), ["seen_at", "day", "amount"]);

        // Named, a nested column is an error that names it and its type.
        let (code, _, err) = check_json(&reference, &current, &["--columns", "tags"]);
        assert_eq!(code, EXIT_ERROR);
        assert!(
            err.contains("column `tags` (List(") && err.contains("cannot be monitored"),
            "{err}"
        );
    }
}
