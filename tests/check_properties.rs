//! Properties `driftgauge check` must have on any data, checked on random
//! tables (floats with nulls, NaN, ±inf and values near `f64::MAX`, integers,
//! integer codes declared categorical, booleans, and text categories up to
//! 100,000 distinct):
//!
//! * a table compared with itself gives zero distances, no unseen category,
//!   no drift and exit code 0, in both modes;
//! * the order of the rows never changes a report;
//! * splitting the reference or the current table into batches never changes
//!   a report;
//! * a stored baseline (fitted with the `baseline fit` defaults, written to
//!   JSON and read back) gives the one-step report wherever it kept the whole
//!   reference, and says where and by how much it is approximate elsewhere.
//!
//! Cases are drawn as a few parameters and a seed, and the rows generated
//! from them, so a case is cheap to shrink. Case counts stay small: the
//! large-cardinality property builds tables of 100,000 rows.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema};
use driftgauge_detectors::drift::{Approximation, ColumnDrift};
use driftgauge_detectors::json::NonFinite;
use driftgauge_engine::batch::check::{self, CheckOptions, CheckReport, ColumnReports, Mode};
use driftgauge_engine::batch::input::Table;
use driftgauge_engine::cli;
use proptest::prelude::*;

use crate::support::SplitMix64;

/// How one side's rows are drawn.
#[derive(Debug, Clone)]
struct Shape {
    rows: usize,
    seed: u64,
    /// Per mille of float rows that are null, NaN, +inf, -inf.
    specials: [u64; 4],
    /// Scale of the finite floats; 1.7e308 makes sums overflow.
    scale: f64,
    /// Decimal grid of the floats (ties), 0 for none.
    grid: f64,
    /// Distinct integers and integer codes.
    spread: u64,
    /// Distinct text categories.
    cardinality: u64,
    /// Shifts the current side's distributions.
    shift: u64,
}

const COLUMNS: [(&str, DataType); 5] = [
    ("x", DataType::Float64),
    ("k", DataType::Int64),
    ("code", DataType::Int64),
    ("s", DataType::Utf8),
    ("flag", DataType::Boolean),
];

fn table(shape: &Shape) -> RecordBatch {
    let mut r = SplitMix64(shape.seed);
    let n = shape.rows;
    let [null, nan, pos, neg] = shape.specials;
    let x: Float64Array = (0..n)
        .map(|_| {
            let k = r.below(1000);
            if k < null {
                None
            } else if k < null + nan {
                Some(f64::NAN)
            } else if k < null + nan + pos {
                Some(f64::INFINITY)
            } else if k < null + nan + pos + neg {
                Some(f64::NEG_INFINITY)
            } else {
                let u = r.uniform() - 0.5 + shape.shift as f64 * 0.1;
                Some(if shape.grid > 0.0 {
                    (u * shape.scale / shape.grid).round() * shape.grid
                } else {
                    u * shape.scale
                })
            }
        })
        .collect();
    let spread = shape.spread;
    let k: Int64Array =
        (0..n).map(|_| Some((r.below(spread) + shape.shift) as i64 - spread as i64 / 2)).collect();
    // Codes whose text order differs from their numeric order (2 < 10 < 100).
    let code: Int64Array =
        (0..n).map(|_| Some(((r.below(spread) + shape.shift) * 7) as i64 - 3)).collect();
    let s: StringArray = (0..n)
        .map(|_| {
            (r.below(50) != 0).then(|| format!("s{}", r.below(shape.cardinality) + shape.shift))
        })
        .collect();
    let flag: BooleanArray =
        (0..n).map(|_| (r.below(20) != 0).then(|| r.below(3 + shape.shift) == 0)).collect();
    let fields: Vec<Field> =
        COLUMNS.iter().map(|(name, t)| Field::new(*name, t.clone(), true)).collect();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(x), Arc::new(k), Arc::new(code), Arc::new(s), Arc::new(flag)];
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn shape(rows: std::ops::Range<usize>, cardinality: u64) -> impl Strategy<Value = Shape> {
    (
        rows,
        any::<u64>(),
        prop::array::uniform4(0u64..60),
        prop_oneof![Just(1.0), Just(1e6), Just(1.7e308)],
        prop_oneof![Just(0.0), Just(0.1), Just(1.0)],
        prop_oneof![Just(2u64), Just(3), Just(15), Just(300)],
        prop_oneof![Just(1u64), Just(4), Just(40), Just(cardinality)],
    )
        .prop_map(|(rows, seed, specials, scale, grid, spread, cardinality)| Shape {
            rows,
            seed,
            specials,
            scale,
            grid,
            spread,
            cardinality,
            shift: 0,
        })
}

fn in_memory(name: &str, batches: Vec<RecordBatch>) -> Table {
    Table::from_batches(name.into(), batches[0].schema(), batches)
}

fn options() -> CheckOptions {
    CheckOptions { categorical: vec!["code".into()], ..CheckOptions::default() }
}

/// What must not change: every column's report and the verdict, as JSON
/// (with NaN written as "NaN", so equal reports compare equal).
fn essence(report: &CheckReport) -> String {
    serde_json::to_string_pretty(&NonFinite(&(&report.columns, &report.dataset))).unwrap()
}

