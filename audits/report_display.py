"""How an audit report is arranged for a reviewer: findings grouped most severe first, the drift
statistics of a finding labelled in words, and the columns to picture in the order that matters.
Pure functions of stored findings and profiles; the views pass their output to the templates."""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import Finding, FindingStatus, Severity

SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}

# A p-value answers "could both samples come from one distribution?"; with many rows even a
# negligible shift is "significant", so the effect sizes decide and the p-value only informs.
PVALUE_NOTE = "rules out sampling noise only: effect size sets the status"

# The drift statistics a finding may carry in `details`, in reading order: (key, label, note).
DRIFT_STATS = (
    ("psi", "PSI", "population stability index: under 0.1 is stable, over 0.25 a large shift"),
    ("ks_statistic", "KS D", "largest gap between the two cumulative distributions"),
    ("ks_pvalue", "p-value", PVALUE_NOTE),
    ("wasserstein", "Wasserstein", "how far values moved, in the column's own unit"),
    ("wasserstein_scaled", "Wasserstein / spread", "the same, as a share of the reference's typical spread"),
    (
        "wasserstein_scaled_error_bound",
        "± error of Wasserstein / spread",
        "0 when computed on the values; otherwise the farthest the binned figure can be from the exact one",
    ),
    ("ks_error_bound", "+ error of KS D", "0 when computed on the values; otherwise how far the exact D can exceed it"),
    ("chi2", "χ²", "chi-squared statistic of the category counts"),
    ("chi2_pvalue", "χ² p-value", PVALUE_NOTE),
    ("jensen_shannon", "Jensen–Shannon", "distance between the category shares: 0 same, 1 disjoint"),
)
# Lists of values a finding may carry, shown after the statistics.
DETAIL_LISTS = (
    ("new_categories", "New values"),
    ("missing_categories", "Values no longer seen"),
    ("duplicate_examples", "Duplicate examples"),
    ("examples", "Examples"),
)


@dataclass
class Stat:
    label: str
    value: float
    note: str
    information_only: bool = False


@dataclass
class FindingRow:
    finding: Finding
    stats: list[Stat] = field(default_factory=list)
    lists: list[tuple[str, list]] = field(default_factory=list)


@dataclass
class FindingSections:
    failing: list[FindingRow]
    warnings: list[FindingRow]
    passed: list[FindingRow]
    not_checked: list[FindingRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.failing) + len(self.warnings) + len(self.passed) + len(self.not_checked)


def finding_sections(findings) -> FindingSections:
    """Failing findings first, then warnings, then the checks that did not run, then the passed
    checks; within each, errors before warnings before information, and otherwise the order the
    engine recorded them in."""
    groups: dict[str, list[FindingRow]] = {status: [] for status in FindingStatus.values}
    ordered = sorted(enumerate(findings), key=lambda item: (SEVERITY_RANK.get(item[1].severity, 3), item[0]))
    for _, finding in ordered:
        groups.setdefault(finding.status, []).append(_row(finding))
    return FindingSections(
        failing=groups[FindingStatus.FAIL],
        warnings=groups[FindingStatus.WARN],
        passed=groups[FindingStatus.PASS],
        not_checked=groups[FindingStatus.NOT_CHECKED],
    )


def _row(finding: Finding) -> FindingRow:
    details = finding.details if isinstance(finding.details, dict) else {}
    stats = [
        Stat(label, details[key], note, information_only=note == PVALUE_NOTE)
        for key, label, note in DRIFT_STATS
        if isinstance(details.get(key), (int, float))
    ]
    lists = [
        (label, details[key][:10]) for key, label in DETAIL_LISTS if details.get(key) and isinstance(details[key], list)
    ]
    return FindingRow(finding=finding, stats=stats, lists=lists)


