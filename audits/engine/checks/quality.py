"""Checks: compare a batch's profile with the training reference under a suite, and say what is wrong
in findings a reviewer reads in seconds.

A Finding has a ``severity`` (how much the check matters: info < warning < error, from
DEFAULT_SEVERITY or the column's ``severity_overrides``) and a ``status`` (what happened: pass, warn,
fail). Checks with one threshold report ``fail`` when their severity is error and ``warn`` otherwise;
checks with two thresholds (nulls, drift) report ``warn`` past the first and ``fail`` past the second.
``verdict`` turns the findings into the batch's pass / warn / fail.

Drift findings take their status from EFFECT SIZES (PSI, Jensen-Shannon distance, Wasserstein scaled
by the reference's IQR); p-values are carried in ``details`` and only veto a warning that sampling noise explains, because with many
rows a negligible shift is "significant".

Feature–label correlation (``target_correlation``) follows the same rule: the change of r (or η)
sets the status, its p-value only vetoes a warning sampling noise explains.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import drift, target
from .suite import SEVERITIES, ColumnRules, Suite, majority_format

STATUSES = ("pass", "warn", "fail")

DEFAULT_SEVERITY = {
    "schema": "error",  # missing expected columns (unexpected ones are reported as warnings)
    "nulls": "error",
    "type_mismatch": "error",
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
    "prediction_drift": "warning",
    "skew_missing": "error",
    "skew_nulls": "error",
    "skew_drift": "warning",
    "skew_processing": "warning",  # error when processing nulls half the values (see skew_processing_findings)
    "target_correlation": "warning",
}

PVALUE_NOTE = ("effect size sets the status; the p-value only rules out sampling noise "
               "(with many rows tiny shifts are significant)")
MIXED_FORMAT_SHARE = 0.01  # a second format on more than 1 % of values makes a column "mixed"
UNPARSEABLE_FAIL_SHARE = 0.01
RANGE_IQR_RATIO = (0.5, 2.0)
TEXT_LENGTH_RATIO = (0.5, 2.0)
TEXT_EMPTY_INCREASE = 0.10
TOP_WORDS = 20
TOP_WORDS_MIN_OVERLAP = 0.5
SKEW_NULL_FAIL = 0.5
SKEW_PROCESSING_WARN = 0.05  # processing that nulls this share of present raw values is reported
SKEW_PROCESSING_ERROR = 0.5  # ... and from this share it is an error: the model mostly runs without the feature


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
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

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

_STATUS_RANK = {"fail": 0, "warn": 1, "pass": 2}
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def _get(finding, key):
    return finding[key] if isinstance(finding, Mapping) else getattr(finding, key)


def verdict(findings: Iterable) -> str:
    """The batch's verdict from its findings (Finding objects or their dicts):

    * ``"fail"`` if any finding has status ``fail`` AND severity ``error``;
    * else ``"warn"`` if any finding has status ``warn`` (any severity), or status ``fail`` with a
      severity below error (``warning`` or ``info``: a check the suite has softened);
    * else ``"pass"`` (only passing findings, or none).
    """
    result = "pass"
    for f in findings:
        status, severity = _get(f, "status"), _get(f, "severity")
        if status == "fail" and severity == "error":
            return "fail"
        if status in ("warn", "fail"):
            result = "warn"
    return result


def sort_findings(findings: Iterable) -> list:
    """Most severe first: failing findings (errors, then warnings, then info), then warnings (same
    order), then passes; ties keep the order the checks produced them in."""
    return sorted(
        findings,
        key=lambda f: (_STATUS_RANK.get(_get(f, "status"), 3), _SEVERITY_RANK.get(_get(f, "severity"), 3)),
    )


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _severity(rules: ColumnRules | None, check: str) -> str:
    if rules is not None and check in rules.severity_overrides:
        return rules.severity_overrides[check]
    return DEFAULT_SEVERITY[check]


def _tripped(severity: str) -> str:
    """Status of a one-threshold check that tripped: fail for errors, warn for softer checks."""
    return "fail" if severity == "error" else "warn"


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
    return int(col.get("count") or 0) + int(col.get("nulls") or 0) + int(col.get("non_numeric") or 0) + int(
        col.get("unparseable") or 0
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
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def _spec_fields(spec) -> dict:
    if isinstance(spec, str):
        return {"name": spec}
    if hasattr(spec, "to_dict"):
        return spec.to_dict()
    return dict(spec)


# ---------------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------------


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
            out += _timestamp_findings(name, ref, cur, rules, now)
        elif kind == "text":
            out += _text_findings(name, ref, current, cur, rules)
        elif kind == "id":
            out += _id_findings(name, current, cur, rules)
    return out


def _null_finding(name, reference, ref, current, cur, rules: ColumnRules) -> Finding:
    severity = _severity(rules, "nulls")
    share = _null_share(current, cur)
    ref_share = _null_share(reference, ref) if ref is not None else None
    nulls = int(cur.get("nulls") or 0)
    base = f"{name} is null in {_pct(share)} of rows ({_num(nulls)})"
    ref_text = f"reference {_pct(ref_share)}" if ref_share is not None else "no reference"
    details = {"null_share": share, "reference_null_share": ref_share, "nulls": nulls}
    if rules.max_null_share is not None and share > rules.max_null_share:
        return Finding("nulls", name, severity, "fail",
                       f"{base}, above the limit of {_pct(rules.max_null_share)} ({ref_text}).",
                       share, rules.max_null_share, details)
    if rules.max_null_increase is not None and ref_share is not None and share - ref_share > rules.max_null_increase:
        return Finding("nulls", name, severity, "warn",
                       f"{base}, up {_pct(share - ref_share)} points from the {ref_text} "
                       f"(warning above +{_pct(rules.max_null_increase)}).",
                       share - ref_share, rules.max_null_increase, details)
    return Finding("nulls", name, severity, "pass", f"{base} ({ref_text}).", share, rules.max_null_share, details)


def _numeric_findings(name, ref, current, cur, rules: ColumnRules) -> list[Finding]:
    out = []
    rows = _rows(current, cur)
    # values that are not numbers
    severity = _severity(rules, "type_mismatch")
    bad = int(cur.get("non_numeric") or 0)
    if bad:
        ref_bad = int(ref.get("non_numeric") or 0) if ref else 0
        out.append(Finding("type_mismatch", name, severity, _tripped(severity),
                           f"{name} has {_num(bad)} values ({_pct(bad / rows if rows else 0)} of rows) that are "
                           f"not numbers (reference: {_num(ref_bad)}).",
                           bad / rows if rows else None, 0.0, {"non_numeric": bad, "reference_non_numeric": ref_bad}))
    else:
        out.append(Finding("type_mismatch", name, severity, "pass", f"Every non-null value of {name} is a number."))

    count = int(cur.get("count") or 0)
    # declared bounds
    if rules.min_value is not None or rules.max_value is not None:
        severity = _severity(rules, "declared_bounds")
        problems, details = [], {"min": cur.get("min"), "max": cur.get("max"),
                                 "min_value": rules.min_value, "max_value": rules.max_value}
        value = threshold = None
        if count and rules.min_value is not None and cur.get("min") is not None and cur["min"] < rules.min_value:
            below = _rows_beyond(cur, rules.min_value, below=True)
            details["rows_below_at_least"] = below
            problems.append(f"values below the declared minimum {_num(rules.min_value)} (lowest {_num(cur['min'])}"
                            + (f"; at least {_num(below)} rows" if below else "") + ")")
            value, threshold = cur["min"], rules.min_value
        if count and rules.max_value is not None and cur.get("max") is not None and cur["max"] > rules.max_value:
            above = _rows_beyond(cur, rules.max_value, below=False)
            details["rows_above_at_least"] = above
            problems.append(f"values above the declared maximum {_num(rules.max_value)} (highest {_num(cur['max'])}"
                            + (f"; at least {_num(above)} rows" if above else "") + ")")
            if value is None:
                value, threshold = cur["max"], rules.max_value
        if problems:
            out.append(Finding("declared_bounds", name, severity, _tripped(severity),
                               f"{name} has " + " and ".join(problems) + ".", value, threshold, details))
        else:
            out.append(Finding("declared_bounds", name, severity, "pass",
                               f"{name} stays within its declared bounds "
                               f"[{_num(rules.min_value)}, {_num(rules.max_value)}].", details=details))

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
    details = {
        "median": median, "mean": mean, "min": cur.get("min"), "max": cur.get("max"),
        "reference_median": rq.get("0.5"), "reference_mean": ref.get("mean"),
        "reference_p01": p01, "reference_p99": p99,
        "reference_min": ref.get("min"), "reference_max": ref.get("max"),
    }
    if p01 is not None and p99 is not None:
        if median is not None and not (p01 <= median <= p99):
            issues.append(f"median {_num(median)} is outside the reference's p01–p99 range "
                          f"[{_num(p01)}, {_num(p99)}]")
        if mean is not None and not (p01 <= mean <= p99):
            issues.append(f"mean {_num(mean)} is outside the reference's p01–p99 range [{_num(p01)}, {_num(p99)}]")
    ref_iqr = (rq.get("0.75") - rq.get("0.25")) if rq.get("0.75") is not None and rq.get("0.25") is not None else None
    cur_iqr = (cq.get("0.75") - cq.get("0.25")) if cq.get("0.75") is not None and cq.get("0.25") is not None else None
    ratio = None
    if ref_iqr and cur_iqr is not None:
        ratio = cur_iqr / ref_iqr
        details.update(iqr=cur_iqr, reference_iqr=ref_iqr, iqr_ratio=ratio)
        low, high = RANGE_IQR_RATIO
        if not (low <= ratio <= high):
            issues.append(f"its spread (IQR {_num(cur_iqr)}) is {ratio:.2f}× the reference's ({_num(ref_iqr)})")
    beyond = []
    if ref.get("min") is not None and cur.get("min") is not None and cur["min"] < ref["min"]:
        beyond.append(f"min {_num(cur['min'])} < training min {_num(ref['min'])}")
    if ref.get("max") is not None and cur.get("max") is not None and cur["max"] > ref["max"]:
        beyond.append(f"max {_num(cur['max'])} > training max {_num(ref['max'])}")
    details["beyond_training_range"] = beyond
    if issues:
        message = f"{name}: " + "; ".join(issues) + "."
        if beyond:
            message += " Also " + ", ".join(beyond) + "."
        return Finding("range", name, severity, _tripped(severity), message, median, p99, details)
    message = (f"{name}: median {_num(median)} and mean {_num(mean)} are within the reference's p01–p99 range "
               f"[{_num(p01)}, {_num(p99)}]" + (f", spread {ratio:.2f}× the reference's" if ratio is not None else "")
               + "." + (" Note: " + ", ".join(beyond) + "." if beyond else ""))
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
            message = (f"{name} has {what} never seen in training: {listed}{more}"
                       + (f" – {_pct(share)} of rows in all" if len(new) > 1 else "") + ".")
            if rules.allow_new_categories:
                status = "warn" if share >= 0.05 else "pass"
                message += " New values are allowed for this column."
            else:
                status = _tripped(severity)
                message += " The model has never learnt what to do with it." if len(new) == 1 else \
                    " The model has never learnt what to do with them."
            out.append(Finding("new_categories", name, severity, status, message, share, 0.0,
                               {"new_categories": new, "new_counts": {v: counts[v] for v in new[:50]},
                                "new_share": share}))
        else:
            out.append(Finding("new_categories", name, severity, "pass",
                               f"Every value of {name} was seen in training.", 0.0, 0.0, {"new_categories": []}))

    if ref and ref_total and total and rules.max_share_change is not None:
        severity = _severity(rules, "category_shares")
        changes = []
        for v in set(ref_counts) | set(counts):
            r, c = ref_counts.get(v, 0) / ref_total, counts.get(v, 0) / total
            changes.append((abs(c - r), v, r, c))
        changes.sort(key=lambda t: (-t[0], t[1]))
        missing = sorted((v for v in ref_counts if v not in counts and v != drift.OTHER and ref_counts[v] / ref_total >= 0.01),
                         key=lambda v: (-ref_counts[v], v))
        top = [{"value": v, "reference_share": r, "share": c} for _, v, r, c in changes[:5]]
        details = {"changes": top, "missing_categories": missing}
        biggest = changes[0] if changes else (0.0, None, 0.0, 0.0)
        if biggest[0] > rules.max_share_change or missing:
            parts = []
            if biggest[0] > rules.max_share_change:
                parts.append(f"'{biggest[1]}' moved from {_pct(biggest[2])} to {_pct(biggest[3])} of rows "
                             f"(more than {_pct(rules.max_share_change)} points)")
            if missing:
                parts.append("values common in training are absent: "
                             + ", ".join(f"'{v}' ({_pct(ref_counts[v] / ref_total)} in training)" for v in missing[:5]))
            out.append(Finding("category_shares", name, severity, _tripped(severity),
                               f"{name}: " + "; ".join(parts) + ".", biggest[0], rules.max_share_change, details))
        else:
            out.append(Finding("category_shares", name, severity, "pass",
                               f"{name}: no value's share moved more than {_pct(rules.max_share_change)} points "
                               f"(largest: '{biggest[1]}', {_pct(biggest[2])} → {_pct(biggest[3])}).",
                               biggest[0], rules.max_share_change, details))
    return out


def _is_day_month_swap(a: str, b: str) -> bool:
    """True when two formats differ only by %d and %m trading places."""
    return a != b and a.replace("%d", "#").replace("%m", "%d").replace("#", "%m") == b


def _timestamp_findings(name, ref, cur, rules: ColumnRules, now) -> list[Finding]:
    out = []
    count = int(cur.get("count") or 0)
    formats = {k: int(v) for k, v in (cur.get("formats") or {}).items() if v}
    formatted = sum(formats.values())

    # format: majority switch and mixtures
    expected = rules.expected_format or (majority_format(ref.get("formats")) if ref else None)
    severity = _severity(rules, "date_format")
    if formatted:
        current_major = majority_format(formats)
        major_share = formats[current_major] / formatted
        others = {f: n for f, n in formats.items() if f != current_major and n / formatted > MIXED_FORMAT_SHARE}
        details = {"formats": formats, "expected_format": expected, "majority_format": current_major,
                   "majority_share": major_share, "ambiguous_day_month": int(cur.get("ambiguous_day_month") or 0)}
        if expected and current_major != expected:
            swap = _is_day_month_swap(expected, current_major)
            message = (f"{name} is mostly written as {current_major} ({_pct(major_share)} of values), but training "
                       f"used {expected}" + (": day and month look swapped." if swap else "."))
            if expected in formats:
                message += f" {_pct(formats[expected] / formatted)} still use {expected}."
            out.append(Finding("date_format", name, severity, "fail" if severity == "error" else "warn", message,
                               major_share, None, details))
        elif others:
            listed = ", ".join(f"{f} ({_pct(n / formatted)})" for f, n in sorted(others.items(), key=lambda t: -t[1]))
            out.append(Finding("date_format", name, severity, "warn",
                               f"{name} mixes date formats: {current_major} ({_pct(major_share)}) and {listed}.",
                               1 - major_share, MIXED_FORMAT_SHARE, details))
        else:
            out.append(Finding("date_format", name, severity, "pass",
                               f"{name} is written as {current_major} throughout"
                               + (" as in training." if expected == current_major else "."),
                               major_share, None, details))

    # unparseable values
    severity = _severity(rules, "unparseable_dates")
    bad = int(cur.get("unparseable") or 0)
    seen = count + bad
    if bad:
        share = bad / seen if seen else 0.0
        status = _tripped(severity) if share >= UNPARSEABLE_FAIL_SHARE else "warn"
        out.append(Finding("unparseable_dates", name, severity, status,
                           f"{_num(bad)} values of {name} ({_pct(share)} of non-null values) could not be read as "
                           f"dates in any known format.", share, UNPARSEABLE_FAIL_SHARE, {"unparseable": bad}))
    else:
        out.append(Finding("unparseable_dates", name, severity, "pass",
                           f"Every non-null value of {name} reads as a date.", 0.0, UNPARSEABLE_FAIL_SHARE))

    # future dates
    severity = _severity(rules, "future_dates")
    future = int(cur.get("future") or 0)
    latest = _parse_time(cur.get("max"))
    now_t = _parse_time(now) if now is not None else None
    after_now = now_t is not None and latest is not None and latest > now_t
    if future or after_now:
        text = (f"{_num(future)} dates of {name} ({_pct(future / count if count else 0)}) lie in the future"
                if future else f"{name} has dates after now ({now_t.isoformat(sep=' ')})")
        out.append(Finding("future_dates", name, severity, _tripped(severity),
                           f"{text}; the latest is {cur.get('max')}.", future, 0.0,
                           {"future": future, "max": cur.get("max"), "now": now_t.isoformat() if now_t else None}))
    elif count:
        out.append(Finding("future_dates", name, severity, "pass",
                           f"No date of {name} lies in the future (latest {cur.get('max')}).", 0, 0.0))

    # ancient dates
    severity = _severity(rules, "ancient_dates")
    ancient = int(cur.get("ancient") or 0)
    if ancient:
        out.append(Finding("ancient_dates", name, severity, _tripped(severity),
                           f"{_num(ancient)} dates of {name} ({_pct(ancient / count if count else 0)}) are before 1900 "
                           f"(earliest {cur.get('min')}): placeholder or mistyped dates?", ancient, 0.0,
                           {"ancient": ancient, "min": cur.get("min")}))
    elif count:
        out.append(Finding("ancient_dates", name, severity, "pass",
                           f"No date of {name} is before 1900 (earliest {cur.get('min')}).", 0, 0.0))

    # range set by the suite
    if count and (rules.date_min or rules.date_max):
        severity = _severity(rules, "date_range")
        earliest = _parse_time(cur.get("min"))
        problems = []
        if rules.date_min and earliest is not None and earliest < _parse_time(rules.date_min):
            problems.append(f"the earliest date {cur.get('min')} is before {rules.date_min}")
        if rules.date_max and latest is not None and latest > _parse_time(rules.date_max):
            problems.append(f"the latest date {cur.get('max')} is after {rules.date_max}")
        details = {"min": cur.get("min"), "max": cur.get("max"), "date_min": rules.date_min, "date_max": rules.date_max}
        if problems:
            out.append(Finding("date_range", name, severity, _tripped(severity),
                               f"{name}: " + " and ".join(problems) + ".", details=details))
        else:
            out.append(Finding("date_range", name, severity, "pass",
                               f"{name} spans {cur.get('min')} to {cur.get('max')}, within the expected range.",
                               details=details))
    return out


def _text_findings(name, ref, current, cur, rules: ColumnRules) -> list[Finding]:
    out = []
    count = int(cur.get("count") or 0)
    if not ref or not count or not int(ref.get("count") or 0):
        return out
    severity = _severity(rules, "text_length")
    ref_len, cur_len = float(ref.get("length_mean") or 0.0), float(cur.get("length_mean") or 0.0)
    ref_empty = int(ref.get("empty") or 0) / int(ref["count"])
    cur_empty = int(cur.get("empty") or 0) / count
    issues = []
    ratio = cur_len / ref_len if ref_len else None
    if ratio is not None and not (TEXT_LENGTH_RATIO[0] <= ratio <= TEXT_LENGTH_RATIO[1]):
        issues.append(f"mean length {cur_len:.1f} characters is {ratio:.2f}× the reference's {ref_len:.1f}")
    if cur_empty - ref_empty > TEXT_EMPTY_INCREASE:
        issues.append(f"{_pct(cur_empty)} of values are empty (reference {_pct(ref_empty)})")
    details = {"length_mean": cur_len, "reference_length_mean": ref_len, "length_ratio": ratio,
               "empty_share": cur_empty, "reference_empty_share": ref_empty}
    if issues:
        out.append(Finding("text_length", name, severity, _tripped(severity), f"{name}: " + "; ".join(issues) + ".",
                           ratio, TEXT_LENGTH_RATIO[1], details))
    else:
        out.append(Finding("text_length", name, severity, "pass",
                           f"{name}: mean length {cur_len:.1f} characters (reference {ref_len:.1f}), "
                           f"{_pct(cur_empty)} empty (reference {_pct(ref_empty)}).", ratio, TEXT_LENGTH_RATIO[1], details))

    severity = _severity(rules, "text_words")
    ref_top = [w for w, _ in sorted((ref.get("words") or {}).items(), key=lambda t: (-t[1], t[0]))[:TOP_WORDS]]
    cur_top = [w for w, _ in sorted((cur.get("words") or {}).items(), key=lambda t: (-t[1], t[0]))[:TOP_WORDS]]
    if ref_top and cur_top:
        kept = len(set(ref_top) & set(cur_top)) / len(ref_top)
        appeared = [w for w in cur_top if w not in ref_top]
        gone = [w for w in ref_top if w not in cur_top]
        details = {"top_words": cur_top, "reference_top_words": ref_top, "appeared": appeared, "disappeared": gone,
                   "overlap": kept}
        if kept < TOP_WORDS_MIN_OVERLAP:
            out.append(Finding("text_words", name, severity, "warn",
                               f"{name}: only {_pct(kept)} of training's top {len(ref_top)} words are still among the "
                               f"most frequent; new: {', '.join(appeared[:5])}; gone: {', '.join(gone[:5])}.",
                               kept, TOP_WORDS_MIN_OVERLAP, details))
        else:
            out.append(Finding("text_words", name, severity, "pass",
                               f"{name}: {_pct(kept)} of training's top {len(ref_top)} words are still the most frequent"
                               + (f" (new: {', '.join(appeared[:5])})." if appeared else "."),
                               kept, TOP_WORDS_MIN_OVERLAP, details))
    return out


def _id_findings(name, current, cur, rules: ColumnRules) -> list[Finding]:
    severity = _severity(rules, "duplicates")
    dups = int(cur.get("duplicates") or 0)
    rows = _rows(current, cur)
    examples = [str(v) for v in (cur.get("duplicate_examples") or [])]
    if dups:
        share = dups / rows if rows else 0.0
        eg = f", e.g. {', '.join(examples[:5])}" if examples else ""
        return [Finding("duplicates", name, severity, _tripped(severity),
                        f"{name} repeats: {_num(dups)} rows ({_pct(share)}) reuse an id seen earlier in the batch{eg}.",
                        dups, 0.0, {"duplicates": dups, "duplicate_examples": examples})]
    return [Finding("duplicates", name, severity, "pass", f"Every {name} is unique.", 0, 0.0,
                    {"duplicates": 0, "duplicate_examples": []})]


# ---------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------


def _beyond_noise(pvalue, rules: ColumnRules) -> bool:
    return pvalue is None or pvalue < rules.drift_noise_pvalue


def _drift_finding(check: str, name: str, ref: Mapping, cur: Mapping, rules: ColumnRules, *, subject: str,
                   severity: str | None = None) -> Finding | None:
    """One drift finding for a numeric or categorical column, status by effect size."""
    kind = ref.get("kind")
    severity = severity or _severity(rules, check)
    if kind not in ("numeric", "categorical") or cur.get("kind") != kind:
        return None
    if kind == "numeric":
        try:
            stats = drift.numeric_drift(ref, cur)
        except ValueError as exc:
            return Finding(check, name, "info", "pass", f"{subject} cannot be compared with training: {exc}.")
        if stats["psi"] is None:
            return Finding(check, name, "info", "pass",
                           f"{subject} has no values to compare with training.", details=stats)
        psi_v, w = stats["psi"], stats["wasserstein_scaled"]
        unit = {"iqr": "IQR", "std": "standard deviations", "none": "units"}[stats["scale_basis"]]
        moved = f"values moved {w:.2f} {unit} (Wasserstein {_num(stats['wasserstein'])})"
        pv = f"KS p {_pvalue(stats['ks_pvalue'])}"
        if psi_v >= rules.drift_psi_fail:
            status, threshold = "fail", rules.drift_psi_fail
            head = f"{subject} drifted: PSI {psi_v:.2f} (fail at {rules.drift_psi_fail:g}), {moved}"
        elif psi_v >= rules.drift_psi_warn:
            status, threshold = "warn", rules.drift_psi_warn
            head = f"{subject} shifted: PSI {psi_v:.2f} (warning at {rules.drift_psi_warn:g}), {moved}"
        elif w >= rules.drift_wasserstein_warn:
            status, threshold = "warn", rules.drift_wasserstein_warn
            head = (f"{subject} shifted: {moved}, warning at {rules.drift_wasserstein_warn:g} {unit}; "
                    f"PSI {psi_v:.2f}")
        else:
            status, threshold = "pass", rules.drift_psi_warn
            head = f"{subject} is stable: PSI {psi_v:.2f} (warning at {rules.drift_psi_warn:g}), {moved}"
        if status != "pass" and not _beyond_noise(stats["ks_pvalue"], rules):
            status, threshold = "pass", rules.drift_noise_pvalue
            head = (f"{subject} differs from training by no more than sampling noise explains: PSI {psi_v:.2f}, "
                    f"{moved}")
        message = f"{head}. {pv}; {PVALUE_NOTE}."
        return Finding(check, name, severity, status, message, psi_v, threshold, stats)
    stats = drift.categorical_drift(ref, cur)
    if not stats["ref_count"] or not stats["cur_count"]:
        return Finding(check, name, "info", "pass", f"{subject} has no values to compare with training.", details=stats)
    psi_v, js = stats["psi"], stats["jensen_shannon"]
    parts = f"PSI {psi_v:.2f}, Jensen–Shannon distance {js:.2f}"
    if psi_v >= rules.drift_psi_fail or js >= rules.drift_js_fail:
        status = "fail"
        threshold = rules.drift_psi_fail if psi_v >= rules.drift_psi_fail else rules.drift_js_fail
        head = f"{subject} drifted: {parts} (fail at PSI {rules.drift_psi_fail:g} or JS {rules.drift_js_fail:g})"
    elif psi_v >= rules.drift_psi_warn or js >= rules.drift_js_warn:
        status = "warn"
        threshold = rules.drift_psi_warn if psi_v >= rules.drift_psi_warn else rules.drift_js_warn
        head = f"{subject} shifted: {parts} (warning at PSI {rules.drift_psi_warn:g} or JS {rules.drift_js_warn:g})"
    else:
        status, threshold = "pass", rules.drift_psi_warn
        head = f"{subject} is stable: {parts} (warning at PSI {rules.drift_psi_warn:g} or JS {rules.drift_js_warn:g})"
    if status != "pass" and not _beyond_noise(stats["chi2_pvalue"], rules):
        status, threshold = "pass", rules.drift_noise_pvalue
        head = f"{subject} differs from training by no more than sampling noise explains: {parts}"
    extra = ""
    if stats["new_categories"]:
        extra = " New: " + ", ".join(f"'{v}'" for v in stats["new_categories"][:5]) + "."
    message = f"{head}.{extra} χ² p {_pvalue(stats['chi2_pvalue'])}; {PVALUE_NOTE}."
    return Finding(check, name, severity, status, message, psi_v, threshold, stats)


def drift_findings(reference: Mapping, current: Mapping, suite: Suite, *,
                   skip: Iterable[str] = ()) -> list[Finding]:
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


def prediction_drift_findings(reference_col: Mapping, current_col: Mapping, suite: Suite | None = None, *,
                              column: str = "prediction") -> list[Finding]:
    """Drift of the model's OUTPUT (scores: numeric profile; classes: categorical profile) against the
    predictions on the training/validation reference: a label-free early warning, available before
    any label arrives. Thresholds from ``suite``'s rules for ``column`` (defaults otherwise); check
    ``prediction_drift``, severity warning unless overridden."""
    kind = reference_col.get("kind")
    rules = suite.rules_for(column, kind) if suite is not None else ColumnRules(kind=kind)
    finding = _drift_finding("prediction_drift", column, reference_col, current_col, rules,
                             subject=f"The model's predictions ({column})")
    if finding is None:
        return [Finding("prediction_drift", column, "info", "pass",
                        f"Predictions of kind {kind!r} cannot be compared for drift.")]
    if finding.status != "pass":
        finding.message += " Labels are not needed for this warning: check inputs and model before accuracy drops."
    return [finding]


def skew_findings(training: Mapping, serving: Mapping, features: Sequence[str], *,
                  suite: Suite | None = None) -> list[Finding]:
    """Training-serving skew for the model's features: a feature used in training that serving lacks
    (``skew_missing``, error) or mostly null – "disappearing data" (``skew_nulls``: fails at ≥ 50 %
    null and 10 points above training, warns on a rise of more than 5 points) – and each present
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
            out.append(Finding("skew_missing", name, severity, _tripped(severity),
                               f"Feature {name} was used in training but is missing from serving data: the model "
                               f"gets a default or nothing for it."))
            continue
        severity = _severity(rules, "skew_nulls")
        s_share = _null_share(serving, s)
        t_share = _null_share(training, t) if t is not None else 0.0
        details = {"serving_null_share": s_share, "training_null_share": t_share}
        if s_share >= SKEW_NULL_FAIL and s_share - t_share >= 0.10:
            out.append(Finding("skew_nulls", name, severity, _tripped(severity),
                               f"Feature {name} is null in {_pct(s_share)} of serving rows (training {_pct(t_share)}): "
                               f"disappearing data – the model mostly runs without it.", s_share, SKEW_NULL_FAIL, details))
        elif s_share - t_share > 0.05:
            out.append(Finding("skew_nulls", name, severity, "warn",
                               f"Feature {name} is null in {_pct(s_share)} of serving rows, up from {_pct(t_share)} in "
                               f"training.", s_share - t_share, 0.05, details))
        else:
            out.append(Finding("skew_nulls", name, severity, "pass",
                               f"Feature {name} is null in {_pct(s_share)} of serving rows (training {_pct(t_share)}).",
                               s_share, SKEW_NULL_FAIL, details))
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
            out.append(Finding("skew_processing", name, severity, _tripped(severity),
                               f"Processing turned {_pct(share)} of {name} values into nulls ({_num(dropped)} of "
                               f"{_num(rows)} requests that carried one): the model never saw them.",
                               share, SKEW_PROCESSING_WARN, details))
        else:
            what = (f"processing turned {_pct(share)} of {name} values into nulls ({_num(dropped)} of {_num(rows)})"
                    if rows else f"no request carried a value of {name}")
            out.append(Finding("skew_processing", name, severity, "pass",
                               f"{what[0].upper()}{what[1:]}; reported from {_pct(SKEW_PROCESSING_WARN)}.",
                               share, SKEW_PROCESSING_WARN, details))
    return out


