"""Volume and schema: the batch's size against the batches before it, and its columns against the
model's.

Pure Python; no Django.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from mlops.clipping import clip

from ..suite import Suite
from . import noise
from .findings import DEFAULT_SEVERITY, NOT_CHECKED, Finding, _num, _pvalue, _severity, _spec_fields, _tripped

NAME_LIMIT = 150  # characters of a file's column name kept in a finding (whose column holds 200)
# Earlier batches a volume verdict needs: fewer say too little about how much a feed's size varies
# (a t test on 4 degrees of freedom already needs |t| > 4.6 for p < 0.01).
MIN_HISTORY = 5
# The sampling-noise allowance (ColumnRules.drift_noise_pvalue's default): a size outside the ratio
# limits that the history's own variation explains this often or more is not a finding.
NOISE_PVALUE = 0.01

__all__ = ["MIN_HISTORY", "cut_cells_findings", "volume_findings", "schema_findings"]


def volume_findings(
    rows: int, size_bytes: int, history: Sequence[tuple[int, int]], suite: Suite, *, noise_pvalue: float = NOISE_PVALUE
) -> list[Finding]:
    """The batch's size against the last ``suite.history_batches`` batches ((rows, bytes) pairs,
    oldest first).

    No verdict before MIN_HISTORY earlier batches (or all the suite keeps, when it keeps fewer, but
    at least 2): one ``volume`` finding, not checked, "not enough history: N of M batches". From
    there, the tolerance scales with the history's own variation: the batch's log size is compared
    with the earlier batches' log sizes by a prediction t test (noise.volume_noise; its standard
    deviation at least 1/√(median rows), the chance variation of a count).

    * ``volume`` (error): rows / median rows outside [volume_ratio_min, volume_ratio_max] fails,
      unless the history varies so much that the t test's p-value is at or above ``noise_pvalue``
      (then it passes, saying so): the ratio limits are the least tolerance, never the most.
    * ``volume_zscore`` (warning): |t| beyond volume_z_max AND p below ``noise_pvalue``, even
      within the ratio limits (a batch unusual for a steady feed).
    * ``volume_bytes`` (warning): bytes / median bytes outside the ratio limits, p below ``noise_pvalue``.

    An empty batch always fails."""
    rows, size_bytes = int(rows), int(size_bytes)
    recent = [(int(r), int(b)) for r, b in list(history)[-suite.history_batches :]]
    if rows == 0:
        return [Finding("volume", None, "error", "fail", "The batch has no rows.", 0, None, {"rows": 0})]
    n = len(recent)
    needed = max(2, min(MIN_HISTORY, suite.history_batches))
    past_rows = [r for r, _ in recent if r > 0]
    details = {"rows": rows, "bytes": size_bytes, "history": n, "history_needed": needed}
    if len(past_rows) < needed:
        seen = ""
        if past_rows:
            med = statistics.median(past_rows)
            details.update(median_rows=med, ratio=rows / med)
            seen = f"; {rows / med:.2f}× the median of the last {_batches(len(past_rows))} ({_num(med)})"
        return [
            Finding(
                "volume",
                None,
                "info",
                NOT_CHECKED,
                f"Volume not checked: not enough history: {len(past_rows)} of {needed} batches "
                f"({_num(rows)} rows, {_num(size_bytes)} bytes{seen}).",
                rows,
                None,
                details,
            )
        ]
    out = []
    n = len(past_rows)
    med = statistics.median(past_rows)
    floor = 1 / math.sqrt(med)
    t, pvalue = noise.volume_noise(rows, past_rows, floor=floor)
    ratio = rows / med
    lo, hi = suite.volume_ratio_min, suite.volume_ratio_max
    beyond_noise = pvalue < noise_pvalue
    details.update(median_rows=med, ratio=ratio, t=t, pvalue=pvalue, noise_pvalue=noise_pvalue, history=n)
    text = f"{_num(rows)} rows is {ratio:.2f}× the median of the last {_batches(n)} ({_num(med)})"
    noise_text = f"p {_pvalue(pvalue)} against their own variation"
    if not (lo <= ratio <= hi) and beyond_noise:
        status, threshold = "fail", lo if ratio < lo else hi
        message = f"{text}; expected {lo:.2f}–{hi:.2f}× ({noise_text})."
    elif not (lo <= ratio <= hi):
        status, threshold = "pass", lo if ratio < lo else hi
        message = (
            f"{text}, outside {lo:.2f}–{hi:.2f}× but within the earlier batches' own variation "
            f"({noise_text}; a finding needs p < {noise_pvalue:g})."
        )
    else:
        status, threshold = "pass", hi
        message = f"{text}, within {lo:.2f}–{hi:.2f}×."
    out.append(Finding("volume", None, DEFAULT_SEVERITY["volume"], status, message, ratio, threshold, details))

    geo = math.exp(sum(math.log(r) for r in past_rows) / n)
    zd = {"z": t, "pvalue": pvalue, "noise_pvalue": noise_pvalue, "mean_rows": geo, "history": n}
    head = (
        f"{_num(rows)} rows is {t:+.1f} standard deviations from the last {n} batches' mean ({_num(geo)}; "
        f"on the log scale, at least ±{100 * floor:.0f}%, a count's chance variation)"
    )
    if abs(t) > suite.volume_z_max and beyond_noise:
        out.append(
            Finding(
                "volume_zscore",
                None,
                DEFAULT_SEVERITY["volume_zscore"],
                "warn",
                f"{head}; warning beyond ±{suite.volume_z_max:g} with p < {noise_pvalue:g} (p {_pvalue(pvalue)}).",
                t,
                suite.volume_z_max,
                zd,
            )
        )
    else:
        out.append(
            Finding(
                "volume_zscore", None, DEFAULT_SEVERITY["volume_zscore"], "pass", f"{head}.", t, suite.volume_z_max, zd
            )
        )

    past_bytes = [b for _, b in recent if b > 0]
    if len(past_bytes) >= needed and size_bytes > 0:
        med_b = statistics.median(past_bytes)
        ratio_b = size_bytes / med_b
        _, p_b = noise.volume_noise(size_bytes, past_bytes, floor=floor)
        bd = {"bytes": size_bytes, "median_bytes": med_b, "ratio": ratio_b, "pvalue": p_b}
        if not (lo <= ratio_b <= hi) and p_b < noise_pvalue:
            out.append(
                Finding(
                    "volume_bytes",
                    None,
                    DEFAULT_SEVERITY["volume_bytes"],
                    "warn",
                    f"The file is {_num(size_bytes)} bytes, {ratio_b:.2f}× the median of the last {len(past_bytes)} "
                    f"({_num(med_b)}); expected {lo:.2f}–{hi:.2f}× (p {_pvalue(p_b)}).",
                    ratio_b,
                    lo if ratio_b < lo else hi,
                    bd,
                )
            )
    return out


def _batches(n: int) -> str:
    return f"{n} batch{'es' if n != 1 else ''}"


def schema_findings(expected: Iterable, found_columns: Iterable[str]) -> list[Finding]:
    """``schema`` findings: every expected column (ColumnSpec, its dict, or a name) missing from the
    file fails with severity error; every column the file has beyond them warns (severity warning);
    when neither happens, one passing finding."""
    specs = [_spec_fields(s) for s in expected]
    found = [str(c) for c in found_columns]
    found_set = set(found)
    names = [s["name"] for s in specs]
    expected_set = set(names)
    out = []
    for spec in specs:
        if spec["name"] not in found_set:
            kind = f" ({spec['kind']})" if spec.get("kind") else ""
            out.append(
                Finding(
                    "schema",
                    spec["name"],
                    "error",
                    "fail",
                    f"Column {spec['name']}{kind} is missing: the model expects it.",
                    details={"missing": spec["name"]},
                )
            )
    for col in found:
        if col not in expected_set:
            col = clip(col, NAME_LIMIT)
            out.append(
                Finding(
                    "schema",
                    col,
                    "warning",
                    "warn",
                    f"Column {col} is not in the model's schema; it is ignored.",
                    details={"unexpected": col},
                )
            )
    if not out:
        out.append(
            Finding(
                "schema",
                None,
                "error",
                "pass",
                f"All {len(names)} expected columns are present and there are no others.",
            )
        )
    return out


def cut_cells_findings(profile: dict, suite: Suite) -> list[Finding]:
    """One ``cut_cells`` finding (warning) per column whose text cells were longer than the cap and
    were cut as the file was read (the profile's "cut_cells"); none when no cell was that long."""
    out = []
    for column, cut in sorted((profile.get("cut_cells") or {}).items()):
        cells, longest, limit = int(cut["cells"]), int(cut["longest"]), int(cut["limit"])
        severity = _severity(suite.columns.get(column), "cut_cells")
        name = clip(column, NAME_LIMIT)
        out.append(
            Finding(
                "cut_cells",
                name,
                severity,
                _tripped(severity, "cut_cells"),
                f"{_num(cells)} cell{'s' if cells != 1 else ''} in {name!r} "
                f"{'were' if cells != 1 else 'was'} longer than {_num(limit)} characters and "
                f"{'were' if cells != 1 else 'was'} cut; the longest had {_num(longest)}.",
                longest,
                limit,
                {"cells": cells, "longest": longest, "limit": limit},
            )
        )
    return out
