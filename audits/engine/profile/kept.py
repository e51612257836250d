"""Kept values: a numeric column's sorted finite float64 values, kept beside its profile while the
column has at most `exact_values_max()` of them, so drift statistics are exact (audits/engine/bounds.py);
above that, its bounds.TAIL_VALUES smallest and largest values ("tail_low", "tail_high"), which make
the outer bins' share of Wasserstein exact.

They live in the in-memory profile under those keys (KEPT_KEYS) as numpy arrays, and never in a
stored JSON profile: `without_kept_values` strips them, `kept_values` takes them out, and a reference
keeps them in a compressed file of its own (`write_kept_values` / `read_kept_values`: np.savez_compressed,
float64, so exact) that `with_kept_values` puts back when a batch is compared with it. A profile stored
before this (values as base64 text in its JSON) still reads: bounds.column_values decodes either form.

Pure Python + numpy; no Django.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from ..bounds import UNAVAILABLE, column_tails, column_values

# What a numeric column may keep beside its JSON profile, each a sorted float64 array.
KEPT_KEYS = ("values", "tail_low", "tail_high")

__all__ = [
    "EXACT_VALUES",
    "KEPT_KEYS",
    "KeptValuesError",
    "exact_values_max",
    "set_exact_values_max",
    "kept_values",
    "with_kept_values",
    "without_kept_values",
    "encode_kept_values",
    "write_kept_values",
    "read_kept_values",
]

# The default reach of the exact statistics, per column and side (settings.KEEL_EXACT_DRIFT_MAX_VALUES
# sets it in a running Keel). 300,000 float64 values are 2.4 MB per column in memory; scipy's KS and
# Wasserstein on 300,000 a side take ~0.1 s. A 20-column batch of 300,000 rows keeps 48 MB beside the
# reference's 48 MB (docs/architecture.md states the measured peak).
EXACT_VALUES = 300_000
_exact_values = EXACT_VALUES


class KeptValuesError(ValueError):
    """A value file that cannot be read as one: missing members, wrong type, not sorted, wrong count."""


def exact_values_max() -> int:
    """How many finite values a numeric column may have and still keep them (inclusive)."""
    return _exact_values


def set_exact_values_max(n: int) -> None:
    """Set the reach of the exact statistics (done once at start-up from the settings)."""
    global _exact_values
    if int(n) < 0:
        raise ValueError("the exact drift limit must be 0 or more")
    _exact_values = int(n)


def kept_values(profile: dict) -> dict[str, dict[str, np.ndarray]]:
    """{column: {"values": ...} or {"tail_low": ..., "tail_high": ...}} of the numeric columns that keep
    them, sorted float64 (decoded when stored as text)."""
    out = {}
    for name, column in (profile.get("columns") or {}).items():
        if column.get("kind") != "numeric" or not column.get("count"):
            continue
        if column.get("values") is not None:
            out[name] = {"values": column_values(column)}
        elif (tails := column_tails(column)) is not None:
            out[name] = {"tail_low": tails[0], "tail_high": tails[1]}
    return out


def without_kept_values(profile: dict) -> dict:
    """The profile without its numeric columns' kept values: what is stored as JSON. An audited batch
    needs them only while it is compared (a reference keeps them in its own file), so stored audits
    stay small, and a batch's raw values (an id, an amount) are not kept beyond the comparison."""
    columns = profile.get("columns") or {}
    if not any(key in c for c in columns.values() for key in KEPT_KEYS):
        return profile
    return {
        **profile,
        "columns": {name: {k: v for k, v in c.items() if k not in KEPT_KEYS} for name, c in columns.items()},
    }


def with_kept_values(profile: dict, values: dict[str, dict] | None, *, unavailable: str = "") -> dict:
    """A copy of a stored profile with its columns' values put back. A column the profile's
    "kept_values" lists that gets no array of its count (the file could not be read: `unavailable`
    says why; or it does not match) is left binned and marked with the reason, which drift reports."""
    listed = set((profile.get("kept_values") or {}).get("columns") or [])
    columns = {}
    for name, column in (profile.get("columns") or {}).items():
        if column.get("kind") == "numeric" and "values" not in column:
            column = dict(column)
            kept = (values or {}).get(name) or {}
            array, low, high = kept.get("values"), kept.get("tail_low"), kept.get("tail_high")
            count = int(column.get("count") or 0)
            if low is not None and high is not None and 0 < low.size <= count and 0 < high.size <= count:
                column["tail_low"], column["tail_high"] = low, high
            if array is not None and array.size == count:
                column["values"] = array
            elif name in listed:
                column[UNAVAILABLE] = unavailable or "the value file holds no values of this column's count"
        columns[name] = column
    return {**profile, "columns": columns}


def encode_kept_values(profile: dict) -> dict:
    """The profile with its kept values as base64 text of little-endian float64: JSON-safe for a
    partition's profile sent between workers (bounds.column_values reads it back exactly)."""
    columns = profile.get("columns") or {}
    if not any(isinstance(c.get(key), np.ndarray) for c in columns.values() for key in KEPT_KEYS):
        return profile
    out = {}
    for name, column in columns.items():
        column = dict(column)
        for key in KEPT_KEYS:
            if isinstance(column.get(key), np.ndarray):
                column[key] = base64.b64encode(np.ascontiguousarray(column[key], dtype="<f8").tobytes()).decode()
        out[name] = column
    return {**profile, "columns": out}


def write_kept_values(values: dict[str, dict[str, np.ndarray]]) -> bytes:
    """The bytes of a compressed .npz file holding kept_values' arrays (float64), with their column
    names and keys beside them (arrays of strings: nothing pickled)."""
    entries = [(name, key, array) for name, kept in values.items() for key, array in kept.items()]
    buffer = io.BytesIO()
    arrays = {f"v{i}": np.ascontiguousarray(array, dtype="<f8") for i, (_, _, array) in enumerate(entries)}
    names = np.array([name for name, _, _ in entries], dtype=np.str_)
    keys = np.array([key for _, key, _ in entries], dtype=np.str_)
    np.savez_compressed(buffer, names=names, keys=keys, **arrays)
    return buffer.getvalue()


def read_kept_values(data: bytes) -> dict[str, dict[str, np.ndarray]]:
    """kept_values' dict from write_kept_values' bytes; KeptValuesError when they are not such a file."""
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names, keys = [str(n) for n in npz["names"]], [str(k) for k in npz["keys"]]
            for i, (name, key) in enumerate(zip(names, keys, strict=True)):
                out.setdefault(name, {})[key] = np.asarray(npz[f"v{i}"], dtype=np.float64)
    except Exception as exc:  # a damaged zip, a missing member, pickled content: all unreadable
        raise KeptValuesError(f"the value file cannot be read ({type(exc).__name__}: {exc})") from None
    for name, kept in out.items():
        for key, array in kept.items():
            sorted_finite = array.ndim == 1 and np.all(np.isfinite(array)) and not np.any(array[1:] < array[:-1])
            if key not in KEPT_KEYS or not sorted_finite:
                raise KeptValuesError(f"the value file's {key} of column {name!r} is not sorted finite values")
    return out
