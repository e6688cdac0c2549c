//! The binning kernel shared by every binned statistic.
//!
//! Instead of computing a bin index per value and scattering increments into a
//! histogram (a serial dependency through memory), the kernel counts, for each
//! threshold `t`, how many values satisfy `x >= t`. Bin counts are then
//! differences of neighbouring threshold counts. Each threshold is one pass of
//! compare-and-add over a block that sits in L1, which the compiler turns into
//! packed compares (four `f64` per instruction with AVX2), and the pass needs
//! no gather or scatter. With the ten decile bins the kernel makes twelve such
//! passes per block and still keeps up with memory (see `benches/binning.rs`).
//!
//! Comparisons with NaN are false and `+inf >= t` is true for every finite
//! `t`, so non-finite values are found with one extra pass (`|x| < inf` fails) and
//! corrected for block by block; blocks without them (the usual case) pay
//! nothing more. NaN and infinities are counted apart and never land in a bin.

use arrow_buffer::BooleanBuffer;

/// Values per block: 4 KiB of `f64`, so every threshold pass over a block
/// reads from L1.
const BLOCK: usize = 512;

/// Integer counts of a set of values against sorted thresholds.
///
/// `ge[j]` counts the finite values `x >= thresholds[j]`. Nulls, NaN, `+inf`
/// and `-inf` are counted separately and are not part of `ge`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThresholdCounts {
    /// Finite values at or above each threshold.
    pub ge: Vec<u64>,
    /// Finite values.
    pub finite: u64,
    /// Null slots.
    pub null: u64,
    /// NaN values.
    pub nan: u64,
    /// `+inf` values.
    pub pos_inf: u64,
    /// `-inf` values.
    pub neg_inf: u64,
}

impl ThresholdCounts {
    /// Zero counts for `thresholds` thresholds.
    pub fn new(thresholds: usize) -> Self {
        Self { ge: vec![0; thresholds], ..Self::default() }
    }

    /// Adds another set of counts over the same thresholds.
    ///
    /// # Panics
    /// If the two were made for a different number of thresholds.
    pub fn merge(&mut self, other: &Self) {
        assert_eq!(self.ge.len(), other.ge.len(), "threshold counts differ");
        for (a, b) in self.ge.iter_mut().zip(&other.ge) {
            *a += b;
        }
        self.finite += other.finite;
        self.null += other.null;
        self.nan += other.nan;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
    }

    /// Clears the counts, keeping the allocation.
    pub fn clear(&mut self) {
        self.ge.iter_mut().for_each(|c| *c = 0);
        self.finite = 0;
        self.null = 0;
        self.nan = 0;
        self.pos_inf = 0;
        self.neg_inf = 0;
    }

    /// Counts `values` (with an optional validity bitmap of the same length,
    /// `true` = valid) against `thresholds`.
    ///
    /// Uses AVX2 where the CPU has it and a portable path otherwise; both give
    /// the same integers.
    ///
    /// # Panics
    /// If `thresholds` is not as long as the counts were made for, or if the
    /// validity bitmap's length differs from `values`'.
    ///
    /// # Example
    /// ```
    /// use driftgauge_detectors::histogram::ThresholdCounts;
    /// let mut counts = ThresholdCounts::new(2);
    /// counts.update(&[0.5, 1.0, 2.5, f64::NAN, f64::INFINITY], None, &[1.0, 2.0]);
    /// assert_eq!(counts.ge, vec![2, 1]);
    /// assert_eq!((counts.finite, counts.nan, counts.pos_inf), (3, 1, 1));
    /// ```
    pub fn update(&mut self, values: &[f64], validity: Option<&BooleanBuffer>, thresholds: &[f64]) {
        assert_eq!(self.ge.len(), thresholds.len(), "threshold count changed");
        if let Some(validity) = validity {
            assert_eq!(validity.len(), values.len(), "validity length differs");
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { update_avx2(self, values, validity, thresholds) };
            return;
        }
        update_portable(self, values, validity, thresholds);
    }

