//! The reference-fitted mode (driftgauge's default contract) against scipy:
//! every fixture in `tests/golden/drift/` (written by
//! `tests/golden/generate_drift.py`) is fitted into a baseline profile,
//! compared through the window accumulators in one batch and in many small
//! batches merged, and must match the expected bins, counts, distances, test
//! results and data-quality shares. Windows keep every value exactly here
//! (`WindowOptions::unbounded`, as `driftgauge check` does); the streaming
//! default, which counts windows beyond 10,000 values on a grid, must agree
//! with them within the error bounds its report states.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use driftgauge_detectors::baseline::{
    ColumnProfile, ColumnProfileBuilder, ColumnStats, ProfileOptions,
};
use driftgauge_detectors::column::ColumnKind;
use driftgauge_detectors::drift::{ColumnAccumulator, ColumnDrift, DriftOptions, WindowOptions};
use serde_json::Value;

use crate::support::json_float as float;

/// Distances agree to this relative error (only summation order differs).
const DISTANCE_RELATIVE: f64 = 1e-9;
/// Hellinger's and JS's `sqrt` of a difference near 0 turns rounding into
/// absolute error, so values below this are compared absolutely.
const ABSOLUTE_FLOOR: f64 = 1e-12;
/// p-values agree to this absolute error.
const P_VALUE_ABSOLUTE: f64 = 1e-6;

fn array(kind: &str, values: &[Value]) -> ArrayRef {
    match kind {
        "numeric" => Arc::new(values.iter().map(float).collect::<Float64Array>()),
        "categorical" => Arc::new(values.iter().map(Value::as_str).collect::<StringArray>()),
        other => panic!("unknown kind {other}"),
    }
}

fn close(case: &str, what: &str, actual: Option<f64>, expected: &Value, relative: f64) {
    let expected = float(expected);
    let ok = match (actual, expected) {
        (None, None) => true,
        (Some(a), Some(e)) if a.is_nan() || e.is_nan() => a.is_nan() && e.is_nan(),
        (Some(a), Some(e)) if a.is_infinite() || e.is_infinite() => a == e,
        (Some(a), Some(e)) => (a - e).abs() <= (relative * e.abs()).max(ABSOLUTE_FLOOR),
        _ => false,
    };
    assert!(ok, "{case}: {what} = {actual:?}, expected {expected:?}");
}

fn p_close(case: &str, what: &str, actual: Option<f64>, expected: &Value) {
    let expected = float(expected);
    let ok = match (actual, expected) {
        (None, None) => true,
        (Some(a), Some(e)) if a.is_nan() || e.is_nan() => a.is_nan() && e.is_nan(),
        (Some(a), Some(e)) => (a - e).abs() <= P_VALUE_ABSOLUTE,
        _ => false,
    };
    assert!(ok, "{case}: {what} = {actual:?}, expected {expected:?}");
}

fn fit(kind: &str, reference: &dyn Array) -> ColumnProfile {
    let kind = if kind == "numeric" { ColumnKind::Numeric } else { ColumnKind::Categorical };
    let mut builder = ColumnProfileBuilder::new(kind, false);
    builder.update("x", reference).unwrap();
    builder.finish("x", &ProfileOptions::default())
}

fn compare(
    profile: &ColumnProfile,
    current: &ArrayRef,
    batch: usize,
    window: &WindowOptions,
) -> ColumnDrift {
    let mut merged = ColumnAccumulator::with_options(profile, window).unwrap();
    let mut start = 0;
    while start < current.len() {
        let len = batch.min(current.len() - start);
        let mut part = ColumnAccumulator::with_options(profile, window).unwrap();
        part.update("x", current.slice(start, len).as_ref()).unwrap();
        merged.merge(&part);
        start += len;
    }
    merged.finish(profile, &DriftOptions::default())
}

