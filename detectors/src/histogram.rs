//! The binning kernel shared by every binned statistic.
//!
//! Instead of computing a bin index per value and scattering increments into a
//! histogram (a serial dependency through memory), the kernel counts, for each
//! threshold `t`, how many values satisfy `x >= t`. Bin counts are then
//! differences of neighbouring threshold counts. Every count is a packed
//! compare (four `f64` per instruction with AVX2) and an integer subtract of
//! the all-ones mask; no gather, no scatter.
//!
//! # The AVX2 kernel: value-major, thresholds in registers
//!
//! The array is walked in blocks of 512 values (4 KiB, in L1). Each block
//! gets one pass per group of up to six thresholds: the pass loads four
//! values once and compares them with every threshold of its group, held
//! broadcast in registers next to one accumulator each (six thresholds, six
//! accumulators, the value, the mask and a flag fill 15 of the 16 `ymm`
//! registers). The ten decile bins (eleven thresholds) take two passes,
//! where the portable kernel below takes twelve.
//!
//! Measured on the 2-core AMD EPYC (Zen 3) with `cargo bench -p benches
//! --bench binning` (64 MiB array, values per second relative to a plain sum
//! of the same array):
//!
//! * Thresholds as memory operands (all eleven in one pass, which LLVM
//!   spills) ran at about half the in-cache speed of register-held groups of
//!   six; groups of four (three passes) were slower again.
//! * The passes are bound by the compare and subtract ports, about 1.5 G
//!   values/s in cache; streaming from memory, the two did not overlap
//!   (about 45% of the plain sum) until the first pass prefetched the next
//!   block: with `prefetcht0` one block ahead the kernel reaches 80% or more.
//!
//! Non-finite values are checked in the first pass without a pass of their
//! own: `x - x` is `+0.0` for finite `x` and NaN otherwise, and OR-ing it
//! into a flag costs two operations on ports the compares do not use.
//! Compares with NaN are false, `+inf >= t` is true for every finite `t` and
//! `-inf >= t` only for `t = -inf`, so a block that raised the flag (rare) is
//! classified value by value and the infinities are taken back out of the
//! counts.
//!
//! Nulls cost one table load and one OR per four values: the four validity
//! bits index a table of masks that set every bit of a null lane, turning it
//! into a NaN that no compare accepts. The earlier design copied each block
//! into a NaN-filled scratch buffer first; that copy was the null path's
//! bottleneck and is gone. The flag reads the raw values, so a NaN stored
//! under a null only sends its block down the exact slow path.
//!
//! # The portable kernel
//!
//! Without AVX2 (or off x86-64) each threshold is one pass of
//! `count(block, |x| x >= t)`, plus one non-finite pass, which LLVM
//! vectorises for the target; nulls go through a NaN-filled copy of the
//! block. It gives the same integers and is the reference the AVX2 kernel is
//! tested against. NaN and infinities are counted apart and never land in a
//! bin.

use arrow_buffer::BooleanBuffer;

/// Values per block: 4 KiB of `f64`, so every pass after the first over a
/// block reads from L1. It also bounds a lane's count within a block.
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
            unsafe { avx2::update(self, values, validity, thresholds) };
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
mod avx2 {
    //! The AVX2 kernel: value-major, thresholds held in registers.

    use std::arch::x86_64::{
        __m256d, __m256i, _CMP_GE_OQ, _MM_HINT_T0, _mm_prefetch, _mm256_castpd_si256,
        _mm256_cmp_pd, _mm256_load_pd, _mm256_loadu_pd, _mm256_or_pd, _mm256_set1_pd,
        _mm256_setzero_pd, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi64,
        _mm256_sub_pd, _mm256_testz_si256,
    };

    use arrow_buffer::BooleanBuffer;

    use super::{BLOCK, ThresholdCounts, block_words, classify_non_finite, count_tail};

    /// Thresholds compared per pass over a block. A pass holds `GROUP`
    /// threshold vectors and `GROUP` accumulators in registers, plus the
    /// value, the compare mask and the non-finite flag: 15 of the 16 ymm
    /// registers.
    const GROUP: usize = 6;