# ---------------------------------------------------------------------------------------------
# Feature–label correlation
# ---------------------------------------------------------------------------------------------


def target_correlation_findings(reference: Mapping, current: Mapping, suite: Suite, *,
                                skip: Iterable[str] = (), label: str | None = None) -> list[Finding]:
    """One ``target_correlation`` finding per feature whose label statistics ("target", see
    audits/engine/target.py) are in both profiles: Pearson's r for a numeric feature, the correlation
    ratio η (corrected for chance) for a categorical one, training against this batch.

    Effect size sets the status: |Δ| ≥ the column's target_corr_warn warns, ≥ target_corr_fail (if
    set) fails; severity warning unless overridden. A rise in |correlation| hints at a leak (a feature
    that carries the label), a fall at drift or a broken feature. The change's p-value (Fisher's z for
    r, an interaction F-test for η) only vetoes a warning that sampling noise explains, like drift;
    where no test is possible (fewer than 4 labelled pairs, fewer than two categories shared with
    training) a change is only noted (info), since it cannot be told from chance.

    A batch without labels (no "target", or no labelled row) gets no finding: incoming batches are
    unlabelled. ``label`` (the label's name) adds an info finding when the batch HAS that column but
    was profiled without label statistics. A label that cannot be made numeric, or a reference without
    label statistics, gives one info finding saying why. Features in ``skip`` are left out."""
    cur_t = current.get("target")
    if cur_t is None:
        col = (current.get("columns") or {}).get(label) if label else None
        if col is not None and int(col.get("count") or 0):
            return [Finding("target_correlation", label, "info", "pass",
                            f"The batch has labels ({label}) but was profiled without label statistics, so "
                            f"feature–label correlations are not compared.")]
        return []
    name = cur_t["column"]
    if not cur_t["numeric"]:
        return [Finding("target_correlation", name, "info", "pass",
                        f"Feature–label correlations are not checked: {cur_t['reason']}.", details={"label": name})]
    if not cur_t["labelled"]:
        return []
    ref_t = reference.get("target")
    if ref_t is None or ref_t.get("column") != name:
        return [Finding("target_correlation", name, "info", "pass",
                        f"The training reference has no statistics for the label {name}: rebuild it with the label "
                        f"named to compare feature–label correlations.", details={"label": name})]
    if not ref_t["numeric"]:
        return [Finding("target_correlation", name, "info", "pass",
                        f"Feature–label correlations are not checked: in training, {ref_t['reason']}.",
                        details={"label": name})]
    out = []
    skip = set(skip)
    for feature, cur in cur_t["features"].items():
        ref = ref_t["features"].get(feature)
        if feature in skip or ref is None or ref["kind"] != cur["kind"]:
            continue
        out.append(_target_finding(feature, name, ref, cur, suite.rules_for(feature, cur["kind"])))
    return out


