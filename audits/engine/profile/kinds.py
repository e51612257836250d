"""Profiles: mergeable, JSON-safe summaries of a data file (docs/audit-profile-format.md is the contract).

Pure Python, vectorised with numpy/pandas; no Django.

How each kind is summarised
---------------------------
numeric      Values are coerced with pd.to_numeric(errors="coerce"). Nulls are NaN/None (and blank strings);
             a non-null value that does not parse as a finite number (including "inf") is `non_numeric`
             and is not in `count`. Histograms use the REFERENCE's edges: bin i holds x with
             edges[i-1] < x <= edges[i] (np.searchsorted(edges, x, side="left")), np.bincount per chunk.
             Moments (`mean`, `m2` = sum of squared deviations) are computed per chunk with numpy and
             combined with Chan's parallel formula. `quantiles` always come from the KLL sketch
             (datasketches kll_doubles_sketch, k=200; normalised rank error ~1.3%) so a single profile and
             a merged one are computed the same way.
categorical  value_counts of the values as strings (ints as "1"; floats as "1.0"); at most CAPACITY
             values kept, the rest added to `other`. Ties at the cut are broken by the value, so the
             result is deterministic. Merging adds the counts and folds again (exact unless more than
             CAPACITY distinct values occur in total).
timestamp    See `_profile_timestamp`. `count` is the number of values that parsed (like numeric),
             `unparseable` those that did not, so rows = count + nulls + unparseable. Columns that are
             already datetimes (e.g. parquet timestamps) have no string format: `formats` stays {}.
             Time-zone-aware values are converted to UTC and compared as naive UTC; `now` likewise.
text         lengths over non-null values; `empty` = blank after stripping; words = lower-cased \\w+
             tokens, top TOP_WORDS kept (merging keeps the top TOP_WORDS of the sum: approximate in the
             tail).
id           `duplicates` = rows whose id appeared earlier IN THIS FRAME. merge_profiles adds them, which
             is a lower bound for the whole file; sources.profile_source tracks ids across its chunks
             and sources.duplicate_ids gives the exact figure for a file.

Bin edges
---------
`reference_edges` computes edges from exact quantiles of an in-memory column; for a column with at most
FINE_BINS-1 (999) distinct values the fine edges are the distinct values themselves (and, with at most
PSI_BINS-1 (9), so are the PSI edges), so every bin holds exactly one value; the last bin
(> max) is then empty in the reference and catches larger values in a batch.
`profile_reference_chunks` profiles a reference too large for memory in two passes: pass 1 feeds every
numeric value into a KLL sketch (and collects distinct values while there are at most 999) to choose the
edges; pass 2 profiles each chunk on those edges and merges. Edges from a sketch are within its rank
error of the exact quantiles, which is all edges need. A reference that turns out to be a single chunk
is profiled with exact edges.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from datasketches import kll_doubles_sketch

from audits.engine.columns import ColumnSpec
from audits.engine.target import merge_target, target_stats

FINE_BINS = 1000
PSI_BINS = 10
CAPACITY = 1000
TOP_WORDS = 200
SKETCH_K = 200
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
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
    if TIMESTAMP_FORMATS[i].startswith("%d") and TIMESTAMP_FORMATS[i + 1] == TIMESTAMP_FORMATS[i].replace("%d", "#").replace("%m", "%d").replace("#", "%m")
)


# ---------------------------------------------------------------------------------------------- edges

def _sorted_quantiles(xs: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """numpy's default ('linear') quantiles of an already sorted array."""
    h = (xs.size - 1) * qs
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, xs.size - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def reference_edges(values: np.ndarray) -> tuple[list[float], list[float]]:
    """(fine edges from the quantiles 1/1000..999/1000, decile edges), unique and sorted.

    Non-finite values are ignored. With at most 999 (resp. 9) distinct values the edges are the distinct
    values themselves, so each bin holds exactly one value."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [], []
    xs = np.sort(x)
    distinct = xs[np.concatenate(([True], xs[1:] != xs[:-1]))]
    return _edges_from(distinct, lambda qs: _sorted_quantiles(xs, qs))


def _edges_from(distinct: np.ndarray | None, quantile: Callable[[np.ndarray], np.ndarray]):
    def pick(bins):
        if distinct is not None and distinct.size <= bins - 1:
            return [float(v) for v in distinct]
        qs = np.arange(1, bins) / bins
        return [float(v) for v in np.unique(np.asarray(quantile(qs), dtype=np.float64))]
    return pick(FINE_BINS), pick(PSI_BINS)


# ------------------------------------------------------------------------------------------ helpers

def _now(now: datetime | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else datetime.now(timezone.utc))
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _sketch_update(sketch: kll_doubles_sketch, x: np.ndarray):
    if not x.flags.writeable:  # the binding refuses read-only arrays (pandas copy-on-write views)
        x = x.copy()
    sketch.update(x)


def _encode_sketch(sketch: kll_doubles_sketch) -> str:
    return base64.b64encode(sketch.serialize()).decode("ascii")


def _decode_sketch(text: str) -> kll_doubles_sketch:
    return kll_doubles_sketch.deserialize(base64.b64decode(text))


def _sketch_quantiles(sketch: kll_doubles_sketch) -> dict:
    if sketch.is_empty():
        return {str(q): None for q in QUANTILES}
    return {str(q): float(v) for q, v in zip(QUANTILES, sketch.get_quantiles(list(QUANTILES), True))}


def numeric_quantile(column_profile: dict, q: float) -> float | None:
    """Quantile q (0..1) of a numeric column, from its KLL sketch (None when it has no values)."""
    sketch = _decode_sketch(column_profile["sketch"])
    return None if sketch.is_empty() else float(sketch.get_quantile(q, True))


def _numeric_values(s: pd.Series) -> tuple[np.ndarray, int, int]:
    """(finite float64 values, nulls, non_numeric) of a column."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(x)
        nan = np.isnan(x)
        nulls = int(nan.sum())
        non_numeric = int(x.size - nulls - finite.sum())  # +/-inf
        return (x if nulls + non_numeric == 0 else x[finite]), nulls, non_numeric
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
    return x[finite], nulls, int(x.size - finite.sum())


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
    """The `limit` largest counts (ties broken by value) as a dict, and the sum of the rest."""
    if counts.empty:
        return {}, 0
    keys = counts.index.to_numpy(dtype=object)
    values = counts.to_numpy(dtype=np.int64)
    by_key = np.argsort(keys, kind="stable")
    order = by_key[np.argsort(-values[by_key], kind="stable")]
    kept = order[:limit]
    rest = int(values[order[limit:]].sum())
    return {str(keys[i]): int(values[i]) for i in kept}, rest