fn run(reference: &Table, current: &Table, mode: Mode) -> CheckReport {
    check::check(reference, current, mode, &options()).unwrap()
}

/// `batch` cut at `cuts` (positions taken modulo the length).
fn split(batch: &RecordBatch, cuts: &[usize]) -> Vec<RecordBatch> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (batch.num_rows() + 1)).collect();
    bounds.extend([0, batch.num_rows()]);
    bounds.sort_unstable();
    bounds.windows(2).map(|w| batch.slice(w[0], w[1] - w[0])).collect()
}

fn shuffled(batch: &RecordBatch, seed: u64) -> RecordBatch {
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    let mut r = SplitMix64(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, r.below(i as u64 + 1) as usize);
    }
    let indices = arrow::array::UInt32Array::from(order);
    let columns =
        batch.columns().iter().map(|c| take(c.as_ref(), &indices, None).unwrap()).collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

fn assert_identical_comparison(report: &CheckReport) {
    match &report.columns {
        ColumnReports::Default(columns) => {
            for c in columns {
                let name = &c.column;
                for (what, value) in [
                    ("psi", c.psi),
                    ("kl(ref||cur)", c.kl_reference_current),
                    ("kl(cur||ref)", c.kl_current_reference),
                    ("js", c.jensen_shannon),
                    ("js base 2", c.jensen_shannon_base2),
                    ("wasserstein", c.wasserstein),
                    ("ks statistic", c.ks.map(|k| k.test.statistic)),
                ] {
                    assert!(value.is_none_or(|v| v == 0.0), "{name}: {what} = {value:?}");
                }
                // sqrt(1 - Σ sqrt(p q)) turns the last bit of Σ p into ~1e-8.
                assert!(c.hellinger.is_none_or(|h| h < 2e-8), "{name}: {:?}", c.hellinger);
                assert!(c.data_quality.unseen_categories.is_empty(), "{name}");
                assert!(c.data_quality.unseen_share.is_none_or(|s| s == 0.0), "{name}");
                // Infinities count as out of range even against themselves.
                let m = &c.data_quality.missing;
                let infinite = (m.pos_inf + m.neg_inf) as f64 / c.data_quality.rows as f64;
                assert!(
                    c.data_quality.out_of_range_share.is_none_or(|s| s == infinite),
                    "{name}: {:?}",
                    c.data_quality
                );
                assert!(c.approximate.is_none(), "{name}");
                assert!(!c.decision.drifted, "{name}: {:?}", c.decision);
            }
        }
        ColumnReports::Evidently(columns) => {
            for c in columns {
                assert!(!c.drift.drifted, "{}: {:?}", c.column, c.drift);
            }
        }
    }
    assert!(!report.dataset.drifted, "{:?}", report.dataset);
}

fn write_ipc(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(batch).unwrap();
    writer.finish().unwrap();
}

/// The stored-baseline path: fit with the `baseline fit` defaults, write the
/// JSON, read it back, compare.
fn stored(reference: &Table, current: &Table, dir: &Path) -> CheckReport {
    let options = options();
    let profile = check::fit_baseline(reference, &options).unwrap();
    let path = dir.join("baseline.json");
    std::fs::write(&path, serde_json::to_string(&NonFinite(&profile)).unwrap()).unwrap();
    let profile = driftgauge_engine::registry::file::read_profile(&path).unwrap();
    check::check_against(&profile, &path, current, &options).unwrap()
}

