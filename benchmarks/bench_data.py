"""Deterministic synthetic data for the audit benchmark: a REFERENCE and a DRIFTED CURRENT file.

N rows x 20 columns, written as Parquet with pyarrow, one row group per CHUNK_ROWS rows, chunk by
chunk (a 10,000,000-row file is never whole in memory). Every chunk draws from its own generator,
seeded by (SEED, kind, chunk index), so a file is the same bytes-for-values on every run and the
first N rows of a bigger "current" file are the N rows of the smaller one.

Columns
    record_id     id           unique int64 (reference from 0, current from 1,000,000,000)
    event_time    timestamp    timestamp[us]; reference spans 2025-01..06, current 2025-07
    10 numeric    num_*        normal, lognormal, exponential, uniform, gamma, poisson (int),
                               bimodal mixture, beta, student-t, integer age
    8 categorical cat_*        5, 6, 8, 10, 12, 15, 20 and 30 categories, Zipf-like weights

Drift injected into CURRENT (what a good audit must find, and what the smoke test asserts):
    num_normal       shifted by +0.5 sd            (mean 50 -> 55)
    num_lognormal    scaled by 1.6
    num_gamma        shifted by +3 (about 0.7 sd)
    cat_plan         re-weighted (the rarest plan becomes the most common)
    cat_region       re-weighted (uniform instead of Zipf)
    cat_channel      a new category, "partner_api", on 8% of rows
    num_exponential  5% nulls (none in the reference)
    cat_device       5% nulls (none in the reference)
Everything else is drawn from the same distribution as the reference (must NOT be flagged).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENERATOR_VERSION = 1  # bump when the data changes, so cached files are regenerated
SEED = 20260101
CHUNK_ROWS = 100_000

NUMERIC = [
    "num_normal",
    "num_lognormal",
    "num_exponential",
    "num_uniform",
    "num_gamma",
    "num_poisson",
    "num_bimodal",
    "num_beta",
    "num_student_t",
    "num_age",
]
INT_NUMERIC = {"num_poisson", "num_age"}
CATEGORIES = {
    "cat_plan": ["free", "basic", "pro", "team", "enterprise"],
    "cat_device": ["ios", "android", "web", "desktop", "tv", "other"],
    "cat_channel": ["organic", "search", "social", "email", "referral", "display", "affiliate", "direct"],
    "cat_region": [f"region_{i:02d}" for i in range(10)],
    "cat_tier": [f"tier_{i:02d}" for i in range(12)],
    "cat_language": [f"lang_{i:02d}" for i in range(15)],
    "cat_product": [f"product_{i:02d}" for i in range(20)],
    "cat_store": [f"store_{i:02d}" for i in range(30)],
}
CATEGORICAL = list(CATEGORIES)
ID_COLUMN = "record_id"
TIMESTAMP_COLUMN = "event_time"
COLUMNS = [ID_COLUMN, TIMESTAMP_COLUMN, *NUMERIC, *CATEGORICAL]

# What the smoke test (and the benchmark's sanity check) expect an audit to flag.
DRIFTED_NUMERIC = ["num_normal", "num_lognormal", "num_gamma"]
DRIFTED_CATEGORICAL = ["cat_plan", "cat_region", "cat_channel"]
NEW_CATEGORY = ("cat_channel", "partner_api")
NULLED = ["num_exponential", "cat_device"]
STABLE_NUMERIC = [name for name in NUMERIC if name not in DRIFTED_NUMERIC and name not in NULLED]

_KIND_IDS = {"reference": 1, "current": 2}
_ID_OFFSET = {"reference": 0, "current": 1_000_000_000}
_T0 = {"reference": np.datetime64("2025-01-01T00:00:00", "us"), "current": np.datetime64("2025-07-01T00:00:00", "us")}
_SPAN_S = {"reference": 181 * 86_400, "current": 31 * 86_400}


def schema() -> pa.Schema:
    fields = [pa.field(ID_COLUMN, pa.int64(), nullable=False), pa.field(TIMESTAMP_COLUMN, pa.timestamp("us"))]
    fields += [pa.field(name, pa.int64() if name in INT_NUMERIC else pa.float64()) for name in NUMERIC]
    fields += [pa.field(name, pa.string()) for name in CATEGORICAL]
    return pa.schema(fields)


def _zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _categorical(rng, name: str, n: int, drifted: bool) -> pa.Array:
    values = list(CATEGORIES[name])
    weights = _zipf_weights(len(values))
    if drifted and name == "cat_plan":
        weights = weights[::-1].copy()
    elif drifted and name == "cat_region":
        weights = np.full(len(values), 1.0 / len(values))
    elif drifted and name == "cat_channel":
        values.append(NEW_CATEGORY[1])
        weights = np.append(weights * 0.92, 0.08)
    codes = rng.choice(len(values), size=n, p=weights).astype(np.int32)
    mask = None
    if drifted and name in NULLED:
        mask = rng.random(n) < 0.05
    array = pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(values, pa.string()))
    return array.cast(pa.string())


def _numeric(rng, name: str, n: int, drifted: bool) -> pa.Array:
    if name == "num_normal":
        x = rng.normal(50.0, 10.0, n) + (5.0 if drifted else 0.0)
    elif name == "num_lognormal":
        x = rng.lognormal(3.0, 0.8, n) * (1.6 if drifted else 1.0)
    elif name == "num_exponential":
        x = rng.exponential(5.0, n)
    elif name == "num_uniform":
        x = rng.uniform(0.0, 100.0, n)
    elif name == "num_gamma":
        x = rng.gamma(2.0, 2.0, n) + (3.0 if drifted else 0.0)
    elif name == "num_poisson":
        x = rng.poisson(4.0, n).astype(np.int64)
    elif name == "num_bimodal":
        left = rng.random(n) < 0.3
        x = np.where(left, rng.normal(-20.0, 3.0, n), rng.normal(15.0, 6.0, n))
    elif name == "num_beta":
        x = rng.beta(2.0, 5.0, n)
    elif name == "num_student_t":
        x = rng.standard_t(3.0, n)
    elif name == "num_age":
        x = np.clip(np.round(rng.normal(42.0, 13.0, n)), 18, 90).astype(np.int64)
    else:  # pragma: no cover - NUMERIC is closed
        raise KeyError(name)
    mask = rng.random(n) < 0.05 if (drifted and name in NULLED) else None
    return pa.array(x, type=pa.int64() if name in INT_NUMERIC else pa.float64(), mask=mask)


def make_chunk(kind: str, chunk_index: int, n: int) -> pa.Table:
    """Rows [chunk_index * CHUNK_ROWS, + n) of the `kind` ("reference" or "current") data set."""
    drifted = kind == "current"
    rng = np.random.default_rng(np.random.SeedSequence([SEED, _KIND_IDS[kind], chunk_index]))
    start = chunk_index * CHUNK_ROWS
    columns = {
        ID_COLUMN: pa.array(np.arange(start, start + n, dtype=np.int64) + _ID_OFFSET[kind]),
        TIMESTAMP_COLUMN: pa.array(
            _T0[kind] + rng.integers(0, _SPAN_S[kind], n).astype("timedelta64[s]").astype("timedelta64[us]"),
            type=pa.timestamp("us"),
        ),
    }
    for name in NUMERIC:
        columns[name] = _numeric(rng, name, n, drifted)
    for name in CATEGORICAL:
        columns[name] = _categorical(rng, name, n, drifted)
    return pa.table(columns, schema=schema())


def write_dataset(path: Path, kind: str, rows: int) -> Path:
    """Write `rows` rows of `kind` to `path` (via a temporary file, so a killed run leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with pq.ParquetWriter(tmp, schema(), compression="snappy") as writer:
        for chunk_index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            n = min(CHUNK_ROWS, rows - start)
            writer.write_table(make_chunk(kind, chunk_index, n), row_group_size=CHUNK_ROWS)
    os.replace(tmp, path)
    return path


def dataset_path(work_dir: Path, kind: str, rows: int) -> Path:
    return Path(work_dir) / f"keel-bench-v{GENERATOR_VERSION}-{kind}-{rows}rows.parquet"


def ensure_dataset(work_dir: Path, kind: str, rows: int) -> tuple[Path, bool]:
    """The cached file for (kind, rows), generated if missing. Returns (path, generated_now)."""
    path = dataset_path(work_dir, kind, rows)
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path, False
    return write_dataset(path, kind, rows), True
