"""Data-quality checks: per column of a batch's profile against the training reference, nulls,
types, declared bounds and ranges, categories, dates, text and identifiers.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .. import drift
from ..profile import EXTREME_MAGNITUDE
from ..suite import ColumnRules, Suite
from . import noise
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
            out += _categorical_findings(name, ref, cur, rules)
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
        if _beyond_noise(pvalue, rules) or (ref_share is not None and ref_share > rules.max_null_share):
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
        if not _beyond_noise(pvalue, rules):
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


def _beyond_noise(pvalue, rules: ColumnRules) -> bool:
    return pvalue is None or pvalue < rules.drift_noise_pvalue


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


def _categorical_findings(name, ref, cur, rules: ColumnRules) -> list[Finding]:
    out = []
    counts = drift.category_counts(cur)
    total = sum(counts.values())
    ref_counts = drift.category_counts(ref) if ref else {}
    ref_total = sum(ref_counts.values())
    domain = set(rules.allowed_values) if rules.allowed_values is not None else (set(ref_counts) if ref else None)

    if domain is not None:
        severity = _severity(rules, "new_categories")
        new = sorted((v for v in counts if v not in domain and v != drift.OTHER), key=lambda v: (-counts[v], v))
        if new:
            new_rows = sum(counts[v] for v in new)
            share = new_rows / total if total else 0.0
            listed = ", ".join(f"'{v}' ({_pct(counts[v] / total)})" for v in new[:5])
            more = f" and {len(new) - 5} more" if len(new) > 5 else ""
            what = "a value" if len(new) == 1 else f"{len(new)} values"
            message = (
                f"{name} has {what} never seen in training: {listed}{more}"
                + (f" – {_pct(share)} of rows in all" if len(new) > 1 else "")
                + "."
            )
            if rules.allow_new_categories:
                status = "warn" if share >= 0.05 else "pass"
                message += " New values are allowed for this column."
            else:
                status = _tripped(severity, "new_categories")
                message += (
                    " The model has never learnt what to do with it."
                    if len(new) == 1
                    else " The model has never learnt what to do with them."
                )
            out.append(
                Finding(
                    "new_categories",
                    name,
                    severity,
                    status,
                    message,
                    share,
                    0.0,
                    {"new_categories": new, "new_counts": {v: counts[v] for v in new[:50]}, "new_share": share},
                )
            )
        else:
            out.append(
                Finding(
                    "new_categories",
                    name,
                    severity,
                    "pass",
                    f"Every value of {name} was seen in training.",
                    0.0,
                    0.0,
                    {"new_categories": []},
                )
            )

    if ref and ref_total and total and rules.max_share_change is not None:
        out.append(_share_finding(name, ref_counts, counts, rules))
    return out


def _share_finding(name, ref_counts: dict, counts: dict, rules: ColumnRules) -> Finding:
    """``category_shares``: the value whose share moved most, past ``max_share_change``, and values
    common in training (1% or more) absent from the batch. Sampling noise vetoes each: a move when
    the chi-squared homogeneity test of the whole column has p at or above the column's
    drift_noise_pvalue, an absence when the chance of the batch holding none of the value's rows
    (a one-sided exact test, times the number of common values: Bonferroni) does; a value training
    predicts on a row or two is absent by chance all the time."""
    severity = _severity(rules, "category_shares")
    total, ref_total = sum(counts.values()), sum(ref_counts.values())
    changes = []
    for v in set(ref_counts) | set(counts):
        r, c = ref_counts.get(v, 0) / ref_total, counts.get(v, 0) / total
        changes.append((abs(c - r), v, r, c))
    changes.sort(key=lambda t: (-t[0], t[1]))
    common = [v for v in ref_counts if v != drift.OTHER and ref_counts[v] / ref_total >= 0.01]
    absent = sorted((v for v in common if v not in counts), key=lambda v: (-ref_counts[v], v))
    absence_p = {v: min(1.0, len(common) * noise.absence_pvalue(ref_counts[v], ref_total, total)) for v in absent}
    missing = [v for v in absent if _beyond_noise(absence_p[v], rules)]
    by_chance = [v for v in absent if v not in missing]
    _, chi2_p, _ = drift.chi2_homogeneity(ref_counts, counts)
    top = [{"value": v, "reference_share": r, "share": c} for _, v, r, c in changes[:5]]
    details = {
        "changes": top,
        "missing_categories": missing,
        "absent_by_chance": by_chance,
        "absence_pvalues": {v: absence_p[v] for v in absent[:50]},
        "chi2_pvalue": chi2_p,
        "noise_pvalue": rules.drift_noise_pvalue,
    }
    biggest = changes[0] if changes else (0.0, None, 0.0, 0.0)
    moved = f"'{biggest[1]}' moved from {_pct(biggest[2])} to {_pct(biggest[3])} of rows"
    over = biggest[0] > rules.max_share_change
    parts, noise_parts = [], []
    if over and _beyond_noise(chi2_p, rules):
        parts.append(f"{moved} (more than {_pct(rules.max_share_change)} points; chi-squared p {_pvalue(chi2_p)})")
    elif over:
        noise_parts.append(
            f"{moved}, no more than sampling noise explains on {_num(total)} rows (chi-squared p {_pvalue(chi2_p)})"
        )
    if missing:
        parts.append(
            "values common in training are absent: "
            + ", ".join(
                f"'{v}' ({_pct(ref_counts[v] / ref_total)} in training, "
                f"{_expected(ref_counts[v], ref_total, total)} rows expected)"
                for v in missing[:5]
            )
        )
    if by_chance:
        noise_parts.append(
            ", ".join(
                f"'{v}' is absent, but training predicts it on {_expected(ref_counts[v], ref_total, total)} rows"
                for v in by_chance[:5]
            )
            + f": too few to call {'it' if len(by_chance) == 1 else 'them'} missing"
        )
    if parts:
        # The headline is what tripped: the share move, or else how many common values are absent.
        if over and _beyond_noise(chi2_p, rules):
            details["headline"] = {"statistic": "largest_share_change", "fails": "above"}
            value, limit = biggest[0], rules.max_share_change
        else:
            details["headline"] = {"statistic": "missing_categories", "fails": "above"}
            value, limit = len(missing), 0
        message = f"{name}: " + "; ".join(parts) + "."
        status = _tripped(severity, "category_shares")
        return Finding("category_shares", name, severity, status, message, value, limit, details)
    if noise_parts:
        message = f"{name}: " + "; ".join(noise_parts) + f" (a finding needs p < {rules.drift_noise_pvalue:g})."
    else:
        message = (
            f"{name}: no value's share moved more than {_pct(rules.max_share_change)} points "
            f"(largest: '{biggest[1]}', {_pct(biggest[2])} → {_pct(biggest[3])})."
        )
    return Finding("category_shares", name, severity, "pass", message, biggest[0], rules.max_share_change, details)


def _expected(ref_hits: int, ref_rows: int, rows: int) -> str:
    """The rows a batch of ``rows`` would hold at the reference's share, as a reviewer reads it."""
    expected = rows * ref_hits / ref_rows
    return _num(round(expected)) if expected >= 10 else f"{expected:.1f}"


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