def _target_finding(feature: str, label: str, ref: Mapping, cur: Mapping, rules: ColumnRules) -> Finding:
    severity = _severity(rules, "target_correlation")
    warn_at, fail_at = rules.target_corr_warn, rules.target_corr_fail
    a_ref, a_cur = target.association(ref), target.association(cur)
    measure = "correlation" if cur["kind"] == "numeric" else "association (correlation ratio η)"
    subject = f"{feature}'s {measure} with {label}"
    if a_ref is None or a_cur is None:
        side = "training" if a_ref is None else "this batch"
        return Finding("target_correlation", feature, "info", "pass",
                       f"{subject} cannot be computed in {side} (too few labelled rows, or a constant side).",
                       details={"label": label, "reference_n": ref.get("n"), "current_n": cur.get("n")})
    r0, r1 = a_ref["value"], a_cur["value"]
    delta = r1 - r0
    effect = abs(delta)
    pvalue, test = target.change_pvalue(ref, cur)
    details = {"label": label, "measure": a_cur["measure"], "reference": r0, "current": r1, "delta": delta,
               "reference_n": a_ref["n"], "current_n": a_cur["n"], "pvalue": pvalue, "test": test}
    if a_cur["measure"] == "eta":
        details.update(reference_eta_raw=a_ref["eta_raw"], current_eta_raw=a_cur["eta_raw"],
                       reference_groups=a_ref["groups"], current_groups=a_cur["groups"])
    signed = "+.2f" if a_cur["measure"] == "pearson" else ".2f"
    moved = f"from {r0:{signed}} in training to {r1:{signed}}"
    if r0 * r1 < 0:
        moved += " (its sign reversed)"
    test_text = {"fisher_z": "Fisher z", "interaction_f": "Interaction F"}[test]
    tail = f"{test_text} p {_pvalue(pvalue)}; {PVALUE_NOTE}."
    if fail_at is not None and effect >= fail_at:
        status, limit = "fail", f"fail at {fail_at:g}"
    elif effect >= warn_at:
        status, limit = "warn", f"warning at {warn_at:g}"
    else:
        return Finding("target_correlation", feature, severity, "pass",
                       f"{subject} is stable: {moved} (change {effect:.2f}, warning at {warn_at:g}). {tail}",
                       r1, warn_at, details)
    if pvalue is None:  # unlike drift, no test means no warning: 3 rows or 1 shared category say nothing
        return Finding("target_correlation", feature, "info", "pass",
                       f"{subject} moved {moved}, but with {_num(a_cur['n'])} labelled rows"
                       + (" and fewer than two categories shared with training" if test == "interaction_f" else "")
                       + " the change cannot be told from chance.", r1, warn_at, details)
    if not _beyond_noise(pvalue, rules):
        return Finding("target_correlation", feature, severity, "pass",
                       f"{subject} moved {moved}, no more than sampling noise explains with {_num(a_cur['n'])} "
                       f"labelled rows. {tail}", r1, warn_at, details)
    if abs(r1) > abs(r0):
        head = f"{subject} jumped {moved} (change {effect:.2f}, {limit}): this hints at a leak (a feature that " \
               f"carries the label)"
    else:
        head = f"{subject} fell {moved} (change {effect:.2f}, {limit}): this hints at drift or a broken feature"
    return Finding("target_correlation", feature, severity, status, f"{head}. {tail}", r1, warn_at, details)


