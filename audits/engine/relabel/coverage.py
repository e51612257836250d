"""Coverage simulation with known truth: how often the 95% interval of `error_rate` holds the true error
rate of a synthetic prediction log, over many seeded campaigns of one design.

The population: scores from a U-shaped Beta(0.7, 0.7) with 1% missing, the predicted label from the
score (>= 0.5 -> "yes"), errors drawn with a probability that rises with the score's closeness to 0.5
(so the uncertainty design over-draws errors), scaled to the wanted overall error rate, and a shadow
decision (`other_label`) that disagrees more often near 0.5. The truth is the realised error rate of
that fixed population (of its disagreement rows for the disagreement design); each campaign draws
with its own seed, so the figure is the design-based coverage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estimates import error_rate
from .sampling import NO_SCORE, Design, band_names, draw, uncertainty_weight

__all__ = ["Coverage", "coverage", "simulation_designs", "synthetic_population"]


def synthetic_population(rows: int, error_rate_target: float, *, seed: int = 0) -> pd.DataFrame:
    """id, score, label, other_label, correct; errors concentrated near the 0.5 threshold."""
    rng = np.random.default_rng(seed)
    score = rng.beta(0.7, 0.7, rows)
    score[rng.random(rows) < 0.01] = np.nan
    closeness = (uncertainty_weight(score, 0.5) - 0.1) / 0.9
    shape = 0.15 + closeness**2
    scale = error_rate_target / shape.mean()
    for _ in range(20):  # the cap at 0.9 takes some mass away; rescale until the mean is on target
        q = np.minimum(scale * shape, 0.9)
        scale *= error_rate_target / q.mean()
    q = np.minimum(scale * shape, 0.9)
    wrong = rng.random(rows) < q
    label = np.where(np.nan_to_num(score, nan=0.0) >= 0.5, "yes", "no").astype(object)
    flip = rng.random(rows) < 0.02 + 0.3 * closeness
    other = np.where(flip, np.where(label == "yes", "no", "yes"), label).astype(object)
    other[rng.random(rows) < 0.05] = None  # requests with no shadow decision
    return pd.DataFrame(
        {"id": np.arange(rows, dtype=np.int64), "score": score, "label": label, "other_label": other, "correct": ~wrong}
    )


def simulation_designs(n: int, rows: int) -> dict[str, Design]:
    """One design of each kind (and variant) with about n items from a population of `rows` rows."""
    names = band_names() + [NO_SCORE]
    per = n // len(names)
    return {
        "uniform (rate)": Design(kind="uniform", rate=n / rows),
        "uniform (size)": Design(kind="uniform", size=n),
        "stratified (score band)": Design(
            kind="stratified", strata="score_band", stratum_sizes=dict.fromkeys(names, per)
        ),
        "stratified (class)": Design(
            kind="stratified", strata="predicted_class", stratum_sizes={"yes": n // 2, "no": n - n // 2}
        ),
        "uncertainty (threshold 0.5)": Design(kind="uncertainty", size=n, threshold=0.5),
        "uncertainty (entropy)": Design(kind="uncertainty", size=n),
        "disagreement": Design(kind="disagreement", size=n),
    }


@dataclass
class Coverage:
    design: str
    n: int
    campaigns: int
    truth: float
    covered: float  # share of campaigns whose interval held the truth
    mean_width: float
    mean_items: float


def coverage(
    population: pd.DataFrame, name: str, design: Design, *, campaigns: int, seed: int = 0, confidence: float = 0.95
) -> Coverage:
    correct = population["correct"].to_numpy()
    if design.kind == "disagreement":
        other = population["other_label"]
        differs = (other.notna() & (population["label"] != other)).to_numpy()
        truth = float((~correct[differs]).mean())
    else:
        truth = float((~correct).mean())
    frame = population[["id", "score", "label", "other_label"]]
    hits, widths, sizes = 0, 0.0, 0
    for campaign in range(campaigns):
        sample = draw(frame, design, seed=seed * 1_000_003 + campaign)
        items = sample.items
        est = error_rate(
            correct[items["id"].to_numpy()],
            items["inclusion_probability"].to_numpy(),
            population=sample.population,
            stratum=items["stratum"].to_numpy(),
            design_kind=design.kind,
            confidence=confidence,
        )
        hits += est.low <= truth <= est.high
        widths += est.high - est.low
        sizes += len(items)
    n = design.size or sum((design.stratum_sizes or {}).values()) or round((design.rate or 0) * len(population))
    return Coverage(name, n, campaigns, truth, hits / campaigns, widths / campaigns, sizes / campaigns)