    /// `NULL_AS_NAN.0[n]` has every bit set in lane `i` when bit `i` of `n`
    /// is clear (slot `i` is null), else zero. OR-ed into four values it
    /// turns the nulls into NaN (all-ones is a quiet NaN), which every
    /// compare rejects: one table load and one OR per four values.
    #[repr(align(32))]
    struct NullMasks([[f64; 4]; 16]);

    static NULL_AS_NAN: NullMasks = {
        let mut masks = [[0.0; 4]; 16];
        let mut n = 0;
        while n < 16 {
            let mut lane = 0;
            while lane < 4 {
                if (n >> lane) & 1 == 0 {
                    masks[n][lane] = f64::from_bits(u64::MAX);
                }
                lane += 1;
            }
            n += 1;
        }
        NullMasks(masks)
    };

    /// [`ThresholdCounts::update`] with AVX2. Gives the same integers as
    /// [`super::update_portable`].
    #[target_feature(enable = "avx2")]
    pub(super) fn update(
        counts: &mut ThresholdCounts,
        values: &[f64],
        validity: Option<&BooleanBuffer>,
        thresholds: &[f64],
    ) {
        match validity {
            None => {
                for block in values.chunks(BLOCK) {
                    count_block(counts, block, None, thresholds);
                }
            }
            Some(validity) => block_words(values, validity, |block, words| {
                count_block(counts, block, Some(words), thresholds);
            }),
        }
    }

    /// Counts one block, `words` being its validity (bit `i % 64` of word
    /// `i / 64` for slot `i`, zero past the end) or `None` when all slots
    /// are valid.
    #[target_feature(enable = "avx2")]
    fn count_block(
        counts: &mut ThresholdCounts,
        block: &[f64],
        words: Option<&[u64]>,
        thresholds: &[f64],
    ) {
        let (body, tail) = block.split_at(block.len() / 4 * 4);
        let valid = match words {
            None => body.len() as u64,
            Some(words) => {
                let nulls = block.len() as u64
                    - words.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
                counts.null += nulls;
                if nulls == 0 {
                    return count_block(counts, block, None, thresholds);
                }
                // Bits past the end of the body (the tail's and the zero
                // padding) are not counted here.
                let tail_bits = (block.len() - body.len()) as u32;
                let last = words[words.len() - 1];
                let tail_valid = if tail_bits == 0 {
                    0
                } else {
                    let shift = (body.len() % 64) as u32;
                    u64::from(((last >> shift) & ((1 << tail_bits) - 1)).count_ones())
                };
                block.len() as u64 - nulls - tail_valid
            }
        };
        let words = words.unwrap_or(&[]);
        // As few passes as registers allow, of even sizes (11 thresholds:
        // 6 + 5, 13: 5 + 4 + 4), so no pass runs nearly empty.
        let passes = thresholds.len().div_ceil(GROUP).max(1);
        let size = thresholds.len().div_ceil(passes).max(1);
        let mut groups = thresholds.chunks(size).zip(counts.ge.chunks_mut(size));
        // The first pass also checks the raw values for NaN and infinities.
        let non_finite = match groups.next() {
            Some((t, ge)) => pass::<true>(body, words, t, ge),
            None => pass::<true>(body, words, &[], &mut []),
        };
        for (t, ge) in groups {
            pass::<false>(body, words, t, ge);
        }
        if non_finite {
            classify_non_finite(counts, thresholds, valid_values(body, words));
        } else {
            counts.finite += valid;
        }
        // The tail (at most three slots from a multiple of four) lies in the
        // last word.
        let tail_words = (!words.is_empty()).then(|| words[words.len() - 1] >> (body.len() % 64));
        count_tail(counts, tail, tail_words, thresholds);
    }

    /// The valid values of `body` (all of them when `words` is empty).
    fn valid_values<'a>(body: &'a [f64], words: &'a [u64]) -> impl Iterator<Item = f64> + 'a {
        body.iter()
            .enumerate()
            .filter(move |&(i, _)| words.is_empty() || (words[i / 64] >> (i % 64)) & 1 == 1)
            .map(|(_, &x)| x)
    }

