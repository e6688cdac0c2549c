//! Drift decisions with a stated false-alarm rate: the default way a window's
//! columns, and the window as a whole, are called drifted.
//!
//! A fixed distance threshold (PSI ≥ 0.1) means something different at every
//! window size: under no drift at all PSI is about `(1/n + 1/m) · χ²(bins − 1)`
//! (`n` window rows, `m` reference rows), so at 100 rows a 10-bin PSI passes
//! 0.1 in about a third of the windows, and at a million rows it never passes
//! 0.1 for shifts that matter. A share of drifted columns (Evidently's 0.5)
//! drowns a single drifted feature among twenty. This module decides instead
//! on p-values against a **false-alarm budget**:
//!
//! 1. **One test per column.** Numeric columns: the two-sample KS test (exact
//!    where scipy's is). Categorical columns, and numeric columns whose
//!    reference has a value holding at least [`DISCRETE_ATOM_SHARE`] of the
//!    rows (counts, ratings: KS with ties is conservative), the 2 × K
//!    chi-square test of homogeneity, which includes the reference's own
//!    sampling error, on the column's bins **pooled** so that every bin
//!    expects at least [`MIN_EXPECTED`] window rows ([`divergence::pooled_contingency`]).
//! 2. **Too little data is said.** A column with fewer than [`MIN_ROWS`]
//!    non-missing window values, or whose bins cannot be pooled into two
//!    groups that each expect [`MIN_EXPECTED`] rows, is
//!    [`Status::Insufficient`]: it neither drifts nor counts as stable, and it
//!    is left out of the family of tests.
//! 3. **A corrected level per window.** Over the decided columns of one
//!    window of one model, Holm's step-down procedure keeps the family-wise
//!    false-alarm rate (the chance that any column of a window without drift
//!    is called drifted) at `alpha`; Benjamini–Hochberg keeps the expected
//!    share of false discoveries among the drifted columns at `alpha` instead.
//!    Both reduce to one per-feature level `L` for the window
//!    ([`corrected_level`]): a column drifts when `p ≤ L`.
//! 4. **Effect sizes stay.** PSI, KL, JS, Hellinger and Wasserstein are still
//!    computed; [`MinEffect`] can require one of them as well, so that a
//!    million-row window does not alarm on a negligible shift. For users who
//!    decide on a distance, [`critical_values`] gives each distance's value
//!    that a window of this size exceeds with probability `L` when nothing
//!    drifted.
//! 5. **The dataset verdict** is drift when any column drifts under `L`.
//!
//! The share rule ([`DecisionRule::Share`]) stays available, and is what
//! Evidently mode uses.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::divergence;
use crate::drift::{ColumnDrift, DatasetDrift, DriftOptions, DriftTest};
use crate::sample::{self, SplitMix};

pub use crate::drift::{
    CorrectedVerdict, Correction, CriticalMethod, CriticalValue, DISCRETE_ATOM_SHARE, DecisionRule,
    MIN_EXPECTED, MIN_ROWS, MinEffect, Status,
};

/// The per-feature level that keeps the window's false-alarm rate at `alpha`,
/// given the p-values of the decided columns.
///
/// Holm rejects `p(1) ≤ α/m, p(2) ≤ α/(m−1), …` until the first failure; with
/// `k` rejections every rejected p-value is at most `α/(m−k)` and every other
/// is above it, so `L = α/(m−k)` (`α` when all are rejected).
/// Benjamini–Hochberg rejects the `k` smallest, `k` the largest `i` with
/// `p(i) ≤ iα/m`; then `L = kα/m` (`α/m` when `k = 0`). NaN p-values count
/// as 1.
pub fn corrected_level(p_values: &[f64], alpha: f64, correction: Correction) -> f64 {
    let m = p_values.len();
    if m == 0 {
        return alpha;
    }
    let mut sorted: Vec<f64> = p_values.iter().map(|&p| if p.is_nan() { 1.0 } else { p }).collect();
    sorted.sort_by(f64::total_cmp);
    match correction {
        Correction::Holm => {
            let k = sorted
                .iter()
                .enumerate()
                .take_while(|&(i, &p)| p <= alpha / (m - i) as f64)
                .count();
            if k == m { alpha } else { alpha / (m - k) as f64 }
        }
        Correction::BenjaminiHochberg => {
            let k = (1..=m).rev().find(|&i| sorted[i - 1] <= i as f64 * alpha / m as f64);
            k.map_or(alpha / m as f64, |k| k as f64 * alpha / m as f64)
        }
    }
}