# ------------------------------------------------------------------------------------- per column

def _profile_numeric(s: pd.Series, edges, psi_edges) -> dict:
    x, nulls, non_numeric = _numeric_values(s)
    out = _empty_numeric(edges, psi_edges)
    out.update(nulls=nulls, non_numeric=non_numeric)
    n = int(x.size)
    if n == 0:
        return out
    xs = np.sort(x)  # one sort makes both histograms O(bins log n): counts of x <= each edge
    hist = _sorted_hist(xs, edges)
    psi = _sorted_hist(xs, psi_edges)
    mean = float(xs.mean())
    sketch = kll_doubles_sketch(SKETCH_K)
    _sketch_update(sketch, xs)  # sorted input halves the sketch's update time; its error bound holds for any order
    out.update(
        count=n, min=float(xs[0]), max=float(xs[-1]), mean=mean, m2=float(np.square(xs - mean).sum()),
        hist=hist.tolist(), psi_hist=psi.tolist(), quantiles=_sketch_quantiles(sketch), sketch=_encode_sketch(sketch),
    )
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
        "kind": "numeric", "count": 0, "nulls": 0, "non_numeric": 0,
        "min": None, "max": None, "mean": None, "m2": 0.0,
        "edges": edges, "hist": [0] * (len(edges) + 1),
        "psi_edges": psi_edges, "psi_hist": [0] * (len(psi_edges) + 1),
        "quantiles": _sketch_quantiles(sketch), "sketch": _encode_sketch(sketch),
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
            min=pd.Timestamp(t.min()).isoformat(), max=pd.Timestamp(t.max()).isoformat(),
            future=int(weights[t > now64].sum()),
            ancient=int(weights[t < np.datetime64("1900-01-01T00:00:00", "us")].sum()),
        )
    return out