    /// One pass over `body` (a multiple of four values) for up to [`GROUP`]
    /// thresholds; dispatches to the pass compiled for that many.
    #[target_feature(enable = "avx2")]
    fn pass<const CHECK: bool>(
        body: &[f64],
        words: &[u64],
        thresholds: &[f64],
        ge: &mut [u64],
    ) -> bool {
        macro_rules! dispatch {
            ($($n:literal)*) => {
                match (thresholds.len(), words.is_empty()) {
                    $(
                        ($n, true) => pass_n::<$n, CHECK, false>(body, words, thresholds, ge),
                        ($n, false) => pass_n::<$n, CHECK, true>(body, words, thresholds, ge),
                    )*
                    (n, _) => unreachable!("a pass takes at most {GROUP} thresholds, got {n}"),
                }
            };
        }
        dispatch!(0 1 2 3 4 5 6 7 8 9 10 11 12)
    }

    /// Adds to `ge[j]` the values of `body` with `x >= thresholds[j]`
    /// (`N` thresholds; nulls per `words` when `MASKED`). With `CHECK`,
    /// returns whether a value of `body` (null slots included) is NaN or
    /// infinite; otherwise `false`.
    #[target_feature(enable = "avx2")]
    fn pass_n<const N: usize, const CHECK: bool, const MASKED: bool>(
        body: &[f64],
        words: &[u64],
        thresholds: &[f64],
        ge: &mut [u64],
    ) -> bool {
        debug_assert!(body.len() % 4 == 0 && thresholds.len() == N && ge.len() == N);
        debug_assert!(!MASKED || words.len() * 64 >= body.len());
        // SAFETY: the unaligned loads read the four values of a
        // `chunks_exact(4)` chunk; the aligned ones read an entry of
        // `NULL_AS_NAN`, 32-byte aligned by its `repr` and 32 bytes long, at
        // an index masked to 0..16; the stores write four `u64` into a local
        // `[u64; 4]`; a prefetch only hints and never faults, so its address
        // one block ahead may lie past the array (`wrapping_add` keeps the
        // pointer arithmetic defined there). Every other call is an AVX/AVX2 intrinsic, which this
        // function's `target_feature` makes available. (Rust before 1.87
        // needs the block for those too.)
        unsafe {
            let mut t = [_mm256_setzero_pd(); N];
            for (t, &threshold) in t.iter_mut().zip(thresholds) {
                *t = _mm256_set1_pd(threshold);
            }
            let mut acc: [__m256i; N] = [_mm256_setzero_si256(); N];
            let mut bad = _mm256_setzero_pd();
            // Dense blocks read their nulls from a constant: no slot is one.
            let all_valid = [u64::MAX; BLOCK / 64];
            let words = if MASKED { words } else { &all_valid[..] };
            for (values, &word) in body.chunks(64).zip(words) {
                if CHECK {
                    // Fetch the next block's 64 values (8 lines) while this
                    // one is compared: measured 45% -> 80% of the plain sum,
                    // as the hardware prefetcher alone left the passes and
                    // the memory stream taking turns.
                    let next = values.as_ptr().wrapping_add(BLOCK).cast::<i8>();
                    for line in 0..8 {
                        _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(64 * line));
                    }
                }
                for (k, chunk) in values.chunks_exact(4).enumerate() {
                    let mut x: __m256d = _mm256_loadu_pd(chunk.as_ptr());
                    if CHECK {
                        // `x - x` is +0.0 for finite x and NaN otherwise;
                        // OR-ing keeps any NaN's bits, so `bad` stays zero
                        // only if every value was finite. The subtract and
                        // the OR do not compete with the compares for ports.
                        bad = _mm256_or_pd(bad, _mm256_sub_pd(x, x));
                    }
                    if MASKED {
                        let nibble = (word >> (k * 4)) as usize & 15;
                        x = _mm256_or_pd(x, _mm256_load_pd(NULL_AS_NAN.0[nibble].as_ptr()));
                    }
                    for (acc, &t) in acc.iter_mut().zip(&t) {
                        // The mask is all ones (-1) where x >= t.
                        let mask = _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_GE_OQ>(x, t));
                        *acc = _mm256_sub_epi64(*acc, mask);
                    }
                }
            }
            for (ge, acc) in ge.iter_mut().zip(&acc) {
                let mut lanes = [0u64; 4];
                _mm256_storeu_si256(lanes.as_mut_ptr().cast(), *acc);
                *ge += lanes.iter().sum::<u64>();
            }
            // Any set bit. Not `_mm256_testz_pd`, which reads sign bits
            // only: `x - x` of a positive NaN is a positive NaN.
            let bad = _mm256_castpd_si256(bad);
            CHECK && _mm256_testz_si256(bad, bad) == 0
        }
    }
}