# ---------------------------------------------------------------------------------------------
# Volume and schema
# ---------------------------------------------------------------------------------------------


def volume_findings(rows: int, size_bytes: int, history: Sequence[tuple[int, int]], suite: Suite) -> list[Finding]:
    """The batch's size against the last ``suite.history_batches`` batches ((rows, bytes) pairs,
    oldest first): rows / median rows outside [volume_ratio_min, volume_ratio_max] fails (``volume``,
    error); a row z-score beyond ±volume_z_max against those batches warns (``volume_zscore``; needs
    3 batches that differ); bytes / median bytes outside the ratio range warns (``volume_bytes``).
    An empty batch always fails; with no history there is only an info finding."""
    rows, size_bytes = int(rows), int(size_bytes)
    recent = [(int(r), int(b)) for r, b in list(history)[-suite.history_batches:]]
    if rows == 0:
        return [Finding("volume", None, "error", "fail", "The batch has no rows.", 0, None, {"rows": 0})]
    if not recent:
        return [Finding("volume", None, "info", "pass",
                        f"No earlier batches to compare the volume with yet ({_num(rows)} rows, {_num(size_bytes)} bytes).",
                        rows, None, {"rows": rows, "bytes": size_bytes, "history": 0})]
    out = []
    past_rows = [r for r, _ in recent]
    med = statistics.median(past_rows)
    details = {"rows": rows, "bytes": size_bytes, "history": len(recent), "median_rows": med}
    lo, hi = suite.volume_ratio_min, suite.volume_ratio_max
    n = len(recent)
    if med > 0:
        ratio = rows / med
        details["ratio"] = ratio
        text = (f"{_num(rows)} rows is {ratio:.2f}× the median of the last {n} batch{'es' if n != 1 else ''} "
                f"({_num(med)})")
        if not (lo <= ratio <= hi):
            threshold = lo if ratio < lo else hi
            out.append(Finding("volume", None, DEFAULT_SEVERITY["volume"], "fail",
                               f"{text}; expected {lo:.2f}–{hi:.2f}×.", ratio, threshold, details))
        else:
            out.append(Finding("volume", None, DEFAULT_SEVERITY["volume"], "pass",
                               f"{text}, within {lo:.2f}–{hi:.2f}×.", ratio, hi, details))
    if n >= 3:
        mean = statistics.fmean(past_rows)
        sd = statistics.stdev(past_rows)
        if sd > 0:
            z = (rows - mean) / sd
            zd = {"z": z, "mean_rows": mean, "std_rows": sd, "history": n}
            if abs(z) > suite.volume_z_max:
                out.append(Finding("volume_zscore", None, DEFAULT_SEVERITY["volume_zscore"], "warn",
                                   f"{_num(rows)} rows is {z:+.1f} standard deviations from the last {n} batches' mean "
                                   f"({_num(mean)} ± {_num(sd)}); warning beyond ±{suite.volume_z_max:g}.",
                                   z, suite.volume_z_max, zd))
            else:
                out.append(Finding("volume_zscore", None, DEFAULT_SEVERITY["volume_zscore"], "pass",
                                   f"{_num(rows)} rows is {z:+.1f} standard deviations from the last {n} batches' mean "
                                   f"({_num(mean)}).", z, suite.volume_z_max, zd))
    past_bytes = [b for _, b in recent]
    med_b = statistics.median(past_bytes)
    if med_b > 0 and size_bytes > 0:
        ratio_b = size_bytes / med_b
        bd = {"bytes": size_bytes, "median_bytes": med_b, "ratio": ratio_b}
        if not (lo <= ratio_b <= hi):
            out.append(Finding("volume_bytes", None, DEFAULT_SEVERITY["volume_bytes"], "warn",
                               f"The file is {_num(size_bytes)} bytes, {ratio_b:.2f}× the median of the last {n} "
                               f"({_num(med_b)}); expected {lo:.2f}–{hi:.2f}×.", ratio_b, lo if ratio_b < lo else hi, bd))
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
            out.append(Finding("schema", spec["name"], "error", "fail",
                               f"Column {spec['name']}{kind} is missing: the model expects it.",
                               details={"missing": spec["name"]}))
    for col in found:
        if col not in expected_set:
            out.append(Finding("schema", col, "warning", "warn",
                               f"Column {col} is not in the model's schema; it is ignored.",
                               details={"unexpected": col}))
    if not out:
        out.append(Finding("schema", None, "error", "pass",
                           f"All {len(names)} expected columns are present and there are no others."))
    return out
