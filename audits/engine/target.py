"""Feature–label statistics: how strongly each feature goes with the label, kept in a mergeable form.

A profile made with a target (label) column carries, under the top-level key ``"target"``
(docs/audit-profile-format.md), the sufficient statistics of

* Pearson's r between each NUMERIC feature and the label, over rows where both are present, as
  centred co-moments (n, mean_x, mean_y, cxx, cyy, cxy). Centring avoids the cancellation of the
  raw-sum form (Σxy − ΣxΣy/n loses every digit when the means are large next to the spread), and
  centred moments still merge exactly: Chan's parallel formula, as for a column's mean/m2.
* the correlation ratio η between each CATEGORICAL feature and the label: per category
  (n, mean, m2) of the label — the centred form of (n, Σy, Σy²), merged the same way. At most
  TARGET_CATEGORIES categories are kept (the largest by n, ties by value); the rest are pooled into
  one OTHER group, so memory stays bounded. Below that many categories merging is exact; beyond it,
  which categories are pooled can differ between parts (approximate in the tail, like the
  categorical profile's CAPACITY).

The label must be numeric: bool → 0/1, numbers as they are, strings "0"/"1"/"true"/"false" (any
case; any number written as text) coerced. A label whose column spec is categorical must be BINARY
(0/1) — r and η with a multiclass label are not defined. A label that cannot be made numeric
gives ``numeric: false`` with the reason, and no feature statistics.

Pure numpy/pandas; no Django.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from mlops.clipping import clip

from .columns import EXTREME_MAGNITUDE
from .drift import OTHER

TARGET_CATEGORIES = 50
_TRUTH = {"true": 1.0, "false": 0.0}


# ------------------------------------------------------------------------------------------ label


def label_values(s: pd.Series, kind: str | None = None) -> tuple[np.ndarray | None, str | None]:
    """(the label as float64, NaN where missing; None) or (None, why it cannot be made numeric).

    ``kind`` is the label's column kind; "categorical" requires a binary 0/1 label."""
    name = s.name
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        y = s.to_numpy(dtype=np.float64, na_value=np.nan)
        y = np.where(np.isfinite(y), y, np.nan)
    else:
        y = np.full(len(s), np.nan)
        null = s.isna().to_numpy()
        text = s[~null].astype(str).str.strip().str.lower()
        parsed = text.map(_TRUTH)
        numbers = pd.to_numeric(text.where(parsed.isna()), errors="coerce")
        values = parsed.fillna(numbers).to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values) & (text != "").to_numpy()
        if bad.any():
            examples = ", ".join(f"'{v}'" for v in pd.unique(s[~null][bad].astype(str))[:3])
            return None, (
                f"the label {name} has values that are neither numbers nor true/false (e.g. {examples}); "
                f"correlation needs a binary or numeric label"
            )
        y[~null] = np.where(np.isfinite(values), values, np.nan)
    if kind == "categorical":
        present = y[np.isfinite(y)]
        other = present[(present != 0) & (present != 1)]
        if other.size:
            examples = ", ".join(f"{v:g}" for v in np.unique(other)[:3])
            return None, (
                f"the label {name} has classes other than 0 and 1 (e.g. {examples}); "
                f"correlation with a multiclass label is not defined"
            )
    return y, None


