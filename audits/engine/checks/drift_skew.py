"""Drift and training-serving skew: a feature's (or the prediction's) distribution in a batch
against training, and what serving lacks, nulls or changes.

Drift findings take their status from EFFECT SIZES (PSI, Jensen-Shannon distance, Wasserstein scaled
by the reference's IQR); p-values are carried in ``details`` and only veto a warning that sampling
noise explains, because with many rows a negligible shift is "significant".

Pure Python; no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .. import drift
from ..suite import ColumnRules, Suite
from .findings import (
    DEFAULT_SEVERITY,
    NOT_CHECKED,
    PVALUE_NOTE,
    Finding,
    _null_share,
    _num,
    _pct,
    _pvalue,
    _severity,
    _tripped,
)
from .noise import beyond_noise

__all__ = [
    "SKEW_NULL_FAIL",
    "SKEW_PROCESSING_WARN",
    "SKEW_PROCESSING_ERROR",
    "drift_findings",
    "prediction_drift_findings",
    "skew_findings",
    "skew_processing_findings",
]

SKEW_NULL_FAIL = 0.5
SKEW_PROCESSING_WARN = 0.05  # processing that nulls this share of present raw values is reported
SKEW_PROCESSING_ERROR = 0.5  # ... and from this share it is an error: the model mostly runs without the feature


def _noise_veto(status: str, head: str, pvalue, rules: ColumnRules, subject: str, measured: str):
    """A warning or failure that sampling noise explains passes; its headline is then the p-value
    against the noise level (None when the status stands)."""
    if status != "pass" and not beyond_noise(pvalue, rules):
        return "pass", f"{subject} differs from training by no more than sampling noise explains: {measured}", True
    return status, head, False


def _headline(stats: dict, statistic: str, value, threshold, fails: str = "above") -> tuple:
    """The statistic that decided a finding's status, named in its details: (value, threshold)."""
    stats["headline"] = {"statistic": statistic, "fails": fails}
    return value, threshold


def _psi_or_js_headline(stats: dict, psi_v: float, js: float, psi_limit: float, js_limit: float) -> tuple:
    """The headline of a categorical drift that reached a level: PSI when it did, else Jensen–Shannon."""
    if psi_v >= psi_limit:
        return _headline(stats, "psi", psi_v, psi_limit)
    return _headline(stats, "jensen_shannon", js, js_limit)


def _bound_text(stats: Mapping) -> str:
    """How exact the numeric statistics are, in words."""
    if stats.get("exact"):
        return "KS and Wasserstein exact (computed on the values)"
    parts = []
    if stats.get("wasserstein_scaled_error_bound") is not None:
        parts.append(f"Wasserstein within ±{stats['wasserstein_scaled_error_bound']:.3g} of exact")
    if stats.get("ks_error_bound") is not None:
        parts.append(f"KS D within +{stats['ks_error_bound']:.3g}")
    text = "binned: " + ", ".join(parts) if parts else "binned"
    if stats.get("exact_unavailable"):  # the reference kept its values, but they could not be read
        text += f"; exact figures unavailable: {stats['exact_unavailable']}"
    return text


