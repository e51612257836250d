"""Audit suites: the rules a batch is checked against, per column and for the batch as a whole.

A suite is plain data (JSON-safe through to_dict/from_dict) so it can be stored, shown and edited.
`suggest_suite` infers one from a model version's reference profile, the way schema inference does:
what the training data looked like becomes what a batch is expected to look like, with some slack.

Pure Python; no Django.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

SEVERITIES = ("info", "warning", "error")
KINDS = ("numeric", "categorical", "timestamp", "text", "id")

# Slack added to the reference's null share for the hard limit, and the increase that warns.
NULL_SHARE_SLACK = 0.10
NULL_INCREASE_WARN = 0.02
# Above this many distinct reference values (or when the profile folded values beyond its capacity)
# a categorical column is treated as open: new values are reported, not failed.
OPEN_DOMAIN_ABOVE = 100


@dataclass
class ColumnRules:
    """What one column of a batch is checked against.

    * ``max_null_share`` – share of null rows above which the null check FAILS; ``max_null_increase`` –
      rise of the null share over the reference's (absolute, e.g. 0.02 = two points) that WARNS.
    * ``min_value`` / ``max_value`` – DECLARED bounds of a numeric column (age ≥ 0): any value outside
      fails with severity error. Not inferred from data (a batch may legitimately exceed the
      training range); they come from the ColumnSpec or are set by hand.
    * ``allowed_values`` – a categorical column's domain (None = the reference's categories);
      ``allow_new_categories`` – when False a value outside the domain fails the batch, when True it
      is only reported.
    * ``expected_format`` – a timestamp column's strptime format (the reference's majority format);
      ``date_min`` / ``date_max`` – ISO dates outside which values warn.
    * ``max_share_change`` – a categorical share moving by more than this (absolute) warns.
    * drift thresholds on the EFFECT sizes: PSI and Jensen-Shannon distance warn / fail, the
      Wasserstein distance scaled by the reference's IQR warns.
    * ``target_corr_warn`` / ``target_corr_fail`` – a feature's correlation with the label (r, or η
      for a categorical feature) moving by at least this much between training and a labelled batch
      warns / fails (fail off when None). A jump hints at a leak, a fall at drift or a broken feature.
    * ``severity_overrides`` – check name → severity, to soften or harden a check for this column
      (e.g. {"drift": "warning"} so drift never fails the batch).
    """

    kind: str
    max_null_share: float | None = None
    max_null_increase: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    allowed_values: list[str] | None = None
    allow_new_categories: bool = False
    expected_format: str | None = None
    date_min: str | None = None
    date_max: str | None = None
    max_share_change: float | None = 0.10
    drift_psi_warn: float = 0.1
    drift_psi_fail: float = 0.25
    drift_js_warn: float = 0.1
    drift_js_fail: float = 0.2
    drift_wasserstein_warn: float = 0.1
    # Effect size decides how bad a drift is; a warning also needs the difference to exceed sampling
    # noise (test p-value below this). Small clean batches otherwise warn on heavy tails by chance,
    # while on large batches every real shift is significant and effect size alone decides.
    drift_noise_pvalue: float = 0.01
    # Older saved suites lack these two; from_dict then takes the defaults.
    target_corr_warn: float = 0.2
    target_corr_fail: float | None = None
    severity_overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        for name in ("max_null_share", "max_null_increase", "max_share_change"):
            value = getattr(self, name)
            if value is not None:
                value = _number(name, value)
                if not 0 <= value <= 1:
                    raise ValueError(f"{name} must be between 0 and 1, not {value}")
                setattr(self, name, value)
        for name in ("min_value", "max_value"):
            if getattr(self, name) is not None:
                setattr(self, name, _number(name, getattr(self, name)))
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError(f"min_value {self.min_value} is above max_value {self.max_value}")
        for name in ("drift_psi_warn", "drift_psi_fail", "drift_js_warn", "drift_js_fail", "drift_wasserstein_warn"):
            value = _number(name, getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(self, name, value)
        self.drift_noise_pvalue = _number("drift_noise_pvalue", self.drift_noise_pvalue)
        if not 0 < self.drift_noise_pvalue <= 1:
            raise ValueError("drift_noise_pvalue must be above 0 and at most 1")
        self.target_corr_warn = _number("target_corr_warn", self.target_corr_warn)
        if not 0 <= self.target_corr_warn <= 2:  # correlations lie in [-1, 1]: a change is at most 2
            raise ValueError("target_corr_warn must be between 0 and 2")
        if self.target_corr_fail is not None:
            self.target_corr_fail = _number("target_corr_fail", self.target_corr_fail)
            if not self.target_corr_warn <= self.target_corr_fail <= 2:
                raise ValueError("target_corr_fail must lie between target_corr_warn and 2")
        if self.drift_psi_warn > self.drift_psi_fail:
            raise ValueError("drift_psi_warn is above drift_psi_fail")
        if self.drift_js_warn > self.drift_js_fail:
            raise ValueError("drift_js_warn is above drift_js_fail")
        if self.allowed_values is not None:
            if isinstance(self.allowed_values, (str, bytes)) or not isinstance(self.allowed_values, Iterable):
                raise ValueError("allowed_values must be a list of strings")
            self.allowed_values = [str(v) for v in self.allowed_values]
        if not isinstance(self.allow_new_categories, bool):
            raise ValueError("allow_new_categories must be true or false")
        if self.expected_format is not None and not isinstance(self.expected_format, str):
            raise ValueError("expected_format must be a string")
        for name in ("date_min", "date_max"):
            value = getattr(self, name)
            if value is not None:
                try:
                    datetime.fromisoformat(str(value))
                except ValueError:
                    raise ValueError(f"{name} must be an ISO date, not {value!r}") from None
                setattr(self, name, str(value))
        if not isinstance(self.severity_overrides, Mapping):
            raise ValueError("severity_overrides must map check names to severities")
        for check, severity in self.severity_overrides.items():
            if severity not in SEVERITIES:
                raise ValueError(f"severity for {check!r} must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        self.severity_overrides = {str(k): v for k, v in self.severity_overrides.items()}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ColumnRules:
        _check_known_fields(cls, data, what="column rules", unknown="column rule(s)")
        if "kind" not in data:
            raise ValueError("column rules need a kind")
        return cls(**dict(data))


@dataclass
class Suite:
    """The rules for a model's batches: per-column rules plus volume limits.

    Volume: a batch's row count divided by the median of the last ``history_batches`` batches must
    lie in [volume_ratio_min, volume_ratio_max] (else it fails), and its z-score against them must
    stay within ±volume_z_max (else it warns); either only when the batches' own variation does not
    explain it, and not before 5 earlier batches (checks/volume_schema.py).
    """

    columns: dict[str, ColumnRules] = field(default_factory=dict)
    volume_ratio_min: float = 0.5
    volume_ratio_max: float = 2.0
    volume_z_max: float = 3.0
    history_batches: int = 10

    def __post_init__(self):
        if not isinstance(self.columns, Mapping):
            raise ValueError("columns must map column names to rules")
        self.columns = {
            str(name): rules if isinstance(rules, ColumnRules) else ColumnRules.from_dict(rules)
            for name, rules in self.columns.items()
        }
        for name in ("volume_ratio_min", "volume_ratio_max", "volume_z_max"):
            value = _number(name, getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(self, name, value)
        if self.volume_ratio_min > self.volume_ratio_max:
            raise ValueError("volume_ratio_min is above volume_ratio_max")
        if (
            isinstance(self.history_batches, bool)
            or not isinstance(self.history_batches, int)
            or self.history_batches < 1
        ):
            raise ValueError("history_batches must be a whole number of at least 1")

    def rules_for(self, column: str, kind: str) -> ColumnRules:
        """The column's rules, or the defaults for its kind when the suite does not name it."""
        return self.columns.get(column) or ColumnRules(kind=kind)

    def to_dict(self) -> dict:
        return {
            "columns": {name: rules.to_dict() for name, rules in self.columns.items()},
            "volume_ratio_min": self.volume_ratio_min,
            "volume_ratio_max": self.volume_ratio_max,
            "volume_z_max": self.volume_z_max,
            "history_batches": self.history_batches,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Suite:
        _check_known_fields(cls, data, what="a suite", unknown="suite field(s)")
        columns = data.get("columns") or {}
        if not isinstance(columns, Mapping):
            raise ValueError("columns must map column names to rules")
        out = {k: v for k, v in data.items() if k != "columns"}
        return cls(columns={name: ColumnRules.from_dict(rules) for name, rules in columns.items()}, **out)


def _check_known_fields(cls, data, *, what: str, unknown: str) -> None:
    """`data` must be a mapping naming only fields of the dataclass `cls`."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be an object")
    extra = sorted(set(data) - {f.name for f in fields(cls)})
    if extra:
        raise ValueError(f"unknown {unknown}: {', '.join(extra)}")


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    return value


def _spec_dicts(specs) -> dict[str, dict]:
    if not specs:
        return {}
    if isinstance(specs, Mapping):
        specs = specs.values()
    out = {}
    for spec in specs:
        d = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
        out[d["name"]] = d
    return out


def majority_format(formats: Mapping[str, int] | None) -> str | None:
    """The format most values match (ties: the first listed); None when there is none."""
    if not formats:
        return None
    return max(formats.items(), key=lambda item: item[1])[0]


def suggest_suite(reference_profile: Mapping, specs=None) -> Suite:
    """A suite inferred from a reference profile (docs/audit-profile-format.md), like schema inference:

    * nulls: the null check fails above the reference's null share + 0.10 (capped at 1) and warns
      when the share rises by more than 0.02 over the reference's;
    * numeric: declared bounds ONLY from the ColumnSpec's min_value/max_value (never from the data);
    * categorical: allowed values = the reference's categories and new values fail the batch, unless
      the domain is open (more than 100 distinct values, or values folded beyond the profile's
      capacity) – then new values are reported only;
    * timestamp: expected format = the reference's majority format; date_min = the reference's earliest
      date; no date_max (batches naturally come later than training; the future-date check covers
      dates after "now");
    * drift thresholds and volume limits at their defaults.
    ``specs``: ColumnSpecs or their dicts (a list, or a dict by name); a spec's kind wins over the
    profile's.
    """
    spec_by_name = _spec_dicts(specs)
    columns: dict[str, ColumnRules] = {}
    rows = int(reference_profile.get("rows") or 0)
    for name, col in (reference_profile.get("columns") or {}).items():
        spec = spec_by_name.get(name, {})
        kind = spec.get("kind") or col.get("kind")
        total = rows or (int(col.get("count") or 0) + int(col.get("nulls") or 0))
        null_share = (int(col.get("nulls") or 0) / total) if total else 0.0
        rules = {
            "kind": kind,
            "max_null_share": min(1.0, round(null_share + NULL_SHARE_SLACK, 4)),
            "max_null_increase": NULL_INCREASE_WARN,
        }
        if kind == "numeric":
            rules["min_value"] = spec.get("min_value")
            rules["max_value"] = spec.get("max_value")
        elif kind == "categorical":
            counts = col.get("counts") or {}
            open_domain = bool(col.get("other")) or len(counts) > OPEN_DOMAIN_ABOVE
            rules["allow_new_categories"] = open_domain
            rules["allowed_values"] = None if open_domain else sorted(str(k) for k in counts)
        elif kind == "timestamp":
            rules["expected_format"] = majority_format(col.get("formats"))
            rules["date_min"] = col.get("min")
        rules = ColumnRules(**rules)
        columns[name] = rules
    return Suite(columns=columns)
