"""Writes the reference/current pairs under tests/data/real_world/ as pandas,
polars and pyarrow write them, for tests/real_world.rs (which needs no Python).

    python3 -m venv ~/.cache/driftgauge/venv-inputs
    ~/.cache/driftgauge/venv-inputs/bin/pip install pandas polars pyarrow
    ~/.cache/driftgauge/venv-inputs/bin/python tests/data/real_world/generate.py

Each pair is `<name>.reference.<ext>` and `<name>.current.<ext>`; the current
side drifts a little. Small on purpose: they are committed.
"""

import datetime as dt
import decimal
import pathlib

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent
ROWS = 400


def frame(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100 + 20 * shift, 15, ROWS).round(2),
            "age": rng.integers(18, 80, ROWS) + int(5 * shift),
            "country": rng.choice(["de", "fr", "nl", "us"], ROWS, p=[0.4, 0.3, 0.2 - 0.1 * shift, 0.1 + 0.1 * shift]),
            "active": rng.random(ROWS) < 0.6,
            "score": rng.random(ROWS).round(3),
            "label": (rng.random(ROWS) < 0.3).astype(int),
        }
    )


def pandas_files(name: str, side: str, df: pd.DataFrame) -> None:
    # A non-range index: to_parquet stores it as __index_level_0__ (a range
    # index is stored in the metadata only).
    indexed = df.set_index(pd.Index([f"r{i:04}" for i in range(ROWS)]))
    indexed.to_parquet(HERE / f"pandas_parquet_index.{side}.parquet")
    df.to_parquet(HERE / f"pandas_parquet.{side}.parquet", index=False)
    # A named index, listed in the pandas metadata.
    named = df.set_index(pd.Index([i * i + 7 for i in range(ROWS)], name="row_id"))
    named.to_parquet(HERE / f"pandas_parquet_named_index.{side}.parquet")
    # to_csv's default writes the index as an unnamed leading column.
    df.to_csv(HERE / f"pandas_csv.{side}.csv")
    # to_feather: Feather v2, lz4-compressed by default.
    df.to_feather(HERE / f"pandas_feather.{side}.feather")


def polars_files(side: str, df: pd.DataFrame) -> None:
    frame = pl.from_pandas(df)
    frame.write_parquet(HERE / f"polars_parquet.{side}.parquet")
    frame.write_ipc(HERE / f"polars_ipc_zstd.{side}.arrow", compression="zstd")


def pyarrow_files(side: str, df: pd.DataFrame, shift: float) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=30 * shift)
    table = pa.table(
        {
            "amount": pa.array(df["amount"]),
            "price": pa.array(
                [decimal.Decimal(f"{v:.2f}") for v in df["amount"] * 1.5], pa.decimal128(12, 2)
            ),
            "ratio": pa.array(df["score"].astype(np.float16)),
            "country": pa.array(df["country"]).dictionary_encode(),
            "seen_at": pa.array(
                [start + dt.timedelta(minutes=i) for i in range(ROWS)], pa.timestamp("us", tz="UTC")
            ),
            "day": pa.array([(start + dt.timedelta(days=i % 30)).date() for i in range(ROWS)], pa.date32()),
            "tags": pa.array([["a", "b"][: i % 3] for i in range(ROWS)], pa.list_(pa.string())),
            "meta": pa.array([{"k": i, "v": "x"} for i in range(ROWS)]),
        }
    )
    pq.write_table(table, HERE / f"pyarrow_types.{side}.parquet")
    feather.write_feather(table, HERE / f"pyarrow_types.{side}.feather", compression="zstd")


for side, seed, shift in [("reference", 1, 0.0), ("current", 2, 1.0)]:
    df = frame(seed, shift)
    pandas_files("pandas", side, df)
    polars_files(side, df)
    pyarrow_files(side, df, shift)
