//! The binning kernel against a plain sum over the same array, one core.
//!
//! The sum is the memory-bandwidth reference: it reads every value once and
//! does the least work possible with it. The array (64 MiB) is larger than
//! the caches, so both are measured streaming from memory. Target: binning
//! at least 50% of the sum's values per second.

use arrow_buffer::BooleanBuffer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use driftgauge_detectors::histogram::ThresholdCounts;
use std::hint::black_box;

const VALUES: usize = 8 * 1024 * 1024;

/// A sum in eight independent lanes, which the compiler vectorises.
fn plain_sum(values: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x;
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// The same sum with nulls read as 0 through the validity bitmap, a word
/// (64 slots) at a time so the select vectorises.
fn masked_sum(values: &[f64], validity: &BooleanBuffer) -> f64 {
    let chunks = validity.bit_chunks();
    let words = chunks.iter().chain(std::iter::once(chunks.remainder_bits()));
    let mut lanes = [0.0f64; 8];
    for (block, word) in values.chunks(64).zip(words) {
        for (i, x) in block.iter().enumerate() {
            lanes[i % 8] += if (word >> i) & 1 == 1 { *x } else { 0.0 };
        }
    }
    lanes.iter().sum()
}

fn binning(c: &mut Criterion) {
    let values = benches::normal_values(VALUES, 0.0, 7);
    // The accumulator's thresholds for ten decile bins: min, nine edges, next_up(max).
    let thresholds: Vec<f64> =
        [-5.0, -1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816, 5.0]
            .to_vec();
    let validity = BooleanBuffer::from(benches::validity(VALUES, 0.1, 11));

    let mut group = c.benchmark_group("binning/no_nulls");
    group.throughput(Throughput::Elements(VALUES as u64));
    group.sample_size(20);
    group.bench_function("plain_sum", |b| b.iter(|| plain_sum(black_box(&values))));
    group.bench_function("threshold_counts", |b| {
        let mut counts = ThresholdCounts::new(thresholds.len());
        b.iter(|| {
            counts.clear();
            counts.update(black_box(&values), None, &thresholds);
            counts.finite
        })
    });
    group.finish();

    let mut group = c.benchmark_group("binning/10pct_nulls");
    group.throughput(Throughput::Elements(VALUES as u64));
    group.sample_size(20);
    group.bench_function("plain_sum", |b| b.iter(|| masked_sum(black_box(&values), &validity)));
    group.bench_function("threshold_counts", |b| {
        let mut counts = ThresholdCounts::new(thresholds.len());
        b.iter(|| {
            counts.clear();
            counts.update(black_box(&values), Some(&validity), &thresholds);
            counts.finite
        })
    });
    group.finish();
}

criterion_group!(benches, binning);
criterion_main!(benches);
