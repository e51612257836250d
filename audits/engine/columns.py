"""Column specifications: what kind of column each name is, so the profiler knows how to summarise it.

Pure Python (pandas only). See docs/audit-profile-format.md for how each kind is profiled.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

KINDS = ("numeric", "categorical", "timestamp", "text", "id")
DTYPES = ("float", "int", "string", "bool", "datetime")
# A finite number this large is no measurement (a placeholder, an overflow upstream): profiles count
# such values in `extreme`, and the feature-label statistics leave them out.
EXTREME_MAGNITUDE = 1e100


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str
    dtype: str = ""  # float / int / string / bool / datetime ("" when unknown)
    min_value: float | None = None  # declared bounds (checked by audits/engine/checks/quality.py)
    max_value: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Column {self.name!r}: unknown kind {self.kind!r} (expected one of {', '.join(KINDS)}).")
        if self.dtype and self.dtype not in DTYPES:
            raise ValueError(
                f"Column {self.name!r}: unknown dtype {self.dtype!r} (expected one of {', '.join(DTYPES)})."
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ColumnSpec:
        return cls(
            name=d["name"],
            kind=d["kind"],
            dtype=d.get("dtype") or "",
            min_value=_opt_float(d.get("min_value")),
            max_value=_opt_float(d.get("max_value")),
        )


def _opt_float(value) -> float | None:
    return None if value is None else float(value)


def specs_from_schema(
    feature_schema: list[dict],
    *,
    id_columns=(),
    timestamp_columns=(),
    text_columns=(),
    extra: dict[str, str] | None = None,
) -> list[ColumnSpec]:
    """Specs for a model version's feature schema (items {"name", "type", "categorical"}).

    float/int and not categorical -> numeric; categorical, string or bool -> categorical; datetime -> timestamp.
    Names listed in id_columns / timestamp_columns / text_columns take that kind; those not in the schema
    (a customer id is rarely a feature) are appended. `extra` maps further columns (label, prediction) to
    kinds; an `extra` entry for a schema column overrides its kind. Optional "min"/"max" (or
    "min_value"/"max_value") in a schema item become the declared bounds.
    """
    forced = {}
    for names, kind in ((id_columns, "id"), (timestamp_columns, "timestamp"), (text_columns, "text")):
        for name in names:
            forced[name] = kind
    for name, kind in (extra or {}).items():
        forced[name] = kind

    specs: list[ColumnSpec] = []
    seen = set()
    for item in feature_schema:
        name = item["name"]
        dtype = (item.get("type") or "").lower()
        if dtype not in DTYPES:
            dtype = ""
        if name in forced:
            kind = forced[name]
        elif dtype == "datetime":
            kind = "timestamp"
        elif item.get("categorical") or dtype in ("string", "bool"):
            kind = "categorical"
        elif dtype in ("float", "int"):
            kind = "numeric"
        else:
            kind = "categorical"
        lo = item.get("min", item.get("min_value"))
        hi = item.get("max", item.get("max_value"))
        specs.append(ColumnSpec(name, kind, dtype, _opt_float(lo), _opt_float(hi)))
        seen.add(name)
    for name, kind in forced.items():
        if name not in seen:
            dtype = {"timestamp": "datetime", "text": "string"}.get(kind, "")
            specs.append(ColumnSpec(name, kind, dtype))
            seen.add(name)
    return specs


_ID_NAME = re.compile(r"(^id$|[_\- ]id$|uuid$|guid$|[a-z0-9]Id$)")


def _looks_like_id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name)) or bool(_ID_NAME.search(name.lower()))


def infer_specs(frame: pd.DataFrame, *, max_categories: int = 50) -> list[ColumnSpec]:
    """Guess column specs from a sample frame.

    - bool dtype -> categorical; datetime dtype -> timestamp;
    - integer columns named like id (`id`, `*_id`, `*Id`, `*uuid`) with one distinct value per row -> id,
      other numeric dtypes -> numeric (an extension of the brief: integer ids are not measurements);
    - string/object columns: >= 95% of non-null values parse as dates under one of
      profile.TIMESTAMP_FORMATS -> timestamp; >= 95% parse as numbers -> numeric;
      unique per row and named like an id -> id; long free text (mean length > 30, at least half the
      values containing a space) -> text unless low-cardinality (<= max_categories distinct or <= 5%
      distinct) and not unique per row (so a small sample of free text is still text);
      everything else (low-cardinality or not) -> categorical.
    """
    from audits.engine.profile import TIMESTAMP_FORMATS  # local: profile imports this module

    specs = []
    for name in frame.columns:
        s = frame[name]
        name = str(name)
        non_null = s.dropna()
        n = len(non_null)
        if pd.api.types.is_bool_dtype(s.dtype):
            specs.append(ColumnSpec(name, "categorical", "bool"))
            continue
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            specs.append(ColumnSpec(name, "timestamp", "datetime"))
            continue
        if pd.api.types.is_numeric_dtype(s.dtype):
            is_int = pd.api.types.is_integer_dtype(s.dtype) or (
                n > 0 and np.all(np.mod(non_null.to_numpy(dtype=float), 1) == 0)
            )
            if is_int and n > 0 and _looks_like_id_name(name) and non_null.nunique() == n:
                specs.append(ColumnSpec(name, "id", "int"))
            else:
                specs.append(ColumnSpec(name, "numeric", "int" if pd.api.types.is_integer_dtype(s.dtype) else "float"))
            continue
        if n == 0:
            specs.append(ColumnSpec(name, "categorical", "string"))
            continue
        strings = non_null.astype(str)
        distinct = strings.unique()
        sample = pd.Index(distinct[:2000]).str.strip()
        if _parse_share(sample, TIMESTAMP_FORMATS) >= 0.95:
            specs.append(ColumnSpec(name, "timestamp", "datetime"))
            continue
        if pd.to_numeric(sample, errors="coerce").notna().mean() >= 0.95 if len(sample) else False:
            specs.append(ColumnSpec(name, "numeric", "float"))
            continue
        n_distinct = len(distinct)
        unique = n_distinct == n
        if unique and _looks_like_id_name(name):
            specs.append(ColumnSpec(name, "id", "string"))
            continue
        long_text = strings.str.len().mean() > 30 and strings.str.contains(" ", regex=False).mean() >= 0.5
        low_cardinality = n_distinct <= max_categories or n_distinct <= 0.05 * n
        if long_text and (unique or not low_cardinality):
            specs.append(ColumnSpec(name, "text", "string"))
            continue
        specs.append(ColumnSpec(name, "categorical", "string"))
    return specs


def _parse_share(values: pd.Index, formats) -> float:
    """Share of values that parse as a date under at least one of the formats."""
    if len(values) == 0:
        return 0.0
    ok = np.zeros(len(values), dtype=bool)
    for fmt in formats:
        remaining = ~ok
        if not remaining.any():
            break
        parsed = pd.to_datetime(values[remaining], format=fmt, errors="coerce", utc=True)
        ok[np.flatnonzero(remaining)[~parsed.isna()]] = True
    return float(ok.mean())
