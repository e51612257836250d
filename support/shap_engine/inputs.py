"""Feature schemas, input values coerced to the schema's types, and canonical inputs: the typed
frame a model is given and the key an explanation of an input is cached under."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

TASK_TYPES = ("binary_classification", "multiclass_classification", "regression", "ranking")
CLASSIFICATION = ("binary_classification", "multiclass_classification")
NUMERIC_TYPES = ("float", "int")
DTYPES = {"float": "float64", "int": "int64", "bool": "bool", "string": "str", "datetime": "datetime64[ns]"}


class ExplainInputError(ValueError):
    """An input the explainer cannot use; ``field`` names the feature so a form can show it there."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # float | int | bool | string | datetime; anything else is read as string

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_TYPES


def parse_schema(feature_schema: list[dict]) -> tuple[Feature, ...]:
    if not feature_schema:
        raise ValueError("The version has no feature schema; an explanation needs to know which columns it reads.")
    features, seen = [], set()
    for entry in feature_schema:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ValueError(f"Feature schema entry {entry!r} has no name.")
        if name in seen:
            raise ValueError(f"Feature schema names '{name}' twice.")
        seen.add(name)
        kind = entry.get("type") or "string"
        if kind not in DTYPES:
            kind = "string"
        features.append(Feature(name, kind))
    return tuple(features)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip() == ""
    return False


_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


def coerce(feature: Feature, value: Any) -> Any:
    """The value as the plain Python type the schema says (float, int, bool, str, Timestamp)."""
    name = feature.name
    if _is_missing(value):
        raise ExplainInputError(f"{name}: a value is required.", field=name)
    if feature.numeric:
        if isinstance(value, (bool, np.bool_)):
            raise ExplainInputError(f"{name} should be a number, not {value!r}.", field=name)
        if isinstance(value, (int, np.integer)):
            number: float | int = int(value)
        elif isinstance(value, (float, np.floating)):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ExplainInputError(f"{name} should be a number; got {value!r}.", field=name) from None
        else:
            raise ExplainInputError(f"{name} should be a number; got {value!r}.", field=name)
        if isinstance(number, float) and not math.isfinite(number):
            raise ExplainInputError(f"{name} should be a finite number; got {value!r}.", field=name)
        if feature.kind == "int":
            if isinstance(number, float):
                if not number.is_integer():
                    raise ExplainInputError(f"{name} should be a whole number; got {value!r}.", field=name)
                number = int(number)
            return number
        return float(number) + 0.0  # + 0.0 turns -0.0 into 0.0, so both give one cache key
    if feature.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ExplainInputError(f"{name} should be true or false; got {value!r}.", field=name)
    if feature.kind == "datetime":
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ExplainInputError(f"{name} should be a date or date-time; got {value!r}.", field=name) from None
        if stamp is pd.NaT:
            raise ExplainInputError(f"{name}: a value is required.", field=name)
        return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
    return str(value)


def canonical_record(row: Any, features: tuple[Feature, ...]) -> dict[str, Any]:
    """One input row (one-row DataFrame, Series or mapping) as {feature: coerced value}."""
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ExplainInputError(f"An explanation is for one row; got {len(row)} rows.")
        raw = {column: row[column].iloc[0] for column in row.columns}
    elif isinstance(row, pd.Series):
        raw = row.to_dict()
    elif isinstance(row, Mapping):
        raw = dict(row)
    else:
        raise ExplainInputError(f"An input row must be a one-row DataFrame or a mapping, not {type(row).__name__}.")
    names = [feature.name for feature in features]
    missing = [name for name in names if name not in raw]
    if missing:
        raise ExplainInputError(
            f"Missing feature{'s' if len(missing) > 1 else ''}: {', '.join(missing)}.", field=missing[0]
        )
    unknown = [str(key) for key in raw if key not in names]
    if unknown:
        raise ExplainInputError(
            f"Unknown feature{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this model reads {', '.join(names)}).",
            field=unknown[0],
        )
    return {feature.name: coerce(feature, raw[feature.name]) for feature in features}


def jsonable(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    return value


def typed_frame(records: list[dict], features: tuple[Feature, ...]) -> pd.DataFrame:
    """Coerced records as a DataFrame with the dtypes a model trained on the schema's columns saw."""
    columns = {}
    for feature in features:
        values = [record[feature.name] for record in records]
        if feature.kind == "datetime":
            columns[feature.name] = pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")
        else:
            columns[feature.name] = pd.Series(values, dtype=DTYPES[feature.kind])
    return pd.DataFrame(columns)


def row_frame(values: Mapping[str, Any], feature_schema: list[dict]) -> pd.DataFrame:
    """A form's or an API body's values as the one-row, typed DataFrame ``explain`` takes.
    Raises ExplainInputError naming the feature on a missing, unknown or mistyped value."""
    features = parse_schema(feature_schema)
    return typed_frame([canonical_record(values, features)], features)


def record_key(record: dict[str, Any]) -> str:
    canonical = json.dumps(
        {name: jsonable(value) for name, value in record.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def input_key(row_dict: Mapping[str, Any], feature_schema: list[dict]) -> str:
    """sha256 of the canonical input: the same customer typed as "45", 45 or 45.0 (for a float
    feature), with keys in any order, gives the same key; any changed value gives another.
    Cache explanations per (version, input_key). Raises like ``row_frame`` on bad input."""
    return record_key(canonical_record(row_dict, parse_schema(feature_schema)))