/// Decides every column of one window of one model, and the window, under
/// `options`; returns the dataset verdict.
///
/// With [`DecisionRule::Corrected`], each column's p-value (set by
/// [`crate::drift::ColumnAccumulator::finish`]) is compared with the window's
/// [`corrected_level`] over the decided columns, and the minimum effect
/// applied. With [`DecisionRule::Share`] the columns keep the fixed-threshold
/// decisions `finish` made, and the window drifts when the share of drifted
/// columns among those that could be scored reaches `drift_share`.
///
/// [`attach_critical_values`] adds the distances' critical values.
pub fn decide_window(columns: &mut [ColumnDrift], options: &DriftOptions) -> DatasetDrift {
    match options.decision {
        DecisionRule::Share => DatasetDrift::from_decisions(
            columns.iter().filter(|c| c.decision.score.is_some()).map(|c| c.decision.drifted),
            options.drift_share,
        ),
        DecisionRule::Corrected => {
            let decided: Vec<f64> = columns
                .iter()
                .filter(|c| c.decision.status != Some(Status::Insufficient))
                .map(|c| c.decision.score.unwrap_or(1.0))
                .collect();
            let level = corrected_level(&decided, options.alpha, options.correction);
            for column in columns.iter_mut() {
                column.decide_at(level, options.min_effect);
            }
            let drifted_columns = columns.iter().filter(|c| c.decision.drifted).count();
            let share = if decided.is_empty() {
                0.0
            } else {
                drifted_columns as f64 / decided.len() as f64
            };
            DatasetDrift {
                columns: columns.len(),
                drifted_columns,
                share,
                threshold: options.alpha,
                drifted: drifted_columns > 0,
                corrected: Some(CorrectedVerdict {
                    alpha: options.alpha,
                    correction: options.correction,
                    level,
                    decided_columns: decided.len(),
                    insufficient_columns: columns.len() - decided.len(),
                    min_effect: options.min_effect,
                }),
            }
        }
    }
}

/// Sets each column's [`critical_values`] at the window's per-feature level:
/// the corrected level of `dataset`, or `alpha / columns` (Bonferroni) under
/// the share rule.
pub fn attach_critical_values(
    columns: &mut [ColumnDrift],
    dataset: &DatasetDrift,
    options: &DriftOptions,
) {
    let level = match &dataset.corrected {
        Some(c) => c.level,
        None => options.alpha / columns.len().max(1) as f64,
    };
    for column in columns.iter_mut() {
        column.critical_values = critical_values(column, level, options);
    }
}

/// Distances whose critical values are computed for every column (cheap:
/// closed form, or a small multinomial simulation). Wasserstein's needs a
/// bootstrap of the reference sample and is computed only when it decides or
/// is the minimum effect.
const BINNED_DISTANCES: [DriftTest; 4] =
    [DriftTest::Psi, DriftTest::Kl, DriftTest::JensenShannon, DriftTest::Hellinger];