def _as_float(s: pd.Series) -> np.ndarray:
    """A feature as float64 aligned with its rows, NaN where null or not a finite number (the same
    coercion as the numeric profile)."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        x = np.full(len(s), np.nan)
        null = s.isna().to_numpy()
        present = s[~null]
        if present.dtype == object:
            present = present.astype(str)
        x[~null] = pd.to_numeric(present, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(x), x, np.nan)


# ---------------------------------------------------------------------------------- one frame


def target_stats(frame: pd.DataFrame, specs: Iterable, column: str) -> dict:
    """The ``"target"`` entry of a frame's profile: label ``column`` against every numeric and
    categorical spec column in the frame (the label itself excluded)."""
    specs = list(specs)
    kind = next((s.kind for s in specs if s.name == column), None)
    y, reason = label_values(frame[column], kind)
    out = {"column": column, "numeric": y is not None, "reason": reason, "labelled": 0, "features": {}}
    if y is None:
        return out
    has_y = np.isfinite(y)
    out["labelled"] = int(has_y.sum())
    for spec in specs:
        if spec.name == column or spec.name not in frame.columns:
            continue
        if spec.kind == "numeric":
            out["features"][spec.name] = _pair_stats(_as_float(frame[spec.name]), y, has_y)
        elif spec.kind == "categorical":
            out["features"][spec.name] = _group_stats(frame[spec.name], y, has_y)
    return out


def _pair_stats(x: np.ndarray, y: np.ndarray, has_y: np.ndarray) -> dict:
    """Centred co-moments of the rows with both values; a value of EXTREME_MAGNITUDE or more is left
    out (its square may not fit in a float, and a correlation would be that one value's)."""
    with np.errstate(invalid="ignore"):
        both = has_y & (np.abs(x) < EXTREME_MAGNITUDE)
    x, y = x[both], y[both]
    n = int(x.size)
    if n == 0:
        return {"kind": "numeric", "n": 0, "mean_x": 0.0, "mean_y": 0.0, "cxx": 0.0, "cyy": 0.0, "cxy": 0.0}
    mx, my = float(x.mean()), float(y.mean())
    dx, dy = x - mx, y - my
    # np.sum of products (pairwise summation), not dx @ dy: BLAS is less accurate and, with its
    # thread pool, measured 20x slower here.
    return {
        "kind": "numeric",
        "n": n,
        "mean_x": mx,
        "mean_y": my,
        "cxx": float(np.sum(dx * dx)),
        "cyy": float(np.sum(dy * dy)),
        "cxy": float(np.sum(dx * dy)),
    }


def _group_stats(s: pd.Series, y: np.ndarray, has_y: np.ndarray) -> dict:
    both = has_y & s.notna().to_numpy()
    keys = s[both]
    if keys.empty:
        return {"kind": "categorical", "groups": {}}
    if keys.dtype == object or not pd.api.types.is_string_dtype(keys.dtype):
        keys = keys.astype(str)  # the categorical profile's string form; pandas' own strings group fastest as they are
    grouped = pd.Series(y[both], index=keys.index).groupby(keys, sort=False, observed=True)
    n = grouped.size()
    names = n.index.to_numpy(dtype=object)
    n, mean = n.to_numpy(dtype=np.int64), grouped.mean().to_numpy(dtype=np.float64)
    m2 = grouped.var(ddof=0).to_numpy(dtype=np.float64) * n  # a two-pass sum in pandas, not Σy² − (Σy)²/n
    # A column with many distinct values is pooled here with numpy before any dict is built.
    by_name = np.argsort(names.astype(str), kind="stable")
    order = by_name[np.argsort(-n[by_name], kind="stable")]
    kept, rest = order[:TARGET_CATEGORIES], order[TARGET_CATEGORIES:]
    groups: dict[str, dict] = {}
    for i in kept:  # keyed as the categorical profile is: values clipped (those that then agree are combined)
        key, stats = clip(str(names[i])), {"n": int(n[i]), "mean": float(mean[i]), "m2": float(m2[i])}
        groups[key] = _chan(groups[key], stats) if key in groups else stats
    if rest.size:
        pooled_n = int(n[rest].sum())
        pooled_mean = float((n[rest] * mean[rest]).sum() / pooled_n)
        pooled_m2 = float(m2[rest].sum() + (n[rest] * (mean[rest] - pooled_mean) ** 2).sum())
        pooled = {"n": pooled_n, "mean": pooled_mean, "m2": pooled_m2}
        groups[OTHER] = _chan(groups[OTHER], pooled) if OTHER in groups else pooled
    return {"kind": "categorical", "groups": _fold(groups)}


# ------------------------------------------------------------------------------------------ merge


def _chan(a: Mapping, b: Mapping) -> dict:
    """Combine two (n, mean, m2) groups (Chan et al.'s parallel update)."""
    na, nb = a["n"], b["n"]
    if na == 0 or nb == 0:
        return dict(b if na == 0 else a)
    n = na + nb
    delta = b["mean"] - a["mean"]
    return {"n": n, "mean": a["mean"] + delta * nb / n, "m2": a["m2"] + b["m2"] + delta * delta * na * nb / n}


def _fold(groups: dict) -> dict:
    """Keep the TARGET_CATEGORIES largest groups (ties by value); pool the rest (and any earlier
    pool) into OTHER. Sorted by size so the stored dict is deterministic."""
    real = sorted(((k, g) for k, g in groups.items() if k != OTHER), key=lambda kv: (-kv[1]["n"], kv[0]))
    pooled = groups.get(OTHER)
    for _, g in real[TARGET_CATEGORIES:]:
        pooled = g if pooled is None else _chan(pooled, g)
    out = {k: dict(g) for k, g in real[:TARGET_CATEGORIES]}
    if pooled is not None:
        out[OTHER] = dict(pooled)
    return out


def _merge_pair(a: Mapping, b: Mapping) -> dict:
    na, nb = a["n"], b["n"]
    if na == 0 or nb == 0:
        return dict(b if na == 0 else a)
    n = na + nb
    dx, dy = b["mean_x"] - a["mean_x"], b["mean_y"] - a["mean_y"]
    w = na * nb / n
    return {
        "kind": "numeric",
        "n": n,
        "mean_x": a["mean_x"] + dx * nb / n,
        "mean_y": a["mean_y"] + dy * nb / n,
        "cxx": a["cxx"] + b["cxx"] + dx * dx * w,
        "cyy": a["cyy"] + b["cyy"] + dy * dy * w,
        "cxy": a["cxy"] + b["cxy"] + dx * dy * w,
    }


def _merge_feature(name: str, a: Mapping, b: Mapping) -> dict:
    if a["kind"] != b["kind"]:
        raise ValueError(f"Feature {name!r} is {a['kind']} in one target profile and {b['kind']} in the other.")
    if a["kind"] == "numeric":
        return _merge_pair(a, b)
    groups = {k: dict(g) for k, g in a["groups"].items()}
    for k, g in b["groups"].items():
        groups[k] = _chan(groups[k], g) if k in groups else dict(g)
    return {"kind": "categorical", "groups": _fold(groups)}


def merge_target(a: Mapping | None, b: Mapping | None) -> dict | None:
    """The ``"target"`` entry of two profiled parts together (None when neither has one). A label
    that one part cannot make numeric makes the whole non-numeric."""
    if a is None or b is None:
        return copy.deepcopy(a if b is None else b)
    if a["column"] != b["column"]:
        raise ValueError(f"Profiles made with different labels ({a['column']!r}, {b['column']!r}) cannot be merged.")
    numeric = a["numeric"] and b["numeric"]
    out = {
        "column": a["column"],
        "numeric": numeric,
        "reason": a["reason"] or b["reason"],
        "labelled": a["labelled"] + b["labelled"] if numeric else 0,
        "features": {},
    }
    if not numeric:
        return out
    for name in list(a["features"]) + [n for n in b["features"] if n not in a["features"]]:
        fa, fb = a["features"].get(name), b["features"].get(name)
        out["features"][name] = (
            copy.deepcopy(fa if fb is None else fb) if fa is None or fb is None else _merge_feature(name, fa, fb)
        )
    return out


# ------------------------------------------------------------------------------------ measures


def pearson(stats: Mapping) -> float | None:
    """r of a numeric feature's stats; None with fewer than 3 pairs or a constant side."""
    if stats["n"] < 3 or stats["cxx"] <= 0 or stats["cyy"] <= 0:
        return None
    return max(-1.0, min(1.0, stats["cxy"] / math.sqrt(stats["cxx"] * stats["cyy"])))


def eta(stats: Mapping) -> dict | None:
    """The correlation ratio of a categorical feature's stats: {"eta": raw η, "adjusted": η corrected
    for chance, "n", "groups"}; None when the label is constant or there are no rows.

    η² = SS_between / SS_total. With k groups and n rows, η² is biased upward by about (k−1)/(n−1)
    even when the feature says nothing about the label (51 groups, 500 rows: η ≈ 0.32 by chance), so
    comparing a large reference with a small batch would report a change that is only group count.
    ``adjusted`` removes that bias the way adjusted R² does (η is the R of the label on the category
    dummies): 1 − (1 − η²)(n − 1)/(n − k), floored at 0, square-rooted. Checks compare ``adjusted``."""
    groups = [g for g in stats["groups"].values() if g["n"] > 0]
    n = sum(g["n"] for g in groups)
    if n == 0:
        return None
    grand = sum(g["n"] * g["mean"] for g in groups) / n
    between = sum(g["n"] * (g["mean"] - grand) ** 2 for g in groups)
    total = between + sum(g["m2"] for g in groups)
    if total <= 0:
        return None
    eta2 = min(1.0, between / total)
    k = len(groups)
    adjusted2 = 1 - (1 - eta2) * (n - 1) / (n - k) if n > k else 0.0
    return {"eta": math.sqrt(eta2), "adjusted": math.sqrt(max(0.0, adjusted2)), "n": n, "groups": k}


# ------------------------------------------------------------------------------ noise tests


def fisher_z_pvalue(r1: float, n1: int, r2: float, n2: int) -> float | None:
    """Two-sided p-value that two independent samples share one correlation (Fisher's z:
    atanh r is ~normal with variance 1/(n − 3)). None with fewer than 4 pairs on a side."""
    if n1 < 4 or n2 < 4:
        return None
    clip = 1 - 1e-12  # atanh(±1) is infinite; a perfect correlation still compares
    z1, z2 = math.atanh(max(-clip, min(clip, r1))), math.atanh(max(-clip, min(clip, r2)))
    z = abs(z1 - z2) / math.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))
    return math.erfc(z / math.sqrt(2))