def _empty_timestamp() -> dict:
    return {"kind": "timestamp", "count": 0, "nulls": 0, "unparseable": 0, "formats": {},
            "ambiguous_day_month": 0, "min": None, "max": None, "future": 0, "ancient": 0}


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
        count=int(len(present)), empty=int((strings.str.strip() == "").sum()),
        length_mean=float(lengths.mean()), length_max=int(lengths.max()), words=top,
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
        examples = [str(v) for v in pd.unique(present[dup])[:5]]
    return {"kind": "id", "count": int(len(present)), "nulls": int(len(s) - len(present)),
            "duplicates": int(dup.sum()), "duplicate_examples": examples}


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


# ------------------------------------------------------------------------------------------- frames

def profile_frame(
    frame: pd.DataFrame,
    specs: list[ColumnSpec],
    *,
    edges: dict[str, tuple[list, list]] | None = None,
    now: datetime | None = None,
    target_column: str | None = None,
    _id_duplicates: bool = True,
) -> dict:
    """Profile one frame. edges=None means this frame IS the reference: each numeric column's edges are
    computed from it (reference_edges). Otherwise edges maps column -> (fine edges, psi edges) from the
    reference; a numeric column missing from that dict is binned on ([], []) (one bin), so chunk profiles
    stay mergeable. Columns missing from the frame are skipped. With `target_column` naming a column
    of the frame, the profile also carries the feature–label statistics under "target" (see
    audits/engine/target.py); a frame without that column (an unlabelled batch) gets no "target".
    (_id_duplicates=False skips the within-frame duplicate search for callers that track ids across
    chunks themselves.)"""
    ts_now = _now(now)
    columns = {}
    for spec in specs:
        if spec.name not in frame.columns:
            continue
        s = frame[spec.name]
        if spec.kind == "numeric":
            if edges is None:
                x, _, _ = _numeric_values(s)
                fine, psi = reference_edges(x)
            else:
                fine, psi = edges.get(spec.name, ([], []))
            columns[spec.name] = _profile_numeric(s, fine, psi)
        elif spec.kind == "categorical":
            columns[spec.name] = _profile_categorical(s)
        elif spec.kind == "timestamp":
            columns[spec.name] = _profile_timestamp(s, ts_now)
        elif spec.kind == "text":
            columns[spec.name] = _profile_text(s)
        else:
            columns[spec.name] = _profile_id(s, duplicates=_id_duplicates)
    profile = {"rows": int(len(frame)), "columns": columns}
    if target_column is not None and target_column in frame.columns:
        profile["target"] = target_stats(frame, specs, target_column)
    return profile


def empty_profile(specs: list[ColumnSpec], edges: dict[str, tuple[list, list]] | None) -> dict:
    """The profile of zero rows: the identity of merge_profiles for profiles on these edges."""
    return {"rows": 0, "columns": {spec.name: _empty_column(spec, edges) for spec in specs}}


def profile_edges(profile: dict) -> dict[str, tuple[list, list]]:
    """The numeric edges of a (reference) profile, in the form profile_frame's `edges` takes."""
    return {name: (list(col["edges"]), list(col["psi_edges"]))
            for name, col in profile["columns"].items() if col["kind"] == "numeric"}


# -------------------------------------------------------------------------------------------- merge

def _add_lists(a: list, b: list) -> list:
    return [x + y for x, y in zip(a, b)]


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


