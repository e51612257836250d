"""The policy checks that turn the gathered evidence into pass/fail, each with a sentence for the
reviewer."""

from __future__ import annotations

from .importance import looks_like_leak
from .metrics import DESCRIPTIVE_METRICS, HIGHER_IS_BETTER

__all__ = [
    "policy_checks",
    "importance_jump_check",
    "holdout_audit_check",
]


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if abs(value) < 100 else f"{value:,.2f}"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _check(name: str, passed: bool, detail: str) -> dict:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _improvement(metric: str, new: float, old: float) -> float:
    """How much better ``new`` is than ``old`` (negative = worse), whatever the metric's direction."""
    return new - old if HIGHER_IS_BETTER[metric] else old - new


_TOLERANCE = 1e-12  # float noise must not flip a check that is met exactly


def policy_checks(evidence: dict, policy: dict) -> list[dict]:
    """The gate's verdict, one check per policy rule, each explained with its numbers.

    Direction-aware throughout: for a lower-is-better metric (rmse, mae, log_loss)
    "min_primary_metric" is the worst acceptable value (an upper bound), a regression is an
    increase, and beating the baseline means being lower. When the primary metric is missing
    only ``primary_metric_available`` is reported (failed) among the metric checks: there is no
    number to compare. A missing ``max_regression``/``min_margin_over_baseline`` means 0; an
    explicit None skips that check (as None skips min_primary_metric, max_flip_rate and
    max_slice_gap). "beats_baseline" needs a strictly positive improvement, at least the margin.
    """
    metric = policy.get("primary_metric") or evidence.get("primary_metric")
    metrics = evidence.get("metrics") or {}
    candidate = (metrics.get("candidate") or {}).get(metric)
    available = _check_primary_available(metric, metrics.get("candidate") or {})
    checks = [available]
    if available["passed"]:
        checks += _metric_checks(metric, candidate, metrics, policy)
    checks += _flip_check(evidence.get("prediction_diff"), policy.get("max_flip_rate"))
    checks += _slice_checks(evidence.get("slices") or {}, policy.get("max_slice_gap"))
    checks += _threshold_check(evidence.get("threshold"), policy.get("threshold_rule"), policy.get("threshold_target"))
    checks += importance_jump_check(evidence, policy)
    checks += holdout_audit_check(evidence.get("audit"), policy)
    return checks


def _check_primary_available(metric, candidate_metrics: dict) -> dict:
    defined = sorted(name for name, value in candidate_metrics.items() if value is not None)
    listing = ", ".join(defined) or "none"
    if metric not in HIGHER_IS_BETTER or metric in DESCRIPTIVE_METRICS:
        return _check(
            "primary_metric_available",
            False,
            f"{metric!r} is not a quality metric Keel knows; the candidate has: {listing}.",
        )
    if candidate_metrics.get(metric) is None:
        return _check("primary_metric_available", False, f"The candidate has no {metric} value; it has: {listing}.")
    return _check("primary_metric_available", True, f"The candidate's {metric} is {_fmt(candidate_metrics[metric])}.")


def _metric_checks(metric: str, candidate: float, metrics: dict, policy: dict) -> list[dict]:
    checks = []
    floor = policy.get("min_primary_metric")
    if floor is not None:
        checks.append(_min_primary_check(metric, candidate, floor))
    production = metrics.get("production")
    allowed = policy.get("max_regression", 0.0)
    if production is not None and allowed is not None:
        checks.append(_regression_check(metric, candidate, production.get(metric), allowed))
    margin = policy.get("min_margin_over_baseline", 0.0)
    if margin is not None:
        checks.append(_baseline_check(metric, candidate, (metrics.get("baseline") or {}).get(metric), margin))
    return checks


def _min_primary_check(metric, candidate, floor) -> dict:
    if HIGHER_IS_BETTER[metric]:
        passed, bound = candidate >= floor - _TOLERANCE, "at least"
    else:
        passed, bound = candidate <= floor + _TOLERANCE, "at most"
    return _check(
        "min_primary_metric",
        passed,
        f"Candidate {metric} is {_fmt(candidate)}; the policy requires {bound} {_fmt(floor)}.",
    )


