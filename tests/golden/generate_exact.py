"""Expected values for `driftgauge check --format json` on large, generated data sets.

The "done when" check of issue 15: on data sets of 5,000, 20,000 and 200,000
rows and one with 100,000 categories, every statistic `check --reference`
reports must equal an independent numpy/scipy computation (1e-9 relative,
p-values 1e-6 absolute), and infinite values must read back as infinite.

The data is not committed. Both this script and `tests/golden_exact.rs`
generate it from the same deterministic generator (below, "The generator"),
which uses only integer arithmetic and the IEEE-754 operations +, -, * and /,
so Python and Rust produce the same doubles bit for bit on any machine. Only
the expected values are written, to ``tests/golden/exact/<data set>.json``.

Environment (the versions the checked-in files were made with)::

    python3 -m venv ~/.cache/driftgauge/venv-golden
    ~/.cache/driftgauge/venv-golden/bin/pip install numpy==2.4.6 scipy==1.17.1 'pandas<3' pyarrow
    # resolved: numpy 2.4.6, scipy 1.17.1, pandas 2.3.3, pyarrow 26.0.1 (Python 3.11)

Regenerate::

    ~/.cache/driftgauge/venv-golden/bin/python tests/golden/generate_exact.py

``--parquet DIR`` also writes each data set as ``DIR/<data set>.{reference,current}.parquet``
(zstd), to run the released binary on the same files by hand. The script
refuses other scipy/numpy versions unless given ``--any-version``.

The generator
-------------

``SplitMix64``: ``state += 0x9E3779B97F4A7C15; z = state;
z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB;
return z ^ z >> 31`` (all mod 2^64). ``uniform() = (next() >> 11) * 2^-53``,
``below(n) = next() % n``. Each column of each side has its own stream,
seeded with ``seed * 1_000_003 + 2 * column_index + side`` (side 0 =
reference, 1 = current). Rows are drawn in order, a column's draws per row as
written in ``COLUMNS`` below; sums run left to right.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numpy as np
import scipy
from scipy import stats

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate_drift import _binned_comparisons, to_json  # noqa: E402

PINNED = {"scipy": "1.17.1", "numpy": "2.4.6"}
MASK = (1 << 64) - 1
# A statistic of these (scored on the default decision rule, PSI >= 0.1).
PSI_THRESHOLD = 0.1
# Categorical columns whose bins are too many to list in full.
LIST_LIMIT = 2000


class SplitMix64:
    def __init__(self, seed: int) -> None:
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        return (self.next() >> 11) * (1.0 / (1 << 53))

    def below(self, n: int) -> int:
        return self.next() % n


def gauss(r: SplitMix64) -> float:
    """Irwin-Hall: the sum of 12 uniforms minus 6 (mean 0, variance 1)."""
    total = 0.0
    for _ in range(12):
        total += r.uniform()
    return total - 6.0


def spiky(r: SplitMix64, side: int):
    """Nulls, NaN and infinities among shifted, scaled sums of 4 uniforms."""
    k = r.below(1000)
    null, nan, pos, neg = (20, 30, 35, 40) if side == 0 else (30, 35, 45, 47)
    if k < null:
        return None
    if k < nan:
        return math.nan
    if k < pos:
        return math.inf
    if k < neg:
        return -math.inf
    x = (r.uniform() + r.uniform() + r.uniform() + r.uniform()) * 2.0
    return x if side == 0 else x + 0.2


def count(r: SplitMix64, side: int) -> int:
    total = 0
    for _ in range(10):
        total += r.below(7)
    return total if side == 0 else total + r.below(2)


def code(r: SplitMix64, side: int) -> int:
    """Codes 2, 3 and 10: text order would put "10" first, numpy puts 2 first."""
    k = r.below(100)
    low, mid = (45, 75) if side == 0 else (35, 70)
    return 2 if k < low else 3 if k < mid else 10


def city(r: SplitMix64, side: int):
    if r.below(100) == 0:
        return None
    return f"city_{r.below(40 if side == 0 else 42):02}"


def many(r: SplitMix64, side: int) -> str:
    """100,000 reference categories; a fifth of the current rows in categories
    the reference never had."""
    if side == 1 and r.below(5) == 0:
        return f"new_{r.below(30000):05}"
    return f"c{r.below(100000):05}"


# name -> (Arrow type, how check compares it, draw(rng, side))
COLUMNS = {
    "gauss": ("float64", "numeric", lambda r, s: gauss(r) if s == 0 else gauss(r) * 1.05 + 0.03),
    "heavy": (
        "float64",
        "numeric",
        lambda r, s: (1.0 if s == 0 else 1.02) / (r.uniform() + 0.001),
    ),
    "spiky": ("float64", "numeric", spiky),
    "count": ("int64", "numeric", count),
    "code": ("int64", "categorical", code),
    "code_many": ("int64", "categorical", lambda r, s: r.below(500 if s == 0 else 520)),
    "city": ("utf8", "categorical", city),
}
CARDINALITY_COLUMNS = {
    "category": ("utf8", "categorical", many),
    "code_id": ("int64", "categorical", lambda r, s: r.below(100000 if s == 0 else 120000)),
}

DATA_SETS = [
    # name, description, seed, reference rows, current rows, columns
    ("rows_5000", "5,000 reference rows: KS exact (max n <= 10,000)", 5000, 5000, 4000, COLUMNS),
    ("rows_20000", "20,000 reference rows: KS asymptotic", 20000, 20000, 15000, COLUMNS),
    (
        "rows_200000",
        "200,000 reference rows: beyond the stored-baseline sample of 100,000",
        200000,
        200000,
        150000,
        COLUMNS,
    ),
    (
        "categories_100000",
        "100,000 reference categories, a fifth of the current rows unseen",
        100000,
        400000,
        250000,
        CARDINALITY_COLUMNS,
    ),
]


def generate(seed: int, rows: int, columns: dict, side: int) -> dict:
    data = {}
    for index, (name, (_, _, draw)) in enumerate(columns.items()):
        r = SplitMix64(seed * 1_000_003 + 2 * index + side)
        data[name] = [draw(r, side) for _ in range(rows)]
    return data


def _missing(values: list) -> dict:
    out = {"null": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0}
    for x in values:
        if x is None:
            out["null"] += 1
        elif isinstance(x, float) and math.isnan(x):
            out["nan"] += 1
        elif x == math.inf:
            out["pos_inf"] += 1
        elif x == -math.inf:
            out["neg_inf"] += 1
    return out


def _digest(counts: np.ndarray) -> dict:
    """Bins too many to list: their number, total, and the sum of
    (position + 1) * count, which changes if any count moves bin."""
    weights = np.arange(1, counts.size + 1, dtype=object)
    return {
        "bins": int(counts.size),
        "total": int(counts.sum()),
        "weighted": int(np.sum(weights * counts.astype(object))),
    }


def numeric_expected(reference: list, current: list) -> dict:
    finite = lambda v: np.array(  # noqa: E731
        [x for x in v if x is not None and math.isfinite(x)], dtype=np.float64
    )
    ref, cur = finite(reference), finite(current)
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    out = _binned_comparisons(ref_counts, cur_counts)
    auto = stats.ks_2samp(ref, cur, method="auto")
    asymp = stats.ks_2samp(ref, cur, method="asymp")
    out["ks"] = {
        "statistic": float(auto.statistic),
        "p_auto": float(auto.pvalue),
        "p_asymp": float(asymp.pvalue),
        "method": "exact" if max(ref.size, cur.size) <= 10000 else "asymp",
    }
    w1 = float(stats.wasserstein_distance(ref, cur))
    out["wasserstein"] = w1
    out["wasserstein_normed"] = w1 / max(float(np.std(ref)), 0.001)
    out["reference_counts"] = ref_counts.tolist()
    out["current_counts"] = cur_counts.tolist()
    lo, hi = ref.min(), ref.max()
    rows = len(current)
    outside = sum(
        1 for x in current if x is not None and not math.isnan(x) and (x < lo or x > hi)
    )
    missing = _missing(current)
    out["current_missing"] = missing
    out["data_quality"] = {
        "rows": rows,
        "missing_share": (missing["null"] + missing["nan"]) / rows,
        "out_of_range_share": outside / rows,
        "unseen_share": 0.0,
    }
    return out


def categorical_expected(reference: list, current: list) -> dict:
    ref = [x for x in reference if x is not None]
    cur = [x for x in current if x is not None]
    # Python sorts ints as numbers and strings as text, as numpy and pandas do.
    categories = sorted(set(ref) | set(cur))
    index = {c: i for i, c in enumerate(categories)}
    ref_counts = np.bincount([index[x] for x in ref], minlength=len(categories)).astype(np.int64)
    cur_counts = np.bincount([index[x] for x in cur], minlength=len(categories)).astype(np.int64)
    out = _binned_comparisons(ref_counts, cur_counts)
    names = [str(c) for c in categories]
    if len(categories) <= LIST_LIMIT:
        out["categories"] = names
        out["reference_counts"] = ref_counts.tolist()
        out["current_counts"] = cur_counts.tolist()
    else:
        out["categories_digest"] = {"first": names[:5], "last": names[-5:]}
        out["reference_counts_digest"] = _digest(ref_counts)
        out["current_counts_digest"] = _digest(cur_counts)
    # First sorted category against the rest, reference first, p = 2 sf(|z|).
    n1, n2 = len(ref), len(cur)
    hits1 = n1 - int(ref_counts[0])
    hits2 = n2 - int(cur_counts[0])
    pooled = (hits1 + hits2) / (n1 + n2)
    z = (hits1 / n1 - hits2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    out["z"] = {"statistic": z, "p_value": float(2 * stats.norm.sf(abs(z)))}
    rows = len(current)
    seen = set(ref)
    missing = _missing(current)
    unseen = sorted({x for x in cur if x not in seen})
    out["current_missing"] = missing
    out["data_quality"] = {
        "rows": rows,
        "missing_share": missing["null"] / rows,
        "out_of_range_share": 0.0,
        "unseen_share": sum(1 for x in cur if x not in seen) / rows,
    }
    # check lists the first 20 unseen categories, in category order.
    out["unseen_categories"] = [str(c) for c in unseen[:20]]
    return out


def data_set(name: str, description: str, seed: int, n_ref: int, n_cur: int, columns: dict):
    reference = generate(seed, n_ref, columns, 0)
    current = generate(seed, n_cur, columns, 1)
    expected = {}
    for column, (arrow_type, kind, _) in columns.items():
        compute = numeric_expected if kind == "numeric" else categorical_expected
        out = compute(reference[column], current[column])
        out.update({"type": arrow_type, "kind": kind, "reference_rows": n_ref})
        out["drifted"] = out["psi"] >= PSI_THRESHOLD
        expected[column] = out
        print(f"  {column}: psi {out['psi']:.6g}", file=sys.stderr)
    drifted = sum(c["drifted"] for c in expected.values())
    document = {
        "data_set": name,
        "description": description,
        "generator": {"seed": seed, "reference_rows": n_ref, "current_rows": n_cur},
        "columns": expected,
        "dataset": {
            "columns": len(columns),
            "drifted_columns": drifted,
            "drifted": drifted / len(columns) >= 0.5,
        },
    }
    return document, reference, current


def write_parquet(directory: pathlib.Path, name: str, columns: dict, sides: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    types = {"float64": pa.float64(), "int64": pa.int64(), "utf8": pa.string()}
    for side, data in sides.items():
        table = pa.table(
            {c: pa.array(data[c], type=types[columns[c][0]]) for c in columns}
        )
        pq.write_table(table, directory / f"{name}.{side}.parquet", compression="zstd")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one data set by name")
    parser.add_argument("--parquet", type=pathlib.Path, help="also write the data here")
    parser.add_argument("--any-version", action="store_true")
    args = parser.parse_args()
    found = {"scipy": scipy.__version__, "numpy": np.__version__}
    if found != PINNED and not args.any_version:
        print(f"expected {PINNED}, found {found} (pass --any-version to go on)", file=sys.stderr)
        return 2
    for name, description, seed, n_ref, n_cur, columns in DATA_SETS:
        if args.only and args.only != name:
            continue
        print(name, file=sys.stderr)
        document, reference, current = data_set(name, description, seed, n_ref, n_cur, columns)
        path = HERE / "exact" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_json(document) + "\n", encoding="utf-8")
        print(f"exact/{name}.json")
        if args.parquet:
            write_parquet(args.parquet, name, columns, {"reference": reference, "current": current})
    return 0


if __name__ == "__main__":
    sys.exit(main())