def _drift_finding(
    check: str, name: str, ref: Mapping, cur: Mapping, rules: ColumnRules, *, subject: str, severity: str | None = None
) -> Finding | None:
    """One drift finding for a numeric or categorical column, status by effect size."""
    kind = ref.get("kind")
    severity = severity or _severity(rules, check)
    if kind not in ("numeric", "categorical") or cur.get("kind") != kind:
        return None
    if kind == "numeric":
        try:
            stats = drift.numeric_drift(ref, cur)
        except ValueError as exc:
            return Finding(check, name, "info", NOT_CHECKED, f"{subject} cannot be compared with training: {exc}.")
        if stats["psi"] is None:
            return Finding(
                check, name, "info", NOT_CHECKED, f"{subject} has no values to compare with training.", details=stats
            )
        psi_v, w = stats["psi"], stats["wasserstein_scaled"]
        unit = {"iqr": "IQR", "std": "standard deviations", "none": "units"}[stats["scale_basis"]]
        moved = (
            f"values moved {w:.2f} {unit} (Wasserstein {_num(stats['wasserstein'])})"
            if w is not None
            else "values moved beyond the float range"
        )
        pv = f"KS p {_pvalue(stats['ks_pvalue'])}"
        if psi_v >= rules.drift_psi_fail:
            status, value, threshold = "fail", *_headline(stats, "psi", psi_v, rules.drift_psi_fail)
            head = f"{subject} drifted: PSI {psi_v:.2f} (fail at {rules.drift_psi_fail:g}), {moved}"
        elif psi_v >= rules.drift_psi_warn:
            status, value, threshold = "warn", *_headline(stats, "psi", psi_v, rules.drift_psi_warn)
            head = f"{subject} shifted: PSI {psi_v:.2f} (warning at {rules.drift_psi_warn:g}), {moved}"
        elif w is None or w >= rules.drift_wasserstein_warn:  # None: a move beyond the float range
            status = "warn"
            value, threshold = _headline(stats, "wasserstein_scaled", w, rules.drift_wasserstein_warn)
            head = f"{subject} shifted: {moved}, warning at {rules.drift_wasserstein_warn:g} {unit}; PSI {psi_v:.2f}"
        else:
            status, value, threshold = "pass", *_headline(stats, "psi", psi_v, rules.drift_psi_warn)
            head = f"{subject} is stable: PSI {psi_v:.2f} (warning at {rules.drift_psi_warn:g}), {moved}"
        status, head, vetoed = _noise_veto(
            status, head, stats["ks_pvalue"], rules, subject, f"PSI {psi_v:.2f}, {moved}"
        )
        if vetoed:
            value, threshold = _headline(stats, "ks_pvalue", stats["ks_pvalue"], rules.drift_noise_pvalue, "below")
        message = f"{head}. {pv}; {_bound_text(stats)}; {PVALUE_NOTE}."
        return Finding(check, name, severity, status, message, value, threshold, stats)
    stats = drift.categorical_drift(ref, cur)
    if not stats["ref_count"] or not stats["cur_count"]:
        return Finding(
            check, name, "info", NOT_CHECKED, f"{subject} has no values to compare with training.", details=stats
        )
    psi_v, js = stats["psi"], stats["jensen_shannon"]
    parts = f"PSI {psi_v:.2f}, Jensen–Shannon distance {js:.2f}"
    if psi_v >= rules.drift_psi_fail or js >= rules.drift_js_fail:
        status = "fail"
        value, threshold = _psi_or_js_headline(stats, psi_v, js, rules.drift_psi_fail, rules.drift_js_fail)
        head = f"{subject} drifted: {parts} (fail at PSI {rules.drift_psi_fail:g} or JS {rules.drift_js_fail:g})"
    elif psi_v >= rules.drift_psi_warn or js >= rules.drift_js_warn:
        status = "warn"
        value, threshold = _psi_or_js_headline(stats, psi_v, js, rules.drift_psi_warn, rules.drift_js_warn)
        head = f"{subject} shifted: {parts} (warning at PSI {rules.drift_psi_warn:g} or JS {rules.drift_js_warn:g})"
    else:
        status, value, threshold = "pass", *_headline(stats, "psi", psi_v, rules.drift_psi_warn)
        head = f"{subject} is stable: {parts} (warning at PSI {rules.drift_psi_warn:g} or JS {rules.drift_js_warn:g})"
    status, head, vetoed = _noise_veto(status, head, stats["chi2_pvalue"], rules, subject, parts)
    if vetoed:
        value, threshold = _headline(stats, "chi2_pvalue", stats["chi2_pvalue"], rules.drift_noise_pvalue, "below")
    extra = ""
    if stats["new_categories"]:
        extra = " New: " + ", ".join(f"'{v}'" for v in stats["new_categories"][:5]) + "."
    message = f"{head}.{extra} χ² p {_pvalue(stats['chi2_pvalue'])}; {PVALUE_NOTE}."
    return Finding(check, name, severity, status, message, value, threshold, stats)