    /// Bin counts for the `edges.len() + 1` bins `(-inf, e1)`, `[e1, e2)`,
    /// ..., `[ek, +inf)`, given that `ge[offset..offset + edges.len()]` holds
    /// the counts at the edges.
    pub fn bins(&self, offset: usize, edges: usize) -> Vec<u64> {
        let ge = &self.ge[offset..offset + edges];
        let mut bins = Vec::with_capacity(edges + 1);
        let mut above = self.finite;
        for &count in ge {
            bins.push(above - count);
            above = count;
        }
        bins.push(above);
        bins
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn update_avx2(
    counts: &mut ThresholdCounts,
    values: &[f64],
    validity: Option<&BooleanBuffer>,
    thresholds: &[f64],
) {
    // The same code as the portable path, compiled with AVX2 enabled so the
    // inlined passes use 256-bit compares.
    update_portable(counts, values, validity, thresholds);
}

#[inline(always)]
fn update_portable(
    counts: &mut ThresholdCounts,
    values: &[f64],
    validity: Option<&BooleanBuffer>,
    thresholds: &[f64],
) {
    match validity {
        None => {
            for block in values.chunks(BLOCK) {
                count_block_dense(counts, block, thresholds);
            }
        }
        Some(validity) => {
            // Validity words, 64 slots each (the last one padded with zeros).
            let chunks = validity.bit_chunks();
            let mut words =
                chunks.iter().chain((chunks.remainder_len() > 0).then(|| chunks.remainder_bits()));
            for block in values.chunks(BLOCK) {
                let mut block_words = [0u64; BLOCK / 64];
                let used = block.len().div_ceil(64);
                for word in &mut block_words[..used] {
                    *word = words.next().unwrap_or(0);
                }
                count_block_masked(counts, block, &block_words[..used], thresholds);
            }
        }
    }
}

/// Counts a block in which every slot is valid.
#[inline(always)]
fn count_block_dense(counts: &mut ThresholdCounts, block: &[f64], thresholds: &[f64]) {
    let non_finite = count(block, |x| !x.is_finite());
    for (ge, &t) in counts.ge.iter_mut().zip(thresholds) {
        *ge += count(block, |x| x >= t);
    }
    if non_finite == 0 {
        counts.finite += block.len() as u64;
    } else {
        classify_non_finite(counts, block.iter().copied());
    }
}

/// Counts a block whose validity is `words` (bit `i % 64` of word `i / 64`
/// for slot `i`).
///
/// Null slots are overwritten with NaN in a copy of the block, which every
/// threshold comparison rejects, so the passes are the dense ones: one select
/// per value instead of a mask per value and threshold.
#[inline(always)]
fn count_block_masked(
    counts: &mut ThresholdCounts,
    block: &[f64],
    words: &[u64],
    thresholds: &[f64],
) {
    let is_valid = |i: usize| (words[i / 64] >> (i % 64)) & 1 == 1;
    // Bits past the end of the array are zero (`remainder_bits` pads with zeros).
    let valid: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
    let nulls = block.len() as u64 - valid;
    if nulls == 0 {
        count_block_dense(counts, block, thresholds);
        return;
    }
    counts.null += nulls;
    let mut scratch = [0.0f64; BLOCK];
    let scratch = &mut scratch[..block.len()];
    for (i, (slot, &x)) in scratch.iter_mut().zip(block).enumerate() {
        *slot = if is_valid(i) { x } else { f64::NAN };
    }
    let scratch = &*scratch;
    // The nulls read as NaN here, so they are non-finite too.
    let non_finite = count(scratch, |x| !x.is_finite()) - nulls;
    for (ge, &t) in counts.ge.iter_mut().zip(thresholds) {
        *ge += count(scratch, |x| x >= t);
    }
    if non_finite == 0 {
        counts.finite += valid;
    } else {
        let valid_values = block.iter().enumerate().filter(|&(i, _)| is_valid(i)).map(|(_, &x)| x);
        classify_non_finite(counts, valid_values);
    }
}

/// Rare path: a block holds NaN or infinities. `+inf` was counted at every
/// threshold by the passes above, so take it back out.
#[cold]
fn classify_non_finite(counts: &mut ThresholdCounts, values: impl Iterator<Item = f64>) {
    let mut pos_inf = 0;
    for x in values {
        if x.is_finite() {
            counts.finite += 1;
        } else if x.is_nan() {
            counts.nan += 1;
        } else if x > 0.0 {
            pos_inf += 1;
        } else {
            counts.neg_inf += 1;
        }
    }
    counts.pos_inf += pos_inf;
    counts.ge.iter_mut().for_each(|ge| *ge -= pos_inf);
}

/// How many values satisfy `pred`. Written as a plain sum of 0/1 so LLVM
/// vectorises it as a packed compare (memory operand) and a subtract of the
/// all-ones mask, unrolled over independent accumulators. Hand-made lanes
/// (`[u64; 8]` indexed per chunk) defeated that and compiled to scalar
/// loads, three times slower.
#[inline(always)]
fn count(block: &[f64], pred: impl Fn(f64) -> bool) -> u64 {
    block.iter().map(|&x| u64::from(pred(x))).sum()
}

/// Index of the bin `x` falls in, for the open-ended bins over `edges`
/// (`searchsorted(edges, x, side='right')`). The scalar reference that the
/// kernel is tested against, and the tool for already-sorted data.
pub fn bin_index(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e <= x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(values: &[f64], valid: Option<&[bool]>, thresholds: &[f64]) -> ThresholdCounts {
        let mut out = ThresholdCounts::new(thresholds.len());
        for (i, &x) in values.iter().enumerate() {
            if valid.is_some_and(|v| !v[i]) {
                out.null += 1;
            } else if x.is_nan() {
                out.nan += 1;
            } else if x == f64::INFINITY {
                out.pos_inf += 1;
            } else if x == f64::NEG_INFINITY {
                out.neg_inf += 1;
            } else {
                out.finite += 1;
                for (ge, &t) in out.ge.iter_mut().zip(thresholds) {
                    *ge += u64::from(x >= t);
                }
            }
        }
        out
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => -5.0f64..5.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => (-3i32..3).prop_map(f64::from),
        ]
    }

    proptest! {
        #[test]
        fn kernel_matches_scalar_reference(
            values in prop::collection::vec(value(), 0..1500),
            valid_seed in prop::collection::vec(any::<bool>(), 1500),
            offset in 0usize..70,
            mut thresholds in prop::collection::vec(-4.0f64..4.0, 0..12),
            with_nulls in any::<bool>(),
        ) {
            thresholds.sort_by(f64::total_cmp);
            let offset = offset.min(values.len());
            let values = &values[offset..];
            let valid = &valid_seed[..values.len()];
            // A sliced bitmap exercises unaligned bit offsets.
            let full: BooleanBuffer = valid_seed.iter().copied().collect();
            let bitmap = full.slice(0, values.len());
            let mut counts = ThresholdCounts::new(thresholds.len());
            counts.update(values, with_nulls.then_some(&bitmap), &thresholds);
            let expected = naive(values, with_nulls.then_some(valid), &thresholds);
            prop_assert_eq!(counts, expected);
        }
    }

    #[test]
    fn unaligned_validity_offset() {
        let valid: BooleanBuffer = (0..200).map(|i| i % 3 != 0).collect();
        let sliced = valid.slice(5, 130);
        let values: Vec<f64> = (0..130).map(f64::from).collect();
        let mut counts = ThresholdCounts::new(1);
        counts.update(&values, Some(&sliced), &[64.0]);
        let flags: Vec<bool> = sliced.iter().collect();
        assert_eq!(counts, naive(&values, Some(&flags), &[64.0]));
    }

    #[test]
    fn bins_are_differences_of_threshold_counts() {
        let mut counts = ThresholdCounts::new(2);
        counts.update(&[0.0, 1.0, 1.5, 2.0, 3.0], None, &[1.0, 2.0]);
        assert_eq!(counts.bins(0, 2), vec![1, 2, 2]);
        assert_eq!(bin_index(&[1.0, 2.0], 1.0), 1);
        assert_eq!(bin_index(&[1.0, 2.0], 0.999), 0);
    }
}
