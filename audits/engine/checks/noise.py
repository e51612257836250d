"""Sampling-noise tests for the quality and volume checks: how likely a batch's count, or its size,
is under the reference (or the history) it is compared with.

Each returns a p-value; a check whose effect size trips passes instead when the p-value is at or
above the column's ``drift_noise_pvalue`` (0.01 by default), the allowance the drift checks have.
Both samples are random (the reference is a sample too), so the count tests are two-sample
(hypergeometric, as Fisher's exact test), with the mid-p correction: the plain exact test is
conservative on small counts (at 100 rows with a 5% null share it rejects 2% of the time at a
nominal 5%), mid-p stays near nominal (tests/audits/test_calibration_quality.py).

Pure Python (scipy, imported on first use); no Django.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .. import drift

__all__ = ["beyond_noise", "count_rise_pvalue", "absence_pvalue", "volume_noise"]


def beyond_noise(pvalue, rules) -> bool:
    """Whether a difference is more than sampling noise explains under a column's rules (ColumnRules):
    its p-value is below the column's drift_noise_pvalue, or there is no p-value to veto it."""
    return pvalue is None or pvalue < rules.drift_noise_pvalue


def _hypergeom(total: int, marked: int, drawn: int):
    return drift._scipy_stats().hypergeom(total, marked, drawn)


def count_rise_pvalue(cur_hits: int, cur_rows: int, ref_hits: int, ref_rows: int) -> float | None:
    """One-sided mid-p that the batch's share of hits (e.g. nulls) is no higher than the
    reference's: P(X > cur_hits) + P(X = cur_hits) / 2 for X the batch's hits when the
    ``cur_hits + ref_hits`` hits fall at random over both samples. None without rows on either side."""
    if cur_rows <= 0 or ref_rows <= 0:
        return None
    dist = _hypergeom(cur_rows + ref_rows, cur_hits + ref_hits, cur_rows)
    return float(min(1.0, dist.sf(cur_hits) + 0.5 * dist.pmf(cur_hits)))


def absence_pvalue(ref_hits: int, ref_rows: int, cur_rows: int) -> float | None:
    """One-sided mid-p of a value the reference holds ``ref_hits`` times being absent from a batch of
    ``cur_rows``: P(X = 0) / 2 for X the batch's share of the ``ref_hits`` rows spread at random."""
    if cur_rows <= 0 or ref_rows <= 0:
        return None
    total, others = cur_rows + ref_rows, cur_rows + ref_rows - ref_hits
    if cur_rows > others:
        return 0.0
    # C(others, cur_rows) / C(total, cur_rows), in logs: the hypergeometric P(X = 0)
    log_p = math.lgamma(others + 1) - math.lgamma(others - cur_rows + 1) - math.lgamma(total + 1)
    return 0.5 * math.exp(log_p + math.lgamma(total - cur_rows + 1))


def volume_noise(value: float, history: Sequence[float], *, floor: float) -> tuple[float, float]:
    """(t, two-sided p) of a batch's ``value`` (rows or bytes) against earlier batches' values, on the
    log scale: the prediction t statistic (log value − mean) / (sd · √(1 + 1/h)) with h − 1 degrees
    of freedom, exact when batch sizes are log-normal. ``floor``: the least standard deviation of
    the log size (a count of N rows varies by about 1/√N by chance alone), so a history of
    identical sizes does not make every other size significant. Needs at least 2 values above 0."""
    logs = [math.log(v) for v in history]
    h = len(logs)
    mean = sum(logs) / h
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (h - 1))
    sd = max(sd, floor)
    t = (math.log(value) - mean) / (sd * math.sqrt(1 + 1 / h))
    return t, float(2 * drift._scipy_stats().t.sf(abs(t), h - 1))
