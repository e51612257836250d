"""Feature–label correlation (``target_correlation``): how strongly each feature goes with the label
in a batch against training. The change of r (or η) sets the status, its p-value only vetoes a
warning sampling noise explains.

Pure Python; no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .. import target
from ..suite import ColumnRules, Suite
from .findings import NOT_CHECKED, PVALUE_NOTE, Finding, _num, _pvalue, _severity
from .noise import beyond_noise

__all__ = ["target_correlation_findings"]


def target_correlation_findings(
    reference: Mapping, current: Mapping, suite: Suite, *, skip: Iterable[str] = (), label: str | None = None
) -> list[Finding]:
    """One ``target_correlation`` finding per feature whose label statistics ("target", see
    audits/engine/target.py) are in both profiles: Spearman's rank correlation ρ for a numeric
    feature (ranks read from the reference's bins), the correlation ratio η (corrected for chance) for
    a categorical one, training against this batch.

    Effect size sets the status: |Δρ| (or |Δη|) ≥ the column's target_corr_warn warns, ≥
    target_corr_fail (if set) fails; severity warning unless overridden. A rise in |correlation|
    hints at a leak (a feature that carries the label), a fall at drift or a broken feature. A rank
    correlation is unmoved by skew and outliers, so on heavy-tailed features the change measures the
    link itself, not where a few large values fell. The change's p-value (Fisher's z on ρ with each
    side's variance from its own fourth moments, valid for any distribution; an interaction F-test for
    η) only vetoes a warning that sampling noise explains, like drift; where no test is possible
    (fewer than target.MIN_TEST_PAIRS labelled pairs, fewer than two categories shared with
    training) a change is only noted (info), since it cannot be told from chance.

    A batch without labels (no "target", or no labelled row) gets no finding: incoming batches are
    unlabelled. ``label`` (the label's name) adds an info finding when the batch HAS that column but
    was profiled without label statistics. A label that cannot be made numeric, or a reference without
    label statistics, gives one ``not_checked`` finding saying why. Features in ``skip`` are left out."""
    cur_t = current.get("target")
    if cur_t is None:
        col = (current.get("columns") or {}).get(label) if label else None
        if col is not None and int(col.get("count") or 0):
            return [
                _not_checked(
                    label,
                    f"The batch has labels ({label}) but was profiled without label statistics, so "
                    f"feature–label correlations are not compared.",
                )
            ]
        return []
    name = cur_t["column"]
    if not cur_t["numeric"]:
        reason = f"Feature–label correlations are not checked: {cur_t['reason']}."
        return [_not_checked(name, reason, details={"label": name})]
    if not cur_t["labelled"]:
        return []
    ref_t = reference.get("target")
    if ref_t is None or ref_t.get("column") != name:
        return [
            _not_checked(
                name,
                f"The training reference has no statistics for the label {name}: rebuild it with the label "
                f"named to compare feature–label correlations.",
                details={"label": name},
            )
        ]
    if not ref_t["numeric"]:
        return [
            _not_checked(
                name,
                f"Feature–label correlations are not checked: in training, {ref_t['reason']}.",
                details={"label": name},
            )
        ]
    out = []
    skip = set(skip)
    for feature, cur in cur_t["features"].items():
        ref = ref_t["features"].get(feature)
        if feature in skip or ref is None or ref["kind"] != cur["kind"]:
            continue
        out.append(_target_finding(feature, name, ref, cur, suite.rules_for(feature, cur["kind"])))
    return out


def _note(column: str, message: str, *args, **kwargs) -> Finding:
    """An info finding that passes: a change compared but too small a sample to judge."""
    return Finding("target_correlation", column, "info", "pass", message, *args, **kwargs)


def _not_checked(column: str, message: str, *args, **kwargs) -> Finding:
    """An info finding for a comparison that did not run; the message says why."""
    return Finding("target_correlation", column, "info", NOT_CHECKED, message, *args, **kwargs)


def _target_finding(feature: str, label: str, ref: Mapping, cur: Mapping, rules: ColumnRules) -> Finding:
    severity = _severity(rules, "target_correlation")
    warn_at, fail_at = rules.target_corr_warn, rules.target_corr_fail
    a_ref, a_cur = target.association(ref), target.association(cur)
    measure = "rank correlation (Spearman's ρ)" if cur["kind"] == "numeric" else "association (correlation ratio η)"
    subject = f"{feature}'s {measure} with {label}"
    if cur["kind"] == "numeric" and "sums" not in ref:
        return _not_checked(
            feature,
            f"{subject} is not compared: the training reference keeps Pearson's r from an older Keel; "
            f"rebuild it to compare rank correlations.",
            details={"label": label},
        )
    if a_ref is None or a_cur is None:
        side = "training" if a_ref is None else "this batch"
        return _not_checked(
            feature,
            f"{subject} cannot be computed in {side} (too few labelled rows, or a constant side).",
            details={"label": label, "reference_n": ref.get("n"), "current_n": cur.get("n")},
        )
    r0, r1 = a_ref["value"], a_cur["value"]
    delta = r1 - r0
    effect = abs(delta)
    pvalue, test = target.change_pvalue(ref, cur)
    details = {
        "label": label,
        "measure": a_cur["measure"],
        "reference": r0,
        "current": r1,
        "delta": delta,
        "reference_n": a_ref["n"],
        "current_n": a_cur["n"],
        "pvalue": pvalue,
        "test": test,
    }
    if a_cur["measure"] == "eta":
        details.update(
            reference_eta_raw=a_ref["eta_raw"],
            current_eta_raw=a_cur["eta_raw"],
            reference_groups=a_ref["groups"],
            current_groups=a_cur["groups"],
        )
    signed = "+.2f" if a_cur["measure"] == "spearman" else ".2f"
    moved = f"from {r0:{signed}} in training to {r1:{signed}}"
    if r0 * r1 < 0:
        moved += " (its sign reversed)"
    test_text = {"rank_z": "Rank-correlation z", "interaction_f": "Interaction F"}[test]
    tail = f"{test_text} p {_pvalue(pvalue)}; {PVALUE_NOTE}."
    if fail_at is not None and effect >= fail_at:
        status, limit = "fail", f"fail at {fail_at:g}"
    elif effect >= warn_at:
        status, limit = "warn", f"warning at {warn_at:g}"
    else:
        return Finding(
            "target_correlation",
            feature,
            severity,
            "pass",
            f"{subject} is stable: {moved} (change {effect:.2f}, warning at {warn_at:g}). {tail}",
            r1,
            warn_at,
            details,
        )
    if pvalue is None:  # unlike drift, no test means no warning: 3 rows or 1 shared category say nothing
        return _note(
            feature,
            f"{subject} moved {moved}, but with {_num(a_cur['n'])} labelled rows"
            + (" and fewer than two categories shared with training" if test == "interaction_f" else "")
            + " the change cannot be told from chance.",
            r1,
            warn_at,
            details,
        )
    if not beyond_noise(pvalue, rules):
        return Finding(
            "target_correlation",
            feature,
            severity,
            "pass",
            f"{subject} moved {moved}, no more than sampling noise explains with {_num(a_cur['n'])} "
            f"labelled rows. {tail}",
            r1,
            warn_at,
            details,
        )
    if abs(r1) > abs(r0):
        head = (
            f"{subject} jumped {moved} (change {effect:.2f}, {limit}): this hints at a leak (a feature that "
            f"carries the label)"
        )
    else:
        head = f"{subject} fell {moved} (change {effect:.2f}, {limit}): this hints at drift or a broken feature"
    return Finding("target_correlation", feature, severity, status, f"{head}. {tail}", r1, warn_at, details)