/// The portable kernel, threshold-major: for each block, one pass of
/// `count(block, |x| x >= t)` per threshold, which LLVM vectorises for any
/// target. It is the reference the AVX2 kernel is tested against, and the
/// path on CPUs without AVX2.
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
        Some(validity) => block_words(values, validity, |block, words| {
            count_block_masked(counts, block, words, thresholds);
        }),
    }
}

/// Calls `f` for each block of `values` with the block's validity words, 64
/// slots each; bits past the end of the array are zero.
#[inline(always)]
fn block_words(values: &[f64], validity: &BooleanBuffer, mut f: impl FnMut(&[f64], &[u64])) {
    let chunks = validity.bit_chunks();
    let mut words =
        chunks.iter().chain((chunks.remainder_len() > 0).then(|| chunks.remainder_bits()));
    for block in values.chunks(BLOCK) {
        let mut block_words = [0u64; BLOCK / 64];
        let used = block.len().div_ceil(64);
        for word in &mut block_words[..used] {
            *word = words.next().unwrap_or(0);
        }
        f(block, &block_words[..used]);
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
        classify_non_finite(counts, thresholds, block.iter().copied());
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
        classify_non_finite(counts, thresholds, valid_values);
    }
}

/// Rare path: a block holds NaN or infinities. The compares rejected NaN
/// but counted `+inf` at every threshold it reaches (all finite ones) and
/// `-inf` at a threshold of `-inf`, so take them back out there.
#[cold]
fn classify_non_finite(
    counts: &mut ThresholdCounts,
    thresholds: &[f64],
    values: impl Iterator<Item = f64>,
) {
    let (mut pos_inf, mut neg_inf) = (0, 0);
    for x in values {
        if x.is_finite() {
            counts.finite += 1;
        } else if x.is_nan() {
            counts.nan += 1;
        } else if x > 0.0 {
            pos_inf += 1;
        } else {
            neg_inf += 1;
        }
    }
    counts.pos_inf += pos_inf;
    counts.neg_inf += neg_inf;
    for (ge, &t) in counts.ge.iter_mut().zip(thresholds) {
        if f64::INFINITY >= t {
            *ge -= pos_inf;
        }
        if f64::NEG_INFINITY >= t {
            *ge -= neg_inf;
        }
    }
}

