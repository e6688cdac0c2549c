//! Each statistic's `finish`: the work done once per column per window.

use std::sync::Arc;

use arrow::array::{Float64Array, StringArray};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use driftgauge_detectors::baseline::{ColumnProfileBuilder, ProfileOptions};
use driftgauge_detectors::column::ColumnKind;
use driftgauge_detectors::divergence;
use driftgauge_detectors::drift::{ColumnAccumulator, DriftOptions};
use driftgauge_detectors::ks::{self, KsMethod};
use driftgauge_detectors::sample::{self, SortedSample};
use std::hint::black_box;

fn sorted(n: usize, shift: f64, seed: u64) -> Vec<f64> {
    SortedSample::exact(benches::normal_values(n, shift, seed)).values().to_vec()
}

fn binned(c: &mut Criterion) {
    let reference: Vec<u64> = (0..10).map(|i| 10_000 + i * 7).collect();
    let current: Vec<u64> = (0..10).map(|i| 12_000 - i * 150).collect();
    let (p, q) = (divergence::proportions(&reference), divergence::proportions(&current));
    let (pe, qe) = (divergence::fill_zeros(&p, 1e-4), divergence::fill_zeros(&q, 1e-4));
    let mut group = c.benchmark_group("statistics/10_bins");
    group.throughput(Throughput::Elements(10));
    group.bench_function("psi", |b| b.iter(|| divergence::psi(black_box(&pe), black_box(&qe))));
    group.bench_function("kl", |b| {
        b.iter(|| divergence::kl_divergence(black_box(&pe), black_box(&qe)))
    });
    group.bench_function("jensen_shannon", |b| {
        b.iter(|| divergence::jensen_shannon(black_box(&p), black_box(&q), None))
    });
    group.bench_function("hellinger", |b| {
        b.iter(|| divergence::hellinger(black_box(&p), black_box(&q)))
    });
    group.bench_function("chi_square_gof", |b| {
        b.iter(|| divergence::chi_square_gof(black_box(&reference), black_box(&current)))
    });
    group.bench_function("chi_square_contingency", |b| {
        b.iter(|| divergence::chi_square_contingency(black_box(&reference), black_box(&current)))
    });
    group.bench_function("z_test", |b| {
        b.iter(|| divergence::two_proportion_z(black_box(4000), 10_000, black_box(4400), 10_000))
    });
    group.finish();
}

fn samples(c: &mut Criterion) {
    let mut group = c.benchmark_group("statistics/samples");
    group.sample_size(20);
    for n in [10_000usize, 1_000_000] {
        let (a, b_) = (sorted(n.min(100_000), 0.0, 1), sorted(n, 0.05, 2));
        group.throughput(Throughput::Elements((a.len() + b_.len()) as u64));
        group.bench_with_input(BenchmarkId::new("ks_statistic", n), &n, |b, _| {
            b.iter(|| sample::ks_statistic(black_box(&a), black_box(&b_)))
        });
        group.bench_with_input(BenchmarkId::new("wasserstein", n), &n, |b, _| {
            b.iter(|| sample::wasserstein(black_box(&a), black_box(&b_)))
        });
        group.bench_with_input(BenchmarkId::new("ks_2samp_auto", n), &n, |b, _| {
            b.iter(|| ks::ks_2samp_sorted(black_box(&a), black_box(&b_), KsMethod::Auto))
        });
        group.bench_with_input(BenchmarkId::new("sort_finite", n), &n, |b, _| {
            let values = benches::normal_values(n, 0.0, 3);
            b.iter_batched(
                || values.clone(),
                |mut v| sample::sort_finite(&mut v),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn column_finish(c: &mut Criterion) {
    let n = 1_000_000;
    let options = ProfileOptions::default();
    let reference = Float64Array::from(benches::normal_values(n, 0.0, 4));
    let current = Arc::new(Float64Array::from(benches::normal_values(n, 0.02, 5)));
    let mut builder = ColumnProfileBuilder::new(ColumnKind::Numeric, false);
    builder.update("x", &reference).unwrap();
    let profile = builder.finish("x", &options);
    let mut accumulator = ColumnAccumulator::new(&profile);
    accumulator.update("x", current.as_ref()).unwrap();

    let mut rng = benches::Rng::new(9);
    let names: Vec<String> = (0..20).map(|k| format!("cat{k}")).collect();
    let labels: StringArray =
        (0..n).map(|_| Some(names[(rng.next_u64() % 20) as usize].as_str())).collect();
    let mut builder = ColumnProfileBuilder::new(ColumnKind::Categorical, false);
    builder.update("c", &labels).unwrap();
    let categorical = builder.finish("c", &options);
    let mut categories = ColumnAccumulator::new(&categorical);
    categories.update("c", &labels).unwrap();

    let mut group = c.benchmark_group("statistics/column");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("numeric_update_1m", |b| {
        b.iter(|| {
            let mut acc = ColumnAccumulator::new(&profile);
            acc.update("x", black_box(current.as_ref())).unwrap();
            acc.rows()
        })
    });
    group.bench_function("numeric_finish_1m", |b| {
        b.iter(|| accumulator.finish(&profile, &DriftOptions::default()))
    });
    group.bench_function("categorical_update_1m", |b| {
        b.iter(|| {
            let mut acc = ColumnAccumulator::new(&categorical);
            acc.update("c", black_box(&labels)).unwrap();
            acc.rows()
        })
    });
    group.bench_function("categorical_finish", |b| {
        b.iter(|| categories.finish(&categorical, &DriftOptions::default()))
    });
    group.finish();
}

criterion_group!(benches, binned, samples, column_finish);
criterion_main!(benches);
