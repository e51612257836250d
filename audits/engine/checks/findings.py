"""Findings and the verdict: what every check reports, how the batch's verdict follows from the
findings, the order a reviewer reads them in, and the wording helpers the checks share.

One severity model. A finding's ``status`` (pass, warn, fail, not_checked) is its one word: the
verdict, the alert and every page take it from there.

* A check decides how far its suite's limits were crossed: past a warning limit it warns, past a
  fail limit (``max_null_share``, ``drift_psi_fail``, a declared bound…) it fails.
* The suite's severity for the check (DEFAULT_SEVERITY, or the column's ``severity_overrides``) is
  the most the check may reach (SEVERITY_CEILING): ``error`` may fail, ``warning`` and ``info`` at
  most warn. A finding built past its ceiling is lowered to it as it is made, and says so.
* A finding's ``severity`` is then its status in the alerts' words (STATUS_SEVERITY: fail → error,
  warn → warning, pass and not_checked → info), so a finding, its alert and the API never disagree.
* ``verdict`` is the worst status; ``not_checked`` (a check that did not run: a label that is not
  0/1, no history yet, no values to compare; its message says why) counts neither as a pass nor as
  a failure.

Every check kind the engine reports is registered in DEFAULT_SEVERITY (CHECK_KINDS); a finding of an
unregistered kind is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..suite import SEVERITIES, ColumnRules

__all__ = [
    "STATUSES",
    "CHECK_KINDS",
    "SEVERITY_CEILING",
    "STATUS_SEVERITY",
    "alert_severity",
    "status_within",
    "NOT_CHECKED",
    "DEFAULT_SEVERITY",
    "PVALUE_NOTE",
    "Finding",
    "verdict",
    "sort_findings",
    "json_safe",
]

NOT_CHECKED = "not_checked"
STATUSES = ("pass", "warn", "fail", NOT_CHECKED)

DEFAULT_SEVERITY = {
    "schema": "error",  # missing expected columns (unexpected ones are reported as warnings)
    "nulls": "error",
    "type_mismatch": "error",
    "extreme_values": "warning",  # infinities, NaN spelled out, magnitudes of 1e100 or more
    "declared_bounds": "error",
    "range": "warning",
    "new_categories": "error",
    "category_shares": "warning",
    "date_format": "error",
    "unparseable_dates": "error",
    "future_dates": "error",
    "ancient_dates": "warning",
    "date_range": "warning",
    "text_length": "warning",
    "text_words": "info",
    "duplicates": "error",
    "drift": "error",
    "volume": "error",
    "volume_zscore": "warning",
    "volume_bytes": "warning",
    "cut_cells": "warning",  # text cells longer than KEEL_MAX_CELL_CHARS, cut as the file was read
    "prediction_drift": "warning",
    "skew_missing": "error",
    "skew_nulls": "error",
    "skew_drift": "warning",
    "skew_processing": "warning",  # error when processing nulls half the values (see skew_processing_findings)
    # A label correlation fails only where the suite sets target_corr_fail (off by default).
    "target_correlation": "error",
    "integrity": "error",  # the stored file no longer matches what was received, or its signature
}
# The registry of check kinds: every finding the engine reports is of one of these.
CHECK_KINDS = tuple(DEFAULT_SEVERITY)

# The most a check may reach, by the severity its suite gives it.
SEVERITY_CEILING = {"error": "fail", "warning": "warn", "info": "warn"}
# A finding's status in the alerts' words; the one mapping between the two vocabularies.
STATUS_SEVERITY = {"fail": "error", "warn": "warning", "pass": "info", "not_checked": "info"}

PVALUE_NOTE = (
    "effect size sets the status; the p-value only rules out sampling noise "
    "(with many rows tiny shifts are significant)"
)


@dataclass
class Finding:
    check: str
    column: str | None
    severity: str
    status: str
    message: str
    value: float | None = None
    threshold: float | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        """``severity`` as given is the suite's severity for the check: it caps the status; then it
        becomes the status's own severity (STATUS_SEVERITY)."""
        if self.check not in DEFAULT_SEVERITY:
            raise ValueError(f"unknown check kind {self.check!r}: register it in DEFAULT_SEVERITY")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        capped = status_within(self.status, self.severity)
        if capped != self.status:
            self.details = {**self.details, "capped": {"status": self.status, "suite_severity": self.severity}}
            self.message = (
                f"{self.message.rstrip()} The suite sets {self.check} to {self.severity}, so it warns "
                f"instead of failing."
            )
            self.status = capped
        self.severity = STATUS_SEVERITY[self.status]

    def to_dict(self) -> dict:
        """JSON-safe: numpy numbers become floats/ints, NaN and infinities become None."""
        return {
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "value": _clean(self.value),
            "threshold": _clean(self.threshold),
            "details": _clean(self.details),
        }


