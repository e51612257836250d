"""Categorical checks of a batch's profile against the training reference: values never seen in
training (or outside the suite's allowed values), and shares that moved or common values that went
missing, each vetoed where sampling noise explains it.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

from .. import drift
from ..suite import ColumnRules
from . import noise
from .findings import Finding, _num, _pct, _pvalue, _severity, _tripped
from .noise import beyond_noise

__all__: list[str] = []  # categorical_findings is called by quality_findings


def categorical_findings(name, ref, cur, rules: ColumnRules) -> list[Finding]:
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
    missing = [v for v in absent if beyond_noise(absence_p[v], rules)]
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
    if over and beyond_noise(chi2_p, rules):
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
        if over and beyond_noise(chi2_p, rules):
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
