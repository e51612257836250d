"""Timestamp checks of a batch's profile against the training reference: format switches (a
dd-mm-yyyy export turning mm-dd-yyyy), mixtures, unparseable values, dates in the future or before
1900, and dates outside the suite's range.

Pure Python; no Django. Profiles follow docs/audit-profile-format.md.
"""

from __future__ import annotations

from ..suite import ColumnRules, majority_format
from .findings import Finding, _num, _parse_time, _pct, _severity, _tripped

__all__ = ["MIXED_FORMAT_SHARE", "UNPARSEABLE_FAIL_SHARE"]

MIXED_FORMAT_SHARE = 0.01  # a second format on more than 1 % of values makes a column "mixed"
UNPARSEABLE_FAIL_SHARE = 0.01


def _is_day_month_swap(a: str, b: str) -> bool:
    """True when two formats differ only by %d and %m trading places."""
    return a != b and a.replace("%d", "#").replace("%m", "%d").replace("#", "%m") == b


def timestamp_findings(name, ref, cur, rules: ColumnRules, now) -> list[Finding]:
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
        details = {
            "formats": formats,
            "expected_format": expected,
            "majority_format": current_major,
            "majority_share": major_share,
            "ambiguous_day_month": int(cur.get("ambiguous_day_month") or 0),
        }
        if expected and current_major != expected:
            swap = _is_day_month_swap(expected, current_major)
            message = (
                f"{name} is mostly written as {current_major} ({_pct(major_share)} of values), but training "
                f"used {expected}" + (": day and month look swapped." if swap else ".")
            )
            if expected in formats:
                message += f" {_pct(formats[expected] / formatted)} still use {expected}."
            out.append(
                Finding(
                    "date_format",
                    name,
                    severity,
                    _tripped(severity, "date_format"),
                    message,
                    major_share,
                    None,
                    details,
                )
            )
        elif others:
            listed = ", ".join(f"{f} ({_pct(n / formatted)})" for f, n in sorted(others.items(), key=lambda t: -t[1]))
            out.append(
                Finding(
                    "date_format",
                    name,
                    severity,
                    "warn",
                    f"{name} mixes date formats: {current_major} ({_pct(major_share)}) and {listed}.",
                    1 - major_share,
                    MIXED_FORMAT_SHARE,
                    details,
                )
            )
        else:
            out.append(
                Finding(
                    "date_format",
                    name,
                    severity,
                    "pass",
                    f"{name} is written as {current_major} throughout"
                    + (" as in training." if expected == current_major else "."),
                    major_share,
                    None,
                    details,
                )
            )

    # unparseable values
    severity = _severity(rules, "unparseable_dates")
    bad = int(cur.get("unparseable") or 0)
    seen = count + bad
    if bad:
        share = bad / seen if seen else 0.0
        status = _tripped(severity, "unparseable_dates") if share >= UNPARSEABLE_FAIL_SHARE else "warn"
        out.append(
            Finding(
                "unparseable_dates",
                name,
                severity,
                status,
                f"{_num(bad)} values of {name} ({_pct(share)} of non-null values) could not be read as "
                f"dates in any known format.",
                share,
                UNPARSEABLE_FAIL_SHARE,
                {"unparseable": bad},
            )
        )
    else:
        out.append(
            Finding(
                "unparseable_dates",
                name,
                severity,
                "pass",
                f"Every non-null value of {name} reads as a date.",
                0.0,
                UNPARSEABLE_FAIL_SHARE,
            )
        )

    # future dates
    severity = _severity(rules, "future_dates")
    future = int(cur.get("future") or 0)
    latest = _parse_time(cur.get("max"))
    now_t = _parse_time(now) if now is not None else None
    after_now = now_t is not None and latest is not None and latest > now_t
    if future or after_now:
        text = (
            f"{_num(future)} dates of {name} ({_pct(future / count if count else 0)}) lie in the future"
            if future
            else f"{name} has dates after now ({now_t.isoformat(sep=' ')})"
        )
        out.append(
            Finding(
                "future_dates",
                name,
                severity,
                _tripped(severity, "future_dates"),
                f"{text}; the latest is {cur.get('max')}.",
                future,
                0.0,
                {"future": future, "max": cur.get("max"), "now": now_t.isoformat() if now_t else None},
            )
        )
    elif count:
        out.append(
            Finding(
                "future_dates",
                name,
                severity,
                "pass",
                f"No date of {name} lies in the future (latest {cur.get('max')}).",
                0,
                0.0,
            )
        )

    # ancient dates
    severity = _severity(rules, "ancient_dates")
    ancient = int(cur.get("ancient") or 0)
    if ancient:
        out.append(
            Finding(
                "ancient_dates",
                name,
                severity,
                _tripped(severity, "ancient_dates"),
                f"{_num(ancient)} dates of {name} ({_pct(ancient / count if count else 0)}) are before 1900 "
                f"(earliest {cur.get('min')}): placeholder or mistyped dates?",
                ancient,
                0.0,
                {"ancient": ancient, "min": cur.get("min")},
            )
        )
    elif count:
        out.append(
            Finding(
                "ancient_dates",
                name,
                severity,
                "pass",
                f"No date of {name} is before 1900 (earliest {cur.get('min')}).",
                0,
                0.0,
            )
        )

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
            out.append(
                Finding(
                    "date_range",
                    name,
                    severity,
                    _tripped(severity, "date_range"),
                    f"{name}: " + " and ".join(problems) + ".",
                    details=details,
                )
            )
        else:
            out.append(
                Finding(
                    "date_range",
                    name,
                    severity,
                    "pass",
                    f"{name} spans {cur.get('min')} to {cur.get('max')}, within the expected range.",
                    details=details,
                )
            )
    return out