def _merge_numeric(name: str, a: dict, b: dict) -> dict:
    if a["edges"] != b["edges"] or a["psi_edges"] != b["psi_edges"]:
        raise ValueError(f"Column {name!r}: profiles on different bin edges cannot be merged.")
    na, nb = a["count"], b["count"]
    n = na + nb
    if na == 0 or nb == 0:
        mean, m2 = (b["mean"], b["m2"]) if na == 0 else (a["mean"], a["m2"])
    else:
        delta = b["mean"] - a["mean"]
        mean = a["mean"] + delta * nb / n
        m2 = a["m2"] + b["m2"] + delta * delta * na * nb / n
    sketch = _decode_sketch(a["sketch"])
    sketch.merge(_decode_sketch(b["sketch"]))
    return {
        "kind": "numeric", "count": n, "nulls": a["nulls"] + b["nulls"],
        "non_numeric": a["non_numeric"] + b["non_numeric"],
        "min": _min(a["min"], b["min"]), "max": _max(a["max"], b["max"]), "mean": mean, "m2": m2,
        "edges": list(a["edges"]), "hist": _add_lists(a["hist"], b["hist"]),
        "psi_edges": list(a["psi_edges"]), "psi_hist": _add_lists(a["psi_hist"], b["psi_hist"]),
        "quantiles": _sketch_quantiles(sketch), "sketch": _encode_sketch(sketch),
    }


def _merge_counts(a: dict, b: dict, limit: int) -> tuple[dict, int]:
    total = dict(a)
    for k, v in b.items():
        total[k] = total.get(k, 0) + v
    if len(total) <= limit:
        return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))), 0
    return _top(pd.Series(total, dtype=np.int64), limit)


def _merge_iso(a, b, pick):
    if a is None or b is None:
        return a if b is None else b
    return pick((datetime.fromisoformat(a), a), (datetime.fromisoformat(b), b))[1]


def _merge_column(name: str, a: dict, b: dict) -> dict:
    if a["kind"] != b["kind"]:
        raise ValueError(f"Column {name!r} is {a['kind']} in one profile and {b['kind']} in the other.")
    kind = a["kind"]
    if kind == "numeric":
        return _merge_numeric(name, a, b)
    base = {"kind": kind, "count": a["count"] + b["count"], "nulls": a["nulls"] + b["nulls"]}
    if kind == "categorical":
        counts, folded = _merge_counts(a["counts"], b["counts"], CAPACITY)
        return {**base, "counts": counts, "other": a["other"] + b["other"] + folded}
    if kind == "timestamp":
        formats = dict(a["formats"])
        for k, v in b["formats"].items():
            formats[k] = formats.get(k, 0) + v
        formats = {f: formats[f] for f in sorted(formats, key=lambda f: TIMESTAMP_FORMATS.index(f) if f in TIMESTAMP_FORMATS else len(TIMESTAMP_FORMATS))}
        return {**base, "unparseable": a["unparseable"] + b["unparseable"], "formats": formats,
                "ambiguous_day_month": a["ambiguous_day_month"] + b["ambiguous_day_month"],
                "min": _merge_iso(a["min"], b["min"], min), "max": _merge_iso(a["max"], b["max"], max),
                "future": a["future"] + b["future"], "ancient": a["ancient"] + b["ancient"]}
    if kind == "text":
        n = base["count"]
        mean = (a["length_mean"] * a["count"] + b["length_mean"] * b["count"]) / n if n else 0.0
        words, _ = _merge_counts(a["words"], b["words"], TOP_WORDS)
        return {**base, "empty": a["empty"] + b["empty"], "length_mean": mean,
                "length_max": max(a["length_max"], b["length_max"]), "words": words}
    examples = list(dict.fromkeys(a["duplicate_examples"] + b["duplicate_examples"]))[:5]
    return {**base, "duplicates": a["duplicates"] + b["duplicates"], "duplicate_examples": examples}


