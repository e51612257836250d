"""Data-quality checks: per column of a batch's profile against the training reference, nulls,
types, declared bounds and ranges, categories, dates, text and identifiers.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..profile import EXTREME_MAGNITUDE
from ..suite import ColumnRules, Suite
from . import noise
from .categories import categorical_findings
from .findings import Finding, _null_share, _num, _pct, _pvalue, _rows, _severity, _tripped
from .text import text_findings
from .timestamps import timestamp_findings

__all__ = [
    "RANGE_IQR_RATIO",
    "quality_findings",
]

RANGE_IQR_RATIO = (0.5, 2.0)


def quality_findings(reference: Mapping, current: Mapping, suite: Suite, *, now=None) -> list[Finding]:
    """Data-quality findings for every column of the current profile, in column order.

    Per column: null share (fails above the suite's limit, warns on a rise over the reference's);
    numeric – values that are not numbers (error), values outside DECLARED bounds (error), and the
    location/spread against the reference (median or mean outside the reference's p01–p99, IQR halved
    or doubled: warning); categorical – values outside the allowed domain (naming them and their
    share) and share changes; timestamp – format switches and mixtures, unparseable values, dates
    after ``now`` or before 1900, dates outside the suite's range; text – length and empty share,
    top-word changes; id – duplicates. ``now`` (datetime, default: the profile's own future count
    only) additionally flags a latest date after it.
    """
    out: list[Finding] = []
    ref_cols = reference.get("columns") or {}
    for name, cur in (current.get("columns") or {}).items():
        kind = cur.get("kind")
        ref = ref_cols.get(name)
        if ref is not None and ref.get("kind") != kind:
            ref = None  # a column whose kind changed cannot be compared; the schema says so
        rules = suite.rules_for(name, kind)
        out.append(_null_finding(name, reference, ref, current, cur, rules))
        if kind == "numeric":
            out += _numeric_findings(name, ref, current, cur, rules)
        elif kind == "categorical":
            out += categorical_findings(name, ref, cur, rules)
        elif kind == "timestamp":
            out += timestamp_findings(name, ref, cur, rules, now)
        elif kind == "text":
            out += text_findings(name, ref, current, cur, rules)
        elif kind == "id":
            out += _id_findings(name, current, cur, rules)
    return out


def _null_finding(name, reference, ref, current, cur, rules: ColumnRules) -> Finding:
    """Fails above the suite's limit, warns on a rise over the reference's share; either passes
    when sampling noise explains the rise (a one-sided two-sample test of the null counts, p at or
    above the column's drift_noise_pvalue), unless the reference's own share is above the limit."""
    severity = _severity(rules, "nulls")
    share = _null_share(current, cur)
    ref_share = _null_share(reference, ref) if ref is not None else None
    nulls = int(cur.get("nulls") or 0)
    base = f"{name} is null in {_pct(share)} of rows ({_num(nulls)})"
    ref_text = f"reference {_pct(ref_share)}" if ref_share is not None else "no reference"
    details = {"null_share": share, "reference_null_share": ref_share, "nulls": nulls}
    pvalue = None
    if ref is not None:
        pvalue = noise.count_rise_pvalue(nulls, _rows(current, cur), int(ref.get("nulls") or 0), _rows(reference, ref))
        details["null_rise_pvalue"] = pvalue
    noise_text = (
        f"no more than sampling noise explains on {_num(_rows(current, cur))} rows "
        f"(p {_pvalue(pvalue)}; a finding needs p < {rules.drift_noise_pvalue:g})"
    )
    if rules.max_null_share is not None and share > rules.max_null_share:
        if noise.beyond_noise(pvalue, rules) or (ref_share is not None and ref_share > rules.max_null_share):
            return Finding(
                "nulls",
                name,
                severity,
                "fail",
                f"{base}, above the limit of {_pct(rules.max_null_share)} ({ref_text}).",
                share,
                rules.max_null_share,
                details,
            )
        return Finding(
            "nulls",
            name,
            severity,
            "pass",
            f"{base}, above the limit of {_pct(rules.max_null_share)} but {noise_text} ({ref_text}).",
            share,
            rules.max_null_share,
            details,
        )
    if rules.max_null_increase is not None and ref_share is not None and share - ref_share > rules.max_null_increase:
        rise = f"{base}, up {_pct(share - ref_share)} points from the {ref_text}"
        if not noise.beyond_noise(pvalue, rules):
            return Finding(
                "nulls",
                name,
                severity,
                "pass",
                f"{rise}: {noise_text}.",
                share - ref_share,
                rules.max_null_increase,
                details,
            )
        return Finding(
            "nulls",
            name,
            severity,
            "warn",
            f"{rise} (warning above +{_pct(rules.max_null_increase)}).",
            share - ref_share,
            rules.max_null_increase,
            details,
        )
    return Finding("nulls", name, severity, "pass", f"{base} ({ref_text}).", share, rules.max_null_share, details)


def _extreme_finding(name, ref, current, cur, rules: ColumnRules) -> Finding:
    """Values a number column holds that no measurement gives: +/-inf and NaN spelled out (profiled
    apart, outside `count`) and finite values of magnitude EXTREME_MAGNITUDE or more (in `count`)."""
    severity = _severity(rules, "extreme_values")
    non_finite, extreme = int(cur.get("non_finite") or 0), int(cur.get("extreme") or 0)
    ref_non_finite = int(ref.get("non_finite") or 0) if ref else 0
    ref_extreme = int(ref.get("extreme") or 0) if ref else 0
    details = {
        "non_finite": non_finite,
        "extreme": extreme,
        "extreme_magnitude": EXTREME_MAGNITUDE,
        "reference_non_finite": ref_non_finite,
        "reference_extreme": ref_extreme,
    }
    reasons = cur.get("null_reasons") or {}
    if reasons:
        details["null_statistics"] = dict(reasons)
    if not non_finite and not extreme:
        return Finding("extreme_values", name, severity, "pass", f"{name} has no infinite or extreme values.")
    rows = _rows(current, cur)
    bad = non_finite + extreme
    parts = []
    if non_finite:
        parts.append(f"{_num(non_finite)} non-finite (inf, -inf or NaN)")
    if extreme:
        parts.append(f"{_num(extreme)} extreme (magnitude of {EXTREME_MAGNITUDE:.0e} or more)")
    return Finding(
        "extreme_values",
        name,
        severity,
        _tripped(severity, "extreme_values"),
        f"{name} has {' and '.join(parts)} values ({_pct(bad / rows if rows else 0)} of rows; reference: "
        f"{_num(ref_non_finite)} non-finite, {_num(ref_extreme)} extreme)."
        + (" Statistics beyond the float range are stored as null." if reasons else ""),
        bad / rows if rows else None,
        0.0,
        details,
    )


def _numeric_findings(name, ref, current, cur, rules: ColumnRules) -> list[Finding]:
    out = []
    rows = _rows(current, cur)
    # values that are not numbers
    severity = _severity(rules, "type_mismatch")
    bad = int(cur.get("non_numeric") or 0)
    if bad:
        ref_bad = int(ref.get("non_numeric") or 0) if ref else 0
        out.append(
            Finding(
                "type_mismatch",
                name,
                severity,
                _tripped(severity, "type_mismatch"),
                f"{name} has {_num(bad)} values ({_pct(bad / rows if rows else 0)} of rows) that are "
                f"not numbers (reference: {_num(ref_bad)}).",
                bad / rows if rows else None,
                0.0,
                {"non_numeric": bad, "reference_non_numeric": ref_bad},
            )
        )
    else:
        out.append(Finding("type_mismatch", name, severity, "pass", f"Every non-null value of {name} is a number."))

    out.append(_extreme_finding(name, ref, current, cur, rules))

    count = int(cur.get("count") or 0)
    # declared bounds
    if rules.min_value is not None or rules.max_value is not None:
        severity = _severity(rules, "declared_bounds")
        problems, details = (
            [],
            {"min": cur.get("min"), "max": cur.get("max"), "min_value": rules.min_value, "max_value": rules.max_value},
        )
        value = threshold = None
        for stat, limit, below, side, bound, extreme in (
            ("min", rules.min_value, True, "below", "minimum", "lowest"),
            ("max", rules.max_value, False, "above", "maximum", "highest"),
        ):
            seen = cur.get(stat)
            if not count or limit is None or seen is None or not (seen < limit if below else seen > limit):
                continue
            rows = _rows_beyond(cur, limit, below=below)
            details[f"rows_{side}_at_least"] = rows
            problems.append(
                f"values {side} the declared {bound} {_num(limit)} ({extreme} {_num(seen)}"
                + (f"; at least {_num(rows)} rows" if rows else "")
                + ")"
            )
            if value is None:
                value, threshold = seen, limit
        if problems:
            out.append(
                Finding(
                    "declared_bounds",
                    name,
                    severity,
                    _tripped(severity, "declared_bounds"),
                    f"{name} has " + " and ".join(problems) + ".",
                    value,
                    threshold,
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "declared_bounds",
                    name,
                    severity,
                    "pass",
                    f"{name} stays within its declared bounds [{_num(rules.min_value)}, {_num(rules.max_value)}].",
                    details=details,
                )
            )

    # location and spread against the reference
    if ref and count and int(ref.get("count") or 0):
        out.append(_range_finding(name, ref, cur, rules))
    return out


def _rows_beyond(col: Mapping, bound: float, *, below: bool) -> int:
    """Rows certainly beyond a bound, from the histogram: whole bins beyond it (a lower bound)."""
    edges, hist = col.get("edges") or [], col.get("hist") or []
    if len(hist) != len(edges) + 1:
        return 0
    total = 0
    for i, count in enumerate(hist):
        lower = edges[i - 1] if i > 0 else -math.inf
        upper = edges[i] if i < len(edges) else math.inf
        if below and upper < bound:
            total += count
        if not below and lower >= bound:
            total += count
    return int(total)


def _range_finding(name, ref, cur, rules: ColumnRules) -> Finding:
    severity = _severity(rules, "range")
    rq, cq = ref.get("quantiles") or {}, cur.get("quantiles") or {}
    p01, p99 = rq.get("0.01"), rq.get("0.99")
    median, mean = cq.get("0.5"), cur.get("mean")
    issues = []
    headlines = []  # (statistic, value, limit, fails) of each trigger, the first one heads the finding
    details = {
        "median": median,
        "mean": mean,
        "min": cur.get("min"),
        "max": cur.get("max"),
        "reference_median": rq.get("0.5"),
        "reference_mean": ref.get("mean"),
        "reference_p01": p01,
        "reference_p99": p99,
        "reference_min": ref.get("min"),
        "reference_max": ref.get("max"),
    }
    if p01 is not None and p99 is not None:
        for stat, seen in (("median", median), ("mean", mean)):
            if seen is not None and not (p01 <= seen <= p99):
                issues.append(
                    f"{stat} {_num(seen)} is outside the reference's p01–p99 range [{_num(p01)}, {_num(p99)}]"
                )
                headlines.append((stat, seen, p01, "below") if seen < p01 else (stat, seen, p99, "above"))
    ref_iqr = (rq.get("0.75") - rq.get("0.25")) if rq.get("0.75") is not None and rq.get("0.25") is not None else None
    cur_iqr = (cq.get("0.75") - cq.get("0.25")) if cq.get("0.75") is not None and cq.get("0.25") is not None else None
    ratio = None
    if ref_iqr and cur_iqr is not None:
        ratio = cur_iqr / ref_iqr
        details.update(iqr=cur_iqr, reference_iqr=ref_iqr, iqr_ratio=ratio)
        low, high = RANGE_IQR_RATIO
        if not (low <= ratio <= high):
            issues.append(f"its spread (IQR {_num(cur_iqr)}) is {ratio:.2f}× the reference's ({_num(ref_iqr)})")
            headlines.append(("iqr_ratio", ratio, low, "below") if ratio < low else ("iqr_ratio", ratio, high, "above"))
    beyond = []
    if ref.get("min") is not None and cur.get("min") is not None and cur["min"] < ref["min"]:
        beyond.append(f"min {_num(cur['min'])} < training min {_num(ref['min'])}")
    if ref.get("max") is not None and cur.get("max") is not None and cur["max"] > ref["max"]:
        beyond.append(f"max {_num(cur['max'])} > training max {_num(ref['max'])}")
    details["beyond_training_range"] = beyond
    details["quantile_rank_error"] = cur.get("quantile_rank_error")
    if issues:
        message = f"{name}: " + "; ".join(issues) + "."
        if beyond:
            message += " Also " + ", ".join(beyond) + "."
        statistic, value, limit, fails = headlines[0]
        details["headline"] = {"statistic": statistic, "fails": fails}
        return Finding("range", name, severity, _tripped(severity, "range"), message, value, limit, details)
    details["headline"] = {"statistic": "median", "fails": "above"}
    message = (
        f"{name}: median {_num(median)} and mean {_num(mean)} are within the reference's p01–p99 range "
        f"[{_num(p01)}, {_num(p99)}]"
        + (f", spread {ratio:.2f}× the reference's" if ratio is not None else "")
        + "."
        + (" Note: " + ", ".join(beyond) + "." if beyond else "")
    )
    return Finding("range", name, severity, "pass", message, median, p99, details)


def _id_findings(name, current, cur, rules: ColumnRules) -> list[Finding]:
    severity = _severity(rules, "duplicates")
    dups = int(cur.get("duplicates") or 0)
    rows = _rows(current, cur)
    examples = [str(v) for v in (cur.get("duplicate_examples") or [])]
    if dups:
        share = dups / rows if rows else 0.0
        eg = f", e.g. {', '.join(examples[:5])}" if examples else ""
        return [
            Finding(
                "duplicates",
                name,
                severity,
                _tripped(severity, "duplicates"),
                f"{name} repeats: {_num(dups)} rows ({_pct(share)}) reuse an id seen earlier in the batch{eg}.",
                dups,
                0.0,
                {"duplicates": dups, "duplicate_examples": examples},
            )
        ]
    return [
        Finding(
            "duplicates",
            name,
            severity,
            "pass",
            f"Every {name} is unique.",
            0,
            0.0,
            {"duplicates": 0, "duplicate_examples": []},
        )
    ]