def group_change_pvalue(reference: Mapping, current: Mapping) -> float | None:
    """p-value that the label's per-category means moved between the samples no more than noise
    explains: the interaction F-test of a two-way ANOVA label ~ category × sample.

    Why this and not Fisher's z on η: η is not a signed correlation, its sampling distribution near 0
    is skewed and depends on the number of groups, so atanh η is far from normal in exactly the
    small-batch case the veto is for. The interaction test asks the question that matters — did the
    category → label relationship change? — with the group count in its degrees of freedom, and it
    needs only each group's (n, mean, m2). With a free offset b for the current sample (label drift
    alone is the drift check's business), the least-squares additive fit leaves, for a category in
    both samples, w·(d − b)² with d = mean_cur − mean_ref and w = n_ref·n_cur/(n_ref + n_cur), so
    SS_interaction = Σ w(d − b*)² with b* = Σwd/Σw on (categories in both − 1) degrees of freedom,
    against the pooled within-group variance. A change of η that comes only from the category MIX
    (same per-category means, other shares) is not a changed relationship and is not significant
    here; the drift check reports the mix. None when fewer than two categories are in both."""
    ref, cur = reference["groups"], current["groups"]
    common = [k for k in ref if k in cur and ref[k]["n"] > 0 and cur[k]["n"] > 0]
    if len(common) < 2:
        return None
    w = np.array([ref[k]["n"] * cur[k]["n"] / (ref[k]["n"] + cur[k]["n"]) for k in common])
    d = np.array([cur[k]["mean"] - ref[k]["mean"] for k in common])
    b = float((w * d).sum() / w.sum())
    ss_interaction = float((w * (d - b) ** 2).sum())
    cells = [g for g in list(ref.values()) + list(cur.values()) if g["n"] > 0]
    df_within = sum(g["n"] for g in cells) - len(cells)
    df_interaction = len(common) - 1
    if df_within <= 0:
        return None
    within = sum(g["m2"] for g in cells) / df_within
    if within <= 0:
        return 0.0 if ss_interaction > 1e-12 else 1.0
    from scipy.special import fdtrc  # scipy.special loads in milliseconds, unlike scipy.stats

    return float(fdtrc(df_interaction, df_within, (ss_interaction / df_interaction) / within))


def association(stats: Mapping) -> dict | None:
    """What a feature's target stats say, in one shape: {"measure": "pearson"|"eta", "value", "n"}
    (+ "eta_raw", "groups" for η); None when it cannot be computed."""
    if stats["kind"] == "numeric":
        r = pearson(stats)
        return None if r is None else {"measure": "pearson", "value": r, "n": stats["n"]}
    e = eta(stats)
    return (
        None
        if e is None
        else {"measure": "eta", "value": e["adjusted"], "eta_raw": e["eta"], "n": e["n"], "groups": e["groups"]}
    )


def change_pvalue(reference: Mapping, current: Mapping) -> tuple[float | None, str]:
    """(p-value that the feature–label relationship is unchanged, the test's name)."""
    if reference["kind"] == "numeric":
        r1, r2 = pearson(reference), pearson(current)
        if r1 is None or r2 is None:
            return None, "fisher_z"
        return fisher_z_pvalue(r1, reference["n"], r2, current["n"]), "fisher_z"
    return group_change_pvalue(reference, current), "interaction_f"
