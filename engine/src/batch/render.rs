//! Human-readable rendering of a check report (JSON is the report's serde form).

use driftgauge_detectors::decision::{Correction, Status};
use driftgauge_detectors::drift::{Approximation, ColumnDrift};

use crate::batch::check::{CheckReport, ColumnReports, EvidentlyColumn};
use crate::batch::model::{ModelReport, Quality};

/// The report as aligned text tables followed by the dataset verdict.
pub fn table(report: &CheckReport) -> String {
    let mut out = format!(
        "driftgauge check ({} mode): {} ({} rows) against {}\n",
        report.mode,
        report.current.display(),
        report.current_rows,
        report.reference.display()
    );
    match &report.columns {
        ColumnReports::Default(columns) => {
            let header = [
                "column",
                "kind",
                "test",
                "score",
                "threshold",
                "drift",
                "psi",
                "ks p",
                "wass/std",
                "missing",
                "out of range",
                "unseen",
            ];
            out.push_str(&aligned(&header, columns.iter().map(default_row).collect()));
            out.push_str(&approximations(columns));
        }
        ColumnReports::Evidently(columns) => out.push_str(&aligned(
            &["column", "kind", "test", "score", "threshold", "drift"],
            columns.iter().map(evidently_row).collect(),
        )),
    }
    let d = &report.dataset;
    match &d.corrected {
        None => out.push_str(&format!(
            "\ndataset drift: {} of {} columns drifted ({:.1}%, threshold {:.1}%): {}\n",
            d.drifted_columns,
            d.columns,
            d.share * 100.0,
            d.threshold * 100.0,
            if d.drifted { "DRIFT" } else { "no drift" }
        )),
        Some(c) => out.push_str(&format!(
            "\ndataset drift: {} of {} columns drifted ({} insufficient; {}, alpha {}: \
             a column drifts at p <= {}): {}\n",
            d.drifted_columns,
            d.columns,
            c.insufficient_columns,
            match c.correction {
                Correction::Holm => "Holm",
                Correction::BenjaminiHochberg => "Benjamini-Hochberg",
            },
            c.alpha,
            number(Some(c.level)),
            if d.drifted {
                "DRIFT"
            } else if c.decided_columns == 0 {
                "insufficient data"
            } else {
                "no drift"
            }
        )),
    }
    for skipped in &report.skipped {
        out.push_str(&format!(
            "skipped `{}` ({}): {}\n",
            skipped.column, skipped.data_type, skipped.reason
        ));
    }
    if let Some(model) = &report.model {
        out.push_str(&model_tables(model));
    }
    out
}