def plot_columns(reference_profile: dict | None, current_profile: dict | None, sections: FindingSections) -> list[dict]:
    """The columns that can be pictured (in both profiles, of a kind with a distribution): those
    with a failing or warning finding first, most severe first, then the rest in the reference's
    order. Each item: {"name", "kind", "flagged"}."""
    # Imported here, as in the views: matplotlib takes a while to load and the list pages never need it.
    from . import plots

    reference = (reference_profile or {}).get("columns") or {}
    current = (current_profile or {}).get("columns") or {}
    drawable = [
        name
        for name, column in reference.items()
        if plots.plottable(column) and (current.get(name) or {}).get("kind") == column.get("kind")
    ]
    flagged = []
    for row in [*sections.failing, *sections.warnings]:
        name = row.finding.column
        if name in drawable and name not in flagged:
            flagged.append(name)
    rest = [name for name in drawable if name not in flagged]
    return [{"name": name, "kind": reference[name]["kind"], "flagged": True} for name in flagged] + [
        {"name": name, "kind": reference[name]["kind"], "flagged": False} for name in rest
    ]


# --- the suite ------------------------------------------------------------------------------------


@dataclass
class SuiteColumn:
    """One column's rules, in words (the shape is audits/engine/suite.py's ColumnRules.to_dict())."""

    name: str
    kind: str
    nulls: str
    values: str
    chips: list[str] | None
    drift: str
    overrides: str
    rules: dict


def _pct(share) -> str:
    return "—" if share is None else f"{100 * share:.4g}%"


def _column_values(rules: dict) -> tuple[str, list[str] | None]:
    kind = rules.get("kind")
    if kind == "numeric":
        low, high = rules.get("min_value"), rules.get("max_value")
        if low is None and high is None:
            return "No declared bounds", None
        return f"Between {'−∞' if low is None else f'{low:g}'} and {'∞' if high is None else f'{high:g}'}", None
    if kind == "categorical":
        new = "new values are reported" if rules.get("allow_new_categories") else "a new value fails the batch"
        share = rules.get("max_share_change")
        moved = f"; a share moving over {100 * share:.4g} points warns" if share is not None else ""
        if rules.get("allowed_values") is None:
            return f"Open set ({new}){moved}", None
        return f"Allowed ({new}){moved}:", list(rules["allowed_values"])
    if kind == "timestamp":
        fmt = rules.get("expected_format")
        span = ", ".join(
            part
            for part in (
                rules.get("date_min") and f"not before {rules['date_min'][:10]}",
                rules.get("date_max") and f"not after {rules['date_max'][:10]}",
            )
            if part
        )
        return f"Written {fmt}" if fmt else "Any known format", [span] if span else None
    return "—", None


def _column_drift(rules: dict) -> str:
    kind = rules.get("kind")
    if kind == "numeric":
        return (
            f"PSI warns at {rules['drift_psi_warn']:g}, fails at {rules['drift_psi_fail']:g}; "
            f"Wasserstein warns at {rules['drift_wasserstein_warn']:g} of the spread"
        )
    if kind == "categorical":
        return (
            f"PSI warns at {rules['drift_psi_warn']:g}, fails at {rules['drift_psi_fail']:g}; "
            f"Jensen–Shannon warns at {rules['drift_js_warn']:g}, fails at {rules['drift_js_fail']:g}"
        )
    return "—"


def suite_columns(suite: dict | None) -> list[SuiteColumn]:
    """A suite's per-column rules as a reviewer reads them: nulls, values, drift, overrides."""
    out = []
    for name, rules in ((suite or {}).get("columns") or {}).items():
        values, chips = _column_values(rules)
        nulls = f"Fails above {_pct(rules.get('max_null_share'))}"
        if rules.get("max_null_increase") is not None:
            nulls += f"; warns {100 * rules['max_null_increase']:.4g} points above the reference"
        overrides = ", ".join(
            f"{check} → {severity}" for check, severity in (rules.get("severity_overrides") or {}).items()
        )
        out.append(
            SuiteColumn(
                name=name,
                kind=rules.get("kind", ""),
                nulls=nulls,
                values=values,
                chips=chips,
                drift=_column_drift(rules),
                overrides=overrides,
                rules=rules,
            )
        )
    return out
