"""Parsed search filters (registry.mlflow.search_filter) as Django lookups."""

import re
from datetime import UTC, datetime

from django.db.models import Q

from .errors import INVALID_PARAMETER_VALUE, MlflowError
from .search_filter import Comparison

__all__ = ["like_regex", "text_lookup", "number_lookup", "moment_lookup", "refuse"]

# Milliseconds beyond what a datetime holds are clamped: the comparison's answer stays the same.
LATEST_MS = 253402300799000

NUMBER_LOOKUPS = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def refuse(message: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, message)


def like_regex(pattern: str) -> str:
    """An SQL LIKE pattern as an anchored regular expression (the same on SQLite and PostgreSQL)."""
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "^" + "".join(parts) + "$"


def text_lookup(field: str, comparison: Comparison) -> Q:
    """`field` compared as text with the comparison's operator."""
    op, value = comparison.op, comparison.value
    if isinstance(value, float):
        raise refuse(f"'{comparison.key}' is compared with quoted text, not a number.")
    if op == "=":
        return Q(**{field: value})
    if op == "!=":
        return ~Q(**{field: value})
    if op == "LIKE":
        return Q(**{f"{field}__regex": like_regex(value)})
    if op == "ILIKE":
        return Q(**{f"{field}__iregex": like_regex(value)})
    if op == "IN":
        return Q(**{f"{field}__in": list(value)})
    if op == "NOT IN":
        return ~Q(**{f"{field}__in": list(value)})
    raise refuse(f"'{comparison.key}' is text: compare it with =, !=, LIKE, ILIKE, IN or NOT IN, not {op}.")


def number_lookup(field: str, comparison: Comparison) -> Q:
    op, value = comparison.op, comparison.value
    if not isinstance(value, float):
        raise refuse(f"'{comparison.key}' is compared with a number, not text.")
    if op == "!=":
        return ~Q(**{field: value})
    if op not in NUMBER_LOOKUPS:
        raise refuse(f"'{comparison.key}' is a number: compare it with =, !=, <, <=, > or >=, not {op}.")
    return Q(**{f"{field}__{NUMBER_LOOKUPS[op]}": value})


def moment_lookup(field: str, comparison: Comparison) -> Q:
    """A datetime field compared with milliseconds since the epoch (MLflow's start_time and kin)."""
    op, value = comparison.op, comparison.value
    if not isinstance(value, float):
        raise refuse(f"'{comparison.key}' is compared with milliseconds since the epoch, not text.")
    moment = datetime.fromtimestamp(min(max(value, 0.0), LATEST_MS) / 1000, tz=UTC)
    if op == "!=":
        return ~Q(**{field: moment})
    if op not in NUMBER_LOOKUPS:
        raise refuse(f"'{comparison.key}' is a time: compare it with =, !=, <, <=, > or >=, not {op}.")
    return Q(**{f"{field}__{NUMBER_LOOKUPS[op]}": moment})
