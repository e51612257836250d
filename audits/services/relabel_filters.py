"""A relabelling campaign's filters: the surfaces (where predictions were served) and the segment
(feature column -> allowed values; AND across columns, OR within one) whose predictions are sampled.
Checked when a campaign or a schedule is made (every problem named by its field), and applied to the
log in SQL, on the JSON of the logged features, so the draw keeps streaming from the database: the
whole log is never read into Python to be filtered."""

import math
import re

from django.db.models.fields.json import KeyTransform, KeyTransformIn

from ..models import SURFACE_PATTERN, PredictionLog

__all__ = ["filters_checked", "filters_applied"]

MAX_SURFACES = 20
MAX_SEGMENT_COLUMNS = 5
MAX_SEGMENT_VALUES = 100
MAX_VALUE_CHARS = 200
# The newest rows whose feature names are read to learn the model's columns; a column missing from
# them and from the versions' feature schemas is looked for in the whole log (only then: one probe).
RECENT_ROWS = 1_000
SURFACE_WORDS = "lower-case letters, digits, - and _ (at most 64, starting with a letter or digit)"


def filters_checked(*, model, surfaces, segment) -> tuple[list[str], dict[str, list], dict[str, list[str]]]:
    """The surfaces and the segment cleaned, and the problems found, by field ("surfaces",
    "segment"); the caller raises them with its other fields' problems."""
    errors: dict[str, list[str]] = {}
    surfaces, problems = _surfaces(surfaces)
    if problems:
        errors["surfaces"] = problems
    segment, problems = _segment(model, segment)
    if problems:
        errors["segment"] = problems
    return surfaces, segment, errors


def filters_applied(rows, *, surfaces: list[str], segment: dict[str, list]):
    """`rows` (prediction log rows) narrowed to the surfaces and the segment, in SQL."""
    if surfaces:
        rows = rows.filter(surface__in=surfaces)
    for column, values in segment.items():
        # The lookup object, not `features__<column>__in`: a column may be named like a lookup
        # ("in", "contains") or hold "__"; KeyTransformIn compares JSON values on SQLite and PostgreSQL.
        rows = rows.filter(KeyTransformIn(KeyTransform(column, "features"), values))
    return rows


def _surfaces(surfaces) -> tuple[list[str], list[str]]:
    if surfaces is None:
        return [], []
    if not isinstance(surfaces, list) or not all(isinstance(s, str) for s in surfaces):
        return [], ["A list of surface names."]
    if len(surfaces) > MAX_SURFACES:
        return [], [f"At most {MAX_SURFACES} surfaces."]
    problems = [f"{s!r} is not a surface name: {SURFACE_WORDS}." for s in surfaces if not re.match(SURFACE_PATTERN, s)]
    twice = sorted({s for s in surfaces if surfaces.count(s) > 1})
    if twice:
        problems.append(f"{twice[0]!r} is named twice.")
    return list(surfaces), problems


def _value_problem(value) -> str | None:
    if isinstance(value, int):  # booleans too
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "a finite number"
    if isinstance(value, str):
        return None if len(value) <= MAX_VALUE_CHARS else f"text of at most {MAX_VALUE_CHARS} characters"
    return "text, a number or true/false"


def _segment(model, segment) -> tuple[dict[str, list], list[str]]:
    if segment is None:
        return {}, []
    if not isinstance(segment, dict):
        return {}, ['An object of feature column -> allowed values, e.g. {"country": ["DE", "FR"]}.']
    if len(segment) > MAX_SEGMENT_COLUMNS:
        return {}, [f"At most {MAX_SEGMENT_COLUMNS} columns."]
    problems, cleaned = [], {}
    for column, values in segment.items():
        if not column or len(column) > MAX_VALUE_CHARS:
            problems.append(f"A column name of 1 to {MAX_VALUE_CHARS} characters (got {column[:40]!r}).")
            continue
        if not column.isprintable():
            problems.append(f"{column!r}: a column name holds no control characters.")
            continue
        if column.isdigit():  # a JSON path reads a number as an array index, not a key
            problems.append(f"{column!r}: a column named by digits only cannot be filtered on.")
            continue
        if not isinstance(values, list) or not values:
            problems.append(f"{column!r}: give a non-empty list of allowed values.")
            continue
        if len(values) > MAX_SEGMENT_VALUES:
            problems.append(f"{column!r}: at most {MAX_SEGMENT_VALUES} values.")
            continue
        wrong = next((p for p in map(_value_problem, values) if p), None)
        if wrong:
            problems.append(f"{column!r}: each value is {wrong}.")
            continue
        unique = []
        for value in values:
            if not any(value == seen and type(value) is type(seen) for seen in unique):
                unique.append(value)
        cleaned[column] = unique
    unknown = _unknown_columns(model, list(cleaned))
    if unknown:
        known = sorted(_schema_columns(model) | _recent_columns(model))
        shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
        for column in unknown:
            problems.append(f"{column!r} is not a feature '{model.name}' logged (its features: {shown or 'none yet'}).")
    return ({} if problems else cleaned), problems


def _schema_columns(model) -> set[str]:
    names = set()
    for schema in model.versions.values_list("feature_schema", flat=True):
        names.update(item["name"] for item in schema or [] if isinstance(item, dict) and "name" in item)
    return names


def _recent_columns(model) -> set[str]:
    names = set()
    recent = PredictionLog.objects.filter(model=model).order_by("-predicted_at").values_list("features", flat=True)
    for features in recent[:RECENT_ROWS]:
        names.update(features or {})
    return names


def _unknown_columns(model, columns: list[str]) -> list[str]:
    if not columns:
        return []
    known = _schema_columns(model)
    if not set(columns) <= known:
        known |= _recent_columns(model)
    logged = PredictionLog.objects.filter(model=model)
    return [c for c in columns if c not in known and not logged.filter(features__has_key=c).exists()]
