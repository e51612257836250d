"""The model's error rate, accuracy and per-class precision/recall from a relabelled sample, with
confidence intervals that fit the design the sample was drawn with.

* uniform: the Wilson score interval on the labelled items, with the finite-population correction
  (effective size n / (1 - n/N)).
* stratified, uncertainty, disagreement: the Hajek (ratio) estimator, items weighted by 1/pi, and its
  linearised variance for the design: per stratum (simple random sampling within each stratum, with
  its sampling fraction) for "stratified", Poisson sampling (sum of (1 - pi) (z/pi)^2) otherwise.
  The interval is the Wilson interval at the design's effective sample size p(1-p)/V, which keeps it
  inside [0, 1] and asymmetric near 0 and 1 where the normal interval undercovers. The variance of each
  stratum (each of 20 inclusion-probability classes for Poisson designs) is computed from its
  proportion shrunk towards the overall one by one pseudo-item, so a small stratum with no error
  observed still contributes its share of uncertainty instead of none.

* audit_flagged: the same Hajek estimator; every flagged row had the same pi (n/N_f), so it is the
  plain share among the labelled items, and it covers the flagged rows only, never the whole log.
* label_errors: purposive: each drawn suspect has pi = 1, so the estimate is a census of the drawn
  items (the interval has no sampling width): how often the model was right, or the given label
  wrong, among those suspects, nothing beyond them.

Precision and recall are domain ratios (the items predicted as the class, the items truly of it)
estimated the same way. An estimate with no items has value NaN and the interval [0, 1].
Items labelled "unsure" are the caller's to leave out before estimating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .sampling import DESIGN_KINDS

__all__ = ["Estimate", "accuracy", "error_rate", "per_class", "wilson"]


@dataclass
class Estimate:
    value: float
    low: float
    high: float
    n: int
    method: str  # "wilson" | "horvitz_thompson"


def _z(confidence: float) -> float:
    if not (0 < confidence < 1):
        raise ValueError("confidence: must be in (0, 1)")
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(p: float, n_eff: float, z: float) -> tuple[float, float]:
    """Wilson score interval of proportion p at (possibly fractional) sample size n_eff."""
    if n_eff <= 0:
        return 0.0, 1.0
    if math.isinf(n_eff):
        return p, p
    z2 = z * z
    centre = (p + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = z * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff * n_eff)) / (1 + z2 / n_eff)
    return max(0.0, centre - half), min(1.0, centre + half)


def _inputs(y, pi, stratum, design_kind):
    if design_kind not in DESIGN_KINDS:
        raise ValueError(f"design_kind: must be one of {', '.join(DESIGN_KINDS)}")
    y = np.asarray(y, dtype=bool).ravel()
    pi = np.asarray(pi, dtype=np.float64).ravel()
    if len(pi) != len(y):
        raise ValueError("inclusion_probability: must have one value per item")
    if len(pi) and (np.isnan(pi).any() or (pi <= 0).any() or (pi > 1).any()):
        raise ValueError("inclusion_probability: every value must be in (0, 1]")
    if stratum is not None:
        stratum = np.asarray(stratum, dtype=object).ravel()
        if len(stratum) != len(y):
            raise ValueError("stratum: must have one value per item")
    return y, pi, stratum


def _weight_classes(pi: np.ndarray) -> np.ndarray:
    """Items grouped by inclusion probability (20 quantile groups) for the shrunken Poisson variance."""
    if len(pi) < 2:
        return np.zeros(len(pi), dtype=np.int64)
    edges = np.unique(np.quantile(pi, np.linspace(0, 1, 21)[1:-1]))
    return np.searchsorted(edges, pi, side="right")


def _ratio(y, pi, domain, stratum, design_kind, population, z, stratum_population) -> Estimate:
    n = int(domain.sum())
    if n == 0:
        return Estimate(math.nan, 0.0, 1.0, 0, "wilson" if design_kind == "uniform" else "horvitz_thompson")
    if design_kind == "uniform":
        p = float(y[domain].mean())
        fraction = min(len(y) / population, 1.0) if population else 0.0
        low, high = wilson(p, n / (1 - fraction) if fraction < 1 else math.inf, z)
        return Estimate(p, low, high, n, "wilson")
    w = 1.0 / pi
    if design_kind == "stratified" and stratum is not None and stratum_population:
        # the design's stratum sizes, not the labelled share of them, weight the strata
        w = w.copy()
        for name in np.unique(stratum):
            in_h = stratum == name
            if name in stratum_population:
                w[in_h] = stratum_population[name] / in_h.sum()
    wd = w * domain
    total = wd.sum()
    p = float((wd * y).sum() / total)
    by_stratum = design_kind == "stratified" and stratum is not None
    groups = stratum if by_stratum else _weight_classes(pi)
    shrunk_p = (p * n + 0.5) / (n + 1)
    variance = 0.0
    for name in np.unique(groups):
        g = groups == name
        d_g = domain[g]
        n_g, m = int(g.sum()), int(d_g.sum())
        if m == 0:
            continue
        # the group's proportion shrunk towards the overall one by one pseudo-item
        mean_g = float(y[g][d_g].mean())
        shrunk = (mean_g * m + shrunk_p) / (m + 1)
        # expected squared residual (y - p)^2 of a domain item in the group
        sq = shrunk * (1 - shrunk) + (mean_g - p) ** 2
        if by_stratum:
            # simple random sampling within the stratum of z = d (y - p)
            share = m / n_g
            var_z = (share * sq - (share * (mean_g - p)) ** 2) * (n_g / (n_g - 1) if n_g > 1 else 1.0)
            fraction = float(np.clip(pi[g].mean(), 0.0, 1.0))
            variance += (1 - fraction) * w[g].sum() ** 2 * var_z / n_g
        else:
            # Poisson sampling: sum of (1 - pi) (y - p)^2 / pi^2 over the domain items
            keep = g & domain
            variance += float(((1 - pi[keep]) * w[keep] ** 2).sum()) * sq
    variance /= total**2
    n_eff = shrunk_p * (1 - shrunk_p) / variance if variance > 0 else math.inf
    low, high = wilson(p, n_eff, z)
    return Estimate(p, low, high, n, "horvitz_thompson")


def error_rate(
    correct,
    inclusion_probability,
    *,
    population: int,
    stratum=None,
    design_kind: str = "uniform",
    confidence: float = 0.95,
    stratum_population: dict[str, int] | None = None,
) -> Estimate:
    """Share of the population the model got wrong. `stratum_population` (optional, the Sample's)
    weights the strata of a stratified sample by their drawn sizes when not every item is labelled."""
    correct = np.asarray(correct, dtype=bool).ravel()
    y, pi, stratum = _inputs(~correct, inclusion_probability, stratum, design_kind)
    if not len(y):
        raise ValueError("correct: no labelled items to estimate from")
    return _ratio(
        y, pi, np.ones(len(y), dtype=bool), stratum, design_kind, population, _z(confidence), stratum_population
    )


def accuracy(correct, inclusion_probability, **kwargs) -> Estimate:
    """1 - error_rate, interval mirrored."""
    e = error_rate(correct, inclusion_probability, **kwargs)
    return Estimate(1 - e.value, 1 - e.high, 1 - e.low, e.n, e.method)


def per_class(
    predicted,
    truth,
    inclusion_probability,
    *,
    population: int,
    stratum=None,
    design_kind: str = "uniform",
    confidence: float = 0.95,
    stratum_population: dict[str, int] | None = None,
) -> dict[str, dict[str, Estimate]]:
    """{class: {"precision": P(truth = c | predicted = c), "recall": P(predicted = c | truth = c)}}."""
    predicted = np.asarray(predicted, dtype=object).astype(str).ravel()
    truth = np.asarray(truth, dtype=object).astype(str).ravel()
    if len(predicted) != len(truth):
        raise ValueError("truth: must have one value per predicted value")
    _, pi, stratum = _inputs(np.zeros(len(truth), dtype=bool), inclusion_probability, stratum, design_kind)
    z = _z(confidence)
    out = {}
    for c in sorted(set(predicted) | set(truth)):
        is_pred, is_true = predicted == c, truth == c
        args = (stratum, design_kind, population, z, stratum_population)
        out[c] = {
            "precision": _ratio(is_true, pi, is_pred, *args),
            "recall": _ratio(is_pred, pi, is_true, *args),
        }
    return out
