"""Kept values: a numeric column's sorted finite float64 values, kept beside its profile while the
column has at most `exact_values_max()` of them, so drift statistics are exact (audits/engine/bounds.py).

They live in the in-memory profile under the column's "values" key as a numpy array, and never in a
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

from ..bounds import UNAVAILABLE, column_values

__all__ = [
    "EXACT_VALUES",
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


def kept_values(profile: dict) -> dict[str, np.ndarray]:
    """{column: sorted float64 values} of the numeric columns that keep theirs (decoded if stored as text)."""
    out = {}
    for name, column in (profile.get("columns") or {}).items():
        if column.get("kind") == "numeric" and column.get("values") is not None:
            out[name] = column_values(column)
    return out


def without_kept_values(profile: dict) -> dict:
    """The profile without its numeric columns' kept values: what is stored as JSON. An audited batch
    needs them only while it is compared (a reference keeps them in its own file), so stored audits
    stay small, and a batch's raw values (an id, an amount) are not kept beyond the comparison."""
    columns = profile.get("columns") or {}
    if not any("values" in c for c in columns.values()):
        return profile
    return {
        **profile,
        "columns": {name: {k: v for k, v in c.items() if k != "values"} for name, c in columns.items()},
    }


def with_kept_values(profile: dict, values: dict[str, np.ndarray] | None, *, unavailable: str = "") -> dict:
    """A copy of a stored profile with its columns' values put back. A column the profile's
    "kept_values" lists that gets no array of its count (the file could not be read: `unavailable`
    says why; or it does not match) is left binned and marked with the reason, which drift reports."""
    listed = set((profile.get("kept_values") or {}).get("columns") or [])
    columns = {}
    for name, column in (profile.get("columns") or {}).items():
        if column.get("kind") == "numeric" and "values" not in column:
            column = dict(column)
            array = (values or {}).get(name)
            if array is not None and array.size == int(column.get("count") or 0):
                column["values"] = array
            elif name in listed:
                column[UNAVAILABLE] = unavailable or "the value file holds no values of this column's count"
        columns[name] = column
    return {**profile, "columns": columns}


def encode_kept_values(profile: dict) -> dict:
    """The profile with its kept values as base64 text of little-endian float64: JSON-safe for a
    partition's profile sent between workers (bounds.column_values reads it back exactly)."""
    columns = profile.get("columns") or {}
    if not any(isinstance(c.get("values"), np.ndarray) for c in columns.values()):
        return profile
    out = {}
    for name, column in columns.items():
        v = column.get("values")
        if isinstance(v, np.ndarray):
            column = {**column, "values": base64.b64encode(np.ascontiguousarray(v, dtype="<f8").tobytes()).decode()}
        out[name] = column
    return {**profile, "columns": out}


def write_kept_values(values: dict[str, np.ndarray]) -> bytes:
    """The bytes of a compressed .npz file holding each column's values (float64) and the names."""
    names = list(values)
    buffer = io.BytesIO()
    arrays = {f"v{i}": np.ascontiguousarray(values[name], dtype="<f8") for i, name in enumerate(names)}
    np.savez_compressed(buffer, names=np.array(names, dtype=np.str_), **arrays)
    return buffer.getvalue()


def read_kept_values(data: bytes) -> dict[str, np.ndarray]:
    """{column: values} from write_kept_values' bytes; KeptValuesError when they are not such a file."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = [str(n) for n in npz["names"]]
            out = {name: np.asarray(npz[f"v{i}"], dtype=np.float64) for i, name in enumerate(names)}
    except KeptValuesError:
        raise
    except Exception as exc:  # a damaged zip, a missing member, pickled content: all unreadable
        raise KeptValuesError(f"the value file cannot be read ({type(exc).__name__}: {exc})") from None
    for name, array in out.items():
        if array.ndim != 1 or not np.all(np.isfinite(array)) or np.any(array[1:] < array[:-1]):
            raise KeptValuesError(f"the value file's column {name!r} is not sorted finite values")
    return out
