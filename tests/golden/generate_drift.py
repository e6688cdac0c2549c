"""Generate driftgauge's golden drift fixtures from numpy, scipy and Evidently.

Two families of fixtures are written, both as strict, pretty JSON with sorted
keys (non-finite floats as the strings "NaN", "Infinity", "-Infinity"):

* ``tests/golden/drift/<case>.json``: one column per file, scored in the
  *reference-fitted* mode (REFERENCE-CONVENTIONS section 5) with plain numpy
  and scipy.
* ``tests/golden/evidently/<case>.json``: a multi-column dataset run through
  Evidently's own ``Report([DataDriftPreset()])`` (new API), checked against
  direct calls of Evidently's legacy stattest functions.

Every input is drawn from ``numpy.random.default_rng`` with a fixed seed per
case, so running the script twice writes identical files.

Environment (the versions the checked-in files were made with)::

    python3 -m venv ~/.cache/driftgauge/venv
    ~/.cache/driftgauge/venv/bin/pip install evidently==0.7.23 'pandas<3' \
        scipy==1.17.1 fairlearn pyarrow numpy
    # resolved: evidently 0.7.23, scipy 1.17.1, numpy 2.4.6, pandas 2.3.3,
    #           pyarrow 26.0.1, fairlearn 0.15.0 (Python 3.11)

Regenerate::

    ~/.cache/driftgauge/venv/bin/python tests/golden/generate_drift.py

``--only drift`` or ``--only evidently`` writes one family. The script
refuses to run under other versions of the three libraries that produce the
numbers unless ``--any-version`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

HERE = pathlib.Path(__file__).resolve().parent
EPSILON = 1e-4
PINNED = {"evidently": "0.7.23", "scipy": "1.17.1", "numpy": "2.4.6"}


# --------------------------------------------------------------------------
# Strict, pretty JSON
# --------------------------------------------------------------------------


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return '"NaN"'
        if math.isinf(value):
            return '"Infinity"' if value > 0 else '"-Infinity"'
        # repr is the shortest string that reads back to the same double.
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list, tuple))


def to_json(value, indent: int = 0, width: int = 100) -> str:
    """Pretty JSON: objects one key per line (sorted), lists of scalars packed
    into lines of at most ``width`` characters."""
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{_scalar(str(k))}: {to_json(value[k], indent + 1, width)}"
            for k in sorted(value)
        ]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if all(_is_scalar(v) for v in value):
            parts = [_scalar(v) for v in value]
            one_line = "[" + ", ".join(parts) + "]"
            if len(one_line) + len(pad) <= width:
                return one_line
            lines, line = [], ""
            for part in parts:
                if line and len(pad) + len(line) + len(part) + 2 > width:
                    lines.append(line.rstrip())
                    line = ""
                line += part + ", "
            lines.append(line.rstrip().rstrip(","))
            return "[\n" + "".join(f"{pad}{ln}\n" for ln in lines) + end + "]"
        items = [f"{pad}{to_json(v, indent + 1, width)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + end + "]"
    return _scalar(value)


def write(path: pathlib.Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(document) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# Part A: reference-fitted mode, one column per file
# --------------------------------------------------------------------------


def _numeric_missing(values: list) -> dict:
    out = {"null": 0, "nan": 0, "pos_inf": 0, "neg_inf": 0}
    for x in values:
        if x is None:
            out["null"] += 1
        elif math.isnan(x):
            out["nan"] += 1
        elif x == math.inf:
            out["pos_inf"] += 1
        elif x == -math.inf:
            out["neg_inf"] += 1
    return out


def _finite(values: list) -> np.ndarray:
    return np.array([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)


def _undefined_comparisons(kind: str) -> dict:
    out = {
        "psi": None,
        "kl_ref_cur": None,
        "kl_cur_ref": None,
        "js_e": None,
        "js_2": None,
        "hellinger": None,
        "chisquare_gof": None,
        "chi2_contingency": None,
    }
    if kind == "numeric":
        out.update({"ks": None, "wasserstein": None, "wasserstein_normed": None})
    else:
        out["z"] = None
    return out


def _binned_comparisons(ref_counts: np.ndarray, cur_counts: np.ndarray) -> dict:
    """Statistics shared by numeric bins and categories. Both samples must hold
    at least one non-missing value."""
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    p = ref_counts / n_ref
    q = cur_counts / n_cur
    p_eps = np.where(p == 0, EPSILON, p)
    q_eps = np.where(q == 0, EPSILON, q)
    out = {
        "psi": float(np.sum((q_eps - p_eps) * np.log(q_eps / p_eps))),
        "kl_ref_cur": float(stats.entropy(p_eps, q_eps)),
        "kl_cur_ref": float(stats.entropy(q_eps, p_eps)),
        "js_e": float(jensenshannon(p, q)),
        "js_2": float(jensenshannon(p, q, base=2)),
        "hellinger": float(np.sqrt(1.0 - np.clip(np.sum(np.sqrt(p * q)), 0.0, 1.0))),
    }
    # Evidently's goodness-of-fit form. Evidently's keys are only the values
    # that occur, so bins empty in both samples are dropped here too (scipy
    # would turn each into 0/0 = NaN).
    keep = (ref_counts + cur_counts) > 0
    f_obs = cur_counts[keep].astype(np.float64)
    f_exp = ref_counts[keep] * (n_cur / n_ref)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gof = stats.chisquare(f_obs, f_exp)
    out["chisquare_gof"] = {"statistic": float(gof.statistic), "p_value": float(gof.pvalue)}
    table = np.vstack([ref_counts[keep], cur_counts[keep]])
    if table.shape[1] < 2:
        out["chi2_contingency"] = {"statistic": 0.0, "p_value": 1.0, "dof": 0}
    else:
        res = stats.chi2_contingency(table, correction=False)
        out["chi2_contingency"] = {
            "statistic": float(res.statistic),
            "p_value": float(res.pvalue),
            "dof": int(res.dof),
        }
    return out


def numeric_case(name: str, description: str, reference: list, current: list) -> dict:
    ref = _finite(reference)
    cur = _finite(current)
    expected: dict = {
        "reference_missing": _numeric_missing(reference),
        "current_missing": _numeric_missing(current),
    }
    if ref.size:
        edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
        expected.update(
            {
                "edges": edges.tolist(),
                "reference_counts": np.bincount(
                    np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1
                ).tolist(),
                "current_counts": np.bincount(
                    np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1
                ).tolist(),
                "reference_min": float(ref.min()),
                "reference_max": float(ref.max()),
                "reference_mean": float(ref.mean()),
                "reference_std": float(ref.std()),
            }
        )
    else:
        expected.update(
            {
                "edges": None,
                "reference_counts": None,
                "current_counts": None,
                "reference_min": None,
                "reference_max": None,
                "reference_mean": None,
                "reference_std": None,
            }
        )
    if ref.size and cur.size:
        expected.update(
            _binned_comparisons(
                np.array(expected["reference_counts"]), np.array(expected["current_counts"])
            )
        )
        auto = stats.ks_2samp(ref, cur, method="auto")
        asymp = stats.ks_2samp(ref, cur, method="asymp")
        expected["ks"] = {
            "statistic": float(auto.statistic),
            "p_auto": float(auto.pvalue),
            "p_asymp": float(asymp.pvalue),
        }
        w1 = float(stats.wasserstein_distance(ref, cur))
        expected["wasserstein"] = w1
        expected["wasserstein_normed"] = w1 / max(float(np.std(ref)), 0.001)
    else:
        expected.update(_undefined_comparisons("numeric"))

    rows = len(current)
    missing = expected["current_missing"]
    if rows == 0:
        quality = {"rows": 0, "missing_share": None, "out_of_range_share": None, "unseen_share": None}
    else:
        if ref.size:
            lo, hi = ref.min(), ref.max()
            outside = sum(
                1 for x in current if x is not None and not math.isnan(x) and (x < lo or x > hi)
            )
            out_of_range = outside / rows
        else:
            out_of_range = None
        quality = {
            "rows": rows,
            "missing_share": (missing["null"] + missing["nan"]) / rows,
            "out_of_range_share": out_of_range,
            "unseen_share": 0.0,
        }
    expected["data_quality"] = quality
    return {
        "case": name,
        "description": description,
        "kind": "numeric",
        "epsilon": EPSILON,
        "reference": list(reference),
        "current": list(current),
        "expected": expected,
    }


def categorical_case(name: str, description: str, reference: list, current: list) -> dict:
    ref = [x for x in reference if x is not None]
    cur = [x for x in current if x is not None]
    categories = sorted(set(ref) | set(cur))
    index = {c: i for i, c in enumerate(categories)}
    ref_counts = np.bincount([index[x] for x in ref], minlength=len(categories)).astype(np.int64)
    cur_counts = np.bincount([index[x] for x in cur], minlength=len(categories)).astype(np.int64)

    def missing(values):
        return {"null": sum(x is None for x in values), "nan": 0, "pos_inf": 0, "neg_inf": 0}

    expected: dict = {
        "categories": categories,
        "reference_counts": ref_counts.tolist(),
        "current_counts": cur_counts.tolist(),
        "reference_missing": missing(reference),
        "current_missing": missing(current),
    }
    if ref and cur:
        expected.update(_binned_comparisons(ref_counts, cur_counts))
        # First sorted category against the rest, reference first.
        n1, n2 = len(ref), len(cur)
        hits1 = sum(x != categories[0] for x in ref)
        hits2 = sum(x != categories[0] for x in cur)
        pooled = (hits1 + hits2) / (n1 + n2)
        if pooled in (0.0, 1.0):
            expected["z"] = {"statistic": 0.0, "p_value": 1.0}
        else:
            z = (hits1 / n1 - hits2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
            expected["z"] = {"statistic": z, "p_value": float(2 * stats.norm.sf(abs(z)))}
    else:
        expected.update(_undefined_comparisons("categorical"))

    rows = len(current)
    if rows == 0:
        quality = {"rows": 0, "missing_share": None, "out_of_range_share": None, "unseen_share": None}
    else:
        seen = set(ref)
        quality = {
            "rows": rows,
            "missing_share": expected["current_missing"]["null"] / rows,
            "out_of_range_share": 0.0,
            "unseen_share": sum(1 for x in cur if x not in seen) / rows,
        }
    expected["data_quality"] = quality
    return {
        "case": name,
        "description": description,
        "kind": "categorical",
        "epsilon": EPSILON,
        "reference": list(reference),
        "current": list(current),
        "expected": expected,
    }


def _floats(a: np.ndarray, decimals: int = 6) -> list:
    """Plain Python floats, rounded so that the fixture stays small (rounding
    happens before any statistic is computed, so it changes no expectation)."""
    return [float(x) for x in np.round(np.asarray(a, dtype=np.float64), decimals)]


def _sprinkle(values: list, rng: np.random.Generator, specials: dict) -> list:
    """Overwrites random distinct positions with special values:
    ``specials`` maps a value (None, nan, inf, -inf) to how many to place."""
    values = list(values)
    total = sum(specials.values())
    positions = rng.choice(len(values), size=total, replace=False)
    i = 0
    for value, count in specials.items():
        for _ in range(count):
            values[int(positions[i])] = value
            i += 1
    return values


def drift_cases() -> list[dict]:
    cases = []

    rng = np.random.default_rng(101)
    cases.append(
        numeric_case(
            "small_normal_shift",
            "N(0,1) x50 against N(0.6,1) x40: small samples, so scipy's KS 'auto' is the exact method.",
            _floats(rng.normal(0.0, 1.0, 50)),
            _floats(rng.normal(0.6, 1.0, 40)),
        )
    )

    rng = np.random.default_rng(102)
    cases.append(
        numeric_case(
            "medium_no_drift",
            "N(5,2) x2000 against N(5,2) x3000: no drift; max(n) <= 10000 so KS 'auto' is exact.",
            _floats(rng.normal(5.0, 2.0, 2000)),
            _floats(rng.normal(5.0, 2.0, 3000)),
        )
    )

    rng = np.random.default_rng(103)
    cases.append(
        numeric_case(
            "large_asymptotic",
            "N(0,1) x20000 against N(0.05,1.1) x15000: max(n) > 10000 so KS 'auto' is asymp "
            "(kstwo.sf at round(n1 n2 / (n1 + n2))).",
            _floats(rng.normal(0.0, 1.0, 20000), 5),
            _floats(rng.normal(0.05, 1.1, 15000), 5),
        )
    )

    rng = np.random.default_rng(104)
    cases.append(
        numeric_case(
            "ties_integers",
            "Binomial(20, 0.5) x600 against Binomial(20, 0.56) x700 as floats: heavy ties, so "
            "np.unique merges decile edges and the bins are fewer than 10.",
            [float(x) for x in rng.binomial(20, 0.5, 600)],
            [float(x) for x in rng.binomial(20, 0.56, 700)],
        )
    )

    rng = np.random.default_rng(105)
    ref = _sprinkle(
        _floats(rng.normal(0.0, 1.0, 300)), rng, {None: 7, math.nan: 11, math.inf: 3, -math.inf: 2}
    )
    cur = _sprinkle(
        _floats(rng.normal(0.2, 1.3, 250)), rng, {None: 4, math.nan: 20, math.inf: 6, -math.inf: 5}
    )
    cases.append(
        numeric_case(
            "nan_inf",
            "Normal samples with null, NaN, +inf and -inf in both: every statistic uses the finite "
            "values only; +-inf count as out of range but not as missing in data_quality.",
            ref,
            cur,
        )
    )

    rng = np.random.default_rng(106)
    cases.append(
        numeric_case(
            "all_missing_current",
            "100 finite reference values; the current sample is only null, NaN and +-inf, so no "
            "comparison is defined (null) while data_quality still counts the rows.",
            _floats(rng.normal(0.0, 1.0, 100)),
            [None, math.nan, None, math.inf, math.nan, -math.inf, None, math.nan, math.nan, None],
        )
    )

    rng = np.random.default_rng(107)
    cur = [3.0] * 120 + _floats(rng.normal(3.0, 0.5, 60))
    cur = [cur[i] for i in rng.permutation(len(cur))]
    cases.append(
        numeric_case(
            "constant_reference",
            "Reference is 200 copies of 3.0: one decile edge, std 0 (Wasserstein normed by the "
            "0.001 floor); current is mostly 3.0 plus N(3, 0.5) values.",
            [3.0] * 200,
            cur,
        )
    )

    rng = np.random.default_rng(108)
    cases.append(
        numeric_case(
            "empty_current",
            "Current has no rows at all: every comparison and every data_quality share is null.",
            _floats(rng.normal(0.0, 1.0, 80)),
            [],
        )
    )

    rng = np.random.default_rng(109)
    cur = _floats(rng.uniform(8.0, 14.0, 290)) + _floats(rng.uniform(-3.0, -0.5, 6)) + [
        math.inf,
        -math.inf,
        math.nan,
        None,
    ]
    cur = [cur[i] for i in rng.permutation(len(cur))]
    cases.append(
        numeric_case(
            "out_of_range",
            "Uniform(0,10) x400 reference; current mostly Uniform(8,14) with a few negatives and "
            "+-inf: values beyond the reference range land in the open outer bins.",
            _floats(rng.uniform(0.0, 10.0, 400)),
            cur,
        )
    )

    rng = np.random.default_rng(110)
    cats = ["alpha", "bravo", "charlie", "delta", "echo"]
    ref = [str(x) for x in rng.choice(cats, 800, p=[0.3, 0.25, 0.2, 0.15, 0.1])]
    cur = [str(x) for x in rng.choice(cats, 600, p=[0.15, 0.2, 0.2, 0.2, 0.25])]
    ref = _sprinkle(ref, rng, {None: 9})
    cur = _sprinkle(cur, rng, {None: 14})
    cases.append(
        categorical_case(
            "categorical_basic",
            "Five categories with a shifted mix and some nulls in both samples.",
            ref,
            cur,
        )
    )

    rng = np.random.default_rng(111)
    ref = [str(x) for x in rng.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2])]
    cur = [str(x) for x in rng.choice(["a", "b", "c", "d", "e"], 400, p=[0.4, 0.3, 0.2, 0.07, 0.03])]
    cases.append(
        categorical_case(
            "categorical_unseen",
            "Current holds categories d and e that the reference never saw: reference proportion 0 "
            "(epsilon for PSI/KL), GOF chi-square infinite with p = 0, unseen_share > 0.",
            ref,
            cur,
        )
    )

    cases.append(
        categorical_case(
            "single_category",
            "Both samples hold only 'x' (plus a null): every distance is 0, the GOF chi-square has "
            "0 degrees of freedom (scipy gives p = NaN), the contingency test is stat 0, p 1, the "
            "Z-test's pooled share is 0 so z = 0, p = 1.",
            ["x"] * 100 + [None],
            ["x"] * 80,
        )
    )

    rng = np.random.default_rng(113)
    cases.append(
        categorical_case(
            "binary_categorical",
            "Two categories (no/yes) with a shifted share: the two-proportion Z-test case.",
            [str(x) for x in rng.choice(["no", "yes"], 400, p=[0.7, 0.3])],
            [str(x) for x in rng.choice(["no", "yes"], 350, p=[0.6, 0.4])],
        )
    )
    return cases


# --------------------------------------------------------------------------
# Part B: Evidently's DataDriftPreset on multi-column datasets
# --------------------------------------------------------------------------


def _column_frame(columns: dict, part: str) -> pd.DataFrame:
    data = {}
    for name, spec in columns.items():
        values = spec[part]
        if spec["dtype"] == "float64":
            data[name] = pd.Series(
                [np.nan if v is None else v for v in values], dtype="float64"
            )
        elif spec["dtype"] == "int64":
            data[name] = pd.Series(values, dtype="int64")
        else:
            data[name] = pd.Series(values, dtype="object")
    return pd.DataFrame(data)


def _clean(series: pd.Series) -> pd.Series:
    # The same cleaning as legacy/calculations/data_drift.py::get_one_column_drift.
    return series.replace([-np.inf, np.inf], np.nan).dropna()


def evidently_case(name: str, description: str, columns: dict, drift_share: float = 0.5) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.legacy.calculations import stattests
    from evidently.legacy.core import ColumnType
    from evidently.legacy.metrics.data_drift.data_drift_table import DataDriftTableResults
    from evidently.legacy.metrics.data_drift.dataset_drift_metric import DatasetDriftMetricResults
    from evidently.presets import DataDriftPreset

    reference = _column_frame(columns, "reference")
    current = _column_frame(columns, "current")
    numerical = [c for c, s in columns.items() if s["type"] == "numerical"]
    categorical = [c for c, s in columns.items() if s["type"] == "categorical"]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset(drift_share=drift_share)]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )

    # What the user sees: the new-API metric values.
    report = snapshot.dict()
    value_drift = {}
    drifted_count = None
    for metric in report["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            value_drift[config["column"]] = (metric["value"], config["method"], config["threshold"])
        elif config["type"].endswith(":DriftedColumnsCount"):
            drifted_count = metric["value"]

    # The per-column verdicts come from the legacy results the preset computed.
    table = dataset = None
    for result in snapshot.context._legacy_metrics.values():
        result = result[0] if isinstance(result, tuple) else result
        if isinstance(result, DataDriftTableResults):
            table = result
        elif isinstance(result, DatasetDriftMetricResults):
            dataset = result
    assert table is not None and dataset is not None, "preset layout changed"

    expected_columns = {}
    for column, spec in columns.items():
        drift = table.drift_by_columns[column]
        ctype = ColumnType.Numerical if spec["type"] == "numerical" else ColumnType.Categorical
        ref_clean, cur_clean = _clean(reference[column]), _clean(current[column])
        test = stattests.get_stattest(ref_clean, cur_clean, ctype, None)
        direct = test(ref_clean.copy(), cur_clean.copy(), ctype, None)
        score, method, threshold = value_drift[column]
        # Three routes to the same number must agree exactly.
        assert drift.stattest_name == test.display_name == method, (column, drift.stattest_name, method)
        assert _same(drift.drift_score, direct.drift_score) and _same(score, direct.drift_score), column
        assert drift.stattest_threshold == direct.actual_threshold == threshold, column
        assert bool(drift.drift_detected) == bool(direct.drifted), column
        expected_columns[column] = {
            "stattest": test.name,
            "score": float(direct.drift_score),
            "threshold": float(direct.actual_threshold),
            "drifted": bool(direct.drifted),
        }

    n_drifted = sum(c["drifted"] for c in expected_columns.values())
    share = n_drifted / len(expected_columns)
    assert dataset.number_of_drifted_columns == n_drifted == drifted_count["count"]
    assert _same(dataset.share_of_drifted_columns, share) and _same(drifted_count["share"], share)
    assert bool(dataset.dataset_drift) == (share >= drift_share)

    forced = {}
    for column, spec in columns.items():
        ctype = ColumnType.Numerical if spec["type"] == "numerical" else ColumnType.Categorical
        ref_clean, cur_clean = _clean(reference[column]), _clean(current[column])
        row = {}
        for key, test in (
            ("psi", stattests.psi_stat_test),
            ("kl_div", stattests.kl_div_stat_test),
            ("jensenshannon", stattests.jensenshannon_stat_test),
            ("hellinger", stattests.hellinger_stat_test),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Copies: the Hellinger test drops NaN from its inputs in place.
                row[key] = float(test(ref_clean.copy(), cur_clean.copy(), ctype, None).drift_score)
        forced[column] = row

    return {
        "case": name,
        "description": description,
        "drift_share": drift_share,
        "columns": columns,
        "expected": {
            "columns": expected_columns,
            "number_of_drifted_columns": n_drifted,
            "share_of_drifted_columns": share,
            "dataset_drift": bool(dataset.dataset_drift),
        },
        "forced": forced,
    }


def _same(a, b) -> bool:
    a, b = float(a), float(b)
    return a == b or (math.isnan(a) and math.isnan(b))


def _col(kind: str, dtype: str, reference: list, current: list) -> dict:
    return {"type": kind, "dtype": dtype, "reference": reference, "current": current}


def evidently_cases() -> list[dict]:
    cases = []

    rng = np.random.default_rng(201)
    n_ref, n_cur = 500, 400
    cases.append(
        evidently_case(
            "small",
            "500 reference rows (<= 1000): many-unique float -> ks; float with 4 values -> "
            "chisquare; float with 2 values -> z; 4-category string -> chisquare; "
            "2-category string -> z.",
            {
                "num_ks": _col(
                    "numerical", "float64",
                    _floats(rng.normal(0.0, 1.0, n_ref)), _floats(rng.normal(0.25, 1.0, n_cur)),
                ),
                "num_four": _col(
                    "numerical", "float64",
                    [float(x) for x in rng.choice([0.0, 1.0, 2.0, 3.0], n_ref, p=[0.4, 0.3, 0.2, 0.1])],
                    [float(x) for x in rng.choice([0.0, 1.0, 2.0, 3.0], n_cur, p=[0.4, 0.3, 0.2, 0.1])],
                ),
                "num_binary": _col(
                    "numerical", "float64",
                    [float(x) for x in rng.choice([0.0, 1.0], n_ref, p=[0.8, 0.2])],
                    [float(x) for x in rng.choice([0.0, 1.0], n_cur, p=[0.65, 0.35])],
                ),
                "cat_multi": _col(
                    "categorical", "str",
                    [str(x) for x in rng.choice(["red", "green", "blue", "grey"], n_ref)],
                    [str(x) for x in rng.choice(["red", "green", "blue", "grey"], n_cur, p=[0.4, 0.2, 0.2, 0.2])],
                ),
                "cat_binary": _col(
                    "categorical", "str",
                    [str(x) for x in rng.choice(["no", "yes"], n_ref, p=[0.5, 0.5])],
                    [str(x) for x in rng.choice(["no", "yes"], n_cur, p=[0.52, 0.48])],
                ),
            },
        )
    )

    rng = np.random.default_rng(202)
    n_ref, n_cur = 5000, 4000
    cases.append(
        evidently_case(
            "large",
            "5000 reference rows (> 1000): float -> wasserstein; int64 with 30 values -> "
            "wasserstein (and Sturges over combined integers for PSI/KL/JS); float with 3 values "
            "-> jensenshannon; string categories -> jensenshannon; int64 0/1 column whose forced "
            "Hellinger exercises numpy's integer Sturges width clamp (keys {0, 1}).",
            {
                "num_float": _col(
                    "numerical", "float64",
                    _floats(rng.normal(10.0, 3.0, n_ref)), _floats(rng.normal(10.6, 3.2, n_cur)),
                ),
                "num_int": _col(
                    "numerical", "int64",
                    [int(x) for x in rng.binomial(60, 0.5, n_ref)],
                    [int(x) for x in rng.binomial(60, 0.52, n_cur)],
                ),
                "num_int_binary": _col(
                    "numerical", "int64",
                    [int(x) for x in rng.choice([0, 1], n_ref, p=[0.9, 0.1])],
                    [int(x) for x in rng.choice([0, 1], n_cur, p=[0.85, 0.15])],
                ),
                "num_three": _col(
                    "numerical", "float64",
                    [float(x) for x in rng.choice([0.5, 1.5, 2.5], n_ref, p=[0.5, 0.3, 0.2])],
                    [float(x) for x in rng.choice([0.5, 1.5, 2.5], n_cur, p=[0.3, 0.3, 0.4])],
                ),
                "cat": _col(
                    "categorical", "str",
                    [str(x) for x in rng.choice([f"k{i:02d}" for i in range(12)], n_ref)],
                    [str(x) for x in rng.choice([f"k{i:02d}" for i in range(12)], n_cur)],
                ),
            },
        )
    )

    rng = np.random.default_rng(203)
    n_ref, n_cur = 1200, 900
    num_gap = _sprinkle(_floats(rng.normal(0.0, 1.0, n_ref)), rng, {None: 150, math.inf: 40, -math.inf: 20})
    num_big = _sprinkle(_floats(rng.normal(0.0, 1.0, n_ref)), rng, {None: 30, math.inf: 5})
    cat_gap = _sprinkle([str(x) for x in rng.choice(["u", "v", "w", "x"], n_ref)], rng, {None: 100})
    cases.append(
        evidently_case(
            "with_missing",
            "1200 reference rows with NaN/None/+-inf. Evidently drops them before everything, "
            "including the test choice: num_gap keeps 990 rows (<= 1000) so it gets ks, num_big "
            "keeps 1165 (> 1000) so it gets wasserstein; cat_gap keeps 1100 so jensenshannon.",
            {
                "num_gap": _col(
                    "numerical", "float64", num_gap,
                    _sprinkle(_floats(rng.normal(0.1, 1.0, n_cur)), rng, {None: 50, math.inf: 3}),
                ),
                "num_big": _col(
                    "numerical", "float64", num_big,
                    _sprinkle(_floats(rng.normal(0.0, 1.0, n_cur)), rng, {None: 200, -math.inf: 9}),
                ),
                "cat_gap": _col(
                    "categorical", "str", cat_gap,
                    _sprinkle([str(x) for x in rng.choice(["u", "v", "w", "x"], n_cur, p=[0.1, 0.3, 0.3, 0.3])],
                              rng, {None: 60}),
                ),
            },
        )
    )

    rng = np.random.default_rng(204)
    cases.append(
        evidently_case(
            "unseen",
            "Categories present only in current: with 300 reference rows the chisquare GOF has an "
            "expected 0 (statistic inf, p = 0); with 3000 rows jensenshannon uses reference "
            "proportion 0 without epsilon; forced PSI/KL use the min-nonzero/1e6 fill.",
            {
                "cat_small": _col(
                    "categorical", "str",
                    [str(x) for x in rng.choice(["a", "b", "c"], 300)],
                    [str(x) for x in rng.choice(["a", "b", "c", "d"], 250, p=[0.3, 0.3, 0.3, 0.1])],
                ),
            },
        )
    )
    # 10000 reference rows with one value seen exactly once: its proportion is
    # 1e-4, so Evidently's zero fill becomes 1e-4 / 1e6 instead of 1e-4.
    large_ref = [str(x) for x in rng.choice(["a", "b", "c", "d"], 9999)] + ["z"]
    large_ref = [large_ref[i] for i in rng.permutation(len(large_ref))]
    large_cur = [
        str(x) for x in rng.choice(["a", "b", "c", "d", "e", "f"], 2000, p=[0.24, 0.24, 0.24, 0.24, 0.03, 0.01])
    ]
    rare_ref = [float(x) for x in rng.choice([1.0, 2.0, 3.0], 9999, p=[0.4, 0.3, 0.3])] + [4.0]
    rare_ref = [rare_ref[i] for i in rng.permutation(len(rare_ref))]
    cases.append(
        evidently_case(
            "unseen_large",
            "10000 reference rows; current adds categories e and f (and value 5.0) that the "
            "reference lacks: jensenshannon by default (no epsilon). One reference value occurs "
            "exactly once (proportion 1e-4), so the forced PSI/KL fill zeros with "
            "min-nonzero/1e6 = 1e-10 rather than 1e-4.",
            {
                "cat_large": _col("categorical", "str", large_ref, large_cur),
                "num_rare": _col(
                    "numerical", "float64",
                    rare_ref,
                    [float(x) for x in rng.choice([1.0, 2.0, 3.0, 5.0], 2000, p=[0.4, 0.3, 0.25, 0.05])],
                ),
            },
        )
    )

    rng = np.random.default_rng(205)
    n_ref, n_cur = 600, 500
    cases.append(
        evidently_case(
            "share_boundary",
            "Four columns, exactly two drifted: share 0.5 meets drift_share 0.5 (>=), so the "
            "dataset counts as drifted.",
            {
                "d1": _col("numerical", "float64",
                           _floats(rng.normal(0.0, 1.0, n_ref)), _floats(rng.normal(1.0, 1.0, n_cur))),
                "d2": _col("categorical", "str",
                           [str(x) for x in rng.choice(["p", "q", "r"], n_ref, p=[0.6, 0.3, 0.1])],
                           [str(x) for x in rng.choice(["p", "q", "r"], n_cur, p=[0.2, 0.3, 0.5])]),
                "s1": _col("numerical", "float64",
                           _floats(rng.normal(0.0, 1.0, n_ref)), _floats(rng.normal(0.0, 1.0, n_cur))),
                "s2": _col("categorical", "str",
                           [str(x) for x in rng.choice(["p", "q", "r"], n_ref)],
                           [str(x) for x in rng.choice(["p", "q", "r"], n_cur)]),
            },
        )
    )
    cases.append(
        evidently_case(
            "share_below",
            "The same four columns with drift_share 0.6: two drifted of four (0.5) is below it.",
            cases[-1]["columns"],
            drift_share=0.6,
        )
    )
    return cases


# --------------------------------------------------------------------------


def main() -> int:
    # Evidently builds its category keys from a Python set, whose order for
    # strings follows the per-process hash seed; the order changes the float
    # summation order and so the last bits. A fixed seed makes reruns
    # byte-identical.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["drift", "evidently"])
    parser.add_argument("--any-version", action="store_true")
    args = parser.parse_args()

    import evidently

    found = {"evidently": evidently.__version__, "scipy": scipy.__version__, "numpy": np.__version__}
    if found != PINNED and not args.any_version:
        print(f"expected {PINNED}, found {found} (pass --any-version to go on)", file=sys.stderr)
        return 2

    if args.only in (None, "drift"):
        for case in drift_cases():
            write(HERE / "drift" / f"{case['case']}.json", case)
            print(f"drift/{case['case']}.json")
    if args.only in (None, "evidently"):
        for case in evidently_cases():
            write(HERE / "evidently" / f"{case['case']}.json", case)
            print(f"evidently/{case['case']}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