def _regression_check(metric, candidate, production, allowed) -> dict:
    name = "no_regression_vs_production"
    if production is None:
        return _check(
            name, True, f"Production has no {metric} value on these rows, so there is nothing to regress from."
        )
    loss = -_improvement(metric, candidate, production)
    verdict = f"worse by {_fmt(loss)}" if loss > 0 else f"better by {_fmt(-loss)}" if loss < 0 else "equal"
    return _check(
        name,
        loss <= allowed + _TOLERANCE,
        f"Candidate {metric} is {_fmt(candidate)} vs production {_fmt(production)} ({verdict}); "
        f"the policy allows a loss of at most {_fmt(allowed)}.",
    )


def _baseline_check(metric, candidate, baseline, margin) -> dict:
    if baseline is None:
        return _check(
            "beats_baseline",
            False,
            f"The naive baseline has no {metric} value, so the candidate cannot be shown to beat it.",
        )
    gain = _improvement(metric, candidate, baseline)
    return _check(
        "beats_baseline",
        gain > 0 and gain >= margin - _TOLERANCE,
        f"Candidate {metric} is {_fmt(candidate)} vs the naive baseline's {_fmt(baseline)} "
        f"(improvement {_fmt(gain)}); the policy requires an improvement of at least {_fmt(margin)}.",
    )


def _flip_check(diff: dict | None, limit) -> list[dict]:
    if limit is None or not diff or diff.get("flip_rate") is None:
        return []
    rate = diff["flip_rate"]
    moves = ""
    if diff.get("flips_up") is not None:
        moves = f" ({diff['flips_up']} from no to yes, {diff['flips_down']} from yes to no)"
    return [
        _check(
            "max_flip_rate",
            rate <= limit + _TOLERANCE,
            f"The candidate changes the decision on {_pct(rate)} of {diff.get('rows', 'the')} rows{moves}; "
            f"the policy allows at most {_pct(limit)}.",
        )
    ]


def _slice_checks(slices: dict, limit) -> list[dict]:
    if limit is None:
        return []
    checks = []
    for column, found in slices.items():
        name, gap = f"max_slice_gap:{column}", found.get("gap")
        metric, min_rows = found.get("metric", "the metric"), found.get("min_rows")
        large = f" with at least {min_rows} rows" if min_rows is not None else ""
        if gap is None:
            checks.append(
                _check(name, True, f"No {column} slice{large} has a {metric} value, so there is no gap to judge.")
            )
            continue
        checks.append(
            _check(
                name,
                gap <= limit + _TOLERANCE,
                f"Candidate {metric} differs by {_fmt(gap)} across {column} slices{large} "
                f"(worst: {found.get('worst')!r}); the policy allows at most {_fmt(limit)}.",
            )
        )
    return checks


def _threshold_check(threshold: dict | None, rule, target) -> list[dict]:
    if rule not in ("min_recall", "min_precision"):
        return []
    measure = "recall" if rule == "min_recall" else "precision"
    if not threshold or threshold.get("threshold") is None:
        return [
            _check("threshold_requirement", False, f"No threshold could be learned for {measure} ≥ {_fmt(target)}.")
        ]
    met = bool(threshold.get("met"))
    if threshold.get("target") is not None:
        target = threshold["target"]
    how = "meets" if met else "does not meet"
    return [
        _check(
            "threshold_requirement",
            met,
            f"At threshold {_fmt(threshold['threshold'])} the candidate has precision "
            f"{_fmt(threshold.get('precision'))} "
            f"and recall {_fmt(threshold.get('recall'))}, which {how} the required {measure} ≥ "
            f"{_fmt(target)}.",
        )
    ]


# --- rules a reviewer may switch off, with a recorded reason ----------------------------------------

IMPORTANCE_RULE, AUDIT_RULE = "block_importance_jump", "block_failed_holdout_audit"


