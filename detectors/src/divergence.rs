//! Distances and tests between two binned distributions.
//!
//! Every function takes the reference first. Inputs are aligned vectors: one
//! entry per bin or category, in the same order for both samples.
//!
//! | statistic | direction | log | empty bins |
//! |---|---|---|---|
//! | [`psi`] | symmetric: `sum (q - p) ln(q / p)` | natural | zeros replaced by epsilon, no renormalisation |
//! | [`kl_divergence`] | `KL(p ‖ q) = sum p ln(p / q)`, p = reference | natural | zeros replaced by epsilon, then both renormalised (as `scipy.stats.entropy`) |
//! | [`jensen_shannon`] | symmetric distance `sqrt((KL(p‖m) + KL(q‖m)) / 2)` | natural or base 2 | none needed (`0 ln 0 = 0`) |
//! | [`hellinger`] | symmetric, `sqrt(1 - sum sqrt(p q))` | — | none needed |
//! | [`chi_square_gof`] | current observed against reference-expected | — | an expected zero with observations gives `inf`, p = 0 |
//! | [`chi_square_contingency`] | 2 × K homogeneity, no continuity correction | — | all-zero columns dropped |
//! | [`two_proportion_z`] | reference share minus current share | — | — |

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Proportions of `counts` over their total (all zeros when the total is 0).
pub fn proportions(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts.iter().map(|&c| if total == 0 { 0.0 } else { c as f64 / total as f64 }).collect()
}

/// Replaces zero proportions by `epsilon`, leaving the rest as they are (the
/// reference-fitted mode's smoothing; the vector is not renormalised).
pub fn fill_zeros(proportions: &[f64], epsilon: f64) -> Vec<f64> {
    proportions.iter().map(|&p| if p == 0.0 { epsilon } else { p }).collect()
}

/// Population stability index `sum (q - p) ln(q / p)` over smoothed
/// proportions (reference `p`, current `q`). Natural log.
pub fn psi(reference: &[f64], current: &[f64]) -> f64 {
    pairwise_sum(reference.iter().zip(current).map(|(&p, &q)| (q - p) * (q / p).ln()))
}

/// Kullback-Leibler divergence `KL(p ‖ q)` in nats, after renormalising both
/// vectors to sum 1, as `scipy.stats.entropy(p, q)`. Infinite when `q` is
/// zero where `p` is not.
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq) = (pairwise_sum(p.iter().copied()), pairwise_sum(q.iter().copied()));
    pairwise_sum(p.iter().zip(q).map(|(&a, &b)| rel_entr(a / sp, b / sq)))
}

/// Jensen-Shannon **distance** (the square root of the divergence) between
/// `p` and `q`, renormalised, as `scipy.spatial.distance.jensenshannon`.
/// `base` = `None` for natural log (maximum `sqrt(ln 2)`), `Some(2.0)` for
/// a maximum of 1.
pub fn jensen_shannon(p: &[f64], q: &[f64], base: Option<f64>) -> f64 {
    let (sp, sq) = (pairwise_sum(p.iter().copied()), pairwise_sum(q.iter().copied()));
    let terms = p.iter().zip(q).map(|(&a, &b)| {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        (rel_entr(a, m), rel_entr(b, m))
    });
    let (left, right): (Vec<f64>, Vec<f64>) = terms.unzip();
    let mut js = pairwise_sum(left.into_iter()) + pairwise_sum(right.into_iter());
    if let Some(base) = base {
        js /= base.ln();
    }
    (js / 2.0).sqrt()
}

/// Hellinger distance `sqrt(1 - sum sqrt(p q))` between two proportion
/// vectors, clipped to [0, 1]; equals `‖sqrt p − sqrt q‖₂ / sqrt 2`.
pub fn hellinger(p: &[f64], q: &[f64]) -> f64 {
    let bc = pairwise_sum(p.iter().zip(q).map(|(&a, &b)| (a * b).sqrt()));
    (1.0 - bc.clamp(0.0, 1.0)).sqrt()
}

/// `x ln(x / y)` with the conventions of `scipy.special.rel_entr`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// A test statistic with its p-value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    /// The statistic (`+inf` for a chi-square goodness of fit with a bin the
    /// reference never saw; written to JSON as `"Infinity"`, see [`crate::json`]).
    #[serde(with = "crate::json::float")]
    pub statistic: f64,
    /// Its p-value (NaN when undefined, as scipy's).
    #[serde(with = "crate::json::float")]
    pub p_value: f64,
}