fn check_fixture(path: &Path) {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = fixture["case"].as_str().unwrap();
    let kind = fixture["kind"].as_str().unwrap();
    let e = &fixture["expected"];
    assert_eq!(fixture["epsilon"].as_f64(), Some(DriftOptions::default().epsilon));
    let reference = array(kind, fixture["reference"].as_array().unwrap());
    let current = array(kind, fixture["current"].as_array().unwrap());

    let profile = fit(kind, reference.as_ref());
    let exact = WindowOptions::unbounded();
    let report = compare(&profile, &current, usize::MAX, &exact);
    let split = compare(&profile, &current, 7, &exact);
    assert_eq!(format!("{report:?}"), format!("{split:?}"), "{case}: split changed the report");
    check_bounded_window(case, &profile, &current, &report);

    let counts = |v: &Value| -> Vec<u64> {
        v.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect()
    };
    assert_eq!(report.reference_counts, counts(&e["reference_counts"]), "{case}: reference counts");
    assert_eq!(report.current_counts, counts(&e["current_counts"]), "{case}: current counts");

    match &profile.stats {
        ColumnStats::Numeric(p) => {
            let edges: Vec<f64> =
                e["edges"].as_array().unwrap().iter().map(|v| float(v).unwrap()).collect();
            assert_eq!(p.edges, edges, "{case}: edges");
            let missing = &e["reference_missing"];
            assert_eq!(
                [p.missing.null, p.missing.nan, p.missing.pos_inf, p.missing.neg_inf],
                ["null", "nan", "pos_inf", "neg_inf"].map(|k| missing[k].as_u64().unwrap()),
                "{case}: reference missing counts"
            );
            let range = p.range.unwrap();
            close(case, "min", Some(range.min), &e["reference_min"], 0.0);
            close(case, "max", Some(range.max), &e["reference_max"], 0.0);
            close(case, "mean", Some(range.mean), &e["reference_mean"], DISTANCE_RELATIVE);
            close(case, "std", Some(range.std), &e["reference_std"], DISTANCE_RELATIVE);
            let ks = report.ks;
            close(case, "ks statistic", ks.map(|k| k.test.statistic), &e["ks"]["statistic"], 1e-12);
            p_close(case, "ks p auto", ks.map(|k| k.test.p_value), &e["ks"]["p_auto"]);
            p_close(case, "ks p asymp", ks.map(|k| k.p_value_asymp), &e["ks"]["p_asymp"]);
            if e["ks"].is_null() {
                assert!(ks.is_none(), "{case}: ks should be absent");
            }
            close(case, "wasserstein", report.wasserstein, &e["wasserstein"], DISTANCE_RELATIVE);
            close(
                case,
                "wasserstein normed",
                report.wasserstein_normed,
                &e["wasserstein_normed"],
                DISTANCE_RELATIVE,
            );
        }
        ColumnStats::Categorical(_) => {
            let categories: Vec<&str> =
                e["categories"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(report.categories.as_deref().unwrap(), categories, "{case}: categories");
            close(
                case,
                "z statistic",
                report.z.map(|z| z.statistic),
                &e["z"]["statistic"],
                DISTANCE_RELATIVE,
            );
            p_close(case, "z p", report.z.map(|z| z.p_value), &e["z"]["p_value"]);
        }
    }
    let current_missing = &report.data_quality.missing;
    assert_eq!(
        [
            current_missing.null,
            current_missing.nan,
            current_missing.pos_inf,
            current_missing.neg_inf
        ],
        ["null", "nan", "pos_inf", "neg_inf"].map(|k| e["current_missing"][k].as_u64().unwrap()),
        "{case}: current missing counts"
    );

    close(case, "psi", report.psi, &e["psi"], DISTANCE_RELATIVE);
    close(case, "kl(ref||cur)", report.kl_reference_current, &e["kl_ref_cur"], DISTANCE_RELATIVE);
    close(case, "kl(cur||ref)", report.kl_current_reference, &e["kl_cur_ref"], DISTANCE_RELATIVE);
    close(case, "js base e", report.jensen_shannon, &e["js_e"], DISTANCE_RELATIVE);
    close(case, "js base 2", report.jensen_shannon_base2, &e["js_2"], DISTANCE_RELATIVE);
    close(case, "hellinger", report.hellinger, &e["hellinger"], DISTANCE_RELATIVE);

    let gof = &e["chisquare_gof"];
    close(
        case,
        "chi-square statistic",
        report.chi_square.map(|c| c.statistic),
        &gof["statistic"],
        DISTANCE_RELATIVE,
    );
    p_close(case, "chi-square p", report.chi_square.map(|c| c.p_value), &gof["p_value"]);
    let table = &e["chi2_contingency"];
    let contingency = report.chi_square_contingency;
    close(
        case,
        "contingency statistic",
        contingency.map(|c| c.statistic),
        &table["statistic"],
        DISTANCE_RELATIVE,
    );
    p_close(case, "contingency p", contingency.map(|c| c.p_value), &table["p_value"]);
    assert_eq!(contingency.map(|c| c.dof as u64), table["dof"].as_u64(), "{case}: contingency dof");

    let quality = &e["data_quality"];
    assert_eq!(Some(report.data_quality.rows), quality["rows"].as_u64(), "{case}: rows");
    close(
        case,
        "missing share",
        report.data_quality.missing_share,
        &quality["missing_share"],
        1e-15,
    );
    close(
        case,
        "out-of-range share",
        report.data_quality.out_of_range_share,
        &quality["out_of_range_share"],
        1e-15,
    );
    close(case, "unseen share", report.data_quality.unseen_share, &quality["unseen_share"], 1e-15);
}

/// The streaming default agrees with the exact report: identically up to
/// its cap, within its stated bounds beyond.
fn check_bounded_window(
    case: &str,
    profile: &ColumnProfile,
    current: &ArrayRef,
    exact: &ColumnDrift,
) {
    let window = WindowOptions::default();
    let bounded = compare(profile, current, usize::MAX, &window);
    let split = compare(profile, current, 4099, &window);
    assert_eq!(
        format!("{bounded:?}"),
        format!("{split:?}"),
        "{case}: split changed the bounded report"
    );
    let Some(ks) = bounded.ks.filter(|k| k.statistic_error_bound.is_some()) else {
        assert_eq!(format!("{bounded:?}"), format!("{exact:?}"), "{case}: below the cap");
        return;
    };
    assert!(current.len() as u64 > window.exact_cap, "{case}: gridded below the cap");
    let (d, d_exact, bound) =
        (ks.test.statistic, exact.ks.unwrap().test.statistic, ks.statistic_error_bound.unwrap());
    assert!(
        d <= d_exact + 1e-12 && d_exact <= d + bound + 1e-12,
        "{case}: KS {d} vs {d_exact} ± {bound}"
    );
    let (w, w_exact) = (bounded.wasserstein.unwrap(), exact.wasserstein.unwrap());
    let w_bound = bounded.wasserstein_error_bound.unwrap();
    assert!(
        (w - w_exact).abs() <= w_bound + 1e-9 * w_exact,
        "{case}: W {w} vs {w_exact} ± {w_bound}"
    );
    // Binned statistics and data quality never depend on the grid.
    assert_eq!(
        (bounded.psi, bounded.hellinger, &bounded.current_counts),
        (exact.psi, exact.hellinger, &exact.current_counts),
        "{case}"
    );
    assert_eq!(bounded.data_quality, exact.data_quality, "{case}");
}

#[test]
fn reference_fitted_mode_matches_scipy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/drift");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|x| x == "json"));
    paths.sort();
    assert!(paths.len() >= 13, "fixtures missing from {}", dir.display());
    for path in &paths {
        check_fixture(path);
    }
}