def _switchable(name: str, rule: str, policy: dict, passed: bool, detail: str) -> dict:
    """The check of a switchable rule; switched off it passes, says who switched it off, when and
    why, and what it would have found."""
    if policy.get(rule, True):
        return _check(name, passed, detail)
    switch = (policy.get("switches") or {}).get(rule) or {}
    by, at, why = switch.get("by") or "someone", switch.get("at") or "", switch.get("reason") or "no reason recorded"
    when = f" on {at[:16].replace('T', ' ')} UTC" if at else ""
    found = f"It would have blocked: {detail}" if not passed else f"It would not have blocked: {detail}"
    check = _check(name, True, f"Rule switched off by {by}{when}: “{why}”. {found}")
    check["switched_off"] = {"by": by, "at": at, "reason": why}
    return check


def _standing(rank, of_top) -> str:
    if rank is None:
        return "not among its top features"
    return f"rank {rank}, {_share(of_top)} of its top feature's importance"


def _share(value) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def importance_jump_check(evidence: dict, policy: dict) -> list[dict]:
    """Block a candidate whose top feature was minor in the model it replaces and now holds more
    than ``max_importance_share`` of its importance (`looks_like_leak`). Judged only against
    previous importances; switched off, the check still says what it found."""
    rows = [row for row in evidence.get("importance") or [] if row.get("minor_before") is not None]
    enabled = policy.get(IMPORTANCE_RULE, True)
    if not rows and enabled:
        return []
    limit = policy.get("max_importance_share", 0.5)
    name = "no_dominant_new_feature"
    version = (evidence.get("production") or {}).get("version")
    before = f"production v{version}" if version is not None else "the model it replaces"
    rule = f"the policy blocks a feature that was minor before and now holds more than {_share(limit)}"
    leaks = [row for row in rows if looks_like_leak(row, max_share=limit)]
    if leaks:
        row = leaks[0]
        detail = (
            f"'{row['feature']}' was minor in {before} ({_standing(row['previous_rank'], row['previous_of_top'])}) "
            f"and is the candidate's top feature (rank {row['rank']}) with {_share(row['share'])} of its importance "
            f"(importance {_fmt(row['previous'])} → {_fmt(row['importance'])}): the trace of a target leak, not of a "
            f"change of model family; {rule}."
        )
        return [_switchable(name, IMPORTANCE_RULE, policy, False, detail)]
    if not rows:
        detail = "There are no earlier importances to compare with."
    else:
        top = min(rows, key=lambda row: row.get("rank") or 10**9)
        then = _standing(top["previous_rank"], top["previous_of_top"])
        detail = (
            f"No feature that was minor in {before} dominates the candidate: its top feature '{top['feature']}' holds "
            f"{_share(top.get('share'))} of its importance (before: {then}); {rule}."
        )
    return [_switchable(name, IMPORTANCE_RULE, policy, True, detail)]


def holdout_audit_check(audit: dict | None, policy: dict) -> list[dict]:
    """Block a candidate judged on hold-out data whose own data audit (of the same bytes) failed.
    No check when the data was never audited: an absent audit is not a pass."""
    status = (audit or {}).get("status")
    name = "holdout_audit_not_failed"
    if status not in ("pass", "warn", "fail"):
        if policy.get(AUDIT_RULE, True):
            return []
        return [_switchable(name, AUDIT_RULE, policy, True, "No data audit has run on this hold-out data.")]
    audit_name = f"audit #{audit['audit_id']}" if audit.get("audit_id") is not None else "the data audit"
    if status == "fail":
        failed = audit.get("failed_checks") or []
        what = f" — {', '.join(failed)}" if failed else ""
        detail = (
            f"The hold-out's own data audit failed ({audit_name} of these exact bytes: fail{what}); the policy "
            "does not judge a candidate on data that failed its audit."
        )
        return [_switchable(name, AUDIT_RULE, policy, False, detail)]
    detail = f"The hold-out's data audit did not fail ({audit_name} of these exact bytes: {status})."
    return [_switchable(name, AUDIT_RULE, policy, True, detail)]