/// Chi-square goodness of fit of the current counts against the reference
/// distribution scaled to the current total (`scipy.stats.chisquare` with
/// `f_exp = ref * n_cur / n_ref`), K − 1 degrees of freedom. A bin the
/// reference never saw but the current sample did gives an infinite
/// statistic and p = 0; a bin empty in both gives NaN, as in scipy.
pub fn chi_square_gof(reference: &[u64], current: &[u64]) -> TestResult {
    let (n_ref, n_cur) = (total(reference), total(current));
    let scale = n_cur as f64 / n_ref as f64;
    let statistic = pairwise_sum(reference.iter().zip(current).map(|(&r, &c)| {
        let expected = r as f64 * scale;
        let diff = c as f64 - expected;
        diff * diff / expected
    }));
    TestResult { statistic, p_value: chi2_sf(statistic, reference.len().saturating_sub(1)) }
}

/// Chi-square test of homogeneity on the 2 × K table of reference and
/// current counts (`scipy.stats.chi2_contingency`, `correction=False`),
/// with all-zero columns dropped first. Also returns the degrees of freedom.
pub fn chi_square_contingency(reference: &[u64], current: &[u64]) -> (TestResult, usize) {
    let columns: Vec<(u64, u64)> =
        reference.iter().zip(current).map(|(&r, &c)| (r, c)).filter(|&(r, c)| r + c > 0).collect();
    let (n_ref, n_cur) = (total(reference) as f64, total(current) as f64);
    let dof = columns.len().saturating_sub(1);
    if dof == 0 || n_ref == 0.0 || n_cur == 0.0 {
        return (TestResult { statistic: 0.0, p_value: 1.0 }, dof);
    }
    let n = n_ref + n_cur;
    let statistic = pairwise_sum(columns.iter().flat_map(|&(r, c)| {
        let column = (r + c) as f64;
        let (e_ref, e_cur) = (n_ref * column / n, n_cur * column / n);
        [(r as f64 - e_ref).powi(2) / e_ref, (c as f64 - e_cur).powi(2) / e_cur]
    }));
    let p_value = chi2_sf(statistic, dof);
    (TestResult { statistic, p_value }, dof)
}

