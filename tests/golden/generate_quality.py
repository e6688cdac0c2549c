"""Golden fixtures for driftgauge's model-quality and fairness accumulators.

Writes ``tests/golden/quality/<case>.json``: typed input columns and the metrics
scikit-learn and Fairlearn compute on them. ``tests/golden_quality.rs`` reads
every file, builds Arrow arrays and compares ``driftgauge_detectors::quality`` and
``driftgauge_detectors::fairness`` with these numbers.

Environment (the versions the committed fixtures were made with)::

    python3 -m venv ~/.cache/driftgauge/venv-quality
    ~/.cache/driftgauge/venv-quality/bin/pip install scikit-learn 'fairlearn==0.15.*' numpy pandas
    # Python 3.11.7: scikit-learn 1.9.1, fairlearn 0.15.0, numpy 2.4.6,
    # pandas 3.1.1, scipy 1.17.1

Run from anywhere::

    ~/.cache/driftgauge/venv-quality/bin/python tests/golden/generate_quality.py

File format (strict JSON, sorted keys; non-finite floats as the strings
"NaN", "Infinity", "-Infinity"):

* ``kind``: "binary", "regression" or "fairness"; ``description``: prose.
* ``config``: the accumulator settings (``positive_label``, ``threshold``,
  ``min_group_size``) where they apply.
* ``inputs``: columns ``{"type": T, "values": [...]}`` with ``null`` for a
  missing value. T is one of bool, int64, int32, uint8, utf8, large_utf8,
  dict_utf8 (Dictionary<Int32, Utf8>) or float64. Names: labels and
  predictions (binary, fairness), attribute (fairness), y_true and y_pred
  (regression).
* ``expected``: the reference numbers. A metric the reference leaves undefined
  is ``null`` (sklearn's ROC AUC with one class is NaN plus a warning;
  driftgauge reports ``None``).

Conventions of the expected values:

* sklearn metrics are computed on the rows where every input is present (and
  finite, for regression), as driftgauge does.
* log loss uses ``labels=[0, 1]`` so that a single-class window is defined.
* precision, recall and F1 use ``zero_division=0``.
* fairness: Fairlearn's ``MetricFrame`` and ``fairlearn.metrics`` functions
  with their defaults (``method='between_groups'``, ``agg='worst_case'``),
  computed over the rows of the *included* groups only (groups with at least
  ``min_group_size`` rows); every group's own metrics are listed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import fairlearn
import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import sklearn
import sklearn.metrics as skm

OUT = Path(__file__).resolve().parent / "quality"


def clean(value):
    """Plain Python values for json, with non-finite floats as strings."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        x = float(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return x
    return value


def column(type_name, values):
    return {"type": type_name, "values": list(values)}


def present(*columns):
    """Indices of the rows where no column is None."""
    return [i for i in range(len(columns[0])) if all(c[i] is not None for c in columns)]


def write(name, case):
    case = clean(case)
    case["versions"] = {
        "fairlearn": fairlearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }
    text = json.dumps(case, sort_keys=True, allow_nan=False, indent=1)
    (OUT / f"{name}.json").write_text(text + "\n")


# ---------------------------------------------------------------- binary