fn aligned(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let padded: Vec<String> =
            row.iter().zip(&widths).map(|(cell, &width)| format!("{cell:<width$}")).collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn verdict(drifted: bool) -> String {
    if drifted { "DRIFT".into() } else { "no".into() }
}

fn default_row(c: &ColumnDrift) -> Vec<String> {
    let quality = &c.data_quality;
    vec![
        c.column.clone(),
        c.kind.name().to_owned(),
        c.decision.test.name().to_owned(),
        number(c.decision.score),
        number(Some(c.decision.threshold)),
        if c.decision.status == Some(Status::Insufficient) {
            "insufficient".into()
        } else {
            verdict(c.decision.drifted)
        },
        number(c.psi),
        number(c.ks.map(|k| k.test.p_value)),
        number(c.wasserstein_normed),
        percent(quality.missing_share),
        percent(quality.out_of_range_share),
        percent(quality.unseen_share),
    ]
}

/// One line per column whose comparison with a stored baseline is not exact:
/// what the baseline left out and how far the statistics can be off.
fn approximations(columns: &[ColumnDrift]) -> String {
    let mut out = String::new();
    for c in columns {
        let Some(approximation) = &c.approximate else { continue };
        if out.is_empty() {
            out.push_str("\napproximate comparisons (the baseline keeps part of the reference):\n");
        }
        let note = match approximation {
            Approximation::FoldedCategories {
                kept,
                reference_categories,
                reference_rows,
                current_categories,
                current_rows,
            } => format!(
                "the baseline lists {kept} categories and folded {reference_categories} more \
                 ({reference_rows} rows) into (other); {current_categories} current categories \
                 it does not list ({current_rows} rows) are compared with them as one bin, none \
                 is counted unseen, and the Z-test is not computed"
            ),
            Approximation::CompressedReference {
                points,
                count,
                ks_statistic_error_bound,
                wasserstein_error_bound,
            } => format!(
                "the baseline keeps {points} quantile points of {count} values; the KS statistic \
                 is within {} and Wasserstein within {} of the exact values",
                number(Some(*ks_statistic_error_bound)),
                number(Some(*wasserstein_error_bound))
            ),
        };
        out.push_str(&format!("  {}: {note}\n", c.column));
    }
    out
}

fn evidently_row(c: &EvidentlyColumn) -> Vec<String> {
    vec![
        c.column.clone(),
        c.kind.name().to_owned(),
        c.drift.test.name().to_owned(),
        number(Some(c.drift.score)),
        number(Some(c.drift.threshold)),
        verdict(c.drift.drifted),
    ]
}

fn model_tables(model: &ModelReport) -> String {
    let mut out = String::from("\nmodel quality\n");
    let files = [("reference", model.reference.as_ref()), ("current", Some(&model.current))];
    let present = files.iter().filter_map(|(name, q)| q.map(|q| (*name, q)));
    match &model.current {
        Quality::Classification(_) => {
            let rows = present
                .filter_map(|(name, q)| match q {
                    Quality::Classification(r) => Some(vec![
                        name.to_owned(),
                        r.rows.to_string(),
                        number(Some(r.accuracy)),
                        number(Some(r.precision)),
                        number(Some(r.recall)),
                        number(Some(r.f1)),
                        number(r.roc_auc),
                        number(r.log_loss),
                        percent(Some(r.positive_rate)),
                    ]),
                    Quality::Regression(_) => None,
                })
                .collect();
            out.push_str(&aligned(
                &[
                    "data",
                    "rows",
                    "accuracy",
                    "precision",
                    "recall",
                    "f1",
                    "roc auc",
                    "log loss",
                    "positive rate",
                ],
                rows,
            ));
        }
        Quality::Regression(_) => {
            let rows = present
                .filter_map(|(name, q)| match q {
                    Quality::Regression(r) => Some(vec![
                        name.to_owned(),
                        r.rows.to_string(),
                        number(Some(r.mae)),
                        number(Some(r.rmse)),
                        number(Some(r.mape)),
                        number(Some(r.r2)),
                    ]),
                    Quality::Classification(_) => None,
                })
                .collect();
            out.push_str(&aligned(&["data", "rows", "mae", "rmse", "mape", "r2"], rows));
        }
    }
    for slice in &model.fairness {
        let r = &slice.report;
        out.push_str(&format!("\nfairness by `{}` (current)\n", slice.attribute));
        let rows = r
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    g.count.to_string(),
                    percent(Some(g.selection_rate)),
                    number(Some(g.tpr)),
                    number(Some(g.fpr)),
                    number(Some(g.accuracy)),
                    if g.included { "yes".into() } else { "no (too small)".into() },
                ]
            })
            .collect();
        out.push_str(&aligned(
            &["group", "rows", "selection", "tpr", "fpr", "accuracy", "included"],
            rows,
        ));
        out.push_str(&format!(
            "demographic parity difference {} ratio {}; equal opportunity difference {} ratio {}; equalized odds difference {} ratio {}\n",
            number(r.demographic_parity_difference),
            number(r.demographic_parity_ratio),
            number(r.equal_opportunity_difference),
            number(r.equal_opportunity_ratio),
            number(r.equalized_odds_difference),
            number(r.equalized_odds_ratio),
        ));
    }
    out
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) if x.is_infinite() => if x > 0.0 { "inf" } else { "-inf" }.into(),
        Some(x) if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) => format!("{x:.3e}"),
        Some(x) => format!("{x:.4}"),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".into(), |s| format!("{:.2}%", s * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_readable_at_every_scale() {
        assert_eq!(number(None), "-");
        assert_eq!(number(Some(0.0)), "0.0000");
        assert_eq!(number(Some(0.12345)), "0.1235");
        assert_eq!(number(Some(2.5e-7)), "2.500e-7");
        assert_eq!(number(Some(f64::INFINITY)), "inf");
        assert_eq!(percent(Some(0.5)), "50.00%");
    }

    #[test]
    fn tables_align_columns() {
        let text = aligned(&["a", "bb"], vec![vec!["long".into(), "x".into()]]);
        assert_eq!(text, "a     bb\nlong  x\n");
    }
}