/// Stored and one-step reports agree column by column where the baseline
/// kept everything; elsewhere the report says so, and KS and Wasserstein
/// stay within the stated bounds.
fn assert_stored_agrees(stored: &CheckReport, one_step: &CheckReport) {
    let (ColumnReports::Default(a), ColumnReports::Default(b)) =
        (&stored.columns, &one_step.columns)
    else {
        unreachable!()
    };
    let json = |c: &ColumnDrift| serde_json::to_string(&NonFinite(c)).unwrap();
    for (s, e) in a.iter().zip(b) {
        assert!(e.approximate.is_none(), "{}: one-step approximate", e.column);
        match &s.approximate {
            None => assert_eq!(json(s), json(e), "{}", e.column),
            Some(Approximation::FoldedCategories { .. }) => {
                assert!(s.data_quality.unseen_categories.is_empty(), "{}", s.column);
                assert_eq!(s.data_quality.unseen_share, None);
                assert_eq!(s.categories.as_ref().unwrap().last().unwrap(), "(other)");
            }
            Some(Approximation::CompressedReference {
                ks_statistic_error_bound,
                wasserstein_error_bound,
                ..
            }) => {
                assert_eq!((s.psi, &s.current_counts), (e.psi, &e.current_counts), "{}", s.column);
                let (d, d_exact) = (s.ks.unwrap().test.statistic, e.ks.unwrap().test.statistic);
                assert!((d - d_exact).abs() <= *ks_statistic_error_bound, "{d} {d_exact}");
                let (w, w_exact) = (s.wasserstein.unwrap(), e.wasserstein.unwrap());
                assert!(
                    (w - w_exact).abs() <= *wasserstein_error_bound * (1.0 + 1e-12),
                    "{w} {w_exact}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_table_compared_with_itself_shows_no_drift(shape in shape(1..300, 2000)) {
        let batch = table(&shape);
        let t = in_memory("t", vec![batch.clone()]);
        assert_identical_comparison(&run(&t, &t, Mode::Default));
        // Evidently refuses a column with no non-missing value, as Evidently does.
        if let Ok(report) = check::check(&t, &t, Mode::Evidently, &options()) {
            assert_identical_comparison(&report);
        }
        // And through the command line, from a file: exit code 0.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.arrow");
        write_ipc(&path, &batch);
        let path = path.to_str().unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut args = vec!["driftgauge", "check", "--reference", path, "--current", path];
        args.extend(["--categorical", "code"]);
        let code = cli::run(args, &mut out, &mut err);
        prop_assert_eq!(code, cli::EXIT_OK, "{}", String::from_utf8_lossy(&err));
    }

    #[test]
    fn row_order_and_batches_never_change_a_report(
        reference in shape(1..300, 2000),
        current in shape(1..300, 2000),
        shift in 0u64..3,
        order_seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..300, 0..5),
    ) {
        let current = Shape { shift, ..current };
        let (r, c) = (table(&reference), table(&current));
        let one = (in_memory("r", vec![r.clone()]), in_memory("c", vec![c.clone()]));
        let moved = (
            in_memory("r", vec![shuffled(&r, order_seed)]),
            in_memory("c", vec![shuffled(&c, !order_seed)]),
        );
        let batched = (
            in_memory("r", split(&r, &cuts)),
            in_memory("c", split(&c, &cuts[cuts.len() / 2..])),
        );
        for mode in [Mode::Default, Mode::Evidently] {
            let whole = match check::check(&one.0, &one.1, mode, &options()) {
                Ok(report) => report,
                // Evidently refuses a column with no non-missing value.
                Err(_) if mode == Mode::Evidently => continue,
                Err(error) => panic!("{error}"),
            };
            let reordered = essence(&run(&moved.0, &moved.1, mode));
            let rebatched = essence(&run(&batched.0, &batched.1, mode));
            prop_assert_eq!(essence(&whole), reordered, "row order, {:?}", mode);
            prop_assert_eq!(essence(&whole), rebatched, "batches, {:?}", mode);
        }
    }

    #[test]
    fn a_stored_baseline_agrees_with_the_one_step_check(
        reference in shape(1..300, 2000),
        current in shape(1..300, 2000),
        shift in 0u64..3,
    ) {
        let current = Shape { shift, ..current };
        let r = in_memory("r", vec![table(&reference)]);
        let c = in_memory("c", vec![table(&current)]);
        let dir = tempfile::tempdir().unwrap();
        assert_stored_agrees(&stored(&r, &c, dir.path()), &run(&r, &c, Mode::Default));
    }
}

proptest! {
    // 100,000-row tables: few cases.
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    #[test]
    fn properties_hold_at_100000_categories(
        seed in any::<u64>(),
        // Above 100,000 finite values, so that the stored sample is compressed.
        rows in 110_000usize..130_000,
        shift in 0u64..2,
        cuts in prop::collection::vec(0usize..130_000, 1..4),
    ) {
        let shape = Shape {
            rows,
            seed,
            specials: [5, 5, 1, 1],
            scale: 1.0,
            grid: 0.0,
            spread: 100_000,
            cardinality: 100_000,
            shift: 0,
        };
        let r = table(&shape);
        let c = table(&Shape { seed: !seed, rows: rows / 2, shift, ..shape });
        let reference = in_memory("r", vec![r.clone()]);
        // Comparing with itself: every category its own bin, none unseen.
        let same = run(&reference, &reference, Mode::Default);
        assert_identical_comparison(&same);
        if let ColumnReports::Default(columns) = &same.columns {
            let s = columns.iter().find(|c| c.column == "s").unwrap();
            prop_assert!(s.categories.as_ref().unwrap().len() > 60_000);
        }
        // Batches do not matter; the stored baseline (top 1,000 categories,
        // 100,000 sample points) says where it is approximate.
        let current = in_memory("c", vec![c.clone()]);
        let whole = run(&reference, &current, Mode::Default);
        let r_parts = in_memory("r", split(&r, &cuts));
        let c_parts = in_memory("c", split(&c, &cuts));
        let batched = run(&r_parts, &c_parts, Mode::Default);
        prop_assert_eq!(essence(&whole), essence(&batched));
        let dir = tempfile::tempdir().unwrap();
        let stored = stored(&reference, &current, dir.path());
        assert_stored_agrees(&stored, &whole);
        if let ColumnReports::Default(columns) = &stored.columns {
            let approximate =
                |name: &str| columns.iter().find(|c| c.column == name).unwrap().approximate.clone();
            let folded = matches!(approximate("s"), Some(Approximation::FoldedCategories { .. }));
            let compressed =
                matches!(approximate("x"), Some(Approximation::CompressedReference { .. }));
            prop_assert!(folded && compressed, "{:?}", stored.columns);
        }
    }
}