def binary_case(name, description, labels, predictions, *, positive=1, threshold=0.5):
    """labels / predictions: typed columns; predictions of type float64 are scores."""
    lab, pred = labels["values"], predictions["values"]
    rows = present(lab, pred)
    is_score = predictions["type"] == "float64"
    if is_score:
        rows = [i for i in rows if 0.0 <= pred[i] <= 1.0]
    y = np.array([lab[i] for i in rows], dtype=object)
    y_pos = np.array([v == positive for v in y])
    if is_score:
        s = np.array([pred[i] for i in rows], dtype=np.float64)
        p_pos = s >= threshold
    else:
        p_pos = np.array([pred[i] == positive for i in rows])
    # sklearn on 0/1 encodings of "is the positive class" (one-vs-rest), which
    # is what pos_label does for binary data.
    yt, yp = y_pos.astype(int), p_pos.astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(yt, yp, labels=[0, 1]).ravel()
    expected = {
        "rows": len(rows),
        "skipped": len(lab) - len(rows),
        "invalid_scores": len(present(lab, pred)) - len(rows),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "accuracy": skm.accuracy_score(yt, yp),
        "precision": skm.precision_score(yt, yp, zero_division=0),
        "recall": skm.recall_score(yt, yp, zero_division=0),
        "f1": skm.f1_score(yt, yp, zero_division=0),
        "positive_rate": float(np.mean(yp)),
        "label_positive_rate": float(np.mean(yt)),
        "roc_auc": None,
        "log_loss": None,
    }
    if is_score:
        if len(set(yt.tolist())) == 2:
            expected["roc_auc"] = skm.roc_auc_score(yt, s)
        expected["log_loss"] = skm.log_loss(yt, s, labels=[0, 1])
    if labels["type"] in ("utf8", "large_utf8", "dict_utf8") and not is_score:
        # Cross-check: sklearn's pos_label on the raw strings gives the same.
        raw_pred = np.array([pred[i] for i in rows], dtype=object)
        assert skm.precision_score(y, raw_pred, pos_label=positive, zero_division=0) == expected["precision"]
        assert skm.recall_score(y, raw_pred, pos_label=positive, zero_division=0) == expected["recall"]
    write(
        name,
        {
            "kind": "binary",
            "description": description,
            "config": {"positive_label": positive, "threshold": threshold},
            "inputs": {"labels": labels, "predictions": predictions},
            "expected": expected,
        },
    )


def with_nulls(rng, values, share):
    return [None if rng.random() < share else v for v in values]


def binary_cases(rng):
    n = 400
    y = rng.integers(0, 2, n)
    # Scores rounded to 2 decimals: many ties, inside and across classes.
    s = np.clip(np.round(0.5 * y + rng.normal(0.25, 0.22, n), 2), 0.0, 1.0)
    s[:6] = [0.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    binary_case(
        "binary_balanced_scores_ties",
        "Balanced 0/1 labels with scores rounded to two decimals (many ties), "
        "a few null labels and scores, and two invalid scores (NaN and 1.5) that are skipped.",
        column("int64", with_nulls(rng, y.tolist(), 0.02)),
        column("float64", with_nulls(rng, s.tolist(), 0.02)[:-2] + [float("nan"), 1.5]),
    )

    n = 1000
    y = (rng.random(n) < 0.05).astype(int)
    s = np.where(y == 1, rng.beta(4, 2, n), rng.beta(1.5, 6, n))
    binary_case(
        "binary_imbalanced_threshold",
        "5% positives, continuous scores, decision threshold 0.3.",
        column("bool", [bool(v) for v in y]),
        column("float64", s.tolist()),
        positive=True,
        threshold=0.3,
    )

    n = 120
    s = rng.beta(2, 5, n)
    binary_case(
        "binary_all_one_class",
        "Every label negative: precision, recall and F1 hit zero_division; ROC AUC is "
        "undefined (sklearn: NaN with a warning); log loss with labels=[0, 1].",
        column("int64", [0] * n),
        column("float64", s.tolist()),
    )

    n = 300
    truth = rng.random(n) < 0.35
    flip = rng.random(n) < 0.2
    lab = ["fraud" if t else "ok" for t in truth]
    pred = ["fraud" if (t != f) else "ok" for t, f in zip(truth, flip)]
    binary_case(
        "binary_string_labels",
        "Labels and predicted labels as strings, positive label \"fraud\" (labels as a "
        "dictionary column, predictions as plain Utf8).",
        column("dict_utf8", with_nulls(rng, lab, 0.03)),
        column("utf8", pred),
        positive="fraud",
    )

    n = 250
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.75, y, 1 - y)
    binary_case(
        "binary_int_predictions",
        "Integer labels (Int32) and integer predicted labels (Int64), no scores.",
        column("int32", y.tolist()),
        column("int64", with_nulls(rng, p.tolist(), 0.04)),
    )