def drift_findings(reference: Mapping, current: Mapping, suite: Suite, *, skip: Iterable[str] = ()) -> list[Finding]:
    """One ``drift`` finding per numeric or categorical column present in both profiles (but the
    columns in ``skip``, which another check reports: the prediction, a serving log's features).

    Status by effect size, with the column's thresholds: numeric – PSI ≥ drift_psi_fail fails, PSI ≥
    drift_psi_warn or scaled Wasserstein ≥ drift_wasserstein_warn warns; categorical – PSI or
    Jensen-Shannon distance past their fail thresholds fails, past their warn thresholds warns.
    KS / chi-squared statistics and p-values are in ``details`` for information.
    """
    out = []
    skip = set(skip)
    ref_cols = reference.get("columns") or {}
    for name, cur in (current.get("columns") or {}).items():
        ref = ref_cols.get(name)
        if ref is None or name in skip:
            continue
        rules = suite.rules_for(name, cur.get("kind"))
        finding = _drift_finding("drift", name, ref, cur, rules, subject=name)
        if finding is not None:
            out.append(finding)
    return out


def prediction_drift_findings(
    reference_col: Mapping, current_col: Mapping, suite: Suite | None = None, *, column: str = "prediction"
) -> list[Finding]:
    """Drift of the model's OUTPUT (scores: numeric profile; classes: categorical profile) against the
    predictions on the training/validation reference: a label-free early warning, available before
    any label arrives. Thresholds from ``suite``'s rules for ``column`` (defaults otherwise); check
    ``prediction_drift``, severity warning unless overridden."""
    kind = reference_col.get("kind")
    rules = suite.rules_for(column, kind) if suite is not None else ColumnRules(kind=kind)
    finding = _drift_finding(
        "prediction_drift", column, reference_col, current_col, rules, subject=f"The model's predictions ({column})"
    )
    if finding is None:
        return [
            Finding(
                "prediction_drift",
                column,
                "info",
                NOT_CHECKED,
                f"Predictions of kind {kind!r} cannot be compared for drift.",
            )
        ]
    if finding.status != "pass":
        finding.message += " Labels are not needed for this warning: check inputs and model before accuracy drops."
    return [finding]