/// Each distance's critical value for `column`'s window size at `level`.
///
/// * **Chi-square approximation** when every reference bin expects at least
///   [`MIN_EXPECTED`] rows in the window and holds that many in the
///   reference: with `c = (1/n + 1/m) · χ²(bins − 1)` quantile at `1 − level`,
///   PSI ≈ `c`, KL ≈ `c / 2`, JS distance (base e) and Hellinger ≈ `sqrt(c / 8)`.
/// * **Simulation** otherwise: reference and window counts drawn from the
///   reference's bin shares (multinomial, sizes `m` and `n`, a fixed seed),
///   the distance computed as the report does (ε fill for PSI and KL), and
///   the empirical `1 − level` quantile taken over 2,000 draws (below a
///   level of 1/2,000 that is the largest draw, which understates the
///   critical value).
/// * **Wasserstein** (numeric, when it decides or is the minimum effect):
///   `n' = min(n, 1000)` values drawn from the reference sample, 1,000 times;
///   the quantile is scaled by `sqrt(n' (1/n + 1/m))` to the window's size and
///   the reference's own noise (W1 shrinks as `1/sqrt(n)`), and normed as the
///   report is.
///
/// Nothing is returned for a window with no rows or a reference with fewer
/// than two non-empty bins.
pub fn critical_values(
    column: &ColumnDrift,
    level: f64,
    options: &DriftOptions,
) -> Vec<CriticalValue> {
    let (m, n) =
        (column.reference_counts.iter().sum::<u64>(), column.current_counts.iter().sum::<u64>());
    let bins: Vec<u64> = column.reference_counts.iter().copied().filter(|&c| c > 0).collect();
    if n == 0 || m == 0 || bins.len() < 2 || !(level > 0.0 && level < 1.0) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let approximation_holds = bins.iter().all(|&c| {
        let share = c as f64 / m as f64;
        n as f64 * share >= MIN_EXPECTED && c as f64 >= MIN_EXPECTED
    });
    if approximation_holds {
        let quantile = ChiSquared::new((bins.len() - 1) as f64)
            .map(|chi2| chi2.inverse_cdf(1.0 - level))
            .unwrap_or(f64::NAN);
        let c = (1.0 / n as f64 + 1.0 / m as f64) * quantile;
        for (statistic, value) in [
            (DriftTest::Psi, c),
            (DriftTest::Kl, c / 2.0),
            (DriftTest::JensenShannon, (c / 8.0).sqrt()),
            (DriftTest::Hellinger, (c / 8.0).sqrt()),
        ] {
            out.push(CriticalValue { statistic, value, level, method: CriticalMethod::ChiSquare });
        }
    } else {
        let values = simulate_binned(&column.reference_counts, n, level, options.epsilon);
        for (statistic, value) in BINNED_DISTANCES.into_iter().zip(values) {
            out.push(CriticalValue { statistic, value, level, method: CriticalMethod::Simulation });
        }
    }
    if options.wants_wasserstein() {
        if let Some(value) = wasserstein_critical(column, level) {
            out.push(CriticalValue {
                statistic: DriftTest::Wasserstein,
                value,
                level,
                method: CriticalMethod::Simulation,
            });
        }
    }
    out
}

/// Wasserstein's critical value (normed) from the bootstrap `finish` kept.
fn wasserstein_critical(column: &ColumnDrift, level: f64) -> Option<f64> {
    let null = column.wasserstein_null.as_deref()?;
    (!null.is_empty()).then(|| sample::quantile_linear(null, 1.0 - level))
}

/// The `1 − level` quantiles of PSI, KL, JS and Hellinger (in
/// [`BINNED_DISTANCES`] order) over multinomial draws from the reference's
/// shares.
fn simulate_binned(reference: &[u64], n: u64, level: f64, epsilon: f64) -> [f64; 4] {
    let m: u64 = reference.iter().sum();
    let shares: Vec<f64> = reference.iter().map(|&c| c as f64 / m as f64).collect();
    let draws = 2000;
    let mut rng = SplitMix::new(0x5EED ^ n.wrapping_mul(0x9E37_79B9) ^ m);
    let mut samples: [Vec<f64>; 4] = std::array::from_fn(|_| Vec::with_capacity(draws));
    let (mut r, mut c) = (vec![0u64; shares.len()], vec![0u64; shares.len()]);
    for _ in 0..draws {
        rng.multinomial(m, &shares, &mut r);
        rng.multinomial(n, &shares, &mut c);
        let (p, q) = (divergence::proportions(&r), divergence::proportions(&c));
        let (pe, qe) = (divergence::fill_zeros(&p, epsilon), divergence::fill_zeros(&q, epsilon));
        samples[0].push(divergence::psi(&pe, &qe));
        samples[1].push(divergence::kl_divergence(&pe, &qe));
        samples[2].push(divergence::jensen_shannon(&p, &q, None));
        samples[3].push(divergence::hellinger(&p, &q));
    }
    samples.map(|mut s| upper_quantile(&mut s, level))
}

