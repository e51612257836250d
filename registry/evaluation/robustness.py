"""Robustness evidence: perturbed copies of hold-out rows (nulls, unseen categories, extreme values),
scored by a model, and whether each perturbation was scored on every row and how far the scores
moved.

The perturbations are grouped by kind: every column's copy of one kind goes to the model in one
call, so a model that copes costs one call per kind. A call that fails is retried one column at a
time (at most ``MAX_LOCALISE_CALLS`` per kind) so the failure names the column it came from. The
scoring itself is the caller's: ``score`` takes a DataFrame and returns the scores or raises, so a
model is never loaded here (the gate passes its sandboxed scorer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops.clipping import clip

__all__ = [
    "ROBUSTNESS_KINDS",
    "UNSEEN",
    "numeric_ranges",
    "perturbation_label",
    "perturbations",
    "robustness_checks",
    "robustness_compare",
    "robustness_probe",
    "sample_rows",
    "short_message",
]

SAMPLE_ROWS = 200  # rows of the hold-out each perturbation copies
MIN_ROWS = 10  # rows per column copy when there are many columns
CELL_BUDGET = 2_000_000  # cells one scorer call may carry
MAX_LOCALISE_CALLS = 12  # per kind: one-column calls after a batch failed
MESSAGE_CHARS = 160
UNSEEN = "__keel_unseen__"
HUGE = 1e300
BEYOND = 10  # "far beyond": this many training ranges past an edge
NULL_SHARE = 0.95

# kind -> the words a reviewer reads ("nulls in meeting_minutes")
ROBUSTNESS_KINDS = {
    "nulls": "nulls",
    "nulls_95": "95% of cells null",
    "unseen": "an unseen category",
    "edges": "the training range's edges",
    "beyond": "±10× the training range",
    "huge": "±1e300",
}


@dataclass
class Copy:
    """One perturbation of the sampled rows: its kind, the column it changes (None: all) and the rows."""

    kind: str
    column: str | None
    frame: pd.DataFrame


def sample_rows(rows: int, *, size: int = SAMPLE_ROWS, seed: int = 0) -> np.ndarray:
    """Positions of at most ``size`` rows, the same for every model given the same row count."""
    if rows <= size:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))


def numeric_ranges(frame: pd.DataFrame, columns, known: dict | None = None) -> dict[str, dict]:
    """{column: {"low", "high", "from"}}: the training range where ``known`` has it (from a training
    reference), else the finite values' range in ``frame``; columns with no finite value are left out."""
    ranges = {}
    for name in columns:
        low, high = (known or {}).get(name, (None, None))
        source = "training reference"
        if not _finite(low) or not _finite(high):
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if not values.size:
                continue
            low, high, source = float(values.min()), float(values.max()), "hold-out"
        ranges[name] = {"low": float(low), "high": float(high), "from": source}
    return ranges


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _extremes(kind: str, low: float, high: float) -> tuple[float, float]:
    if kind == "edges":
        return low, high
    if kind == "beyond":
        span = high - low or max(abs(high), 1.0)
        return low - BEYOND * span, high + BEYOND * span
    return -HUGE, HUGE


def _halves(frame: pd.DataFrame, name: str, pair: tuple[float, float]) -> pd.DataFrame:
    copy = frame.copy()
    values = np.where(np.arange(len(copy)) % 2 == 0, pair[0], pair[1])
    copy[name] = values.astype(float)
    return copy


