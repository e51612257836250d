"""Feature–label statistics: how strongly each feature goes with the label, kept in a mergeable form.

A profile made with a target (label) column carries, under the top-level key ``"target"``
(docs/audit-profile-format.md), the sufficient statistics of

* a rank correlation between each NUMERIC feature and the label, over rows where both are present.
  Pearson's r is led by a few large values, so on skewed or heavy-tailed data two samples of one
  population differ by far more than Fisher's z allows (p < 0.01 in 15 of 50 random halves of a real
  data set). So a feature is first turned into a bounded rank score: its bin on the REFERENCE's fine
  edges (the numeric profile's bins: 1/1000 quantiles of training, or its distinct values when it
  has at most 999), scored (bin + ½) / (bins) in (0, 1) — the training percentile, i.e. Spearman's
  rank, to within one bin. The label is scored the same way on its own edges when it is a numeric
  column; a 0/1 label is used as it is (any monotone score of two values correlates alike). The
  score is a fixed function given the edges, so the raw power sums Σuᵃvᵇ (a + b ≤ 4) of the scores u
  (feature) and v (label) merge exactly by addition, and are bounded, so they cannot overflow or
  lose digits. Order 4 is what the test needs: the variance of r on data that are not normal (the
  delta method), instead of Fisher's 1/(n − 3).
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

from .drift import OTHER

TARGET_CATEGORIES = 50
# The power sums kept per numeric feature: "uv" is Σ u·v, "uuvv" is Σ u²·v², … (u the feature's
# score, v the label's), every monomial of degree 1 to 4.
MONOMIALS = tuple("u" * a + "v" * (d - a) for d in range(1, 5) for a in range(d, -1, -1))
# Below this many pairs on a side the fourth moments behind the test's variance are too noisy to trust.
MIN_TEST_PAIRS = 10
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


def target_stats(
    frame: pd.DataFrame, specs: Iterable, column: str, edges: Mapping[str, Iterable[float]] | None = None
) -> dict:
    """The ``"target"`` entry of a frame's profile: label ``column`` against every numeric and
    categorical spec column in the frame (the label itself excluded). ``edges`` maps each numeric
    column to the fine bin edges its profile uses (the reference's): the rank scores come from them,
    and a numeric column without edges has one bin (a constant score: no correlation)."""
    specs = list(specs)
    edges = edges or {}
    kind = next((s.kind for s in specs if s.name == column), None)
    y, reason = label_values(frame[column], kind)
    if y is not None and column not in edges:
        present = y[np.isfinite(y)]
        if ((present != 0) & (present != 1)).any():
            y, reason = (
                None,
                (
                    f"the label {column} has values other than 0 and 1 but is not profiled as a numeric column, "
                    f"so it cannot be ranked"
                ),
            )
    out = {"column": column, "numeric": y is not None, "reason": reason, "labelled": 0, "features": {}}
    if y is None:
        return out
    has_y = np.isfinite(y)
    out["labelled"] = int(has_y.sum())
    v = rank_score(y, edges[column]) if column in edges else y
    for spec in specs:
        if spec.name == column or spec.name not in frame.columns:
            continue
        if spec.kind == "numeric":
            x = _as_float(frame[spec.name])
            both = has_y & np.isfinite(x)
            out["features"][spec.name] = _pair_stats(rank_score(x[both], edges.get(spec.name, ())), v[both])
        elif spec.kind == "categorical":
            out["features"][spec.name] = _group_stats(frame[spec.name], y, has_y)
    return out


def rank_score(x: np.ndarray, edges: Iterable[float]) -> np.ndarray:
    """Each value's bin on ``edges`` (the numeric profile's rule: bin i holds edges[i-1] < x <=
    edges[i]) scored (bin + ½) / (bins), in (0, 1): on a reference's quantile edges, its percentile."""
    e = np.asarray(list(edges) if not isinstance(edges, np.ndarray) else edges, dtype=np.float64)
    return (np.searchsorted(e, x, side="left") + 0.5) / (e.size + 1)