/// The chi-square test of homogeneity on reference and window counts whose
/// bins are pooled, by the reference's shares alone, so that each pooled bin
/// expects at least `min_expected` window rows; with its degrees of freedom.
///
/// Bins are taken from the smallest reference share up; a bin joins the open
/// group until the group expects `min_expected` rows, and a last group short
/// of it joins the one before. Bins the reference never saw (categories new in
/// the window) pool with the rarest ones. Pooling depends on the reference and
/// the window's size only, never on the window's counts, so the test keeps its
/// level; with every bin large enough it is `scipy.stats.chi2_contingency`
/// (`correction=False`). `None` when the window has fewer than `min_rows`
/// rows or fewer than two groups can be formed.
pub fn pooled_contingency(
    reference: &[u64],
    current: &[u64],
    min_rows: u64,
    min_expected: f64,
) -> Option<(TestResult, usize)> {
    let (m, n) = (reference.iter().sum::<u64>(), current.iter().sum::<u64>());
    if n < min_rows || m == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..reference.len()).collect();
    order.sort_by_key(|&i| (reference[i], i));
    let expected = |count: u64| n as f64 * count as f64 / m as f64;
    let mut groups: Vec<(u64, u64)> = Vec::new();
    let (mut open, mut open_ref) = ((0u64, 0u64), 0u64);
    let mut has_open = false;
    for i in order {
        open.0 += reference[i];
        open.1 += current[i];
        open_ref += reference[i];
        has_open = true;
        if expected(open_ref) >= min_expected {
            groups.push(open);
            (open, open_ref, has_open) = ((0, 0), 0, false);
        }
    }
    if has_open {
        match groups.last_mut() {
            Some(last) => {
                last.0 += open.0;
                last.1 += open.1;
            }
            None => groups.push(open),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let (r, c): (Vec<u64>, Vec<u64>) = groups.into_iter().unzip();
    Some(chi_square_contingency(&r, &c))
}

/// Two-proportion Z-test: `z = (p1 − p2) / sqrt(P (1 − P) (1/n1 + 1/n2))`
/// with the pooled share `P`, reference first; two-sided
/// `p = 2 · sf(|z|)`, which stays exact in the far tail. When both samples
/// hold a single shared value (`P` is 0 or 1) the test is `z = 0, p = 1`.
pub fn two_proportion_z(ref_hits: u64, ref_n: u64, cur_hits: u64, cur_n: u64) -> TestResult {
    let (n1, n2) = (ref_n as f64, cur_n as f64);
    let (p1, p2) = (ref_hits as f64 / n1, cur_hits as f64 / n2);
    let pooled = (ref_hits + cur_hits) as f64 / (n1 + n2);
    if pooled == 0.0 || pooled == 1.0 {
        return TestResult { statistic: 0.0, p_value: 1.0 };
    }
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    TestResult { statistic: z, p_value: 2.0 * normal_sf(z.abs()) }
}

/// Upper tail of the standard normal distribution.
pub fn normal_sf(z: f64) -> f64 {
    Normal::standard().sf(z)
}

/// Upper tail of the chi-square distribution with `dof` degrees of freedom.
pub fn chi2_sf(statistic: f64, dof: usize) -> f64 {
    if statistic.is_nan() || dof == 0 {
        return f64::NAN;
    }
    if statistic == f64::INFINITY {
        return 0.0;
    }
    match ChiSquared::new(dof as f64) {
        Ok(chi2) => chi2.sf(statistic),
        Err(_) => f64::NAN,
    }
}

fn total(counts: &[u64]) -> u64 {
    counts.iter().sum()
}

/// Sums in pairs, as numpy does, so that the rounding error grows with the
/// logarithm of the length rather than the length.
pub(crate) fn pairwise_sum(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    pairwise(&values)
}

fn pairwise(values: &[f64]) -> f64 {
    if values.len() <= 8 {
        return values.iter().sum();
    }
    let mid = values.len() / 2;
    pairwise(&values[..mid]) + pairwise(&values[mid..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn scipy_reference_values() {
        let p = [0.1, 0.4, 0.5];
        let q = [0.8, 0.15, 0.05];
        // scipy 1.17.1: scipy.stats.entropy([0.1, 0.4, 0.5], [0.8, 0.15, 0.05])
        assert!(close(kl_divergence(&p, &q), 1.335_680_093_533_729_9, 1e-14));
        // scipy.spatial.distance.jensenshannon([0.1, 0.4, 0.5], [0.8, 0.15, 0.05])
        assert!(close(jensen_shannon(&p, &q, None), 0.539_685_872_175_716_6, 1e-14));
        // scipy.stats.chisquare([10, 20, 30], [20, 20, 20])
        let gof = chi_square_gof(&[20, 20, 20], &[10, 20, 30]);
        assert!(close(gof.statistic, 10.0, 1e-14));
        assert!(close(gof.p_value, 0.006_737_946_999_085_468, 1e-12));
    }

    #[test]
    fn unseen_bin_makes_gof_infinite() {
        let gof = chi_square_gof(&[10, 10, 0], &[10, 10, 1]);
        assert_eq!(gof.statistic, f64::INFINITY);
        assert_eq!(gof.p_value, 0.0);
    }

    #[test]
    fn single_shared_value_z_test_is_one() {
        assert_eq!(two_proportion_z(0, 10, 0, 5).p_value, 1.0);
        assert_eq!(two_proportion_z(10, 10, 5, 5).p_value, 1.0);
    }

    #[test]
    fn pooling_reaches_the_expected_count_and_needs_two_groups() {
        // 50 equal categories, 30 rows: 0.6 expected each, pooled by nine
        // (5.4), the last five (3.0) joining the fifth group.
        let reference = vec![100u64; 50];
        let mut current = vec![0u64; 50];
        current[..30].fill(1);
        let test = pooled_contingency(&reference, &current, 30, 5.0).unwrap();
        assert_eq!(test.1, 4, "five groups of at least 5 expected rows");
        // Large bins are left alone: scipy's chi2_contingency.
        let (plain, dof) = chi_square_contingency(&[500, 300, 200], &[50, 30, 20]);
        let pooled = pooled_contingency(&[500, 300, 200], &[50, 30, 20], 30, 5.0).unwrap();
        assert_eq!((pooled.0.p_value, pooled.1), (plain.p_value, dof));
        // Too few rows, or a single group: insufficient.
        assert!(pooled_contingency(&[500, 300], &[10, 9], 30, 5.0).is_none());
        assert!(pooled_contingency(&[900, 100], &[300, 3], 30, 5.0).is_some());
        assert!(pooled_contingency(&[995, 5], &[300, 3], 30, 5.0).is_none(), "1.5 expected");
        assert!(pooled_contingency(&[999, 1], &[30, 0], 30, 5.0).is_none());
    }

    proptest! {
        #[test]
        fn identities(counts in prop::collection::vec(0u64..1000, 2..30), other in prop::collection::vec(0u64..1000, 30)) {
            prop_assume!(counts.iter().sum::<u64>() > 0);
            let other = &other[..counts.len()];
            prop_assume!(other.iter().sum::<u64>() > 0);
            let p = fill_zeros(&proportions(&counts), 1e-4);
            let q = fill_zeros(&proportions(other), 1e-4);
            prop_assert_eq!(psi(&p, &p), 0.0);
            prop_assert!(psi(&p, &q) >= 0.0);
            prop_assert!(kl_divergence(&p, &q) >= -1e-15);
            let js = jensen_shannon(&p, &q, Some(2.0));
            prop_assert!((0.0..=1.0 + 1e-12).contains(&js));
            prop_assert!((0.0..=1.0).contains(&hellinger(&proportions(&counts), &proportions(other))));
        }
    }
}