def _unseen_value(column: pd.Series):
    """A value the column never holds: the marker text, or one past the largest number."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        finite = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        return (float(finite.max()) if finite.size else 0.0) + 1.0
    return UNSEEN


def perturbations(
    sample: pd.DataFrame, *, numeric, categorical, ranges: dict[str, dict], seed: int = 0
) -> dict[str, list[Copy]]:
    """kind -> the perturbed copies of ``sample`` (a model's feature columns): per column, every row
    null, an unseen category (categorical columns), the training range's edges, ±10× the range past
    them and ±1e300 (numeric columns, half the rows low, half high); and one copy with 95% of all
    cells null. A column is changed as a whole, so its type stays one type."""
    columns = list(sample.columns)
    plan: dict[str, list[Copy]] = {kind: [] for kind in ROBUSTNESS_KINDS}
    for name in columns:
        copy = sample.copy()
        copy[name] = np.nan if pd.api.types.is_numeric_dtype(copy[name]) else None
        plan["nulls"].append(Copy("nulls", name, copy))
    mask = np.random.default_rng(seed).random(sample.shape) < NULL_SHARE
    plan["nulls_95"].append(Copy("nulls_95", None, sample.mask(mask)))
    for name in categorical:
        copy = sample.copy()
        copy[name] = _unseen_value(sample[name])
        plan["unseen"].append(Copy("unseen", name, copy))
    for kind in ("edges", "beyond", "huge"):
        for name in numeric:
            if name in ranges:
                pair = _extremes(kind, ranges[name]["low"], ranges[name]["high"])
                plan[kind].append(Copy(kind, name, _halves(sample, name, pair)))
    return {kind: copies for kind, copies in plan.items() if copies}


def short_message(error) -> str:
    """The first meaningful line of an error, without the scorer's "…'s artifact raised" preamble,
    at most ``MESSAGE_CHARS`` characters."""
    text = str(error).strip()
    text = re.sub(r"^.*?'s artifact raised ", "", text, count=1, flags=re.DOTALL)
    line = next((part.strip() for part in text.splitlines() if part.strip()), "") or type(error).__name__
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


def _shifts(base: np.ndarray, scores: np.ndarray) -> tuple[int, float | None, float | None]:
    """(rows without a finite score, median |Δscore|, max |Δscore|) against the unperturbed scores."""
    base, scores = np.asarray(base, dtype=float), np.asarray(scores, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        return _shifts_of(base, scores)


def _shifts_of(base: np.ndarray, scores: np.ndarray) -> tuple[int, float | None, float | None]:
    if scores.ndim == 2:
        finite = np.isfinite(scores).all(axis=1)
        delta = np.abs(scores - base).max(axis=1)
    else:
        finite = np.isfinite(scores)
        delta = np.abs(scores - base)
    unscored = int((~finite).sum())
    delta = delta[finite & np.isfinite(delta)]
    if not delta.size:
        return unscored, None, None
    return unscored, float(np.median(delta)), float(delta.max())


def _result(copy: Copy, status: str, rows: int, *, message=None, unscored=None, median=None, largest=None):
    return {
        "kind": copy.kind,
        "column": copy.column,
        "status": status,
        "rows": rows,
        "unscored": unscored,
        "median_shift": median,
        "max_shift": largest,
        "message": message,
    }


def _judge(copy: Copy, base: np.ndarray, scores: np.ndarray) -> dict:
    unscored, median, largest = _shifts(base, scores)
    rows = len(copy.frame)
    if unscored:
        message = f"{unscored} of {rows} rows got no finite score"
        return _result(copy, "failed", rows, message=message, unscored=unscored, median=median, largest=largest)
    return _result(copy, "ok", rows, unscored=0, median=median, largest=largest)


def _trimmed(copies: list[Copy], ncols: int) -> tuple[list[Copy], list[Copy], int]:
    """Copies cut to rows that keep one call within ``CELL_BUDGET`` cells (at least MIN_ROWS each);
    past that, only the first copies are probed. Returns them, the copies left out and the rows
    each keeps."""
    rows = len(copies[0].frame)
    per_copy = min(rows, max(MIN_ROWS, CELL_BUDGET // max(1, ncols * len(copies))))
    most = max(1, CELL_BUDGET // max(1, ncols * per_copy))
    kept = [Copy(c.kind, c.column, c.frame.iloc[:per_copy]) for c in copies[:most]]
    return kept, copies[most:], per_copy


def robustness_probe(
    score: Callable[[pd.DataFrame], np.ndarray],
    base: np.ndarray,
    plan: dict[str, list[Copy]],
    *,
    failures: tuple[type[BaseException], ...] = (Exception,),
    alive: Callable[[], bool] = lambda: True,
) -> dict:
    """Score each kind's copies in one call; on a failure (an exception of ``failures``) score them
    one column at a time, up to ``MAX_LOCALISE_CALLS``. ``base`` are the unperturbed scores of the
    sampled rows. Once ``alive()`` is false (the scorer ended) the rest is "not_run".
    Returns {"results": [per copy], "calls": n}."""
    results, calls = [], 0
    for copies in plan.values():
        copies, left_out, rows = _trimmed(copies, copies[0].frame.shape[1])
        results += [_result(c, "not_run", rows, message="not probed (size limit)") for c in left_out]
        reference = np.asarray(base)[:rows]
        if not alive():
            results += [_result(c, "not_run", rows, message="the scorer had ended") for c in copies]
            continue
        calls += 1
        try:
            scores = np.asarray(score(pd.concat([c.frame for c in copies], ignore_index=True)))
        except failures as exc:
            batch_error = exc
        else:
            results += [_judge(c, reference, scores[i * rows : (i + 1) * rows]) for i, c in enumerate(copies)]
            continue
        if len(copies) == 1:
            results.append(_result(copies[0], "failed", rows, message=short_message(batch_error)))
            continue
        localised = []
        for index, copy in enumerate(copies):
            if index >= MAX_LOCALISE_CALLS or not alive():
                why = "not tried alone (call limit)" if alive() else "the scorer had ended"
                localised.append(_result(copy, "not_run", rows, message=why))
                continue
            calls += 1
            try:
                localised.append(_judge(copy, reference, score(copy.frame)))
            except failures as exc:
                localised.append(_result(copy, "failed", rows, message=short_message(exc)))
        if not any(r["status"] == "failed" for r in localised):
            # No column fails alone: the batch's failure is the kind's, with no column to blame.
            kind = Copy(copies[0].kind, None, copies[0].frame)
            localised.append(_result(kind, "failed", rows, message=short_message(batch_error)))
        results += localised
    return {"results": results, "calls": calls}


def robustness_compare(candidate: dict, production: dict | None) -> list[dict]:
    """One row per perturbation (kind, column): the candidate's result and production's beside it
    (None where production was not probed or has no such column)."""
    theirs = {(r["kind"], r["column"]): r for r in (production or {}).get("results", [])}
    rows = []
    for mine in candidate.get("results", []):
        key = (mine["kind"], mine["column"])
        rows.append({"kind": key[0], "column": key[1], "candidate": mine, "production": theirs.pop(key, None)})
    rows += [{"kind": k[0], "column": k[1], "candidate": None, "production": r} for k, r in theirs.items()]
    return rows


def perturbation_label(kind: str, column: str | None) -> str:
    words = ROBUSTNESS_KINDS.get(kind, kind)
    return words if column is None else f"{words} in '{clip(column)}'"


def robustness_checks(robustness: dict | None, *, production_version=None) -> list[dict]:
    """The always-on rule: a candidate must score every perturbation production scores. One check,
    failed with each perturbation that breaks the candidate but not production (column, kind and
    the short error)."""
    if not robustness or not robustness.get("perturbations"):
        return []
    rows = robustness["perturbations"]
    broken = [r for r in rows if (r["candidate"] or {}).get("status") == "failed"]
    regressions = [r for r in broken if (r["production"] or {}).get("status") == "ok"]
    named = f"production v{production_version}" if production_version is not None else "production"
    if regressions:
        listed = "; ".join(
            f"{perturbation_label(r['kind'], r['column'])} ({r['candidate']['message']})" for r in regressions[:5]
        )
        more = f"; and {len(regressions) - 5} more" if len(regressions) > 5 else ""
        detail = f"The candidate fails on {listed}{more}, where {named} scores every row."
        return [{"name": "robustness", "passed": False, "detail": detail}]
    if broken:
        listed = "; ".join(perturbation_label(r["kind"], r["column"]) for r in broken[:5])
        detail = (
            f"The candidate fails on {listed}{' and more' if len(broken) > 5 else ''}, as {named} does "
            "(or production was not probed), so this does not block."
        )
    else:
        detail = f"The candidate scores every row of all {len(rows)} perturbations."
    return [{"name": "robustness", "passed": True, "detail": detail}]
