//! A finished window's series in the metric catalogue.
//!
//! The catalogue ([`crate::observe::metrics`]) knows metric names, labels and
//! which label sets a model has written; this stage knows what a window
//! report holds and which of its values become which series.

use driftgauge_detectors::decision::Status;

use crate::observe::metrics::Metrics;
use crate::stream::compute::{WindowReport, statistic_name};

/// Writes the series of one closed window (and removes those of the model's
/// previous baseline version, if it changed).
pub fn export_window(metrics: &Metrics, report: &WindowReport) {
    metrics.window_compute.observe(report.compute_seconds);
    let mut series = metrics.window_series(&report.model, &report.version);
    series.window(
        report.end_ms as f64 / 1000.0,
        report.rows,
        report.dataset.share,
        report.dataset.is_decided().then_some(report.dataset.drifted),
    );

    for (column, statistics) in report.columns.iter().zip(&report.statistics) {
        let feature = column.column.as_str();
        for stat in statistics {
            series.statistic(
                feature,
                statistic_name(stat.test),
                stat.value,
                stat.p_value,
                stat.threshold,
                stat.drifted,
                stat.deciding,
                stat.critical_value,
            );
        }
        if let Some(status) = column.decision.status {
            series.insufficient(
                feature,
                statistic_name(column.decision.test),
                status == Status::Insufficient,
            );
        }
        let quality = &column.data_quality;
        for (check, share) in [
            ("missing", quality.missing_share),
            ("out_of_range", quality.out_of_range_share),
            ("unseen", quality.unseen_share),
        ] {
            if let Some(share) = share.filter(|s| !s.is_nan()) {
                series.data_quality(feature, check, share);
            }
        }
    }

    for fairness in &report.fairness {
        let attribute = fairness.attribute.as_str();
        for group in &fairness.selection.groups {
            series.group(attribute, group.group.as_str(), group.selection_rate, group.count);
        }
        let selection = &fairness.selection;
        let outcomes = &fairness.outcomes;
        for (metric, value) in [
            ("demographic_parity_difference", selection.demographic_parity_difference),
            ("demographic_parity_ratio", selection.demographic_parity_ratio),
            ("equal_opportunity_difference", outcomes.equal_opportunity_difference),
            ("equal_opportunity_ratio", outcomes.equal_opportunity_ratio),
            ("equalized_odds_difference", outcomes.equalized_odds_difference),
            ("equalized_odds_ratio", outcomes.equalized_odds_ratio),
        ] {
            series.disparity(attribute, metric, value.filter(|v| !v.is_nan()));
        }
    }
}