# ---------------------------------------------------------------- regression


def regression_case(name, description, y_true, y_pred):
    t, p = y_true["values"], y_pred["values"]
    rows = [i for i in present(t, p) if math.isfinite(t[i]) and math.isfinite(p[i])]
    nulls = len(t) - len(present(t, p))
    yt = np.array([t[i] for i in rows], dtype=np.float64)
    yp = np.array([p[i] for i in rows], dtype=np.float64)
    expected = {
        "rows": len(rows),
        "skipped": len(t) - len(rows),
        "non_finite": len(t) - len(rows) - nulls,
        "mae": skm.mean_absolute_error(yt, yp),
        "rmse": skm.root_mean_squared_error(yt, yp),
        "mape": skm.mean_absolute_percentage_error(yt, yp),
        "r2": skm.r2_score(yt, yp),
    }
    write(
        name,
        {
            "kind": "regression",
            "description": description,
            "config": {},
            "inputs": {"y_true": y_true, "y_pred": y_pred},
            "expected": expected,
        },
    )


def regression_cases(rng):
    n = 500
    t = rng.normal(50.0, 12.0, n)
    p = t + rng.normal(0.0, 4.0, n)
    t_list = with_nulls(rng, t.tolist(), 0.02)
    t_list[7] = float("nan")
    regression_case(
        "regression_basic",
        "Normal targets with noisy predictions; a few nulls and one NaN target (skipped).",
        column("float64", t_list),
        column("float64", p.tolist()),
    )

    n = 200
    t = np.round(rng.normal(0.0, 3.0, n), 1)
    t[:10] = 0.0
    p = t + rng.normal(0.0, 0.5, n)
    p[0] = 0.0  # an exact prediction of a zero target: 0 / eps = 0
    regression_case(
        "regression_zeros_in_y_true",
        "Targets with exact zeros: MAPE divides by max(|y|, eps) and becomes huge.",
        column("float64", t.tolist()),
        column("float64", p.tolist()),
    )

    n = 50
    p = 2.5 + rng.normal(0.0, 0.1, n)
    regression_case(
        "regression_constant_y_true",
        "Constant (exactly representable) targets: R² is 0.0 unless every prediction is exact.",
        column("float64", [2.5] * n),
        column("float64", p.tolist()),
    )
    regression_case(
        "regression_constant_y_true_perfect",
        "Constant targets predicted exactly: R² is 1.0.",
        column("float64", [2.5] * 20),
        column("float64", [2.5] * 20),
    )


# ---------------------------------------------------------------- fairness


def fairness_case(
    name, description, labels, predictions, attribute, *, positive=1, threshold=0.5, min_group_size=30
):
    lab, pred, attr = labels["values"], predictions["values"], attribute["values"]
    rows = present(lab, pred, attr)
    is_score = predictions["type"] == "float64"
    if is_score:
        rows = [i for i in rows if 0.0 <= pred[i] <= 1.0]
    yt = np.array([int(lab[i] == positive) for i in rows])
    if is_score:
        yp = np.array([int(pred[i] >= threshold) for i in rows])
    else:
        yp = np.array([int(pred[i] == positive) for i in rows])
    key = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    groups = np.array([key(attr[i]) for i in rows], dtype=object)

    metrics = {
        "count": flm.count,
        "selection_rate": flm.selection_rate,
        "tpr": flm.true_positive_rate,
        "fpr": flm.false_positive_rate,
        "accuracy": skm.accuracy_score,
    }
    frame = flm.MetricFrame(metrics=metrics, y_true=yt, y_pred=yp, sensitive_features=groups)
    by_group = frame.by_group
    out_groups = []
    included = []
    for g in sorted(by_group.index, key=lambda s: s.encode()):
        row = by_group.loc[g]
        count = int(row["count"])
        inc = count >= min_group_size
        if inc:
            included.append(g)
        out_groups.append(
            {
                "group": g,
                "count": count,
                "selection_rate": row["selection_rate"],
                "tpr": row["tpr"],
                "fpr": row["fpr"],
                "accuracy": row["accuracy"],
                "included": inc,
            }
        )
    expected = {
        "rows": len(rows),
        "skipped": len(lab) - len(rows),
        "null_attribute": sum(v is None for v in attr),
        "groups": out_groups,
    }
    names = [
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    ]
    if len(included) >= 2:
        mask = np.isin(groups, included)
        for n in names:
            expected[n] = getattr(flm, n)(yt[mask], yp[mask], sensitive_features=groups[mask])
    else:
        for n in names:
            expected[n] = None
    write(
        name,
        {
            "kind": "fairness",
            "description": description,
            "config": {
                "positive_label": positive,
                "threshold": threshold,
                "min_group_size": min_group_size,
            },
            "inputs": {"labels": labels, "predictions": predictions, "attribute": attribute},
            "expected": expected,
        },
    )


