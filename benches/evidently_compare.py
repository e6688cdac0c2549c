"""Data for comparing driftgauge with Evidently, and Evidently's time on it.

What it writes
    Two Parquet files, reference and current, each with ``--rows`` rows
    (default 1,000,000) and the same 14 columns:

    ========  =======  ===================================================
    column    type     reference -> current
    ========  =======  ===================================================
    f0        float64  N(0, 1) -> N(0, 1)                  (no drift)
    f1        float64  N(0, 1) -> N(0.1, 1)                (mean shift)
    f2        float64  lognormal(0, 0.5) -> same           (skewed, no drift)
    f3        float64  N(5, 2), 1% NaN -> same             (missing values)
    f4        float64  U(0, 10) -> U(0.5, 10.5)            (shift)
    f5        float64  N(0, 1), 1% NaN -> N(0, 1.3), 1% NaN (scale change)
    f6        float64  exponential(1) -> same              (no drift)
    f7        float64  N(100, 15) -> N(100, 15)            (no drift)
    i0        int64    Poisson(3) -> Poisson(3.3)          (~15 distinct values)
    i1        int64    uniform 0..999 -> same              (1000 distinct values)
    c0        string   5 categories, mix shifts
    c1        string   20 categories, no drift
    c2        string   50 categories (Zipf-like weights), no drift
    b0        int64    0/1 with P(1) = 0.10 -> 0.12
    ========  =======  ===================================================

    Every value comes from ``numpy.random.default_rng(--seed)`` drawn in a
    fixed order, so the same arguments always write the same data. Files
    default to ``target/bench-data/reference.parquet`` and
    ``target/bench-data/current.parquet`` (``target/`` is git-ignored).

What it measures (``--run-evidently``)
    Loads both files with pandas (not timed), then times
    ``Report([DataDriftPreset()]).run(current, reference)`` from Evidently's
    new API, wall clock, best of ``--repeat`` runs (default 1). ``f*``,
    ``i*`` and ``b0`` are declared numerical and ``c*`` categorical. It
    prints one JSON line, for example::

        {"evidently_seconds": 41.2, "rows": 1000000, "columns": 14, ...}

    where ``rows`` is the number of rows in each of the two datasets.

Environment: the venv of ``tests/golden/generate_drift.py`` (evidently
0.7.23, pandas 2.3.3, numpy 2.4.6, pyarrow 26.0.1)::

    ~/.cache/driftgauge/venv/bin/python benches/evidently_compare.py --run-evidently
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERICAL = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "i0", "i1", "b0"]
CATEGORICAL = ["c0", "c1", "c2"]
COLUMNS = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "i0", "i1", "c0", "c1", "c2", "b0"]


def _with_nan(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    values = values.copy()
    values[rng.random(values.size) < share] = np.nan
    return values


def _categories(rng: np.random.Generator, prefix: str, weights: np.ndarray, n: int) -> pa.Array:
    names = np.array([f"{prefix}{i:02d}" for i in range(weights.size)], dtype=object)
    codes = rng.choice(weights.size, size=n, p=weights / weights.sum())
    return pa.array(names[codes], type=pa.string())


def make_table(rng: np.random.Generator, n: int, current: bool) -> pa.Table:
    """One dataset; ``current`` applies the drifts listed in the module docs.
    Columns are drawn in a fixed order, so a given generator state always
    gives the same table."""
    zipf = 1.0 / np.arange(1, 51)
    c0_weights = np.array([0.3, 0.25, 0.2, 0.15, 0.1]) if not current else np.array([0.25, 0.25, 0.2, 0.15, 0.15])
    columns = {
        "f0": rng.normal(0.0, 1.0, n),
        "f1": rng.normal(0.1 if current else 0.0, 1.0, n),
        "f2": rng.lognormal(0.0, 0.5, n),
        "f3": _with_nan(rng, rng.normal(5.0, 2.0, n), 0.01),
        "f4": rng.uniform(0.5, 10.5, n) if current else rng.uniform(0.0, 10.0, n),
        "f5": _with_nan(rng, rng.normal(0.0, 1.3 if current else 1.0, n), 0.01),
        "f6": rng.exponential(1.0, n),
        "f7": rng.normal(100.0, 15.0, n),
        "i0": rng.poisson(3.3 if current else 3.0, n).astype(np.int64),
        "i1": rng.integers(0, 1000, n, dtype=np.int64),
        "c0": _categories(rng, "c0_", c0_weights, n),
        "c1": _categories(rng, "c1_", np.ones(20), n),
        "c2": _categories(rng, "c2_", zipf, n),
        "b0": (rng.random(n) < (0.12 if current else 0.10)).astype(np.int64),
    }
    return pa.table({name: columns[name] for name in COLUMNS})


def write_data(reference: pathlib.Path, current: pathlib.Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for path, is_current in ((reference, False), (current, True)):
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(make_table(rng, rows, is_current), path, compression="zstd")


def time_evidently(reference: pathlib.Path, current: pathlib.Path, repeat: int) -> dict:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    load_seconds = time.perf_counter() - started
    definition = DataDefinition(numerical_columns=NUMERICAL, categorical_columns=CATEGORICAL)

    runs = []
    drifted = None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            snapshot = Report([DataDriftPreset()]).run(
                Dataset.from_pandas(cur, data_definition=definition),
                Dataset.from_pandas(ref, data_definition=definition),
            )
            runs.append(time.perf_counter() - started)
        for metric in snapshot.dict()["metrics"]:
            if metric["config"]["type"].endswith(":DriftedColumnsCount"):
                drifted = metric["value"]
    return {
        "evidently_seconds": min(runs),
        "rows": len(ref),
        "columns": len(ref.columns),
        "runs_seconds": runs,
        "load_seconds": load_seconds,
        "drifted_columns": drifted,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", nargs="?", default="target/bench-data/reference.parquet", type=pathlib.Path)
    parser.add_argument("current", nargs="?", default="target/bench-data/current.parquet", type=pathlib.Path)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each dataset")
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--run-evidently", action="store_true", help="time Evidently's DataDriftPreset")
    parser.add_argument("--repeat", type=int, default=1, help="Evidently runs; the best is reported")
    parser.add_argument(
        "--reuse", action="store_true", help="keep existing files instead of writing them again"
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.rows < 1:
        parser.error("--repeat and --rows must be at least 1")

    if not (args.reuse and args.reference.exists() and args.current.exists()):
        started = time.perf_counter()
        write_data(args.reference, args.current, args.rows, args.seed)
        print(
            f"wrote {args.reference} and {args.current} ({args.rows} rows each) "
            f"in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
    if args.run_evidently:
        print(json.dumps(time_evidently(args.reference, args.current, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