def skew_findings(
    training: Mapping, serving: Mapping, features: Sequence[str], *, suite: Suite | None = None
) -> list[Finding]:
    """Training-serving skew for the model's features: a feature used in training that serving lacks
    (``skew_missing``, error) or mostly null – "disappearing data" (``skew_nulls``: fails above the
    suite's ``max_null_share`` for the feature, or at ≥ 50 % null and 10 points above training; warns
    on a rise of more than 5 points) – and each present
    feature's drift between training and serving (``skew_drift``, warning by default)."""
    out = []
    t_cols, s_cols = training.get("columns") or {}, serving.get("columns") or {}
    for name in features:
        t = t_cols.get(name)
        s = s_cols.get(name)
        kind = (t or s or {}).get("kind", "numeric")
        rules = suite.rules_for(name, kind) if suite is not None else ColumnRules(kind=kind)
        if s is None:
            severity = _severity(rules, "skew_missing")
            out.append(
                Finding(
                    "skew_missing",
                    name,
                    severity,
                    _tripped(severity, "skew_missing"),
                    f"Feature {name} was used in training but is missing from serving data: the model "
                    f"gets a default or nothing for it.",
                )
            )
            continue
        severity = _severity(rules, "skew_nulls")
        s_share = _null_share(serving, s)
        t_share = _null_share(training, t) if t is not None else 0.0
        details = {"serving_null_share": s_share, "training_null_share": t_share}
        suite_limit = rules.max_null_share
        if suite_limit is not None and s_share > suite_limit:  # the suite's own null limit fails first
            out.append(
                Finding(
                    "skew_nulls",
                    name,
                    severity,
                    _tripped(severity, "skew_nulls"),
                    f"Feature {name} is null in {_pct(s_share)} of serving rows, above the suite's limit of "
                    f"{_pct(suite_limit)} (training {_pct(t_share)}).",
                    s_share,
                    suite_limit,
                    details,
                )
            )
        elif s_share >= SKEW_NULL_FAIL and s_share - t_share >= 0.10:
            out.append(
                Finding(
                    "skew_nulls",
                    name,
                    severity,
                    _tripped(severity, "skew_nulls"),
                    f"Feature {name} is null in {_pct(s_share)} of serving rows (training {_pct(t_share)}): "
                    f"disappearing data – the model mostly runs without it.",
                    s_share,
                    SKEW_NULL_FAIL,
                    details,
                )
            )
        elif s_share - t_share > 0.05:
            out.append(
                Finding(
                    "skew_nulls",
                    name,
                    severity,
                    "warn",
                    f"Feature {name} is null in {_pct(s_share)} of serving rows, up from {_pct(t_share)} in training.",
                    s_share - t_share,
                    0.05,
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "skew_nulls",
                    name,
                    severity,
                    "pass",
                    f"Feature {name} is null in {_pct(s_share)} of serving rows (training {_pct(t_share)}).",
                    s_share,
                    SKEW_NULL_FAIL,
                    details,
                )
            )
        if t is not None:
            finding = _drift_finding("skew_drift", name, t, s, rules, subject=f"Feature {name} in serving vs training")
            if finding is not None:
                out.append(finding)
    return out


def skew_processing_findings(processing: Mapping[str, Mapping], *, suite: Suite | None = None) -> list[Finding]:
    """What the serving pipeline's processing did to each feature: ``processing`` maps a feature to
    {"rows": rows whose RAW value was present, "dropped": of those, rows whose PROCESSED value is
    null}. Processing that nulls at least 5 % of present values is reported (``skew_processing``):
    severity warning, error from 50 % (the model mostly runs without the feature), unless the
    column's severity_overrides say otherwise. A value the request carried and the model never saw
    is skew no profile comparison can show: both sides may look alike while the join or parser fails."""
    out = []
    for name, counts in processing.items():
        rows, dropped = int(counts.get("rows") or 0), int(counts.get("dropped") or 0)
        share = dropped / rows if rows else 0.0
        rules = suite.columns.get(name) if suite is not None else None
        if rules is not None and "skew_processing" in rules.severity_overrides:
            severity = rules.severity_overrides["skew_processing"]
        else:
            severity = "error" if share >= SKEW_PROCESSING_ERROR else DEFAULT_SEVERITY["skew_processing"]
        details = {"rows": rows, "dropped": dropped, "share": share}
        if rows and share >= SKEW_PROCESSING_WARN:
            out.append(
                Finding(
                    "skew_processing",
                    name,
                    severity,
                    "fail" if share >= SKEW_PROCESSING_ERROR else _tripped(severity, "skew_processing"),
                    f"Processing turned {_pct(share)} of {name} values into nulls ({_num(dropped)} of "
                    f"{_num(rows)} requests that carried one): the model never saw them.",
                    share,
                    SKEW_PROCESSING_WARN,
                    details,
                )
            )
        else:
            what = (
                f"processing turned {_pct(share)} of {name} values into nulls ({_num(dropped)} of {_num(rows)})"
                if rows
                else f"no request carried a value of {name}"
            )
            out.append(
                Finding(
                    "skew_processing",
                    name,
                    severity,
                    "pass",
                    f"{what[0].upper()}{what[1:]}; reported from {_pct(SKEW_PROCESSING_WARN)}.",
                    share,
                    SKEW_PROCESSING_WARN,
                    details,
                )
            )
    return out