def fairness_cases(rng):
    n = 900
    g = rng.choice(["north", "south", "west"], n, p=[0.5, 0.3, 0.2])
    base = {"north": 0.4, "south": 0.3, "west": 0.5}
    y = np.array([rng.random() < base[v] for v in g]).astype(int)
    shift = {"north": 0.0, "south": -0.08, "west": 0.05}
    s = np.clip(0.45 * y + rng.normal(0.3, 0.18, n) + np.array([shift[v] for v in g]), 0, 1)
    fairness_case(
        "fairness_three_groups",
        "Three groups of different base rates and score shifts; scores with threshold 0.5; "
        "a few null attributes.",
        column("int64", y.tolist()),
        column("float64", s.tolist()),
        column("utf8", with_nulls(rng, g.tolist(), 0.02)),
    )

    n = 400
    g = rng.choice(["a", "b"], n)
    g = list(g) + ["tiny"] * 12
    y = (rng.random(len(g)) < 0.4).astype(int)
    p = np.where(rng.random(len(g)) < 0.8, y, 1 - y)
    p[-12:] = 1  # the tiny group would dominate demographic parity if it counted
    fairness_case(
        "fairness_tiny_group",
        "Groups a and b plus a group of 12 rows, below min_group_size = 30: reported, "
        "not compared. Attribute as a dictionary column; integer predicted labels.",
        column("int64", y.tolist()),
        column("int64", p.tolist()),
        column("dict_utf8", g),
    )

    n = 300
    g = rng.choice([1, 2, 3], n)
    y = np.array([0 if v == 3 else int(rng.random() < 0.5) for v in g])
    p = np.where(rng.random(n) < 0.7, y, 1 - y)
    fairness_case(
        "fairness_group_without_positives",
        "Integer attribute; group 3 has no positive label, so its TPR is 0.0 "
        "(Fairlearn: confusion matrix normalised, then nan_to_num).",
        column("int64", y.tolist()),
        column("int64", p.tolist()),
        column("uint8", g.tolist()),
    )

    n = 200
    g = rng.choice([True, False], n)
    y = np.zeros(n, dtype=int)
    p = (rng.random(n) < np.where(g, 0.3, 0.6)).astype(int)
    fairness_case(
        "fairness_nan_ratios",
        "No positive label at all: every TPR is 0, so the TPR ratio is 0/0 = NaN, and "
        "Fairlearn's equalized-odds ratio (Python min over [tpr, fpr]) is NaN too. "
        "Boolean attribute, Boolean labels (positive label true).",
        column("bool", [bool(v) for v in y]),
        column("bool", [bool(v) for v in p]),
        column("bool", [bool(v) for v in g]),
        positive=True,
    )


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    binary_cases(rng)
    regression_cases(rng)
    fairness_cases(rng)


if __name__ == "__main__":
    main()
