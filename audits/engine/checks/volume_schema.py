"""Volume and schema: the batch's size against the batches before it, and its columns against the
model's.

Pure Python; no Django.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from mlops.clipping import clip

from ..suite import Suite
from .findings import DEFAULT_SEVERITY, NOT_CHECKED, Finding, _num, _severity, _spec_fields, _tripped

NAME_LIMIT = 150  # characters of a file's column name kept in a finding (whose column holds 200)

__all__ = ["cut_cells_findings", "volume_findings", "schema_findings"]


def volume_findings(rows: int, size_bytes: int, history: Sequence[tuple[int, int]], suite: Suite) -> list[Finding]:
    """The batch's size against the last ``suite.history_batches`` batches ((rows, bytes) pairs,
    oldest first): rows / median rows outside [volume_ratio_min, volume_ratio_max] fails (``volume``,
    error); a row z-score beyond ±volume_z_max against those batches warns (``volume_zscore``; needs
    3 batches that differ); bytes / median bytes outside the ratio range warns (``volume_bytes``).
    An empty batch always fails; with no history there is only an info finding."""
    rows, size_bytes = int(rows), int(size_bytes)
    recent = [(int(r), int(b)) for r, b in list(history)[-suite.history_batches :]]
    if rows == 0:
        return [Finding("volume", None, "error", "fail", "The batch has no rows.", 0, None, {"rows": 0})]
    if not recent:
        return [
            Finding(
                "volume",
                None,
                "info",
                NOT_CHECKED,
                f"No earlier batches to compare the volume with yet ({_num(rows)} rows, {_num(size_bytes)} bytes).",
                rows,
                None,
                {"rows": rows, "bytes": size_bytes, "history": 0},
            )
        ]
    out = []
    past_rows = [r for r, _ in recent]
    med = statistics.median(past_rows)
    details = {"rows": rows, "bytes": size_bytes, "history": len(recent), "median_rows": med}
    lo, hi = suite.volume_ratio_min, suite.volume_ratio_max
    n = len(recent)
    if med > 0:
        ratio = rows / med
        details["ratio"] = ratio
        text = (
            f"{_num(rows)} rows is {ratio:.2f}× the median of the last {n} batch{'es' if n != 1 else ''} ({_num(med)})"
        )
        if not (lo <= ratio <= hi):
            threshold = lo if ratio < lo else hi
            out.append(
                Finding(
                    "volume",
                    None,
                    DEFAULT_SEVERITY["volume"],
                    "fail",
                    f"{text}; expected {lo:.2f}–{hi:.2f}×.",
                    ratio,
                    threshold,
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "volume",
                    None,
                    DEFAULT_SEVERITY["volume"],
                    "pass",
                    f"{text}, within {lo:.2f}–{hi:.2f}×.",
                    ratio,
                    hi,
                    details,
                )
            )
    if n >= 3:
        mean = statistics.fmean(past_rows)
        sd = statistics.stdev(past_rows)
        if sd > 0:
            z = (rows - mean) / sd
            zd = {"z": z, "mean_rows": mean, "std_rows": sd, "history": n}
            if abs(z) > suite.volume_z_max:
                out.append(
                    Finding(
                        "volume_zscore",
                        None,
                        DEFAULT_SEVERITY["volume_zscore"],
                        "warn",
                        f"{_num(rows)} rows is {z:+.1f} standard deviations from the last {n} batches' mean "
                        f"({_num(mean)} ± {_num(sd)}); warning beyond ±{suite.volume_z_max:g}.",
                        z,
                        suite.volume_z_max,
                        zd,
                    )
                )
            else:
                out.append(
                    Finding(
                        "volume_zscore",
                        None,
                        DEFAULT_SEVERITY["volume_zscore"],
                        "pass",
                        f"{_num(rows)} rows is {z:+.1f} standard deviations from the last {n} batches' mean "
                        f"({_num(mean)}).",
                        z,
                        suite.volume_z_max,
                        zd,
                    )
                )
    past_bytes = [b for _, b in recent]
    med_b = statistics.median(past_bytes)
    if med_b > 0 and size_bytes > 0:
        ratio_b = size_bytes / med_b
        bd = {"bytes": size_bytes, "median_bytes": med_b, "ratio": ratio_b}
        if not (lo <= ratio_b <= hi):
            out.append(
                Finding(
                    "volume_bytes",
                    None,
                    DEFAULT_SEVERITY["volume_bytes"],
                    "warn",
                    f"The file is {_num(size_bytes)} bytes, {ratio_b:.2f}× the median of the last {n} "
                    f"({_num(med_b)}); expected {lo:.2f}–{hi:.2f}×.",
                    ratio_b,
                    lo if ratio_b < lo else hi,
                    bd,
                )
            )
    return out


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
                _tripped(severity),
                f"{_num(cells)} cell{'s' if cells != 1 else ''} in {name!r} "
                f"{'were' if cells != 1 else 'was'} longer than {_num(limit)} characters and "
                f"{'were' if cells != 1 else 'was'} cut; the longest had {_num(longest)}.",
                longest,
                limit,
                {"cells": cells, "longest": longest, "limit": limit},
            )
        )
    return out
