"""Two profiles of parts of a file merged into the profile of the whole: exact for counts, histograms,
moments and extremes; within the sketch's error for quantiles.

Pure Python; no Django.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime

import numpy as np
import pandas as pd

from ..bounds import TAIL_VALUES, column_tails
from ..target import merge_target
from .edges import _decode_sketch, _encode_sketch, _quantiles_with_values, column_values
from .kept import exact_values_max
from .kinds import CAPACITY, M2_OVERFLOW, TIMESTAMP_FORMATS, TOP_WORDS, _top

__all__ = ["merge_profiles"]


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
    reasons = {**(a.get("null_reasons") or {}), **(b.get("null_reasons") or {})}
    if na == 0 or nb == 0:
        mean, m2 = (b["mean"], b["m2"]) if na == 0 else (a["mean"], a["m2"])
    else:
        mean, m2 = _merge_moments(a["mean"], a["m2"], na, b["mean"], b["m2"], nb)
        if m2 is None:
            reasons.setdefault("m2", M2_OVERFLOW)
    sketch = _decode_sketch(a["sketch"])
    sketch.merge(_decode_sketch(b["sketch"]))
    values = None
    if n <= exact_values_max():
        va, vb = column_values(a), column_values(b)
        if va is not None and vb is not None:
            values = np.sort(np.concatenate((va, vb)), kind="stable")
    tails = {}
    if values is None:
        ta, tb = column_tails(a), column_tails(b)
        if ta is not None and tb is not None:
            low = np.sort(np.concatenate((ta[0], tb[0])), kind="stable")[:TAIL_VALUES]
            high = np.sort(np.concatenate((ta[1], tb[1])), kind="stable")[-TAIL_VALUES:]
            tails = {"tail_low": low, "tail_high": high}
    return {
        "kind": "numeric",
        "count": n,
        "nulls": a["nulls"] + b["nulls"],
        "non_numeric": a["non_numeric"] + b["non_numeric"],
        "non_finite": a.get("non_finite", 0) + b.get("non_finite", 0),
        "extreme": a.get("extreme", 0) + b.get("extreme", 0),
        "min": _min(a["min"], b["min"]),
        "max": _max(a["max"], b["max"]),
        "mean": mean,
        "m2": m2,
        "edges": list(a["edges"]),
        "hist": _add_lists(a["hist"], b["hist"]),
        "psi_edges": list(a["psi_edges"]),
        "psi_hist": _add_lists(a["psi_hist"], b["psi_hist"]),
        "sketch": _encode_sketch(sketch),
        **_quantiles_with_values(values, sketch),
        **tails,
        **({"null_reasons": reasons} if reasons else {}),
    }


def _merge_moments(mean_a: float, m2_a, na: int, mean_b: float, m2_b, nb: int) -> tuple[float, float | None]:
    """Chan's parallel formula; m2 None when a part's is (it overflowed) or the sum does. Means as
    far apart as the float range allows are combined as weighted halves, which cannot overflow."""
    n = na + nb
    delta = mean_b - mean_a
    mean = mean_a + delta * nb / n if math.isfinite(delta) else mean_a * (na / n) + mean_b * (nb / n)
    if m2_a is None or m2_b is None:
        return mean, None
    m2 = m2_a + m2_b + delta * delta * na * nb / n
    return mean, (m2 if math.isfinite(m2) else None)


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
        formats = {
            f: formats[f]
            for f in sorted(
                formats, key=lambda f: TIMESTAMP_FORMATS.index(f) if f in TIMESTAMP_FORMATS else len(TIMESTAMP_FORMATS)
            )
        }
        return {
            **base,
            "unparseable": a["unparseable"] + b["unparseable"],
            "formats": formats,
            "ambiguous_day_month": a["ambiguous_day_month"] + b["ambiguous_day_month"],
            "min": _merge_iso(a["min"], b["min"], min),
            "max": _merge_iso(a["max"], b["max"], max),
            "future": a["future"] + b["future"],
            "ancient": a["ancient"] + b["ancient"],
        }
    if kind == "text":
        n = base["count"]
        mean = (a["length_mean"] * a["count"] + b["length_mean"] * b["count"]) / n if n else 0.0
        words, _ = _merge_counts(a["words"], b["words"], TOP_WORDS)
        return {
            **base,
            "empty": a["empty"] + b["empty"],
            "length_mean": mean,
            "length_max": max(a["length_max"], b["length_max"]),
            "words": words,
        }
    examples = list(dict.fromkeys(a["duplicate_examples"] + b["duplicate_examples"]))[:5]
    return {**base, "duplicates": a["duplicates"] + b["duplicates"], "duplicate_examples": examples}


def merge_profiles(a: dict, b: dict) -> dict:
    """The profile of the concatenation of the two profiled parts. Exact for counts, histograms, moments,
    min/max; sketches are merged (quantiles within the KLL error); categorical counts and words are
    re-folded to CAPACITY / TOP_WORDS; id duplicates add up (a lower bound: see module doc); the
    feature–label statistics ("target") merge exactly (target.merge_target), and so do the counts of
    cut cells ("cut_cells").
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
    cut = _merge_cut_cells(a.get("cut_cells") or {}, b.get("cut_cells") or {})
    if cut:
        merged["cut_cells"] = cut
    return merged


def _merge_cut_cells(a: dict, b: dict) -> dict:
    merged = copy.deepcopy(a)
    for name, cut in b.items():
        if name in merged:
            mine = merged[name]
            mine["cells"] += cut["cells"]
            mine["longest"] = max(mine["longest"], cut["longest"])
        else:
            merged[name] = dict(cut)
    return merged
