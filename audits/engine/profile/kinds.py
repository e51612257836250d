"""Each kind of column summarised (numeric, categorical, timestamp, text, id), and the empty summary
of each: what a profile holds per column.

Pure Python, vectorised with numpy/pandas; no Django.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from datasketches import kll_doubles_sketch

from mlops.clipping import clip

from ..columns import EXTREME_MAGNITUDE, ColumnSpec
from .edges import SKETCH_K, _encode_sketch, _quantiles_with_values, _sketch_quantiles, _sketch_update

__all__ = [
    "CAPACITY",
    "TOP_WORDS",
    "FORMAT_SAMPLE",
    "ANCIENT",
    "TIMESTAMP_FORMATS",
    "DAY_MONTH_PAIRS",
    "EXTREME_MAGNITUDE",
    "M2_OVERFLOW",
]

CAPACITY = 1000
# Below this magnitude squares of deviations cannot overflow, so the moments are computed directly.
_UNSCALED_MAGNITUDE = 1e150
M2_OVERFLOW = "the sum of squared deviations exceeds the float range (about 1.8e308)"
TOP_WORDS = 200
FORMAT_SAMPLE = 2000  # distinct values per chunk used to find which formats are present
ANCIENT = pd.Timestamp("1900-01-01")

# Order matters: the first format a value parses under wins -- except for the day/month pairs below.
TIMESTAMP_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%m.%d.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d",
)
# Day/month ambiguity: a value that parses under BOTH formats of a pair (e.g. 03-04-2026) is counted in
# `ambiguous_day_month` (also when day == month, e.g. 03-03-2026: it is valid under both) and attributed
# -- format and date -- to whichever format of the pair more of the chunk's UNAMBIGUOUS values use
# (ties go to the first, dd-mm). Values valid under only one format of a pair go to that format. The
# majority is decided per profiled chunk, so a file that flips format part-way keeps both formats.
DAY_MONTH_PAIRS = tuple(
    (TIMESTAMP_FORMATS[i], TIMESTAMP_FORMATS[i + 1])
    for i in range(len(TIMESTAMP_FORMATS) - 1)
    if TIMESTAMP_FORMATS[i].startswith("%d")
    and TIMESTAMP_FORMATS[i + 1] == TIMESTAMP_FORMATS[i].replace("%d", "#").replace("%m", "%d").replace("#", "%m")
)


def _now(now: datetime | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else datetime.now(UTC))
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _numeric_values(s: pd.Series) -> tuple[np.ndarray, int, int, int]:
    """(finite float64 values, nulls, non_numeric, non_finite) of a column. `non_finite` counts +/-inf
    (spelled "inf", "-inf", "Infinity" or beyond the float range) and NaN that arrives as a string
    ("nan" read as a string; pandas' CSV reader already turns a "nan" cell into a null)."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(x)
        nan = np.isnan(x)
        nulls = int(nan.sum())
        non_finite = int(x.size - nulls - finite.sum())  # +/-inf
        return (x if nulls + non_finite == 0 else x[finite]), nulls, 0, non_finite
    null = s.isna().to_numpy()
    present = s[~null]
    if present.dtype == object:
        present = present.astype(str)
    blank = (present.str.strip() == "").to_numpy()
    if blank.any():
        present = present[~blank]
    x = pd.to_numeric(present, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    nulls = int(null.sum() + blank.sum())
    non_finite = int(np.isinf(x).sum())
    nan = np.isnan(x)
    if nan.any():
        spelled = present[nan].str.strip().str.lstrip("+-").str.lower()
        non_finite += int((spelled == "nan").sum())
    return x[finite], nulls, int(x.size - finite.sum()) - non_finite, non_finite


def _moments(xs: np.ndarray) -> tuple[float, float | None]:
    """(mean, m2) of finite values, m2 None when it exceeds the float range. Values of any finite
    magnitude are scaled by the largest one before squaring, so nothing overflows on the way."""
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(max(abs(xs[0]), abs(xs[-1]))) if xs.size else 0.0
        if scale < _UNSCALED_MAGNITUDE:
            mean = float(xs.mean())
            m2 = float(np.square(xs - mean).sum())
            if math.isfinite(m2):
                return mean, m2
        y = xs / scale
        mean_y = float(y.mean())
        m2 = float(np.square(y - mean_y).sum()) * scale * scale
    return mean_y * scale, (m2 if math.isfinite(m2) else None)


def _string_keys(index: pd.Index) -> pd.Index:
    if index.dtype == object or not pd.api.types.is_string_dtype(index.dtype):
        return index.astype(str)
    return index


def _value_counts(s: pd.Series) -> pd.Series:
    """Counts of non-null values keyed by their string form."""
    vc = s.value_counts(dropna=True, sort=False)
    if isinstance(s.dtype, pd.CategoricalDtype):
        vc = vc[vc > 0]
    keys = _string_keys(vc.index)
    vc = pd.Series(vc.to_numpy(dtype=np.int64), index=keys)
    if not keys.is_unique:
        vc = vc.groupby(level=0, sort=False).sum()
    return vc


def _top(counts: pd.Series, limit: int) -> tuple[dict, int]:
    """The `limit` largest counts (ties broken by value) as a dict keyed by the values, each clipped to
    VALUE_LIMIT characters (values that agree that far and in length share a key), and the sum of the rest."""
    if counts.empty:
        return {}, 0
    keys = counts.index.to_numpy(dtype=object)
    values = counts.to_numpy(dtype=np.int64)
    by_key = np.argsort(keys, kind="stable")
    order = by_key[np.argsort(-values[by_key], kind="stable")]
    kept = order[:limit]
    rest = int(values[order[limit:]].sum())
    top: dict[str, int] = {}
    for i in kept:
        key = clip(str(keys[i]))
        top[key] = top.get(key, 0) + int(values[i])
    return top, rest


def _profile_numeric(s: pd.Series, edges, psi_edges, keep_values: bool = True) -> dict:
    x, nulls, non_numeric, non_finite = _numeric_values(s)
    out = _empty_numeric(edges, psi_edges)
    out.update(nulls=nulls, non_numeric=non_numeric, non_finite=non_finite)
    n = int(x.size)
    if n == 0:
        return out
    xs = np.sort(x)  # one sort makes both histograms O(bins log n): counts of x <= each edge
    hist = _sorted_hist(xs, edges)
    psi = _sorted_hist(xs, psi_edges)
    mean, m2 = _moments(xs)
    if m2 is None:
        out["null_reasons"] = {"m2": M2_OVERFLOW}
    sketch = kll_doubles_sketch(SKETCH_K)
    _sketch_update(sketch, xs)  # sorted input halves the sketch's update time; its error bound holds for any order
    out.update(
        count=n,
        min=float(xs[0]),
        max=float(xs[-1]),
        mean=mean,
        m2=m2,
        extreme=int(np.count_nonzero(np.abs(xs) >= EXTREME_MAGNITUDE)),
        hist=hist.tolist(),
        psi_hist=psi.tolist(),
        sketch=_encode_sketch(sketch),
    )
    out.update(_quantiles_with_values(xs, sketch, keep_values))
    return out


def _sorted_hist(xs: np.ndarray, edges) -> np.ndarray:
    """Counts per bin of sorted values; bin i holds edges[i-1] < x <= edges[i] -- the same as
    np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)."""
    at_or_below = np.searchsorted(xs, np.asarray(edges, dtype=np.float64), side="right")
    return np.diff(np.concatenate(([0], at_or_below, [xs.size])))


def _empty_numeric(edges, psi_edges) -> dict:
    edges = [float(e) for e in edges]
    psi_edges = [float(e) for e in psi_edges]
    sketch = kll_doubles_sketch(SKETCH_K)
    return {
        "kind": "numeric",
        "count": 0,
        "nulls": 0,
        "non_numeric": 0,
        "non_finite": 0,
        "extreme": 0,
        "min": None,
        "max": None,
        "mean": None,
        "m2": 0.0,
        "edges": edges,
        "hist": [0] * (len(edges) + 1),
        "psi_edges": psi_edges,
        "psi_hist": [0] * (len(psi_edges) + 1),
        "quantiles": _sketch_quantiles(sketch),
        "sketch": _encode_sketch(sketch),
    }


def _profile_categorical(s: pd.Series) -> dict:
    vc = _value_counts(s)
    counts, other = _top(vc, CAPACITY)
    count = int(vc.sum())
    return {"kind": "categorical", "count": count, "nulls": int(len(s) - count), "counts": counts, "other": other}


def _parse_with(values: pd.Index, fmt: str) -> np.ndarray:
    """datetime64[us] (naive UTC) of values under one format; NaT where they do not match."""
    parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    return parsed.tz_localize(None).as_unit("us").to_numpy()


def _assign_formats(values: pd.Index, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Parse distinct strings. Returns (datetime64[us] per value, format index per value or -1,
    weighted count of day/month-ambiguous values).

    Which formats are present is decided on a sample of <= FORMAT_SAMPLE distinct values; every value is
    then parsed with pd.to_datetime(format=...) once per present format (vectorised), first match wins.
    Values no present format explains are tried against the remaining formats, so rare formats outside
    the sample are still recognised."""
    n = len(values)
    parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    which = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return parsed, which, 0
    if n > FORMAT_SAMPLE:
        sample = values[np.random.default_rng(0).choice(n, FORMAT_SAMPLE, replace=False)]
    else:
        sample = values
    present = [i for i, fmt in enumerate(TIMESTAMP_FORMATS) if not np.isnat(_parse_with(sample, fmt)).all()]
    rest = [i for i in range(len(TIMESTAMP_FORMATS)) if i not in present]
    for i in present + rest:
        todo = np.flatnonzero(which < 0)
        if todo.size == 0:
            break
        p = _parse_with(values[todo], TIMESTAMP_FORMATS[i])
        ok = ~np.isnat(p)
        parsed[todo[ok]] = p[ok]
        which[todo[ok]] = i

    ambiguous = 0
    for dm, md in DAY_MONTH_PAIRS:
        i_dm, i_md = TIMESTAMP_FORMATS.index(dm), TIMESTAMP_FORMATS.index(md)
        members = np.flatnonzero((which == i_dm) | (which == i_md))
        if members.size == 0:
            continue
        p_dm = _parse_with(values[members], dm)
        p_md = _parse_with(values[members], md)
        ok_dm, ok_md = ~np.isnat(p_dm), ~np.isnat(p_md)
        both = ok_dm & ok_md
        if not both.any():
            continue
        w = weights[members]
        ambiguous += int(w[both].sum())
        unambiguous_md = int(w[ok_md & ~both].sum())
        unambiguous_dm = int(w[ok_dm & ~both].sum())
        winner, p_win = (i_md, p_md) if unambiguous_md > unambiguous_dm else (i_dm, p_dm)
        target = members[both]
        which[target] = winner
        parsed[target] = p_win[both]
    return parsed, which, ambiguous


def _profile_timestamp(s: pd.Series, now: pd.Timestamp) -> dict:
    out = _empty_timestamp()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dtype, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        t = s.dropna().to_numpy(dtype="datetime64[us]")
        out["nulls"] = int(len(s) - t.size)
        weights = np.ones(t.size, dtype=np.int64)
        formats: dict = {}
        unparseable = ambiguous = 0
    else:
        vc = s.value_counts(dropna=True, sort=False)
        if isinstance(s.dtype, pd.CategoricalDtype):
            vc = vc[vc > 0]
        keys = _string_keys(vc.index).str.strip()
        weights_all = vc.to_numpy(dtype=np.int64)
        out["nulls"] = int(len(s) - weights_all.sum())
        parsed, which, ambiguous = _assign_formats(keys, weights_all)
        ok = which >= 0
        per_format = np.bincount(which[ok], weights=weights_all[ok], minlength=len(TIMESTAMP_FORMATS))
        formats = {TIMESTAMP_FORMATS[i]: int(c) for i, c in enumerate(per_format) if c}
        unparseable = int(weights_all[~ok].sum())
        t, weights = parsed[ok], weights_all[ok]
    out.update(formats=formats, unparseable=unparseable, ambiguous_day_month=ambiguous)
    if t.size:
        now64 = np.datetime64(now.as_unit("us").to_datetime64(), "us")
        out.update(
            count=int(weights.sum()),
            min=pd.Timestamp(t.min()).isoformat(),
            max=pd.Timestamp(t.max()).isoformat(),
            future=int(weights[t > now64].sum()),
            ancient=int(weights[t < np.datetime64("1900-01-01T00:00:00", "us")].sum()),
        )
    return out


def _empty_timestamp() -> dict:
    return {
        "kind": "timestamp",
        "count": 0,
        "nulls": 0,
        "unparseable": 0,
        "formats": {},
        "ambiguous_day_month": 0,
        "min": None,
        "max": None,
        "future": 0,
        "ancient": 0,
    }


_WORD = re.compile(r"\w+")


def _profile_text(s: pd.Series) -> dict:
    present = s.dropna()
    out = _empty_text()
    out["nulls"] = int(len(s) - len(present))
    if present.empty:
        return out
    strings = present.astype(str)
    lengths = strings.str.len().to_numpy()
    words = pd.Series(_WORD.findall("\n".join(strings.tolist()).lower()), dtype=object)
    top, _ = _top(words.value_counts(sort=False), TOP_WORDS) if len(words) else ({}, 0)
    out.update(
        count=int(len(present)),
        empty=int((strings.str.strip() == "").sum()),
        length_mean=float(lengths.mean()),
        length_max=int(lengths.max()),
        words=top,
    )
    return out


def _empty_text() -> dict:
    return {"kind": "text", "count": 0, "nulls": 0, "empty": 0, "length_mean": 0.0, "length_max": 0, "words": {}}


def _profile_id(s: pd.Series, duplicates: bool = True) -> dict:
    present = s.dropna()
    if not duplicates:
        return {**_empty_id(), "count": int(len(present)), "nulls": int(len(s) - len(present))}
    dup = present.duplicated(keep="first")
    examples = []
    if dup.any():
        examples = [clip(str(v)) for v in pd.unique(present[dup])[:5]]
    return {
        "kind": "id",
        "count": int(len(present)),
        "nulls": int(len(s) - len(present)),
        "duplicates": int(dup.sum()),
        "duplicate_examples": examples,
    }


def _empty_id() -> dict:
    return {"kind": "id", "count": 0, "nulls": 0, "duplicates": 0, "duplicate_examples": []}


def _empty_column(spec: ColumnSpec, edges: dict | None) -> dict:
    if spec.kind == "numeric":
        fine, psi = (edges or {}).get(spec.name, ([], []))
        return _empty_numeric(fine, psi)
    if spec.kind == "categorical":
        return {"kind": "categorical", "count": 0, "nulls": 0, "counts": {}, "other": 0}
    if spec.kind == "timestamp":
        return _empty_timestamp()
    if spec.kind == "text":
        return _empty_text()
    return _empty_id()
