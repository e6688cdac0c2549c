//! Human-readable and JSON renderings of a check report.

use driftgauge_detectors::drift::ColumnDrift;

use crate::check::CheckReport;

/// The report as an aligned text table followed by the dataset verdict.
pub fn table(report: &CheckReport) -> String {
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
    let rows: Vec<[String; 12]> = report.columns.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    out.push_str(&format!(
        "driftgauge check ({} mode): {} ({} rows) against {}\n",
        report.mode,
        report.current.display(),
        report.current_rows,
        report.reference.display()
    ));
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, &width)| format!("{cell:<width$}")).collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    let d = &report.dataset;
    out.push_str(&format!(
        "\ndataset drift: {} of {} columns drifted ({:.1}%, threshold {:.1}%): {}\n",
        d.drifted_columns,
        d.columns,
        d.share * 100.0,
        d.threshold * 100.0,
        if d.drifted { "DRIFT" } else { "no drift" }
    ));
    out
}

fn row(c: &ColumnDrift) -> [String; 12] {
    let quality = &c.data_quality;
    [
        c.column.clone(),
        c.kind.name().to_owned(),
        format!("{:?}", c.decision.test).to_lowercase(),
        number(c.decision.score),
        number(Some(c.decision.threshold)),
        if c.decision.drifted { "DRIFT".into() } else { "no".into() },
        number(c.psi),
        number(c.ks.map(|k| k.test.p_value)),
        number(c.wasserstein_normed),
        percent(quality.missing_share),
        percent(quality.out_of_range_share),
        percent(quality.unseen_share),
    ]
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(x) if x.is_nan() => "NaN".into(),
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
        assert_eq!(percent(Some(0.5)), "50.00%");
    }
}