/// Counts the last (at most three) values of an array one by one, exactly;
/// bit `i` of `word` is the validity of `tail[i]` (nulls are already
/// counted), `None` when all are valid.
#[cfg(target_arch = "x86_64")]
fn count_tail(counts: &mut ThresholdCounts, tail: &[f64], word: Option<u64>, thresholds: &[f64]) {
    for (i, &x) in tail.iter().enumerate() {
        if word.is_some_and(|w| (w >> i) & 1 == 0) {
            continue;
        }
        if x.is_finite() {
            counts.finite += 1;
            for (ge, &t) in counts.ge.iter_mut().zip(thresholds) {
                *ge += u64::from(x >= t);
            }
        } else if x.is_nan() {
            counts.nan += 1;
        } else if x > 0.0 {
            counts.pos_inf += 1;
        } else {
            counts.neg_inf += 1;
        }
    }
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

    fn threshold() -> impl Strategy<Value = f64> {
        prop_oneof![
            8 => -4.0f64..4.0,
            2 => (-3i32..3).prop_map(f64::from),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(f64::NAN),
        ]
    }

    proptest! {
        /// The portable kernel (on x86-64 only reached without AVX2) against
        /// the reference, with thresholds at data values and non-finite ones.
        #[test]
        fn portable_matches_scalar_reference(
            values in prop::collection::vec(value(), 0..1500),
            valid in prop::collection::vec(any::<bool>(), 1500),
            mut thresholds in prop::collection::vec(threshold(), 0..16),
            with_nulls in any::<bool>(),
        ) {
            thresholds.sort_by(f64::total_cmp);
            let valid = &valid[..values.len()];
            let bitmap: BooleanBuffer = valid.iter().copied().collect();
            let mut counts = ThresholdCounts::new(thresholds.len());
            update_portable(&mut counts, &values, with_nulls.then_some(&bitmap), &thresholds);
            prop_assert_eq!(counts, naive(&values, with_nulls.then_some(valid), &thresholds));
        }
    }

    #[cfg(target_arch = "x86_64")]
    proptest! {
        /// The AVX2 kernel against the portable one and the reference: odd
        /// lengths over several blocks, NaN, infinities and nulls (also over
        /// NaN and infinite slots), unaligned bitmaps, and more thresholds
        /// than one pass holds.
        #[test]
        fn avx2_matches_portable(
            values in prop::collection::vec(value(), 0..2100),
            valid_seed in prop::collection::vec(any::<bool>(), 2200),
            offset in 0usize..70,
            mut thresholds in prop::collection::vec(threshold(), 0..20),
            with_nulls in any::<bool>(),
        ) {
            if !std::arch::is_x86_feature_detected!("avx2") {
                return Ok(());
            }
            thresholds.sort_by(f64::total_cmp);
            let full: BooleanBuffer = valid_seed.iter().copied().collect();
            let bitmap = full.slice(offset, values.len());
            let valid: Vec<bool> = bitmap.iter().collect();
            let validity = with_nulls.then_some(&bitmap);
            let mut fast = ThresholdCounts::new(thresholds.len());
            // SAFETY: the CPU supports AVX2, checked above.
            unsafe { avx2::update(&mut fast, &values, validity, &thresholds) };
            let mut portable = ThresholdCounts::new(thresholds.len());
            update_portable(&mut portable, &values, validity, &thresholds);
            prop_assert_eq!(&fast, &portable);
            prop_assert_eq!(fast, naive(&values, with_nulls.then_some(&valid), &thresholds));
        }
    }

    /// Every pass size and dispatch arm, on a long array whose non-finite
    /// values sit in some blocks only, with and without nulls.
    #[test]
    fn every_threshold_count_matches_reference() {
        let values: Vec<f64> = (0..5003)
            .map(|i| match i {
                700 => f64::NAN,
                1500 => f64::INFINITY,
                1501 => f64::NEG_INFINITY,
                5001 => f64::INFINITY,
                _ => f64::from((i * 7919) % 1000) / 100.0 - 5.0,
            })
            .collect();
        let valid: Vec<bool> = (0..values.len()).map(|i| i % 7 != 3).collect();
        let bitmap: BooleanBuffer = valid.iter().copied().collect();
        for n in 0..=20 {
            let thresholds: Vec<f64> = (0..n).map(|j| f64::from(j) / 2.0 - 5.0).collect();
            for validity in [None, Some(&bitmap)] {
                let flags = validity.map(|_| valid.as_slice());
                let expected = naive(&values, flags, &thresholds);
                let mut counts = ThresholdCounts::new(n as usize);
                counts.update(&values, validity, &thresholds);
                assert_eq!(counts, expected, "{n} thresholds, nulls: {}", validity.is_some());
                let mut portable = ThresholdCounts::new(n as usize);
                update_portable(&mut portable, &values, validity, &thresholds);
                assert_eq!(portable, expected, "portable, {n} thresholds");
            }
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