def merge_profiles(a: dict, b: dict) -> dict:
    """The profile of the concatenation of the two profiled parts. Exact for counts, histograms, moments,
    min/max; sketches are merged (quantiles within the KLL error); categorical counts and words are
    re-folded to CAPACITY / TOP_WORDS; id duplicates add up (a lower bound: see module doc); the
    feature–label statistics ("target") merge exactly (target.merge_target).
    Raises ValueError when a column's kinds or numeric bin edges differ. A column (or "target")
    present in only one profile is copied as is."""
    columns = {}
    for name in list(a["columns"]) + [n for n in b["columns"] if n not in a["columns"]]:
        ca, cb = a["columns"].get(name), b["columns"].get(name)
        if ca is None or cb is None:
            columns[name] = copy.deepcopy(ca if cb is None else cb)
        else:
            columns[name] = _merge_column(name, ca, cb)
    merged = {"rows": a["rows"] + b["rows"], "columns": columns}
    target = merge_target(a.get("target"), b.get("target"))
    if target is not None:
        merged["target"] = target
    return merged


# ------------------------------------------------------------------------------- chunked reference

class _EdgeCollector:
    """Pass 1 of reference profiling: a KLL sketch and (while small) the distinct values of a column."""

    def __init__(self):
        self.sketch = kll_doubles_sketch(SKETCH_K)
        self.distinct: np.ndarray | None = np.empty(0, dtype=np.float64)

    def update(self, x: np.ndarray):
        if x.size == 0:
            return
        x = np.sort(x)  # sorted input is cheaper for the sketch
        _sketch_update(self.sketch, x)
        if self.distinct is not None:
            merged = np.union1d(self.distinct, np.unique(x) if x.size < 4 * FINE_BINS else _unique_capped(x))
            self.distinct = merged if merged.size <= FINE_BINS - 1 else None

    def edges(self) -> tuple[list[float], list[float]]:
        if self.sketch.is_empty():
            return [], []
        return _edges_from(self.distinct, lambda qs: self.sketch.get_quantiles(list(qs), True))


def _unique_capped(x: np.ndarray) -> np.ndarray:
    """np.unique, but gives up early (returns FINE_BINS values) on a column that is clearly continuous."""
    head = np.unique(x[: 4 * FINE_BINS])
    if head.size > FINE_BINS - 1:
        return head
    return np.unique(x)


def profile_reference_chunks(
    chunks: Callable[[], Iterable[pd.DataFrame]],
    specs: list[ColumnSpec],
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    edge_chunks: Callable[[], Iterable[pd.DataFrame]] | None = None,
    target_column: str | None = None,
    _id_duplicates: bool = True,
) -> dict:
    """Profile a reference delivered in chunks; chunks() must start a fresh iteration on each call.

    Pass 1 feeds every numeric column into a KLL sketch (and keeps its distinct values while there are at
    most 999) to choose the bin edges; pass 2 profiles each chunk on those edges and merges. When the
    data turn out to be a single chunk, pass 2 profiles it with exact edges (reference_edges) instead.
    `edge_chunks`, if given, replaces chunks() in pass 1 (e.g. a reader of the numeric columns only).
    `progress`, if given, receives a monotone row figure ending at the total rows: half the rows read
    in pass 1, then half the total plus half the rows profiled in pass 2.
    `target_column` is passed to profile_frame in pass 2 (label statistics need no edges).
    """
    numeric = [s for s in specs if s.kind == "numeric"]
    collectors = {s.name: _EdgeCollector() for s in numeric}
    n_chunks = rows = 0
    for chunk in (edge_chunks or chunks)():
        n_chunks += 1
        rows += len(chunk)
        for spec in numeric:
            if spec.name in chunk.columns:
                collectors[spec.name].update(_numeric_values(chunk[spec.name])[0])
        del chunk
        if progress:
            progress(rows // 2)
    edges = None if n_chunks == 1 else {name: c.edges() for name, c in collectors.items()}
    del collectors
    profile = None
    done = 0
    for chunk in chunks():
        if edges is None and profile is not None:
            raise RuntimeError("chunks() yielded more chunks on its second iteration than on its first")
        part = profile_frame(chunk, specs, edges=edges, now=now, target_column=target_column,
                             _id_duplicates=_id_duplicates)
        profile = part if profile is None else merge_profiles(profile, part)
        done += len(chunk)
        del chunk, part
        if progress:
            progress(min((rows + done) // 2, rows) if done < rows else done)
    return profile if profile is not None else empty_profile(specs, None)