/// The empirical `1 − level` quantile (numpy's `linear`).
fn upper_quantile(values: &mut [f64], level: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    sample::quantile_linear(values, 1.0 - level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_and_bh_levels_match_their_procedures() {
        // Holm: 0.01 <= 0.05/4, 0.02 > 0.05/3: one rejection, L = 0.05/3.
        let p = [0.01, 0.02, 0.03, 0.5];
        assert_eq!(corrected_level(&p, 0.05, Correction::Holm), 0.05 / 3.0);
        // BH: p(3) = 0.03 <= 3 * 0.05 / 4: three rejections, L = 0.0375.
        assert!((corrected_level(&p, 0.05, Correction::BenjaminiHochberg) - 0.0375).abs() < 1e-15);
        // Nothing significant: Bonferroni's level for both.
        let none = [0.2, 0.3];
        assert_eq!(corrected_level(&none, 0.05, Correction::Holm), 0.025);
        assert_eq!(corrected_level(&none, 0.05, Correction::BenjaminiHochberg), 0.025);
        // All rejected: alpha.
        assert_eq!(corrected_level(&[0.001, 0.002], 0.05, Correction::Holm), 0.05);
        assert_eq!(corrected_level(&[], 0.05, Correction::Holm), 0.05);
    }

    #[test]
    fn rejections_under_the_level_are_exactly_holms() {
        // Brute-force Holm against the single level, over many p-value sets.
        let mut rng = SplitMix::new(3);
        for _ in 0..2000 {
            let m = 1 + rng.below(8);
            let p: Vec<f64> = (0..m).map(|_| rng.uniform().powi(3)).collect();
            let level = corrected_level(&p, 0.05, Correction::Holm);
            let mut sorted = p.clone();
            sorted.sort_by(f64::total_cmp);
            let mut holm = 0;
            while holm < m && sorted[holm] <= 0.05 / (m - holm) as f64 {
                holm += 1;
            }
            assert_eq!(p.iter().filter(|&&x| x <= level).count(), holm, "{p:?}");
            let level = corrected_level(&p, 0.05, Correction::BenjaminiHochberg);
            let bh = (1..=m).rev().find(|&i| sorted[i - 1] <= i as f64 * 0.05 / m as f64);
            assert_eq!(p.iter().filter(|&&x| x <= level).count(), bh.unwrap_or(0), "{p:?}");
        }
    }

    #[test]
    fn binomial_and_multinomial_draws_have_the_right_moments() {
        let mut rng = SplitMix::new(9);
        for (n, p) in [(20u64, 0.1), (1000, 0.3), (50, 0.9), (100_000, 0.0001)] {
            let draws: Vec<f64> = (0..20_000).map(|_| rng.binomial(n, p) as f64).collect();
            let (mean, std) = sample::mean_std(&draws);
            let (want_mean, want_std) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
            assert!((mean - want_mean).abs() < 0.05 * want_std + 0.02, "{n} {p}: {mean}");
            assert!((std - want_std).abs() < 0.05 * want_std + 0.02, "{n} {p}: {std}");
        }
        let mut out = [0u64; 3];
        rng.multinomial(1000, &[0.5, 0.3, 0.2], &mut out);
        assert_eq!(out.iter().sum::<u64>(), 1000);
    }

    #[test]
    fn simulated_and_approximate_psi_critical_values_agree_where_both_hold() {
        // 10 equal bins, 1,000 window rows against 20,000: the chi-square
        // approximation holds; the simulation must land near it.
        let reference = vec![2000u64; 10];
        let level = 0.01;
        let simulated = simulate_binned(&reference, 1000, level, 1e-4);
        let chi2 = ChiSquared::new(9.0).unwrap().inverse_cdf(1.0 - level);
        let approx = (1.0 / 1000.0 + 1.0 / 20_000.0) * chi2;
        assert!((simulated[0] / approx - 1.0).abs() < 0.1, "{} vs {approx}", simulated[0]);
        assert!((simulated[1] / (approx / 2.0) - 1.0).abs() < 0.1, "{}", simulated[1]);
        let root = (approx / 8.0).sqrt();
        assert!((simulated[2] / root - 1.0).abs() < 0.1, "{}", simulated[2]);
        assert!((simulated[3] / root - 1.0).abs() < 0.1, "{}", simulated[3]);
    }
}