def _pair_stats(u: np.ndarray, v: np.ndarray) -> dict:
    """n and the power sums Σuᵃvᵇ of MONOMIALS over the rows with both scores."""
    up, vp = [np.ones_like(u), u], [np.ones_like(v), v]
    for _ in range(3):
        up.append(up[-1] * u)
        vp.append(vp[-1] * v)
    # np.sum (pairwise summation); every factor lies in [0, 1], so nothing overflows
    sums = {m: float(np.sum(up[m.count("u")] * vp[m.count("v")])) for m in MONOMIALS}
    return {"kind": "numeric", "measure": "spearman", "n": int(u.size), "sums": sums}


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
    if "sums" not in a or "sums" not in b:
        raise ValueError("Label statistics of numeric features from an older Keel (Pearson's r) cannot be merged.")
    return {
        "kind": "numeric",
        "measure": "spearman",
        "n": a["n"] + b["n"],
        "sums": {m: a["sums"][m] + b["sums"][m] for m in MONOMIALS},
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


_BINOMIAL = np.array([[math.comb(a, i) for i in range(5)] for a in range(5)], dtype=np.float64)


def _central(stats: Mapping) -> np.ndarray:
    """Central moments c[a, b] = E[(u − ū)ᵃ(v − v̄)ᵇ], a + b ≤ 4, from the power sums (n > 0):
    c = A·R·Bᵀ with R the raw moments and A[a, i] = C(a, i)(−ū)^(a−i), B likewise for v."""
    n = stats["n"]
    raw = np.zeros((5, 5))
    raw[0, 0] = 1.0
    for m in MONOMIALS:
        raw[m.count("u"), m.count("v")] = stats["sums"][m] / n
    powers = np.subtract.outer(np.arange(5), np.arange(5)).clip(0)
    lower = np.tri(5)
    a = _BINOMIAL * (-raw[1, 0]) ** powers * lower
    b = _BINOMIAL * (-raw[0, 1]) ** powers * lower
    return a @ raw @ b.T


def spearman(stats: Mapping) -> dict | None:
    """{"r": the rank correlation, "variance": n·Var(r) by the delta method} of a numeric feature's
    stats; None with fewer than 3 pairs, a constant side, or statistics from an older Keel.

    The variance holds for any joint distribution with finite fourth moments (scores in (0, 1) have
    them): with standardised moments m_ab, n·Var(r) ≈ m22 + r²/4·(m40 + 2·m22 + m04) − r·(m31 + m13),
    which is 1 for independent features and (1 − r²)² for normal data (Fisher's case)."""
    if "sums" not in stats or stats["n"] < 3:
        return None
    c = _central(stats)
    # Power sums lose a few digits to centring: a spread below that is a constant side.
    if c[2, 0] <= 1e-12 * stats["sums"]["uu"] / stats["n"] or c[0, 2] <= 1e-12 * stats["sums"]["vv"] / stats["n"]:
        return None
    su, sv = math.sqrt(c[2, 0]), math.sqrt(c[0, 2])

    def m(a, b):
        return float(c[a, b]) / (su**a * sv**b)

    r = max(-1.0, min(1.0, m(1, 1)))
    variance = m(2, 2) + r * r / 4 * (m(4, 0) + 2 * m(2, 2) + m(0, 4)) - r * (m(3, 1) + m(1, 3))
    return {"r": r, "variance": max(0.0, variance)}


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


def rank_change_pvalue(reference: Mapping, current: Mapping) -> float | None:
    """Two-sided p-value that two independent samples share one rank correlation. Fisher's z
    (atanh r) with each side's variance from its own fourth moments, Var(atanh r) ≈ Var(r)/(1 − r²)²,
    instead of the 1/(n − 3) that holds only for normal data. None with fewer than MIN_TEST_PAIRS
    pairs on a side."""
    a, b = spearman(reference), spearman(current)
    if a is None or b is None or min(reference["n"], current["n"]) < MIN_TEST_PAIRS:
        return None
    edge = 1 - 1e-12  # atanh(±1) is infinite; a perfect correlation still compares
    z, var = [], 0.0
    for side, n in ((a, reference["n"]), (b, current["n"])):
        r = max(-edge, min(edge, side["r"]))
        z.append(math.atanh(r))
        var += side["variance"] / (1 - r * r) ** 2 / (n - 3)
    diff = abs(z[0] - z[1])
    if var <= 0:
        return 1.0 if diff < 1e-9 else 0.0
    return math.erfc(diff / math.sqrt(2 * var))


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
    """What a feature's target stats say, in one shape: {"measure": "spearman"|"eta", "value", "n"}
    (+ "eta_raw", "groups" for η); None when it cannot be computed."""
    if stats["kind"] == "numeric":
        s = spearman(stats)
        return None if s is None else {"measure": "spearman", "value": s["r"], "n": stats["n"]}
    e = eta(stats)
    return (
        None
        if e is None
        else {"measure": "eta", "value": e["adjusted"], "eta_raw": e["eta"], "n": e["n"], "groups": e["groups"]}
    )


def change_pvalue(reference: Mapping, current: Mapping) -> tuple[float | None, str]:
    """(p-value that the feature–label relationship is unchanged, the test's name)."""
    if reference["kind"] == "numeric":
        return rank_change_pvalue(reference, current), "rank_z"
    return group_change_pvalue(reference, current), "interaction_f"