def json_safe(value):
    """`value` as valid JSON holds it: numpy numbers as ints/floats, NaN and infinities as None (the
    last guard before a profile or a finding is stored; the engine states its own reasons first)."""
    return _clean(value)


def _clean(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()  # numpy scalar
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    return str(value)


# ---------------------------------------------------------------------------------------------
# Verdict and order
# ---------------------------------------------------------------------------------------------

_STATUS_RANK = {"fail": 0, "warn": 1, NOT_CHECKED: 2, "pass": 3}


def _get(finding, key):
    return finding[key] if isinstance(finding, Mapping) else getattr(finding, key)


def status_within(status: str, severity: str) -> str:
    """`status` lowered to the most a check of `severity` may reach (SEVERITY_CEILING)."""
    ceiling = SEVERITY_CEILING[severity]
    return ceiling if _STATUS_RANK[status] < _STATUS_RANK[ceiling] else status


def alert_severity(status: str) -> str | None:
    """The severity of the alert a finding of `status` raises; None: it raises none (and a passing
    finding resolves the open one)."""
    return STATUS_SEVERITY[status] if status in ("fail", "warn") else None


def verdict(findings: Iterable) -> str:
    """The batch's verdict: its worst finding's status (Finding objects or their dicts) – ``"fail"``
    if any finding fails, else ``"warn"`` if any warns, else ``"pass"``. A ``not_checked`` finding
    counts for neither: a check that did not run neither passes nor fails the batch. A stored finding
    is read through the same ceiling as a new one (status_within), so older records judge alike."""
    result = "pass"
    for f in findings:
        status, severity = _get(f, "status"), _get(f, "severity")
        status = status_within(status, severity) if status in ("warn", "fail") else status
        if status == "fail":
            return "fail"
        if status == "warn":
            result = "warn"
    return result


def sort_findings(findings: Iterable) -> list:
    """Most severe first: failing findings, then warnings, then the checks that did not run, then
    passes; ties keep the order the checks produced them in."""
    return sorted(findings, key=lambda f: _STATUS_RANK.get(_get(f, "status"), 3))


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _severity(rules: ColumnRules | None, check: str) -> str:
    if rules is not None and check in rules.severity_overrides:
        return rules.severity_overrides[check]
    return DEFAULT_SEVERITY[check]


def _tripped(severity: str, check: str) -> str:
    """Status of a one-threshold check that tripped: ``fail`` for a check that fails by default (a
    suite that sets it lower caps it, and the finding says so), else the most its severity allows."""
    return "fail" if SEVERITY_CEILING[DEFAULT_SEVERITY[check]] == "fail" else SEVERITY_CEILING[severity]


def _pct(share: float | None) -> str:
    if share is None:
        return "n/a"
    pct = 100 * share
    if 0 < pct < 0.1:
        return f"{pct:.2f}%"
    return f"{pct:.1f}%"


def _num(x) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _pvalue(p) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _rows(profile: Mapping, col: Mapping) -> int:
    rows = profile.get("rows")
    if rows:
        return int(rows)
    return (
        int(col.get("count") or 0)
        + int(col.get("nulls") or 0)
        + int(col.get("non_numeric") or 0)
        + int(col.get("non_finite") or 0)
        + int(col.get("unparseable") or 0)
    )


def _null_share(profile: Mapping, col: Mapping) -> float:
    rows = _rows(profile, col)
    return (int(col.get("nulls") or 0) / rows) if rows else 0.0


def _parse_time(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        t = value
    else:
        try:
            t = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t


def _spec_fields(spec) -> dict:
    if isinstance(spec, str):
        return {"name": spec}
    if hasattr(spec, "to_dict"):
        return spec.to_dict()
    return dict(spec)
